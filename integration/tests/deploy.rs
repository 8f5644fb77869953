//! Issue 8: every shipped deployment file is checked. Every YAML/JSON file of `policies/` and `deploy/` parses;
//! every plugin configuration in them is accepted by the filter's own parser and is the canonical policy;
//! every Envoy bootstrap passes `envoy --mode validate` (with the filter loading its configuration); the
//! compose file, the APK confs and the Kubernetes manifests are checked for what the deployment relies on
//! (and against their JSON schemas when `check-jsonschema` is in `.venv`); the OCI layout of `make package`
//! is valid and reproducible; and `deploy/envoy.yaml` itself, started for real, serves the seed's flow.
//!
//! YAML is read by the project's `.venv/bin/python` (PyYAML, installed by `make setup`).

use ob_event_core::config::Config;
use ob_event_integration::client::Client;
use ob_event_integration::demo::TPPS;
use ob_event_integration::envoy::Envoy;
use ob_event_integration::pki::{Ca, ClientCertSpec};
use ob_event_integration::store::{self, Store};
use ob_event_integration::testbed::rsa_key;
use ob_event_integration::tokens::TokenRequest;
use ob_event_integration::workspace::{envoy_binary, filter_wasm, root};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The canonical policy and the one derived from it for Envoy in front of APIM (route mode).
const POLICY: &str = "policies/ob-event-notifications.policy.json";
const ROUTE_POLICY: &str = "policies/ob-event-notifications.route.policy.json";
/// Where a deployment mounts Envoy's files; the tests put them in a folder of their own.
const MOUNT: &str = "/etc/envoy/";

fn python() -> PathBuf {
    let path = root().join(".venv").join("bin").join("python");
    assert!(
        path.is_file(),
        "{} is missing: run `make setup`",
        path.display()
    );
    path
}

/// Every document of a YAML file, as JSON.
fn yaml_docs(path: &Path) -> Vec<Value> {
    let out = Command::new(python())
        .args([
            "-c",
            "import sys, json, yaml\n\
             print(json.dumps([d for d in yaml.safe_load_all(open(sys.argv[1], encoding='utf-8'))]))",
        ])
        .arg(path)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "{} is not valid YAML: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON from python")
}

/// Every shipped file under `policies/` and `deploy/`, relative to the root.
fn shipped_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .expect("read dir")
            .map(|e| e.expect("entry").path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, out);
            } else {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    for dir in ["policies", "deploy"] {
        walk(&root().join(dir), &mut files);
    }
    files
}

/// The parsed documents of every structured shipped file (YAML, JSON, apk-conf).
fn structured_files() -> Vec<(PathBuf, Vec<Value>)> {
    shipped_files()
        .into_iter()
        .filter_map(|path| {
            let name = path.file_name()?.to_str()?.to_string();
            if name.ends_with(".json") {
                let text = std::fs::read_to_string(&path).expect("read");
                let value: Value = serde_json::from_str(&text)
                    .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
                Some((path, vec![value]))
            } else if [".yaml", ".yml", ".apk-conf"]
                .iter()
                .any(|ext| name.ends_with(ext))
            {
                let docs = yaml_docs(&path);
                Some((path, docs))
            } else {
                None
            }
        })
        .collect()
}

fn read_json(relative: &str) -> Value {
    let text = std::fs::read_to_string(root().join(relative)).expect("read policy");
    serde_json::from_str(&text).expect("policy JSON")
}

/// A plugin configuration given as a JSON string or as an object.
fn as_config(value: &Value) -> Value {
    match value {
        Value::String(text) => serde_json::from_str(text)
            .unwrap_or_else(|e| panic!("a plugin configuration is not JSON ({e}): {text}")),
        other => other.clone(),
    }
}

/// Every plugin configuration in a document: Envoy's wasm filter `configuration.value`, APK's
/// `WASMInterceptor` `config`, Istio's `WasmPlugin` `pluginConfig`, Envoy Gateway's `wasm[].config`.
fn plugin_configs(doc: &Value, found: &mut Vec<(String, Value)>) {
    match doc {
        Value::Object(map) => {
            if map.get("@type").and_then(Value::as_str)
                == Some("type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm")
            {
                let value = &doc["config"]["configuration"]["value"];
                assert!(
                    !value.is_null(),
                    "an Envoy wasm filter without configuration"
                );
                found.push(("envoy wasm filter".into(), as_config(value)));
            }
            if map.get("policyName").and_then(Value::as_str) == Some("WASMInterceptor") {
                found.push((
                    "APK WASMInterceptor".into(),
                    as_config(&doc["parameters"]["config"]),
                ));
            }
            match map.get("kind").and_then(Value::as_str) {
                Some("WasmPlugin") => found.push((
                    "Istio WasmPlugin".into(),
                    as_config(&doc["spec"]["pluginConfig"]),
                )),
                Some("EnvoyExtensionPolicy") => {
                    for wasm in doc["spec"]["wasm"].as_array().into_iter().flatten() {
                        found.push((
                            "Envoy Gateway EnvoyExtensionPolicy".into(),
                            as_config(&wasm["config"]),
                        ));
                    }
                }
                _ => {}
            }
            for value in map.values() {
                plugin_configs(value, found);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| plugin_configs(v, found)),
        _ => {}
    }
}

#[test]
fn every_shipped_yaml_and_json_file_parses() {
    let files = structured_files();
    let names: BTreeSet<String> = files
        .iter()
        .map(|(p, _)| p.strip_prefix(root()).unwrap().display().to_string())
        .collect();
    for expected in [
        POLICY,
        ROUTE_POLICY,
        "policies/apk/event-notification-subscription.apk-conf",
        "policies/apk/aggregated-event-polling.apk-conf",
        "policies/apim/obEventGatewayCheck_v1.yaml",
        "policies/istio/ob-event-filter.yaml",
        "policies/envoy-gateway/ob-event-filter.yaml",
        "deploy/envoy.yaml",
        "deploy/envoy-apim-front.yaml",
        "deploy/docker-compose.yml",
        "deploy/kubernetes/ob-event-store.yaml",
    ] {
        assert!(
            names.contains(expected),
            "{expected} is not shipped: {names:?}"
        );
    }
    for (path, docs) in &files {
        assert!(
            docs.iter().all(|d| !d.is_null()),
            "{}: an empty document",
            path.display()
        );
    }
}

#[test]
fn every_plugin_configuration_is_accepted_by_the_filter_and_is_the_canonical_policy() {
    let canonical = read_json(POLICY);
    let route = read_json(ROUTE_POLICY);
    // The route-mode policy is the canonical one, forwarding to the route instead of a backend.
    let mut derived = canonical.clone();
    derived.as_object_mut().unwrap().remove("backend");
    derived["forward"] = json!("route");
    assert_eq!(
        route, derived,
        "{ROUTE_POLICY} must be {POLICY} in route mode"
    );

    let mut count = 0;
    for (path, docs) in structured_files() {
        let relative = path.strip_prefix(root()).unwrap().display().to_string();
        let mut found = Vec::new();
        if relative.ends_with(".policy.json") {
            found.push(("policy file".to_string(), docs[0].clone()));
        }
        docs.iter().for_each(|d| plugin_configs(d, &mut found));
        for (what, config) in found {
            count += 1;
            if let Err(e) = Config::parse(config.to_string().as_bytes()) {
                panic!("{relative} ({what}): the filter refuses its configuration: {e}");
            }
            let expected = if relative == "deploy/envoy-apim-front.yaml" || relative == ROUTE_POLICY
            {
                &route
            } else {
                &canonical
            };
            assert_eq!(
                &config, expected,
                "{relative} ({what}) differs from the policy it must carry"
            );
            // Secrets are placeholders, rendered at deploy time (docs/deploy.md).
            for pointer in ["/backend/password", "/apim/source/password"] {
                if let Some(secret) = config.pointer(pointer).and_then(Value::as_str) {
                    assert!(
                        secret.starts_with("CHANGE-ME"),
                        "{relative} ({what}): {pointer} must be a CHANGE-ME placeholder"
                    );
                }
            }
        }
    }
    // Two policy files, two Envoy bootstraps, two APK confs, one WasmPlugin, one EnvoyExtensionPolicy.
    assert_eq!(count, 8, "plugin configurations found");
}

/// A folder holding what a deployment mounts under /etc/envoy/: the module, TLS files from a fresh CA.
fn mount_folder(dir: &Path, ca: &Ca) {
    let tls = dir.join("tls");
    std::fs::create_dir_all(&tls).unwrap();
    std::fs::copy(filter_wasm(), dir.join("ob_event_filter.wasm")).unwrap();
    std::fs::write(tls.join("client-ca.pem"), &ca.cert_pem).unwrap();
    std::fs::write(tls.join("upstream-ca.pem"), &ca.cert_pem).unwrap();
    ca.server(&["localhost", "127.0.0.1"])
        .write(&tls, "server")
        .unwrap();
    let apim_client = ca.client(&ClientCertSpec::ob("Bank", "gateway", "ob-event-gateway"));
    apim_client.write(&tls, "apim-client").unwrap();
}

/// Every string that names a mounted file now names it in `dir`.
fn remount(value: &mut Value, dir: &Path) {
    match value {
        Value::String(s) if s.starts_with(MOUNT) => {
            *s = dir.join(&s[MOUNT.len()..]).display().to_string();
        }
        Value::Array(items) => items.iter_mut().for_each(|v| remount(v, dir)),
        Value::Object(map) => map.values_mut().for_each(|v| remount(v, dir)),
        _ => {}
    }
}

fn envoy_validate(config: &Value, dir: &Path, name: &str) {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string_pretty(config).unwrap()).unwrap();
    let out = Command::new(envoy_binary())
        .args(["--mode", "validate", "-l", "info", "-c"])
        .arg(&path)
        .output()
        .expect("run envoy");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{name}: envoy --mode validate:\n{log}"
    );
    assert!(log.contains(" OK"), "{name}: no OK from envoy:\n{log}");
    // Validation loads the module and its configuration: the filter must accept it too.
    assert!(
        !log.contains("configuration REFUSED"),
        "{name}: the filter refused its configuration:\n{log}"
    );
}

/// The Envoy bootstraps shipped (every document with `static_resources`).
fn envoy_bootstraps() -> Vec<(String, Value)> {
    structured_files()
        .into_iter()
        .flat_map(|(path, docs)| {
            let name = path.strip_prefix(root()).unwrap().display().to_string();
            docs.into_iter()
                .filter(|d| d.get("static_resources").is_some())
                .map(move |d| (name.clone(), d))
        })
        .collect()
}

#[test]
fn every_shipped_envoy_configuration_passes_envoy_validate() {
    let dir = tempfile::tempdir().unwrap();
    mount_folder(dir.path(), &Ca::new("deploy validate CA"));
    let bootstraps = envoy_bootstraps();
    assert!(bootstraps.len() >= 2, "{bootstraps:?}");
    for (i, (name, mut config)) in bootstraps.into_iter().enumerate() {
        remount(&mut config, dir.path());
        envoy_validate(&config, dir.path(), &format!("{i}-envoy.yaml"));
        // Admin on loopback only, XFCC sanitised, the buffer filter right after the wasm filter.
        assert_eq!(
            config["admin"]["address"]["socket_address"]["address"], "127.0.0.1",
            "{name}"
        );
        let hcm = &config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
            ["typed_config"];
        assert_eq!(hcm["forward_client_cert_details"], "SANITIZE_SET", "{name}");
        assert_eq!(
            hcm["set_current_client_cert_details"]["cert"], true,
            "{name}"
        );
        let filters: Vec<&str> = hcm["http_filters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            filters,
            [
                "envoy.filters.http.wasm",
                "envoy.filters.http.buffer",
                "envoy.filters.http.router"
            ],
            "{name}"
        );
        // Never fail open; recover from a trapped VM rather than answer 503 until a restart.
        let wasm = &hcm["http_filters"][0]["typed_config"]["config"];
        assert_eq!(wasm["failure_policy"], "FAIL_RELOAD", "{name}");
        assert!(wasm.get("fail_open").is_none(), "{name}");
    }
}

/// Run `check-jsonschema` when the project's `.venv` has it (a PyPI package that ships the compose
/// specification schema); say so when it does not.
fn check_jsonschema(args: &[&str], files: &[PathBuf]) {
    let tool = root().join(".venv").join("bin").join("check-jsonschema");
    if !tool.is_file() {
        eprintln!(
            "check-jsonschema is not in .venv: schema validation of {files:?} skipped \
             (`.venv/bin/pip install check-jsonschema==0.39.0` enables it); structural checks still ran"
        );
        return;
    }
    let out = Command::new(&tool)
        .args(args)
        .args(files)
        .output()
        .expect("run check-jsonschema");
    assert!(
        out.status.success(),
        "check-jsonschema {args:?} {files:?}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn docker_compose_runs_the_gateway_the_store_and_postgres_by_official_images() {
    let path = root().join("deploy/docker-compose.yml");
    let compose = yaml_docs(&path).remove(0);
    let services = compose["services"].as_object().expect("services");
    let image = |s: &str| {
        services[s]["image"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        image("envoy").starts_with("envoyproxy/envoy:v1.40"),
        "{}",
        image("envoy")
    );
    assert!(
        image("postgres").starts_with("postgres:"),
        "{}",
        image("postgres")
    );
    assert_eq!(
        services["ob-event-store"]["build"]["dockerfile"],
        "deploy/store.Dockerfile"
    );
    assert!(root().join("deploy/store.Dockerfile").is_file());

    // Envoy runs deploy/envoy.yaml (validated above and below), with the module and the TLS folder.
    let mounts: Vec<(String, String)> = services["envoy"]["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["source"].as_str().unwrap().to_string(),
                v["target"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for (source, target) in [
        ("./envoy.yaml", "/etc/envoy/envoy.yaml"),
        (
            "../target/wasm32-wasip1/wasm/ob_event_filter.wasm",
            "/etc/envoy/ob_event_filter.wasm",
        ),
        ("./tls", "/etc/envoy/tls"),
    ] {
        assert!(
            mounts.contains(&(source.to_string(), target.to_string())),
            "{source} -> {target} not mounted: {mounts:?}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    mount_folder(dir.path(), &Ca::new("compose validate CA"));
    let mut envoy = yaml_docs(&root().join("deploy/envoy.yaml")).remove(0);
    remount(&mut envoy, dir.path());
    envoy_validate(&envoy, dir.path(), "compose-envoy.yaml");

    // Envoy's clusters reach the compose services by name; the credentials agree.
    let text = std::fs::read_to_string(root().join("deploy/envoy.yaml")).unwrap();
    assert!(text.contains("{ address: ob-event-store, port_value: 8081 }"));
    let store_env = &services["ob-event-store"]["environment"];
    assert_eq!(store_env["OB_STORE_LISTEN"], "0.0.0.0:8081");
    let policy = read_json(POLICY);
    assert_eq!(
        store_env["OB_STORE_AUTH_USERNAME"],
        policy["backend"]["username"]
    );
    assert!(store_env["OB_STORE_DATABASE_URL"]
        .as_str()
        .unwrap()
        .contains("@postgres:5432/"));
    // Secrets come from the environment, never written in the file.
    for (service, key) in [
        ("ob-event-store", "OB_STORE_AUTH_PASSWORD"),
        ("envoy", "OB_STORE_AUTH_PASSWORD"),
        ("envoy", "OB_APIM_PASSWORD"),
        ("postgres", "POSTGRES_PASSWORD"),
    ] {
        let value = services[service]["environment"][key]
            .as_str()
            .unwrap_or_default();
        assert!(value.starts_with("${"), "{service}.{key} = {value:?}");
    }
    let command = services["envoy"]["command"][0].as_str().unwrap();
    assert!(
        command.contains("CHANGE-ME-store-password") && command.contains("CHANGE-ME-apim-password")
    );
    assert_eq!(
        services["ob-event-store"]["healthcheck"]["test"][3],
        "http://127.0.0.1:8081/api/fs/event-notifications/health"
    );
    check_jsonschema(&["--builtin-schema", "vendor.compose-spec"], &[path]);
}

#[test]
fn apk_confs_attach_the_filter_to_both_apis_as_the_apk_schema_says() {
    let schema_path = root().join("../shared/specs/wso2/apk-schema.json");
    let apis = [
        (
            "policies/apk/event-notification-subscription.apk-conf",
            vec![
                ("POST", "/event-subscriptions"),
                ("GET", "/event-subscriptions"),
                ("PUT", "/event-subscriptions/{EventSubscriptionId}"),
                ("DELETE", "/event-subscriptions/{EventSubscriptionId}"),
            ],
        ),
        (
            "policies/apk/aggregated-event-polling.apk-conf",
            vec![("POST", "/events")],
        ),
    ];
    // WASMInterceptor's parameters as the schema defines them (a copy of its list when shared/ is absent).
    let allowed: BTreeSet<String> = if schema_path.is_file() {
        let schema: Value =
            serde_json::from_str(&std::fs::read_to_string(&schema_path).unwrap()).unwrap();
        schema["schemas"]["WASMInterceptorProperties"]["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    } else {
        [
            "name",
            "rootId",
            "url",
            "image",
            "imagePullPolicy",
            "config",
            "failOpen",
            "hostKeys",
        ]
        .map(String::from)
        .into()
    };
    for (file, operations) in &apis {
        let conf = yaml_docs(&root().join(file)).remove(0);
        assert_eq!(
            format!(
                "{}/{}",
                conf["basePath"].as_str().unwrap(),
                conf["version"].as_str().unwrap()
            ),
            read_json(POLICY)["base_path"],
            "{file}: APK's path must be the filter's base_path"
        );
        let got: Vec<(String, String)> = conf["operations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| {
                (
                    o["verb"].as_str().unwrap().into(),
                    o["target"].as_str().unwrap().into(),
                )
            })
            .collect();
        let want: Vec<(String, String)> = operations
            .iter()
            .map(|(v, t)| (v.to_string(), t.to_string()))
            .collect();
        assert_eq!(got, want, "{file}");
        let policy = &conf["apiPolicies"]["request"][0];
        assert_eq!(policy["policyName"], "WASMInterceptor", "{file}");
        let params = policy["parameters"].as_object().unwrap();
        for key in params.keys() {
            assert!(
                allowed.contains(key),
                "{file}: {key} is not a WASMInterceptor parameter"
            );
        }
        assert_eq!(params["rootId"], "ob_event_filter", "{file}");
        assert_eq!(params["failOpen"], false, "{file}");
        assert!(params["image"]
            .as_str()
            .unwrap()
            .ends_with("/ob-event-filter:0.1.0"));
    }
    if schema_path.is_file() {
        let files: Vec<PathBuf> = apis.iter().map(|(f, _)| root().join(f)).collect();
        let schema = schema_path.display().to_string();
        check_jsonschema(
            &["--default-filetype", "yaml", "--schemafile", &schema],
            &files,
        );
    }
}

#[test]
fn gateway_manifests_give_the_filter_its_clusters_mtls_xfcc_and_buffer() {
    let docs = |f: &str| yaml_docs(&root().join(f));
    let clusters = ["ob_event_store", "wso2_is", "wso2_apim"];
    // Istio: the WasmPlugin fails closed, the clusters and the buffer filter come from EnvoyFilters.
    let istio = docs("policies/istio/ob-event-filter.yaml");
    let plugin = istio.iter().find(|d| d["kind"] == "WasmPlugin").unwrap();
    assert_eq!(plugin["spec"]["pluginName"], "ob_event_filter");
    assert_eq!(plugin["spec"]["failStrategy"], "FAIL_CLOSE");
    assert!(plugin["spec"]["url"]
        .as_str()
        .unwrap()
        .starts_with("oci://"));
    let text = serde_json::to_string(&istio).unwrap();
    for name in clusters {
        assert!(
            text.contains(&format!("\"name\":\"{name}\"")),
            "istio: cluster {name}"
        );
    }
    assert!(text.contains("envoy.filters.http.buffer") && text.contains("\"MUTUAL\""));
    // Envoy Gateway: the same, through EnvoyPatchPolicy, ClientTrafficPolicy and BackendTrafficPolicy.
    let eg = docs("policies/envoy-gateway/ob-event-filter.yaml");
    let kinds: BTreeSet<&str> = eg.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    for kind in [
        "EnvoyExtensionPolicy",
        "ClientTrafficPolicy",
        "BackendTrafficPolicy",
        "EnvoyPatchPolicy",
    ] {
        assert!(kinds.contains(kind), "envoy gateway: {kind}");
    }
    let eep = eg
        .iter()
        .find(|d| d["kind"] == "EnvoyExtensionPolicy")
        .unwrap();
    assert_eq!(eep["spec"]["wasm"][0]["rootID"], "ob_event_filter");
    assert_eq!(eep["spec"]["wasm"][0]["failOpen"], false);
    let ctp = eg
        .iter()
        .find(|d| d["kind"] == "ClientTrafficPolicy")
        .unwrap();
    assert_eq!(
        ctp["spec"]["headers"]["xForwardedClientCert"]["mode"],
        "SanitizeSet"
    );
    let text = serde_json::to_string(&eg).unwrap();
    for name in clusters {
        assert!(
            text.contains(&format!("\"name\":\"{name}\"")),
            "envoy gateway: cluster {name}"
        );
    }
    // The clusters added there are valid Envoy clusters: validate them in a bootstrap of their own.
    let dir = tempfile::tempdir().unwrap();
    let mut patched: Vec<Value> = Vec::new();
    for doc in istio.iter().chain(eg.iter()) {
        for patch in doc["spec"]["configPatches"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if patch["applyTo"] == "CLUSTER" {
                patched.push(patch["patch"]["value"].clone());
            }
        }
        for patch in doc["spec"]["jsonPatches"].as_array().into_iter().flatten() {
            patched.push(patch["operation"]["value"].clone());
        }
    }
    assert_eq!(patched.len(), 6);
    for (i, cluster) in patched.into_iter().enumerate() {
        let bootstrap = json!({"static_resources": {"clusters": [cluster]}});
        envoy_validate(&bootstrap, dir.path(), &format!("cluster-{i}.yaml"));
    }
    // APIM: an operation policy specification for Synapse, with its definition.
    let spec = docs("policies/apim/obEventGatewayCheck_v1.yaml").remove(0);
    assert_eq!(spec["type"], "operation_policy_specification");
    assert_eq!(spec["data"]["supportedGateways"], json!(["Synapse"]));
    let j2 =
        std::fs::read_to_string(root().join("policies/apim/obEventGatewayCheck_v1.j2")).unwrap();
    for attribute in spec["data"]["policyAttributes"].as_array().unwrap() {
        let name = attribute["name"].as_str().unwrap();
        assert!(
            j2.contains(&format!("{{{{{name}}}}}")),
            "the .j2 never uses {name}"
        );
    }
}

#[test]
fn kubernetes_manifests_run_the_store_with_secret_references_and_health_probes() {
    let docs = yaml_docs(&root().join("deploy/kubernetes/ob-event-store.yaml"));
    for doc in &docs {
        assert!(
            doc["apiVersion"].is_string()
                && doc["kind"].is_string()
                && doc["metadata"]["name"].is_string()
        );
    }
    let deployment = docs
        .iter()
        .find(|d| d["kind"] == "Deployment")
        .expect("Deployment");
    let service = docs
        .iter()
        .find(|d| d["kind"] == "Service")
        .expect("Service");
    let pod = &deployment["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    for probe in ["startupProbe", "readinessProbe", "livenessProbe"] {
        assert_eq!(
            container[probe]["httpGet"]["path"], "/api/fs/event-notifications/health",
            "{probe}"
        );
    }
    let env = container["env"].as_array().unwrap();
    let var = |name: &str| {
        env.iter()
            .find(|e| e["name"] == name)
            .unwrap_or_else(|| panic!("{name}"))
    };
    for secret in ["OB_STORE_AUTH_PASSWORD", "OB_STORE_DATABASE_URL"] {
        assert!(
            var(secret)["valueFrom"]["secretKeyRef"]["name"].is_string(),
            "{secret}"
        );
        assert!(
            var(secret)["value"].is_null(),
            "{secret} written in the manifest"
        );
    }
    assert_eq!(
        var("OB_STORE_AUTH_USERNAME")["value"],
        read_json(POLICY)["backend"]["username"]
    );
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(
        service["spec"]["selector"],
        deployment["spec"]["selector"]["matchLabels"]
    );
    assert_eq!(service["spec"]["ports"][0]["port"], 8081);
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The single file of an uncompressed ustar archive.
fn untar_single(tar: &[u8]) -> (String, Vec<u8>) {
    let name = String::from_utf8_lossy(&tar[..100])
        .trim_end_matches('\0')
        .to_string();
    let size_field = String::from_utf8_lossy(&tar[124..136]);
    let size =
        usize::from_str_radix(size_field.trim_matches(|c: char| c == '\0' || c == ' '), 8).unwrap();
    (name, tar[512..512 + size].to_vec())
}

#[test]
fn make_package_writes_a_valid_reproducible_oci_layout_of_the_module() {
    let wasm = filter_wasm();
    let dir = tempfile::tempdir().unwrap();
    let package = |out: &Path| {
        let run = Command::new(root().join("scripts/package-oci.sh"))
            .arg(&wasm)
            .arg(out)
            .arg("0.1.0")
            .output()
            .expect("run package-oci.sh");
        assert!(
            run.status.success(),
            "package-oci.sh: {}",
            String::from_utf8_lossy(&run.stderr)
        );
    };
    let (one, two) = (dir.path().join("one"), dir.path().join("two"));
    package(&one);
    package(&two);
    let layout: Value =
        serde_json::from_slice(&std::fs::read(one.join("oci-layout")).unwrap()).unwrap();
    assert_eq!(layout["imageLayoutVersion"], "1.0.0");
    let index: Value =
        serde_json::from_slice(&std::fs::read(one.join("index.json")).unwrap()).unwrap();
    assert_eq!(
        index["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );
    assert_eq!(
        index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"],
        "0.1.0"
    );
    // Every descriptor names a blob with that digest and size.
    let blob = |descriptor: &Value| -> Vec<u8> {
        let digest = descriptor["digest"].as_str().unwrap();
        let hex = digest.strip_prefix("sha256:").unwrap();
        let bytes = std::fs::read(one.join("blobs/sha256").join(hex)).unwrap();
        assert_eq!(sha256_hex(&bytes), hex, "{digest}");
        assert_eq!(
            descriptor["size"].as_u64().unwrap(),
            bytes.len() as u64,
            "{digest}"
        );
        bytes
    };
    let manifest: Value = serde_json::from_slice(&blob(&index["manifests"][0])).unwrap();
    assert_eq!(
        manifest["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    let config: Value = serde_json::from_slice(&blob(&manifest["config"])).unwrap();
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1);
    assert_eq!(
        layers[0]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+gzip"
    );
    let gz = blob(&layers[0]);
    let gz_path = dir.path().join("layer.tar.gz");
    std::fs::write(&gz_path, &gz).unwrap();
    let gunzip = Command::new("gzip")
        .args(["-d", "-c"])
        .arg(&gz_path)
        .output()
        .expect("run gzip");
    assert!(gunzip.status.success());
    let tar = gunzip.stdout;
    assert_eq!(
        config["rootfs"]["diff_ids"][0],
        format!("sha256:{}", sha256_hex(&tar))
    );
    let (name, content) = untar_single(&tar);
    assert_eq!(name, "plugin.wasm");
    assert!(
        content == std::fs::read(&wasm).unwrap(),
        "the layer holds another module"
    );
    // Reproducible: the same module gives the same layout, byte for byte.
    for file in ["index.json", "oci-layout"] {
        assert_eq!(
            std::fs::read(one.join(file)).unwrap(),
            std::fs::read(two.join(file)).unwrap()
        );
    }
}

#[test]
fn deploy_envoy_yaml_started_for_real_serves_the_seed_flow_over_mtls() {
    let dir = tempfile::Builder::new()
        .prefix("ob-event-deploy-")
        .tempdir()
        .unwrap();
    let ca = Ca::new("deploy test CA");
    mount_folder(dir.path(), &ca);
    let store = Store::start(&dir.path().join("store"));
    let closed = ob_event_integration::stub::free_port();

    // deploy/envoy.yaml with only what a test machine needs changed (docs/deploy.md lists it):
    let mut config = yaml_docs(&root().join("deploy/envoy.yaml")).remove(0);
    remount(&mut config, dir.path());
    config["admin"]["address"]["socket_address"]["port_value"] = json!(0);
    let listener = &mut config["static_resources"]["listeners"][0];
    listener["address"]["socket_address"] = json!({"address": "127.0.0.1", "port_value": 0});
    let hcm = &mut listener["filter_chains"][0]["filters"][0]["typed_config"];
    let wasm_config =
        &mut hcm["http_filters"][0]["typed_config"]["config"]["configuration"]["value"];
    let mut policy: Value = serde_json::from_str(wasm_config.as_str().unwrap()).unwrap();
    // the issuer's keys inline (the test key manager) instead of fetched from WSO2 IS,
    policy["issuers"][0]
        .as_object_mut()
        .unwrap()
        .remove("remote_jwks");
    policy["issuers"][0]["jwks"] = json!({"keys": [rsa_key().jwk()]});
    // the store's test credentials,
    policy["backend"]["username"] = json!(store::USER);
    policy["backend"]["password"] = json!(store::PASSWORD);
    // the demo TPPs' applications as a static list instead of APIM's data API.
    let applications: Vec<Value> = TPPS
        .iter()
        .map(|t| {
            json!({
                "name": format!("{} application", t.organisation),
                "organisation": format!("PSDGB-OB-{}", t.organisation_id),
                "keys": [{"consumer_key": t.client_id, "key_type": "PRODUCTION"}],
                "subscriptions": [{"state": "UNBLOCKED"}],
            })
        })
        .collect();
    policy["apim"]["source"] = json!({"type": "static", "applications": applications});
    *wasm_config = json!(policy.to_string());
    // Cluster endpoints on this machine: the store; nothing listens for WSO2 IS and APIM.
    for cluster in config["static_resources"]["clusters"]
        .as_array_mut()
        .unwrap()
    {
        let port = if cluster["name"] == "ob_event_store" {
            store.port
        } else {
            closed
        };
        cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]
            ["socket_address"] = json!({"address": "127.0.0.1", "port_value": port});
    }
    let envoy = Envoy::start_yaml(
        &serde_json::to_string_pretty(&config).unwrap(),
        &dir.path().join("envoy"),
        2,
    );

    let tpp = &TPPS[0];
    let cert = ca.client(&ClientCertSpec::ob(
        tpp.organisation,
        tpp.organisation_id,
        tpp.software_id,
    ));
    let client = Client::new(&ca.cert_pem, Some((&cert.cert_pem, &cert.key_pem)));
    let x5t = cert.x5t_s256();
    let token = |scope: &str| {
        let claims = TokenRequest {
            issuer: policy["issuers"][0]["issuer"].as_str().unwrap(),
            client_id: tpp.client_id,
            scope,
            x5t_s256: Some(&x5t),
            lifetime_secs: 600,
        }
        .claims();
        format!("Bearer {}", rsa_key().sign(&claims))
    };
    let call = |method: &str, path: &str, auth: &str, body: Option<Value>| {
        let mut headers = vec![("authorization", auth), ("accept", "application/json")];
        if body.is_some() {
            headers.push(("content-type", "application/json"));
        }
        let bytes = body.map(|b| b.to_string().into_bytes());
        client.send(method, &envoy.url(path), &headers, bytes.as_deref())
    };
    let accounts = token("accounts");
    let polling = token("eventpolling");

    let created = call(
        "POST",
        "/open-banking/v3.1/event-subscriptions",
        &accounts,
        Some(json!({"Data": {
            "CallbackUrl": "https://tpp.example/open-banking/v3.1/event-notifications",
            "Version": "3.1",
            "EventTypes": ["urn:uk:org:openbanking:events:resource-update"]
        }})),
    );
    assert_eq!(created.status, 201, "{}", created.text());
    let id = created.json()["Data"]["EventSubscriptionId"]
        .as_str()
        .unwrap()
        .to_string();
    // public_base_url of the policy makes Links.Self.
    assert_eq!(
        created.json()["Links"]["Self"],
        format!("https://api.bank.example/open-banking/v3.1/event-subscriptions/{id}")
    );
    assert!(created.header("x-fapi-interaction-id").is_some());
    let listed = call(
        "GET",
        "/open-banking/v3.1/event-subscriptions",
        &accounts,
        None,
    );
    assert_eq!(listed.status, 200, "{}", listed.text());

    let jti = store.publish(
        tpp.client_id,
        "aac-1",
        &json!({"urn:uk:org:openbanking:events:resource-update": {"subject": {
            "subject_type": "http://openbanking.org.uk/rid_http://openbanking.org.uk/rty",
            "http://openbanking.org.uk/rid": "aac-1",
            "http://openbanking.org.uk/rty": "account-access-consent",
            "http://openbanking.org.uk/rlk": [{"version": "v3.1", "link": "https://bank.test/aac-1"}]
        }}}),
    );
    let polled = call(
        "POST",
        "/open-banking/v3.1/events",
        &polling,
        Some(json!({"returnImmediately": true, "maxEvents": 10})),
    );
    assert_eq!(polled.status, 200, "{}", polled.text());
    assert!(polled.json()["sets"][&jti].is_string(), "{}", polled.text());
    let acked = call(
        "POST",
        "/open-banking/v3.1/events",
        &polling,
        Some(json!({"returnImmediately": true, "ack": [jti]})),
    );
    assert_eq!(acked.json(), json!({"sets": {}, "moreAvailable": false}));

    // Without a client certificate the TLS handshake fails: no HTTP exchange at all.
    let anonymous = Client::new(&ca.cert_pem, None);
    assert!(anonymous
        .try_send(
            "GET",
            &envoy.url("/open-banking/v3.1/event-subscriptions"),
            &[],
            None
        )
        .is_err());
    // What an operator sees: the filter's counter.
    assert!(envoy.counter("wasmcustom.ob_event_filter.requests_total") >= 4);
}
