// Pays an agora node's priced chat route with the official x402 v2 client (@x402/fetch with
// @x402/evm's exact scheme, signing with viem), and prints what came back as one JSON line.
//
//   NODE_PATH=.tools/npm/node_modules node x402_client.js URL PRIVATE_KEY ASSET
'use strict';
const { wrapFetchWithPaymentFromConfig, decodePaymentResponseHeader } = require('@x402/fetch');
const { ExactEvmScheme } = require('@x402/evm/exact/client');
const { privateKeyToAccount } = require('viem/accounts');

async function main() {
  const [url, key, asset] = process.argv.slice(2);
  const account = privateKeyToAccount(key);
  const fetchWithPayment = wrapFetchWithPaymentFromConfig(fetch, {
    schemes: [{ network: 'eip155:31337', client: new ExactEvmScheme(account) }],
    // The client pays only assets it knows unless told otherwise: allow the devnet dollar.
    spendControls: { allowedAssets: [{ network: 'eip155:31337', asset, maxAmountPerPayment: '100000' }] },
  });
  const response = await fetchWithPayment(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      model: 'default',
      messages: [{ role: 'user', content: 'Say hello in one word.' }],
      max_tokens: 8,
      temperature: 0,
    }),
  });
  const header = response.headers.get('PAYMENT-RESPONSE');
  const body = await response.json();
  process.stdout.write(
    JSON.stringify({
      status: response.status,
      payer: account.address,
      paymentResponse: header ? decodePaymentResponseHeader(header) : null,
      body,
    }) + '\n',
  );
}

main().catch((e) => {
  process.stderr.write(`x402 client failed: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
