// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {X402Test} from "./utils/X402Test.sol";
import {MockWallet, SkewedCollector, ReentrantCollector, HookedToken} from "./utils/X402Mocks.sol";
import {X402BatchSettlement} from "../src/X402BatchSettlement.sol";
import {DepositCollector} from "../src/DepositCollector.sol";
import {DevStablecoin} from "../src/DevStablecoin.sol";

contract X402BatchSettlementTest is X402Test {
    uint256 internal constant PAYER_KEY = 0xA11CE;
    uint256 internal constant PAYER_AUTH_KEY = 0xA0A0;
    uint256 internal constant RECEIVER_AUTH_KEY = 0xBEEF;
    uint256 internal constant STRANGER_KEY = 0x5757;
    address internal payer;
    address internal payerAuth;
    address internal receiverAuth;
    address internal constant RECEIVER = address(0x7eCE);
    address internal constant STRANGER = address(0x5757);
    X402BatchSettlement.ChannelConfig internal config;
    bytes32 internal id;

    event ChannelCreated(bytes32 indexed channelId, X402BatchSettlement.ChannelConfig config);
    event ChannelClosed(bytes32 indexed channelId, X402BatchSettlement.ChannelConfig config);
    event Deposited(bytes32 indexed channelId, address indexed sender, uint128 amount, uint128 newBalance);
    event Claimed(
        bytes32 indexed channelId, address indexed sender, uint128 claimAmount, uint128 newTotalClaimed
    );
    event Settled(address indexed receiver, address indexed token, address indexed sender, uint128 amount);
    event Refunded(bytes32 indexed channelId, address indexed sender, uint128 amount);
    event WithdrawInitiated(bytes32 indexed channelId, uint128 amount, uint40 finalizeAfter);
    event WithdrawFinalized(bytes32 indexed channelId, address indexed sender, uint128 amount);

    function setUp() public {
        installX402();
        payer = vm.addr(PAYER_KEY);
        payerAuth = vm.addr(PAYER_AUTH_KEY);
        receiverAuth = vm.addr(RECEIVER_AUTH_KEY);
        config = channelConfig(payer, payerAuth, RECEIVER, receiverAuth);
        id = channelIdOf(config);
    }

    function balances(bytes32 channelId) internal view returns (uint128 balance, uint128 claimed) {
        return settlement.channels(channelId);
    }

    // ---------------------------------------------------------------------------------------
    // Domain and ids
    // ---------------------------------------------------------------------------------------

    function test_domain_is_the_canonical_one_at_the_canonical_address() public view {
        (, string memory name, string memory version, uint256 chainId, address verifyingContract,,) =
            settlement.eip712Domain();
        assertEq(name, "x402 Batch Settlement", "name");
        assertEq(version, "1", "version");
        assertEq(chainId, 31337, "chain id");
        assertEq(verifyingContract, BATCH_SETTLEMENT, "verifying contract");
        bytes32 domain = keccak256(
            abi.encode(
                keccak256(
                    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
                ),
                keccak256("x402 Batch Settlement"),
                keccak256("1"),
                31337,
                BATCH_SETTLEMENT
            )
        );
        bytes32 structHash = keccak256(abi.encode(settlement.CHANNEL_CONFIG_TYPEHASH(), config));
        assertEq(id, keccak256(abi.encodePacked("\x19\x01", domain, structHash)), "channel id");
        assertEq(settlement.MIN_WITHDRAW_DELAY(), 900, "min delay");
        assertEq(settlement.MAX_WITHDRAW_DELAY(), 30 days, "max delay");
    }

    /// The contract's digest views equal the encoding computed here independently (and the
    /// official client's, in X402Official.t.sol).
    function testFuzz_views_match_an_independent_encoding(
        X402BatchSettlement.ChannelConfig memory c,
        uint128 max,
        uint128 total,
        uint256 nonce
    ) public view {
        bytes32 channelId = settlement.getChannelId(c);
        assertEq(channelId, channelIdOf(c), "channel id");
        assertEq(settlement.getVoucherDigest(channelId, max), voucherDigestOf(channelId, max), "voucher");
        assertEq(
            settlement.getRefundDigest(channelId, nonce, max), refundDigestOf(channelId, nonce, max), "refund"
        );
        X402BatchSettlement.VoucherClaim[] memory rows = new X402BatchSettlement.VoucherClaim[](2);
        rows[0] = X402BatchSettlement.VoucherClaim(X402BatchSettlement.Voucher(c, max), hex"01", total);
        rows[1] = X402BatchSettlement.VoucherClaim(X402BatchSettlement.Voucher(config, total), "", max);
        assertEq(settlement.getClaimBatchDigest(rows), claimBatchDigestOf(rows), "claim batch");
        X402BatchSettlement.VoucherClaim[] memory none = new X402BatchSettlement.VoucherClaim[](0);
        assertEq(settlement.getClaimBatchDigest(none), claimBatchDigestOf(none), "empty claim batch");
    }

    function test_channel_id_binds_every_field_and_the_chain() public {
        X402BatchSettlement.ChannelConfig memory c = config;
        bytes32[] memory ids = new bytes32[](8);
        ids[0] = id;
        c.payer = STRANGER;
        ids[1] = channelIdOf(c);
        c = config;
        c.payerAuthorizer = STRANGER;
        ids[2] = channelIdOf(c);
        c = config;
        c.receiver = STRANGER;
        ids[3] = channelIdOf(c);
        c = config;
        c.receiverAuthorizer = STRANGER;
        ids[4] = channelIdOf(c);
        c = config;
        c.token = STRANGER;
        ids[5] = channelIdOf(c);
        c = config;
        c.withdrawDelay = 901;
        ids[6] = channelIdOf(c);
        c = config;
        c.salt = bytes32(uint256(1));
        ids[7] = channelIdOf(c);
        for (uint256 i = 0; i < ids.length; i++) {
            for (uint256 j = i + 1; j < ids.length; j++) {
                assertTrue(ids[i] != ids[j], "distinct ids");
            }
        }
        vm.chainId(1);
        assertTrue(channelIdOf(config) != id, "the chain id is in the domain");
    }

    // ---------------------------------------------------------------------------------------
    // Deposits
    // ---------------------------------------------------------------------------------------

    function test_deposit_by_erc3009_creates_the_channel() public {
        token.faucet(payer, 5_000);
        bytes memory data = erc3009Data(PAYER_KEY, id, 5_000, 7);
        vm.expectEmit(true, false, false, true, BATCH_SETTLEMENT);
        emit ChannelCreated(id, config);
        vm.expectEmit(true, true, false, true, BATCH_SETTLEMENT);
        emit Deposited(id, STRANGER, 5_000, 5_000);
        vm.prank(STRANGER); // a facilitator submits it
        settlement.deposit(config, 5_000, ERC3009_COLLECTOR, data);

        (uint128 balance, uint128 claimed) = balances(id);
        assertEq(balance, 5_000, "balance");
        assertEq(claimed, 0, "claimed");
        assertEq(token.balanceOf(BATCH_SETTLEMENT), 5_000, "escrowed");
        assertEq(token.balanceOf(payer), 0, "payer paid");
        assertEq(token.balanceOf(ERC3009_COLLECTOR), 0, "the collector keeps nothing");
        assertTrue(token.authorizationState(payer, keccak256(abi.encode(id, uint256(7)))), "nonce spent");
    }

    function test_a_top_up_adds_without_creating_again() public {
        depositByErc3009(config, PAYER_KEY, 1_000);
        token.faucet(payer, 500);
        bytes memory data = erc3009Data(PAYER_KEY, id, 500, 8);
        vm.expectEmit(true, true, false, true, BATCH_SETTLEMENT);
        emit Deposited(id, address(this), 500, 1_500);
        settlement.deposit(config, 500, ERC3009_COLLECTOR, data);
        (uint128 balance,) = balances(id);
        assertEq(balance, 1_500, "balance");
    }

    function test_deposit_by_permit2() public {
        token.faucet(payer, 2_000);
        vm.prank(payer);
        token.approve(PERMIT2, type(uint256).max);
        bytes memory data = permit2Data(PAYER_KEY, id, 2_000, 99);
        settlement.deposit(config, 2_000, PERMIT2_COLLECTOR, data);
        (uint128 balance,) = balances(id);
        assertEq(balance, 2_000, "balance");
        assertEq(token.balanceOf(BATCH_SETTLEMENT), 2_000, "escrowed");
        assertEq(permit2.nonceBitmap(payer, 0) >> 99 & 1, 1, "permit2 nonce spent");

        // The same signature cannot deposit twice.
        token.faucet(payer, 2_000);
        vm.expectRevert(abi.encodeWithSignature("InvalidNonce()"));
        settlement.deposit(config, 2_000, PERMIT2_COLLECTOR, data);
    }

    function test_a_permit2_deposit_is_bound_to_its_channel_and_amount() public {
        token.faucet(payer, 2_000);
        vm.prank(payer);
        token.approve(PERMIT2, type(uint256).max);
        bytes memory data = permit2Data(PAYER_KEY, id, 2_000, 1);
        X402BatchSettlement.ChannelConfig memory other = config;
        other.salt = bytes32(uint256(9));
        vm.expectRevert(abi.encodeWithSignature("InvalidSigner()"));
        settlement.deposit(other, 2_000, PERMIT2_COLLECTOR, data);
        vm.expectRevert(abi.encodeWithSignature("InvalidSigner()"));
        settlement.deposit(config, 1_999, PERMIT2_COLLECTOR, data);
    }

    function test_an_erc3009_deposit_is_bound_to_its_channel_and_cannot_be_replayed() public {
        token.faucet(payer, 2_000);
        bytes memory data = erc3009Data(PAYER_KEY, id, 1_000, 1);
        X402BatchSettlement.ChannelConfig memory other = config;
        other.salt = bytes32(uint256(9));
        vm.expectRevert(DevStablecoin.InvalidAuthorizationSignature.selector);
        settlement.deposit(other, 1_000, ERC3009_COLLECTOR, data);
        settlement.deposit(config, 1_000, ERC3009_COLLECTOR, data);
        vm.expectRevert(
            abi.encodeWithSelector(
                DevStablecoin.AuthorizationAlreadyUsed.selector, payer, keccak256(abi.encode(id, uint256(1)))
            )
        );
        settlement.deposit(config, 1_000, ERC3009_COLLECTOR, data);
    }

    function test_deposit_refuses_bad_configs_and_arguments() public {
        X402BatchSettlement.ChannelConfig memory c = config;
        c.payer = address(0);
        vm.expectRevert(X402BatchSettlement.InvalidChannel.selector);
        settlement.deposit(c, 1, ERC3009_COLLECTOR, "");
        c = config;
        c.receiver = address(0);
        vm.expectRevert(X402BatchSettlement.InvalidChannel.selector);
        settlement.deposit(c, 1, ERC3009_COLLECTOR, "");
        c = config;
        c.receiverAuthorizer = address(0);
        vm.expectRevert(X402BatchSettlement.InvalidChannel.selector);
        settlement.deposit(c, 1, ERC3009_COLLECTOR, "");
        c = config;
        c.token = address(0);
        vm.expectRevert(X402BatchSettlement.InvalidChannel.selector);
        settlement.deposit(c, 1, ERC3009_COLLECTOR, "");
        c = config;
        c.withdrawDelay = 899;
        vm.expectRevert(X402BatchSettlement.WithdrawDelayOutOfRange.selector);
        settlement.deposit(c, 1, ERC3009_COLLECTOR, "");
        c.withdrawDelay = 30 days + 1;
        vm.expectRevert(X402BatchSettlement.WithdrawDelayOutOfRange.selector);
        settlement.deposit(c, 1, ERC3009_COLLECTOR, "");
        vm.expectRevert(X402BatchSettlement.ZeroDeposit.selector);
        settlement.deposit(config, 0, ERC3009_COLLECTOR, "");
        vm.expectRevert(X402BatchSettlement.InvalidCollector.selector);
        settlement.deposit(config, 1, address(0), "");
    }

    function test_the_delay_bounds_are_inclusive() public {
        X402BatchSettlement.ChannelConfig memory c = config;
        c.withdrawDelay = 900;
        depositByErc3009(c, PAYER_KEY, 1);
        c.withdrawDelay = 30 days;
        depositByErc3009(c, PAYER_KEY, 1);
    }

    function test_deposit_checks_what_the_collector_delivered() public {
        SkewedCollector short = new SkewedCollector(-1);
        SkewedCollector generous = new SkewedCollector(1);
        token.faucet(address(short), 100);
        token.faucet(address(generous), 100);
        vm.expectRevert(X402BatchSettlement.DepositCollectionFailed.selector);
        settlement.deposit(config, 10, address(short), "");
        vm.expectRevert(X402BatchSettlement.DepositCollectionFailed.selector);
        settlement.deposit(config, 10, address(generous), "");
        // A collector that delivers exactly is fine, whoever it is: the payer's tokens only
        // move through a collector the payer authorized.
        SkewedCollector exact = new SkewedCollector(0);
        token.faucet(address(exact), 100);
        settlement.deposit(config, 10, address(exact), "");
        (uint128 balance,) = balances(id);
        assertEq(balance, 10, "balance");
    }

    function test_deposit_refuses_an_overflowing_balance() public {
        HookedToken big = new HookedToken();
        SkewedCollector exact = new SkewedCollector(0);
        big.mint(address(exact), type(uint256).max / 2);
        X402BatchSettlement.ChannelConfig memory c = config;
        c.token = address(big);
        settlement.deposit(c, type(uint128).max, address(exact), "");
        vm.expectRevert(X402BatchSettlement.DepositOverflow.selector);
        settlement.deposit(c, 1, address(exact), "");
    }

    function test_a_collector_cannot_reenter() public {
        ReentrantCollector collector = new ReentrantCollector();
        token.faucet(address(collector), 100);
        bytes memory reenter = abi.encodeCall(X402BatchSettlement.settle, (RECEIVER, TOKEN));
        vm.expectRevert(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector);
        settlement.deposit(config, 10, address(collector), reenter);
    }

    function test_collectors_serve_only_the_settlement_contract() public {
        vm.expectRevert(DepositCollector.OnlyX402BatchSettlement.selector);
        erc3009Collector.collect(payer, TOKEN, 1, id, erc3009Data(PAYER_KEY, id, 1, 1));
        vm.expectRevert(DepositCollector.OnlyX402BatchSettlement.selector);
        permit2Collector.collect(payer, TOKEN, 1, id, permit2Data(PAYER_KEY, id, 1, 1));
        assertEq(erc3009Collector.x402BatchSettlement(), BATCH_SETTLEMENT, "erc3009 collector's settlement");
        assertEq(permit2Collector.x402BatchSettlement(), BATCH_SETTLEMENT, "permit2 collector's settlement");
        assertEq(address(permit2Collector.PERMIT2()), PERMIT2, "permit2 collector's permit2");
    }

    // ---------------------------------------------------------------------------------------
    // Claims and settlement
    // ---------------------------------------------------------------------------------------

    function test_the_receiver_claims_and_anyone_settles() public {
        depositByErc3009(config, PAYER_KEY, 5_000);
        X402BatchSettlement.VoucherClaim[] memory rows =
            one(voucherClaim(config, PAYER_AUTH_KEY, 3_000, 2_000));
        vm.expectEmit(true, true, false, true, BATCH_SETTLEMENT);
        emit Claimed(id, RECEIVER, 2_000, 2_000);
        vm.prank(RECEIVER);
        settlement.claim(rows);

        (uint128 balance, uint128 claimed) = balances(id);
        assertEq(balance, 5_000, "balance keeps the claimed part until settled");
        assertEq(claimed, 2_000, "claimed");
        (uint128 credited, uint128 paid) = settlement.receivers(RECEIVER, TOKEN);
        assertEq(credited, 2_000, "credited");
        assertEq(paid, 0, "not paid yet");

        // The authorizer raises it to the voucher's ceiling.
        vm.prank(receiverAuth);
        settlement.claim(one(voucherClaim(config, PAYER_AUTH_KEY, 3_000, 3_000)));

        vm.expectEmit(true, true, true, true, BATCH_SETTLEMENT);
        emit Settled(RECEIVER, TOKEN, STRANGER, 3_000);
        vm.prank(STRANGER);
        settlement.settle(RECEIVER, TOKEN);
        assertEq(token.balanceOf(RECEIVER), 3_000, "receiver paid");
        assertEq(token.balanceOf(BATCH_SETTLEMENT), 2_000, "the rest stays");
        (credited, paid) = settlement.receivers(RECEIVER, TOKEN);
        assertEq(paid, 3_000, "settled");

        // Nothing more to settle: a no-op.
        settlement.settle(RECEIVER, TOKEN);
        assertEq(token.balanceOf(RECEIVER), 3_000, "nothing twice");
    }

    function test_a_claim_at_or_below_the_recorded_total_is_a_no_op() public {
        depositByErc3009(config, PAYER_KEY, 5_000);
        X402BatchSettlement.VoucherClaim[] memory rows =
            one(voucherClaim(config, PAYER_AUTH_KEY, 3_000, 2_000));
        vm.startPrank(RECEIVER);
        settlement.claim(rows);
        settlement.claim(rows);
        settlement.claim(one(voucherClaim(config, PAYER_AUTH_KEY, 1_000, 1_000)));
        // Even a bad signature is not looked at: nothing would change.
        rows[0].signature = hex"00";
        settlement.claim(rows);
        vm.stopPrank();
        (, uint128 claimed) = balances(id);
        assertEq(claimed, 2_000, "claimed once");
        (uint128 credited,) = settlement.receivers(RECEIVER, TOKEN);
        assertEq(credited, 2_000, "credited once");
    }

    function test_claim_refusals() public {
        depositByErc3009(config, PAYER_KEY, 5_000);
        X402BatchSettlement.VoucherClaim[] memory none = new X402BatchSettlement.VoucherClaim[](0);
        vm.expectRevert(X402BatchSettlement.EmptyBatch.selector);
        settlement.claim(none);

        vm.prank(payer);
        vm.expectRevert(X402BatchSettlement.NotAuthorizedToClaim.selector);
        settlement.claim(one(voucherClaim(config, PAYER_AUTH_KEY, 3_000, 2_000)));

        vm.startPrank(RECEIVER);
        vm.expectRevert(X402BatchSettlement.ClaimExceedsCeiling.selector);
        settlement.claim(one(voucherClaim(config, PAYER_AUTH_KEY, 3_000, 3_001)));
        vm.expectRevert(X402BatchSettlement.ClaimExceedsBalance.selector);
        settlement.claim(one(voucherClaim(config, PAYER_AUTH_KEY, 9_000, 5_001)));
        // Signed by the payer, but the channel names another voucher signer.
        vm.expectRevert(X402BatchSettlement.InvalidSignature.selector);
        settlement.claim(one(voucherClaim(config, PAYER_KEY, 3_000, 2_000)));
        // A voucher for a smaller ceiling than the row claims to carry.
        X402BatchSettlement.VoucherClaim memory row = voucherClaim(config, PAYER_AUTH_KEY, 1_000, 1_000);
        row.voucher.maxClaimableAmount = 3_000;
        row.totalClaimed = 3_000;
        vm.expectRevert(X402BatchSettlement.InvalidSignature.selector);
        settlement.claim(one(row));
        row.signature = hex"1234";
        vm.expectRevert(X402BatchSettlement.InvalidSignature.selector);
        settlement.claim(one(row));
        vm.stopPrank();
    }

    function test_one_bad_row_fails_the_whole_batch() public {
        depositByErc3009(config, PAYER_KEY, 5_000);
        X402BatchSettlement.ChannelConfig memory other = config;
        other.salt = bytes32(uint256(1));
        depositByErc3009(other, PAYER_KEY, 5_000);
        X402BatchSettlement.VoucherClaim[] memory rows = new X402BatchSettlement.VoucherClaim[](2);
        rows[0] = voucherClaim(config, PAYER_AUTH_KEY, 1_000, 1_000);
        rows[1] = voucherClaim(other, STRANGER_KEY, 1_000, 1_000);
        vm.prank(RECEIVER);
        vm.expectRevert(X402BatchSettlement.InvalidSignature.selector);
        settlement.claim(rows);
        (, uint128 claimed) = balances(id);
        assertEq(claimed, 0, "nothing recorded");
    }

    function test_without_a_payer_authorizer_the_payer_signs_even_as_a_contract() public {
        // An EOA payer signs itself.
        X402BatchSettlement.ChannelConfig memory eoa =
            channelConfig(payer, address(0), RECEIVER, receiverAuth);
        bytes32 eoaId = depositByErc3009(eoa, PAYER_KEY, 1_000);
        vm.prank(RECEIVER);
        settlement.claim(one(voucherClaim(eoa, PAYER_KEY, 500, 500)));
        (, uint128 claimed) = balances(eoaId);
        assertEq(claimed, 500, "eoa payer");

        // A contract wallet payer (ERC-1271), funded through Permit2.
        MockWallet wallet = new MockWallet(vm.addr(STRANGER_KEY));
        X402BatchSettlement.ChannelConfig memory smart =
            channelConfig(address(wallet), address(0), RECEIVER, receiverAuth);
        bytes32 smartId = channelIdOf(smart);
        token.faucet(address(wallet), 1_000);
        wallet.approve(token, PERMIT2, type(uint256).max);
        settlement.deposit(smart, 1_000, PERMIT2_COLLECTOR, permit2Data(STRANGER_KEY, smartId, 1_000, 5));
        vm.prank(RECEIVER);
        settlement.claim(one(voucherClaim(smart, STRANGER_KEY, 700, 600)));
        (, claimed) = balances(smartId);
        assertEq(claimed, 600, "contract payer");
        vm.prank(RECEIVER);
        vm.expectRevert(X402BatchSettlement.InvalidSignature.selector);
        settlement.claim(one(voucherClaim(smart, PAYER_KEY, 700, 700)));
    }

    function test_claim_with_signature_is_relayed_by_anyone() public {
        depositByErc3009(config, PAYER_KEY, 5_000);
        X402BatchSettlement.ChannelConfig memory other = config;
        other.salt = bytes32(uint256(1));
        bytes32 otherId = depositByErc3009(other, PAYER_KEY, 5_000);
        X402BatchSettlement.VoucherClaim[] memory rows = new X402BatchSettlement.VoucherClaim[](2);
        rows[0] = voucherClaim(config, PAYER_AUTH_KEY, 3_000, 2_500);
        rows[1] = voucherClaim(other, PAYER_AUTH_KEY, 1_000, 1_000);
        bytes memory sig = sign(RECEIVER_AUTH_KEY, claimBatchDigestOf(rows));
        vm.prank(STRANGER);
        settlement.claimWithSignature(rows, sig);
        (, uint128 claimed) = balances(id);
        assertEq(claimed, 2_500, "first channel");
        (, claimed) = balances(otherId);
        assertEq(claimed, 1_000, "second channel");
        (uint128 credited,) = settlement.receivers(RECEIVER, TOKEN);
        assertEq(credited, 3_500, "credited across channels");

        // Replaying it changes nothing.
        settlement.claimWithSignature(rows, sig);
        (credited,) = settlement.receivers(RECEIVER, TOKEN);
        assertEq(credited, 3_500, "replay is a no-op");
    }

    function test_claim_with_signature_refusals() public {
        depositByErc3009(config, PAYER_KEY, 5_000);
        X402BatchSettlement.VoucherClaim[] memory none = new X402BatchSettlement.VoucherClaim[](0);
        vm.expectRevert(X402BatchSettlement.EmptyBatch.selector);
        settlement.claimWithSignature(none, "");

        X402BatchSettlement.VoucherClaim[] memory rows =
            one(voucherClaim(config, PAYER_AUTH_KEY, 3_000, 2_000));
        vm.expectRevert(X402BatchSettlement.InvalidSignature.selector);
        settlement.claimWithSignature(rows, sign(STRANGER_KEY, claimBatchDigestOf(rows)));
        // Signed for 2000, submitted for 3000.
        bytes memory sig = sign(RECEIVER_AUTH_KEY, claimBatchDigestOf(rows));
        rows[0].totalClaimed = 3_000;
        vm.expectRevert(X402BatchSettlement.InvalidSignature.selector);
        settlement.claimWithSignature(rows, sig);

        // Every row must have the signer's channels.
        X402BatchSettlement.ChannelConfig memory foreign = channelConfig(payer, payerAuth, RECEIVER, STRANGER);
        depositByErc3009(foreign, PAYER_KEY, 5_000);
        X402BatchSettlement.VoucherClaim[] memory mixed = new X402BatchSettlement.VoucherClaim[](2);
        mixed[0] = voucherClaim(config, PAYER_AUTH_KEY, 1_000, 1_000);
        mixed[1] = voucherClaim(foreign, PAYER_AUTH_KEY, 1_000, 1_000);
        sig = sign(RECEIVER_AUTH_KEY, claimBatchDigestOf(mixed));
        vm.expectRevert(X402BatchSettlement.NotReceiverAuthorizer.selector);
        settlement.claimWithSignature(mixed, sig);
    }

    function test_a_contract_receiver_authorizer_signs_through_erc1271() public {
        MockWallet authorizer = new MockWallet(vm.addr(STRANGER_KEY));
        X402BatchSettlement.ChannelConfig memory c =
            channelConfig(payer, payerAuth, RECEIVER, address(authorizer));
        bytes32 channelId = depositByErc3009(c, PAYER_KEY, 1_000);
        X402BatchSettlement.VoucherClaim[] memory rows = one(voucherClaim(c, PAYER_AUTH_KEY, 800, 800));
        settlement.claimWithSignature(rows, sign(STRANGER_KEY, claimBatchDigestOf(rows)));
        (, uint128 claimed) = balances(channelId);
        assertEq(claimed, 800, "claimed");
        bytes memory refundSig = sign(STRANGER_KEY, refundDigestOf(channelId, 0, 200));
        settlement.refundWithSignature(c, 200, 0, refundSig);
        assertEq(token.balanceOf(payer), 200, "refunded");
    }

    function test_settle_sums_over_channels_of_a_receiver() public {
        X402BatchSettlement.ChannelConfig memory other =
            channelConfig(vm.addr(STRANGER_KEY), address(0), RECEIVER, receiverAuth);
        depositByErc3009(config, PAYER_KEY, 1_000);
        depositByErc3009(other, STRANGER_KEY, 1_000);
        vm.startPrank(RECEIVER);
        settlement.claim(one(voucherClaim(config, PAYER_AUTH_KEY, 300, 300)));
        settlement.claim(one(voucherClaim(other, STRANGER_KEY, 400, 400)));
        vm.stopPrank();
        settlement.settle(RECEIVER, TOKEN);
        assertEq(token.balanceOf(RECEIVER), 700, "both channels paid in one settle");
        assertEq(token.balanceOf(BATCH_SETTLEMENT), 1_300, "held");
    }

    // ---------------------------------------------------------------------------------------
    // The payer's exit
    // ---------------------------------------------------------------------------------------

    function test_the_payer_withdraws_after_the_delay() public {
        depositByErc3009(config, PAYER_KEY, 5_000);
        vm.expectEmit(true, false, false, true, BATCH_SETTLEMENT);
        emit WithdrawInitiated(id, 5_000, uint40(block.timestamp + 900));
        vm.prank(payer);
        settlement.initiateWithdraw(config, 5_000);
        (uint128 amount, uint40 initiatedAt) = settlement.pendingWithdrawals(id);
        assertEq(amount, 5_000, "pending amount");
        assertEq(initiatedAt, block.timestamp, "initiated at");

        vm.warp(block.timestamp + 899);
        vm.prank(payer);
        vm.expectRevert(X402BatchSettlement.WithdrawDelayNotElapsed.selector);
        settlement.finalizeWithdraw(config);

        vm.warp(block.timestamp + 1);
        vm.expectEmit(true, true, false, true, BATCH_SETTLEMENT);
        emit WithdrawFinalized(id, payer, 5_000);
        vm.expectEmit(true, false, false, true, BATCH_SETTLEMENT);
        emit ChannelClosed(id, config);
        vm.prank(payer);
        settlement.finalizeWithdraw(config);
        assertEq(token.balanceOf(payer), 5_000, "payer got it back");
        (uint128 balance,) = balances(id);
        assertEq(balance, 0, "empty");
        (amount, initiatedAt) = settlement.pendingWithdrawals(id);
        assertEq(initiatedAt, 0, "no longer pending");
    }

    function test_claims_during_the_delay_come_first() public {
        depositByErc3009(config, PAYER_KEY, 5_000);
        vm.prank(payerAuth); // the payer authorizer may withdraw too
        settlement.initiateWithdraw(config, 5_000);
        vm.prank(RECEIVER);
        settlement.claim(one(voucherClaim(config, PAYER_AUTH_KEY, 2_000, 2_000)));
        vm.warp(block.timestamp + 900);
        vm.prank(payerAuth);
        settlement.finalizeWithdraw(config);
        assertEq(token.balanceOf(payer), 3_000, "the unclaimed rest, to the payer");
        settlement.settle(RECEIVER, TOKEN);
        assertEq(token.balanceOf(RECEIVER), 2_000, "the claim is paid");
        assertEq(token.balanceOf(BATCH_SETTLEMENT), 0, "nothing left");
        (uint128 balance, uint128 claimed) = balances(id);
        assertEq(balance, 2_000, "balance holds the claimed part");
        assertEq(claimed, 2_000, "claimed");
        // A second withdrawal can start afterwards, but there is nothing left.
        vm.prank(payer);
        vm.expectRevert(X402BatchSettlement.WithdrawAmountExceedsAvailable.selector);
        settlement.initiateWithdraw(config, 1);
    }

    function test_withdraw_refusals() public {
        depositByErc3009(config, PAYER_KEY, 1_000);
        vm.prank(RECEIVER);
        vm.expectRevert(X402BatchSettlement.NotAuthorizedToWithdraw.selector);
        settlement.initiateWithdraw(config, 1);
        vm.startPrank(payer);
        vm.expectRevert(X402BatchSettlement.NothingToWithdraw.selector);
        settlement.initiateWithdraw(config, 0);
        vm.expectRevert(X402BatchSettlement.WithdrawAmountExceedsAvailable.selector);
        settlement.initiateWithdraw(config, 1_001);
        vm.expectRevert(X402BatchSettlement.WithdrawalNotPending.selector);
        settlement.finalizeWithdraw(config);
        settlement.initiateWithdraw(config, 400);
        vm.expectRevert(X402BatchSettlement.WithdrawalAlreadyPending.selector);
        settlement.initiateWithdraw(config, 400);
        vm.stopPrank();
        vm.warp(block.timestamp + 900);
        vm.prank(RECEIVER);
        vm.expectRevert(X402BatchSettlement.NotAuthorizedToFinalizeWithdraw.selector);
        settlement.finalizeWithdraw(config);
        vm.prank(payer);
        settlement.finalizeWithdraw(config);
        assertEq(token.balanceOf(payer), 400, "partial withdrawal");
        (uint128 balance,) = balances(id);
        assertEq(balance, 600, "the rest stays");
    }

    // ---------------------------------------------------------------------------------------
    // Refunds
    // ---------------------------------------------------------------------------------------

    function test_the_receiver_side_refunds_at_once() public {
        depositByErc3009(config, PAYER_KEY, 5_000);
        vm.prank(RECEIVER);
        settlement.claim(one(voucherClaim(config, PAYER_AUTH_KEY, 1_000, 1_000)));
        vm.expectEmit(true, true, false, true, BATCH_SETTLEMENT);
        emit Refunded(id, RECEIVER, 1_500);
        vm.prank(RECEIVER);
        settlement.refund(config, 1_500);
        assertEq(token.balanceOf(payer), 1_500, "refunded");
        assertEq(settlement.refundNonce(id), 1, "nonce advanced");
        // Capped at the unclaimed rest.
        vm.prank(receiverAuth);
        settlement.refund(config, type(uint128).max);
        assertEq(token.balanceOf(payer), 4_000, "everything unclaimed");
        (uint128 balance, uint128 claimed) = balances(id);
        assertEq(balance, 1_000, "the claimed part stays");
        assertEq(claimed, 1_000, "claimed");
        // Nothing unclaimed left: the nonce still advances, nothing moves.
        vm.prank(RECEIVER);
        settlement.refund(config, 1);
        assertEq(settlement.refundNonce(id), 3, "nonce advanced again");
        assertEq(token.balanceOf(payer), 4_000, "nothing more");
    }

    function test_a_full_refund_closes_the_channel() public {
        depositByErc3009(config, PAYER_KEY, 5_000);
        vm.expectEmit(true, false, false, true, BATCH_SETTLEMENT);
        emit ChannelClosed(id, config);
        vm.prank(RECEIVER);
        settlement.refund(config, 5_000);
    }

    function test_refund_refusals() public {
        depositByErc3009(config, PAYER_KEY, 1_000);
        vm.prank(payer);
        vm.expectRevert(X402BatchSettlement.NotAuthorizedToRefund.selector);
        settlement.refund(config, 1);
        vm.prank(RECEIVER);
        vm.expectRevert(X402BatchSettlement.ZeroRefund.selector);
        settlement.refund(config, 0);
        assertEq(settlement.refundNonce(id), 0, "a refused refund keeps the nonce");
    }

    function test_a_refund_shrinks_or_cancels_a_pending_withdrawal() public {
        depositByErc3009(config, PAYER_KEY, 5_000);
        vm.prank(payer);
        settlement.initiateWithdraw(config, 3_000);
        vm.prank(RECEIVER);
        settlement.refund(config, 1_000);
        (uint128 amount, uint40 initiatedAt) = settlement.pendingWithdrawals(id);
        assertEq(amount, 2_000, "shrunk");
        assertTrue(initiatedAt != 0, "still pending");
        vm.prank(RECEIVER);
        settlement.refund(config, 2_000);
        (amount, initiatedAt) = settlement.pendingWithdrawals(id);
        assertEq(amount, 0, "cancelled");
        assertEq(initiatedAt, 0, "cancelled");
        assertEq(token.balanceOf(payer), 3_000, "refunded");
    }

    function test_refund_with_signature_is_relayed_by_anyone_once() public {
        depositByErc3009(config, PAYER_KEY, 5_000);
        bytes memory sig = sign(RECEIVER_AUTH_KEY, refundDigestOf(id, 0, 2_000));
        vm.prank(STRANGER);
        settlement.refundWithSignature(config, 2_000, 0, sig);
        assertEq(token.balanceOf(payer), 2_000, "refunded");
        vm.expectRevert(X402BatchSettlement.InvalidRefundNonce.selector);
        settlement.refundWithSignature(config, 2_000, 0, sig);
        // The nonce is bound into the signature.
        vm.expectRevert(X402BatchSettlement.InvalidSignature.selector);
        settlement.refundWithSignature(config, 2_000, 1, sig);
        // Signed by someone else.
        vm.expectRevert(X402BatchSettlement.InvalidSignature.selector);
        settlement.refundWithSignature(config, 1, 1, sign(STRANGER_KEY, refundDigestOf(id, 1, 1)));
        // A direct refund voids a signature made for the nonce before it.
        bytes memory next = sign(RECEIVER_AUTH_KEY, refundDigestOf(id, 1, 1_000));
        vm.prank(RECEIVER);
        settlement.refund(config, 1);
        vm.expectRevert(X402BatchSettlement.InvalidRefundNonce.selector);
        settlement.refundWithSignature(config, 1_000, 1, next);
    }

    // ---------------------------------------------------------------------------------------
    // Multicall
    // ---------------------------------------------------------------------------------------

    /// The official facilitator's cooperative refund: claim what was used, refund the rest, one
    /// transaction.
    function test_multicall_claims_then_refunds() public {
        depositByErc3009(config, PAYER_KEY, 5_000);
        X402BatchSettlement.VoucherClaim[] memory rows =
            one(voucherClaim(config, PAYER_AUTH_KEY, 1_200, 1_200));
        bytes[] memory calls = new bytes[](3);
        calls[0] = abi.encodeCall(
            X402BatchSettlement.claimWithSignature, (rows, sign(RECEIVER_AUTH_KEY, claimBatchDigestOf(rows)))
        );
        calls[1] = abi.encodeCall(
            X402BatchSettlement.refundWithSignature,
            (config, 5_000, 0, sign(RECEIVER_AUTH_KEY, refundDigestOf(id, 0, 5_000)))
        );
        calls[2] = abi.encodeCall(X402BatchSettlement.settle, (RECEIVER, TOKEN));
        vm.prank(STRANGER);
        bytes[] memory results = settlement.multicall(calls);
        assertEq(results.length, 3, "three results");
        assertEq(token.balanceOf(payer), 3_800, "payer refunded the unused rest");
        assertEq(token.balanceOf(RECEIVER), 1_200, "receiver paid");
        assertEq(token.balanceOf(BATCH_SETTLEMENT), 0, "nothing held");

        bytes[] memory failing = new bytes[](1);
        failing[0] = abi.encodeCall(X402BatchSettlement.refund, (config, 1));
        vm.expectRevert(X402BatchSettlement.NotAuthorizedToRefund.selector);
        settlement.multicall(failing);
    }

    // ---------------------------------------------------------------------------------------
    // Fuzz
    // ---------------------------------------------------------------------------------------

    /// Whatever is deposited, claimed, refunded and withdrawn, every token is accounted for and
    /// every party gets exactly its share.
    function testFuzz_every_token_is_accounted_for(
        uint128 deposit,
        uint128 voucher,
        uint128 claimTotal,
        uint128 refund,
        uint128 withdraw
    ) public {
        deposit = uint128(bound(deposit, 1, 1_000_000e6));
        voucher = uint128(bound(voucher, 0, deposit * 2));
        claimTotal = uint128(bound(claimTotal, 0, voucher));
        depositByErc3009(config, PAYER_KEY, deposit);

        uint128 claimed;
        if (claimTotal > 0) {
            vm.prank(RECEIVER);
            if (claimTotal > deposit) {
                vm.expectRevert(X402BatchSettlement.ClaimExceedsBalance.selector);
                settlement.claim(one(voucherClaim(config, PAYER_AUTH_KEY, voucher, claimTotal)));
            } else {
                settlement.claim(one(voucherClaim(config, PAYER_AUTH_KEY, voucher, claimTotal)));
                claimed = claimTotal;
            }
        }
        refund = uint128(bound(refund, 1, type(uint128).max));
        vm.prank(RECEIVER);
        settlement.refund(config, refund);
        uint128 refunded = refund < deposit - claimed ? refund : deposit - claimed;
        uint128 left = deposit - claimed - refunded;
        withdraw = uint128(bound(withdraw, 0, left));
        if (withdraw > 0) {
            vm.prank(payer);
            settlement.initiateWithdraw(config, withdraw);
            vm.warp(block.timestamp + 900);
            vm.prank(payer);
            settlement.finalizeWithdraw(config);
        }
        settlement.settle(RECEIVER, TOKEN);

        assertEq(token.balanceOf(RECEIVER), claimed, "receiver got the claim");
        assertEq(token.balanceOf(payer), refunded + withdraw, "payer got refund and withdrawal");
        assertEq(token.balanceOf(BATCH_SETTLEMENT), left - withdraw, "contract holds the rest");
        (uint128 balance, uint128 total) = balances(id);
        assertEq(balance - total, left - withdraw, "unclaimed balance");
    }

    /// A claim is recorded exactly when it is within the voucher and the balance.
    function testFuzz_claims_stay_within_voucher_and_balance(uint128 deposit, uint128 voucher, uint128 total)
        public
    {
        deposit = uint128(bound(deposit, 1, 1_000_000e6));
        depositByErc3009(config, PAYER_KEY, deposit);
        vm.prank(RECEIVER);
        if (total == 0) {
            settlement.claim(one(voucherClaim(config, PAYER_AUTH_KEY, voucher, total)));
        } else if (total > voucher) {
            vm.expectRevert(X402BatchSettlement.ClaimExceedsCeiling.selector);
            settlement.claim(one(voucherClaim(config, PAYER_AUTH_KEY, voucher, total)));
        } else if (total > deposit) {
            vm.expectRevert(X402BatchSettlement.ClaimExceedsBalance.selector);
            settlement.claim(one(voucherClaim(config, PAYER_AUTH_KEY, voucher, total)));
        } else {
            settlement.claim(one(voucherClaim(config, PAYER_AUTH_KEY, voucher, total)));
        }
        (uint128 balance, uint128 claimed) = balances(id);
        assertLe(claimed, voucher, "within the voucher");
        assertLe(claimed, balance, "within the balance");
    }

    /// A channel id depends on the config only (same config, same id; the fuzzer varies salt).
    function testFuzz_channel_ids_differ_by_salt(bytes32 a, bytes32 b) public view {
        vm.assume(a != b);
        X402BatchSettlement.ChannelConfig memory x = config;
        X402BatchSettlement.ChannelConfig memory y = config;
        x.salt = a;
        y.salt = b;
        assertTrue(channelIdOf(x) != channelIdOf(y), "distinct");
        y.salt = a;
        assertEq(channelIdOf(x), channelIdOf(y), "equal");
    }
}
