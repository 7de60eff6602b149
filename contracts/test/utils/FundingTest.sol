// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";
import {AgoraTest} from "./AgoraTest.sol";
import {DevStablecoin} from "../../src/DevStablecoin.sol";
import {IdentityRegistry} from "../../src/IdentityRegistry.sol";
import {ValidatorCouncil} from "../../src/ValidatorCouncil.sol";
import {IArbitrableV2, IArbitratorV2} from "../../src/IArbitration.sol";
import {DeepFundingRound} from "../../src/DeepFundingRound.sol";
import {QuadraticFundingRound} from "../../src/QuadraticFundingRound.sol";

/// @notice The cheatcodes the funding tests use beyond `AgoraTest`'s.
interface VmFunding {
    function roll(uint256 newHeight) external;
    function prevrandao(uint256 newPrevrandao) external;
    function toString(uint256 value) external pure returns (string memory);
}

/// @notice A payout tree the way the distributor checks it: OpenZeppelin's StandardMerkleTree
/// leaf (`keccak256(bytes.concat(keccak256(abi.encode(index, account, amount))))`) and
/// sorted-pair hashing; an odd node out is carried up a level unpaired.
library TestMerkle {
    function leaf(uint256 index, address account, uint256 amount) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(index, account, amount))));
    }

    function leaves(address[] memory accounts, uint256[] memory amounts)
        internal
        pure
        returns (bytes32[] memory list)
    {
        list = new bytes32[](accounts.length);
        for (uint256 i; i < accounts.length; ++i) {
            list[i] = leaf(i, accounts[i], amounts[i]);
        }
    }

    function hashPair(bytes32 a, bytes32 b) internal pure returns (bytes32) {
        return a < b ? keccak256(abi.encode(a, b)) : keccak256(abi.encode(b, a));
    }

    function root(bytes32[] memory nodes) internal pure returns (bytes32) {
        bytes32[] memory level = _copy(nodes);
        uint256 n = level.length;
        while (n > 1) {
            n = _up(level, n);
        }
        return level[0];
    }

    function proof(bytes32[] memory nodes, uint256 index) internal pure returns (bytes32[] memory out) {
        bytes32[] memory level = _copy(nodes);
        uint256 n = level.length;
        out = new bytes32[](256);
        uint256 k;
        while (n > 1) {
            uint256 sibling = index ^ 1;
            if (sibling < n) out[k++] = level[sibling];
            n = _up(level, n);
            index >>= 1;
        }
        assembly ("memory-safe") {
            mstore(out, k)
        }
    }

    /// @dev Hashes the first `n` nodes of `level` into the next level, in place; returns its size.
    function _up(bytes32[] memory level, uint256 n) private pure returns (uint256 m) {
        m = (n + 1) / 2;
        for (uint256 i; i < n / 2; ++i) {
            level[i] = hashPair(level[2 * i], level[2 * i + 1]);
        }
        if (n % 2 == 1) level[m - 1] = level[n - 1];
    }

    function _copy(bytes32[] memory nodes) private pure returns (bytes32[] memory level) {
        level = new bytes32[](nodes.length);
        for (uint256 i; i < nodes.length; ++i) {
            level[i] = nodes[i];
        }
    }
}

/// @notice A TEST DOUBLE of an arbitrator: a fixed fee in the fee token, and rulings given by
/// whoever calls `giveRuling` (any ruling, even an invalid one), passed straight to the
/// arbitrable (its revert is not caught). Only for edge cases the real council cannot produce.
contract TestArbitrator is IArbitratorV2 {
    IERC20 public immutable feeToken;
    uint256 public immutable fee;
    IArbitrableV2[] public arbitrables;

    constructor(IERC20 feeToken_, uint256 fee_) {
        feeToken = feeToken_;
        fee = fee_;
    }

    function createDispute(uint256, bytes calldata) external payable returns (uint256) {
        revert("native fees not accepted");
    }

    function createDispute(uint256, bytes calldata, IERC20 token, uint256 amount)
        external
        returns (uint256 id)
    {
        require(token == feeToken && amount >= fee, "fee");
        require(token.transferFrom(msg.sender, address(this), amount), "transferFrom");
        id = arbitrables.length;
        arbitrables.push(IArbitrableV2(msg.sender));
        emit DisputeCreation(id, IArbitrableV2(msg.sender));
    }

    function arbitrationCost(bytes calldata) external pure returns (uint256) {
        return type(uint256).max;
    }

    function arbitrationCost(bytes calldata, IERC20) external view returns (uint256) {
        return fee;
    }

    function currentRuling(uint256) external pure returns (uint256, bool, bool) {
        return (0, false, false);
    }

    function giveRuling(uint256 disputeId, uint256 ruling) external {
        arbitrables[disputeId].rule(disputeId, ruling);
    }
}

/// @notice The dev token, the ERC-8004 identity registry, a council of five staked validators
/// (each an ERC-8004 agent) deciding disputes, a deep-funding and a quadratic-funding contract
/// paying out through it; funded actors, and helpers for each step of a round.
abstract contract FundingTest is AgoraTest {
    VmFunding internal constant vmf = VmFunding(address(uint160(uint256(keccak256("hevm cheat code")))));

    /// Printed by forge with -vv (ds-test's log event).
    event log_named_uint(string key, uint256 val);

    uint256 internal constant JURORS = 3;
    uint256 internal constant FEE_PER_JUROR = 1e6;
    uint256 internal constant COST = JURORS * FEE_PER_JUROR;
    uint256 internal constant MIN_STAKE = 100e6;
    uint256 internal constant SLASH = 10e6;
    uint64 internal constant COMMIT_PERIOD = 1 days;
    uint64 internal constant REVEAL_PERIOD = 1 days;
    uint256 internal constant VALIDATORS = 5;

    uint256 internal constant POOL = 10_000e6;
    uint256 internal constant STAKE = 10e6;
    uint256 internal constant BOND = 100e6;
    uint64 internal constant CHALLENGE_WINDOW = 2 days;
    uint64 internal constant CLAIM_PERIOD = 30 days;

    uint256 internal constant STANDS = 1;
    uint256 internal constant CHALLENGER_RIGHT = 2;

    DevStablecoin internal token;
    IdentityRegistry internal identity;
    ValidatorCouncil internal council;
    DeepFundingRound internal deep;
    QuadraticFundingRound internal qf;

    address internal funder = address(0xF0F0);
    address internal solverA = address(0x50A);
    address internal solverB = address(0x50B);
    address internal juror1 = address(0x3101);
    address internal juror2 = address(0x3102);
    address internal poster = address(0x9057);
    address internal challenger = address(0xC4A11);
    address internal relayer = address(0x4E1A);
    address internal stranger = address(0x57A4);
    address internal projectX = address(0xAA01);
    address internal projectY = address(0xAA02);
    address internal projectZ = address(0xAA03);
    address[] internal validators;

    function setUpFunding() internal {
        vm.warp(1_700_000_000);
        vmf.roll(100);
        identity = new IdentityRegistry();
        token = new DevStablecoin();
        council = new ValidatorCouncil(
            token, identity, JURORS, COMMIT_PERIOD, REVEAL_PERIOD, FEE_PER_JUROR, MIN_STAKE, SLASH
        );
        deep = new DeepFundingRound(token, council);
        qf = new QuadraticFundingRound(token, council, IERC721(address(identity)));
        vm.label(address(council), "council");
        vm.label(address(deep), "deep");
        vm.label(address(qf), "qf");
        for (uint256 i; i < VALIDATORS; ++i) {
            address v = address(uint160(0x7A1000 + i));
            validators.push(v);
            vm.label(v, string.concat("validator", vmf.toString(i)));
            joinCouncil(v, MIN_STAKE);
        }
        address[8] memory actors = [funder, solverA, solverB, poster, challenger, relayer, stranger, juror1];
        for (uint256 i; i < actors.length; ++i) {
            fundActor(actors[i]);
        }
    }

    function fundActor(address who) internal {
        token.faucet(who, 1_000_000e6);
        vm.startPrank(who);
        token.approve(address(deep), type(uint256).max);
        token.approve(address(qf), type(uint256).max);
        vm.stopPrank();
    }

    function joinCouncil(address who, uint256 stake) internal returns (uint256 agentId) {
        vm.prank(who);
        agentId = identity.register("ipfs://validator");
        token.faucet(who, stake);
        vm.prank(who);
        token.approve(address(council), stake);
        vm.prank(who);
        council.join(agentId, stake);
    }

    function bal(address who) internal view returns (uint256) {
        return token.balanceOf(who);
    }

    // ---- deep funding ----

    function graph() internal pure returns (bytes memory) {
        return "agora-graph v1: agora -> alloy, agora -> tokio, alloy -> serde";
    }

    /// The default schedule: solver commits for a day, reveals the next; the jury commits until
    /// the end of the second day and reveals on the third.
    function deepParams() internal view returns (DeepFundingRound.RoundParams memory p) {
        uint64 t = uint64(block.timestamp);
        p = DeepFundingRound.RoundParams({
            graphRoot: keccak256(graph()),
            pool: POOL,
            solverShareBps: 2_000,
            solverStake: STAKE,
            resultBond: BOND,
            commitDeadline: t + 1 days,
            revealDeadline: t + 2 days,
            juryCommitDeadline: t + 2 days,
            juryRevealDeadline: t + 3 days,
            challengeWindow: CHALLENGE_WINDOW,
            claimPeriod: CLAIM_PERIOD,
            pairsPerJuror: 20
        });
    }

    function twoJurors() internal view returns (address[] memory list) {
        list = new address[](2);
        list[0] = juror1;
        list[1] = juror2;
    }

    function createDeep() internal returns (uint256 roundId) {
        vm.prank(funder);
        roundId = deep.createRound(deepParams(), twoJurors());
    }

    function saltOf(address who) internal pure returns (bytes32) {
        return keccak256(abi.encode("salt", who));
    }

    /// The commitment formula, written out (`DeepFundingRound.commitmentOf`).
    function commitment(uint256 roundId, address who, bytes32 dataHash, bytes32 salt)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(roundId, who, dataHash, salt));
    }

    function submissionOf(address solver) internal pure returns (bytes memory) {
        return abi.encode("weights of", solver);
    }

    function answersOf(address juror) internal pure returns (bytes memory) {
        return abi.encode("answers of", juror);
    }

    function commitSolver(uint256 roundId, address solver) internal returns (uint256 index) {
        bytes32 c = commitment(roundId, solver, keccak256(submissionOf(solver)), saltOf(solver));
        vm.prank(solver);
        index = deep.commit(roundId, c);
    }

    function revealSolver(uint256 roundId, address solver) internal {
        vm.prank(solver);
        deep.reveal(roundId, submissionOf(solver), saltOf(solver));
    }

    function commitJuror(uint256 roundId, address juror) internal {
        bytes32 c = commitment(roundId, juror, keccak256(answersOf(juror)), saltOf(juror));
        vm.prank(juror);
        deep.juryCommit(roundId, c);
    }

    function revealJuror(uint256 roundId, address juror) internal {
        vm.prank(juror);
        deep.juryReveal(roundId, answersOf(juror), saltOf(juror));
    }

    /// A round whose solvers and jurors all played: the clock is past the jury reveal deadline.
    function scoredDeep() internal returns (uint256 roundId) {
        roundId = createDeep();
        commitSolver(roundId, solverA);
        commitSolver(roundId, solverB);
        DeepFundingRound.RoundParams memory p = deep.round(roundId).params;
        vm.warp(p.commitDeadline + 1);
        revealSolver(roundId, solverA);
        revealSolver(roundId, solverB);
        deep.drawSample(roundId);
        commitJuror(roundId, juror1);
        commitJuror(roundId, juror2);
        vm.warp(p.juryCommitDeadline + 1);
        revealJuror(roundId, juror1);
        revealJuror(roundId, juror2);
        vm.warp(p.juryRevealDeadline + 1);
    }

    /// The four payouts of the default round: the two solvers' share (20%) and two projects.
    function deepPayout() internal view returns (address[] memory accounts, uint256[] memory amounts) {
        accounts = new address[](4);
        amounts = new uint256[](4);
        (accounts[0], amounts[0]) = (solverA, 1_200e6);
        (accounts[1], amounts[1]) = (solverB, 800e6);
        (accounts[2], amounts[2]) = (projectX, 5_000e6);
        (accounts[3], amounts[3]) = (projectY, 3_000e6);
    }

    /// Another split of the same pool (what a challenger holds correct).
    function otherPayout() internal view returns (address[] memory accounts, uint256[] memory amounts) {
        accounts = new address[](3);
        amounts = new uint256[](3);
        (accounts[0], amounts[0]) = (solverB, 2_000e6);
        (accounts[1], amounts[1]) = (projectX, 3_000e6);
        (accounts[2], amounts[2]) = (projectZ, 5_000e6);
    }

    function claimAll(uint256 roundId, address[] memory accounts, uint256[] memory amounts) internal {
        bytes32[] memory nodes = TestMerkle.leaves(accounts, amounts);
        for (uint256 i; i < accounts.length; ++i) {
            if (accounts[i] == address(0)) continue;
            vm.prank(relayer);
            deep.claim(roundId, i, accounts[i], amounts[i], TestMerkle.proof(nodes, i));
        }
    }

    // ---- the council ----

    function councilJurors(uint256 disputeId) internal view returns (address[] memory) {
        return council.getDispute(disputeId).jurors;
    }

    /// Every council juror with a non-zero `choices[i]` commits, then reveals it; a zero is a
    /// no-show. Leaves the clock at the reveal deadline.
    function councilVote(uint256 disputeId, uint256[] memory choices) internal {
        address[] memory drawn = councilJurors(disputeId);
        ValidatorCouncil.Dispute memory d = council.getDispute(disputeId);
        for (uint256 i; i < drawn.length; ++i) {
            if (choices[i] == 0) continue;
            bytes32 c = council.commitmentOf(disputeId, drawn[i], choices[i], saltOf(drawn[i]));
            vm.prank(drawn[i]);
            council.commit(disputeId, c);
        }
        if (block.timestamp < d.commitDeadline) vm.warp(d.commitDeadline);
        for (uint256 i; i < drawn.length; ++i) {
            if (choices[i] == 0) continue;
            vm.prank(drawn[i]);
            council.reveal(
                disputeId, choices[i], saltOf(drawn[i]), keccak256(abi.encode("receipt", drawn[i]))
            );
        }
        vm.warp(d.revealDeadline);
    }

    function votes(uint256 a, uint256 b, uint256 c) internal pure returns (uint256[] memory list) {
        list = new uint256[](3);
        list[0] = a;
        list[1] = b;
        list[2] = c;
    }
}
