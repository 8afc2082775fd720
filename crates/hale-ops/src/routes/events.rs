//! `/events`: the event stream, server-sent.
//!
//! A client first gets a `snapshot` event (`{"missed": 0, "tree": ...}`),
//! then every `healing`, `resilience` and `audit` event as it happens. A
//! client that falls more than the event buffer behind loses the oldest
//! events; it is then sent a fresh `snapshot` with `missed` saying how many
//! it lost, so it can redraw from the truth instead of from a gap.

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use serde::Serialize;
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::RecvError;

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
    inner: Arc<Inner>,
    events: Receiver<Arc<OpsEvent>>,
    /// A snapshot is owed, after this many lost events.
    owed_snapshot: Option<u64>,
}

pub(super) async fn stream(
    State(inner): State<Arc<Inner>>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    // Subscribe before the snapshot, so nothing falls between the two.
    let client = Client {
        events: inner.feed.subscribe(),
        inner,
        owed_snapshot: Some(0),
    };
    let stream = futures::stream::unfold(client, |mut client| async move {
        let event = next_event(&mut client).await?;
        Some((Ok(event), client))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
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
