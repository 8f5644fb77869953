//! Fresh interaction ids without a hostcall per request.
//!
//! An interaction id must be unique, not secret. Asking the host for 16 random bytes on every request
//! (WASI `random_get`) cost ~1.3 µs per request in Envoy 1.40's V8 (`OB_BENCH_ONLY=hostcalls make bench`),
//! so each worker draws its randomness once: std's `RandomState` (SipHash-1-3 under a 128-bit key the host's
//! randomness seeds) hashes a per-worker counter into the 128 bits of the id. Distinct counters give
//! outputs that only a SipHash collision could make equal; workers and restarts have independent keys.

use std::cell::Cell;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

thread_local! {
    static KEY: RandomState = RandomState::new();
    static COUNTER: Cell<u64> = const { Cell::new(0) };
}

/// 16 bytes for a UUID v4 ([`ob_event_core::InteractionId::new_v4`] sets the version bits).
pub fn fresh() -> [u8; 16] {
    let n = COUNTER.with(|c| {
        let n = c.get();
        c.set(n.wrapping_add(1));
        n
    });
    let half = |lane: u8| KEY.with(|key| key.hash_one((n, lane)));
    let mut bytes = [0u8; 16];
    let (high, low) = bytes.split_at_mut(8);
    high.copy_from_slice(&half(0).to_le_bytes());
    low.copy_from_slice(&half(1).to_le_bytes());
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_do_not_repeat() {
        let seen: HashSet<[u8; 16]> = (0..100_000).map(|_| fresh()).collect();
        assert_eq!(seen.len(), 100_000);
    }

    #[test]
    fn ids_are_not_sequential() {
        let a = fresh();
        let b = fresh();
        let differing = a.iter().zip(b.iter()).filter(|(x, y)| x != y).count();
        assert!(differing > 8, "{a:?} {b:?}");
    }
}
