// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {ERC721URIStorage} from "@openzeppelin/contracts/token/ERC721/extensions/ERC721URIStorage.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";

/// @title IdentityRegistry
/// @notice ERC-8004 v2 Identity Registry: every agent is an ERC-721 token whose URI points to its
/// registration file. Function and event signatures are exactly ERC-8004's, so other ERC-8004 tools
/// can read it. Beyond the reference: a reverse lookup from an agent wallet to its agent, and a
/// count of agents for paginated discovery. Agent ids start at 0; 0 is a real agent, never "none".
contract IdentityRegistry is ERC721URIStorage, EIP712 {
    struct MetadataEntry {
        string metadataKey;
        bytes metadataValue;
    }

    /// @notice EIP-712 type of the proof that a wallet accepts to be an agent's wallet.
    bytes32 public constant AGENT_WALLET_SET_TYPEHASH =
        keccak256("AgentWalletSet(uint256 agentId,address newWallet,address owner,uint256 deadline)");
    /// @notice How far in the future a wallet proof's deadline may be.
    uint256 public constant MAX_WALLET_PROOF_WINDOW = 5 minutes;
    string private constant AGENT_WALLET_KEY = "agentWallet";

    uint256 private _nextId;
    mapping(uint256 agentId => mapping(string key => bytes value)) private _metadata;
    /// @dev wallet => agentId + 1 of the agent that most recently took it as its wallet (0: none).
    mapping(address wallet => uint256 agentIdPlusOne) private _agentOfWallet;

    event Registered(uint256 indexed agentId, string agentURI, address indexed owner);
    event MetadataSet(
        uint256 indexed agentId, string indexed indexedMetadataKey, string metadataKey, bytes metadataValue
    );
    event URIUpdated(uint256 indexed agentId, string newURI, address indexed updatedBy);

    error NotAuthorized(address caller, uint256 agentId);
    error ReservedKey(string key);
    error DeadlineExpired(uint256 deadline);
    error DeadlineTooFar(uint256 deadline, uint256 latest);
    error InvalidWalletSignature(address wallet);
    error ZeroWallet();

    constructor() ERC721("AgentIdentity", "AGENT") EIP712("ERC8004IdentityRegistry", "1") {}

    /// @notice The ERC-8004 version this registry implements.
    function getVersion() external pure returns (string memory) {
        return "2.0.0";
    }

    /// @notice Registers an agent with a registration-file URI and extra metadata.
    function register(string calldata agentURI, MetadataEntry[] calldata metadata)
        external
        returns (uint256 agentId)
    {
        agentId = _register(agentURI);
        for (uint256 i = 0; i < metadata.length; i++) {
            _setMetadata(agentId, metadata[i].metadataKey, metadata[i].metadataValue);
        }
    }

    /// @notice Registers an agent with a registration-file URI.
    function register(string calldata agentURI) external returns (uint256 agentId) {
        agentId = _register(agentURI);
    }

    /// @notice Registers an agent whose URI is set later.
    function register() external returns (uint256 agentId) {
        agentId = _register("");
    }

    /// @notice Number of agents ever registered; ids are 0 .. totalAgents() - 1.
    function totalAgents() external view returns (uint256) {
        return _nextId;
    }

    /// @notice Points the agent at a new registration file.
    function setAgentURI(uint256 agentId, string calldata newURI) external {
        _requireAuthorized(agentId);
        _setTokenURI(agentId, newURI);
        emit URIUpdated(agentId, newURI, msg.sender);
    }

    function getMetadata(uint256 agentId, string memory metadataKey) external view returns (bytes memory) {
        return _metadata[agentId][metadataKey];
    }

    /// @notice Sets a metadata entry; `agentWallet` is reserved (see `setAgentWallet`).
    function setMetadata(uint256 agentId, string memory metadataKey, bytes memory metadataValue) external {
        _requireAuthorized(agentId);
        _setMetadata(agentId, metadataKey, metadataValue);
    }

    /// @notice Sets the agent's payout wallet, proven by the wallet's own EIP-712 signature
    /// (ECDSA for EOAs, ERC-1271 for contract wallets) over
    /// `AgentWalletSet(agentId, newWallet, owner, deadline)`, with a deadline at most 5 minutes ahead.
    function setAgentWallet(uint256 agentId, address newWallet, uint256 deadline, bytes calldata signature)
        external
    {
        _requireAuthorized(agentId);
        if (newWallet == address(0)) revert ZeroWallet();
        if (block.timestamp > deadline) revert DeadlineExpired(deadline);
        if (deadline > block.timestamp + MAX_WALLET_PROOF_WINDOW) {
            revert DeadlineTooFar(deadline, block.timestamp + MAX_WALLET_PROOF_WINDOW);
        }
        bytes32 digest = _hashTypedDataV4(
            keccak256(abi.encode(AGENT_WALLET_SET_TYPEHASH, agentId, newWallet, ownerOf(agentId), deadline))
        );
        if (!SignatureChecker.isValidSignatureNow(newWallet, digest, signature)) {
            revert InvalidWalletSignature(newWallet);
        }
        _setWallet(agentId, newWallet);
    }

    /// @notice The agent's wallet, or the zero address when none is set.
    function getAgentWallet(uint256 agentId) public view returns (address) {
        bytes memory raw = _metadata[agentId][AGENT_WALLET_KEY];
        if (raw.length != 20) return address(0);
        // forge-lint: disable-next-line(unsafe-typecast)
        return address(bytes20(raw));
    }

    function unsetAgentWallet(uint256 agentId) external {
        _requireAuthorized(agentId);
        _setWallet(agentId, address(0));
    }

    /// @notice Reverse lookup: the agent that most recently took `wallet` as its wallet.
    function getAgentByWallet(address wallet) external view returns (bool found, uint256 agentId) {
        uint256 plusOne = _agentOfWallet[wallet];
        if (plusOne == 0) return (false, 0);
        return (true, plusOne - 1);
    }

    /// @notice Whether `spender` is the agent's owner, an operator of the owner, or approved for it.
    /// Reverts for an agent that does not exist.
    function isAuthorizedOrOwner(address spender, uint256 agentId) public view returns (bool) {
        address owner = ownerOf(agentId);
        return spender == owner || isApprovedForAll(owner, spender) || getApproved(agentId) == spender;
    }

    function _register(string memory uri) private returns (uint256 agentId) {
        agentId = _nextId++;
        _safeMint(msg.sender, agentId);
        if (bytes(uri).length != 0) _setTokenURI(agentId, uri);
        emit Registered(agentId, uri, msg.sender);
        _setWallet(agentId, msg.sender);
    }

    function _setMetadata(uint256 agentId, string memory key, bytes memory value) private {
        if (keccak256(bytes(key)) == keccak256(bytes(AGENT_WALLET_KEY))) revert ReservedKey(key);
        _metadata[agentId][key] = value;
        emit MetadataSet(agentId, key, key, value);
    }

    function _setWallet(uint256 agentId, address wallet) private {
        address previous = getAgentWallet(agentId);
        if (previous != address(0) && _agentOfWallet[previous] == agentId + 1) {
            delete _agentOfWallet[previous];
        }
        bytes memory value = wallet == address(0) ? bytes("") : abi.encodePacked(wallet);
        _metadata[agentId][AGENT_WALLET_KEY] = value;
        if (wallet != address(0)) _agentOfWallet[wallet] = agentId + 1;
        emit MetadataSet(agentId, AGENT_WALLET_KEY, AGENT_WALLET_KEY, value);
    }

    function _requireAuthorized(uint256 agentId) private view {
        if (!isAuthorizedOrOwner(msg.sender, agentId)) revert NotAuthorized(msg.sender, agentId);
    }

    /// @dev A transfer (not a mint) clears the wallet: the new owner must prove one again.
    function _update(address to, uint256 tokenId, address auth) internal override returns (address from) {
        from = super._update(to, tokenId, auth);
        if (from != address(0) && to != address(0) && getAgentWallet(tokenId) != address(0)) {
            _setWallet(tokenId, address(0));
        }
    }
}
