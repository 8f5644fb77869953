//! Verified-token cache: a token whose signature and claims verified is not verified again until it
//! expires, which takes the signature cost (0.1–0.5 ms in V8) off the warm path.
//!
//! Keyed by the whole token string and compared in full: a token that differs in any byte misses. The hash
//! that picks the bucket is a keyed SipHash (std's `RandomState`, seeded from the host's randomness) over
//! the token's length and its last [`HASHED_TAIL`] bytes — the signature, which the issuer makes and nobody
//! else can choose — so a lookup hashes 64 bytes, not the ~1 KB token (SHA-256 of the whole token cost
//! ~2.6 µs per request in V8). Only verified tokens are inserted, so forged tokens can neither occupy nor
//! hit the cache, and the full comparison decides every hit. Bounded: at most `max_entries`; when full,
//! expired entries go first, then the oldest inserted. Memory: about the token's length plus ~250 bytes
//! per entry (10 000 WSO2 tokens of ~1 KB ≈ 12 MB per worker at most).
//!
//! The cache does not know the issuer configuration: clear it when the configuration or an issuer's keys
//! change (a cached token outlives the removal of the key that signed it otherwise).

use std::collections::hash_map::{DefaultHasher, RandomState};
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hasher};
use std::rc::Rc;

use super::claims::VerifiedToken;

/// How many bytes at the end of a token the bucket hash reads.
pub const HASHED_TAIL: usize = 64;

type Key = Rc<str>;

#[derive(Debug)]
struct Entry {
    verified: Rc<VerifiedToken>,
    /// Insertion number, to tell a live entry from a stale one in `order`.
    seq: u64,
}

/// Hashes a token's length and tail with a randomly keyed SipHash.
#[derive(Debug, Clone, Default)]
struct TailHash(RandomState);

impl BuildHasher for TailHash {
    type Hasher = TailHasher;
    fn build_hasher(&self) -> TailHasher {
        TailHasher(self.0.build_hasher())
    }
}

struct TailHasher(DefaultHasher);

impl Hasher for TailHasher {
    fn write(&mut self, bytes: &[u8]) {
        let tail = bytes
            .get(bytes.len().saturating_sub(HASHED_TAIL)..)
            .unwrap_or(bytes);
        self.0.write_usize(bytes.len());
        self.0.write(tail);
    }
    fn write_u8(&mut self, i: u8) {
        self.0.write_u8(i);
    }
    fn finish(&self) -> u64 {
        self.0.finish()
    }
}

/// A bounded map from token to its verification result.
#[derive(Debug)]
pub struct TokenCache {
    max_entries: usize,
    entries: HashMap<Key, Entry, TailHash>,
    /// Keys in insertion order (with stale keys of entries removed since; skipped when met).
    order: VecDeque<(Key, u64)>,
    next_seq: u64,
    /// Earliest `expires_at` among the entries, or `u64::MAX`: nothing has expired before then, so no sweep.
    earliest_expiry: u64,
}

impl TokenCache {
    /// A cache of at most `max_entries` tokens (0 disables it).
    pub fn new(max_entries: usize) -> TokenCache {
        TokenCache {
            max_entries,
            entries: HashMap::default(),
            order: VecDeque::new(),
            next_seq: 0,
            earliest_expiry: u64::MAX,
        }
    }

    /// The verification result of exactly this token, if it is cached and not expired at `now_secs`.
    pub fn get(&self, token: &str, now_secs: u64) -> Option<&Rc<VerifiedToken>> {
        self.entries
            .get(token)
            .map(|e| &e.verified)
            .filter(|v| now_secs < v.expires_at)
    }

    /// Caches a token that [`crate::token::verify`] accepted. Not cached if already expired at `now_secs`
    /// (it may have been accepted within the clock skew). Never insert a token that did not verify.
    pub fn insert(&mut self, token: &str, verified: Rc<VerifiedToken>, now_secs: u64) {
        if self.max_entries == 0 || now_secs >= verified.expires_at {
            return;
        }
        if let Some(entry) = self.entries.get_mut(token) {
            entry.verified = verified;
            return;
        }
        if self.entries.len() >= self.max_entries {
            self.evict(now_secs);
        }
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        self.earliest_expiry = self.earliest_expiry.min(verified.expires_at);
        let key: Key = Rc::from(token);
        self.entries
            .insert(Rc::clone(&key), Entry { verified, seq });
        self.order.push_back((key, seq));
        self.compact_order();
    }
    /// Number of entries (expired ones included until evicted).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the cache holds nothing.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Drops every entry (on a configuration or key change).
    pub fn clear(&mut self) {
        self.entries.clear();
        self.order.clear();
        self.earliest_expiry = u64::MAX;
    }

    /// Makes room for one entry: removes the expired entries if any (one pass, only when something has
    /// expired), else the oldest inserted.
    fn evict(&mut self, now_secs: u64) {
        if now_secs >= self.earliest_expiry {
            self.entries.retain(|_, e| now_secs < e.verified.expires_at);
            self.earliest_expiry = self
                .entries
                .values()
                .map(|e| e.verified.expires_at)
                .min()
                .unwrap_or(u64::MAX);
        }
        while self.entries.len() >= self.max_entries {
            let Some((key, seq)) = self.order.pop_front() else {
                break;
            };
            if self.entries.get(&*key).is_some_and(|e| e.seq == seq) {
                self.entries.remove(&*key);
            }
        }
    }

    /// Keeps `order` within twice the live entries by dropping stale keys.
    fn compact_order(&mut self) {
        if self.order.len() > self.max_entries.saturating_mul(2) {
            let entries = &self.entries;
            self.order
                .retain(|(key, seq)| entries.get(&**key).is_some_and(|e| e.seq == *seq));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::policy::Alg;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn verified(client: &str, exp: u64) -> Rc<VerifiedToken> {
        Rc::new(VerifiedToken {
            issuer: "https://is.example/oauth2/token".into(),
            consumer_key: client.into(),
            scopes: ["accounts".to_string()].into(),
            x5t_s256: None,
            expires_at: exp,
            subject: None,
            token_id: None,
            alg: Alg::PS256,
            key_id: None,
        })
    }

    const NOW: u64 = 1_800_000_000;

    #[test]
    fn hit_returns_the_verified_token() {
        let mut cache = TokenCache::new(10);
        cache.insert("a.b.c", verified("client-1", NOW + 300), NOW);
        assert_eq!(cache.get("a.b.c", NOW).unwrap().consumer_key, "client-1");
        assert_eq!(
            cache.get("a.b.c", NOW + 299).unwrap().consumer_key,
            "client-1"
        );
        assert!(cache.get("a.b.d", NOW).is_none());
    }

    #[test]
    fn entries_expire_at_exp() {
        let mut cache = TokenCache::new(10);
        cache.insert("t", verified("c", NOW + 10), NOW);
        assert!(cache.get("t", NOW + 9).is_some());
        assert!(cache.get("t", NOW + 10).is_none());
        // Accepted within the skew but already past exp: not cached.
        cache.insert("late", verified("c", NOW - 5), NOW);
        assert!(cache.get("late", NOW).is_none());
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn any_changed_byte_misses() {
        let long = format!(
            "eyJhbGciOiJQUzI1NiJ9.eyJpc3MiOiJpIn0.{}",
            "c2lnbmF0dXJl".repeat(12)
        );
        for token in [
            "eyJhbGciOiJQUzI1NiJ9.eyJpc3MiOiJpIn0.c2lnbmF0dXJl",
            long.as_str(),
        ] {
            changed_bytes_miss(token);
        }
    }

    fn changed_bytes_miss(token: &str) {
        let mut cache = TokenCache::new(10);
        cache.insert(token, verified("c", NOW + 60), NOW);
        for i in 0..token.len() {
            let mut bytes = token.as_bytes().to_vec();
            bytes[i] ^= 0x01;
            let forged = String::from_utf8(bytes).unwrap();
            assert!(cache.get(&forged, NOW).is_none(), "byte {i}");
        }
        assert!(cache.get(&format!("{token}x"), NOW).is_none());
        assert!(cache.get(&token[..token.len() - 1], NOW).is_none());
        assert!(cache.get(token, NOW).is_some());
    }

    #[test]
    fn bounded_under_a_flood_of_distinct_tokens() {
        let max = 50;
        let mut cache = TokenCache::new(max);
        for i in 0..10 * max {
            cache.insert(&format!("token-{i}"), verified("c", NOW + 600), NOW);
            assert!(cache.len() <= max);
            assert!(cache.order.len() <= 2 * max + 1);
        }
        assert_eq!(cache.len(), max);
        // The oldest went first; the newest are there.
        assert!(cache.get("token-0", NOW).is_none());
        assert!(cache.get(&format!("token-{}", 10 * max - 1), NOW).is_some());
        assert!(cache.get(&format!("token-{}", 9 * max), NOW).is_some());
    }

    #[test]
    fn expired_entries_are_evicted_before_the_oldest() {
        let mut cache = TokenCache::new(3);
        cache.insert("old-long", verified("c", NOW + 1000), NOW);
        cache.insert("short", verified("c", NOW + 10), NOW);
        cache.insert("mid", verified("c", NOW + 500), NOW);
        cache.insert("new", verified("c", NOW + 1000), NOW + 20);
        assert!(cache.get("old-long", NOW + 20).is_some());
        assert!(cache.get("mid", NOW + 20).is_some());
        assert!(cache.get("new", NOW + 20).is_some());
        assert_eq!(cache.len(), 3);
    }

    #[test]
    fn reinsert_and_clear_and_disabled() {
        let mut cache = TokenCache::new(2);
        cache.insert("t", verified("a", NOW + 60), NOW);
        cache.insert("t", verified("b", NOW + 60), NOW);
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.get("t", NOW).unwrap().consumer_key, "b");
        cache.clear();
        assert!(cache.is_empty() && cache.get("t", NOW).is_none());
        let mut off = TokenCache::new(0);
        off.insert("t", verified("a", NOW + 60), NOW);
        assert!(off.is_empty());
    }

    #[test]
    fn tokens_with_the_same_tail_are_told_apart() {
        // Same length, same last 64 bytes (the part hashed): one bucket, the full comparison decides.
        let tail = "s".repeat(HASHED_TAIL);
        let a = format!("aaaa.{tail}");
        let b = format!("bbbb.{tail}");
        let mut cache = TokenCache::new(10);
        cache.insert(&a, verified("client-a", NOW + 60), NOW);
        assert!(
            cache.get(&b, NOW).is_none(),
            "a token with a's tail is not a"
        );
        cache.insert(&b, verified("client-b", NOW + 60), NOW);
        assert_eq!(cache.get(&a, NOW).unwrap().consumer_key, "client-a");
        assert_eq!(cache.get(&b, NOW).unwrap().consumer_key, "client-b");
        assert_eq!(cache.len(), 2);
        // Shorter than the tail: hashed whole.
        cache.insert("x.y.z", verified("short", NOW + 60), NOW);
        assert_eq!(cache.get("x.y.z", NOW).unwrap().consumer_key, "short");
    }
}
