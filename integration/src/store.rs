//! The real `ob-event-store` as a process: its own folder, a SQLite database (or a given PostgreSQL URL),
//! a SET-signing key, Basic credentials; ready when `/health` answers 200; stopped on drop, with its log
//! printed when a test fails.

use crate::stub::free_port;
use crate::tokens::KeyManager;
use crate::workspace;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const USER: &str = "store-user";
pub const PASSWORD: &str = "store-password-for-tests";
pub const BASE_PATH: &str = "/api/fs/event-notifications";

pub struct Store {
    child: Option<Child>,
    pub port: u16,
    pub dir: PathBuf,
    log_path: PathBuf,
}

/// The store binary (built by `make build`).
pub fn binary() -> PathBuf {
    let path = workspace::target_dir().join("debug").join("ob-event-store");
    assert!(
        path.is_file(),
        "{} is missing: run `make build`",
        path.display()
    );
    path
}

impl Store {
    /// Start a store on a free port with a SQLite database in `dir`.
    pub fn start(dir: &Path) -> Store {
        let db = format!("sqlite://{}", dir.join("store.db").display());
        Self::start_with(dir, &db, "")
    }

    /// Start a store with a given database URL and extra TOML appended to the configuration.
    pub fn start_with(dir: &Path, database_url: &str, extra_toml: &str) -> Store {
        std::fs::create_dir_all(dir).expect("store dir");
        let key_path = dir.join("set-signing.key");
        if !key_path.is_file() {
            std::fs::write(&key_path, KeyManager::new_ec("set").to_pem()).expect("write key");
        }
        let port = free_port();
        let config = format!(
            r#"listen = "127.0.0.1:{port}"
base_path = "{BASE_PATH}"
database_url = "{database_url}"

[auth]
username = "{USER}"
password = "{PASSWORD}"

[sets]
issuer = "https://bank.test/"
signing_key_file = "{key}"
algorithm = "ES256"
{extra_toml}"#,
            key = key_path.display(),
        );
        let config_path = dir.join("store.toml");
        std::fs::write(&config_path, config).expect("write store.toml");
        let log_path = dir.join("store.log");
        let child = Command::new(binary())
            .arg("--config")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log_path).expect("log"))
            .stderr(
                std::fs::OpenOptions::new()
                    .append(true)
                    .open(&log_path)
                    .expect("log"),
            )
            .spawn()
            .expect("start ob-event-store");
        let mut store = Store {
            child: Some(child),
            port,
            dir: dir.to_path_buf(),
            log_path,
        };
        store.wait_ready();
        store
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(2)))
            .build()
            .into();
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("the store exited during start ({status}):\n{}", self.log());
            }
            if Instant::now() > deadline {
                panic!("the store was not ready in 60 s:\n{}", self.log());
            }
            if let Ok(r) = agent.get(&self.url("/health")).call() {
                if r.status().as_u16() == 200 {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// `http://127.0.0.1:<port><base><path>`
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{BASE_PATH}{path}", self.port)
    }

    /// The bank's systems publish an event for `client_id` (the store's `create-events`); returns the
    /// notification id.
    pub fn publish(
        &self,
        client_id: &str,
        resource_id: &str,
        events: &serde_json::Value,
    ) -> String {
        let form = format!(
            "request={}",
            STANDARD
                .encode(events.to_string())
                .replace('+', "%2B")
                .replace('/', "%2F")
                .replace('=', "%3D")
        );
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut response = agent
            .post(&self.url("/create-events"))
            .header("authorization", basic_auth())
            .header("x-wso2-client-id", client_id)
            .header("x-wso2-resource-id", resource_id)
            .header("content-type", "application/x-www-form-urlencoded")
            .send(form)
            .expect("create-events");
        let status = response.status().as_u16();
        let body = response.body_mut().read_to_string().unwrap_or_default();
        assert_eq!(status, 201, "create-events: {body}");
        let json: serde_json::Value = serde_json::from_str(&body).expect("JSON");
        json["notificationsID"]
            .as_str()
            .map(String::from)
            .unwrap_or_else(|| panic!("no notificationsID in {body}"))
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `Basic …` for the test credentials.
pub fn basic_auth() -> String {
    format!("Basic {}", STANDARD.encode(format!("{USER}:{PASSWORD}")))
}

impl Drop for Store {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            eprintln!(
                "----- store log ({}) -----\n{}\n----- end of store log -----",
                self.log_path.display(),
                self.log()
            );
        }
    }
}
