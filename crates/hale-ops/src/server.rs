//! [`OpsServer`]: the router served on its own listener.

use std::net::SocketAddr;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::error::OpsError;

/// A running HTTP server for an [`Ops`](crate::Ops) router, made by
/// [`Ops::serve`](crate::Ops::serve). Dropping it stops the server (open
/// `/events` streams end with it).
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use hale_core::{Supervisor, SupervisorSpec};
/// let root = Supervisor::start(SupervisorSpec::new("root")).await?;
/// let server = hale_ops::Ops::builder(root.clone()).build()?.serve("127.0.0.1:0".parse()?).await?;
/// assert!(server.local_addr().ip().is_loopback());
/// server.shutdown().await;
/// # root.stop(std::time::Duration::from_secs(1)).await;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct OpsServer {
    address: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl OpsServer {
    pub(crate) async fn bind(address: SocketAddr, router: axum::Router) -> Result<Self, OpsError> {
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .map_err(|source| OpsError::Bind { address, source })?;
        let bound = listener
            .local_addr()
            .map_err(|source| OpsError::Bind { address, source })?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            if let Err(error) = axum::serve(listener, router)
                .with_graceful_shutdown(shutdown)
                .await
            {
                tracing::error!(target: "hale::ops", %error, "the ops server stopped");
            }
        });
        tracing::info!(target: "hale::ops", address = %bound, "serving the operator's surface");
        Ok(Self {
            address: bound,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The address it listens on (with the port the system chose for `:0`).
    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }

    /// Stops accepting connections and waits for the server to end. Open
    /// `/events` streams are ended rather than waited for.
    ///
    /// # Cancel safety
    /// Cancel safe: the server is told to stop at once; dropping the future
    /// only stops the waiting (and aborts the server task).
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            // Long-lived /events responses keep a graceful shutdown waiting:
            // give ordinary requests a moment, then end the rest.
            let mut task = task;
            if tokio::time::timeout(std::time::Duration::from_millis(500), &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
    }
}

impl Drop for OpsServer {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
