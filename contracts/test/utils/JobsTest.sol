// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {AgoraTest} from "./AgoraTest.sol";
import {AgenticCommerce} from "../../src/AgenticCommerce.sol";
import {JobEvaluator} from "../../src/JobEvaluator.sol";
import {ValidatorCouncil} from "../../src/ValidatorCouncil.sol";
import {IdentityRegistry} from "../../src/IdentityRegistry.sol";
import {ReputationRegistry} from "../../src/ReputationRegistry.sol";
import {DevStablecoin} from "../../src/DevStablecoin.sol";

/// @notice The cheatcodes the job tests use beyond `AgoraTest`'s.
interface VmJobs {
    struct Log {
        bytes32[] topics;
        bytes data;
        address emitter;
    }

    function roll(uint256 newHeight) external;
    function expectPartialRevert(bytes4 selector) external;
    function prevrandao(uint256 newPrevrandao) external;
    function recordLogs() external;
    function getRecordedLogs() external returns (Log[] memory);
    function toString(uint256 value) external pure returns (string memory);
}

/// @notice The ERC-8004 registries, the dev token, the escrow, a council of five staked
/// validators (each an ERC-8004 agent) and the evaluator deciding its disputes with the council;
/// a client, a provider (an agent) and a challenger, all funded; helpers for each step of a job.
abstract contract JobsTest is AgoraTest {
    VmJobs internal constant vmj = VmJobs(address(uint160(uint256(keccak256("hevm cheat code")))));

    /// Printed by forge with -vv (ds-test's log event).
    event log_named_uint(string key, uint256 val);

    uint256 internal constant BUDGET = 50e6;
    uint256 internal constant BOND = 20e6;
    uint256 internal constant JURORS = 3;
    uint256 internal constant FEE_PER_JUROR = 1e6;
    uint256 internal constant COST = JURORS * FEE_PER_JUROR;
    uint256 internal constant MIN_STAKE = 100e6;
    uint256 internal constant SLASH = 10e6;
    uint64 internal constant COMMIT_PERIOD = 1 days;
    uint64 internal constant REVEAL_PERIOD = 1 days;
    uint64 internal constant CHALLENGE_WINDOW = 1 days;
    uint64 internal constant RULING_WINDOW = 4 days;
    uint256 internal constant EXPIRY = 10 days;
    uint256 internal constant VALIDATORS = 5;

    bytes32 internal constant MODEL = keccak256("qwen2.5-0.5b-instruct-q4_k_m.gguf");
    uint256 internal constant STANDS = 1;
    uint256 internal constant WRONG = 2;

    IdentityRegistry internal identity;
    ReputationRegistry internal reputation;
    DevStablecoin internal token;
    AgenticCommerce internal escrow;
    ValidatorCouncil internal council;
    JobEvaluator internal evaluator;

    address internal client = address(0xC11E47);
    address internal provider = address(0x9B0B1DE5);
    address internal challenger = address(0xC4A11);
    address internal stranger = address(0x57A4);
    uint256 internal providerAgent;
    address[] internal validators;

    function setUpJobs() internal {
        vm.warp(1_700_000_000);
        vmj.roll(100);
        identity = new IdentityRegistry();
        reputation = new ReputationRegistry(identity);
        token = new DevStablecoin();
        escrow = new AgenticCommerce(token);
        council = new ValidatorCouncil(
            token, identity, JURORS, COMMIT_PERIOD, REVEAL_PERIOD, FEE_PER_JUROR, MIN_STAKE, SLASH
        );
        evaluator = new JobEvaluator(escrow, council, identity, reputation, CHALLENGE_WINDOW, RULING_WINDOW);
        vm.label(address(escrow), "escrow");
        vm.label(address(council), "council");
        vm.label(address(evaluator), "evaluator");
        vm.label(client, "client");
        vm.label(provider, "provider");
        vm.label(challenger, "challenger");

        vm.prank(provider);
        providerAgent = identity.register("ipfs://provider");
        for (uint256 i; i < VALIDATORS; ++i) {
            address v = address(uint160(0x7A1000 + i));
            validators.push(v);
            vm.label(v, string.concat("validator", vmj.toString(i)));
            joinCouncil(v, MIN_STAKE);
        }
        fundActor(client);
        fundActor(provider);
        fundActor(challenger);
        fundActor(stranger);
    }

    function fundActor(address who) internal {
        token.faucet(who, 1_000_000e6);
        vm.startPrank(who);
        token.approve(address(escrow), type(uint256).max);
        token.approve(address(evaluator), type(uint256).max);
        token.approve(address(council), type(uint256).max);
        vm.stopPrank();
    }

    /// Registers `who` as an ERC-8004 agent and joins the council with `stake`.
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

    // ---- the steps of a job ----

    function delivery() internal pure returns (bytes memory) {
        return "the output and the provider's signed receipt";
    }

    function terms(bytes32 modelHash, uint256 bond) internal pure returns (bytes memory) {
        return abi.encode(modelHash, bond);
    }

    /// An Open job for `provider`, evaluated and hooked by the evaluator, expiring in EXPIRY,
    /// with its budget set by the client.
    function openJob(uint256 budget) internal returns (uint256 jobId) {
        vm.prank(client);
        jobId = escrow.createJob(
            provider, address(evaluator), block.timestamp + EXPIRY, "summarize ipfs://doc", address(evaluator)
        );
        vm.prank(client);
        escrow.setBudget(jobId, budget, "");
    }

    function fundJob(uint256 jobId, uint256 budget, uint256 bond) internal {
        vm.prank(client);
        escrow.fund(jobId, budget, terms(MODEL, bond));
    }

    function acceptJob(uint256 jobId) internal {
        vm.prank(provider);
        evaluator.accept(jobId, providerAgent);
    }

    function submitJob(uint256 jobId, bytes memory what) internal {
        vm.prank(provider);
        escrow.submit(jobId, keccak256(what), abi.encode(MODEL, what));
    }

    /// Created, budgeted, funded with terms, accepted and submitted.
    function submittedJob(uint256 budget, uint256 bond) internal returns (uint256 jobId) {
        jobId = openJob(budget);
        fundJob(jobId, budget, bond);
        acceptJob(jobId);
        submitJob(jobId, delivery());
    }

    function challengeJob(uint256 jobId, address who) internal returns (uint256 disputeId) {
        vm.prank(who);
        disputeId = evaluator.challenge(jobId, "the challenger's own receipt");
    }

    function jurorsOf(uint256 disputeId) internal view returns (address[] memory) {
        return council.getDispute(disputeId).jurors;
    }

    function salt(address juror) internal pure returns (bytes32) {
        return keccak256(abi.encode("salt", juror));
    }

    function commitVote(uint256 disputeId, address juror, uint256 choice) internal {
        bytes32 commitment = council.commitmentOf(disputeId, juror, choice, salt(juror));
        vm.prank(juror);
        council.commit(disputeId, commitment);
    }

    function revealVote(uint256 disputeId, address juror, uint256 choice) internal {
        vm.prank(juror);
        council.reveal(disputeId, choice, salt(juror), keccak256(abi.encode("receipt", juror)));
    }

    /// Every juror with a non-zero `choices[i]` commits it, then (past the commit deadline)
    /// reveals it; a zero is a no-show. Leaves the clock past the reveal deadline.
    function vote(uint256 disputeId, uint256[] memory choices) internal {
        address[] memory jurors = jurorsOf(disputeId);
        ValidatorCouncil.Dispute memory d = council.getDispute(disputeId);
        for (uint256 i; i < jurors.length; ++i) {
            if (choices[i] != 0) commitVote(disputeId, jurors[i], choices[i]);
        }
        if (block.timestamp < d.commitDeadline) vm.warp(d.commitDeadline);
        for (uint256 i; i < jurors.length; ++i) {
            if (choices[i] != 0) revealVote(disputeId, jurors[i], choices[i]);
        }
        vm.warp(d.revealDeadline);
    }

    function votes(uint256 a, uint256 b, uint256 c) internal pure returns (uint256[] memory list) {
        list = new uint256[](3);
        list[0] = a;
        list[1] = b;
        list[2] = c;
    }

    function jobUri(uint256 jobId) internal view returns (string memory) {
        return string.concat(
            "agora-job:",
            vmj.toString(block.chainid),
            ":",
            _lowerHex(address(escrow)),
            ":",
            vmj.toString(jobId)
        );
    }

    /// `Strings.toHexString(address)`: lower case, not checksummed.
    function _lowerHex(address a) private pure returns (string memory) {
        bytes memory digits = "0123456789abcdef";
        bytes memory out = new bytes(42);
        out[0] = "0";
        out[1] = "x";
        uint160 v = uint160(a);
        for (uint256 i = 41; i > 1; --i) {
            out[i] = digits[v & 0xf];
            v >>= 4;
        }
        return string(out);
    }

    function stakeOf(address v) internal view returns (uint256) {
        return council.validator(v).stake;
    }

    function statusOf(uint256 jobId) internal view returns (AgenticCommerce.Status) {
        return escrow.getJob(jobId).status;
    }

    function phaseOf(uint256 jobId) internal view returns (JobEvaluator.Phase) {
        return evaluator.getCase(jobId).phase;
    }
}
