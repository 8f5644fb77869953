//! The binary as operators use it: configuration file and environment, `--help`, refusal to start without
//! credentials, the start-up log line, key generation, restart on the same SQLite file and graceful shutdown.

mod common;

use std::io::{Read, Write};
use std::process::Command;
use std::sync::Arc;

use common::*;
use ob_event_store::config::KEYS;
use ob_event_store::sets::Algorithm;
use serde_json::json;

fn run_binary(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut command = Command::new(binary());
    command.args(args).env_remove("OB_STORE_CONFIG");
    for key in KEYS {
        command.env_remove(key.env_var());
    }
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().expect("run ob-event-store")
}

#[test]
fn help_documents_every_option_and_key() {
    let out = run_binary(&["--help"], &[]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("--config"), "{help}");
    assert!(help.contains("generate-key"), "{help}");
    for key in KEYS {
        assert!(help.contains(key.path), "--help lacks {}", key.path);
        assert!(
            help.contains(&key.env_var()),
            "--help lacks {}",
            key.env_var()
        );
    }
}

#[test]
fn docs_describe_every_key() {
    let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/store.md"))
        .expect("docs/store.md");
    for key in KEYS {
        assert!(
            docs.contains(&format!("`{}`", key.path)),
            "docs/store.md lacks {}",
            key.path
        );
        assert!(
            docs.contains(&key.env_var()),
            "docs/store.md lacks {}",
            key.env_var()
        );
    }
}

#[test]
fn refuses_to_start_without_credentials() {
    let dir = TempDir::new();
    let key = dir.path("key.pem");
    std::fs::write(&key, key_pem(Algorithm::Ps256)).expect("key");
    let config = dir.path("store.toml");
    for auth in [
        "",
        "[auth]\nusername = \"u\"\n",
        "[auth]\npassword = \"p\"\n",
        "[auth]\nusername = \"u\"\npassword = \"\"\n",
    ] {
        std::fs::write(
            &config,
            format!(
                "listen = \"127.0.0.1:0\"\ndatabase_url = \"sqlite://{}\"\n{auth}[sets]\nissuer = \"i\"\nsigning_key_file = \"{}\"\n",
                dir.path("db.sqlite").display(),
                key.display()
            ),
        )
        .expect("config");
        let out = run_binary(&["--config", config.to_str().expect("utf8")], &[]);
        assert!(
            !out.status.success(),
            "started without credentials: {auth:?}"
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("auth."), "{err}");
        assert!(
            !dir.path("db.sqlite").exists(),
            "nothing created before the configuration is valid"
        );
    }
}

#[test]
fn refuses_bad_configuration() {
    let dir = TempDir::new();
    let key = dir.path("key.pem");
    std::fs::write(&key, key_pem(Algorithm::Ps256)).expect("key");
    let config = dir.path("store.toml");
    let base = format!(
        "[auth]\nusername = \"u\"\npassword = \"p\"\n[sets]\nissuer = \"i\"\nsigning_key_file = \"{}\"\n",
        key.display()
    );
    std::fs::write(&config, &base).expect("config");
    let out = run_binary(
        &["check-config", "--config", config.to_str().expect("utf8")],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (extra, why) in [
        ("typo_key = 1\n", "typo_key"),
        ("[polling]\nmax_events = 0\n", "max_events"),
        (
            "[retention]\nsweep_interval_secs = 0\n",
            "sweep_interval_secs",
        ),
    ] {
        // Top-level keys must precede the tables.
        let text = if extra.starts_with('[') {
            format!("{base}{extra}")
        } else {
            format!("{extra}{base}")
        };
        std::fs::write(&config, text).expect("config");
        let out = run_binary(
            &["check-config", "--config", config.to_str().expect("utf8")],
            &[],
        );
        assert!(!out.status.success(), "accepted a config with {why}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(why), "{err}");
    }
    // A key that does not fit the algorithm.
    std::fs::write(&config, &base).expect("config");
    let out = run_binary(
        &["--config", config.to_str().expect("utf8")],
        &[
            ("OB_STORE_SETS_ALGORITHM", "ES256"),
            ("OB_STORE_LISTEN", "127.0.0.1:0"),
            (
                "OB_STORE_DATABASE_URL",
                &format!("sqlite://{}", dir.path("x.db").display()),
            ),
        ],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("P-256"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn environment_overrides_the_file_and_the_start_line_names_address_and_database() {
    let dir = Arc::new(TempDir::new());
    let db_url = format!("sqlite://{}", dir.path("env.db").display());
    let options = StoreOptions {
        env: vec![
            (
                "OB_STORE_AUTH_PASSWORD".into(),
                "from-the-environment".into(),
            ),
            ("OB_STORE_POLLING_DEFAULT_MAX_EVENTS".into(), "1".into()),
            ("OB_STORE_SETS_ISSUER".into(), "https://env.example".into()),
        ],
        ..Default::default()
    };
    let store = Store::start(&dir, &db_url, &options).await;
    // The file's password no longer works; the environment's does.
    let (status, _) = store.poll("c1", &json!({})).await;
    assert_eq!(status, 401);
    let r = store
        .http
        .post(store.url("/create-events"))
        .basic_auth(USER, Some("from-the-environment"))
        .header("x-wso2-client-id", "c1")
        .header("x-wso2-resource-id", "r1")
        .form(&[("request", "eyJ1cm46eCI6e319")])
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 201);

    let logs = store.logs_text();
    let start = logs
        .lines()
        .find(|l| l.contains("listening"))
        .expect("start line");
    let start: serde_json::Value = serde_json::from_str(start).expect("JSON log line");
    assert_eq!(start["address"], store.address.as_str());
    assert_eq!(start["database"], "sqlite");
    assert!(
        !logs.contains(PASSWORD) && !logs.contains("from-the-environment"),
        "no password in the logs"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_file_is_created_and_survives_a_restart() {
    let dir = Arc::new(TempDir::new());
    let file = dir.path("nested/folders/store.db");
    let db_url = format!("sqlite://{}", file.display());
    let mut store = Store::start(&dir, &db_url, &StoreOptions::default()).await;
    assert!(
        file.exists(),
        "the database file and its folders are created"
    );
    let id = store.publish("c1", "r1").await;
    assert!(store.terminate().success());
    let store = Store::start(&dir, &db_url, &StoreOptions::default()).await;
    let (jtis, _, _) = store.poll_ok("c1", &json!({})).await;
    assert_eq!(
        jtis,
        vec![id],
        "data and schema survive a restart; migration is idempotent"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_in_flight_requests_and_exits_0() {
    let dir = Arc::new(TempDir::new());
    let db_url = format!("sqlite://{}", dir.path("shutdown.db").display());
    let mut store = Store::start(&dir, &db_url, &StoreOptions::default()).await;
    // Start a request and hold back its body. With `Expect: 100-continue` the server answers `100 Continue`
    // once the handler reads the body: from then on the request is provably in flight.
    let body = format!("request={}", "eyJ1cm46eCI6e319");
    let auth = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("{USER}:{PASSWORD}"),
    );
    let mut socket = std::net::TcpStream::connect(&store.address).expect("connect");
    write!(
        socket,
        "POST {BASE}/create-events HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {auth}\r\nx-wso2-client-id: c1\r\nx-wso2-resource-id: r1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .expect("write head");
    socket.flush().expect("flush");
    let mut continue_line = [0u8; 25];
    socket
        .read_exact(&mut continue_line)
        .expect("read 100 Continue");
    assert!(String::from_utf8_lossy(&continue_line).starts_with("HTTP/1.1 100 Continue"));
    let logs = store.logs.clone();
    let pid = store.pid();
    assert!(Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status()
        .expect("kill")
        .success());
    eventually("the store logs the shutdown request", || {
        let logs = logs.clone();
        async move {
            logs.lock()
                .expect("logs")
                .iter()
                .any(|l| l.contains("shutdown requested"))
        }
    })
    .await;
    // The in-flight request still completes.
    socket.write_all(body.as_bytes()).expect("write body");
    let mut response = String::new();
    socket.read_to_string(&mut response).expect("read");
    assert!(response.starts_with("HTTP/1.1 201"), "{response}");
    assert!(response.contains("notificationsID"), "{response}");
    let status = store.terminate_wait();
    assert_eq!(status.code(), Some(0), "graceful shutdown exits 0");
}

#[test]
fn generate_key_writes_a_private_pkcs8_key() {
    let dir = TempDir::new();
    for (alg, header) in [
        ("PS256", "BEGIN PRIVATE KEY"),
        ("ES256", "BEGIN PRIVATE KEY"),
    ] {
        let path = dir.path(&format!("keys/{alg}.pem"));
        let out = run_binary(
            &[
                "generate-key",
                "--algorithm",
                alg,
                "--out",
                path.to_str().expect("utf8"),
            ],
            &[],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let pem = std::fs::read_to_string(&path).expect("key written");
        assert!(pem.contains(header));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777,
                0o600
            );
        }
        let again = run_binary(
            &[
                "generate-key",
                "--algorithm",
                alg,
                "--out",
                path.to_str().expect("utf8"),
            ],
            &[],
        );
        assert!(
            !again.status.success(),
            "an existing key is not overwritten without --force"
        );
    }
}
