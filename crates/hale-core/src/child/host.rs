//! [`Host`]: what a supervisor lends the children it starts.

use ractor::{ActorCell, ActorId, ActorRef};

use crate::events::EventBus;
use crate::exit::ExitReason;
use crate::in_place::{ParkNotice, Parked};
use crate::supervisor::SupervisorMsg;
use crate::watchdog::{ExitNotice, Watchdog};

/// What a supervisor lends the children it starts.
#[derive(Clone)]
pub(crate) struct Host {
    /// The supervisor, which children link to.
    pub(crate) supervisor: ActorCell,
    pub(crate) events: EventBus,
    pub(crate) watchdog: Watchdog,
    /// Tells this supervisor of a child's exit that ractor will not report.
    pub(crate) exit_notice: ExitNotice,
    /// Tells this supervisor that an in-place child failed and waits.
    pub(crate) park_notice: ParkNotice,
}

impl Host {
    /// What the supervisor `myself` lends its children.
    pub(crate) fn new(myself: &ActorRef<SupervisorMsg>, events: EventBus, watchdog: Watchdog) -> Self {
        let notify = myself.clone();
        let park = myself.clone();
        Self {
            supervisor: myself.get_cell(),
            events,
            watchdog,
            exit_notice: std::sync::Arc::new(move |actor: ActorId, reason: ExitReason| {
                // Fails only once the supervisor is gone, with its children.
                let _ = notify.send_message(SupervisorMsg::ChildGone(actor, reason));
            }),
            park_notice: std::sync::Arc::new(move |actor: ActorId, reason: ExitReason, parked: Parked| {
                // Fails only once the supervisor is gone: the parked child,
                // handed back in the error and dropped, then ends.
                let _ = park.send_message(SupervisorMsg::ChildParked(actor, reason, parked));
            }),
        }
    }
}
