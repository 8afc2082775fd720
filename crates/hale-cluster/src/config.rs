//! [`NodeConfig`]: who a node is, where it listens, whom it joins, and the
//! failure detector's timing.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use hale_util::{Backoff, Jitter};

use crate::error::ConfigError;
use crate::node_id::validate_node_name;
use crate::tls::TlsConfig;

/// The shortest cookie accepted, in bytes.
pub const MIN_COOKIE: usize = 16;
/// The longest heartbeat interval, down-after bound or lease accepted.
pub const MAX_TIMING: Duration = Duration::from_secs(3600);

/// Default heartbeat interval between node agents.
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_millis(250);
/// Default bound after which a silent peer is declared down.
pub const DEFAULT_DOWN_AFTER: Duration = Duration::from_millis(1500);
/// Default fencing lease: a host kills a remote owner's children once it
/// has had no proof for this long that the owner hears it.
pub const DEFAULT_LEASE: Duration = Duration::from_millis(1000);

/// A node's configuration.
///
/// The failure detector: every `heartbeat` each node agent sends a heartbeat
/// to every peer agent, acknowledging the last one it got from that peer. A
/// peer not heard from for `down_after` is declared down: the children this
/// node owns there exit with reason `noconnection` and their supervisors
/// restart them by their rules. A node also kills the children it hosts for
/// an owner once no heartbeat of its own has been acknowledged by that owner
/// for `lease`; since `lease + heartbeat < down_after`, they are dead before
/// the owner can restart them anywhere else (see `docs/cluster.md`).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use hale_cluster::NodeConfig;
///
/// let config = NodeConfig::new("a", "a-cookie-of-sixteen-bytes-or-more")
///     .peer("127.0.0.1:4370")
///     .down_after(Duration::from_secs(2));
/// assert!(config.validate().is_ok());
/// assert!(NodeConfig::new("a", "short").validate().is_err());
/// ```
#[derive(Clone, Debug)]
pub struct NodeConfig {
    pub(crate) name: String,
    pub(crate) cookie: String,
    pub(crate) listen: IpAddr,
    pub(crate) port: u16,
    pub(crate) peers: Vec<String>,
    pub(crate) tls: Option<TlsConfig>,
    pub(crate) heartbeat: Duration,
    pub(crate) down_after: Duration,
    pub(crate) lease: Duration,
    pub(crate) reconnect: Backoff,
}

impl NodeConfig {
    /// A node named `name` that authenticates peers with `cookie` (at least
    /// [`MIN_COOKIE`] bytes, shared by every node of the cluster). It
    /// listens on 127.0.0.1 on a port the system picks, joins no peer, and
    /// uses the default timing.
    pub fn new(name: impl Into<String>, cookie: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            cookie: cookie.into(),
            listen: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            peers: Vec::new(),
            tls: None,
            heartbeat: DEFAULT_HEARTBEAT,
            down_after: DEFAULT_DOWN_AFTER,
            lease: DEFAULT_LEASE,
            reconnect: Backoff {
                initial: Duration::from_millis(100),
                coefficient: 2.0,
                maximum: Duration::from_secs(2),
                jitter: Jitter::Full,
            },
        }
    }

    /// The address to listen on (default 127.0.0.1: loopback only).
    pub fn listen(mut self, address: IpAddr) -> Self {
        self.listen = address;
        self
    }

    /// The port to listen on (default 0: any free port).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// A peer to connect to (`host:port`), again and again with backoff
    /// whenever the connection is lost.
    pub fn peer(mut self, address: impl Into<String>) -> Self {
        self.peers.push(address.into());
        self
    }

    /// Encrypts every connection with TLS (both the listener and the
    /// connections this node opens).
    pub fn tls(mut self, tls: TlsConfig) -> Self {
        self.tls = Some(tls);
        self
    }

    /// The heartbeat interval (default [`DEFAULT_HEARTBEAT`]).
    pub fn heartbeat(mut self, every: Duration) -> Self {
        self.heartbeat = every;
        self
    }

    /// How long a silent peer has before it is declared down (default
    /// [`DEFAULT_DOWN_AFTER`]). A peer is declared down at most one
    /// heartbeat interval after this bound.
    pub fn down_after(mut self, bound: Duration) -> Self {
        self.down_after = bound;
        self
    }

    /// The fencing lease (default [`DEFAULT_LEASE`]); `lease + heartbeat`
    /// must stay below `down_after`.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// The backoff between reconnection attempts to a configured peer.
    pub fn reconnect(mut self, backoff: Backoff) -> Self {
        self.reconnect = backoff;
        self
    }

    /// The node's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The bound within which a silent peer is declared down: `down_after`
    /// plus one heartbeat interval (the detector checks once per interval).
    pub fn detection_bound(&self) -> Duration {
        self.down_after.saturating_add(self.heartbeat)
    }

    /// Checks the configuration.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the first setting that cannot work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        validate_node_name(&self.name)?;
        if self.cookie.len() < MIN_COOKIE {
            return Err(ConfigError::CookieTooShort {
                min: MIN_COOKIE,
                got: self.cookie.len(),
            });
        }
        for (name, value) in [
            ("heartbeat", self.heartbeat),
            ("down_after", self.down_after),
            ("lease", self.lease),
            ("reconnect.initial", self.reconnect.initial),
            ("reconnect.maximum", self.reconnect.maximum),
        ] {
            if value.is_zero() {
                return Err(ConfigError::ZeroDuration(name));
            }
            if value > MAX_TIMING {
                return Err(ConfigError::DurationTooLong {
                    name,
                    given: value,
                    max: MAX_TIMING,
                });
            }
        }
        if self.lease.saturating_add(self.heartbeat) >= self.down_after {
            return Err(ConfigError::LeaseTooLong {
                lease: self.lease,
                heartbeat: self.heartbeat,
                down_after: self.down_after,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COOKIE: &str = "0123456789abcdef";

    #[test]
    fn defaults_are_valid_and_detect_within_three_seconds() {
        let config = NodeConfig::new("a", COOKIE);
        config.validate().unwrap();
        assert!(config.detection_bound() <= Duration::from_secs(3));
    }

    #[test]
    fn bad_settings_are_named() {
        assert_eq!(
            NodeConfig::new("a", COOKIE).heartbeat(Duration::ZERO).validate(),
            Err(ConfigError::ZeroDuration("heartbeat"))
        );
        assert!(matches!(
            NodeConfig::new("a", COOKIE)
                .lease(Duration::from_secs(2))
                .validate(),
            Err(ConfigError::LeaseTooLong { .. })
        ));
        assert!(matches!(
            NodeConfig::new("a", COOKIE).down_after(Duration::MAX).validate(),
            Err(ConfigError::DurationTooLong { .. })
        ));
        assert!(matches!(
            NodeConfig::new("a b", COOKIE).validate(),
            Err(ConfigError::NodeName(_))
        ));
        assert!(matches!(
            NodeConfig::new("a", "").validate(),
            Err(ConfigError::CookieTooShort { got: 0, .. })
        ));
    }
}
