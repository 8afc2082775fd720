//! [`Refollow`]: how a [`ChildRef`](crate::ChildRef) reaches a grandchild
//! through its supervisor's restarts.
//!
//! A reference follows one child record of one supervisor incarnation.
//! When that supervisor is itself restarted, its children are new records
//! and the old one is gone. A reference obtained through a handle that
//! follows the supervisor (a nested supervisor's handle) keeps how to find
//! the child again: it asks the supervisor's current incarnation for the
//! child with the same id, and goes on with that record.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::sync;

use crate::child::Subscription;
use crate::error::ChildError;
use crate::supervisor::{ChildAddress, SupervisorMsg, Target};

/// What a lookup found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// The child's record in the supervisor's current incarnation.
    Found,
    /// The supervisor runs and has no such child, or is gone for good.
    Gone,
    /// The supervisor is not back yet.
    NotYet,
}

pub(crate) struct Refollow {
    parent: Target,
    id: String,
    /// The newest record found, once the first one was gone.
    latest: Mutex<Option<Subscription>>,
    /// One lookup in flight at a time.
    looking: LookupSlot,
    /// The child's supervisor no longer has it: nothing to follow.
    gone: AtomicBool,
}

impl Refollow {
    pub(crate) fn new(parent: Target, id: String) -> Self {
        Self {
            parent,
            id,
            latest: Mutex::new(None),
            looking: LookupSlot::new(),
            gone: AtomicBool::new(false),
        }
    }

    /// The newest live record, if one was found.
    pub(crate) fn latest(&self) -> Option<Subscription> {
        hale_util::lock(&self.latest)
            .as_ref()
            .filter(|subscription| !subscription.is_closed())
            .cloned()
    }

    /// Whether the child was removed for good (its supervisor runs and has
    /// no child with that id).
    pub(crate) fn is_gone(&self) -> bool {
        self.gone.load(Ordering::Relaxed)
    }

    /// Looks the child up again in the supervisor's current incarnation;
    /// a record found is kept as the latest.
    pub(crate) async fn lookup(&self) -> Lookup {
        let address = ChildAddress::Id(self.id.clone());
        // Boxed: the parent may itself be followed through a reference,
        // whose lookup goes through its own parent, and so on up the tree.
        let asked = Box::pin(
            self.parent
                .call(|reply| SupervisorMsg::FollowChild(address, reply)),
        );
        match asked.await {
            Ok(Ok((_, subscription))) => {
                *hale_util::lock(&self.latest) = Some(subscription);
                Lookup::Found
            }
            Ok(Err(ChildError::NotFound { .. })) => {
                self.gone.store(true, Ordering::Relaxed);
                Lookup::Gone
            }
            Ok(Err(_)) | Err(_) if self.parent.is_gone() => {
                self.gone.store(true, Ordering::Relaxed);
                Lookup::Gone
            }
            // The supervisor did not come back within its wait: try later.
            Ok(Err(_)) | Err(_) => Lookup::NotYet,
        }
    }

    /// Starts a lookup in the background unless one runs; for the
    /// non-async paths (`send`, `current`).
    pub(crate) fn lookup_soon(self: &std::sync::Arc<Self>) {
        if !self.looking.take() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.looking.give_back();
            return;
        };
        let refollow = std::sync::Arc::clone(self);
        // Bounded: one call, at most one in flight per reference family.
        runtime.spawn(async move {
            refollow.lookup().await;
            refollow.looking.give_back();
        });
    }
}

/// The right to run the one background lookup of a reference family: taken
/// without a lock by whichever caller gets there first, given back when its
/// lookup ends. `tests/loom_child_ref.rs` checks that it is never held twice
/// and never lost.
#[derive(Debug)]
pub struct LookupSlot {
    taken: sync::AtomicBool,
}

impl Default for LookupSlot {
    fn default() -> Self {
        Self::new()
    }
}

impl LookupSlot {
    /// A free slot.
    pub fn new() -> Self {
        Self {
            taken: sync::AtomicBool::new(false),
        }
    }

    /// Takes the slot: `true` if it was free (the caller runs the lookup
    /// and gives the slot back after), `false` if a lookup runs already.
    pub fn take(&self) -> bool {
        !self.taken.swap(true, sync::Ordering::AcqRel)
    }

    /// Gives back a slot this caller took.
    pub fn give_back(&self) {
        // A swap, not a store, though a store would do on any hardware:
        // loom 0.7 lets a racing `swap` read past a plain store (it finds a
        // slot left taken that no execution can leave), and this keeps the
        // model of the shipped code exact. One lookup pays one more RMW.
        self.taken.swap(false, sync::Ordering::AcqRel);
    }
}
