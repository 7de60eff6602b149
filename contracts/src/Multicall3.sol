// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

/// @title Multicall3
/// @notice Runs a batch of calls in one `eth_call` (or one transaction) and returns every result,
/// with the ABI of the Multicall3 that most EVM chains have at
/// 0xcA11bde05977b3631167028862bE2a173976CA11. The official x402 facilitator reads chain state
/// through `tryAggregate` there, and viem's `multicall` through `aggregate3`; a devnet has no
/// Multicall3, so agora places this one at that address.
/// @dev No constructor and no storage: the runtime code alone is the whole contract, so it can be
/// copied to the canonical address as it is. Calls are made from this contract (`msg.sender` is
/// the aggregator, not the caller), so it is for reads and for calls that need no sender; it
/// holds nothing and checks nothing on anyone's behalf.
contract Multicall3 {
    /// A call: the contract and the calldata.
    struct Call {
        address target;
        bytes callData;
    }

    /// A call that may be allowed to fail without failing the batch.
    struct Call3 {
        address target;
        bool allowFailure;
        bytes callData;
    }

    /// A call that may be allowed to fail, sending `value` wei with it.
    struct Call3Value {
        address target;
        bool allowFailure;
        uint256 value;
        bytes callData;
    }

    /// One call's outcome: whether it succeeded, and what it returned (its revert data if not).
    struct Result {
        bool success;
        bytes returnData;
    }

    /// Calls every entry, reverting the batch when any call fails; returns the block number and
    /// each call's return data.
    function aggregate(Call[] calldata calls)
        external
        payable
        returns (uint256 blockNumber, bytes[] memory returnData)
    {
        blockNumber = block.number;
        uint256 count = calls.length;
        returnData = new bytes[](count);
        for (uint256 i = 0; i < count; ++i) {
            (bool success, bytes memory data) = calls[i].target.call(calls[i].callData);
            if (!success) _callFailed();
            returnData[i] = data;
        }
    }

    /// Calls every entry; a failed call fails the batch only when `requireSuccess` is set.
    function tryAggregate(bool requireSuccess, Call[] calldata calls)
        public
        payable
        returns (Result[] memory returnData)
    {
        uint256 count = calls.length;
        returnData = new Result[](count);
        for (uint256 i = 0; i < count; ++i) {
            (bool success, bytes memory data) = calls[i].target.call(calls[i].callData);
            if (requireSuccess && !success) _callFailed();
            returnData[i] = Result(success, data);
        }
    }

    /// `tryAggregate`, with the number and hash of the block it ran in.
    function tryBlockAndAggregate(bool requireSuccess, Call[] calldata calls)
        public
        payable
        returns (uint256 blockNumber, bytes32 blockHash, Result[] memory returnData)
    {
        blockNumber = block.number;
        blockHash = blockhash(block.number);
        returnData = tryAggregate(requireSuccess, calls);
    }

    /// `tryBlockAndAggregate` with every call required to succeed.
    function blockAndAggregate(Call[] calldata calls)
        external
        payable
        returns (uint256 blockNumber, bytes32 blockHash, Result[] memory returnData)
    {
        return tryBlockAndAggregate(true, calls);
    }

    /// Calls every entry; a failed call fails the batch unless its `allowFailure` is set.
    function aggregate3(Call3[] calldata calls) external payable returns (Result[] memory returnData) {
        uint256 count = calls.length;
        returnData = new Result[](count);
        for (uint256 i = 0; i < count; ++i) {
            Call3 calldata entry = calls[i];
            (bool success, bytes memory data) = entry.target.call(entry.callData);
            if (!success && !entry.allowFailure) _callFailed();
            returnData[i] = Result(success, data);
        }
    }

    /// `aggregate3` with a value sent along each call; `msg.value` must be exactly their sum.
    function aggregate3Value(Call3Value[] calldata calls)
        external
        payable
        returns (Result[] memory returnData)
    {
        uint256 count = calls.length;
        uint256 total = 0;
        returnData = new Result[](count);
        for (uint256 i = 0; i < count; ++i) {
            Call3Value calldata entry = calls[i];
            total += entry.value;
            (bool success, bytes memory data) = entry.target.call{value: entry.value}(entry.callData);
            if (!success && !entry.allowFailure) _callFailed();
            returnData[i] = Result(success, data);
        }
        if (msg.value != total) revert("Multicall3: value mismatch");
    }

    /// The hash of block `blockNumber` (zero outside the last 256 blocks).
    function getBlockHash(uint256 blockNumber) external view returns (bytes32 blockHash) {
        blockHash = blockhash(blockNumber);
    }

    /// The current block number.
    function getBlockNumber() external view returns (uint256 blockNumber) {
        blockNumber = block.number;
    }

    /// The current block's fee recipient.
    function getCurrentBlockCoinbase() external view returns (address coinbase) {
        coinbase = block.coinbase;
    }

    /// The current block's difficulty field, which holds `prevrandao` since the merge.
    function getCurrentBlockDifficulty() external view returns (uint256 difficulty) {
        difficulty = block.prevrandao;
    }

    /// The current block's gas limit.
    function getCurrentBlockGasLimit() external view returns (uint256 gaslimit) {
        gaslimit = block.gaslimit;
    }

    /// The current block's timestamp.
    function getCurrentBlockTimestamp() external view returns (uint256 timestamp) {
        timestamp = block.timestamp;
    }

    /// The wei balance of `addr`.
    function getEthBalance(address addr) external view returns (uint256 balance) {
        balance = addr.balance;
    }

    /// The hash of the previous block (zero in the genesis block).
    function getLastBlockHash() external view returns (bytes32 blockHash) {
        if (block.number > 0) blockHash = blockhash(block.number - 1);
    }

    /// The current block's base fee.
    function getBasefee() external view returns (uint256 basefee) {
        basefee = block.basefee;
    }

    /// The chain id.
    function getChainId() external view returns (uint256 chainid) {
        chainid = block.chainid;
    }

    /// Reverts with `Error("Multicall3: call failed")`, the reason every Multicall3 gives.
    function _callFailed() private pure {
        revert("Multicall3: call failed");
    }
}
