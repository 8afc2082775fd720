//! The store suite against a real Postgres server, when
//! `HALE_TEST_POSTGRES_URL` names one (`.ci/postgres start` makes one);
//! each test gets a database of its own. Without the variable every test
//! prints one line and passes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod suite;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use hale_durable::{PostgresStore, StoreError};
use tokio_postgres::NoTls;

/// The server's URL, or `None` after saying why the test is skipped.
fn server() -> Option<String> {
    match std::env::var("HALE_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            println!("skipped: HALE_TEST_POSTGRES_URL is not set (run `.ci/postgres start` for a server)");
            None
        }
    }
}

/// `url` pointed at database `name`.
pub fn with_database(url: &str, name: &str) -> String {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
        let scheme_end = base.find("://").map_or(0, |i| i + 3);
        let host_end = base[scheme_end..]
            .find('/')
            .map_or(base.len(), |i| scheme_end + i);
        let mut out = format!("{}/{name}", &base[..host_end]);
        if let Some(query) = query {
            out.push('?');
            out.push_str(query);
        }
        out
    } else {
        format!("{url} dbname={name}")
    }
}

/// A fresh database on the server, and raw access to it.
struct Database {
    url: String,
    client: tokio_postgres::Client,
}

impl suite::Raw for Database {
    async fn exec(&self, sql: &str) {
        self.client.batch_execute(sql).await.unwrap();
    }
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.unwrap();
    tokio::spawn(connection);
    client
}

async fn fresh(base: &str) -> (PostgresStore, Database) {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "hale_test_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let admin = connect(base).await;
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
        .await
        .unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    let url = with_database(base, &name);
    let store = PostgresStore::connect(&url).await.unwrap();
    let client = connect(&url).await;
    (store, Database { url, client })
}

#[tokio::test]
async fn rows_round_trip_and_conditional_writes_conflict() {
    let Some(base) = server() else { return };
    let (store, _) = fresh(&base).await;
    suite::rows_round_trip_and_conditional_writes_conflict(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_commit_together_and_each_stays_atomic() {
    let Some(base) = server() else { return };
    let (store, _) = fresh(&base).await;
    suite::concurrent_writes_commit_together_and_each_stays_atomic(Arc::new(store)).await;
}

#[tokio::test]
async fn the_audit_chain_detects_tampering() {
    let Some(base) = server() else { return };
    let (store, raw) = fresh(&base).await;
    suite::the_audit_chain_detects_tampering(&store, &raw).await;
}

#[tokio::test]
async fn corrupt_and_foreign_rows_are_typed_errors() {
    let Some(base) = server() else { return };
    let (store, raw) = fresh(&base).await;
    suite::corrupt_and_foreign_rows_are_typed_errors(&store, &raw).await;
}

#[tokio::test]
async fn gates_and_dead_letters_are_listed_decided_and_replayed_once() {
    let Some(base) = server() else { return };
    let (store, _) = fresh(&base).await;
    suite::gates_and_dead_letters_are_listed_decided_and_replayed_once(&store).await;
}

#[tokio::test]
async fn pruning_drops_old_finished_steps_only() {
    let Some(base) = server() else { return };
    let (store, _) = fresh(&base).await;
    suite::pruning_drops_old_finished_steps_only(&store).await;
}

#[tokio::test]
async fn a_foreign_database_or_a_newer_schema_is_refused() {
    let Some(base) = server() else { return };
    let (store, raw) = fresh(&base).await;
    drop(store);
    raw.client
        .batch_execute("UPDATE hale_meta SET value = '99' WHERE key = 'schema_version'")
        .await
        .unwrap();
    assert!(matches!(
        PostgresStore::connect(&raw.url).await,
        Err(StoreError::SchemaTooNew {
            found: 99,
            supported: 1
        })
    ));
    raw.client
        .batch_execute("UPDATE hale_meta SET value = 'someone-else' WHERE key = 'store'")
        .await
        .unwrap();
    assert!(matches!(
        PostgresStore::connect(&raw.url).await,
        Err(StoreError::Foreign(_))
    ));
    assert!(matches!(
        PostgresStore::connect("this is not a url = =").await,
        Err(StoreError::InvalidSetting(_))
    ));
}

#[tokio::test]
async fn two_stores_on_one_database_build_one_audit_chain() {
    let Some(base) = server() else { return };
    let (first, raw) = fresh(&base).await;
    let second = PostgresStore::connect(&raw.url).await.unwrap();
    let mut tasks = Vec::new();
    for index in 0..40 {
        let store = if index % 2 == 0 {
            first.clone()
        } else {
            second.clone()
        };
        tasks.push(tokio::spawn(async move {
            use hale_durable::Store;
            store
                .apply(vec![hale_durable::WriteOp::Audit(hale_durable::AuditDraft {
                    at_ms: index,
                    workflow_id: format!("w{index}"),
                    action: "both".into(),
                    detail: "{}".into(),
                })])
                .await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    use hale_durable::Store;
    let check = first.verify_audit().await.unwrap();
    assert_eq!((check.entries, check.is_intact()), (40, true));
}
