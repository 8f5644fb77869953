//! A test bed: a fresh folder, a fresh PKI (CA, server certificate, one OB-style certificate per demo TPP),
//! token issuers, optionally the real store, and Envoy running the built filter with a plugin configuration
//! derived from all of them.

use crate::client::Client;
use crate::demo::{Tpp, TPPS};
use crate::envoy::{self, Cluster, Envoy, EnvoySpec, ListenerTls};
use crate::pki::{Ca, ClientCertSpec, Issued};
use crate::store::{self, Store};
use crate::tokens::{KeyManager, TokenRequest};
use crate::workspace;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::OnceLock;
use tempfile::TempDir;

/// `iss` of the test key manager.
pub const ISSUER: &str = "https://is.test:9446/oauth2/token";
/// Name of the store's cluster in Envoy.
pub const STORE_CLUSTER: &str = "ob_event_store";

/// The test key manager's keys, made once per test binary (RSA key generation is the slow part).
pub fn rsa_key() -> &'static KeyManager {
    static KEY: OnceLock<KeyManager> = OnceLock::new();
    KEY.get_or_init(|| KeyManager::new_rsa("test-rsa-1"))
}

pub fn ec_key() -> &'static KeyManager {
    static KEY: OnceLock<KeyManager> = OnceLock::new();
    KEY.get_or_init(|| KeyManager::new_ec("test-ec-1"))
}

/// A TPP of the test bed: who it is and its transport certificate.
pub struct TestTpp {
    pub tpp: Tpp,
    pub cert: Issued,
}

pub struct Testbed {
    pub envoy: Envoy,
    /// The Envoy configuration, kept to re-render it on a reload.
    spec: EnvoySpec,
    dynamic: bool,
    pub store: Option<Store>,
    pub ca: Ca,
    pub tpps: Vec<TestTpp>,
    pub dir: TempDir,
}

/// What a configuration function may use.
pub struct Context {
    /// JWKS of the test key manager (RSA and EC keys).
    pub jwks: Value,
    /// Port of the store, when one runs (the `ob_event_store` cluster points there).
    pub store_port: Option<u16>,
}

type ConfigFn = Box<dyn FnOnce(&Context) -> String>;

/// How to build a test bed: `Testbed::builder().…start()`.
pub struct Builder {
    config: ConfigFn,
    clusters: Vec<Cluster>,
    require_client_certificate: bool,
    with_store: bool,
    upstream: Option<String>,
    revoked: Vec<String>,
    dynamic: bool,
}

/// The standard plugin configuration: the test issuer with its inline JWKS (PS256, ES256; RS256 allowed
/// too, so the RS256 tests need not change it) and the store as backend.
pub fn standard_config(ctx: &Context) -> Value {
    json!({
        "base_path": "/open-banking/v3.1",
        "issuers": [{
            "issuer": ISSUER,
            "jwks": ctx.jwks,
        }],
        "backend": {
            "cluster": STORE_CLUSTER,
            "username": store::USER,
            "password": store::PASSWORD,
            "timeout_ms": 3000,
        },
        "apim": apim_static(&["tpp1", "tpp2"]),
    })
}

/// WSO2 API names of the two APIs of the event notification flow (as the seed deploys them).
pub const SUBSCRIPTION_API: (&str, &str) = ("EventNotificationSubscriptionAPI", "v3.1.2");
pub const POLLING_API: (&str, &str) = ("AggregatedEventPollingAPI", "v3.1.2");

/// The `apim` section with a static list: every demo TPP has an application (its client id as a
/// PRODUCTION key, its organizationIdentifier as the `org_id` attribute); those named in `subscribed` are
/// subscribed to both APIs.
pub fn apim_static(subscribed: &[&str]) -> Value {
    let applications: Vec<Value> = TPPS
        .iter()
        .map(|t| {
            let subscriptions = if subscribed.contains(&t.name) {
                json!([{ "state": "UNBLOCKED" }])
            } else {
                json!([])
            };
            json!({
                "name": format!("{} application", t.organisation),
                "organisation": format!("PSDGB-OB-{}", t.organisation_id),
                "keys": [{ "consumer_key": t.client_id, "key_type": "PRODUCTION" }],
                "subscriptions": subscriptions,
            })
        })
        .collect();
    json!({
        "subscription_api": { "name": SUBSCRIPTION_API.0, "version": SUBSCRIPTION_API.1 },
        "polling_api": { "name": POLLING_API.0, "version": POLLING_API.1 },
        "organisation_attribute": "org_id",
        "source": { "type": "static", "applications": applications },
    })
}

impl Builder {
    /// The plugin configuration: the standard one changed by `edit`.
    pub fn config(mut self, edit: impl FnOnce(&Context, &mut Value) + 'static) -> Self {
        self.config = Box::new(move |ctx| {
            let mut config = standard_config(ctx);
            edit(ctx, &mut config);
            config.to_string()
        });
        self
    }

    /// The plugin configuration exactly as given (for configuration-refusal tests).
    pub fn raw_config(mut self, text: &str) -> Self {
        let text = text.to_string();
        self.config = Box::new(move |_| text);
        self
    }

    pub fn cluster(mut self, name: &str, port: u16, timeout_ms: u64) -> Self {
        self.clusters.push(Cluster {
            name: name.into(),
            host: "127.0.0.1".into(),
            port,
            timeout_ms,
        });
        self
    }

    /// Route what the filter lets through (route mode) to the cluster `name` (define it with `cluster`).
    pub fn upstream(mut self, name: &str) -> Self {
        self.upstream = Some(name.into());
        self
    }

    /// Serve the listener by LDS from a watched file, so that [`Testbed::reload`] can change the filter's
    /// configuration while Envoy runs.
    pub fn dynamic_listener(mut self) -> Self {
        self.dynamic = true;
        self
    }

    /// Configure a CRL on the listener that revokes the certificates of these TPPs.
    pub fn revoke(mut self, tpps: &[&str]) -> Self {
        self.revoked = tpps.iter().map(|t| t.to_string()).collect();
        self
    }

    /// Start the real store too (SQLite) and point the backend cluster at it.
    pub fn with_store(mut self) -> Self {
        self.with_store = true;
        self
    }

    /// Let TLS complete without a client certificate (the filter's own rule is then under test).
    pub fn client_certificate_optional(mut self) -> Self {
        self.require_client_certificate = false;
        self
    }

    pub fn start(mut self) -> Testbed {
        let dir = tempfile::Builder::new()
            .prefix("ob-event-test-")
            .tempdir()
            .expect("temp dir");
        let pki = dir.path().join("pki");
        std::fs::create_dir_all(&pki).expect("pki dir");
        let ca = Ca::new("OB Event Gateway TEST CA");
        std::fs::write(pki.join("ca.pem"), &ca.cert_pem).expect("write CA");
        let server = ca.server(&["localhost", "127.0.0.1"]);
        let (server_cert, server_key) = server.write(&pki, "server").expect("write server");
        let tpps: Vec<TestTpp> = TPPS
            .iter()
            .map(|tpp| TestTpp {
                tpp: *tpp,
                cert: ca.client(&ClientCertSpec::ob(
                    tpp.organisation,
                    tpp.organisation_id,
                    tpp.software_id,
                )),
            })
            .collect();
        let crl = (!self.revoked.is_empty()).then(|| {
            let revoked: Vec<&Issued> = tpps
                .iter()
                .filter(|t| self.revoked.iter().any(|r| r == t.tpp.name))
                .map(|t| &t.cert)
                .collect();
            let path = pki.join("crl.pem");
            std::fs::write(&path, ca.crl(&revoked)).expect("write the CRL");
            path
        });
        let store = self
            .with_store
            .then(|| Store::start(&dir.path().join("store")));
        let store_port = store.as_ref().map(|s| s.port);
        if !self.clusters.iter().any(|c| c.name == STORE_CLUSTER) {
            // Without a store the cluster points at a closed port: calls fail like a store that is down.
            let port = store_port.unwrap_or_else(crate::stub::free_port);
            self = self.cluster(STORE_CLUSTER, port, 1000);
        }
        let ctx = Context {
            jwks: json!({ "keys": [rsa_key().jwk(), ec_key().jwk()] }),
            store_port,
        };
        let plugin_config = (self.config)(&ctx);
        let spec = EnvoySpec {
            wasm: workspace::filter_wasm(),
            plugin_config,
            tls: ListenerTls {
                server_cert,
                server_key,
                client_ca: pki.join("ca.pem"),
                crl,
                require_client_certificate: self.require_client_certificate,
            },
            listen_address: "127.0.0.1".into(),
            // An LDS update rebinds the listener: it needs a fixed port.
            listen_port: if self.dynamic {
                crate::stub::free_port()
            } else {
                0
            },
            admin_address: "127.0.0.1".into(),
            admin_port: 0,
            clusters: self.clusters,
            upstream: self.upstream,
            access_log: dir.path().join("envoy").join("access.log"),
        };
        let envoy_dir = dir.path().join("envoy");
        let envoy = if self.dynamic {
            std::fs::create_dir_all(&envoy_dir).expect("envoy dir");
            let (bootstrap, lds) = envoy::render_dynamic(&spec, &envoy_dir);
            envoy::write_lds(&envoy_dir, &lds);
            Envoy::start_yaml(&bootstrap, &envoy_dir, 1)
        } else {
            Envoy::start(&spec, &envoy_dir)
        };
        Testbed {
            envoy,
            spec,
            dynamic: self.dynamic,
            store,
            ca,
            tpps,
            dir,
        }
    }
}

impl Testbed {
    pub fn builder() -> Builder {
        Builder {
            config: Box::new(|ctx| standard_config(ctx).to_string()),
            clusters: Vec::new(),
            require_client_certificate: true,
            with_store: false,
            upstream: None,
            revoked: Vec::new(),
            dynamic: false,
        }
    }

    /// A test bed with the standard configuration and no store.
    pub fn start() -> Testbed {
        Self::builder().start()
    }

    pub fn tpp(&self, name: &str) -> &TestTpp {
        self.tpps
            .iter()
            .find(|t| t.tpp.name == name)
            .unwrap_or_else(|| panic!("no TPP {name}"))
    }

    /// The client of TPP `name` ("tpp1", "tpp2"), presenting its certificate.
    pub fn tpp_client(&self, name: &str) -> Client {
        let tpp = self.tpp(name);
        Client::new(
            &self.ca.cert_pem,
            Some((&tpp.cert.cert_pem, &tpp.cert.key_pem)),
        )
    }

    /// A client presenting `cert`.
    pub fn client_with(&self, cert: &Issued) -> Client {
        Client::new(&self.ca.cert_pem, Some((&cert.cert_pem, &cert.key_pem)))
    }

    /// A client presenting no certificate.
    pub fn anonymous_client(&self) -> Client {
        Client::new(&self.ca.cert_pem, None)
    }

    /// A valid PS256 access token of TPP `name` with `scope`, bound to its certificate.
    pub fn token(&self, name: &str, scope: &str) -> String {
        rsa_key().sign(&self.claims(name, scope))
    }

    /// The claims of a valid token of TPP `name` (to change before signing).
    pub fn claims(&self, name: &str, scope: &str) -> Value {
        let tpp = self.tpp(name);
        let x5t = tpp.cert.x5t_s256();
        TokenRequest {
            issuer: ISSUER,
            client_id: tpp.tpp.client_id,
            scope,
            x5t_s256: Some(&x5t),
            lifetime_secs: 3600,
        }
        .claims()
    }

    pub fn url(&self, path: &str) -> String {
        self.envoy.url(path)
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// Give the filter a new plugin configuration while Envoy runs (needs `dynamic_listener`); returns when
    /// Envoy has applied it.
    pub fn reload(&self, plugin_config: &str) {
        assert!(
            self.dynamic,
            "reload needs Testbed::builder().dynamic_listener()"
        );
        let before = self.envoy.counter("listener_manager.lds.update_success");
        let mut spec = self.spec.clone();
        spec.plugin_config = plugin_config.to_string();
        let dir = self.envoy.dir.clone();
        let (_, lds) = envoy::render_dynamic(&spec, &dir);
        envoy::write_lds(&dir, &lds);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while self.envoy.counter("listener_manager.lds.update_success") <= before {
            assert!(
                std::time::Instant::now() < deadline,
                "Envoy did not apply the new configuration:\n{}",
                self.envoy.log()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// The plugin configuration the filter runs with now.
    pub fn plugin_config(&self) -> &str {
        &self.spec.plugin_config
    }
}
