//! Test certificates, generated once by `fixtures_gen` (native only: rcgen/ring do not build for
//! `wasm32-unknown-unknown`) and committed under `tests/fixtures/certificates/`, so the same tests run
//! natively and under wasm-bindgen-test in Node. Every "valid" one is valid from 2024-01-01 to
//! 2099-01-01; tests pass `now` explicitly.

use super::{parse_der, xfcc, CertificateFacts};

macro_rules! fixture {
    ($file:literal) => {
        include_str!(concat!("../../tests/fixtures/certificates/", $file))
    };
}

/// Self-signed CA that issued every other fixture (`cA` true).
pub const CA_PEM: &str = fixture!("ca.pem");
/// OB Directory style: `O=OpenBanking, OU=0015800001041REAAA`, organizationIdentifier (UTF8String)
/// `PSDGB-OB-Unknown0015800001041REAAA`, DNS and URI SANs.
pub const TPP_ORG_A_PEM: &str = fixture!("tpp_org_a.pem");
/// Hex SHA-256 of [`TPP_ORG_A_PEM`]'s DER, as the generator computed it from rcgen's DER.
pub const TPP_ORG_A_SHA256_HEX: &str = fixture!("tpp_org_a.sha256");
/// Another organisation: `OU=0015800001041REBBB`, organizationIdentifier (PrintableString)
/// `PSDGB-FCA-654321`.
pub const TPP_ORG_B_PEM: &str = fixture!("tpp_org_b.pem");
/// eIDAS: organizationIdentifier `PSDGB-FCA-123456`, qcStatements = [QcCompliance, PSD2 (PSP_AI, PSP_PI,
/// FCA)].
pub const EIDAS_AISP_PISP_PEM: &str = fixture!("eidas_aisp_pisp.pem");
/// eIDAS: organizationIdentifier `PSDGB-FCA-999999`, PSD2 (PSP_AS).
pub const EIDAS_ASPSP_PEM: &str = fixture!("eidas_aspsp.pem");
/// eIDAS: a role with OID PSP_AI (0.4.0.19495.1.3) named `PSP_PI`.
pub const EIDAS_ROLE_MISMATCH_PEM: &str = fixture!("eidas_role_mismatch.pem");
/// Organisation A, valid 2020-01-01 to 2021-01-01.
pub const EXPIRED_PEM: &str = fixture!("expired.pem");
/// Organisation A, valid 2099-01-01 to 2099-12-31.
pub const NOT_YET_VALID_PEM: &str = fixture!("not_yet_valid.pem");

/// The DER of a fixture PEM.
pub fn der_of(pem: &str) -> Vec<u8> {
    xfcc::pem_to_der(pem.as_bytes()).unwrap()
}

/// The parsed facts of a fixture PEM.
pub fn facts_of(pem: &str) -> CertificateFacts {
    parse_der(&der_of(pem)).unwrap()
}
