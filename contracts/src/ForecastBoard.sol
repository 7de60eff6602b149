// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {ConditionalTokens} from "./ConditionalTokens.sol";
import {IdentityRegistry} from "./IdentityRegistry.sol";
import {LmsrMarketMaker} from "./LmsrMarketMaker.sol";

/// @title ForecastBoard
/// @notice Public, timestamped forecasts of the binary markets of an `LmsrMarketMaker`, published
/// by ERC-8004 agents: "agent `agentId` gives outcome 0 (yes) of market `marketId` a probability
/// of `probabilityPpm` parts per million", with `reasoning`, the hash of the forecaster's
/// off-chain record (the model answers, with their receipts).
///
/// - Forecasts are public and immutable (one per agent per market, never overwritten), so that
///   someone other than the trader can rate them: once the market's condition is resolved, any
///   scorer reads the forecasts, computes each agent's Brier score and may publish it as ERC-8004
///   reputation feedback.
/// - A forecast only says something if it was made before the answer was known. The board
///   refuses forecasts on conditions already resolved, and nothing more: a scorer should only
///   count forecasts published before the answer became known, i.e. before the optimistic
///   resolver's first assertion of the question, or before the block a `ChainFacts` question is
///   about. Every forecast records its block number and timestamp for that purpose.
/// - The caller must be the agent's owner, an operator of the owner, approved for the agent
///   (`IdentityRegistry.isAuthorizedOrOwner`), or the agent's own wallet (ERC-8004's
///   `agentWallet`, the address the agent acts with); the forecast records which address
///   published it.
contract ForecastBoard {
    /// @notice The largest probability: 1 000 000 ppm = certainty.
    uint32 public constant PPM = 1_000_000;

    /// @notice A published forecast.
    struct Forecast {
        /// The probability of outcome 0 ("yes"), in parts per million (0 to 1 000 000).
        uint32 probabilityPpm;
        /// The block and time it was published in.
        uint64 blockNumber;
        uint64 timestamp;
        /// The address that published it (the agent's owner or an operator).
        address forecaster;
        /// The hash of the forecaster's off-chain record.
        bytes32 reasoning;
    }

    /// @notice The ERC-8004 identity registry of the agents.
    IdentityRegistry public immutable identity;
    /// @notice The market maker whose markets are forecast.
    LmsrMarketMaker public immutable maker;
    /// @notice The conditional tokens of the maker's markets.
    ConditionalTokens public immutable ctf;

    mapping(uint256 marketId => mapping(uint256 agentId => Forecast)) private _forecasts;
    mapping(uint256 marketId => uint256[] agentIds) private _forecasters;

    /// @notice Agent `agentId` forecast market `marketId`, through `forecaster`.
    event ForecastPublished(
        uint256 indexed marketId,
        uint256 indexed agentId,
        address indexed forecaster,
        uint32 probabilityPpm,
        bytes32 reasoning
    );

    /// @notice `maker` trades on other conditional tokens than `ctf`.
    error WrongConditionalTokens(address ctf, address makerCtf);
    /// @notice The caller may not act for the agent, or the agent does not exist.
    error NotAgent(address caller, uint256 agentId);
    /// @notice The maker has no such market.
    error UnknownMarket(uint256 marketId);
    /// @notice The market does not have exactly two outcomes.
    error NotBinary(uint256 marketId, uint256 outcomes);
    /// @notice The market's condition is resolved already.
    error AlreadyResolved(uint256 marketId);
    /// @notice The probability is above 1 000 000 ppm.
    error BadProbability(uint32 probabilityPpm);
    /// @notice The agent forecast the market already.
    error AlreadyForecast(uint256 marketId, uint256 agentId);

    /// @param identity_ The ERC-8004 identity registry.
    /// @param maker_ The market maker.
    /// @param ctf_ The maker's conditional tokens.
    constructor(IdentityRegistry identity_, LmsrMarketMaker maker_, ConditionalTokens ctf_) {
        address makerCtf = address(maker_.ctf());
        if (makerCtf != address(ctf_)) revert WrongConditionalTokens(address(ctf_), makerCtf);
        identity = identity_;
        maker = maker_;
        ctf = ctf_;
    }

    /// @notice Publishes agent `agentId`'s forecast of market `marketId` (binary, unresolved):
    /// outcome 0 has probability `probabilityPpm` (ppm); `reasoning` hashes the off-chain record.
    /// Once per agent and market; the caller must be authorized for the agent.
    function publish(uint256 marketId, uint256 agentId, uint32 probabilityPpm, bytes32 reasoning) external {
        if (!_authorized(msg.sender, agentId)) revert NotAgent(msg.sender, agentId);
        if (marketId >= maker.marketCount()) revert UnknownMarket(marketId);
        bytes32 conditionId = maker.market(marketId).conditionId;
        uint256 outcomes = ctf.getOutcomeSlotCount(conditionId);
        if (outcomes != 2) revert NotBinary(marketId, outcomes);
        if (ctf.payoutDenominator(conditionId) != 0) revert AlreadyResolved(marketId);
        if (probabilityPpm > PPM) revert BadProbability(probabilityPpm);
        Forecast storage f = _forecasts[marketId][agentId];
        if (f.forecaster != address(0)) revert AlreadyForecast(marketId, agentId);
        f.probabilityPpm = probabilityPpm;
        // Block numbers and timestamps fit 64 bits for billions of years.
        // forge-lint: disable-next-line(unsafe-typecast)
        f.blockNumber = uint64(block.number);
        // forge-lint: disable-next-line(unsafe-typecast)
        f.timestamp = uint64(block.timestamp);
        f.forecaster = msg.sender;
        f.reasoning = reasoning;
        _forecasters[marketId].push(agentId);
        emit ForecastPublished(marketId, agentId, msg.sender, probabilityPpm, reasoning);
    }

    // ---- views ----

    /// @notice Agent `agentId`'s forecast of market `marketId` (all zero if none).
    function forecastOf(uint256 marketId, uint256 agentId) external view returns (Forecast memory) {
        return _forecasts[marketId][agentId];
    }

    /// @notice Whether agent `agentId` forecast market `marketId`.
    function hasForecast(uint256 marketId, uint256 agentId) external view returns (bool) {
        return _forecasts[marketId][agentId].forecaster != address(0);
    }

    /// @notice The agents that forecast market `marketId`, in publication order.
    function forecastersOf(uint256 marketId) external view returns (uint256[] memory agentIds) {
        return _forecasters[marketId];
    }

    /// @notice The number of forecasts of market `marketId`.
    function forecastCount(uint256 marketId) external view returns (uint256) {
        return _forecasters[marketId].length;
    }

    // ---- internals ----

    /// @dev `isAuthorizedOrOwner` reverts (OpenZeppelin's `ERC721NonexistentToken`) for an agent
    /// that does not exist: that is reported as `NotAgent` too. The agent's wallet (zero when
    /// unset, and never the caller then) speaks for the agent as well.
    function _authorized(address caller, uint256 agentId) private view returns (bool) {
        try identity.isAuthorizedOrOwner(caller, agentId) returns (bool ok) {
            if (ok) return true;
        } catch {
            return false;
        }
        return identity.getAgentWallet(agentId) == caller;
    }
}
