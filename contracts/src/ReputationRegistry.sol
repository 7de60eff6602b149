// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IdentityRegistry} from "./IdentityRegistry.sol";

/// @title ReputationRegistry
/// @notice ERC-8004 v2 Reputation Registry: clients leave signed fixed-point feedback on agents,
/// may revoke it, and anyone may append responses. Signatures and events equal ERC-8004's.
/// Beyond the reference: feedback from the agent's own wallet counts as self-feedback too, and
/// every read that loops has a paginated variant (`*Page`) whose cost the caller bounds.
contract ReputationRegistry {
    struct Feedback {
        int128 value;
        uint8 valueDecimals;
        bool isRevoked;
        string tag1;
        string tag2;
    }

    /// @notice Largest absolute feedback value accepted.
    int128 public constant MAX_ABS_VALUE = 1e38;
    /// @notice Most decimals a value may have.
    uint8 public constant MAX_DECIMALS = 18;

    IdentityRegistry private immutable _identity;

    mapping(uint256 agentId => mapping(address client => mapping(uint64 index => Feedback))) private
        _feedback;
    mapping(uint256 agentId => mapping(address client => uint64)) private _lastIndex;
    mapping(uint256 agentId => address[]) private _clients;
    mapping(uint256 agentId => mapping(address client => bool)) private _isClient;
    mapping(uint256 agentId => mapping(address client => mapping(uint64 index => address[]))) private
        _responders;
    mapping(
        uint256 agentId => mapping(address client => mapping(uint64 index => mapping(address => uint64)))
    ) private _responseCount;

    event NewFeedback(
        uint256 indexed agentId,
        address indexed clientAddress,
        uint64 feedbackIndex,
        int128 value,
        uint8 valueDecimals,
        string indexed indexedTag1,
        string tag1,
        string tag2,
        string endpoint,
        string feedbackURI,
        bytes32 feedbackHash
    );
    event FeedbackRevoked(
        uint256 indexed agentId, address indexed clientAddress, uint64 indexed feedbackIndex
    );
    event ResponseAppended(
        uint256 indexed agentId,
        address indexed clientAddress,
        uint64 feedbackIndex,
        address indexed responder,
        string responseURI,
        bytes32 responseHash
    );

    error SelfFeedback(address caller, uint256 agentId);
    error ValueOutOfRange(int128 value);
    error TooManyDecimals(uint8 valueDecimals);
    error NoSuchFeedback(uint256 agentId, address client, uint64 feedbackIndex);
    error AlreadyRevoked(uint256 agentId, address client, uint64 feedbackIndex);
    error EmptyResponseURI();
    error ClientAddressesRequired();

    constructor(IdentityRegistry identity_) {
        _identity = identity_;
    }

    function getIdentityRegistry() external view returns (address) {
        return address(_identity);
    }

    function getVersion() external pure returns (string memory) {
        return "2.0.0";
    }

    /// @notice Leaves feedback on an agent. Refused from the agent's owner, operators, approved
    /// address or wallet; reverts for an agent that does not exist.
    function giveFeedback(
        uint256 agentId,
        int128 value,
        uint8 valueDecimals,
        string calldata tag1,
        string calldata tag2,
        string calldata endpoint,
        string calldata feedbackURI,
        bytes32 feedbackHash
    ) external {
        _giveFeedback(
            agentId, NewFeedbackInput(value, valueDecimals, tag1, tag2, endpoint, feedbackURI, feedbackHash)
        );
    }

    /// @dev The arguments of `giveFeedback`, in memory: emitting them straight from calldata
    /// needs more stack slots than the EVM has.
    struct NewFeedbackInput {
        int128 value;
        uint8 valueDecimals;
        string tag1;
        string tag2;
        string endpoint;
        string feedbackURI;
        bytes32 feedbackHash;
    }

    function _giveFeedback(uint256 agentId, NewFeedbackInput memory input) private {
        if (input.valueDecimals > MAX_DECIMALS) revert TooManyDecimals(input.valueDecimals);
        if (input.value > MAX_ABS_VALUE || input.value < -MAX_ABS_VALUE) revert ValueOutOfRange(input.value);
        if (
            _identity.isAuthorizedOrOwner(msg.sender, agentId)
                || _identity.getAgentWallet(agentId) == msg.sender
        ) {
            revert SelfFeedback(msg.sender, agentId);
        }
        uint64 index = ++_lastIndex[agentId][msg.sender];
        _feedback[agentId][msg.sender][index] =
            Feedback(input.value, input.valueDecimals, false, input.tag1, input.tag2);
        if (!_isClient[agentId][msg.sender]) {
            _isClient[agentId][msg.sender] = true;
            _clients[agentId].push(msg.sender);
        }
        emit NewFeedback(
            agentId,
            msg.sender,
            index,
            input.value,
            input.valueDecimals,
            input.tag1,
            input.tag1,
            input.tag2,
            input.endpoint,
            input.feedbackURI,
            input.feedbackHash
        );
    }

    /// @notice Revokes one's own feedback. A revoked feedback never counts in a summary.
    function revokeFeedback(uint256 agentId, uint64 feedbackIndex) external {
        Feedback storage f = _existing(agentId, msg.sender, feedbackIndex);
        if (f.isRevoked) revert AlreadyRevoked(agentId, msg.sender, feedbackIndex);
        f.isRevoked = true;
        emit FeedbackRevoked(agentId, msg.sender, feedbackIndex);
    }

    /// @notice Appends a response (from anyone: the agent, an auditor, a spam tagger) to a feedback.
    function appendResponse(
        uint256 agentId,
        address clientAddress,
        uint64 feedbackIndex,
        string calldata responseURI,
        bytes32 responseHash
    ) external {
        _existing(agentId, clientAddress, feedbackIndex);
        if (bytes(responseURI).length == 0) revert EmptyResponseURI();
        if (_responseCount[agentId][clientAddress][feedbackIndex][msg.sender]++ == 0) {
            _responders[agentId][clientAddress][feedbackIndex].push(msg.sender);
        }
        emit ResponseAppended(agentId, clientAddress, feedbackIndex, msg.sender, responseURI, responseHash);
    }

    /// @notice Average of the non-revoked feedback from `clientAddresses` (required: the reader
    /// chooses whom to trust), filtered by tags (empty = any). Values are normalised to 18
    /// decimals, averaged, and returned with the most common decimals among them.
    function getSummary(
        uint256 agentId,
        address[] calldata clientAddresses,
        string calldata tag1,
        string calldata tag2
    ) external view returns (uint64 count, int128 summaryValue, uint8 summaryValueDecimals) {
        if (clientAddresses.length == 0) revert ClientAddressesRequired();
        return _summary(agentId, clientAddresses, _filter(tag1, tag2));
    }

    function _summary(uint256 agentId, address[] calldata clients, TagFilter memory filter)
        private
        view
        returns (uint64, int128, uint8)
    {
        Tally memory tally;
        for (uint256 c = 0; c < clients.length; c++) {
            _accumulate(agentId, clients[c], 1, _lastIndex[agentId][clients[c]], filter, tally);
        }
        return _finish(tally);
    }

    /// @dev A running count, sum (in 18 decimals) and histogram of decimals.
    struct Tally {
        uint64 count;
        int256 sumWad;
        uint64[19] decimalsSeen;
    }

    /// @notice Paginated summary over one client's feedback indexes `fromIndex ..= toIndex`:
    /// the count and the sum normalised to 18 decimals, for the caller to add up across pages.
    function getSummaryPage(
        uint256 agentId,
        address clientAddress,
        string calldata tag1,
        string calldata tag2,
        uint64 fromIndex,
        uint64 toIndex
    ) external view returns (uint64 count, int256 sumWad) {
        uint64 last = _lastIndex[agentId][clientAddress];
        if (toIndex > last) toIndex = last;
        if (fromIndex == 0) fromIndex = 1;
        Tally memory tally;
        _accumulate(agentId, clientAddress, fromIndex, toIndex, _filter(tag1, tag2), tally);
        return (tally.count, tally.sumWad);
    }

    function readFeedback(uint256 agentId, address clientAddress, uint64 feedbackIndex)
        external
        view
        returns (int128 value, uint8 valueDecimals, string memory tag1, string memory tag2, bool isRevoked)
    {
        Feedback storage f = _existing(agentId, clientAddress, feedbackIndex);
        return (f.value, f.valueDecimals, f.tag1, f.tag2, f.isRevoked);
    }

    /// @notice Every feedback from `clientAddresses` (all clients when empty: unbounded, prefer
    /// `readFeedbackPage`) matching the tags.
    function readAllFeedback(
        uint256 agentId,
        address[] memory clientAddresses,
        string memory tag1,
        string memory tag2,
        bool includeRevoked
    )
        external
        view
        returns (
            address[] memory clients,
            uint64[] memory feedbackIndexes,
            int128[] memory values,
            uint8[] memory valueDecimals,
            string[] memory tag1s,
            string[] memory tag2s,
            bool[] memory revokedStatuses
        )
    {
        // Memory (not calldata) arguments take one stack slot each: seven returned arrays and the
        // arguments would not fit the reachable stack otherwise.
        FeedbackList memory list = _readAll(agentId, clientAddresses, _filter(tag1, tag2), includeRevoked);
        return (
            list.clients,
            list.feedbackIndexes,
            list.values,
            list.valueDecimals,
            list.tag1s,
            list.tag2s,
            list.revokedStatuses
        );
    }

    struct FeedbackList {
        address[] clients;
        uint64[] feedbackIndexes;
        int128[] values;
        uint8[] valueDecimals;
        string[] tag1s;
        string[] tag2s;
        bool[] revokedStatuses;
    }

    function _readAll(
        uint256 agentId,
        address[] memory clientAddresses,
        TagFilter memory filter,
        bool includeRevoked
    ) private view returns (FeedbackList memory list) {
        address[] memory from = clientAddresses;
        if (from.length == 0) from = _clients[agentId];
        uint256 total;
        for (uint256 c = 0; c < from.length; c++) {
            total += _lastIndex[agentId][from[c]];
        }
        list = FeedbackList(
            new address[](total),
            new uint64[](total),
            new int128[](total),
            new uint8[](total),
            new string[](total),
            new string[](total),
            new bool[](total)
        );
        uint256 n;
        for (uint256 c = 0; c < from.length; c++) {
            uint64 last = _lastIndex[agentId][from[c]];
            for (uint64 i = 1; i <= last; i++) {
                Feedback storage f = _feedback[agentId][from[c]][i];
                if ((f.isRevoked && !includeRevoked) || !_tagsMatch(f, filter)) continue;
                list.clients[n] = from[c];
                list.feedbackIndexes[n] = i;
                list.values[n] = f.value;
                list.valueDecimals[n] = f.valueDecimals;
                list.tag1s[n] = f.tag1;
                list.tag2s[n] = f.tag2;
                list.revokedStatuses[n] = f.isRevoked;
                n++;
            }
        }
        address[] memory clients = list.clients;
        uint64[] memory indexes = list.feedbackIndexes;
        int128[] memory values = list.values;
        uint8[] memory decimals = list.valueDecimals;
        string[] memory tag1s = list.tag1s;
        string[] memory tag2s = list.tag2s;
        bool[] memory revoked = list.revokedStatuses;
        assembly ("memory-safe") {
            mstore(clients, n)
            mstore(indexes, n)
            mstore(values, n)
            mstore(decimals, n)
            mstore(tag1s, n)
            mstore(tag2s, n)
            mstore(revoked, n)
        }
    }

    /// @notice One client's feedback, indexes `fromIndex ..= toIndex` (clamped to what exists).
    function readFeedbackPage(uint256 agentId, address clientAddress, uint64 fromIndex, uint64 toIndex)
        external
        view
        returns (Feedback[] memory page)
    {
        uint64 last = _lastIndex[agentId][clientAddress];
        if (fromIndex == 0) fromIndex = 1;
        if (toIndex > last) toIndex = last;
        if (fromIndex > toIndex) return new Feedback[](0);
        page = new Feedback[](toIndex - fromIndex + 1);
        for (uint64 i = fromIndex; i <= toIndex; i++) {
            page[i - fromIndex] = _feedback[agentId][clientAddress][i];
        }
    }

    /// @notice Responses to feedback. `clientAddress` zero: every client; `feedbackIndex` 0: every
    /// index; `responders` empty: every responder.
    function getResponseCount(
        uint256 agentId,
        address clientAddress,
        uint64 feedbackIndex,
        address[] calldata responders
    ) external view returns (uint64 count) {
        address[] memory clients = clientAddress == address(0) ? _clients[agentId] : _one(clientAddress);
        for (uint256 c = 0; c < clients.length; c++) {
            uint64 first = feedbackIndex == 0 ? 1 : feedbackIndex;
            uint64 last = feedbackIndex == 0 ? _lastIndex[agentId][clients[c]] : feedbackIndex;
            for (uint64 i = first; i <= last; i++) {
                if (responders.length == 0) {
                    address[] storage all = _responders[agentId][clients[c]][i];
                    for (uint256 r = 0; r < all.length; r++) {
                        count += _responseCount[agentId][clients[c]][i][all[r]];
                    }
                } else {
                    for (uint256 r = 0; r < responders.length; r++) {
                        count += _responseCount[agentId][clients[c]][i][responders[r]];
                    }
                }
            }
        }
    }

    function getClients(uint256 agentId) external view returns (address[] memory) {
        return _clients[agentId];
    }

    function getClientCount(uint256 agentId) external view returns (uint256) {
        return _clients[agentId].length;
    }

    /// @notice Clients `offset .. offset + limit` in order of first feedback.
    function getClientsPage(uint256 agentId, uint256 offset, uint256 limit)
        external
        view
        returns (address[] memory page)
    {
        address[] storage all = _clients[agentId];
        if (offset >= all.length) return new address[](0);
        uint256 end = limit > all.length - offset ? all.length : offset + limit;
        page = new address[](end - offset);
        for (uint256 i = offset; i < end; i++) {
            page[i - offset] = all[i];
        }
    }

    function getLastIndex(uint256 agentId, address clientAddress) external view returns (uint64) {
        return _lastIndex[agentId][clientAddress];
    }

    function _existing(uint256 agentId, address client, uint64 index)
        private
        view
        returns (Feedback storage)
    {
        if (index == 0 || index > _lastIndex[agentId][client]) {
            revert NoSuchFeedback(agentId, client, index);
        }
        return _feedback[agentId][client][index];
    }

    /// @dev Tag filters as hashes; an empty tag matches anything.
    struct TagFilter {
        bool any1;
        bytes32 tag1;
        bool any2;
        bytes32 tag2;
    }

    function _filter(string memory tag1, string memory tag2) private pure returns (TagFilter memory) {
        return TagFilter(
            bytes(tag1).length == 0, keccak256(bytes(tag1)), bytes(tag2).length == 0, keccak256(bytes(tag2))
        );
    }

    function _tagsMatch(Feedback storage f, TagFilter memory filter) private view returns (bool) {
        return (filter.any1 || keccak256(bytes(f.tag1)) == filter.tag1)
            && (filter.any2 || keccak256(bytes(f.tag2)) == filter.tag2);
    }

    function _accumulate(
        uint256 agentId,
        address client,
        uint64 fromIndex,
        uint64 toIndex,
        TagFilter memory filter,
        Tally memory tally
    ) private view {
        for (uint64 i = fromIndex; i <= toIndex; i++) {
            Feedback storage f = _feedback[agentId][client][i];
            if (f.isRevoked || !_tagsMatch(f, filter)) continue;
            tally.count++;
            tally.sumWad += int256(f.value) * int256(10 ** (18 - f.valueDecimals));
            tally.decimalsSeen[f.valueDecimals]++;
        }
    }

    function _finish(Tally memory tally) private pure returns (uint64, int128, uint8) {
        if (tally.count == 0) return (0, 0, 0);
        uint8 mode;
        for (uint8 d = 1; d <= MAX_DECIMALS; d++) {
            if (tally.decimalsSeen[d] > tally.decimalsSeen[mode]) mode = d;
        }
        int256 average = tally.sumWad / int256(uint256(tally.count));
        return (tally.count, int128(average / int256(10 ** (18 - mode))), mode);
    }

    function _one(address a) private pure returns (address[] memory list) {
        list = new address[](1);
        list[0] = a;
    }
}
