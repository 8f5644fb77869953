//! Test harness: a real `ob-event-store` process per test, on SQLite or on a fresh PostgreSQL schema, with an
//! HTTP client, direct database access for "what the database holds", and SET verification with the JWKS the
//! store serves.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use ob_event_store::sets::{generate_key_pem, Algorithm};
use serde_json::{json, Value};
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::SqlitePoolOptions;
use sqlx::{PgPool, SqlitePool};

pub const USER: &str = "gateway";
pub const PASSWORD: &str = "s3cret-test-password";
pub const ISSUER: &str = "https://bank.example/events";
pub const BASE: &str = "/api/fs/event-notifications";
pub const PG_ENV: &str = "OB_STORE_TEST_POSTGRES_URL";

/// Which database a test runs against.
#[derive(Clone, Debug)]
pub enum Backend {
    Sqlite,
    Postgres(String),
}

impl Backend {
    /// PostgreSQL when `OB_STORE_TEST_POSTGRES_URL` is set.
    pub fn postgres() -> Option<Backend> {
        std::env::var(PG_ENV)
            .ok()
            .filter(|u| !u.trim().is_empty())
            .map(Backend::Postgres)
    }
}

/// Runs each named `async fn name(Backend)` as `sqlite::name` and `postgres::name`.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(backend) = $crate::common::Backend::postgres() else {
                        $crate::common::skipped(stringify!($name));
                        return;
                    };
                    super::$name(backend).await
                }
            )*
        }
    };
}

/// Says on the terminal that a PostgreSQL test was skipped. Written to stderr directly: libtest captures
/// `eprintln!` of passing tests, which would hide the notice.
pub fn skipped(name: &str) {
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED postgres::{name}: {PG_ENV} is not set (e.g. postgres://postgres@127.0.0.1:5432/test)"
    );
}

/// A private scratch folder, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> Self {
        let dir =
            std::env::temp_dir().join(format!("ob-event-store-test-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A signing key in PEM, generated once per test binary and algorithm.
pub fn key_pem(algorithm: Algorithm) -> &'static str {
    static RSA: OnceLock<String> = OnceLock::new();
    static EC: OnceLock<String> = OnceLock::new();
    match algorithm {
        Algorithm::Ps256 | Algorithm::Rs256 => {
            RSA.get_or_init(|| generate_key_pem(Algorithm::Ps256, 2048).expect("rsa keygen"))
        }
        Algorithm::Es256 => {
            EC.get_or_init(|| generate_key_pem(Algorithm::Es256, 0).expect("ec keygen"))
        }
    }
}

/// One test's database: a SQLite file or a fresh PostgreSQL schema (dropped at the end).
pub struct Database {
    /// The `database_url` for the store.
    pub url: String,
    pub handle: DbHandle,
    pg_admin: Option<(String, String)>,
    _dir: Option<Arc<TempDir>>,
}

#[derive(Clone)]
pub enum DbHandle {
    None,
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Database {
    /// Creates the database; the store creates the schema on start, so `connect_handle` must follow the start.
    pub async fn new(backend: &Backend, dir: &Arc<TempDir>) -> Database {
        match backend {
            Backend::Sqlite => {
                let file = dir.path("db/store.db");
                let url = format!("sqlite://{}", file.display());
                Database {
                    url,
                    handle: DbHandle::None,
                    pg_admin: None,
                    _dir: Some(dir.clone()),
                }
            }
            Backend::Postgres(base) => {
                let schema = format!("obst_{}", uuid::Uuid::new_v4().simple());
                let admin = PgPoolOptions::new()
                    .max_connections(1)
                    .connect(base)
                    .await
                    .expect("connect to OB_STORE_TEST_POSTGRES_URL");
                sqlx::query(&format!("CREATE SCHEMA {schema}"))
                    .execute(&admin)
                    .await
                    .expect("create schema");
                admin.close().await;
                let sep = if base.contains('?') { '&' } else { '?' };
                let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
                Database {
                    url,
                    handle: DbHandle::None,
                    pg_admin: Some((base.clone(), schema)),
                    _dir: None,
                }
            }
        }
    }

    /// Opens the test's own connection (after the store has created the schema).
    pub async fn connect_handle(&mut self) {
        self.handle = if self.url.starts_with("sqlite:") {
            DbHandle::Sqlite(
                SqlitePoolOptions::new()
                    .max_connections(2)
                    .connect(&self.url)
                    .await
                    .expect("open sqlite"),
            )
        } else {
            DbHandle::Postgres(
                PgPoolOptions::new()
                    .max_connections(2)
                    .connect(&self.url)
                    .await
                    .expect("open postgres"),
            )
        };
    }

    pub async fn exec(&self, sql: &str) {
        match &self.handle {
            DbHandle::Sqlite(p) => {
                sqlx::raw_sql(sql).execute(p).await.expect(sql);
            }
            DbHandle::Postgres(p) => {
                sqlx::raw_sql(sql).execute(p).await.expect(sql);
            }
            DbHandle::None => panic!("connect_handle first"),
        }
    }

    /// `SELECT COUNT(*) FROM notifications WHERE <condition>`.
    pub async fn count_notifications(&self, condition: &str) -> i64 {
        let sql = format!("SELECT COUNT(*) FROM notifications WHERE {condition}");
        match &self.handle {
            DbHandle::Sqlite(p) => sqlx::query_scalar(&sql).fetch_one(p).await.expect(&sql),
            DbHandle::Postgres(p) => sqlx::query_scalar(&sql).fetch_one(p).await.expect(&sql),
            DbHandle::None => panic!("connect_handle first"),
        }
    }

    /// Status, error code and description of one notification.
    pub async fn notification(&self, id: &str) -> Option<(String, Option<String>, Option<String>)> {
        let sql = "SELECT status, error_code, error_description FROM notifications WHERE notification_id = $1";
        match &self.handle {
            DbHandle::Sqlite(p) => sqlx::query_as(sql)
                .bind(id)
                .fetch_optional(p)
                .await
                .expect(sql),
            DbHandle::Postgres(p) => sqlx::query_as(sql)
                .bind(id)
                .fetch_optional(p)
                .await
                .expect(sql),
            DbHandle::None => panic!("connect_handle first"),
        }
    }

    pub async fn status(&self, id: &str) -> Option<String> {
        self.notification(id).await.map(|n| n.0)
    }

    pub async fn count_subscriptions(&self) -> i64 {
        let sql = "SELECT COUNT(*) FROM subscriptions";
        match &self.handle {
            DbHandle::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await.expect(sql),
            DbHandle::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await.expect(sql),
            DbHandle::None => panic!("connect_handle first"),
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.pg_admin.is_some()
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Some((base, schema)) = self.pg_admin.take() {
            // Drop the schema from a thread of its own: Drop cannot await.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(async {
                    if let Ok(pool) = PgPoolOptions::new().max_connections(1).connect(&base).await {
                        let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                            .execute(&pool)
                            .await;
                        pool.close().await;
                    }
                });
            })
            .join();
        }
    }
}

/// How to start a store.
#[derive(Clone)]
pub struct StoreOptions {
    pub algorithm: Algorithm,
    /// Extra TOML appended to the generated config (top-level keys must come before any table: use tables).
    pub extra_toml: String,
    /// Extra environment variables.
    pub env: Vec<(String, String)>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            algorithm: Algorithm::Ps256,
            extra_toml: String::new(),
            env: Vec::new(),
        }
    }
}

/// A running `ob-event-store` process; killed on drop.
pub struct Store {
    child: Option<Child>,
    pub base_url: String,
    pub address: String,
    pub logs: Arc<Mutex<Vec<String>>>,
    pub http: reqwest::Client,
    pub dir: Arc<TempDir>,
}

pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_ob-event-store")
}

/// Writes the config file for a store.
pub fn write_config(dir: &TempDir, database_url: &str, options: &StoreOptions) -> PathBuf {
    let key = dir.path(&format!("key-{}.pem", options.algorithm.as_str()));
    std::fs::write(&key, key_pem(options.algorithm)).expect("write key");
    let config = format!(
        r#"listen = "127.0.0.1:0"
database_url = "{database_url}"
log_level = "info,sqlx=warn"
shutdown_timeout_secs = 20

[auth]
username = "{USER}"
password = "{PASSWORD}"

[sets]
issuer = "{ISSUER}"
signing_key_file = "{}"
algorithm = "{}"

{}
"#,
        key.display(),
        options.algorithm.as_str(),
        options.extra_toml
    );
    let path = dir.path(&format!("store-{}.toml", uuid::Uuid::new_v4().simple()));
    std::fs::write(&path, config).expect("write config");
    path
}

impl Store {
    /// Starts the binary and waits until `/health` answers 200.
    pub async fn start(dir: &Arc<TempDir>, database_url: &str, options: &StoreOptions) -> Store {
        let config = write_config(dir, database_url, options);
        let mut command = Command::new(binary());
        command
            .arg("--config")
            .arg(&config)
            .env_remove("OB_STORE_CONFIG")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in &options.env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("spawn ob-event-store");
        let stdout = child.stdout.take().expect("stdout");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let sink = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    if let Some(addr) = v.get("address").and_then(Value::as_str) {
                        let _ = tx.send(addr.to_owned());
                    }
                }
                sink.lock().expect("logs").push(line);
            }
        });
        let address = tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(60)))
            .await
            .expect("join")
            .unwrap_or_else(|_| {
                let status = child.try_wait();
                panic!("the store did not log its address (exit: {status:?})")
            });
        let store = Store {
            child: Some(child),
            base_url: format!("http://{address}{BASE}"),
            address,
            logs,
            http: reqwest::Client::new(),
            dir: dir.clone(),
        };
        store.wait_healthy().await;
        store
    }

    /// Polls `/health` until 200 (bounded).
    pub async fn wait_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = self
                .http
                .get(format!("{}/health", self.base_url))
                .send()
                .await
            {
                if r.status() == 200 {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "store never became healthy");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    pub fn logs_text(&self) -> String {
        self.logs.lock().expect("logs").join("\n")
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status()
            .expect("kill");
        assert!(status.success());
        child.wait().expect("wait")
    }

    /// Waits for a process that was already signalled.
    pub fn terminate_wait(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        child.wait().expect("wait")
    }

    // ---- requests ----

    /// `POST /create-events` with `{eventType: info}`.
    pub async fn create_event(
        &self,
        client_id: &str,
        resource_id: &str,
        events: &Value,
    ) -> (u16, Value) {
        let form = [("request", STANDARD.encode(events.to_string()))];
        let r = self
            .http
            .post(self.url("/create-events"))
            .basic_auth(USER, Some(PASSWORD))
            .header("x-wso2-client-id", client_id)
            .header("x-wso2-resource-id", resource_id)
            .form(&form)
            .send()
            .await
            .expect("create-events");
        status_json(r).await
    }

    /// Creates one resource-update notification and returns its id.
    pub async fn publish(&self, client_id: &str, resource_id: &str) -> String {
        let (status, body) = self
            .create_event(
                client_id,
                resource_id,
                &json!({"urn:uk:org:openbanking:events:resource-update": {"subject": {"http://openbanking.org.uk/rid": resource_id}}}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["notificationsID"]
            .as_str()
            .expect("notificationsID")
            .to_owned()
    }

    /// `POST /events` with an `OBEventPolling1` JSON.
    pub async fn poll(&self, client_id: &str, request: &Value) -> (u16, Value) {
        let form = [("request", STANDARD.encode(request.to_string()))];
        let r = self
            .http
            .post(self.url("/events"))
            .basic_auth(USER, Some(PASSWORD))
            .header("x-wso2-client-id", client_id)
            .form(&form)
            .send()
            .await
            .expect("events");
        status_json(r).await
    }

    /// Poll that must succeed; returns (jtis in the order of the response, sets, moreAvailable).
    pub async fn poll_ok(&self, client_id: &str, request: &Value) -> (Vec<String>, Value, bool) {
        let form = [("request", STANDARD.encode(request.to_string()))];
        let r = self
            .http
            .post(self.url("/events"))
            .basic_auth(USER, Some(PASSWORD))
            .header("x-wso2-client-id", client_id)
            .form(&form)
            .send()
            .await
            .expect("events");
        let status = r.status().as_u16();
        let text = r.text().await.expect("body");
        assert_eq!(status, 200, "{text}");
        let ordered: OrderedPoll = serde_json::from_str(&text).expect("polling response");
        let body: Value = serde_json::from_str(&text).expect("json");
        assert_eq!(
            body.as_object().map(|o| o.len()),
            Some(2),
            "only sets and moreAvailable: {body}"
        );
        let jtis = ordered.sets.0.into_iter().map(|(k, _)| k).collect();
        (jtis, body["sets"].clone(), ordered.more_available)
    }

    /// A raw authenticated request.
    pub fn authed(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .basic_auth(USER, Some(PASSWORD))
    }

    /// A subscription call with a JSON body.
    pub async fn subscription(
        &self,
        method: reqwest::Method,
        path: &str,
        client_id: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut rb = self
            .authed(method, path)
            .header("x-wso2-client-id", client_id);
        if let Some(body) = body {
            rb = rb
                .header("content-type", "application/json; charset=utf-8")
                .body(body.to_string());
        }
        status_json(rb.send().await.expect("subscription call")).await
    }

    pub async fn jwks(&self) -> Value {
        let r = self.http.get(self.url("/jwks")).send().await.expect("jwks");
        assert_eq!(r.status(), 200);
        r.json_value().await
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

trait JsonValue {
    async fn json_value(self) -> Value;
}

impl JsonValue for reqwest::Response {
    async fn json_value(self) -> Value {
        let bytes = self.bytes().await.expect("body");
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    }
}

/// Status and JSON body (`null` when the body is empty or not JSON).
pub async fn status_json(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    (status, r.json_value().await)
}

/// Asserts a WSO2-shaped error.
pub fn assert_error(status: u16, body: &Value, want_status: u16, want_code: &str) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["error"], want_code, "{body}");
    assert!(body["error_description"].is_string(), "{body}");
    assert_eq!(
        body.as_object().map(|o| o.len()),
        Some(2),
        "exactly error and error_description: {body}"
    );
}

/// A polling response with the order of `sets` kept (serde_json's `Value` sorts keys).
#[derive(serde::Deserialize)]
struct OrderedPoll {
    sets: OrderedSets,
    #[serde(rename = "moreAvailable")]
    more_available: bool,
}

struct OrderedSets(Vec<(String, String)>);

impl<'de> serde::Deserialize<'de> for OrderedSets {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = OrderedSets;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of jti: SET")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<OrderedSets, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, String>()? {
                    out.push((k, v));
                }
                Ok(OrderedSets(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// One database, one running store: the usual test setup.
pub struct Setup {
    pub store: Store,
    pub db: Database,
    pub dir: Arc<TempDir>,
}

pub async fn setup(backend: &Backend) -> Setup {
    setup_with(backend, StoreOptions::default()).await
}

pub async fn setup_with(backend: &Backend, options: StoreOptions) -> Setup {
    let dir = Arc::new(TempDir::new());
    let mut db = Database::new(backend, &dir).await;
    let store = Store::start(&dir, &db.url, &options).await;
    db.connect_handle().await;
    Setup { store, db, dir }
}

/// Verifies a compact JWS against a JWKS and returns (header, claims).
pub fn verify_set(jws: &str, jwks: &Value) -> (Value, Value) {
    let parts: Vec<&str> = jws.split('.').collect();
    assert_eq!(parts.len(), 3, "compact JWS");
    let header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).expect("b64")).expect("header");
    let claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).expect("b64")).expect("claims");
    let signature = URL_SAFE_NO_PAD.decode(parts[2]).expect("b64 sig");
    let message = format!("{}.{}", parts[0], parts[1]);
    let kid = header["kid"].as_str().expect("kid");
    let jwk = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["kid"] == kid)
        .expect("kid in JWKS");
    let b64 = |name: &str| {
        URL_SAFE_NO_PAD
            .decode(jwk[name].as_str().expect(name))
            .expect(name)
    };
    match header["alg"].as_str().expect("alg") {
        alg @ ("PS256" | "RS256") => {
            use rsa::signature::Verifier;
            let key = rsa::RsaPublicKey::new(
                rsa::BigUint::from_bytes_be(&b64("n")),
                rsa::BigUint::from_bytes_be(&b64("e")),
            )
            .expect("rsa key");
            if alg == "PS256" {
                let sig = rsa::pss::Signature::try_from(signature.as_slice()).expect("sig");
                rsa::pss::VerifyingKey::<sha2::Sha256>::new(key)
                    .verify(message.as_bytes(), &sig)
                    .expect("PS256 signature verifies with the JWKS");
            } else {
                let sig = rsa::pkcs1v15::Signature::try_from(signature.as_slice()).expect("sig");
                rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(key)
                    .verify(message.as_bytes(), &sig)
                    .expect("RS256 signature verifies with the JWKS");
            }
        }
        "ES256" => {
            use p256::ecdsa::signature::Verifier;
            let mut point = vec![4u8];
            point.extend(b64("x"));
            point.extend(b64("y"));
            let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point).expect("ec key");
            let sig = p256::ecdsa::Signature::from_slice(&signature).expect("sig");
            key.verify(message.as_bytes(), &sig)
                .expect("ES256 signature verifies with the JWKS");
        }
        other => panic!("unexpected alg {other}"),
    }
    (header, claims)
}

/// Waits (bounded) until `condition` holds, re-checking it; for background work such as retention.
pub async fn eventually<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    while !condition().await {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
