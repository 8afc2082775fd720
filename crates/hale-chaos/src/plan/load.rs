//! Reading plans from files, and checking them.

use std::fs::{File, Metadata};
use std::io::Read;
use std::path::Path;

use crate::plan::{FaultKind, FaultPlan, Window};

/// The largest plan file [`FaultPlan::from_path`] reads: 1 MiB, room for about ten
/// thousand rules. A plan is written by hand; anything larger is refused before it is
/// read, so a wrong path cannot fill memory.
pub const MAX_PLAN_BYTES: u64 = 1 << 20;

/// A fault plan that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// The file could not be read.
    #[error("cannot read fault plan {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The path names something other than a regular file (a directory, a FIFO, a
    /// device such as `/dev/zero`), which could block or never end.
    #[error("fault plan {path}: not a regular file but {kind}")]
    NotAFile {
        /// The file.
        path: String,
        /// What it is instead.
        kind: &'static str,
    },
    /// The file is larger than [`MAX_PLAN_BYTES`].
    #[error("fault plan {path}: {size} bytes is more than the limit of {limit} bytes")]
    TooLarge {
        /// The file.
        path: String,
        /// Its size in bytes (at least; it may have grown while it was read).
        size: u64,
        /// The limit, [`MAX_PLAN_BYTES`].
        limit: u64,
    },
    /// The file is not UTF-8 text.
    #[error("fault plan {path}: not UTF-8 text")]
    NotText {
        /// The file.
        path: String,
    },
    /// The file's extension is neither `.toml` nor `.json`.
    #[error("fault plan {path}: unknown format (use a .toml or .json file)")]
    UnknownFormat {
        /// The file.
        path: String,
    },
    /// The text is not a valid plan.
    #[error("fault plan is not valid {format}: {message}")]
    Parse {
        /// TOML or JSON.
        format: &'static str,
        /// The parser's message (with the line, where it knows it).
        message: String,
    },
    /// A rule's probability is outside `0.0..=1.0` (or not a number).
    #[error("rule {rule} (site `{site}`): probability {probability} is not within 0.0..=1.0")]
    Probability {
        /// The rule's position, from 0.
        rule: usize,
        /// Its site.
        site: String,
        /// The bad value.
        probability: f64,
    },
    /// A rule names no site.
    #[error("rule {rule}: the site is empty")]
    EmptySite {
        /// The rule's position, from 0.
        rule: usize,
    },
    /// A window ends before it starts.
    #[error("{what}: window {from_ms}..{until_ms} ms is empty or reversed")]
    Window {
        /// Which rule or schedule.
        what: String,
        /// Its start.
        from_ms: u64,
        /// Its end.
        until_ms: u64,
    },
    /// A slow fault's range is reversed.
    #[error("rule {rule} (site `{site}`): slow range {min_ms}..={max_ms} ms is reversed")]
    SlowRange {
        /// The rule's position, from 0.
        rule: usize,
        /// Its site.
        site: String,
        /// Its shortest latency.
        min_ms: u64,
        /// Its longest latency.
        max_ms: u64,
    },
    /// Random kills every 0 ms.
    #[error("kills: every_ms must be greater than zero")]
    KillInterval,
}

impl FaultPlan {
    /// Reads and checks a plan from a `.toml` or `.json` file.
    ///
    /// The path must name a regular file (a symbolic link to one is fine) of at most
    /// [`MAX_PLAN_BYTES`]; both are checked before anything is read, and the read stops
    /// at the limit even if the file grows meanwhile.
    ///
    /// # Errors
    ///
    /// [`PlanError::UnknownFormat`] for another extension, [`PlanError::NotAFile`],
    /// [`PlanError::TooLarge`], [`PlanError::Read`] or [`PlanError::NotText`] for a file
    /// that cannot be read as a plan (each naming the path), and the errors of
    /// [`from_toml`](Self::from_toml) and [`from_json`](Self::from_json) for its text.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self, PlanError> {
        let path = path.as_ref();
        let shown = path.display().to_string();
        let parse: fn(&str) -> Result<Self, PlanError> = match path.extension().and_then(|ext| ext.to_str()) {
            Some("toml") => Self::from_toml,
            Some("json") => Self::from_json,
            _ => return Err(PlanError::UnknownFormat { path: shown }),
        };
        let text = read_bounded(path, &shown)?;
        parse(&text)
    }

    /// Parses and checks a plan written in TOML.
    pub fn from_toml(text: &str) -> Result<Self, PlanError> {
        let plan: Self = toml::from_str(text).map_err(|error| PlanError::Parse {
            format: "TOML",
            message: error.to_string(),
        })?;
        plan.validate()?;
        Ok(plan)
    }

    /// Parses and checks a plan written in JSON.
    pub fn from_json(text: &str) -> Result<Self, PlanError> {
        let plan: Self = serde_json::from_str(text).map_err(|error| PlanError::Parse {
            format: "JSON",
            message: error.to_string(),
        })?;
        plan.validate()?;
        Ok(plan)
    }

    /// Checks every rule and the kill schedule.
    pub fn validate(&self) -> Result<(), PlanError> {
        for (index, rule) in self.rules.iter().enumerate() {
            if rule.site.is_empty() {
                return Err(PlanError::EmptySite { rule: index });
            }
            if !(0.0..=1.0).contains(&rule.probability) {
                return Err(PlanError::Probability {
                    rule: index,
                    site: rule.site.clone(),
                    probability: rule.probability,
                });
            }
            if let FaultKind::Slow { min_ms, max_ms } = rule.fault
                && min_ms > max_ms
            {
                return Err(PlanError::SlowRange {
                    rule: index,
                    site: rule.site.clone(),
                    min_ms,
                    max_ms,
                });
            }
            check_window(rule.window, || format!("rule {index} (site `{}`)", rule.site))?;
        }
        if let Some(kills) = &self.kills {
            if kills.every_ms == 0 {
                return Err(PlanError::KillInterval);
            }
            check_window(kills.window, || "kills".to_owned())?;
        }
        Ok(())
    }
}

/// Reads the plan file at `path` after checking that it is a regular file within
/// [`MAX_PLAN_BYTES`].
fn read_bounded(path: &Path, shown: &str) -> Result<String, PlanError> {
    let read_error = |source| PlanError::Read {
        path: shown.to_owned(),
        source,
    };
    let too_large = |size| PlanError::TooLarge {
        path: shown.to_owned(),
        size,
        limit: MAX_PLAN_BYTES,
    };
    // `metadata` follows links and never blocks, unlike opening a FIFO.
    let metadata = std::fs::metadata(path).map_err(read_error)?;
    if !metadata.is_file() {
        return Err(PlanError::NotAFile {
            path: shown.to_owned(),
            kind: describe(&metadata),
        });
    }
    if metadata.len() > MAX_PLAN_BYTES {
        return Err(too_large(metadata.len()));
    }
    let file = File::open(path).map_err(read_error)?;
    let mut bytes = Vec::new();
    file.take(MAX_PLAN_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    let read = bytes.len() as u64;
    if read > MAX_PLAN_BYTES {
        return Err(too_large(read));
    }
    String::from_utf8(bytes).map_err(|_| PlanError::NotText {
        path: shown.to_owned(),
    })
}

/// What a path that is not a regular file is, for the error.
fn describe(metadata: &Metadata) -> &'static str {
    let kind = metadata.file_type();
    if kind.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a FIFO";
        }
        if kind.is_char_device() {
            return "a character device";
        }
        if kind.is_block_device() {
            return "a block device";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    "not a regular file"
}

fn check_window(window: Option<Window>, what: impl FnOnce() -> String) -> Result<(), PlanError> {
    match window {
        Some(Window { from_ms, until_ms }) if from_ms >= until_ms => Err(PlanError::Window {
            what: what(),
            from_ms,
            until_ms,
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::FaultRule;

    #[test]
    fn the_documented_toml_plan_parses() {
        let plan = FaultPlan::from_toml(
            r#"
            seed = 7
            [[rules]]
            site = "extract"
            fault = { kind = "hang" }
            probability = 0.02
            [[rules]]
            site = "storage"
            fault = { kind = "outage" }
            probability = 1.0
            window = { from_ms = 20000, until_ms = 35000 }
            [kills]
            every_ms = 15000
            max_count = 3
            "#,
        )
        .unwrap();
        assert_eq!(plan.seed, 7);
        assert_eq!(plan.rules[1].fault, FaultKind::Outage);
        assert_eq!(plan.kills.unwrap().max_count, Some(3));
    }

    /// A fresh directory under the system's temporary one, removed on drop.
    struct Scratch(std::path::PathBuf);

    impl Scratch {
        fn new(test: &str) -> Self {
            let dir = std::env::temp_dir().join(format!("hale-chaos-{test}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn a_plan_file_beyond_the_limit_is_refused_without_being_read() {
        let scratch = Scratch::new("large");
        let path = scratch.0.join("huge.toml");
        // Sparse: 50 MB long, nothing written.
        File::create(&path).unwrap().set_len(50_000_000).unwrap();
        let refused = FaultPlan::from_path(&path);
        assert!(
            matches!(&refused, Err(PlanError::TooLarge { size: 50_000_000, limit: MAX_PLAN_BYTES, path: shown })
                if shown.ends_with("huge.toml")),
            "{refused:?}"
        );
        let fits = scratch.0.join("fits.toml");
        std::fs::write(&fits, "seed = 3\n").unwrap();
        assert_eq!(FaultPlan::from_path(&fits).unwrap().seed, 3);
    }

    #[test]
    fn a_directory_is_not_a_plan() {
        let scratch = Scratch::new("dir");
        let path = scratch.0.join("plans.toml");
        std::fs::create_dir(&path).unwrap();
        let refused = FaultPlan::from_path(&path);
        assert!(
            matches!(
                refused,
                Err(PlanError::NotAFile {
                    kind: "a directory",
                    ..
                })
            ),
            "{refused:?}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn an_endless_device_behind_a_plan_name_is_refused_before_reading() {
        let scratch = Scratch::new("device");
        let path = scratch.0.join("plan.toml");
        std::os::unix::fs::symlink("/dev/zero", &path).unwrap();
        let refused = FaultPlan::from_path(&path);
        assert!(
            matches!(&refused, Err(PlanError::NotAFile { kind: "a character device", path: shown })
                if shown.ends_with("plan.toml")),
            "{refused:?}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_is_refused_without_waiting_for_a_writer() {
        let scratch = Scratch::new("fifo");
        let path = scratch.0.join("plan.json");
        match std::process::Command::new("mkfifo").arg(&path).status() {
            Ok(status) if status.success() => {}
            _ => {
                println!("skipped: `mkfifo` is not available to make a FIFO");
                return;
            }
        }
        let refused = FaultPlan::from_path(&path);
        assert!(
            matches!(refused, Err(PlanError::NotAFile { kind: "a FIFO", .. })),
            "{refused:?}"
        );
    }

    #[test]
    fn json_and_code_give_the_same_plan() {
        let coded = FaultPlan::new(1)
            .rule(FaultRule::new("llm", FaultKind::Error { retryable: true }, 0.5).max_count(9));
        let json = serde_json::to_string(&coded).unwrap();
        assert_eq!(FaultPlan::from_json(&json).unwrap(), coded);
    }

    #[test]
    fn bad_plans_are_typed_errors() {
        let probability = FaultPlan::new(1).rule(FaultRule::new("a", FaultKind::Panic, 1.5));
        assert!(matches!(
            probability.validate(),
            Err(PlanError::Probability { rule: 0, .. })
        ));
        let window = FaultPlan::new(1).rule(FaultRule::new("a", FaultKind::Panic, 0.1).during(5, 5));
        assert!(matches!(window.validate(), Err(PlanError::Window { .. })));
        let nan = FaultPlan::new(1).rule(FaultRule::new("a", FaultKind::Panic, f64::NAN));
        assert!(matches!(nan.validate(), Err(PlanError::Probability { .. })));
        let unknown = FaultPlan::from_toml(
            "[[rules]]\nsite = \"a\"\nfault = { kind = \"meteor\" }\nprobability = 0.1\n",
        );
        assert!(
            matches!(unknown, Err(PlanError::Parse { format: "TOML", .. })),
            "{unknown:?}"
        );
        let typo = FaultPlan::from_json(r#"{"seed": 1, "rulez": []}"#);
        assert!(matches!(typo, Err(PlanError::Parse { .. })));
        for fault in [
            r#"{ kind = "hang", ms = 5 }"#,
            r#"{ kind = "error", retryable = true, after_ms = 5 }"#,
            r#"{ kind = "slow", min_ms = 1, max_ms = 2, median_ms = 1 }"#,
        ] {
            let text = format!("[[rules]]\nsite = \"a\"\nfault = {fault}\nprobability = 0.1\n");
            let parsed = FaultPlan::from_toml(&text);
            assert!(
                matches!(&parsed, Err(PlanError::Parse { message, .. }) if message.contains("unknown field")),
                "{fault}: {parsed:?}"
            );
        }
        let json = FaultPlan::from_json(
            r#"{"rules": [{"site": "a", "fault": {"kind": "panic", "why": 1}, "probability": 0.1}]}"#,
        );
        assert!(matches!(json, Err(PlanError::Parse { .. })), "{json:?}");
        let window = FaultPlan::from_toml(
            "[[rules]]\nsite = \"a\"\nfault = { kind = \"panic\" }\nprobability = 0.1\nwindow = { from_ms = 1, until_ms = 2, every_ms = 3 }\n",
        );
        assert!(matches!(window, Err(PlanError::Parse { .. })), "{window:?}");
        assert!(matches!(
            FaultPlan::from_path("plan.yaml"),
            Err(PlanError::UnknownFormat { .. })
        ));
        assert!(matches!(
            FaultPlan::from_path("no-such-plan.toml"),
            Err(PlanError::Read { .. })
        ));
    }
}
