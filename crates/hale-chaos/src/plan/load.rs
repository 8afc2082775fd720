//! Reading plans from files, and checking them.

use std::path::Path;

use crate::plan::{FaultKind, FaultPlan, Window};

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
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self, PlanError> {
        let path = path.as_ref();
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| PlanError::Read {
            path: shown.clone(),
            source,
        })?;
        match path.extension().and_then(|ext| ext.to_str()) {
            Some("toml") => Self::from_toml(&text),
            Some("json") => Self::from_json(&text),
            _ => Err(PlanError::UnknownFormat { path: shown }),
        }
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
        assert!(matches!(
            FaultPlan::from_path("plan.yaml"),
            Err(PlanError::Read { .. })
        ));
    }
}
