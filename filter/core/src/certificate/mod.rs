//! The client certificate: where it comes from, what it says, and whether it may be used for this request.
//!
//! Everything here is pure: the proxy-wasm adapter gathers the inputs (a request header, the connection
//! property `connection.sha256_peer_certificate_digest`, the verified token's `cnf.x5t#S256`, the
//! organisation the application registered, the current time) and applies the answer.
//!
//! The steps, in the order the adapter runs them:
//!
//! 1. **Read** the leaf certificate's DER from a header ([`xfcc`]):
//!    - [`xfcc::leaf_der_from_xfcc`]: Envoy's own `x-forwarded-client-cert` (`SANITIZE_SET`,
//!      `set_current_client_cert_details.cert: true`), the default;
//!    - [`xfcc::leaf_der_from_pem_header`] / [`xfcc::leaf_der_from_base64_der_header`]: a header set by a
//!      trusted load balancer that ends TLS in front of Envoy (WSO2's `x-wso2-client-certificate` style).
//! 2. **Parse** it ([`parse::parse_der`], or through the [`cache::CertificateCache`]) into
//!    [`CertificateFacts`]: subject attributes, SANs, validity, SHA-256, eIDAS PSD2 roles ([`eidas`]).
//! 3. **Cross-check** ([`rules::cross_check`]) the parsed leaf against the connection's certificate digest
//!    when Envoy exposes it: a header that does not describe this connection is refused.
//! 4. **Check** ([`rules::check`]) the facts against the [`CertificatePolicy`]: presence, validity,
//!    certificate-bound token (RFC 8705), organisation, eIDAS roles.
//!
//! Every refusal is a [`CertificateError`], with a unique [`CertificateError::reason`] for the stat name.
//! Nothing here panics, whatever the input bytes (the crate denies `unwrap`, `expect`, `panic` and
//! indexing outside tests).
//!
//! The trust model (what Envoy checks, what this module checks, when a header may be trusted) is in
//! `docs/security.md`.

pub mod cache;
pub mod eidas;
pub mod error;
pub mod parse;
pub mod rules;
pub mod xfcc;

#[cfg(test)]
mod fixtures;
#[cfg(all(test, not(target_arch = "wasm32")))]
mod fixtures_gen;

pub use cache::CertificateCache;
pub use eidas::{EidasError, Psd2Attributes, Psd2Status, Role};
pub use error::CertificateError;
pub use parse::parse_der;
pub use rules::{check, cross_check, CertificatePolicy, OrgMatch};

/// Largest header value accepted as a certificate carrier (XFCC or a trusted certificate header), in bytes.
/// A URL-encoded PEM of a 4096-bit RSA certificate with a few extensions is about 3 KiB; Envoy's own
/// request-header limit defaults to 60 KiB.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// Largest certificate DER accepted, in bytes.
pub const MAX_DER_BYTES: usize = 16 * 1024;

/// What the filter knows about one client (leaf) certificate: plain data, parsed once and cached by
/// [`CertificateFacts::sha256`].
///
/// Subject attributes keep every value in the order they appear (a subject may repeat an attribute); the
/// organisation rule refuses a subject whose matched attribute is not single-valued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateFacts {
    /// SHA-256 of the certificate DER.
    pub sha256: [u8; 32],
    /// The same, lowercase hex (Envoy's `connection.sha256_peer_certificate_digest` and XFCC `Hash` form).
    pub sha256_hex: String,
    /// The same, base64url without padding: the RFC 8705 `x5t#S256` a bound token must carry.
    pub x5t_s256: String,
    /// Subject commonName (2.5.4.3) values.
    pub common_names: Vec<String>,
    /// Subject organizationName (2.5.4.10) values.
    pub organisations: Vec<String>,
    /// Subject organizationalUnitName (2.5.4.11) values. OB Directory certificates carry the organisation id
    /// here.
    pub organisational_units: Vec<String>,
    /// Subject organizationIdentifier (2.5.4.97) values, UTF8String or PrintableString (eIDAS: the PSD2
    /// authorisation number, e.g. `PSDGB-FCA-123456`).
    pub organisation_identifiers: Vec<String>,
    /// subjectAltName dNSName entries.
    pub san_dns: Vec<String>,
    /// subjectAltName uniformResourceIdentifier entries.
    pub san_uris: Vec<String>,
    /// notBefore, seconds since the Unix epoch.
    pub not_before: u64,
    /// notAfter, seconds since the Unix epoch.
    pub not_after: u64,
    /// basicConstraints `cA` is true: a CA certificate, not a client certificate.
    pub is_ca: bool,
    /// The eIDAS PSD2 qcStatement: absent, present, or present but malformed.
    pub psd2: Psd2Status,
}

/// Lowercase hex of bytes.
pub(crate) fn hex_lower(bytes: &[u8]) -> String {
    fn digit(nibble: u8) -> char {
        char::from(if nibble < 10 {
            b'0' + nibble
        } else {
            b'a' + (nibble - 10)
        })
    }
    let mut out = String::with_capacity(bytes.len().saturating_mul(2));
    for b in bytes {
        out.push(digit(b >> 4));
        out.push(digit(b & 0x0f));
    }
    out
}
