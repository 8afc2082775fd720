//! Typed templates: OTP's `simple_one_for_one` start with extra arguments.

use std::fmt;
use std::sync::Arc;

use crate::dynamic::{DynamicStart, DynamicSupervisorRef};
use crate::error::ChildError;
use crate::spec::ChildSpec;

/// Makes a child spec from per-child arguments `T`.
pub struct ChildTemplate<T> {
    make: Arc<dyn Fn(T) -> ChildSpec + Send + Sync>,
}

impl<T> Clone for ChildTemplate<T> {
    fn clone(&self) -> Self {
        Self {
            make: Arc::clone(&self.make),
        }
    }
}

impl<T> fmt::Debug for ChildTemplate<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildTemplate").finish_non_exhaustive()
    }
}

impl<T> ChildTemplate<T> {
    /// A template that builds each child's spec with `make`.
    pub fn new(make: impl Fn(T) -> ChildSpec + Send + Sync + 'static) -> Self {
        Self { make: Arc::new(make) }
    }

    /// The spec for one child.
    pub fn spec(&self, args: T) -> ChildSpec {
        (self.make)(args)
    }
}

/// A dynamic supervisor paired with the template its children come from.
#[derive(Clone, Debug)]
pub struct TemplateSupervisor<T> {
    supervisor: DynamicSupervisorRef,
    template: ChildTemplate<T>,
}

impl<T> TemplateSupervisor<T> {
    /// Pairs `supervisor` with `template`.
    pub fn new(supervisor: DynamicSupervisorRef, template: ChildTemplate<T>) -> Self {
        Self { supervisor, template }
    }

    /// The dynamic supervisor.
    pub fn supervisor(&self) -> &DynamicSupervisorRef {
        &self.supervisor
    }

    /// Starts a child from the template with `args`.
    pub async fn start(&self, args: T) -> Result<DynamicStart, ChildError> {
        self.supervisor.start_child(self.template.spec(args)).await
    }

    /// Starts a unique child for `key` from the template with `args` (the
    /// spec is built, but nothing starts, if the key runs already).
    pub async fn start_unique(&self, key: impl Into<String>, args: T) -> Result<DynamicStart, ChildError> {
        self.supervisor.start_unique(key, self.template.spec(args)).await
    }
}
