#!/usr/bin/env bash
# Cross-checks agora's x402 contracts against the official x402 v2 packages: on a fresh anvil it
# places X402BatchSettlement, ERC3009DepositCollector, Permit2DepositCollector, Permit2 and
# X402UptoPermit2Proxy (from crates/contracts/artifacts, or $ARTIFACTS_DIR) at the canonical
# addresses, runs the official @x402/express server with the official facilitator in-process, and
# pays it with the official clients:
#   batch-settlement  20 calls over one channel (x402_batch_client.js), then the server claims and
#                     settles; the receiver must have gained what the calls were charged
#   upto              one call (x402_upto_client.js, after approving Permit2)
#   exact             one call (x402_client.js, EIP-3009)
#   batch-permit2     batch-settlement again with Permit2 deposits (BATCH_TRANSFER_METHOD=permit2)
#   batch-restart     20 calls from another payer while the server is killed and restarted on the
#                     same port after the first few; then claim + settle as above
#   batch-refund      3 calls, then a cooperative refund of the rest of the deposit
# Prints one line per check (PASS/FAIL with the error) on stderr and a JSON summary on stdout;
# exits 1 when a check fails, 2 when it cannot start (tools or artifacts missing).
#
#   scripts/x402-crosscheck.sh
#
# Environment: PRICE (atomic units per call, default 1000), CALLS (default 20), CHARGE (what the
# server charges an upto or batch-settlement call, e.g. 600 or 60%; default the price), KEEP=1
# keeps the work directory (logs of anvil, the server and each client) and prints where it is.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
IT="$ROOT/crates/node/tests/it"
ARTIFACTS="${ARTIFACTS_DIR:-$ROOT/crates/contracts/artifacts}"
export NODE_PATH="$ROOT/.tools/npm/node_modules"
PRICE="${PRICE:-1000}"
CALLS="${CALLS:-20}"

# anvil's default accounts: the facilitator sends the transactions, the payers pay, PAY_TO receives,
# the receiver authorizer signs batch claims.
FACILITATOR_KEY=0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d
PAYER_KEY=0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a
PAYER=0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC
PAY_TO=0x90F79bf6EB2c4f870365E785982E1f101E93b906
AUTHORIZER_KEY=0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a
PAYER2_KEY=0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba
PAYER2=0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc
PAYER3_KEY=0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e
PAYER3=0x976EA74026E726554dB657fA54763abd0C3a0aa9

say() { echo "x402-crosscheck: $*" >&2; }
die() { say "$*"; exit 2; }

[ -x "$ROOT/.tools/bin/anvil" ] || die "anvil is missing: run scripts/setup.sh"
[ -d "$NODE_PATH/@x402/express" ] || die "@x402/express is missing: run scripts/setup.sh"
for name in DevStablecoin Permit2 X402BatchSettlement ERC3009DepositCollector Permit2DepositCollector X402UptoPermit2Proxy; do
  [ -f "$ARTIFACTS/$name.json" ] || die "missing artifact $ARTIFACTS/$name.json (build and export the contracts first)"
done

WORK=$(mktemp -d)
ANVIL_PID=
SERVER_PID=
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null
  [ -n "$ANVIL_PID" ] && kill "$ANVIL_PID" 2>/dev/null
  if [ "${KEEP:-0}" = 1 ]; then say "logs kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

free_port() {
  node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}
# Reads field $2 (a dotted path) of the JSON in file $1.
field() {
  node -e "const v=String(process.argv[2]).split('.').reduce((o,k)=>o==null?o:o[k],JSON.parse(require('fs').readFileSync(process.argv[1],'utf8')));console.log(v==null?'':(typeof v==='object'?JSON.stringify(v):v))" "$1" "$2"
}
balance() {
  node "$ROOT/scripts/x402-devnet.js" balance "$RPC" "$TOKEN" "$1" >"$WORK/balance.json" && field "$WORK/balance.json" balance
}

ANVIL_PORT=$(free_port)
RPC="http://127.0.0.1:$ANVIL_PORT"
"$ROOT/.tools/bin/anvil" --port "$ANVIL_PORT" --chain-id 31337 --silent >"$WORK/anvil.log" 2>&1 &
ANVIL_PID=$!
for _ in $(seq 50); do
  curl -s -o /dev/null -X POST -H 'content-type: application/json' \
    --data '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' "$RPC" && break
  sleep 0.2
done

say "deploying DevStablecoin and the x402 contracts on $RPC"
ARTIFACTS_DIR="$ARTIFACTS" node "$ROOT/scripts/x402-devnet.js" deploy "$RPC" >"$WORK/deploy.json" 2>"$WORK/deploy.err" ||
  die "deployment failed: $(cat "$WORK/deploy.err")"
TOKEN=$(field "$WORK/deploy.json" token)
for who in "$PAYER" "$PAYER2" "$PAYER3"; do
  node "$ROOT/scripts/x402-devnet.js" fund "$RPC" "$TOKEN" "$who" 1000000000 >/dev/null 2>"$WORK/fund.err" ||
    die "funding $who failed: $(cat "$WORK/fund.err")"
done

SERVER_PORT=$(free_port)
URL="http://127.0.0.1:$SERVER_PORT/paid"
start_server() {
  : >"$WORK/server.out"
  ASSET="$TOKEN" PAY_TO="$PAY_TO" PRICE="$PRICE" RPC_URL="$RPC" PORT="$SERVER_PORT" \
    BATCH_TRANSFER_METHOD="${1:-}" CHARGE="${CHARGE:-}" \
    FACILITATOR_KEY="$FACILITATOR_KEY" RECEIVER_AUTHORIZER_KEY="$AUTHORIZER_KEY" \
    node "$IT/x402_express_server.js" >"$WORK/server.out" 2>>"$WORK/server.err" &
  SERVER_PID=$!
  for _ in $(seq 100); do
    grep -q listening "$WORK/server.out" 2>/dev/null && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  die "the express server did not start: $(tail -5 "$WORK/server.err")"
}
stop_server() {
  kill "$SERVER_PID" 2>/dev/null
  wait "$SERVER_PID" 2>/dev/null
  SERVER_PID=
}
start_server

declare -A RESULT
FAILED=0
pass() { RESULT[$1]="PASS: $2"; say "PASS $1: $2"; }
fail() { RESULT[$1]="FAIL: $2"; FAILED=1; say "FAIL $1: $2"; }

# Claims and settles what the batch server holds; prints the JSON answer.
settle() {
  curl -s -X POST "http://127.0.0.1:$SERVER_PORT/admin/settle" >"$WORK/settle.json"
  cat "$WORK/settle.json"
}

# batch-settlement: CALLS calls over one channel, then claim + settle.
before=$(balance "$PAY_TO")
if node "$IT/x402_batch_client.js" "$URL" "$PAYER_KEY" "$TOKEN" "$CALLS" "$RPC" >"$WORK/batch.json" 2>"$WORK/batch.err"; then
  answered=$(field "$WORK/batch.json" answered)
  charged=$(field "$WORK/batch.json" chargedTotal)
  settled=$(settle)
  after=$(balance "$PAY_TO")
  gained=$((after - before))
  if [ "$answered" != "$CALLS" ]; then
    fail batch-settlement "$answered of $CALLS calls answered: $(field "$WORK/batch.json" errors)"
  elif grep -q '"error"' "$WORK/settle.json"; then
    fail batch-settlement "claim/settle failed: $settled"
  elif [ "$gained" != "$charged" ]; then
    fail batch-settlement "receiver gained $gained, calls were charged $charged; settle: $settled"
  else
    pass batch-settlement "$answered calls, deposits $(field "$WORK/batch.json" deposits), charged $charged, receiver +$gained"
  fi
else
  fail batch-settlement "client failed: $(tail -3 "$WORK/batch.err" | tr '\n' ' ')"
fi

# upto: one call, settled by the facilitator through the upto Permit2 proxy.
before=$(balance "$PAY_TO")
if node "$IT/x402_upto_client.js" "$URL" "$PAYER_KEY" "$TOKEN" "$RPC" >"$WORK/upto.json" 2>"$WORK/upto.err"; then
  status=$(field "$WORK/upto.json" status)
  amount=$(field "$WORK/upto.json" paymentResponse.amount)
  after=$(balance "$PAY_TO")
  gained=$((after - before))
  if [ "$status" != 200 ]; then
    fail upto "status $status: $(field "$WORK/upto.json" paymentRequired.error) $(field "$WORK/upto.json" paymentResponse)"
  elif [ "$gained" != "${amount:-$PRICE}" ]; then
    fail upto "receiver gained $gained, settled amount ${amount:-?}"
  else
    pass upto "tx $(field "$WORK/upto.json" paymentResponse.transaction), receiver +$gained"
  fi
else
  fail upto "client failed: $(tail -3 "$WORK/upto.err" | tr '\n' ' ')"
fi

# exact: one call, EIP-3009 transferWithAuthorization by the facilitator.
before=$(balance "$PAY_TO")
if node "$IT/x402_client.js" "$URL" "$PAYER_KEY" "$TOKEN" >"$WORK/exact.json" 2>"$WORK/exact.err"; then
  status=$(field "$WORK/exact.json" status)
  after=$(balance "$PAY_TO")
  gained=$((after - before))
  if [ "$status" != 200 ]; then
    fail exact "status $status: $(field "$WORK/exact.json" body)"
  elif [ "$gained" != "$PRICE" ]; then
    fail exact "receiver gained $gained, price $PRICE"
  else
    pass exact "tx $(field "$WORK/exact.json" paymentResponse.transaction), receiver +$gained"
  fi
else
  fail exact "client failed: $(tail -3 "$WORK/exact.err" | tr '\n' ' ')"
fi

# batch-permit2: batch-settlement with Permit2 deposits (the Permit2 deposit collector), from the
# payer that approved Permit2 for upto; its channel from the first check is recovered from the
# chain and topped up.
stop_server
start_server permit2
before=$(balance "$PAY_TO")
if node "$IT/x402_batch_client.js" "$URL" "$PAYER_KEY" "$TOKEN" "$CALLS" "$RPC" >"$WORK/permit2.json" 2>"$WORK/permit2.err"; then
  answered=$(field "$WORK/permit2.json" answered)
  charged=$(field "$WORK/permit2.json" chargedTotal)
  settled=$(settle)
  after=$(balance "$PAY_TO")
  gained=$((after - before))
  if [ "$answered" != "$CALLS" ]; then
    fail batch-permit2 "$answered of $CALLS calls answered: $(field "$WORK/permit2.json" errors)"
  elif ! field "$WORK/permit2.json" deposits | grep -q permit2 || field "$WORK/permit2.json" deposits | grep -q eip3009; then
    fail batch-permit2 "the deposits did not all go through Permit2: $(field "$WORK/permit2.json" deposits)"
  elif grep -q '"error"' "$WORK/settle.json"; then
    fail batch-permit2 "claim/settle failed: $settled"
  elif [ "$gained" != "$charged" ]; then
    fail batch-permit2 "receiver gained $gained, calls were charged $charged; settle: $settled"
  else
    pass batch-permit2 "$answered calls, deposits $(field "$WORK/permit2.json" deposits), charged $charged, receiver +$gained"
  fi
else
  fail batch-permit2 "client failed: $(tail -3 "$WORK/permit2.err" | tr '\n' ' ')"
fi
stop_server
start_server

# batch-restart: the server is killed and restarted on the same port mid-run. Its channel records
# are in memory: the restarted server takes the base of the client's next voucher as charged, so
# the claim after the restart still covers every answered call, and nothing more.
before=$(balance "$PAY_TO")
PROGRESS=1 node "$IT/x402_batch_client.js" "$URL" "$PAYER2_KEY" "$TOKEN" "$CALLS" "$RPC" >"$WORK/restart.json" 2>"$WORK/restart.err" &
CLIENT_PID=$!
# Kill the server once a quarter of the calls are answered, so the restart lands mid-run.
for _ in $(seq 300); do
  [ "$(grep -c '^answered' "$WORK/restart.err")" -ge $((CALLS / 4)) ] && break
  kill -0 "$CLIENT_PID" 2>/dev/null || break
  sleep 0.05
done
stop_server
sleep 1
start_server
if wait "$CLIENT_PID"; then
  answered=$(field "$WORK/restart.json" answered)
  charged=$(field "$WORK/restart.json" chargedTotal)
  settled=$(settle)
  after=$(balance "$PAY_TO")
  gained=$((after - before))
  if [ "$(field "$WORK/restart.json" statuses.network)" = "" ]; then
    fail batch-restart "the restart did not land mid-run (no network errors): $(field "$WORK/restart.json" statuses)"
  elif [ "$answered" != "$CALLS" ]; then
    fail batch-restart "$answered of $CALLS calls answered: $(field "$WORK/restart.json" errors)"
  elif grep -q '"error"' "$WORK/settle.json"; then
    fail batch-restart "claim/settle failed: $settled"
  elif [ "$gained" != "$charged" ]; then
    fail batch-restart "receiver gained $gained, calls were charged $charged; settle: $settled"
  else
    pass batch-restart "$answered calls ($(field "$WORK/restart.json" failedAttempts) failed attempts across the restart), charged $charged, receiver +$gained"
  fi
else
  fail batch-restart "client failed: $(tail -3 "$WORK/restart.err" | tr '\n' ' ')"
fi

# batch-refund: a few calls, then the client asks for a cooperative refund (the server signs it,
# the facilitator claims the outstanding voucher and refunds the rest with refundWithSignature);
# after claim + settle the payer has lost and the receiver gained exactly what was charged.
payer_before=$(balance "$PAYER3")
before=$(balance "$PAY_TO")
if REFUND=1 node "$IT/x402_batch_client.js" "$URL" "$PAYER3_KEY" "$TOKEN" 3 "$RPC" >"$WORK/refund.json" 2>"$WORK/refund.err"; then
  answered=$(field "$WORK/refund.json" answered)
  charged=$(field "$WORK/refund.json" chargedTotal)
  refunded=$(field "$WORK/refund.json" refund.success)
  settled=$(settle)
  after=$(balance "$PAY_TO")
  payer_after=$(balance "$PAYER3")
  gained=$((after - before))
  lost=$((payer_before - payer_after))
  if [ "$answered" != 3 ]; then
    fail batch-refund "$answered of 3 calls answered: $(field "$WORK/refund.json" errors)"
  elif [ "$refunded" != true ]; then
    fail batch-refund "refund failed: $(field "$WORK/refund.json" refund)"
  elif grep -q '"error"' "$WORK/settle.json"; then
    fail batch-refund "claim/settle failed: $settled"
  elif [ "$gained" != "$charged" ] || [ "$lost" != "$charged" ]; then
    fail batch-refund "charged $charged, payer lost $lost, receiver gained $gained; refund: $(field "$WORK/refund.json" refund); settle: $settled"
  else
    pass batch-refund "3 calls, refund tx $(field "$WORK/refund.json" refund.transaction), payer -$lost, receiver +$gained"
  fi
else
  fail batch-refund "client failed: $(tail -3 "$WORK/refund.err" | tr '\n' ' ')"
fi

if [ "$FAILED" = 1 ]; then
  say "server log (tail):"
  tail -20 "$WORK/server.err" >&2
fi
node -e '
const [deploy, ...pairs] = process.argv.slice(1);
const out = { token: JSON.parse(require("fs").readFileSync(deploy, "utf8")).token, checks: {} };
for (let i = 0; i < pairs.length; i += 2) out.checks[pairs[i]] = pairs[i + 1];
console.log(JSON.stringify(out));
' "$WORK/deploy.json" \
  batch-settlement "${RESULT[batch-settlement]}" upto "${RESULT[upto]}" exact "${RESULT[exact]}" \
  batch-permit2 "${RESULT[batch-permit2]}" batch-restart "${RESULT[batch-restart]}" \
  batch-refund "${RESULT[batch-refund]}"
exit "$FAILED"
