// A wallet built with viem (the library most Ethereum wallets and dApps use) pointed at agora's
// guard: reads go through untouched, a drainer approval comes back as viem's
// UserRejectedRequestError (EIP-1193 4001) with the verdict, a harmless send is forwarded.
// Prints one JSON line.
//
//   NODE_PATH=.tools/npm/node_modules node viem_wallet.js GUARD_URL FROM TOKEN SPENDER FRIEND
'use strict';
const { createPublicClient, createWalletClient, http, encodeFunctionData, parseAbi, maxUint256, defineChain } = require('viem');

async function main() {
  const [url, from, token, spender, friend] = process.argv.slice(2);
  const chain = defineChain({ id: 31337, name: 'devnet', nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 }, rpcUrls: { default: { http: [url] } } });
  const transport = http(url, { retryCount: 0 });
  const reader = createPublicClient({ chain, transport });
  const wallet = createWalletClient({ account: from, chain, transport });
  const abi = parseAbi(['function approve(address spender, uint256 amount) returns (bool)', 'function symbol() view returns (string)']);
  const out = {
    chainId: await reader.getChainId(),
    blockNumber: (await reader.getBlockNumber()).toString(),
    balance: (await reader.getBalance({ address: from })).toString(),
    symbol: await reader.readContract({ address: token, abi, functionName: 'symbol' }),
  };
  try {
    await wallet.sendTransaction({ to: token, data: encodeFunctionData({ abi, functionName: 'approve', args: [spender, maxUint256] }) });
    out.refusal = null;
  } catch (e) {
    const rejected = e.walk((err) => err && err.code === 4001);
    const withData = e.walk((err) => err && err.data !== undefined && typeof err.data === 'object');
    out.refusal = { name: rejected && rejected.name, code: rejected && rejected.code, details: rejected && rejected.details, verdict: withData && withData.data };
  }
  out.sent = await wallet.sendTransaction({ to: friend, value: 1n });
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => {
  process.stderr.write(String(e && e.stack || e) + '\n');
  process.exit(1);
});
