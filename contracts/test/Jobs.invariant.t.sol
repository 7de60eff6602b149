// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {AgoraTest} from "./utils/AgoraTest.sol";
import {JobsTest, VmJobs} from "./utils/JobsTest.sol";
import {AgenticCommerce} from "../src/AgenticCommerce.sol";
import {JobEvaluator} from "../src/JobEvaluator.sol";
import {ValidatorCouncil} from "../src/ValidatorCouncil.sol";
import {DevStablecoin} from "../src/DevStablecoin.sol";

/// @dev Drives jobs through the escrow, the evaluator and the council at random: jobs created
/// with random budgets and bonds, accepted, submitted, challenged by random parties, voted on by
/// random jurors (commit, reveal, or nothing), executed, finalized, cancelled, refunded and
/// settled at random times, validators leaving and joining again. Reads every payout off the
/// events (the escrow's `PaymentReleased`/`Refunded`, the evaluator's `Settled`) into ghost
/// books, and counts what succeeded though it must not have.
contract JobsHandler is JobsTest {
    uint256[] public jobIds;
    uint256[] public disputeIds;

    /// The escrow's payouts of each job (budget to the provider or back to the client).
    mapping(uint256 jobId => uint256) public payouts;
    mapping(uint256 jobId => uint256) public paidOut;
    /// Whether the job was ever funded (so a rejection must have refunded it).
    mapping(uint256 jobId => bool) public funded;
    /// The evaluator's settlements of each job, and the bonds it took in and paid out for it.
    mapping(uint256 jobId => uint256) public settlements;
    mapping(uint256 jobId => uint256) public bondsIn;
    mapping(uint256 jobId => uint256) public bondsOut;
    /// The provider's bond went back to it (wholly) / went to others: never both.
    mapping(uint256 jobId => bool) public bondReturned;
    mapping(uint256 jobId => bool) public bondForfeited;
    /// The choice each juror committed to.
    mapping(uint256 disputeId => mapping(address juror => uint256)) internal committed;

    /// How many settlements of each outcome, and rulings delivered (how far the runs got).
    mapping(uint8 outcome => uint256) public outcomes;
    uint256 public executions;

    uint256 public violations;
    string public lastViolation;

    bytes32 internal constant PAYMENT_RELEASED = keccak256("PaymentReleased(uint256,address,uint256)");
    bytes32 internal constant REFUNDED = keccak256("Refunded(uint256,address,uint256)");
    bytes32 internal constant SETTLED = keccak256("Settled(uint256,uint8,uint256,uint256,uint256)");

    constructor() {
        setUpJobs();
    }

    function contracts()
        external
        view
        returns (DevStablecoin, AgenticCommerce, JobEvaluator, ValidatorCouncil)
    {
        return (token, escrow, evaluator, council);
    }

    function jobCount() external view returns (uint256) {
        return jobIds.length;
    }

    function validatorList() external view returns (address[] memory) {
        return validators;
    }

    function violate(string memory what) internal {
        violations++;
        lastViolation = what;
    }

    /// Mostly a job in `phase` (the step can then succeed), sometimes any job (it then
    /// mostly must fail).
    function pickJobIn(uint256 seed, JobEvaluator.Phase phase) internal view returns (uint256) {
        uint256 n = jobIds.length;
        if (n == 0) return 0;
        if (seed % 8 == 0) return jobIds[(seed >> 8) % n];
        for (uint256 i; i < n; ++i) {
            uint256 jobId = jobIds[(seed + i) % n];
            if (phaseOf(jobId) == phase) return jobId;
        }
        return jobIds[seed % n];
    }

    /// Mostly a job the escrow is in `status` for.
    function pickJobWith(uint256 seed, AgenticCommerce.Status status) internal view returns (uint256) {
        uint256 n = jobIds.length;
        if (n == 0) return 0;
        if (seed % 8 == 0) return jobIds[(seed >> 8) % n];
        for (uint256 i; i < n; ++i) {
            uint256 jobId = jobIds[(seed + i) % n];
            if (statusOf(jobId) == status) return jobId;
        }
        return jobIds[seed % n];
    }

    /// Mostly a dispute not executed yet.
    function pickDispute(uint256 seed) internal view returns (bool, uint256) {
        uint256 n = disputeIds.length;
        if (n == 0) return (false, 0);
        if (seed % 8 == 0) return (true, disputeIds[(seed >> 8) % n]);
        for (uint256 i; i < n; ++i) {
            uint256 d = disputeIds[(seed + i) % n];
            if (!council.getDispute(d).executed) return (true, d);
        }
        return (true, disputeIds[seed % n]);
    }

    function pickParty(uint256 seed) internal view returns (address) {
        uint256 k = seed % 4;
        return k == 0 ? client : k == 1 ? challenger : k == 2 ? stranger : provider;
    }

    /// Reads the payouts of the last action off its events.
    function observe(uint256 evaluatorBefore) internal {
        VmJobs.Log[] memory logs = vmj.getRecordedLogs();
        uint256 settledOut;
        for (uint256 i; i < logs.length; ++i) {
            VmJobs.Log memory log = logs[i];
            if (log.topics.length == 0) continue;
            bytes32 topic = log.topics[0];
            if (log.emitter == address(escrow) && (topic == PAYMENT_RELEASED || topic == REFUNDED)) {
                uint256 jobId = uint256(log.topics[1]);
                payouts[jobId]++;
                paidOut[jobId] += abi.decode(log.data, (uint256));
                if (payouts[jobId] > 1) violate("a job paid out twice");
            } else if (log.emitter == address(evaluator) && topic == SETTLED) {
                uint256 jobId = uint256(log.topics[1]);
                (uint8 outcome, uint256 toProvider, uint256 toClient, uint256 toChallenger) =
                    abi.decode(log.data, (uint8, uint256, uint256, uint256));
                settlements[jobId]++;
                outcomes[outcome]++;
                if (settlements[jobId] > 1) violate("a job settled twice");
                checkOutcome(jobId, outcome, toProvider, toClient, toChallenger);
                uint256 out = toProvider + toClient + toChallenger;
                bondsOut[jobId] += out;
                settledOut += out;
                if (bondsOut[jobId] != bondsIn[jobId]) violate("settlement pays other than the bonds held");
                uint256 bond = evaluator.getCase(jobId).bond;
                if (bondsIn[jobId] != 0) {
                    if (toProvider >= bond) bondReturned[jobId] = true;
                    else bondForfeited[jobId] = true;
                }
            }
        }
        uint256 evaluatorAfter = bal(address(evaluator));
        if (evaluatorAfter + settledOut != evaluatorBefore) {
            // Only accept and challenge bring bonds in, and they settle nothing.
            if (settledOut != 0 || evaluatorAfter < evaluatorBefore) {
                violate("evaluator paid other than Settled says");
            }
        }
    }

    function checkOutcome(
        uint256 jobId,
        uint8 outcome,
        uint256 toProvider,
        uint256 toClient,
        uint256 toChallenger
    ) internal {
        uint256 b = evaluator.getCase(jobId).bond;
        uint256[3] memory want;
        if (outcome == 1 || outcome == 6) want = [b, 0, 0];
        else if (outcome == 2) want = [2 * b, 0, 0];
        else if (outcome == 3) want = [0, b - b / 2, b + b / 2];
        else if (outcome == 4 || outcome == 8) want = [b, 0, b];
        else if (outcome == 5) want = [0, b, 0];
        else if (outcome == 7) want = [uint256(0), 0, 0];
        else violate("unknown outcome");
        if (toProvider != want[0] || toClient != want[1] || toChallenger != want[2]) {
            violate("settlement amounts off the rules");
        }
    }

    // ---- actions ----

    function createJob(uint256 budget, uint256 bond, bool fundIt) external {
        vmj.recordLogs();
        budget = bound(budget, 1, 1_000e6);
        bond = bound(bond, 2 * COST, 1_000e6);
        uint256 jobId = openJob(budget);
        jobIds.push(jobId);
        if (fundIt) {
            fundJob(jobId, budget, bond);
            funded[jobId] = true;
        }
        observe(bal(address(evaluator)));
    }

    function fund(uint256 seed, uint256 bond) external {
        uint256 jobId = pickJobWith(seed, AgenticCommerce.Status.Open);
        if (jobId == 0) return;
        vmj.recordLogs();
        uint256 budget = escrow.getJob(jobId).budget;
        bond = bound(bond, 0, 1_000e6);
        vm.prank(client);
        try escrow.fund(jobId, budget, terms(MODEL, bond)) {
            if (bond < 2 * COST) violate("funded with a bond below the minimum");
            funded[jobId] = true;
        } catch {}
        observe(bal(address(evaluator)));
    }

    function accept(uint256 seed) external {
        uint256 jobId = pickJobIn(seed, JobEvaluator.Phase.Funded);
        if (jobId == 0) return;
        vmj.recordLogs();
        uint256 before = bal(address(evaluator));
        JobEvaluator.Phase phase = phaseOf(jobId);
        vm.prank(provider);
        try evaluator.accept(jobId, providerAgent) {
            if (phase != JobEvaluator.Phase.Funded) violate("accepted outside Funded");
            bondsIn[jobId] += evaluator.getCase(jobId).bond;
        } catch {}
        observe(before);
    }

    function submit(uint256 seed, uint256 wrong) external {
        bool wrongModel = wrong % 8 == 0;
        uint256 jobId = pickJobIn(seed, JobEvaluator.Phase.Accepted);
        if (jobId == 0) return;
        vmj.recordLogs();
        bytes memory what = delivery();
        vm.prank(provider);
        try escrow.submit(jobId, keccak256(what), abi.encode(wrongModel ? bytes32(0) : MODEL, what)) {
            if (wrongModel) violate("submitted for another model");
        } catch {}
        observe(bal(address(evaluator)));
    }

    function challenge(uint256 seed, uint256 who) external {
        uint256 jobId = pickJobIn(seed, JobEvaluator.Phase.Submitted);
        if (jobId == 0) return;
        vmj.recordLogs();
        uint256 before = bal(address(evaluator));
        JobEvaluator.Case memory c = evaluator.getCase(jobId);
        address party = pickParty(who);
        vm.prank(party);
        try evaluator.challenge(jobId, "evidence") returns (uint256 disputeId) {
            if (block.timestamp >= c.submittedAt + CHALLENGE_WINDOW) violate("challenged after the window");
            if (party == provider) violate("the provider challenged itself");
            bondsIn[jobId] += c.bond;
            disputeIds.push(disputeId);
        } catch {}
        observe(before);
    }

    /// A juror of a dispute commits a choice while it can, then reveals it (rarely, a choice it
    /// did not commit to).
    function voteOn(uint256 seed, uint256 jurorSeed, uint256 choice, uint256 lieSeed) external {
        (bool any, uint256 disputeId) = pickDispute(seed);
        if (!any) return;
        address[] memory jurors = jurorsOf(disputeId);
        address juror = jurors[jurorSeed % jurors.length];
        ValidatorCouncil.Vote memory v = council.getVote(disputeId, juror);
        if (v.commitment == 0) {
            choice = 1 + (choice % 2);
            bytes32 commitment = council.commitmentOf(disputeId, juror, choice, salt(juror));
            vm.prank(juror);
            try council.commit(disputeId, commitment) {
                committed[disputeId][juror] = choice;
            } catch {}
        } else {
            bool lie = lieSeed % 8 == 0;
            uint256 c = committed[disputeId][juror];
            uint256 shown = lie ? 3 - c : c;
            vm.prank(juror);
            try council.reveal(disputeId, shown, salt(juror), bytes32(0)) {
                if (lie) violate("revealed other than committed");
            } catch {}
        }
    }

    function execute(uint256 seed) external {
        if (disputeIds.length == 0) return;
        vmj.recordLogs();
        uint256 before = bal(address(evaluator));
        (, uint256 disputeId) = pickDispute(seed);
        bool wasExecuted = council.getDispute(disputeId).executed;
        try council.execute(disputeId) {
            if (wasExecuted) violate("executed twice");
            executions++;
        } catch {}
        observe(before);
    }

    function finalize(uint256 seed) external {
        uint256 jobId = pickJobIn(seed, JobEvaluator.Phase.Submitted);
        if (jobId == 0) return;
        vmj.recordLogs();
        uint256 before = bal(address(evaluator));
        JobEvaluator.Case memory c = evaluator.getCase(jobId);
        try evaluator.finalize(jobId) {
            if (block.timestamp < c.submittedAt + CHALLENGE_WINDOW) violate("finalized within the window");
        } catch {}
        observe(before);
    }

    function cancel(uint256 seed, uint256 who) external {
        bool asClient = who % 4 != 0;
        uint256 jobId = pickJobIn(seed, JobEvaluator.Phase.Funded);
        if (jobId == 0) return;
        vmj.recordLogs();
        uint256 before = bal(address(evaluator));
        vm.prank(asClient ? client : stranger);
        try evaluator.cancel(jobId) {
            if (!asClient) violate("cancelled by a stranger");
        } catch {}
        observe(before);
    }

    function claimRefund(uint256 seed, bool submitted) external {
        uint256 jobId =
            pickJobWith(seed, submitted ? AgenticCommerce.Status.Submitted : AgenticCommerce.Status.Funded);
        if (jobId == 0) return;
        vmj.recordLogs();
        uint256 expiredAt = escrow.getJob(jobId).expiredAt;
        try escrow.claimRefund(jobId) {
            if (block.timestamp < expiredAt) violate("refunded before expiry");
        } catch {}
        observe(bal(address(evaluator)));
    }

    function settle(uint256 seed) external {
        uint256 jobId = pickJobWith(seed, AgenticCommerce.Status.Expired);
        if (jobId == 0) return;
        vmj.recordLogs();
        uint256 before = bal(address(evaluator));
        AgenticCommerce.Status status = statusOf(jobId);
        try evaluator.settle(jobId) {
            if (status != AgenticCommerce.Status.Expired) violate("settled before the refund");
        } catch {}
        observe(before);
    }

    function clientRejects(uint256 seed) external {
        uint256 jobId = pickJobWith(seed, AgenticCommerce.Status.Open);
        if (jobId == 0) return;
        vmj.recordLogs();
        AgenticCommerce.Status status = statusOf(jobId);
        vm.prank(client);
        try escrow.reject(jobId, "", "") {
            if (status != AgenticCommerce.Status.Open) violate("client rejected a funded job");
        } catch {}
        observe(bal(address(evaluator)));
    }

    /// Moves an unfinished job one step along a path `plan` picks (so the runs reach every
    /// outcome): fund; cancel, let it expire unaccepted, or accept; let it expire undelivered,
    /// or submit; finalize, let it expire unfinalized, or challenge; jurors commit (or not),
    /// reveal, and the dispute is executed, or expires unruled; refund and settle expired jobs.
    /// Three selectors, so that it is drawn more often than the single steps.
    function advance(uint256 seed, uint256 plan) public {
        uint256 n = jobIds.length;
        uint256 jobId;
        for (uint256 i; i < n; ++i) {
            uint256 candidate = jobIds[(seed + i) % n];
            AgenticCommerce.Status status = statusOf(candidate);
            JobEvaluator.Phase phase = phaseOf(candidate);
            if (phase == JobEvaluator.Phase.Settled) continue;
            if (phase == JobEvaluator.Phase.None && status != AgenticCommerce.Status.Open) continue;
            jobId = candidate;
            break;
        }
        vmj.recordLogs();
        uint256 before = bal(address(evaluator));
        if (jobId == 0 || plan % 11 == 0) {
            jobId = openJob(bound(plan >> 8, 1, 1_000e6));
            jobIds.push(jobId);
        } else {
            step(jobId, plan);
        }
        observe(before);
    }

    function advanceAgain(uint256 seed, uint256 plan) external {
        advance(seed, plan);
    }

    function advanceOnceMore(uint256 seed, uint256 plan) external {
        advance(seed, plan);
    }

    function step(uint256 jobId, uint256 plan) internal {
        AgenticCommerce.Job memory job = escrow.getJob(jobId);
        JobEvaluator.Case memory c = evaluator.getCase(jobId);
        uint256 branch = (plan >> 4) % 12;
        if (job.status == AgenticCommerce.Status.Expired) {
            evaluator.settle(jobId);
        } else if (c.phase == JobEvaluator.Phase.None) {
            fundJob(jobId, job.budget, bound(plan >> 16, 2 * COST, 1_000e6));
            funded[jobId] = true;
        } else if (c.phase == JobEvaluator.Phase.Funded) {
            if (branch == 0) {
                vm.prank(client);
                evaluator.cancel(jobId);
            } else if (branch == 1 || block.timestamp + CHALLENGE_WINDOW + RULING_WINDOW > job.expiredAt) {
                expire(jobId);
            } else {
                acceptJob(jobId);
                bondsIn[jobId] += c.bond;
            }
        } else if (c.phase == JobEvaluator.Phase.Accepted) {
            if (branch < 2 || block.timestamp + CHALLENGE_WINDOW + RULING_WINDOW > job.expiredAt) {
                expire(jobId);
            } else {
                submitJob(jobId, delivery());
            }
        } else if (c.phase == JobEvaluator.Phase.Submitted) {
            if (branch < 4 || block.timestamp >= c.submittedAt + CHALLENGE_WINDOW) {
                if (block.timestamp < c.submittedAt + CHALLENGE_WINDOW) {
                    vm.warp(c.submittedAt + CHALLENGE_WINDOW);
                }
                if (branch == 0) expire(jobId);
                else evaluator.finalize(jobId);
            } else {
                disputeIds.push(
                    challengeJob(jobId, pickParty(plan >> 32) == provider ? stranger : pickParty(plan >> 32))
                );
                bondsIn[jobId] += c.bond;
            }
        } else if (c.phase == JobEvaluator.Phase.Challenged) {
            stepDispute(jobId, c.disputeId, plan);
        }
    }

    function expire(uint256 jobId) internal {
        uint256 expiredAt = escrow.getJob(jobId).expiredAt;
        if (block.timestamp < expiredAt) vm.warp(expiredAt);
        escrow.claimRefund(jobId);
    }

    /// Every juror commits (or, one time in four, never shows); then those who committed
    /// reveal; then the dispute is executed. Sometimes nobody executes before the job expires.
    function stepDispute(uint256 jobId, uint256 disputeId, uint256 plan) internal {
        ValidatorCouncil.Dispute memory d = council.getDispute(disputeId);
        address[] memory jurors = d.jurors;
        if ((plan >> 4) % 12 == 0) {
            expire(jobId);
            return;
        }
        if (d.commits == 0 && block.timestamp < d.commitDeadline) {
            for (uint256 i; i < jurors.length; ++i) {
                uint256 bits = plan >> (40 + 4 * i);
                if (bits % 4 == 0) continue;
                uint256 choice = 1 + (bits >> 2) % 2;
                commitVote(disputeId, jurors[i], choice);
                committed[disputeId][jurors[i]] = choice;
            }
            return;
        }
        if (d.reveals < d.commits && block.timestamp < d.revealDeadline) {
            if (d.commits < jurors.length && block.timestamp < d.commitDeadline) vm.warp(d.commitDeadline);
            for (uint256 i; i < jurors.length; ++i) {
                ValidatorCouncil.Vote memory v = council.getVote(disputeId, jurors[i]);
                if (v.commitment != 0 && !v.revealed) {
                    revealVote(disputeId, jurors[i], committed[disputeId][jurors[i]]);
                }
            }
            return;
        }
        if (block.timestamp < d.revealDeadline && d.reveals < jurors.length) vm.warp(d.revealDeadline);
        council.execute(disputeId);
        executions++;
    }

    /// Anyone may raise a dispute with the council, from an account without code too.
    function strangerDispute() external {
        vm.prank(stranger);
        try council.createDispute(2, "", token, COST) returns (uint256 disputeId) {
            disputeIds.push(disputeId);
        } catch {}
    }

    /// A validator leaves (refused while drawn) and, if it was below the minimum, joins again
    /// topped up.
    function rejoin(uint256 seed) external {
        address v = validators[seed % validators.length];
        ValidatorCouncil.Validator memory info = council.validator(v);
        vm.prank(v);
        try council.leave() {
            if (info.openDisputes != 0) violate("left while drawn");
        } catch {
            return;
        }
        token.faucet(v, MIN_STAKE);
        vm.prank(v);
        token.approve(address(council), MIN_STAKE);
        vm.prank(v);
        council.join(info.agentId, MIN_STAKE);
    }

    /// Mostly within a challenge window, sometimes days.
    function warp(uint256 seconds_) external {
        vm.warp(
            block.timestamp + (seconds_ % 4 == 0 ? bound(seconds_, 0, 6 days) : bound(seconds_, 0, 12 hours))
        );
    }
}

contract JobsInvariantTest is AgoraTest {
    VmJobs internal constant vmjs = VmJobs(address(uint160(uint256(keccak256("hevm cheat code")))));
    JobsHandler internal handler;

    function setUp() public {
        handler = new JobsHandler();
    }

    /// forge fuzzes only the contracts listed here.
    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    /// The escrow holds exactly the budgets of its Funded and Submitted jobs.
    function invariant_escrow_holds_the_budgets_of_funded_and_submitted_jobs() public view {
        (DevStablecoin token, AgenticCommerce escrow,,) = handler.contracts();
        uint256 owed;
        for (uint256 i; i < handler.jobCount(); ++i) {
            AgenticCommerce.Job memory job = escrow.getJob(handler.jobIds(i));
            if (job.status == AgenticCommerce.Status.Funded || job.status == AgenticCommerce.Status.Submitted)
            {
                owed += job.budget;
            }
        }
        assertEq(token.balanceOf(address(escrow)), owed, "escrow = budgets of Funded + Submitted");
    }

    /// The evaluator holds exactly the bonds of unsettled cases: one for Accepted and
    /// Submitted, two for Challenged.
    function invariant_evaluator_holds_the_bonds_of_unsettled_cases() public view {
        (DevStablecoin token,, JobEvaluator evaluator,) = handler.contracts();
        uint256 owed;
        for (uint256 i; i < handler.jobCount(); ++i) {
            uint256 jobId = handler.jobIds(i);
            JobEvaluator.Case memory c = evaluator.getCase(jobId);
            uint256 held;
            if (c.phase == JobEvaluator.Phase.Accepted || c.phase == JobEvaluator.Phase.Submitted) {
                held = c.bond;
            } else if (c.phase == JobEvaluator.Phase.Challenged) {
                held = 2 * c.bond;
            }
            owed += held;
            assertEq(handler.bondsIn(jobId) - handler.bondsOut(jobId), held, "the ghost books agree");
        }
        assertEq(token.balanceOf(address(evaluator)), owed, "evaluator = bonds of unsettled cases");
    }

    /// The council holds exactly the stakes, the fees of disputes not executed and the carried pot.
    function invariant_council_holds_stakes_fees_and_carried() public view {
        (DevStablecoin token,,, ValidatorCouncil council) = handler.contracts();
        uint256 owed = council.carried();
        address[] memory roster = council.roster();
        for (uint256 i; i < roster.length; ++i) {
            owed += council.validator(roster[i]).stake;
        }
        for (uint256 d; d < council.disputeCount(); ++d) {
            ValidatorCouncil.Dispute memory dispute = council.getDispute(d);
            if (!dispute.executed) owed += dispute.fee;
        }
        assertEq(token.balanceOf(address(council)), owed, "council = stakes + open fees + carried");
    }

    /// A job's budget leaves the escrow at most once, whole, and exactly when the job ended
    /// after being funded.
    function invariant_a_job_pays_out_at_most_once() public view {
        (, AgenticCommerce escrow,,) = handler.contracts();
        for (uint256 i; i < handler.jobCount(); ++i) {
            uint256 jobId = handler.jobIds(i);
            AgenticCommerce.Job memory job = escrow.getJob(jobId);
            uint256 n = handler.payouts(jobId);
            assertLe(n, 1, "at most one payout");
            assertEq(handler.paidOut(jobId), n * job.budget, "the whole budget");
            bool ended = job.status == AgenticCommerce.Status.Completed
                || job.status == AgenticCommerce.Status.Expired
                || (job.status == AgenticCommerce.Status.Rejected && handler.funded(jobId));
            assertEq(n, ended ? 1 : 0, "paid exactly when ended");
        }
    }

    /// A bond is returned or forfeited, never both, and only by the case's one settlement.
    function invariant_a_bond_is_returned_or_slashed_never_both() public view {
        (,, JobEvaluator evaluator,) = handler.contracts();
        for (uint256 i; i < handler.jobCount(); ++i) {
            uint256 jobId = handler.jobIds(i);
            assertTrue(!(handler.bondReturned(jobId) && handler.bondForfeited(jobId)), "never both");
            uint256 n = handler.settlements(jobId);
            assertLe(n, 1, "settled at most once");
            bool settled = evaluator.getCase(jobId).phase == JobEvaluator.Phase.Settled;
            assertEq(n, settled ? 1 : 0, "settled exactly when Settled");
            if (settled) assertEq(handler.bondsOut(jobId), handler.bondsIn(jobId), "all bonds paid out");
        }
    }

    event log_named_uint(string key, uint256 val);

    /// How far the run got (printed with -vv): settlements of each outcome, executions, jobs.
    function afterInvariant() public {
        for (uint8 o = 1; o <= 8; ++o) {
            emit log_named_uint(string.concat("outcome ", vmjs.toString(uint256(o))), handler.outcomes(o));
        }
        emit log_named_uint("executions", handler.executions());
        emit log_named_uint("jobs", handler.jobCount());
    }

    function invariant_nothing_forbidden_succeeds() public view {
        assertEq(handler.violations(), 0, handler.lastViolation());
    }
}
