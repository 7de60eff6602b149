// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {AgoraTest} from "./utils/AgoraTest.sol";
import {MarketsTest} from "./utils/MarketsTest.sol";
import {ConditionalTokens} from "../src/ConditionalTokens.sol";
import {LmsrMarketMaker} from "../src/LmsrMarketMaker.sol";
import {DevStablecoin} from "../src/DevStablecoin.sol";

/// @dev Splits, merges and moves the positions of a 3-outcome condition at random: full splits
/// from collateral ({0},{1},{2} and {0},{1,2}), the non-full split of {1,2} into {1},{2}, their
/// merges, and transfers between three holders.
contract CtfHandler is MarketsTest {
    bytes32 public conditionId;
    address[3] internal holders;
    /// The index sets whose positions exist: {0}, {1}, {2}, {1,2}.
    uint256[4] internal sets = [uint256(1), 2, 4, 6];
    uint256 public calls;

    constructor() {
        setUpMarkets();
        conditionId = prepare(keccak256("ctf invariant"), 3);
        holders = [alice, bob, carol];
    }

    function parts() external view returns (DevStablecoin, ConditionalTokens) {
        return (token, ctf);
    }

    function holderList() external view returns (address[3] memory) {
        return holders;
    }

    function indexSets() external view returns (uint256[4] memory) {
        return sets;
    }

    function partitionOf(uint256 kind) internal pure returns (uint256[] memory) {
        if (kind == 0) return arr(1, 2, 4);
        if (kind == 1) return arr(1, 6);
        return arr(2, 4);
    }

    function split(uint256 who, uint256 kind, uint256 amount) external {
        address h = holders[who % 3];
        kind %= 3;
        if (kind == 2) {
            uint256 have = held(h, positionOf(0, conditionId, 6));
            if (have == 0) return;
            amount = bound(amount, 1, have);
        } else {
            amount = bound(amount, 1, 1_000e6);
        }
        uint256[] memory partition = partitionOf(kind);
        vm.prank(h);
        ctf.splitPosition(token, bytes32(0), conditionId, partition, amount);
        calls++;
    }

    function merge(uint256 who, uint256 kind, uint256 amount) external {
        address h = holders[who % 3];
        kind %= 3;
        uint256[] memory partition = partitionOf(kind);
        uint256 have = type(uint256).max;
        for (uint256 i; i < partition.length; ++i) {
            uint256 b = held(h, positionOf(0, conditionId, partition[i]));
            if (b < have) have = b;
        }
        if (have == 0) return;
        amount = bound(amount, 1, have);
        vm.prank(h);
        ctf.mergePositions(token, bytes32(0), conditionId, partition, amount);
        calls++;
    }

    function transfer(uint256 from, uint256 to, uint256 set, uint256 amount) external {
        address a = holders[from % 3];
        address b = holders[to % 3];
        uint256 id = positionOf(0, conditionId, sets[set % 4]);
        uint256 have = held(a, id);
        if (have == 0) return;
        amount = bound(amount, 1, have);
        vm.prank(a);
        ctf.safeTransferFrom(a, b, id, amount, "");
        calls++;
    }
}

/// @dev Trades in one 3-outcome LMSR market at random: buys, sells of held shares, mixed trades,
/// and full sets split on the CTF and sold to the maker (so q goes negative).
contract LmsrHandler is MarketsTest {
    uint256 public constant B = 50e18;
    uint256 public constant N = 3;
    uint256 public marketId;
    bytes32 public conditionId;
    address[3] internal traders;
    uint256 public trades;

    constructor() {
        setUpMarkets();
        conditionId = prepare(keccak256("lmsr invariant"), N);
        vm.prank(creator);
        marketId = maker.createMarket(conditionId, B, type(uint256).max);
        traders = [alice, bob, carol];
    }

    function parts() external view returns (DevStablecoin, ConditionalTokens, LmsrMarketMaker) {
        return (token, ctf, maker);
    }

    function traderList() external view returns (address[3] memory) {
        return traders;
    }

    function buy(uint256 who, uint256 outcome, uint256 units) external {
        address t = traders[who % 3];
        units = bound(units, 1, 300e6);
        vm.prank(t);
        maker.buy(marketId, outcome % N, units * UNIT, type(uint256).max);
        trades++;
    }

    function sell(uint256 who, uint256 outcome, uint256 units) external {
        address t = traders[who % 3];
        outcome %= N;
        uint256 have = held(t, maker.positionIdOf(marketId, outcome));
        if (have == 0) return;
        units = bound(units, 1, have);
        vm.prank(t);
        maker.sell(marketId, outcome, units * UNIT, 0);
        trades++;
    }

    function mixed(uint256 who, uint256 s0, uint256 s1, uint256 s2) external {
        address t = traders[who % 3];
        uint256[3] memory seeds = [s0, s1, s2];
        int256[] memory deltas = new int256[](N);
        for (uint256 i; i < N; ++i) {
            uint256 have = held(t, maker.positionIdOf(marketId, i));
            // In [−have, +100] shares.
            int256 units = int256(bound(seeds[i], 0, have + 100e6)) - int256(have);
            deltas[i] = units * int256(UNIT);
        }
        vm.prank(t);
        maker.trade(marketId, deltas, type(int256).max);
        trades++;
    }

    function sellFullSets(uint256 who, uint256 units) external {
        address t = traders[who % 3];
        units = bound(units, 1, 100e6);
        vm.prank(t);
        ctf.splitPosition(token, bytes32(0), conditionId, singletons(N), units);
        int256[] memory deltas = new int256[](N);
        for (uint256 i; i < N; ++i) {
            deltas[i] = -int256(units * UNIT);
        }
        vm.prank(t);
        maker.trade(marketId, deltas, type(int256).max);
        trades++;
    }
}

contract MarketsInvariantTest is AgoraTest {
    CtfHandler internal ctfHandler;
    LmsrHandler internal lmsrHandler;

    function setUp() public {
        ctfHandler = new CtfHandler();
        lmsrHandler = new LmsrHandler();
    }

    /// forge fuzzes only the contracts listed here.
    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](2);
        targets[0] = address(ctfHandler);
        targets[1] = address(lmsrHandler);
    }

    /// The CTF's collateral equals the outstanding full sets: for every outcome i, the supply of
    /// the root positions whose index set contains i.
    function invariant_ctf_collateral_equals_outstanding_full_sets() public view {
        (DevStablecoin token, ConditionalTokens ctf) = ctfHandler.parts();
        bytes32 conditionId = ctfHandler.conditionId();
        address[3] memory holders = ctfHandler.holderList();
        uint256[4] memory sets = ctfHandler.indexSets();
        for (uint256 outcome; outcome < 3; ++outcome) {
            uint256 supply;
            for (uint256 s; s < 4; ++s) {
                if (sets[s] & (2 ** outcome) == 0) continue;
                uint256 id = ctf.getPositionId(token, ctf.getCollectionId(0, conditionId, sets[s]));
                for (uint256 h; h < 3; ++h) {
                    supply += ctf.balanceOf(holders[h], id);
                }
            }
            assertEq(supply, token.balanceOf(address(ctf)), "collateral = full sets of each outcome");
        }
    }

    /// Whatever outcome wins, the maker loses at most b·ln n (its funding, rounded up): the
    /// collateral it holds plus its inventory of the winner is never negative; its books match
    /// what it holds; it merges every full set it can.
    function invariant_lmsr_loss_is_bounded_by_b_ln_n() public view {
        (DevStablecoin token, ConditionalTokens ctf, LmsrMarketMaker maker) = lmsrHandler.parts();
        uint256 marketId = lmsrHandler.marketId();
        LmsrMarketMaker.Market memory m = maker.market(marketId);
        uint256 bound_ = maker.fundingFor(lmsrHandler.B(), lmsrHandler.N());
        assertEq(m.funding, bound_, "funding = ceil(b ln n)");
        assertEq(token.balanceOf(address(maker)), m.balance, "collateral = balance");
        uint256[] memory inv = maker.inventory(marketId);
        uint256 lowest = type(uint256).max;
        for (uint256 j; j < inv.length; ++j) {
            assertEq(
                ctf.balanceOf(address(maker), maker.positionIdOf(marketId, j)),
                inv[j],
                "positions = inventory"
            );
            // Value if j wins: balance + inventory of j. Loss = funding − value ≤ b ln n.
            int256 loss = int256(m.funding) - int256(m.balance + inv[j]);
            assertTrue(loss <= int256(bound_), "loss <= b ln n");
            if (inv[j] < lowest) lowest = inv[j];
        }
        assertEq(lowest, 0, "full sets merged");
        // What the traders hold of each outcome is q (in units).
        address[3] memory traders = lmsrHandler.traderList();
        for (uint256 j; j < inv.length; ++j) {
            uint256 held_;
            for (uint256 t; t < 3; ++t) {
                held_ += ctf.balanceOf(traders[t], maker.positionIdOf(marketId, j));
            }
            // Traders' holdings = the maker's net sales (q) + full sets they split themselves.
            assertTrue(int256(held_) >= m.q[j] / 1e12, "traders hold at least q");
        }
    }
}
