//! Issue 6 through a real Envoy over TLS: the client certificate, the token bound to it, the application's
//! organisation, eIDAS roles, and the trusted-header mode for TLS ended in front of Envoy.

use ob_event_integration::client::{Answer, Client};
use ob_event_integration::pki::{psd2_qc_statements, Ca, ClientCertSpec, Issued, PSP_AI, PSP_PI};
use ob_event_integration::testbed::{rsa_key, Testbed};
use serde_json::json;
use time::{Duration, OffsetDateTime};

const LIST: &str = "/open-banking/v3.1/event-subscriptions";

fn list(bed: &Testbed, client: &Client, token: &str, extra: &[(&str, &str)]) -> Answer {
    let auth = format!("Bearer {token}");
    let mut headers = vec![("authorization", auth.as_str())];
    headers.extend_from_slice(extra);
    client.send("GET", &bed.url(LIST), &headers, None)
}

/// A token of tpp1's client bound to `cert`.
fn token_bound_to(bed: &Testbed, cert: &Issued) -> String {
    let mut claims = bed.claims("tpp1", "accounts");
    claims["cnf"] = json!({ "x5t#S256": cert.x5t_s256() });
    rsa_key().sign(&claims)
}

fn assert_passed(answer: &Answer) {
    assert_eq!(answer.status, 200, "{}", answer.text());
}

fn assert_unauthorized(answer: &Answer, bed: &Testbed, reason: &str) {
    assert_eq!(answer.status, 401, "{}", answer.text());
    assert!(answer.body.is_empty(), "no body on 401: {}", answer.text());
    assert!(answer.header("x-fapi-interaction-id").is_some());
    assert!(
        bed.envoy.counter(&format!(
            "wasmcustom.ob_event_filter.refused.certificate_unauthorized.{reason}"
        )) >= 1,
        "counted as {reason}"
    );
}

fn assert_forbidden(answer: &Answer, reason: &str, bed: &Testbed) {
    assert_eq!(answer.status, 403, "{}", answer.text());
    assert_eq!(
        answer.json()["Errors"][0]["ErrorCode"],
        "OBEventGateway.Certificate.Forbidden"
    );
    assert!(
        bed.envoy.counter(&format!(
            "wasmcustom.ob_event_filter.refused.certificate_forbidden.{reason}"
        )) >= 1,
        "counted as {reason}"
    );
}

fn tpp1_spec() -> ClientCertSpec {
    ClientCertSpec::ob(
        "Demo Fintech One Ltd",
        "0015800000DEMO0001",
        "demo-tpp1-software",
    )
}

#[test]
fn no_certificate_the_handshake_is_refused() {
    let bed = Testbed::start();
    let result = bed
        .anonymous_client()
        .try_send("GET", &bed.url(LIST), &[], None);
    assert!(
        result.is_err(),
        "a client without a certificate got {result:?}"
    );
}

#[test]
fn a_certificate_from_an_untrusted_ca_the_handshake_is_refused() {
    let bed = Testbed::start();
    let rogue = Ca::new("Rogue CA").client(&tpp1_spec());
    let result = bed
        .client_with(&rogue)
        .try_send("GET", &bed.url(LIST), &[], None);
    assert!(result.is_err(), "an untrusted certificate got {result:?}");
}

#[test]
fn a_revoked_certificate_is_refused_by_the_handshake_when_a_crl_is_configured() {
    let bed = Testbed::builder().with_store().revoke(&["tpp2"]).start();
    let result = bed
        .tpp_client("tpp2")
        .try_send("GET", &bed.url(LIST), &[], None);
    assert!(result.is_err(), "a revoked certificate got {result:?}");
    // The CRL revokes only tpp2: tpp1 still passes.
    assert_passed(&list(
        &bed,
        &bed.tpp_client("tpp1"),
        &bed.token("tpp1", "accounts"),
        &[],
    ));
}

#[test]
fn a_valid_certificate_and_a_token_bound_to_it_pass() {
    let bed = Testbed::builder().with_store().start();
    assert_passed(&list(
        &bed,
        &bed.tpp_client("tpp1"),
        &bed.token("tpp1", "accounts"),
        &[],
    ));
}

#[test]
fn a_token_bound_to_another_certificate_is_refused() {
    let bed = Testbed::builder().with_store().start();
    let other = bed.ca.client(&tpp1_spec());
    let token = token_bound_to(&bed, &other);
    let answer = list(&bed, &bed.tpp_client("tpp1"), &token, &[]);
    assert_unauthorized(&answer, &bed, "certificate_binding_mismatch");
}

#[test]
fn a_token_without_cnf_is_refused_by_default() {
    let bed = Testbed::builder().with_store().start();
    let mut claims = bed.claims("tpp1", "accounts");
    claims.as_object_mut().unwrap().remove("cnf");
    let token = rsa_key().sign(&claims);
    assert_unauthorized(
        &list(&bed, &bed.tpp_client("tpp1"), &token, &[]),
        &bed,
        "certificate_token_not_bound",
    );
}

#[test]
fn a_token_without_cnf_passes_when_binding_is_not_required() {
    let bed = Testbed::builder()
        .with_store()
        .config(|_, c| c["certificate"]["bound_token_required"] = json!(false))
        .start();
    let mut claims = bed.claims("tpp1", "accounts");
    claims.as_object_mut().unwrap().remove("cnf");
    assert_passed(&list(
        &bed,
        &bed.tpp_client("tpp1"),
        &rsa_key().sign(&claims),
        &[],
    ));
}

#[test]
fn a_certificate_of_another_organisation_than_the_applications_is_refused() {
    let bed = Testbed::builder().with_store().start();
    // tpp2's certificate, and a token of tpp1's client bound to it: the binding holds, the organisation
    // does not (tpp1's application is registered to tpp1's organisation).
    let tpp2 = &bed.tpp("tpp2").cert;
    let token = token_bound_to(&bed, tpp2);
    let answer = list(&bed, &bed.tpp_client("tpp2"), &token, &[]);
    assert_forbidden(&answer, "certificate_organisation_mismatch", &bed);
}

#[test]
fn a_client_without_a_registered_organisation_is_refused() {
    let bed = Testbed::builder()
        .with_store()
        .config(|_, c| {
            c["apim"]["source"]["applications"][0]
                .as_object_mut()
                .unwrap()
                .remove("organisation");
        })
        .start();
    let answer = list(
        &bed,
        &bed.tpp_client("tpp1"),
        &bed.token("tpp1", "accounts"),
        &[],
    );
    assert_eq!(answer.status, 403, "{}", answer.text());
}

#[test]
fn a_missing_psd2_role_is_refused() {
    let bed = Testbed::builder()
        .with_store()
        .config(|_, c| c["certificate"]["required_roles"] = json!(["AISP"]))
        .start();
    // tpp1's OB certificate has no PSD2 qcStatement.
    let answer = list(
        &bed,
        &bed.tpp_client("tpp1"),
        &bed.token("tpp1", "accounts"),
        &[],
    );
    assert_forbidden(&answer, "certificate_roles_missing", &bed);
    // A PISP-only eIDAS certificate does not have AISP.
    let mut spec = tpp1_spec();
    spec.extensions = vec![psd2_qc_statements(
        &[PSP_PI],
        "Financial Conduct Authority",
        "GB-FCA",
    )];
    let pisp = bed.ca.client(&spec);
    let answer = list(
        &bed,
        &bed.client_with(&pisp),
        &token_bound_to(&bed, &pisp),
        &[],
    );
    assert_forbidden(&answer, "certificate_role_not_allowed", &bed);
    // An AISP eIDAS certificate passes.
    spec.extensions = vec![psd2_qc_statements(
        &[PSP_AI, PSP_PI],
        "Financial Conduct Authority",
        "GB-FCA",
    )];
    let aisp = bed.ca.client(&spec);
    assert_passed(&list(
        &bed,
        &bed.client_with(&aisp),
        &token_bound_to(&bed, &aisp),
        &[],
    ));
}

#[test]
fn roles_can_differ_per_endpoint() {
    let bed = Testbed::builder()
        .with_store()
        .config(|_, c| c["certificate"]["endpoint_roles"] = json!({"POST /events": ["CBPII"]}))
        .start();
    // Subscriptions need no role; polling needs CBPII, which tpp1's certificate lacks.
    assert_passed(&list(
        &bed,
        &bed.tpp_client("tpp1"),
        &bed.token("tpp1", "accounts"),
        &[],
    ));
    let auth = format!("Bearer {}", bed.token("tpp1", "eventpolling"));
    let answer = bed.tpp_client("tpp1").send(
        "POST",
        &bed.url("/open-banking/v3.1/events"),
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        Some(b"{\"returnImmediately\": true}"),
    );
    assert_eq!(answer.status, 403, "{}", answer.text());
}

#[test]
fn a_tpp_supplied_x_forwarded_client_cert_is_ignored() {
    let bed = Testbed::builder().with_store().start();
    // tpp1 connects with its own certificate but claims tpp2's in the header, with a token bound to
    // tpp2's certificate: Envoy replaced the header, so the binding is checked against tpp1's.
    let tpp2 = &bed.tpp("tpp2").cert;
    let forged = format!(
        "Hash={};Cert=\"{}\"",
        tpp2.sha256_hex(),
        tpp2.cert_pem
            .replace('\n', "%0A")
            .replace(' ', "%20")
            .replace('+', "%2B")
            .replace('=', "%3D")
            .replace('/', "%2F")
    );
    let mut claims = bed.claims("tpp1", "accounts");
    claims["cnf"] = json!({ "x5t#S256": tpp2.x5t_s256() });
    let token = rsa_key().sign(&claims);
    let answer = list(
        &bed,
        &bed.tpp_client("tpp1"),
        &token,
        &[("x-forwarded-client-cert", &forged)],
    );
    assert_unauthorized(&answer, &bed, "certificate_binding_mismatch");
    // With a token bound to the certificate really presented, the forged header changes nothing.
    let answer = list(
        &bed,
        &bed.tpp_client("tpp1"),
        &bed.token("tpp1", "accounts"),
        &[("x-forwarded-client-cert", &forged)],
    );
    assert_passed(&answer);
}

fn expired_spec() -> ClientCertSpec {
    let mut spec = tpp1_spec();
    let now = OffsetDateTime::now_utc();
    spec.not_before = now - Duration::days(30);
    spec.not_after = now - Duration::days(1);
    spec
}

#[test]
fn an_expired_certificate_is_refused_by_the_handshake() {
    let bed = Testbed::start();
    let expired = bed.ca.client(&expired_spec());
    let result = bed
        .client_with(&expired)
        .try_send("GET", &bed.url(LIST), &[], None);
    assert!(result.is_err(), "an expired certificate got {result:?}");
}

/// TLS ended by a load balancer in front: Envoy sees no client certificate; the balancer passes it in a
/// header the filter is configured to trust.
fn trusted_header_bed() -> Testbed {
    Testbed::builder()
        .with_store()
        .client_certificate_optional()
        .config(|_, c| {
            c["certificate"]["source"] =
                json!({"type": "header", "name": "x-wso2-client-certificate", "format": "pem"})
        })
        .start()
}

#[test]
fn trusted_header_mode_on_reads_the_certificate_from_the_header() {
    let bed = trusted_header_bed();
    let cert = &bed.tpp("tpp1").cert;
    let pem = cert.cert_pem.trim().replace('\n', " ");
    let answer = list(
        &bed,
        &bed.anonymous_client(),
        &bed.token("tpp1", "accounts"),
        &[("x-wso2-client-certificate", &pem)],
    );
    assert_passed(&answer);
    // No header: no certificate.
    let answer = list(
        &bed,
        &bed.anonymous_client(),
        &bed.token("tpp1", "accounts"),
        &[],
    );
    assert_unauthorized(&answer, &bed, "certificate_missing");
}

#[test]
fn trusted_header_mode_refuses_an_expired_certificate() {
    let bed = trusted_header_bed();
    let expired = bed.ca.client(&expired_spec());
    let pem = expired.cert_pem.trim().replace('\n', " ");
    let answer = list(
        &bed,
        &bed.anonymous_client(),
        &token_bound_to(&bed, &expired),
        &[("x-wso2-client-certificate", &pem)],
    );
    assert_unauthorized(&answer, &bed, "certificate_expired");
}

#[test]
fn trusted_header_mode_off_the_header_is_not_trusted() {
    // The default (xfcc): the same header is ignored; without a TLS certificate nothing is presented.
    let bed = Testbed::builder()
        .with_store()
        .client_certificate_optional()
        .start();
    let pem = bed.tpp("tpp1").cert.cert_pem.trim().replace('\n', " ");
    let answer = list(
        &bed,
        &bed.anonymous_client(),
        &bed.token("tpp1", "accounts"),
        &[("x-wso2-client-certificate", &pem)],
    );
    assert_unauthorized(&answer, &bed, "certificate_missing");
}

#[test]
fn without_a_tls_certificate_a_client_sent_xfcc_is_refused() {
    // A listener that does not require a certificate: a TPP-sent XFCC is replaced by Envoy (SANITIZE_SET
    // removes it when there is no peer certificate), so nothing is presented.
    let bed = Testbed::builder()
        .with_store()
        .client_certificate_optional()
        .start();
    let cert = &bed.tpp("tpp1").cert;
    let forged = format!("Cert=\"{}\"", cert.cert_pem.replace('\n', "%0A"));
    let answer = list(
        &bed,
        &bed.anonymous_client(),
        &bed.token("tpp1", "accounts"),
        &[("x-forwarded-client-cert", &forged)],
    );
    assert_unauthorized(&answer, &bed, "certificate_missing");
}
