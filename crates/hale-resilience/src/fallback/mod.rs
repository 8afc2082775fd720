//! Fallback chains: ordered alternatives that end in an explicit escalation.
//!
//! When the primary way to answer fails, an agent should try cheaper or staler ways
//! before giving up, and "giving up" should be a decision someone made, not a bare error
//! bubbling out. A [`FallbackChain`] holds, in order:
//!
//! ```text
//! primary model ──fail──▶ smaller model ──fail──▶ cache ──fail──▶ static answer
//!                                                                     │ fail
//!                                                                     ▼
//!                                                escalation handler (e.g. enqueue for a human)
//! ```
//!
//! Each alternative is tried with its own policies: give it its own
//! [`Pipeline`](crate::Pipeline) with [`FallbackChainBuilder::alternative_via`], or wrap
//! its call by hand and add it with [`FallbackChainBuilder::resilient_alternative`]. Any
//! error, including a rejection by an open breaker, moves on to the next alternative.
//!
//! A chain cannot be built without an escalation handler. It receives the input and every
//! failure in order; what it returns is the chain's answer, marked
//! [`AnsweredBy::Escalation`]. Every [`Answer`] says which alternative produced it and
//! lists the failures before it. Each step down the chain is a
//! [`FallbackTaken`](crate::EventKind::FallbackTaken) event and reaching the handler an
//! [`Escalated`](crate::EventKind::Escalated) event.

mod chain;
mod outcome;

pub use chain::{FallbackChain, FallbackChainBuilder, FallbackStats};
pub use outcome::{AlternativeFailure, Answer, AnsweredBy, Escalation, EscalationFailed};

#[cfg(test)]
mod tests;
