//! A small tree to point the surface at, and helpers to talk to it.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod store;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use hale_core::{ChildSpec, Heartbeat, Restart, Supervisor, SupervisorRef, SupervisorSpec};
use hale_ops::{AdminToken, Ops, OpsBuilder, OpsEvent};
use http_body_util::BodyExt;
use tokio::sync::{Notify, broadcast};
use tower::ServiceExt;

pub const SECRET: &str = "test-secret-0123456789";

/// The test tree:
///
/// ```text
/// root (one_for_one, 3 in 5 s)
/// ├── steady          never exits
/// ├── flaky           crashes each time `crash` is notified
/// ├── shy             declares itself not ready until `ready` is set
/// ├── once            temporary
/// └── pipeline (one_for_one)
///     └── extract     never exits
/// ```
pub struct TestTree {
    pub root: SupervisorRef,
    pub crash: Arc<Notify>,
    pub shy: Heartbeat,
}

/// An actor that does nothing until it is stopped, then takes `linger` to
/// finish stopping.
#[derive(Clone, Copy)]
pub struct Idle {
    pub linger: Duration,
}

impl ractor::Actor for Idle {
    type Msg = ();
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, _: ractor::ActorRef<()>, _: ()) -> Result<(), ractor::ActorProcessingErr> {
        Ok(())
    }

    async fn post_stop(&self, _: ractor::ActorRef<()>, _: &mut ()) -> Result<(), ractor::ActorProcessingErr> {
        tokio::time::sleep(self.linger).await;
        Ok(())
    }
}

/// A child that never exits by itself and stops at once when asked.
pub fn forever(id: &'static str) -> ChildSpec {
    ChildSpec::actor(
        id,
        Idle {
            linger: Duration::ZERO,
        },
        (),
    )
}

impl TestTree {
    pub async fn start() -> Self {
        let crash = Arc::new(Notify::new());
        let shy_slot: Arc<std::sync::Mutex<Option<Heartbeat>>> = Arc::default();
        let flaky = {
            let crash = Arc::clone(&crash);
            ChildSpec::task("flaky", move |_ctx| {
                let crash = Arc::clone(&crash);
                async move {
                    crash.notified().await;
                    Err("boom: the flaky agent crashed".into())
                }
            })
        };
        let shy = {
            let slot = Arc::clone(&shy_slot);
            ChildSpec::task("shy", move |ctx| {
                let slot = Arc::clone(&slot);
                async move {
                    let heartbeat = ctx.heartbeat();
                    heartbeat.set_ready(false);
                    *slot.lock().unwrap() = Some(heartbeat);
                    std::future::pending::<()>().await;
                    Ok(())
                }
            })
        };
        let root = Supervisor::start(
            SupervisorSpec::new("root")
                .intensity(3)
                .period(Duration::from_secs(5))
                .child(forever("steady"))
                .child(flaky)
                .child(shy)
                .child(forever("once").restart(Restart::Temporary))
                .child(ChildSpec::supervisor(
                    SupervisorSpec::new("pipeline").child(forever("extract")),
                )),
        )
        .await
        .expect("the test tree starts");
        // The shy task publishes its heartbeat as it starts running.
        let shy = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                if let Some(beat) = shy_slot.lock().unwrap().clone() {
                    return beat;
                }
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("the shy child starts");
        Self { root, crash, shy }
    }

    pub fn ops(&self) -> OpsBuilder {
        Ops::builder(self.root.clone()).admin_token(AdminToken::new("alice", SECRET))
    }

    pub async fn stop(self) {
        self.root.stop(Duration::from_secs(5)).await;
    }
}

/// Waits (bounded) for the surface to pass on a healing event that
/// satisfies `wanted`.
pub async fn wait_for_healing(
    events: &mut broadcast::Receiver<Arc<OpsEvent>>,
    wanted: impl Fn(&hale_core::HealingEvent) -> bool,
) -> hale_core::HealingEvent {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match events.recv().await {
                Ok(event) => {
                    if let OpsEvent::Healing(healing) = &*event
                        && wanted(healing)
                    {
                        return healing.clone();
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => panic!("the event stream closed"),
            }
        }
    })
    .await
    .expect("the event arrives within 10 s")
}

/// One request to the router; the status and the body as text.
pub async fn send(router: &axum::Router, request: Request<Body>) -> (StatusCode, String) {
    let response = router.clone().oneshot(request).await.expect("the router answers");
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("the body reads")
        .to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

pub fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

pub fn post(uri: &str, token: Option<&str>, body: &str) -> Request<Body> {
    let mut request = Request::post(uri).header("content-type", "application/json");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    request.body(Body::from(body.to_owned())).unwrap()
}
