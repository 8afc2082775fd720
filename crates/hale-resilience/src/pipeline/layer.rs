//! A [`Pipeline`] as a `tower` layer: [`PipelineLayer`] and the service it makes.

use std::fmt::Display;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tower_layer::Layer;
use tower_service::Service;

use crate::classify::{ByErrorClass, Classify};
use crate::error::ResilienceError;
use crate::pipeline::Pipeline;

/// A [`Pipeline`] as a `tower` layer, for code that already composes
/// `tower::Service`s (HTTP clients, gRPC channels).
///
/// It wraps any service whose requests can be cloned (a retry sends
/// the same request again) and whose clones share a connection, as tower services
/// do. Every attempt takes its own clone of the service, waits for it to be ready,
/// and calls it; the pipeline's policies sit around that in their usual order. The
/// wrapped service's errors come back as [`ResilienceError::Inner`]; the policies'
/// own refusals and timeouts as the other variants.
///
/// `poll_ready` of the wrapped service always answers ready: admission (an open
/// breaker, a rate limit, a full bulkhead) is decided when the call runs, where it
/// can wait with a bound or be refused with a typed error, and the inner service's
/// readiness is awaited per attempt.
///
/// ```
/// use std::convert::Infallible;
/// use std::future::{Ready, ready};
/// use std::task::{Context, Poll};
/// use std::time::Duration;
/// use hale_resilience::{Pipeline, PipelineLayer, ResilienceError};
/// use tower_layer::Layer;
/// use tower_service::Service;
///
/// /// A service that answers with the length of its request.
/// #[derive(Clone)]
/// struct Length;
///
/// impl Service<String> for Length {
///     type Response = usize;
///     type Error = Infallible;
///     type Future = Ready<Result<usize, Infallible>>;
///     fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
///         Poll::Ready(Ok(()))
///     }
///     fn call(&mut self, request: String) -> Self::Future {
///         ready(Ok(request.len()))
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), ResilienceError<Infallible>> {
/// let pipeline = Pipeline::builder("length")
///     .timeout(Duration::from_secs(1))
///     .build()
///     .unwrap();
/// let mut service = PipelineLayer::new(pipeline).layer(Length);
/// std::future::poll_fn(|cx| service.poll_ready(cx)).await?;
/// assert_eq!(service.call("four".to_owned()).await?, 4);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct PipelineLayer<C = ByErrorClass> {
    pipeline: Pipeline,
    classifier: Arc<C>,
}

impl<C> Clone for PipelineLayer<C> {
    fn clone(&self) -> Self {
        Self {
            pipeline: self.pipeline.clone(),
            classifier: Arc::clone(&self.classifier),
        }
    }
}

impl PipelineLayer {
    /// A layer that classifies the service's errors through their
    /// [`ErrorClass`](crate::ErrorClass).
    ///
    /// # Examples
    ///
    /// ```
    /// use hale_resilience::{Pipeline, PipelineLayer};
    ///
    /// let layer = PipelineLayer::new(Pipeline::builder("http").build().unwrap());
    /// # let _ = layer;
    /// ```
    pub fn new(pipeline: Pipeline) -> Self {
        Self::with_classifier(pipeline, ByErrorClass)
    }
}

impl<C> PipelineLayer<C> {
    /// A layer that classifies the service's errors with `classifier`.
    ///
    /// # Examples
    ///
    /// ```
    /// use hale_resilience::{Classifier, Pipeline, PipelineLayer};
    ///
    /// let by_status = Classifier::<u16>::new().retry_if(|status| *status >= 500);
    /// let layer = PipelineLayer::with_classifier(Pipeline::builder("http").build().unwrap(), by_status);
    /// # let _ = layer;
    /// ```
    pub fn with_classifier(pipeline: Pipeline, classifier: C) -> Self {
        Self {
            pipeline,
            classifier: Arc::new(classifier),
        }
    }
}

impl<S, C> Layer<S> for PipelineLayer<C> {
    type Service = PipelineService<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        PipelineService {
            inner,
            layer: self.clone(),
        }
    }
}

/// A service wrapped in a [`Pipeline`], made by [`PipelineLayer`].
#[derive(Debug)]
pub struct PipelineService<S, C = ByErrorClass> {
    inner: S,
    layer: PipelineLayer<C>,
}

impl<S: Clone, C> Clone for PipelineService<S, C> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            layer: self.layer.clone(),
        }
    }
}

/// The future of a [`PipelineService`] call.
pub type PipelineFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, ResilienceError<E>>> + Send>>;

impl<S, C, Request> Service<Request> for PipelineService<S, C>
where
    S: Service<Request> + Clone + Send + 'static,
    S::Future: Send,
    S::Response: Send + 'static,
    S::Error: Display + Send + 'static,
    C: Classify<S::Error> + Send + Sync + 'static,
    Request: Clone + Send + 'static,
{
    type Response = S::Response;
    type Error = ResilienceError<S::Error>;
    type Future = PipelineFuture<S::Response, S::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Admission is decided in the call; the inner service is readied per attempt.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let inner = self.inner.clone();
        let layer = self.layer.clone();
        Box::pin(async move {
            let attempt = move || {
                let mut service = inner.clone();
                let request = request.clone();
                async move {
                    poll_fn(|cx| service.poll_ready(cx)).await?;
                    service.call(request).await
                }
            };
            layer.pipeline.call_with(&*layer.classifier, attempt).await
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    use super::*;
    use crate::{CircuitBreaker, Rejection};

    /// Fails its first `failures` calls, then echoes the request.
    #[derive(Clone)]
    struct Flaky {
        failures: u32,
        calls: Arc<AtomicU32>,
    }

    impl Service<&'static str> for Flaky {
        type Response = &'static str;
        type Error = String;
        type Future = std::future::Ready<Result<&'static str, String>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), String>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, request: &'static str) -> Self::Future {
            let call = self.calls.fetch_add(1, Ordering::SeqCst);
            std::future::ready(if call < self.failures {
                Err(format!("failure {call}"))
            } else {
                Ok(request)
            })
        }
    }

    fn flaky(failures: u32) -> (Flaky, Arc<AtomicU32>) {
        let calls = Arc::new(AtomicU32::new(0));
        let service = Flaky {
            failures,
            calls: Arc::clone(&calls),
        };
        (service, calls)
    }

    async fn send<S: Service<&'static str>>(
        service: &mut S,
        request: &'static str,
    ) -> Result<S::Response, S::Error> {
        poll_fn(|cx| service.poll_ready(cx)).await?;
        service.call(request).await
    }

    /// A `Flaky` failing `failures` times, under a pipeline of `attempts` retries.
    fn retried(attempts: u32, failures: u32) -> (PipelineService<Flaky>, Arc<AtomicU32>) {
        let pipeline = Pipeline::builder("svc")
            .retry(|retry| retry.maximum_attempts(attempts).seed(7))
            .build()
            .unwrap();
        let (inner, calls) = flaky(failures);
        (PipelineLayer::new(pipeline).layer(inner), calls)
    }

    #[tokio::test(start_paused = true)]
    async fn the_request_is_sent_again_on_each_retry() {
        let (mut service, calls) = retried(3, 2);
        assert_eq!(send(&mut service, "hello").await.unwrap(), "hello");
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn the_service_error_comes_back_once_attempts_run_out() {
        let (mut service, calls) = retried(2, 5);
        let error = send(&mut service, "hello").await.unwrap_err();
        assert_eq!(error.into_inner().as_deref(), Some("failure 1"));
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn an_open_breaker_refuses_without_calling_the_service() {
        let breaker = CircuitBreaker::builder("svc").build().unwrap();
        breaker.force_open();
        let pipeline = Pipeline::builder("svc").policy(breaker).build().unwrap();
        let (inner, calls) = flaky(0);
        let mut service = PipelineLayer::new(pipeline).layer(inner);
        let error = send(&mut service, "hello").await.unwrap_err();
        assert!(matches!(
            error.as_rejection(),
            Some(Rejection::CircuitOpen { .. })
        ));
        assert_eq!(calls.load(Ordering::SeqCst), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_service_is_cut_by_the_timeout() {
        #[derive(Clone)]
        struct Never;
        impl Service<()> for Never {
            type Response = ();
            type Error = String;
            type Future = std::future::Pending<Result<(), String>>;
            fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), String>> {
                Poll::Ready(Ok(()))
            }
            fn call(&mut self, _: ()) -> Self::Future {
                std::future::pending()
            }
        }
        let pipeline = Pipeline::builder("svc")
            .timeout(Duration::from_millis(50))
            .build()
            .unwrap();
        let mut service = PipelineLayer::new(pipeline).layer(Never);
        poll_fn(|cx| service.poll_ready(cx)).await.unwrap();
        let error = service.call(()).await.unwrap_err();
        assert!(error.is_timeout(), "{error:?}");
    }
}
