// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ConditionalTokens} from "./ConditionalTokens.sol";

/// @title ChainFacts
/// @notice The oracle of questions the chain answers by itself, with nobody to trust or bond:
/// "will `account` hold at least `threshold` of `token` once block `atBlock` is reached?".
/// `ask` prepares a binary condition on the `ConditionalTokens` (oracle = this contract; outcome
/// 0 = yes, 1 = no); from block `atBlock` on, anyone calls `settle`, which reads the balance
/// then and reports the payouts. The answer is read at settlement, the first block at or after
/// `atBlock` in which someone settles: markets on it trade until then.
contract ChainFacts {
    /// @notice What a question asks.
    struct Fact {
        IERC20 token;
        address account;
        uint256 threshold;
        uint64 atBlock;
        bool settled;
        bool yes;
    }

    /// @notice The conditional tokens the answers are reported to.
    ConditionalTokens public immutable ctf;

    mapping(bytes32 questionId => Fact) private _facts;

    /// @notice A question was asked; `conditionId` is its binary condition.
    event FactAsked(
        bytes32 indexed questionId,
        bytes32 indexed conditionId,
        address token,
        address account,
        uint256 threshold,
        uint64 atBlock,
        string text
    );
    /// @notice A question was answered from the chain's state.
    event FactSettled(bytes32 indexed questionId, bool yes, uint256 balance, uint256 blockNumber);

    /// @notice The question was asked already.
    error AlreadyAsked(bytes32 questionId);
    /// @notice No such question.
    error NotAsked(bytes32 questionId);
    /// @notice The question was answered already.
    error AlreadySettled(bytes32 questionId);
    /// @notice The block the question is about has not come yet.
    error TooEarly(bytes32 questionId, uint64 atBlock, uint256 blockNumber);

    /// @param ctf_ The conditional tokens.
    constructor(ConditionalTokens ctf_) {
        ctf = ctf_;
    }

    /// @notice The question id of a fact: the hash of what it asks.
    function questionIdOf(IERC20 token, address account, uint256 threshold, uint64 atBlock)
        public
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(token, account, threshold, atBlock));
    }

    /// @notice Asks whether `account` will hold at least `threshold` of `token` from block
    /// `atBlock` on; `text` is the question in words (for traders). Returns the condition.
    function ask(IERC20 token, address account, uint256 threshold, uint64 atBlock, string calldata text)
        external
        returns (bytes32 questionId, bytes32 conditionId)
    {
        questionId = questionIdOf(token, account, threshold, atBlock);
        Fact storage f = _facts[questionId];
        if (address(f.token) != address(0)) revert AlreadyAsked(questionId);
        f.token = token;
        f.account = account;
        f.threshold = threshold;
        f.atBlock = atBlock;
        conditionId = ctf.getConditionId(address(this), questionId, 2);
        if (ctf.getOutcomeSlotCount(conditionId) == 0) ctf.prepareCondition(address(this), questionId, 2);
        emit FactAsked(questionId, conditionId, address(token), account, threshold, atBlock, text);
    }

    /// @notice Answers a question from the chain's state (anyone, once, from block `atBlock`).
    function settle(bytes32 questionId) external {
        Fact storage f = _facts[questionId];
        if (address(f.token) == address(0)) revert NotAsked(questionId);
        if (f.settled) revert AlreadySettled(questionId);
        if (block.number < f.atBlock) revert TooEarly(questionId, f.atBlock, block.number);
        uint256 balance = f.token.balanceOf(f.account);
        bool yes = balance >= f.threshold;
        f.settled = true;
        f.yes = yes;
        uint256[] memory payouts = new uint256[](2);
        payouts[yes ? 0 : 1] = 1;
        ctf.reportPayouts(questionId, payouts);
        emit FactSettled(questionId, yes, balance, block.number);
    }

    /// @notice A question and, once settled, its answer.
    function fact(bytes32 questionId) external view returns (Fact memory) {
        return _facts[questionId];
    }
}
