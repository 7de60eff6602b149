// A reference x402 v2 paid server built from the official packages only: express with
// @x402/express's paymentMiddleware over an x402ResourceServer that offers @x402/evm's `exact`,
// `upto` and `batch-settlement` schemes for one route. It is the yardstick agora's own paid
// listener and facilitator are compared against.
//
//   NODE_PATH=.tools/npm/node_modules node x402_express_server.js
//
// Environment:
//   PORT                     port on 127.0.0.1 (default 0: any free port)
//   SCHEMES                  comma list of exact,upto,batch-settlement (default: all three)
//   PRICE                    price per call in atomic units of ASSET (default 1000)
//   ASSET                    the token (required); its EIP-712 name and version are read from the
//                            chain (name(), version()) when RPC_URL is set, else ASSET_NAME /
//                            ASSET_VERSION (default "Agora Dev USD" / "1")
//   PAY_TO                   receiver of the payments (required)
//   FACILITATOR_URL          an x402 facilitator over HTTP (${FACILITATOR_URL}/supported|verify|settle);
//                            unset: the official facilitator (@x402/core x402Facilitator with the
//                            @x402/evm exact, upto and batch-settlement facilitator schemes) runs
//                            in-process and sends its transactions with FACILITATOR_KEY on RPC_URL
//   FACILITATOR_KEY          the in-process facilitator's key (required without FACILITATOR_URL)
//   RPC_URL                  the chain (default http://127.0.0.1:8545)
//   RECEIVER_AUTHORIZER_KEY  the batch-settlement receiver authorizer (signs claims and refunds;
//                            default FACILITATOR_KEY). With FACILITATOR_URL and neither key set, the
//                            server relies on the receiverAuthorizer the facilitator advertises.
//   CHANNEL_DIR              keep batch-settlement channels in files there (they survive a restart;
//                            lock files left by a killed server are removed at start); default: in
//                            memory (after a restart the server takes the base of a channel's next
//                            voucher as what was charged before)
//   CHARGE                   settlement override for upto and batch-settlement calls (atomic units,
//                            "NN%" or "$x"); default: the full price
//   MAX_TIMEOUT_SECONDS      maxTimeoutSeconds of the offers (default 300)
//   BATCH_TRANSFER_METHOD    how batch-settlement deposits move the tokens: eip3009 (the client's
//                            default: receiveWithAuthorization via the ERC-3009 deposit collector)
//                            or permit2 (a Permit2 witness transfer via the Permit2 deposit
//                            collector; the payer must have approved Permit2)
//
// Routes:
//   GET|POST /paid           paid; answers a small chat-completion-shaped JSON body
//   POST /admin/settle       batch-settlement: claims every voucher it holds, then settles the
//                            claimed funds to PAY_TO; answers {claims, settle} ({settleSkipped}
//                            when there was nothing to settle, {error} when a step failed)
//   GET /admin/channels      batch-settlement: the channel records the server holds
//   GET /admin/supported     what the facilitator's /supported answered
//
// Prints {"listening":"http://127.0.0.1:PORT"} on stdout once it accepts requests; exits on SIGTERM.
'use strict';
const fs = require('fs');
const path = require('path');
const express = require('express');
const {
  paymentMiddlewareFromHTTPServer,
  setSettlementOverrides,
  x402ResourceServer,
  x402HTTPResourceServer,
} = require('@x402/express');
const { HTTPFacilitatorClient } = require('@x402/core/server');
const { x402Facilitator } = require('@x402/core/facilitator');
const { toFacilitatorEvmSigner } = require('@x402/evm');
const { ExactEvmScheme: ExactServer } = require('@x402/evm/exact/server');
const { UptoEvmScheme: UptoServer } = require('@x402/evm/upto/server');
const { BatchSettlementEvmScheme: BatchServer } = require('@x402/evm/batch-settlement/server');
const { ExactEvmScheme: ExactFacilitator } = require('@x402/evm/exact/facilitator');
const { UptoEvmScheme: UptoFacilitator } = require('@x402/evm/upto/facilitator');
const { BatchSettlementEvmScheme: BatchFacilitator } = require('@x402/evm/batch-settlement/facilitator');
const { createPublicClient, createWalletClient, http, getAddress, parseAbi } = require('viem');
const { privateKeyToAccount } = require('viem/accounts');
const { foundry } = require('viem/chains');

const NETWORK = 'eip155:31337';
const KNOWN_SCHEMES = ['exact', 'upto', 'batch-settlement'];

const log = (msg) => process.stderr.write(`x402 express server: ${msg}\n`);

function env(name, fallback) {
  const v = process.env[name];
  return v === undefined || v === '' ? fallback : v;
}

function required(name) {
  const v = env(name);
  if (v === undefined) throw new Error(`${name} is required`);
  return v;
}

// The official facilitator, in-process, behind the FacilitatorClient interface the resource
// server expects (getSupported is synchronous on x402Facilitator).
function inProcessFacilitator(rpcUrl, facilitatorKey, authorizer) {
  const account = privateKeyToAccount(facilitatorKey);
  const pub = createPublicClient({ chain: foundry, transport: http(rpcUrl) });
  const wallet = createWalletClient({ account, chain: foundry, transport: http(rpcUrl) });
  // Reads are eth_calls from the facilitator's address, as with a viem wallet client extended
  // with publicActions: the upto facilitator simulates the proxy's settle, which only the
  // facilitator named in the permit's witness may call.
  const signer = toFacilitatorEvmSigner({
    address: account.address,
    readContract: (args) => pub.readContract({ account: account.address, ...args }),
    verifyTypedData: (args) => pub.verifyTypedData(args),
    writeContract: (args) => wallet.writeContract(args),
    sendTransaction: (args) => wallet.sendTransaction(args),
    waitForTransactionReceipt: (args) => pub.waitForTransactionReceipt(args),
    getCode: (args) => pub.getCode(args),
  });
  const facilitator = new x402Facilitator()
    .register(NETWORK, new ExactFacilitator(signer))
    .register(NETWORK, new UptoFacilitator(signer))
    .register(NETWORK, new BatchFacilitator(signer, authorizer));
  return {
    address: account.address,
    client: {
      verify: (payload, requirements) => facilitator.verify(payload, requirements),
      settle: (payload, requirements) => facilitator.settle(payload, requirements),
      getSupported: async () => facilitator.getSupported(),
    },
  };
}

async function tokenMetadata(rpcUrl, asset) {
  const fallback = { name: env('ASSET_NAME', 'Agora Dev USD'), version: env('ASSET_VERSION', '1') };
  if (!process.env.RPC_URL && process.env.FACILITATOR_URL) return fallback;
  const pub = createPublicClient({ chain: foundry, transport: http(rpcUrl) });
  const abi = parseAbi(['function name() view returns (string)', 'function version() view returns (string)']);
  const [name, version] = await Promise.all([
    pub.readContract({ address: asset, abi, functionName: 'name' }),
    pub.readContract({ address: asset, abi, functionName: 'version' }),
  ]);
  return { name, version };
}

// FileChannelStorage locks a channel with an O_EXCL `<channelId>.json.lock` file and waits for it
// without limit: a server killed while it held one would hang that channel after a restart. No
// other process shares the directory, so locks found at start are stale.
function removeStaleLocks(dir) {
  let names = [];
  try {
    names = fs.readdirSync(dir);
  } catch (_) {
    return;
  }
  for (const name of names.filter((n) => n.endsWith('.lock'))) {
    fs.rmSync(path.join(dir, name), { force: true });
    log(`removed the stale channel lock ${name}`);
  }
}

// The scheme of the payment on this request, from its PAYMENT-SIGNATURE (or X-PAYMENT) header.
function paidScheme(req) {
  const header = req.header('payment-signature') || req.header('x-payment');
  if (!header) return null;
  try {
    const payload = JSON.parse(Buffer.from(header, 'base64').toString('utf8'));
    return (payload.accepted && payload.accepted.scheme) || payload.scheme || null;
  } catch (_) {
    return null;
  }
}

async function main() {
  const port = Number(env('PORT', '0'));
  const schemes = env('SCHEMES', KNOWN_SCHEMES.join(','))
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const s of schemes) if (!KNOWN_SCHEMES.includes(s)) throw new Error(`unknown scheme in SCHEMES: ${s}`);
  const price = env('PRICE', '1000');
  const asset = getAddress(required('ASSET'));
  const payTo = getAddress(required('PAY_TO'));
  const rpcUrl = env('RPC_URL', 'http://127.0.0.1:8545');
  const facilitatorUrl = env('FACILITATOR_URL');
  const facilitatorKey = env('FACILITATOR_KEY');
  const authorizerKey = env('RECEIVER_AUTHORIZER_KEY', facilitatorKey);
  const authorizer = authorizerKey ? privateKeyToAccount(authorizerKey) : undefined;
  const maxTimeoutSeconds = Number(env('MAX_TIMEOUT_SECONDS', '300'));
  const charge = env('CHARGE');

  let facilitatorClient;
  if (facilitatorUrl) {
    facilitatorClient = new HTTPFacilitatorClient({ url: facilitatorUrl });
    log(`facilitator: ${facilitatorUrl}`);
  } else {
    if (!facilitatorKey) throw new Error('FACILITATOR_KEY is required without FACILITATOR_URL');
    const inProc = inProcessFacilitator(rpcUrl, facilitatorKey, authorizer);
    facilitatorClient = inProc.client;
    log(`facilitator: official, in-process, signing as ${inProc.address}`);
  }

  const { name, version } = await tokenMetadata(rpcUrl, asset);
  const resourceServer = new x402ResourceServer(facilitatorClient);
  let batch = null;
  for (const scheme of schemes) {
    if (scheme === 'exact') resourceServer.register(NETWORK, new ExactServer());
    if (scheme === 'upto') resourceServer.register(NETWORK, new UptoServer());
    if (scheme === 'batch-settlement') {
      const config = {};
      if (authorizer) config.receiverAuthorizerSigner = authorizer;
      if (process.env.CHANNEL_DIR) {
        const { FileChannelStorage } = require('@x402/evm/batch-settlement/server/file-storage');
        removeStaleLocks(path.join(process.env.CHANNEL_DIR, 'server'));
        config.storage = new FileChannelStorage({ directory: process.env.CHANNEL_DIR });
      }
      batch = new BatchServer(payTo, config);
      resourceServer.register(NETWORK, batch);
    }
  }

  const batchMethod = env('BATCH_TRANSFER_METHOD');
  const accepts = schemes.map((scheme) => {
    const extra = { name, version };
    if (scheme === 'batch-settlement' && batchMethod) extra.assetTransferMethod = batchMethod;
    return { scheme, network: NETWORK, payTo, price: { asset, amount: price, extra }, maxTimeoutSeconds };
  });
  const route = { accepts, description: 'x402 reference paid route', mimeType: 'application/json' };
  const httpServer = new x402HTTPResourceServer(resourceServer, { 'GET /paid': route, 'POST /paid': route });
  // Fetch /supported and check the routes now, so a facilitator that cannot serve them fails the
  // start instead of the first request.
  await httpServer.initialize();
  const supported = await facilitatorClient.getSupported();
  log(`facilitator supports: ${JSON.stringify(supported)}`);

  const app = express();
  app.use(express.json());

  const manager = batch ? batch.createChannelManager(facilitatorClient, NETWORK, asset) : null;
  app.post('/admin/settle', async (_req, res) => {
    if (!manager) return res.status(404).json({ error: 'batch-settlement is not offered' });
    try {
      const result = await manager.claimAndSettle();
      // claimAndSettle settles only after claims of its own; funds claimed elsewhere (by a
      // cooperative refund, which claims the outstanding voucher first) still need a settle.
      if (!result.settle) {
        try {
          result.settle = await manager.settle();
        } catch (e) {
          result.settleSkipped = String(e && e.message ? e.message : e);
        }
      }
      res.json(result);
    } catch (e) {
      log(`claim and settle failed: ${e && e.stack ? e.stack : e}`);
      res.status(500).json({ error: String(e && e.message ? e.message : e) });
    }
  });
  app.get('/admin/channels', async (_req, res) => {
    if (!batch) return res.status(404).json({ error: 'batch-settlement is not offered' });
    res.json(await batch.getStorage().list());
  });
  app.get('/admin/supported', (_req, res) => res.json(supported));

  app.use(paymentMiddlewareFromHTTPServer(httpServer, undefined, undefined, false));
  const answer = (req, res) => {
    const scheme = paidScheme(req);
    if (charge && (scheme === 'upto' || scheme === 'batch-settlement')) {
      setSettlementOverrides(res, { amount: charge });
    }
    res.json({
      object: 'chat.completion',
      model: 'x402-reference',
      scheme,
      choices: [{ index: 0, message: { role: 'assistant', content: 'Hello' }, finish_reason: 'stop' }],
    });
  };
  app.get('/paid', answer);
  app.post('/paid', answer);

  const server = app.listen(port, '127.0.0.1', () => {
    const { port: bound } = server.address();
    process.stdout.write(JSON.stringify({ listening: `http://127.0.0.1:${bound}` }) + '\n');
  });
  const stop = () => {
    server.close();
    server.closeAllConnections?.();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((e) => {
  process.stderr.write(`x402 express server failed: ${e && e.stack ? e.stack : e}\n`);
  if (e && e.errors) process.stderr.write(`details: ${JSON.stringify(e.errors)}\n`);
  process.exit(1);
});
