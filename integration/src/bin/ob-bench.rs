//! `ob-bench` (behind `make bench`): the token path of the filter against native Envoy filters, in one run,
//! on this machine. Three Envoys, each with one worker and the same locally answered route:
//!   (a) no auth filter; (b) native `jwt_authn` (+ its token cache) and `rbac` requiring the scope;
//!   (c) ob-event-filter (route mode, so the same route answers).
//! Load from `wrk` (one thread, 16 connections): warm (one token reused), cold (a new valid token on every
//! request: caches off), and a flood of forged signatures. Prints requests/s, p50, p99 and the ratios.

use ob_event_integration::apim::{
    self, App, Data, DataApi, POLLING_API_UUID, SUBSCRIPTION_API_UUID,
};
use ob_event_integration::envoy::{buffer_filter as buffer, wasm_filter, Envoy};
use ob_event_integration::tokens::{KeyManager, TokenRequest};
use ob_event_integration::workspace;
use serde_json::json;
use std::path::Path;
use std::process::Command;

const ISSUER: &str = "https://is.bench:9446/oauth2/token";
const PATH: &str = "/open-banking/v3.1/event-subscriptions";
const SCOPE: &str = "accounts";

struct Result {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    non_2xx: u64,
}

fn main() {
    let seconds: u32 = std::env::var("OB_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let dir = tempfile::Builder::new()
        .prefix("ob-bench-")
        .tempdir()
        .expect("temp dir");
    let key = KeyManager::new_rsa("bench-key");
    let jwks = json!({"keys": [key.jwk()]});
    let token = |i: usize| {
        let mut claims = TokenRequest {
            issuer: ISSUER,
            client_id: "bench-client",
            scope: SCOPE,
            x5t_s256: None,
            lifetime_secs: 3600,
        }
        .claims();
        claims["jti"] = json!(format!("bench-{i}"));
        key.sign(&claims)
    };
    let warm_token = token(0);
    eprintln!("ob-bench: signing tokens for the cold and forged runs…");
    let cold: Vec<String> = (1..=2000).map(token).collect();
    let forged: Vec<String> = cold
        .iter()
        .map(|t| {
            let (head, _) = t.rsplit_once('.').unwrap_or((t, ""));
            format!("{head}.{}", "A".repeat(342))
        })
        .collect();
    let cold_file = dir.path().join("cold.txt");
    std::fs::write(&cold_file, cold.join("\n")).expect("write tokens");
    let forged_file = dir.path().join("forged.txt");
    std::fs::write(&forged_file, forged.join("\n")).expect("write tokens");
    let script = dir.path().join("tokens.lua");
    std::fs::write(&script, LUA).expect("write lua");

    let wasm = workspace::filter_wasm();
    let ours = |cache: usize| {
        json!({
            "forward": "route",
            "issuers": [{"issuer": ISSUER, "jwks": jwks, "algorithms": ["PS256"]}],
            "token_cache": {"max_entries": cache},
            // No certificate on the benchmark's plain-HTTP listener: the token path alone is measured.
            "certificate": {"required": false, "bound_token_required": false, "organisation_match": "disabled"},
            "apim": {
                "subscription_api": {"context": "/open-banking/v3.1/event-subscriptions"},
                "polling_api": {"context": "/open-banking/v3.1/events"},
                "source": {"type": "static", "applications": [{
                    "name": "bench", "keys": [{"consumer_key": "bench-client", "key_type": "PRODUCTION"}],
                    "subscriptions": [{"state": "UNBLOCKED"}]
                }]}
            },
        })
        .to_string()
    };
    let variants: Vec<(&str, String)> = vec![
        ("a", bootstrap(&[], "")),
        ("b", bootstrap(&[jwt_authn(&jwks, true), rbac()], "")),
        (
            "b-nocache",
            bootstrap(&[jwt_authn(&jwks, false), rbac()], ""),
        ),
        (
            "c",
            bootstrap(&[wasm_filter(&wasm, &ours(10_000)), buffer()], ""),
        ),
        (
            "c-nocache",
            bootstrap(&[wasm_filter(&wasm, &ours(0)), buffer()], ""),
        ),
        // The floor: a Wasm filter that does nothing (filter/noop), with the same buffer filter.
        (
            "n",
            bootstrap(&[wasm_filter(&noop_wasm(&wasm), "{}"), buffer()], ""),
        ),
    ];

    // OB_BENCH_ONLY=warm: the warm runs only (a quick look while working on the hot path).
    let warm_only = std::env::var("OB_BENCH_ONLY").as_deref() == Ok("warm");
    let mut results = std::collections::BTreeMap::new();
    for (name, yaml) in &variants {
        if warm_only && !matches!(*name, "a" | "b" | "c" | "n") {
            continue;
        }
        let envoy = Envoy::start_yaml(yaml, &dir.path().join(name), 1);
        let url = format!("http://127.0.0.1:{}{PATH}", envoy.https_port);
        // Warm-up, then the measured runs.
        wrk(
            &url,
            2,
            &[("Authorization", &format!("Bearer {warm_token}"))],
            None,
            None,
        );
        match *name {
            "a" | "b" | "c" | "n" => {
                let r = wrk(
                    &url,
                    seconds,
                    &[("Authorization", &format!("Bearer {warm_token}"))],
                    None,
                    None,
                );
                results.insert(format!("warm {name}"), r);
            }
            _ => {}
        }
        match *name {
            "b-nocache" | "c-nocache" => {
                let r = wrk(&url, seconds, &[], Some(&script), Some(&cold_file));
                results.insert(format!("cold {}", &name[..1]), r);
            }
            "b" | "c" if !warm_only => {
                let r = wrk(&url, seconds, &[], Some(&script), Some(&forged_file));
                results.insert(format!("forged {name}"), r);
            }
            _ => {}
        }
        drop(envoy);
    }

    println!();
    println!("ob-bench: Envoy 1.40 (--concurrency 1), wrk -t1 -c16 -d{seconds}s, PS256 (RSA-2048) tokens, route answered locally");
    println!(
        "{:<12} {:>10} {:>9} {:>9} {:>9}",
        "run", "req/s", "p50 ms", "p99 ms", "non-2xx"
    );
    for (name, r) in &results {
        println!(
            "{:<12} {:>10.0} {:>9.3} {:>9.3} {:>9}",
            name, r.rps, r.p50_ms, r.p99_ms, r.non_2xx
        );
    }
    let ratio = |x: &str, y: &str| match (results.get(x), results.get(y)) {
        (Some(x), Some(y)) if y.rps > 0.0 => format!("{:.2}", x.rps / y.rps),
        _ => "n/a".into(),
    };
    println!();
    println!(
        "warm   c/b = {}   c/a = {}",
        ratio("warm c", "warm b"),
        ratio("warm c", "warm a")
    );
    println!(
        "floor  n/b = {}   n/a = {}   (a Wasm filter that does nothing: what any Wasm filter costs)",
        ratio("warm n", "warm b"),
        ratio("warm n", "warm a")
    );
    println!(
        "cold   c/b = {}   (both without a token cache: every request verifies PS256)",
        ratio("cold c", "cold b")
    );
    println!(
        "forged c/b = {}   (every request a distinct forged signature, answered 401)",
        ratio("forged c", "forged b")
    );
    if !warm_only {
        subscription_data_at_scale(&dir, &wasm, &ours(10_000), &warm_token);
    }
    let _ = dir;
}

/// The no-op module next to the filter's (`make bench` builds both).
fn noop_wasm(filter: &Path) -> std::path::PathBuf {
    filter.with_file_name("ob_event_noop_filter.wasm")
}

/// Subscription data at scale: Envoy pulls N applications from the APIM data API double; time to the first
/// request that passes, and Envoy's heap before and after.
fn subscription_data_at_scale(
    dir: &tempfile::TempDir,
    wasm: &Path,
    base_config: &str,
    token: &str,
) {
    println!();
    println!("APIM subscription data through Envoy (data API double, one worker):");
    println!(
        "{:<14} {:>16} {:>18} {:>18}",
        "applications", "first pass (s)", "RSS before (MiB)", "RSS after (MiB)"
    );
    let sizes: Vec<usize> = std::env::var("OB_BENCH_APPS")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![10_000, 100_000]);
    for n in sizes {
        let mut apps: Vec<App> = (0..n as i64)
            .map(|i| App {
                id: 1000 + i,
                name: format!("application {i}"),
                organisation: format!("PSDGB-OB-{i:018}"),
                keys: vec![(format!("consumer-key-{i:08}"), "PRODUCTION")],
                subscriptions: vec![(
                    if i % 2 == 0 {
                        SUBSCRIPTION_API_UUID
                    } else {
                        POLLING_API_UUID
                    },
                    "UNBLOCKED".into(),
                )],
            })
            .collect();
        apps.push(App {
            id: 1,
            name: "bench".into(),
            organisation: "bench".into(),
            keys: vec![("bench-client".into(), "PRODUCTION")],
            subscriptions: vec![(SUBSCRIPTION_API_UUID, "UNBLOCKED".into())],
        });
        let api = DataApi::start(Data { apps, broken: None });
        let mut config: serde_json::Value = serde_json::from_str(base_config).unwrap_or_default();
        let mut apim = apim::apim_config(3600);
        apim["source"]["timeout_ms"] = json!(60_000);
        config["apim"] = apim;
        let yaml = bootstrap(&[wasm_filter(wasm, &config.to_string()), buffer()], "")
            + &format!(
                "  clusters:\n  - name: apim_cp\n    type: STATIC\n    connect_timeout: 1s\n    per_connection_buffer_limit_bytes: 268435456\n    load_assignment:\n      cluster_name: apim_cp\n      endpoints:\n      - lb_endpoints:\n        - endpoint:\n            address:\n              socket_address: {{ address: 127.0.0.1, port_value: {} }}\n",
                api.stub.port
            );
        let started = std::time::Instant::now();
        let envoy = Envoy::start_yaml(&yaml, &dir.path().join(format!("apps-{n}")), 1);
        let before = envoy.rss_mib();
        let url = format!("http://127.0.0.1:{}{PATH}", envoy.https_port);
        let auth = format!("Bearer {token}");
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut passed = None;
        while started.elapsed() < std::time::Duration::from_secs(180) {
            let status = agent
                .get(&url)
                .header("authorization", &auth)
                .call()
                .map(|r| r.status().as_u16())
                .unwrap_or(0);
            if status == 200 {
                passed = Some(started.elapsed().as_secs_f64());
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let after = envoy.rss_mib();
        println!(
            "{:<14} {:>16} {:>18.1} {:>18.1}",
            n,
            passed
                .map(|s| format!("{s:.2}"))
                .unwrap_or_else(|| "not loaded".into()),
            before,
            after
        );
        if passed.is_none() || std::env::var_os("OB_BENCH_VERBOSE").is_some() {
            eprintln!(
                "{}",
                envoy
                    .log()
                    .lines()
                    .filter(|l| l.contains("subscription data")
                        || l.contains("critical")
                        || l.contains("JWKS"))
                    .take(30)
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
    }
}

fn wrk(
    url: &str,
    seconds: u32,
    headers: &[(&str, &str)],
    script: Option<&Path>,
    tokens: Option<&Path>,
) -> Result {
    let mut cmd = Command::new("wrk");
    cmd.args(["-t1", "-c16", &format!("-d{seconds}s"), "--latency"]);
    for (n, v) in headers {
        cmd.args(["-H", &format!("{n}: {v}")]);
    }
    if let Some(script) = script {
        cmd.arg("-s").arg(script);
    }
    cmd.arg(url);
    if let Some(tokens) = tokens {
        cmd.arg("--").arg(tokens);
    }
    let out = cmd.output().expect("run wrk (apt-get install wrk)");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    parse_wrk(&text)
}

fn parse_wrk(text: &str) -> Result {
    let number = |line: &str| -> f64 { line.split_whitespace().nth(1).map(ms).unwrap_or(0.0) };
    let mut r = Result {
        rps: 0.0,
        p50_ms: 0.0,
        p99_ms: 0.0,
        non_2xx: 0,
    };
    for line in text.lines() {
        let t = line.trim();
        if let Some(v) = t.strip_prefix("Requests/sec:") {
            r.rps = v.trim().parse().unwrap_or(0.0);
        } else if t.starts_with("50%") {
            r.p50_ms = number(t);
        } else if t.starts_with("99%") {
            r.p99_ms = number(t);
        } else if let Some(v) = t.strip_prefix("Non-2xx or 3xx responses:") {
            r.non_2xx = v.trim().parse().unwrap_or(0);
        }
    }
    r
}

/// wrk's "1.23ms" / "456.00us" / "1.01s" → milliseconds.
fn ms(value: &str) -> f64 {
    let (number, factor) = if let Some(v) = value.strip_suffix("us") {
        (v, 0.001)
    } else if let Some(v) = value.strip_suffix("ms") {
        (v, 1.0)
    } else if let Some(v) = value.strip_suffix('s') {
        (v, 1000.0)
    } else {
        (value, 1.0)
    };
    number.parse::<f64>().unwrap_or(0.0) * factor
}

const LUA: &str = r#"
local tokens = {}
local n = 0
function init(args)
  for line in io.lines(args[1]) do
    n = n + 1
    tokens[n] = line
  end
end
local i = 0
function request()
  i = i + 1
  return wrk.format("GET", nil, { ["Authorization"] = "Bearer " .. tokens[(i % n) + 1] })
end
"#;

fn bootstrap(filters: &[String], _extra: &str) -> String {
    let filters: String = filters.concat();
    format!(
        r#"admin:
  address: {{ socket_address: {{ address: 127.0.0.1, port_value: 0 }} }}
static_resources:
  listeners:
  - name: ob_event_https
    address: {{ socket_address: {{ address: 127.0.0.1, port_value: 0 }} }}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: bench
          route_config:
            virtual_hosts:
            - name: bench
              domains: ["*"]
              routes:
              - match: {{ prefix: "/" }}
                direct_response: {{ status: 200, body: {{ inline_string: "ok" }} }}
          http_filters:
{filters}          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
"#
    )
}

fn jwt_authn(jwks: &serde_json::Value, cache: bool) -> String {
    let cache = if cache {
        "                jwt_cache_config: { jwt_cache_size: 10000 }\n"
    } else {
        ""
    };
    format!(
        r#"          - name: envoy.filters.http.jwt_authn
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication
              providers:
                wso2:
                  issuer: "{ISSUER}"
                  local_jwks: {{ inline_string: {jwks} }}
                  payload_in_metadata: jwt_payload
                  normalize_payload_in_metadata: {{ space_delimited_claims: ["scope"] }}
{cache}              rules:
              - match: {{ prefix: "/" }}
                requires: {{ provider_name: wso2 }}
"#,
        jwks = serde_json::to_string(&jwks.to_string()).unwrap_or_default(),
        cache = cache.replace("                jwt", "                  jwt"),
    )
}

fn rbac() -> String {
    format!(
        r#"          - name: envoy.filters.http.rbac
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC
              rules:
                action: ALLOW
                policies:
                  scope:
                    permissions: [{{ any: true }}]
                    principals:
                    - metadata:
                        filter: envoy.filters.http.jwt_authn
                        path: [{{ key: jwt_payload }}, {{ key: scope }}]
                        value: {{ list_match: {{ one_of: {{ string_match: {{ exact: {SCOPE} }} }} }} }}
"#
    )
}
