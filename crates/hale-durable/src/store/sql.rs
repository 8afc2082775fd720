//! The SQL both stores share: the schema and its migrations, the
//! statements each write compiles to, the queries, and decoding rows into
//! records (a row that does not decode is a typed error, never a panic).
//!
//! Statements use `$1, $2, ...` placeholders (Postgres'); SQLite gets them
//! as `?1, ?2, ...`.

use crate::budget::Budget;
use crate::error::StoreError;
use crate::record::{
    ApprovalRecord, ApprovalStatus, CompensationRecord, DeadLetter, StepRecord, WorkflowRecord,
    WorkflowStatus, WriteOp,
};

/// The schema version this build writes and reads.
pub(crate) const SCHEMA_VERSION: i64 = 1;

/// The marker row that says a database is a hale-durable store.
pub(crate) const STORE_MARK: &str = "hale-durable";

/// The migrations, in order: migration `i` brings the schema from version
/// `i` to `i + 1`. `{serial}` is the dialect's auto-increment key type;
/// `{without_rowid}` keeps SQLite's rows in their primary key's own B-tree
/// (one tree to write per step instead of a table and an index).
pub(crate) const MIGRATIONS: &[&[&str]] = &[&[
    "CREATE TABLE hale_workflows (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, status TEXT NOT NULL, input TEXT NOT NULL,
        output TEXT, error TEXT, definition TEXT NOT NULL, budget TEXT NOT NULL, run BIGINT NOT NULL,
        created_ms BIGINT NOT NULL, updated_ms BIGINT NOT NULL, finished_ms BIGINT)",
    "CREATE INDEX hale_workflows_status ON hale_workflows (status, finished_ms)",
    "CREATE TABLE hale_steps (
        workflow_id TEXT NOT NULL, seq BIGINT NOT NULL, name TEXT NOT NULL, kind TEXT NOT NULL,
        status TEXT NOT NULL, input TEXT, output TEXT, error TEXT, key TEXT, cost BIGINT NOT NULL,
        attempts BIGINT NOT NULL, at_ms BIGINT NOT NULL, PRIMARY KEY (workflow_id, seq)){without_rowid}",
    "CREATE TABLE hale_compensations (
        workflow_id TEXT NOT NULL, step_seq BIGINT NOT NULL, name TEXT NOT NULL, status TEXT NOT NULL,
        error TEXT, key TEXT NOT NULL, attempts BIGINT NOT NULL, at_ms BIGINT NOT NULL,
        PRIMARY KEY (workflow_id, step_seq)){without_rowid}",
    "CREATE TABLE hale_approvals (
        workflow_id TEXT NOT NULL, seq BIGINT NOT NULL, gate TEXT NOT NULL, request TEXT NOT NULL,
        status TEXT NOT NULL, escalated BIGINT NOT NULL, decided_by TEXT, note TEXT,
        requested_ms BIGINT NOT NULL, deadline_ms BIGINT, decided_ms BIGINT,
        PRIMARY KEY (workflow_id, seq)){without_rowid}",
    "CREATE INDEX hale_approvals_status ON hale_approvals (status)",
    "CREATE TABLE hale_dead_letters (
        id {serial}, workflow_id TEXT NOT NULL, workflow_name TEXT NOT NULL, input TEXT NOT NULL,
        error TEXT NOT NULL, history TEXT NOT NULL, at_ms BIGINT NOT NULL, replayed_ms BIGINT,
        replayed_by TEXT)",
    "CREATE TABLE hale_audit (
        seq BIGINT PRIMARY KEY, at_ms BIGINT NOT NULL, workflow_id TEXT NOT NULL, action TEXT NOT NULL,
        detail TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL)",
]];

/// A bound value.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Param {
    Int(i64),
    Text(String),
    NullInt,
    NullText,
}

impl From<i64> for Param {
    fn from(value: i64) -> Self {
        Self::Int(value)
    }
}

impl From<&str> for Param {
    fn from(value: &str) -> Self {
        Self::Text(value.to_owned())
    }
}

impl From<String> for Param {
    fn from(value: String) -> Self {
        Self::Text(value)
    }
}

impl From<Option<String>> for Param {
    fn from(value: Option<String>) -> Self {
        value.map_or(Self::NullText, Self::Text)
    }
}

impl From<Option<i64>> for Param {
    fn from(value: Option<i64>) -> Self {
        value.map_or(Self::NullInt, Self::Int)
    }
}

/// What a statement must change for its write to hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Expect {
    /// Any number of rows.
    Any,
    /// At least one row, or the write is a conflict with this message.
    Some(&'static str),
}

/// One statement of a compiled write.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Stmt {
    pub(crate) sql: &'static str,
    pub(crate) params: Vec<Param>,
    pub(crate) expect: Expect,
}

fn stmt(sql: &'static str, params: Vec<Param>, expect: Expect) -> Stmt {
    Stmt { sql, params, expect }
}

pub(crate) const INSERT_WORKFLOW: &str = "INSERT INTO hale_workflows (id, name, status, input, output, error, definition, budget, run, created_ms, updated_ms, finished_ms) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (id) DO NOTHING";

fn workflow_params(record: &WorkflowRecord) -> Result<Vec<Param>, StoreError> {
    let json = |what: &str, value: Result<String, serde_json::Error>| {
        value.map_err(|error| StoreError::InvalidSetting(format!("{what} of `{}`: {error}", record.id)))
    };
    Ok(vec![
        record.id.as_str().into(),
        record.name.as_str().into(),
        record.status.as_str().into(),
        record.input.as_str().into(),
        record.output.clone().into(),
        record.error.clone().into(),
        json("definition", serde_json::to_string(&record.definition))?.into(),
        json("budget", serde_json::to_string(&record.budget))?.into(),
        record.run.into(),
        record.created_ms.into(),
        record.updated_ms.into(),
        record.finished_ms.into(),
    ])
}

/// Compiles a write into statements. The audit append is not here: it needs
/// the log's last hash, which each store reads in its own way.
pub(crate) fn compile(op: &WriteOp, out: &mut Vec<Stmt>) -> Result<(), StoreError> {
    match op {
        WriteOp::InsertWorkflow(record) => out.push(stmt(
            INSERT_WORKFLOW,
            workflow_params(record)?,
            Expect::Some("the workflow id exists already"),
        )),
        WriteOp::RestartWorkflow { record, expected_run } => {
            let mut params = workflow_params(record)?;
            params.push((*expected_run).into());
            out.push(stmt(
                "UPDATE hale_workflows SET name = $2, status = $3, input = $4, output = $5, error = $6, \
                 definition = $7, budget = $8, run = $9, created_ms = $10, updated_ms = $11, finished_ms = $12 \
                 WHERE id = $1 AND run = $13",
                params,
                Expect::Some("the workflow's run changed meanwhile"),
            ));
            for sql in [
                "DELETE FROM hale_steps WHERE workflow_id = $1",
                "DELETE FROM hale_compensations WHERE workflow_id = $1",
                "DELETE FROM hale_approvals WHERE workflow_id = $1",
            ] {
                out.push(stmt(sql, vec![record.id.as_str().into()], Expect::Any));
            }
        }
        WriteOp::SetStatus {
            id,
            from,
            status,
            output,
            error,
            at_ms,
        } => {
            let finished = status.is_finished().then_some(*at_ms);
            let mut params = vec![
                id.as_str().into(),
                status.as_str().into(),
                output.clone().into(),
                error.clone().into(),
                (*at_ms).into(),
                finished.into(),
            ];
            // Up to seven allowed statuses, padded by repeating the first.
            let allowed: Vec<&WorkflowStatus> = from.iter().collect();
            let Some(first) = allowed.first() else {
                return Err(StoreError::InvalidSetting("SetStatus with no allowed status".into()));
            };
            for index in 0..7 {
                let status = allowed.get(index).unwrap_or(first);
                params.push(status.as_str().into());
            }
            out.push(stmt(
                "UPDATE hale_workflows SET status = $2, output = $3, error = $4, updated_ms = $5, finished_ms = $6 \
                 WHERE id = $1 AND status IN ($7, $8, $9, $10, $11, $12, $13)",
                params,
                Expect::Some("the workflow is not in the status the change expects"),
            ));
        }
        WriteOp::PutStep(step) => out.push(stmt(
            "INSERT INTO hale_steps (workflow_id, seq, name, kind, status, input, output, error, key, cost, attempts, at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
             ON CONFLICT (workflow_id, seq) DO UPDATE SET name = excluded.name, kind = excluded.kind, \
             status = excluded.status, input = excluded.input, output = excluded.output, error = excluded.error, \
             key = excluded.key, cost = excluded.cost, attempts = excluded.attempts, at_ms = excluded.at_ms",
            vec![
                step.workflow_id.as_str().into(),
                step.seq.into(),
                step.name.as_str().into(),
                step.kind.as_str().into(),
                step.status.as_str().into(),
                step.input.clone().into(),
                step.output.clone().into(),
                step.error.clone().into(),
                step.key.clone().into(),
                step.cost.into(),
                step.attempts.into(),
                step.at_ms.into(),
            ],
            Expect::Any,
        )),
        WriteOp::DeleteFailedSteps { id } => out.push(stmt(
            "DELETE FROM hale_steps WHERE workflow_id = $1 AND status = 'failed'",
            vec![id.as_str().into()],
            Expect::Any,
        )),
        WriteOp::PutCompensation(comp) => out.push(stmt(
            "INSERT INTO hale_compensations (workflow_id, step_seq, name, status, error, key, attempts, at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (workflow_id, step_seq) DO UPDATE SET name = excluded.name, status = excluded.status, \
             error = excluded.error, key = excluded.key, attempts = excluded.attempts, at_ms = excluded.at_ms",
            vec![
                comp.workflow_id.as_str().into(),
                comp.step_seq.into(),
                comp.name.as_str().into(),
                comp.status.as_str().into(),
                comp.error.clone().into(),
                comp.key.as_str().into(),
                comp.attempts.into(),
                comp.at_ms.into(),
            ],
            Expect::Any,
        )),
        WriteOp::DeleteFailedCompensations { id } => out.push(stmt(
            "DELETE FROM hale_compensations WHERE workflow_id = $1 AND status <> 'done'",
            vec![id.as_str().into()],
            Expect::Any,
        )),
        WriteOp::PutApproval(approval) => out.push(stmt(
            "INSERT INTO hale_approvals (workflow_id, seq, gate, request, status, escalated, decided_by, note, requested_ms, deadline_ms, decided_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (workflow_id, seq) DO NOTHING",
            vec![
                approval.workflow_id.as_str().into(),
                approval.seq.into(),
                approval.gate.as_str().into(),
                approval.request.as_str().into(),
                approval.status.as_str().into(),
                i64::from(approval.escalated).into(),
                approval.decided_by.clone().into(),
                approval.note.clone().into(),
                approval.requested_ms.into(),
                approval.deadline_ms.into(),
                approval.decided_ms.into(),
            ],
            Expect::Some("an approval gate is recorded at that point already"),
        )),
        WriteOp::Decide {
            id,
            seq,
            status,
            by,
            note,
            at_ms,
        } => out.push(stmt(
            "UPDATE hale_approvals SET status = $3, decided_by = $4, note = $5, decided_ms = $6 \
             WHERE workflow_id = $1 AND seq = $2 AND status = 'waiting'",
            vec![
                id.as_str().into(),
                (*seq).into(),
                status.as_str().into(),
                by.as_str().into(),
                note.as_str().into(),
                (*at_ms).into(),
            ],
            Expect::Some("the gate is no longer waiting"),
        )),
        WriteOp::Escalate { id, seq } => out.push(stmt(
            "UPDATE hale_approvals SET escalated = 1 WHERE workflow_id = $1 AND seq = $2 AND status = 'waiting' AND escalated = 0",
            vec![id.as_str().into(), (*seq).into()],
            Expect::Some("the gate is decided or escalated already"),
        )),
        WriteOp::AddDeadLetter(letter) => out.push(stmt(
            "INSERT INTO hale_dead_letters (workflow_id, workflow_name, input, error, history, at_ms, replayed_ms, replayed_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            vec![
                letter.workflow_id.as_str().into(),
                letter.workflow_name.as_str().into(),
                letter.input.as_str().into(),
                letter.error.as_str().into(),
                letter.history.as_str().into(),
                letter.at_ms.into(),
                letter.replayed_ms.into(),
                letter.replayed_by.clone().into(),
            ],
            Expect::Any,
        )),
        WriteOp::MarkReplayed { dead_letter, by, at_ms } => out.push(stmt(
            "UPDATE hale_dead_letters SET replayed_ms = $2, replayed_by = $3 WHERE id = $1 AND replayed_ms IS NULL",
            vec![(*dead_letter).into(), (*at_ms).into(), by.as_str().into()],
            Expect::Some("the dead letter was replayed already"),
        )),
        WriteOp::Prune { finished_before_ms } => {
            for sql in [
                "DELETE FROM hale_steps WHERE workflow_id IN (SELECT id FROM hale_workflows WHERE finished_ms IS NOT NULL AND finished_ms < $1 AND status IN ('completed', 'failed', 'compensated', 'compensation_failed'))",
                "DELETE FROM hale_compensations WHERE workflow_id IN (SELECT id FROM hale_workflows WHERE finished_ms IS NOT NULL AND finished_ms < $1 AND status IN ('completed', 'failed', 'compensated', 'compensation_failed'))",
                "DELETE FROM hale_approvals WHERE workflow_id IN (SELECT id FROM hale_workflows WHERE finished_ms IS NOT NULL AND finished_ms < $1 AND status IN ('completed', 'failed', 'compensated', 'compensation_failed'))",
            ] {
                out.push(stmt(sql, vec![(*finished_before_ms).into()], Expect::Any));
            }
        }
        WriteOp::Audit(_) => {}
    }
    Ok(())
}

/// The queries.
pub(crate) mod query {
    pub(crate) const WORKFLOW: &str = "SELECT id, name, status, input, output, error, definition, budget, run, created_ms, updated_ms, finished_ms FROM hale_workflows WHERE id = $1";
    pub(crate) const WORKFLOWS_BY_STATUS: &str = "SELECT id, name, status, input, output, error, definition, budget, run, created_ms, updated_ms, finished_ms FROM hale_workflows WHERE status = $1 ORDER BY created_ms, id LIMIT $2";
    pub(crate) const STEPS: &str = "SELECT workflow_id, seq, name, kind, status, input, output, error, key, cost, attempts, at_ms FROM hale_steps WHERE workflow_id = $1 ORDER BY seq";
    pub(crate) const COMPENSATIONS: &str = "SELECT workflow_id, step_seq, name, status, error, key, attempts, at_ms FROM hale_compensations WHERE workflow_id = $1 ORDER BY step_seq DESC";
    pub(crate) const APPROVALS: &str = "SELECT workflow_id, seq, gate, request, status, escalated, decided_by, note, requested_ms, deadline_ms, decided_ms FROM hale_approvals WHERE workflow_id = $1 ORDER BY seq";
    pub(crate) const WAITING_APPROVALS: &str = "SELECT workflow_id, seq, gate, request, status, escalated, decided_by, note, requested_ms, deadline_ms, decided_ms FROM hale_approvals WHERE status = 'waiting' ORDER BY requested_ms, workflow_id LIMIT $1";
    pub(crate) const DEAD_LETTERS: &str = "SELECT id, workflow_id, workflow_name, input, error, history, at_ms, replayed_ms, replayed_by FROM hale_dead_letters WHERE replayed_ms IS NULL OR CAST($1 AS BIGINT) = 1 ORDER BY id LIMIT $2";
    pub(crate) const DEAD_LETTER: &str = "SELECT id, workflow_id, workflow_name, input, error, history, at_ms, replayed_ms, replayed_by FROM hale_dead_letters WHERE id = $1";
    pub(crate) const AUDIT: &str = "SELECT seq, at_ms, workflow_id, action, detail, prev_hash, hash FROM hale_audit WHERE seq > $1 ORDER BY seq LIMIT $2";
    pub(crate) const LAST_AUDIT: &str = "SELECT seq, at_ms, workflow_id, action, detail, prev_hash, hash FROM hale_audit ORDER BY seq DESC LIMIT 1";
    pub(crate) const INSERT_AUDIT: &str = "INSERT INTO hale_audit (seq, at_ms, workflow_id, action, detail, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7)";
    pub(crate) const COUNTS: &str = "SELECT (SELECT COUNT(*) FROM hale_workflows), (SELECT COUNT(*) FROM hale_steps), (SELECT COUNT(*) FROM hale_dead_letters), (SELECT COUNT(*) FROM hale_audit)";
    pub(crate) const WAITING_COUNTS: &str = "SELECT (SELECT COUNT(*) FROM hale_dead_letters WHERE replayed_ms IS NULL), (SELECT COUNT(*) FROM hale_approvals WHERE status = 'waiting')";
}

/// Reads a column of a row, in whichever database it came from.
pub(crate) trait RowSource {
    /// The table, for error messages.
    fn table(&self) -> &'static str;
    fn int(&self, index: usize) -> Result<i64, String>;
    fn text(&self, index: usize) -> Result<String, String>;
    fn opt_int(&self, index: usize) -> Result<Option<i64>, String>;
    fn opt_text(&self, index: usize) -> Result<Option<String>, String>;
}

fn corrupt(row: &dyn RowSource, key: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        table: row.table(),
        key: key.to_owned(),
        detail: detail.to_string(),
    }
}

fn parsed<T: std::str::FromStr<Err = String>>(
    row: &dyn RowSource,
    key: &str,
    index: usize,
) -> Result<T, StoreError> {
    let text = row.text(index).map_err(|e| corrupt(row, key, e))?;
    text.parse().map_err(|e| corrupt(row, key, e))
}

macro_rules! col {
    ($row:expr, $key:expr, $method:ident, $index:expr) => {
        $row.$method($index).map_err(|e| corrupt($row, $key, e))?
    };
}

pub(crate) fn decode_workflow(row: &dyn RowSource) -> Result<WorkflowRecord, StoreError> {
    let id = col!(row, "?", text, 0);
    let definition_text = col!(row, &id, text, 6);
    let definition: Vec<String> =
        serde_json::from_str(&definition_text).map_err(|e| corrupt(row, &id, format!("definition: {e}")))?;
    let budget_text = col!(row, &id, text, 7);
    let budget: Budget =
        serde_json::from_str(&budget_text).map_err(|e| corrupt(row, &id, format!("budget: {e}")))?;
    Ok(WorkflowRecord {
        name: col!(row, &id, text, 1),
        status: parsed(row, &id, 2)?,
        input: col!(row, &id, text, 3),
        output: col!(row, &id, opt_text, 4),
        error: col!(row, &id, opt_text, 5),
        definition,
        budget,
        run: col!(row, &id, int, 8),
        created_ms: col!(row, &id, int, 9),
        updated_ms: col!(row, &id, int, 10),
        finished_ms: col!(row, &id, opt_int, 11),
        id,
    })
}

pub(crate) fn decode_step(row: &dyn RowSource) -> Result<StepRecord, StoreError> {
    let workflow_id = col!(row, "?", text, 0);
    let seq = col!(row, &workflow_id, int, 1);
    let key = format!("{workflow_id}#{seq}");
    Ok(StepRecord {
        name: col!(row, &key, text, 2),
        kind: parsed(row, &key, 3)?,
        status: parsed(row, &key, 4)?,
        input: col!(row, &key, opt_text, 5),
        output: col!(row, &key, opt_text, 6),
        error: col!(row, &key, opt_text, 7),
        key: col!(row, &key, opt_text, 8),
        cost: col!(row, &key, int, 9),
        attempts: col!(row, &key, int, 10),
        at_ms: col!(row, &key, int, 11),
        workflow_id,
        seq,
    })
}

pub(crate) fn decode_compensation(row: &dyn RowSource) -> Result<CompensationRecord, StoreError> {
    let workflow_id = col!(row, "?", text, 0);
    let step_seq = col!(row, &workflow_id, int, 1);
    let key = format!("{workflow_id}#{step_seq}");
    Ok(CompensationRecord {
        name: col!(row, &key, text, 2),
        status: parsed(row, &key, 3)?,
        error: col!(row, &key, opt_text, 4),
        key: col!(row, &key, text, 5),
        attempts: col!(row, &key, int, 6),
        at_ms: col!(row, &key, int, 7),
        workflow_id,
        step_seq,
    })
}

pub(crate) fn decode_approval(row: &dyn RowSource) -> Result<ApprovalRecord, StoreError> {
    let workflow_id = col!(row, "?", text, 0);
    let seq = col!(row, &workflow_id, int, 1);
    let key = format!("{workflow_id}#{seq}");
    let status: ApprovalStatus = parsed(row, &key, 4)?;
    Ok(ApprovalRecord {
        gate: col!(row, &key, text, 2),
        request: col!(row, &key, text, 3),
        status,
        escalated: col!(row, &key, int, 5) != 0,
        decided_by: col!(row, &key, opt_text, 6),
        note: col!(row, &key, opt_text, 7),
        requested_ms: col!(row, &key, int, 8),
        deadline_ms: col!(row, &key, opt_int, 9),
        decided_ms: col!(row, &key, opt_int, 10),
        workflow_id,
        seq,
    })
}

pub(crate) fn decode_dead_letter(row: &dyn RowSource) -> Result<DeadLetter, StoreError> {
    let id = col!(row, "?", int, 0);
    let key = id.to_string();
    Ok(DeadLetter {
        id,
        workflow_id: col!(row, &key, text, 1),
        workflow_name: col!(row, &key, text, 2),
        input: col!(row, &key, text, 3),
        error: col!(row, &key, text, 4),
        history: col!(row, &key, text, 5),
        at_ms: col!(row, &key, int, 6),
        replayed_ms: col!(row, &key, opt_int, 7),
        replayed_by: col!(row, &key, opt_text, 8),
    })
}

pub(crate) fn decode_audit(row: &dyn RowSource) -> Result<crate::record::AuditEntry, StoreError> {
    let seq = col!(row, "?", int, 0);
    let key = seq.to_string();
    Ok(crate::record::AuditEntry {
        seq,
        at_ms: col!(row, &key, int, 1),
        workflow_id: col!(row, &key, text, 2),
        action: col!(row, &key, text, 3),
        detail: col!(row, &key, text, 4),
        prev_hash: col!(row, &key, text, 5),
        hash: col!(row, &key, text, 6),
    })
}
