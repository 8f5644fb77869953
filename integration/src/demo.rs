//! The demo stack of `make run`: two TPPs from two organisations, a demo CA, a demo key manager, the store
//! and Envoy configuration, all generated once into `.demo/` (git-ignored). DEMO ONLY: the keys are written
//! unencrypted and the store's credentials are `admin:admin`.

use crate::envoy::{self, Cluster, EnvoySpec, ListenerTls};
use crate::pki::{Ca, ClientCertSpec};
use crate::tokens::{KeyManager, TokenRequest};
use std::path::{Path, PathBuf};

pub const HTTPS_PORT: u16 = 8443;
pub const ADMIN_PORT: u16 = 9901;
pub const STORE_PORT: u16 = 8081;
pub const STORE_BASE_PATH: &str = "/api/fs/event-notifications";
/// DEMO ONLY credentials of the store's internal API.
pub const STORE_USER: &str = "admin";
pub const STORE_PASSWORD: &str = "admin";
/// `iss` of the demo key manager, shaped like WSO2 Identity Server's.
pub const TOKEN_ISSUER: &str = "https://localhost:9446/oauth2/token";
pub const TOKEN_KID: &str = "demo-token-key-1";
pub const SET_ISSUER: &str = "https://demo-bank.example/";

/// A demo TPP.
#[derive(Clone, Copy, Debug)]
pub struct Tpp {
    pub name: &'static str,
    pub organisation: &'static str,
    pub organisation_id: &'static str,
    pub software_id: &'static str,
    pub client_id: &'static str,
}

pub const TPPS: [Tpp; 2] = [
    Tpp {
        name: "tpp1",
        organisation: "Demo Fintech One Ltd",
        organisation_id: "0015800000DEMO0001",
        software_id: "demo-tpp1-software",
        client_id: "demo-tpp1-client",
    },
    Tpp {
        name: "tpp2",
        organisation: "Demo Fintech Two Ltd",
        organisation_id: "0015800000DEMO0002",
        software_id: "demo-tpp2-software",
        client_id: "demo-tpp2-client",
    },
];

pub fn tpp(name: &str) -> Option<Tpp> {
    TPPS.iter().copied().find(|t| t.name == name)
}

/// Paths inside the demo folder.
pub struct Layout {
    pub dir: PathBuf,
}

impl Layout {
    pub fn new(dir: &Path) -> Self {
        Layout {
            dir: dir.to_path_buf(),
        }
    }
    pub fn pki(&self) -> PathBuf {
        self.dir.join("pki")
    }
    pub fn ca_pem(&self) -> PathBuf {
        self.pki().join("ca.pem")
    }
    pub fn ca_key(&self) -> PathBuf {
        self.pki().join("ca.key")
    }
    pub fn tpp_cert(&self, tpp: &str) -> PathBuf {
        self.pki().join(format!("{tpp}.pem"))
    }
    pub fn tpp_key(&self, tpp: &str) -> PathBuf {
        self.pki().join(format!("{tpp}.key"))
    }
    pub fn token_key(&self) -> PathBuf {
        self.dir.join("keys").join("token-signing.key")
    }
    pub fn token_jwks(&self) -> PathBuf {
        self.dir.join("keys").join("token-jwks.json")
    }
    pub fn set_key(&self) -> PathBuf {
        self.dir.join("keys").join("set-signing.key")
    }
    pub fn store_config(&self) -> PathBuf {
        self.dir.join("store.toml")
    }
    pub fn envoy_config(&self) -> PathBuf {
        self.dir.join("envoy.yaml")
    }
    pub fn plugin_config(&self) -> PathBuf {
        self.dir.join("plugin-config.json")
    }
}

fn write(path: &Path, contents: &str) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create a demo folder");
    }
    std::fs::write(path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Generate the PKI and keys once (kept across runs), then (re)write the configuration files, which follow
/// the code.
pub fn init(layout: &Layout, wasm: &Path) {
    if !layout.ca_pem().is_file() {
        let ca = Ca::new("OB Event Gateway DEMO CA");
        write(&layout.ca_pem(), &ca.cert_pem);
        write(&layout.ca_key(), &ca.key_pem);
        let server = ca.server(&["localhost", "127.0.0.1"]);
        server
            .write(&layout.pki(), "server")
            .expect("write server cert");
        for tpp in TPPS {
            let cert = ca.client(&ClientCertSpec::ob(
                tpp.organisation,
                tpp.organisation_id,
                tpp.software_id,
            ));
            cert.write(&layout.pki(), tpp.name).expect("write TPP cert");
        }
    }
    if !layout.token_key().is_file() {
        let key = KeyManager::new_rsa(TOKEN_KID);
        write(&layout.token_key(), &key.to_pem());
    }
    if !layout.set_key().is_file() {
        let key = KeyManager::new_rsa("set");
        write(&layout.set_key(), &key.to_pem());
    }
    let key = KeyManager::from_pem(&read(&layout.token_key()), TOKEN_KID);
    write(
        &layout.token_jwks(),
        &serde_json::to_string_pretty(&key.jwks()).unwrap_or_default(),
    );
    write(&layout.store_config(), &store_config(layout));
    let plugin = plugin_config(layout);
    write(&layout.plugin_config(), &plugin);
    write(
        &layout.envoy_config(),
        &envoy::render(&envoy_spec(layout, wasm, plugin)),
    );
}

/// The filter's configuration for the demo: the demo key manager's JWKS inline, the store as backend.
pub fn plugin_config(layout: &Layout) -> String {
    let jwks: serde_json::Value =
        serde_json::from_str(&read(&layout.token_jwks())).unwrap_or_default();
    let config = serde_json::json!({
        "base_path": "/open-banking/v3.1",
        "issuers": [{
            "issuer": TOKEN_ISSUER,
            "jwks": jwks,
        }],
        "backend": {
            "cluster": "ob_event_store",
            "username": STORE_USER,
            "password": STORE_PASSWORD,
        },
        "polling": {
            "long_poll": { "max_wait_ms": 10000 }
        },
        // tpp1's application is subscribed to both APIs; tpp2's is not (its calls are refused 403).
        "apim": crate::testbed::apim_static(&["tpp1"]),
    });
    serde_json::to_string_pretty(&config).unwrap_or_default()
}

fn store_config(layout: &Layout) -> String {
    format!(
        r#"# DEMO ONLY: generated by `make run` (ob-demo init). Never use these credentials anywhere else.
listen = "127.0.0.1:{STORE_PORT}"
base_path = "{STORE_BASE_PATH}"
database_url = "sqlite://{db}"

[auth]
username = "{STORE_USER}"
password = "{STORE_PASSWORD}"

[sets]
issuer = "{SET_ISSUER}"
signing_key_file = "{key}"
algorithm = "PS256"
"#,
        db = layout.dir.join("store.db").display(),
        key = layout.set_key().display(),
    )
}

fn envoy_spec(layout: &Layout, wasm: &Path, plugin_config: String) -> EnvoySpec {
    EnvoySpec {
        wasm: wasm.to_path_buf(),
        plugin_config,
        tls: ListenerTls {
            server_cert: layout.pki().join("server.pem"),
            server_key: layout.pki().join("server.key"),
            client_ca: layout.ca_pem(),
            crl: None,
            require_client_certificate: true,
        },
        listen_address: "127.0.0.1".into(),
        listen_port: HTTPS_PORT,
        admin_address: "127.0.0.1".into(),
        admin_port: ADMIN_PORT,
        clusters: vec![Cluster {
            name: "ob_event_store".into(),
            host: "127.0.0.1".into(),
            port: STORE_PORT,
            timeout_ms: 1000,
        }],
        upstream: None,
        access_log: layout.dir.join("access.log"),
    }
}

/// A demo access token for `tpp`, bound to its certificate.
pub fn token(layout: &Layout, tpp: &Tpp, scope: &str) -> String {
    let key = KeyManager::from_pem(&read(&layout.token_key()), TOKEN_KID);
    let der = crate::pki::pem_to_der(&read(&layout.tpp_cert(tpp.name))).expect("TPP certificate");
    let cert = crate::pki::Issued {
        cert_pem: String::new(),
        key_pem: String::new(),
        der,
        serial: Vec::new(),
    };
    let x5t = cert.x5t_s256();
    key.sign(
        &TokenRequest {
            issuer: TOKEN_ISSUER,
            client_id: tpp.client_id,
            scope,
            x5t_s256: Some(&x5t),
            lifetime_secs: 3600,
        }
        .claims(),
    )
}

/// The curl commands of the seed's flow, as a TPP (and the bank's event source) would run them.
pub fn curl_commands(layout: &Layout) -> String {
    let d = layout.dir.display();
    let base = format!("https://localhost:{HTTPS_PORT}/open-banking/v3.1");
    let tls = format!("--cacert {d}/pki/ca.pem --cert {d}/pki/tpp1.pem --key {d}/pki/tpp1.key");
    let event = r#"{"urn:uk:org:openbanking:events:resource-update":{"subject":{"subject_type":"http://openbanking.org.uk/rid_http://openbanking.org.uk/rty","http://openbanking.org.uk/rid":"aac-1234","http://openbanking.org.uk/rty":"account-access-consent","http://openbanking.org.uk/rlk":[{"version":"v3.1","link":"https://demo-bank.example/open-banking/v3.1/aisp/account-access-consents/aac-1234"}]}}}"#;
    format!(
        r#"
OB Event Gateway demo is up. DEMO ONLY: demo CA, demo keys, store credentials admin:admin.
  Envoy + ob-event-filter  https://localhost:{HTTPS_PORT}  (client certificate required)
  Envoy admin              http://127.0.0.1:{ADMIN_PORT}   (stats: /stats/prometheus)
  ob-event-store           http://127.0.0.1:{STORE_PORT}{STORE_BASE_PATH}
  files                    {d}

TPP 1's application is subscribed to the two WSO2 APIs; TPP 2's is not: the same calls as TPP 2
(TPP=tpp2, --cert/--key .demo/pki/tpp2.*) are refused 403 (WSO2 900908).

As TPP 1:

# 1. Get an access token (client credentials, bound to tpp1's certificate)
TOKEN=$(make -s token TPP=tpp1 SCOPE=accounts)
POLL_TOKEN=$(make -s token TPP=tpp1 SCOPE=eventpolling)

# 2. Create an event subscription
curl -sS {tls} -X POST {base}/event-subscriptions \
  -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -H 'Accept: application/json' \
  -d '{{"Data":{{"Version":"3.1","EventTypes":["urn:uk:org:openbanking:events:resource-update"]}}}}'

# 3. The bank publishes an event for tpp1 (the store's internal API, as the bank's systems call it)
curl -sS -u {STORE_USER}:{STORE_PASSWORD} -X POST http://127.0.0.1:{STORE_PORT}{STORE_BASE_PATH}/create-events \
  -H 'x-wso2-client-id: demo-tpp1-client' -H 'x-wso2-resource-id: aac-1234' \
  --data-urlencode "request=$(printf '%s' '{event}' | base64 -w0)"

# 4. Poll for events
curl -sS {tls} -X POST {base}/events \
  -H "Authorization: Bearer $POLL_TOKEN" -H 'Content-Type: application/json' -H 'Accept: application/json' \
  -d '{{"returnImmediately":true,"maxEvents":10}}'

# 5. Acknowledge what you received (put the jti keys of "sets" here)
curl -sS {tls} -X POST {base}/events \
  -H "Authorization: Bearer $POLL_TOKEN" -H 'Content-Type: application/json' -H 'Accept: application/json' \
  -d '{{"maxEvents":0,"ack":["<jti>"]}}'

Ctrl-C stops everything.
"#
    )
}
