// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {IDepositCollector} from "../../src/DepositCollector.sol";

/// @dev A contract wallet (ERC-1271) that accepts what its owner key signs.
contract MockWallet {
    address public immutable owner;

    constructor(address owner_) {
        owner = owner_;
    }

    function isValidSignature(bytes32 digest, bytes calldata signature) external view returns (bytes4) {
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecoverCalldata(digest, signature);
        return
            err == ECDSA.RecoverError.NoError && signer == owner ? this.isValidSignature.selector : bytes4(0);
    }

    function approve(IERC20 token, address spender, uint256 amount) external {
        token.approve(spender, amount);
    }
}

/// @dev A collector that sends `amount + delta` (delta may be negative) of its own tokens.
contract SkewedCollector is IDepositCollector {
    int256 public immutable delta;

    constructor(int256 delta_) {
        delta = delta_;
    }

    function collect(address, address token, uint256 amount, bytes32, bytes calldata) external {
        IERC20(token).transfer(msg.sender, uint256(int256(amount) + delta));
    }
}

/// @dev A collector that calls back into the settlement contract (`data` is the call).
contract ReentrantCollector is IDepositCollector {
    function collect(address, address token, uint256 amount, bytes32, bytes calldata data) external {
        (bool ok, bytes memory returned) = msg.sender.call(data);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(returned, 32), mload(returned))
            }
        }
        IERC20(token).transfer(msg.sender, amount);
    }
}

/// @dev A token whose `transferFrom` calls `target` with `data` first (to try re-entering).
contract HookedToken {
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;
    address public target;
    bytes public data;

    function arm(address target_, bytes calldata data_) external {
        target = target_;
        data = data_;
    }

    function mint(address to, uint256 amount) external {
        balanceOf[to] += amount;
    }

    function approve(address spender, uint256 amount) external returns (bool) {
        allowance[msg.sender][spender] = amount;
        return true;
    }

    function transfer(address to, uint256 amount) external returns (bool) {
        balanceOf[msg.sender] -= amount;
        balanceOf[to] += amount;
        return true;
    }

    function transferFrom(address from, address to, uint256 amount) external returns (bool) {
        if (target != address(0)) {
            (bool ok, bytes memory returned) = target.call(data);
            if (!ok) {
                assembly ("memory-safe") {
                    revert(add(returned, 32), mload(returned))
                }
            }
        }
        allowance[from][msg.sender] -= amount;
        balanceOf[from] -= amount;
        balanceOf[to] += amount;
        return true;
    }
}
