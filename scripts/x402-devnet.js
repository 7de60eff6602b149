#!/usr/bin/env node
// Puts the x402 v2 contracts on a local anvil chain at the addresses the official x402 packages
// hard-code, next to the devnet dollar, and a few helpers around them. Prints one JSON line.
//
//   NODE_PATH=.tools/npm/node_modules node scripts/x402-devnet.js deploy RPC_URL
//   NODE_PATH=.tools/npm/node_modules node scripts/x402-devnet.js fund RPC_URL TOKEN TO AMOUNT
//   NODE_PATH=.tools/npm/node_modules node scripts/x402-devnet.js balance RPC_URL TOKEN ADDRESS
//
// deploy: deploys DevStablecoin (a normal deployment; its address is in the output) and, from
//   crates/contracts/artifacts/<Name>.json (or $ARTIFACTS_DIR), Permit2, X402BatchSettlement,
//   ERC3009DepositCollector, Permit2DepositCollector and X402UptoPermit2Proxy: each is deployed
//   normally with its constructor's addresses set to the canonical addresses of its dependencies,
//   then its runtime code (eth_getCode of that deployment) and any storage its constructor wrote
//   (from a prestateTracer diff, where anvil gives one) are copied to the canonical address with
//   anvil_setCode / anvil_setStorageAt. The official facilitators also read the chain through
//   Multicall3 (tryAggregate at 0xcA11bde05977b3631167028862bE2a173976CA11), which anvil does not
//   have: a small Multicall3 written here is compiled with the pinned solc and placed there too.
//   Sends from DEPLOYER_KEY (default: anvil's first account).
// fund: gives TO 10 ETH for gas when it has less than 1, and AMOUNT atomic units of TOKEN from
//   the dev-chain faucet (faucet(address,uint256), at most 1e12 a call; larger amounts take
//   several calls).
// balance: TOKEN.balanceOf(ADDRESS).
'use strict';
const fs = require('fs');
const path = require('path');
const {
  createPublicClient,
  createWalletClient,
  http,
  getAddress,
  parseAbi,
  parseEther,
} = require('viem');
const { privateKeyToAccount } = require('viem/accounts');
const { foundry } = require('viem/chains');

const ROOT = path.resolve(__dirname, '..');
const ARTIFACTS = process.env.ARTIFACTS_DIR || path.join(ROOT, 'crates', 'contracts', 'artifacts');
const ANVIL_KEY0 = '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80';

// Canonical addresses the official @x402/evm packages hard-code.
const CANONICAL = {
  Permit2: '0x000000000022D473030F116dDEE9F6B43aC78BA3',
  X402BatchSettlement: '0x4020074e9dF2ce1deE5A9C1b5c3f541D02a10003',
  ERC3009DepositCollector: '0x4020806089470a89826cB9fB1f4059150b550004',
  Permit2DepositCollector: '0x4020425FAf3B746C082C2f942b4E5159887B0005',
  X402UptoPermit2Proxy: '0x4020A4f3b7b90ccA423B9fabCc0CE57C6C240002',
};
const MULTICALL3 = '0xcA11bde05977b3631167028862bE2a173976CA11';
// Dependency order: a constructor may read the contracts it is given.
const ORDER = [
  'Permit2',
  'X402BatchSettlement',
  'ERC3009DepositCollector',
  'Permit2DepositCollector',
  'X402UptoPermit2Proxy',
];

// Which canonical address a constructor parameter wants, by its name.
function constructorArg(contract, input) {
  if (input.type !== 'address') {
    throw new Error(`${contract}: constructor parameter ${input.name} (${input.type}) is not an address`);
  }
  if (/permit2/i.test(input.name)) return CANONICAL.Permit2;
  if (/settlement|batch/i.test(input.name)) return CANONICAL.X402BatchSettlement;
  throw new Error(`${contract}: no canonical address for constructor parameter ${input.name}`);
}

// A Multicall3-compatible aggregator (the parts the x402 facilitators and viem use).
const MULTICALL3_SOURCE = `// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;
contract Multicall3 {
    struct Call { address target; bytes callData; }
    struct Call3 { address target; bool allowFailure; bytes callData; }
    struct Result { bool success; bytes returnData; }
    function aggregate(Call[] calldata calls) external payable returns (uint256 blockNumber, bytes[] memory returnData) {
        blockNumber = block.number;
        returnData = new bytes[](calls.length);
        for (uint256 i = 0; i < calls.length; i++) {
            (bool ok, bytes memory ret) = calls[i].target.call(calls[i].callData);
            require(ok, "Multicall3: call failed");
            returnData[i] = ret;
        }
    }
    function tryAggregate(bool requireSuccess, Call[] calldata calls) public payable returns (Result[] memory returnData) {
        returnData = new Result[](calls.length);
        for (uint256 i = 0; i < calls.length; i++) {
            (bool ok, bytes memory ret) = calls[i].target.call(calls[i].callData);
            if (requireSuccess) require(ok, "Multicall3: call failed");
            returnData[i] = Result(ok, ret);
        }
    }
    function aggregate3(Call3[] calldata calls) external payable returns (Result[] memory returnData) {
        returnData = new Result[](calls.length);
        for (uint256 i = 0; i < calls.length; i++) {
            (bool ok, bytes memory ret) = calls[i].target.call(calls[i].callData);
            require(ok || calls[i].allowFailure, "Multicall3: call failed");
            returnData[i] = Result(ok, ret);
        }
    }
    function getBlockNumber() external view returns (uint256) { return block.number; }
    function getCurrentBlockTimestamp() external view returns (uint256) { return block.timestamp; }
    function getChainId() external view returns (uint256) { return block.chainid; }
    function getEthBalance(address addr) external view returns (uint256) { return addr.balance; }
}
`;

function multicall3Runtime() {
  const solc = require(path.join(ROOT, '.tools', 'npm', 'node_modules', 'solc'));
  const input = {
    language: 'Solidity',
    sources: { 'Multicall3.sol': { content: MULTICALL3_SOURCE } },
    settings: {
      optimizer: { enabled: true, runs: 200 },
      evmVersion: 'cancun',
      outputSelection: { '*': { '*': ['evm.deployedBytecode.object'] } },
    },
  };
  const out = JSON.parse(solc.compile(JSON.stringify(input)));
  const errors = (out.errors || []).filter((e) => e.severity === 'error');
  if (errors.length) throw new Error(`Multicall3 does not compile: ${errors.map((e) => e.message).join('; ')}`);
  return '0x' + out.contracts['Multicall3.sol'].Multicall3.evm.deployedBytecode.object;
}

function artifact(name) {
  const file = path.join(ARTIFACTS, `${name}.json`);
  if (!fs.existsSync(file)) throw new Error(`missing artifact ${file} (export the contracts first)`);
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

function clients(rpcUrl) {
  const account = privateKeyToAccount(process.env.DEPLOYER_KEY || ANVIL_KEY0);
  const transport = http(rpcUrl);
  return {
    account,
    pub: createPublicClient({ chain: foundry, transport }),
    wallet: createWalletClient({ account, chain: foundry, transport }),
  };
}

async function deployArtifact({ pub, wallet }, art, args) {
  const hash = await wallet.deployContract({ abi: art.abi, bytecode: art.bytecode.object, args });
  const receipt = await pub.waitForTransactionReceipt({ hash });
  if (receipt.status !== 'success' || !receipt.contractAddress) {
    throw new Error(`deploying ${art.contractName} failed in ${hash}`);
  }
  return { hash, address: receipt.contractAddress };
}

// Storage slots the deployment transaction wrote at `address`, when anvil can trace it.
async function constructorStorage(pub, hash, address) {
  try {
    const trace = await pub.request({
      method: 'debug_traceTransaction',
      params: [hash, { tracer: 'prestateTracer', tracerConfig: { diffMode: true } }],
    });
    const post = trace && trace.post ? trace.post : {};
    const key = Object.keys(post).find((k) => k.toLowerCase() === address.toLowerCase());
    return { traced: true, storage: (key && post[key].storage) || {} };
  } catch (e) {
    return { traced: false, storage: {}, error: String(e.shortMessage || e.message || e) };
  }
}

async function placeAt(pub, canonical, code, storage) {
  await pub.request({ method: 'anvil_setCode', params: [canonical, code] });
  for (const [slot, value] of Object.entries(storage)) {
    await pub.request({ method: 'anvil_setStorageAt', params: [canonical, slot, value] });
  }
  const placed = await pub.getCode({ address: canonical });
  if ((placed || '0x').toLowerCase() !== code.toLowerCase()) {
    throw new Error(`anvil_setCode did not place the code at ${canonical}`);
  }
}

async function deploy(rpcUrl) {
  const c = clients(rpcUrl);
  const chainId = await c.pub.getChainId();
  const out = { chainId, deployer: c.account.address, token: null, multicall3: MULTICALL3, contracts: {} };

  const token = await deployArtifact(c, artifact('DevStablecoin'), []);
  out.token = getAddress(token.address);

  const mc = multicall3Runtime();
  await placeAt(c.pub, MULTICALL3, mc, {});

  for (const name of ORDER) {
    const art = artifact(name);
    const ctor = art.abi.find((x) => x.type === 'constructor');
    const args = (ctor ? ctor.inputs : []).map((input) => constructorArg(name, input));
    const temp = await deployArtifact(c, art, args);
    const code = await c.pub.getCode({ address: temp.address });
    if (!code || code === '0x') throw new Error(`${name}: no runtime code at ${temp.address}`);
    const { traced, storage, error } = await constructorStorage(c.pub, temp.hash, temp.address);
    await placeAt(c.pub, CANONICAL[name], code, storage);
    // An immutable holding the deployment's own address would point away from the copy.
    const selfRefs = code.toLowerCase().split(temp.address.slice(2).toLowerCase()).length - 1;
    out.contracts[name] = {
      address: CANONICAL[name],
      deployedAt: temp.address,
      constructorArgs: args,
      codeBytes: (code.length - 2) / 2,
      storageSlots: Object.keys(storage).length,
      storageTraced: traced,
      ...(error ? { traceError: error } : {}),
      ...(selfRefs ? { selfAddressInCode: selfRefs } : {}),
    };
  }
  return out;
}

const erc20 = parseAbi([
  'function balanceOf(address) view returns (uint256)',
  'function faucet(address to, uint256 amount)',
  'function FAUCET_LIMIT() view returns (uint256)',
]);

async function fund(rpcUrl, token, to, amountArg) {
  const c = clients(rpcUrl);
  to = getAddress(to);
  let eth = await c.pub.getBalance({ address: to });
  if (eth < parseEther('1')) {
    await c.pub.request({ method: 'anvil_setBalance', params: [to, '0x' + parseEther('10').toString(16)] });
    eth = parseEther('10');
  }
  let left = BigInt(amountArg);
  const limit = await c.pub.readContract({ address: token, abi: erc20, functionName: 'FAUCET_LIMIT' });
  const txs = [];
  while (left > 0n) {
    const amount = left > limit ? limit : left;
    const hash = await c.wallet.writeContract({ address: token, abi: erc20, functionName: 'faucet', args: [to, amount] });
    const receipt = await c.pub.waitForTransactionReceipt({ hash });
    if (receipt.status !== 'success') throw new Error(`faucet(${to}, ${amount}) reverted in ${hash}`);
    txs.push(hash);
    left -= amount;
  }
  const balance = await c.pub.readContract({ address: token, abi: erc20, functionName: 'balanceOf', args: [to] });
  return { address: to, eth: eth.toString(), balance: balance.toString(), txs };
}

async function balance(rpcUrl, token, who) {
  const { pub } = clients(rpcUrl);
  const b = await pub.readContract({ address: token, abi: erc20, functionName: 'balanceOf', args: [getAddress(who)] });
  return { address: getAddress(who), balance: b.toString() };
}

async function main() {
  const [cmd, ...args] = process.argv.slice(2);
  let result;
  if (cmd === 'deploy' && args.length === 1) result = await deploy(args[0]);
  else if (cmd === 'fund' && args.length === 4) result = await fund(...args);
  else if (cmd === 'balance' && args.length === 3) result = await balance(...args);
  else {
    throw new Error(
      'usage: x402-devnet.js deploy RPC_URL | fund RPC_URL TOKEN TO AMOUNT | balance RPC_URL TOKEN ADDRESS',
    );
  }
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((e) => {
  process.stderr.write(`x402-devnet: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
