// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {AgoraTest} from "./utils/AgoraTest.sol";
import {ZkCreditsTest} from "./utils/ZkCreditsTest.sol";
import {ZkCredits} from "../src/ZkCredits.sol";
import {DevStablecoin} from "../src/DevStablecoin.sol";

/// @dev Drives three pools (two in one token, one in another) with random deposits, earnings
/// withdrawals, commit-and-reveal slashes (of members and of strangers, twice or not) and the
/// fixture's exit (requested against the exit tree or, always refused, against the calls tree;
/// completed; cancelled by a slash), keeping ghost books.
contract ZkCreditsHandler is ZkCreditsTest {
    DevStablecoin public otherToken;
    uint256[] public poolIds;
    /// The secrets deposited into each pool (members, slashed or not).
    mapping(uint256 poolId => uint256[]) internal secrets;

    mapping(uint256 poolId => uint256) public ghostDeposits;
    mapping(uint256 poolId => uint256) public ghostSlashes;
    mapping(uint256 poolId => uint256) public ghostExitsPaid;
    mapping(uint256 poolId => uint256) public ghostWithdrawn;
    mapping(address token => uint256) public ghostIn;
    mapping(address token => uint256) public ghostOut;
    /// Calls that succeeded though they must not have.
    uint256 public wrongSuccesses;

    address internal constant SLASHER = address(0x51A5);
    address internal constant THIEF = address(0x7B1E);

    constructor() {
        setUpCredits();
        otherToken = new DevStablecoin();
        // Pool 1: the fixture's, with its two deposits (the exit tree the exit proof is against).
        poolIds.push(fixturePool());
        secrets[1].push(fx(".first.secret"));
        secrets[1].push(fx(".member.secret"));
        ghostDeposits[1] = 2;
        ghostIn[address(token)] = 2 * (UNIT_PRICE * CALLS + STAKE);
        // Pool 2: same token, other terms. Pool 3: another token.
        vm.prank(agentOwner);
        poolIds.push(credits.createPool(agentId, address(token), 1, 7, 3e6, 1 hours));
        vm.prank(agentOwner);
        poolIds.push(credits.createPool(agentId, address(otherToken), 250, 3, 1, 2 hours));
    }

    function poolCount() external view returns (uint256) {
        return poolIds.length;
    }

    function tokens() external view returns (DevStablecoin, DevStablecoin) {
        return (token, otherToken);
    }

    function creditsAddress() external view returns (ZkCredits) {
        return credits;
    }

    function deposit(uint256 which, uint256 secretSeed) external {
        uint256 poolId = poolIds[which % poolIds.length];
        // A small secret space: some deposits collide with earlier ones and must be refused.
        uint256 secret = bound(secretSeed, 1, 40);
        ZkCredits.Pool memory p = credits.pool(poolId);
        uint256 idCommitment = t2.hash([secret]);
        uint256 leaf = t3.hash([idCommitment, uint256(p.calls)]);
        bool taken = credits.leafState(poolId, leaf) != ZkCredits.LeafState.None;
        uint256 amount = p.price + p.stake;
        DevStablecoin t = DevStablecoin(p.token);
        t.faucet(buyer, amount);
        vm.prank(buyer);
        t.approve(address(credits), amount);
        vm.prank(buyer);
        try credits.deposit(poolId, idCommitment) {
            if (taken) wrongSuccesses++;
            secrets[poolId].push(secret);
            ghostDeposits[poolId]++;
            ghostIn[p.token] += amount;
        } catch {}
    }

    function withdrawEarnings(uint256 which, bool asPayee) external {
        uint256 poolId = poolIds[which % poolIds.length];
        ZkCredits.Pool memory p = credits.pool(poolId);
        vm.prank(asPayee ? agentOwner : THIEF);
        try credits.withdrawEarnings(poolId, THIEF) {
            if (!asPayee || p.earned == 0) wrongSuccesses++;
            ghostWithdrawn[poolId] += p.earned;
            ghostOut[p.token] += p.earned;
        } catch {}
    }

    /// Slashes a member (or, with `stranger`, someone who never deposited), committing first
    /// and revealing in a later block, or (with `sameBlock`) in the commitment's block.
    function slash(uint256 which, uint256 pick, bool stranger, bool sameBlock) external {
        uint256 poolId = poolIds[which % poolIds.length];
        uint256[] storage list = secrets[poolId];
        uint256 secret;
        if (stranger || list.length == 0) secret = 1000 + (pick % 1000);
        else secret = list[pick % list.length];
        ZkCredits.Pool memory p = credits.pool(poolId);
        uint256 leaf = t3.hash([t2.hash([secret]), uint256(p.calls)]);
        uint256 nullifier = t2.hash([t4.hash([secret, p.exitScope, 0])]);
        (,, ZkCredits.ExitState exitState) = credits.exits(poolId, nullifier);
        bytes32 commitment = keccak256(abi.encode(poolId, secret, THIEF, SLASHER));
        // A commitment made before (and never revealed) stands with its block.
        uint256 committedAt = credits.slashCommitments(commitment);
        if (committedAt == 0) committedAt = block.number;

        vm.prank(SLASHER);
        credits.commitSlash(commitment);
        if (!sameBlock) vmz.roll(block.number + 1);
        bool allowed = committedAt < block.number
            && credits.leafState(poolId, leaf) == ZkCredits.LeafState.Active
            && exitState != ZkCredits.ExitState.Paid;
        vm.prank(SLASHER);
        try credits.slash(poolId, secret, THIEF) {
            if (!allowed) wrongSuccesses++;
            ghostSlashes[poolId]++;
            ghostOut[p.token] += p.stake;
        } catch {
            if (allowed) wrongSuccesses++;
        }
    }

    /// The fixture's exit in pool 1: admitted exactly while its nullifier was never used (no
    /// exit requested, member not slashed) and its exit root is among the last 64; with
    /// `againstCalls`, the same proof against the calls tree's root, which is always refused.
    function requestExit(bool againstCalls) external {
        uint256 nullifier = fx(".exit.nullifier");
        uint256 root = againstCalls ? fx(".rootAfterTwo") : fx(".exit.root");
        (,, ZkCredits.ExitState state) = credits.exits(1, nullifier);
        bool allowed = !againstCalls && state == ZkCredits.ExitState.None && credits.isKnownExitRoot(1, root);
        try credits.requestExit(1, root, nullifier, fx(".exit.y"), fixtureReceiver(), fixtureProof()) {
            if (!allowed) wrongSuccesses++;
        } catch {
            if (allowed) wrongSuccesses++;
        }
    }

    function completeExit(uint256 wait) external {
        vm.warp(block.timestamp + bound(wait, 0, 2 days));
        uint256 nullifier = fx(".exit.nullifier");
        (,, ZkCredits.ExitState before) = credits.exits(1, nullifier);
        try credits.completeExit(1, nullifier) {
            if (before != ZkCredits.ExitState.Pending) wrongSuccesses++;
            ghostExitsPaid[1]++;
            ghostOut[address(token)] += STAKE;
        } catch {}
    }
}

contract ZkCreditsInvariantTest is AgoraTest {
    ZkCreditsHandler internal handler;

    function setUp() public {
        handler = new ZkCreditsHandler();
    }

    /// forge fuzzes only the contracts listed here.
    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    /// What the contract holds of each token is exactly the unwithdrawn earnings plus one stake
    /// per member neither slashed nor paid out (open or with a pending exit).
    function invariant_holdings_equal_earnings_plus_held_stakes() public view {
        ZkCredits credits = handler.creditsAddress();
        (DevStablecoin a, DevStablecoin b) = handler.tokens();
        uint256 owedA;
        uint256 owedB;
        for (uint256 i = 0; i < handler.poolCount(); i++) {
            uint256 poolId = handler.poolIds(i);
            ZkCredits.Pool memory p = credits.pool(poolId);
            uint256 owed = p.earned + p.stake * (uint256(p.openStakes) + p.pendingExits);
            if (p.token == address(a)) owedA += owed;
            else owedB += owed;

            uint256 held =
                handler.ghostDeposits(poolId) - handler.ghostSlashes(poolId) - handler.ghostExitsPaid(poolId);
            assertEq(uint256(p.openStakes) + p.pendingExits, held, "stakes held = deposits - slashes - exits");
            assertEq(
                p.earned, handler.ghostDeposits(poolId) * p.price - handler.ghostWithdrawn(poolId), "earnings"
            );
            assertEq(credits.size(poolId), handler.ghostDeposits(poolId), "one leaf per deposit");
            assertTrue(credits.isKnownRoot(poolId, credits.currentRoot(poolId)), "the current root is known");
            assertTrue(
                credits.isKnownExitRoot(poolId, credits.currentExitRoot(poolId)),
                "the current exit root is known"
            );
            uint256 kept = credits.recentExitRoots(poolId).length;
            assertEq(kept, credits.recentRoots(poolId).length, "both trees keep as many roots");
            assertEq(
                kept, handler.ghostDeposits(poolId) < 64 ? handler.ghostDeposits(poolId) + 1 : 64, "kept"
            );
        }
        assertEq(a.balanceOf(address(credits)), owedA, "token A: holdings = earnings + stakes");
        assertEq(b.balanceOf(address(credits)), owedB, "token B: holdings = earnings + stakes");
        assertEq(
            a.balanceOf(address(credits)), handler.ghostIn(address(a)) - handler.ghostOut(address(a)), "A"
        );
        assertEq(
            b.balanceOf(address(credits)), handler.ghostIn(address(b)) - handler.ghostOut(address(b)), "B"
        );
    }

    function invariant_nothing_forbidden_succeeds() public view {
        assertEq(
            handler.wrongSuccesses(), 0, "a call that must fail succeeded (or one that must not, failed)"
        );
    }
}
