// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {X402Test} from "./utils/X402Test.sol";
import {HookedToken} from "./utils/X402Mocks.sol";
import {ISignatureTransfer} from "../src/Permit2.sol";
import {X402UptoPermit2Proxy} from "../src/X402UptoPermit2Proxy.sol";

contract X402UptoPermit2ProxyTest is X402Test {
    uint256 internal constant PAYER_KEY = 0xA11CE;
    address internal payer;
    address internal constant FACILITATOR = address(0xFAC);
    address internal constant PAYEE = address(0x7eCE);
    string internal constant WITNESS_TYPE_STRING =
        "Witness witness)TokenPermissions(address token,uint256 amount)Witness(address to,address facilitator,uint256 validAfter)";

    event Settled();
    event SettledWithPermit();
    event EIP2612PermitFailedWithData(address indexed token, address indexed owner, bytes data);

    function setUp() public {
        installX402();
        payer = vm.addr(PAYER_KEY);
        token.faucet(payer, 1_000_000);
        vm.prank(payer);
        token.approve(PERMIT2, type(uint256).max);
    }

    function witnessOf(address to, address facilitator, uint256 validAfter)
        internal
        pure
        returns (X402UptoPermit2Proxy.Witness memory)
    {
        return X402UptoPermit2Proxy.Witness({to: to, facilitator: facilitator, validAfter: validAfter});
    }

    function signUpto(
        ISignatureTransfer.PermitTransferFrom memory permit,
        X402UptoPermit2Proxy.Witness memory w
    ) internal view returns (bytes memory) {
        bytes32 witness = keccak256(
            abi.encode(
                keccak256("Witness(address to,address facilitator,uint256 validAfter)"),
                w.to,
                w.facilitator,
                w.validAfter
            )
        );
        return sign(PAYER_KEY, permit2WitnessDigest(permit, UPTO_PROXY, witness, WITNESS_TYPE_STRING));
    }

    function test_constants() public view {
        assertEq(address(upto.PERMIT2()), PERMIT2, "permit2");
        assertEq(upto.WITNESS_TYPE_STRING(), WITNESS_TYPE_STRING, "type string");
        assertEq(
            upto.WITNESS_TYPEHASH(),
            keccak256("Witness(address to,address facilitator,uint256 validAfter)"),
            "typehash"
        );
    }

    function test_the_facilitator_settles_up_to_the_ceiling() public {
        ISignatureTransfer.PermitTransferFrom memory permit = permitOf(2_000, 1);
        X402UptoPermit2Proxy.Witness memory w = witnessOf(PAYEE, FACILITATOR, 0);
        bytes memory sig = signUpto(permit, w);
        vm.expectEmit(false, false, false, true, UPTO_PROXY);
        emit Settled();
        vm.prank(FACILITATOR);
        upto.settle(permit, 1_234, payer, w, sig);
        assertEq(token.balanceOf(PAYEE), 1_234, "the chosen amount");
        assertEq(token.balanceOf(UPTO_PROXY), 0, "the proxy holds nothing");
        // Once only.
        vm.prank(FACILITATOR);
        vm.expectRevert(ISignatureTransfer.InvalidNonce.selector);
        upto.settle(permit, 1, payer, w, sig);
    }

    function test_refusals() public {
        ISignatureTransfer.PermitTransferFrom memory permit = permitOf(2_000, 1);
        X402UptoPermit2Proxy.Witness memory w = witnessOf(PAYEE, FACILITATOR, block.timestamp + 10);
        bytes memory sig = signUpto(permit, w);

        vm.prank(FACILITATOR);
        vm.expectRevert(X402UptoPermit2Proxy.AmountExceedsPermitted.selector);
        upto.settle(permit, 2_001, payer, w, sig);
        vm.prank(PAYEE);
        vm.expectRevert(X402UptoPermit2Proxy.UnauthorizedFacilitator.selector);
        upto.settle(permit, 1, payer, w, sig);
        vm.startPrank(FACILITATOR);
        vm.expectRevert(X402UptoPermit2Proxy.InvalidAmount.selector);
        upto.settle(permit, 0, payer, w, sig);
        vm.expectRevert(X402UptoPermit2Proxy.InvalidOwner.selector);
        upto.settle(permit, 1, address(0), w, sig);
        vm.expectRevert(X402UptoPermit2Proxy.PaymentTooEarly.selector);
        upto.settle(permit, 1, payer, w, sig);
        vm.warp(w.validAfter);
        // The witness is signed: another destination is another message.
        X402UptoPermit2Proxy.Witness memory redirected = witnessOf(FACILITATOR, FACILITATOR, w.validAfter);
        vm.expectRevert(ISignatureTransfer.InvalidSigner.selector);
        upto.settle(permit, 1, payer, redirected, sig);
        upto.settle(permit, 2_000, payer, w, sig);
        vm.stopPrank();
        assertEq(token.balanceOf(PAYEE), 2_000, "paid at validAfter");

        X402UptoPermit2Proxy.Witness memory nowhere = witnessOf(address(0), FACILITATOR, 0);
        vm.prank(FACILITATOR);
        vm.expectRevert(X402UptoPermit2Proxy.InvalidDestination.selector);
        upto.settle(permitOf(1, 2), 1, payer, nowhere, sig);
        vm.warp(permit.deadline + 1);
        ISignatureTransfer.PermitTransferFrom memory late = permit;
        late.nonce = 3;
        bytes memory lateSig = signUpto(late, witnessOf(PAYEE, FACILITATOR, 0));
        vm.prank(FACILITATOR);
        vm.expectRevert(abi.encodeWithSelector(ISignatureTransfer.SignatureExpired.selector, late.deadline));
        upto.settle(late, 1, payer, witnessOf(PAYEE, FACILITATOR, 0), lateSig);
    }

    function test_settle_with_an_eip2612_permit() public {
        uint256 key = 0xC0C0;
        address fresh = vm.addr(key);
        token.faucet(fresh, 5_000);
        ISignatureTransfer.PermitTransferFrom memory permit = permitOf(5_000, 9);
        X402UptoPermit2Proxy.Witness memory w = witnessOf(PAYEE, FACILITATOR, 0);
        bytes32 witness = keccak256(abi.encode(upto.WITNESS_TYPEHASH(), PAYEE, FACILITATOR, uint256(0)));
        bytes memory sig = sign(key, permit2WitnessDigest(permit, UPTO_PROXY, witness, WITNESS_TYPE_STRING));
        (uint8 v, bytes32 r, bytes32 s) = eip2612(key, 5_000, 0, permit.deadline);
        X402UptoPermit2Proxy.EIP2612Permit memory p2612 =
            X402UptoPermit2Proxy.EIP2612Permit({value: 5_000, deadline: permit.deadline, r: r, s: s, v: v});

        p2612.value = 4_999;
        vm.prank(FACILITATOR);
        vm.expectRevert(X402UptoPermit2Proxy.Permit2612AmountMismatch.selector);
        upto.settleWithPermit(p2612, permit, 100, fresh, w, sig);
        p2612.value = 5_000;

        vm.expectEmit(false, false, false, true, UPTO_PROXY);
        emit SettledWithPermit();
        vm.prank(FACILITATOR);
        upto.settleWithPermit(p2612, permit, 4_000, fresh, w, sig);
        assertEq(token.balanceOf(PAYEE), 4_000, "paid");
        assertEq(token.allowance(fresh, PERMIT2), 1_000, "the permit approved Permit2");
    }

    function test_a_failing_eip2612_permit_is_logged() public {
        ISignatureTransfer.PermitTransferFrom memory permit = permitOf(500, 4);
        X402UptoPermit2Proxy.Witness memory w = witnessOf(PAYEE, FACILITATOR, 0);
        bytes memory sig = signUpto(permit, w);
        X402UptoPermit2Proxy.EIP2612Permit memory junk = X402UptoPermit2Proxy.EIP2612Permit({
            value: 500, deadline: 0, r: bytes32(0), s: bytes32(0), v: 27
        });
        vm.expectEmit(true, true, false, false, UPTO_PROXY);
        emit EIP2612PermitFailedWithData(TOKEN, payer, "");
        vm.prank(FACILITATOR);
        upto.settleWithPermit(junk, permit, 500, payer, w, sig);
        assertEq(token.balanceOf(PAYEE), 500, "paid through the existing approval");
    }

    function test_a_token_cannot_reenter_the_proxy() public {
        HookedToken hooked = new HookedToken();
        hooked.mint(payer, 1_000);
        vm.prank(payer);
        hooked.approve(PERMIT2, type(uint256).max);
        ISignatureTransfer.PermitTransferFrom memory permit = ISignatureTransfer.PermitTransferFrom({
            permitted: ISignatureTransfer.TokenPermissions({token: address(hooked), amount: 1_000}),
            nonce: 0,
            deadline: block.timestamp + 100
        });
        X402UptoPermit2Proxy.Witness memory w = witnessOf(PAYEE, FACILITATOR, 0);
        bytes memory sig = signUpto(permit, w);
        hooked.arm(UPTO_PROXY, abi.encodeCall(X402UptoPermit2Proxy.settle, (permit, 1, payer, w, sig)));
        vm.prank(FACILITATOR);
        vm.expectRevert(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector);
        upto.settle(permit, 1, payer, w, sig);
    }

    function test_the_constructor_refuses_a_zero_permit2() public {
        vm.expectRevert(X402UptoPermit2Proxy.InvalidPermit2Address.selector);
        new X402UptoPermit2Proxy(address(0));
    }

    /// The payee gets exactly the settled amount and the payer never pays above the ceiling.
    function testFuzz_settle_amounts(uint256 ceiling, uint256 amount) public {
        ceiling = bound(ceiling, 1, 1_000_000);
        amount = bound(amount, 0, 2_000_000);
        ISignatureTransfer.PermitTransferFrom memory permit = permitOf(ceiling, 77);
        X402UptoPermit2Proxy.Witness memory w = witnessOf(PAYEE, FACILITATOR, 0);
        bytes memory sig = signUpto(permit, w);
        vm.prank(FACILITATOR);
        if (amount > ceiling) vm.expectRevert(X402UptoPermit2Proxy.AmountExceedsPermitted.selector);
        else if (amount == 0) vm.expectRevert(X402UptoPermit2Proxy.InvalidAmount.selector);
        upto.settle(permit, amount, payer, w, sig);
        uint256 paid = amount > ceiling || amount == 0 ? 0 : amount;
        assertEq(token.balanceOf(PAYEE), paid, "payee");
        assertEq(token.balanceOf(payer), 1_000_000 - paid, "payer");
    }
}
