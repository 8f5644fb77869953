//! Parsing a leaf certificate's DER into [`CertificateFacts`] with `x509-cert`.
//!
//! No signature or chain check happens here: Envoy verified the chain during the TLS handshake (or the
//! trusted load balancer did, in trusted-header mode). This reads what the certificate says.
//!
//! Refused as [`CertificateError::Invalid`]: anything `x509-cert` cannot decode as an RFC 5280 certificate
//! (trailing bytes included), more than [`MAX_DER_BYTES`], a repeated extension (RFC 5280 §4.2), an
//! unreadable subjectAltName or basicConstraints, a CN/O/OU/organizationIdentifier value that is not a
//! string type. A malformed PSD2 qcStatement does not fail the parse: it is recorded as
//! [`Psd2Status::Invalid`] and refused by the rules only when roles are required.

use base64ct::{Base64UrlUnpadded, Encoding};
use der::asn1::{Any, ObjectIdentifier};
use der::{Decode, Tag, Tagged};
use sha2::{Digest, Sha256};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{BasicConstraints, SubjectAltName};
use x509_cert::Certificate;

use super::eidas::{parse_qc_statements, Psd2Status, QC_STATEMENTS_OID};
use super::{hex_lower, CertificateError, CertificateFacts, MAX_DER_BYTES};

const CN: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
const O: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.10");
const OU: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.11");
const ORGANIZATION_IDENTIFIER: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.97");
const SUBJECT_ALT_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");
const BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");

/// Most extensions read from one certificate.
const MAX_EXTENSIONS: usize = 64;

fn invalid(detail: &'static str) -> CertificateError {
    CertificateError::Invalid(detail)
}

/// A DirectoryString (or PrintableString / IA5String) attribute value as text.
fn directory_string(value: &Any) -> Result<String, CertificateError> {
    let bytes = value.value();
    match value.tag() {
        Tag::Utf8String => std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|_| invalid("subject attribute is not valid UTF-8")),
        // PrintableString / IA5String are ASCII subsets; TeletexString is accepted when it is ASCII.
        Tag::PrintableString | Tag::Ia5String | Tag::TeletexString if bytes.is_ascii() => {
            std::str::from_utf8(bytes)
                .map(str::to_owned)
                .map_err(|_| invalid("subject attribute is not ASCII"))
        }
        Tag::BmpString => {
            if bytes.len() % 2 != 0 {
                return Err(invalid("subject attribute is not valid BMPString"));
            }
            let units = bytes
                .chunks_exact(2)
                .map(|c| match c {
                    [hi, lo] => u16::from_be_bytes([*hi, *lo]),
                    _ => 0,
                })
                .collect::<Vec<u16>>();
            String::from_utf16(&units)
                .map_err(|_| invalid("subject attribute is not valid BMPString"))
        }
        _ => Err(invalid("subject attribute is not a string")),
    }
}

/// Parses a leaf certificate's DER. See the module docs for what is refused.
pub fn parse_der(der: &[u8]) -> Result<CertificateFacts, CertificateError> {
    if der.len() > MAX_DER_BYTES {
        return Err(invalid("certificate too large"));
    }
    parse_der_with_digest(der, Sha256::digest(der).into())
}

/// [`parse_der`] with the SHA-256 of `der` already computed (by the cache).
pub(crate) fn parse_der_with_digest(
    der: &[u8],
    sha256: [u8; 32],
) -> Result<CertificateFacts, CertificateError> {
    if der.len() > MAX_DER_BYTES {
        return Err(invalid("certificate too large"));
    }
    let cert = Certificate::from_der(der).map_err(|_| invalid("not a DER X.509 certificate"))?;
    let tbs = cert.tbs_certificate();

    let mut common_names = Vec::new();
    let mut organisations = Vec::new();
    let mut organisational_units = Vec::new();
    let mut organisation_identifiers = Vec::new();
    for atv in tbs.subject().iter() {
        let slot = if atv.oid == CN {
            &mut common_names
        } else if atv.oid == O {
            &mut organisations
        } else if atv.oid == OU {
            &mut organisational_units
        } else if atv.oid == ORGANIZATION_IDENTIFIER {
            &mut organisation_identifiers
        } else {
            continue;
        };
        slot.push(directory_string(&atv.value)?);
    }

    let validity = tbs.validity();
    let not_before = validity.not_before.to_unix_duration().as_secs();
    let not_after = validity.not_after.to_unix_duration().as_secs();

    let extensions = tbs.extensions().map(|e| e.as_slice()).unwrap_or(&[]);
    if extensions.len() > MAX_EXTENSIONS {
        return Err(invalid("too many extensions"));
    }
    let mut san_dns = Vec::new();
    let mut san_uris = Vec::new();
    let mut is_ca = false;
    let mut psd2 = Psd2Status::Absent;
    for (i, ext) in extensions.iter().enumerate() {
        if extensions
            .iter()
            .skip(i.saturating_add(1))
            .any(|other| other.extn_id == ext.extn_id)
        {
            return Err(invalid("repeated extension"));
        }
        let value = ext.extn_value.as_bytes();
        if ext.extn_id == SUBJECT_ALT_NAME {
            let san = SubjectAltName::from_der(value)
                .map_err(|_| invalid("unreadable subjectAltName"))?;
            for name in san.0 {
                match name {
                    GeneralName::DnsName(dns) => san_dns.push(dns.to_string()),
                    GeneralName::UniformResourceIdentifier(uri) => san_uris.push(uri.to_string()),
                    _ => {}
                }
            }
        } else if ext.extn_id == BASIC_CONSTRAINTS {
            is_ca = BasicConstraints::from_der(value)
                .map_err(|_| invalid("unreadable basicConstraints"))?
                .ca;
        } else if ext.extn_id == QC_STATEMENTS_OID {
            psd2 = match parse_qc_statements(value) {
                Ok(Some(p)) => Psd2Status::Present(p),
                Ok(None) => Psd2Status::Absent,
                Err(e) => Psd2Status::Invalid(e),
            };
        }
    }

    Ok(CertificateFacts {
        sha256,
        sha256_hex: hex_lower(&sha256),
        x5t_s256: Base64UrlUnpadded::encode_string(&sha256),
        common_names,
        organisations,
        organisational_units,
        organisation_identifiers,
        san_dns,
        san_uris,
        not_before,
        not_after,
        is_ca,
        psd2,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::certificate::eidas::{EidasError, Role};
    use crate::certificate::fixtures::{self, der_of};
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// 2099-01-01T00:00:00Z.
    const Y2099: u64 = 4_070_908_800;

    #[test]
    fn reads_an_ob_directory_style_certificate() {
        let f = parse_der(&der_of(fixtures::TPP_ORG_A_PEM)).unwrap();
        assert_eq!(f.common_names, vec!["5a1b2c3d4e5f60718293a4"]);
        assert_eq!(f.organisations, vec!["OpenBanking"]);
        assert_eq!(f.organisational_units, vec!["0015800001041REAAA"]);
        assert_eq!(
            f.organisation_identifiers,
            vec!["PSDGB-OB-Unknown0015800001041REAAA"]
        );
        assert_eq!(f.san_dns, vec!["tpp-a.example", "api.tpp-a.example"]);
        assert_eq!(
            f.san_uris,
            vec!["https://tpp-a.example/software/5a1b2c3d4e5f60718293a4"]
        );
        assert!(!f.is_ca);
        assert_eq!(f.psd2, Psd2Status::Absent);
        assert!(f.not_before < 1_767_225_600, "valid since before 2026");
        assert_eq!(f.not_after, Y2099);
    }

    #[test]
    fn reads_a_printable_string_organization_identifier() {
        let f = parse_der(&der_of(fixtures::TPP_ORG_B_PEM)).unwrap();
        assert_eq!(f.organisation_identifiers, vec!["PSDGB-FCA-654321"]);
        assert_eq!(f.organisational_units, vec!["0015800001041REBBB"]);
    }

    #[test]
    fn digests_match_known_encodings() {
        let der = der_of(fixtures::TPP_ORG_A_PEM);
        let f = parse_der(&der).unwrap();
        let digest: [u8; 32] = Sha256::digest(&der).into();
        assert_eq!(f.sha256, digest);
        assert_eq!(f.sha256_hex.len(), 64);
        assert!(f
            .sha256_hex
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_eq!(f.x5t_s256.len(), 43);
        assert_eq!(
            Base64UrlUnpadded::decode_vec(&f.x5t_s256).unwrap(),
            digest.to_vec()
        );
        assert_eq!(f.sha256_hex, fixtures::TPP_ORG_A_SHA256_HEX);
    }

    #[test]
    fn reads_eidas_roles() {
        let f = parse_der(&der_of(fixtures::EIDAS_AISP_PISP_PEM)).unwrap();
        let Psd2Status::Present(p) = &f.psd2 else {
            panic!("{:?}", f.psd2)
        };
        assert_eq!(p.roles, vec![Role::Aisp, Role::Pisp]);
        assert_eq!(p.nca_name, "Financial Conduct Authority");
        assert_eq!(p.nca_id, "GB-FCA");
        assert_eq!(f.organisation_identifiers, vec!["PSDGB-FCA-123456"]);

        let f = parse_der(&der_of(fixtures::EIDAS_ASPSP_PEM)).unwrap();
        assert_eq!(f.psd2.roles(), Some(&[Role::Aspsp][..]));

        let f = parse_der(&der_of(fixtures::EIDAS_ROLE_MISMATCH_PEM)).unwrap();
        assert_eq!(f.psd2, Psd2Status::Invalid(EidasError::RoleInconsistent));
    }

    #[test]
    fn reads_validity_of_expired_and_future_certificates() {
        let f = parse_der(&der_of(fixtures::EXPIRED_PEM)).unwrap();
        assert_eq!(f.not_before, 1_577_836_800); // 2020-01-01
        assert_eq!(f.not_after, 1_609_459_200); // 2021-01-01
        let f = parse_der(&der_of(fixtures::NOT_YET_VALID_PEM)).unwrap();
        assert_eq!(f.not_before, Y2099);
    }

    #[test]
    fn reads_a_ca_certificate() {
        let f = parse_der(&der_of(fixtures::CA_PEM)).unwrap();
        assert!(f.is_ca);
        assert_eq!(f.common_names, vec!["OB Event Gateway Test CA"]);
    }

    #[test]
    fn truncated_and_corrupted_der_is_invalid_never_a_panic() {
        let der = der_of(fixtures::EIDAS_AISP_PISP_PEM);
        for end in 0..der.len() {
            assert!(matches!(
                parse_der(der.get(..end).unwrap()),
                Err(CertificateError::Invalid(_))
            ));
        }
        // Trailing data.
        let mut long = der.clone();
        long.push(0);
        assert!(parse_der(&long).is_err());
        // Flip bytes all over: any result, never a panic.
        for i in 0..der.len() {
            for v in [0x00, 0x01, 0x30, 0x80, 0xff] {
                let mut copy = der.clone();
                copy[i] = v;
                let _ = parse_der(&copy);
            }
        }
        assert!(parse_der(&[]).is_err());
        assert!(parse_der(&vec![0x30; MAX_DER_BYTES + 1]).is_err());
        assert!(parse_der(b"-----BEGIN CERTIFICATE-----").is_err());
    }
}
