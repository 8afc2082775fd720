//! [`Ops`], the operator's surface of one tree, and its builder.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hale_core::SupervisorRef;
use tokio::sync::broadcast;

use crate::error::{ApiError, OpsError};
use crate::feed::{self, FeedState, FeedTask, OpsEvent};
use crate::metrics::{OpsMetrics, WorkMetrics};
use crate::server::OpsServer;
use crate::snapshot::{Tally, TreeSnapshot};
use crate::source::{ResilienceFeed, TreeSource};
use crate::token::{AdminToken, Tokens};
use crate::workflows::{AuditEntry, Workflows};

/// The operator's surface of one tree: its metrics, health endpoints, live
/// page, event stream and admin actions, as an axum [`Router`](axum::Router)
/// ([`router`](Self::router)) to mount in an app or to serve on its own
/// ([`serve`](Self::serve)).
///
/// It observes the tree only through its healing events (and, when given,
/// the resilience policies' events) and its health snapshot, and acts on it
/// only through the root's [`SupervisorRef`]. Cheap to clone.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use hale_core::{ChildSpec, Supervisor, SupervisorSpec};
/// use hale_ops::{AdminToken, Ops};
///
/// let root = Supervisor::start(SupervisorSpec::new("root").child(ChildSpec::task("agent", |_| async {
///     std::future::pending::<()>().await;
///     Ok(())
/// })))
/// .await?;
/// let ops = Ops::builder(root.clone())
///     .admin_token(AdminToken::new("alice", "a-long-enough-secret"))
///     .build()?;
/// // Mount it in your own app...
/// let app: axum::Router = axum::Router::new().nest("/ops", ops.router());
/// # drop(app);
/// // ...or serve it on its own, on loopback.
/// let server = ops.serve("127.0.0.1:0".parse()?).await?;
/// println!("live tree at http://{}/", server.local_addr());
/// server.shutdown().await;
/// root.stop(Duration::from_secs(1)).await;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Ops {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Ops {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ops")
            .field("root", self.inner.source.root_path())
            .field("mutation", &!self.inner.tokens.is_empty())
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    pub(crate) source: TreeSource,
    pub(crate) metrics: Arc<OpsMetrics>,
    pub(crate) feed: Arc<FeedState>,
    pub(crate) feed_task: FeedTask,
    pub(crate) tokens: Tokens,
    pub(crate) workflows: Option<Arc<dyn Workflows>>,
    pub(crate) protect_reads: bool,
    pub(crate) allow_remote: bool,
    pub(crate) body_limit: usize,
    pub(crate) call_timeout: Duration,
    /// `/events` streams open now, and how many may be.
    pub(crate) event_clients: Arc<std::sync::atomic::AtomicUsize>,
    pub(crate) max_event_clients: usize,
}

/// Settings of an [`Ops`], with their defaults.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use hale_core::{Supervisor, SupervisorSpec};
/// use hale_ops::Ops;
///
/// let root = Supervisor::start(SupervisorSpec::new("root")).await?;
/// let policies = hale_resilience::ResilienceBus::new();
/// let ops = Ops::builder(root.clone())
///     .resilience(&policies)
///     .call_timeout(Duration::from_secs(1))
///     .body_limit(16 * 1024)
///     .event_buffer(256)
///     .build()?;
/// # drop(ops);
/// # root.stop(Duration::from_secs(1)).await;
/// # Ok(())
/// # }
/// ```
#[must_use = "call build() to get the Ops"]
pub struct OpsBuilder {
    root: SupervisorRef,
    resilience: Option<hale_resilience::ResilienceBus>,
    tokens: Vec<AdminToken>,
    workflows: Option<Arc<dyn Workflows>>,
    protect_reads: bool,
    allow_remote: bool,
    body_limit: usize,
    event_buffer: usize,
    max_event_clients: usize,
    call_timeout: Duration,
}

impl std::fmt::Debug for OpsBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpsBuilder")
            .field("root", self.root.path())
            .field("tokens", &self.tokens)
            .field("protect_reads", &self.protect_reads)
            .field("allow_remote", &self.allow_remote)
            .field("body_limit", &self.body_limit)
            .field("event_buffer", &self.event_buffer)
            .field("max_event_clients", &self.max_event_clients)
            .field("call_timeout", &self.call_timeout)
            .finish_non_exhaustive()
    }
}

impl Ops {
    /// Starts building the surface of the tree whose root is `root`.
    pub fn builder(root: SupervisorRef) -> OpsBuilder {
        OpsBuilder {
            root,
            resilience: None,
            tokens: Vec::new(),
            workflows: None,
            protect_reads: false,
            allow_remote: false,
            body_limit: 64 * 1024,
            event_buffer: 1_024,
            max_event_clients: 64,
            call_timeout: Duration::from_secs(2),
        }
    }

    /// The HTTP surface as a router, to mount anywhere in an axum app
    /// (`Router::merge` at the root, or `Router::nest("/ops", ...)`: the page
    /// uses relative links, so it works under a prefix).
    pub fn router(&self) -> axum::Router {
        crate::routes::router(Arc::clone(&self.inner))
    }

    /// Records the application's own work items (`hale_work_items_total`,
    /// `hale_work_item_duration_seconds`), which the alert rules' error rate
    /// and latency are computed from.
    pub fn work(&self) -> WorkMetrics {
        self.inner.metrics.work().clone()
    }

    /// The tree now, as `/tree` returns it.
    ///
    /// # Errors
    /// [`ApiError::Unavailable`] if the tree does not answer within the call
    /// timeout or is gone.
    ///
    /// # Cancel safety
    /// Cancel safe: it only reads.
    pub async fn snapshot(&self) -> Result<TreeSnapshot, ApiError> {
        self.inner.snapshot().await
    }

    /// The Prometheus text `/metrics` serves: the counters, and the gauges
    /// set from a snapshot taken now (for an application that serves its
    /// metrics on a route of its own).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use hale_core::{Supervisor, SupervisorSpec};
    /// let root = Supervisor::start(SupervisorSpec::new("root")).await?;
    /// let ops = hale_ops::Ops::builder(root.clone()).build()?;
    /// assert!(ops.metrics_text().await.contains("\nhale_tree_up 1\n"));
    /// # root.stop(std::time::Duration::from_secs(1)).await;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Cancel safety
    /// Cancel safe: it only reads.
    pub async fn metrics_text(&self) -> String {
        self.inner.metrics_text().await
    }

    /// A stream of every event the surface passes on (healing, resilience
    /// and audit), from now on. It holds at most the event buffer's worth;
    /// a reader that falls further behind gets `RecvError::Lagged`.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<OpsEvent>> {
        self.inner.feed.subscribe()
    }

    /// Serves the router alone on `address` until the returned server is
    /// shut down or dropped.
    ///
    /// # Errors
    /// [`OpsError::NotLoopback`] for an address beyond loopback unless
    /// [`OpsBuilder::allow_remote`] was set; [`OpsError::Bind`] if the
    /// address cannot be bound.
    ///
    /// # Cancel safety
    /// Cancel safe: nothing is served before it returns.
    pub async fn serve(&self, address: std::net::SocketAddr) -> Result<OpsServer, OpsError> {
        if !address.ip().is_loopback() && !self.inner.allow_remote {
            return Err(OpsError::NotLoopback(address));
        }
        OpsServer::bind(address, self.router()).await
    }
}

impl Inner {
    pub(crate) async fn snapshot(&self) -> Result<TreeSnapshot, ApiError> {
        let health = self.source.health().await.map_err(ApiError::Unavailable)?;
        let breakers = self.feed.breakers().views();
        Ok(TreeSnapshot::build(&health, breakers, unix_millis()))
    }

    pub(crate) async fn metrics_text(&self) -> String {
        let tally = self.source.health().await.ok().map(|health| Tally::of(&health));
        let workflows = match &self.workflows {
            Some(workflows) => match tokio::time::timeout(self.call_timeout, workflows.counts()).await {
                Ok(Ok(counts)) => Some((counts.dead_letters, counts.pending_approvals)),
                _ => None,
            },
            None => None,
        };
        self.metrics.render(tally.as_ref(), workflows)
    }

    /// Writes an audit entry: always to `tracing`, to the event stream, and
    /// to the plugged audit trail when there is one. Returns the trail's
    /// error, if writing to it failed.
    pub(crate) async fn audit(
        &self,
        actor: &str,
        action: &str,
        target: &str,
        outcome: &str,
    ) -> Option<String> {
        let entry = AuditEntry {
            at_ms: unix_millis(),
            actor: actor.to_owned(),
            action: action.to_owned(),
            target: target.to_owned(),
            outcome: outcome.to_owned(),
        };
        tracing::info!(target: "hale::ops::audit", actor, action, target, outcome, "admin action");
        self.feed.publish(OpsEvent::Audit(entry.clone()));
        let workflows = self.workflows.as_ref()?;
        match tokio::time::timeout(self.call_timeout, workflows.audit(entry)).await {
            Ok(Ok(())) => None,
            Ok(Err(error)) => Some(error.to_string()),
            Err(_) => Some(format!(
                "the audit trail did not answer within {} ms",
                self.call_timeout.as_millis()
            )),
        }
        .inspect(|error| {
            tracing::error!(target: "hale::ops::audit", actor, action, target, %error, "audit entry not written");
        })
    }
}

impl OpsBuilder {
    /// Also watch the resilience policies that emit to `bus`: their retries,
    /// rejections, fallbacks and breaker states show in `/metrics`,
    /// `/readyz` (open breakers) and `/events`.
    pub fn resilience(mut self, bus: &hale_resilience::ResilienceBus) -> Self {
        self.resilience = Some(bus.clone());
        self
    }

    /// Adds an admin token. Without any, every mutating route answers 403.
    pub fn admin_token(mut self, token: AdminToken) -> Self {
        self.tokens.push(token);
        self
    }

    /// Plugs in the service's dead letters, approval gates and audit trail.
    pub fn workflows(mut self, workflows: Arc<dyn Workflows>) -> Self {
        self.workflows = Some(workflows);
        self
    }

    /// Puts the read routes behind the admin token too (default: open, for
    /// a router on loopback). [`allow_remote`](Self::allow_remote) sets it.
    pub fn protect_reads(mut self, protect: bool) -> Self {
        self.protect_reads = protect;
        self
    }

    /// Lets [`Ops::serve`] listen beyond loopback; reads then need the admin
    /// token as well.
    pub fn allow_remote(mut self, allow: bool) -> Self {
        self.allow_remote = allow;
        self.protect_reads |= allow;
        self
    }

    /// The largest request body accepted, in bytes (default 64 KiB); a
    /// larger one gets 413.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// How many events a slow `/events` client may fall behind before it
    /// loses them and is sent a full snapshot instead (default 1,024).
    pub fn event_buffer(mut self, events: usize) -> Self {
        self.event_buffer = events;
        self
    }

    /// How many `/events` streams may be open at once (default 64); one
    /// more is answered 503 until another closes. Each holds up to the
    /// event buffer's worth of events.
    pub fn max_event_clients(mut self, clients: usize) -> Self {
        self.max_event_clients = clients;
        self
    }

    /// How long one call into the tree or the workflow store may take
    /// (default 2 s); past it the route answers 503.
    pub fn call_timeout(mut self, limit: Duration) -> Self {
        self.call_timeout = limit;
        self
    }

    /// Checks the settings and starts the event feed.
    ///
    /// # Errors
    /// [`OpsError::WeakToken`], [`OpsError::UnnamedToken`],
    /// [`OpsError::DuplicateToken`] for bad tokens; [`OpsError::Setting`]
    /// for a zero limit or timeout, or when called outside a tokio runtime.
    pub fn build(self) -> Result<Ops, OpsError> {
        let tokens = Tokens::new(self.tokens)?;
        let positive = |setting: &'static str, zero: bool| {
            if zero {
                Err(OpsError::Setting {
                    setting,
                    problem: "must be greater than zero".to_owned(),
                })
            } else {
                Ok(())
            }
        };
        positive("body_limit", self.body_limit == 0)?;
        positive("event_buffer", self.event_buffer == 0)?;
        positive("max_event_clients", self.max_event_clients == 0)?;
        positive("call_timeout", self.call_timeout.is_zero())?;
        if self.event_buffer > usize::MAX / 2 {
            return Err(OpsError::Setting {
                setting: "event_buffer",
                problem: format!("{} events is more than a channel can hold", self.event_buffer),
            });
        }
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(OpsError::Setting {
                setting: "runtime",
                problem: "build() must be called inside a tokio runtime (it starts the event feed)"
                    .to_owned(),
            });
        }
        let metrics = Arc::new(OpsMetrics::new(self.workflows.is_some())?);
        let source = TreeSource::new(self.root, self.call_timeout);
        let feed = Arc::new(FeedState::new(self.event_buffer));
        let feed_task = feed::spawn(
            source.subscribe(),
            self.resilience.as_ref().map(ResilienceFeed::subscribe),
            Arc::clone(&feed),
            Arc::clone(&metrics),
        );
        Ok(Ops {
            inner: Arc::new(Inner {
                source,
                metrics,
                feed,
                feed_task,
                tokens,
                workflows: self.workflows,
                protect_reads: self.protect_reads,
                allow_remote: self.allow_remote,
                body_limit: self.body_limit,
                call_timeout: self.call_timeout,
                event_clients: Arc::default(),
                max_event_clients: self.max_event_clients,
            }),
        })
    }
}

/// Now, in ms since the Unix epoch.
pub(crate) fn unix_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
