//! What node agents say to each other, and how it is encoded.
//!
//! A frame travels inside one `ractor_cluster` cast to the peer's agent: the
//! cast's `variant` names the protocol ([`PROTOCOL`]), its `metadata` holds
//! the sender's node name (so a frame that does not decode can still be
//! blamed on a session), its payload is the [`Frame`] as JSON. Decoding
//! never panics and never trusts a length: the payload is bounded by the
//! session's frame limit, and every string and list in it is checked against
//! the limits below after parsing.

use hale_core::ExitReason;
use serde::{Deserialize, Serialize};

use crate::node_id::{MAX_NODE_NAME, NodeId};

/// The protocol name and version in every frame.
pub const PROTOCOL: &str = "hale-cluster/1";
/// The largest frame a node accepts from a peer, in bytes (`ractor_cluster`
/// closes a session that sends a larger one).
pub const MAX_FRAME_BYTES: u64 = 1 << 20;
/// The longest child key (the owner's path to the child), in bytes.
pub const MAX_KEY: usize = 1024;
/// The longest spec name, in bytes.
pub const MAX_SPEC_NAME: usize = 256;
/// The longest free text (an error, an exit reason), in bytes. Longer text
/// is cut before sending.
pub const MAX_TEXT: usize = 4096;
/// The most children one reconciliation frame lists.
pub const MAX_LISTED: usize = 10_000;

/// One message between node agents.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Frame {
    /// The sending node.
    pub(crate) from: NodeId,
    /// The receiver's epoch and the number of its latest heartbeat the
    /// sender got, if any: the receiver's proof that it is heard (its
    /// fencing lease runs from when it sent that heartbeat).
    pub(crate) ack: Option<(u64, u64)>,
    /// What it says.
    pub(crate) body: Wire,
}

/// A hosted child, as listed in reconciliation frames.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Incarnation {
    /// The owner's key for the child (its path in the owner's tree).
    pub(crate) key: String,
    /// The owner's generation for this incarnation.
    pub(crate) generation: u64,
}

/// What a [`Frame`] says.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum Wire {
    /// "I am alive."
    Heartbeat {
        /// This heartbeat's number (per sender run).
        seq: u64,
    },
    /// Owner to host: start `spec` as the child `key`, incarnation
    /// `generation`.
    Start {
        /// The owner's key for the child.
        key: String,
        /// The incarnation.
        generation: u64,
        /// The registered spec's name.
        spec: String,
    },
    /// Host to owner: it runs.
    Started {
        /// The owner's key.
        key: String,
        /// The incarnation.
        generation: u64,
    },
    /// Host to owner: its start function answered ignore.
    Ignored {
        /// The owner's key.
        key: String,
        /// The incarnation.
        generation: u64,
    },
    /// Host to owner: it could not start.
    StartFailed {
        /// The owner's key.
        key: String,
        /// The incarnation.
        generation: u64,
        /// Why.
        cause: String,
    },
    /// Host to owner: the incarnation exited by itself.
    Exited {
        /// The owner's key.
        key: String,
        /// The incarnation.
        generation: u64,
        /// Its classified reason.
        reason: ExitReason,
    },
    /// Owner to host: stop the incarnation by its shutdown rule.
    Stop {
        /// The owner's key.
        key: String,
        /// The incarnation.
        generation: u64,
    },
    /// Host to owner: the incarnation is stopped (or was not running).
    Stopped {
        /// The owner's key.
        key: String,
        /// The incarnation.
        generation: u64,
    },
    /// Owner to host: kill the incarnation now, if it runs.
    Kill {
        /// The owner's key.
        key: String,
        /// The incarnation.
        generation: u64,
    },
    /// Host to owner, when the owner comes (back) up: what the host runs for
    /// it.
    Hosting {
        /// The incarnations.
        children: Vec<Incarnation>,
    },
    /// Owner to host: these incarnations are not the owner's current ones;
    /// kill them.
    Fence {
        /// The incarnations.
        children: Vec<Incarnation>,
    },
}

/// A frame that could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The cast named another protocol or version.
    #[error("unknown protocol {0:?} (expected {PROTOCOL:?})")]
    Protocol(String),
    /// The payload is not a frame.
    #[error("malformed frame: {0}")]
    Malformed(String),
    /// A field is longer than its limit.
    #[error("{field} is {len} long, over the limit of {max}")]
    TooLong {
        /// Which field.
        field: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A call or a reply arrived where only casts are expected.
    #[error("unexpected message shape: {0}")]
    Shape(&'static str),
}

/// Encodes a frame.
pub(crate) fn encode(frame: &Frame) -> Vec<u8> {
    // A frame holds only strings, integers, options and lists: serializing
    // it cannot fail.
    serde_json::to_vec(frame).unwrap_or_default()
}

/// Decodes and checks a frame received with the protocol name `variant`.
pub(crate) fn decode(variant: &str, payload: &[u8]) -> Result<Frame, DecodeError> {
    if variant != PROTOCOL {
        return Err(DecodeError::Protocol(cut(variant, 64)));
    }
    let frame: Frame = serde_json::from_slice(payload)
        .map_err(|error| DecodeError::Malformed(cut(&error.to_string(), 256)))?;
    check(&frame)?;
    Ok(frame)
}

fn check(frame: &Frame) -> Result<(), DecodeError> {
    limit("from.name", frame.from.name.len(), MAX_NODE_NAME)?;
    if crate::node_id::validate_node_name(&frame.from.name).is_err() {
        return Err(DecodeError::Malformed("invalid sender name".into()));
    }
    match &frame.body {
        Wire::Heartbeat { .. } => Ok(()),
        Wire::Start { key, spec, .. } => {
            limit("key", key.len(), MAX_KEY)?;
            limit("spec", spec.len(), MAX_SPEC_NAME)
        }
        Wire::Started { key, .. }
        | Wire::Ignored { key, .. }
        | Wire::Stop { key, .. }
        | Wire::Stopped { key, .. }
        | Wire::Kill { key, .. } => limit("key", key.len(), MAX_KEY),
        Wire::StartFailed { key, cause, .. } => {
            limit("key", key.len(), MAX_KEY)?;
            limit("cause", cause.len(), MAX_TEXT)
        }
        Wire::Exited { key, reason, .. } => {
            limit("key", key.len(), MAX_KEY)?;
            limit("reason", reason_text_len(reason), MAX_TEXT)
        }
        Wire::Hosting { children } | Wire::Fence { children } => {
            limit("children", children.len(), MAX_LISTED)?;
            children
                .iter()
                .try_for_each(|child| limit("key", child.key.len(), MAX_KEY))
        }
    }
}

fn reason_text_len(reason: &ExitReason) -> usize {
    match reason {
        ExitReason::Shutdown(Some(text))
        | ExitReason::Failed(text)
        | ExitReason::Other(text)
        | ExitReason::Signal(text) => text.len(),
        _ => 0,
    }
}

fn limit(field: &'static str, len: usize, max: usize) -> Result<(), DecodeError> {
    if len > max {
        Err(DecodeError::TooLong { field, len, max })
    } else {
        Ok(())
    }
}

/// `text` cut to at most `max` bytes, on a character boundary.
pub(crate) fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// An exit reason with its text cut to [`MAX_TEXT`], ready to send.
pub(crate) fn sendable_reason(reason: ExitReason) -> ExitReason {
    match reason {
        ExitReason::Shutdown(Some(text)) => ExitReason::Shutdown(Some(cut(&text, MAX_TEXT))),
        ExitReason::Failed(text) => ExitReason::Failed(cut(&text, MAX_TEXT)),
        ExitReason::Other(text) => ExitReason::Other(cut(&text, MAX_TEXT)),
        ExitReason::Signal(text) => ExitReason::Signal(cut(&text, MAX_TEXT)),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn me() -> NodeId {
        NodeId {
            name: "a".into(),
            epoch: 7,
        }
    }

    fn frames() -> Vec<Frame> {
        let bodies = vec![
            Wire::Heartbeat { seq: 3 },
            Wire::Start {
                key: "root/w".into(),
                generation: 4,
                spec: "sleeper".into(),
            },
            Wire::Exited {
                key: "root/w".into(),
                generation: 4,
                reason: ExitReason::Failed("boom".into()),
            },
            Wire::Fence {
                children: vec![Incarnation {
                    key: "root/w".into(),
                    generation: 3,
                }],
            },
        ];
        bodies
            .into_iter()
            .map(|body| Frame {
                from: me(),
                ack: Some((9, 2)),
                body,
            })
            .collect()
    }

    #[test]
    fn frames_round_trip() {
        for frame in frames() {
            assert_eq!(decode(PROTOCOL, &encode(&frame)).unwrap(), frame);
        }
    }

    #[test]
    fn another_protocol_is_refused() {
        let frame = &frames()[0];
        assert!(matches!(
            decode("hale-cluster/0", &encode(frame)),
            Err(DecodeError::Protocol(_))
        ));
    }

    #[test]
    fn oversized_fields_are_refused_after_parsing() {
        let frame = Frame {
            from: me(),
            ack: None,
            body: Wire::Start {
                key: "k".repeat(MAX_KEY + 1),
                generation: 1,
                spec: "s".into(),
            },
        };
        assert!(matches!(
            decode(PROTOCOL, &encode(&frame)),
            Err(DecodeError::TooLong { field: "key", .. })
        ));
    }

    #[test]
    fn cutting_respects_character_boundaries() {
        assert_eq!(cut("héllo", 2), "h");
        assert_eq!(cut("abc", 10), "abc");
    }

    proptest! {
        // Any bytes at all: an error or a checked frame, never a panic.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = decode(PROTOCOL, &bytes);
        }

        // Valid frames with bytes flipped, cut or appended: same promise.
        #[test]
        fn mangled_frames_never_panic(
            pick in 0usize..4,
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..8),
            cut_at in any::<usize>(),
        ) {
            let mut bytes = encode(&frames()[pick]);
            for (at, byte) in flips {
                let len = bytes.len();
                bytes[at % len] = byte;
            }
            bytes.truncate(cut_at % (bytes.len() + 1));
            if let Ok(frame) = decode(PROTOCOL, &bytes) {
                prop_assert!(check(&frame).is_ok());
            }
        }

        // Text from anywhere in the JSON grammar's reach.
        #[test]
        fn json_shaped_garbage_never_panics(text in "[{}\\[\\]\":,a-z0-9 \\\\tnulrefs-]{0,256}") {
            let _ = decode(PROTOCOL, text.as_bytes());
        }
    }
}
