// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IdentityRegistry} from "./IdentityRegistry.sol";

/// @title ValidationRegistry
/// @notice ERC-8004 v2 Validation Registry: an agent's owner asks one named validator to check a
/// piece of work (committed by `requestHash`, the keccak256 of the request file), and the
/// validator answers 0 (fail) to 100 (pass), possibly several times. Signatures and events equal
/// ERC-8004's. Beyond the reference: a validator may not be the agent's owner, operator, approved
/// address or wallet (no self-validation), and every list read has a paginated variant.
contract ValidationRegistry {
    struct Validation {
        address validatorAddress;
        uint256 agentId;
        uint8 response;
        bytes32 responseHash;
        string tag;
        uint256 lastUpdate;
        bool hasResponse;
    }

    IdentityRegistry private immutable _identity;
    mapping(bytes32 requestHash => Validation) private _validations;
    mapping(uint256 agentId => bytes32[]) private _agentValidations;
    mapping(address validator => bytes32[]) private _validatorRequests;

    event ValidationRequest(
        address indexed validatorAddress,
        uint256 indexed agentId,
        string requestURI,
        bytes32 indexed requestHash
    );
    event ValidationResponse(
        address indexed validatorAddress,
        uint256 indexed agentId,
        bytes32 indexed requestHash,
        uint8 response,
        string responseURI,
        bytes32 responseHash,
        string tag
    );

    error NotAuthorized(address caller, uint256 agentId);
    error ZeroValidator();
    error SelfValidation(address validator, uint256 agentId);
    error RequestExists(bytes32 requestHash);
    error UnknownRequest(bytes32 requestHash);
    error NotTheValidator(address caller, address validator);
    error ResponseOutOfRange(uint8 response);

    constructor(IdentityRegistry identity_) {
        _identity = identity_;
    }

    function getIdentityRegistry() external view returns (address) {
        return address(_identity);
    }

    function getVersion() external pure returns (string memory) {
        return "2.0.0";
    }

    /// @notice Asks `validatorAddress` to validate work of `agentId`; only the agent's owner,
    /// operators or approved address may ask.
    function validationRequest(
        address validatorAddress,
        uint256 agentId,
        string calldata requestURI,
        bytes32 requestHash
    ) external {
        if (!_identity.isAuthorizedOrOwner(msg.sender, agentId)) {
            revert NotAuthorized(msg.sender, agentId);
        }
        if (validatorAddress == address(0)) revert ZeroValidator();
        if (
            _identity.isAuthorizedOrOwner(validatorAddress, agentId)
                || _identity.getAgentWallet(agentId) == validatorAddress
        ) revert SelfValidation(validatorAddress, agentId);
        if (_validations[requestHash].validatorAddress != address(0)) revert RequestExists(requestHash);
        _validations[requestHash] =
            Validation(validatorAddress, agentId, 0, bytes32(0), "", block.timestamp, false);
        _agentValidations[agentId].push(requestHash);
        _validatorRequests[validatorAddress].push(requestHash);
        emit ValidationRequest(validatorAddress, agentId, requestURI, requestHash);
    }

    /// @notice The named validator's answer, 0..100; a later answer replaces an earlier one.
    function validationResponse(
        bytes32 requestHash,
        uint8 response,
        string calldata responseURI,
        bytes32 responseHash,
        string calldata tag
    ) external {
        Validation storage v = _validations[requestHash];
        if (v.validatorAddress == address(0)) revert UnknownRequest(requestHash);
        if (msg.sender != v.validatorAddress) revert NotTheValidator(msg.sender, v.validatorAddress);
        if (response > 100) revert ResponseOutOfRange(response);
        v.response = response;
        v.responseHash = responseHash;
        v.tag = tag;
        v.lastUpdate = block.timestamp;
        v.hasResponse = true;
        emit ValidationResponse(
            v.validatorAddress, v.agentId, requestHash, response, responseURI, responseHash, tag
        );
    }

    function getValidationStatus(bytes32 requestHash)
        external
        view
        returns (
            address validatorAddress,
            uint256 agentId,
            uint8 response,
            bytes32 responseHash,
            string memory tag,
            uint256 lastUpdate
        )
    {
        Validation storage v = _validations[requestHash];
        if (v.validatorAddress == address(0)) revert UnknownRequest(requestHash);
        return (v.validatorAddress, v.agentId, v.response, v.responseHash, v.tag, v.lastUpdate);
    }

    /// @notice Whether the request has been answered at least once.
    function hasResponse(bytes32 requestHash) external view returns (bool) {
        return _validations[requestHash].hasResponse;
    }

    /// @notice Count and average of the answered validations of `agentId`, from
    /// `validatorAddresses` (any when empty) with `tag` (any when empty).
    function getSummary(uint256 agentId, address[] memory validatorAddresses, string memory tag)
        external
        view
        returns (uint64 count, uint8 averageResponse)
    {
        uint256 sum;
        (count, sum) = _tally(agentId, validatorAddresses, tag, 0, type(uint256).max);
        averageResponse = count == 0 ? 0 : uint8(sum / count);
    }

    /// @notice `getSummary` over the agent's requests `offset .. offset + limit`: the count and
    /// the sum of responses, for the caller to add up across pages.
    function getSummaryPage(
        uint256 agentId,
        address[] memory validatorAddresses,
        string memory tag,
        uint256 offset,
        uint256 limit
    ) external view returns (uint64 count, uint256 sum) {
        return _tally(agentId, validatorAddresses, tag, offset, limit);
    }

    function getAgentValidations(uint256 agentId) external view returns (bytes32[] memory) {
        return _agentValidations[agentId];
    }

    function getValidatorRequests(address validatorAddress) external view returns (bytes32[] memory) {
        return _validatorRequests[validatorAddress];
    }

    function getAgentValidationCount(uint256 agentId) external view returns (uint256) {
        return _agentValidations[agentId].length;
    }

    function getAgentValidationsPage(uint256 agentId, uint256 offset, uint256 limit)
        external
        view
        returns (bytes32[] memory)
    {
        return _page(_agentValidations[agentId], offset, limit);
    }

    function getValidatorRequestsPage(address validatorAddress, uint256 offset, uint256 limit)
        external
        view
        returns (bytes32[] memory)
    {
        return _page(_validatorRequests[validatorAddress], offset, limit);
    }

    function _tally(
        uint256 agentId,
        address[] memory validators,
        string memory tag,
        uint256 offset,
        uint256 limit
    ) private view returns (uint64 count, uint256 sum) {
        bytes32[] storage hashes = _agentValidations[agentId];
        if (offset >= hashes.length) return (0, 0);
        uint256 end = limit > hashes.length - offset ? hashes.length : offset + limit;
        bool anyTag = bytes(tag).length == 0;
        bytes32 tagHash = keccak256(bytes(tag));
        for (uint256 i = offset; i < end; i++) {
            Validation storage v = _validations[hashes[i]];
            if (!v.hasResponse) continue;
            if (!anyTag && keccak256(bytes(v.tag)) != tagHash) continue;
            if (validators.length != 0 && !_contains(validators, v.validatorAddress)) continue;
            count++;
            sum += v.response;
        }
    }

    function _contains(address[] memory list, address a) private pure returns (bool) {
        for (uint256 i = 0; i < list.length; i++) {
            if (list[i] == a) return true;
        }
        return false;
    }

    function _page(bytes32[] storage all, uint256 offset, uint256 limit)
        private
        view
        returns (bytes32[] memory page)
    {
        if (offset >= all.length) return new bytes32[](0);
        uint256 end = limit > all.length - offset ? all.length : offset + limit;
        page = new bytes32[](end - offset);
        for (uint256 i = offset; i < end; i++) {
            page[i - offset] = all[i];
        }
    }
}
