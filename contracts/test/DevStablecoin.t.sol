// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {AgoraTest} from "./utils/AgoraTest.sol";
import {DevStablecoin} from "../src/DevStablecoin.sol";
import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";

/// @dev A smart-contract wallet that accepts its owner's ECDSA signatures (ERC-1271).
contract OwnedWallet is IERC1271 {
    address public immutable owner;

    constructor(address owner_) {
        owner = owner_;
    }

    function isValidSignature(bytes32 digest, bytes memory signature) external view returns (bytes4) {
        (address signer,,) = ECDSA.tryRecover(digest, signature);
        return signer == owner ? IERC1271.isValidSignature.selector : bytes4(0xffffffff);
    }
}

/// @dev Signs EIP-3009 and EIP-2612 messages for the tests.
abstract contract StablecoinSigning is AgoraTest {
    function digestOf(DevStablecoin token, bytes32 structHash) internal view returns (bytes32) {
        return keccak256(abi.encodePacked("\x19\x01", token.DOMAIN_SEPARATOR(), structHash));
    }

    function signTransfer(
        DevStablecoin token,
        uint256 key,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce
    ) internal view returns (uint8 v, bytes32 r, bytes32 s) {
        bytes32 structHash = keccak256(
            abi.encode(
                token.TRANSFER_WITH_AUTHORIZATION_TYPEHASH(),
                vm.addr(key),
                to,
                value,
                validAfter,
                validBefore,
                nonce
            )
        );
        return vm.sign(key, digestOf(token, structHash));
    }
}

contract DevStablecoinTest is StablecoinSigning {
    DevStablecoin internal token;

    uint256 internal constant ALICE_KEY = 0xA11CE;
    uint256 internal constant MALLORY_KEY = 0xBAD;
    address internal alice;
    address internal bob = address(0xB0B);

    function setUp() public {
        vm.chainId(31337);
        vm.warp(1_700_000_000);
        token = new DevStablecoin();
        alice = vm.addr(ALICE_KEY);
        token.faucet(alice, 1_000e6);
    }

    function test_metadata_matches_usdc_shape() public view {
        assertEq(token.decimals(), 6, "decimals");
        assertEq(keccak256(bytes(token.symbol())), keccak256("dUSD"), "symbol");
        assertEq(keccak256(bytes(token.version())), keccak256("1"), "version");
        bytes32 expected = keccak256(
            abi.encode(
                keccak256(
                    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
                ),
                keccak256(bytes(token.name())),
                keccak256("1"),
                block.chainid,
                address(token)
            )
        );
        assertEq(token.DOMAIN_SEPARATOR(), expected, "domain separator");
    }

    function test_faucet_mints_on_dev_chains() public {
        token.faucet(bob, 5e6);
        assertEq(token.balanceOf(bob), 5e6, "bob balance");
        vm.chainId(1337);
        token.faucet(bob, 1e6);
        assertEq(token.balanceOf(bob), 6e6, "bob balance on 1337");
    }

    function test_faucet_refused_on_other_chains() public {
        vm.chainId(1);
        vm.expectRevert(abi.encodeWithSelector(DevStablecoin.FaucetOnlyOnDevChains.selector, 1));
        token.faucet(bob, 1);
        vm.chainId(8453);
        vm.expectRevert(abi.encodeWithSelector(DevStablecoin.FaucetOnlyOnDevChains.selector, 8453));
        token.faucet(bob, 1);
    }

    function test_faucet_limit() public {
        uint256 limit = token.FAUCET_LIMIT();
        token.faucet(bob, limit);
        vm.expectRevert(abi.encodeWithSelector(DevStablecoin.FaucetLimitExceeded.selector, limit + 1, limit));
        token.faucet(bob, limit + 1);
    }

    function test_transfer_with_authorization() public {
        bytes32 nonce = keccak256("n1");
        (uint8 v, bytes32 r, bytes32 s) =
            signTransfer(token, ALICE_KEY, bob, 10e6, 0, block.timestamp + 60, nonce);
        // Anyone may submit it; the relayer pays the gas, alice needs no ETH.
        vm.prank(address(0xCAFE));
        token.transferWithAuthorization(alice, bob, 10e6, 0, block.timestamp + 60, nonce, v, r, s);
        assertEq(token.balanceOf(bob), 10e6, "bob received");
        assertEq(token.balanceOf(alice), 990e6, "alice paid");
        assertTrue(token.authorizationState(alice, nonce), "nonce used");
    }

    function test_transfer_with_authorization_bytes_signature() public {
        bytes32 nonce = keccak256("bytes");
        (uint8 v, bytes32 r, bytes32 s) =
            signTransfer(token, ALICE_KEY, bob, 1e6, 0, block.timestamp + 60, nonce);
        token.transferWithAuthorization(
            alice, bob, 1e6, 0, block.timestamp + 60, nonce, abi.encodePacked(r, s, v)
        );
        assertEq(token.balanceOf(bob), 1e6, "bob received");
    }

    function test_authorization_nonce_cannot_be_replayed() public {
        bytes32 nonce = keccak256("once");
        (uint8 v, bytes32 r, bytes32 s) =
            signTransfer(token, ALICE_KEY, bob, 1e6, 0, block.timestamp + 60, nonce);
        token.transferWithAuthorization(alice, bob, 1e6, 0, block.timestamp + 60, nonce, v, r, s);
        vm.expectRevert(abi.encodeWithSelector(DevStablecoin.AuthorizationAlreadyUsed.selector, alice, nonce));
        token.transferWithAuthorization(alice, bob, 1e6, 0, block.timestamp + 60, nonce, v, r, s);
    }

    function test_authorization_time_window() public {
        bytes32 nonce = keccak256("window");
        uint256 after_ = block.timestamp + 10;
        uint256 before_ = block.timestamp + 20;
        (uint8 v, bytes32 r, bytes32 s) = signTransfer(token, ALICE_KEY, bob, 1e6, after_, before_, nonce);
        vm.expectRevert(abi.encodeWithSelector(DevStablecoin.AuthorizationNotYetValid.selector, after_));
        token.transferWithAuthorization(alice, bob, 1e6, after_, before_, nonce, v, r, s);
        vm.warp(before_);
        vm.expectRevert(abi.encodeWithSelector(DevStablecoin.AuthorizationExpired.selector, before_));
        token.transferWithAuthorization(alice, bob, 1e6, after_, before_, nonce, v, r, s);
        vm.warp(after_ + 1);
        token.transferWithAuthorization(alice, bob, 1e6, after_, before_, nonce, v, r, s);
        assertEq(token.balanceOf(bob), 1e6, "paid inside the window");
    }

    function test_forged_or_altered_authorization_is_refused() public {
        bytes32 nonce = keccak256("forged");
        uint256 deadline = block.timestamp + 60;
        // Mallory signs a transfer out of alice's account.
        (uint8 v, bytes32 r, bytes32 s) = signTransfer(token, MALLORY_KEY, bob, 1e6, 0, deadline, nonce);
        vm.expectRevert(DevStablecoin.InvalidAuthorizationSignature.selector);
        token.transferWithAuthorization(alice, bob, 1e6, 0, deadline, nonce, v, r, s);
        // Alice's real signature, but the submitter raises the amount.
        (v, r, s) = signTransfer(token, ALICE_KEY, bob, 1e6, 0, deadline, nonce);
        vm.expectRevert(DevStablecoin.InvalidAuthorizationSignature.selector);
        token.transferWithAuthorization(alice, bob, 2e6, 0, deadline, nonce, v, r, s);
        // ... or redirects it.
        vm.expectRevert(DevStablecoin.InvalidAuthorizationSignature.selector);
        token.transferWithAuthorization(alice, address(0xEE), 1e6, 0, deadline, nonce, v, r, s);
        assertTrue(!token.authorizationState(alice, nonce), "nonce still unused");
    }

    function test_receive_with_authorization_only_by_payee() public {
        bytes32 nonce = keccak256("receive");
        uint256 deadline = block.timestamp + 60;
        bytes32 structHash = keccak256(
            abi.encode(token.RECEIVE_WITH_AUTHORIZATION_TYPEHASH(), alice, bob, 3e6, 0, deadline, nonce)
        );
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(ALICE_KEY, digestOf(token, structHash));
        vm.expectRevert(abi.encodeWithSelector(DevStablecoin.CallerMustBePayee.selector, address(this), bob));
        token.receiveWithAuthorization(alice, bob, 3e6, 0, deadline, nonce, v, r, s);
        vm.prank(bob);
        token.receiveWithAuthorization(alice, bob, 3e6, 0, deadline, nonce, v, r, s);
        assertEq(token.balanceOf(bob), 3e6, "bob received");
    }

    function test_cancelled_authorization_cannot_be_used() public {
        bytes32 nonce = keccak256("cancel");
        uint256 deadline = block.timestamp + 60;
        (uint8 v, bytes32 r, bytes32 s) = signTransfer(token, ALICE_KEY, bob, 1e6, 0, deadline, nonce);
        bytes32 cancelHash = keccak256(abi.encode(token.CANCEL_AUTHORIZATION_TYPEHASH(), alice, nonce));
        (uint8 cv, bytes32 cr, bytes32 cs) = vm.sign(ALICE_KEY, digestOf(token, cancelHash));
        token.cancelAuthorization(alice, nonce, cv, cr, cs);
        assertTrue(token.authorizationState(alice, nonce), "cancelled nonce is spent");
        vm.expectRevert(abi.encodeWithSelector(DevStablecoin.AuthorizationAlreadyUsed.selector, alice, nonce));
        token.transferWithAuthorization(alice, bob, 1e6, 0, deadline, nonce, v, r, s);
    }

    function test_contract_wallet_authorizes_with_erc1271() public {
        OwnedWallet wallet = new OwnedWallet(alice);
        token.faucet(address(wallet), 50e6);
        bytes32 nonce = keccak256("1271");
        uint256 deadline = block.timestamp + 60;
        bytes32 structHash = keccak256(
            abi.encode(
                token.TRANSFER_WITH_AUTHORIZATION_TYPEHASH(), address(wallet), bob, 7e6, 0, deadline, nonce
            )
        );
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(ALICE_KEY, digestOf(token, structHash));
        token.transferWithAuthorization(
            address(wallet), bob, 7e6, 0, deadline, nonce, abi.encodePacked(r, s, v)
        );
        assertEq(token.balanceOf(bob), 7e6, "paid from the contract wallet");
    }

    function test_permit_sets_allowance_once() public {
        uint256 deadline = block.timestamp + 60;
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256(
                    "Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)"
                ),
                alice,
                bob,
                25e6,
                token.nonces(alice),
                deadline
            )
        );
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(ALICE_KEY, digestOf(token, structHash));
        token.permit(alice, bob, 25e6, deadline, v, r, s);
        assertEq(token.allowance(alice, bob), 25e6, "allowance set");
        assertEq(token.nonces(alice), 1, "permit nonce advanced");
        vm.expectRevert();
        token.permit(alice, bob, 25e6, deadline, v, r, s);
        vm.prank(bob);
        token.transferFrom(alice, bob, 25e6);
        assertEq(token.balanceOf(bob), 25e6, "spent the permit");
    }

    function test_expired_permit_is_refused() public {
        uint256 deadline = block.timestamp - 1;
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256(
                    "Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)"
                ),
                alice,
                bob,
                1,
                0,
                deadline
            )
        );
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(ALICE_KEY, digestOf(token, structHash));
        vm.expectRevert(abi.encodeWithSelector(ERC20Permit.ERC2612ExpiredSignature.selector, deadline));
        token.permit(alice, bob, 1, deadline, v, r, s);
    }

    function testFuzz_authorized_transfer_moves_exact_amount(
        uint256 key,
        uint256 balance,
        uint256 value,
        bytes32 nonce
    ) public {
        key = bound(key, 1, 2 ** 128);
        address from = vm.addr(key);
        vm.assume(from != bob);
        balance = bound(balance, 0, token.FAUCET_LIMIT());
        value = bound(value, 0, 2 * token.FAUCET_LIMIT());
        token.faucet(from, balance);
        balance = token.balanceOf(from); // the fuzzer may pick a key that already holds funds
        uint256 deadline = block.timestamp + 1;
        (uint8 v, bytes32 r, bytes32 s) = signTransfer(token, key, bob, value, 0, deadline, nonce);
        uint256 supply = token.totalSupply();
        if (value > balance) {
            vm.expectRevert(
                abi.encodeWithSelector(IERC20Errors.ERC20InsufficientBalance.selector, from, balance, value)
            );
            token.transferWithAuthorization(from, bob, value, 0, deadline, nonce, v, r, s);
            assertTrue(!token.authorizationState(from, nonce), "failed transfer spends no nonce");
        } else {
            token.transferWithAuthorization(from, bob, value, 0, deadline, nonce, v, r, s);
            assertEq(token.balanceOf(from), balance - value, "payer debited");
            assertEq(token.balanceOf(bob), value, "payee credited");
            assertTrue(token.authorizationState(from, nonce), "nonce spent");
        }
        assertEq(token.totalSupply(), supply, "transfers never change supply");
    }

    function testFuzz_faucet_only_on_dev_chains(uint256 chainId) public {
        chainId = bound(chainId, 1, type(uint64).max);
        vm.chainId(chainId);
        if (chainId == 31337 || chainId == 1337) {
            token.faucet(bob, 1);
            assertEq(token.balanceOf(bob), 1, "minted");
        } else {
            vm.expectRevert(abi.encodeWithSelector(DevStablecoin.FaucetOnlyOnDevChains.selector, chainId));
            token.faucet(bob, 1);
        }
    }
}
