//! One datagram of systemd's notify protocol, read.

use crate::process::process_view::MAX_STATUS_CHARS;

/// What one notify datagram says. A datagram holds newline-separated
/// `KEY=VALUE` assignments; Hale acts on `READY=1`, `STOPPING=1`,
/// `WATCHDOG=1` and `STATUS=...`, and ignores every other key (as systemd
/// ignores keys it does not know).
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct NotifyMessage {
    pub(crate) ready: bool,
    pub(crate) stopping: bool,
    pub(crate) watchdog: bool,
    /// Cut to [`MAX_STATUS_CHARS`]; invalid UTF-8 is replaced.
    pub(crate) status: Option<String>,
}

impl NotifyMessage {
    pub(crate) fn parse(datagram: &[u8]) -> Self {
        let mut message = Self::default();
        for assignment in datagram.split(|byte| *byte == b'\n') {
            let Some(split) = assignment.iter().position(|byte| *byte == b'=') else {
                continue;
            };
            let (key, value) = (&assignment[..split], &assignment[split + 1..]);
            match key {
                b"READY" => message.ready |= value == b"1",
                b"STOPPING" => message.stopping |= value == b"1",
                b"WATCHDOG" => message.watchdog |= value == b"1",
                b"STATUS" => {
                    let text = String::from_utf8_lossy(value);
                    message.status = Some(text.chars().take(MAX_STATUS_CHARS).collect());
                }
                _ => {}
            }
        }
        message
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_keys_hale_knows_are_read_and_the_rest_ignored() {
        let message = NotifyMessage::parse(b"READY=1\nSTATUS=loading model\nMAINPID=12\nWATCHDOG=1");
        assert_eq!(
            message,
            NotifyMessage {
                ready: true,
                stopping: false,
                watchdog: true,
                status: Some("loading model".into()),
            }
        );
        assert!(NotifyMessage::parse(b"STOPPING=1").stopping);
        assert_eq!(
            NotifyMessage::parse(b"READY=0\nWATCHDOG=trigger"),
            NotifyMessage::default()
        );
        assert_eq!(
            NotifyMessage::parse(b"garbage\xff\n=\n"),
            NotifyMessage::default()
        );
    }

    #[test]
    fn a_long_status_is_cut() {
        let long = format!("STATUS={}", "é".repeat(1000));
        let status = NotifyMessage::parse(long.as_bytes()).status.expect("status");
        assert_eq!(status.chars().count(), MAX_STATUS_CHARS);
    }
}
