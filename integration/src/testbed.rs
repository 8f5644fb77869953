//! A test bed: a fresh folder, a fresh PKI (CA, server certificate, one OB-style certificate per demo TPP),
//! and Envoy running the built filter with a given plugin configuration.

use crate::client::Client;
use crate::demo::{Tpp, TPPS};
use crate::envoy::{Cluster, Envoy, EnvoySpec, ListenerTls};
use crate::pki::{Ca, ClientCertSpec, Issued};
use crate::workspace;
use std::path::PathBuf;
use tempfile::TempDir;

/// A TPP of the test bed: who it is and its transport certificate.
pub struct TestTpp {
    pub tpp: Tpp,
    pub cert: Issued,
}

pub struct Testbed {
    pub envoy: Envoy,
    pub ca: Ca,
    pub tpps: Vec<TestTpp>,
    pub dir: TempDir,
}

/// How to build a test bed; `Testbed::builder(config).start()`.
pub struct Builder {
    plugin_config: String,
    clusters: Vec<Cluster>,
    require_client_certificate: bool,
}

impl Builder {
    pub fn cluster(mut self, name: &str, port: u16, timeout_ms: u64) -> Self {
        self.clusters.push(Cluster {
            name: name.into(),
            host: "127.0.0.1".into(),
            port,
            timeout_ms,
        });
        self
    }

    /// Let TLS complete without a client certificate (the filter's own rule is then under test).
    pub fn client_certificate_optional(mut self) -> Self {
        self.require_client_certificate = false;
        self
    }

    pub fn start(self) -> Testbed {
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
        let tpps = TPPS
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
        let spec = EnvoySpec {
            wasm: workspace::filter_wasm(),
            plugin_config: self.plugin_config,
            tls: ListenerTls {
                server_cert,
                server_key,
                client_ca: pki.join("ca.pem"),
                require_client_certificate: self.require_client_certificate,
            },
            listen_address: "127.0.0.1".into(),
            listen_port: 0,
            admin_address: "127.0.0.1".into(),
            admin_port: 0,
            clusters: self.clusters,
        };
        let envoy = Envoy::start(&spec, &dir.path().join("envoy"));
        Testbed {
            envoy,
            ca,
            tpps,
            dir,
        }
    }
}

impl Testbed {
    pub fn builder(plugin_config: &str) -> Builder {
        Builder {
            plugin_config: plugin_config.into(),
            clusters: Vec::new(),
            require_client_certificate: true,
        }
    }

    /// A test bed with this plugin configuration and nothing else.
    pub fn start(plugin_config: &str) -> Testbed {
        Self::builder(plugin_config).start()
    }

    /// The client of TPP `name` ("tpp1", "tpp2"), presenting its certificate.
    pub fn tpp_client(&self, name: &str) -> Client {
        let tpp = self
            .tpps
            .iter()
            .find(|t| t.tpp.name == name)
            .unwrap_or_else(|| panic!("no TPP {name}"));
        Client::new(
            &self.ca.cert_pem,
            Some((&tpp.cert.cert_pem, &tpp.cert.key_pem)),
        )
    }

    /// A client presenting no certificate.
    pub fn anonymous_client(&self) -> Client {
        Client::new(&self.ca.cert_pem, None)
    }

    pub fn url(&self, path: &str) -> String {
        self.envoy.url(path)
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }
}
