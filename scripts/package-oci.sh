#!/usr/bin/env bash
# Package the filter module as a Wasm OCI image, written as an OCI image layout directory, without Docker.
#
#   scripts/package-oci.sh [WASM] [OUT_DIR] [TAG]        (make package runs it with the defaults)
#
# WASM     the module (default target/wasm32-wasip1/wasm/ob_event_filter.wasm, built by make build)
# OUT_DIR  the OCI image layout to (re)write (default target/oci/ob-event-filter)
# TAG      the reference name in index.json (default: the workspace version from Cargo.toml)
#
# The image is the Wasm "compat" image that Istio (WasmPlugin), Envoy Gateway (EnvoyExtensionPolicy,
# code.type Image) and WSO2 APK (WASMInterceptor image) pull: one layer, media type
# application/vnd.oci.image.layer.v1.tar+gzip, holding plugin.wasm at the root. The layout is reproducible:
# the same module gives byte-identical blobs (fixed mtime, owner and mode in the tar, gzip -n).
#
# Push it with any OCI tool, e.g. (Debian's skopeo):
#   skopeo copy oci:target/oci/ob-event-filter:0.1.0 docker://registry.bank.example/ob/ob-event-filter:0.1.0
# See docs/deploy.md.
set -euo pipefail
cd "$(dirname "$0")/.."

WASM=${1:-target/wasm32-wasip1/wasm/ob_event_filter.wasm}
OUT=${2:-target/oci/ob-event-filter}
TAG=${3:-$(awk -F'"' '/^\[workspace.package\]/{p=1} p && /^version *=/{print $2; exit}' Cargo.toml)}

[ -f "$WASM" ] || { echo "package-oci: $WASM is missing: run make build" >&2; exit 1; }
[ -n "$TAG" ] || { echo "package-oci: no tag (version) found" >&2; exit 1; }
case "$TAG" in *[!A-Za-z0-9._-]*) echo "package-oci: tag $TAG: use letters, digits and ._- only" >&2; exit 1 ;; esac

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The layer: plugin.wasm in a tar with fixed metadata, gzip without name or time.
cp "$WASM" "$work/plugin.wasm"
tar --create --file "$work/layer.tar" --directory "$work" --format=ustar \
  --owner=0 --group=0 --numeric-owner --mode=0444 --mtime=@0 --sort=name plugin.wasm
gzip -n -9 --stdout "$work/layer.tar" > "$work/layer.tar.gz"

sha() { sha256sum "$1" | cut -d' ' -f1; }
size() { stat -c %s "$1"; }

diff_id=$(sha "$work/layer.tar")
layer_digest=$(sha "$work/layer.tar.gz")
layer_size=$(size "$work/layer.tar.gz")

printf '{"architecture":"wasm","os":"wasip1","created":"1970-01-01T00:00:00Z","config":{},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
  "$diff_id" > "$work/config.json"
config_digest=$(sha "$work/config.json")
config_size=$(size "$work/config.json")

printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.title":"plugin.wasm"}}],"annotations":{"org.opencontainers.image.title":"ob-event-filter","org.opencontainers.image.version":"%s","org.opencontainers.image.description":"OB Event Gateway proxy-wasm filter (root_id ob_event_filter)"}}' \
  "$config_digest" "$config_size" "$layer_digest" "$layer_size" "$TAG" > "$work/manifest.json"
manifest_digest=$(sha "$work/manifest.json")
manifest_size=$(size "$work/manifest.json")

rm -rf "$OUT"
mkdir -p "$OUT/blobs/sha256"
cp "$work/layer.tar.gz" "$OUT/blobs/sha256/$layer_digest"
cp "$work/config.json" "$OUT/blobs/sha256/$config_digest"
cp "$work/manifest.json" "$OUT/blobs/sha256/$manifest_digest"
printf '{"imageLayoutVersion":"1.0.0"}' > "$OUT/oci-layout"
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"%s"}}]}' \
  "$manifest_digest" "$manifest_size" "$TAG" > "$OUT/index.json"

printf 'OCI image layout: %s (tag %s, manifest sha256:%s, module sha256:%s)\n' \
  "$OUT" "$TAG" "$manifest_digest" "$(sha "$WASM")"
