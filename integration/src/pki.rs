//! Test and demo PKI: a CA, a server certificate for the listener, and TPP transport certificates shaped
//! like Open Banking ones (O = organisation, OU = organisation id, CN = software id, organizationIdentifier
//! 2.5.4.97), optionally with eIDAS qcStatements or an odd validity window.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DnType, DnValue, ExtendedKeyUsagePurpose,
    IsCa, Issuer, KeyPair, KeyUsagePurpose,
};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use time::{Duration, OffsetDateTime};

/// OID of organizationIdentifier (X.520), carried by OB and eIDAS certificates.
pub const ORGANIZATION_IDENTIFIER: &[u64] = &[2, 5, 4, 97];

/// A certificate and its private key, in PEM, plus the leaf DER.
#[derive(Clone, Debug)]
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
    pub der: Vec<u8>,
    /// The serial number (to revoke it in a CRL).
    pub serial: Vec<u8>,
}

impl Issued {
    /// base64url(SHA-256(DER)): the RFC 8705 `cnf.x5t#S256` value bound to this certificate.
    pub fn x5t_s256(&self) -> String {
        URL_SAFE_NO_PAD.encode(Sha256::digest(&self.der))
    }

    /// Hex SHA-256 of the DER (Envoy's `connection.sha256_peer_certificate_digest`).
    pub fn sha256_hex(&self) -> String {
        Sha256::digest(&self.der)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Write `<stem>.pem` and `<stem>.key` into `dir`; returns the two paths.
    pub fn write(&self, dir: &Path, stem: &str) -> std::io::Result<(PathBuf, PathBuf)> {
        let cert = dir.join(format!("{stem}.pem"));
        let key = dir.join(format!("{stem}.key"));
        std::fs::write(&cert, &self.cert_pem)?;
        std::fs::write(&key, &self.key_pem)?;
        Ok((cert, key))
    }
}

/// What goes into a TPP transport certificate.
#[derive(Clone, Debug)]
pub struct ClientCertSpec {
    pub organisation: String,
    pub organisation_id: String,
    pub software_id: String,
    /// organizationIdentifier (2.5.4.97), e.g. `PSDGB-OB-0015800001041REbAAM`.
    pub organization_identifier: Option<String>,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    /// Extra extensions, e.g. a qcStatements extension with PSD2 roles.
    pub extensions: Vec<CustomExtension>,
}

impl ClientCertSpec {
    /// An OB-style transport certificate valid from yesterday for a year.
    pub fn ob(organisation: &str, organisation_id: &str, software_id: &str) -> Self {
        let now = OffsetDateTime::now_utc();
        ClientCertSpec {
            organisation: organisation.into(),
            organisation_id: organisation_id.into(),
            software_id: software_id.into(),
            organization_identifier: Some(format!("PSDGB-OB-{organisation_id}")),
            not_before: now - Duration::days(1),
            not_after: now + Duration::days(365),
            extensions: Vec::new(),
        }
    }
}

/// A certificate authority that issues server and client certificates.
pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
    pub cert_pem: String,
    pub key_pem: String,
}

impl Ca {
    /// A new self-signed CA.
    pub fn new(common_name: &str) -> Ca {
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(DnType::CountryName, "GB");
        params
            .distinguished_name
            .push(DnType::OrganizationName, "OB Event Gateway demo");
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::days(2);
        params.not_after = now + Duration::days(3650);
        let key = KeyPair::generate().expect("generate the CA key");
        let cert = params.self_signed(&key).expect("self-sign the CA");
        let key_pem = key.serialize_pem();
        Ca {
            cert_pem: cert.pem(),
            key_pem,
            issuer: Issuer::new(params, key),
        }
    }

    /// A TLS server certificate for the given DNS names and IP addresses.
    pub fn server(&self, names: &[&str]) -> Issued {
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let mut params = CertificateParams::new(names).expect("server names");
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, "ob-event-gateway");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.use_authority_key_identifier_extension = true;
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::days(1);
        params.not_after = now + Duration::days(825);
        self.sign(params)
    }

    /// A TPP transport (client) certificate.
    pub fn client(&self, spec: &ClientCertSpec) -> Issued {
        let mut params = CertificateParams::default();
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(DnType::CountryName, "GB");
        dn.push(DnType::OrganizationName, spec.organisation.as_str());
        dn.push(
            DnType::OrganizationalUnitName,
            spec.organisation_id.as_str(),
        );
        dn.push(DnType::CommonName, spec.software_id.as_str());
        if let Some(org_identifier) = &spec.organization_identifier {
            dn.push(
                DnType::CustomDnType(ORGANIZATION_IDENTIFIER.to_vec()),
                DnValue::Utf8String(org_identifier.clone()),
            );
        }
        params.distinguished_name = dn;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.use_authority_key_identifier_extension = true;
        params.not_before = spec.not_before;
        params.not_after = spec.not_after;
        params.custom_extensions = spec.extensions.clone();
        self.sign(params)
    }

    /// A CRL of this CA, valid from yesterday for a week, revoking `revoked`.
    pub fn crl(&self, revoked: &[&Issued]) -> String {
        let now = OffsetDateTime::now_utc();
        let params = rcgen::CertificateRevocationListParams {
            this_update: now - Duration::days(1),
            next_update: now + Duration::days(7),
            crl_number: rcgen::SerialNumber::from_slice(&[1]),
            issuing_distribution_point: None,
            revoked_certs: revoked
                .iter()
                .map(|cert| rcgen::RevokedCertParams {
                    serial_number: rcgen::SerialNumber::from_slice(&cert.serial),
                    revocation_time: now - Duration::hours(1),
                    reason_code: Some(rcgen::RevocationReason::KeyCompromise),
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: rcgen::KeyIdMethod::Sha256,
        };
        params
            .signed_by(&self.issuer)
            .and_then(|crl| crl.pem())
            .expect("sign the CRL")
    }

    fn sign(&self, mut params: CertificateParams) -> Issued {
        let mut serial = [0u8; 16];
        rsa::rand_core::RngCore::fill_bytes(&mut rsa::rand_core::OsRng, &mut serial);
        serial[0] &= 0x7f; // positive
        serial[0] |= 0x01; // no leading zero byte
        params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
        let key = KeyPair::generate().expect("generate a key");
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("sign the certificate");
        Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().to_vec(),
            serial: serial.to_vec(),
        }
    }
}

/// PSD2 roles of an eIDAS certificate (ETSI TS 119 495): (role OID, role name).
pub const PSP_AS: (&str, &str) = ("0.4.0.19495.1.1", "PSP_AS");
pub const PSP_PI: (&str, &str) = ("0.4.0.19495.1.2", "PSP_PI");
pub const PSP_AI: (&str, &str) = ("0.4.0.19495.1.3", "PSP_AI");
pub const PSP_IC: (&str, &str) = ("0.4.0.19495.1.4", "PSP_IC");

/// The qcStatements extension (1.3.6.1.5.5.7.1.3) with one PSD2 statement (0.4.0.19495.2) granting
/// `roles`, issued by the national competent authority `nca_name` / `nca_id`.
pub fn psd2_qc_statements(roles: &[(&str, &str)], nca_name: &str, nca_id: &str) -> CustomExtension {
    let roles: Vec<Vec<u8>> = roles
        .iter()
        .map(|(oid, name)| der::seq(&[der::oid(oid), der::utf8(name)]))
        .collect();
    let psd2 = der::seq(&[der::seq(&roles), der::utf8(nca_name), der::utf8(nca_id)]);
    let statement = der::seq(&[der::oid("0.4.0.19495.2"), psd2]);
    CustomExtension::from_oid_content(&[1, 3, 6, 1, 5, 5, 7, 1, 3], der::seq(&[statement]))
}

/// Just enough DER to write a qcStatement.
mod der {
    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let len = content.len();
        if len < 0x80 {
            out.push(len as u8);
        } else if len < 0x100 {
            out.extend([0x81, len as u8]);
        } else {
            out.extend([0x82, (len >> 8) as u8, len as u8]);
        }
        out.extend_from_slice(content);
        out
    }

    pub fn seq(items: &[Vec<u8>]) -> Vec<u8> {
        tlv(0x30, &items.concat())
    }

    pub fn utf8(text: &str) -> Vec<u8> {
        tlv(0x0c, text.as_bytes())
    }

    pub fn oid(dotted: &str) -> Vec<u8> {
        let arcs: Vec<u64> = dotted
            .split('.')
            .map(|a| a.parse().expect("an OID arc"))
            .collect();
        let mut body = vec![(arcs[0] * 40 + arcs[1]) as u8];
        for &arc in &arcs[2..] {
            let mut chunk = vec![(arc & 0x7f) as u8];
            let mut rest = arc >> 7;
            while rest > 0 {
                chunk.push(((rest & 0x7f) as u8) | 0x80);
                rest >>= 7;
            }
            chunk.reverse();
            body.extend(chunk);
        }
        tlv(0x06, &body)
    }
}

/// Decode the first certificate of a PEM document to DER.
pub fn pem_to_der(pem: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::STANDARD;
    let body: String = pem
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE-----"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    STANDARD.decode(body.trim()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_certificates_carry_the_ob_subject() {
        let ca = Ca::new("test CA");
        let tpp = ca.client(&ClientCertSpec::ob(
            "Fintech Ltd",
            "0015800001041REbAAM",
            "sw-1",
        ));
        assert_eq!(pem_to_der(&tpp.cert_pem).unwrap(), tpp.der);
        // organizationIdentifier, UTF8String: OID 55 04 61 then tag 0x0c.
        let needle = [0x06, 0x03, 0x55, 0x04, 0x61, 0x0c];
        assert!(tpp.der.windows(needle.len()).any(|w| w == needle));
        assert_eq!(tpp.x5t_s256().len(), 43);
    }
}
