//! The one table: rows, rendering, and docs/benchmarks.md.

use std::fmt::Write as _;

/// Whether a row meets its target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Met,
    Missed,
    /// Informational row.
    NoTarget,
    /// A figure needed to judge is missing.
    Unknown,
}

impl Verdict {
    pub(crate) fn from_bool(met: bool) -> Self {
        if met { Self::Met } else { Self::Missed }
    }

    fn text(self) -> &'static str {
        match self {
            Self::Met => "yes",
            Self::Missed => "**NO**",
            Self::NoTarget => "–",
            Self::Unknown => "n/a",
        }
    }
}

/// The systems, in column order.
pub(crate) const COLUMNS: [&str; 5] = ["Hale", "floor", "kameo", "ractor-supervisor", "OTP"];

/// Column indexes.
pub(crate) const HALE: usize = 0;
pub(crate) const FLOOR: usize = 1;
pub(crate) const KAMEO: usize = 2;
pub(crate) const RSUP: usize = 3;
pub(crate) const OTP: usize = 4;

/// One row.
#[derive(Clone, Debug)]
pub(crate) struct Row {
    pub(crate) case: String,
    pub(crate) cells: [String; 5],
    pub(crate) ratio: String,
    pub(crate) target: String,
    pub(crate) verdict: Verdict,
    /// Why a missed target is missed and what would fix it (closing note).
    pub(crate) why: String,
}

impl Row {
    /// A row with every cell "–".
    pub(crate) fn new(case: impl Into<String>) -> Self {
        Self {
            case: case.into(),
            cells: std::array::from_fn(|_| "–".to_owned()),
            ratio: "–".to_owned(),
            target: "–".to_owned(),
            verdict: Verdict::NoTarget,
            why: String::new(),
        }
    }
}

/// The table as markdown.
pub(crate) fn render(rows: &[Row]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| case | {} | Hale/floor | target | met? |",
        COLUMNS.join(" | ")
    );
    let _ = writeln!(out, "|---|{}---|---|---|", "---|".repeat(COLUMNS.len()));
    for row in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            row.case,
            row.cells.join(" | "),
            row.ratio,
            row.target,
            row.verdict.text()
        );
    }
    out
}

/// A ratio `a / b` as text.
pub(crate) fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 {
        format!("{:.2}×", a / b)
    } else {
        "–".to_owned()
    }
}

/// The closing note: every missed target, why, and what would fix it; then
/// what profiling found behind the rows without a target.
pub(crate) fn closing_note(rows: &[Row]) -> String {
    let missed: Vec<&Row> = rows.iter().filter(|row| row.verdict == Verdict::Missed).collect();
    let mut out = if missed.is_empty() {
        "Every target with a figure to judge it by is met.\n".to_owned()
    } else {
        format!("{} target(s) missed:\n\n", missed.len())
    };
    write_grouped(&mut out, &missed);
    let informational: Vec<&Row> = rows
        .iter()
        .filter(|row| row.verdict == Verdict::NoTarget && !row.why.is_empty())
        .collect();
    if !informational.is_empty() {
        out.push_str("\nRows without a target:\n\n");
        write_grouped(&mut out, &informational);
    }
    out
}

/// One bullet per distinct explanation, naming every row it explains (the
/// same reason often stands behind several cases), in the order of the table.
fn write_grouped(out: &mut String, rows: &[&Row]) {
    let mut groups: Vec<(Vec<&str>, &str)> = Vec::new();
    for row in rows {
        let why = if row.why.is_empty() {
            "no explanation recorded"
        } else {
            row.why.as_str()
        };
        match groups.iter_mut().find(|(_, text)| *text == why) {
            Some((cases, _)) => cases.push(&row.case),
            None => groups.push((vec![&row.case], why)),
        }
    }
    for (cases, why) in groups {
        let names: Vec<String> = cases.iter().map(|case| format!("**{case}**")).collect();
        let _ = writeln!(out, "- {}: {why}", names.join("; "));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn missed(case: &str, why: &str) -> Row {
        Row {
            verdict: Verdict::Missed,
            why: why.to_owned(),
            ..Row::new(case)
        }
    }

    #[test]
    fn one_bullet_per_reason_naming_every_row_it_explains() {
        let rows = [
            missed("a", "same reason"),
            missed("b", "other reason"),
            missed("c", "same reason"),
            Row::new("met"),
        ];
        let note = closing_note(&rows);
        assert_eq!(
            note,
            "3 target(s) missed:\n\n- **a**; **c**: same reason\n- **b**: other reason\n"
        );
    }
}
