//! Reading the leaf certificate's DER from a request header.
//!
//! Three carriers:
//!
//! - **`x-forwarded-client-cert`** as Envoy sets it with `forward_client_cert_details: SANITIZE_SET` and
//!   `set_current_client_cert_details: {subject: true, cert: true, uri: true, dns: true}`:
//!   `Hash=<hex>;Cert="<URL-encoded PEM>";Subject="CN=…,O=…";URI=…;DNS=…;DNS=…` ([`parse_xfcc`],
//!   [`leaf_der_from_xfcc`]).
//! - **A trusted PEM header** (WSO2 `x-wso2-client-certificate` style, nginx `$ssl_client_escaped_cert`,
//!   AWS ALB `X-Amzn-Mtls-Clientcert`): PEM, raw, with spaces instead of newlines, or URL-encoded
//!   ([`leaf_der_from_pem_header`]).
//! - **A trusted base64 DER header** (WSO2 `isClientCertificateEncoded`): URL-encoded base64 of the DER
//!   ([`leaf_der_from_base64_der_header`]).
//!
//! All three take raw header bytes, refuse more than [`MAX_HEADER_BYTES`], and return an error value on any
//! malformed input, never a panic. URL decoding is percent-decoding only: `+` is kept as `+` (it is a base64
//! character; no encoder used here turns a space into `+` inside a certificate).
//!
//! **Which XFCC element.** An XFCC header is a comma-separated list of elements, one per proxy hop that
//! appended one. With `SANITIZE_SET` Envoy drops whatever the client sent and sets exactly one element,
//! describing the TLS peer of *this* Envoy. With `APPEND_FORWARD` Envoy appends its element *last*. Either
//! way the last element is the one this Envoy wrote about its own connection; earlier elements were written
//! by someone else (or forged by the client when the header is not sanitised) and are never used.
//! [`Xfcc::elements`] reports how many there were, so the adapter can refuse more than one when it expects
//! `SANITIZE_SET`.
//!
//! **Why [`super::rules::cross_check`] is mandatory in XFCC mode.** Envoy (1.40, checked) writes `URI=` and
//! `DNS=` values bare and unescaped. A URI SAN containing `,` therefore splits Envoy's one element in two,
//! and a URI SAN such as `x,Hash=…;Cert="<another certificate>"` would make the last element carry a
//! certificate the TPP does not hold. Only a CA can put such a SAN in a certificate that passes the
//! handshake, but the gateway should not depend on every CA's SAN hygiene: comparing the parsed leaf's
//! SHA-256 with `connection.sha256_peer_certificate_digest` refuses any header that does not describe the
//! connection, whatever its shape. (A `;` inside a URI SAN is handled: see `split_elements`.)

use base64ct::{Base64, Base64Unpadded, Encoding};
use sha2::{Digest, Sha256};

use super::{hex_lower, CertificateError, MAX_DER_BYTES, MAX_HEADER_BYTES};

const PEM_BEGIN: &[u8] = b"-----BEGIN CERTIFICATE-----";
const PEM_END: &[u8] = b"-----END CERTIFICATE-----";

/// The element of an XFCC header that describes this Envoy's TLS peer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct XfccElement {
    /// `By`: this Envoy's own certificate URI SAN.
    pub by: Option<String>,
    /// `Hash`: hex SHA-256 of the peer's leaf DER, as Envoy wrote it.
    pub hash: Option<String>,
    /// `Cert`: the peer's leaf certificate, PEM (URL-decoded).
    pub cert_pem: Option<Vec<u8>>,
    /// `Subject`: the peer's subject DN as Envoy renders it (escapes removed). For display only: parse the
    /// certificate for attributes (Envoy renders organizationIdentifier as hex DER).
    pub subject: Option<String>,
    /// `URI`: the peer's URI SANs.
    pub uris: Vec<String>,
    /// `DNS`: the peer's DNS SANs.
    pub dns: Vec<String>,
}

/// A parsed XFCC header: the last element, and how many elements there were.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Xfcc {
    /// Number of comma-separated elements (1 with `SANITIZE_SET`).
    pub elements: usize,
    /// The last element: the one this Envoy appended.
    pub last: XfccElement,
}

fn malformed(detail: &'static str) -> CertificateError {
    CertificateError::HeaderMalformed(detail)
}

fn check_size(value: &[u8]) -> Result<(), CertificateError> {
    if value.len() > MAX_HEADER_BYTES {
        return Err(CertificateError::HeaderTooLarge);
    }
    Ok(())
}

/// One `key=value` pair as it appears in the header (value unquoted and unescaped).
type Pair = (Vec<u8>, Vec<u8>);

/// Splits an XFCC header into elements of `key=value` pairs.
///
/// - A quoted value runs to the next unescaped `"`: `,` `;` `=` inside are data, and `\x` does not end it.
///   The content is kept verbatim, backslashes included: Envoy's quoted `Subject` is the RFC 2253 string
///   BoringSSL printed (`O=Open \"Quoted\"\, Ltd`), whose escapes belong to it.
/// - A bare value runs to the next `;` or `,`. Envoy writes `URI` and `DNS` bare, without escaping, so a
///   URI SAN `https://x/?a=b;c` arrives as `URI=https://x/?a=b;c`: a segment without `=` that follows a
///   bare value continues it (`;c` is appended). A `,` inside a bare value cannot be told from an element
///   separator; see the module docs for why this is safe only with [`super::rules::cross_check`].
fn split_elements(input: &[u8]) -> Result<Vec<Vec<Pair>>, CertificateError> {
    let mut elements: Vec<Vec<Pair>> = Vec::new();
    let mut pairs: Vec<Pair> = Vec::new();
    let mut last_bare = false;
    let mut iter = input.iter().copied().peekable();
    loop {
        // Key: up to '=' (or, after a bare value, a continuation segment up to ';' / ',' / end).
        let mut key = Vec::new();
        let mut continuation = false;
        loop {
            match iter.peek().copied() {
                Some(b'=') => {
                    iter.next();
                    break;
                }
                Some(b';' | b',') | None if last_bare => {
                    continuation = true;
                    break;
                }
                Some(b'"') => return Err(malformed("quote outside a value")),
                Some(b',' | b';') => return Err(malformed("pair without '='")),
                None if key.iter().all(u8::is_ascii_whitespace) && pairs.is_empty() => {
                    return Err(malformed("empty element"))
                }
                None => return Err(malformed("pair without '='")),
                Some(b) => {
                    iter.next();
                    key.push(b);
                }
            }
        }
        if continuation {
            if let Some((_, value)) = pairs.last_mut() {
                value.push(b';');
                value.extend_from_slice(key.trim_ascii_end());
            }
        } else {
            let key: Vec<u8> = key.trim_ascii().to_vec();
            if key.is_empty() {
                return Err(malformed("empty key"));
            }
            // Value: quoted or bare.
            while iter.next_if(u8::is_ascii_whitespace).is_some() {}
            let mut value = Vec::new();
            if iter.next_if_eq(&b'"').is_some() {
                loop {
                    match iter.next() {
                        Some(b'"') => break,
                        Some(b'\\') => match iter.next() {
                            Some(b) => value.extend([b'\\', b]),
                            None => return Err(malformed("unterminated quoted value")),
                        },
                        Some(b) => value.push(b),
                        None => return Err(malformed("unterminated quoted value")),
                    }
                }
                while iter.next_if(u8::is_ascii_whitespace).is_some() {}
                match iter.peek() {
                    None | Some(b';' | b',') => {}
                    Some(_) => return Err(malformed("data after a quoted value")),
                }
                last_bare = false;
            } else {
                while let Some(b) = iter.next_if(|b| *b != b';' && *b != b',') {
                    if b == b'"' {
                        return Err(malformed("quote inside a bare value"));
                    }
                    value.push(b);
                }
                value = value.trim_ascii_end().to_vec();
                last_bare = true;
            }
            pairs.push((key, value));
        }
        match iter.next() {
            Some(b';') => {}
            Some(b',') => {
                elements.push(std::mem::take(&mut pairs));
                last_bare = false;
            }
            None => {
                elements.push(pairs);
                return Ok(elements);
            }
            Some(_) => return Err(malformed("unexpected byte")),
        }
    }
}

fn once<T>(slot: &Option<T>) -> Result<(), CertificateError> {
    match slot {
        Some(_) => Err(malformed("repeated key")),
        None => Ok(()),
    }
}

fn utf8(bytes: Vec<u8>, detail: &'static str) -> Result<String, CertificateError> {
    String::from_utf8(bytes).map_err(|_| malformed(detail))
}

/// Parses an `x-forwarded-client-cert` header and returns its last element (see the module docs for why the
/// last). Keys are case-insensitive; unknown keys (e.g. `Chain`) are ignored; `By`, `Hash`, `Cert`,
/// `Subject` may appear at most once per element, `URI` and `DNS` repeat.
pub fn parse_xfcc(header: &[u8]) -> Result<Xfcc, CertificateError> {
    check_size(header)?;
    let elements = split_elements(header)?;
    let count = elements.len();
    let Some(pairs) = elements.into_iter().last() else {
        return Err(malformed("empty header"));
    };
    let mut last = XfccElement::default();
    for (key, value) in pairs {
        match key.to_ascii_lowercase().as_slice() {
            b"by" => {
                once(&last.by)?;
                last.by = Some(utf8(value, "By is not UTF-8")?);
            }
            b"hash" => {
                once(&last.hash)?;
                last.hash = Some(utf8(value, "Hash is not UTF-8")?);
            }
            b"cert" => {
                once(&last.cert_pem)?;
                last.cert_pem = Some(percent_decode(&value)?);
            }
            b"subject" => {
                once(&last.subject)?;
                last.subject = Some(utf8(value, "Subject is not UTF-8")?);
            }
            b"uri" => last.uris.push(utf8(value, "URI is not UTF-8")?),
            b"dns" => last.dns.push(utf8(value, "DNS is not UTF-8")?),
            _ => {}
        }
    }
    Ok(Xfcc {
        elements: count,
        last,
    })
}

/// The leaf DER from Envoy's `x-forwarded-client-cert`: the last element's `Cert` (URL-encoded PEM). When the
/// element also carries `Hash`, it must be the SHA-256 of that DER (hex, any case).
///
/// A header without `Cert` is malformed here: Envoy was not configured with
/// `set_current_client_cert_details.cert: true`. (No client certificate at all shows as no header.)
pub fn leaf_der_from_xfcc(header: &[u8]) -> Result<Vec<u8>, CertificateError> {
    let xfcc = parse_xfcc(header)?;
    let Some(pem) = xfcc.last.cert_pem else {
        return Err(malformed("no Cert in the XFCC element"));
    };
    let der = pem_to_der(&pem)?;
    if let Some(hash) = xfcc.last.hash {
        let actual = hex_lower(&Sha256::digest(&der));
        if !hash.eq_ignore_ascii_case(&actual) {
            return Err(malformed("XFCC Hash does not match Cert"));
        }
    }
    Ok(der)
}

/// The leaf DER from a trusted PEM header: PEM with newlines, or with spaces in their place, or URL-encoded
/// PEM. The first `CERTIFICATE` block is the leaf; anything after it (a chain) is ignored.
pub fn leaf_der_from_pem_header(value: &[u8]) -> Result<Vec<u8>, CertificateError> {
    check_size(value)?;
    // Percent-decoding is the identity on raw PEM (no '%' in the armour or in base64).
    let pem = percent_decode(value)?;
    pem_to_der(&pem)
}

/// The leaf DER from a trusted header carrying URL-encoded base64 of the DER (standard alphabet, padding
/// optional, whitespace ignored).
pub fn leaf_der_from_base64_der_header(value: &[u8]) -> Result<Vec<u8>, CertificateError> {
    check_size(value)?;
    let decoded = percent_decode(value)?;
    base64_body_to_der(&decoded)
}

/// Decodes `%XY` escapes. Any other byte is kept as is (`+` included). A `%` not followed by two hex digits
/// is an error.
pub fn percent_decode(input: &[u8]) -> Result<Vec<u8>, CertificateError> {
    fn hex(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            b'A'..=b'F' => Some(b - b'A' + 10),
            _ => None,
        }
    }
    let mut out = Vec::with_capacity(input.len());
    let mut iter = input.iter().copied();
    while let Some(b) = iter.next() {
        if b == b'%' {
            let hi = iter.next().and_then(hex);
            let lo = iter.next().and_then(hex);
            match (hi, lo) {
                (Some(hi), Some(lo)) => out.push((hi << 4) | lo),
                _ => return Err(malformed("bad URL encoding")),
            }
        } else {
            out.push(b);
        }
    }
    Ok(out)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The DER of the first `CERTIFICATE` block of a PEM text. Whitespace of any kind inside the base64 body is
/// ignored (so spaces in place of newlines are fine); PEM headers (`Proc-Type:`) are not supported.
pub fn pem_to_der(pem: &[u8]) -> Result<Vec<u8>, CertificateError> {
    let start = find(pem, PEM_BEGIN).ok_or_else(|| malformed("no BEGIN CERTIFICATE line"))?;
    let after_begin = pem
        .get(start.saturating_add(PEM_BEGIN.len())..)
        .ok_or_else(|| malformed("no BEGIN CERTIFICATE line"))?;
    let end = find(after_begin, PEM_END).ok_or_else(|| malformed("no END CERTIFICATE line"))?;
    let body = after_begin
        .get(..end)
        .ok_or_else(|| malformed("no END CERTIFICATE line"))?;
    base64_body_to_der(body)
}

/// Standard base64 (padded or not), whitespace ignored, to DER of at most [`MAX_DER_BYTES`].
fn base64_body_to_der(body: &[u8]) -> Result<Vec<u8>, CertificateError> {
    let compact: Vec<u8> = body
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    if compact.is_empty() {
        return Err(malformed("empty certificate"));
    }
    // 4 base64 characters per 3 bytes.
    if compact.len() / 4 * 3 > MAX_DER_BYTES + 3 {
        return Err(CertificateError::Invalid("certificate too large"));
    }
    let text = std::str::from_utf8(&compact).map_err(|_| malformed("bad base64"))?;
    let der = if text.ends_with('=') {
        Base64::decode_vec(text)
    } else {
        Base64Unpadded::decode_vec(text)
    }
    .map_err(|_| malformed("bad base64"))?;
    if der.len() > MAX_DER_BYTES {
        return Err(CertificateError::Invalid("certificate too large"));
    }
    Ok(der)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::certificate::fixtures;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// Envoy's encoding of `Cert=` (RFC 3986 unreserved characters kept, everything else `%XX`).
    fn url_encode(s: &str) -> String {
        let mut out = String::new();
        for b in s.bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                out.push(char::from(b));
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
        out
    }

    fn envoy_xfcc(pem: &str) -> String {
        let der = pem_to_der(pem.as_bytes()).unwrap();
        format!(
            "By=spiffe://gateway.example;Hash={};Cert=\"{}\";Subject=\"CN=abc,OU=0015800001041REAAA,O=Open \\\"Banking\\\",C=GB\";URI=https://tpp.example/software;DNS=tpp.example;DNS=api.tpp.example",
            hex_lower(&Sha256::digest(&der)),
            url_encode(pem)
        )
    }

    #[test]
    fn reads_envoy_sanitize_set_header() {
        let header = envoy_xfcc(fixtures::TPP_ORG_A_PEM);
        let xfcc = parse_xfcc(header.as_bytes()).unwrap();
        assert_eq!(xfcc.elements, 1);
        assert_eq!(xfcc.last.by.as_deref(), Some("spiffe://gateway.example"));
        // Kept verbatim: the escapes belong to the RFC 2253 string.
        assert_eq!(
            xfcc.last.subject.as_deref(),
            Some("CN=abc,OU=0015800001041REAAA,O=Open \\\"Banking\\\",C=GB")
        );
        assert_eq!(xfcc.last.uris, vec!["https://tpp.example/software"]);
        assert_eq!(xfcc.last.dns, vec!["tpp.example", "api.tpp.example"]);
        assert_eq!(
            xfcc.last.cert_pem.as_deref(),
            Some(fixtures::TPP_ORG_A_PEM.as_bytes())
        );
        let der = leaf_der_from_xfcc(header.as_bytes()).unwrap();
        assert_eq!(der, pem_to_der(fixtures::TPP_ORG_A_PEM.as_bytes()).unwrap());
    }

    /// A header captured from Envoy 1.40.0 (BoringSSL) with `SANITIZE_SET` and
    /// `set_current_client_cert_details: {subject: true, cert: true, uri: true, dns: true}`, for a client
    /// certificate with awkward values: `O=Open "Quoted", Ltd`, `CN=5a1b+x;y=z`, organizationIdentifier,
    /// a URI SAN with `;`, two DNS SANs. The client also sent a forged XFCC, which Envoy replaced.
    const ENVOY_1_40_XFCC: &str =
        include_str!("../../tests/fixtures/certificates/envoy_1_40_xfcc.txt");

    #[test]
    fn reads_a_header_real_envoy_wrote() {
        let xfcc = parse_xfcc(ENVOY_1_40_XFCC.trim_end().as_bytes()).unwrap();
        assert_eq!(xfcc.elements, 1);
        assert_eq!(xfcc.last.by, None);
        assert_eq!(
            xfcc.last.subject.as_deref(),
            Some(
                "2.5.4.97=#0C2250534447422D4F422D556E6B6E6F776E303031353830303030313034315245414141,\
                 CN=5a1b\\+x\\;y=z,OU=0015800001041REAAA,O=Open \\\"Quoted\\\"\\, Ltd,C=GB"
            )
        );
        assert_eq!(xfcc.last.uris, vec!["https://tpp.example/s?a=b;c"]);
        assert_eq!(xfcc.last.dns, vec!["tpp.example", "api.tpp.example"]);

        let der = leaf_der_from_xfcc(ENVOY_1_40_XFCC.trim_end().as_bytes()).unwrap();
        let facts = crate::certificate::parse_der(&der).unwrap();
        assert_eq!(
            facts.sha256_hex,
            "ca03902fcbc452336f0e0259a52208decbcd01dd1cdff40a3d208f462aa1f0db"
        );
        assert_eq!(facts.organisations, vec!["Open \"Quoted\", Ltd"]);
        assert_eq!(facts.common_names, vec!["5a1b+x;y=z"]);
        assert_eq!(
            facts.organisation_identifiers,
            vec!["PSDGB-OB-Unknown0015800001041REAAA"]
        );
        assert_eq!(facts.san_uris, xfcc.last.uris);
        assert_eq!(facts.san_dns, xfcc.last.dns);
    }

    #[test]
    fn a_comma_in_a_uri_san_can_forge_the_last_element_and_cross_check_catches_it() {
        // What Envoy writes for a certificate whose URI SAN is `x,Hash=…;Cert="<B>"`.
        let real = pem_to_der(fixtures::TPP_ORG_A_PEM.as_bytes()).unwrap();
        let other = pem_to_der(fixtures::TPP_ORG_B_PEM.as_bytes()).unwrap();
        let header = format!(
            "Hash={};Cert=\"{}\";URI=x,Hash={};Cert=\"{}\";DNS=tpp-a.example",
            hex_lower(&Sha256::digest(&real)),
            url_encode(fixtures::TPP_ORG_A_PEM),
            hex_lower(&Sha256::digest(&other)),
            url_encode(fixtures::TPP_ORG_B_PEM),
        );
        let der = leaf_der_from_xfcc(header.as_bytes()).unwrap();
        assert_eq!(der, other);
        let facts = crate::certificate::parse_der(&der).unwrap();
        let connection = hex_lower(&Sha256::digest(&real));
        assert_eq!(
            crate::certificate::cross_check(&facts, Some(&connection)),
            Err(CertificateError::ConnectionMismatch)
        );
    }

    #[test]
    fn bare_values_continue_over_segments_without_equals() {
        let pem = url_encode(fixtures::TPP_ORG_A_PEM);
        let header = format!("Cert=\"{pem}\";URI=https://x/?a=b;c;d;DNS=a.example;DNS=b");
        let xfcc = parse_xfcc(header.as_bytes()).unwrap();
        assert_eq!(xfcc.last.uris, vec!["https://x/?a=b;c;d"]);
        assert_eq!(xfcc.last.dns, vec!["a.example", "b"]);
        // After a quoted value there is nothing to continue.
        assert!(parse_xfcc(format!("Cert=\"{pem}\";c").as_bytes()).is_err());
    }

    #[test]
    fn takes_the_last_element() {
        let forged = envoy_xfcc(fixtures::TPP_ORG_B_PEM);
        let real = envoy_xfcc(fixtures::TPP_ORG_A_PEM);
        let header = format!("{forged}, {real}");
        let xfcc = parse_xfcc(header.as_bytes()).unwrap();
        assert_eq!(xfcc.elements, 2);
        let der = leaf_der_from_xfcc(header.as_bytes()).unwrap();
        assert_eq!(der, pem_to_der(fixtures::TPP_ORG_A_PEM.as_bytes()).unwrap());
    }

    #[test]
    fn keys_are_case_insensitive_and_unknown_keys_ignored() {
        let pem = url_encode(fixtures::TPP_ORG_A_PEM);
        let header = format!("hash=;CERT=\"{pem}\";Chain=\"x\";Foo=bar");
        // An empty Hash does not match.
        assert_eq!(
            leaf_der_from_xfcc(header.as_bytes()),
            Err(malformed("XFCC Hash does not match Cert"))
        );
        let header = format!("CERT=\"{pem}\";Chain=\"x\";Foo=bar");
        assert!(leaf_der_from_xfcc(header.as_bytes()).is_ok());
        // Unquoted Cert works too.
        let header = format!("Cert={pem}");
        assert!(leaf_der_from_xfcc(header.as_bytes()).is_ok());
    }

    #[test]
    fn hash_must_match_cert() {
        let header = envoy_xfcc(fixtures::TPP_ORG_A_PEM);
        let good = hex_lower(&Sha256::digest(
            pem_to_der(fixtures::TPP_ORG_A_PEM.as_bytes()).unwrap(),
        ));
        let bad = header.replace(&good, &"0".repeat(64));
        assert_eq!(
            leaf_der_from_xfcc(bad.as_bytes()),
            Err(malformed("XFCC Hash does not match Cert"))
        );
        let upper = header.replace(&good, &good.to_ascii_uppercase());
        assert!(leaf_der_from_xfcc(upper.as_bytes()).is_ok());
    }

    #[test]
    fn malformed_xfcc_headers_are_errors() {
        let cases: &[&[u8]] = &[
            b"",
            b",",
            b"Cert",
            b"Cert=\"abc",
            b"Cert=\"abc\\",
            b"Cert=\"abc\"x",
            b"=abc",
            b"Cert=a\"b",
            b"By=a;By=b",
            b"Cert=%zz",
            b"Cert=%4",
            b"Hash=abc",
            b"Subject=\"\xff\"",
            b"Cert=\"-----BEGIN CERTIFICATE-----\"",
            b"Cert=\"-----BEGIN CERTIFICATE-----!!!!-----END CERTIFICATE-----\"",
            b"Cert=\"-----BEGIN CERTIFICATE----------END CERTIFICATE-----\"",
            b"a=b,,c=d",
            b"\x00\x01\x02=\xff",
        ];
        for case in cases {
            let result = leaf_der_from_xfcc(case);
            assert!(
                matches!(result, Err(CertificateError::HeaderMalformed(_))),
                "{:?}: {result:?}",
                String::from_utf8_lossy(case)
            );
        }
    }

    #[test]
    fn xfcc_with_garbage_der_is_invalid_not_malformed() {
        // Base64 that decodes fine but is not a certificate: the DER parser refuses it later.
        let header = "Cert=\"-----BEGIN%20CERTIFICATE-----%0AAAAA%0A-----END%20CERTIFICATE-----\"";
        assert_eq!(
            leaf_der_from_xfcc(header.as_bytes()).unwrap(),
            vec![0, 0, 0]
        );
    }

    #[test]
    fn huge_headers_are_refused_before_parsing() {
        let huge = vec![b'a'; MAX_HEADER_BYTES + 1];
        assert_eq!(
            leaf_der_from_xfcc(&huge),
            Err(CertificateError::HeaderTooLarge)
        );
        assert_eq!(
            leaf_der_from_pem_header(&huge),
            Err(CertificateError::HeaderTooLarge)
        );
        assert_eq!(
            leaf_der_from_base64_der_header(&huge),
            Err(CertificateError::HeaderTooLarge)
        );
        // Just under the limit, a big but well-formed-looking base64 body: refused as too large a DER.
        let body = "A".repeat(MAX_HEADER_BYTES - 100);
        let pem = format!("-----BEGIN CERTIFICATE-----{body}-----END CERTIFICATE-----");
        assert_eq!(
            leaf_der_from_pem_header(pem.as_bytes()),
            Err(CertificateError::Invalid("certificate too large"))
        );
    }

    #[test]
    fn every_prefix_and_byte_flip_of_a_real_header_is_handled() {
        let header = envoy_xfcc(fixtures::EIDAS_AISP_PISP_PEM);
        let bytes = header.as_bytes();
        for end in 0..bytes.len() {
            let _ = leaf_der_from_xfcc(bytes.get(..end).unwrap());
        }
        for i in (0..bytes.len()).step_by(7) {
            for flip in [b'"', b',', b';', b'\\', b'%', b'=', 0xff] {
                let mut copy = bytes.to_vec();
                copy[i] = flip;
                let _ = leaf_der_from_xfcc(&copy);
            }
        }
    }

    #[test]
    fn pem_header_accepts_wso2_and_load_balancer_styles() {
        let pem = fixtures::TPP_ORG_A_PEM;
        let expected = pem_to_der(pem.as_bytes()).unwrap();
        // Raw PEM.
        assert_eq!(leaf_der_from_pem_header(pem.as_bytes()).unwrap(), expected);
        // Spaces in place of newlines (what WSO2 tolerates, what a header cannot carry otherwise).
        let spaced = pem.trim_end().replace('\n', " ");
        assert_eq!(
            leaf_der_from_pem_header(spaced.as_bytes()).unwrap(),
            expected
        );
        // CRLF.
        let crlf = pem.replace('\n', "\r\n");
        assert_eq!(leaf_der_from_pem_header(crlf.as_bytes()).unwrap(), expected);
        // URL-encoded (nginx $ssl_client_escaped_cert, AWS ALB).
        assert_eq!(
            leaf_der_from_pem_header(url_encode(pem).as_bytes()).unwrap(),
            expected
        );
        // A chain: the first block is the leaf.
        let chain = format!("{pem}{}", fixtures::CA_PEM);
        assert_eq!(
            leaf_der_from_pem_header(chain.as_bytes()).unwrap(),
            expected
        );
    }

    #[test]
    fn garbage_pem_is_malformed() {
        for case in [
            &b"not a certificate"[..],
            b"-----BEGIN CERTIFICATE-----",
            b"-----END CERTIFICATE----- -----BEGIN CERTIFICATE-----",
            b"-----BEGIN CERTIFICATE-----\n\n-----END CERTIFICATE-----",
            b"-----BEGIN CERTIFICATE-----\nMII*\n-----END CERTIFICATE-----",
            b"-----BEGIN CERTIFICATE-----\nProc-Type: 4,ENCRYPTED\n\nAAAA\n-----END CERTIFICATE-----",
            b"-----BEGIN CERTIFICATE-----\nA\n-----END CERTIFICATE-----",
            b"-----BEGIN CERTIFICATE-----\n\xff\xfe\n-----END CERTIFICATE-----",
            b"%GG",
        ] {
            assert!(
                matches!(
                    leaf_der_from_pem_header(case),
                    Err(CertificateError::HeaderMalformed(_))
                ),
                "{:?}",
                String::from_utf8_lossy(case)
            );
        }
    }

    #[test]
    fn base64_der_header_accepts_wso2_encoded_style() {
        let der = pem_to_der(fixtures::TPP_ORG_B_PEM.as_bytes()).unwrap();
        let b64 = Base64::encode_string(&der);
        // java.net.URLEncoder style: '+', '/', '=' percent-encoded.
        let encoded = b64
            .replace('+', "%2B")
            .replace('/', "%2F")
            .replace('=', "%3D");
        assert_eq!(
            leaf_der_from_base64_der_header(encoded.as_bytes()).unwrap(),
            der
        );
        // Not encoded at all, and unpadded.
        assert_eq!(
            leaf_der_from_base64_der_header(b64.as_bytes()).unwrap(),
            der
        );
        let unpadded = b64.trim_end_matches('=');
        assert_eq!(
            leaf_der_from_base64_der_header(unpadded.as_bytes()).unwrap(),
            der
        );
        for case in [&b""[..], b"%", b"%2", b"@@@@", b"A", b"AAAA====", b"\xff"] {
            assert!(
                matches!(
                    leaf_der_from_base64_der_header(case),
                    Err(CertificateError::HeaderMalformed(_))
                ),
                "{:?}",
                String::from_utf8_lossy(case)
            );
        }
    }

    #[test]
    fn percent_decoding_keeps_plus() {
        assert_eq!(percent_decode(b"a+b%2Bc%0a").unwrap(), b"a+b+c\n");
        assert!(percent_decode(b"%").is_err());
        assert!(percent_decode(b"%g0").is_err());
        assert!(percent_decode(b"%0").is_err());
    }
}
