//! Cheap per-policy counters.
//!
//! Each policy keeps a block of relaxed atomics that it bumps on its own paths and that a
//! caller reads as a plain, serializable snapshot. Relaxed ordering is enough: the
//! counters are independent tallies, never used to synchronise anything.

use std::sync::atomic::{AtomicU64, Ordering};

/// Adds one to a counter.
pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Reads a counter.
pub(crate) fn read(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

/// Declares a block of atomic counters (crate-private) and its public snapshot type.
///
/// ```text
/// counters! {
///     /// Counters of a retry policy.
///     RetryCounters => pub struct RetryStats {
///         /// Calls made through the policy.
///         calls,
///     }
/// }
/// ```
macro_rules! counters {
    (
        $counters:ident =>
        $(#[$meta:meta])*
        pub struct $snapshot:ident {
            $( $(#[$field_meta:meta])* $field:ident ),* $(,)?
        }
    ) => {
        #[derive(Debug, Default)]
        pub(crate) struct $counters {
            $( pub(crate) $field: ::std::sync::atomic::AtomicU64, )*
        }

        impl $counters {
            /// Reads every counter into a snapshot.
            pub(crate) fn snapshot(&self) -> $snapshot {
                $snapshot { $( $field: $crate::stats::read(&self.$field), )* }
            }
        }

        $(#[$meta])*
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ::serde::Serialize, ::serde::Deserialize)]
        pub struct $snapshot {
            $( $(#[$field_meta])* pub $field: u64, )*
        }
    };
}

pub(crate) use counters;
