//! Loom model of the one lock-free word behind child references: the slot
//! that lets one background lookup at a time re-find a child whose
//! supervisor was restarted (`src/child_ref/refollow.rs`).
//!
//! ```text
//! RUSTFLAGS="--cfg hale_loom" cargo test -p hale-core --release --test loom_child_ref
//! ```
//!
//! The rest of a reference's machinery holds no lock-free state of Hale's
//! own: the publisher of a child's incarnations is a tokio watch channel and
//! a `Notify` (covered by tokio's loom models), and the latest record a
//! reference found sits behind a mutex.
#![cfg(hale_loom)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use hale_core::loom_models::LookupSlot;
use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;

/// Callers race for the slot, twice each: at most one lookup runs at any
/// moment, a caller that finds the slot free always gets it (no lookup is
/// lost to a slot left taken), and the slot is free once every lookup has
/// given it back.
#[test]
fn one_lookup_at_a_time_and_the_slot_is_never_lost() {
    loom::model(|| {
        let slot = Arc::new(LookupSlot::new());
        let running = Arc::new(AtomicUsize::new(0));
        let caller = |slot: Arc<LookupSlot>, running: Arc<AtomicUsize>| {
            move || {
                let mut ran = 0;
                for _ in 0..2 {
                    if slot.take() {
                        let before = running.fetch_add(1, Ordering::SeqCst);
                        assert_eq!(before, 0, "two lookups at once");
                        running.fetch_sub(1, Ordering::SeqCst);
                        slot.give_back();
                        ran += 1;
                    }
                }
                ran
            }
        };
        let other = thread::spawn(caller(Arc::clone(&slot), Arc::clone(&running)));
        let here = caller(Arc::clone(&slot), Arc::clone(&running))();
        let there = other.join().unwrap();
        assert!(
            here + there >= 2,
            "each caller's last try follows a give-back or runs"
        );
        assert!(slot.take(), "free again once every lookup gave it back");
    });
}
