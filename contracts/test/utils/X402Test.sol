// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {AgoraTest} from "./AgoraTest.sol";
import {DevStablecoin} from "../../src/DevStablecoin.sol";
import {X402BatchSettlement} from "../../src/X402BatchSettlement.sol";
import {ERC3009DepositCollector} from "../../src/ERC3009DepositCollector.sol";
import {Permit2DepositCollector} from "../../src/Permit2DepositCollector.sol";
import {ISignatureTransfer, Permit2} from "../../src/Permit2.sol";
import {X402UptoPermit2Proxy} from "../../src/X402UptoPermit2Proxy.sol";
import {Multicall3} from "../../src/Multicall3.sol";

/// @notice The cheatcodes the x402 tests use beyond `AgoraTest`'s.
interface VmX402 {
    function etch(address target, bytes calldata code) external;
    function readFile(string calldata path) external view returns (string memory);
    function parseJsonAddress(string calldata json, string calldata key) external pure returns (address);
    function parseJsonUint(string calldata json, string calldata key) external pure returns (uint256);
    function parseJsonBytes(string calldata json, string calldata key) external pure returns (bytes memory);
    function parseJsonBytes32(string calldata json, string calldata key) external pure returns (bytes32);
    function parseJsonString(string calldata json, string calldata key) external pure returns (string memory);
    function parseJsonKeys(string calldata json, string calldata key) external pure returns (string[] memory);
    function signCompact(uint256 privateKey, bytes32 digest) external pure returns (bytes32 r, bytes32 vs);
}

/// @notice The x402 contracts as agora's devnet has them: each deployed, then its runtime code
/// copied to its canonical address (the deployed copies are left unused), and the dev token
/// copied to a fixed address so signed fixtures can name it. Plus signing helpers.
abstract contract X402Test is AgoraTest {
    VmX402 internal constant vmx = VmX402(address(uint160(uint256(keccak256("hevm cheat code")))));

    address internal constant BATCH_SETTLEMENT = 0x4020074e9dF2ce1deE5A9C1b5c3f541D02a10003;
    address internal constant ERC3009_COLLECTOR = 0x4020806089470a89826cB9fB1f4059150b550004;
    address internal constant PERMIT2_COLLECTOR = 0x4020425FAf3B746C082C2f942b4E5159887B0005;
    address internal constant PERMIT2 = 0x000000000022D473030F116dDEE9F6B43aC78BA3;
    address internal constant UPTO_PROXY = 0x4020A4f3b7b90ccA423B9fabCc0CE57C6C240002;
    address internal constant MULTICALL3 = 0xcA11bde05977b3631167028862bE2a173976CA11;
    address internal constant TOKEN = 0x70C0000000000000000000000000000000000001;

    X402BatchSettlement internal settlement = X402BatchSettlement(BATCH_SETTLEMENT);
    ERC3009DepositCollector internal erc3009Collector = ERC3009DepositCollector(ERC3009_COLLECTOR);
    Permit2DepositCollector internal permit2Collector = Permit2DepositCollector(PERMIT2_COLLECTOR);
    Permit2 internal permit2 = Permit2(PERMIT2);
    X402UptoPermit2Proxy internal upto = X402UptoPermit2Proxy(UPTO_PROXY);
    DevStablecoin internal token = DevStablecoin(TOKEN);

    bytes32 internal constant RECEIVE_WITH_AUTHORIZATION_TYPEHASH = keccak256(
        "ReceiveWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)"
    );
    bytes32 internal constant TOKEN_PERMISSIONS_TYPEHASH =
        keccak256("TokenPermissions(address token,uint256 amount)");
    string internal constant DEPOSIT_WITNESS_TYPE_STRING =
        "DepositWitness witness)DepositWitness(bytes32 channelId)TokenPermissions(address token,uint256 amount)";
    string internal constant WITNESS_STUB =
        "PermitWitnessTransferFrom(TokenPermissions permitted,address spender,uint256 nonce,uint256 deadline,";

    /// A fresh ERC-3009 salt for each deposit `depositByErc3009` makes.
    uint256 internal depositSalt;

    function installX402() internal {
        vm.chainId(31337);
        vm.warp(1_700_000_000);
        vmx.etch(TOKEN, address(new DevStablecoin()).code);
        vmx.etch(PERMIT2, address(new Permit2()).code);
        vmx.etch(BATCH_SETTLEMENT, address(new X402BatchSettlement()).code);
        vmx.etch(ERC3009_COLLECTOR, address(new ERC3009DepositCollector(BATCH_SETTLEMENT)).code);
        vmx.etch(PERMIT2_COLLECTOR, address(new Permit2DepositCollector(BATCH_SETTLEMENT, PERMIT2)).code);
        vmx.etch(UPTO_PROXY, address(new X402UptoPermit2Proxy(PERMIT2)).code);
        vmx.etch(MULTICALL3, address(new Multicall3()).code);
        vm.label(BATCH_SETTLEMENT, "X402BatchSettlement");
        vm.label(ERC3009_COLLECTOR, "ERC3009DepositCollector");
        vm.label(PERMIT2_COLLECTOR, "Permit2DepositCollector");
        vm.label(PERMIT2, "Permit2");
        vm.label(UPTO_PROXY, "X402UptoPermit2Proxy");
        vm.label(MULTICALL3, "Multicall3");
        vm.label(TOKEN, "DevStablecoin");
    }

    function channelConfig(
        address payer,
        address payerAuthorizer,
        address receiver,
        address receiverAuthorizer
    ) internal pure returns (X402BatchSettlement.ChannelConfig memory) {
        return X402BatchSettlement.ChannelConfig({
            payer: payer,
            payerAuthorizer: payerAuthorizer,
            receiver: receiver,
            receiverAuthorizer: receiverAuthorizer,
            token: TOKEN,
            withdrawDelay: 15 minutes,
            salt: bytes32(0)
        });
    }

    // The digests, computed here independently of the contracts (and without calling them, so
    // that `vm.prank` and `vm.expectRevert` apply to the call under test, not to a view).

    function batchDomain() internal view returns (bytes32) {
        return keccak256(
            abi.encode(
                keccak256(
                    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
                ),
                keccak256("x402 Batch Settlement"),
                keccak256("1"),
                block.chainid,
                BATCH_SETTLEMENT
            )
        );
    }

    function typed(bytes32 domain, bytes32 structHash) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked("\x19\x01", domain, structHash));
    }

    function channelIdOf(X402BatchSettlement.ChannelConfig memory c) internal view returns (bytes32) {
        return typed(
            batchDomain(),
            keccak256(
                abi.encode(
                    keccak256(
                        "ChannelConfig(address payer,address payerAuthorizer,address receiver,address receiverAuthorizer,address token,uint40 withdrawDelay,bytes32 salt)"
                    ),
                    c.payer,
                    c.payerAuthorizer,
                    c.receiver,
                    c.receiverAuthorizer,
                    c.token,
                    c.withdrawDelay,
                    c.salt
                )
            )
        );
    }

    function voucherDigestOf(bytes32 channelId, uint128 max) internal view returns (bytes32) {
        return typed(
            batchDomain(),
            keccak256(
                abi.encode(keccak256("Voucher(bytes32 channelId,uint128 maxClaimableAmount)"), channelId, max)
            )
        );
    }

    function refundDigestOf(bytes32 channelId, uint256 nonce, uint128 amount)
        internal
        view
        returns (bytes32)
    {
        return typed(
            batchDomain(),
            keccak256(
                abi.encode(
                    keccak256("Refund(bytes32 channelId,uint256 nonce,uint128 amount)"),
                    channelId,
                    nonce,
                    amount
                )
            )
        );
    }

    function claimBatchDigestOf(X402BatchSettlement.VoucherClaim[] memory rows)
        internal
        view
        returns (bytes32)
    {
        bytes memory entries;
        for (uint256 i = 0; i < rows.length; i++) {
            entries = abi.encodePacked(
                entries,
                keccak256(
                    abi.encode(
                        keccak256(
                            "ClaimEntry(bytes32 channelId,uint128 maxClaimableAmount,uint128 totalClaimed)"
                        ),
                        channelIdOf(rows[i].voucher.channel),
                        rows[i].voucher.maxClaimableAmount,
                        rows[i].totalClaimed
                    )
                )
            );
        }
        return typed(
            batchDomain(),
            keccak256(
                abi.encode(
                    keccak256(
                        "ClaimBatch(ClaimEntry[] claims)ClaimEntry(bytes32 channelId,uint128 maxClaimableAmount,uint128 totalClaimed)"
                    ),
                    keccak256(entries)
                )
            )
        );
    }

    function tokenDomain() internal view returns (bytes32) {
        return keccak256(
            abi.encode(
                keccak256(
                    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
                ),
                keccak256("Agora Dev USD"),
                keccak256("1"),
                block.chainid,
                TOKEN
            )
        );
    }

    function permit2Domain() internal view returns (bytes32) {
        return keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,uint256 chainId,address verifyingContract)"),
                keccak256("Permit2"),
                block.chainid,
                PERMIT2
            )
        );
    }

    function sign(uint256 key, bytes32 digest) internal pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }

    /// A claim row for `config` with a voucher for `max` signed by `key`.
    function voucherClaim(
        X402BatchSettlement.ChannelConfig memory config,
        uint256 key,
        uint128 max,
        uint128 total
    ) internal view returns (X402BatchSettlement.VoucherClaim memory) {
        bytes32 id = channelIdOf(config);
        return X402BatchSettlement.VoucherClaim({
            voucher: X402BatchSettlement.Voucher({channel: config, maxClaimableAmount: max}),
            signature: sign(key, voucherDigestOf(id, max)),
            totalClaimed: total
        });
    }

    function one(X402BatchSettlement.VoucherClaim memory row)
        internal
        pure
        returns (X402BatchSettlement.VoucherClaim[] memory rows)
    {
        rows = new X402BatchSettlement.VoucherClaim[](1);
        rows[0] = row;
    }

    /// The ERC-3009 collector's data for a deposit of `amount` into `channelId`, signed by `key`.
    function erc3009Data(uint256 key, bytes32 channelId, uint256 amount, uint256 salt)
        internal
        view
        returns (bytes memory)
    {
        uint256 validBefore = block.timestamp + 300;
        bytes32 nonce = keccak256(abi.encode(channelId, salt));
        bytes32 structHash = keccak256(
            abi.encode(
                RECEIVE_WITH_AUTHORIZATION_TYPEHASH,
                vm.addr(key),
                ERC3009_COLLECTOR,
                amount,
                0,
                validBefore,
                nonce
            )
        );
        return abi.encode(uint256(0), validBefore, salt, sign(key, typed(tokenDomain(), structHash)));
    }

    /// Deposits `amount` into `config` through the ERC-3009 collector, the payer (`key`) minted
    /// the tokens first.
    function depositByErc3009(X402BatchSettlement.ChannelConfig memory config, uint256 key, uint128 amount)
        internal
        returns (bytes32 id)
    {
        id = channelIdOf(config);
        token.faucet(config.payer, amount);
        settlement.deposit(config, amount, ERC3009_COLLECTOR, erc3009Data(key, id, amount, ++depositSalt));
    }

    /// The EIP-712 digest Permit2 checks for a witness transfer.
    function permit2WitnessDigest(
        ISignatureTransfer.PermitTransferFrom memory permit,
        address spender,
        bytes32 witness,
        string memory witnessTypeString
    ) internal view returns (bytes32) {
        bytes32 typeHash = keccak256(abi.encodePacked(WITNESS_STUB, witnessTypeString));
        bytes32 structHash = keccak256(
            abi.encode(
                typeHash,
                keccak256(
                    abi.encode(TOKEN_PERMISSIONS_TYPEHASH, permit.permitted.token, permit.permitted.amount)
                ),
                spender,
                permit.nonce,
                permit.deadline,
                witness
            )
        );
        return typed(permit2Domain(), structHash);
    }

    function permitOf(uint256 amount, uint256 nonce)
        internal
        view
        returns (ISignatureTransfer.PermitTransferFrom memory)
    {
        return ISignatureTransfer.PermitTransferFrom({
            permitted: ISignatureTransfer.TokenPermissions({token: TOKEN, amount: amount}),
            nonce: nonce,
            deadline: block.timestamp + 300
        });
    }

    /// The Permit2 collector's data for a deposit of `amount` into `channelId`, signed by `key`.
    function permit2Data(uint256 key, bytes32 channelId, uint256 amount, uint256 nonce)
        internal
        view
        returns (bytes memory)
    {
        ISignatureTransfer.PermitTransferFrom memory permit = permitOf(amount, nonce);
        bytes32 digest = permit2WitnessDigest(
            permit,
            PERMIT2_COLLECTOR,
            keccak256(abi.encode(keccak256("DepositWitness(bytes32 channelId)"), channelId)),
            DEPOSIT_WITNESS_TYPE_STRING
        );
        return abi.encode(nonce, permit.deadline, sign(key, digest), bytes(""));
    }

    /// The payer's EIP-2612 permit approving Permit2 for `value` (the token nonce is passed in:
    /// reading it here would be a call).
    function eip2612(uint256 key, uint256 value, uint256 nonce, uint256 deadline)
        internal
        view
        returns (uint8 v, bytes32 r, bytes32 s)
    {
        address owner = vm.addr(key);
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256(
                    "Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)"
                ),
                owner,
                PERMIT2,
                value,
                nonce,
                deadline
            )
        );
        return vm.sign(key, typed(tokenDomain(), structHash));
    }
}
