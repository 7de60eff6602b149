#!/usr/bin/env bash
# Checks that the committed artifacts are exactly what the sources compile to (run after
# `forge build`). On drift it names each folder that drifted and the files that differ; when the
# exporter itself fails it shows the exporter's errors.
set -euo pipefail
cd "$(dirname "$0")/.."

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if ! node scripts/export-artifacts.js "$tmp/main" "$tmp/guard" >"$tmp/export.log" 2>&1; then
  echo "check-artifacts: scripts/export-artifacts.js failed (did 'forge build' run in contracts/?):" >&2
  cat "$tmp/export.log" >&2
  exit 1
fi

drifted=0
# check GENERATED COMMITTED SOURCES
check() {
  if ! diff -rq "$1" "$2" >"$tmp/diff.txt" 2>&1; then
    echo "check-artifacts: $2 drifted from $3: run 'make artifacts' and commit" >&2
    sed -e "s|$tmp/main|(generated)|g; s|$tmp/guard|(generated)|g; s|^|  |" "$tmp/diff.txt" >&2
    drifted=1
  fi
}
check "$tmp/main" crates/contracts/artifacts contracts/src
check "$tmp/guard" crates/testkit/artifacts/guard contracts/test/guard

# The x402 fixtures must be what the pinned official package (@x402/evm) produces.
if [ -d .tools/npm/node_modules/@x402/evm ]; then
  mkdir -p "$tmp/x402"
  if ! NODE_PATH=.tools/npm/node_modules node scripts/x402-fixtures.js "$tmp/x402" >"$tmp/x402.log" 2>&1; then
    echo "check-artifacts: scripts/x402-fixtures.js failed:" >&2
    cat "$tmp/x402.log" >&2
    exit 1
  fi
  for f in x402-abi.json x402-vectors.json; do
    if ! cmp -s "$tmp/x402/$f" "contracts/test/fixtures/$f"; then
      echo "check-artifacts: contracts/test/fixtures/$f drifted from @x402/evm: run 'make x402-fixtures' and commit" >&2
      drifted=1
    fi
  done
fi

if [ "$drifted" -ne 0 ]; then
  exit 1
fi
echo "artifacts match the sources"
