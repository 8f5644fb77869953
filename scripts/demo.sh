#!/usr/bin/env bash
# `make run`: the demo stack in the foreground — ob-event-store on SQLite and Envoy with the filter — with
# demo PKI and tokens in .demo/. Ctrl-C (or SIGTERM to make) stops everything and leaves no process behind.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DEMO=$ROOT/.demo
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
mkdir -p "$DEMO"

"$TARGET/debug/ob-demo" init --dir "$DEMO"

pids=()
stop() {
  trap - INT TERM EXIT
  echo
  echo "demo: stopping" >&2
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  exit 0
}
trap stop INT TERM EXIT

for port in 8443 9901 8081; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "demo: port $port is already in use (another demo running?)" >&2
    exit 1
  fi
done

"$TARGET/debug/ob-event-store" --config "$DEMO/store.toml" >"$DEMO/store.log" 2>&1 &
pids+=($!)
"$ROOT/.venv/bin/envoy" -c "$DEMO/envoy.yaml" --disable-hot-restart --concurrency 2 -l info \
  >"$DEMO/envoy.log" 2>&1 &
pids+=($!)

ready() { curl -fsS -o /dev/null "$1" 2>/dev/null; }
for _ in $(seq 1 600); do
  for pid in "${pids[@]}"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "demo: a process exited during start; logs:" >&2
      tail -n 30 "$DEMO/store.log" "$DEMO/envoy.log" >&2
      exit 1
    fi
  done
  if ready http://127.0.0.1:9901/ready && ready http://127.0.0.1:8081/api/fs/event-notifications/health; then
    "$TARGET/debug/ob-demo" curl --dir "$DEMO"
    echo "Logs: $DEMO/envoy.log, $DEMO/store.log"
    # Wait until a child exits or a signal arrives (the trap stops the rest).
    wait -n "${pids[@]}" || true
    echo "demo: a process exited; logs:" >&2
    tail -n 30 "$DEMO/store.log" "$DEMO/envoy.log" >&2
    exit 1
  fi
  sleep 0.1
done
echo "demo: not ready after 60 s; logs:" >&2
tail -n 30 "$DEMO/store.log" "$DEMO/envoy.log" >&2
exit 1
