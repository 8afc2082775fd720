//! The store suite against SQLite, plus what only SQLite has: files that
//! are not stores, a schema from the future, synchronous FULL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod suite;

use std::path::PathBuf;
use std::sync::Arc;

use hale_durable::{SqliteOptions, SqliteStore, Store, StoreError, Synchronous};

struct RawFile(PathBuf);

impl suite::Raw for RawFile {
    async fn exec(&self, sql: &str) {
        let connection = rusqlite::Connection::open(&self.0).unwrap();
        connection.execute_batch(sql).unwrap();
    }
}

async fn fresh() -> (tempfile::TempDir, SqliteStore, RawFile) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("suite.db");
    let store = SqliteStore::open(&path).await.unwrap();
    (dir, store, RawFile(path))
}

#[tokio::test]
async fn rows_round_trip_and_conditional_writes_conflict() {
    let (_dir, store, _) = fresh().await;
    suite::rows_round_trip_and_conditional_writes_conflict(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_commit_together_and_each_stays_atomic() {
    let (_dir, store, _) = fresh().await;
    suite::concurrent_writes_commit_together_and_each_stays_atomic(Arc::new(store)).await;
}

#[tokio::test]
async fn the_audit_chain_detects_tampering() {
    let (_dir, store, raw) = fresh().await;
    suite::the_audit_chain_detects_tampering(&store, &raw).await;
}

#[tokio::test]
async fn corrupt_and_foreign_rows_are_typed_errors() {
    let (_dir, store, raw) = fresh().await;
    suite::corrupt_and_foreign_rows_are_typed_errors(&store, &raw).await;
}

#[tokio::test]
async fn gates_and_dead_letters_are_listed_decided_and_replayed_once() {
    let (_dir, store, _) = fresh().await;
    suite::gates_and_dead_letters_are_listed_decided_and_replayed_once(&store).await;
}

#[tokio::test]
async fn pruning_drops_old_finished_steps_only() {
    let (_dir, store, _) = fresh().await;
    suite::pruning_drops_old_finished_steps_only(&store).await;
}

#[tokio::test]
async fn a_foreign_database_or_a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let foreign = dir.path().join("foreign.db");
    rusqlite::Connection::open(&foreign)
        .unwrap()
        .execute_batch("CREATE TABLE hale_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL); INSERT INTO hale_meta VALUES ('store', 'someone-else');")
        .unwrap();
    assert!(matches!(
        SqliteStore::open(&foreign).await,
        Err(StoreError::Foreign(_))
    ));

    let newer = dir.path().join("newer.db");
    drop(SqliteStore::open(&newer).await.unwrap());
    rusqlite::Connection::open(&newer)
        .unwrap()
        .execute_batch("UPDATE hale_meta SET value = '99' WHERE key = 'schema_version'")
        .unwrap();
    assert!(matches!(
        SqliteStore::open(&newer).await,
        Err(StoreError::SchemaTooNew {
            found: 99,
            supported: 1
        })
    ));

    let garbage = dir.path().join("garbage.db");
    std::fs::write(&garbage, vec![0x5a; 8192]).unwrap();
    assert!(matches!(
        SqliteStore::open(&garbage).await,
        Err(StoreError::Backend(_))
    ));
}

#[tokio::test]
async fn a_reopened_store_keeps_its_rows_and_its_audit_chain() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("reopen.db");
    let options = SqliteOptions::default().synchronous(Synchronous::Full);
    {
        let store = SqliteStore::open_with(&path, options.clone()).await.unwrap();
        suite::pruning_drops_old_finished_steps_only(&store).await;
    }
    let store = SqliteStore::open_with(&path, options).await.unwrap();
    assert_eq!(store.counts().await.unwrap().workflows, 3);
    // The writer picks the chain up where it ended.
    store
        .apply(vec![hale_durable::WriteOp::Audit(hale_durable::AuditDraft {
            at_ms: 1,
            workflow_id: "x".into(),
            action: "after-reopen".into(),
            detail: "{}".into(),
        })])
        .await
        .unwrap();
    let check = store.verify_audit().await.unwrap();
    assert_eq!((check.entries, check.is_intact()), (4, true));
}

#[tokio::test]
async fn two_stores_on_one_file_append_to_one_audit_chain() {
    // An engine shut down while its writes were in flight and the engine
    // that replaces it (or two processes) share the file: each store's
    // appends must follow the other's, not collide on a cached tail.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.db");
    let first = SqliteStore::open(&path).await.unwrap();
    let second = SqliteStore::open(&path).await.unwrap();
    let append = |n: i64| {
        vec![hale_durable::WriteOp::Audit(hale_durable::AuditDraft {
            at_ms: n,
            workflow_id: format!("wf-{n}"),
            action: "step".into(),
            detail: "{}".into(),
        })]
    };
    for n in 0..20 {
        let store = if n % 3 == 0 { &first } else { &second };
        store.apply(append(n)).await.unwrap();
    }
    let check = second.verify_audit().await.unwrap();
    assert_eq!((check.entries, check.is_intact()), (20, true), "{check:?}");
}
