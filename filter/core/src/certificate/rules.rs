//! The certificate rules: pure functions over the parsed facts, the verified token's `cnf.x5t#S256`, the
//! organisation the application registered, and the time.
//!
//! [`check`] applies, in this order (the first failure is the answer):
//!
//! | # | rule | default | refusal |
//! |---|------|---------|---------|
//! | a | a client certificate is presented | required | [`CertificateError::Missing`] |
//! | – | it is not a CA certificate | always | [`CertificateError::NotClientCertificate`] |
//! | e | `notBefore - skew <= now <= notAfter + skew` | skew 60 s | [`CertificateError::NotYetValid`], [`CertificateError::Expired`] |
//! | b | the token is bound to it: `cnf.x5t#S256` = base64url(SHA-256(DER)), constant time (RFC 8705 §3) | required | [`CertificateError::TokenNotBound`], [`CertificateError::BindingMismatch`] |
//! | c | its organisation is the application's | by organizationIdentifier | [`CertificateError::OrganisationUnknown`], [`CertificateError::OrganisationMissing`], [`CertificateError::OrganisationAmbiguous`], [`CertificateError::OrganisationMismatch`] |
//! | d | it holds one of the required PSD2 roles | off (no roles) | [`CertificateError::RolesMissing`], [`CertificateError::Psd2Malformed`], [`CertificateError::Psd2RoleInconsistent`], [`CertificateError::RoleNotAllowed`] |
//!
//! [`cross_check`] is separate: in XFCC mode, the parsed leaf must be the connection's peer certificate.

use base64ct::{Base64UrlUnpadded, Encoding};
use serde::Deserialize;

use super::eidas::{EidasError, Psd2Status, Role};
use super::{CertificateError, CertificateFacts};

/// Default allowance for clocks that disagree, on `notBefore`/`notAfter`, in seconds (the same as the
/// token's).
pub const DEFAULT_CLOCK_SKEW_SECS: u64 = 60;

/// Which subject attribute names the TPP's organisation, to compare with the application's registered
/// organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrgMatch {
    /// organizationIdentifier (2.5.4.97): eIDAS QWAC/QSealC (`PSDGB-FCA-123456`) and OB Directory
    /// certificates issued since eIDAS (`PSDGB-OB-Unknown0015800001041REAAY`). The default.
    #[default]
    #[serde(alias = "organisation_identifier", alias = "2.5.4.97")]
    OrganizationIdentifier,
    /// organizationName (O).
    #[serde(alias = "organisation", alias = "o")]
    Organization,
    /// organizationalUnitName (OU): legacy OB Directory certificates, where OU is the organisation id.
    #[serde(alias = "organisational_unit", alias = "ou")]
    OrganizationalUnit,
    /// No organisation check. Must be chosen explicitly.
    #[serde(alias = "none")]
    Disabled,
}

impl OrgMatch {
    /// The subject values this matcher reads.
    fn values(self, facts: &CertificateFacts) -> &[String] {
        match self {
            OrgMatch::OrganizationIdentifier => &facts.organisation_identifiers,
            OrgMatch::Organization => &facts.organisations,
            OrgMatch::OrganizationalUnit => &facts.organisational_units,
            OrgMatch::Disabled => &[],
        }
    }
}

/// What the certificate step requires. Every field has a secure default (`{}` in JSON gives
/// [`CertificatePolicy::default`]); unknown keys are rejected.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CertificatePolicy {
    /// A client certificate must be presented. Default `true`. Setting it `false` only has an effect when
    /// no other rule needs the certificate: see [`CertificatePolicy::validate`].
    pub required: bool,
    /// The access token must be certificate-bound (`cnf.x5t#S256`, RFC 8705); a token without `cnf` is
    /// refused. Default `true`. When `false`, a token that *does* carry `cnf.x5t#S256` is still checked.
    pub bound_token_required: bool,
    /// Which subject attribute must equal the application's registered organisation. Default
    /// organizationIdentifier.
    pub organisation_match: OrgMatch,
    /// PSD2 roles, any one of which the certificate's qcStatement must grant (`AISP`/`PSP_AI` style both
    /// accepted). Default empty: no role check.
    pub required_roles: Vec<Role>,
    /// Clock skew allowed on notBefore/notAfter, seconds. Default 60.
    pub clock_skew_secs: u64,
}

impl Default for CertificatePolicy {
    fn default() -> CertificatePolicy {
        CertificatePolicy {
            required: true,
            bound_token_required: true,
            organisation_match: OrgMatch::OrganizationIdentifier,
            required_roles: Vec::new(),
            clock_skew_secs: DEFAULT_CLOCK_SKEW_SECS,
        }
    }
}

/// Longest clock skew a configuration may allow: one day.
pub const MAX_CLOCK_SKEW_SECS: u64 = 86_400;

impl CertificatePolicy {
    /// Whether any rule needs a certificate (then a request without one is refused whatever `required`
    /// says).
    pub fn needs_certificate(&self) -> bool {
        self.required
            || self.bound_token_required
            || self.organisation_match != OrgMatch::Disabled
            || !self.required_roles.is_empty()
    }

    /// Refuses contradictory settings, for the configuration loader: `required: false` while another rule
    /// still needs the certificate (the operator would believe certificates are optional, and they are not),
    /// and a clock skew over [`MAX_CLOCK_SKEW_SECS`].
    pub fn validate(&self) -> Result<(), String> {
        if !self.required && self.needs_certificate() {
            return Err("certificate.required is false, but bound_token_required, organisation_match or \
                        required_roles still need a client certificate: disable them too, or keep required"
                .to_owned());
        }
        if self.clock_skew_secs > MAX_CLOCK_SKEW_SECS {
            return Err(format!(
                "certificate.clock_skew_secs is over {MAX_CLOCK_SKEW_SECS}"
            ));
        }
        Ok(())
    }
}

/// Compares a token's `cnf.x5t#S256` with a certificate's SHA-256 in constant time (over the 32 digest
/// bytes). A value that is not unpadded base64url of 32 bytes does not match.
pub fn token_bound_to(x5t_s256: &str, sha256: &[u8; 32]) -> bool {
    let mut decoded = [0u8; 32];
    match Base64UrlUnpadded::decode(x5t_s256, &mut decoded) {
        Ok(d) if d.len() == 32 => {}
        _ => return false,
    }
    let diff = decoded
        .iter()
        .zip(sha256.iter())
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    std::hint::black_box(diff) == 0
}

/// Applies the rules (see the module docs) to the certificate of one request.
///
/// - `facts`: the parsed leaf, or `None` when no certificate was presented;
/// - `token_x5t`: the *verified* token's `cnf.x5t#S256`, `None` when it has none;
/// - `expected_org`: the organisation registered for the token's application (the caller looks it up);
///   `None` or empty when there is none;
/// - `now`: seconds since the Unix epoch.
pub fn check(
    policy: &CertificatePolicy,
    facts: Option<&CertificateFacts>,
    token_x5t: Option<&str>,
    expected_org: Option<&str>,
    now: u64,
) -> Result<(), CertificateError> {
    let Some(facts) = facts else {
        // A bound token without its certificate cannot be used either (RFC 8705 §3).
        if policy.needs_certificate() || token_x5t.is_some() {
            return Err(CertificateError::Missing);
        }
        return Ok(());
    };

    if facts.is_ca {
        return Err(CertificateError::NotClientCertificate);
    }

    // (e) validity.
    if now.saturating_add(policy.clock_skew_secs) < facts.not_before {
        return Err(CertificateError::NotYetValid);
    }
    if now > facts.not_after.saturating_add(policy.clock_skew_secs) {
        return Err(CertificateError::Expired);
    }

    // (b) certificate-bound token.
    match token_x5t {
        Some(x5t) if !token_bound_to(x5t, &facts.sha256) => {
            return Err(CertificateError::BindingMismatch)
        }
        None if policy.bound_token_required => return Err(CertificateError::TokenNotBound),
        _ => {}
    }

    // (c) organisation.
    if policy.organisation_match != OrgMatch::Disabled {
        let expected = expected_org
            .filter(|e| !e.is_empty())
            .ok_or(CertificateError::OrganisationUnknown)?;
        match policy.organisation_match.values(facts) {
            [] => return Err(CertificateError::OrganisationMissing),
            [one] => {
                if one != expected {
                    return Err(CertificateError::OrganisationMismatch);
                }
            }
            _ => return Err(CertificateError::OrganisationAmbiguous),
        }
    }

    // (d) eIDAS roles.
    if !policy.required_roles.is_empty() {
        match &facts.psd2 {
            Psd2Status::Absent => return Err(CertificateError::RolesMissing),
            Psd2Status::Invalid(EidasError::Malformed(detail)) => {
                return Err(CertificateError::Psd2Malformed(detail))
            }
            Psd2Status::Invalid(EidasError::RoleInconsistent) => {
                return Err(CertificateError::Psd2RoleInconsistent)
            }
            Psd2Status::Present(p) => {
                if !policy.required_roles.iter().any(|r| p.roles.contains(r)) {
                    return Err(CertificateError::RoleNotAllowed);
                }
            }
        }
    }
    Ok(())
}

/// When Envoy exposes the connection's peer certificate digest (`connection.sha256_peer_certificate_digest`,
/// hex), the certificate read from the header must be that one; otherwise the header does not describe this
/// connection and is refused.
///
/// `None` (the property is not available) passes. Pass `None` in trusted-header mode: there the connection's
/// peer is the load balancer, not the TPP. An empty digest means the connection has no client certificate
/// while the header claims one: refused.
pub fn cross_check(
    facts: &CertificateFacts,
    envoy_sha256_hex: Option<&str>,
) -> Result<(), CertificateError> {
    match envoy_sha256_hex {
        None => Ok(()),
        Some(hex) if hex.trim().eq_ignore_ascii_case(&facts.sha256_hex) => Ok(()),
        Some(_) => Err(CertificateError::ConnectionMismatch),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::certificate::fixtures::{self, facts_of};
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// 2030-01-01T00:00:00Z: inside the validity of the "valid" fixtures.
    const NOW: u64 = 1_893_456_000;
    const ORG_A: &str = "PSDGB-OB-Unknown0015800001041REAAA";

    fn policy() -> CertificatePolicy {
        CertificatePolicy::default()
    }

    fn ok(
        policy: &CertificatePolicy,
        facts: &CertificateFacts,
        org: &str,
    ) -> Result<(), CertificateError> {
        check(policy, Some(facts), Some(&facts.x5t_s256), Some(org), NOW)
    }

    #[test]
    fn defaults_are_the_secure_ones() {
        let p = CertificatePolicy::default();
        assert!(p.required);
        assert!(p.bound_token_required);
        assert_eq!(p.organisation_match, OrgMatch::OrganizationIdentifier);
        assert!(p.required_roles.is_empty());
        assert_eq!(p.clock_skew_secs, 60);
        assert_eq!(p.validate(), Ok(()));
        let parsed: CertificatePolicy = serde_json::from_str("{}").unwrap();
        assert_eq!(parsed, p);
    }

    #[test]
    fn policy_deserialises_and_validates() {
        let p: CertificatePolicy = serde_json::from_str(
            r#"{"organisation_match":"ou","required_roles":["AISP","PSP_PI"],"clock_skew_secs":5}"#,
        )
        .unwrap();
        assert_eq!(p.organisation_match, OrgMatch::OrganizationalUnit);
        assert_eq!(p.required_roles, vec![Role::Aisp, Role::Pisp]);
        for (text, m) in [
            (
                "\"organization_identifier\"",
                OrgMatch::OrganizationIdentifier,
            ),
            (
                "\"organisation_identifier\"",
                OrgMatch::OrganizationIdentifier,
            ),
            ("\"o\"", OrgMatch::Organization),
            ("\"organization\"", OrgMatch::Organization),
            ("\"organizational_unit\"", OrgMatch::OrganizationalUnit),
            ("\"disabled\"", OrgMatch::Disabled),
            ("\"none\"", OrgMatch::Disabled),
        ] {
            assert_eq!(serde_json::from_str::<OrgMatch>(text).unwrap(), m);
        }
        assert!(serde_json::from_str::<CertificatePolicy>(r#"{"requried":false}"#).is_err());
        assert!(
            serde_json::from_str::<CertificatePolicy>(r#"{"required_roles":["TPP"]}"#).is_err()
        );
        assert!(serde_json::from_str::<OrgMatch>("\"cn\"").is_err());

        let optional_only: CertificatePolicy =
            serde_json::from_str(r#"{"required":false}"#).unwrap();
        assert!(optional_only.validate().is_err());
        let really_optional: CertificatePolicy = serde_json::from_str(
            r#"{"required":false,"bound_token_required":false,"organisation_match":"disabled"}"#,
        )
        .unwrap();
        assert_eq!(really_optional.validate(), Ok(()));
        let skew = CertificatePolicy {
            clock_skew_secs: MAX_CLOCK_SKEW_SECS + 1,
            ..policy()
        };
        assert!(skew.validate().is_err());
    }

    #[test]
    fn a_good_request_passes() {
        let a = facts_of(fixtures::TPP_ORG_A_PEM);
        assert_eq!(ok(&policy(), &a, ORG_A), Ok(()));
    }

    #[test]
    fn a_missing_certificate_is_refused_unless_nothing_needs_it() {
        assert_eq!(
            check(&policy(), None, None, Some(ORG_A), NOW),
            Err(CertificateError::Missing)
        );
        let optional = CertificatePolicy {
            required: false,
            bound_token_required: false,
            organisation_match: OrgMatch::Disabled,
            ..policy()
        };
        assert_eq!(check(&optional, None, None, None, NOW), Ok(()));
        // A bound token still needs its certificate.
        assert_eq!(
            check(&optional, None, Some("abc"), None, NOW),
            Err(CertificateError::Missing)
        );
        // `required: false` alone does not make the certificate optional.
        let half = CertificatePolicy {
            required: false,
            ..policy()
        };
        assert_eq!(
            check(&half, None, None, Some(ORG_A), NOW),
            Err(CertificateError::Missing)
        );
    }

    #[test]
    fn a_ca_certificate_is_not_a_client_certificate() {
        let ca = facts_of(fixtures::CA_PEM);
        let open = CertificatePolicy {
            organisation_match: OrgMatch::Disabled,
            ..policy()
        };
        assert_eq!(
            ok(&open, &ca, ""),
            Err(CertificateError::NotClientCertificate)
        );
    }

    #[test]
    fn validity_is_checked_with_skew() {
        let expired = facts_of(fixtures::EXPIRED_PEM);
        assert_eq!(
            ok(&policy(), &expired, ORG_A),
            Err(CertificateError::Expired)
        );
        let future = facts_of(fixtures::NOT_YET_VALID_PEM);
        assert_eq!(
            ok(&policy(), &future, ORG_A),
            Err(CertificateError::NotYetValid)
        );

        let a = facts_of(fixtures::TPP_ORG_A_PEM);
        let at = |now| check(&policy(), Some(&a), Some(&a.x5t_s256), Some(ORG_A), now);
        assert_eq!(at(a.not_after), Ok(()));
        assert_eq!(at(a.not_after + 60), Ok(()));
        assert_eq!(at(a.not_after + 61), Err(CertificateError::Expired));
        assert_eq!(at(a.not_before - 60), Ok(()));
        assert_eq!(at(a.not_before - 61), Err(CertificateError::NotYetValid));
        assert_eq!(at(u64::MAX), Err(CertificateError::Expired));
        let no_skew = CertificatePolicy {
            clock_skew_secs: 0,
            ..policy()
        };
        assert_eq!(
            check(
                &no_skew,
                Some(&a),
                Some(&a.x5t_s256),
                Some(ORG_A),
                a.not_after + 1
            ),
            Err(CertificateError::Expired)
        );
    }

    #[test]
    fn the_token_must_be_bound_to_this_certificate() {
        let a = facts_of(fixtures::TPP_ORG_A_PEM);
        let b = facts_of(fixtures::TPP_ORG_B_PEM);
        let p = policy();
        assert_eq!(
            check(&p, Some(&a), None, Some(ORG_A), NOW),
            Err(CertificateError::TokenNotBound)
        );
        assert_eq!(
            check(&p, Some(&a), Some(&b.x5t_s256), Some(ORG_A), NOW),
            Err(CertificateError::BindingMismatch)
        );
        for bad in [
            "",
            "not base64!",
            &format!("{}=", a.x5t_s256),
            &a.sha256_hex,
            &a.x5t_s256[..42],
            &format!("{}A", a.x5t_s256),
        ] {
            assert_eq!(
                check(&p, Some(&a), Some(bad), Some(ORG_A), NOW),
                Err(CertificateError::BindingMismatch),
                "{bad}"
            );
        }
        // Not required: an unbound token passes, a bound one is still checked.
        let lax = CertificatePolicy {
            bound_token_required: false,
            ..policy()
        };
        assert_eq!(check(&lax, Some(&a), None, Some(ORG_A), NOW), Ok(()));
        assert_eq!(
            check(&lax, Some(&a), Some(&b.x5t_s256), Some(ORG_A), NOW),
            Err(CertificateError::BindingMismatch)
        );
    }

    #[test]
    fn token_binding_comparison() {
        let a = facts_of(fixtures::TPP_ORG_A_PEM);
        assert!(token_bound_to(&a.x5t_s256, &a.sha256));
        let mut other = a.sha256;
        other[31] ^= 1;
        assert!(!token_bound_to(&a.x5t_s256, &other));
        assert!(!token_bound_to("", &a.sha256));
        assert!(!token_bound_to(&"A".repeat(1000), &a.sha256));
    }

    #[test]
    fn the_organisation_must_match_by_the_configured_attribute() {
        let a = facts_of(fixtures::TPP_ORG_A_PEM);
        let b = facts_of(fixtures::TPP_ORG_B_PEM);
        let p = policy();
        assert_eq!(
            ok(&p, &b, ORG_A),
            Err(CertificateError::OrganisationMismatch)
        );
        assert_eq!(ok(&p, &b, "PSDGB-FCA-654321"), Ok(()));
        // Exact comparison: no case folding, no trimming.
        assert_eq!(
            ok(&p, &a, &ORG_A.to_lowercase()),
            Err(CertificateError::OrganisationMismatch)
        );
        assert_eq!(
            ok(&p, &a, &format!("{ORG_A} ")),
            Err(CertificateError::OrganisationMismatch)
        );
        assert_eq!(
            check(&p, Some(&a), Some(&a.x5t_s256), None, NOW),
            Err(CertificateError::OrganisationUnknown)
        );
        assert_eq!(ok(&p, &a, ""), Err(CertificateError::OrganisationUnknown));

        let by_ou = CertificatePolicy {
            organisation_match: OrgMatch::OrganizationalUnit,
            ..policy()
        };
        assert_eq!(ok(&by_ou, &a, "0015800001041REAAA"), Ok(()));
        assert_eq!(
            ok(&by_ou, &b, "0015800001041REAAA"),
            Err(CertificateError::OrganisationMismatch)
        );
        let by_o = CertificatePolicy {
            organisation_match: OrgMatch::Organization,
            ..policy()
        };
        assert_eq!(ok(&by_o, &a, "OpenBanking"), Ok(()));

        // The attribute is absent (the eIDAS fixture has no OU) or repeated.
        let eidas = facts_of(fixtures::EIDAS_AISP_PISP_PEM);
        assert_eq!(
            ok(&by_ou, &eidas, "x"),
            Err(CertificateError::OrganisationMissing)
        );
        let mut twice = a.clone();
        twice.organisation_identifiers.push(ORG_A.to_owned());
        assert_eq!(
            ok(&p, &twice, ORG_A),
            Err(CertificateError::OrganisationAmbiguous)
        );

        let off = CertificatePolicy {
            organisation_match: OrgMatch::Disabled,
            ..policy()
        };
        assert_eq!(check(&off, Some(&b), Some(&b.x5t_s256), None, NOW), Ok(()));
    }

    #[test]
    fn psd2_roles_any_of() {
        let aisp_pisp = facts_of(fixtures::EIDAS_AISP_PISP_PEM);
        let aspsp = facts_of(fixtures::EIDAS_ASPSP_PEM);
        let mismatch = facts_of(fixtures::EIDAS_ROLE_MISMATCH_PEM);
        let ob = facts_of(fixtures::TPP_ORG_A_PEM);
        let roles = |list: &[Role]| CertificatePolicy {
            required_roles: list.to_vec(),
            organisation_match: OrgMatch::Disabled,
            ..policy()
        };
        let aisp = roles(&[Role::Aisp]);
        assert_eq!(ok(&aisp, &aisp_pisp, ""), Ok(()));
        assert_eq!(
            ok(&roles(&[Role::Cbpii, Role::Pisp]), &aisp_pisp, ""),
            Ok(())
        );
        assert_eq!(ok(&aisp, &aspsp, ""), Err(CertificateError::RoleNotAllowed));
        assert_eq!(ok(&roles(&[Role::Aspsp]), &aspsp, ""), Ok(()));
        assert_eq!(ok(&aisp, &ob, ""), Err(CertificateError::RolesMissing));
        assert_eq!(
            ok(&aisp, &mismatch, ""),
            Err(CertificateError::Psd2RoleInconsistent)
        );
        let mut broken = aisp_pisp.clone();
        broken.psd2 = Psd2Status::Invalid(EidasError::Malformed("bad DER"));
        assert_eq!(
            ok(&aisp, &broken, ""),
            Err(CertificateError::Psd2Malformed("bad DER"))
        );
        // No roles required: an inconsistent statement is not looked at.
        let none = roles(&[]);
        assert_eq!(ok(&none, &mismatch, ""), Ok(()));
        // The eIDAS certificate's organizationIdentifier works with the default matcher.
        assert_eq!(ok(&policy(), &aisp_pisp, "PSDGB-FCA-123456"), Ok(()));
    }

    #[test]
    fn rules_run_in_order() {
        // Expired and unbound and wrong organisation: expiry is reported.
        let expired = facts_of(fixtures::EXPIRED_PEM);
        assert_eq!(
            check(&policy(), Some(&expired), None, Some("other"), NOW),
            Err(CertificateError::Expired)
        );
        // Unbound and wrong organisation: binding is reported.
        let a = facts_of(fixtures::TPP_ORG_A_PEM);
        assert_eq!(
            check(&policy(), Some(&a), None, Some("other"), NOW),
            Err(CertificateError::TokenNotBound)
        );
    }

    #[test]
    fn cross_check_with_the_connection() {
        let a = facts_of(fixtures::TPP_ORG_A_PEM);
        let b = facts_of(fixtures::TPP_ORG_B_PEM);
        assert_eq!(cross_check(&a, None), Ok(()));
        assert_eq!(cross_check(&a, Some(&a.sha256_hex)), Ok(()));
        assert_eq!(
            cross_check(&a, Some(&a.sha256_hex.to_ascii_uppercase())),
            Ok(())
        );
        assert_eq!(
            cross_check(&a, Some(&b.sha256_hex)),
            Err(CertificateError::ConnectionMismatch)
        );
        assert_eq!(
            cross_check(&a, Some("")),
            Err(CertificateError::ConnectionMismatch)
        );
        assert_eq!(
            cross_check(&a, Some(&a.x5t_s256)),
            Err(CertificateError::ConnectionMismatch)
        );
    }
}
