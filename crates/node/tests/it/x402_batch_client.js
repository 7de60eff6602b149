// Buys CALLS calls of a paid chat route over one x402 `batch-settlement` channel with the official
// x402 v2 client (@x402/fetch with @x402/evm's BatchSettlementEvmScheme, signing with viem), and
// prints what happened as one JSON line.
//
//   NODE_PATH=.tools/npm/node_modules node x402_batch_client.js URL PRIVATE_KEY ASSET CALLS [RPC_URL]
//
// The scheme deposits once (ERC-3009 into the channel), tops up when the channel runs dry, and
// otherwise pays each call with a cumulative voucher. With RPC_URL the signer can read the batch
// settlement contract, so the scheme recovers its channel from the chain and from corrective 402s.
// A call that fails with a network error or times out (the server killed and restarted mid-run)
// is retried until it is answered or RETRY_SECS pass; only calls answered 200 count as answered.
//
// Environment:
//   DEPOSIT_MULTIPLIER      deposit = multiplier x price (integer >= 3; the package default is 5)
//   MAX_AMOUNT_PER_PAYMENT  spendControls cap per call in atomic units (default 1000000000); the
//                           deposit is capped at cap x multiplier
//   RETRY_SECS              how long one call is retried on network errors and 5xx (default 60)
//   CALL_TIMEOUT_SECS       an attempt unanswered this long counts as a network error (default 60)
//   METHOD                  POST (default, a chat body) or GET
//   PROGRESS=1              write "answered N" on stderr after each answered call
//   REFUND=1                after the calls, ask for a cooperative refund of the unspent deposit
//                           (the scheme's refund(): a GET probe of URL, then a refund voucher)
//
// Output: {refund?, answered, calls, failedAttempts, payer, channelId, chargedTotal, deposits,
//          lastChannelState, statuses, errors}
//   statuses counts every final HTTP status seen per attempt ("network" for a network error);
//   chargedTotal sums PAYMENT-RESPONSE extra.chargedAmount over the answered calls;
//   deposits lists the deposits the client signed: {amount, method: eip3009|permit2}; a deposit
//   whose request was lost (server killed) is signed again, so it may appear twice.
'use strict';
const { wrapFetchWithPayment, x402Client, decodePaymentResponseHeader } = require('@x402/fetch');
const { BatchSettlementEvmScheme, computeChannelId } = require('@x402/evm/batch-settlement/client');
const { toClientEvmSigner } = require('@x402/evm');
const { createPublicClient, http } = require('viem');
const { privateKeyToAccount } = require('viem/accounts');

const NETWORK = 'eip155:31337';
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
]);

// Whether `e` (or one of its causes) is a transport failure rather than an HTTP answer.
function isNetworkError(e) {
  for (let cur = e, depth = 0; cur && depth < 8; cur = cur.cause, depth++) {
    if (cur.code && NETWORK_CODES.has(cur.code)) return true;
    if (cur.name === 'TimeoutError') return true;
    const msg = String(cur.message || '');
    if (/fetch failed|other side closed|socket hang up|ECONNREFUSED|ECONNRESET/.test(msg)) return true;
  }
  return false;
}

function describe(e) {
  const parts = [];
  for (let cur = e, depth = 0; cur && depth < 8; cur = cur.cause, depth++) {
    parts.push(cur.code ? `${cur.message} (${cur.code})` : String(cur.message || cur));
  }
  return parts.join(' <- ');
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const [url, key, asset, callsArg, rpcUrl] = process.argv.slice(2);
  if (!url || !key || !asset || !callsArg) {
    throw new Error('usage: x402_batch_client.js URL PRIVATE_KEY ASSET CALLS [RPC_URL]');
  }
  const calls = Number(callsArg);
  if (!Number.isInteger(calls) || calls < 0) throw new Error(`CALLS must be a count, got ${callsArg}`);
  const retryMs = Number(process.env.RETRY_SECS || 60) * 1000;
  const method = (process.env.METHOD || 'POST').toUpperCase();
  const maxAmountPerPayment = process.env.MAX_AMOUNT_PER_PAYMENT || '1000000000';

  const account = privateKeyToAccount(key);
  // With an RPC the signer can readContract: the scheme recovers channel state from the chain.
  const signer = rpcUrl ? toClientEvmSigner(account, createPublicClient({ transport: http(rpcUrl) })) : account;
  const options = {};
  if (process.env.DEPOSIT_MULTIPLIER) {
    options.depositPolicy = { depositMultiplier: Number(process.env.DEPOSIT_MULTIPLIER) };
  }
  const scheme = new BatchSettlementEvmScheme(signer, options);

  const client = x402Client.fromConfig({
    schemes: [{ network: NETWORK, client: scheme }],
    // The devnet dollar is not a default asset: allow it, with a cap the deposit fits under.
    spendControls: { allowedAssets: [{ network: NETWORK, asset, maxAmountPerPayment }] },
  });
  let channelId = null;
  const deposits = [];
  client.onAfterPaymentCreation(async ({ paymentPayload }) => {
    const p = paymentPayload.payload || {};
    if (p.voucher && p.voucher.channelId) channelId = p.voucher.channelId;
    if (!channelId && p.channelConfig) channelId = computeChannelId(p.channelConfig, NETWORK);
    if (p.type === 'deposit' && p.deposit) {
      const auth = p.deposit.authorization || {};
      const method = auth.permit2Authorization ? 'permit2' : auth.erc3009Authorization ? 'eip3009' : 'unknown';
      deposits.push({ amount: p.deposit.amount, method });
    }
  });
  const fetchWithPayment = wrapFetchWithPayment(fetch, client);

  const callTimeoutMs = Number(process.env.CALL_TIMEOUT_SECS || 60) * 1000;
  // Each attempt (the unpaid probe, the paid request and a corrective retry) ends after
  // CALL_TIMEOUT_SECS: a server that hangs is treated like one that went away.
  const init = () =>
    method === 'GET'
      ? { method: 'GET', signal: AbortSignal.timeout(callTimeoutMs) }
      : {
          method: 'POST',
          signal: AbortSignal.timeout(callTimeoutMs),
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            model: 'default',
            messages: [{ role: 'user', content: 'Say hello in one word.' }],
            max_tokens: 4,
            temperature: 0,
          }),
        };

  const statuses = {};
  const errors = [];
  const bump = (k) => {
    statuses[k] = (statuses[k] || 0) + 1;
  };
  let answered = 0;
  let failedAttempts = 0;
  let chargedTotal = 0n;
  let lastChannelState = null;

  for (let i = 0; i < calls; i++) {
    const deadline = Date.now() + retryMs;
    for (;;) {
      let response;
      try {
        response = await fetchWithPayment(url, init());
      } catch (e) {
        if (isNetworkError(e) && Date.now() < deadline) {
          bump('network');
          failedAttempts++;
          if (errors.length < 20) errors.push({ call: i, error: describe(e) });
          await sleep(500);
          continue;
        }
        throw e;
      }
      bump(String(response.status));
      const header = response.headers.get('PAYMENT-RESPONSE');
      const text = await response.text();
      if (response.status === 200) {
        answered++;
        if (process.env.PROGRESS === '1') process.stderr.write(`answered ${answered}\n`);
        if (header) {
          const settle = decodePaymentResponseHeader(header);
          const extra = settle.extra || {};
          if (typeof extra.chargedAmount === 'string' && /^\d+$/.test(extra.chargedAmount)) {
            chargedTotal += BigInt(extra.chargedAmount);
          }
          if (extra.channelState) {
            lastChannelState = extra.channelState;
            if (!channelId && extra.channelState.channelId) channelId = extra.channelState.channelId;
          }
        }
        break;
      }
      failedAttempts++;
      if (errors.length < 20) {
        const required = response.headers.get('PAYMENT-REQUIRED');
        let reason = null;
        if (required) {
          try {
            reason = JSON.parse(Buffer.from(required, 'base64').toString('utf8')).error || null;
          } catch (_) {}
        }
        errors.push({ call: i, status: response.status, reason, body: text.slice(0, 300) });
      }
      // A server that is coming back answers 5xx for a moment: retry those like network errors.
      if (response.status >= 500 && Date.now() < deadline) {
        await sleep(500);
        continue;
      }
      break;
    }
  }

  // A cooperative refund of what the channel holds beyond the charges: the scheme probes URL with
  // a GET for the batch-settlement offer, then sends a refund voucher the server settles.
  let refund;
  if (process.env.REFUND === '1') {
    try {
      refund = await scheme.refund(url);
    } catch (e) {
      refund = { success: false, error: describe(e) };
    }
  }

  process.stdout.write(
    JSON.stringify({
      ...(refund ? { refund } : {}),
      answered,
      calls,
      failedAttempts,
      payer: account.address,
      channelId,
      chargedTotal: chargedTotal.toString(),
      deposits,
      lastChannelState,
      statuses,
      errors,
    }) + '\n',
  );
}

main().catch((e) => {
  process.stderr.write(`x402 batch client failed: ${e && e.stack ? e.stack : e}\n`);
  if (e && e.cause) process.stderr.write(`cause: ${describe(e.cause)}\n`);
  process.exit(1);
});
