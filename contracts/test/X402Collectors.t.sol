// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {X402Test} from "./utils/X402Test.sol";
import {X402BatchSettlement} from "../src/X402BatchSettlement.sol";
import {DepositCollector} from "../src/DepositCollector.sol";
import {ERC3009DepositCollector} from "../src/ERC3009DepositCollector.sol";
import {Permit2DepositCollector} from "../src/Permit2DepositCollector.sol";
import {DevStablecoin} from "../src/DevStablecoin.sol";

/// The deposit collectors' own paths: the optional EIP-2612 permit of the Permit2 collector,
/// the ERC-3009 time window, and the constructors.
contract X402CollectorsTest is X402Test {
    uint256 internal constant PAYER_KEY = 0xA11CE;
    address internal payer;
    X402BatchSettlement.ChannelConfig internal config;
    bytes32 internal id;

    event EIP2612PermitFailedWithReason(address indexed token, address indexed owner, string reason);
    event EIP2612PermitFailedWithData(address indexed token, address indexed owner, bytes data);

    function setUp() public {
        installX402();
        payer = vm.addr(PAYER_KEY);
        config = channelConfig(payer, address(0), address(0x7eCE), address(0xA07));
        id = channelIdOf(config);
    }

    /// Permit2 collector data carrying the payer's EIP-2612 permit for Permit2.
    function permit2DataWith2612(uint256 amount, uint256 permitValue, uint256 tokenNonce)
        internal
        view
        returns (bytes memory)
    {
        (uint256 nonce, uint256 deadline, bytes memory sig,) =
            abi.decode(permit2Data(PAYER_KEY, id, amount, 11), (uint256, uint256, bytes, bytes));
        (uint8 v, bytes32 r, bytes32 s) = eip2612(PAYER_KEY, permitValue, tokenNonce, deadline);
        return abi.encode(nonce, deadline, sig, abi.encode(permitValue, deadline, v, r, s));
    }

    function test_permit2_deposit_with_an_eip2612_permit_needs_no_prior_approval() public {
        token.faucet(payer, 1_000);
        settlement.deposit(config, 1_000, PERMIT2_COLLECTOR, permit2DataWith2612(1_000, 1_000, 0));
        (uint128 balance,) = settlement.channels(id);
        assertEq(balance, 1_000, "deposited");
        assertEq(token.nonces(payer), 1, "permit used");
    }

    function test_a_failing_eip2612_permit_is_logged_and_an_existing_approval_used() public {
        token.faucet(payer, 1_000);
        vm.prank(payer);
        token.approve(PERMIT2, 1_000);
        // Signed for token nonce 5: the permit fails with a custom error, the deposit goes on.
        bytes memory data = permit2DataWith2612(1_000, 1_000, 5);
        vm.expectEmit(true, true, false, false, PERMIT2_COLLECTOR);
        emit EIP2612PermitFailedWithData(TOKEN, payer, "");
        settlement.deposit(config, 1_000, PERMIT2_COLLECTOR, data);
        (uint128 balance,) = settlement.channels(id);
        assertEq(balance, 1_000, "deposited through the approval");
    }

    function test_an_eip2612_permit_for_another_amount_is_refused() public {
        token.faucet(payer, 1_000);
        bytes memory data = permit2DataWith2612(1_000, 999, 0);
        vm.expectRevert(Permit2DepositCollector.Permit2612AmountMismatch.selector);
        settlement.deposit(config, 1_000, PERMIT2_COLLECTOR, data);
    }

    function test_without_an_approval_the_permit2_deposit_fails() public {
        token.faucet(payer, 1_000);
        bytes memory data = permit2Data(PAYER_KEY, id, 1_000, 1);
        vm.expectRevert();
        settlement.deposit(config, 1_000, PERMIT2_COLLECTOR, data);
    }

    function test_the_erc3009_window_is_the_tokens() public {
        token.faucet(payer, 1_000);
        bytes memory data = erc3009Data(PAYER_KEY, id, 1_000, 1);
        (, uint256 validBefore,,) = abi.decode(data, (uint256, uint256, uint256, bytes));
        vm.warp(validBefore);
        vm.expectRevert(abi.encodeWithSelector(DevStablecoin.AuthorizationExpired.selector, validBefore));
        settlement.deposit(config, 1_000, ERC3009_COLLECTOR, data);
    }

    function test_the_erc3009_nonce_binds_channel_and_salt() public view {
        assertEq(erc3009Collector.depositNonce(id, 42), keccak256(abi.encode(id, uint256(42))), "nonce");
    }

    function test_constructors_refuse_zero_addresses() public {
        vm.expectRevert(DepositCollector.InvalidX402BatchSettlementAddress.selector);
        new ERC3009DepositCollector(address(0));
        vm.expectRevert(DepositCollector.InvalidX402BatchSettlementAddress.selector);
        new Permit2DepositCollector(address(0), PERMIT2);
        vm.expectRevert(Permit2DepositCollector.InvalidPermit2Address.selector);
        new Permit2DepositCollector(BATCH_SETTLEMENT, address(0));
    }

    function test_the_witness_type_string_is_what_the_clients_sign() public view {
        assertEq(permit2Collector.DEPOSIT_WITNESS_TYPE_STRING(), DEPOSIT_WITNESS_TYPE_STRING, "type string");
        assertEq(
            permit2Collector.DEPOSIT_WITNESS_TYPEHASH(),
            keccak256("DepositWitness(bytes32 channelId)"),
            "typehash"
        );
    }
}
