//! First signs of life: a tree starts, a crash is healed, a stop is orderly.

mod support;

use hale_core::{ExitReason, HealingEventKind, Strategy, Supervisor, SupervisorSpec};
use support::{Cmd, Lab, expect_restart, ping, tell};

#[tokio::test(start_paused = true)]
async fn crashed_child_is_restarted_and_answers_again() {
    let lab = Lab::new();
    let sup = Supervisor::start(
        SupervisorSpec::new("root")
            .strategy(Strategy::OneForOne)
            .intensity(3)
            .child(lab.worker("a"))
            .child(lab.worker("b")),
    )
    .await
    .unwrap();
    let mut events = sup.subscribe();
    tell(&sup, "a", Cmd::Fail).await;
    let restarted = expect_restart(&mut events, "root/a").await;
    assert_eq!(restarted.kind, HealingEventKind::ChildRestarted { restarts: 1 });
    assert_eq!(ping(&sup, "a").await, "a");
    assert_eq!(lab.journal.entries(), ["start a", "start b", "start a"]);
    assert_eq!(sup.stop(support::WAIT).await, ExitReason::Normal);
    assert_eq!(
        lab.journal.entries(),
        ["start a", "start b", "start a", "stop b", "stop a"]
    );
}
