// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {MarketsTest, ActionTarget} from "./utils/MarketsTest.sol";
import {ConditionalTokens} from "../src/ConditionalTokens.sol";
import {LmsrMarketMaker} from "../src/LmsrMarketMaker.sol";
import {OptimisticResolver} from "../src/OptimisticResolver.sol";
import {DecisionMarket} from "../src/DecisionMarket.sol";
import {WadMath} from "../src/WadMath.sol";
import {IArbitratorV2} from "../src/IArbitration.sol";

contract MarketsTest_ is MarketsTest {
    event ConditionResolution(
        bytes32 indexed conditionId,
        address indexed oracle,
        bytes32 indexed questionId,
        uint256 outcomeSlotCount,
        uint256[] payoutNumerators
    );
    event Traded(
        uint256 indexed marketId, address indexed trader, int256[] deltas, int256 costWad, int256 amount
    );
    event DisputeRequest(
        IArbitratorV2 indexed _arbitrator,
        uint256 indexed _arbitrableDisputeID,
        uint256 _externalDisputeID,
        uint256 _templateId,
        string _templateUri
    );
    event Ruling(IArbitratorV2 indexed _arbitrator, uint256 indexed _disputeID, uint256 _ruling);
    event ActionFailed(uint256 indexed id, bytes returndata);

    bytes32 internal constant Q = keccak256("question");
    bytes32 internal constant QB = keccak256("question B");

    // Reference values (mpmath, 60 digits), wad.
    int256 internal constant LN2 = 693147180559945309;
    int256 internal constant L1_C0 = 69314718055994530942;
    int256 internal constant L1_COST = 28092980362016137146;
    uint256 internal constant L1_P0 = 622459331201854565;
    uint256 internal constant L1_P1 = 377540668798145435;
    int256 internal constant L2_COST1 = 21907019637983862854;
    int256 internal constant L3_COST = 45283242526394139766;
    uint256 internal constant L3_P0 = 576116884765829110;
    uint256 internal constant L3_P1 = 211941557617085445;
    int256 internal constant L3_BOUND = 109861228866810969140;
    int256 internal constant L4_SHARES = 219722457733621938279;
    int256 internal constant L4_COST = 160943791243410037460;

    function setUp() public {
        setUpMarkets();
    }

    // =======================================================================================
    // WadMath (L5)
    // =======================================================================================

    function test_wad_ln_known_values() public view {
        assertEq(math.lnWad(1e18), 0, "ln 1");
        assertRel(math.lnWad(2e18), LN2, 1e15, "ln 2");
        assertRel(math.lnWad(10e18), 2302585092994045684, 1e15, "ln 10");
        assertRel(math.lnWad(0.5e18), -LN2, 1e15, "ln 0.5");
        assertRel(math.lnWad(1e12), -13815510557964274104, 1e15, "ln 1e-6");
        assertRel(math.lnWad(1e48), 69077552789821370521, 1e15, "ln 1e30");
        assertRel(math.lnWad(3.14159e18), 1144729041185178381, 1e15, "ln 3.14159");
        assertRel(math.lnWad(123456.789e18), 11723646487185880981, 1e15, "ln 123456.789");
        assertRel(math.lnWad(1), -41446531673892822312, 1e15, "ln 1e-18");
        assertRel(math.lnWad(type(int256).max), 135305999368893231589, 1e15, "ln of the largest int256");
    }

    function test_wad_exp_known_values() public view {
        assertEq(math.expWad(0), 1e18, "e^0");
        assertRel(math.expWad(1e18), 2718281828459045235, 1e15, "e^1");
        assertRel(math.expWad(-1e18), 367879441171442322, 1e15, "e^-1");
        assertRel(math.expWad(0.5e18), 1648721270700128147, 1e15, "e^0.5");
        assertRel(math.expWad(-20e18), 2061153622, 1e9, "e^-20 (2e9 wei: 1 wei)");
        assertRel(math.expWad(50e18), 5184705528587072464087453322933485384827, 1e15, "e^50");
        assertRel(math.expWad(100.123e18), 3.0399497973617603767213595855347100570496e61, 1e15, "e^100.123");
        assertRel(
            math.expWad(135e18), 4.263389948314721044893686688076598935646874585325528108744e76, 1e15, "e^135"
        );
        assertLe(uint256(math.expWad(-41e18)), 2, "e^-41 = 1.56 wei");
    }

    function test_wad_exp_domain() public {
        assertEq(math.expWad(-42e18), 0, "e^-42 is 0");
        assertEq(math.expWad(type(int256).min), 0, "e^-inf is 0");
        vm.expectRevert(abi.encodeWithSelector(WadMath.ExpOverflow.selector, int256(135e18 + 1)));
        math.expWad(135e18 + 1);
        vm.expectRevert(abi.encodeWithSelector(WadMath.LnUndefined.selector, int256(0)));
        math.lnWad(0);
        vm.expectRevert(abi.encodeWithSelector(WadMath.LnUndefined.selector, int256(-1)));
        math.lnWad(-1);
    }

    function testFuzz_wad_ln_inverts_exp(int256 x) public view {
        x = int256(bound(uint256(x), 0, 140e18)) - 10e18;
        int256 e = math.expWad(x);
        // d(ln y) = dy / y: e is within 1 wei plus 1e-30 relative.
        int256 tol = 2e18 / e + 2;
        int256 back = math.lnWad(e);
        int256 diff = back > x ? back - x : x - back;
        assertTrue(diff <= tol, "ln(exp(x)) = x");
    }

    function testFuzz_wad_exp_monotone_and_ln_additive(uint256 a, uint256 b) public view {
        a = bound(a, 1e9, 1e30);
        b = bound(b, 1e9, 1e30);
        // ln(a·b) = ln a + ln b (a, b wads ≥ 1e-9).
        int256 lhs = math.lnWad(int256(a * b / 1e18));
        int256 rhs = math.lnWad(int256(a)) + math.lnWad(int256(b));
        int256 diff = lhs > rhs ? lhs - rhs : rhs - lhs;
        // a·b/1e18 is truncated: a relative error of at most 1e18/(a·b).
        assertTrue(uint256(diff) <= 2e36 / (a * b) + 4, "ln is additive");
        int256 x = int256(bound(a, 0, 100e18)) - 50e18;
        assertTrue(math.expWad(x + 1e9) >= math.expWad(x), "exp is monotone");
    }

    function test_wad_mul_div_rounding() public pure {
        assertEq(WadMath.mulWadDown(1, 1), 0, "down");
        assertEq(WadMath.mulWadUp(1, 1), 1, "up");
        assertEq(WadMath.divWadDown(1, 3e18), 0, "down");
        assertEq(WadMath.divWadUp(1, 3e18), 1, "up");
        assertEq(WadMath.mulWadUp(3e18, 0.5e18), 1.5e18, "exact");
        assertEq(WadMath.mulWad(-3, 0.5e18), -1, "toward zero");
        assertEq(WadMath.divWad(-1e18, 3e18), -333333333333333333, "toward zero");
    }

    // =======================================================================================
    // LMSR (L1 - L5)
    // =======================================================================================

    function createMarket(bytes32 questionId, uint256 n, uint256 b) internal returns (uint256 marketId) {
        bytes32 conditionId = prepare(questionId, n);
        vm.prank(creator);
        marketId = maker.createMarket(conditionId, b, type(uint256).max);
    }

    function test_L1_binary_cost_prices_and_rounding() public {
        uint256 creator0 = bal(creator);
        uint256 m = createMarket(Q, 2, 100e18);
        // C(0) = b ln 2; the funding is that, rounded up to dUSD units.
        assertRel(maker.cost(m, iarr(0, 0)), L1_C0, REL, "C(0) = 69.314718");
        assertEq(maker.market(m).funding, 69_314_719, "funding = ceil(b ln 2)");
        assertEq(bal(creator), creator0 - 69_314_719, "funding taken");
        assertEq(bal(address(maker)), 69_314_719, "held by the maker");
        uint256[] memory p = maker.prices(m);
        assertEq(p[0], 0.5e18, "p0 = 0.5");
        assertEq(p[1], 0.5e18, "p1 = 0.5");

        // Buying 50 shares of outcome 0: 28.092980362..., paid as 28.092981 dUSD (rounded up).
        (int256 costWad, int256 amount) = maker.quote(m, iarr(50e18, 0));
        assertRel(costWad, L1_COST, REL, "cost 28.092980");
        assertTrue(costWad >= L1_COST, "rounded up in wads");
        assertEq(amount, 28_092_981, "paid in dUSD units, rounded up");
        uint256 alice0 = bal(alice);
        vm.prank(alice);
        assertEq(maker.buy(m, 0, 50e18, 28_092_981), 28_092_981, "buy returns the cost");
        assertEq(bal(alice), alice0 - 28_092_981, "alice paid");
        assertEq(held(alice, maker.positionIdOf(m, 0)), 50e6, "50 shares = 50e6 position units");
        assertEq(held(alice, maker.positionIdOf(m, 1)), 0, "none of outcome 1");
        assertEq(held(address(maker), maker.positionIdOf(m, 1)), 50e6, "the maker keeps outcome 1");
        p = maker.prices(m);
        assertRel(p[0], L1_P0, REL, "p0 = 0.622459");
        assertRel(p[1], L1_P1, REL, "p1 = 0.377541");
        assertTrue(p[0] + p[1] <= 1e18 && p[0] + p[1] >= 1e18 - 2, "prices sum to 1");
        LmsrMarketMaker.Market memory mk = maker.market(m);
        assertEq(mk.q[0], 50e18, "q0");
        assertEq(mk.sets, 50e6, "50 full sets split");
        assertEq(mk.balance, 69_314_719 + 28_092_981 - 50e6, "balance");
        assertEq(bal(address(ctf)), 50e6, "the CTF holds the full sets' collateral");
    }

    function test_L2_sell_back_and_buy_the_other_outcome() public {
        uint256 m = createMarket(Q, 2, 100e18);
        vm.prank(alice);
        maker.buy(m, 0, 50e18, type(uint256).max);
        // Selling back refunds 28.092980 (rounded down): the round trip costs one unit.
        (int256 costWad, int256 amount) = maker.quote(m, iarr(-50e18, 0));
        assertRel(costWad, -L1_COST, REL, "refund 28.092980");
        assertTrue(-costWad <= L1_COST, "refund rounded down in wads");
        assertEq(amount, -28_092_980, "refund in dUSD units, rounded down");
        uint256 alice0 = bal(alice);
        vm.prank(alice);
        assertEq(maker.sell(m, 0, 50e18, 28_092_980), 28_092_980, "sell returns the refund");
        assertEq(bal(alice), alice0 + 28_092_980, "refunded");
        assertEq(held(alice, maker.positionIdOf(m, 0)), 0, "shares returned");
        uint256[] memory p = maker.prices(m);
        assertEq(p[0], 0.5e18, "back to 0.5");
        LmsrMarketMaker.Market memory mk = maker.market(m);
        assertEq(mk.sets, 0, "full sets merged back");
        assertEq(mk.balance, 69_314_719 + 1, "the maker kept the rounding");
        assertEq(bal(address(ctf)), 0, "nothing left split");

        // From q = (50, 0), buying 50 of outcome 1 costs 21.907020 and prices return to 0.5.
        vm.prank(alice);
        maker.buy(m, 0, 50e18, type(uint256).max);
        (costWad, amount) = maker.quote(m, iarr(0, 50e18));
        assertRel(costWad, L2_COST1, REL, "cost 21.907020");
        assertEq(amount, 21_907_020, "rounded up to units");
        vm.prank(bob);
        maker.buy(m, 1, 50e18, 21_907_020);
        p = maker.prices(m);
        assertEq(p[0], 0.5e18, "0.5 again");
        assertEq(p[1], 0.5e18, "0.5 again");
        assertEq(maker.market(m).sets, 50e6, "one full set per share pair");
        assertEq(held(address(maker), maker.positionIdOf(m, 0)), 0, "no inventory left");
        assertEq(held(address(maker), maker.positionIdOf(m, 1)), 0, "no inventory left");
    }

    function test_L3_three_outcomes() public {
        uint256 m = createMarket(Q, 3, 100e18);
        assertRel(maker.cost(m, iarr(0, 0, 0)), L3_BOUND, REL, "b ln 3 = 109.861229");
        assertEq(maker.market(m).funding, 109_861_229, "funding = ceil(b ln 3)");
        (int256 costWad, int256 amount) = maker.quote(m, iarr(100e18, 0, 0));
        assertRel(costWad, L3_COST, REL, "cost 45.283243");
        assertEq(amount, 45_283_243, "rounded up to units");
        vm.prank(alice);
        maker.buy(m, 0, 100e18, 45_283_243);
        uint256[] memory p = maker.prices(m);
        assertRel(p[0], L3_P0, REL, "p0 = 0.576117");
        assertRel(p[1], L3_P1, REL, "p1 = 0.211942");
        assertRel(p[2], L3_P1, REL, "p2 = 0.211942");
        assertEq(held(address(maker), maker.positionIdOf(m, 1)), 100e6, "inventory of 1");
        assertEq(held(address(maker), maker.positionIdOf(m, 2)), 100e6, "inventory of 2");
    }

    function test_L4_from_half_to_ninety_percent() public {
        // In wads, exactly: b ln 9 shares move the price from 0.5 to 0.9 and cost b ln 5.
        int256 c0 = math.cost(iarr(0, 0), 100e18);
        int256 c1 = math.cost(iarr(L4_SHARES, 0), 100e18);
        assertRel(c1 - c0, L4_COST, REL, "cost 160.943791");
        assertRel(math.prices(iarr(L4_SHARES, 0), 100e18)[0], 0.9e18, REL, "p = 0.9");
        // In the market, shares are whole dUSD units: 219.722458.
        uint256 m = createMarket(Q, 2, 100e18);
        vm.prank(alice);
        uint256 paid = maker.buy(m, 0, 219_722_458e12, type(uint256).max);
        assertRel(int256(paid) * 1e12, L4_COST, 1e8, "paid 160.943791 (1e-8: shares rounded to units)");
        assertRel(maker.prices(m)[0], 0.9e18, REL, "p = 0.9");
    }

    function test_L5_zero_trades_cost_nothing_and_costs_round_up() public {
        uint256 m = createMarket(Q, 2, 100e18);
        (int256 costWad, int256 amount) = maker.quote(m, iarr(0, 0));
        assertEq(costWad, 0, "zero shares cost 0");
        assertEq(amount, 0, "zero units");
        uint256 alice0 = bal(alice);
        vm.prank(alice);
        assertEq(maker.trade(m, iarr(0, 0), 0), 0, "trade of nothing");
        assertEq(bal(alice), alice0, "nothing paid");
        // One unit of shares (1e12 wad) costs about half a micro-unit: paid as one unit.
        (costWad, amount) = maker.quote(m, iarr(1e12, 0));
        assertTrue(costWad > 0.5e12 && costWad < 0.5e12 + 1e6, "~0.5e12 wad");
        assertEq(amount, 1, "rounded up to one unit");
        // A buy of one outcome and a sale of the same amount of another, at equal prices, has an
        // exact cost of b·ln cosh(x) ≈ b·x²/2 (x = 1e-8: 5,000 wei): the maker charges it plus
        // its slack, rounded up to one unit.
        (costWad, amount) = maker.quote(m, iarr(1e12, -1e12));
        assertTrue(costWad > 5_000 && costWad < 4 * math.slack(100e18, 2) + 5_000, "cost + slack");
        assertEq(amount, 1, "one unit");
    }

    function testFuzz_L5_costs_round_in_the_makers_favour(uint256 s0, uint256 s1, bool sellBack) public {
        uint256 m = createMarket(Q, 2, 100e18);
        int256 d0 = int256(bound(s0, 0, 500e6)) * 1e12;
        int256 d1 = int256(bound(s1, 0, 500e6)) * 1e12;
        int256[] memory q = iarr(0, 0);
        int256[] memory deltas = iarr(d0, d1);
        (int256 costWad, int256 amount) = maker.quote(m, deltas);
        if (d0 == 0 && d1 == 0) {
            assertEq(amount, 0, "nothing");
            return;
        }
        int256 exact = math.cost(iarr(d0, d1), 100e18) - math.cost(q, 100e18);
        assertEq(costWad, exact + 2 * math.slack(100e18, 2), "cost + slack");
        assertTrue(amount * 1e12 >= costWad && (amount - 1) * 1e12 < costWad, "ceil to units");
        vm.prank(alice);
        assertEq(maker.trade(m, deltas, amount), amount, "trade at the quote");
        if (!sellBack) return;
        (costWad, amount) = maker.quote(m, iarr(-d0, -d1));
        assertTrue(amount <= 0, "a refund");
        assertTrue(-amount * 1e12 <= -costWad && (-amount + 1) * 1e12 > -costWad, "floor to units");
        vm.prank(alice);
        maker.trade(m, iarr(-d0, -d1), amount);
        LmsrMarketMaker.Market memory mk = maker.market(m);
        assertTrue(mk.balance >= mk.funding, "a round trip never loses the maker money");
        assertEq(mk.sets, 0, "all merged");
    }

    function test_lmsr_refusals() public {
        bytes32 conditionId = prepare(Q, 2);
        vm.prank(creator);
        vm.expectRevert(
            abi.encodeWithSelector(LmsrMarketMaker.FundingAboveMax.selector, 69_314_719, 69_314_718)
        );
        maker.createMarket(conditionId, 100e18, 69_314_718);
        vm.expectRevert(abi.encodeWithSelector(LmsrMarketMaker.InvalidLiquidity.selector, 1e11));
        maker.createMarket(conditionId, 1e11, type(uint256).max);
        bytes32 unprepared = keccak256("nothing");
        vm.expectRevert(abi.encodeWithSelector(LmsrMarketMaker.ConditionNotPrepared.selector, unprepared));
        maker.createMarket(unprepared, 100e18, type(uint256).max);
        bytes32 big = prepare(keccak256("big"), 17);
        vm.expectRevert(abi.encodeWithSelector(LmsrMarketMaker.InvalidOutcomeCount.selector, 17));
        maker.createMarket(big, 100e18, type(uint256).max);
        vm.prank(creator);
        uint256 m = maker.createMarket(conditionId, 100e18, type(uint256).max);
        vm.expectRevert(abi.encodeWithSelector(LmsrMarketMaker.MarketExists.selector, conditionId, m));
        maker.createMarket(conditionId, 100e18, type(uint256).max);

        vm.startPrank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(LmsrMarketMaker.SharesNotInTokenUnits.selector, 0, int256(1e12 + 1))
        );
        maker.trade(m, iarr(1e12 + 1, 0), type(int256).max);
        vm.expectRevert(abi.encodeWithSelector(LmsrMarketMaker.WrongDeltaCount.selector, 3, 2));
        maker.trade(m, iarr(1e12, 0, 0), type(int256).max);
        vm.expectRevert(abi.encodeWithSelector(LmsrMarketMaker.InvalidOutcome.selector, 2, 2));
        maker.buy(m, 2, 1e18, type(uint256).max);
        vm.expectRevert(
            abi.encodeWithSelector(LmsrMarketMaker.CostAboveLimit.selector, int256(28_092_981), 28_092_980)
        );
        maker.buy(m, 0, 50e18, 28_092_980);
        maker.buy(m, 0, 50e18, 28_092_981);
        vm.expectRevert(
            abi.encodeWithSelector(LmsrMarketMaker.RefundBelowLimit.selector, 28_092_980, 28_092_981)
        );
        maker.sell(m, 0, 50e18, 28_092_981);
        vm.expectRevert(abi.encodeWithSelector(LmsrMarketMaker.NoSuchMarket.selector, 7));
        maker.buy(7, 0, 1e18, type(uint256).max);
        vm.expectRevert(abi.encodeWithSelector(LmsrMarketMaker.MarketNotClosed.selector, m));
        vm.stopPrank();
        vm.prank(creator);
        maker.withdraw(m);
        vm.expectRevert(abi.encodeWithSelector(LmsrMarketMaker.ConditionNotResolved.selector, conditionId));
        maker.close(m);

        // Resolved: no more trading; close, then only the creator withdraws, once.
        report(Q, arr(1, 0));
        vm.expectRevert(abi.encodeWithSelector(LmsrMarketMaker.ConditionResolved.selector, conditionId));
        vm.prank(alice);
        maker.buy(m, 0, 1e18, type(uint256).max);
        maker.close(m);
        vm.expectRevert(abi.encodeWithSelector(LmsrMarketMaker.MarketIsClosed.selector, m));
        maker.close(m);
        vm.expectRevert(abi.encodeWithSelector(LmsrMarketMaker.NotCreator.selector, m, stranger));
        vm.prank(stranger);
        maker.withdraw(m);
        vm.prank(creator);
        maker.withdraw(m);
        vm.expectRevert(abi.encodeWithSelector(LmsrMarketMaker.AlreadyWithdrawn.selector, m));
        vm.prank(creator);
        maker.withdraw(m);
    }

    function test_lmsr_market_lifecycle_pays_winners_and_the_creator() public {
        uint256 creator0 = bal(creator);
        uint256 m = createMarket(Q, 3, 100e18);
        vm.prank(alice);
        uint256 paidA = maker.buy(m, 0, 80e18, type(uint256).max);
        vm.prank(bob);
        uint256 paidB = maker.buy(m, 1, 30e18, type(uint256).max);
        vm.prank(alice);
        uint256 refundA = maker.sell(m, 0, 20e18, 0);
        vm.expectEmit(true, true, true, false, address(maker));
        emit Traded(m, carol, iarr(10e18, 0, 10e18), 0, 0);
        vm.prank(carol);
        int256 paidC = maker.trade(m, iarr(10e18, 0, 10e18), type(int256).max);

        // Outcome 0 wins: alice (60) and carol (10) redeem 1:1; the creator takes the rest.
        report(Q, arr(1, 0, 0));
        bytes32 conditionId = maker.market(m).conditionId;
        uint256 alice0 = bal(alice);
        vm.prank(alice);
        ctf.redeemPositions(token, bytes32(0), conditionId, singletons(3));
        assertEq(bal(alice), alice0 + 60e6, "alice redeems 60");
        vm.prank(carol);
        ctf.redeemPositions(token, bytes32(0), conditionId, singletons(3));
        vm.prank(bob);
        ctf.redeemPositions(token, bytes32(0), conditionId, singletons(3));
        maker.close(m);
        vm.prank(creator);
        uint256 out = maker.withdraw(m);
        uint256 funding = maker.market(m).funding;
        assertEq(
            out, funding + paidA + paidB + uint256(paidC) - refundA - 70e6, "subsidy + net paid - winners"
        );
        assertEq(bal(creator), creator0 - funding + out, "creator's net");
        assertTrue(funding - out <= funding, "loss within b ln n");
        assertEq(bal(address(maker)), 0, "the maker is empty");
        assertEq(bal(address(ctf)), 0, "the CTF is empty");
    }

    // =======================================================================================
    // Conditional tokens (C1)
    // =======================================================================================

    function test_C1_split_report_redeem() public {
        bytes32 c = prepare(Q, 2);
        uint256 p0 = positionOf(0, c, 1);
        uint256 p1 = positionOf(0, c, 2);
        assertEq(ctf.getOutcomeSlotCount(c), 2, "slots");
        vm.prank(alice);
        ctf.splitPosition(token, bytes32(0), c, arr(1, 2), 10e6);
        assertEq(held(alice, p0), 10e6, "10 of outcome 0");
        assertEq(held(alice, p1), 10e6, "10 of outcome 1");
        assertEq(bal(address(ctf)), 10e6, "collateral held");
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(ConditionalTokens.ConditionNotResolved.selector, c));
        ctf.redeemPositions(token, bytes32(0), c, arr(1, 2));

        // Only the oracle reports: anyone else finds no prepared condition.
        bytes32 strangers = ctf.getConditionId(stranger, Q, 2);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(ConditionalTokens.ConditionNotPrepared.selector, strangers));
        ctf.reportPayouts(Q, arr(1, 0));
        vm.expectRevert(abi.encodeWithSelector(ConditionalTokens.AllPayoutsZero.selector, c));
        report(Q, arr(0, 0));
        vm.expectEmit(true, true, true, true, address(ctf));
        emit ConditionResolution(c, address(this), Q, 2, arr(1, 0));
        report(Q, arr(1, 0));
        vm.expectRevert(abi.encodeWithSelector(ConditionalTokens.AlreadyReported.selector, c));
        report(Q, arr(0, 1));
        assertEq(ctf.payoutNumerators(c, 0), 1, "numerator 0");
        assertEq(ctf.payoutNumerators(c, 1), 0, "numerator 1");
        assertEq(ctf.payoutDenominator(c), 1, "denominator");

        uint256 alice0 = bal(alice);
        vm.prank(alice);
        assertEq(ctf.redeemPositions(token, bytes32(0), c, arr(1, 2)), 10e6, "payout");
        assertEq(bal(alice), alice0 + 10e6, "10 collateral back");
        assertEq(held(alice, p0) + held(alice, p1), 0, "burned");
        assertEq(bal(address(ctf)), 0, "nothing held");
    }

    function test_C1_even_payouts_redeem_half_each() public {
        bytes32 c = prepare(Q, 2);
        vm.prank(alice);
        ctf.splitPosition(token, bytes32(0), c, arr(1, 2), 10e6);
        uint256 p1 = positionOf(0, c, 2);
        vm.prank(alice);
        ctf.safeTransferFrom(alice, bob, p1, 10e6, "");
        report(Q, arr(1, 1));
        uint256 alice0 = bal(alice);
        uint256 bob0 = bal(bob);
        vm.prank(alice);
        ctf.redeemPositions(token, bytes32(0), c, arr(1, 2));
        vm.prank(bob);
        ctf.redeemPositions(token, bytes32(0), c, arr(1, 2));
        assertEq(bal(alice), alice0 + 5e6, "outcome 0 redeems 0.5");
        assertEq(bal(bob), bob0 + 5e6, "outcome 1 redeems 0.5");
    }

    function test_C1_prepare_and_partition_refusals() public {
        vm.expectRevert(abi.encodeWithSelector(ConditionalTokens.InvalidOutcomeSlotCount.selector, 1));
        ctf.prepareCondition(address(this), Q, 1);
        vm.expectRevert(abi.encodeWithSelector(ConditionalTokens.InvalidOutcomeSlotCount.selector, 257));
        ctf.prepareCondition(address(this), Q, 257);
        bytes32 c = prepare(Q, 3);
        vm.expectRevert(abi.encodeWithSelector(ConditionalTokens.AlreadyPrepared.selector, c));
        ctf.prepareCondition(address(this), Q, 3);
        vm.startPrank(alice);
        vm.expectRevert(abi.encodeWithSelector(ConditionalTokens.InvalidPartition.selector, c, 3));
        ctf.splitPosition(token, bytes32(0), c, arr(1, 3), 1e6);
        vm.expectRevert(abi.encodeWithSelector(ConditionalTokens.InvalidPartition.selector, c, 0));
        ctf.splitPosition(token, bytes32(0), c, arr(1, 0), 1e6);
        vm.expectRevert(abi.encodeWithSelector(ConditionalTokens.InvalidPartition.selector, c, 8));
        ctf.splitPosition(token, bytes32(0), c, arr(1, 8), 1e6);
        uint256[] memory one = new uint256[](1);
        one[0] = 7;
        vm.expectRevert(abi.encodeWithSelector(ConditionalTokens.InvalidPartition.selector, c, 0));
        ctf.splitPosition(token, bytes32(0), c, one, 1e6);
        vm.expectRevert(abi.encodeWithSelector(ConditionalTokens.ZeroAmount.selector));
        ctf.splitPosition(token, bytes32(0), c, arr(1, 2, 4), 0);
        bytes32 none = keccak256("none");
        vm.expectRevert(abi.encodeWithSelector(ConditionalTokens.ConditionNotPrepared.selector, none));
        ctf.splitPosition(token, bytes32(0), none, arr(1, 2), 1e6);
        vm.stopPrank();
        // A 256-outcome condition takes the full index set.
        bytes32 c256 = prepare(keccak256("256"), 256);
        vm.prank(alice);
        ctf.splitPosition(token, bytes32(0), c256, arr(1, type(uint256).max - 1), 1e6);
        assertEq(held(alice, positionOf(0, c256, type(uint256).max - 1)), 1e6, "the other 255 outcomes");
    }

    function test_C1_partial_split_and_merge() public {
        bytes32 c = prepare(Q, 3);
        vm.startPrank(alice);
        // Collateral into {0} and {1,2}; then {1,2} into {1} and {2} (burns the union).
        ctf.splitPosition(token, bytes32(0), c, arr(1, 6), 9e6);
        ctf.splitPosition(token, bytes32(0), c, arr(2, 4), 4e6);
        assertEq(held(alice, positionOf(0, c, 6)), 5e6, "{1,2} left");
        assertEq(held(alice, positionOf(0, c, 2)), 4e6, "{1}");
        assertEq(held(alice, positionOf(0, c, 4)), 4e6, "{2}");
        // Merge {1},{2} back into {1,2}, then {0},{1,2} into collateral.
        ctf.mergePositions(token, bytes32(0), c, arr(2, 4), 4e6);
        uint256 alice0 = bal(alice);
        ctf.mergePositions(token, bytes32(0), c, arr(1, 6), 9e6);
        vm.stopPrank();
        assertEq(bal(alice), alice0 + 9e6, "collateral back");
        assertEq(bal(address(ctf)), 0, "nothing held");
        // Redeeming {1,2} after [0,1,1] pays both numerators.
        vm.startPrank(bob);
        ctf.splitPosition(token, bytes32(0), c, arr(1, 6), 3e6);
        vm.stopPrank();
        report(Q, arr(0, 1, 1));
        uint256 bob0 = bal(bob);
        vm.prank(bob);
        ctf.redeemPositions(token, bytes32(0), c, arr(1, 6));
        assertEq(bal(bob), bob0 + 3e6, "{1,2} pays 2/2");
    }

    function test_C1_nested_split_and_redeem_through_the_parent() public {
        bytes32 a = prepare(Q, 2);
        bytes32 b = prepare(QB, 2);
        bytes32 a0 = ctf.getCollectionId(0, a, 1);
        // Order matters: "A's 0 then B's 0" is not "B's 0 then A's 0".
        assertTrue(
            ctf.getCollectionId(a0, b, 1) != ctf.getCollectionId(ctf.getCollectionId(0, b, 1), a, 1),
            "nesting is ordered"
        );
        vm.startPrank(alice);
        ctf.splitPosition(token, bytes32(0), a, arr(1, 2), 10e6);
        // B under A's outcome 0: burns the A0 position.
        ctf.splitPosition(token, a0, b, arr(1, 2), 10e6);
        assertEq(held(alice, ctf.getPositionId(token, a0)), 0, "A0 burned");
        assertEq(held(alice, positionOf(a0, b, 1)), 10e6, "A0 & B0");
        assertEq(held(alice, positionOf(a0, b, 2)), 10e6, "A0 & B1");
        // Merge half back to A0.
        ctf.mergePositions(token, a0, b, arr(1, 2), 4e6);
        assertEq(held(alice, ctf.getPositionId(token, a0)), 4e6, "A0 minted back");
        vm.stopPrank();
        // B resolves [0, 1]: A0&B1 redeems into A0; A0&B0 into nothing.
        report(QB, arr(0, 1));
        vm.prank(alice);
        assertEq(ctf.redeemPositions(token, a0, b, arr(1, 2)), 6e6, "6 of A0");
        assertEq(held(alice, ctf.getPositionId(token, a0)), 10e6, "A0 = 4 + 6");
        assertEq(held(alice, positionOf(a0, b, 1)) + held(alice, positionOf(a0, b, 2)), 0, "burned");
        // A resolves [1, 0]: A0 redeems 1:1 in collateral.
        report(Q, arr(1, 0));
        uint256 alice0 = bal(alice);
        vm.prank(alice);
        ctf.redeemPositions(token, bytes32(0), a, arr(1, 2));
        assertEq(bal(alice), alice0 + 10e6, "collateral");
    }

    function testFuzz_C1_positions_redeem_per_the_payouts(uint256 amount, uint256 n0, uint256 n1, uint256 n2)
        public
    {
        amount = bound(amount, 1, 1e12);
        uint256[] memory nums = arr(bound(n0, 0, 1e6), bound(n1, 0, 1e6), bound(n2, 1, 1e6));
        bytes32 c = splitAmongThree(amount);
        report(Q, nums);
        uint256 den = nums[0] + nums[1] + nums[2];
        address[3] memory holders = [alice, bob, carol];
        uint256 paid;
        for (uint256 i; i < 3; ++i) {
            uint256 before = bal(holders[i]);
            vm.prank(holders[i]);
            ctf.redeemPositions(token, bytes32(0), c, singletons(3));
            assertEq(bal(holders[i]) - before, amount * nums[i] / den, "amount * num / den");
            paid += amount * nums[i] / den;
        }
        assertLe(paid, amount, "never more than the collateral");
        assertEq(bal(address(ctf)), amount - paid, "the rounding stays");
    }

    /// A 3-outcome condition split by alice: she keeps outcome 0, bob gets 1, carol 2.
    function splitAmongThree(uint256 amount) internal returns (bytes32 c) {
        c = prepare(Q, 3);
        vm.prank(alice);
        ctf.splitPosition(token, bytes32(0), c, arr(1, 2, 4), amount);
        uint256 p1 = positionOf(0, c, 2);
        uint256 p2 = positionOf(0, c, 4);
        vm.prank(alice);
        ctf.safeTransferFrom(alice, bob, p1, amount, "");
        vm.prank(alice);
        ctf.safeTransferFrom(alice, carol, p2, amount, "");
    }

    // =======================================================================================
    // Optimistic resolver (O1)
    // =======================================================================================

    function test_O1_assert_then_settle_after_liveness() public {
        vm.prank(creator);
        bytes32 c = resolver.ask(Q, 3, "Which of three?", BOND, LIVENESS);
        assertEq(c, ctf.getConditionId(address(resolver), Q, 3), "the resolver is the oracle");
        assertEq(ctf.getOutcomeSlotCount(c), 3, "prepared");
        vm.expectRevert(
            abi.encodeWithSelector(OptimisticResolver.NotAsserted.selector, Q, OptimisticResolver.State.Asked)
        );
        resolver.settle(Q);
        vm.expectRevert(abi.encodeWithSelector(OptimisticResolver.InvalidOutcome.selector, 3, 3));
        vm.prank(asserter);
        resolver.assertOutcome(Q, 3);
        uint256 asserter0 = bal(asserter);
        vm.prank(asserter);
        resolver.assertOutcome(Q, 2);
        assertEq(bal(asserter), asserter0 - BOND, "bond posted");
        uint64 until = uint64(block.timestamp) + LIVENESS;
        vm.expectRevert(
            abi.encodeWithSelector(
                OptimisticResolver.AlreadyAsserted.selector, Q, OptimisticResolver.State.Asserted
            )
        );
        vm.prank(bob);
        resolver.assertOutcome(Q, 1);
        vm.expectRevert(abi.encodeWithSelector(OptimisticResolver.LivenessOpen.selector, until));
        resolver.settle(Q);
        vm.warp(until);
        vm.expectRevert(abi.encodeWithSelector(OptimisticResolver.LivenessOver.selector, until));
        vm.prank(disputer);
        resolver.dispute(Q);
        vm.expectEmit(true, true, true, true, address(ctf));
        emit ConditionResolution(c, address(resolver), Q, 3, arr(0, 0, 1));
        vm.prank(stranger);
        resolver.settle(Q);
        assertEq(bal(asserter), asserter0, "bond back");
        assertEq(ctf.payoutDenominator(c), 1, "reported");
        assertEq(ctf.payoutNumerators(c, 2), 1, "outcome 2");
        vm.expectRevert(abi.encodeWithSelector(OptimisticResolver.AlreadySettled.selector, Q));
        resolver.settle(Q);
        vm.expectRevert(abi.encodeWithSelector(OptimisticResolver.AlreadySettled.selector, Q));
        resolver.assertOutcome(Q, 0);
        assertTrue(resolver.question(Q).state == OptimisticResolver.State.Settled, "settled");
        assertEq(bal(address(resolver)), 0, "no bond left");
    }

    function test_O1_refusals() public {
        vm.expectRevert(abi.encodeWithSelector(OptimisticResolver.NotAsked.selector, Q));
        resolver.assertOutcome(Q, 0);
        vm.expectRevert(abi.encodeWithSelector(OptimisticResolver.NotAsked.selector, Q));
        resolver.dispute(Q);
        vm.expectRevert(abi.encodeWithSelector(OptimisticResolver.InvalidOutcomeCount.selector, 256));
        resolver.ask(Q, 256, "", BOND, LIVENESS);
        vm.expectRevert(abi.encodeWithSelector(OptimisticResolver.InvalidOutcomeCount.selector, 1));
        resolver.ask(Q, 1, "", BOND, LIVENESS);
        // A condition someone prepared ahead is the question's own.
        ctf.prepareCondition(address(resolver), Q, 2);
        resolver.ask(Q, 2, "", BOND, LIVENESS);
        vm.expectRevert(abi.encodeWithSelector(OptimisticResolver.AlreadyAsked.selector, Q));
        resolver.ask(Q, 2, "", BOND, LIVENESS);
        vm.prank(asserter);
        resolver.assertOutcome(Q, 0);
        vm.expectRevert(abi.encodeWithSelector(OptimisticResolver.SelfDispute.selector, Q));
        vm.prank(asserter);
        resolver.dispute(Q);
        vm.expectRevert(abi.encodeWithSelector(OptimisticResolver.NotArbitrator.selector, address(this)));
        resolver.rule(0, 1);
        vm.expectRevert(abi.encodeWithSelector(OptimisticResolver.UnknownDispute.selector, 0));
        vm.prank(address(council));
        resolver.rule(0, 1);
    }

    function disputeQ(uint256 outcomes, uint256 asserted) internal returns (uint256 disputeId) {
        vm.prank(creator);
        resolver.ask(Q, outcomes, "disputed", BOND, LIVENESS);
        vm.prank(asserter);
        resolver.assertOutcome(Q, asserted);
        vm.prank(disputer);
        disputeId = resolver.dispute(Q);
    }

    function test_O1_dispute_council_rules_for_the_disputer() public {
        uint256 asserter0 = bal(asserter);
        uint256 disputer0 = bal(disputer);
        vm.prank(creator);
        bytes32 c = resolver.ask(Q, 2, "Did it happen?", BOND, LIVENESS);
        vm.prank(asserter);
        resolver.assertOutcome(Q, 0);
        vm.expectEmit(true, true, true, true, address(resolver));
        emit DisputeRequest(council, 0, uint256(Q), 0, "");
        vm.prank(disputer);
        uint256 disputeId = resolver.dispute(Q);
        assertEq(bal(disputer), disputer0 - BOND - COST, "bond + arbitration cost");
        assertEq(council.getDispute(disputeId).choices, 2, "two choices");
        assertEq(resolver.questionOfDispute(disputeId), Q, "dispute -> question");
        vm.expectRevert(
            abi.encodeWithSelector(
                OptimisticResolver.NotAsserted.selector, Q, OptimisticResolver.State.Disputed
            )
        );
        resolver.settle(Q);
        // The council rules 2: outcome 1.
        councilVote(disputeId, votes(2, 2, 2));
        vm.expectEmit(true, true, true, true, address(resolver));
        emit Ruling(council, disputeId, 2);
        council.execute(disputeId);
        assertEq(ctf.payoutNumerators(c, 1), 1, "outcome 1 reported");
        assertEq(ctf.payoutDenominator(c), 1, "once");
        assertEq(bal(disputer), disputer0 - COST + BOND, "the disputer takes both bonds");
        assertEq(bal(asserter), asserter0 - BOND, "the asserter lost its bond");
        assertEq(bal(address(resolver)), 0, "nothing left");
        vm.expectRevert(abi.encodeWithSelector(OptimisticResolver.AlreadySettled.selector, Q));
        resolver.settle(Q);
    }

    function test_O1_dispute_council_rules_for_the_asserter_on_three_outcomes() public {
        uint256 asserter0 = bal(asserter);
        uint256 disputeId = disputeQ(3, 2);
        assertEq(council.getDispute(disputeId).choices, 3, "three choices");
        councilVote(disputeId, votes(3, 3, 1));
        council.execute(disputeId);
        bytes32 c = resolver.question(Q).conditionId;
        assertEq(ctf.payoutNumerators(c, 2), 1, "outcome 2 reported");
        assertEq(bal(asserter), asserter0 + BOND, "the asserter takes both bonds");
        assertEq(resolver.question(Q).outcome, 2, "settled outcome");
    }

    function test_O1_ruling_zero_reopens_the_question() public {
        uint256 asserter0 = bal(asserter);
        uint256 disputer0 = bal(disputer);
        uint256 disputeId = disputeQ(2, 0);
        // A tie (one vote each, one no-show) rules 0.
        councilVote(disputeId, votes(1, 2, 0));
        council.execute(disputeId);
        OptimisticResolver.Question memory q = resolver.question(Q);
        assertTrue(q.state == OptimisticResolver.State.Asked, "asked again");
        assertEq(bal(asserter), asserter0, "bond back");
        assertEq(bal(disputer), disputer0 - COST, "bond back, the fee spent");
        assertEq(ctf.payoutDenominator(q.conditionId), 0, "nothing reported");
        // A new assertion, undisputed, settles.
        vm.prank(bob);
        resolver.assertOutcome(Q, 1);
        vm.warp(block.timestamp + LIVENESS);
        resolver.settle(Q);
        assertEq(ctf.payoutNumerators(q.conditionId, 1), 1, "outcome 1");
    }

    function test_O1_invalid_ruling_from_the_test_arbitrator() public {
        vm.prank(creator);
        resolverT.ask(Q, 2, "", BOND, LIVENESS);
        vm.prank(asserter);
        resolverT.assertOutcome(Q, 0);
        vm.prank(disputer);
        uint256 disputeId = resolverT.dispute(Q);
        // A ruling the council cannot give (choices are 1..2).
        vm.expectRevert(abi.encodeWithSelector(OptimisticResolver.InvalidRuling.selector, 3, 2));
        testArbitrator.giveRuling(disputeId, 3);
        testArbitrator.giveRuling(disputeId, 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                OptimisticResolver.NotAsserted.selector, Q, OptimisticResolver.State.Settled
            )
        );
        testArbitrator.giveRuling(disputeId, 1);
    }

    function test_O1_a_market_on_a_resolver_question_settles_through_it() public {
        vm.prank(creator);
        bytes32 c = resolver.ask(Q, 2, "Will agora ship?", BOND, LIVENESS);
        vm.prank(creator);
        uint256 m = maker.createMarket(c, 100e18, type(uint256).max);
        vm.prank(alice);
        uint256 paid = maker.buy(m, 1, 40e18, type(uint256).max);
        vm.prank(asserter);
        resolver.assertOutcome(Q, 1);
        vm.warp(block.timestamp + LIVENESS);
        resolver.settle(Q);
        vm.expectRevert(abi.encodeWithSelector(LmsrMarketMaker.ConditionResolved.selector, c));
        vm.prank(bob);
        maker.buy(m, 1, 1e18, type(uint256).max);
        uint256 alice0 = bal(alice);
        vm.prank(alice);
        ctf.redeemPositions(token, bytes32(0), c, arr(1, 2));
        assertEq(bal(alice), alice0 + 40e6, "the winner redeems");
        maker.close(m);
        vm.prank(creator);
        uint256 out = maker.withdraw(m);
        assertEq(out, maker.market(m).funding + paid - 40e6, "funding + paid - owed");
    }

    // =======================================================================================
    // Decision market (D2)
    // =======================================================================================

    function test_D2_the_rule() public view {
        assertTrue(dm.passes(1.2e18, 1e18, 300), "1.20 vs 1.00 at 3%: pass");
        assertTrue(!dm.passes(1.02e18, 1e18, 300), "1.02 vs 1.00 at 3%: fail");
        assertTrue(!dm.passes(1.03e18, 1e18, 300), "exactly 3% better is not enough");
        assertTrue(dm.passes(1.03e18 + 1, 1e18, 300), "just above");
        assertTrue(!dm.passes(0.5e18, 0.5e18, 0), "equal fails");
        assertTrue(dm.passes(0.5e18 + 1, 0.5e18, 0), "strictly better passes at theta = 0");
    }

    function propose(ActionTarget target, bytes memory data) internal returns (uint256 id) {
        bytes32 metric = askMetric(QB);
        vm.prank(creator);
        id = dm.propose(proposalParams(metric, address(target), data));
    }

    function dmTrade(address who, uint256 id, uint256 branch, int256 yes, int256 no)
        internal
        returns (int256)
    {
        vm.prank(who);
        return dm.trade(id, branch, yes, no, type(int256).max);
    }

    /// Pokes both books every hour from now to `until`.
    function pokeUntil(uint256 id, uint256 until) internal {
        while (block.timestamp + 1 hours <= until) {
            vm.warp(block.timestamp + 1 hours);
            dm.poke(id);
        }
        vm.warp(until);
    }

    function test_D2_pass_executes_the_action_and_voids_the_fail_branch() public {
        ActionTarget target = new ActionTarget();
        uint256 creator0 = bal(creator);
        uint256 id = propose(target, abi.encodeCall(ActionTarget.record, (42)));
        DecisionMarket.Proposal memory p = dm.proposal(id);
        assertEq(p.funding, 69_314_719, "b ln 2 in units, once for both books");
        assertEq(bal(creator), creator0 - p.funding, "funding taken");
        uint256[6] memory ids = dm.positionIds(id);
        assertEq(held(address(dm), ids[0]), p.funding, "pass collateral");
        assertEq(held(address(dm), ids[1]), p.funding, "fail collateral");

        // Traders take conditional collateral and move the books: YES if pass up, YES if fail down.
        splitDecision(alice, id, 500e6);
        splitDecision(bob, id, 500e6);
        splitDecision(carol, id, 10e6);
        dmTrade(alice, id, 0, 80e18, 0);
        dmTrade(bob, id, 1, 0, 60e18);
        assertEq(held(alice, ids[2]), 80e6, "alice holds pass-YES");
        assertEq(held(bob, ids[5]), 60e6, "bob holds fail-NO");
        uint256 pricePass = dm.prices(id, 0)[0];
        uint256 priceFail = dm.prices(id, 1)[0];
        assertTrue(pricePass > 0.68e18 && priceFail < 0.36e18, "moved");

        vm.expectRevert(abi.encodeWithSelector(DecisionMarket.TradingOpen.selector, id, p.end));
        dm.finalize(id);
        pokeUntil(id, p.end);
        vm.expectRevert(abi.encodeWithSelector(DecisionMarket.TradingClosed.selector, id, p.end));
        dmTrade(alice, id, 0, 1e18, 0);
        // Two days of TWAP: observations walk 0.01 an hour from 0.5 to the prices and stay there.
        uint256 twapPass = dm.twap(id, 0);
        uint256 twapFail = dm.twap(id, 1);
        assertTrue(twapPass > 0.6e18 && twapFail < 0.4e18, "twaps");
        assertTrue(dm.finalize(id), "passed");
        p = dm.proposal(id);
        assertTrue(p.status == DecisionMarket.Status.Passed, "status");
        assertEq(p.twapPass, twapPass, "recorded twap");
        assertEq(target.value(), 42, "the action ran");
        assertEq(target.caller(), address(dm), "called by the market");
        vm.expectRevert(abi.encodeWithSelector(DecisionMarket.AlreadyFinalized.selector, id));
        dm.finalize(id);

        // The decision condition is [1, 0]: pass-collateral redeems 1:1, fail-collateral nothing.
        bytes32 decision = p.decisionConditionId;
        assertEq(ctf.payoutNumerators(decision, 0), 1, "pass");
        uint256 carol0 = bal(carol);
        vm.prank(carol);
        ctf.redeemPositions(token, bytes32(0), decision, arr(2, 0x1));
        assertEq(bal(carol), carol0 + 10e6, "10 pass-collateral = 10 dUSD, 10 fail-collateral = 0");
        assertEq(held(carol, ids[0]) + held(carol, ids[1]), 0, "both burned");

        // The metric resolves YES: alice's pass-YES redeems into pass-collateral, then dUSD.
        vm.prank(asserter);
        resolver.assertOutcome(QB, 0);
        vm.warp(block.timestamp + LIVENESS);
        resolver.settle(QB);
        bytes32 passCollection = ctf.getCollectionId(0, decision, 1);
        uint256 alice0 = bal(alice);
        uint256 alicePass = held(alice, ids[0]);
        vm.prank(alice);
        ctf.redeemPositions(token, passCollection, p.metricConditionId, arr(1, 2));
        assertEq(held(alice, ids[0]), alicePass + 80e6, "80 pass-YES -> 80 pass-collateral");
        vm.prank(alice);
        ctf.redeemPositions(token, bytes32(0), decision, arr(1, 2));
        assertEq(bal(alice), alice0 + alicePass + 80e6, "all of it in dUSD");

        // The proposer takes the books' holdings.
        vm.expectRevert(abi.encodeWithSelector(DecisionMarket.NotProposer.selector, id, stranger));
        vm.prank(stranger);
        dm.withdraw(id);
        DecisionMarket.Book memory passBook = dm.book(id, 0);
        vm.prank(creator);
        dm.withdraw(id);
        assertEq(held(creator, ids[0]), passBook.balance, "pass collateral");
        assertEq(held(creator, ids[3]), uint256(passBook.sets) - 0, "pass-NO inventory");
        for (uint256 i; i < 6; ++i) {
            assertEq(held(address(dm), ids[i]), 0, "the market holds nothing");
        }
        vm.expectRevert(abi.encodeWithSelector(DecisionMarket.AlreadyWithdrawn.selector, id));
        vm.prank(creator);
        dm.withdraw(id);
    }

    function test_D2_fail_skips_the_action_and_voids_the_pass_branch() public {
        ActionTarget target = new ActionTarget();
        uint256 id = propose(target, abi.encodeCall(ActionTarget.record, (42)));
        DecisionMarket.Proposal memory p = dm.proposal(id);
        splitDecision(alice, id, 500e6);
        // Pass looks slightly better (0.51 vs 0.5), less than 3%: FAIL.
        dmTrade(alice, id, 0, 4e18, 0);
        pokeUntil(id, p.end);
        uint256 twapPass = dm.twap(id, 0);
        assertTrue(twapPass > 0.5e18 && twapPass < 0.515e18, "slightly better");
        assertEq(dm.twap(id, 1), 0.5e18, "fail book untouched");
        assertTrue(!dm.finalize(id), "failed");
        assertTrue(dm.proposal(id).status == DecisionMarket.Status.Failed, "status");
        assertEq(target.calls(), 0, "no action");
        bytes32 decision = p.decisionConditionId;
        assertEq(ctf.payoutNumerators(decision, 1), 1, "fail reported");
        uint256 alice0 = bal(alice);
        uint256 failHeld = held(alice, dm.positionIds(id)[1]);
        vm.prank(alice);
        ctf.redeemPositions(token, bytes32(0), decision, arr(1, 2));
        assertEq(bal(alice), alice0 + failHeld, "only fail-collateral pays");
        assertEq(failHeld, 500e6, "alice traded only pass-collateral");
    }

    function test_D2_twap_accumulates_observations_times_seconds() public {
        bytes32 metric = askMetric(QB);
        DecisionMarket.ProposalParams memory params = proposalParams(metric, address(0), "");
        params.maxStepWad = 1e18; // no cap: observations are the prices
        vm.prank(creator);
        uint256 id = dm.propose(params);
        DecisionMarket.Proposal memory p = dm.proposal(id);
        splitDecision(alice, id, 500e6);
        // Before the delay nothing is recorded.
        dmTrade(alice, id, 0, 50e18, 0);
        assertEq(dm.book(id, 0).observation, 0.5e18, "not recorded before the delay");
        assertEq(dm.twap(id, 0), 0.5e18, "twap before recording");
        // 100 s after recording starts: the 0.5 held for 100 s, then the price.
        vm.warp(p.twapStart + 100);
        dm.poke(id);
        uint256 price = dm.prices(id, 0)[0];
        assertEq(dm.book(id, 0).observation, price, "observed");
        assertEq(dm.book(id, 0).aggregator, 0.5e18 * 100, "0.5 x 100 s");
        vm.warp(p.twapStart + 400);
        assertEq(dm.twap(id, 0), (0.5e18 * 100 + price * 300) / 400, "time-weighted");
        vm.warp(p.end + 1 days);
        uint256 span = p.end - p.twapStart;
        assertEq(dm.twap(id, 0), (0.5e18 * 100 + price * (span - 100)) / span, "clipped at the end");
        // A pass vs fail of 0.6225 vs 0.5 (24% better) passes with theta = 3%; no target: no call.
        assertTrue(dm.finalize(id), "passed");
    }

    function test_D2_a_last_second_spike_moves_the_observation_by_max_step() public {
        uint256 id = propose(new ActionTarget(), "");
        DecisionMarket.Proposal memory p = dm.proposal(id);
        splitDecision(alice, id, 1_000e6);
        pokeUntil(id, p.end - 1);
        DecisionMarket.Book memory before = dm.book(id, 0);
        assertEq(before.observation, 0.5e18, "flat");
        uint256 twapBefore = dm.twap(id, 0);
        // The last second: push the pass book's YES price to ~0.99.
        dmTrade(alice, id, 0, 500e18, 0);
        assertTrue(dm.prices(id, 0)[0] > 0.99e18, "spiked");
        DecisionMarket.Book memory after_ = dm.book(id, 0);
        assertEq(after_.observation, 0.5e18 + p.maxStepWad, "moved by max step only");
        // A second trade in the same second does not move it again.
        dmTrade(alice, id, 0, 1e18, 0);
        assertEq(dm.book(id, 0).observation, 0.5e18 + p.maxStepWad, "one update a second");
        vm.warp(p.end);
        uint256 twapAfter = dm.twap(id, 0);
        assertTrue(twapAfter - twapBefore < 1e12, "the twap barely moves");
        assertTrue(!dm.finalize(id), "a spike does not pass a proposal");
    }

    function test_D2_a_failing_action_is_recorded_and_the_proposal_still_passes() public {
        ActionTarget target = new ActionTarget();
        uint256 id = propose(target, abi.encodeCall(ActionTarget.fail, (7)));
        splitDecision(alice, id, 500e6);
        dmTrade(alice, id, 0, 80e18, 0);
        pokeUntil(id, dm.proposal(id).end);
        vm.expectEmit(true, true, true, true, address(dm));
        emit ActionFailed(id, abi.encodeWithSelector(ActionTarget.Refused.selector, 7));
        assertTrue(dm.finalize(id), "passed");
        assertTrue(dm.proposal(id).status == DecisionMarket.Status.Passed, "still passed");
    }

    function test_D2_refusals() public {
        bytes32 metric = askMetric(QB);
        DecisionMarket.ProposalParams memory params = proposalParams(metric, address(0), "");
        params.twapDelay = params.tradingPeriod;
        vm.expectRevert(abi.encodeWithSelector(DecisionMarket.InvalidSchedule.selector, 3 days, 3 days));
        dm.propose(params);
        params = proposalParams(metric, address(0), "");
        params.maxFunding = 69_314_718;
        vm.expectRevert(
            abi.encodeWithSelector(DecisionMarket.FundingAboveMax.selector, 69_314_719, 69_314_718)
        );
        dm.propose(params);
        bytes32 three = prepare(Q, 3);
        params = proposalParams(three, address(0), "");
        vm.expectRevert(abi.encodeWithSelector(DecisionMarket.MetricNotBinary.selector, three, 3));
        dm.propose(params);
        params = proposalParams(metric, address(0), "");
        params.maxStepWad = 0;
        vm.expectRevert(abi.encodeWithSelector(DecisionMarket.InvalidMaxStep.selector, 0));
        dm.propose(params);
        params = proposalParams(metric, address(ctf), "");
        vm.expectRevert(abi.encodeWithSelector(DecisionMarket.ForbiddenTarget.selector, address(ctf)));
        dm.propose(params);
        params = proposalParams(metric, address(token), "");
        vm.expectRevert(abi.encodeWithSelector(DecisionMarket.ForbiddenTarget.selector, address(token)));
        dm.propose(params);
        params = proposalParams(metric, address(0), "");
        vm.prank(creator);
        uint256 id = dm.propose(params);
        splitDecision(alice, id, 10e6);
        vm.expectRevert(abi.encodeWithSelector(DecisionMarket.InvalidBranch.selector, 2));
        dmTrade(alice, id, 2, 1e18, 0);
        vm.expectRevert(abi.encodeWithSelector(DecisionMarket.SharesNotInTokenUnits.selector, int256(1)));
        dmTrade(alice, id, 0, 1, 0);
        vm.expectRevert(abi.encodeWithSelector(DecisionMarket.CostAboveLimit.selector, int256(1), int256(0)));
        vm.prank(alice);
        dm.trade(id, 0, 1e12, 0, 0);
        vm.expectRevert(abi.encodeWithSelector(DecisionMarket.NotFinalized.selector, id));
        vm.prank(creator);
        dm.withdraw(id);
        vm.expectRevert(abi.encodeWithSelector(DecisionMarket.NoSuchProposal.selector, 9));
        dm.poke(9);
    }

    // =======================================================================================
    // Gas (forge test --match-test test_gas_report -vv)
    // =======================================================================================

    /// The gas of each step, as `gasleft()` deltas around the external call (no intrinsic
    /// 21,000 or calldata gas; storage touched by an earlier step of the test is warm).
    function test_gas_report() public {
        gasCtf();
        gasLmsr();
        gasResolver();
        gasDecision();
    }

    function gasCtf() internal {
        bytes32 c = prepare(Q, 2);
        uint256[] memory partition = arr(1, 2);
        vm.prank(alice);
        uint256 g = gasleft();
        ctf.splitPosition(token, bytes32(0), c, partition, 10e6);
        emit log_named_uint("ctf splitPosition (binary, from collateral)", g - gasleft());
        report(Q, arr(1, 0));
        vm.prank(alice);
        g = gasleft();
        ctf.redeemPositions(token, bytes32(0), c, partition);
        emit log_named_uint("ctf redeemPositions (binary)", g - gasleft());
    }

    function gasLmsr() internal {
        bytes32 c = prepare(QB, 2);
        vm.prank(creator);
        uint256 g = gasleft();
        uint256 m = maker.createMarket(c, 100e18, type(uint256).max);
        emit log_named_uint("lmsr createMarket (n = 2)", g - gasleft());
        vm.prank(alice);
        g = gasleft();
        maker.buy(m, 0, 50e18, type(uint256).max);
        emit log_named_uint("lmsr buy (n = 2, splits)", g - gasleft());
        vm.prank(alice);
        g = gasleft();
        maker.sell(m, 0, 20e18, 0);
        emit log_named_uint("lmsr sell (n = 2, merges)", g - gasleft());
        bytes32 c3 = prepare(keccak256("n8"), 8);
        vm.prank(creator);
        uint256 m8 = maker.createMarket(c3, 100e18, type(uint256).max);
        vm.prank(alice);
        g = gasleft();
        maker.buy(m8, 3, 50e18, type(uint256).max);
        emit log_named_uint("lmsr buy (n = 8, splits)", g - gasleft());
    }

    function gasResolver() internal {
        bytes32 q1 = keccak256("gas q1");
        vm.prank(creator);
        uint256 g = gasleft();
        resolver.ask(q1, 2, "Will it?", BOND, LIVENESS);
        emit log_named_uint("resolver ask (prepares the condition)", g - gasleft());
        vm.prank(asserter);
        g = gasleft();
        resolver.assertOutcome(q1, 0);
        emit log_named_uint("resolver assertOutcome", g - gasleft());
        vm.warp(block.timestamp + LIVENESS);
        g = gasleft();
        resolver.settle(q1);
        emit log_named_uint("resolver settle (reports payouts)", g - gasleft());
        bytes32 q2 = keccak256("gas q2");
        vm.prank(creator);
        resolver.ask(q2, 2, "Will it?", BOND, LIVENESS);
        vm.prank(asserter);
        resolver.assertOutcome(q2, 0);
        vm.prank(disputer);
        g = gasleft();
        uint256 disputeId = resolver.dispute(q2);
        emit log_named_uint("resolver dispute (council draws 3 jurors)", g - gasleft());
        councilVote(disputeId, votes(2, 2, 2));
        g = gasleft();
        council.execute(disputeId);
        emit log_named_uint("council execute + resolver rule (reports payouts)", g - gasleft());
    }

    function gasDecision() internal {
        ActionTarget target = new ActionTarget();
        bytes32 metric = askMetric(keccak256("gas metric"));
        DecisionMarket.ProposalParams memory params =
            proposalParams(metric, address(target), abi.encodeCall(ActionTarget.record, (1)));
        vm.prank(creator);
        uint256 g = gasleft();
        uint256 id = dm.propose(params);
        emit log_named_uint("decision propose (prepares, funds both books)", g - gasleft());
        splitDecision(alice, id, 500e6);
        vm.warp(block.timestamp + params.twapDelay + 1);
        vm.prank(alice);
        g = gasleft();
        dm.trade(id, 0, 50e18, 0, type(int256).max);
        emit log_named_uint("decision trade (buy, splits, observes)", g - gasleft());
        vm.warp(block.timestamp + 60);
        g = gasleft();
        dm.poke(id);
        emit log_named_uint("decision poke (both books)", g - gasleft());
        vm.warp(dm.proposal(id).end);
        g = gasleft();
        dm.finalize(id);
        emit log_named_uint("decision finalize (pass, reports, runs the action)", g - gasleft());
    }
}
