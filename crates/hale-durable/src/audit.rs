//! The audit log's hash chain: how an entry's hash is made, and the check
//! that tells whether the chain was tampered with.
//!
//! Each entry's hash is SHA-256 over the previous entry's hash and the
//! entry's own fields, so changing, removing or reordering any entry breaks
//! every hash after it. The check recomputes the chain from the first entry.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::record::{AuditDraft, AuditEntry};

/// The `prev_hash` of the first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What happened to a workflow, as its audit entry names it.
pub mod action {
    /// A step's budget guard refused it.
    pub const BUDGET_REFUSED: &str = "budget_refused";
    /// An approval gate was reached and the workflow persisted as waiting.
    pub const APPROVAL_REQUESTED: &str = "approval_requested";
    /// An approval gate was decided.
    pub const APPROVAL_DECIDED: &str = "approval_decided";
    /// An approval gate waited past its deadline.
    pub const APPROVAL_ESCALATED: &str = "approval_escalated";
    /// Compensation of the done steps began.
    pub const COMPENSATION_STARTED: &str = "compensation_started";
    /// One step was compensated.
    pub const COMPENSATED_STEP: &str = "compensated_step";
    /// Every done step was compensated.
    pub const COMPENSATED: &str = "compensated";
    /// A compensation failed for good: escalated.
    pub const COMPENSATION_FAILED: &str = "compensation_failed";
    /// The workflow was dead-lettered.
    pub const DEAD_LETTERED: &str = "dead_lettered";
    /// A dead letter was replayed.
    pub const REPLAYED: &str = "replayed";
    /// A run's agent exited abnormally (seen in its supervisor's healing
    /// events).
    pub const CRASHED: &str = "crashed";
    /// The workflow's agent crashed and was restarted by its supervisor;
    /// it resumes from its last checkpoint.
    pub const RESTARTED: &str = "restarted";
    /// The workflow was resumed when a process started.
    pub const RESUMED: &str = "resumed";
}

/// Chains `draft` after an entry whose seq and hash are given.
pub(crate) fn chain(draft: &AuditDraft, prev_seq: i64, prev_hash: &str) -> AuditEntry {
    let seq = prev_seq.saturating_add(1);
    let hash = entry_hash(
        seq,
        draft.at_ms,
        &draft.workflow_id,
        &draft.action,
        &draft.detail,
        prev_hash,
    );
    AuditEntry {
        seq,
        at_ms: draft.at_ms,
        workflow_id: draft.workflow_id.clone(),
        action: draft.action.clone(),
        detail: draft.detail.clone(),
        prev_hash: prev_hash.to_owned(),
        hash,
    }
}

fn entry_hash(
    seq: i64,
    at_ms: i64,
    workflow_id: &str,
    action: &str,
    detail: &str,
    prev_hash: &str,
) -> String {
    let mut hasher = Sha256::new();
    // Lengths first, so no two different field lists hash the same bytes.
    for field in [prev_hash, workflow_id, action, detail] {
        hasher.update((field.len() as u64).to_le_bytes());
        hasher.update(field.as_bytes());
    }
    hasher.update(seq.to_le_bytes());
    hasher.update(at_ms.to_le_bytes());
    let digest = hasher.finalize();
    let mut hex = String::with_capacity(64);
    for byte in digest.iter() {
        hex.push_str(&format!("{byte:02x}"));
    }
    hex
}

/// The result of checking the audit chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditCheck {
    /// Entries checked.
    pub entries: u64,
    /// The first entry that does not chain: its seq and what is wrong.
    pub broken: Option<(i64, String)>,
}

impl AuditCheck {
    /// Whether the whole chain holds.
    pub fn is_intact(&self) -> bool {
        self.broken.is_none()
    }
}

/// Checks entries in seq order, continuing a chain that ended at
/// `prev_seq`/`prev_hash`. Returns the last good seq and hash, or the first
/// break.
pub(crate) fn verify_run(
    entries: &[AuditEntry],
    mut prev_seq: i64,
    mut prev_hash: String,
) -> Result<(i64, String), (i64, String)> {
    for entry in entries {
        if entry.seq != prev_seq.saturating_add(1) {
            return Err((
                entry.seq,
                format!("expected seq {}, found {}", prev_seq + 1, entry.seq),
            ));
        }
        if entry.prev_hash != prev_hash {
            return Err((
                entry.seq,
                "its previous hash is not the hash of the entry before".into(),
            ));
        }
        let expected = entry_hash(
            entry.seq,
            entry.at_ms,
            &entry.workflow_id,
            &entry.action,
            &entry.detail,
            &entry.prev_hash,
        );
        if entry.hash != expected {
            return Err((entry.seq, "its hash does not match its contents".into()));
        }
        prev_seq = entry.seq;
        prev_hash = entry.hash.clone();
    }
    Ok((prev_seq, prev_hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(detail: &str) -> AuditDraft {
        AuditDraft {
            at_ms: 5,
            workflow_id: "w".into(),
            action: action::REPLAYED.into(),
            detail: detail.into(),
        }
    }

    #[test]
    fn a_changed_entry_breaks_the_chain_from_there() {
        let first = chain(&draft("a"), 0, GENESIS_HASH);
        let second = chain(&draft("b"), first.seq, &first.hash);
        let good = vec![first.clone(), second.clone()];
        assert!(verify_run(&good, 0, GENESIS_HASH.into()).is_ok());
        let mut tampered = good.clone();
        tampered[0].detail = "A".into();
        assert_eq!(verify_run(&tampered, 0, GENESIS_HASH.into()).unwrap_err().0, 1);
        let removed = vec![second];
        assert_eq!(verify_run(&removed, 0, GENESIS_HASH.into()).unwrap_err().0, 2);
    }
}
