//! The store test suite, written once and run against every store: SQLite
//! always, Postgres when `HALE_TEST_POSTGRES_URL` names a server.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::sync::Arc;

use hale_durable::{
    ApprovalRecord, ApprovalStatus, AuditDraft, Budget, DeadLetter, StepKind, StepRecord, StepStatus, Store,
    StoreError, WorkflowRecord, WorkflowStatus, WriteOp,
};

/// Raw SQL on the store's database, to corrupt and tamper with it.
pub trait Raw: Send + Sync {
    fn exec(&self, sql: &str) -> impl Future<Output = ()> + Send;
}

pub fn workflow(id: &str, status: WorkflowStatus, finished_ms: Option<i64>) -> WorkflowRecord {
    WorkflowRecord {
        id: id.to_owned(),
        name: "suite".to_owned(),
        status,
        input: "{\"n\":1}".to_owned(),
        output: None,
        error: None,
        definition: vec!["a".into(), "b".into()],
        budget: Budget::unlimited().max_calls(9),
        run: 1,
        created_ms: 10,
        updated_ms: 10,
        finished_ms,
    }
}

pub fn step(id: &str, seq: i64, status: StepStatus) -> StepRecord {
    StepRecord {
        workflow_id: id.to_owned(),
        seq,
        name: format!("s{seq}"),
        kind: StepKind::Effect,
        status,
        input: Some("1".into()),
        output: (status == StepStatus::Done).then(|| format!("\"out{seq}\"")),
        error: None,
        key: Some(format!("{id}/{seq}")),
        cost: 2,
        attempts: 1,
        at_ms: 11,
    }
}

fn audit(id: &str, action: &str) -> WriteOp {
    WriteOp::Audit(AuditDraft {
        at_ms: 12,
        workflow_id: id.to_owned(),
        action: action.to_owned(),
        detail: "{}".to_owned(),
    })
}

pub async fn rows_round_trip_and_conditional_writes_conflict<S: Store>(store: &S) {
    let record = workflow("w1", WorkflowStatus::Running, None);
    store
        .apply(vec![WriteOp::InsertWorkflow(record.clone())])
        .await
        .unwrap();
    assert_eq!(store.workflow("w1").await.unwrap(), Some(record.clone()));
    assert!(matches!(
        store.apply(vec![WriteOp::InsertWorkflow(record.clone())]).await,
        Err(StoreError::Conflict(_))
    ));
    // An intent replaced by its result; one row per seq.
    store
        .apply(vec![WriteOp::PutStep(step("w1", 0, StepStatus::Intent))])
        .await
        .unwrap();
    store
        .apply(vec![WriteOp::PutStep(step("w1", 0, StepStatus::Done))])
        .await
        .unwrap();
    store
        .apply(vec![WriteOp::PutStep(step("w1", 1, StepStatus::Done))])
        .await
        .unwrap();
    let history = store.history("w1").await.unwrap().unwrap();
    assert_eq!(
        history.steps,
        [step("w1", 0, StepStatus::Done), step("w1", 1, StepStatus::Done)]
    );
    // A status change from the wrong status applies nothing of its list.
    let wrong = vec![
        WriteOp::PutStep(step("w1", 2, StepStatus::Done)),
        WriteOp::SetStatus {
            id: "w1".into(),
            from: vec![WorkflowStatus::Waiting],
            status: WorkflowStatus::Completed,
            output: None,
            error: None,
            at_ms: 20,
        },
    ];
    assert!(matches!(store.apply(wrong).await, Err(StoreError::Conflict(_))));
    assert_eq!(store.history("w1").await.unwrap().unwrap().steps.len(), 2);
    store
        .apply(vec![WriteOp::SetStatus {
            id: "w1".into(),
            from: vec![WorkflowStatus::Running, WorkflowStatus::Compensating],
            status: WorkflowStatus::Completed,
            output: Some("\"ok\"".into()),
            error: None,
            at_ms: 20,
        }])
        .await
        .unwrap();
    let done = store.workflow("w1").await.unwrap().unwrap();
    assert_eq!(
        (done.status, done.finished_ms, done.output.as_deref()),
        (WorkflowStatus::Completed, Some(20), Some("\"ok\""))
    );
    assert_eq!(
        store
            .workflows(WorkflowStatus::Completed, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(store.workflow("nope").await.unwrap().is_none());
    assert!(store.history("nope").await.unwrap().is_none());
}

pub async fn concurrent_writes_commit_together_and_each_stays_atomic<S: Store>(store: Arc<S>) {
    store
        .apply(vec![WriteOp::InsertWorkflow(workflow(
            "dup",
            WorkflowStatus::Running,
            None,
        ))])
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for index in 0..64i64 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let id = if index == 13 {
                "dup".to_owned()
            } else {
                format!("c{index}")
            };
            let ops = vec![
                WriteOp::InsertWorkflow(workflow(&id, WorkflowStatus::Running, None)),
                WriteOp::PutStep(step(&id, 0, StepStatus::Done)),
                audit(&id, "concurrent"),
            ];
            store.apply(ops).await
        }));
    }
    let mut conflicts = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => {}
            Err(StoreError::Conflict(_)) => conflicts += 1,
            Err(other) => panic!("{other}"),
        }
    }
    assert_eq!(conflicts, 1);
    let counts = store.counts().await.unwrap();
    assert_eq!((counts.workflows, counts.steps, counts.audit), (64, 63, 63));
    // The conflicting request's audit entry was rolled back with it: the
    // chain has no gap.
    let check = store.verify_audit().await.unwrap();
    assert!(check.is_intact(), "{check:?}");
    assert_eq!(check.entries, 63);
}

pub async fn the_audit_chain_detects_tampering<S: Store, R: Raw>(store: &S, raw: &R) {
    for action in ["one", "two", "three"] {
        store.apply(vec![audit("w", action)]).await.unwrap();
    }
    let check = store.verify_audit().await.unwrap();
    assert_eq!((check.entries, check.is_intact()), (3, true));
    let entries = store.audit(0, 10).await.unwrap();
    assert_eq!(entries[1].prev_hash, entries[0].hash);
    raw.exec("UPDATE hale_audit SET detail = '{\"forged\":true}' WHERE seq = 2")
        .await;
    let check = store.verify_audit().await.unwrap();
    assert_eq!(check.broken.map(|(seq, _)| seq), Some(2));
}

pub async fn corrupt_and_foreign_rows_are_typed_errors<S: Store, R: Raw>(store: &S, raw: &R) {
    store
        .apply(vec![WriteOp::InsertWorkflow(workflow(
            "bad",
            WorkflowStatus::Running,
            None,
        ))])
        .await
        .unwrap();
    raw.exec("UPDATE hale_workflows SET status = 'exploded' WHERE id = 'bad'")
        .await;
    assert!(matches!(
        store.workflow("bad").await,
        Err(StoreError::Corrupt {
            table: "hale_workflows",
            ..
        })
    ));
    raw.exec("UPDATE hale_workflows SET status = 'running', budget = 'not json' WHERE id = 'bad'")
        .await;
    assert!(matches!(
        store.history("bad").await,
        Err(StoreError::Corrupt { .. })
    ));
    raw.exec("UPDATE hale_workflows SET budget = '{}' WHERE id = 'bad'")
        .await;
    store
        .apply(vec![WriteOp::PutStep(step("bad", 0, StepStatus::Done))])
        .await
        .unwrap();
    raw.exec("UPDATE hale_steps SET kind = 'teleport' WHERE workflow_id = 'bad'")
        .await;
    assert!(matches!(
        store.history("bad").await,
        Err(StoreError::Corrupt {
            table: "hale_steps",
            ..
        })
    ));
}

pub async fn gates_and_dead_letters_are_listed_decided_and_replayed_once<S: Store>(store: &S) {
    store
        .apply(vec![WriteOp::InsertWorkflow(workflow(
            "g",
            WorkflowStatus::Waiting,
            None,
        ))])
        .await
        .unwrap();
    let gate = ApprovalRecord {
        workflow_id: "g".into(),
        seq: 1,
        gate: "pay".into(),
        request: "{}".into(),
        status: ApprovalStatus::Waiting,
        escalated: false,
        decided_by: None,
        note: None,
        requested_ms: 5,
        deadline_ms: Some(6),
        decided_ms: None,
    };
    store
        .apply(vec![WriteOp::PutApproval(gate.clone())])
        .await
        .unwrap();
    assert_eq!(
        store.waiting_approvals(10).await.unwrap(),
        std::slice::from_ref(&gate)
    );
    assert_eq!(store.waiting_counts().await.unwrap().approvals, 1);
    store
        .apply(vec![WriteOp::Escalate {
            id: "g".into(),
            seq: 1,
        }])
        .await
        .unwrap();
    assert!(matches!(
        store
            .apply(vec![WriteOp::Escalate {
                id: "g".into(),
                seq: 1
            }])
            .await,
        Err(StoreError::Conflict(_))
    ));
    let decide = || WriteOp::Decide {
        id: "g".into(),
        seq: 1,
        status: ApprovalStatus::Approved,
        by: "cfo".into(),
        note: "ok".into(),
        at_ms: 7,
    };
    store.apply(vec![decide()]).await.unwrap();
    assert!(matches!(
        store.apply(vec![decide()]).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(store.waiting_approvals(10).await.unwrap().is_empty());
    assert_eq!(store.waiting_counts().await.unwrap().approvals, 0);
    let decided = &store.history("g").await.unwrap().unwrap().approvals[0];
    assert_eq!(
        (decided.escalated, decided.decided_by.as_deref()),
        (true, Some("cfo"))
    );

    let letter = DeadLetter {
        id: 0,
        workflow_id: "g".into(),
        workflow_name: "suite".into(),
        input: "1".into(),
        error: "boom".into(),
        history: "{}".into(),
        at_ms: 8,
        replayed_ms: None,
        replayed_by: None,
    };
    store
        .apply(vec![WriteOp::AddDeadLetter(letter.clone())])
        .await
        .unwrap();
    store.apply(vec![WriteOp::AddDeadLetter(letter)]).await.unwrap();
    let letters = store.dead_letters(false, 10).await.unwrap();
    assert_eq!(letters.len(), 2);
    let first = letters[0].id;
    let replay = || WriteOp::MarkReplayed {
        dead_letter: first,
        by: "ops".into(),
        at_ms: 9,
    };
    store.apply(vec![replay()]).await.unwrap();
    assert!(matches!(
        store.apply(vec![replay()]).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.dead_letters(false, 10).await.unwrap().len(), 1);
    assert_eq!(store.dead_letters(true, 10).await.unwrap().len(), 2);
    let waiting = store.waiting_counts().await.unwrap();
    assert_eq!((waiting.dead_letters, waiting.approvals), (1, 0));
    assert_eq!(store.counts().await.unwrap().dead_letters, 2);
    assert_eq!(
        store
            .dead_letter(first)
            .await
            .unwrap()
            .unwrap()
            .replayed_by
            .as_deref(),
        Some("ops")
    );
}

pub async fn pruning_drops_old_finished_steps_only<S: Store>(store: &S) {
    let rows = [
        ("old-done", WorkflowStatus::Completed, Some(100)),
        ("new-done", WorkflowStatus::Completed, Some(900)),
        ("running", WorkflowStatus::Running, None),
    ];
    for (id, status, finished) in rows {
        store
            .apply(vec![
                WriteOp::InsertWorkflow(workflow(id, status, finished)),
                WriteOp::PutStep(step(id, 0, StepStatus::Done)),
                audit(id, "kept"),
            ])
            .await
            .unwrap();
    }
    let pruned = store
        .apply(vec![WriteOp::Prune {
            finished_before_ms: 500,
        }])
        .await
        .unwrap();
    assert_eq!(pruned, 1);
    assert!(store.history("old-done").await.unwrap().unwrap().steps.is_empty());
    assert_eq!(store.history("new-done").await.unwrap().unwrap().steps.len(), 1);
    assert_eq!(store.history("running").await.unwrap().unwrap().steps.len(), 1);
    let counts = store.counts().await.unwrap();
    assert_eq!((counts.workflows, counts.audit), (3, 3));
}
