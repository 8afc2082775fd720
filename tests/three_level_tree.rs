//! End to end through the facade: a three-level tree heals a crash at the
//! bottom, and escalates when the bottom fails too often.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use hale::prelude::*;

const WAIT: Duration = Duration::from_secs(30);

/// Fails its first `failures` runs, then runs quietly: the endpoint recovers.
fn flaky_agent(name: &'static str, failures: u32) -> ChildSpec {
    let runs = Arc::new(AtomicU32::new(0));
    ChildSpec::task(name, move |_ctx| {
        let run = runs.fetch_add(1, Ordering::SeqCst);
        async move {
            if run < failures {
                return Err("the model endpoint answered 503".into());
            }
            std::future::pending::<()>().await;
            Ok(())
        }
    })
}

fn idle_agent(name: &'static str) -> ChildSpec {
    ChildSpec::task(name, |_ctx| async {
        std::future::pending::<()>().await;
        Ok(())
    })
}

#[tokio::test(start_paused = true)]
async fn a_leaf_that_fails_past_its_intensity_escalates_and_its_subtree_is_restarted() {
    let root = Supervisor::start(
        SupervisorSpec::new("root")
            .intensity(10)
            .child(idle_agent("planner"))
            .child(ChildSpec::supervisor(
                SupervisorSpec::new("team")
                    .intensity(10)
                    .child(ChildSpec::supervisor(
                        SupervisorSpec::new("tools")
                            .intensity(2)
                            .child(idle_agent("search"))
                            // 3 failures: the third exceeds tools' intensity of 2.
                            .child(flaky_agent("browser", 3)),
                    )),
            )),
    )
    .await
    .unwrap();
    let mut events = root.subscribe();
    // tools gives up after 2 restarts of browser; team restarts tools.
    let gave_up = events
        .wait_for(WAIT, |e| {
            matches!(e.kind, HealingEventKind::IntensityExceeded { .. })
        })
        .await
        .expect("tools gives up");
    assert_eq!(gave_up.path.to_string(), "root/team/tools");
    let restarted = events
        .wait_for(WAIT, |e| {
            e.path.to_string() == "root/team/tools"
                && matches!(e.kind, HealingEventKind::ChildRestarted { .. })
        })
        .await
        .expect("team restarts tools");
    assert_eq!(restarted.kind, HealingEventKind::ChildRestarted { restarts: 1 });
    // The endpoint recovered: the new browser runs. The planner, outside
    // the failing subtree, was never touched.
    let tools = root
        .child_supervisor("team")
        .await
        .unwrap()
        .child_supervisor("tools")
        .await
        .unwrap();
    let browser = &tools.which_children().await.unwrap()[1];
    assert_eq!((browser.id.as_str(), browser.restarts), ("browser", 0));
    assert!(browser.actor.is_some());
    let planner = &root.which_children().await.unwrap()[0];
    assert_eq!((planner.id.as_str(), planner.restarts), ("planner", 0));
    assert_eq!(root.stop(WAIT).await, ExitReason::Normal);
}
