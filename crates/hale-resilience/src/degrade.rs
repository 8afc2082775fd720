//! Graceful degradation: critical steps stop a run, optional steps fall back to a
//! declared neutral default, and the result says what was degraded.
//!
//! A travel-planning agent must find flights, but can live without the weather forecast
//! or the restaurant tips. A [`DegradableRun`] makes that explicit, step by step:
//!
//! - [`critical`](DegradableRun::critical) steps return their error as
//!   [`CriticalStepFailed`], naming the step; `?` stops the run there;
//! - [`optional`](DegradableRun::optional) steps that fail yield the neutral default the
//!   step declared, and are recorded (and reported as a
//!   [`Degraded`](crate::EventKind::Degraded) event);
//! - [`finish`](DegradableRun::finish) wraps the run's value in a [`Degraded`] that lists
//!   every degraded step, so the caller can say "here is your plan, without weather".
//!
//! Steps are plain futures: give each its own policies (timeout, retry...) as needed.
//!
//! ```
//! use hale_resilience::{CriticalStepFailed, DegradableRun, Degraded};
//!
//! async fn plan_trip() -> Result<Degraded<String>, CriticalStepFailed<String>> {
//!     let mut run = DegradableRun::new("plan-trip");
//!     let flights = run.critical("flights", async { Ok::<_, String>("LH 123") }).await?;
//!     let weather = run
//!         .optional("weather", "forecast unavailable", async {
//!             Err::<&str, _>("weather API down".to_string())
//!         })
//!         .await;
//!     Ok(run.finish(format!("{flights}; {weather}")))
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let plan = plan_trip().await.unwrap();
//! assert_eq!(plan.value, "LH 123; forecast unavailable");
//! assert_eq!(plan.degraded[0].step, "weather");
//! # }
//! ```

use std::fmt::{self, Display};
use std::future::Future;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::events::{EventKind, ResilienceBus};

/// An optional step that failed and was replaced by its default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DegradedStep {
    /// The step's name.
    pub step: String,
    /// Why it failed.
    pub error: String,
}

/// A run's value with the list of what was degraded to produce it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Degraded<T> {
    /// The value.
    pub value: T,
    /// Optional steps that failed, in the order they ran.
    pub degraded: Vec<DegradedStep>,
}

impl<T> Degraded<T> {
    /// True when at least one optional step fell back to its default.
    ///
    /// # Examples
    ///
    /// ```
    /// let plan = hale_resilience::DegradableRun::new("trip").finish("plan");
    /// assert!(!plan.is_degraded());
    /// ```
    pub fn is_degraded(&self) -> bool {
        !self.degraded.is_empty()
    }
}

/// A critical step failed; the run stops here.
#[derive(Debug, Clone, thiserror::Error)]
#[error("critical step `{step}` of `{run}` failed: {error}")]
pub struct CriticalStepFailed<E> {
    /// The run's name.
    pub run: String,
    /// The step that failed.
    pub step: String,
    /// Its error.
    pub error: E,
    /// Optional steps degraded before it.
    pub degraded: Vec<DegradedStep>,
}

/// One run of steps, some critical and some optional. See the module docs.
pub struct DegradableRun {
    name: Arc<str>,
    events: ResilienceBus,
    degraded: Vec<DegradedStep>,
}

impl DegradableRun {
    /// Starts a run named `name` (the task, e.g. `"plan-trip"`).
    ///
    /// # Examples
    ///
    /// ```
    /// let run = hale_resilience::DegradableRun::new("plan-trip");
    /// assert!(run.degraded().is_empty());
    /// ```
    pub fn new(name: impl Into<Arc<str>>) -> Self {
        Self {
            name: name.into(),
            events: ResilienceBus::default(),
            degraded: Vec::new(),
        }
    }

    /// Reports degradations to `bus` (they are traced either way).
    ///
    /// # Examples
    ///
    /// ```
    /// use hale_resilience::{DegradableRun, ResilienceBus};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let bus = ResilienceBus::new();
    /// let mut events = bus.subscribe();
    /// let mut run = DegradableRun::new("trip").events(&bus);
    /// run.optional("weather", "unknown", async { Err::<&str, _>("503") }).await;
    /// assert_eq!(events.try_recv().unwrap().policy, "trip");
    /// # }
    /// ```
    pub fn events(mut self, bus: &ResilienceBus) -> Self {
        self.events = bus.clone();
        self
    }

    /// Runs a step the run cannot do without. Its error comes back as
    /// [`CriticalStepFailed`] naming the step.
    ///
    /// # Errors
    ///
    /// [`CriticalStepFailed`] with the step's error and the optional steps degraded
    /// before it.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future drops the step; nothing is recorded in the run.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let mut run = hale_resilience::DegradableRun::new("trip");
    /// let failed = run.critical("flights", async { Err::<(), _>("timeout") }).await.unwrap_err();
    /// assert_eq!(failed.step, "flights");
    /// # }
    /// ```
    pub async fn critical<T, E, Fut>(&mut self, step: &str, work: Fut) -> Result<T, CriticalStepFailed<E>>
    where
        Fut: Future<Output = Result<T, E>>,
    {
        // A supervised caller's heartbeat beats as each step begins.
        hale_util::report_progress();
        work.await.map_err(|error| CriticalStepFailed {
            run: self.name.to_string(),
            step: step.to_owned(),
            error,
            degraded: self.degraded.clone(),
        })
    }

    /// Runs a step the run can do without; if it fails, records it and returns `neutral`.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future drops the step; nothing is recorded in the run.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let mut run = hale_resilience::DegradableRun::new("trip");
    /// let weather = run.optional("weather", "unknown", async { Err::<&str, _>("503") }).await;
    /// assert_eq!(weather, "unknown");
    /// assert_eq!(run.degraded()[0].error, "503");
    /// # }
    /// ```
    pub async fn optional<T, E, Fut>(&mut self, step: &str, neutral: T, work: Fut) -> T
    where
        E: Display,
        Fut: Future<Output = Result<T, E>>,
    {
        self.optional_or_else(step, || neutral, work).await
    }

    /// Like [`optional`](Self::optional), building the default only when it is needed.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future drops the step; nothing is recorded in the run.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let mut run = hale_resilience::DegradableRun::new("trip");
    /// let tips: Vec<String> = run.optional_or_else("tips", Vec::new, async { Err("500") }).await;
    /// assert!(tips.is_empty());
    /// # }
    /// ```
    pub async fn optional_or_else<T, E, D, Fut>(&mut self, step: &str, neutral: D, work: Fut) -> T
    where
        E: Display,
        D: FnOnce() -> T,
        Fut: Future<Output = Result<T, E>>,
    {
        hale_util::report_progress();
        match work.await {
            Ok(value) => value,
            Err(error) => {
                let error = error.to_string();
                self.events.emit(
                    &self.name,
                    EventKind::Degraded {
                        step: step.to_owned(),
                        error: error.clone(),
                    },
                );
                self.degraded.push(DegradedStep {
                    step: step.to_owned(),
                    error,
                });
                neutral()
            }
        }
    }

    /// The optional steps degraded so far.
    ///
    /// # Examples
    ///
    /// ```
    /// let run = hale_resilience::DegradableRun::new("trip");
    /// assert!(run.degraded().is_empty());
    /// ```
    pub fn degraded(&self) -> &[DegradedStep] {
        &self.degraded
    }

    /// Ends the run with its value and the list of degraded steps.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let mut run = hale_resilience::DegradableRun::new("trip");
    /// let weather = run.optional("weather", "unknown", async { Err::<&str, _>("503") }).await;
    /// let plan = run.finish(format!("flights; {weather}"));
    /// assert!(plan.is_degraded());
    /// # }
    /// ```
    pub fn finish<T>(self, value: T) -> Degraded<T> {
        Degraded {
            value,
            degraded: self.degraded,
        }
    }
}

impl fmt::Debug for DegradableRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DegradableRun")
            .field("name", &self.name)
            .field("degraded", &self.degraded)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, PartialEq)]
    struct Plan {
        flights: Vec<String>,
        weather: Option<String>,
        tips: Vec<String>,
    }

    async fn plan(
        run: &mut DegradableRun,
        flights_up: bool,
        weather_up: bool,
        tips_up: bool,
    ) -> Result<Plan, CriticalStepFailed<String>> {
        let weather = run
            .optional("weather", None, async move {
                if weather_up {
                    Ok(Some("sunny".to_string()))
                } else {
                    Err("weather: 503")
                }
            })
            .await;
        let flights = run
            .critical("flights", async move {
                if flights_up {
                    Ok(vec!["LH 123".to_string()])
                } else {
                    Err("flights: timeout".to_string())
                }
            })
            .await?;
        let tips = run
            .optional_or_else("tips", Vec::new, async move {
                if tips_up {
                    Ok(vec!["try the pho".to_string()])
                } else {
                    Err("tips: 500")
                }
            })
            .await;
        Ok(Plan {
            flights,
            weather,
            tips,
        })
    }

    #[tokio::test]
    async fn failed_optional_steps_yield_their_defaults_and_are_listed() {
        let bus = ResilienceBus::new();
        let mut events = bus.subscribe();
        let mut run = DegradableRun::new("trip").events(&bus);
        let value = plan(&mut run, true, false, false).await.unwrap();
        let result = run.finish(value);
        assert_eq!(
            result.value,
            Plan {
                flights: vec!["LH 123".into()],
                weather: None,
                tips: vec![]
            }
        );
        assert_eq!(
            result.degraded,
            vec![
                DegradedStep {
                    step: "weather".into(),
                    error: "weather: 503".into()
                },
                DegradedStep {
                    step: "tips".into(),
                    error: "tips: 500".into()
                },
            ]
        );
        let degraded_events: Vec<String> = events
            .drain()
            .into_iter()
            .filter_map(|e| match e.kind {
                EventKind::Degraded { step, .. } => Some(step),
                _ => None,
            })
            .collect();
        assert_eq!(degraded_events, vec!["weather", "tips"]);
    }

    #[tokio::test]
    async fn a_healthy_run_is_not_degraded() {
        let mut run = DegradableRun::new("trip");
        let value = plan(&mut run, true, true, true).await.unwrap();
        let result = run.finish(value);
        assert!(!result.is_degraded());
        assert_eq!(result.value.weather.as_deref(), Some("sunny"));
    }

    #[tokio::test]
    async fn a_critical_failure_stops_the_run_and_names_the_step() {
        let mut run = DegradableRun::new("trip");
        let failed = plan(&mut run, false, false, true).await.unwrap_err();
        assert_eq!(failed.step, "flights");
        assert_eq!(failed.error, "flights: timeout");
        assert_eq!(failed.degraded.len(), 1, "the weather was degraded before it");
        assert_eq!(
            failed.to_string(),
            "critical step `flights` of `trip` failed: flights: timeout"
        );
        assert_eq!(run.degraded().len(), 1, "the tips step never ran");
    }
}
