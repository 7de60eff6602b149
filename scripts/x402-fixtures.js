#!/usr/bin/env node
// Writes the fixtures that tie agora's x402 contracts to the official x402 EVM package
// (@x402/evm, installed by `make setup` into .tools/npm):
//
//   contracts/test/fixtures/x402-abi.json      the official ABIs' functions, events and errors
//                                              (canonical signatures)
//   contracts/test/fixtures/x402-vectors.json  payloads the official clients sign for fixed
//                                              inputs, with the EIP-712 digests behind them
//
//   NODE_PATH=.tools/npm/node_modules node scripts/x402-fixtures.js [OUT_DIR]   (or: make x402-fixtures)
//
// The Foundry tests (X402Official.t.sol) and the Rust test crates/contracts/tests/it/x402.rs
// read them: every official signature must exist in our contracts, and every official payload
// must be accepted by them. Clock and randomness are pinned, so the output is reproducible.
'use strict';
const fs = require('fs');
const path = require('path');

// Pin the clock and the random source before the package is loaded.
const NOW_MS = 1_700_000_000_000;
Date.now = () => NOW_MS;
let counter = 0;
const pinnedRandom = (array) => {
  for (let i = 0; i < array.length; i++) array[i] = (counter * 31 + i * 7 + 1) & 0xff;
  counter++;
  return array;
};
Object.defineProperty(globalThis, 'crypto', { value: { getRandomValues: pinnedRandom }, configurable: true });

const viem = require('viem');
const { privateKeyToAccount } = require('viem/accounts');
const evm = require('@x402/evm');
const batchClient = require('@x402/evm/batch-settlement/client');
const { UptoEvmScheme } = require('@x402/evm/upto/client');

const root = path.resolve(__dirname, '..');
const outDir = path.resolve(process.argv[2] || path.join(root, 'contracts', 'test', 'fixtures'));

// ------------------------------------------------------------------------------------------
// ABIs
// ------------------------------------------------------------------------------------------

/// The batch-settlement ABI is not exported; it is a literal in the bundled client.
function officialBatchSettlementAbi() {
  const file = require.resolve('@x402/evm/batch-settlement/client');
  const text = fs.readFileSync(file, 'utf8');
  const start = text.indexOf('// src/batch-settlement/abi.ts');
  const end = text.indexOf('\n// src/', start + 1);
  if (start < 0 || end < 0) throw new Error(`batchSettlementABI not found in ${file}`);
  return new Function(`${text.slice(start, end)}\nreturn batchSettlementABI;`)();
}

/// The Multicall3 the official facilitator reads chain state through: its address and its ABI
/// (a literal in the bundled facilitator, not exported).
function officialMulticall3() {
  const file = require.resolve('@x402/evm/batch-settlement/facilitator');
  const text = fs.readFileSync(file, 'utf8');
  const address = /var MULTICALL3_ADDRESS = "(0x[0-9a-fA-F]{40})";/.exec(text);
  const start = text.indexOf('var multicall3ABI = [');
  const end = text.indexOf('\n];\n', start);
  if (!address || start < 0 || end < 0) throw new Error(`MULTICALL3_ADDRESS or multicall3ABI not found in ${file}`);
  const abi = new Function(`${text.slice(start, end + 3)}\nreturn multicall3ABI;`)();
  return { address: viem.getAddress(address[1]), abi };
}

/// A constant of the bundled batch-settlement client that the package does not export.
function bundledConstant(name) {
  const text = fs.readFileSync(require.resolve('@x402/evm/batch-settlement/client'), 'utf8');
  const literal = new RegExp(`var ${name} = "(0x[0-9a-fA-F]+)";`).exec(text);
  if (literal) return viem.getAddress(literal[1]);
  // CHANNEL_CONFIG_TYPEHASH = keccak256(toBytes("<type>"))
  const hashed = new RegExp(`var ${name} = \\(0, import_viem\\.keccak256\\)\\(\\s*\\(0, import_viem\\.toBytes\\)\\(\\s*"([^"]+)"`).exec(text);
  if (hashed) return viem.keccak256(viem.toBytes(hashed[1]));
  throw new Error(`${name} not found in the bundled batch-settlement client`);
}

/// Uniswap Permit2's signature-transfer functions that x402 relies on (the package has no ABI
/// for Permit2; these are the canonical contract's).
const PERMIT2_SIGNATURE_TRANSFER = [
  'function DOMAIN_SEPARATOR() view returns (bytes32)',
  'function nonceBitmap(address, uint256) view returns (uint256)',
  'function invalidateUnorderedNonces(uint256 wordPos, uint256 mask)',
  'function permitTransferFrom(((address token, uint256 amount) permitted, uint256 nonce, uint256 deadline) permit, (address to, uint256 requestedAmount) transferDetails, address owner, bytes signature)',
  'function permitWitnessTransferFrom(((address token, uint256 amount) permitted, uint256 nonce, uint256 deadline) permit, (address to, uint256 requestedAmount) transferDetails, address owner, bytes32 witness, string witnessTypeString, bytes signature)',
  'event UnorderedNonceInvalidation(address indexed owner, uint256 word, uint256 mask)',
  'error InvalidAmount(uint256 maxAmount)',
  'error InvalidContractSignature()',
  'error InvalidNonce()',
  'error InvalidSignature()',
  'error InvalidSignatureLength()',
  'error InvalidSigner()',
  'error SignatureExpired(uint256 signatureDeadline)',
];

function canonicalType(param) {
  if (!param.type.startsWith('tuple')) return param.type;
  return `(${param.components.map(canonicalType).join(',')})${param.type.slice('tuple'.length)}`;
}

/// Canonical signatures (`name(type,...)`) by kind, sorted; selectors and topics are their
/// keccak256, which the tests compute.
function summarize(abi) {
  const out = { functions: [], events: [], errors: [] };
  for (const item of abi) {
    const kind = { function: 'functions', event: 'events', error: 'errors' }[item.type];
    if (kind) out[kind].push(`${item.name}(${item.inputs.map(canonicalType).join(',')})`);
  }
  for (const list of Object.values(out)) list.sort();
  return out;
}

const abis = {
  X402BatchSettlement: summarize(officialBatchSettlementAbi()),
  X402UptoPermit2Proxy: summarize(evm.x402UptoPermit2ProxyABI),
  Permit2: summarize(viem.parseAbi(PERMIT2_SIGNATURE_TRANSFER)),
  // What the facilitator calls (`tryAggregate`) and what viem's `multicall` calls.
  Multicall3: summarize([...officialMulticall3().abi, ...viem.multicall3Abi]),
};

// ------------------------------------------------------------------------------------------
// Vectors: what the official clients sign for fixed keys, addresses and (pinned) time
// ------------------------------------------------------------------------------------------

const CHAIN_ID = 31337;
const NETWORK = `eip155:${CHAIN_ID}`;
const key = (label) => viem.keccak256(viem.toBytes(`agora x402 fixture ${label}`));
const PAYER_KEY = key('payer');
const RECEIVER_AUTHORIZER_KEY = key('receiver authorizer');
const payer = privateKeyToAccount(PAYER_KEY);
const receiverAuthorizer = privateKeyToAccount(RECEIVER_AUTHORIZER_KEY);
const TOKEN = viem.getAddress('0x70c0000000000000000000000000000000000001');
const RECEIVER = viem.getAddress('0x7ecE000000000000000000000000000000000002');
const FACILITATOR = viem.getAddress('0xfac1000000000000000000000000000000000003');
const TOKEN_NAME = 'Agora Dev USD';
const TOKEN_VERSION = '1';
const MAX_TIMEOUT_SECONDS = 300;

const batchDomain = {
  ...evm.BATCH_SETTLEMENT_DOMAIN,
  chainId: CHAIN_ID,
  verifyingContract: viem.getAddress(evm.BATCH_SETTLEMENT_ADDRESS),
};
const permit2Domain = { name: 'Permit2', chainId: CHAIN_ID, verifyingContract: evm.PERMIT2_ADDRESS };

function batchRequirements(extra) {
  return {
    scheme: 'batch-settlement',
    network: NETWORK,
    asset: TOKEN,
    amount: '1000',
    payTo: RECEIVER,
    maxTimeoutSeconds: MAX_TIMEOUT_SECONDS,
    extra: {
      name: TOKEN_NAME,
      version: TOKEN_VERSION,
      receiverAuthorizer: receiverAuthorizer.address,
      withdrawDelay: 900,
      ...extra,
    },
  };
}

const str = (value) => (typeof value === 'bigint' ? value.toString() : String(value));
const configJson = (c) => ({ ...c, withdrawDelay: str(c.withdrawDelay) });

async function main() {
  // A deposit by ERC-3009, as the official client builds it (default salt 0).
  const eip3009Scheme = new batchClient.BatchSettlementEvmScheme(payer);
  const eip3009 = (await eip3009Scheme.createPaymentPayload(2, batchRequirements({}))).payload;
  const auth3009 = eip3009.deposit.authorization.erc3009Authorization;
  const channelId = eip3009.voucher.channelId;
  // The layout of the facilitator's buildErc3009CollectorData.
  const erc3009CollectorData = viem.encodeAbiParameters(
    [{ type: 'uint256' }, { type: 'uint256' }, { type: 'uint256' }, { type: 'bytes' }],
    [BigInt(auth3009.validAfter), BigInt(auth3009.validBefore), BigInt(auth3009.salt), auth3009.signature],
  );

  // A later voucher on the same channel, and the receiver authorizer's claim batch over it.
  const voucher = await batchClient.signVoucher(payer, channelId, '3000', NETWORK);
  const claimTotal = '2500';
  const claimEntry = {
    channelId: batchClient.computeChannelId(eip3009.channelConfig, CHAIN_ID),
    maxClaimableAmount: BigInt(voucher.maxClaimableAmount),
    totalClaimed: BigInt(claimTotal),
  };
  const claimBatch = { domain: batchDomain, types: evm.claimBatchTypes, primaryType: 'ClaimBatch', message: { claims: [claimEntry] } };
  const claimBatchSignature = await receiverAuthorizer.signTypedData(claimBatch);

  // The receiver authorizer's refund of 1000 at refund nonce 0.
  const refund = { domain: batchDomain, types: evm.refundTypes, primaryType: 'Refund', message: { channelId, nonce: 0n, amount: 1000n } };
  const refundSignature = await receiverAuthorizer.signTypedData(refund);

  // A deposit by Permit2 on a second channel (salt 1).
  const permit2Scheme = new batchClient.BatchSettlementEvmScheme(payer, { salt: viem.pad('0x01') });
  const viaPermit2 = (await permit2Scheme.createPaymentPayload(2, batchRequirements({ assetTransferMethod: 'permit2' }))).payload;
  const auth2 = viaPermit2.deposit.authorization.permit2Authorization;
  const permit2CollectorData = viem.encodeAbiParameters(
    [{ type: 'uint256' }, { type: 'uint256' }, { type: 'bytes' }, { type: 'bytes' }],
    [BigInt(auth2.nonce), BigInt(auth2.deadline), auth2.signature, '0x'],
  );
  const depositWitnessTypes = {
    PermitWitnessTransferFrom: [
      { name: 'permitted', type: 'TokenPermissions' },
      { name: 'spender', type: 'address' },
      { name: 'nonce', type: 'uint256' },
      { name: 'deadline', type: 'uint256' },
      { name: 'witness', type: 'DepositWitness' },
    ],
    TokenPermissions: [
      { name: 'token', type: 'address' },
      { name: 'amount', type: 'uint256' },
    ],
    DepositWitness: [{ name: 'channelId', type: 'bytes32' }],
  };
  const permit2DepositDigest = viem.hashTypedData({
    domain: permit2Domain,
    types: depositWitnessTypes,
    primaryType: 'PermitWitnessTransferFrom',
    message: {
      permitted: { token: auth2.permitted.token, amount: BigInt(auth2.permitted.amount) },
      spender: auth2.spender,
      nonce: BigInt(auth2.nonce),
      deadline: BigInt(auth2.deadline),
      witness: auth2.witness,
    },
  });

  // An upto authorization, as the official upto client builds it.
  const upto = (
    await new UptoEvmScheme(payer).createPaymentPayload(2, {
      scheme: 'upto',
      network: NETWORK,
      asset: TOKEN,
      amount: '2000',
      payTo: RECEIVER,
      maxTimeoutSeconds: MAX_TIMEOUT_SECONDS,
      extra: { facilitatorAddress: FACILITATOR, name: TOKEN_NAME, version: TOKEN_VERSION },
    })
  ).payload;
  const up = upto.permit2Authorization;
  const uptoDigest = viem.hashTypedData({
    domain: permit2Domain,
    types: evm.uptoPermit2WitnessTypes,
    primaryType: 'PermitWitnessTransferFrom',
    message: {
      permitted: { token: up.permitted.token, amount: BigInt(up.permitted.amount) },
      spender: up.spender,
      nonce: BigInt(up.nonce),
      deadline: BigInt(up.deadline),
      witness: { ...up.witness, validAfter: BigInt(up.witness.validAfter) },
    },
  });
  // The payer's EIP-2612 permit approving Permit2 for the upto ceiling (token nonce 0).
  const eip2612 = viem.parseSignature(
    await payer.signTypedData({
      domain: { name: TOKEN_NAME, version: TOKEN_VERSION, chainId: CHAIN_ID, verifyingContract: TOKEN },
      types: {
        Permit: [
          { name: 'owner', type: 'address' },
          { name: 'spender', type: 'address' },
          { name: 'value', type: 'uint256' },
          { name: 'nonce', type: 'uint256' },
          { name: 'deadline', type: 'uint256' },
        ],
      },
      primaryType: 'Permit',
      message: { owner: payer.address, spender: evm.PERMIT2_ADDRESS, value: BigInt(up.permitted.amount), nonce: 0n, deadline: BigInt(up.deadline) },
    }),
  );

  const vectors = {
    source: '@x402/evm (official client) with viem; clock pinned to ' + NOW_MS / 1000,
    chainId: str(CHAIN_ID),
    now: str(NOW_MS / 1000),
    addresses: {
      batchSettlement: viem.getAddress(evm.BATCH_SETTLEMENT_ADDRESS),
      erc3009DepositCollector: viem.getAddress(evm.ERC3009_DEPOSIT_COLLECTOR_ADDRESS),
      permit2DepositCollector: bundledConstant('PERMIT2_DEPOSIT_COLLECTOR_ADDRESS'),
      permit2: viem.getAddress(evm.PERMIT2_ADDRESS),
      uptoPermit2Proxy: viem.getAddress(evm.x402UptoPermit2ProxyAddress),
      multicall3: officialMulticall3().address,
      token: TOKEN,
      receiver: RECEIVER,
      facilitator: FACILITATOR,
    },
    keys: { payer: PAYER_KEY, receiverAuthorizer: RECEIVER_AUTHORIZER_KEY },
    payer: payer.address,
    receiverAuthorizer: receiverAuthorizer.address,
    typehashes: { channelConfig: bundledConstant('CHANNEL_CONFIG_TYPEHASH') },
    eip3009Deposit: {
      config: configJson(eip3009.channelConfig),
      channelId,
      amount: str(eip3009.deposit.amount),
      validAfter: str(auth3009.validAfter),
      validBefore: str(auth3009.validBefore),
      salt: str(BigInt(auth3009.salt)),
      signature: auth3009.signature,
      collectorData: erc3009CollectorData,
      erc3009Nonce: viem.keccak256(
        viem.encodeAbiParameters([{ type: 'bytes32' }, { type: 'uint256' }], [channelId, BigInt(auth3009.salt)]),
      ),
      voucher: {
        maxClaimableAmount: str(eip3009.voucher.maxClaimableAmount),
        signature: eip3009.voucher.signature,
        digest: viem.hashTypedData({
          domain: batchDomain,
          types: evm.voucherTypes,
          primaryType: 'Voucher',
          message: { channelId, maxClaimableAmount: BigInt(eip3009.voucher.maxClaimableAmount) },
        }),
      },
    },
    laterVoucher: {
      maxClaimableAmount: str(voucher.maxClaimableAmount),
      signature: voucher.signature,
      digest: viem.hashTypedData({
        domain: batchDomain,
        types: evm.voucherTypes,
        primaryType: 'Voucher',
        message: { channelId, maxClaimableAmount: BigInt(voucher.maxClaimableAmount) },
      }),
    },
    claimBatch: { totalClaimed: claimTotal, signature: claimBatchSignature, digest: viem.hashTypedData(claimBatch) },
    refund: { nonce: '0', amount: '1000', signature: refundSignature, digest: viem.hashTypedData(refund) },
    permit2Deposit: {
      config: configJson(viaPermit2.channelConfig),
      channelId: viaPermit2.voucher.channelId,
      amount: str(viaPermit2.deposit.amount),
      nonce: str(auth2.nonce),
      deadline: str(auth2.deadline),
      signature: auth2.signature,
      digest: permit2DepositDigest,
      collectorData: permit2CollectorData,
    },
    upto: {
      amount: str(up.permitted.amount),
      nonce: str(up.nonce),
      deadline: str(up.deadline),
      to: up.witness.to,
      facilitator: up.witness.facilitator,
      validAfter: str(up.witness.validAfter),
      signature: upto.signature,
      digest: uptoDigest,
      eip2612: { v: str(eip2612.yParity + 27), r: eip2612.r, s: eip2612.s },
    },
  };

  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, 'x402-abi.json'), JSON.stringify(abis, null, 2) + '\n');
  fs.writeFileSync(path.join(outDir, 'x402-vectors.json'), JSON.stringify(vectors, null, 2) + '\n');
  process.stderr.write(`wrote ${path.relative(root, outDir)}/x402-abi.json and x402-vectors.json\n`);
}

main().catch((e) => {
  process.stderr.write(`${e.stack || e}\n`);
  process.exit(1);
});
