//! Group stops with brutal-kill siblings: killed together, while children
//! with a shutdown timeout keep OTP's one-at-a-time, reverse-order stop.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hale_core::{
    ChildSpec, HealingEventKind, Shutdown, StartOutcome, StopCause, StopOutcome, Strategy, SupervisorSpec,
};
use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef, ActorStatus};
use support::{Journal, WAIT, events_through, start};

/// Every sibling's current actor, by name.
type Cells = Arc<Mutex<HashMap<String, ActorCell>>>;

/// A child that registers its actor and, when it is asked to stop, journals
/// which of its siblings are still alive.
#[derive(Clone)]
struct Observer {
    name: String,
    cells: Cells,
    journal: Journal,
}

impl Actor for Observer {
    type Msg = ();
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, myself: ActorRef<()>, _: ()) -> Result<(), ActorProcessingErr> {
        self.cells
            .lock()
            .unwrap()
            .insert(self.name.clone(), myself.get_cell());
        Ok(())
    }

    async fn handle(&self, _: ActorRef<()>, _: (), _: &mut ()) -> Result<(), ActorProcessingErr> {
        Err(format!("{} failed", self.name).into())
    }

    async fn post_stop(&self, _: ActorRef<()>, _: &mut ()) -> Result<(), ActorProcessingErr> {
        // Give killed siblings every chance to be seen dead too early.
        tokio::time::sleep(Duration::from_millis(10)).await;
        let mut alive: Vec<String> = self
            .cells
            .lock()
            .unwrap()
            .iter()
            .filter(|(name, cell)| *name != &self.name && cell.get_status() != ActorStatus::Stopped)
            .map(|(name, _)| name.clone())
            .collect();
        alive.sort();
        self.journal
            .write(format!("stop {} sees {}", self.name, alive.join(",")));
        Ok(())
    }
}

fn observer(name: &str, shutdown: Shutdown, cells: &Cells, journal: &Journal) -> ChildSpec {
    let actor = Observer {
        name: name.to_owned(),
        cells: Arc::clone(cells),
        journal: journal.clone(),
    };
    ChildSpec::new(name, move |ctx| {
        let actor = actor.clone();
        async move {
            let (child, _) = Actor::spawn_linked(None, actor, (), ctx.supervisor().clone()).await?;
            Ok(StartOutcome::Started(child.get_cell()))
        }
    })
    .shutdown(shutdown)
}

#[tokio::test(start_paused = true)]
async fn a_mixed_group_stops_timeout_children_in_reverse_order_and_kills_brutal_ones_between() {
    let cells = Cells::default();
    let journal = Journal::new();
    let timeout = Shutdown::Timeout(Duration::from_secs(1));
    let spec = SupervisorSpec::new("root")
        .strategy(Strategy::OneForAll)
        .intensity(5)
        .child(observer("a", timeout, &cells, &journal))
        .child(observer("b", Shutdown::BrutalKill, &cells, &journal))
        .child(observer("c", Shutdown::BrutalKill, &cells, &journal))
        .child(observer("d", timeout, &cells, &journal))
        .child(observer("e", Shutdown::BrutalKill, &cells, &journal))
        .child(observer("f", Shutdown::BrutalKill, &cells, &journal));
    let sup = start(spec).await;
    let mut events = sup.subscribe();
    let f = cells.lock().unwrap()["f"].clone();
    f.send_message::<()>(()).unwrap();
    let seen = events_through(&mut events, |e| {
        e.path.to_string() == "root/f" && matches!(e.kind, HealingEventKind::ChildRestarted { .. })
    })
    .await;
    let stops: Vec<(String, StopOutcome)> = seen
        .iter()
        .filter_map(|(path, kind)| match kind {
            HealingEventKind::ChildStopped {
                cause: StopCause::GroupRestart,
                outcome,
            } => Some((path.clone(), *outcome)),
            _ => None,
        })
        .collect();
    assert_eq!(
        stops,
        [
            ("root/e".to_owned(), StopOutcome::Killed),
            ("root/d".to_owned(), StopOutcome::Exited),
            ("root/c".to_owned(), StopOutcome::Killed),
            ("root/b".to_owned(), StopOutcome::Killed),
            ("root/a".to_owned(), StopOutcome::Exited),
        ],
        "stops are reported in reverse start order"
    );
    // f failed (ractor runs no post_stop after a failure). d stops after
    // every later sibling is dead and before any earlier one dies; a after
    // every other.
    assert_eq!(
        tokio::time::timeout(WAIT, journal.wait_len(2)).await.unwrap(),
        ["stop d sees a,b,c", "stop a sees "]
    );
    sup.stop(Duration::from_secs(5)).await;
}
