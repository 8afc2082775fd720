//! Sharing one policy instance per dependency.
//!
//! A circuit breaker only works if every caller of the payment gateway sees the same
//! breaker; the same goes for a bulkhead or a rate limiter. A [`Registry`] hands out the
//! instance for a name, creating it on first use from the registry's template, so agents
//! spread across a supervision tree can each ask for `"payments"` and share one.
//!
//! ```
//! use hale_resilience::{BreakerConfig, CircuitBreaker, ResilienceBus};
//!
//! let breakers = CircuitBreaker::registry(BreakerConfig::default(), &ResilienceBus::new()).unwrap();
//! let a = breakers.get("payments");
//! let b = breakers.get("payments");
//! a.force_open();
//! assert!(b.try_acquire().is_err()); // same breaker
//! assert!(breakers.get("maps").try_acquire().is_ok()); // a different one
//! ```

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use crate::builder::PolicyConfig;
use crate::error::ConfigError;
use crate::events::ResilienceBus;
use crate::util::lock;

type Factory<P> = Box<dyn Fn(&str) -> P + Send + Sync>;

/// Policy instances of one kind, keyed by dependency name. Cloning is cheap and shares
/// the instances.
pub struct Registry<P> {
    inner: Arc<RegistryInner<P>>,
}

struct RegistryInner<P> {
    entries: Mutex<HashMap<Arc<str>, P>>,
    make: Factory<P>,
}

impl<P: Clone> Registry<P> {
    /// A registry that creates a missing instance with `make(name)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use hale_resilience::{Bulkhead, Registry};
    ///
    /// let pools = Registry::new(|name: &str| Bulkhead::builder(name).max_concurrent(4).build().unwrap());
    /// assert_eq!(pools.get("db").available(), 4);
    /// ```
    pub fn new<F>(make: F) -> Self
    where
        F: Fn(&str) -> P + Send + Sync + 'static,
    {
        Self {
            inner: Arc::new(RegistryInner {
                entries: Mutex::new(HashMap::new()),
                make: Box::new(make),
            }),
        }
    }

    /// A registry that creates one policy per name from `config`, all reporting to
    /// `events`.
    ///
    /// # Errors
    ///
    /// The [`ConfigError`] of `config`, checked once, here.
    ///
    /// # Examples
    ///
    /// ```
    /// use hale_resilience::{BreakerConfig, CircuitBreaker, Registry, ResilienceBus};
    ///
    /// let breakers: Registry<CircuitBreaker> =
    ///     Registry::from_config(BreakerConfig::default(), &ResilienceBus::new()).unwrap();
    /// assert_eq!(breakers.get("maps").name(), "maps");
    /// ```
    pub fn from_config<C>(config: C, events: &ResilienceBus) -> Result<Self, ConfigError>
    where
        C: PolicyConfig<Policy = P>,
    {
        config.validate_named("<registry template>")?;
        let events = events.clone();
        Ok(Self::new(move |name| {
            config.clone().build_valid(Arc::from(name), events.clone())
        }))
    }

    /// The instance for `name`, created from the registry's template on first use.
    ///
    /// # Examples
    ///
    /// ```
    /// use hale_resilience::{BulkheadConfig, Bulkhead, ResilienceBus};
    ///
    /// let pools = Bulkhead::registry(BulkheadConfig::default(), &ResilienceBus::new()).unwrap();
    /// let _slot = pools.get("db").try_acquire().unwrap();
    /// assert_eq!(pools.get("db").available(), 24);
    /// ```
    pub fn get(&self, name: &str) -> P {
        self.get_or_insert_with(name, |name| (self.inner.make)(name))
    }

    /// The instance for `name`, created with `make` if there is none yet. An existing
    /// instance is returned unchanged (its settings win).
    ///
    /// # Examples
    ///
    /// ```
    /// use hale_resilience::{BulkheadConfig, Bulkhead, ResilienceBus};
    ///
    /// let pools = Bulkhead::registry(BulkheadConfig::default(), &ResilienceBus::new()).unwrap();
    /// let gpu = pools.get_or_insert_with("gpu", |name| Bulkhead::builder(name).max_concurrent(2).build().unwrap());
    /// assert_eq!(gpu.available(), 2);
    /// ```
    pub fn get_or_insert_with<F>(&self, name: &str, make: F) -> P
    where
        F: FnOnce(&str) -> P,
    {
        let mut entries = lock(&self.inner.entries);
        if let Some(existing) = entries.get(name) {
            return existing.clone();
        }
        let created = make(name);
        entries.insert(Arc::from(name), created.clone());
        created
    }

    /// Like [`Registry::get_or_insert_with`] for constructors that validate settings.
    ///
    /// # Errors
    ///
    /// The error of `make`; nothing is inserted then.
    ///
    /// # Examples
    ///
    /// ```
    /// use hale_resilience::{BulkheadConfig, Bulkhead, ResilienceBus};
    ///
    /// let pools = Bulkhead::registry(BulkheadConfig::default(), &ResilienceBus::new()).unwrap();
    /// let none = pools.try_get_or_insert_with("gpu", |name| Bulkhead::builder(name).max_concurrent(0).build());
    /// assert!(none.is_err());
    /// assert!(pools.lookup("gpu").is_none());
    /// ```
    pub fn try_get_or_insert_with<F, Err>(&self, name: &str, make: F) -> Result<P, Err>
    where
        F: FnOnce(&str) -> Result<P, Err>,
    {
        let mut entries = lock(&self.inner.entries);
        if let Some(existing) = entries.get(name) {
            return Ok(existing.clone());
        }
        let created = make(name)?;
        entries.insert(Arc::from(name), created.clone());
        Ok(created)
    }

    /// The instance for `name` if one exists, without creating it.
    ///
    /// # Examples
    ///
    /// ```
    /// use hale_resilience::{BulkheadConfig, Bulkhead, ResilienceBus};
    ///
    /// let pools = Bulkhead::registry(BulkheadConfig::default(), &ResilienceBus::new()).unwrap();
    /// assert!(pools.lookup("db").is_none());
    /// pools.get("db");
    /// assert!(pools.lookup("db").is_some());
    /// ```
    pub fn lookup(&self, name: &str) -> Option<P> {
        lock(&self.inner.entries).get(name).cloned()
    }

    /// Names of every instance created so far, sorted.
    ///
    /// # Examples
    ///
    /// ```
    /// use hale_resilience::{BulkheadConfig, Bulkhead, ResilienceBus};
    ///
    /// let pools = Bulkhead::registry(BulkheadConfig::default(), &ResilienceBus::new()).unwrap();
    /// pools.get("search");
    /// pools.get("db");
    /// assert_eq!(pools.names(), vec!["db", "search"]);
    /// ```
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = lock(&self.inner.entries)
            .keys()
            .map(|name| name.to_string())
            .collect();
        names.sort();
        names
    }

    /// Every instance with its name, sorted by name (for snapshots and dashboards).
    ///
    /// # Examples
    ///
    /// ```
    /// use hale_resilience::{BulkheadConfig, Bulkhead, ResilienceBus};
    ///
    /// let pools = Bulkhead::registry(BulkheadConfig::default(), &ResilienceBus::new()).unwrap();
    /// pools.get("db");
    /// let free: Vec<(String, usize)> = pools.entries().into_iter().map(|(name, pool)| (name, pool.available())).collect();
    /// assert_eq!(free, vec![("db".to_string(), 25)]);
    /// ```
    pub fn entries(&self) -> Vec<(String, P)> {
        let mut entries: Vec<(String, P)> = lock(&self.inner.entries)
            .iter()
            .map(|(name, policy)| (name.to_string(), policy.clone()))
            .collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        entries
    }
}

impl<P> Clone for Registry<P> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<P> fmt::Debug for Registry<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<String> = lock(&self.inner.entries)
            .keys()
            .map(|name| name.to_string())
            .collect();
        f.debug_struct("Registry").field("names", &names).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_once_per_name_and_keeps_existing_settings() {
        let registry = Registry::new(|name: &str| Arc::new(name.len()));
        let first = registry.get("abc");
        let again = registry.get_or_insert_with("abc", |_| Arc::new(99));
        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!(*registry.get("de"), 2);
        assert_eq!(registry.names(), vec!["abc".to_string(), "de".to_string()]);
        assert!(registry.lookup("zz").is_none());
        let failed: Result<Arc<usize>, &str> = registry.try_get_or_insert_with("zz", |_| Err("bad"));
        assert_eq!(failed, Err("bad"));
        assert!(registry.lookup("zz").is_none());
    }
}
