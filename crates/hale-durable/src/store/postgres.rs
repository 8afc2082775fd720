//! [`PostgresStore`]: the store for state shared between processes and
//! machines.
//!
//! The schema and statements are the SQLite store's (see `sql`). Writes go
//! to one task owning the write connection, which commits every request
//! waiting in its queue in one transaction (group commit), each in its own
//! savepoint. Appending to the audit log takes a transaction-scoped
//! advisory lock, so writers in several processes still build one chain.
//! Reads use a few connections of their own.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{Mutex, mpsc, oneshot};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls, Statement};

use super::sql::{self, Expect, Param, RowSource, Stmt, query};
use super::{Store, StoreCounts, StoreFuture, WaitingCounts};
use crate::audit::{GENESIS_HASH, chain};
use crate::error::StoreError;
use crate::record::{
    ApprovalRecord, AuditEntry, DeadLetter, History, WorkflowRecord, WorkflowStatus, WriteOp,
};

/// The advisory lock key of the audit chain ("hale" in ASCII).
const AUDIT_LOCK: i64 = 0x6861_6c65;
/// The advisory lock key of migrations.
const MIGRATE_LOCK: i64 = 0x6861_6c66;

fn backend(error: tokio_postgres::Error) -> StoreError {
    StoreError::backend(error)
}

struct WriteRequest {
    ops: Vec<WriteOp>,
    reply: oneshot::Sender<Result<u64, StoreError>>,
}

/// The Postgres store. Cheap to clone; its writer task ends when the last
/// clone is dropped.
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), hale_durable::StoreError> {
/// use hale_durable::{PostgresStore, Store};
/// let store = PostgresStore::connect("host=/tmp/hale-pg user=postgres dbname=postgres").await?;
/// assert!(store.counts().await?.workflows >= 0);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct PostgresStore {
    inner: Arc<Inner>,
}

struct Inner {
    writer: mpsc::Sender<WriteRequest>,
    readers: Vec<Mutex<Reader>>,
    next_reader: AtomicUsize,
}

/// A read connection, and whether a snapshot transaction may have been
/// left open on it (a history read whose caller dropped it midway).
struct Reader {
    client: Client,
    in_transaction: bool,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("readers", &self.inner.readers.len())
            .finish_non_exhaustive()
    }
}

async fn open_client(config: &tokio_postgres::Config) -> Result<Client, StoreError> {
    let (client, connection) = config.connect(NoTls).await.map_err(backend)?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::warn!(target: "hale::durable", %error, "postgres connection ended");
        }
    });
    Ok(client)
}

impl PostgresStore {
    /// Connects to the server at `url` (a `postgresql://` URL or a
    /// `host=... user=... dbname=...` string; a `host` that is a directory
    /// is a unix socket), migrates the schema, and starts the writer with 4
    /// read connections. The writer's queue holds 4,096 requests; when it
    /// is full, writers wait for room. Plain connections only: use a unix socket or a
    /// loopback or otherwise trusted network.
    ///
    /// # Errors
    /// The URL does not parse, the server cannot be reached, the database
    /// is not a hale-durable store, or its schema is newer.
    ///
    /// # Cancel safety
    /// Dropped midway, its connections close; a migration is one
    /// transaction.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|error| StoreError::InvalidSetting(format!("postgres url: {error}")))?;
        let mut writer = open_client(&config).await?;
        migrate(&mut writer).await?;
        let mut readers = Vec::new();
        for _ in 0..4 {
            readers.push(Mutex::new(Reader {
                client: open_client(&config).await?,
                in_transaction: false,
            }));
        }
        let (sender, receiver) = mpsc::channel(4_096);
        tokio::spawn(write_loop(writer, receiver, 1_024));
        Ok(Self {
            inner: Arc::new(Inner {
                writer: sender,
                readers,
                next_reader: AtomicUsize::new(0),
            }),
        })
    }

    /// A read connection, out of any transaction a dropped read left open.
    async fn reader(&self) -> Result<tokio::sync::MutexGuard<'_, Reader>, StoreError> {
        let index = self.inner.next_reader.fetch_add(1, Ordering::Relaxed) % self.inner.readers.len().max(1);
        let mut reader = self.inner.readers[index].lock().await;
        if reader.in_transaction {
            reader.client.batch_execute("ROLLBACK").await.map_err(backend)?;
            reader.in_transaction = false;
        }
        Ok(reader)
    }
}

async fn migrate(client: &mut Client) -> Result<(), StoreError> {
    let transaction = client.transaction().await.map_err(backend)?;
    transaction
        .execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATE_LOCK])
        .await
        .map_err(backend)?;
    let has = |name: &'static str| {
        let transaction = &transaction;
        async move {
            let row = transaction
                .query_one("SELECT to_regclass($1) IS NOT NULL", &[&name])
                .await
                .map_err(backend)?;
            row.try_get::<_, bool>(0).map_err(backend)
        }
    };
    let version = if has("hale_meta").await? {
        let mark = transaction
            .query_opt("SELECT value FROM hale_meta WHERE key = 'store'", &[])
            .await
            .map_err(backend)?
            .map(|row| row.try_get::<_, String>(0))
            .transpose()
            .map_err(backend)?;
        if mark.as_deref() != Some(sql::STORE_MARK) {
            return Err(StoreError::Foreign("this postgres database".into()));
        }
        let text = transaction
            .query_opt("SELECT value FROM hale_meta WHERE key = 'schema_version'", &[])
            .await
            .map_err(backend)?
            .map(|row| row.try_get::<_, String>(0))
            .transpose()
            .map_err(backend)?
            .unwrap_or_default();
        text.parse::<i64>().map_err(|_| StoreError::Corrupt {
            table: "hale_meta",
            key: "schema_version".into(),
            detail: format!("`{text}` is not a version"),
        })?
    } else if has("hale_workflows").await? {
        return Err(StoreError::Foreign("this postgres database".into()));
    } else {
        0
    };
    if version > sql::SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            found: version,
            supported: sql::SCHEMA_VERSION,
        });
    }
    if version < sql::SCHEMA_VERSION {
        transaction
            .batch_execute("CREATE TABLE IF NOT EXISTS hale_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            .await
            .map_err(backend)?;
        transaction
            .execute(
                "INSERT INTO hale_meta (key, value) VALUES ('store', $1) ON CONFLICT (key) DO NOTHING",
                &[&sql::STORE_MARK],
            )
            .await
            .map_err(backend)?;
        for migration in &sql::MIGRATIONS[usize::try_from(version).unwrap_or(0)..] {
            for statement in *migration {
                transaction
                    .batch_execute(
                        &statement
                            .replace("{serial}", "BIGSERIAL PRIMARY KEY")
                            .replace("{without_rowid}", ""),
                    )
                    .await
                    .map_err(backend)?;
            }
        }
        transaction
            .execute(
                "INSERT INTO hale_meta (key, value) VALUES ('schema_version', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                &[&sql::SCHEMA_VERSION.to_string()],
            )
            .await
            .map_err(backend)?;
    }
    transaction.commit().await.map_err(backend)
}

fn boxed(params: &[Param]) -> Vec<Box<dyn ToSql + Sync + Send>> {
    params
        .iter()
        .map(|param| -> Box<dyn ToSql + Sync + Send> {
            match param {
                Param::Int(value) => Box::new(*value),
                Param::Text(value) => Box::new(value.clone()),
                Param::NullInt => Box::new(None::<i64>),
                Param::NullText => Box::new(None::<String>),
            }
        })
        .collect()
}

fn refs(params: &[Box<dyn ToSql + Sync + Send>]) -> Vec<&(dyn ToSql + Sync)> {
    params
        .iter()
        .map(|param| &**param as &(dyn ToSql + Sync))
        .collect()
}

/// The writer: its connection, prepared statements, and the audit tail of
/// the open transaction (read under the advisory lock when first needed).
struct Writer {
    client: Client,
    prepared: HashMap<&'static str, Statement>,
    tail: Option<(i64, String)>,
}

impl Writer {
    async fn execute(&mut self, sql: &'static str, params: &[Param]) -> Result<u64, StoreError> {
        let statement = match self.prepared.get(sql) {
            Some(statement) => statement.clone(),
            None => {
                let statement = self.client.prepare(sql).await.map_err(backend)?;
                self.prepared.insert(sql, statement.clone());
                statement
            }
        };
        let values = boxed(params);
        self.client
            .execute(&statement, &refs(&values))
            .await
            .map_err(backend)
    }

    async fn audit_tail(&mut self) -> Result<(i64, String), StoreError> {
        if let Some(tail) = &self.tail {
            return Ok(tail.clone());
        }
        self.client
            .execute("SELECT pg_advisory_xact_lock($1)", &[&AUDIT_LOCK])
            .await
            .map_err(backend)?;
        let rows = self.client.query(query::LAST_AUDIT, &[]).await.map_err(backend)?;
        let tail = match rows.first() {
            Some(row) => {
                let entry = sql::decode_audit(&PgRow {
                    row,
                    table: "hale_audit",
                })?;
                (entry.seq, entry.hash)
            }
            None => (0, GENESIS_HASH.to_owned()),
        };
        self.tail = Some(tail.clone());
        Ok(tail)
    }

    async fn run_ops(&mut self, ops: &[WriteOp], stmts: &mut Vec<Stmt>) -> Result<u64, StoreError> {
        let mut changed = 0;
        for op in ops {
            if let WriteOp::Audit(draft) = op {
                let (seq, hash) = self.audit_tail().await?;
                let entry = chain(draft, seq, &hash);
                let params: Vec<Param> = vec![
                    entry.seq.into(),
                    entry.at_ms.into(),
                    entry.workflow_id.as_str().into(),
                    entry.action.as_str().into(),
                    entry.detail.as_str().into(),
                    entry.prev_hash.as_str().into(),
                    entry.hash.as_str().into(),
                ];
                self.execute(query::INSERT_AUDIT, &params).await?;
                self.tail = Some((entry.seq, entry.hash));
                changed += 1;
                continue;
            }
            stmts.clear();
            sql::compile(op, stmts)?;
            for stmt in stmts.iter() {
                let rows = self.execute(stmt.sql, &stmt.params).await?;
                if let Expect::Some(conflict) = stmt.expect
                    && rows == 0
                {
                    return Err(StoreError::Conflict(conflict.to_owned()));
                }
                changed += rows;
            }
        }
        Ok(changed)
    }

    async fn commit(&mut self, batch: &[WriteRequest]) -> Vec<Result<u64, StoreError>> {
        let mut stmts = Vec::new();
        self.tail = None;
        if let Err(error) = self.client.batch_execute("BEGIN").await {
            let error = backend(error);
            return batch.iter().map(|_| Err(error.clone())).collect();
        }
        let mut results = Vec::with_capacity(batch.len());
        for request in batch {
            if let Err(error) = self.client.batch_execute("SAVEPOINT request").await {
                results.push(Err(backend(error)));
                continue;
            }
            let tail = self.tail.clone();
            let result = self.run_ops(&request.ops, &mut stmts).await;
            let end = if result.is_ok() {
                "RELEASE SAVEPOINT request"
            } else {
                self.tail = tail;
                "ROLLBACK TO SAVEPOINT request; RELEASE SAVEPOINT request"
            };
            if let Err(error) = self.client.batch_execute(end).await {
                results.push(Err(backend(error)));
                continue;
            }
            results.push(result);
        }
        if let Err(error) = self.client.batch_execute("COMMIT").await {
            let _ = self.client.batch_execute("ROLLBACK").await;
            let error = backend(error);
            return batch.iter().map(|_| Err(error.clone())).collect();
        }
        results
    }
}

async fn write_loop(client: Client, mut requests: mpsc::Receiver<WriteRequest>, max_batch: usize) {
    let mut writer = Writer {
        client,
        prepared: HashMap::new(),
        tail: None,
    };
    let mut batch = Vec::with_capacity(max_batch);
    while let Some(first) = requests.recv().await {
        batch.push(first);
        while batch.len() < max_batch {
            match requests.try_recv() {
                Ok(request) => batch.push(request),
                Err(_) => break,
            }
        }
        let results = writer.commit(&batch).await;
        for (request, result) in batch.drain(..).zip(results) {
            let _ = request.reply.send(result);
        }
    }
}

/// A Postgres row as a [`RowSource`].
struct PgRow<'a> {
    row: &'a tokio_postgres::Row,
    table: &'static str,
}

impl RowSource for PgRow<'_> {
    fn table(&self) -> &'static str {
        self.table
    }
    fn int(&self, index: usize) -> Result<i64, String> {
        self.row.try_get(index).map_err(|e| e.to_string())
    }
    fn text(&self, index: usize) -> Result<String, String> {
        self.row.try_get(index).map_err(|e| e.to_string())
    }
    fn opt_int(&self, index: usize) -> Result<Option<i64>, String> {
        self.row.try_get(index).map_err(|e| e.to_string())
    }
    fn opt_text(&self, index: usize) -> Result<Option<String>, String> {
        self.row.try_get(index).map_err(|e| e.to_string())
    }
}

async fn query_all<T>(
    client: &Client,
    sql: &str,
    params: &[Param],
    table: &'static str,
    decode: fn(&dyn RowSource) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let values = boxed(params);
    let rows = client.query(sql, &refs(&values)).await.map_err(backend)?;
    rows.iter().map(|row| decode(&PgRow { row, table })).collect()
}

fn limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

impl Store for PostgresStore {
    fn apply(&self, ops: Vec<WriteOp>) -> StoreFuture<'_, u64> {
        Box::pin(async move {
            let (reply, answer) = oneshot::channel();
            self.inner
                .writer
                .send(WriteRequest { ops, reply })
                .await
                .map_err(|_| StoreError::WriterGone)?;
            answer.await.map_err(|_| StoreError::WriterGone)?
        })
    }

    fn workflow<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<WorkflowRecord>> {
        Box::pin(async move {
            let reader = self.reader().await?;
            let client = &reader.client;
            let found = query_all(
                client,
                query::WORKFLOW,
                &[id.into()],
                "hale_workflows",
                sql::decode_workflow,
            )
            .await?;
            Ok(found.into_iter().next())
        })
    }

    fn history<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<History>> {
        Box::pin(async move {
            let mut reader = self.reader().await?;
            // One snapshot for the four reads.
            reader.in_transaction = true;
            reader
                .client
                .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                .await
                .map_err(backend)?;
            let result = read_history(&reader.client, id).await;
            reader.client.batch_execute("COMMIT").await.map_err(backend)?;
            reader.in_transaction = false;
            result
        })
    }

    fn workflows(&self, status: WorkflowStatus, max: usize) -> StoreFuture<'_, Vec<WorkflowRecord>> {
        Box::pin(async move {
            let reader = self.reader().await?;
            let client = &reader.client;
            let params = [status.as_str().into(), limit(max).into()];
            query_all(
                client,
                query::WORKFLOWS_BY_STATUS,
                &params,
                "hale_workflows",
                sql::decode_workflow,
            )
            .await
        })
    }

    fn waiting_approvals(&self, max: usize) -> StoreFuture<'_, Vec<ApprovalRecord>> {
        Box::pin(async move {
            let reader = self.reader().await?;
            let client = &reader.client;
            let params = [limit(max).into()];
            query_all(
                client,
                query::WAITING_APPROVALS,
                &params,
                "hale_approvals",
                sql::decode_approval,
            )
            .await
        })
    }

    fn dead_letters(&self, include_replayed: bool, max: usize) -> StoreFuture<'_, Vec<DeadLetter>> {
        Box::pin(async move {
            let reader = self.reader().await?;
            let client = &reader.client;
            let params = [i64::from(include_replayed).into(), limit(max).into()];
            query_all(
                client,
                query::DEAD_LETTERS,
                &params,
                "hale_dead_letters",
                sql::decode_dead_letter,
            )
            .await
        })
    }

    fn dead_letter(&self, id: i64) -> StoreFuture<'_, Option<DeadLetter>> {
        Box::pin(async move {
            let reader = self.reader().await?;
            let client = &reader.client;
            let found = query_all(
                client,
                query::DEAD_LETTER,
                &[id.into()],
                "hale_dead_letters",
                sql::decode_dead_letter,
            )
            .await?;
            Ok(found.into_iter().next())
        })
    }

    fn audit(&self, after_seq: i64, max: usize) -> StoreFuture<'_, Vec<AuditEntry>> {
        Box::pin(async move {
            let reader = self.reader().await?;
            let client = &reader.client;
            let params = [after_seq.into(), limit(max).into()];
            query_all(client, query::AUDIT, &params, "hale_audit", sql::decode_audit).await
        })
    }

    fn counts(&self) -> StoreFuture<'_, StoreCounts> {
        Box::pin(async move {
            let reader = self.reader().await?;
            let client = &reader.client;
            let row = client.query_one(query::COUNTS, &[]).await.map_err(backend)?;
            let get = |index| row.try_get::<_, i64>(index).map_err(backend);
            Ok(StoreCounts {
                workflows: get(0)?,
                steps: get(1)?,
                dead_letters: get(2)?,
                audit: get(3)?,
            })
        })
    }

    fn waiting_counts(&self) -> StoreFuture<'_, WaitingCounts> {
        Box::pin(async move {
            let reader = self.reader().await?;
            let client = &reader.client;
            let row = client
                .query_one(query::WAITING_COUNTS, &[])
                .await
                .map_err(backend)?;
            let get = |index| row.try_get::<_, i64>(index).map_err(backend);
            Ok(WaitingCounts {
                dead_letters: get(0)?,
                approvals: get(1)?,
            })
        })
    }
}

async fn read_history(client: &Client, id: &str) -> Result<Option<History>, StoreError> {
    let params = [Param::from(id)];
    let Some(workflow) = query_all(
        client,
        query::WORKFLOW,
        &params,
        "hale_workflows",
        sql::decode_workflow,
    )
    .await?
    .into_iter()
    .next() else {
        return Ok(None);
    };
    Ok(Some(History {
        workflow,
        steps: query_all(client, query::STEPS, &params, "hale_steps", sql::decode_step).await?,
        compensations: query_all(
            client,
            query::COMPENSATIONS,
            &params,
            "hale_compensations",
            sql::decode_compensation,
        )
        .await?,
        approvals: query_all(
            client,
            query::APPROVALS,
            &params,
            "hale_approvals",
            sql::decode_approval,
        )
        .await?,
    }))
}
