//! [`Publisher`] and [`Subscription`]: how a supervisor tells a child's
//! references about each new incarnation.

use std::sync::Arc;

use tokio::sync::{Notify, watch};

use crate::child::Incarnation;

/// The supervisor's end: publishes each new incarnation of one child.
///
/// The value lives in a watch channel; waiters are woken through a `Notify`
/// instead of the channel's own wake-up, which picks waiters in a random
/// order. With `Notify` the order is fixed, so a single-threaded run on a
/// paused clock (a chaos run) replays exactly even when several callers wait
/// for the same child.
pub(crate) struct Publisher {
    value: watch::Sender<Incarnation>,
    changed: Arc<Notify>,
}

impl Publisher {
    pub(crate) fn new(first: Incarnation) -> Self {
        Self {
            value: watch::Sender::new(first),
            changed: Arc::new(Notify::new()),
        }
    }

    pub(crate) fn publish(&self, incarnation: Incarnation) {
        self.value.send_replace(incarnation);
        self.changed.notify_waiters();
    }

    pub(crate) fn subscribe(&self) -> Subscription {
        Subscription {
            value: self.value.subscribe(),
            changed: Arc::clone(&self.changed),
        }
    }
}

impl Drop for Publisher {
    /// A child whose publisher is gone (its spec removed, or its supervisor
    /// exited) is removed for good: say so to everyone waiting.
    fn drop(&mut self) {
        self.publish(Incarnation::Removed);
    }
}

/// A reference's end of a [`Publisher`].
#[derive(Clone, Debug)]
pub(crate) struct Subscription {
    pub(crate) value: watch::Receiver<Incarnation>,
    pub(crate) changed: Arc<Notify>,
}

impl Subscription {
    /// Whether the publisher is gone (the child was removed for good).
    pub(crate) fn is_closed(&self) -> bool {
        self.value.has_changed().is_err()
    }
}
