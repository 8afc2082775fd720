//! The chaos soak: many items under a heavy fault mix, on a paused clock,
//! with the invariants checked: nothing lost, every hang found and killed,
//! the restart intensity respected, and the same seed giving the same event
//! log.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use hale::chaos::{
    ChaosReport, ChaosRun, FaultError, FaultKind, FaultPlan, FaultRule, Injected, Injector, Outcome,
    spawn_killer,
};
use hale::core::{ChildRef, HealingEventKind, RestartBackoff, Watch};
use hale::prelude::*;
use hale::resilience::{ErrorClass, Pipeline};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

const WORKERS: u64 = 4;
const INTENSITY: u32 = 40;
const PERIOD: Duration = Duration::from_secs(5);

#[derive(Debug)]
enum WorkError {
    Fault(FaultError),
    Down,
    Corrupt,
}

impl std::fmt::Display for WorkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

impl ErrorClass for WorkError {
    fn is_retryable(&self) -> bool {
        match self {
            Self::Fault(fault) => fault.retryable,
            Self::Down => true,
            Self::Corrupt => false,
        }
    }
}

struct Job {
    item: u64,
    attempt: u32,
    reply: RpcReplyPort<Result<u64, WorkError>>,
}

#[derive(Clone)]
struct Worker(Injector);

impl Actor for Worker {
    type Msg = Job;
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<Job>, _: ()) -> Result<(), ActorProcessingErr> {
        Ok(())
    }

    async fn handle(&self, _: ActorRef<Job>, job: Job, _: &mut ()) -> Result<(), ActorProcessingErr> {
        let item = job.item;
        let work = || async move {
            tokio::time::sleep(Duration::from_millis(5 + item % 20)).await;
            Ok::<_, WorkError>(item * 2)
        };
        let answer = self
            .0
            .inject("work", item, job.attempt, work, |_| u64::MAX)
            .await
            .map_err(|injected| match injected {
                Injected::Fault(fault) => WorkError::Fault(fault),
                Injected::Call(error) => error,
            })
            .and_then(|value| {
                if value == item * 2 {
                    Ok(value)
                } else {
                    Err(WorkError::Corrupt)
                }
            });
        let _ = job.reply.send(answer);
        Ok(())
    }
}

fn heavy_plan(seed: u64) -> FaultPlan {
    FaultPlan::new(seed)
        .rule(FaultRule::new("work", FaultKind::Panic, 0.03))
        .rule(FaultRule::new("work", FaultKind::Hang, 0.01).max_count(15))
        .rule(FaultRule::new("work", FaultKind::Error { retryable: true }, 0.12))
        .rule(FaultRule::new(
            "work",
            FaultKind::Error { retryable: false },
            0.01,
        ))
        .rule(FaultRule::new(
            "work",
            FaultKind::Slow {
                min_ms: 50,
                max_ms: 400,
            },
            0.05,
        ))
        .rule(FaultRule::new("work", FaultKind::Corrupt, 0.02))
        .kill_every(4_000, Some(25))
}

/// What the soak checks beyond the report.
struct Observed {
    report: ChaosReport,
    restart_decisions: Vec<tokio::time::Instant>,
    hung_detected: u64,
}

async fn soak(seed: u64, items: u64) -> Observed {
    let run = ChaosRun::new("soak", heavy_plan(seed));
    // Restart decisions, stamped on the (simulated) clock as they happen.
    let mut watch = run.healing_events().subscribe();
    let decisions = tokio::spawn(async move {
        let mut stamps = Vec::new();
        loop {
            let event = match watch.recv().await {
                Ok(event) => event,
                Err(hale::core::RecvError::Closed) => break,
                Err(lagged) => panic!("the soak's restart log is incomplete: {lagged}"),
            };
            if matches!(
                event.kind,
                HealingEventKind::ChildExited {
                    will_restart: true,
                    ..
                }
            ) {
                stamps.push(tokio::time::Instant::now());
            }
        }
        stamps
    });
    let workers = (0..WORKERS).map(|n| {
        ChildSpec::actor(format!("worker-{n}"), Worker(run.injector().clone()), ())
            .watch(Watch::per_message(Duration::from_millis(500)).grace(Duration::from_millis(50)))
            .backoff(RestartBackoff::new(Duration::from_millis(5), Duration::from_millis(200)).seed(seed))
    });
    let root = Supervisor::start(
        SupervisorSpec::new("root")
            .intensity(INTENSITY)
            .period(PERIOD)
            .events(run.healing_events())
            .children(workers),
    )
    .await
    .expect("the tree starts");
    let killer = spawn_killer(
        root.clone(),
        heavy_plan(seed).kills.expect("kills"),
        run.injector().clone(),
    );
    let mut refs: Vec<ChildRef<Job>> = Vec::new();
    for n in 0..WORKERS {
        refs.push(root.child_ref(&format!("worker-{n}")).await.expect("worker"));
    }
    let policy = Pipeline::builder("work")
        .events(run.resilience_events())
        .retry(|retry| {
            retry
                .maximum_attempts(6)
                .initial_interval(Duration::from_millis(20))
                .seed(seed)
        })
        .timeout(Duration::from_secs(1))
        .build()
        .expect("pipeline");
    for item in 0..items {
        run.ledger().submit(item);
        let worker = refs[(item % WORKERS) as usize].clone();
        let attempts = Arc::new(AtomicU32::new(0));
        let result = policy
            .call(|| {
                let worker = worker.clone();
                let attempt = attempts.fetch_add(1, Ordering::Relaxed);
                async move {
                    let (reply, answer) = tokio::sync::oneshot::channel();
                    let job = Job {
                        item,
                        attempt,
                        reply: reply.into(),
                    };
                    worker
                        .send_within(job, Duration::from_secs(5))
                        .await
                        .map_err(|_| WorkError::Down)?;
                    answer.await.map_err(|_| WorkError::Down)?
                }
            })
            .await;
        let outcome = if result.is_ok() {
            Outcome::Completed
        } else {
            Outcome::DeadLettered
        };
        run.ledger().settle(item, outcome);
    }
    killer.abort();
    let counts = root
        .watchdog_counts()
        .await
        .expect("root runs: intensity was never exceeded");
    root.stop(Duration::from_secs(30)).await;
    let report = run.finish().await;
    // The bus is gone with the run and the tree: the stream ends.
    drop(root);
    let restart_decisions = tokio::time::timeout(Duration::from_secs(60), decisions)
        .await
        .expect("every holder of the event bus is gone")
        .expect("the stamp collector ends");
    Observed {
        report,
        restart_decisions,
        hung_detected: counts.hung,
    }
}

#[tokio::test(start_paused = true)]
async fn a_heavy_fault_mix_loses_nothing_and_replays_exactly() {
    let bound = Duration::from_secs(24 * 3600); // simulated; real time is well under a second
    let first = tokio::time::timeout(bound, soak(11, 1_500))
        .await
        .expect("the soak ends");
    let report = &first.report;

    // Nothing lost, and the faults really were heavy.
    assert!(report.nothing_lost(), "{report}");
    assert_eq!(report.items.submitted, 1_500);
    assert!(report.faults.values().sum::<u64>() > 300, "{report}");
    assert!(report.restarts > 50, "{report}");
    assert!(
        report.items.dead_lettered > 0 && report.items.completed > 1_000,
        "{report}"
    );

    // Every injected hang was found by the watchdog and its agent replaced.
    let hangs = report.faults.get("hang").copied().unwrap_or(0);
    assert!(hangs > 0, "{report}");
    assert_eq!(first.hung_detected, hangs);
    assert_eq!(report.hung, hangs);

    // The intensity held: the root never gave up (it answered after the
    // run), and, counted independently from the events, no window of PERIOD
    // saw more than INTENSITY restart decisions.
    assert_eq!(report.escalations, 0, "{report}");
    let stamps = &first.restart_decisions;
    assert_eq!(
        stamps.len() as u64,
        report.restarts,
        "every decision led to a restart"
    );
    for (i, start) in stamps.iter().enumerate() {
        let in_window = stamps[i..].iter().take_while(|&&t| t - *start <= PERIOD).count();
        assert!(
            in_window <= INTENSITY as usize,
            "{in_window} restarts within {PERIOD:?}"
        );
    }

    // The same seed replays the same run; another seed does not.
    let again = tokio::time::timeout(bound, soak(11, 1_500))
        .await
        .expect("the soak ends");
    assert_eq!(again.report.event_hash, report.event_hash);
    assert_eq!(again.report.faults, report.faults);
    let other = tokio::time::timeout(bound, soak(12, 1_500))
        .await
        .expect("the soak ends");
    assert_ne!(other.report.event_hash, report.event_hash);
}
