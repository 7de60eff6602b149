// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {AgoraTest} from "./utils/AgoraTest.sol";
import {WalletProofs} from "./IdentityRegistry.t.sol";
import {IdentityRegistry} from "../src/IdentityRegistry.sol";
import {ReputationRegistry} from "../src/ReputationRegistry.sol";
import {IERC721Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";

contract ReputationRegistryTest is WalletProofs {
    IdentityRegistry internal identity;
    ReputationRegistry internal reputation;
    address internal agentOwner = address(0xA11CE);
    address internal alice = address(0xA1);
    address internal bob = address(0xB0);
    uint256 internal agent;

    function setUp() public {
        identity = new IdentityRegistry();
        reputation = new ReputationRegistry(identity);
        vm.prank(agentOwner);
        agent = identity.register("ipfs://agent");
        assertEq(agent, 0, "agent 0 is a real agent");
    }

    function give(address client, int128 value, uint8 decimals, string memory tag1) internal {
        vm.prank(client);
        reputation.giveFeedback(agent, value, decimals, tag1, "", "https://agent/v1", "", bytes32(0));
    }

    function clients(address a) internal pure returns (address[] memory list) {
        list = new address[](1);
        list[0] = a;
    }

    function clients(address a, address b) internal pure returns (address[] memory list) {
        list = new address[](2);
        list[0] = a;
        list[1] = b;
    }

    function test_feedback_is_stored_with_dense_indexes_from_one() public {
        vm.expectEmit(true, true, true, true);
        emit ReputationRegistry.NewFeedback(
            agent, alice, 1, 87, 0, "starred", "starred", "", "https://agent/v1", "", bytes32(0)
        );
        give(alice, 87, 0, "starred");
        give(alice, 9977, 2, "uptime");
        assertEq(reputation.getLastIndex(agent, alice), 2, "two feedbacks");
        (int128 value, uint8 decimals, string memory tag1,, bool revoked) =
            reputation.readFeedback(agent, alice, 2);
        assertEq(value, 9977, "value");
        assertEq(decimals, 2, "decimals");
        assertEq(tag1, "uptime", "tag");
        assertTrue(!revoked, "not revoked");
        assertEq(reputation.getClients(agent).length, 1, "one client");
        vm.expectRevert(abi.encodeWithSelector(ReputationRegistry.NoSuchFeedback.selector, agent, alice, 0));
        reputation.readFeedback(agent, alice, 0);
        vm.expectRevert(abi.encodeWithSelector(ReputationRegistry.NoSuchFeedback.selector, agent, alice, 3));
        reputation.readFeedback(agent, alice, 3);
    }

    function test_self_feedback_is_refused() public {
        vm.prank(agentOwner);
        vm.expectRevert(abi.encodeWithSelector(ReputationRegistry.SelfFeedback.selector, agentOwner, agent));
        reputation.giveFeedback(agent, 100, 0, "", "", "", "", bytes32(0));

        vm.prank(agentOwner);
        identity.setApprovalForAll(bob, true);
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(ReputationRegistry.SelfFeedback.selector, bob, agent));
        reputation.giveFeedback(agent, 100, 0, "", "", "", "", bytes32(0));
    }

    function test_feedback_from_the_agents_wallet_is_self_feedback() public {
        uint256 walletKey = 0xC0FFEE;
        address wallet = vm.addr(walletKey);
        uint256 deadline = block.timestamp + 60;
        bytes memory proof = walletProof(identity, walletKey, agent, deadline);
        vm.prank(agentOwner);
        identity.setAgentWallet(agent, wallet, deadline, proof);
        vm.prank(wallet);
        vm.expectRevert(abi.encodeWithSelector(ReputationRegistry.SelfFeedback.selector, wallet, agent));
        reputation.giveFeedback(agent, 100, 0, "", "", "", "", bytes32(0));

        // Once the agent is sold, its former owner is a stranger and may rate it.
        vm.prank(agentOwner);
        identity.transferFrom(agentOwner, bob, agent);
        give(agentOwner, 50, 0, "");
        assertEq(reputation.getLastIndex(agent, agentOwner), 1, "a stranger may rate");
    }

    function test_feedback_on_a_missing_agent_reverts() public {
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IERC721Errors.ERC721NonexistentToken.selector, 42));
        reputation.giveFeedback(42, 1, 0, "", "", "", "", bytes32(0));
    }

    function test_value_and_decimals_bounds() public {
        vm.startPrank(alice);
        vm.expectRevert(abi.encodeWithSelector(ReputationRegistry.TooManyDecimals.selector, 19));
        reputation.giveFeedback(agent, 1, 19, "", "", "", "", bytes32(0));
        int128 tooBig = 1e38 + 1;
        vm.expectRevert(abi.encodeWithSelector(ReputationRegistry.ValueOutOfRange.selector, tooBig));
        reputation.giveFeedback(agent, tooBig, 0, "", "", "", "", bytes32(0));
        vm.expectRevert(abi.encodeWithSelector(ReputationRegistry.ValueOutOfRange.selector, -tooBig));
        reputation.giveFeedback(agent, -tooBig, 0, "", "", "", "", bytes32(0));
        reputation.giveFeedback(agent, -1e38, 18, "", "", "", "", bytes32(0));
        vm.stopPrank();
    }

    function test_only_the_client_revokes_and_revoked_never_counts() public {
        give(alice, 100, 0, "starred");
        give(alice, 0, 0, "starred");
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(ReputationRegistry.NoSuchFeedback.selector, agent, bob, 1));
        reputation.revokeFeedback(agent, 1);
        vm.prank(alice);
        reputation.revokeFeedback(agent, 2);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(ReputationRegistry.AlreadyRevoked.selector, agent, alice, 2));
        reputation.revokeFeedback(agent, 2);
        (uint64 count, int128 value,) = reputation.getSummary(agent, clients(alice), "", "");
        assertEq(count, 1, "revoked excluded");
        assertEq(value, 100, "only the unrevoked value");
    }

    function test_summary_needs_clients_normalises_decimals_and_filters_tags() public {
        vm.expectRevert(ReputationRegistry.ClientAddressesRequired.selector);
        reputation.getSummary(agent, new address[](0), "", "");
        give(alice, 9000, 2, "uptime"); // 90.00
        give(bob, 80, 0, "uptime"); // 80
        give(bob, 7000, 2, "uptime"); // 70.00
        give(bob, 5, 0, "starred");
        (uint64 count, int128 value, uint8 decimals) =
            reputation.getSummary(agent, clients(alice, bob), "uptime", "");
        assertEq(count, 3, "three uptime feedbacks");
        assertEq(decimals, 2, "the most common decimals");
        assertEq(value, 8000, "average 80.00");
        (count,,) = reputation.getSummary(agent, clients(alice, bob), "", "");
        assertEq(count, 4, "empty tag is a wildcard");
        (count,,) = reputation.getSummary(agent, clients(alice), "starred", "");
        assertEq(count, 0, "alice gave no star");
        // Paged: the same sum in 18 decimals, in two pages.
        (uint64 c1, int256 s1) = reputation.getSummaryPage(agent, bob, "uptime", "", 1, 1);
        (uint64 c2, int256 s2) = reputation.getSummaryPage(agent, bob, "uptime", "", 2, 100);
        assertEq(c1 + c2, 2, "paged count");
        assertEq(s1 + s2, 150e18, "paged sum");
    }

    function test_responses_from_anyone_and_counts() public {
        give(alice, 10, 0, "");
        vm.prank(alice);
        reputation.revokeFeedback(agent, 1);
        vm.prank(agentOwner);
        reputation.appendResponse(agent, alice, 1, "ipfs://refund", keccak256("refund"));
        vm.prank(bob);
        reputation.appendResponse(agent, alice, 1, "ipfs://spam", bytes32(0));
        vm.prank(bob);
        reputation.appendResponse(agent, alice, 1, "ipfs://spam2", bytes32(0));
        vm.prank(bob);
        vm.expectRevert(ReputationRegistry.EmptyResponseURI.selector);
        reputation.appendResponse(agent, alice, 1, "", bytes32(0));
        vm.expectRevert(abi.encodeWithSelector(ReputationRegistry.NoSuchFeedback.selector, agent, alice, 2));
        reputation.appendResponse(agent, alice, 2, "x", bytes32(0));
        assertEq(reputation.getResponseCount(agent, alice, 1, new address[](0)), 3, "all responders");
        assertEq(reputation.getResponseCount(agent, address(0), 0, clients(bob)), 2, "bob's responses");
        assertEq(reputation.getResponseCount(agent, alice, 1, clients(agentOwner)), 1, "the agent's response");
    }

    function test_read_all_and_pages() public {
        give(alice, 1, 0, "a");
        give(bob, 2, 0, "b");
        give(bob, 3, 0, "a");
        vm.prank(bob);
        reputation.revokeFeedback(agent, 2);
        (address[] memory cs, uint64[] memory idx, int128[] memory vals,,,, bool[] memory revoked) =
            reputation.readAllFeedback(agent, new address[](0), "", "", true);
        assertEq(cs.length, 3, "all three");
        assertEq(idx[2], 2, "bob's second");
        assertTrue(revoked[2], "revoked shown");
        assertEq(vals[1], 2, "value");
        (cs,,,,,,) = reputation.readAllFeedback(agent, new address[](0), "a", "", false);
        assertEq(cs.length, 1, "tag a, not revoked");
        assertEq(reputation.readFeedbackPage(agent, bob, 2, 9).length, 1, "page clamps");
        assertEq(reputation.readFeedbackPage(agent, bob, 3, 9).length, 0, "empty page");
        assertEq(reputation.getClientsPage(agent, 1, 5)[0], bob, "client page");
        assertEq(reputation.getClientsPage(agent, 0, type(uint256).max).length, 2, "no overflow");
        assertEq(reputation.getClientsPage(agent, 2, 5).length, 0, "past the end");
    }

    function testFuzz_summary_of_one_feedback_is_its_value(int128 value, uint8 decimals) public {
        decimals = uint8(bound(decimals, 0, 18));
        value = int128(int256(bound(uint256(int256(value) < 0 ? -int256(value) : int256(value)), 0, 1e38)));
        give(alice, value, decimals, "");
        (uint64 count, int128 summary, uint8 summaryDecimals) =
            reputation.getSummary(agent, clients(alice), "", "");
        assertEq(count, 1, "one");
        assertEq(summary, value, "same value");
        assertEq(summaryDecimals, decimals, "same decimals");
    }
}

/// @dev Random feedback and revocations by a few clients, with a ghost ledger.
contract ReputationHandler is AgoraTest {
    ReputationRegistry public immutable reputation;
    uint256 public immutable agent;
    address[] public clientList;
    mapping(address => uint64) public given;
    mapping(address => mapping(uint64 => bool)) public revoked;
    int256 public ghostSumWad;
    uint64 public ghostLive;

    constructor(ReputationRegistry reputation_, uint256 agent_) {
        reputation = reputation_;
        agent = agent_;
        for (uint160 i = 1; i <= 3; i++) {
            clientList.push(address(0x1000 + i));
        }
    }

    function clientCount() external view returns (uint256) {
        return clientList.length;
    }

    function clients() external view returns (address[] memory) {
        return clientList;
    }

    function give(uint256 who, int128 value) external {
        address client = clientList[who % clientList.length];
        value = int128(int256(bound(uint256(uint128(value)), 0, 1000)));
        vm.prank(client);
        reputation.giveFeedback(agent, value, 0, "t", "", "", "", bytes32(0));
        given[client]++;
        ghostSumWad += int256(value) * 1e18;
        ghostLive++;
    }

    function revoke(uint256 who, uint64 index) external {
        address client = clientList[who % clientList.length];
        if (given[client] == 0) return;
        index = uint64(bound(index, 1, given[client]));
        if (revoked[client][index]) return;
        (int128 value,,,,) = reputation.readFeedback(agent, client, index);
        vm.prank(client);
        reputation.revokeFeedback(agent, index);
        revoked[client][index] = true;
        ghostSumWad -= int256(value) * 1e18;
        ghostLive--;
    }
}

contract ReputationInvariantTest is AgoraTest {
    IdentityRegistry internal identity;
    ReputationRegistry internal reputation;
    ReputationHandler internal handler;

    function setUp() public {
        identity = new IdentityRegistry();
        reputation = new ReputationRegistry(identity);
        vm.prank(address(0xA11CE));
        uint256 agent = identity.register("u");
        handler = new ReputationHandler(reputation, agent);
    }

    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    /// Indexes per client are dense from 1: the last index equals the number given, and every
    /// index up to it can be read.
    function invariant_feedback_indexes_are_dense_from_one() public view {
        for (uint256 i = 0; i < handler.clientCount(); i++) {
            address client = handler.clientList(i);
            uint64 last = reputation.getLastIndex(handler.agent(), client);
            assertEq(last, handler.given(client), "last index == feedback given");
            assertEq(
                reputation.readFeedbackPage(handler.agent(), client, 1, last).length, last, "all readable"
            );
        }
    }

    /// A revoked feedback never counts: the summary equals the ghost ledger of live feedback.
    function invariant_revoked_feedback_never_counts() public view {
        (uint64 count,,) = reputation.getSummary(handler.agent(), handler.clients(), "", "");
        assertEq(count, handler.ghostLive(), "live count");
        int256 sum;
        for (uint256 i = 0; i < handler.clientCount(); i++) {
            (, int256 s) =
                reputation.getSummaryPage(handler.agent(), handler.clientList(i), "", "", 1, type(uint64).max);
            sum += s;
        }
        assertEq(sum, handler.ghostSumWad(), "live sum");
    }
}
