//! [`Workflow`]: what a user writes, and the definition check that keeps a
//! changed workflow from replaying old checkpoints wrongly.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::context::WorkflowContext;
use crate::error::{DefinitionChange, WorkflowError};

/// A durable workflow: named steps in plain Rust code.
///
/// `run` is called on every start and on every resume. Steps whose results
/// are checkpointed return them without running again, so the code between
/// steps must decide the same way each time it is replayed (branch on step
/// results and the input, not on the clock or a random number; put those in
/// a step).
///
/// `STEPS` declares every step and gate name the workflow may use, in the
/// order they run. It is stored with each run; a resume under a definition
/// whose steps were renamed, removed or reordered fails with
/// [`DurableError::DefinitionChanged`](crate::DurableError::DefinitionChanged)
/// instead of replaying checkpoints into the wrong steps. Steps added at
/// the end are allowed.
///
/// ```
/// use hale_durable::{StepError, Workflow, WorkflowContext, WorkflowError};
///
/// struct Greet;
///
/// impl Workflow for Greet {
///     type Input = String;
///     type Output = String;
///     const NAME: &'static str = "greet";
///     const STEPS: &'static [&'static str] = &["shout"];
///
///     async fn run(&self, ctx: &mut WorkflowContext, name: String) -> Result<String, WorkflowError> {
///         ctx.step("shout")
///             .run(name, |name, _info| async move { Ok::<_, StepError>(name.to_uppercase()) })
///             .await
///     }
/// }
/// assert_eq!(Greet::STEPS, ["shout"]);
/// ```
pub trait Workflow: Send + Sync + 'static {
    /// The input, kept with the workflow (and in its dead letter).
    type Input: Serialize + DeserializeOwned + Send + 'static;
    /// The output, kept when it completes.
    type Output: Serialize + DeserializeOwned + Send + 'static;
    /// The workflow's name: stored with each run, looked up on resume.
    const NAME: &'static str;
    /// Every step and gate name, in order.
    const STEPS: &'static [&'static str];

    /// The workflow's code.
    fn run(
        &self,
        ctx: &mut WorkflowContext,
        input: Self::Input,
    ) -> impl Future<Output = Result<Self::Output, WorkflowError>> + Send;
}

pub(crate) type ErasedFuture<'a> = Pin<Box<dyn Future<Output = Result<String, WorkflowError>> + Send + 'a>>;

/// A registered workflow with its types erased: JSON in, JSON out.
pub(crate) trait ErasedWorkflow: Send + Sync {
    fn steps(&self) -> &'static [&'static str];
    fn run_json<'a>(&'a self, ctx: &'a mut WorkflowContext, input: &'a str) -> ErasedFuture<'a>;
}

pub(crate) struct Registered<W>(pub(crate) Arc<W>);

impl<W: Workflow> ErasedWorkflow for Registered<W> {
    fn steps(&self) -> &'static [&'static str] {
        W::STEPS
    }

    fn run_json<'a>(&'a self, ctx: &'a mut WorkflowContext, input: &'a str) -> ErasedFuture<'a> {
        Box::pin(async move {
            let input: W::Input = serde_json::from_str(input).map_err(|error| WorkflowError::Serde {
                what: format!("input of `{}`", W::NAME),
                detail: error.to_string(),
            })?;
            let output = self.0.run(ctx, input).await?;
            serde_json::to_string(&output).map_err(|error| WorkflowError::Serde {
                what: format!("output of `{}`", W::NAME),
                detail: error.to_string(),
            })
        })
    }
}

/// What changed between the step list a run was recorded under and the one
/// registered now. Empty when the run can resume: the lists are equal, or
/// steps were only added at the end.
pub(crate) fn definition_changes(recorded: &[String], now: &[&str]) -> Vec<DefinitionChange> {
    let mut changes = Vec::new();
    let in_now = |name: &str| now.contains(&name);
    let in_recorded = |name: &str| recorded.iter().any(|r| r == name);
    let mut renamed = Vec::new();
    for (position, (was, is)) in recorded.iter().zip(now.iter()).enumerate() {
        if was != is && !in_now(was) && !in_recorded(is) {
            renamed.push(was.clone());
            changes.push(DefinitionChange::Renamed {
                position,
                was: was.clone(),
                now: (*is).to_owned(),
            });
        }
    }
    for was in recorded {
        if !in_now(was) && !renamed.contains(was) {
            changes.push(DefinitionChange::Removed { step: was.clone() });
        }
    }
    let common_recorded: Vec<String> = recorded.iter().filter(|name| in_now(name)).cloned().collect();
    let common_now: Vec<String> = now
        .iter()
        .filter(|name| in_recorded(name))
        .map(|name| (*name).to_owned())
        .collect();
    if common_recorded != common_now {
        changes.push(DefinitionChange::Reordered {
            was: common_recorded,
            now: common_now,
        });
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|name| (*name).to_owned()).collect()
    }

    #[test]
    fn changes_are_named() {
        let recorded = names(&["reserve", "charge", "ship"]);
        assert!(definition_changes(&recorded, &["reserve", "charge", "ship"]).is_empty());
        assert!(definition_changes(&recorded, &["reserve", "charge", "ship", "notify"]).is_empty());
        assert_eq!(
            definition_changes(&recorded, &["reserve", "bill", "ship"]),
            [DefinitionChange::Renamed {
                position: 1,
                was: "charge".into(),
                now: "bill".into()
            }]
        );
        assert_eq!(
            definition_changes(&recorded, &["reserve", "ship"]),
            [DefinitionChange::Removed {
                step: "charge".into()
            }]
        );
        assert!(matches!(
            definition_changes(&recorded, &["charge", "reserve", "ship"]).as_slice(),
            [DefinitionChange::Reordered { .. }]
        ));
    }
}
