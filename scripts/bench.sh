#!/usr/bin/env bash
# `make bench`: the filter against native Envoy filters, in one run, on this machine. See BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null; then
  echo "bench: installing wrk (Debian)" >&2
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq wrk >/dev/null
  else sudo apt-get update -qq && sudo apt-get install -y -qq wrk >/dev/null; fi
fi
TARGET=${CARGO_TARGET_DIR:-target}
# The reference floors: Wasm filters that do nothing (SDK-built and on ob-proxy-abi), or only the essential hostcalls.
cargo build --quiet --profile wasm --target wasm32-wasip1 -p ob-event-noop-filter -p ob-event-floor-filter
exec "$TARGET/debug/ob-bench"
