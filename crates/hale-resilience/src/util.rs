//! Small helpers shared by every policy.

use std::future::Future;

pub(crate) use hale_util::{lock, millis, unix_millis};

/// Turns an operation's own error into [`ResilienceError::Inner`] so it can pass through
/// policies that add errors of their own.
///
/// [`ResilienceError::Inner`]: crate::ResilienceError::Inner
pub(crate) async fn lift<T, E, Fut>(operation: Fut) -> Result<T, crate::ResilienceError<E>>
where
    Fut: Future<Output = Result<T, E>>,
{
    operation.await.map_err(crate::ResilienceError::Inner)
}

/// Defines `call` for a single-shot policy in terms of its `run`: the operation's own
/// error is lifted into [`ResilienceError::Inner`](crate::ResilienceError::Inner) first.
/// The doc comment written before the invocation becomes the method's.
macro_rules! call_via_run {
    ($(#[$doc:meta])*) => {
        $(#[$doc])*
        pub async fn call<T, E, F, Fut>(&self, operation: F) -> Result<T, $crate::ResilienceError<E>>
        where
            F: FnOnce() -> Fut,
            Fut: ::std::future::Future<Output = Result<T, E>>,
        {
            self.run(|| $crate::util::lift(operation())).await
        }
    };
}

pub(crate) use call_via_run;

/// A boxed, sendable future: lets alternatives of different concrete types sit in one
/// list (the fallback chain).
pub(crate) type BoxFuture<T> = std::pin::Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Defines `call` and `call_with` for a policy that classifies errors, in terms of its
/// `run_with`. `$operation` is the closure trait the policy needs (`FnMut` when it may
/// call the operation several times); an optional bound is added on the error type. The
/// doc comments written before `call;` and `call_with;` become the methods'.
macro_rules! classified_calls {
    (
        $operation:ident $(, $error_bound:path)?;
        $(#[$call_doc:meta])* call;
        $(#[$call_with_doc:meta])* call_with;
    ) => {
        $(#[$call_doc])*
        pub async fn call<T, E, F, Fut>(
            &self,
            operation: F,
        ) -> Result<T, $crate::ResilienceError<E>>
        where
            E: $crate::ErrorClass $(+ $error_bound)?,
            F: $operation() -> Fut,
            Fut: ::std::future::Future<Output = Result<T, E>>,
        {
            self.call_with(&$crate::ByErrorClass, operation).await
        }

        $(#[$call_with_doc])*
        pub async fn call_with<T, E, C, F, Fut>(
            &self,
            classifier: &C,
            #[allow(unused_mut)] mut operation: F,
        ) -> Result<T, $crate::ResilienceError<E>>
        where
            $(E: $error_bound,)?
            C: $crate::Classify<E> + ?Sized,
            F: $operation() -> Fut,
            Fut: ::std::future::Future<Output = Result<T, E>>,
        {
            self.run_with(classifier, || $crate::util::lift(operation())).await
        }
    };
}

pub(crate) use classified_calls;
