//! The issuers' signing keys as this worker holds them, and the verified-token cache.
//!
//! Inline keys come from the configuration. A remote JWKS is fetched by the root context over an Envoy
//! cluster and published in proxy-wasm shared data, so every worker of the VM sees the same keys and only
//! one worker fetches: the document lives under `ob_event_filter.jwks.<id>` as `<fetched_at>\n<jwks>`; a
//! lease under `ob_event_filter.jwks.<id>.lease` (compare-and-swap) elects the fetcher. Each worker's root
//! context reads the document on its tick and re-parses it when it changed.

use ob_event_core::certificate::CertificateCache;
use ob_event_core::config::{Config, Issuer, KeySource, RemoteJwks};
use ob_event_core::identity::Keys;
use ob_event_core::token::{Jwks, TokenCache};
use std::collections::HashMap;

/// Keys and cache of one worker.
pub struct Auth {
    /// Keys by issuer (`iss`).
    pub keys: HashMap<String, Jwks>,
    /// Remote sources by issuer, with their fetch state.
    pub remotes: Vec<Remote>,
    pub cache: TokenCache,
    /// Parsed client certificates, by digest.
    pub certificates: CertificateCache,
}

/// A remote JWKS and what this worker knows of it.
pub struct Remote {
    pub issuer: String,
    pub source: RemoteJwks,
    /// Shared-data key of the document.
    pub data_key: String,
    /// CAS of the document last parsed (to re-parse only on change).
    pub seen_cas: Option<u32>,
    /// When the document was fetched (seconds), from its header.
    pub fetched_at: u64,
    /// The token of this worker's fetch in flight.
    pub in_flight: Option<u32>,
    /// When that fetch started (seconds).
    pub in_flight_since: u64,
    /// A request met an unknown `kid`: fetch again as soon as the minimum interval allows.
    pub refresh_wanted: bool,
}

impl Auth {
    pub fn new(config: &Config) -> Auth {
        let mut keys = HashMap::new();
        let mut remotes = Vec::new();
        for issuer in &config.issuers {
            match &issuer.keys {
                KeySource::Inline(jwks) => {
                    keys.insert(issuer.policy.issuer.clone(), jwks.clone());
                }
                KeySource::Remote(source) => remotes.push(Remote {
                    issuer: issuer.policy.issuer.clone(),
                    data_key: data_key(&issuer.policy.issuer, source),
                    source: source.clone(),
                    seen_cas: None,
                    fetched_at: 0,
                    in_flight: None,
                    in_flight_since: 0,
                    refresh_wanted: false,
                }),
            }
        }
        Auth {
            keys,
            remotes,
            cache: TokenCache::new(config.token_cache_entries),
            certificates: CertificateCache::new(config.certificate.cache_entries),
        }
    }

    /// Install newly loaded keys of `issuer`. Cached verifications are dropped: a key that was removed must
    /// not keep admitting the tokens it signed.
    pub fn install(&mut self, issuer: &str, jwks: Jwks) {
        self.keys.insert(issuer.to_string(), jwks);
        self.cache.clear();
    }

    /// A request met an unknown `kid` of `issuer`.
    pub fn want_refresh(&mut self, issuer: &str) {
        for remote in self.remotes.iter_mut().filter(|r| r.issuer == issuer) {
            remote.refresh_wanted = true;
        }
    }
}

/// The keys of `issuer` as the core asks for them.
pub fn keys_of<'a>(keys: &'a HashMap<String, Jwks>, issuer: &Issuer) -> Keys<'a> {
    match keys.get(&issuer.policy.issuer) {
        Some(jwks) => Keys::Ready(jwks),
        None => Keys::NotLoaded,
    }
}

/// `ob_event_filter.jwks.<16 hex of SHA-256(issuer, cluster, path)>`
fn data_key(issuer: &str, source: &RemoteJwks) -> String {
    use sha2::{Digest, Sha256};
    let digest =
        Sha256::digest(format!("{issuer}\n{}\n{}", source.cluster, source.path).as_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("ob_event_filter.jwks.{hex}")
}

/// Encode a fetched document for shared data.
pub fn encode_document(fetched_at: u64, jwks: &[u8]) -> Vec<u8> {
    let mut out = format!("{fetched_at}\n").into_bytes();
    out.extend_from_slice(jwks);
    out
}

/// Decode a shared-data document: (fetched_at, JWKS bytes).
pub fn decode_document(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let newline = bytes.iter().position(|b| *b == b'\n')?;
    let (head, rest) = bytes.split_at(newline);
    let fetched_at = std::str::from_utf8(head).ok()?.parse().ok()?;
    Some((fetched_at, rest.get(1..)?))
}
