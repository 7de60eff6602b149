// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {X402Test} from "./utils/X402Test.sol";
import {MockWallet} from "./utils/X402Mocks.sol";
import {ISignatureTransfer} from "../src/Permit2.sol";

contract Permit2Test is X402Test {
    uint256 internal constant OWNER_KEY = 0x0A0A;
    uint256 internal constant OTHER_KEY = 0x0B0B;
    address internal owner;
    address internal constant SPENDER = address(0x5BE1);
    address internal constant TO = address(0x70);

    event UnorderedNonceInvalidation(address indexed owner, uint256 word, uint256 mask);

    function setUp() public {
        installX402();
        owner = vm.addr(OWNER_KEY);
        token.faucet(owner, 1_000_000);
        vm.prank(owner);
        token.approve(PERMIT2, type(uint256).max);
    }

    function transferDigest(ISignatureTransfer.PermitTransferFrom memory permit, address spender)
        internal
        view
        returns (bytes32)
    {
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256(
                    "PermitTransferFrom(TokenPermissions permitted,address spender,uint256 nonce,uint256 deadline)TokenPermissions(address token,uint256 amount)"
                ),
                keccak256(
                    abi.encode(TOKEN_PERMISSIONS_TYPEHASH, permit.permitted.token, permit.permitted.amount)
                ),
                spender,
                permit.nonce,
                permit.deadline
            )
        );
        return typed(permit2Domain(), structHash);
    }

    function details(uint256 amount)
        internal
        pure
        returns (ISignatureTransfer.SignatureTransferDetails memory)
    {
        return ISignatureTransfer.SignatureTransferDetails({to: TO, requestedAmount: amount});
    }

    function test_domain_separator_has_no_version_and_follows_the_chain() public {
        assertEq(permit2.DOMAIN_SEPARATOR(), permit2Domain(), "canonical domain");
        // The canonical Permit2's domain separator on Ethereum mainnet.
        vm.chainId(1);
        assertEq(
            permit2.DOMAIN_SEPARATOR(),
            0x866a5aba21966af95d6c7ab78eb2b2fc913915c28be3b9aa07cc04ff903e3f28,
            "as on Ethereum mainnet"
        );
    }

    function test_permit_transfer_from() public {
        ISignatureTransfer.PermitTransferFrom memory permit = permitOf(500, 0);
        bytes memory sig = sign(OWNER_KEY, transferDigest(permit, SPENDER));
        vm.prank(SPENDER);
        permit2.permitTransferFrom(permit, details(300), owner, sig);
        assertEq(token.balanceOf(TO), 300, "moved");
        assertEq(permit2.nonceBitmap(owner, 0), 1, "nonce 0 spent");

        vm.prank(SPENDER);
        vm.expectRevert(ISignatureTransfer.InvalidNonce.selector);
        permit2.permitTransferFrom(permit, details(100), owner, sig);
    }

    function test_the_spender_is_the_caller() public {
        ISignatureTransfer.PermitTransferFrom memory permit = permitOf(500, 0);
        bytes memory sig = sign(OWNER_KEY, transferDigest(permit, SPENDER));
        vm.prank(address(0xBAD));
        vm.expectRevert(ISignatureTransfer.InvalidSigner.selector);
        permit2.permitTransferFrom(permit, details(300), owner, sig);
    }

    function test_refusals() public {
        ISignatureTransfer.PermitTransferFrom memory permit = permitOf(500, 7);
        bytes memory sig = sign(OWNER_KEY, transferDigest(permit, SPENDER));
        vm.startPrank(SPENDER);
        vm.expectRevert(abi.encodeWithSelector(ISignatureTransfer.InvalidAmount.selector, 500));
        permit2.permitTransferFrom(permit, details(501), owner, sig);
        vm.expectRevert(ISignatureTransfer.InvalidSignatureLength.selector);
        permit2.permitTransferFrom(permit, details(1), owner, hex"0102");
        vm.expectRevert(ISignatureTransfer.InvalidSigner.selector);
        permit2.permitTransferFrom(
            permit, details(1), owner, sign(OTHER_KEY, transferDigest(permit, SPENDER))
        );
        // r = s = 0 recovers no address.
        vm.expectRevert(ISignatureTransfer.InvalidSignature.selector);
        permit2.permitTransferFrom(
            permit, details(1), owner, abi.encodePacked(bytes32(0), bytes32(0), uint8(27))
        );
        vm.warp(permit.deadline + 1);
        vm.expectRevert(abi.encodeWithSelector(ISignatureTransfer.SignatureExpired.selector, permit.deadline));
        permit2.permitTransferFrom(permit, details(1), owner, sig);
        vm.stopPrank();
    }

    function test_the_deadline_itself_is_still_valid() public {
        ISignatureTransfer.PermitTransferFrom memory permit = permitOf(500, 7);
        bytes memory sig = sign(OWNER_KEY, transferDigest(permit, SPENDER));
        vm.warp(permit.deadline);
        vm.prank(SPENDER);
        permit2.permitTransferFrom(permit, details(1), owner, sig);
    }

    function test_a_compact_signature_is_accepted() public {
        ISignatureTransfer.PermitTransferFrom memory permit = permitOf(500, 3);
        (bytes32 r, bytes32 vs) = vmx.signCompact(OWNER_KEY, transferDigest(permit, SPENDER));
        vm.prank(SPENDER);
        permit2.permitTransferFrom(permit, details(500), owner, abi.encodePacked(r, vs));
        assertEq(token.balanceOf(TO), 500, "moved");
    }

    function test_a_contract_owner_signs_through_erc1271() public {
        MockWallet wallet = new MockWallet(vm.addr(OTHER_KEY));
        token.faucet(address(wallet), 1_000);
        wallet.approve(token, PERMIT2, type(uint256).max);
        ISignatureTransfer.PermitTransferFrom memory permit = permitOf(500, 0);
        bytes32 digest = transferDigest(permit, SPENDER);
        vm.prank(SPENDER);
        vm.expectRevert(ISignatureTransfer.InvalidContractSignature.selector);
        permit2.permitTransferFrom(permit, details(500), address(wallet), sign(OWNER_KEY, digest));
        vm.prank(SPENDER);
        permit2.permitTransferFrom(permit, details(500), address(wallet), sign(OTHER_KEY, digest));
        assertEq(token.balanceOf(TO), 500, "moved");
    }

    function test_the_token_allowance_still_applies() public {
        vm.prank(owner);
        token.approve(PERMIT2, 10);
        ISignatureTransfer.PermitTransferFrom memory permit = permitOf(500, 0);
        bytes memory sig = sign(OWNER_KEY, transferDigest(permit, SPENDER));
        vm.prank(SPENDER);
        vm.expectRevert(
            abi.encodeWithSelector(IERC20Errors.ERC20InsufficientAllowance.selector, PERMIT2, 10, 11)
        );
        permit2.permitTransferFrom(permit, details(11), owner, sig);
    }

    function test_permit_witness_transfer_from() public {
        ISignatureTransfer.PermitTransferFrom memory permit = permitOf(500, 1);
        bytes32 witness = keccak256(abi.encode(keccak256("DepositWitness(bytes32 channelId)"), bytes32("x")));
        bytes memory sig =
            sign(OWNER_KEY, permit2WitnessDigest(permit, SPENDER, witness, DEPOSIT_WITNESS_TYPE_STRING));
        vm.startPrank(SPENDER);
        // Another witness, or another type string, is another message.
        vm.expectRevert(ISignatureTransfer.InvalidSigner.selector);
        permit2.permitWitnessTransferFrom(
            permit, details(500), owner, bytes32(0), DEPOSIT_WITNESS_TYPE_STRING, sig
        );
        vm.expectRevert(ISignatureTransfer.InvalidSigner.selector);
        permit2.permitWitnessTransferFrom(permit, details(500), owner, witness, "Other witness)", sig);
        // A plain permit signature is not a witness one.
        vm.expectRevert(ISignatureTransfer.InvalidSigner.selector);
        permit2.permitWitnessTransferFrom(
            permit,
            details(500),
            owner,
            witness,
            DEPOSIT_WITNESS_TYPE_STRING,
            sign(OWNER_KEY, transferDigest(permit, SPENDER))
        );
        permit2.permitWitnessTransferFrom(
            permit, details(500), owner, witness, DEPOSIT_WITNESS_TYPE_STRING, sig
        );
        vm.stopPrank();
        assertEq(token.balanceOf(TO), 500, "moved");
    }

    function test_invalidate_unordered_nonces() public {
        vm.expectEmit(true, false, false, true, PERMIT2);
        emit UnorderedNonceInvalidation(owner, 2, 0x0f);
        vm.prank(owner);
        permit2.invalidateUnorderedNonces(2, 0x0f);
        assertEq(permit2.nonceBitmap(owner, 2), 0x0f, "bits set");
        ISignatureTransfer.PermitTransferFrom memory permit = permitOf(500, (2 << 8) | 3);
        bytes memory sig = sign(OWNER_KEY, transferDigest(permit, SPENDER));
        vm.prank(SPENDER);
        vm.expectRevert(ISignatureTransfer.InvalidNonce.selector);
        permit2.permitTransferFrom(permit, details(1), owner, sig);
        // The neighbouring nonce is untouched.
        permit = permitOf(500, (2 << 8) | 4);
        sig = sign(OWNER_KEY, transferDigest(permit, SPENDER));
        vm.prank(SPENDER);
        permit2.permitTransferFrom(permit, details(1), owner, sig);
        assertEq(permit2.nonceBitmap(owner, 2), 0x1f, "bit 4 spent");
    }

    /// Every nonce is spent once, in its own bit, whatever its value.
    function testFuzz_each_nonce_once(uint256 nonce, uint256 other) public {
        vm.assume(nonce != other);
        ISignatureTransfer.PermitTransferFrom memory permit = permitOf(10, nonce);
        bytes memory sig = sign(OWNER_KEY, transferDigest(permit, SPENDER));
        vm.prank(SPENDER);
        permit2.permitTransferFrom(permit, details(10), owner, sig);
        assertEq(permit2.nonceBitmap(owner, nonce >> 8), 1 << (nonce & 0xff), "exactly its bit");
        vm.prank(SPENDER);
        vm.expectRevert(ISignatureTransfer.InvalidNonce.selector);
        permit2.permitTransferFrom(permit, details(10), owner, sig);

        ISignatureTransfer.PermitTransferFrom memory next = permitOf(10, other);
        bytes memory nextSig = sign(OWNER_KEY, transferDigest(next, SPENDER));
        vm.prank(SPENDER);
        permit2.permitTransferFrom(next, details(10), owner, nextSig);
        assertEq(token.balanceOf(TO), 20, "both moved");
    }

    /// Any amount up to the permitted one moves; above it, nothing does.
    function testFuzz_requested_amount(uint256 permitted, uint256 requested) public {
        permitted = bound(permitted, 0, 1_000_000);
        requested = bound(requested, 0, 2_000_000);
        ISignatureTransfer.PermitTransferFrom memory permit = permitOf(permitted, 0);
        bytes memory sig = sign(OWNER_KEY, transferDigest(permit, SPENDER));
        vm.prank(SPENDER);
        if (requested > permitted) {
            vm.expectRevert(abi.encodeWithSelector(ISignatureTransfer.InvalidAmount.selector, permitted));
        }
        permit2.permitTransferFrom(permit, details(requested), owner, sig);
        assertEq(token.balanceOf(TO), requested > permitted ? 0 : requested, "moved");
    }
}
