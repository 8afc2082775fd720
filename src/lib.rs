//! # Hale
//!
//! A self-healing runtime for multi-agent systems. Agents are
//! [`ractor`](https://docs.rs/ractor) actors under supervisors with
//! Erlang/OTP's semantics; a resilience toolkit wraps the calls they make.
//!
//! This crate is the facade: it re-exports the parts, and [`prelude`] brings
//! the everyday names into scope.
//!
//! ```
//! use hale::prelude::*;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let root = Supervisor::start(
//!     SupervisorSpec::new("root")
//!         .strategy(Strategy::OneForOne)
//!         .intensity(3)
//!         .child(ChildSpec::task("agent", |_ctx| async {
//!             std::future::pending::<()>().await;
//!             Ok(())
//!         })),
//! )
//! .await?;
//! assert_eq!(root.count_children().await?.active, 1);
//! root.stop(std::time::Duration::from_secs(5)).await;
//! # Ok(())
//! # }
//! ```
//!
//! - [`core`]: supervisors, dynamic supervisors, child specs, healing events.
//! - [`resilience`]: retry, circuit breaker, timeout, fallback, bulkhead,
//!   rate limit, single-flight, resource mediator, degradation.
//! - [`chaos`]: seeded fault plans, the injector, and the chaos report.
//! - [`durable`]: workflows whose steps are checkpointed on SQLite or
//!   Postgres, resumed after a crash, compensated, gated, dead-lettered and
//!   audited.
//! - `ops` (feature `ops`): Prometheus metrics, `/livez` and `/readyz`, the
//!   tree as JSON and as a live page, healing events as server-sent events,
//!   admin actions behind a token.
//! - [`util`]: the bounded event bus and the other plumbing the parts share.
//! - [`ractor`]: the actor runtime underneath, re-exported so that your
//!   actors and Hale's supervisors agree on one version and one feature set.

pub use hale_chaos as chaos;
/// Trees that span machines (feature `cluster`, off by default: it turns on
/// ractor's `cluster` feature for the whole build; see `docs/cluster.md`).
#[cfg(feature = "cluster")]
pub use hale_cluster as cluster;
pub use hale_core as core;
pub use hale_durable as durable;
#[cfg(feature = "ops")]
pub use hale_ops as ops;
pub use hale_resilience as resilience;
pub use hale_util as util;

/// The ractor Hale is built on, at the same version and with the same
/// features: write `hale::ractor::Actor` and your actors implement the very
/// trait Hale's supervisors accept, with no second ractor dependency to keep
/// in step. Hale turns ractor's default `message_span_propogation` feature off
/// (it clones a tracing span into every message); a `ractor = "0.16"` of your
/// own, with default features, would turn it back on for the whole build.
///
/// # Examples
///
/// ```
/// use hale::prelude::*;
/// use hale::ractor::{Actor, ActorProcessingErr, ActorRef};
///
/// #[derive(Clone)]
/// struct Counter;
///
/// impl Actor for Counter {
///     type Msg = u64;
///     type State = u64;
///     type Arguments = u64;
///
///     async fn pre_start(&self, _me: ActorRef<u64>, start: u64) -> Result<u64, ActorProcessingErr> {
///         Ok(start)
///     }
///
///     async fn handle(&self, _me: ActorRef<u64>, add: u64, total: &mut u64) -> Result<(), ActorProcessingErr> {
///         *total += add;
///         Ok(())
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let root = Supervisor::start(SupervisorSpec::new("root").child(ChildSpec::actor("counter", Counter, 0))).await?;
/// assert_eq!(root.count_children().await?.active, 1);
/// root.stop(std::time::Duration::from_secs(5)).await;
/// # Ok(())
/// # }
/// ```
pub use ractor;

/// The names most programs need: specs, supervisors, handles, health,
/// events, jobs, and the everyday resilience policies.
///
/// ```
/// use hale::prelude::*;
///
/// // Supervision, health and the resilience policies in one import.
/// let spec: ChildSpec = ChildSpec::task("agent", |ctx: TaskContext| async move {
///     let beat: Heartbeat = ctx.heartbeat();
///     beat.beat();
///     Ok(())
/// })
/// .watch(Watch::heartbeat(std::time::Duration::from_secs(30)));
/// let retry = RetryPolicy::builder("model").maximum_attempts(3).build().unwrap();
/// # let _ = (spec, retry);
/// ```
pub mod prelude {
    pub use hale_core::{
        AutoShutdown, CallError, ChildError, ChildKind, ChildRef, ChildSpec, ChildState, ChildTemplate,
        Concern, DeadLetter, DynamicChildId, DynamicStart, DynamicSupervisor, DynamicSupervisorRef,
        DynamicSupervisorSpec, EventBus, EventStream, ExitReason, HealingEvent, HealingEventKind, Heartbeat,
        JobError, JobHandle, JobTemplate, NodeHealth, Probe, RecvError, Restart, Shutdown, StartContext,
        Strategy, Supervisor, SupervisorRef, SupervisorSpec, TaskContext, Watch,
    };
    pub use hale_resilience::{
        Bulkhead, CircuitBreaker, FallbackChain, Pipeline, RateLimiter, ResilienceBus, ResilienceError,
        ResilienceStream, RetryPolicy, Timeout,
    };
}

/// The README's example, compiled and run as a doctest so it stays true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
