//! Hale: a self-healing runtime for multi-agent systems (work in progress).
pub use hale_core as core;
pub use hale_resilience as resilience;
