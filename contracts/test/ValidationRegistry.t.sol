// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {AgoraTest} from "./utils/AgoraTest.sol";
import {IdentityRegistry} from "../src/IdentityRegistry.sol";
import {ValidationRegistry} from "../src/ValidationRegistry.sol";

contract ValidationRegistryTest is AgoraTest {
    IdentityRegistry internal identity;
    ValidationRegistry internal validation;
    address internal agentOwner = address(0xA11CE);
    address internal validator = address(0x7A1);
    address internal other = address(0x0BE);
    uint256 internal agent;
    bytes32 internal constant REQ = keccak256("request file");

    function setUp() public {
        vm.warp(1_700_000_000);
        identity = new IdentityRegistry();
        validation = new ValidationRegistry(identity);
        vm.prank(agentOwner);
        agent = identity.register("u");
    }

    function request(bytes32 hash) internal {
        vm.prank(agentOwner);
        validation.validationRequest(validator, agent, "ipfs://req", hash);
    }

    function test_request_and_response() public {
        request(REQ);
        (address v, uint256 a, uint8 response,, string memory tag, uint256 updated) =
            validation.getValidationStatus(REQ);
        assertEq(v, validator, "validator");
        assertEq(a, agent, "agent");
        assertEq(response, 0, "unanswered");
        assertEq(updated, block.timestamp, "time");
        assertTrue(!validation.hasResponse(REQ), "no response yet");
        vm.warp(block.timestamp + 10);
        vm.prank(validator);
        validation.validationResponse(REQ, 100, "ipfs://evidence", keccak256("evidence"), "reexecution");
        (,, response,, tag, updated) = validation.getValidationStatus(REQ);
        assertEq(response, 100, "passed");
        assertEq(tag, "reexecution", "tag");
        assertEq(updated, block.timestamp, "updated");
        // A later answer replaces the earlier one.
        vm.prank(validator);
        validation.validationResponse(REQ, 40, "", bytes32(0), "hard-finality");
        (,, response,,,) = validation.getValidationStatus(REQ);
        assertEq(response, 40, "overwritten");
        assertEq(validation.getAgentValidations(agent)[0], REQ, "listed for the agent");
        assertEq(validation.getValidatorRequests(validator)[0], REQ, "listed for the validator");
    }

    function test_request_rules() public {
        vm.prank(other);
        vm.expectRevert(abi.encodeWithSelector(ValidationRegistry.NotAuthorized.selector, other, agent));
        validation.validationRequest(validator, agent, "", REQ);
        vm.prank(agentOwner);
        vm.expectRevert(ValidationRegistry.ZeroValidator.selector);
        validation.validationRequest(address(0), agent, "", REQ);
        request(REQ);
        vm.prank(agentOwner);
        vm.expectRevert(abi.encodeWithSelector(ValidationRegistry.RequestExists.selector, REQ));
        validation.validationRequest(validator, agent, "", REQ);
    }

    function test_self_validation_is_refused() public {
        vm.startPrank(agentOwner);
        vm.expectRevert(abi.encodeWithSelector(ValidationRegistry.SelfValidation.selector, agentOwner, agent));
        validation.validationRequest(agentOwner, agent, "", REQ);
        identity.setApprovalForAll(other, true);
        vm.expectRevert(abi.encodeWithSelector(ValidationRegistry.SelfValidation.selector, other, agent));
        validation.validationRequest(other, agent, "", REQ);
        identity.approve(validator, agent);
        vm.expectRevert(abi.encodeWithSelector(ValidationRegistry.SelfValidation.selector, validator, agent));
        validation.validationRequest(validator, agent, "", REQ);
        vm.stopPrank();
    }

    function test_response_rules() public {
        vm.expectRevert(abi.encodeWithSelector(ValidationRegistry.UnknownRequest.selector, REQ));
        validation.validationResponse(REQ, 1, "", bytes32(0), "");
        request(REQ);
        vm.prank(other);
        vm.expectRevert(abi.encodeWithSelector(ValidationRegistry.NotTheValidator.selector, other, validator));
        validation.validationResponse(REQ, 1, "", bytes32(0), "");
        vm.prank(validator);
        vm.expectRevert(abi.encodeWithSelector(ValidationRegistry.ResponseOutOfRange.selector, 101));
        validation.validationResponse(REQ, 101, "", bytes32(0), "");
    }

    function test_summary_counts_answered_requests_with_filters_and_pages() public {
        for (uint256 i = 0; i < 4; i++) {
            request(bytes32(i + 1));
        }
        vm.startPrank(validator);
        validation.validationResponse(bytes32(uint256(1)), 100, "", bytes32(0), "a");
        validation.validationResponse(bytes32(uint256(2)), 50, "", bytes32(0), "b");
        validation.validationResponse(bytes32(uint256(3)), 0, "", bytes32(0), "a");
        vm.stopPrank();
        (uint64 count, uint8 avg) = validation.getSummary(agent, new address[](0), "");
        assertEq(count, 3, "unanswered excluded");
        assertEq(avg, 50, "average");
        (count, avg) = validation.getSummary(agent, new address[](0), "a");
        assertEq(count, 2, "tag a");
        assertEq(avg, 50, "tag a average");
        address[] memory only = new address[](1);
        only[0] = other;
        (count,) = validation.getSummary(agent, only, "");
        assertEq(count, 0, "filtered by validator");
        (uint64 c1, uint256 s1) = validation.getSummaryPage(agent, new address[](0), "", 0, 2);
        (uint64 c2, uint256 s2) = validation.getSummaryPage(agent, new address[](0), "", 2, type(uint256).max);
        assertEq(c1 + c2, 3, "paged count");
        assertEq(s1 + s2, 150, "paged sum");
        assertEq(validation.getAgentValidationsPage(agent, 1, 2).length, 2, "page");
        assertEq(validation.getAgentValidationsPage(agent, 9, 2).length, 0, "past the end");
        assertEq(validation.getValidatorRequestsPage(validator, 3, 10).length, 1, "clamped");
    }

    function testFuzz_any_response_up_to_100_is_kept(uint8 response) public {
        request(REQ);
        vm.prank(validator);
        if (response > 100) {
            vm.expectRevert(abi.encodeWithSelector(ValidationRegistry.ResponseOutOfRange.selector, response));
            validation.validationResponse(REQ, response, "", bytes32(0), "");
        } else {
            validation.validationResponse(REQ, response, "", bytes32(0), "");
            (,, uint8 stored,,,) = validation.getValidationStatus(REQ);
            assertEq(stored, response, "stored");
        }
    }
}
