// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {AgoraTest} from "./AgoraTest.sol";
import {PoseidonT2} from "poseidon-solidity/PoseidonT2.sol";
import {PoseidonT3} from "poseidon-solidity/PoseidonT3.sol";
import {PoseidonT4} from "poseidon-solidity/PoseidonT4.sol";
import {IPoseidonT2, IPoseidonT3, IPoseidonT4} from "../../src/Poseidon.sol";
import {RlnVerifier} from "../../src/RlnVerifier.sol";
import {ZkCredits} from "../../src/ZkCredits.sol";
import {IdentityRegistry} from "../../src/IdentityRegistry.sol";
import {DevStablecoin} from "../../src/DevStablecoin.sol";

/// @notice The cheatcodes the ZkCredits tests use beyond `AgoraTest`'s.
interface VmZk {
    function etch(address target, bytes calldata code) external;
    function roll(uint256 newHeight) external;
    function store(address target, bytes32 slot, bytes32 value) external;
    function load(address target, bytes32 slot) external view returns (bytes32);
    function readFile(string calldata path) external view returns (string memory);
    function parseJsonUint(string calldata json, string calldata key) external pure returns (uint256);
    function parseJsonUintArray(string calldata json, string calldata key)
        external
        pure
        returns (uint256[] memory);
    function parseJsonAddress(string calldata json, string calldata key) external pure returns (address);
}

/// @notice Poseidon, the verifier, the identity registry and the dev token deployed, and
/// ZkCredits placed at the fixture's address (deployed, then its runtime code copied there: the
/// constructor writes only immutables), so pool 1 has the fixture's RLN identifier and scopes.
/// The fixture (test/fixtures/zk-credits.json) comes from the Rust `rln` crate.
abstract contract ZkCreditsTest is AgoraTest {
    VmZk internal constant vmz = VmZk(address(uint160(uint256(keccak256("hevm cheat code")))));

    uint256 internal constant R =
        21888242871839275222246405745257275088548364400416034343698204186575808495617;
    uint256 internal constant Q =
        21888242871839275222246405745257275088696311157297823662689037894645226208583;
    /// The fixture's `contract`: where its exit proof's scope says ZkCredits lives.
    address internal constant FIXTURE_CONTRACT = 0x00000000000000000000000000000000000c4Ed1;
    /// The storage slots of `ZkCredits._pools` and `ZkCredits._trees` (see `forge inspect`); a
    /// pool's `Trees` starts with its size, shared by the calls tree and the exit tree.
    uint256 internal constant POOLS_SLOT = 1;
    uint256 internal constant TREES_SLOT = 2;

    uint256 internal constant UNIT_PRICE = 10_000; // 0.01 dUSD a call
    uint32 internal constant CALLS = 100;
    uint256 internal constant STAKE = 5e6;
    uint64 internal constant EXIT_DELAY = 1 days;

    /// Printed by forge with -vv (ds-test's log event).
    event log_named_uint(string key, uint256 val);

    string internal fixture;
    IPoseidonT2 internal t2;
    IPoseidonT3 internal t3;
    IPoseidonT4 internal t4;
    RlnVerifier internal verifier;
    IdentityRegistry internal identity;
    DevStablecoin internal token;
    ZkCredits internal credits;
    /// `zeroHashes[i]`: the root of an empty subtree of height `i`, computed with `t3`.
    uint256[21] internal zeroHashes;

    address internal agentOwner = address(0xA11CE);
    address internal buyer = address(0xB0B);
    uint256 internal agentId;

    function deployCode(bytes memory code) internal returns (address deployed) {
        assembly ("memory-safe") {
            deployed := create(0, add(code, 0x20), mload(code))
        }
        require(deployed != address(0), "deployment failed");
    }

    function setUpCredits() internal {
        vm.warp(1_700_000_000);
        vmz.roll(100);
        fixture = vmz.readFile("test/fixtures/zk-credits.json");
        t2 = IPoseidonT2(deployCode(type(PoseidonT2).creationCode));
        t3 = IPoseidonT3(deployCode(type(PoseidonT3).creationCode));
        t4 = IPoseidonT4(deployCode(type(PoseidonT4).creationCode));
        for (uint256 i = 0; i < 20; i++) {
            zeroHashes[i + 1] = t3.hash([zeroHashes[i], zeroHashes[i]]);
        }
        verifier = new RlnVerifier();
        identity = new IdentityRegistry();
        token = new DevStablecoin();
        ZkCredits deployed = new ZkCredits(identity, verifier, t2, t3, t4);
        vmz.etch(FIXTURE_CONTRACT, address(deployed).code);
        credits = ZkCredits(FIXTURE_CONTRACT);
        vm.label(FIXTURE_CONTRACT, "ZkCredits");
        vm.prank(agentOwner);
        agentId = identity.register("https://agent.example/card.json");
    }

    function fx(string memory key) internal view returns (uint256) {
        return vmz.parseJsonUint(fixture, key);
    }

    function fixtureProof() internal view returns (uint256[8] memory proof) {
        uint256[] memory words = vmz.parseJsonUintArray(fixture, ".exit.proof");
        require(words.length == 8, "eight proof words");
        for (uint256 i = 0; i < 8; i++) {
            proof[i] = words[i];
        }
    }

    function fixtureReceiver() internal view returns (address) {
        return vmz.parseJsonAddress(fixture, ".exit.receiver");
    }

    /// A pool of the test agent with the default terms (pool 1 matches the fixture's).
    function createPool() internal returns (uint256) {
        return createPool(CALLS);
    }

    function createPool(uint32 calls) internal returns (uint256 poolId) {
        vm.prank(agentOwner);
        poolId = credits.createPool(agentId, address(token), UNIT_PRICE, calls, STAKE, EXIT_DELAY);
    }

    /// `who` buys a deposit of `poolId` for `idCommitment` (minted and approved first).
    function depositAs(address who, uint256 poolId, uint256 idCommitment) internal returns (uint256 index) {
        uint256 amount = credits.pool(poolId).price + credits.pool(poolId).stake;
        token.faucet(who, amount);
        vm.prank(who);
        token.approve(address(credits), amount);
        vm.prank(who);
        index = credits.deposit(poolId, idCommitment);
    }

    /// Pool 1 with the fixture's two deposits: its exit tree (root `exitRootAfterTwo`) is the one
    /// the exit proof was made against.
    function fixturePool() internal returns (uint256 poolId) {
        poolId = createPool();
        require(poolId == 1, "the fixture's pool is pool 1");
        depositAs(buyer, poolId, fx(".first.idCommitment"));
        depositAs(buyer, poolId, fx(".member.idCommitment"));
    }

    /// A deposit's leaf in the exit tree, whatever the pool's calls: `T3(idCommitment, 1)`.
    function exitLeafOf(uint256 idCommitment) internal view returns (uint256) {
        return t3.hash([idCommitment, uint256(1)]);
    }

    function requestFixtureExit(uint256 poolId) internal {
        credits.requestExit(
            poolId, fx(".exit.root"), fx(".exit.nullifier"), fx(".exit.y"), fixtureReceiver(), fixtureProof()
        );
    }

    function slashCommitment(uint256 poolId, uint256 secret, address receiver, address slasher)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(poolId, secret, receiver, slasher));
    }

    /// `slasher` commits, a block passes, `slasher` reveals.
    function commitAndSlash(address slasher, uint256 poolId, uint256 secret, address receiver) internal {
        vm.prank(slasher);
        credits.commitSlash(slashCommitment(poolId, secret, receiver, slasher));
        vmz.roll(block.number + 1);
        vm.prank(slasher);
        credits.slash(poolId, secret, receiver);
    }

    /// The slot holding a pool's token, open stakes and pending exits.
    function poolBooksSlot(uint256 poolId) internal pure returns (bytes32) {
        return bytes32(uint256(keccak256(abi.encode(poolId, POOLS_SLOT))) + 2);
    }

    function treeSizeSlot(uint256 poolId) internal pure returns (bytes32) {
        return keccak256(abi.encode(poolId, TREES_SLOT));
    }

    /// The root of a depth-20 tree holding `leaves` (zeros after them), computed level by level.
    function referenceRoot(uint256[] memory leaves) internal view returns (uint256) {
        uint256[] memory nodes = leaves;
        for (uint256 level = 0; level < 20; level++) {
            uint256 n = (nodes.length + 1) / 2;
            uint256[] memory next = new uint256[](n);
            for (uint256 i = 0; i < n; i++) {
                uint256 left = nodes[2 * i];
                uint256 right = 2 * i + 1 < nodes.length ? nodes[2 * i + 1] : zeroHashes[level];
                next[i] = t3.hash([left, right]);
            }
            nodes = next;
        }
        return nodes.length == 0 ? zeroHashes[20] : nodes[0];
    }
}
