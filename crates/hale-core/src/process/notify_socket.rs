//! The socket a program sends its notify datagrams to.

use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use tokio::net::UnixDatagram;

/// How many fresh directory names are tried before giving up.
const ATTEMPTS: u32 = 8;

/// A unix datagram socket in a private directory of its own (mode 0700,
/// under the system's temp dir), made for one run of one program. Only this
/// user can reach it. Dropping it removes the directory and the socket.
#[derive(Debug)]
pub(crate) struct NotifySocket {
    dir: PathBuf,
    path: PathBuf,
    socket: UnixDatagram,
}

impl NotifySocket {
    /// Makes the directory (a new one, never an existing path: a name taken
    /// by someone else is skipped) and binds the socket in it.
    ///
    /// # Errors
    ///
    /// The temp dir is not writable, or the socket's path is longer than a
    /// unix socket address holds (about 107 bytes: set `TMPDIR` shorter).
    pub(crate) fn bind() -> io::Result<Self> {
        let base = std::env::temp_dir();
        let mut last_error = None;
        for _ in 0..ATTEMPTS {
            let dir = base.join(format!(
                "hale-notify-{}-{:016x}",
                std::process::id(),
                rand::random::<u64>()
            ));
            match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
                Ok(()) => {}
                Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
                    last_error = Some(error);
                    continue;
                }
                Err(error) => return Err(error),
            }
            let path = dir.join("notify");
            return match UnixDatagram::bind(&path) {
                Ok(socket) => Ok(Self { dir, path, socket }),
                Err(error) => {
                    let _ = std::fs::remove_dir_all(&dir);
                    Err(error)
                }
            };
        }
        Err(last_error.unwrap_or_else(|| io::Error::other("no free directory name")))
    }

    /// The socket's path, for `NOTIFY_SOCKET`.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The socket to read from.
    pub(crate) fn socket(&self) -> &UnixDatagram {
        &self.socket
    }
}

impl Drop for NotifySocket {
    fn drop(&mut self) {
        // Best effort: a leftover empty directory in the temp dir harms no one.
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_datagram_sent_to_the_path_arrives_and_the_dir_goes_with_the_socket() {
        let socket = NotifySocket::bind().expect("bind");
        let sender = std::os::unix::net::UnixDatagram::unbound().expect("unbound");
        sender.send_to(b"READY=1", socket.path()).expect("send");
        let mut buffer = [0_u8; 64];
        let read = socket.socket().recv(&mut buffer).await.expect("recv");
        assert_eq!(&buffer[..read], b"READY=1");
        let dir = socket.path().parent().expect("dir").to_owned();
        assert!(dir.is_dir());
        drop(socket);
        assert!(!dir.exists());
    }
}
