//! [`TemplateSupervisor`]: a dynamic supervisor paired with the template its
//! children come from.

use crate::dynamic::{ChildTemplate, DynamicStart, DynamicSupervisorRef};
use crate::error::ChildError;

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
    ///
    /// # Errors
    ///
    /// As [`DynamicSupervisorRef::start_child`].
    ///
    /// # Cancel safety
    ///
    /// As [`DynamicSupervisorRef::start_child`]: once polled, the child
    /// starts whether or not the caller waits.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use hale_core::{ChildSpec, ChildTemplate, DynamicSupervisor, DynamicSupervisorSpec, TemplateSupervisor};
    ///
    /// let jobs = DynamicSupervisor::start(DynamicSupervisorSpec::new("jobs")).await?;
    /// let template = ChildTemplate::new(|name: String| ChildSpec::task(name, |_| async {
    ///     std::future::pending::<()>().await;
    ///     Ok(())
    /// }));
    /// let pool = TemplateSupervisor::new(jobs.clone(), template);
    /// pool.start("crawl".to_owned()).await?;
    /// assert_eq!(jobs.count_children().await?.active, 1);
    /// # jobs.stop(std::time::Duration::from_secs(5)).await;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn start(&self, args: T) -> Result<DynamicStart, ChildError> {
        self.supervisor.start_child(self.template.spec(args)).await
    }

    /// Starts a unique child for `key` from the template with `args` (the
    /// spec is built, but nothing starts, if the key runs already).
    ///
    /// # Errors
    ///
    /// As [`DynamicSupervisorRef::start_unique`].
    ///
    /// # Cancel safety
    ///
    /// As [`DynamicSupervisorRef::start_unique`].
    pub async fn start_unique(&self, key: impl Into<String>, args: T) -> Result<DynamicStart, ChildError> {
        self.supervisor.start_unique(key, self.template.spec(args)).await
    }
}
