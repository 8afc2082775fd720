//! [`DynamicStart`] and [`DynamicChild`]: what a dynamic supervisor answers
//! to a start.

use ractor::ActorCell;

use crate::dynamic::DynamicChildId;

/// A child of a dynamic supervisor.
#[derive(Clone, Debug)]
pub struct DynamicChild {
    /// Its handle.
    pub id: DynamicChildId,
    /// The running actor (`None` while a failed restart is being retried).
    pub actor: Option<ActorCell>,
}

/// A successful start on a dynamic supervisor.
#[derive(Clone, Debug)]
pub enum DynamicStart {
    /// A new child runs.
    Started(DynamicChild),
    /// The start function answered ignore; nothing is kept.
    Ignored,
    /// `start_unique` found a child with that key and returned it instead
    /// of starting a duplicate.
    AlreadyRunning(DynamicChild),
}

impl DynamicStart {
    /// The child started or found, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(hale_core::DynamicStart::Ignored.child().is_none());
    /// ```
    pub fn child(&self) -> Option<&DynamicChild> {
        match self {
            Self::Started(child) | Self::AlreadyRunning(child) => Some(child),
            Self::Ignored => None,
        }
    }
}
