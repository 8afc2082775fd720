//! [`Incarnation`]: what runs of a child now, as its supervisor records it
//! and publishes it to the child's references.

use ractor::ActorCell;

/// The current incarnation of one child. Its supervisor keeps one per child
/// and publishes every change to the child's [`ChildRef`](crate::ChildRef)s;
/// [`ChildState`](crate::ChildState) is the public view derived from it.
#[derive(Clone, Debug)]
pub(crate) enum Incarnation {
    /// This actor runs.
    Running(ActorCell),
    /// A restart failed or waits out a backoff; the supervisor will try again.
    Restarting,
    /// The spec is kept but nothing runs.
    Stopped,
    /// The spec is gone (removed, or its supervisor exited): only ever
    /// published, never held.
    Removed,
}

impl Incarnation {
    /// The running actor, if there is one.
    pub(crate) fn actor(&self) -> Option<&ActorCell> {
        match self {
            Self::Running(actor) => Some(actor),
            _ => None,
        }
    }
}
