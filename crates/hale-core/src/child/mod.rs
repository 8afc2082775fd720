//! One child as its supervisor holds it, and the views of it the API gives.
//!
//! - [`Child`](record::Child): the spec, the current [`Incarnation`], the
//!   restart count and history, the heartbeat and the backoff of one child,
//!   and the steps of its life (start, stop, exit) with their events.
//! - [`ChildTable`](table::ChildTable): a supervisor's children in start
//!   order, found by id, by handle, by unique key or by actor.
//! - [`Publisher`](publisher::Publisher): tells a child's
//!   [`ChildRef`](crate::ChildRef)s about each new incarnation.
//! - The public views: [`ChildState`], [`ChildInfo`], [`ChildCounts`],
//!   [`StartedChild`].

mod counts;
mod host;
mod incarnation;
mod info;
mod linger;
mod publisher;
mod record;
mod started;
mod state;
mod table;

pub use counts::ChildCounts;
pub(crate) use host::Host;
pub(crate) use incarnation::Incarnation;
pub use info::ChildInfo;
pub use linger::Linger;
pub(crate) use linger::{LingerSlot, Lingering};
pub(crate) use publisher::{Publisher, Subscription};
pub(crate) use record::{Child, StartKind, report_stuck};
pub use started::StartedChild;
pub use state::ChildState;
pub(crate) use table::{ChildTable, Serial};
