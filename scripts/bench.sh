#!/usr/bin/env bash
# `make bench`: performance against native Envoy filters, in one run. See BENCHMARKS.md.
set -euo pipefail
echo "make bench: not yet — the first benchmark (token validation vs jwt_authn + rbac) lands with issue 3."
