#!/usr/bin/env node
// Copies the parts of forge's build output that the Rust bindings need (ABI, creation and
// runtime bytecode, immutable references) into crates/contracts/artifacts/, and records the
// sha256 of every Solidity source so a Rust test notices when sources and artifacts drift.
//
//   node scripts/export-artifacts.js [OUT_DIR] [SCENARIO_DIR]
//     OUT_DIR       default: crates/contracts/artifacts
//     SCENARIO_DIR  default: crates/testkit/artifacts/guard (the guard's test-only scenario contracts)
'use strict';
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');

// The contracts agora deploys or binds, by source file and contract name.
const CONTRACTS = [
  ['DevStablecoin.sol', 'DevStablecoin'],
  ['IdentityRegistry.sol', 'IdentityRegistry'],
  ['ReputationRegistry.sol', 'ReputationRegistry'],
  ['ValidationRegistry.sol', 'ValidationRegistry'],
  ['BulkAgents.sol', 'BulkAgents'],
  // The x402 contracts the official clients expect at canonical addresses (agora's own
  // implementations, placed there on devnets).
  ['X402BatchSettlement.sol', 'X402BatchSettlement'],
  ['ERC3009DepositCollector.sol', 'ERC3009DepositCollector'],
  ['Permit2DepositCollector.sol', 'Permit2DepositCollector'],
  ['Permit2.sol', 'Permit2'],
  ['X402UptoPermit2Proxy.sol', 'X402UptoPermit2Proxy'],
  // Multicall3, which the official facilitator reads chain state through (placed on devnets
  // alongside the x402 contracts).
  ['Multicall3.sol', 'Multicall3'],
  // Anonymous prepaid call credits: circomlib's Poseidon (poseidon-solidity's libraries,
  // deployed as standalone contracts), the RLN exit-proof verifier and the credit pools.
  ['PoseidonT2.sol', 'PoseidonT2'],
  ['PoseidonT3.sol', 'PoseidonT3'],
  ['PoseidonT4.sol', 'PoseidonT4'],
  ['RlnVerifier.sol', 'RlnVerifier'],
  ['ZkCredits.sol', 'ZkCredits'],
  // Jobs between agents: the ERC-8183 escrow, the optimistic evaluator that holds the bonds and
  // takes disputes to an arbitrator, and the council of staked re-executing validators.
  ['AgenticCommerce.sol', 'AgenticCommerce'],
  ['ValidatorCouncil.sol', 'ValidatorCouncil'],
  ['JobEvaluator.sol', 'JobEvaluator'],
  ['DeepFundingRound.sol', 'DeepFundingRound'],
  ['QuadraticFundingRound.sol', 'QuadraticFundingRound'],
  // Prediction and decision markets: ERC-1155 conditional tokens, LMSR market makers over them,
  // the optimistic resolver answering their questions (disputes to the council), and the
  // futarchy decision market.
  ['ConditionalTokens.sol', 'ConditionalTokens'],
  ['LmsrMarketMaker.sol', 'LmsrMarketMaker'],
  ['OptimisticResolver.sol', 'OptimisticResolver'],
  ['DecisionMarket.sol', 'DecisionMarket'],
  ['ChainFacts.sol', 'ChainFacts'],
  ['ForecastBoard.sol', 'ForecastBoard'],
];

// A library's runtime code starts with `PUSH20 <its own address>` (zero as compiled, written
// by its creation code: solc's call protection). Like an immutable, it depends on the
// deployment, so it is exported as one.
const LIBRARY_PREFIX = '0x73' + '00'.repeat(20) + '3014';
const selfAddressRange = (runtime) => (runtime.startsWith(LIBRARY_PREFIX) ? [{ start: 1, length: 20 }] : []);

const root = path.resolve(__dirname, '..');
const forgeOut = path.join(root, 'contracts', 'out');
const outDir = path.resolve(process.argv[2] || path.join(root, 'crates', 'contracts', 'artifacts'));
fs.mkdirSync(outDir, { recursive: true });

for (const [file, name] of CONTRACTS) {
  const built = JSON.parse(fs.readFileSync(path.join(forgeOut, file, `${name}.json`), 'utf8'));
  const artifact = {
    contractName: name,
    abi: built.abi,
    bytecode: { object: built.bytecode.object },
    deployedBytecode: {
      object: built.deployedBytecode.object,
      // Keyed by AST ids in solc's output, which change with whatever else is compiled;
      // keep only the byte ranges, sorted, so the export is reproducible.
      immutableRanges: Object.values(built.deployedBytecode.immutableReferences || {})
        .flat()
        .map(({ start, length }) => ({ start, length }))
        .concat(selfAddressRange(built.deployedBytecode.object))
        .sort((a, b) => a.start - b.start),
    },
  };
  fs.writeFileSync(path.join(outDir, `${name}.json`), JSON.stringify(artifact, null, 2) + '\n');
}

const srcDir = path.join(root, 'contracts', 'src');
const lines = [];
const walk = (dir) => {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(full);
    else if (entry.name.endsWith('.sol')) {
      const digest = crypto.createHash('sha256').update(fs.readFileSync(full)).digest('hex');
      lines.push([path.relative(path.join(root, 'contracts'), full), digest]);
    }
  }
};
walk(srcDir);
// Sorted by path, byte-wise, the order the Rust test uses.
lines.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
fs.writeFileSync(path.join(outDir, 'sources.sha256'), lines.map(([p, d]) => `${d}  ${p}`).join('\n') + '\n');
// The guard's scenario contracts (contracts/test/guard): ABI and creation code for its tests.
const SCENARIOS = [
  'MockToken', 'HeavyToken', 'MockNFT', 'Router', 'Permit2Lite', 'MiniMarket', 'Sweeper', 'SafeDelegate',
  'Airdrop', 'OwnedProxy', 'Forwarder', 'Executor', 'Bomb', 'Sink', 'Vault', 'FakeSwap', 'EmptyMint', 'Evasive',
];
const scenarioDir = path.resolve(process.argv[3] || path.join(root, 'crates', 'testkit', 'artifacts', 'guard'));
fs.mkdirSync(scenarioDir, { recursive: true });
for (const name of SCENARIOS) {
  const built = JSON.parse(fs.readFileSync(path.join(forgeOut, 'Scenarios.sol', `${name}.json`), 'utf8'));
  const artifact = { contractName: name, abi: built.abi, bytecode: { object: built.bytecode.object } };
  fs.writeFileSync(path.join(scenarioDir, `${name}.json`), JSON.stringify(artifact, null, 2) + '\n');
}
process.stderr.write(`exported ${CONTRACTS.length} artifact(s) to ${path.relative(root, outDir) || '.'}\n`);
