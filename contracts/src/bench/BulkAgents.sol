// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IERC721Receiver} from "@openzeppelin/contracts/token/ERC721/IERC721Receiver.sol";
import {IdentityRegistry} from "../IdentityRegistry.sol";
import {ReputationRegistry} from "../ReputationRegistry.sol";

/// @notice Benchmark helper (never deployed by `agora deploy`): registers many agents and leaves
/// many feedbacks per transaction, so the discovery index can be measured at scale.
contract BulkAgents is IERC721Receiver {
    /// @notice Registers `count` agents, owned by this contract; every `skillEvery`-th one
    /// advertises the skill `translation`.
    function registerMany(IdentityRegistry identity, uint256 count, uint256 skillEvery) external {
        for (uint256 i = 0; i < count; i++) {
            bool skilled = skillEvery != 0 && i % skillEvery == 0;
            identity.register(
                skilled
                    ? 'data:application/json,{"type":"https://eips.ethereum.org/EIPS/eip-8004#registration-v1","name":"bulk","description":"b","services":[{"name":"translation","endpoint":"x"}],"active":true}'
                    : 'data:application/json,{"type":"https://eips.ethereum.org/EIPS/eip-8004#registration-v1","name":"bulk","description":"b","services":[{"name":"OpenAI","endpoint":"x"}],"active":true}'
            );
        }
    }

    /// @notice Leaves `count` feedbacks spread over agents `firstAgent .. firstAgent + agents`.
    function feedbackMany(ReputationRegistry reputation, uint256 firstAgent, uint256 agents, uint256 count)
        external
    {
        for (uint256 i = 0; i < count; i++) {
            reputation.giveFeedback(
                firstAgent + (i % agents), int128(int256(i % 101)), 0, "starred", "", "", "", 0
            );
        }
    }

    function onERC721Received(address, address, uint256, bytes calldata) external pure returns (bytes4) {
        return IERC721Receiver.onERC721Received.selector;
    }
}
