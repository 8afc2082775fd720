//! What hale-core needs when ractor's `cluster` feature is on (Hale's
//! `cluster` feature, used by `hale-cluster`).
//!
//! With that feature ractor drops its blanket `impl Message for T`, so every
//! message type needs an explicit impl. hale-core's own mailboxes never
//! cross a machine: their impls are the local-only default (not
//! serializable). Builds without the feature compile none of this, so they
//! pay nothing for it.
//!
//! It also holds the one spec operation the cluster layer needs from inside
//! the crate: giving a child spec built by a user's factory the id its host
//! chooses (the same spec may run many times on one node, for different
//! owners).

use crate::spec::ChildSpec;

impl ractor::Message for crate::supervisor::SupervisorMsg {}
impl ractor::Message for crate::watchdog::WatchdogMsg {}
impl ractor::Message for crate::task::TaskFinished {}
#[cfg(target_os = "linux")]
impl ractor::Message for crate::process::ProcessExited {}

impl ChildSpec {
    /// The same spec under another id: the start function, restart type,
    /// shutdown and every other field are kept. `hale-cluster` hosts the
    /// specs its nodes register under ids it makes unique per owner and
    /// generation.
    ///
    /// # Examples
    ///
    /// ```
    /// use hale_core::ChildSpec;
    ///
    /// let spec = ChildSpec::task("worker", |_| async { Ok(()) });
    /// assert_eq!(spec.with_id("a.worker.g3").id(), "a.worker.g3");
    /// ```
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = id.into();
        self
    }
}
