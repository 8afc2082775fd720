//! [`StartedChild`]: the answer to a successful start or restart.

use ractor::ActorCell;

/// A successful [`start_child`](crate::SupervisorRef::start_child) or
/// [`restart_child`](crate::SupervisorRef::restart_child).
#[derive(Clone, Debug)]
pub enum StartedChild {
    /// The child runs.
    Started(ActorCell),
    /// The start function answered ignore: no child runs (the spec is kept,
    /// except for a temporary child).
    Ignored,
}

impl StartedChild {
    /// The running child, if one was started.
    ///
    /// # Examples
    ///
    /// ```
    /// use hale_core::StartedChild;
    ///
    /// assert!(StartedChild::Ignored.actor().is_none());
    /// ```
    pub fn actor(&self) -> Option<&ActorCell> {
        match self {
            Self::Started(actor) => Some(actor),
            Self::Ignored => None,
        }
    }
}
