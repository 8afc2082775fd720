//! A resource mediator: named shared resources taken all at once, in one global order,
//! with a timeout.
//!
//! Two agents that each hold one lock and wait for the other's deadlock forever. The
//! classic cure is to take locks in one global order: if everyone takes `db` before
//! `index`, nobody can hold `index` while waiting for `db`, so no cycle of waiting can
//! form. The mediator enforces that order for you. Resources are declared once, and the
//! order of declaration is the global order; an agent asks for everything it needs in
//! one call, in any order, and the mediator takes them in the global order.
//!
//! Every acquisition has a time limit. If some resource is still busy when it passes, the
//! ones already taken are released and the caller gets [`MediatorError::Timeout`], which
//! names the resource it was waiting for, instead of waiting forever. Each resource has a
//! number of slots (1 = exclusive); waiters are served first in, first out.
//!
//! ```
//! use std::time::Duration;
//! use hale_resilience::ResourceMediator;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let mediator = ResourceMediator::builder("workspace")
//!     .resource("database")
//!     .resource("search-index")
//!     .resource_with_slots("gpu", 2)
//!     .build()
//!     .unwrap();
//!
//! // Asked in any order, taken in the declared order.
//! let held = mediator
//!     .acquire(&["gpu", "database"], Duration::from_secs(5))
//!     .await
//!     .unwrap();
//! assert_eq!(held.names(), vec!["database", "gpu"]);
//! assert_eq!(mediator.available("gpu"), Some(1));
//! drop(held); // releases everything
//! # }
//! ```

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, timeout_at};

use crate::error::ConfigError;
use crate::events::{EventKind, ResilienceBus};
use crate::stats::{bump, counters};
use crate::util::millis;

/// Why resources could not be acquired.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MediatorError {
    /// A requested resource was never declared.
    #[error("resource mediator `{mediator}` has no resource `{resource}`")]
    UnknownResource {
        /// Name of the mediator.
        mediator: Arc<str>,
        /// The unknown resource.
        resource: String,
    },
    /// The time limit passed before every resource was free. Nothing is held.
    #[error(
        "resource mediator `{mediator}`: gave up acquiring {requested:?} after {after:?}; `{waiting_for}` was still busy"
    )]
    Timeout {
        /// Name of the mediator.
        mediator: Arc<str>,
        /// Every resource requested, in the global order.
        requested: Vec<String>,
        /// The resource still busy when time ran out.
        waiting_for: String,
        /// The time limit.
        after: Duration,
    },
}

counters! {
    MediatorCounters =>
    /// Counters of a resource mediator since it was built.
    pub struct MediatorStats {
        /// Acquisitions that got every resource.
        acquired,
        /// Acquisitions that timed out.
        timed_out,
    }
}

#[derive(Debug)]
struct Resource {
    name: Arc<str>,
    /// Position in the global order.
    rank: usize,
    slots: Arc<Semaphore>,
}

struct Inner {
    resources: HashMap<Arc<str>, Resource>,
    counters: MediatorCounters,
}

/// Named shared resources with one global acquisition order. Cheap to clone; clones
/// share the resources.
#[derive(Clone)]
pub struct ResourceMediator {
    name: Arc<str>,
    events: ResilienceBus,
    inner: Arc<Inner>,
}

/// Declares the resources of a [`ResourceMediator`]; their order is the global order.
#[derive(Debug)]
#[must_use = "a builder does nothing until `build()` is called"]
pub struct MediatorBuilder {
    name: Arc<str>,
    resources: Vec<(Arc<str>, usize)>,
    events: ResilienceBus,
}

impl MediatorBuilder {
    /// Declares an exclusive resource (one holder at a time), after those declared so
    /// far in the global order.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use hale_resilience::ResourceMediator;
    ///
    /// let mediator = ResourceMediator::builder("workspace")
    ///     .resource("database")
    ///     .resource_with_slots("gpu", 2)
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(mediator.available("database"), Some(1));
    /// ```
    pub fn resource(self, name: impl Into<Arc<str>>) -> Self {
        self.resource_with_slots(name, 1)
    }

    /// Declares a resource that `slots` holders may hold at once (at least 1).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use hale_resilience::ResourceMediator;
    ///
    /// let mediator = ResourceMediator::builder("workspace")
    ///     .resource("database")
    ///     .resource_with_slots("gpu", 2)
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(mediator.available("gpu"), Some(2));
    /// ```
    pub fn resource_with_slots(mut self, name: impl Into<Arc<str>>, slots: usize) -> Self {
        self.resources.push((name.into(), slots));
        self
    }

    /// Reports timeouts to `bus` (they are traced either way).
    ///
    /// # Examples
    ///
    /// ```
    /// use hale_resilience::{ResilienceBus, ResourceMediator};
    ///
    /// let bus = ResilienceBus::new();
    /// let mediator = ResourceMediator::builder("workspace").resource("db").events(&bus).build().unwrap();
    /// assert_eq!(mediator.order(), vec!["db"]);
    /// ```
    pub fn events(mut self, bus: &ResilienceBus) -> Self {
        self.events = bus.clone();
        self
    }

    /// Checks the declarations (no duplicates, no zero slots) and builds the mediator.
    ///
    /// # Errors
    ///
    /// [`ConfigError::DuplicateResource`] for a resource declared twice and
    /// [`ConfigError::Zero`] for a resource with no slots.
    ///
    /// # Examples
    ///
    /// ```
    /// use hale_resilience::ResourceMediator;
    ///
    /// assert!(ResourceMediator::builder("m").resource("db").resource("db").build().is_err());
    /// ```
    pub fn build(self) -> Result<ResourceMediator, ConfigError> {
        let mut resources = HashMap::with_capacity(self.resources.len());
        for (rank, (name, slots)) in self.resources.into_iter().enumerate() {
            if slots == 0 {
                return Err(ConfigError::Zero {
                    policy: "resource mediator",
                    name: self.name.to_string(),
                    field: "resource slots",
                });
            }
            let resource = Resource {
                name: Arc::clone(&name),
                rank,
                slots: Arc::new(Semaphore::new(slots)),
            };
            if resources.insert(Arc::clone(&name), resource).is_some() {
                return Err(ConfigError::DuplicateResource {
                    name: self.name.to_string(),
                    resource: name.to_string(),
                });
            }
        }
        Ok(ResourceMediator {
            name: self.name,
            events: self.events,
            inner: Arc::new(Inner {
                resources,
                counters: MediatorCounters::default(),
            }),
        })
    }
}

/// Resources held together; every one is released when this is dropped.
#[must_use = "the resources are released as soon as this is dropped"]
pub struct ResourceSet {
    names: Vec<Arc<str>>,
    _permits: Vec<OwnedSemaphorePermit>,
}

impl ResourceSet {
    /// The resources held, in the global order.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use std::time::Duration;
    /// use hale_resilience::ResourceMediator;
    ///
    /// let mediator = ResourceMediator::builder("workspace")
    ///     .resource("database")
    ///     .resource_with_slots("gpu", 2)
    ///     .build()
    ///     .unwrap();
    /// let held = mediator.acquire(&["gpu", "database"], Duration::from_secs(1)).await.unwrap();
    /// assert_eq!(held.names(), vec!["database", "gpu"]);
    /// # }
    /// ```
    pub fn names(&self) -> Vec<&str> {
        self.names.iter().map(|name| &**name).collect()
    }
}

impl fmt::Debug for ResourceSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResourceSet").field("names", &self.names).finish()
    }
}

impl ResourceMediator {
    /// Starts declaring the resources of a mediator named `name`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use hale_resilience::ResourceMediator;
    ///
    /// let mediator = ResourceMediator::builder("workspace")
    ///     .resource("database")
    ///     .resource_with_slots("gpu", 2)
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(mediator.name(), "workspace");
    /// ```
    pub fn builder(name: impl Into<Arc<str>>) -> MediatorBuilder {
        MediatorBuilder {
            name: name.into(),
            resources: Vec::new(),
            events: ResilienceBus::default(),
        }
    }

    /// The mediator's name.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use hale_resilience::ResourceMediator;
    ///
    /// let mediator = ResourceMediator::builder("workspace")
    ///     .resource("database")
    ///     .resource_with_slots("gpu", 2)
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(mediator.name(), "workspace");
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Every resource, in the global order.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use hale_resilience::ResourceMediator;
    ///
    /// let mediator = ResourceMediator::builder("workspace")
    ///     .resource("database")
    ///     .resource_with_slots("gpu", 2)
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(mediator.order(), vec!["database", "gpu"]);
    /// ```
    pub fn order(&self) -> Vec<&str> {
        let mut resources: Vec<&Resource> = self.inner.resources.values().collect();
        resources.sort_by_key(|resource| resource.rank);
        resources.iter().map(|resource| &*resource.name).collect()
    }

    /// Free slots of `resource` right now, or `None` if it is unknown.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use hale_resilience::ResourceMediator;
    ///
    /// let mediator = ResourceMediator::builder("workspace")
    ///     .resource("database")
    ///     .resource_with_slots("gpu", 2)
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(mediator.available("gpu"), Some(2));
    /// assert_eq!(mediator.available("tpu"), None);
    /// ```
    pub fn available(&self, resource: &str) -> Option<usize> {
        self.inner
            .resources
            .get(resource)
            .map(|r| r.slots.available_permits())
    }

    /// Counters since the mediator was built.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use std::time::Duration;
    /// use hale_resilience::ResourceMediator;
    ///
    /// let mediator = ResourceMediator::builder("workspace")
    ///     .resource("database")
    ///     .resource_with_slots("gpu", 2)
    ///     .build()
    ///     .unwrap();
    /// drop(mediator.acquire(&["gpu"], Duration::from_secs(1)).await.unwrap());
    /// assert_eq!(mediator.stats().acquired, 1);
    /// # }
    /// ```
    pub fn stats(&self) -> MediatorStats {
        self.inner.counters.snapshot()
    }

    /// Acquires every resource in `names` (any order, duplicates ignored), in the global
    /// order, waiting at most `within` in total (a limit too long to represent as an
    /// instant, such as `Duration::MAX`, means no limit). Everything is released when the
    /// returned set is dropped.
    ///
    /// # Errors
    ///
    /// [`MediatorError::UnknownResource`] for a name never declared (nothing is taken),
    /// and [`MediatorError::Timeout`], naming the resource still busy, when time ran out
    /// (whatever was taken is released).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future releases every resource it had already taken and leaves the
    /// queue of the one it was waiting for; nothing stays held.
    ///
    /// # Examples
    ///
    /// ```
    /// use hale_resilience::MediatorError;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use std::time::Duration;
    /// use hale_resilience::ResourceMediator;
    ///
    /// let mediator = ResourceMediator::builder("workspace")
    ///     .resource("database")
    ///     .resource_with_slots("gpu", 2)
    ///     .build()
    ///     .unwrap();
    /// let held = mediator.acquire(&["database"], Duration::from_secs(1)).await.unwrap();
    /// let busy = mediator.acquire(&["gpu", "database"], Duration::from_millis(100)).await;
    /// assert!(matches!(busy, Err(MediatorError::Timeout { ref waiting_for, .. }) if waiting_for == "database"));
    /// assert_eq!(mediator.available("gpu"), Some(2)); // taken, then given back
    /// drop(held);
    /// # }
    /// ```
    pub async fn acquire<S: AsRef<str>>(
        &self,
        names: &[S],
        within: Duration,
    ) -> Result<ResourceSet, MediatorError> {
        // A limit too large to represent as an instant means waiting as long as it takes.
        let deadline = Instant::now().checked_add(within);
        let mut wanted: Vec<&Resource> = Vec::with_capacity(names.len());
        for name in names {
            let name = name.as_ref();
            let resource = self
                .inner
                .resources
                .get(name)
                .ok_or_else(|| MediatorError::UnknownResource {
                    mediator: Arc::clone(&self.name),
                    resource: name.to_owned(),
                })?;
            wanted.push(resource);
        }
        wanted.sort_by_key(|resource| resource.rank);
        wanted.dedup_by_key(|resource| resource.rank);

        let mut permits = Vec::with_capacity(wanted.len());
        for resource in &wanted {
            let acquire = Arc::clone(&resource.slots).acquire_owned();
            let acquired = match deadline {
                Some(at) => timeout_at(at, acquire).await,
                None => Ok(acquire.await),
            };
            match acquired {
                Ok(Ok(permit)) => permits.push(permit),
                // Timed out (or, impossibly, closed): `permits` drops here, releasing
                // whatever was already taken so nobody waits on a caller that gave up.
                Ok(Err(_)) | Err(_) => return Err(self.timed_out(&wanted, resource, within)),
            }
        }
        bump(&self.inner.counters.acquired);
        Ok(ResourceSet {
            names: wanted.iter().map(|resource| Arc::clone(&resource.name)).collect(),
            _permits: permits,
        })
    }

    /// Runs `operation` while holding every resource in `names`, acquired as by
    /// [`acquire`](Self::acquire); they are released when it ends.
    ///
    /// # Errors
    ///
    /// As for [`acquire`](Self::acquire); the operation is not called then.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future while it acquires releases what was taken; dropping it while
    /// the operation runs drops the operation and releases every resource.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use std::time::Duration;
    /// use hale_resilience::ResourceMediator;
    ///
    /// let mediator = ResourceMediator::builder("workspace")
    ///     .resource("database")
    ///     .resource_with_slots("gpu", 2)
    ///     .build()
    ///     .unwrap();
    /// let rows = mediator
    ///     .run(&["database"], Duration::from_secs(5), || async { 42 })
    ///     .await
    ///     .unwrap();
    /// assert_eq!(rows, 42);
    /// # }
    /// ```
    pub async fn run<S, F, Fut>(
        &self,
        names: &[S],
        within: Duration,
        operation: F,
    ) -> Result<Fut::Output, MediatorError>
    where
        S: AsRef<str>,
        F: FnOnce() -> Fut,
        Fut: Future,
    {
        let _held = self.acquire(names, within).await?;
        Ok(operation().await)
    }

    fn timed_out(&self, wanted: &[&Resource], waiting_for: &Resource, within: Duration) -> MediatorError {
        bump(&self.inner.counters.timed_out);
        let requested: Vec<String> = wanted.iter().map(|r| r.name.to_string()).collect();
        self.events.emit(
            &self.name,
            EventKind::ResourcesTimedOut {
                resources: requested.clone(),
                waiting_for: waiting_for.name.to_string(),
                waited_ms: millis(within),
            },
        );
        MediatorError::Timeout {
            mediator: Arc::clone(&self.name),
            requested,
            waiting_for: waiting_for.name.to_string(),
            after: within,
        }
    }
}

impl fmt::Debug for ResourceMediator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResourceMediator")
            .field("name", &self.name)
            .field("order", &self.order())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mediator() -> ResourceMediator {
        ResourceMediator::builder("m")
            .resource("a")
            .resource("b")
            .resource("c")
            .build()
            .unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn a_timeout_names_the_busy_resource_and_releases_the_rest() {
        let bus = ResilienceBus::new();
        let mut events = bus.subscribe();
        let m = ResourceMediator::builder("m")
            .resource("a")
            .resource("b")
            .events(&bus)
            .build()
            .unwrap();
        let _b = m.acquire(&["b"], Duration::from_secs(1)).await.unwrap();
        let began = Instant::now();
        let error = m
            .acquire(&["b", "a"], Duration::from_millis(500))
            .await
            .unwrap_err();
        assert_eq!(began.elapsed(), Duration::from_millis(500));
        assert_eq!(
            error,
            MediatorError::Timeout {
                mediator: "m".into(),
                requested: vec!["a".into(), "b".into()],
                waiting_for: "b".into(),
                after: Duration::from_millis(500),
            }
        );
        assert_eq!(m.available("a"), Some(1), "`a` was taken first and given back");
        assert!(matches!(
            events.try_recv().map(|e| e.kind),
            Ok(EventKind::ResourcesTimedOut { .. })
        ));
        assert_eq!(m.stats().timed_out, 1);
    }

    #[tokio::test]
    async fn unknown_resources_and_duplicates() {
        let m = mediator();
        assert!(matches!(
            m.acquire(&["a", "zz"], Duration::from_secs(1)).await,
            Err(MediatorError::UnknownResource { ref resource, .. }) if resource == "zz"
        ));
        let held = m.acquire(&["c", "a", "c"], Duration::from_secs(1)).await.unwrap();
        assert_eq!(held.names(), vec!["a", "c"]);
        assert!(
            ResourceMediator::builder("m")
                .resource("x")
                .resource("x")
                .build()
                .is_err()
        );
        assert!(
            ResourceMediator::builder("m")
                .resource_with_slots("x", 0)
                .build()
                .is_err()
        );
        assert_eq!(m.order(), vec!["a", "b", "c"]);
        drop(held);
        let forever = m.acquire(&["a"], Duration::MAX).await;
        assert!(
            forever.is_ok(),
            "an unrepresentable limit means no limit, not a panic"
        );
    }
}
