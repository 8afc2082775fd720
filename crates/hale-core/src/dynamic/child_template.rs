//! [`ChildTemplate`]: a child spec made from per-child arguments, OTP's
//! `simple_one_for_one` start with extra arguments.

use std::fmt;
use std::sync::Arc;

use crate::spec::ChildSpec;

/// Makes a child spec from per-child arguments `T`.
///
/// # Examples
///
/// ```
/// use hale_core::{ChildSpec, ChildTemplate};
///
/// let crawler = ChildTemplate::new(|site: &'static str| ChildSpec::task(format!("crawl-{site}"), |_| async { Ok(()) }));
/// assert_eq!(crawler.spec("example.org").id(), "crawl-example.org");
/// ```
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
