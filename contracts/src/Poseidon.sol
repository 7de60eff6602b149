// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

// The libraries are imported only so that forge compiles them (and the exporter finds their
// artifacts): agora deploys each as a standalone contract and calls it through the interfaces
// below, never by library linking.
// forge-lint: disable-next-line(unused-import)
import {PoseidonT2} from "poseidon-solidity/PoseidonT2.sol";
// forge-lint: disable-next-line(unused-import)
import {PoseidonT3} from "poseidon-solidity/PoseidonT3.sol";
// forge-lint: disable-next-line(unused-import)
import {PoseidonT4} from "poseidon-solidity/PoseidonT4.sol";

/// @notice circomlib's Poseidon over BN254 with one input (width t = 2), as deployed from
/// poseidon-solidity's `PoseidonT2` library. Inputs are reduced mod r; the result is below r.
interface IPoseidonT2 {
    /// @notice Poseidon(input[0]).
    function hash(uint256[1] memory input) external pure returns (uint256);
}

/// @notice circomlib's Poseidon with two inputs (t = 3), as deployed from `PoseidonT3`.
interface IPoseidonT3 {
    /// @notice Poseidon(input[0], input[1]).
    function hash(uint256[2] memory input) external pure returns (uint256);
}

/// @notice circomlib's Poseidon with three inputs (t = 4), as deployed from `PoseidonT4`.
interface IPoseidonT4 {
    /// @notice Poseidon(input[0], input[1], input[2]).
    function hash(uint256[3] memory input) external pure returns (uint256);
}
