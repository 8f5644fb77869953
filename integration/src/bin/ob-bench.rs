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
    requests: u64,
    /// Envoy's CPU time (user + system, all threads) per request, µs.
    cpu_us: f64,
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
        // Built on ob-proxy-abi as c is (filter/floor): f does nothing; e makes only the hostcalls any
        // filter that checks the token and forwards an identity must make (read the headers, write one
        // request header, write the interaction id on the answer) and decides nothing.
        (
            "f",
            bootstrap(&[wasm_filter(&floor_wasm(&wasm), "{}"), buffer()], ""),
        ),
        (
            "e",
            bootstrap(
                &[
                    wasm_filter(&floor_wasm(&wasm), r#"{"essential": true}"#),
                    buffer(),
                ],
                "",
            ),
        ),
    ];

    // OB_BENCH_WRITE=dir: write each variant's Envoy bootstrap (listener on 127.0.0.1:18000, admin on a free
    // port) and the warm token to `dir`, for profiling one variant by hand (perf, valgrind), and stop.
    if let Ok(out) = std::env::var("OB_BENCH_WRITE") {
        let out = Path::new(&out);
        std::fs::create_dir_all(out).expect("create OB_BENCH_WRITE");
        for (name, yaml) in &variants {
            // The admin address comes first, the listener second.
            let listener = yaml
                .match_indices("port_value: 0 ")
                .nth(1)
                .map(|(at, _)| at);
            let yaml = match listener {
                Some(at) => format!(
                    "{}port_value: 18000 {}",
                    yaml.get(..at).unwrap_or_default(),
                    yaml.get(at + "port_value: 0 ".len()..).unwrap_or_default()
                ),
                None => yaml.clone(),
            };
            std::fs::write(out.join(format!("{name}.yaml")), yaml).expect("write bootstrap");
        }
        std::fs::write(out.join("token.txt"), &warm_token).expect("write token");
        println!(
            "ob-bench: bootstraps and token written to {}",
            out.display()
        );
        return;
    }
    // OB_BENCH_ONLY=hostcalls: the price of one hostcall of each kind, from the no-op filter as a probe.
    if std::env::var("OB_BENCH_ONLY").as_deref() == Ok("hostcalls") {
        let rounds = std::env::var("OB_BENCH_ROUNDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(3)
            .max(1);
        hostcall_prices(&dir, &wasm, &warm_token, seconds, rounds);
        return;
    }
    // OB_BENCH_ONLY=instructions: instructions per warm request under callgrind (repeatable, unlike time).
    if std::env::var("OB_BENCH_ONLY").as_deref() == Ok("instructions") {
        let warm_header = format!("Bearer {warm_token}");
        let mut runs: Vec<(String, String, bool)> = variants
            .iter()
            .filter(|(name, _)| matches!(*name, "a" | "b" | "c" | "n" | "f" | "e"))
            // e echoes the TPP's interaction id: it is sent one, as c+id is.
            .map(|(name, yaml)| (name.to_string(), yaml.clone(), *name == "e"))
            .collect();
        if let Some((_, c)) = variants.iter().find(|(name, _)| *name == "c") {
            runs.push(("c+id".into(), c.clone(), true));
        }
        for (name, path) in candidates_from_env() {
            let yaml = bootstrap(
                &[wasm_filter(Path::new(&path), &ours(10_000)), buffer()],
                "",
            );
            runs.push((format!("c-{name}"), yaml, false));
        }
        // OB_BENCH_VARIANTS=n,c: only these (the candidates always run).
        if let Ok(only) = std::env::var("OB_BENCH_VARIANTS") {
            let only: Vec<&str> = only.split(',').map(str::trim).collect();
            runs.retain(|(name, _, _)| name.starts_with("c-") || only.contains(&name.as_str()));
        }
        instructions(&dir, &runs, &warm_header);
        return;
    }
    // OB_BENCH_ONLY=warm: the warm runs only (a quick look while working on the hot path).
    let warm_only = std::env::var("OB_BENCH_ONLY").as_deref() == Ok("warm");
    let mut results = std::collections::BTreeMap::new();
    let warm_header = format!("Bearer {warm_token}");
    let warm = [("Authorization", warm_header.as_str())];
    let warm_with_id = [
        ("Authorization", warm_header.as_str()),
        (
            "x-fapi-interaction-id",
            "93bac548-d2de-4546-b106-880a5018460d",
        ),
    ];
    // Warm: a, b, c and n run side by side, in rounds (a b c n, a b c n, …), and each keeps its median
    // round: on a shared VM the machine's speed drifts over a minute, and alternating spreads the drift
    // over all four instead of favouring whichever ran in a quiet moment.
    let rounds: usize = std::env::var("OB_BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3)
        .max(1);
    // OB_BENCH_CANDIDATES=name=path.wasm,…: other builds of the filter, run as more warm c variants
    // (an A/B comparison of a change in one run).
    let candidates: Vec<(String, String)> = candidates_from_env()
        .into_iter()
        .map(|(name, path)| {
            let yaml = bootstrap(
                &[wasm_filter(Path::new(&path), &ours(10_000)), buffer()],
                "",
            );
            (format!("c-{name}"), yaml)
        })
        .collect();
    let envoys: Vec<(&str, Envoy)> = variants
        .iter()
        .filter(|(name, _)| matches!(*name, "a" | "b" | "c" | "n" | "f" | "e"))
        .map(|(name, yaml)| (*name, yaml))
        .chain(candidates.iter().map(|(name, yaml)| (name.as_str(), yaml)))
        .map(|(name, yaml)| (name, start_pinned(yaml, &dir.path().join(name))))
        .collect();
    let url_of = |envoy: &Envoy| format!("http://127.0.0.1:{}{PATH}", envoy.https_port);
    // e echoes the TPP's interaction id, so it is sent one (as c+id).
    let headers_of = |name: &str| -> &[(&str, &str)] {
        if name == "e" {
            &warm_with_id
        } else {
            &warm
        }
    };
    for (name, envoy) in &envoys {
        wrk(envoy, &url_of(envoy), 2, headers_of(name), None, None);
    }
    let mut rounds_of: std::collections::BTreeMap<String, Vec<Result>> = Default::default();
    for _ in 0..rounds {
        for (name, envoy) in &envoys {
            let r = wrk(envoy, &url_of(envoy), seconds, headers_of(name), None, None);
            rounds_of.entry(name.to_string()).or_default().push(r);
            if *name == "c" {
                // As most TPPs call: with their own x-fapi-interaction-id (the filter then writes one
                // request header instead of two).
                let r = wrk(envoy, &url_of(envoy), seconds, &warm_with_id, None, None);
                rounds_of.entry("c+id".to_string()).or_default().push(r);
            }
        }
    }
    // Paired ratios: x/y within each round (the two ran a few seconds apart), then their median — the
    // machine's drift over the run cancels out of each pair.
    let paired: Vec<(String, f64, usize)> = [
        ("c", "b"),
        ("c+id", "b"),
        ("n", "b"),
        ("f", "b"),
        ("e", "b"),
        ("c+id", "e"),
    ]
    .iter()
    .filter_map(|(x, y)| {
        let (xs, ys) = (rounds_of.get(*x)?, rounds_of.get(*y)?);
        let mut ratios: Vec<f64> = xs
            .iter()
            .zip(ys)
            .filter(|(_, y)| y.rps > 0.0)
            .map(|(x, y)| x.rps / y.rps)
            .collect();
        ratios.sort_by(f64::total_cmp);
        let median = ratios.get(ratios.len() / 2).copied()?;
        Some((format!("{x}/{y}"), median, ratios.len()))
    })
    .collect();
    for (name, mut runs) in rounds_of {
        runs.sort_by(|x, y| x.rps.total_cmp(&y.rps));
        let median = runs.swap_remove(runs.len() / 2);
        results.insert(format!("warm {name}"), median);
    }
    if !warm_only {
        // Forged: a flood of distinct forged signatures on b and c.
        for (name, envoy) in &envoys {
            if matches!(*name, "b" | "c") {
                let r = wrk(
                    envoy,
                    &url_of(envoy),
                    seconds,
                    &[],
                    Some(&script),
                    Some(&forged_file),
                );
                results.insert(format!("forged {name}"), r);
            }
        }
    }
    drop(envoys);
    // Cold: both without a token cache.
    for (name, yaml) in &variants {
        if warm_only || !matches!(*name, "b-nocache" | "c-nocache") {
            continue;
        }
        let envoy = start_pinned(yaml, &dir.path().join(name));
        let url = url_of(&envoy);
        wrk(&envoy, &url, 2, &[], Some(&script), Some(&cold_file));
        let r = wrk(&envoy, &url, seconds, &[], Some(&script), Some(&cold_file));
        results.insert(format!("cold {}", &name[..1]), r);
    }

    println!();
    println!("ob-bench: Envoy 1.40 (--concurrency 1), wrk -t1 -c16 -d{seconds}s, PS256 (RSA-2048) tokens, route answered locally; warm: median of {rounds} alternating rounds");
    println!(
        "{:<12} {:>10} {:>9} {:>9} {:>9} {:>13}",
        "run", "req/s", "p50 ms", "p99 ms", "non-2xx", "CPU µs/req"
    );
    for (name, r) in &results {
        println!(
            "{:<12} {:>10.0} {:>9.3} {:>9.3} {:>9} {:>13.2}",
            name, r.rps, r.p50_ms, r.p99_ms, r.non_2xx, r.cpu_us
        );
    }
    let ratio = |x: &str, y: &str| match (results.get(x), results.get(y)) {
        (Some(x), Some(y)) if y.rps > 0.0 => format!("{:.2}", x.rps / y.rps),
        _ => "n/a".into(),
    };
    // The same comparison in Envoy CPU per request (y's cost over x's: > 1 means x is cheaper).
    let cpu_ratio = |x: &str, y: &str| match (results.get(x), results.get(y)) {
        (Some(x), Some(y)) if x.cpu_us > 0.0 => format!("{:.2}", y.cpu_us / x.cpu_us),
        _ => "n/a".into(),
    };
    println!();
    println!(
        "warm   c/b = {}   c/a = {}   (by Envoy CPU per request: c/b = {})",
        ratio("warm c", "warm b"),
        ratio("warm c", "warm a"),
        cpu_ratio("warm c", "warm b")
    );
    println!(
        "warm   c+id/b = {}   (the TPP sends its own x-fapi-interaction-id; by CPU: {})",
        ratio("warm c+id", "warm b"),
        cpu_ratio("warm c+id", "warm b")
    );
    println!(
        "floor  n/b = {}   n/a = {}   (a Wasm filter that does nothing: what any Wasm filter costs; by CPU: n/b = {})",
        ratio("warm n", "warm b"),
        ratio("warm n", "warm a"),
        cpu_ratio("warm n", "warm b")
    );
    println!(
        "floor  f/b = {}   e/b = {}   (on ob-proxy-abi as c is: f does nothing; e makes only the hostcalls a token filter must make, no decision — the ceiling for c+id; by CPU: e/b = {})",
        ratio("warm f", "warm b"),
        ratio("warm e", "warm b"),
        cpu_ratio("warm e", "warm b")
    );
    if !paired.is_empty() {
        let text: Vec<String> = paired
            .iter()
            .map(|(name, ratio, n)| format!("{name} = {ratio:.2} ({n})"))
            .collect();
        println!(
            "paired warm ratios (median of the per-round ratios; rounds): {}",
            text.join("   ")
        );
    }
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

/// `OB_BENCH_CANDIDATES=name=path.wasm,…`: other builds of the filter, measured as more c variants.
fn candidates_from_env() -> Vec<(String, String)> {
    std::env::var("OB_BENCH_CANDIDATES")
        .unwrap_or_default()
        .split(',')
        .filter_map(|pair| pair.split_once('='))
        .map(|(name, path)| (name.to_string(), path.to_string()))
        .collect()
}

/// Instructions per warm request, counted by callgrind (valgrind): each Envoy runs under callgrind,
/// takes `OB_BENCH_WARMUP` requests (default 3 000, so that V8 has tiered the hot Wasm code up), then its
/// counters are zeroed, it takes `OB_BENCH_REQUESTS` (default 2 000) on one keep-alive connection, and the
/// counters of all its threads are summed. The same binary and inputs give the same count to within
/// ~2 % (periodic work such as stats flushes falls into the window or not), whatever else the machine
/// does: a repeatable complement to the timed runs, for A/B comparisons of small changes. It counts
/// instructions, not cache misses or syscall time, so it is not a throughput figure.
fn instructions(dir: &tempfile::TempDir, runs: &[(String, String, bool)], authorization: &str) {
    let number = |name: &str, default: usize| -> usize {
        std::env::var(name)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(default)
            .max(1)
    };
    let warmup = number("OB_BENCH_WARMUP", 3000);
    let requests = number("OB_BENCH_REQUESTS", 2000);
    let interaction_id = "93bac548-d2de-4546-b106-880a5018460d";
    let mut counted: Vec<(String, f64)> = Vec::new();
    for (name, yaml, with_id) in runs {
        let folder = dir.path().join(format!("callgrind-{name}"));
        let out = folder.join("callgrind.out");
        let wrapper: Vec<String> = [
            "valgrind",
            "--tool=callgrind",
            "--smc-check=all-non-file",
            "--dump-instr=no",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([format!("--callgrind-out-file={}", out.display())])
        .collect();
        let envoy = Envoy::start_yaml_under(
            &wrapper,
            yaml,
            &folder,
            1,
            std::time::Duration::from_secs(300),
        );
        let url = format!("http://127.0.0.1:{}{PATH}", envoy.https_port);
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let send = |n: usize| -> usize {
            (0..n)
                .filter(|_| {
                    let mut request = agent.get(&url).header("authorization", authorization);
                    if *with_id {
                        request = request.header("x-fapi-interaction-id", interaction_id);
                    }
                    // The body is read to its end, so the connection goes back to the pool.
                    let status = request.call().map(|mut r| {
                        let _ = r.body_mut().read_to_vec();
                        r.status().as_u16()
                    });
                    status.unwrap_or(0) != 200
                })
                .count()
        };
        let pid = envoy.pid().unwrap_or(0).to_string();
        let control = |what: &str| {
            let _ = Command::new("callgrind_control")
                .args([what, &pid])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status();
        };
        let failed = send(warmup);
        control("-z");
        let failed = failed + send(requests);
        control("-d");
        drop(envoy);
        // Kept for `callgrind_annotate` (.bench/ is git-ignored; `make clean` removes it).
        let keep = workspace::root()
            .join(".bench")
            .join("callgrind")
            .join(name);
        let _ = std::fs::remove_dir_all(&keep);
        let _ = std::fs::create_dir_all(&keep);
        for entry in std::fs::read_dir(&folder).into_iter().flatten().flatten() {
            if entry
                .file_name()
                .to_string_lossy()
                .starts_with("callgrind.out")
            {
                let _ = std::fs::copy(entry.path(), keep.join(entry.file_name()));
            }
        }
        // One dump file per thread (`callgrind.out.<n>-<thread>` or similar): sum their totals.
        let total: u64 = std::fs::read_dir(&folder)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("callgrind.out"))
            .filter_map(|e| std::fs::read_to_string(e.path()).ok())
            .filter_map(|text| {
                text.lines()
                    .find_map(|l| {
                        l.strip_prefix("totals:")
                            .or_else(|| l.strip_prefix("summary:"))
                    })
                    .and_then(|v| v.split_whitespace().next())
                    .and_then(|v| v.parse::<u64>().ok())
            })
            .sum();
        if failed > 0 {
            eprintln!("ob-bench: {name}: {failed} requests were not answered 200");
        }
        eprintln!(
            "ob-bench: {name}: {} instructions per request",
            total / requests as u64
        );
        counted.push((name.clone(), total as f64 / requests as f64));
    }
    println!();
    println!(
        "ob-bench: instructions per warm request (callgrind; {warmup} requests to warm up, {requests} counted, one connection; profiles in .bench/callgrind/)"
    );
    println!(
        "{:<12} {:>14} {:>16}",
        "run", "instructions", "over n (Wasm floor)"
    );
    let of = |name: &str| counted.iter().find(|(n, _)| n == name).map(|(_, v)| *v);
    let floor = of("n").unwrap_or(0.0);
    for (name, value) in &counted {
        println!("{:<12} {:>14.0} {:>16.0}", name, value, value - floor);
    }
    if let (Some(b), Some(c)) = (of("b"), of("c")) {
        println!();
        println!(
            "by instructions: c/b = {:.2} (b's count over c's: > 1 means c does less)",
            b / c
        );
    }
    if let (Some(b), Some(e)) = (of("b"), of("e")) {
        println!(
            "by instructions: e/b = {:.2} (e: only the hostcalls a token filter must make, no decision)",
            b / e
        );
    }
}

/// What one hostcall of each kind costs one Envoy worker: the no-op filter makes N of them per request;
/// the price is the extra Envoy CPU time per request over the probe that makes none, divided by N.
fn hostcall_prices(dir: &tempfile::TempDir, wasm: &Path, token: &str, seconds: u32, rounds: usize) {
    // OB_BENCH_PROBE='{"get_map": 1, …}': that probe alone against none (its price is per request).
    let custom = std::env::var("OB_BENCH_PROBE").ok();
    let all: [(&str, &str, u32); 13] = [
        ("none", "{}", 1),
        ("get_map (all request headers) x1", r#"{"get_map": 1}"#, 1),
        (
            "get_map (all request headers) x10",
            r#"{"get_map": 10}"#,
            10,
        ),
        ("get_current_time x1", r#"{"time": 1}"#, 1),
        ("get_map_value (one header)", r#"{"get_header": 10}"#, 10),
        (
            "set_map_value (request header) x1",
            r#"{"set_header": 1}"#,
            1,
        ),
        (
            "set_map_value (request header) x10",
            r#"{"set_header": 10}"#,
            10,
        ),
        (
            "set_map (all headers + 5)",
            r#"{"get_map": 1, "set_map": 10}"#,
            10,
        ),
        ("increment_metric", r#"{"metric": 10}"#, 10),
        ("get_current_time x10", r#"{"time": 10}"#, 10),
        ("random_get (16 bytes)", r#"{"random": 10}"#, 10),
        ("set_property (filter state)", r#"{"set_property": 10}"#, 10),
        (
            "set_map_value (response header)",
            r#"{"response_header": 10}"#,
            10,
        ),
    ];
    let probes: Vec<(&str, &str, u32)> = match &custom {
        Some(config) => vec![all[0], ("OB_BENCH_PROBE", config.as_str(), 1)],
        None => all.to_vec(),
    };
    let header = format!("Bearer {token}");
    let warm = [("Authorization", header.as_str())];
    let envoys: Vec<(&str, u32, Envoy)> = probes
        .iter()
        .enumerate()
        .map(|(i, (name, config, n))| {
            let yaml = bootstrap(&[wasm_filter(&noop_wasm(wasm), config), buffer()], "");
            (
                *name,
                *n,
                start_pinned(&yaml, &dir.path().join(format!("probe-{i}"))),
            )
        })
        .collect();
    let url_of = |envoy: &Envoy| format!("http://127.0.0.1:{}{PATH}", envoy.https_port);
    for (_, _, envoy) in &envoys {
        wrk(envoy, &url_of(envoy), 2, &warm, None, None);
    }
    let mut cpu: Vec<Vec<f64>> = vec![Vec::new(); envoys.len()];
    for _ in 0..rounds {
        for (i, (_, _, envoy)) in envoys.iter().enumerate() {
            let r = wrk(envoy, &url_of(envoy), seconds, &warm, None, None);
            if let Some(runs) = cpu.get_mut(i) {
                runs.push(r.cpu_us);
            }
        }
    }
    let median = |runs: &mut Vec<f64>| {
        runs.sort_by(f64::total_cmp);
        runs.get(runs.len() / 2).copied().unwrap_or(0.0)
    };
    println!(
        "ob-bench: hostcall prices, Envoy 1.40 (--concurrency 1), wrk -t1 -c16 -d{seconds}s, median of {rounds} alternating rounds"
    );
    println!("{:<38} {:>14} {:>12}", "probe", "CPU µs/req", "µs per call");
    let mut base = 0.0;
    for (i, (name, n, _)) in envoys.iter().enumerate() {
        let us = cpu.get_mut(i).map(median).unwrap_or(0.0);
        if i == 0 {
            base = us;
            println!("{name:<38} {us:>14.2} {:>12}", "");
        } else {
            println!(
                "{name:<38} {us:>14.2} {:>12.3}",
                (us - base) / f64::from(*n)
            );
        }
    }
}

/// An Envoy with one worker, all its threads on CPU 0 (wrk runs on CPU 1).
fn start_pinned(yaml: &str, dir: &Path) -> Envoy {
    let envoy = Envoy::start_yaml(yaml, dir, 1);
    if !envoy.pin_to_cpu(0) {
        eprintln!("ob-bench: could not pin Envoy to CPU 0 (taskset); figures will be noisier");
    }
    envoy
}

/// The no-op module next to the filter's (`make bench` builds both).
fn noop_wasm(filter: &Path) -> std::path::PathBuf {
    filter.with_file_name("ob_event_noop_filter.wasm")
}

/// The floor modules on ob-proxy-abi (filter/floor), next to the filter's (`make bench` builds it).
fn floor_wasm(filter: &Path) -> std::path::PathBuf {
    filter.with_file_name("ob_event_floor_filter.wasm")
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
    envoy: &Envoy,
    url: &str,
    seconds: u32,
    headers: &[(&str, &str)],
    script: Option<&Path>,
    tokens: Option<&Path>,
) -> Result {
    // Envoy's worker on CPU 0 (see `pin`), the load generator on CPU 1: neither steals the other's CPU.
    let mut cmd = Command::new("taskset");
    cmd.args(["-c", "1", "wrk"]);
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
    let cpu_before = envoy.cpu_seconds();
    let out = cmd.output().expect("run wrk (apt-get install wrk)");
    let cpu = envoy.cpu_seconds() - cpu_before;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let mut r = parse_wrk(&text);
    if r.requests > 0 {
        r.cpu_us = cpu * 1e6 / r.requests as f64;
    }
    r
}

fn parse_wrk(text: &str) -> Result {
    let number = |line: &str| -> f64 { line.split_whitespace().nth(1).map(ms).unwrap_or(0.0) };
    let mut r = Result {
        rps: 0.0,
        p50_ms: 0.0,
        p99_ms: 0.0,
        non_2xx: 0,
        requests: 0,
        cpu_us: 0.0,
    };
    for line in text.lines() {
        let t = line.trim();
        if let Some(v) = t.strip_prefix("Requests/sec:") {
            r.rps = v.trim().parse().unwrap_or(0.0);
        } else if t.starts_with("50%") {
            r.p50_ms = number(t);
        } else if t.starts_with("99%") {
            r.p99_ms = number(t);
        } else if t.contains(" requests in ") {
            r.requests = t
                .split_whitespace()
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
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
