//! A real durable engine on a SQLite file, with a workflow that can be
//! dead-lettered and one that stops at an approval gate.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hale_durable::{
    Durable, DurableEventKind, DurableEvents, RunError, SqliteStore, StepError, Workflow, WorkflowContext,
    WorkflowError, WorkflowStatus,
};

/// A document: fetched, then extracted; extraction fails for good while the
/// extractor is down.
pub struct Document {
    pub extractor_down: Arc<AtomicBool>,
}

impl Workflow for Document {
    type Input = u32;
    type Output = String;
    const NAME: &'static str = "document";
    const STEPS: &'static [&'static str] = &["fetch", "extract"];

    async fn run(&self, ctx: &mut WorkflowContext, doc: u32) -> Result<String, WorkflowError> {
        let text: String = ctx
            .step("fetch")
            .run(doc, |doc, _| async move {
                Ok::<_, StepError>(format!("text of doc {doc}"))
            })
            .await?;
        let down = Arc::clone(&self.extractor_down);
        ctx.step("extract")
            .run(text, move |text, _| {
                let down = down.load(Ordering::SeqCst);
                async move {
                    if down {
                        Err(StepError::permanent("extractor down: 503"))
                    } else {
                        Ok(text.to_uppercase())
                    }
                }
            })
            .await
    }
}

/// An invoice: checked, then paid only once a person approves.
pub struct Invoice;

impl Workflow for Invoice {
    type Input = u64;
    type Output = u64;
    const NAME: &'static str = "invoice";
    const STEPS: &'static [&'static str] = &["check", "approve", "pay"];

    async fn run(&self, ctx: &mut WorkflowContext, cents: u64) -> Result<u64, WorkflowError> {
        let cents: u64 = ctx
            .step("check")
            .run(cents, |cents, _| async move { Ok::<_, StepError>(cents) })
            .await?;
        ctx.gate("approve")
            .ask(&format!("pay {} EUR", cents / 100))
            .await?
            .require_approved("approve")?;
        ctx.step("pay")
            .run(cents, |cents, _| async move { Ok::<_, StepError>(cents) })
            .await
    }
}

/// The engine, its file, and the switch that fails documents.
pub struct DurableLab {
    pub durable: Durable,
    pub extractor_down: Arc<AtomicBool>,
    _dir: tempfile::TempDir,
}

/// How long a workflow may take to get where a test waits for it.
const WAIT: Duration = Duration::from_secs(20);

impl DurableLab {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("ops.db")).await.unwrap();
        let extractor_down = Arc::new(AtomicBool::new(false));
        let durable = Durable::builder(store)
            .register(Document {
                extractor_down: Arc::clone(&extractor_down),
            })
            .register(Invoice)
            .build()
            .await
            .unwrap();
        Self {
            durable,
            extractor_down,
            _dir: dir,
        }
    }

    /// Runs document `id` while the extractor is down: it ends dead-lettered.
    pub async fn dead_letter(&self, id: &str, doc: u32) {
        self.extractor_down.store(true, Ordering::SeqCst);
        let mut run = self.durable.start::<Document>(id, doc).await.unwrap();
        let ended = tokio::time::timeout(WAIT, run.result())
            .await
            .expect("the document ends");
        assert!(
            matches!(
                ended,
                Err(RunError::Ended {
                    status: WorkflowStatus::Failed,
                    ..
                })
            ),
            "{ended:?}"
        );
        self.extractor_down.store(false, Ordering::SeqCst);
    }

    /// Starts invoice `id` and returns once it waits at its gate.
    pub async fn waiting_invoice(&self, id: &str, cents: u64) {
        let mut events = self.durable.subscribe();
        self.durable.start::<Invoice>(id, cents).await.unwrap();
        wait_for(&mut events, id, |kind| {
            matches!(kind, DurableEventKind::ApprovalRequested { .. })
        })
        .await;
    }

    /// The result of workflow `id`, once it has one.
    pub async fn result<O: serde::de::DeserializeOwned>(&self, id: &str) -> Result<O, RunError> {
        let mut run = self.durable.handle::<O>(id).await.unwrap();
        tokio::time::timeout(WAIT, run.result())
            .await
            .expect("the workflow ends")
    }

    /// The audit log, oldest first.
    pub async fn audit(&self) -> Vec<hale_durable::AuditEntry> {
        self.durable.store().audit(0, 10_000).await.unwrap()
    }
}

/// Waits (bounded) for an event of workflow `id` that satisfies `wanted`.
pub async fn wait_for(events: &mut DurableEvents, id: &str, wanted: impl Fn(&DurableEventKind) -> bool) {
    tokio::time::timeout(WAIT, async {
        loop {
            match events.recv().await {
                Ok(event) if event.workflow_id == id && wanted(&event.kind) => return,
                Ok(_) | Err(hale_durable::EventsError::Lagged(_)) => {}
                Err(hale_durable::EventsError::Closed) => panic!("the durable engine is gone"),
            }
        }
    })
    .await
    .expect("the durable event arrives");
}
