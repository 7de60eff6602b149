// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {AgoraTest} from "./utils/AgoraTest.sol";
import {Multicall3} from "../src/Multicall3.sol";

/// @notice The cheatcodes these tests use beyond `AgoraTest`'s.
interface VmMulticall {
    function etch(address target, bytes calldata code) external;
    function roll(uint256 blockNumber) external;
    function deal(address account, uint256 balance) external;
    function fee(uint256 basefee) external;
    function coinbase(address coinbase) external;
    function prevrandao(bytes32 prevrandao) external;
    function setBlockhash(uint256 blockNumber, bytes32 blockHash) external;
}

/// @notice A call target: a value to read, a call that reverts, and a payable one.
contract Target {
    error Nope(uint256 code);

    uint256 public received;

    function answer() external pure returns (uint256) {
        return 42;
    }

    function echo(bytes calldata data) external pure returns (bytes memory) {
        return data;
    }

    function fail(uint256 code) external pure {
        revert Nope(code);
    }

    function sender() external view returns (address) {
        return msg.sender;
    }

    function pay() external payable returns (uint256) {
        received += msg.value;
        return msg.value;
    }
}

contract Multicall3Test is AgoraTest {
    VmMulticall internal constant vmm = VmMulticall(address(uint160(uint256(keccak256("hevm cheat code")))));

    /// Where Multicall3 lives on most chains, and where agora's devnet places this one.
    address internal constant CANONICAL = 0xcA11bde05977b3631167028862bE2a173976CA11;

    Multicall3 internal multicall = Multicall3(CANONICAL);
    Target internal target;

    bytes internal constant CALL_FAILED = abi.encodeWithSignature("Error(string)", "Multicall3: call failed");

    function setUp() public {
        // Placed the way the devnet places it: runtime code only, at the canonical address.
        vmm.etch(CANONICAL, address(new Multicall3()).code);
        target = new Target();
    }

    function answerCall() internal view returns (Multicall3.Call memory) {
        return Multicall3.Call(address(target), abi.encodeCall(Target.answer, ()));
    }

    function failCall(uint256 code) internal view returns (Multicall3.Call memory) {
        return Multicall3.Call(address(target), abi.encodeCall(Target.fail, (code)));
    }

    function nope(uint256 code) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(Target.Nope.selector, code);
    }

    // ---------------------------------------------------------------------------------------
    // aggregate, tryAggregate, tryBlockAndAggregate, blockAndAggregate
    // ---------------------------------------------------------------------------------------

    function test_aggregate_returns_the_block_and_every_result() public {
        vmm.roll(1234);
        Multicall3.Call[] memory calls = new Multicall3.Call[](3);
        calls[0] = answerCall();
        calls[1] = Multicall3.Call(address(target), abi.encodeCall(Target.echo, (hex"c0ffee")));
        calls[2] = Multicall3.Call(address(target), abi.encodeCall(Target.sender, ()));
        (uint256 blockNumber, bytes[] memory results) = multicall.aggregate(calls);
        assertEq(blockNumber, 1234, "block number");
        assertEq(results.length, 3, "one result per call");
        assertEq(abi.decode(results[0], (uint256)), 42, "answer");
        assertEq(abi.decode(results[1], (bytes)), hex"c0ffee", "echo");
        assertEq(abi.decode(results[2], (address)), CANONICAL, "calls come from the aggregator");
    }

    function test_aggregate_of_nothing_returns_nothing() public {
        (uint256 blockNumber, bytes[] memory results) = multicall.aggregate(new Multicall3.Call[](0));
        assertEq(blockNumber, block.number, "block number");
        assertEq(results.length, 0, "no results");
    }

    function test_aggregate_reverts_when_any_call_fails() public {
        Multicall3.Call[] memory calls = new Multicall3.Call[](2);
        calls[0] = answerCall();
        calls[1] = failCall(7);
        vm.expectRevert(CALL_FAILED);
        multicall.aggregate(calls);
    }

    function test_try_aggregate_reports_failures_without_require_success() public {
        Multicall3.Call[] memory calls = new Multicall3.Call[](3);
        calls[0] = failCall(1);
        calls[1] = answerCall();
        calls[2] = failCall(2);
        Multicall3.Result[] memory results = multicall.tryAggregate(false, calls);
        assertEq(results.length, 3, "one result per call");
        assertTrue(!results[0].success, "first failed");
        assertEq(results[0].returnData, nope(1), "first: the revert data");
        assertTrue(results[1].success, "second succeeded");
        assertEq(abi.decode(results[1].returnData, (uint256)), 42, "second: the answer");
        assertTrue(!results[2].success, "third failed");
        assertEq(results[2].returnData, nope(2), "third: the revert data");
    }

    function test_try_aggregate_with_require_success() public {
        Multicall3.Call[] memory calls = new Multicall3.Call[](2);
        calls[0] = answerCall();
        calls[1] = answerCall();
        Multicall3.Result[] memory results = multicall.tryAggregate(true, calls);
        assertTrue(results[0].success && results[1].success, "both succeeded");
        assertEq(abi.decode(results[1].returnData, (uint256)), 42, "answer");

        calls[1] = failCall(3);
        vm.expectRevert(CALL_FAILED);
        multicall.tryAggregate(true, calls);
    }

    /// The call the official x402 facilitator makes, encoded the way it encodes it.
    function test_try_aggregate_answers_the_x402_facilitators_call() public {
        Multicall3.Call[] memory calls = new Multicall3.Call[](2);
        calls[0] = answerCall();
        calls[1] = failCall(9);
        bytes memory data = abi.encodeWithSignature("tryAggregate(bool,(address,bytes)[])", false, calls);
        (bool ok, bytes memory raw) = CANONICAL.call(data);
        assertTrue(ok, "the call succeeds");
        Multicall3.Result[] memory results = abi.decode(raw, (Multicall3.Result[]));
        assertTrue(results[0].success && !results[1].success, "success flags");
        assertEq(results[1].returnData, nope(9), "revert data");
    }

    function test_block_and_aggregate_carry_the_block_hash() public {
        vmm.roll(500);
        vmm.setBlockhash(500, keccak256("block 500"));
        Multicall3.Call[] memory calls = new Multicall3.Call[](1);
        calls[0] = failCall(4);
        (uint256 blockNumber, bytes32 blockHash, Multicall3.Result[] memory results) =
            multicall.tryBlockAndAggregate(false, calls);
        assertEq(blockNumber, 500, "block number");
        assertEq(blockHash, blockhash(500), "block hash");
        assertTrue(!results[0].success, "failure reported");

        vm.expectRevert(CALL_FAILED);
        multicall.blockAndAggregate(calls);

        calls[0] = answerCall();
        (blockNumber,, results) = multicall.blockAndAggregate(calls);
        assertEq(blockNumber, 500, "block number");
        assertEq(abi.decode(results[0].returnData, (uint256)), 42, "answer");
    }

    // ---------------------------------------------------------------------------------------
    // aggregate3, aggregate3Value
    // ---------------------------------------------------------------------------------------

    function test_aggregate3_allows_only_the_failures_it_is_told_to() public {
        Multicall3.Call3[] memory calls = new Multicall3.Call3[](2);
        calls[0] = Multicall3.Call3(address(target), true, abi.encodeCall(Target.fail, (5)));
        calls[1] = Multicall3.Call3(address(target), false, abi.encodeCall(Target.answer, ()));
        Multicall3.Result[] memory results = multicall.aggregate3(calls);
        assertTrue(!results[0].success, "allowed failure reported");
        assertEq(results[0].returnData, nope(5), "revert data");
        assertTrue(results[1].success, "second succeeded");
        assertEq(abi.decode(results[1].returnData, (uint256)), 42, "answer");

        calls[0].allowFailure = false;
        vm.expectRevert(CALL_FAILED);
        multicall.aggregate3(calls);
    }

    /// Whatever mix of failing and succeeding calls, with failures allowed, each result says
    /// which it was and carries what the call returned.
    function testFuzz_aggregate3_reports_each_call(uint8 failing, uint8 count) public {
        count = uint8(bound(count, 0, 8));
        Multicall3.Call3[] memory calls = new Multicall3.Call3[](count);
        for (uint256 i = 0; i < count; i++) {
            bool fails = (failing >> i) & 1 == 1;
            bytes memory data = fails ? abi.encodeCall(Target.fail, (i)) : abi.encodeCall(Target.answer, ());
            calls[i] = Multicall3.Call3(address(target), true, data);
        }
        Multicall3.Result[] memory results = multicall.aggregate3(calls);
        assertEq(results.length, count, "one result per call");
        for (uint256 i = 0; i < count; i++) {
            bool fails = (failing >> i) & 1 == 1;
            assertTrue(results[i].success != fails, "success flag");
            assertEq(results[i].returnData, fails ? nope(i) : abi.encode(uint256(42)), "return data");
        }
    }

    function test_aggregate3_value_sends_each_value_and_requires_their_sum() public {
        vmm.deal(address(this), 10 ether);
        Multicall3.Call3Value[] memory calls = new Multicall3.Call3Value[](2);
        calls[0] = Multicall3.Call3Value(address(target), false, 1 ether, abi.encodeCall(Target.pay, ()));
        calls[1] = Multicall3.Call3Value(address(target), false, 2 ether, abi.encodeCall(Target.pay, ()));
        Multicall3.Result[] memory results = multicall.aggregate3Value{value: 3 ether}(calls);
        assertEq(abi.decode(results[1].returnData, (uint256)), 2 ether, "second value");
        assertEq(target.received(), 3 ether, "target received both");
        assertEq(CANONICAL.balance, 0, "nothing left behind");

        vm.expectRevert(abi.encodeWithSignature("Error(string)", "Multicall3: value mismatch"));
        multicall.aggregate3Value{value: 4 ether}(calls);

        calls[1].callData = abi.encodeCall(Target.fail, (6));
        vm.expectRevert(CALL_FAILED);
        multicall.aggregate3Value{value: 3 ether}(calls);
    }

    // ---------------------------------------------------------------------------------------
    // Block and account getters
    // ---------------------------------------------------------------------------------------

    function test_getters_read_the_block_and_the_chain() public {
        vm.chainId(84532);
        vmm.roll(777);
        vm.warp(1_700_000_123);
        vmm.fee(9 gwei);
        vmm.coinbase(address(0xC0BA5E));
        vmm.prevrandao(bytes32(uint256(31337)));
        vmm.setBlockhash(776, keccak256("block 776"));
        vmm.deal(address(0xBA1), 5 ether);
        assertEq(multicall.getChainId(), 84532, "chain id");
        assertEq(multicall.getBlockNumber(), 777, "block number");
        assertEq(multicall.getCurrentBlockTimestamp(), 1_700_000_123, "timestamp");
        assertEq(multicall.getBasefee(), 9 gwei, "base fee");
        assertEq(multicall.getCurrentBlockCoinbase(), address(0xC0BA5E), "coinbase");
        assertEq(multicall.getCurrentBlockDifficulty(), 31337, "prevrandao");
        assertEq(multicall.getCurrentBlockGasLimit(), block.gaslimit, "gas limit");
        assertEq(multicall.getEthBalance(address(0xBA1)), 5 ether, "balance");
        assertEq(multicall.getLastBlockHash(), keccak256("block 776"), "last block hash");
        assertEq(multicall.getBlockHash(776), keccak256("block 776"), "block hash");

        vmm.roll(0);
        assertEq(multicall.getLastBlockHash(), bytes32(0), "no block before genesis");
    }

    /// The getters through `aggregate3`, the way viem batches reads.
    function test_getters_batch_through_aggregate3() public {
        vmm.deal(address(0xBA1), 1 ether);
        Multicall3.Call3[] memory calls = new Multicall3.Call3[](2);
        calls[0] =
            Multicall3.Call3(CANONICAL, false, abi.encodeCall(Multicall3.getEthBalance, (address(0xBA1))));
        calls[1] = Multicall3.Call3(CANONICAL, false, abi.encodeCall(Multicall3.getChainId, ()));
        Multicall3.Result[] memory results = multicall.aggregate3(calls);
        assertEq(abi.decode(results[0].returnData, (uint256)), 1 ether, "balance");
        assertEq(abi.decode(results[1].returnData, (uint256)), block.chainid, "chain id");
    }

    // ---------------------------------------------------------------------------------------
    // ABI: the selectors of the standard Multicall3
    // ---------------------------------------------------------------------------------------

    function checkSelector(bytes4 ours, string memory signature, bytes4 standard) internal pure {
        assertEq(bytes32(ours), bytes32(bytes4(keccak256(bytes(signature)))), signature);
        assertEq(bytes32(ours), bytes32(standard), signature);
    }

    function test_selectors_are_the_standard_multicall3s() public pure {
        checkSelector(Multicall3.aggregate.selector, "aggregate((address,bytes)[])", 0x252dba42);
        checkSelector(Multicall3.tryAggregate.selector, "tryAggregate(bool,(address,bytes)[])", 0xbce38bd7);
        checkSelector(
            Multicall3.tryBlockAndAggregate.selector,
            "tryBlockAndAggregate(bool,(address,bytes)[])",
            0x399542e9
        );
        checkSelector(
            Multicall3.blockAndAggregate.selector, "blockAndAggregate((address,bytes)[])", 0xc3077fa9
        );
        checkSelector(Multicall3.aggregate3.selector, "aggregate3((address,bool,bytes)[])", 0x82ad56cb);
        checkSelector(
            Multicall3.aggregate3Value.selector, "aggregate3Value((address,bool,uint256,bytes)[])", 0x174dea71
        );
        checkSelector(Multicall3.getBlockHash.selector, "getBlockHash(uint256)", 0xee82ac5e);
        checkSelector(Multicall3.getBlockNumber.selector, "getBlockNumber()", 0x42cbb15c);
        checkSelector(Multicall3.getCurrentBlockCoinbase.selector, "getCurrentBlockCoinbase()", 0xa8b0574e);
        checkSelector(
            Multicall3.getCurrentBlockDifficulty.selector, "getCurrentBlockDifficulty()", 0x72425d9d
        );
        checkSelector(Multicall3.getCurrentBlockGasLimit.selector, "getCurrentBlockGasLimit()", 0x86d516e8);
        checkSelector(Multicall3.getCurrentBlockTimestamp.selector, "getCurrentBlockTimestamp()", 0x0f28c97d);
        checkSelector(Multicall3.getEthBalance.selector, "getEthBalance(address)", 0x4d2301cc);
        checkSelector(Multicall3.getLastBlockHash.selector, "getLastBlockHash()", 0x27e86d6e);
        checkSelector(Multicall3.getBasefee.selector, "getBasefee()", 0x3e64a696);
        checkSelector(Multicall3.getChainId.selector, "getChainId()", 0x3408e470);
    }

    /// No constructor, no storage: the placed runtime code behaves like a deployment.
    function test_the_placed_code_needs_no_constructor() public {
        Multicall3 deployed = new Multicall3();
        assertEq(keccak256(CANONICAL.code), keccak256(address(deployed).code), "same runtime code");
        assertEq(deployed.getChainId(), multicall.getChainId(), "same answers");
    }
}
