//! The chaos row: how many messages a crash loses. A child is held in a
//! handler while a poison message and `QUEUED` more queue behind it; the
//! poison message then crashes it, and the messages its next incarnation
//! handles are counted. A fresh restart (OTP's way, Hale's default) loses
//! the mailbox; a restart in place loses nothing and dead-letters the
//! poison message.

use std::sync::Arc;
use std::time::Duration;

use hale_core::{ChildRef, ChildSpec, DeadLetterSink, HealingEventKind, Supervisor, SupervisorSpec};
use tokio::sync::Notify;

use crate::BenchResult;
use crate::child::{BenchChild, ChildMsg};
use crate::table::{HALE, OTP, Row, Verdict};

/// Messages queued behind the poison message in each round.
const QUEUED: u64 = 100;

/// What the rounds of one configuration lost and dead-lettered.
struct Losses {
    crashes: u64,
    lost: u64,
    dead_lettered: u64,
}

/// Runs `rounds` crashes of one child, restarted in place or not.
async fn losses(in_place: bool, rounds: u64) -> BenchResult<Losses> {
    let (sink, mut letters) = DeadLetterSink::<ChildMsg>::channel(usize::try_from(rounds)?);
    let mut spec = ChildSpec::actor("agent", BenchChild::silent(), ());
    if in_place {
        spec = spec.dead_letters(sink);
    }
    let root = Supervisor::start(SupervisorSpec::new("lost").intensity(u32::MAX).child(spec)).await?;
    let agent: ChildRef<ChildMsg> = root.child_ref("agent").await?;
    let mut events = root.subscribe();
    let mut lost = 0;
    for _ in 0..rounds {
        let actor = agent.current().ok_or("agent not running")?;
        let gate = Arc::new(Notify::new());
        actor.send_message(ChildMsg::Gate(Arc::clone(&gate)))?;
        actor.send_message(ChildMsg::Fail)?;
        for _ in 0..QUEUED {
            // A send to an incarnation that is gone loses the message too.
            let _ = actor.send_message(ChildMsg::Ping);
        }
        gate.notify_one();
        events
            .wait_for(Duration::from_secs(10), |e| {
                matches!(e.kind, HealingEventKind::ChildRestarted { .. })
            })
            .await
            .ok_or("no restart")?;
        // Published before its restart event.
        let now = agent.current().ok_or("agent not running after its restart")?;
        // The count is the new incarnation's: what reached it.
        let handled = now.call(ChildMsg::Count, None).await?.success_or("no count")?;
        lost += QUEUED - handled.min(QUEUED);
    }
    root.stop(Duration::from_secs(10)).await;
    let mut dead_lettered = 0;
    while letters.try_recv().is_ok() {
        dead_lettered += 1;
    }
    Ok(Losses {
        crashes: rounds,
        lost,
        dead_lettered,
    })
}

#[allow(clippy::cast_precision_loss)]
fn per_crash(count: u64, crashes: u64) -> f64 {
    count as f64 / crashes.max(1) as f64
}

/// The chaos row.
pub(crate) async fn rows(quick: bool) -> Vec<Row> {
    let rounds = if quick { 20 } else { 200 };
    let (fresh, in_place) = match (losses(false, rounds).await, losses(true, rounds).await) {
        (Ok(fresh), Ok(in_place)) => (fresh, in_place),
        (Err(error), _) | (_, Err(error)) => {
            eprintln!("  messages lost per crash: {error}");
            return Vec::new();
        }
    };
    eprintln!(
        "  lost per crash: fresh {:.1}, in place {:.1} ({} dead-lettered of {} crashes)",
        per_crash(fresh.lost, fresh.crashes),
        per_crash(in_place.lost, in_place.crashes),
        in_place.dead_lettered,
        in_place.crashes
    );
    let mut row = Row::new(format!(
        "chaos: messages lost per crash, {QUEUED} queued behind the poison message, {rounds} crashes"
    ));
    row.cells[HALE] = format!(
        "in place: {:.1} lost, {:.2} dead-lettered",
        per_crash(in_place.lost, in_place.crashes),
        per_crash(in_place.dead_lettered, in_place.crashes)
    );
    row.cells[OTP] = format!(
        "fresh spawn (Hale's default, OTP's way): {:.1} lost",
        per_crash(fresh.lost, fresh.crashes)
    );
    row.target = "0 lost, the poison message dead-lettered".to_owned();
    row.verdict = Verdict::from_bool(in_place.lost == 0 && in_place.dead_lettered == in_place.crashes);
    vec![row]
}
