// Pays one call of a paid chat route with the official x402 v2 `upto` scheme (@x402/fetch with
// @x402/evm's UptoEvmScheme: a Permit2 witness transfer of at most the price, settled by the
// facilitator through the x402 upto Permit2 proxy), and prints what came back as one JSON line.
//
//   NODE_PATH=.tools/npm/node_modules node x402_upto_client.js URL PRIVATE_KEY ASSET [RPC_URL]
//
// Permit2 moves the payer's tokens only with an ERC-20 allowance: with RPC_URL (default
// http://127.0.0.1:8545) the payer first approves Permit2 for ASSET (approve(PERMIT2, max)) unless
// the allowance is already there, paying the gas itself.
//
// Environment:
//   MAX_AMOUNT_PER_PAYMENT  spendControls cap in atomic units (default 1000000000)
//   METHOD                  POST (default, a chat body) or GET
//   MAX_TOKENS              the chat request's max_tokens (default 8)
//
// Output: {status, payer, approved, approveTx, paymentResponse, paymentRequired?, body}
//   approved: whether this run sent the approval; paymentResponse: the decoded PAYMENT-RESPONSE;
//   paymentRequired: the decoded PAYMENT-REQUIRED of a refused payment (its `error` says why).
'use strict';
const { wrapFetchWithPaymentFromConfig, decodePaymentResponseHeader } = require('@x402/fetch');
const { decodePaymentRequiredHeader } = require('@x402/core/http');
const { UptoEvmScheme } = require('@x402/evm/upto/client');
const { toClientEvmSigner, PERMIT2_ADDRESS } = require('@x402/evm');
const { createPublicClient, createWalletClient, http, maxUint256, erc20Abi } = require('viem');
const { privateKeyToAccount } = require('viem/accounts');
const { foundry } = require('viem/chains');

const NETWORK = 'eip155:31337';

async function main() {
  const [url, key, asset, rpcArg] = process.argv.slice(2);
  if (!url || !key || !asset) throw new Error('usage: x402_upto_client.js URL PRIVATE_KEY ASSET [RPC_URL]');
  const rpcUrl = rpcArg || 'http://127.0.0.1:8545';
  const method = (process.env.METHOD || 'POST').toUpperCase();
  const account = privateKeyToAccount(key);
  const publicClient = createPublicClient({ chain: foundry, transport: http(rpcUrl) });
  const wallet = createWalletClient({ account, chain: foundry, transport: http(rpcUrl) });

  // Permit2 needs an ERC-20 allowance from the payer: grant it once, unlimited.
  let approved = false;
  let approveTx = null;
  const allowance = await publicClient.readContract({
    address: asset,
    abi: erc20Abi,
    functionName: 'allowance',
    args: [account.address, PERMIT2_ADDRESS],
  });
  if (allowance < maxUint256 / 2n) {
    approveTx = await wallet.writeContract({
      address: asset,
      abi: erc20Abi,
      functionName: 'approve',
      args: [PERMIT2_ADDRESS, maxUint256],
    });
    const receipt = await publicClient.waitForTransactionReceipt({ hash: approveTx });
    if (receipt.status !== 'success') throw new Error(`approve(Permit2) reverted in ${approveTx}`);
    approved = true;
  }

  const fetchWithPayment = wrapFetchWithPaymentFromConfig(fetch, {
    schemes: [{ network: NETWORK, client: new UptoEvmScheme(toClientEvmSigner(account, publicClient)) }],
    spendControls: {
      allowedAssets: [
        { network: NETWORK, asset, maxAmountPerPayment: process.env.MAX_AMOUNT_PER_PAYMENT || '1000000000' },
      ],
    },
  });
  const init =
    method === 'GET'
      ? { method: 'GET' }
      : {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            model: 'default',
            messages: [{ role: 'user', content: 'Say hello in one word.' }],
            max_tokens: Number(process.env.MAX_TOKENS || 8),
            temperature: 0,
          }),
        };
  const response = await fetchWithPayment(url, init);
  const header = response.headers.get('PAYMENT-RESPONSE');
  // A refused payment comes back as a 402 whose PAYMENT-REQUIRED header says why.
  const refused = response.headers.get('PAYMENT-REQUIRED');
  const text = await response.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch (_) {
    body = text;
  }
  process.stdout.write(
    JSON.stringify({
      status: response.status,
      payer: account.address,
      approved,
      approveTx,
      paymentResponse: header ? decodePaymentResponseHeader(header) : null,
      ...(refused ? { paymentRequired: decodePaymentRequiredHeader(refused) } : {}),
      body,
    }) + '\n',
  );
}

main().catch((e) => {
  process.stderr.write(`x402 upto client failed: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
