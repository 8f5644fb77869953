//! Parsed-certificate cache: a TPP presents the same certificate on every request, so its DER is parsed once.
//!
//! Keyed by the SHA-256 of the DER, compared in full (32 bytes). Only certificates that parsed are cached
//! (a malformed one is parsed again each time, and cannot push good entries out). Facts do not depend on
//! the time: validity is checked by the rules on every request with the current time, so an entry never
//! goes stale. Bounded: at most `max_entries`; when full, the oldest inserted entry goes (FIFO, O(1)).
//! Lookup and insertion are O(1) (hash map + queue).

use std::collections::{HashMap, VecDeque};

use sha2::{Digest, Sha256};

use super::parse::parse_der_with_digest;
use super::{CertificateError, CertificateFacts, MAX_DER_BYTES};

/// A sensible default size: a few hundred TPPs, a few certificates each (an entry is well under 1 KiB).
pub const DEFAULT_MAX_ENTRIES: usize = 1024;

/// A bounded map from certificate SHA-256 to its parsed facts.
#[derive(Debug)]
pub struct CertificateCache {
    max_entries: usize,
    entries: HashMap<[u8; 32], CertificateFacts>,
    /// Keys in insertion order. Entries are only ever removed by eviction from the front, so this holds
    /// exactly the live keys.
    order: VecDeque<[u8; 32]>,
}

impl CertificateCache {
    /// A cache of at most `max_entries` certificates (0 disables caching).
    pub fn new(max_entries: usize) -> CertificateCache {
        CertificateCache {
            max_entries,
            entries: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// The facts of the certificate with this SHA-256, if cached.
    pub fn get(&self, sha256: &[u8; 32]) -> Option<&CertificateFacts> {
        self.entries.get(sha256)
    }

    /// The facts of this DER: from the cache, or parsed and then cached.
    pub fn parse(&mut self, der: &[u8]) -> Result<CertificateFacts, CertificateError> {
        if der.len() > MAX_DER_BYTES {
            return Err(CertificateError::Invalid("certificate too large"));
        }
        let digest: [u8; 32] = Sha256::digest(der).into();
        if let Some(facts) = self.entries.get(&digest) {
            return Ok(facts.clone());
        }
        let facts = parse_der_with_digest(der, digest)?;
        self.insert(facts.clone());
        Ok(facts)
    }

    /// Caches facts under their own `sha256` (only facts [`super::parse_der`] produced belong here).
    pub fn insert(&mut self, facts: CertificateFacts) {
        if self.max_entries == 0 || self.entries.contains_key(&facts.sha256) {
            return;
        }
        while self.entries.len() >= self.max_entries {
            match self.order.pop_front() {
                Some(oldest) => {
                    self.entries.remove(&oldest);
                }
                None => break,
            }
        }
        self.order.push_back(facts.sha256);
        self.entries.insert(facts.sha256, facts);
    }

    /// Number of cached certificates.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the cache holds nothing.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Drops every entry.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.order.clear();
    }
}

impl Default for CertificateCache {
    fn default() -> CertificateCache {
        CertificateCache::new(DEFAULT_MAX_ENTRIES)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::certificate::fixtures::{self, der_of};
    use crate::certificate::parse_der;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn parses_once_then_hits() {
        let der = der_of(fixtures::TPP_ORG_A_PEM);
        let mut cache = CertificateCache::new(4);
        let first = cache.parse(&der).unwrap();
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.get(&first.sha256), Some(&first));
        let second = cache.parse(&der).unwrap();
        assert_eq!(first, second);
        assert_eq!(first, parse_der(&der).unwrap());
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn failures_are_not_cached() {
        let mut cache = CertificateCache::new(4);
        assert!(cache.parse(b"garbage").is_err());
        assert!(cache.parse(&vec![0; MAX_DER_BYTES + 1]).is_err());
        assert!(cache.is_empty());
    }

    #[test]
    fn evicts_the_oldest_when_full() {
        let ders: Vec<Vec<u8>> = [
            fixtures::TPP_ORG_A_PEM,
            fixtures::TPP_ORG_B_PEM,
            fixtures::EIDAS_AISP_PISP_PEM,
        ]
        .iter()
        .map(|p| der_of(p))
        .collect();
        let mut cache = CertificateCache::new(2);
        let a = cache.parse(&ders[0]).unwrap();
        let b = cache.parse(&ders[1]).unwrap();
        // A hit does not reorder (FIFO).
        cache.parse(&ders[0]).unwrap();
        let c = cache.parse(&ders[2]).unwrap();
        assert_eq!(cache.len(), 2);
        assert!(cache.get(&a.sha256).is_none());
        assert!(cache.get(&b.sha256).is_some());
        assert!(cache.get(&c.sha256).is_some());
        cache.clear();
        assert!(cache.is_empty());
    }

    #[test]
    fn zero_entries_disables_caching() {
        let mut cache = CertificateCache::new(0);
        assert!(cache.parse(&der_of(fixtures::TPP_ORG_A_PEM)).is_ok());
        assert!(cache.is_empty());
    }
}
