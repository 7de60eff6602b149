// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IERC20Errors, IERC721Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {ZkCreditsTest} from "./utils/ZkCreditsTest.sol";
import {ZkCredits} from "../src/ZkCredits.sol";

contract ZkCreditsUnitTest is ZkCreditsTest {
    address internal slasher = address(0x51A5);
    address internal reward = address(0x7E3A);
    address internal payee2 = address(0xFEE);

    function setUp() public {
        setUpCredits();
    }

    function balance(address who) internal view returns (uint256) {
        return token.balanceOf(who);
    }

    function exitOf(uint256 poolId, uint256 nullifier) internal view returns (ZkCredits.ExitState) {
        (,, ZkCredits.ExitState state) = credits.exits(poolId, nullifier);
        return state;
    }

    // ---------------------------------------------------------------------------------------
    // Pools
    // ---------------------------------------------------------------------------------------

    function test_the_fixture_contract_address() public view {
        assertEq(vmz.parseJsonAddress(fixture, ".contract"), FIXTURE_CONTRACT, "fixture address");
        assertEq(fx(".chainId"), block.chainid, "chain id");
        assertEq(fx(".poolId"), 1, "pool id");
        assertEq(fx(".calls"), CALLS, "calls");
    }

    function test_createPool_stores_terms_and_the_fixture_scopes() public {
        vm.expectEmit(true, true, true, true, address(credits));
        emit ZkCredits.PoolCreated(
            1, agentId, agentOwner, address(token), UNIT_PRICE, CALLS, STAKE, EXIT_DELAY
        );
        uint256 poolId = createPool();
        assertEq(poolId, 1, "pool ids start at 1");
        assertEq(credits.poolCount(), 1, "count");

        ZkCredits.Pool memory p = credits.pool(poolId);
        assertEq(p.agentId, agentId, "agent");
        assertEq(p.payee, agentOwner, "payee");
        assertEq(p.token, address(token), "token");
        assertEq(p.calls, CALLS, "calls");
        assertEq(p.exitDelay, EXIT_DELAY, "delay");
        assertEq(p.unitPrice, UNIT_PRICE, "unit price");
        assertEq(p.price, UNIT_PRICE * CALLS, "price");
        assertEq(p.stake, STAKE, "stake");
        assertEq(p.earned, 0, "earned");
        assertEq(p.openStakes, 0, "open stakes");
        assertEq(p.pendingExits, 0, "pending exits");
        assertEq(p.rlnIdentifier, fx(".rlnIdentifier"), "rln identifier");
        assertEq(p.callScope, fx(".callScope"), "call scope");
        assertEq(p.exitScope, fx(".exitScope"), "exit scope");
        uint256 expectedId = uint256(keccak256(abi.encode(block.chainid, address(credits), uint256(1)))) % R;
        assertEq(p.rlnIdentifier, expectedId, "keccak256(abi.encode(chainid, this, poolId)) mod R");
        assertEq(p.callScope, t3.hash([uint256(0), expectedId]), "call scope = T3(0, id)");
        assertEq(p.exitScope, t3.hash([uint256(1), expectedId]), "exit scope = T3(1, id)");

        assertEq(createPool(), 2, "the next pool is 2");
        assertTrue(credits.pool(2).rlnIdentifier != p.rlnIdentifier, "each pool has its own identifier");
    }

    function test_createPool_only_by_the_agent_owner() public {
        vm.prank(buyer);
        vm.expectRevert(abi.encodeWithSelector(ZkCredits.NotAgentOwner.selector, buyer, agentId));
        credits.createPool(agentId, address(token), UNIT_PRICE, CALLS, STAKE, EXIT_DELAY);

        vm.prank(agentOwner);
        vm.expectRevert(abi.encodeWithSelector(IERC721Errors.ERC721NonexistentToken.selector, 77));
        credits.createPool(77, address(token), UNIT_PRICE, CALLS, STAKE, EXIT_DELAY);
    }

    function test_createPool_refuses_bad_terms() public {
        vm.startPrank(agentOwner);
        vm.expectRevert(abi.encodeWithSelector(ZkCredits.InvalidToken.selector, address(0)));
        credits.createPool(agentId, address(0), UNIT_PRICE, CALLS, STAKE, EXIT_DELAY);
        vm.expectRevert(abi.encodeWithSelector(ZkCredits.InvalidToken.selector, address(0xE0A)));
        credits.createPool(agentId, address(0xE0A), UNIT_PRICE, CALLS, STAKE, EXIT_DELAY);
        vm.expectRevert(ZkCredits.ZeroPrice.selector);
        credits.createPool(agentId, address(token), 0, CALLS, STAKE, EXIT_DELAY);
        vm.expectRevert(ZkCredits.ZeroStake.selector);
        credits.createPool(agentId, address(token), UNIT_PRICE, CALLS, 0, EXIT_DELAY);
        uint256 tooMuch = uint256(type(uint128).max) + 1;
        vm.expectRevert(ZkCredits.AmountTooLarge.selector);
        credits.createPool(agentId, address(token), tooMuch, CALLS, STAKE, EXIT_DELAY);
        vm.expectRevert(ZkCredits.AmountTooLarge.selector);
        credits.createPool(agentId, address(token), UNIT_PRICE, CALLS, tooMuch, EXIT_DELAY);
        vm.expectRevert(abi.encodeWithSelector(ZkCredits.CallsOutOfRange.selector, uint32(0)));
        credits.createPool(agentId, address(token), UNIT_PRICE, 0, STAKE, EXIT_DELAY);
        vm.expectRevert(abi.encodeWithSelector(ZkCredits.CallsOutOfRange.selector, uint32(65_537)));
        credits.createPool(agentId, address(token), UNIT_PRICE, 65_537, STAKE, EXIT_DELAY);
        vm.expectRevert(abi.encodeWithSelector(ZkCredits.ExitDelayOutOfRange.selector, uint64(1 hours - 1)));
        credits.createPool(agentId, address(token), UNIT_PRICE, CALLS, STAKE, 1 hours - 1);
        vm.expectRevert(abi.encodeWithSelector(ZkCredits.ExitDelayOutOfRange.selector, uint64(30 days + 1)));
        credits.createPool(agentId, address(token), UNIT_PRICE, CALLS, STAKE, 30 days + 1);
        // The bounds themselves are accepted.
        credits.createPool(agentId, address(token), 1, 1, 1, 1 hours);
        credits.createPool(agentId, address(token), type(uint128).max, 65_536, type(uint128).max, 30 days);
        vm.stopPrank();
        assertEq(credits.poolCount(), 2, "two pools");
        assertEq(credits.pool(2).price, uint256(type(uint128).max) * 65_536, "the largest price");
    }

    function testFuzz_createPool_bounds(uint32 calls, uint64 exitDelay) public {
        bool ok = calls >= 1 && calls <= 65_536 && exitDelay >= 1 hours && exitDelay <= 30 days;
        vm.prank(agentOwner);
        if (!ok) vm.expectRevert();
        credits.createPool(agentId, address(token), UNIT_PRICE, calls, STAKE, exitDelay);
        assertEq(credits.poolCount(), ok ? 1 : 0, "created exactly when in bounds");
    }

    function test_views_of_an_unknown_pool() public {
        createPool();
        vm.expectRevert(abi.encodeWithSelector(ZkCredits.UnknownPool.selector, 0));
        credits.pool(0);
        vm.expectRevert(abi.encodeWithSelector(ZkCredits.UnknownPool.selector, 2));
        credits.pool(2);
        vm.expectRevert(abi.encodeWithSelector(ZkCredits.UnknownPool.selector, 2));
        credits.recentRoots(2);
        vm.expectRevert(abi.encodeWithSelector(ZkCredits.UnknownPool.selector, 2));
        credits.currentRoot(2);
        vm.expectRevert(abi.encodeWithSelector(ZkCredits.UnknownPool.selector, 2));
        credits.recentExitRoots(2);
        vm.expectRevert(abi.encodeWithSelector(ZkCredits.UnknownPool.selector, 2));
        credits.currentExitRoot(2);
        vm.expectRevert(abi.encodeWithSelector(ZkCredits.UnknownPool.selector, 2));
        credits.size(2);
        assertTrue(!credits.isKnownRoot(2, fx(".emptyRoot")), "no roots in an unknown pool");
        assertTrue(!credits.isKnownExitRoot(2, fx(".emptyRoot")), "no exit roots in an unknown pool");
    }

    // ---------------------------------------------------------------------------------------
    // Deposits and the tree
    // ---------------------------------------------------------------------------------------

    function test_empty_tree() public {
        uint256 poolId = createPool();
        uint256 empty = fx(".emptyRoot");
        assertEq(credits.EMPTY_ROOT(), empty, "EMPTY_ROOT");
        uint256 zero = 0;
        for (uint256 i = 0; i < 20; i++) {
            zero = t3.hash([zero, zero]);
        }
        assertEq(zero, empty, "zeros[20] = the fixture's empty root");
        assertEq(zeroHashes[20], empty, "the reference trees' empty root");
        assertEq(credits.currentRoot(poolId), empty, "current root");
        assertEq(credits.size(poolId), 0, "size");
        uint256[] memory roots = credits.recentRoots(poolId);
        assertEq(roots.length, 1, "one root");
        assertEq(roots[0], empty, "the empty root");
        assertTrue(credits.isKnownRoot(poolId, empty), "the empty root is known");
        assertTrue(!credits.isKnownRoot(poolId, 0), "0 is never a root");

        assertEq(credits.currentExitRoot(poolId), empty, "current exit root");
        roots = credits.recentExitRoots(poolId);
        assertEq(roots.length, 1, "one exit root");
        assertEq(roots[0], empty, "the empty exit root");
        assertTrue(credits.isKnownExitRoot(poolId, empty), "the empty exit root is known");
        assertTrue(!credits.isKnownExitRoot(poolId, 0), "0 is never an exit root");
    }

    function test_poseidon_matches_the_fixture() public view {
        assertEq(t2.hash([uint256(1)]), fx(".poseidon.t2_1"), "T2(1)");
        assertEq(t3.hash([uint256(1), 2]), fx(".poseidon.t3_1_2"), "T3(1, 2)");
        assertEq(t4.hash([uint256(1), 2, 3]), fx(".poseidon.t4_1_2_3"), "T4(1, 2, 3)");
        assertEq(t2.hash([fx(".member.secret")]), fx(".member.idCommitment"), "idCommitment = T2(secret)");
        assertEq(t3.hash([fx(".member.idCommitment"), CALLS]), fx(".member.leaf"), "leaf = T3(id, calls)");
        assertEq(t2.hash([fx(".first.secret")]), fx(".first.idCommitment"), "first: idCommitment");
        assertEq(t3.hash([fx(".first.idCommitment"), CALLS]), fx(".first.leaf"), "first: leaf");
        assertEq(
            t3.hash([fx(".first.idCommitment"), uint256(1)]), fx(".firstExitLeaf"), "exitLeaf = T3(id, 1)"
        );
        assertEq(t3.hash([fx(".member.idCommitment"), uint256(1)]), fx(".memberExitLeaf"), "member exitLeaf");
        assertEq(fx(".exit.root"), fx(".exitRootAfterTwo"), "the exit proof is against the exit tree");
        uint256 exitNullifier = t2.hash([t4.hash([fx(".member.secret"), fx(".exitScope"), 0])]);
        assertEq(exitNullifier, fx(".exit.nullifier"), "the exit nullifier is message id 0's");
    }

    function test_two_fixture_deposits_give_the_fixture_root() public {
        uint256 poolId = createPool();
        uint256 price = UNIT_PRICE * CALLS;
        uint256 amount = price + STAKE;
        token.faucet(buyer, 2 * amount);
        vm.prank(buyer);
        token.approve(address(credits), 2 * amount);

        uint256 firstLeaf = fx(".first.leaf");
        uint256 rootAfterOne = referenceRoot(one(firstLeaf));
        uint256 firstExitLeaf = fx(".firstExitLeaf");
        uint256 exitRootAfterOne = referenceRoot(one(firstExitLeaf));
        vm.expectEmit(true, true, true, true, address(credits));
        emit ZkCredits.Deposited(poolId, 0, firstLeaf, rootAfterOne, firstExitLeaf, exitRootAfterOne);
        vm.prank(buyer);
        assertEq(credits.deposit(poolId, fx(".first.idCommitment")), 0, "index 0");

        vm.expectEmit(true, true, true, true, address(credits));
        emit ZkCredits.Deposited(
            poolId, 1, fx(".member.leaf"), fx(".rootAfterTwo"), fx(".memberExitLeaf"), fx(".exitRootAfterTwo")
        );
        vm.prank(buyer);
        assertEq(credits.deposit(poolId, fx(".member.idCommitment")), 1, "index 1");

        assertEq(credits.currentRoot(poolId), fx(".rootAfterTwo"), "root after two");
        assertEq(credits.size(poolId), 2, "size");
        uint256[] memory roots = credits.recentRoots(poolId);
        assertEq(roots.length, 3, "three roots");
        assertEq(roots[0], fx(".rootAfterTwo"), "newest first");
        assertEq(roots[1], rootAfterOne, "then the one before");
        assertEq(roots[2], fx(".emptyRoot"), "then the empty root");
        assertTrue(!credits.isKnownExitRoot(poolId, fx(".rootAfterTwo")), "calls roots are not exit roots");

        // The exit tree: the same indexes, its own leaves and roots.
        assertEq(credits.currentExitRoot(poolId), fx(".exitRootAfterTwo"), "exit root after two");
        uint256[] memory exitLeaves = new uint256[](2);
        exitLeaves[0] = firstExitLeaf;
        exitLeaves[1] = fx(".memberExitLeaf");
        assertEq(referenceRoot(exitLeaves), fx(".exitRootAfterTwo"), "the reference exit root");
        roots = credits.recentExitRoots(poolId);
        assertEq(roots.length, 3, "three exit roots");
        assertEq(roots[0], fx(".exitRootAfterTwo"), "newest exit root first");
        assertEq(roots[1], exitRootAfterOne, "then the one before");
        assertEq(roots[2], fx(".emptyRoot"), "then the empty root");
        assertTrue(credits.isKnownExitRoot(poolId, exitRootAfterOne), "the older exit root is known");
        assertTrue(!credits.isKnownRoot(poolId, fx(".exitRootAfterTwo")), "exit roots are not calls roots");

        assertTrue(uint8(credits.leafState(poolId, firstLeaf)) == 1, "first leaf active");
        assertTrue(uint8(credits.leafState(poolId, fx(".member.leaf"))) == 1, "member leaf active");
        assertEq(balance(address(credits)), 2 * amount, "holds both deposits");
        assertEq(balance(buyer), 0, "buyer paid");
        ZkCredits.Pool memory p = credits.pool(poolId);
        assertEq(p.earned, 2 * price, "earned the price twice");
        assertEq(p.openStakes, 2, "two open stakes");
    }

    function one(uint256 leaf) internal pure returns (uint256[] memory leaves) {
        leaves = new uint256[](1);
        leaves[0] = leaf;
    }

    function test_deposit_refusals() public {
        uint256 poolId = createPool();
        token.faucet(buyer, 10e6);
        vm.startPrank(buyer);
        token.approve(address(credits), 10e6);
        vm.expectRevert(abi.encodeWithSelector(ZkCredits.UnknownPool.selector, 0));
        credits.deposit(0, 5);
        vm.expectRevert(abi.encodeWithSelector(ZkCredits.UnknownPool.selector, 2));
        credits.deposit(2, 5);
        vm.expectRevert(abi.encodeWithSelector(ZkCredits.InvalidIdCommitment.selector, 0));
        credits.deposit(poolId, 0);
        vm.expectRevert(abi.encodeWithSelector(ZkCredits.InvalidIdCommitment.selector, R));
        credits.deposit(poolId, R);
        credits.deposit(poolId, 5);
        uint256 leaf = t3.hash([uint256(5), CALLS]);
        vm.expectRevert(abi.encodeWithSelector(ZkCredits.LeafTaken.selector, leaf));
        credits.deposit(poolId, 5);
        vm.stopPrank();

        // Without enough allowance the token refuses.
        address poor = address(0xD00D);
        token.faucet(poor, 10e6);
        vm.prank(poor);
        token.approve(address(credits), 1);
        vm.prank(poor);
        vm.expectRevert(
            abi.encodeWithSelector(
                IERC20Errors.ERC20InsufficientAllowance.selector,
                address(credits),
                1,
                UNIT_PRICE * CALLS + STAKE
            )
        );
        credits.deposit(poolId, 6);
    }

    function test_a_leaf_may_be_deposited_into_each_pool_once() public {
        uint256 a = createPool();
        uint256 b = createPool();
        depositAs(buyer, a, 42);
        depositAs(buyer, b, 42);
        assertEq(credits.size(a), 1, "pool a");
        assertEq(credits.size(b), 1, "pool b");
    }

    function test_tree_full() public {
        uint256 poolId = createPool();
        vmz.store(address(credits), treeSizeSlot(poolId), bytes32(uint256(1 << 20)));
        assertEq(credits.size(poolId), 1 << 20, "the size slot");
        token.faucet(buyer, 10e6);
        vm.prank(buyer);
        token.approve(address(credits), 10e6);
        vm.prank(buyer);
        vm.expectRevert(ZkCredits.TreeFull.selector);
        credits.deposit(poolId, 5);
    }

    function test_the_root_ring_keeps_the_last_64_roots() public {
        uint256 poolId = createPool(1);
        uint256 empty = fx(".emptyRoot");
        uint256 firstRoot;
        for (uint256 i = 1; i <= 64; i++) {
            depositAs(buyer, poolId, i);
            if (i == 1) firstRoot = credits.currentRoot(poolId);
        }
        assertTrue(!credits.isKnownRoot(poolId, empty), "the empty root fell out after 64 deposits");
        assertTrue(credits.isKnownRoot(poolId, firstRoot), "the first deposit's root is the oldest kept");
        uint256[] memory roots = credits.recentRoots(poolId);
        assertEq(roots.length, 64, "64 roots");
        assertEq(roots[0], credits.currentRoot(poolId), "newest first");
        assertEq(roots[63], firstRoot, "oldest last");
        depositAs(buyer, poolId, 65);
        assertTrue(!credits.isKnownRoot(poolId, firstRoot), "and then it falls out too");
        assertEq(credits.recentRoots(poolId).length, 64, "still 64");

        uint256[] memory leaves = new uint256[](65);
        for (uint256 i = 0; i < 65; i++) {
            leaves[i] = t3.hash([i + 1, uint256(1)]);
        }
        assertEq(credits.currentRoot(poolId), referenceRoot(leaves), "65 leaves: the reference root");
        // With one call per deposit, the exit tree's leaves are the calls tree's.
        assertEq(credits.currentExitRoot(poolId), credits.currentRoot(poolId), "calls = 1: the same tree");
    }

    function test_the_exit_root_ring_keeps_the_last_64_exit_roots() public {
        uint256 poolId = createPool();
        uint256 empty = fx(".emptyRoot");
        uint256 firstExitRoot;
        for (uint256 i = 1; i <= 64; i++) {
            depositAs(buyer, poolId, i);
            if (i == 1) firstExitRoot = credits.currentExitRoot(poolId);
        }
        assertEq(firstExitRoot, referenceRoot(one(exitLeafOf(1))), "the first exit root");
        assertTrue(!credits.isKnownExitRoot(poolId, empty), "the empty exit root fell out");
        assertTrue(credits.isKnownExitRoot(poolId, firstExitRoot), "the oldest kept");
        uint256[] memory roots = credits.recentExitRoots(poolId);
        assertEq(roots.length, 64, "64 exit roots");
        assertEq(roots[0], credits.currentExitRoot(poolId), "newest first");
        assertEq(roots[63], firstExitRoot, "oldest last");
        depositAs(buyer, poolId, 65);
        assertTrue(!credits.isKnownExitRoot(poolId, firstExitRoot), "and then it falls out too");
        assertEq(credits.recentExitRoots(poolId).length, 64, "still 64");
        assertTrue(credits.currentExitRoot(poolId) != credits.currentRoot(poolId), "calls = 100: two trees");
    }

    /// Random commitments, deposited in order into a pool of random calls: in both trees every
    /// root equals a full recomputation (calls leaves `T3(id, calls)`, exit leaves `T3(id, 1)`),
    /// the size counts them, every root stays known in its own tree only, and each deposit's
    /// event carries both leaves and both roots.
    function testFuzz_deposits_match_the_reference_trees(uint256 seed, uint8 count, uint32 callsSeed) public {
        uint256 n = bound(count, 1, 9);
        uint32 calls = uint32(bound(callsSeed, 2, 65_536));
        uint256 poolId = createPool(calls);
        uint256[] memory leaves = new uint256[](n);
        uint256[] memory exitLeaves = new uint256[](n);
        uint256[] memory roots = new uint256[](n);
        uint256[] memory exitRoots = new uint256[](n);
        uint256 amount = credits.pool(poolId).price + STAKE;
        token.faucet(buyer, n * amount);
        vm.prank(buyer);
        token.approve(address(credits), n * amount);
        for (uint256 i = 0; i < n; i++) {
            uint256 idCommitment = uint256(keccak256(abi.encode(seed, i))) % (R - 1) + 1;
            leaves[i] = t3.hash([idCommitment, uint256(calls)]);
            exitLeaves[i] = exitLeafOf(idCommitment);
            uint256[] memory calledLeaves = new uint256[](i + 1);
            uint256[] memory exitSoFar = new uint256[](i + 1);
            for (uint256 j = 0; j <= i; j++) {
                calledLeaves[j] = leaves[j];
                exitSoFar[j] = exitLeaves[j];
            }
            roots[i] = referenceRoot(calledLeaves);
            exitRoots[i] = referenceRoot(exitSoFar);
            vm.expectEmit(true, true, true, true, address(credits));
            emit ZkCredits.Deposited(poolId, i, leaves[i], roots[i], exitLeaves[i], exitRoots[i]);
            vm.prank(buyer);
            assertEq(credits.deposit(poolId, idCommitment), i, "index");
            assertEq(credits.currentRoot(poolId), roots[i], "root = reference");
            assertEq(credits.currentExitRoot(poolId), exitRoots[i], "exit root = reference");
        }
        assertEq(credits.size(poolId), n, "size");
        for (uint256 i = 0; i < n; i++) {
            assertTrue(credits.isKnownRoot(poolId, roots[i]), "every root is known");
            assertTrue(credits.isKnownExitRoot(poolId, exitRoots[i]), "every exit root is known");
            assertTrue(!credits.isKnownExitRoot(poolId, roots[i]), "a calls root is no exit root");
            assertTrue(!credits.isKnownRoot(poolId, exitRoots[i]), "an exit root is no calls root");
        }
        assertEq(credits.recentRoots(poolId).length, n + 1, "n + 1 roots");
        uint256[] memory recentExit = credits.recentExitRoots(poolId);
        assertEq(recentExit.length, n + 1, "n + 1 exit roots");
        for (uint256 i = 0; i < n; i++) {
            assertEq(recentExit[i], exitRoots[n - 1 - i], "exit roots newest first");
        }
    }

    // ---------------------------------------------------------------------------------------
    // Earnings
    // ---------------------------------------------------------------------------------------

    function test_withdrawEarnings() public {
        uint256 poolId = createPool();
        depositAs(buyer, poolId, 1);
        depositAs(buyer, poolId, 2);
        uint256 earned = 2 * UNIT_PRICE * CALLS;

        vm.prank(buyer);
        vm.expectRevert(abi.encodeWithSelector(ZkCredits.NotPayee.selector, buyer, agentOwner));
        credits.withdrawEarnings(poolId, buyer);
        vm.prank(agentOwner);
        vm.expectRevert(ZkCredits.ZeroReceiver.selector);
        credits.withdrawEarnings(poolId, address(0));
        vm.prank(agentOwner);
        vm.expectRevert(abi.encodeWithSelector(ZkCredits.UnknownPool.selector, 9));
        credits.withdrawEarnings(9, payee2);

        vm.expectEmit(true, true, true, true, address(credits));
        emit ZkCredits.EarningsWithdrawn(poolId, payee2, earned);
        vm.prank(agentOwner);
        credits.withdrawEarnings(poolId, payee2);
        assertEq(balance(payee2), earned, "paid the earnings");
        assertEq(balance(address(credits)), 2 * STAKE, "the stakes stay");
        assertEq(credits.pool(poolId).earned, 0, "nothing left");

        vm.prank(agentOwner);
        vm.expectRevert(ZkCredits.NothingEarned.selector);
        credits.withdrawEarnings(poolId, payee2);
    }

    // ---------------------------------------------------------------------------------------
    // Slashing
    // ---------------------------------------------------------------------------------------

    function test_slash_pays_the_stake_and_bars_the_exit() public {
        uint256 poolId = fixturePool();
        uint256 secret = fx(".member.secret");
        uint256 leaf = fx(".member.leaf");
        uint256 nullifier = fx(".exit.nullifierFromSecret");
        bytes32 commitment = slashCommitment(poolId, secret, reward, slasher);

        vm.expectEmit(true, true, true, true, address(credits));
        emit ZkCredits.SlashCommitted(commitment, block.number);
        vm.prank(slasher);
        credits.commitSlash(commitment);
        assertEq(credits.slashCommitments(commitment), block.number, "commitment block");
        vmz.roll(block.number + 1);

        vm.expectEmit(true, true, true, true, address(credits));
        emit ZkCredits.Slashed(poolId, leaf, reward, STAKE);
        vm.prank(slasher);
        credits.slash(poolId, secret, reward);

        assertEq(balance(reward), STAKE, "the receiver has the stake");
        assertTrue(uint8(credits.leafState(poolId, leaf)) == 2, "leaf slashed");
        assertTrue(exitOf(poolId, nullifier) == ZkCredits.ExitState.Cancelled, "exit nullifier used");
        assertEq(credits.pool(poolId).openStakes, 1, "one open stake left");
        assertEq(credits.slashCommitments(commitment), 0, "the commitment is spent");

        vm.expectRevert(abi.encodeWithSelector(ZkCredits.ExitNullifierCancelled.selector, nullifier));
        requestFixtureExit(poolId);

        // A second slash of the same member.
        vm.prank(slasher);
        credits.commitSlash(commitment);
        vmz.roll(block.number + 1);
        vm.prank(slasher);
        vm.expectRevert(abi.encodeWithSelector(ZkCredits.AlreadySlashed.selector, leaf));
        credits.slash(poolId, secret, reward);
    }

    function test_slash_in_the_commitment_block_is_refused() public {
        uint256 poolId = fixturePool();
        uint256 secret = fx(".member.secret");
        vm.startPrank(slasher);
        credits.commitSlash(slashCommitment(poolId, secret, reward, slasher));
        vm.expectRevert(ZkCredits.SlashRevealTooEarly.selector);
        credits.slash(poolId, secret, reward);
        vm.stopPrank();
    }

    function test_slash_by_another_than_the_committer_is_refused() public {
        uint256 poolId = fixturePool();
        uint256 secret = fx(".member.secret");
        vm.prank(slasher);
        credits.commitSlash(slashCommitment(poolId, secret, reward, slasher));
        vmz.roll(block.number + 1);
        // A watcher who saw the reveal cannot take the reward, for itself or the receiver named.
        vm.prank(buyer);
        vm.expectRevert(ZkCredits.SlashNotCommitted.selector);
        credits.slash(poolId, secret, buyer);
        vm.prank(buyer);
        vm.expectRevert(ZkCredits.SlashNotCommitted.selector);
        credits.slash(poolId, secret, reward);
        // Nor can the committer change the receiver.
        vm.prank(slasher);
        vm.expectRevert(ZkCredits.SlashNotCommitted.selector);
        credits.slash(poolId, secret, slasher);
    }

    function test_commitSlash_keeps_the_first_block() public {
        bytes32 commitment = keccak256("c");
        vm.prank(slasher);
        credits.commitSlash(commitment);
        uint256 first = block.number;
        vmz.roll(block.number + 5);
        vm.prank(buyer);
        credits.commitSlash(commitment);
        assertEq(credits.slashCommitments(commitment), first, "a second commit cannot push it forward");
    }

    function test_slash_refusals() public {
        uint256 poolId = fixturePool();
        // Not a member.
        uint256 stranger = 999;
        uint256 strangerLeaf = t3.hash([t2.hash([stranger]), uint256(CALLS)]);
        vm.prank(slasher);
        credits.commitSlash(slashCommitment(poolId, stranger, reward, slasher));
        // A secret outside the field.
        vm.prank(slasher);
        credits.commitSlash(slashCommitment(poolId, R, reward, slasher));
        // No receiver.
        vm.prank(slasher);
        credits.commitSlash(slashCommitment(poolId, 12_345, address(0), slasher));
        // An unknown pool.
        vm.prank(slasher);
        credits.commitSlash(slashCommitment(7, 12_345, reward, slasher));
        vmz.roll(block.number + 1);

        vm.startPrank(slasher);
        vm.expectRevert(abi.encodeWithSelector(ZkCredits.NotAMember.selector, strangerLeaf));
        credits.slash(poolId, stranger, reward);
        vm.expectRevert(ZkCredits.SecretOutOfRange.selector);
        credits.slash(poolId, R, reward);
        vm.expectRevert(ZkCredits.ZeroReceiver.selector);
        credits.slash(poolId, 12_345, address(0));
        vm.expectRevert(abi.encodeWithSelector(ZkCredits.UnknownPool.selector, 7));
        credits.slash(7, 12_345, reward);
        vm.stopPrank();
    }

    function test_slash_without_an_open_stake_is_refused() public {
        uint256 poolId = fixturePool();
        // White-box: no open stake left (what only exits with other ticket numbers could cause).
        bytes32 slot = poolBooksSlot(poolId);
        uint256 books = uint256(vmz.load(address(credits), slot));
        vmz.store(address(credits), slot, bytes32(books & ~(uint256(type(uint32).max) << 160)));
        assertEq(credits.pool(poolId).openStakes, 0, "no open stake");
        assertEq(credits.pool(poolId).token, address(token), "token intact");
        uint256 secret = fx(".member.secret");
        vm.prank(slasher);
        credits.commitSlash(slashCommitment(poolId, secret, reward, slasher));
        vmz.roll(block.number + 1);
        vm.prank(slasher);
        vm.expectRevert(abi.encodeWithSelector(ZkCredits.NoOpenStake.selector, poolId));
        credits.slash(poolId, secret, reward);
        vm.expectRevert(abi.encodeWithSelector(ZkCredits.NoOpenStake.selector, poolId));
        requestFixtureExit(poolId);
    }

    // ---------------------------------------------------------------------------------------
    // Exits
    // ---------------------------------------------------------------------------------------

    function test_the_fixture_exit_is_accepted_and_paid_after_the_delay() public {
        uint256 poolId = fixturePool();
        assertEq(
            credits.currentExitRoot(poolId), fx(".exit.root"), "the proof's root is the current exit root"
        );
        assertEq(fx(".exit.root"), fx(".exitRootAfterTwo"), "the exit tree after the two deposits");
        uint256 nullifier = fx(".exit.nullifier");
        address receiver = fixtureReceiver();
        uint64 releaseAt = uint64(block.timestamp) + EXIT_DELAY;

        vm.expectEmit(true, true, true, true, address(credits));
        emit ZkCredits.ExitRequested(poolId, nullifier, receiver, releaseAt);
        vm.prank(buyer); // anyone may send it
        requestFixtureExit(poolId);
        (address r, uint64 at, ZkCredits.ExitState state) = credits.exits(poolId, nullifier);
        assertEq(r, receiver, "receiver");
        assertEq(at, releaseAt, "release time");
        assertTrue(state == ZkCredits.ExitState.Pending, "pending");
        assertEq(credits.pool(poolId).openStakes, 1, "one open stake");
        assertEq(credits.pool(poolId).pendingExits, 1, "one pending exit");

        // The same nullifier again.
        vm.expectRevert(abi.encodeWithSelector(ZkCredits.ExitAlreadyRequested.selector, nullifier));
        requestFixtureExit(poolId);

        vm.warp(releaseAt - 1);
        vm.expectRevert(abi.encodeWithSelector(ZkCredits.ExitNotReleased.selector, releaseAt));
        credits.completeExit(poolId, nullifier);

        vm.warp(releaseAt);
        vm.expectEmit(true, true, true, true, address(credits));
        emit ZkCredits.Exited(poolId, nullifier, receiver, STAKE);
        vm.prank(slasher); // anyone may complete it
        credits.completeExit(poolId, nullifier);
        assertEq(balance(receiver), STAKE, "the receiver has the stake");
        assertTrue(exitOf(poolId, nullifier) == ZkCredits.ExitState.Paid, "paid");
        assertEq(credits.pool(poolId).pendingExits, 0, "no pending exit");

        vm.expectRevert(abi.encodeWithSelector(ZkCredits.ExitNotPending.selector, nullifier));
        credits.completeExit(poolId, nullifier);
        vm.expectRevert(abi.encodeWithSelector(ZkCredits.ExitAlreadyRequested.selector, nullifier));
        requestFixtureExit(poolId);

        // Slashing a member that exited is refused: its stake is gone.
        uint256 secret = fx(".member.secret");
        vm.prank(slasher);
        credits.commitSlash(slashCommitment(poolId, secret, reward, slasher));
        vmz.roll(block.number + 1);
        vm.prank(slasher);
        vm.expectRevert(abi.encodeWithSelector(ZkCredits.AlreadyExited.selector, nullifier));
        credits.slash(poolId, secret, reward);
    }

    function test_an_exit_proof_for_another_receiver_is_refused() public {
        uint256 poolId = fixturePool();
        uint256[8] memory proof = fixtureProof();
        uint256 root = fx(".exit.root");
        uint256 nullifier = fx(".exit.nullifier");
        uint256 y = fx(".exit.y");
        vm.expectRevert(ZkCredits.InvalidProof.selector);
        credits.requestExit(poolId, root, nullifier, y, address(0xBAD), proof);
        vm.expectRevert(ZkCredits.InvalidProof.selector);
        credits.requestExit(poolId, root, nullifier, y + 1, fixtureReceiver(), proof);
        vm.expectRevert(ZkCredits.InvalidProof.selector);
        credits.requestExit(poolId, root, nullifier + 1, y, fixtureReceiver(), proof);
        proof[7] = 5;
        vm.expectRevert(ZkCredits.InvalidProof.selector);
        credits.requestExit{gas: 2_000_000}(poolId, root, nullifier, y, fixtureReceiver(), proof);
    }

    function test_exit_request_refusals() public {
        uint256 poolId = fixturePool();
        uint256[8] memory proof = fixtureProof();
        uint256 nullifier = fx(".exit.nullifier");
        uint256 y = fx(".exit.y");
        vm.expectRevert(abi.encodeWithSelector(ZkCredits.UnknownRoot.selector, 1234));
        credits.requestExit(poolId, 1234, nullifier, y, fixtureReceiver(), proof);
        vm.expectRevert(ZkCredits.ZeroReceiver.selector);
        credits.requestExit(poolId, fx(".exit.root"), nullifier, y, address(0), proof);
        vm.expectRevert(abi.encodeWithSelector(ZkCredits.UnknownPool.selector, 3));
        credits.requestExit(3, fx(".exit.root"), nullifier, y, fixtureReceiver(), proof);
        // The proof is for pool 1's exit scope: pool 2 (same trees) refuses it.
        uint256 other = createPool();
        depositAs(buyer, other, fx(".first.idCommitment"));
        depositAs(buyer, other, fx(".member.idCommitment"));
        assertEq(credits.currentExitRoot(other), fx(".exit.root"), "same exit root");
        vm.expectRevert(ZkCredits.InvalidProof.selector);
        credits.requestExit(other, fx(".exit.root"), nullifier, y, fixtureReceiver(), proof);
    }

    /// A root of the calls tree (leaves with the limit `calls`, under which a member could prove
    /// `calls` exit nullifiers) is refused, even one the pool knows.
    function test_an_exit_against_a_calls_tree_root_is_refused() public {
        uint256 poolId = fixturePool();
        uint256 callsRoot = fx(".rootAfterTwo");
        assertEq(credits.currentRoot(poolId), callsRoot, "a current calls root");
        assertTrue(credits.isKnownRoot(poolId, callsRoot), "known to the calls tree");
        assertTrue(!credits.isKnownExitRoot(poolId, callsRoot), "unknown to the exit tree");
        uint256 nullifier = fx(".exit.nullifier");
        vm.expectRevert(abi.encodeWithSelector(ZkCredits.UnknownRoot.selector, callsRoot));
        credits.requestExit(poolId, callsRoot, nullifier, fx(".exit.y"), fixtureReceiver(), fixtureProof());
        assertTrue(exitOf(poolId, nullifier) == ZkCredits.ExitState.None, "no exit");
        assertEq(credits.pool(poolId).openStakes, 2, "both stakes open");
        // The exit tree's root admits it.
        requestFixtureExit(poolId);
        assertTrue(exitOf(poolId, nullifier) == ZkCredits.ExitState.Pending, "pending");
    }

    function test_an_older_root_still_admits_the_exit() public {
        uint256 poolId = fixturePool();
        depositAs(buyer, poolId, 3);
        depositAs(buyer, poolId, 4);
        assertTrue(credits.currentExitRoot(poolId) != fx(".exit.root"), "the exit root moved on");
        assertTrue(credits.isKnownExitRoot(poolId, fx(".exit.root")), "still known");
        requestFixtureExit(poolId);
        assertTrue(exitOf(poolId, fx(".exit.nullifier")) == ZkCredits.ExitState.Pending, "pending");
    }

    function test_a_slash_cancels_a_pending_exit_and_pays_the_slasher() public {
        uint256 poolId = fixturePool();
        requestFixtureExit(poolId);
        uint256 nullifier = fx(".exit.nullifier");
        uint256 secret = fx(".member.secret");

        vm.prank(slasher);
        credits.commitSlash(slashCommitment(poolId, secret, reward, slasher));
        vmz.roll(block.number + 1);
        vm.expectEmit(true, true, true, true, address(credits));
        emit ZkCredits.ExitCancelled(poolId, nullifier);
        vm.expectEmit(true, true, true, true, address(credits));
        emit ZkCredits.Slashed(poolId, fx(".member.leaf"), reward, STAKE);
        vm.prank(slasher);
        credits.slash(poolId, secret, reward);

        assertEq(balance(reward), STAKE, "the slasher's receiver has the stake");
        assertTrue(exitOf(poolId, nullifier) == ZkCredits.ExitState.Cancelled, "cancelled");
        ZkCredits.Pool memory p = credits.pool(poolId);
        assertEq(p.pendingExits, 0, "no pending exit");
        assertEq(p.openStakes, 1, "the other member's stake stays open");

        vm.warp(block.timestamp + EXIT_DELAY);
        vm.expectRevert(abi.encodeWithSelector(ZkCredits.ExitNotPending.selector, nullifier));
        credits.completeExit(poolId, nullifier);
        assertEq(balance(fixtureReceiver()), 0, "the exit paid nothing");
        assertEq(balance(address(credits)), 2 * UNIT_PRICE * CALLS + STAKE, "earnings and one stake");
    }

    // ---------------------------------------------------------------------------------------
    // Gas
    // ---------------------------------------------------------------------------------------

    /// Gas of each step, measured around the call alone (inside one test transaction, so
    /// accounts and slots touched before are warm; `forge test --isolate --gas-report` gives
    /// per-transaction figures).
    function test_gas() public {
        uint256 poolId = createPool();
        uint256 amount = UNIT_PRICE * CALLS + STAKE;
        token.faucet(buyer, 10 * amount);
        vm.prank(buyer);
        token.approve(address(credits), 10 * amount);
        uint256 first = fx(".first.idCommitment");
        uint256 member = fx(".member.idCommitment");

        vm.prank(buyer);
        uint256 before = gasleft();
        credits.deposit(poolId, first);
        emit log_named_uint("deposit (first leaf)", before - gasleft());
        vm.prank(buyer);
        before = gasleft();
        credits.deposit(poolId, member);
        emit log_named_uint("deposit (second leaf)", before - gasleft());
        vm.prank(buyer);
        before = gasleft();
        credits.deposit(poolId, 3);
        emit log_named_uint("deposit (third leaf)", before - gasleft());

        uint256[8] memory proof = fixtureProof();
        uint256 root = fx(".exit.root");
        uint256 nullifier = fx(".exit.nullifier");
        uint256 y = fx(".exit.y");
        address receiver = fixtureReceiver();
        before = gasleft();
        credits.requestExit(poolId, root, nullifier, y, receiver, proof);
        emit log_named_uint("requestExit", before - gasleft());
        vm.warp(block.timestamp + EXIT_DELAY);
        before = gasleft();
        credits.completeExit(poolId, nullifier);
        emit log_named_uint("completeExit", before - gasleft());

        uint256 secret = fx(".first.secret");
        bytes32 commitment = slashCommitment(poolId, secret, reward, slasher);
        vm.prank(slasher);
        before = gasleft();
        credits.commitSlash(commitment);
        emit log_named_uint("commitSlash", before - gasleft());
        vmz.roll(block.number + 1);
        vm.prank(slasher);
        before = gasleft();
        credits.slash(poolId, secret, reward);
        emit log_named_uint("slash (reveal)", before - gasleft());
    }
}
