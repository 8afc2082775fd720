//! Nanosecond-scale figures under criterion (`cargo bench -p hale-bench`):
//! the circuit breaker and the retry policy around a call that succeeds,
//! against the bare call, and a heartbeat beat.
//!
//! The peer comparison and everything above a microsecond is the
//! `hale-bench` program (`cargo run --release -p hale-bench`).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use hale_core::Heartbeat;
use hale_resilience::{CircuitBreaker, RetryPolicy};

async fn succeed() -> Result<u64, String> {
    Ok(black_box(1))
}

fn wrappers(c: &mut Criterion) {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
        eprintln!("no tokio runtime");
        return;
    };
    let Ok(breaker) = CircuitBreaker::builder("bench").build() else {
        eprintln!("breaker config rejected");
        return;
    };
    let Ok(retry) = RetryPolicy::builder("bench").maximum_attempts(3).build() else {
        eprintln!("retry config rejected");
        return;
    };
    let mut group = c.benchmark_group("succeeding call");
    group.bench_function("bare", |b| b.to_async(&runtime).iter(succeed));
    group.bench_function("circuit breaker", |b| {
        b.to_async(&runtime).iter(|| breaker.call(succeed));
    });
    group.bench_function("retry", |b| b.to_async(&runtime).iter(|| retry.call(succeed)));
    group.finish();
}

fn heartbeat(c: &mut Criterion) {
    let heartbeat = Heartbeat::new();
    c.bench_function("heartbeat beat", |b| b.iter(|| black_box(&heartbeat).beat()));
}

criterion_group!(benches, wrappers, heartbeat);
criterion_main!(benches);
