//! The command line every chaos example shares:
//! `-- [--seed N] [--items N] [--plan FILE] [--json FILE]`.

use std::path::PathBuf;

/// The options of a chaos example.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunArgs {
    /// The seed (default 42).
    pub seed: u64,
    /// How many work items (default: the example's own).
    pub items: u64,
    /// A fault plan file replacing the example's own plan.
    pub plan: Option<PathBuf>,
    /// Where to write the report as JSON.
    pub json: Option<PathBuf>,
}

/// A command line that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ArgsError {
    /// An option this program does not know.
    #[error("unknown option `{0}` (options: --seed N, --items N, --plan FILE, --json FILE)")]
    Unknown(String),
    /// An option without its value.
    #[error("option `{0}` needs a value")]
    MissingValue(String),
    /// A number that is not one.
    #[error("option `{option}`: `{value}` is not a whole number")]
    NotANumber {
        /// The option.
        option: String,
        /// What was given.
        value: String,
    },
}

impl RunArgs {
    /// Reads the process's arguments; `default_items` when `--items` is not
    /// given.
    pub fn from_env(default_items: u64) -> Result<Self, ArgsError> {
        Self::parse(std::env::args().skip(1), default_items)
    }

    /// Reads `args` (without the program name).
    pub fn parse(args: impl IntoIterator<Item = String>, default_items: u64) -> Result<Self, ArgsError> {
        let mut parsed = Self {
            seed: 42,
            items: default_items,
            plan: None,
            json: None,
        };
        let mut args = args.into_iter();
        while let Some(option) = args.next() {
            let mut value = || args.next().ok_or_else(|| ArgsError::MissingValue(option.clone()));
            match option.as_str() {
                "--seed" => parsed.seed = number(&option, value()?)?,
                "--items" => parsed.items = number(&option, value()?)?,
                "--plan" => parsed.plan = Some(PathBuf::from(value()?)),
                "--json" => parsed.json = Some(PathBuf::from(value()?)),
                _ => return Err(ArgsError::Unknown(option)),
            }
        }
        Ok(parsed)
    }
}

fn number(option: &str, value: String) -> Result<u64, ArgsError> {
    value.parse().map_err(|_| ArgsError::NotANumber {
        option: option.to_owned(),
        value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Result<RunArgs, ArgsError> {
        RunArgs::parse(line.split_whitespace().map(str::to_owned), 100)
    }

    #[test]
    fn reads_options_and_defaults() {
        assert_eq!(args("").unwrap().seed, 42);
        let parsed = args("--seed 7 --items 5 --json out.json").unwrap();
        assert_eq!((parsed.seed, parsed.items), (7, 5));
        assert_eq!(parsed.json, Some(PathBuf::from("out.json")));
        assert!(matches!(args("--seed x"), Err(ArgsError::NotANumber { .. })));
        assert!(matches!(args("--items"), Err(ArgsError::MissingValue(_))));
        assert!(matches!(args("--fast"), Err(ArgsError::Unknown(_))));
    }
}
