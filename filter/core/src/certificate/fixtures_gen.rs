//! Generates the certificate fixtures under `tests/fixtures/certificates/` (see `fixtures.rs`).
//!
//! Native only, and ignored: the committed PEMs are what the tests use. Regenerate (new keys, new digests)
//! with:
//!
//! ```sh
//! cargo test -p ob-event-core certificate::fixtures_gen -- --ignored
//! ```

use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DistinguishedName, DnType, DnValue, IsCa,
    Issuer, KeyPair, SanType,
};
use sha2::{Digest, Sha256};

use super::eidas::der_build::{psd2_statement, qc_compliance, role, seq};
use crate::certificate::hex_lower;

const AS: &str = "0.4.0.19495.1.1";
const PI: &str = "0.4.0.19495.1.2";
const AI: &str = "0.4.0.19495.1.3";
const ORGANIZATION_IDENTIFIER: [u64; 4] = [2, 5, 4, 97];
const QC_STATEMENTS: [u64; 9] = [1, 3, 6, 1, 5, 5, 7, 1, 3];

fn dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/certificates")
}

fn dn(entries: &[(DnType, DnValue)]) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    for (ty, value) in entries {
        dn.push(ty.clone(), value.clone());
    }
    dn
}

fn utf8(s: &str) -> DnValue {
    DnValue::Utf8String(s.to_owned())
}

fn org_id(value: DnValue) -> (DnType, DnValue) {
    (
        DnType::CustomDnType(ORGANIZATION_IDENTIFIER.to_vec()),
        value,
    )
}

fn leaf(
    subject: DistinguishedName,
    sans: Vec<SanType>,
    validity: ((i32, u8, u8), (i32, u8, u8)),
    qc_statements: Option<Vec<u8>>,
) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = subject;
    params.subject_alt_names = sans;
    let ((y1, m1, d1), (y2, m2, d2)) = validity;
    params.not_before = rcgen::date_time_ymd(y1, m1, d1);
    params.not_after = rcgen::date_time_ymd(y2, m2, d2);
    params.is_ca = IsCa::ExplicitNoCa;
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    if let Some(content) = qc_statements {
        params
            .custom_extensions
            .push(CustomExtension::from_oid_content(&QC_STATEMENTS, content));
    }
    params
}

const VALID: ((i32, u8, u8), (i32, u8, u8)) = ((2024, 1, 1), (2099, 1, 1));

fn ob_subject(ou: &str, cn: &str, organisation_identifier: DnValue) -> DistinguishedName {
    dn(&[
        (DnType::CountryName, utf8("GB")),
        (DnType::OrganizationName, utf8("OpenBanking")),
        (DnType::OrganizationalUnitName, utf8(ou)),
        (DnType::CommonName, utf8(cn)),
        org_id(organisation_identifier),
    ])
}

fn eidas_subject(name: &str, organisation_identifier: &str) -> DistinguishedName {
    dn(&[
        (DnType::CountryName, utf8("GB")),
        (DnType::OrganizationName, utf8(name)),
        (DnType::CommonName, utf8("tpp.example")),
        org_id(utf8(organisation_identifier)),
    ])
}

fn fca(roles: &[Vec<u8>]) -> Vec<u8> {
    psd2_statement(roles, "Financial Conduct Authority", "GB-FCA")
}

#[test]
#[ignore = "writes the committed fixtures; run by hand to regenerate"]
fn generate_certificate_fixtures() {
    let dir = dir();
    std::fs::create_dir_all(&dir).unwrap();

    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::default();
    ca_params.distinguished_name = dn(&[
        (DnType::CountryName, utf8("GB")),
        (DnType::OrganizationName, utf8("OB Event Gateway Test")),
        (DnType::CommonName, utf8("OB Event Gateway Test CA")),
    ]);
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    ca_params.not_before = rcgen::date_time_ymd(2024, 1, 1);
    ca_params.not_after = rcgen::date_time_ymd(2099, 1, 1);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    std::fs::write(dir.join("ca.pem"), ca_cert.pem()).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);

    let org_a = || {
        ob_subject(
            "0015800001041REAAA",
            "5a1b2c3d4e5f60718293a4",
            utf8("PSDGB-OB-Unknown0015800001041REAAA"),
        )
    };
    let org_a_sans = || {
        vec![
            SanType::DnsName("tpp-a.example".try_into().unwrap()),
            SanType::DnsName("api.tpp-a.example".try_into().unwrap()),
            SanType::URI(
                "https://tpp-a.example/software/5a1b2c3d4e5f60718293a4"
                    .try_into()
                    .unwrap(),
            ),
        ]
    };

    let fixtures: Vec<(&str, CertificateParams)> = vec![
        ("tpp_org_a", leaf(org_a(), org_a_sans(), VALID, None)),
        (
            "tpp_org_b",
            leaf(
                ob_subject(
                    "0015800001041REBBB",
                    "6b2c3d4e5f60718293a4b5",
                    DnValue::PrintableString("PSDGB-FCA-654321".try_into().unwrap()),
                ),
                vec![SanType::DnsName("tpp-b.example".try_into().unwrap())],
                VALID,
                None,
            ),
        ),
        (
            "eidas_aisp_pisp",
            leaf(
                eidas_subject("Example AISP Ltd", "PSDGB-FCA-123456"),
                vec![],
                VALID,
                Some(seq(&[
                    qc_compliance(),
                    fca(&[role(AI, "PSP_AI"), role(PI, "PSP_PI")]),
                ])),
            ),
        ),
        (
            "eidas_aspsp",
            leaf(
                eidas_subject("Example Bank plc", "PSDGB-FCA-999999"),
                vec![],
                VALID,
                Some(seq(&[fca(&[role(AS, "PSP_AS")])])),
            ),
        ),
        (
            "eidas_role_mismatch",
            leaf(
                eidas_subject("Example Confused Ltd", "PSDGB-FCA-111111"),
                vec![],
                VALID,
                Some(seq(&[fca(&[role(AI, "PSP_PI")])])),
            ),
        ),
        (
            "expired",
            leaf(org_a(), org_a_sans(), ((2020, 1, 1), (2021, 1, 1)), None),
        ),
        (
            "not_yet_valid",
            leaf(org_a(), org_a_sans(), ((2099, 1, 1), (2099, 12, 31)), None),
        ),
    ];
    for (name, params) in fixtures {
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &issuer).unwrap();
        std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).unwrap();
        if name == "tpp_org_a" {
            let digest = hex_lower(&Sha256::digest(cert.der()));
            std::fs::write(dir.join(format!("{name}.sha256")), digest).unwrap();
        }
    }
}
