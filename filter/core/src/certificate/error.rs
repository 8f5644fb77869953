//! Why the client certificate step refused a request: one variant per reason, each with a unique stat suffix.
//!
//! Messages are safe to log and to return: they are fixed phrases and never contain header bytes,
//! certificate contents, thumbprints or the expected organisation.

use std::fmt;

/// Every reason the certificate step refuses a request.
///
/// [`CertificateError::is_forbidden`] decides the answer: `true` → 403 (the client is authenticated, but its
/// certificate does not entitle it: wrong organisation, missing PSD2 role); `false` → 401 (no usable client
/// authentication: certificate missing, unreadable, expired, not bound to the token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertificateError {
    /// No client certificate, and the policy needs one.
    Missing,
    /// The certificate header is longer than [`super::MAX_HEADER_BYTES`].
    HeaderTooLarge,
    /// The certificate header does not have the expected syntax (XFCC structure, URL encoding, PEM armour,
    /// base64, XFCC `Hash` not matching `Cert`). The detail is a fixed phrase.
    HeaderMalformed(&'static str),
    /// The certificate bytes are not a DER X.509 certificate this filter can read. The detail is a fixed
    /// phrase.
    Invalid(&'static str),
    /// The certificate in the header is not the one presented on this connection (its SHA-256 differs from
    /// Envoy's `connection.sha256_peer_certificate_digest`).
    ConnectionMismatch,
    /// The certificate is a CA certificate (basicConstraints `cA` true), not a client certificate.
    NotClientCertificate,
    /// `now > notAfter + skew`.
    Expired,
    /// `now + skew < notBefore`.
    NotYetValid,
    /// Certificate-bound tokens are required and the token carries no `cnf.x5t#S256`.
    TokenNotBound,
    /// The token's `cnf.x5t#S256` is not the SHA-256 thumbprint of this certificate (RFC 8705 §3).
    BindingMismatch,
    /// The organisation check is on, but no organisation is registered for the application.
    OrganisationUnknown,
    /// The certificate subject lacks the attribute the organisation check reads.
    OrganisationMissing,
    /// The certificate subject carries the attribute more than once.
    OrganisationAmbiguous,
    /// The certificate's organisation is not the application's.
    OrganisationMismatch,
    /// PSD2 roles are required and the certificate has no PSD2 qcStatement.
    RolesMissing,
    /// The PSD2 qcStatement is malformed. The detail is a fixed phrase.
    Psd2Malformed(&'static str),
    /// A role of the PSD2 qcStatement has an OID and a name that disagree (e.g. `0.4.0.19495.1.3` named
    /// `PSP_PI`).
    Psd2RoleInconsistent,
    /// The certificate holds none of the required PSD2 roles.
    RoleNotAllowed,
}

impl CertificateError {
    /// Every reason suffix, for defining stats up front (same order as the variants).
    pub const REASONS: &'static [&'static str] = &[
        "certificate_missing",
        "certificate_header_too_large",
        "certificate_header_malformed",
        "certificate_invalid",
        "certificate_connection_mismatch",
        "certificate_not_client",
        "certificate_expired",
        "certificate_not_yet_valid",
        "certificate_token_not_bound",
        "certificate_binding_mismatch",
        "certificate_organisation_unknown",
        "certificate_organisation_missing",
        "certificate_organisation_ambiguous",
        "certificate_organisation_mismatch",
        "certificate_roles_missing",
        "certificate_psd2_malformed",
        "certificate_psd2_role_inconsistent",
        "certificate_role_not_allowed",
    ];

    /// A unique snake_case name of the reason, used as the Envoy stat name suffix.
    pub fn reason(&self) -> &'static str {
        match self {
            CertificateError::Missing => "certificate_missing",
            CertificateError::HeaderTooLarge => "certificate_header_too_large",
            CertificateError::HeaderMalformed(_) => "certificate_header_malformed",
            CertificateError::Invalid(_) => "certificate_invalid",
            CertificateError::ConnectionMismatch => "certificate_connection_mismatch",
            CertificateError::NotClientCertificate => "certificate_not_client",
            CertificateError::Expired => "certificate_expired",
            CertificateError::NotYetValid => "certificate_not_yet_valid",
            CertificateError::TokenNotBound => "certificate_token_not_bound",
            CertificateError::BindingMismatch => "certificate_binding_mismatch",
            CertificateError::OrganisationUnknown => "certificate_organisation_unknown",
            CertificateError::OrganisationMissing => "certificate_organisation_missing",
            CertificateError::OrganisationAmbiguous => "certificate_organisation_ambiguous",
            CertificateError::OrganisationMismatch => "certificate_organisation_mismatch",
            CertificateError::RolesMissing => "certificate_roles_missing",
            CertificateError::Psd2Malformed(_) => "certificate_psd2_malformed",
            CertificateError::Psd2RoleInconsistent => "certificate_psd2_role_inconsistent",
            CertificateError::RoleNotAllowed => "certificate_role_not_allowed",
        }
    }

    /// A message for logs and error bodies: fixed text, nothing from the request.
    pub fn message(&self) -> String {
        match self {
            CertificateError::Missing => "Client certificate is missing".to_owned(),
            CertificateError::HeaderTooLarge => "Client certificate header is too large".to_owned(),
            CertificateError::HeaderMalformed(detail) => {
                format!("Client certificate header is malformed: {detail}")
            }
            CertificateError::Invalid(detail) => format!("Client certificate is invalid: {detail}"),
            CertificateError::ConnectionMismatch => {
                "Client certificate header does not match the TLS connection".to_owned()
            }
            CertificateError::NotClientCertificate => {
                "Client certificate is a CA certificate".to_owned()
            }
            CertificateError::Expired => "Client certificate is expired".to_owned(),
            CertificateError::NotYetValid => "Client certificate is not yet valid".to_owned(),
            CertificateError::TokenNotBound => {
                "Access token is not bound to a client certificate (no cnf.x5t#S256)".to_owned()
            }
            CertificateError::BindingMismatch => {
                "Access token is bound to another client certificate".to_owned()
            }
            CertificateError::OrganisationUnknown => {
                "No organisation is registered for the application".to_owned()
            }
            CertificateError::OrganisationMissing => {
                "Client certificate does not name an organisation".to_owned()
            }
            CertificateError::OrganisationAmbiguous => {
                "Client certificate names more than one organisation".to_owned()
            }
            CertificateError::OrganisationMismatch => {
                "Client certificate belongs to another organisation than the application".to_owned()
            }
            CertificateError::RolesMissing => "Client certificate carries no PSD2 roles".to_owned(),
            CertificateError::Psd2Malformed(detail) => {
                format!("Client certificate PSD2 qcStatement is malformed: {detail}")
            }
            CertificateError::Psd2RoleInconsistent => {
                "Client certificate PSD2 role OID and name disagree".to_owned()
            }
            CertificateError::RoleNotAllowed => {
                "Client certificate holds none of the PSD2 roles this API requires".to_owned()
            }
        }
    }

    /// `true` → 403 (authenticated but not entitled); `false` → 401.
    pub fn is_forbidden(&self) -> bool {
        matches!(
            self,
            CertificateError::OrganisationUnknown
                | CertificateError::OrganisationMissing
                | CertificateError::OrganisationAmbiguous
                | CertificateError::OrganisationMismatch
                | CertificateError::RolesMissing
                | CertificateError::Psd2Malformed(_)
                | CertificateError::Psd2RoleInconsistent
                | CertificateError::RoleNotAllowed
        )
    }

    /// The WSO2 Open Banking gateway code for the same refusal, where WSO2 makes it (DIGEST-wso2 §1.2–1.7):
    /// `200007` missing, `200003` invalid, `200008` expired, `200004` TPP/role validation, `900901` bound
    /// token mismatch. WSO2 does not compare organisations, so those have none.
    pub fn wso2_code(&self) -> Option<&'static str> {
        match self {
            CertificateError::Missing => Some("200007"),
            CertificateError::HeaderTooLarge
            | CertificateError::HeaderMalformed(_)
            | CertificateError::Invalid(_)
            | CertificateError::ConnectionMismatch
            | CertificateError::NotClientCertificate => Some("200003"),
            CertificateError::Expired | CertificateError::NotYetValid => Some("200008"),
            CertificateError::TokenNotBound | CertificateError::BindingMismatch => Some("900901"),
            CertificateError::RolesMissing
            | CertificateError::Psd2Malformed(_)
            | CertificateError::Psd2RoleInconsistent
            | CertificateError::RoleNotAllowed => Some("200004"),
            CertificateError::OrganisationUnknown
            | CertificateError::OrganisationMissing
            | CertificateError::OrganisationAmbiguous
            | CertificateError::OrganisationMismatch => None,
        }
    }
}

impl fmt::Display for CertificateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for CertificateError {}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn every_variant() -> Vec<CertificateError> {
        vec![
            CertificateError::Missing,
            CertificateError::HeaderTooLarge,
            CertificateError::HeaderMalformed("x"),
            CertificateError::Invalid("x"),
            CertificateError::ConnectionMismatch,
            CertificateError::NotClientCertificate,
            CertificateError::Expired,
            CertificateError::NotYetValid,
            CertificateError::TokenNotBound,
            CertificateError::BindingMismatch,
            CertificateError::OrganisationUnknown,
            CertificateError::OrganisationMissing,
            CertificateError::OrganisationAmbiguous,
            CertificateError::OrganisationMismatch,
            CertificateError::RolesMissing,
            CertificateError::Psd2Malformed("x"),
            CertificateError::Psd2RoleInconsistent,
            CertificateError::RoleNotAllowed,
        ]
    }

    #[test]
    fn reasons_are_unique_snake_case_and_listed() {
        let reasons: Vec<&str> = every_variant().iter().map(|e| e.reason()).collect();
        assert_eq!(reasons, CertificateError::REASONS);
        let mut sorted = reasons.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), reasons.len());
        for r in reasons {
            assert!(
                r.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{r}"
            );
        }
    }

    #[test]
    fn messages_are_fixed_text() {
        for e in every_variant() {
            let m = e.message();
            assert!(!m.is_empty());
            assert_eq!(m, e.to_string());
        }
    }

    #[test]
    fn entitlement_failures_are_forbidden_authentication_failures_are_not() {
        assert!(CertificateError::OrganisationMismatch.is_forbidden());
        assert!(CertificateError::RoleNotAllowed.is_forbidden());
        assert!(!CertificateError::Missing.is_forbidden());
        assert!(!CertificateError::BindingMismatch.is_forbidden());
        assert!(!CertificateError::Expired.is_forbidden());
        assert_eq!(CertificateError::Missing.wso2_code(), Some("200007"));
        assert_eq!(CertificateError::OrganisationMismatch.wso2_code(), None);
    }
}
