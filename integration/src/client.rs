//! A TPP's HTTPS client: trusts the test CA, presents (or not) a client certificate, and sends requests
//! exactly as given, returning status, headers and body whatever the status.

use std::time::Duration;
use ureq::tls::{Certificate, ClientCert, PrivateKey, RootCerts, TlsConfig};

/// An answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON (panics with the body in the message when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", self.text()))
    }
}

/// A client as a TPP runs it.
pub struct Client {
    agent: ureq::Agent,
}

/// Why a request got no HTTP answer (TLS handshake refused, connection reset, …).
#[derive(Debug)]
pub struct TransportError(pub String);

impl Client {
    /// Trust `ca_pem`; present `identity` = (certificate PEM, key PEM) when given.
    pub fn new(ca_pem: &str, identity: Option<(&str, &str)>) -> Client {
        Self::with_timeout(ca_pem, identity, Duration::from_secs(30))
    }

    /// The same, giving up (and closing the connection) after `timeout`.
    pub fn with_timeout(ca_pem: &str, identity: Option<(&str, &str)>, timeout: Duration) -> Client {
        let ca = Certificate::from_pem(ca_pem.as_bytes()).expect("CA PEM");
        let mut tls = TlsConfig::builder().root_certs(RootCerts::new_with_certs(&[ca]));
        if let Some((cert_pem, key_pem)) = identity {
            let cert = Certificate::from_pem(cert_pem.as_bytes()).expect("client cert PEM");
            let key = PrivateKey::from_pem(key_pem.as_bytes()).expect("client key PEM");
            tls = tls.client_cert(Some(ClientCert::new_with_certs(&[cert], key)));
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .tls_config(tls.build())
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .build()
            .into();
        Client { agent }
    }

    /// Send a request; `Err` only when no HTTP answer came back.
    pub fn try_send(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Result<Answer, TransportError> {
        let headers: Vec<(&str, &[u8])> = headers.iter().map(|(n, v)| (*n, v.as_bytes())).collect();
        self.try_send_bytes(method, url, &headers, body)
    }

    /// Send a request whose header values are bytes (HTTP allows obs-text, bytes ≥ 0x80, that are not
    /// UTF-8).
    pub fn try_send_bytes(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &[u8])],
        body: Option<&[u8]>,
    ) -> Result<Answer, TransportError> {
        let mut builder = ureq::http::Request::builder().method(method).uri(url);
        for (name, value) in headers {
            let value = ureq::http::HeaderValue::from_bytes(value)
                .map_err(|e| TransportError(e.to_string()))?;
            builder = builder.header(*name, value);
        }
        let request = builder
            .body(body.map(<[u8]>::to_vec).unwrap_or_default())
            .map_err(|e| TransportError(e.to_string()))?;
        let mut response = self
            .agent
            .run(request)
            .map_err(|e| TransportError(e.to_string()))?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = response
            .body_mut()
            .read_to_vec()
            .map_err(|e| TransportError(e.to_string()))?;
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    /// Send a request with byte header values that must get an HTTP answer.
    pub fn send_bytes(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &[u8])],
        body: Option<&[u8]>,
    ) -> Answer {
        self.try_send_bytes(method, url, headers, body)
            .unwrap_or_else(|e| panic!("{method} {url}: no HTTP answer: {}", e.0))
    }

    /// Send a request that must get an HTTP answer.
    pub fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Answer {
        self.try_send(method, url, headers, body)
            .unwrap_or_else(|e| panic!("{method} {url}: no HTTP answer: {}", e.0))
    }
}

/// Repeat `request` until `accept` holds or 10 s pass, and return the last answer: for what the filter does
/// asynchronously (keys and subscription data load on its tick). Not a fixed sleep: it returns as soon as
/// the answer is the expected one.
pub fn eventually(mut request: impl FnMut() -> Answer, accept: impl Fn(&Answer) -> bool) -> Answer {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let answer = request();
        if accept(&answer) || std::time::Instant::now() > deadline {
            return answer;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
