//! A task that ends with its owner.

use tokio::task::JoinHandle;

/// Aborts its task when dropped, so a helper task (notify listener, probe
/// loop, exit forwarder) never outlives the run it serves.
#[derive(Debug)]
pub(crate) struct AbortOnDrop(pub(crate) JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
