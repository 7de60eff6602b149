// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {X402Test} from "./utils/X402Test.sol";
import {X402BatchSettlement} from "../src/X402BatchSettlement.sol";
import {ISignatureTransfer} from "../src/Permit2.sol";
import {X402UptoPermit2Proxy} from "../src/X402UptoPermit2Proxy.sol";

/// @notice Our contracts against the official x402 EVM package (@x402/evm): its ABIs, and the
/// payloads its clients sign. The fixtures come from `scripts/x402-fixtures.js`.
interface VmJsonArrays {
    function parseJsonStringArray(string calldata json, string calldata key)
        external
        pure
        returns (string[] memory);
}

contract X402OfficialTest is X402Test {
    VmJsonArrays internal constant vmj =
        VmJsonArrays(address(uint160(uint256(keccak256("hevm cheat code")))));
    string internal abis;
    string internal v;

    function setUp() public {
        installX402();
        abis = vmx.readFile("test/fixtures/x402-abi.json");
        v = vmx.readFile("test/fixtures/x402-vectors.json");
        vm.warp(vmx.parseJsonUint(v, ".now"));
    }

    // ---------------------------------------------------------------------------------------
    // ABI: every official function, event and error exists in ours, with the same selector
    // ---------------------------------------------------------------------------------------

    function contains(string[] memory list, string memory item) internal pure returns (bool) {
        for (uint256 i = 0; i < list.length; i++) {
            if (keccak256(bytes(list[i])) == keccak256(bytes(item))) return true;
        }
        return false;
    }

    function containsSelector(bytes32[] memory ours, bytes32 selector) internal pure returns (bool) {
        for (uint256 i = 0; i < ours.length; i++) {
            if (ours[i] == selector) return true;
        }
        return false;
    }

    /// The official functions of `name` are all in our build's method identifiers.
    function checkFunctions(string memory name) internal view {
        string memory built = vmx.readFile(string.concat("out/", name, ".sol/", name, ".json"));
        string[] memory ours = vmx.parseJsonKeys(built, ".methodIdentifiers");
        string[] memory official = vmj.parseJsonStringArray(abis, string.concat(".", name, ".functions"));
        assertTrue(official.length > 0, "the fixture lists functions");
        for (uint256 i = 0; i < official.length; i++) {
            assertTrue(contains(ours, official[i]), string.concat(name, " lacks ", official[i]));
        }
    }

    /// The official events (`kind` = "events") or errors of `name` are among `ours`.
    function checkSelectors(string memory name, string memory kind, bytes32[] memory ours) internal view {
        string[] memory official = vmj.parseJsonStringArray(abis, string.concat(".", name, ".", kind));
        for (uint256 i = 0; i < official.length; i++) {
            bytes32 hash = keccak256(bytes(official[i]));
            bytes32 selector = keccak256(bytes(kind)) == keccak256("events") ? hash : bytes32(bytes4(hash));
            assertTrue(containsSelector(ours, selector), string.concat(name, " lacks ", official[i]));
        }
    }

    function test_batch_settlement_abi_is_the_official_one() public view {
        checkFunctions("X402BatchSettlement");
        bytes32[] memory events = new bytes32[](8);
        events[0] = X402BatchSettlement.Settled.selector;
        events[1] = X402BatchSettlement.ChannelCreated.selector;
        events[2] = X402BatchSettlement.ChannelClosed.selector;
        events[3] = X402BatchSettlement.Deposited.selector;
        events[4] = X402BatchSettlement.Claimed.selector;
        events[5] = X402BatchSettlement.Refunded.selector;
        events[6] = X402BatchSettlement.WithdrawInitiated.selector;
        events[7] = X402BatchSettlement.WithdrawFinalized.selector;
        checkSelectors("X402BatchSettlement", "events", events);
        assertEq(
            X402BatchSettlement.Settled.selector,
            keccak256("Settled(address,address,address,uint128)"),
            "the event the facilitator parses"
        );
    }

    function test_upto_proxy_abi_is_the_official_one() public view {
        checkFunctions("X402UptoPermit2Proxy");
        bytes32[] memory events = new bytes32[](2);
        events[0] = X402UptoPermit2Proxy.Settled.selector;
        events[1] = X402UptoPermit2Proxy.SettledWithPermit.selector;
        checkSelectors("X402UptoPermit2Proxy", "events", events);
        bytes32[] memory errors = new bytes32[](9);
        errors[0] = X402UptoPermit2Proxy.AmountExceedsPermitted.selector;
        errors[1] = X402UptoPermit2Proxy.InvalidDestination.selector;
        errors[2] = X402UptoPermit2Proxy.InvalidOwner.selector;
        errors[3] = X402UptoPermit2Proxy.InvalidPermit2Address.selector;
        errors[4] = X402UptoPermit2Proxy.PaymentTooEarly.selector;
        errors[5] = X402UptoPermit2Proxy.Permit2612AmountMismatch.selector;
        errors[6] = ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector;
        errors[7] = X402UptoPermit2Proxy.UnauthorizedFacilitator.selector;
        errors[8] = X402UptoPermit2Proxy.InvalidAmount.selector;
        checkSelectors("X402UptoPermit2Proxy", "errors", errors);
    }

    function test_permit2_abi_is_uniswaps() public view {
        checkFunctions("Permit2");
        bytes32[] memory events = new bytes32[](1);
        events[0] = ISignatureTransfer.UnorderedNonceInvalidation.selector;
        checkSelectors("Permit2", "events", events);
        bytes32[] memory errors = new bytes32[](7);
        errors[0] = ISignatureTransfer.InvalidAmount.selector;
        errors[1] = ISignatureTransfer.InvalidContractSignature.selector;
        errors[2] = ISignatureTransfer.InvalidNonce.selector;
        errors[3] = ISignatureTransfer.InvalidSignature.selector;
        errors[4] = ISignatureTransfer.InvalidSignatureLength.selector;
        errors[5] = ISignatureTransfer.InvalidSigner.selector;
        errors[6] = ISignatureTransfer.SignatureExpired.selector;
        checkSelectors("Permit2", "errors", errors);
    }

    /// The Multicall3 functions the facilitator (`tryAggregate`) and viem's `multicall` call.
    function test_multicall3_has_what_the_official_clients_call() public view {
        checkFunctions("Multicall3");
        assertTrue(MULTICALL3.code.length > 0, "placed at the canonical address");
    }

    // ---------------------------------------------------------------------------------------
    // Vectors: the digests the official encoders produce, and the payloads they sign
    // ---------------------------------------------------------------------------------------

    function configAt(string memory key) internal view returns (X402BatchSettlement.ChannelConfig memory) {
        return X402BatchSettlement.ChannelConfig({
            payer: vmx.parseJsonAddress(v, string.concat(key, ".payer")),
            payerAuthorizer: vmx.parseJsonAddress(v, string.concat(key, ".payerAuthorizer")),
            receiver: vmx.parseJsonAddress(v, string.concat(key, ".receiver")),
            receiverAuthorizer: vmx.parseJsonAddress(v, string.concat(key, ".receiverAuthorizer")),
            token: vmx.parseJsonAddress(v, string.concat(key, ".token")),
            withdrawDelay: uint40(vmx.parseJsonUint(v, string.concat(key, ".withdrawDelay"))),
            salt: vmx.parseJsonBytes32(v, string.concat(key, ".salt"))
        });
    }

    function u(string memory key) internal view returns (uint256) {
        return vmx.parseJsonUint(v, key);
    }

    function u128(string memory key) internal view returns (uint128) {
        return uint128(vmx.parseJsonUint(v, key));
    }

    function b(string memory key) internal view returns (bytes memory) {
        return vmx.parseJsonBytes(v, key);
    }

    function h(string memory key) internal view returns (bytes32) {
        return vmx.parseJsonBytes32(v, key);
    }

    function test_the_fixture_names_our_canonical_addresses() public view {
        assertEq(vmx.parseJsonAddress(v, ".addresses.batchSettlement"), BATCH_SETTLEMENT, "settlement");
        assertEq(vmx.parseJsonAddress(v, ".addresses.erc3009DepositCollector"), ERC3009_COLLECTOR, "erc3009");
        assertEq(
            vmx.parseJsonAddress(v, ".addresses.permit2DepositCollector"), PERMIT2_COLLECTOR, "permit2 coll."
        );
        assertEq(vmx.parseJsonAddress(v, ".addresses.permit2"), PERMIT2, "permit2");
        assertEq(vmx.parseJsonAddress(v, ".addresses.uptoPermit2Proxy"), UPTO_PROXY, "upto");
        assertEq(vmx.parseJsonAddress(v, ".addresses.multicall3"), MULTICALL3, "multicall3");
        assertEq(vmx.parseJsonAddress(v, ".addresses.token"), TOKEN, "token");
        assertEq(u(".chainId"), block.chainid, "chain");
    }

    function test_digests_equal_the_official_encoders() public view {
        X402BatchSettlement.ChannelConfig memory config = configAt(".eip3009Deposit.config");
        bytes32 id = h(".eip3009Deposit.channelId");
        assertEq(settlement.CHANNEL_CONFIG_TYPEHASH(), h(".typehashes.channelConfig"), "typehash");
        assertEq(settlement.getChannelId(config), id, "channel id");
        assertEq(
            settlement.getChannelId(configAt(".permit2Deposit.config")),
            h(".permit2Deposit.channelId"),
            "channel 2"
        );
        assertEq(
            settlement.getVoucherDigest(id, u128(".eip3009Deposit.voucher.maxClaimableAmount")),
            h(".eip3009Deposit.voucher.digest"),
            "voucher"
        );
        assertEq(
            settlement.getVoucherDigest(id, u128(".laterVoucher.maxClaimableAmount")),
            h(".laterVoucher.digest"),
            "later voucher"
        );
        assertEq(
            settlement.getRefundDigest(id, u(".refund.nonce"), u128(".refund.amount")),
            h(".refund.digest"),
            "refund"
        );
        assertEq(settlement.getClaimBatchDigest(claimRows(config)), h(".claimBatch.digest"), "claim batch");
        assertEq(
            erc3009Collector.depositNonce(id, u(".eip3009Deposit.salt")),
            h(".eip3009Deposit.erc3009Nonce"),
            "erc3009 nonce"
        );

        ISignatureTransfer.PermitTransferFrom memory permit = ISignatureTransfer.PermitTransferFrom({
            permitted: ISignatureTransfer.TokenPermissions({
                token: TOKEN, amount: u(".permit2Deposit.amount")
            }),
            nonce: u(".permit2Deposit.nonce"),
            deadline: u(".permit2Deposit.deadline")
        });
        bytes32 witness = keccak256(
            abi.encode(permit2Collector.DEPOSIT_WITNESS_TYPEHASH(), h(".permit2Deposit.channelId"))
        );
        assertEq(
            permit2WitnessDigest(
                permit, PERMIT2_COLLECTOR, witness, permit2Collector.DEPOSIT_WITNESS_TYPE_STRING()
            ),
            h(".permit2Deposit.digest"),
            "permit2 deposit"
        );
        (ISignatureTransfer.PermitTransferFrom memory uptoPermit, X402UptoPermit2Proxy.Witness memory w) =
            uptoArgs();
        bytes32 uptoWitness =
            keccak256(abi.encode(upto.WITNESS_TYPEHASH(), w.to, w.facilitator, w.validAfter));
        assertEq(
            permit2WitnessDigest(uptoPermit, UPTO_PROXY, uptoWitness, upto.WITNESS_TYPE_STRING()),
            h(".upto.digest"),
            "upto"
        );
    }

    function claimRows(X402BatchSettlement.ChannelConfig memory config)
        internal
        view
        returns (X402BatchSettlement.VoucherClaim[] memory rows)
    {
        rows = new X402BatchSettlement.VoucherClaim[](1);
        rows[0] = X402BatchSettlement.VoucherClaim({
            voucher: X402BatchSettlement.Voucher({
                channel: config, maxClaimableAmount: u128(".laterVoucher.maxClaimableAmount")
            }),
            signature: b(".laterVoucher.signature"),
            totalClaimed: u128(".claimBatch.totalClaimed")
        });
    }

    /// The whole batch-settlement life of a channel, every signature made by the official client
    /// (and the receiver authorizer's with the official typed data).
    function test_official_batch_settlement_payloads_are_accepted() public {
        X402BatchSettlement.ChannelConfig memory config = configAt(".eip3009Deposit.config");
        bytes32 id = h(".eip3009Deposit.channelId");
        address payer = vmx.parseJsonAddress(v, ".payer");
        address receiver = config.receiver;
        uint128 amount = u128(".eip3009Deposit.amount");
        token.faucet(payer, amount);

        // The deposit by ERC-3009, submitted by a facilitator.
        bytes memory collectorData = b(".eip3009Deposit.collectorData");
        assertEq(
            collectorData,
            abi.encode(
                u(".eip3009Deposit.validAfter"),
                u(".eip3009Deposit.validBefore"),
                u(".eip3009Deposit.salt"),
                b(".eip3009Deposit.signature")
            ),
            "collector data layout"
        );
        settlement.deposit(config, amount, ERC3009_COLLECTOR, collectorData);
        (uint128 balance,) = settlement.channels(id);
        assertEq(balance, amount, "deposited");

        // The voucher that came with it, claimed by the receiver.
        X402BatchSettlement.VoucherClaim[] memory first = new X402BatchSettlement.VoucherClaim[](1);
        first[0] = X402BatchSettlement.VoucherClaim({
            voucher: X402BatchSettlement.Voucher({
                channel: config, maxClaimableAmount: u128(".eip3009Deposit.voucher.maxClaimableAmount")
            }),
            signature: b(".eip3009Deposit.voucher.signature"),
            totalClaimed: u128(".eip3009Deposit.voucher.maxClaimableAmount")
        });
        vm.prank(receiver);
        settlement.claim(first);

        // A later voucher, claimed through the receiver authorizer's signed batch, then the
        // authorizer's refund, relayed together as the official facilitator does.
        bytes[] memory calls = new bytes[](3);
        calls[0] = abi.encodeCall(
            X402BatchSettlement.claimWithSignature, (claimRows(config), b(".claimBatch.signature"))
        );
        calls[1] = abi.encodeCall(
            X402BatchSettlement.refundWithSignature,
            (config, u128(".refund.amount"), u(".refund.nonce"), b(".refund.signature"))
        );
        calls[2] = abi.encodeCall(X402BatchSettlement.settle, (receiver, TOKEN));
        vm.prank(vmx.parseJsonAddress(v, ".addresses.facilitator"));
        settlement.multicall(calls);

        uint256 claimed = u(".claimBatch.totalClaimed");
        assertEq(token.balanceOf(receiver), claimed, "the receiver is paid the claimed total");
        assertEq(token.balanceOf(payer), u(".refund.amount"), "the payer got the refund");
        assertEq(
            token.balanceOf(BATCH_SETTLEMENT), amount - claimed - u(".refund.amount"), "the rest is held"
        );
        assertEq(settlement.refundNonce(id), 1, "refund nonce");
    }

    function test_official_permit2_deposit_is_accepted() public {
        X402BatchSettlement.ChannelConfig memory config = configAt(".permit2Deposit.config");
        address payer = config.payer;
        uint128 amount = u128(".permit2Deposit.amount");
        token.faucet(payer, amount);
        vm.prank(payer);
        token.approve(PERMIT2, type(uint256).max);
        bytes memory collectorData = b(".permit2Deposit.collectorData");
        assertEq(
            collectorData,
            abi.encode(
                u(".permit2Deposit.nonce"),
                u(".permit2Deposit.deadline"),
                b(".permit2Deposit.signature"),
                bytes("")
            ),
            "collector data layout"
        );
        settlement.deposit(config, amount, PERMIT2_COLLECTOR, collectorData);
        (uint128 balance,) = settlement.channels(h(".permit2Deposit.channelId"));
        assertEq(balance, amount, "deposited");
    }

    function uptoArgs()
        internal
        view
        returns (ISignatureTransfer.PermitTransferFrom memory permit, X402UptoPermit2Proxy.Witness memory w)
    {
        permit = ISignatureTransfer.PermitTransferFrom({
            permitted: ISignatureTransfer.TokenPermissions({token: TOKEN, amount: u(".upto.amount")}),
            nonce: u(".upto.nonce"),
            deadline: u(".upto.deadline")
        });
        w = X402UptoPermit2Proxy.Witness({
            to: vmx.parseJsonAddress(v, ".upto.to"),
            facilitator: vmx.parseJsonAddress(v, ".upto.facilitator"),
            validAfter: u(".upto.validAfter")
        });
    }

    function test_official_upto_authorization_is_accepted() public {
        address payer = vmx.parseJsonAddress(v, ".payer");
        (ISignatureTransfer.PermitTransferFrom memory permit, X402UptoPermit2Proxy.Witness memory w) =
            uptoArgs();
        token.faucet(payer, permit.permitted.amount);
        vm.prank(payer);
        token.approve(PERMIT2, type(uint256).max);
        bytes memory sig = b(".upto.signature");
        vm.prank(w.facilitator);
        upto.settle(permit, permit.permitted.amount - 1, payer, w, sig);
        assertEq(token.balanceOf(w.to), permit.permitted.amount - 1, "settled below the ceiling");
    }

    function test_official_upto_authorization_with_an_eip2612_permit_is_accepted() public {
        address payer = vmx.parseJsonAddress(v, ".payer");
        (ISignatureTransfer.PermitTransferFrom memory permit, X402UptoPermit2Proxy.Witness memory w) =
            uptoArgs();
        token.faucet(payer, permit.permitted.amount);
        X402UptoPermit2Proxy.EIP2612Permit memory p2612 = X402UptoPermit2Proxy.EIP2612Permit({
            value: permit.permitted.amount,
            deadline: permit.deadline,
            r: h(".upto.eip2612.r"),
            s: h(".upto.eip2612.s"),
            v: uint8(u(".upto.eip2612.v"))
        });
        bytes memory sig = b(".upto.signature");
        vm.prank(w.facilitator);
        upto.settleWithPermit(p2612, permit, permit.permitted.amount, payer, w, sig);
        assertEq(token.balanceOf(w.to), permit.permitted.amount, "settled at the ceiling");
        assertEq(token.nonces(payer), 1, "the permit was used");
    }
}
