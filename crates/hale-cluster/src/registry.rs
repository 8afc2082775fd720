//! [`SpecRegistry`]: the child specs a node can host, by name.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use hale_core::ChildSpec;

type Factory = Arc<dyn Fn() -> ChildSpec + Send + Sync>;

/// The child specs a node can start for remote owners, by name. Register the
/// same names on every node that may host them: an owner sends the name, the
/// host builds the spec from its own registry (code never travels).
///
/// The host runs what the factory returns under its own supervisor, with
/// the restart type forced to temporary (the owner's supervisor decides
/// restarts) and an id of its own; the shutdown rule, watchdog settings and
/// start function are the factory's.
///
/// # Examples
///
/// ```
/// use hale_cluster::SpecRegistry;
/// use hale_core::ChildSpec;
///
/// let registry = SpecRegistry::new().register("sleeper", || {
///     ChildSpec::task("sleeper", |_ctx| async {
///         std::future::pending::<()>().await;
///         Ok(())
///     })
/// });
/// assert!(registry.contains("sleeper"));
/// ```
#[derive(Clone, Default)]
pub struct SpecRegistry {
    factories: HashMap<String, Factory>,
}

impl SpecRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `factory` under `name` (replacing any earlier one).
    pub fn register<F>(mut self, name: impl Into<String>, factory: F) -> Self
    where
        F: Fn() -> ChildSpec + Send + Sync + 'static,
    {
        self.factories.insert(name.into(), Arc::new(factory));
        self
    }

    /// Whether `name` is registered.
    pub fn contains(&self, name: &str) -> bool {
        self.factories.contains_key(name)
    }

    /// A fresh spec for `name`. A panicking factory counts as missing.
    pub(crate) fn build(&self, name: &str) -> Option<ChildSpec> {
        let factory = self.factories.get(name)?;
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| factory())).ok()
    }
}

impl fmt::Debug for SpecRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&String> = self.factories.keys().collect();
        names.sort();
        f.debug_struct("SpecRegistry").field("names", &names).finish()
    }
}
