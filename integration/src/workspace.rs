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
