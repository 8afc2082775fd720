//! The fault injector: decides, deterministically, which calls a plan hits.
//!
//! A decision is a pure function of the seed, the rule, the call site, the
//! work item's key and the attempt number (plus the rule's window and count
//! limit), never of the order in which concurrent calls happen to arrive. So
//! the same seed and plan hit the same calls of the same items, run after
//! run.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::plan::{FaultKind, FaultPlan};

/// An injected failure, as the call's caller sees it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("injected {kind} at `{site}`")]
pub struct FaultError {
    /// The call site.
    pub site: String,
    /// The fault's name.
    pub kind: &'static str,
    /// Whether a retry may help (errors marked retryable, outages).
    pub retryable: bool,
}

/// The result of a call the injector wrapped: the call's own error, or an
/// injected one.
#[derive(Debug, thiserror::Error)]
pub enum Injected<E> {
    /// The plan made this call fail.
    #[error(transparent)]
    Fault(FaultError),
    /// The call itself failed.
    #[error("{0}")]
    Call(E),
}

/// One injected fault, for the run's log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultRecord {
    /// Run time of the injection, in ms.
    pub at_ms: u64,
    /// The call site (or the killed actor's path).
    pub site: String,
    /// The work item's key.
    pub key: u64,
    /// The attempt number.
    pub attempt: u32,
    /// The fault's name.
    pub fault: String,
}

/// Decides and applies the faults of a plan. Cheap to clone: clones share
/// counters and the log.
#[derive(Clone, Debug)]
pub struct Injector {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    plan: FaultPlan,
    started: Instant,
    fired: Vec<AtomicU64>,
    log: Mutex<Vec<FaultRecord>>,
}

impl Injector {
    /// An injector for `plan` (checked already); run time starts now.
    pub fn new(plan: FaultPlan) -> Self {
        let fired = plan.rules.iter().map(|_| AtomicU64::new(0)).collect();
        Self {
            inner: Arc::new(Inner {
                plan,
                started: Instant::now(),
                fired,
                log: Mutex::new(Vec::new()),
            }),
        }
    }

    /// The plan.
    pub fn plan(&self) -> &FaultPlan {
        &self.inner.plan
    }

    /// Run time so far, in ms.
    pub fn elapsed_ms(&self) -> u64 {
        hale_util::millis(self.inner.started.elapsed())
    }

    /// The fault, if any, that the plan puts on attempt `attempt` of item
    /// `key` at `site` now. Recorded in the log when there is one.
    pub fn decide(&self, site: &str, key: u64, attempt: u32) -> Option<FaultKind> {
        let now = self.elapsed_ms();
        let seed = self.inner.plan.seed;
        for (index, rule) in self.inner.plan.rules.iter().enumerate() {
            if rule.site != site || rule.window.is_some_and(|window| !window.contains(now)) {
                continue;
            }
            let draw = unit(&[seed, index as u64, fnv(site.as_bytes()), key, u64::from(attempt)]);
            if draw >= rule.probability {
                continue;
            }
            let fired = &self.inner.fired[index];
            let admitted = fired
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                    rule.max_count.is_none_or(|max| n < max).then_some(n + 1)
                })
                .is_ok();
            if admitted {
                self.record(site, key, attempt, rule.fault.name());
                return Some(rule.fault.clone());
            }
        }
        None
    }

    /// Runs `call` under whatever fault the plan puts on it: a panic, an
    /// injected error, a delay, a hang, an outage, or `corrupt` applied to
    /// its result.
    pub async fn inject<T, E, Fut>(
        &self,
        site: &str,
        key: u64,
        attempt: u32,
        call: impl FnOnce() -> Fut,
        corrupt: impl FnOnce(T) -> T,
    ) -> Result<T, Injected<E>>
    where
        Fut: Future<Output = Result<T, E>>,
    {
        let fault = self.decide(site, key, attempt);
        let error = |kind: &FaultKind, retryable| {
            Injected::Fault(FaultError {
                site: site.to_owned(),
                kind: kind.name(),
                retryable,
            })
        };
        match &fault {
            None | Some(FaultKind::Corrupt) => {}
            Some(FaultKind::Panic) => {
                crate::inject_panic(format!("chaos: injected panic at `{site}` (item {key})"))
            }
            Some(kind @ FaultKind::Error { retryable }) => return Err(error(kind, *retryable)),
            Some(kind @ FaultKind::Outage) => return Err(error(kind, true)),
            Some(FaultKind::Delay { ms }) => tokio::time::sleep(Duration::from_millis(*ms)).await,
            Some(FaultKind::Slow { min_ms, max_ms }) => {
                let span = max_ms.saturating_sub(*min_ms);
                let extra =
                    (unit(&[self.inner.plan.seed, key, u64::from(attempt), 0x5107]) * span as f64) as u64;
                tokio::time::sleep(Duration::from_millis(min_ms + extra)).await;
            }
            Some(FaultKind::Hang) => std::future::pending::<()>().await,
        }
        let value = call().await.map_err(Injected::Call)?;
        Ok(match fault {
            Some(FaultKind::Corrupt) => corrupt(value),
            _ => value,
        })
    }

    /// Records a fault injected outside [`decide`](Self::decide) (a kill).
    pub fn record(&self, site: &str, key: u64, attempt: u32, fault: &str) {
        let record = FaultRecord {
            at_ms: self.elapsed_ms(),
            site: site.to_owned(),
            key,
            attempt,
            fault: fault.to_owned(),
        };
        self.lock_log().push(record);
    }

    /// Every fault injected so far, in order.
    pub fn log(&self) -> Vec<FaultRecord> {
        self.lock_log().clone()
    }

    /// Faults injected so far, by name.
    pub fn counts(&self) -> BTreeMap<String, u64> {
        let mut counts = BTreeMap::new();
        for record in self.lock_log().iter() {
            *counts.entry(record.fault.clone()).or_insert(0) += 1;
        }
        counts
    }

    fn lock_log(&self) -> std::sync::MutexGuard<'_, Vec<FaultRecord>> {
        hale_util::lock(&self.inner.log)
    }
}

/// A uniform draw in `[0, 1)` from a list of words (splitmix64 over them).
pub(crate) fn unit(words: &[u64]) -> f64 {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    for &word in words {
        state = splitmix(state ^ word);
    }
    (state >> 11) as f64 / (1u64 << 53) as f64
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// FNV-1a, 64 bit: a stable hash, the same on every platform and run.
pub(crate) fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::FaultRule;

    fn hits(injector: &Injector, keys: std::ops::Range<u64>) -> Vec<u64> {
        keys.filter(|&key| injector.decide("llm", key, 0).is_some())
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn the_same_seed_hits_the_same_items_whatever_the_call_order() {
        let plan = FaultPlan::new(9).rule(FaultRule::new("llm", FaultKind::Error { retryable: true }, 0.1));
        let forward = hits(&Injector::new(plan.clone()), 0..2_000);
        let backward = Injector::new(plan.clone());
        let mut reversed: Vec<u64> = (0..2_000)
            .rev()
            .filter(|&k| backward.decide("llm", k, 0).is_some())
            .collect();
        reversed.sort_unstable();
        assert_eq!(forward, reversed);
        // About 10 % of 2 000.
        assert!((140..=260).contains(&forward.len()), "{}", forward.len());
        let other_seed = hits(&Injector::new(plan.with_seed(10)), 0..2_000);
        assert_ne!(forward, other_seed);
    }

    #[tokio::test(start_paused = true)]
    async fn count_limits_and_windows_bound_a_rule() {
        let plan = FaultPlan::new(1)
            .rule(FaultRule::new("db", FaultKind::Outage, 1.0).during(1_000, 2_000))
            .rule(FaultRule::new("llm", FaultKind::Panic, 1.0).max_count(3));
        let injector = Injector::new(plan);
        assert_eq!(hits(&injector, 0..100).len(), 3);
        assert!(injector.decide("db", 1, 0).is_none());
        tokio::time::advance(Duration::from_millis(1_500)).await;
        assert_eq!(injector.decide("db", 1, 0), Some(FaultKind::Outage));
        tokio::time::advance(Duration::from_millis(1_000)).await;
        assert!(injector.decide("db", 1, 0).is_none());
        assert_eq!(injector.counts().get("panic"), Some(&3));
    }

    #[tokio::test(start_paused = true)]
    async fn inject_applies_errors_delays_and_corruption() {
        let plan = FaultPlan::new(1)
            .rule(FaultRule::new("err", FaultKind::Error { retryable: false }, 1.0))
            .rule(FaultRule::new("slow", FaultKind::Delay { ms: 250 }, 1.0))
            .rule(FaultRule::new("bad", FaultKind::Corrupt, 1.0));
        let injector = Injector::new(plan);
        let ok = || async { Ok::<_, String>(2) };
        let failed = injector.inject("err", 0, 0, ok, |v| v).await;
        assert!(matches!(
            failed,
            Err(Injected::Fault(FaultError { retryable: false, .. }))
        ));
        let before = Instant::now();
        assert_eq!(injector.inject("slow", 0, 0, ok, |v| v).await.unwrap(), 2);
        assert_eq!(before.elapsed(), Duration::from_millis(250));
        assert_eq!(injector.inject("bad", 0, 0, ok, |v| v * 100).await.unwrap(), 200);
        assert_eq!(injector.inject("clean", 0, 0, ok, |v| v * 100).await.unwrap(), 2);
    }
}
