//! `/events`: the event stream, server-sent.
//!
//! A client first gets a `snapshot` event (`{"missed": 0, "tree": ...}`),
//! then every `healing`, `resilience` and `audit` event as it happens. A
//! client that falls more than the event buffer behind loses the oldest
//! events; it is then sent a fresh `snapshot` with `missed` saying how many
//! it lost, so it can redraw from the truth instead of from a gap.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use serde::Serialize;
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::RecvError;

use crate::error::ApiError;
use crate::feed::OpsEvent;
use crate::ops::Inner;
use crate::snapshot::TreeSnapshot;

/// The data of a `snapshot` event.
#[derive(Serialize)]
struct SnapshotMessage<'a> {
    /// Events this client lost before this snapshot (0 for the first).
    missed: u64,
    tree: &'a TreeSnapshot,
}

struct Client {
    _slot: Slot,
    inner: Arc<Inner>,
    events: Receiver<Arc<OpsEvent>>,
    /// A snapshot is owed, after this many lost events.
    owed_snapshot: Option<u64>,
}

/// One of the limited places for an open stream, given back on drop.
struct Slot(Arc<AtomicUsize>);

impl Slot {
    fn take(inner: &Inner) -> Option<Self> {
        let open = &inner.event_clients;
        open.fetch_update(Ordering::AcqRel, Ordering::Acquire, |now| {
            (now < inner.max_event_clients).then_some(now + 1)
        })
        .ok()
        .map(|_| Self(Arc::clone(open)))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

pub(super) async fn stream(
    State(inner): State<Arc<Inner>>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let slot = Slot::take(&inner).ok_or_else(|| {
        ApiError::Unavailable(format!(
            "{} event streams are open, the most this service allows; try again later",
            inner.max_event_clients
        ))
    })?;
    // Subscribe before the snapshot, so nothing falls between the two.
    let client = Client {
        _slot: slot,
        events: inner.feed.subscribe(),
        inner,
        owed_snapshot: Some(0),
    };
    let stream = futures::stream::unfold(client, |mut client| async move {
        let event = next_event(&mut client).await?;
        Some((Ok(event), client))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

async fn next_event(client: &mut Client) -> Option<Event> {
    loop {
        if let Some(missed) = client.owed_snapshot.take() {
            return Some(match client.inner.snapshot().await {
                Ok(tree) => json_event("snapshot", &SnapshotMessage { missed, tree: &tree }),
                Err(error) => Event::default().event("error").data(error.to_string()),
            });
        }
        match client.events.recv().await {
            Ok(event) => {
                return Some(match &*event {
                    OpsEvent::Healing(inner) => json_event("healing", inner),
                    OpsEvent::Resilience(inner) => json_event("resilience", inner),
                    OpsEvent::Audit(inner) => json_event("audit", inner),
                });
            }
            Err(RecvError::Lagged(missed)) => client.owed_snapshot = Some(missed),
            Err(RecvError::Closed) => return None,
        }
    }
}

fn json_event(name: &str, data: &impl Serialize) -> Event {
    match serde_json::to_string(data) {
        Ok(json) => Event::default().event(name).data(json),
        Err(error) => Event::default()
            .event("error")
            .data(format!("cannot encode a {name} event: {error}")),
    }
}
