//! [`SqliteStore`]: the embedded store.
//!
//! One file, WAL mode. Writes go to one writer thread that owns the only
//! write connection: it takes every request waiting in its queue and
//! commits them in one transaction (group commit), each request inside its
//! own savepoint so one conflicting request never undoes another's. Reads
//! run on their own connections, on tokio's blocking pool, and never wait
//! for the writer (WAL readers see the last commit).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, params_from_iter};
use tokio::sync::{mpsc, oneshot};

use super::sql::{self, Expect, Param, RowSource, Stmt, query};
use super::{Store, StoreCounts, StoreFuture, WaitingCounts};
use crate::audit::{GENESIS_HASH, chain};
use crate::error::StoreError;
use crate::record::{
    ApprovalRecord, AuditEntry, DeadLetter, History, WorkflowRecord, WorkflowStatus, WriteOp,
};

/// SQLite's `synchronous` setting for the store's commits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Synchronous {
    /// `NORMAL` (the default): in WAL mode a commit survives the process
    /// being killed; a power loss or OS crash may lose the last commits
    /// (never corrupt the file).
    #[default]
    Normal,
    /// `FULL`: every commit is synced to disk before it is acknowledged, so
    /// it survives a power loss too. Slower: one fsync per group commit.
    Full,
}

impl Synchronous {
    fn pragma(self) -> &'static str {
        match self {
            Self::Normal => "NORMAL",
            Self::Full => "FULL",
        }
    }
}

/// Settings of a [`SqliteStore`].
///
/// ```
/// use hale_durable::{SqliteOptions, Synchronous};
/// let options = SqliteOptions::default().synchronous(Synchronous::Full).max_batch(128);
/// assert_eq!(options.validate(), Ok(()));
/// assert!(SqliteOptions::default().max_batch(0).validate().is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqliteOptions {
    synchronous: Synchronous,
    max_batch: usize,
    queue: usize,
    readers: usize,
    busy_timeout: Duration,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            synchronous: Synchronous::Normal,
            max_batch: 1_024,
            queue: 4_096,
            readers: 4,
            busy_timeout: Duration::from_secs(5),
        }
    }
}

impl SqliteOptions {
    /// Sets `synchronous` (default [`Synchronous::Normal`]).
    pub fn synchronous(mut self, synchronous: Synchronous) -> Self {
        self.synchronous = synchronous;
        self
    }

    /// The most write requests committed in one transaction (default 1024).
    pub fn max_batch(mut self, max: usize) -> Self {
        self.max_batch = max;
        self
    }

    /// The bound of the writer's queue (default 4096). When it is full, a
    /// writer waits for room: callers slow down to the disk's pace instead
    /// of queueing without bound.
    pub fn queue(mut self, bound: usize) -> Self {
        self.queue = bound;
        self
    }

    /// How many idle read connections are kept (default 4; more are opened
    /// when needed and closed after).
    pub fn readers(mut self, kept: usize) -> Self {
        self.readers = kept;
        self
    }

    /// How long a connection waits for a lock held by another process
    /// (default 5 s).
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// A zero batch or queue.
    pub fn validate(&self) -> Result<(), StoreError> {
        if self.max_batch == 0 {
            return Err(StoreError::InvalidSetting("max_batch must be at least 1".into()));
        }
        if self.queue == 0 {
            return Err(StoreError::InvalidSetting("queue must be at least 1".into()));
        }
        Ok(())
    }
}

struct WriteRequest {
    ops: Vec<WriteOp>,
    reply: oneshot::Sender<Result<u64, StoreError>>,
}

/// The embedded SQLite store. Cheap to clone; the writer thread ends when
/// the last clone is dropped.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use hale_durable::{SqliteStore, Store};
/// let dir = tempfile::tempdir()?;
/// let store = SqliteStore::open(dir.path().join("run.db")).await?;
/// assert_eq!(store.counts().await?.workflows, 0);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    options: SqliteOptions,
    writer: mpsc::Sender<WriteRequest>,
    readers: Mutex<Vec<Connection>>,
    /// Writes handed to the writer and not yet answered.
    in_flight: std::sync::atomic::AtomicUsize,
}

/// Counts a write out of [`Inner::in_flight`] when its caller is done
/// with it (answered, failed or dropped).
struct InFlight<'a>(&'a std::sync::atomic::AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.inner.path)
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

fn backend(error: rusqlite::Error) -> StoreError {
    StoreError::backend(error)
}

impl SqliteStore {
    /// Opens (or creates) the store at `path` with the default settings:
    /// WAL, `synchronous=NORMAL`.
    ///
    /// # Errors
    /// The file cannot be opened, is not a hale-durable store, or has a
    /// newer schema.
    ///
    /// # Cancel safety
    /// Opening runs on a blocking thread; dropping the future leaves it to
    /// finish there (at worst it migrates the file, which is harmless).
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::open_with(path, SqliteOptions::default()).await
    }

    /// Opens (or creates) the store at `path` with `options`.
    ///
    /// # Errors
    /// As [`open`](Self::open), and invalid options.
    ///
    /// # Cancel safety
    /// As [`open`](Self::open).
    pub async fn open_with(path: impl AsRef<Path>, options: SqliteOptions) -> Result<Self, StoreError> {
        options.validate()?;
        let path = path.as_ref().to_path_buf();
        let opened = {
            let path = path.clone();
            let options = options.clone();
            tokio::task::spawn_blocking(move || open_writer(&path, &options))
                .await
                .map_err(StoreError::backend)??
        };
        let (sender, receiver) = mpsc::channel(options.queue);
        let max_batch = options.max_batch;
        std::thread::Builder::new()
            .name("hale-durable-sqlite-writer".into())
            .spawn(move || write_loop(opened, receiver, max_batch))
            .map_err(StoreError::backend)?;
        Ok(Self {
            inner: Arc::new(Inner {
                path,
                options,
                writer: sender,
                readers: Mutex::new(Vec::new()),
                in_flight: std::sync::atomic::AtomicUsize::new(0),
            }),
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    fn read<T, F>(&self, read: F) -> StoreFuture<'static, T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let pooled = inner.readers.lock().unwrap_or_else(PoisonError::into_inner).pop();
                let connection = match pooled {
                    Some(connection) => connection,
                    None => open_reader(&inner.path, &inner.options)?,
                };
                let result = read(&connection);
                let mut pool = inner.readers.lock().unwrap_or_else(PoisonError::into_inner);
                if pool.len() < inner.options.readers {
                    pool.push(connection);
                }
                result
            })
            .await
            .map_err(StoreError::backend)?
        })
    }
}

/// A SQLite row as a [`RowSource`].
struct Row<'a, 'b> {
    row: &'a rusqlite::Row<'b>,
    table: &'static str,
}

impl RowSource for Row<'_, '_> {
    fn table(&self) -> &'static str {
        self.table
    }
    fn int(&self, index: usize) -> Result<i64, String> {
        self.row.get(index).map_err(|e| e.to_string())
    }
    fn text(&self, index: usize) -> Result<String, String> {
        self.row.get(index).map_err(|e| e.to_string())
    }
    fn opt_int(&self, index: usize) -> Result<Option<i64>, String> {
        self.row.get(index).map_err(|e| e.to_string())
    }
    fn opt_text(&self, index: usize) -> Result<Option<String>, String> {
        self.row.get(index).map_err(|e| e.to_string())
    }
}

impl rusqlite::ToSql for Param {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(match self {
            Self::Int(value) => ToSqlOutput::Borrowed(ValueRef::Integer(*value)),
            Self::Text(value) => ToSqlOutput::Borrowed(ValueRef::Text(value.as_bytes())),
            Self::NullInt | Self::NullText => ToSqlOutput::Borrowed(ValueRef::Null),
        })
    }
}

/// `$1` → `?1`: SQLite numbers its parameters with `?`.
fn dialect(sql: &str) -> String {
    sql.replace('$', "?")
}

/// Runs a statement without parameters through the statement cache.
fn run_cached(connection: &Connection, sql: &str) -> rusqlite::Result<()> {
    connection.prepare_cached(sql)?.execute([]).map(drop)
}

fn query_all<T>(
    connection: &Connection,
    sql: &str,
    params: &[Param],
    table: &'static str,
    decode: fn(&dyn RowSource) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut statement = connection.prepare_cached(&dialect(sql)).map_err(backend)?;
    let mut rows = statement
        .query(params_from_iter(params.iter()))
        .map_err(backend)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(backend)? {
        out.push(decode(&Row { row, table })?);
    }
    Ok(out)
}

fn configure(connection: &Connection, options: &SqliteOptions) -> Result<(), StoreError> {
    connection.busy_timeout(options.busy_timeout).map_err(backend)?;
    connection
        .pragma_update(None, "synchronous", options.synchronous.pragma())
        .map_err(backend)?;
    Ok(())
}

fn open_reader(path: &Path, options: &SqliteOptions) -> Result<Connection, StoreError> {
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI,
    )
    .map_err(backend)?;
    connection.busy_timeout(options.busy_timeout).map_err(backend)?;
    Ok(connection)
}

/// The writer's connection and the audit chain's tail.
struct Writer {
    connection: Connection,
    tail: (i64, String),
    /// SQLite's `data_version` when `tail` was read: it changes only when
    /// another connection commits, so an unchanged value means the cached
    /// tail is still the chain's end.
    data_version: i64,
    /// Each statement constant's SQLite form, by the constant's address.
    dialect: std::collections::HashMap<usize, String>,
}

fn open_writer(path: &Path, options: &SqliteOptions) -> Result<Writer, StoreError> {
    let connection = Connection::open(path).map_err(backend)?;
    let mode: String = connection
        .query_row("PRAGMA journal_mode=WAL", [], |row| row.get(0))
        .map_err(backend)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Backend(format!(
            "could not switch to WAL (journal mode {mode})"
        )));
    }
    configure(&connection, options)?;
    migrate(&connection, &path.display().to_string())?;
    let data_version = data_version(&connection)?;
    let tail = audit_tail(&connection)?;
    Ok(Writer {
        connection,
        tail,
        data_version,
        dialect: std::collections::HashMap::new(),
    })
}

fn data_version(connection: &Connection) -> Result<i64, StoreError> {
    connection
        .prepare_cached("PRAGMA data_version")
        .and_then(|mut statement| statement.query_row([], |row| row.get(0)))
        .map_err(backend)
}

fn audit_tail(connection: &Connection) -> Result<(i64, String), StoreError> {
    let last = query_all(
        connection,
        query::LAST_AUDIT,
        &[],
        "hale_audit",
        sql::decode_audit,
    )?;
    Ok(last
        .into_iter()
        .next()
        .map_or((0, GENESIS_HASH.to_owned()), |entry| (entry.seq, entry.hash)))
}

/// Brings the schema to [`sql::SCHEMA_VERSION`], refusing foreign or newer
/// databases. The check and the migration hold the write lock together, so
/// two processes opening a new file at once cannot both migrate it.
fn migrate(connection: &Connection, name: &str) -> Result<(), StoreError> {
    connection.execute_batch("BEGIN IMMEDIATE").map_err(backend)?;
    let result = migrate_locked(connection, name);
    let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
    match connection.execute_batch(end) {
        Ok(()) => result,
        Err(error) => {
            let _ = connection.execute_batch("ROLLBACK");
            result.and(Err(backend(error)))
        }
    }
}

fn migrate_locked(connection: &Connection, name: &str) -> Result<(), StoreError> {
    let table_exists = |table: &str| -> Result<bool, StoreError> {
        connection
            .query_row(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
                [table],
                |_| Ok(()),
            )
            .optional()
            .map(|found| found.is_some())
            .map_err(backend)
    };
    let version = if table_exists("hale_meta")? {
        let mark: Option<String> = connection
            .query_row("SELECT value FROM hale_meta WHERE key = 'store'", [], |row| {
                row.get(0)
            })
            .optional()
            .map_err(backend)?;
        if mark.as_deref() != Some(sql::STORE_MARK) {
            return Err(StoreError::Foreign(name.to_owned()));
        }
        let text: Option<String> = connection
            .query_row(
                "SELECT value FROM hale_meta WHERE key = 'schema_version'",
                [],
                |row| row.get(0),
            )
            .optional()
            .map_err(backend)?;
        let text = text.unwrap_or_default();
        text.parse::<i64>().map_err(|_| StoreError::Corrupt {
            table: "hale_meta",
            key: "schema_version".into(),
            detail: format!("`{text}` is not a version"),
        })?
    } else if table_exists("hale_workflows")? {
        return Err(StoreError::Foreign(name.to_owned()));
    } else {
        0
    };
    if version > sql::SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            found: version,
            supported: sql::SCHEMA_VERSION,
        });
    }
    if version == sql::SCHEMA_VERSION {
        return Ok(());
    }
    let run = || -> rusqlite::Result<()> {
        connection.execute_batch(
            "CREATE TABLE IF NOT EXISTS hale_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        )?;
        connection.execute(
            "INSERT INTO hale_meta (key, value) VALUES ('store', ?1) ON CONFLICT (key) DO NOTHING",
            [sql::STORE_MARK],
        )?;
        for migration in &sql::MIGRATIONS[usize::try_from(version).unwrap_or(0)..] {
            for statement in *migration {
                connection.execute_batch(
                    &statement
                        .replace("{serial}", "INTEGER PRIMARY KEY AUTOINCREMENT")
                        .replace("{without_rowid}", " WITHOUT ROWID"),
                )?;
            }
        }
        connection.execute(
            "INSERT INTO hale_meta (key, value) VALUES ('schema_version', ?1) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [sql::SCHEMA_VERSION.to_string()],
        )?;
        Ok(())
    };
    run().map_err(backend)
}

fn write_loop(mut writer: Writer, mut requests: mpsc::Receiver<WriteRequest>, max_batch: usize) {
    let mut batch = Vec::with_capacity(max_batch);
    let mut stmts = Vec::new();
    while let Some(first) = next_request(&mut requests) {
        batch.push(first);
        while batch.len() < max_batch {
            match requests.try_recv() {
                Ok(request) => batch.push(request),
                Err(_) => break,
            }
        }
        let results = commit(&mut writer, &batch, &mut stmts);
        for (request, result) in batch.drain(..).zip(results) {
            // The caller may have given up waiting: nothing to tell.
            let _ = request.reply.send(result);
        }
    }
}

/// How long the writer keeps looking for the next request before it sleeps.
/// A workflow's next step usually arrives within a few microseconds of its
/// last commit's reply; catching it awake saves a thread wake-up per step.
const STAY_AWAKE: Duration = Duration::from_micros(50);

/// The next request: looked for awake for [`STAY_AWAKE`], then waited for
/// asleep. `None` once every sender is gone.
fn next_request(requests: &mut mpsc::Receiver<WriteRequest>) -> Option<WriteRequest> {
    let awake_until = std::time::Instant::now() + STAY_AWAKE;
    loop {
        match requests.try_recv() {
            Ok(request) => return Some(request),
            Err(mpsc::error::TryRecvError::Disconnected) => return None,
            Err(mpsc::error::TryRecvError::Empty) if std::time::Instant::now() < awake_until => {
                std::thread::yield_now();
            }
            Err(mpsc::error::TryRecvError::Empty) => return requests.blocking_recv(),
        }
    }
}

/// Reads the audit tail again if another connection committed since it
/// was read. Call it holding the write lock.
fn refresh_tail(writer: &mut Writer) -> Result<(), StoreError> {
    let version = data_version(&writer.connection)?;
    if version != writer.data_version {
        writer.tail = audit_tail(&writer.connection)?;
        writer.data_version = version;
    }
    Ok(())
}

/// Commits one group; returns each request's result.
fn commit(
    writer: &mut Writer,
    batch: &[WriteRequest],
    stmts: &mut Vec<Stmt>,
) -> Vec<Result<u64, StoreError>> {
    let alone = batch.len() == 1;
    if let Err(error) = run_cached(&writer.connection, "BEGIN IMMEDIATE") {
        let error = backend(error);
        return batch.iter().map(|_| Err(error.clone())).collect();
    }
    // Another store on the same file (a process that shares it, or the
    // store of an engine shut down while a write was in flight) may have
    // appended to the audit chain since the tail was read: a cached tail
    // would then collide on `seq` forever. Under the write lock, the tail is
    // read again when another connection has committed meanwhile.
    let appends = batch
        .iter()
        .any(|request| request.ops.iter().any(|op| matches!(op, WriteOp::Audit(_))));
    if appends && let Err(error) = refresh_tail(writer) {
        let _ = writer.connection.execute_batch("ROLLBACK");
        return batch.iter().map(|_| Err(error.clone())).collect();
    }
    let tail_before = writer.tail.clone();
    let mut results = Vec::with_capacity(batch.len());
    for request in batch {
        if !alone && let Err(error) = writer.connection.execute_batch("SAVEPOINT request") {
            results.push(Err(backend(error)));
            continue;
        }
        let request_tail = writer.tail.clone();
        let result = run_ops(writer, &request.ops, stmts);
        if !alone {
            let end = if result.is_ok() {
                "RELEASE request"
            } else {
                "ROLLBACK TO request; RELEASE request"
            };
            if let Err(error) = writer.connection.execute_batch(end) {
                results.push(Err(backend(error)));
                continue;
            }
        }
        if result.is_err() {
            writer.tail = request_tail;
        }
        results.push(result);
    }
    let finish = if alone && results.iter().all(Result::is_err) {
        "ROLLBACK"
    } else {
        "COMMIT"
    };
    if let Err(error) = run_cached(&writer.connection, finish) {
        let _ = writer.connection.execute_batch("ROLLBACK");
        writer.tail = tail_before;
        let error = backend(error);
        return batch.iter().map(|_| Err(error.clone())).collect();
    }
    results
}

fn run_ops(writer: &mut Writer, ops: &[WriteOp], stmts: &mut Vec<Stmt>) -> Result<u64, StoreError> {
    let mut changed = 0u64;
    for op in ops {
        if let WriteOp::Audit(draft) = op {
            let entry = chain(draft, writer.tail.0, &writer.tail.1);
            let params: Vec<Param> = vec![
                entry.seq.into(),
                entry.at_ms.into(),
                entry.workflow_id.as_str().into(),
                entry.action.as_str().into(),
                entry.detail.as_str().into(),
                entry.prev_hash.as_str().into(),
                entry.hash.as_str().into(),
            ];
            execute(writer, query::INSERT_AUDIT, &params)?;
            writer.tail = (entry.seq, entry.hash);
            changed += 1;
            continue;
        }
        stmts.clear();
        sql::compile(op, stmts)?;
        for stmt in stmts.iter() {
            let rows = execute(writer, stmt.sql, &stmt.params)?;
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

fn execute(writer: &mut Writer, sql: &'static str, params: &[Param]) -> Result<u64, StoreError> {
    // Each statement is one of a fixed set of constants: convert it once.
    let converted = writer
        .dialect
        .entry(sql.as_ptr() as usize)
        .or_insert_with(|| dialect(sql));
    let mut statement = writer.connection.prepare_cached(converted).map_err(backend)?;
    let rows = statement
        .execute(params_from_iter(params.iter()))
        .map_err(backend)?;
    Ok(rows as u64)
}

fn limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

impl Store for SqliteStore {
    fn apply(&self, ops: Vec<WriteOp>) -> StoreFuture<'_, u64> {
        Box::pin(async move {
            let (reply, mut answer) = oneshot::channel();
            let writer = &self.inner.writer;
            // The only write in flight: its reply comes within microseconds
            // at NORMAL, sooner than a parked worker thread could be woken
            // for it, so watch for it awake, briefly. With other writes in
            // flight (group commit), wait asleep and leave the thread to them.
            let in_flight = &self.inner.in_flight;
            let alone = in_flight.fetch_add(1, std::sync::atomic::Ordering::AcqRel) == 0;
            let _done = InFlight(in_flight);
            // Room in the queue is the common case: take it without the
            // async send's permit dance; wait for room only when it is full.
            match writer.try_send(WriteRequest { ops, reply }) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(request)) => {
                    writer.send(request).await.map_err(|_| StoreError::WriterGone)?;
                }
                Err(mpsc::error::TrySendError::Closed(_)) => return Err(StoreError::WriterGone),
            }
            if alone {
                let awake_until = std::time::Instant::now() + STAY_AWAKE;
                while std::time::Instant::now() < awake_until {
                    match answer.try_recv() {
                        Ok(result) => return result,
                        Err(oneshot::error::TryRecvError::Closed) => return Err(StoreError::WriterGone),
                        Err(oneshot::error::TryRecvError::Empty) => std::hint::spin_loop(),
                    }
                }
            }
            answer.await.map_err(|_| StoreError::WriterGone)?
        })
    }

    fn workflow<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<WorkflowRecord>> {
        let id = id.to_owned();
        self.read(move |connection| {
            let found = query_all(
                connection,
                query::WORKFLOW,
                &[id.into()],
                "hale_workflows",
                sql::decode_workflow,
            )?;
            Ok(found.into_iter().next())
        })
    }

    fn history<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<History>> {
        let id = id.to_owned();
        self.read(move |connection| {
            // One read transaction: the rows come from one snapshot.
            connection.execute_batch("BEGIN").map_err(backend)?;
            let result = read_history(connection, &id);
            let _ = connection.execute_batch("COMMIT");
            result
        })
    }

    fn workflows(&self, status: WorkflowStatus, max: usize) -> StoreFuture<'_, Vec<WorkflowRecord>> {
        self.read(move |connection| {
            query_all(
                connection,
                query::WORKFLOWS_BY_STATUS,
                &[status.as_str().into(), limit(max).into()],
                "hale_workflows",
                sql::decode_workflow,
            )
        })
    }

    fn waiting_approvals(&self, max: usize) -> StoreFuture<'_, Vec<ApprovalRecord>> {
        self.read(move |connection| {
            query_all(
                connection,
                query::WAITING_APPROVALS,
                &[limit(max).into()],
                "hale_approvals",
                sql::decode_approval,
            )
        })
    }

    fn dead_letters(&self, include_replayed: bool, max: usize) -> StoreFuture<'_, Vec<DeadLetter>> {
        self.read(move |connection| {
            query_all(
                connection,
                query::DEAD_LETTERS,
                &[i64::from(include_replayed).into(), limit(max).into()],
                "hale_dead_letters",
                sql::decode_dead_letter,
            )
        })
    }

    fn dead_letter(&self, id: i64) -> StoreFuture<'_, Option<DeadLetter>> {
        self.read(move |connection| {
            let found = query_all(
                connection,
                query::DEAD_LETTER,
                &[id.into()],
                "hale_dead_letters",
                sql::decode_dead_letter,
            )?;
            Ok(found.into_iter().next())
        })
    }

    fn audit(&self, after_seq: i64, max: usize) -> StoreFuture<'_, Vec<AuditEntry>> {
        self.read(move |connection| {
            query_all(
                connection,
                query::AUDIT,
                &[after_seq.into(), limit(max).into()],
                "hale_audit",
                sql::decode_audit,
            )
        })
    }

    fn counts(&self) -> StoreFuture<'_, StoreCounts> {
        self.read(|connection| {
            connection
                .query_row(query::COUNTS, [], |row| {
                    Ok(StoreCounts {
                        workflows: row.get(0)?,
                        steps: row.get(1)?,
                        dead_letters: row.get(2)?,
                        audit: row.get(3)?,
                    })
                })
                .map_err(backend)
        })
    }

    fn waiting_counts(&self) -> StoreFuture<'_, WaitingCounts> {
        self.read(|connection| {
            connection
                .query_row(query::WAITING_COUNTS, [], |row| {
                    Ok(WaitingCounts {
                        dead_letters: row.get(0)?,
                        approvals: row.get(1)?,
                    })
                })
                .map_err(backend)
        })
    }
}

fn read_history(connection: &Connection, id: &str) -> Result<Option<History>, StoreError> {
    let params = [Param::from(id)];
    let Some(workflow) = query_all(
        connection,
        query::WORKFLOW,
        &params,
        "hale_workflows",
        sql::decode_workflow,
    )?
    .into_iter()
    .next() else {
        return Ok(None);
    };
    Ok(Some(History {
        workflow,
        steps: query_all(connection, query::STEPS, &params, "hale_steps", sql::decode_step)?,
        compensations: query_all(
            connection,
            query::COMPENSATIONS,
            &params,
            "hale_compensations",
            sql::decode_compensation,
        )?,
        approvals: query_all(
            connection,
            query::APPROVALS,
            &params,
            "hale_approvals",
            sql::decode_approval,
        )?,
    }))
}
