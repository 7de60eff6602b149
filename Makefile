# The two commands a new user needs:
#   make up     start a node on the embedded defaults (local devnet, contracts, API on 127.0.0.1:8402)
#   make test   run every check and test (what CI runs)
# Every target runs `make setup` first, which installs pinned tools into .tools/ and the model
# into .models/ (idempotent; a second run takes milliseconds).

SHELL := bash
export PATH := $(CURDIR)/.tools/bin:$(PATH)
CARGO ?= cargo
NEXTEST := $(shell $(CARGO) nextest --version >/dev/null 2>&1 && echo yes)

.PHONY: install setup setup-browser up build test test-contracts test-rust lint fmt fmt-check artifacts check-artifacts x402-fixtures bench-llamacpp bench-infer

setup:
	@scripts/setup.sh

build: setup
	$(CARGO) build --workspace --all-targets

up: setup
	@test -x target/debug/agora || echo "make up: the first build compiles about 450 crates: 5 to 10 minutes on 2 cores, seconds afterwards" >&2
	$(CARGO) run -p agora -- up

# `agora` on the PATH (cargo's bin folder, ~/.cargo/bin), built with the release profile, then
# `agora setup`: anvil and the default model in its data directory, so it runs from any folder.
CARGO_BIN := $(or $(CARGO_INSTALL_ROOT),$(CARGO_HOME),$(HOME)/.cargo)/bin
install:
	@echo "make install: a release build of about 450 crates: 10 to 20 minutes on 2 cores" >&2
	$(CARGO) install --locked --path bin/agora
	"$(CARGO_BIN)/agora" setup
	@command -v agora >/dev/null || echo "add $(CARGO_BIN) to your PATH to run agora from anywhere"

# `make test` lints while it builds (see LINTED below): the dependency tree compiles once.
test: setup setup-browser test-contracts check-artifacts fmt-check test-rust

# The system's Chromium, which the web app's tests drive (apt-get when missing).
setup-browser:
	@scripts/setup.sh --browser

test-contracts: setup
	cd contracts && forge fmt --check && forge test

# The committed artifacts must be exactly what the sources compile to.
check-artifacts: setup
	cd contracts && forge build --quiet
	@scripts/check-artifacts.sh

artifacts: setup
	cd contracts && forge build
	node scripts/export-artifacts.js

# The fixtures tying the x402 contracts to the official client (contracts/test/fixtures).
x402-fixtures: setup
	NODE_PATH=.tools/npm/node_modules node scripts/x402-fixtures.js

lint: setup fmt-check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt-check: setup
	$(CARGO) fmt --all --check

# Clippy as the compiler of the workspace's own crates, the way `cargo clippy` runs it, but in
# the build the tests use: every lint of `make lint` (warnings are errors) while the dependencies
# compile once, instead of once checked for clippy and once again built for the tests.
CLIPPY_DRIVER := $(shell rustup which clippy-driver 2>/dev/null || command -v clippy-driver)
LINTED := RUSTC_WORKSPACE_WRAPPER="$(CLIPPY_DRIVER)" CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"

# The linted build first; doc tests next, so the closing line is the whole suite's summary.
test-rust: setup
	@test -n "$(CLIPPY_DRIVER)" || { echo "clippy-driver not found: rustup component add clippy" >&2; exit 1; }
	$(LINTED) $(CARGO) build --workspace --all-targets
	$(LINTED) $(CARGO) test --workspace --doc --quiet
ifeq ($(NEXTEST),yes)
	$(LINTED) $(CARGO) nextest run --workspace --profile ci
else
	@echo "cargo-nextest not found; running cargo test (install it with: cargo install cargo-nextest --locked)"
	$(LINTED) $(CARGO) test --workspace --all-targets
endif

fmt: setup
	$(CARGO) fmt --all
	cd contracts && forge fmt

# llama.cpp, the anchor of `agora bench infer`: needs cmake and clang (apt-get install cmake clang
# libclang-dev). AMX is disabled because ggml's AMX path crashes on some Xeon CPUs.
LLAMACPP_BENCH := target/llamacpp/release/agora-llamacpp-bench

bench-llamacpp:
	CFLAGS="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16" CXXFLAGS="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16" \
	  CARGO_TARGET_DIR=target/llamacpp $(CARGO) build --release --manifest-path bench/llamacpp/Cargo.toml

# The dev profile builds the engine at opt-level 3 without debug assertions (see Cargo.toml);
# the benchmark prints the build it measures.
bench-infer: setup bench-llamacpp
	$(CARGO) run -q -p agora -- bench infer --bench-threads 2 --tokens 128 --llamacpp $(LLAMACPP_BENCH)
