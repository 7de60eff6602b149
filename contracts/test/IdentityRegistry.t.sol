// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {AgoraTest} from "./utils/AgoraTest.sol";
import {OwnedWallet} from "./DevStablecoin.t.sol";
import {IdentityRegistry} from "../src/IdentityRegistry.sol";
import {IERC721Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";

/// @dev Signs `AgentWalletSet` proofs.
abstract contract WalletProofs is AgoraTest {
    function walletProof(IdentityRegistry registry, uint256 walletKey, uint256 agentId, uint256 deadline)
        internal
        view
        returns (bytes memory)
    {
        bytes32 structHash = keccak256(
            abi.encode(
                registry.AGENT_WALLET_SET_TYPEHASH(),
                agentId,
                vm.addr(walletKey),
                registry.ownerOf(agentId),
                deadline
            )
        );
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(walletKey, walletDigest(registry, structHash));
        return abi.encodePacked(r, s, v);
    }

    /// @dev The EIP-712 digest the registry checks a wallet proof against.
    function walletDigest(IdentityRegistry registry, bytes32 structHash) internal view returns (bytes32) {
        bytes32 domain = keccak256(
            abi.encode(
                keccak256(
                    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
                ),
                keccak256("ERC8004IdentityRegistry"),
                keccak256("1"),
                block.chainid,
                address(registry)
            )
        );
        return keccak256(abi.encodePacked("\x19\x01", domain, structHash));
    }
}

contract IdentityRegistryTest is WalletProofs {
    IdentityRegistry internal registry;
    address internal owner = address(0xA11CE);
    address internal stranger = address(0xBAD);
    uint256 internal constant WALLET_KEY = 0xC0FFEE;

    function setUp() public {
        vm.warp(1_700_000_000);
        registry = new IdentityRegistry();
    }

    function test_ids_start_at_zero_and_increase() public {
        vm.startPrank(owner);
        vm.expectEmit(true, true, false, true);
        emit IdentityRegistry.Registered(0, "ipfs://a", owner);
        assertEq(registry.register("ipfs://a"), 0, "first id is 0");
        assertEq(registry.register(), 1, "second");
        IdentityRegistry.MetadataEntry[] memory meta = new IdentityRegistry.MetadataEntry[](1);
        meta[0] = IdentityRegistry.MetadataEntry("skills", bytes("chat"));
        assertEq(registry.register("ipfs://c", meta), 2, "third");
        vm.stopPrank();
        assertEq(registry.totalAgents(), 3, "count");
        assertEq(registry.ownerOf(0), owner, "owner");
        assertEq(registry.tokenURI(0), "ipfs://a", "uri");
        assertEq(registry.tokenURI(1), "", "no uri yet");
        assertEq(registry.getMetadata(2, "skills"), bytes("chat"), "metadata");
        assertEq(registry.name(), "AgentIdentity", "name");
        assertEq(registry.symbol(), "AGENT", "symbol");
        assertEq(registry.getVersion(), "2.0.0", "version");
    }

    function test_wallet_defaults_to_the_registrant_with_reverse_lookup() public {
        vm.prank(owner);
        uint256 id = registry.register("u");
        assertEq(registry.getAgentWallet(id), owner, "default wallet");
        (bool found, uint256 agent) = registry.getAgentByWallet(owner);
        assertTrue(found && agent == id, "reverse lookup");
        (found,) = registry.getAgentByWallet(stranger);
        assertTrue(!found, "unknown wallet");
    }

    function test_reserved_key_is_refused() public {
        vm.startPrank(owner);
        uint256 id = registry.register();
        vm.expectRevert(abi.encodeWithSelector(IdentityRegistry.ReservedKey.selector, "agentWallet"));
        registry.setMetadata(id, "agentWallet", abi.encodePacked(stranger));
        IdentityRegistry.MetadataEntry[] memory meta = new IdentityRegistry.MetadataEntry[](1);
        meta[0] = IdentityRegistry.MetadataEntry("agentWallet", abi.encodePacked(stranger));
        vm.expectRevert(abi.encodeWithSelector(IdentityRegistry.ReservedKey.selector, "agentWallet"));
        registry.register("u", meta);
        vm.stopPrank();
    }

    function test_uri_and_metadata_only_by_owner_or_operator() public {
        vm.prank(owner);
        uint256 id = registry.register("old");
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IdentityRegistry.NotAuthorized.selector, stranger, id));
        registry.setAgentURI(id, "evil");
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IdentityRegistry.NotAuthorized.selector, stranger, id));
        registry.setMetadata(id, "k", "v");

        vm.prank(owner);
        registry.setApprovalForAll(stranger, true);
        vm.prank(stranger);
        vm.expectEmit(true, true, false, true);
        emit IdentityRegistry.URIUpdated(id, "new", stranger);
        registry.setAgentURI(id, "new");
        assertEq(registry.tokenURI(id), "new", "operator updated");
    }

    function test_set_agent_wallet_with_a_proof() public {
        vm.prank(owner);
        uint256 id = registry.register("u");
        address wallet = vm.addr(WALLET_KEY);
        uint256 deadline = block.timestamp + 60;
        bytes memory proof = walletProof(registry, WALLET_KEY, id, deadline);
        vm.prank(owner);
        registry.setAgentWallet(id, wallet, deadline, proof);
        assertEq(registry.getAgentWallet(id), wallet, "wallet set");
        (bool found, uint256 agent) = registry.getAgentByWallet(wallet);
        assertTrue(found && agent == id, "reverse lookup to the new wallet");
        (found,) = registry.getAgentByWallet(owner);
        assertTrue(!found, "old wallet no longer points here");
    }

    function test_wallet_proof_failures() public {
        vm.prank(owner);
        uint256 id = registry.register("u");
        address wallet = vm.addr(WALLET_KEY);
        uint256 deadline = block.timestamp + 60;
        bytes memory proof = walletProof(registry, WALLET_KEY, id, deadline);

        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IdentityRegistry.NotAuthorized.selector, stranger, id));
        registry.setAgentWallet(id, wallet, deadline, proof);

        // Signed by someone else than the wallet.
        bytes memory forged = walletProof(registry, 0xBEEF, id, deadline);
        vm.prank(owner);
        vm.expectRevert(abi.encodeWithSelector(IdentityRegistry.InvalidWalletSignature.selector, wallet));
        registry.setAgentWallet(id, wallet, deadline, forged);

        uint256 far = block.timestamp + 6 minutes;
        bytes memory farProof = walletProof(registry, WALLET_KEY, id, far);
        vm.prank(owner);
        vm.expectRevert(
            abi.encodeWithSelector(IdentityRegistry.DeadlineTooFar.selector, far, block.timestamp + 5 minutes)
        );
        registry.setAgentWallet(id, wallet, far, farProof);

        vm.warp(deadline + 1);
        vm.prank(owner);
        vm.expectRevert(abi.encodeWithSelector(IdentityRegistry.DeadlineExpired.selector, deadline));
        registry.setAgentWallet(id, wallet, deadline, proof);
    }

    function test_contract_wallet_proves_with_erc1271() public {
        vm.prank(owner);
        uint256 id = registry.register("u");
        OwnedWallet wallet = new OwnedWallet(vm.addr(WALLET_KEY));
        uint256 deadline = block.timestamp + 60;
        // The wallet's owner key signs on behalf of the contract wallet.
        bytes32 structHash =
            keccak256(abi.encode(registry.AGENT_WALLET_SET_TYPEHASH(), id, address(wallet), owner, deadline));
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(WALLET_KEY, walletDigest(registry, structHash));
        vm.prank(owner);
        registry.setAgentWallet(id, address(wallet), deadline, abi.encodePacked(r, s, v));
        assertEq(registry.getAgentWallet(id), address(wallet), "contract wallet set");
    }

    function test_transfer_clears_the_wallet() public {
        vm.prank(owner);
        uint256 id = registry.register("u");
        vm.prank(owner);
        registry.transferFrom(owner, stranger, id);
        assertEq(registry.getAgentWallet(id), address(0), "cleared on transfer");
        (bool found,) = registry.getAgentByWallet(owner);
        assertTrue(!found, "reverse lookup cleared");
        assertEq(registry.ownerOf(id), stranger, "new owner");
    }

    function test_unset_wallet() public {
        vm.prank(owner);
        uint256 id = registry.register("u");
        vm.prank(owner);
        registry.unsetAgentWallet(id);
        assertEq(registry.getAgentWallet(id), address(0), "unset");
    }

    function test_authorization_of_a_missing_agent_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(IERC721Errors.ERC721NonexistentToken.selector, 7));
        registry.isAuthorizedOrOwner(owner, 7);
    }

    function testFuzz_wallet_proof_binds_agent_wallet_owner_and_deadline(uint256 key, uint256 otherAgent)
        public
    {
        key = bound(key, 1, 2 ** 128);
        vm.startPrank(owner);
        uint256 id = registry.register("a");
        registry.register("b");
        vm.stopPrank();
        otherAgent = bound(otherAgent, 0, 1);
        uint256 deadline = block.timestamp + 30;
        bytes memory proof = walletProof(registry, key, otherAgent, deadline);
        address wallet = vm.addr(key);
        vm.prank(owner);
        if (otherAgent == id) {
            registry.setAgentWallet(id, wallet, deadline, proof);
            assertEq(registry.getAgentWallet(id), wallet, "accepted");
        } else {
            // A proof for another agent is not a proof for this one.
            vm.expectRevert(abi.encodeWithSelector(IdentityRegistry.InvalidWalletSignature.selector, wallet));
            registry.setAgentWallet(id, wallet, deadline, proof);
        }
    }
}
