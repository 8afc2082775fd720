//! A workflow store with one dead letter and one approval gate.

use std::sync::Mutex;

use futures::future::BoxFuture;
use hale_ops::{
    AuditEntry, DeadLetter, DeadLetterSummary, Decision, PendingApproval, WorkflowCounts, WorkflowError,
    Workflows,
};

/// A store with one dead letter and one pending approval, that records
/// what is done to it.
#[derive(Default)]
pub struct FakeStore {
    pub replayed: Mutex<Vec<(String, String)>>,
    pub decided: Mutex<Vec<(String, Decision)>>,
    pub audit: Mutex<Vec<AuditEntry>>,
}

impl Workflows for FakeStore {
    fn dead_letters(&self) -> BoxFuture<'_, Result<Vec<DeadLetterSummary>, WorkflowError>> {
        Box::pin(async { Ok(vec![summary()]) })
    }
    fn dead_letter(&self, id: String) -> BoxFuture<'_, Result<DeadLetter, WorkflowError>> {
        Box::pin(async move {
            if id != "dl-1" {
                return Err(WorkflowError::NotFound(format!("no dead letter `{id}`")));
            }
            Ok(DeadLetter {
                summary: summary(),
                input: serde_json::json!({"doc": 7}),
                history: vec!["attempt 1: 503".into()],
            })
        })
    }
    fn replay(&self, id: String, by: String) -> BoxFuture<'_, Result<String, WorkflowError>> {
        Box::pin(async move {
            if id != "dl-1" {
                return Err(WorkflowError::NotFound(format!("no dead letter `{id}`")));
            }
            self.replayed.lock().unwrap().push((id, by));
            Ok("replayed as workflow doc-7/2".to_owned())
        })
    }
    fn pending_approvals(&self) -> BoxFuture<'_, Result<Vec<PendingApproval>, WorkflowError>> {
        Box::pin(async {
            Ok(vec![PendingApproval {
                id: "gate-1".into(),
                workflow: "invoice-9".into(),
                step: "pay".into(),
                summary: "pay 12,000 EUR".into(),
                requested_at_ms: 1,
                deadline_ms: None,
            }])
        })
    }
    fn decide(&self, id: String, decision: Decision) -> BoxFuture<'_, Result<(), WorkflowError>> {
        Box::pin(async move {
            if id != "gate-1" {
                return Err(WorkflowError::NotFound(format!("no approval `{id}`")));
            }
            let mut decided = self.decided.lock().unwrap();
            if !decided.is_empty() {
                return Err(WorkflowError::Conflict("gate-1 is already decided".into()));
            }
            decided.push((id, decision));
            Ok(())
        })
    }
    fn counts(&self) -> BoxFuture<'_, Result<WorkflowCounts, WorkflowError>> {
        Box::pin(async {
            Ok(WorkflowCounts {
                dead_letters: 1,
                pending_approvals: 1,
            })
        })
    }
    fn audit(&self, entry: AuditEntry) -> BoxFuture<'_, Result<(), WorkflowError>> {
        Box::pin(async move {
            self.audit.lock().unwrap().push(entry);
            Ok(())
        })
    }
}

fn summary() -> DeadLetterSummary {
    DeadLetterSummary {
        id: "dl-1".into(),
        workflow: "doc-7".into(),
        step: Some("extract".into()),
        error: "503".into(),
        attempts: 3,
        at_ms: 1,
    }
}
