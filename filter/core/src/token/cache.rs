//! Verified-token cache: a token whose signature and claims verified is not verified again until it
//! expires, which takes the signature cost (0.1–0.5 ms in V8) off the warm path.
//!
//! Keyed by the whole token string and compared in full: a token that differs in any byte misses. The hash
//! that picks the bucket is a keyed SipHash (std's `RandomState`, seeded from the host's randomness) over
//! the token's length and its last [`HASHED_TAIL`] bytes — the signature, which the issuer makes and nobody
//! else can choose — so a lookup hashes 64 bytes, not the ~1 KB token (SHA-256 of the whole token cost
//! ~2.6 µs per request in V8). The full comparison that decides every hit reads the whole token eight bytes
//! at a time and in constant time: it neither stops at the first differing byte (no timing signal about a
//! cached token) nor calls the C library's byte-by-byte `memcmp`, which was the largest single cost of a
//! warm request in the filter (~6 k of its instructions, `OB_BENCH_ONLY=instructions make bench`).
//!
//! Only verified tokens are inserted, so forged tokens can neither occupy nor hit the cache. Bounded: at
//! most `max_entries`; when full, expired entries go first, then the oldest inserted. Memory: about the
//! token's length plus ~250 bytes per entry (10 000 WSO2 tokens of ~1 KB ≈ 12 MB per worker at most).
//!
//! The cache does not know the issuer configuration: clear it when the configuration or an issuer's keys
//! change (a cached token outlives the removal of the key that signed it otherwise).

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::rc::Rc;

use super::claims::VerifiedToken;

/// How many bytes at the end of a token the bucket hash reads.
pub const HASHED_TAIL: usize = 64;

#[derive(Debug)]
struct Slot {
    token: Rc<str>,
    verified: Rc<VerifiedToken>,
    /// Insertion number, to tell a live entry from a stale one in `order`.
    seq: u64,
}

/// The bucket keys are already keyed SipHash values: used as they are.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, hash: u64) {
        self.0 = hash;
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// A bounded map from token to its verification result.
#[derive(Debug)]
pub struct TokenCache {
    max_entries: usize,
    key: RandomState,
    /// Tail hash → the tokens with that hash (almost always one).
    buckets: HashMap<u64, Vec<Slot>, BuildHasherDefault<Prehashed>>,
    len: usize,
    /// (bucket, sequence) in insertion order (with stale ones of entries removed since; skipped when met).
    order: VecDeque<(u64, u64)>,
    next_seq: u64,
    /// Earliest `expires_at` among the entries, or `u64::MAX`: nothing has expired before then, so no sweep.
    earliest_expiry: u64,
}

impl TokenCache {
    /// A cache of at most `max_entries` tokens (0 disables it).
    pub fn new(max_entries: usize) -> TokenCache {
        TokenCache {
            max_entries,
            key: RandomState::new(),
            buckets: HashMap::default(),
            len: 0,
            order: VecDeque::new(),
            next_seq: 0,
            earliest_expiry: u64::MAX,
        }
    }

    /// The keyed hash of a token's length and tail.
    fn bucket_of(&self, token: &str) -> u64 {
        let bytes = token.as_bytes();
        let tail = bytes
            .get(bytes.len().saturating_sub(HASHED_TAIL)..)
            .unwrap_or(bytes);
        let mut hasher = self.key.build_hasher();
        hasher.write_usize(bytes.len());
        hasher.write(tail);
        hasher.finish()
    }

    /// The verification result of exactly this token, if it is cached and not expired at `now_secs`.
    pub fn get(&self, token: &str, now_secs: u64) -> Option<&Rc<VerifiedToken>> {
        self.buckets
            .get(&self.bucket_of(token))?
            .iter()
            .find(|slot| same_bytes(slot.token.as_bytes(), token.as_bytes()))
            .map(|slot| &slot.verified)
            .filter(|v| now_secs < v.expires_at)
    }

    /// Caches a token that [`crate::token::verify`] accepted. Not cached if already expired at `now_secs`
    /// (it may have been accepted within the clock skew). Never insert a token that did not verify.
    pub fn insert(&mut self, token: &str, verified: Rc<VerifiedToken>, now_secs: u64) {
        if self.max_entries == 0 || now_secs >= verified.expires_at {
            return;
        }
        let bucket = self.bucket_of(token);
        if let Some(slot) = self.buckets.get_mut(&bucket).and_then(|slots| {
            slots
                .iter_mut()
                .find(|s| same_bytes(s.token.as_bytes(), token.as_bytes()))
        }) {
            slot.verified = verified;
            return;
        }
        if self.len >= self.max_entries {
            self.evict(now_secs);
        }
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        self.earliest_expiry = self.earliest_expiry.min(verified.expires_at);
        self.buckets.entry(bucket).or_default().push(Slot {
            token: Rc::from(token),
            verified,
            seq,
        });
        self.len += 1;
        self.order.push_back((bucket, seq));
        self.compact_order();
    }

    /// Number of entries (expired ones included until evicted).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the cache holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Drops every entry (on a configuration or key change).
    pub fn clear(&mut self) {
        self.buckets.clear();
        self.order.clear();
        self.len = 0;
        self.earliest_expiry = u64::MAX;
    }

    /// Makes room for one entry: removes the expired entries if any (one pass, only when something has
    /// expired), else the oldest inserted.
    fn evict(&mut self, now_secs: u64) {
        if now_secs >= self.earliest_expiry {
            for slots in self.buckets.values_mut() {
                slots.retain(|s| now_secs < s.verified.expires_at);
            }
            self.buckets.retain(|_, slots| !slots.is_empty());
            self.len = self.buckets.values().map(Vec::len).sum();
            self.earliest_expiry = self
                .buckets
                .values()
                .flatten()
                .map(|s| s.verified.expires_at)
                .min()
                .unwrap_or(u64::MAX);
        }
        while self.len >= self.max_entries {
            let Some((bucket, seq)) = self.order.pop_front() else {
                break;
            };
            self.remove(bucket, seq);
        }
    }

    /// Remove the entry inserted as `seq` in `bucket`, if it is still there.
    fn remove(&mut self, bucket: u64, seq: u64) {
        let Some(slots) = self.buckets.get_mut(&bucket) else {
            return;
        };
        let before = slots.len();
        slots.retain(|s| s.seq != seq);
        self.len -= before - slots.len();
        if slots.is_empty() {
            self.buckets.remove(&bucket);
        }
    }

    fn is_live(&self, bucket: u64, seq: u64) -> bool {
        self.buckets
            .get(&bucket)
            .is_some_and(|slots| slots.iter().any(|s| s.seq == seq))
    }

    /// Keeps `order` within twice the live entries by dropping stale keys.
    fn compact_order(&mut self) {
        if self.order.len() > self.max_entries.saturating_mul(2) {
            let order = std::mem::take(&mut self.order);
            self.order = order
                .into_iter()
                .filter(|(bucket, seq)| self.is_live(*bucket, *seq))
                .collect();
        }
    }
}

/// Whether two byte strings are equal, reading both whole (eight bytes at a time) whatever they hold:
/// the time depends on the length only.
pub fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (mut words_a, mut words_b) = (a.chunks_exact(8), b.chunks_exact(8));
    let mut difference = 0u64;
    for (x, y) in (&mut words_a).zip(&mut words_b) {
        let x = u64::from_le_bytes(x.try_into().unwrap_or([0; 8]));
        let y = u64::from_le_bytes(y.try_into().unwrap_or([0; 8]));
        difference |= x ^ y;
    }
    for (x, y) in words_a.remainder().iter().zip(words_b.remainder()) {
        difference |= u64::from(x ^ y);
    }
    difference == 0
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
            assert_eq!(
                cache.buckets.values().map(Vec::len).sum::<usize>(),
                cache.len()
            );
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

    #[test]
    fn tokens_in_one_bucket_are_evicted_one_by_one() {
        // Two tokens with the same tail share a bucket: evicting the older leaves the newer.
        let tail = "t".repeat(HASHED_TAIL);
        let (a, b) = (format!("aaaa.{tail}"), format!("bbbb.{tail}"));
        let mut cache = TokenCache::new(2);
        cache.insert(&a, verified("a", NOW + 60), NOW);
        cache.insert(&b, verified("b", NOW + 60), NOW);
        cache.insert("other", verified("o", NOW + 60), NOW);
        assert_eq!(cache.len(), 2);
        assert!(cache.get(&a, NOW).is_none());
        assert!(cache.get(&b, NOW).is_some());
        assert!(cache.get("other", NOW).is_some());
    }

    #[test]
    fn same_bytes_is_equality() {
        let cases: [(&[u8], &[u8]); 7] = [
            (b"", b""),
            (b"a", b"a"),
            (b"a", b"b"),
            (b"abcdefgh", b"abcdefgh"),
            (b"abcdefghi", b"abcdefghj"),
            (b"abcdefghijklmnop", b"abcdefghijklmnoP"),
            (b"short", b"shorter"),
        ];
        for (x, y) in cases {
            assert_eq!(same_bytes(x, y), x == y, "{x:?} {y:?}");
        }
        // Every single-byte change of a 1 KB token, at every position, in and out of the 8-byte words.
        let token: Vec<u8> = (0..1001u32).map(|i| b'A' + (i % 26) as u8).collect();
        for i in 0..token.len() {
            let mut other = token.clone();
            other[i] ^= 0x20;
            assert!(!same_bytes(&token, &other), "byte {i}");
        }
        assert!(same_bytes(&token, &token.clone()));
    }
}
