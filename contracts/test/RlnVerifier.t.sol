// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {ZkCreditsTest} from "./utils/ZkCreditsTest.sol";

/// @notice The RLN single-circuit verifier against the fixture the Rust `rln` crate wrote: its
/// verifying key, and one real exit proof.
contract RlnVerifierTest is ZkCreditsTest {
    /// A failing precompile burns the gas it was given, so calls expected to fail get a budget.
    uint256 internal constant BUDGET = 1_000_000;

    function setUp() public {
        setUpCredits();
    }

    /// `verifyProof` with `BUDGET` gas: it must return, and return false.
    function assertFails(uint256[8] memory proof, uint256[5] memory input, string memory message)
        internal
        view
    {
        assertTrue(!verifier.verifyProof{gas: BUDGET}(proof, input), message);
    }

    function fixtureInputs() internal view returns (uint256[5] memory) {
        return [fx(".exit.y"), fx(".exit.root"), fx(".exit.nullifier"), fx(".exit.signal"), fx(".exitScope")];
    }

    function assertPoint(uint256[2] memory point, string memory key) internal view {
        uint256[] memory expected = vmz.parseJsonUintArray(fixture, key);
        assertEq(expected.length, 2, key);
        assertEq(point[0], expected[0], key);
        assertEq(point[1], expected[1], key);
    }

    function assertG2(uint256[2][2] memory point, string memory key) internal view {
        assertPoint(point[0], string.concat(key, "[0]"));
        assertPoint(point[1], string.concat(key, "[1]"));
    }

    function test_verifying_key_equals_the_fixture() public view {
        (
            uint256[2] memory alpha,
            uint256[2][2] memory beta,
            uint256[2][2] memory gamma,
            uint256[2][2] memory delta,
            uint256[2][6] memory ic
        ) = verifier.verifyingKey();
        assertPoint(alpha, ".verifyingKey.alpha");
        assertG2(beta, ".verifyingKey.beta");
        assertG2(gamma, ".verifyingKey.gamma");
        assertG2(delta, ".verifyingKey.delta");
        for (uint256 i = 0; i < 6; i++) {
            assertPoint(ic[i], string.concat(".verifyingKey.ic[", digit(i), "]"));
        }
        assertEq(verifier.R(), R, "R");
        assertEq(verifier.Q(), Q, "Q");
    }

    /// "0" to "9" (the key has six points).
    function digit(uint256 i) internal pure returns (string memory) {
        require(i < 10, "one digit");
        // forge-lint: disable-next-line(unsafe-typecast)
        return string(abi.encodePacked(bytes1(uint8(48 + i))));
    }

    function test_fixture_proof_verifies() public view {
        assertTrue(verifier.verifyProof(fixtureProof(), fixtureInputs()), "the fixture's exit proof verifies");
    }

    function test_gas_of_a_verification() public {
        uint256[8] memory proof = fixtureProof();
        uint256[5] memory input = fixtureInputs();
        uint256 before = gasleft();
        bool ok = verifier.verifyProof(proof, input);
        uint256 used = before - gasleft();
        assertTrue(ok, "verifies");
        emit log_named_uint("verifyProof gas (call from a contract)", used);
        assertLe(used, 260_000, "one verification stays under 260k gas");
    }

    function test_fixture_signal_is_the_exit_signal() public view {
        uint256 x = uint256(keccak256(abi.encode(uint256(1), fixtureReceiver()))) % R;
        assertEq(x, fx(".exit.signal"), "x = keccak256(abi.encode(poolId, receiver)) mod R");
    }

    function test_changing_any_input_fails() public view {
        uint256[8] memory proof = fixtureProof();
        for (uint256 i = 0; i < 5; i++) {
            uint256[5] memory input = fixtureInputs();
            input[i] = addmod(input[i], 1, R);
            assertFails(proof, input, "input + 1 fails");
            input = fixtureInputs();
            input[i] = 0;
            assertFails(proof, input, "input 0 fails");
        }
    }

    function test_inputs_not_below_r_return_false() public view {
        uint256[8] memory proof = fixtureProof();
        for (uint256 i = 0; i < 5; i++) {
            uint256[5] memory input = fixtureInputs();
            // The same value mod R: the precompile would accept it, the check must not.
            input[i] += R;
            assertFails(proof, input, "input + R is refused");
        }
    }

    function test_changing_any_proof_word_fails_without_reverting() public view {
        uint256[5] memory input = fixtureInputs();
        for (uint256 i = 0; i < 8; i++) {
            uint256[8] memory proof = fixtureProof();
            proof[i] = addmod(proof[i], 1, Q);
            assertFails(proof, input, "word + 1 fails");
            proof = fixtureProof();
            proof[i] += Q;
            assertFails(proof, input, "word + Q is refused");
        }
    }

    function test_negated_a_fails() public view {
        uint256[8] memory proof = fixtureProof();
        proof[1] = Q - proof[1];
        assertFails(proof, fixtureInputs(), "-A fails");
    }

    function test_zero_proof_fails() public view {
        uint256[8] memory proof;
        uint256[5] memory input;
        assertFails(proof, input, "all zero fails");
        assertFails(proof, fixtureInputs(), "zero proof fails");
    }

    function testFuzz_random_proofs_fail(uint256[8] memory proof, uint256[5] memory input) public view {
        assertFails(proof, input, "a random proof fails");
    }

    function testFuzz_random_inputs_fail(uint256[5] memory input) public view {
        for (uint256 i = 0; i < 5; i++) {
            input[i] %= R;
        }
        uint256[5] memory real = fixtureInputs();
        vm.assume(
            input[0] != real[0] || input[1] != real[1] || input[2] != real[2] || input[3] != real[3]
                || input[4] != real[4]
        );
        assertFails(fixtureProof(), input, "the proof fails for other inputs");
    }
}
