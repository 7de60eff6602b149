// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

/// @title RlnVerifier
/// @notice A Groth16 verifier over BN254 for the RLN "single" circuit (depth-20 tree, one
/// message id) that `ZkCredits` checks exit proofs with. Its five public inputs, in the
/// circuit's order, are `[y, root, nullifier, x, externalNullifier]`.
///
/// The check is the usual one: with `vk_x = IC0 + Σ input_i · IC_{i+1}` (precompiles 0x07 and
/// 0x06), the pairing (precompile 0x08) `e(-A, B) · e(alpha, beta) · e(vk_x, gamma) · e(C, delta)`
/// must be 1.
///
/// Invalid input never reverts: a public input at or above the scalar field order `R`, a proof
/// coordinate at or above the base field order `Q`, a point off the curve or outside its
/// subgroup (which the precompiles refuse) all make `verifyProof` return false. A precompile
/// that refuses its input consumes the gas forwarded to it (all but 1/64 of what is left), so a
/// call with an invalid point returns false having spent most of its gas.
///
/// @dev The verifying key is the one the `rln` crate bundles for this circuit (see
/// contracts/test/fixtures/zk-credits.json). G2 coordinates are kept in the EVM's order, the
/// imaginary part first: `X1` is c1, `X0` is c0.
contract RlnVerifier {
    /// @notice The order of BN254's scalar field: public inputs must be below it.
    uint256 public constant R = 21888242871839275222246405745257275088548364400416034343698204186575808495617;
    /// @notice The order of BN254's base field: proof coordinates must be below it.
    uint256 public constant Q = 21888242871839275222246405745257275088696311157297823662689037894645226208583;

    uint256 internal constant ALPHA_X =
        20491192805390485299153009773594534940189261866228447918068658471970481763042;
    uint256 internal constant ALPHA_Y =
        9383485363053290200918347156157836566562967994039712273449902621266178545958;
    uint256 internal constant BETA_X1 =
        4252822878758300859123897981450591353533073413197771768651442665752259397132;
    uint256 internal constant BETA_X0 =
        6375614351688725206403948262868962793625744043794305715222011528459656738731;
    uint256 internal constant BETA_Y1 =
        21847035105528745403288232691147584728191162732299865338377159692350059136679;
    uint256 internal constant BETA_Y0 =
        10505242626370262277552901082094356697409835680220590971873171140371331206856;
    uint256 internal constant GAMMA_X1 =
        11559732032986387107991004021392285783925812861821192530917403151452391805634;
    uint256 internal constant GAMMA_X0 =
        10857046999023057135944570762232829481370756359578518086990519993285655852781;
    uint256 internal constant GAMMA_Y1 =
        4082367875863433681332203403145435568316851327593401208105741076214120093531;
    uint256 internal constant GAMMA_Y0 =
        8495653923123431417604973247489272438418190587263600148770280649306958101930;
    uint256 internal constant DELTA_X1 =
        14030085636943255545683322474441991939484590437387381169642530788494152024614;
    uint256 internal constant DELTA_X0 =
        17077735495685170943380938230836408503627170115414840315502244846025577589191;
    uint256 internal constant DELTA_Y1 =
        1838524899938769516485895655063198583192139511330418290063560641219523306282;
    uint256 internal constant DELTA_Y0 =
        11568745146423307387256571230823432454624378106569286849514884592874522611163;
    uint256 internal constant IC0_X =
        4920513730204767532050733107749276406754520419375654722016092399980613788208;
    uint256 internal constant IC0_Y =
        10950491564509418434657706642388934308456795265036074733953533582377584967294;
    uint256 internal constant IC1_X =
        6815064660695497986531118446154820702646540722664044216580897159556261271171;
    uint256 internal constant IC1_Y =
        17838140936832571103329556013529166877877534025488014783346458943575275015438;
    uint256 internal constant IC2_X =
        16364982450206976302246609763791333525052810246590359380676749324389440643932;
    uint256 internal constant IC2_Y =
        17092624338100676284548565502349491320314889021833923882585524649862570629227;
    uint256 internal constant IC3_X =
        3679639231485547795420532910726924727560917141402837495597760107842698404034;
    uint256 internal constant IC3_Y =
        16213191511474848247596810551723578773353083440353745908057321946068926848382;
    uint256 internal constant IC4_X =
        9215428431027260354679105025212521481930206886203677270216204485256690813172;
    uint256 internal constant IC4_Y =
        934602510541226149881779979217731465262250233587980565969044391353665291792;
    uint256 internal constant IC5_X =
        8935861545794299876685457331391349387048184820319250771243971382360441890897;
    uint256 internal constant IC5_Y =
        4993459033694759724715904486381952906869986989682015547152342336961693234616;

    /// @notice Whether `proof` proves the RLN single circuit with public inputs `input`
    /// (`[y, root, nullifier, x, externalNullifier]`); false for any invalid input (never reverts).
    /// @param proof `[a.x, a.y, b.x.c1, b.x.c0, b.y.c1, b.y.c0, c.x, c.y]`: G2 coordinates with the
    /// imaginary part first, as the pairing precompile takes them.
    /// @param input The five public inputs, each below `R`.
    function verifyProof(uint256[8] calldata proof, uint256[5] calldata input) external view returns (bool) {
        for (uint256 i = 0; i < 8; ++i) {
            if (proof[i] >= Q) return false;
        }
        for (uint256 i = 0; i < 5; ++i) {
            if (input[i] >= R) return false;
        }
        bool ok;
        assembly ("memory-safe") {
            // acc += s · (x, y), with acc at mem and scratch at mem + 0x40 .. mem + 0xa0.
            function addTerm(mem, x, y, s) -> success {
                mstore(add(mem, 0x40), x)
                mstore(add(mem, 0x60), y)
                mstore(add(mem, 0x80), s)
                success := staticcall(gas(), 0x07, add(mem, 0x40), 0x60, add(mem, 0x40), 0x40)
                if success { success := staticcall(gas(), 0x06, mem, 0x80, mem, 0x40) }
            }

            let m := mload(0x40)
            mstore(m, IC0_X)
            mstore(add(m, 0x20), IC0_Y)
            ok := addTerm(m, IC1_X, IC1_Y, calldataload(input))
            ok := and(ok, addTerm(m, IC2_X, IC2_Y, calldataload(add(input, 0x20))))
            ok := and(ok, addTerm(m, IC3_X, IC3_Y, calldataload(add(input, 0x40))))
            ok := and(ok, addTerm(m, IC4_X, IC4_Y, calldataload(add(input, 0x60))))
            ok := and(ok, addTerm(m, IC5_X, IC5_Y, calldataload(add(input, 0x80))))

            // The pairing's input: four (G1, G2) pairs of 0xc0 bytes each.
            let p := add(m, 0xc0)
            // -A: the y coordinate negated (zero stays zero).
            mstore(p, calldataload(proof))
            mstore(add(p, 0x20), mod(sub(Q, calldataload(add(proof, 0x20))), Q))
            // B, as given.
            calldatacopy(add(p, 0x40), add(proof, 0x40), 0x80)
            // alpha, beta
            mstore(add(p, 0xc0), ALPHA_X)
            mstore(add(p, 0xe0), ALPHA_Y)
            mstore(add(p, 0x100), BETA_X1)
            mstore(add(p, 0x120), BETA_X0)
            mstore(add(p, 0x140), BETA_Y1)
            mstore(add(p, 0x160), BETA_Y0)
            // vk_x, gamma
            mstore(add(p, 0x180), mload(m))
            mstore(add(p, 0x1a0), mload(add(m, 0x20)))
            mstore(add(p, 0x1c0), GAMMA_X1)
            mstore(add(p, 0x1e0), GAMMA_X0)
            mstore(add(p, 0x200), GAMMA_Y1)
            mstore(add(p, 0x220), GAMMA_Y0)
            // C, delta
            calldatacopy(add(p, 0x240), add(proof, 0xc0), 0x40)
            mstore(add(p, 0x280), DELTA_X1)
            mstore(add(p, 0x2a0), DELTA_X0)
            mstore(add(p, 0x2c0), DELTA_Y1)
            mstore(add(p, 0x2e0), DELTA_Y0)

            if ok {
                ok := staticcall(gas(), 0x08, p, 0x300, p, 0x20)
                ok := and(ok, eq(mload(p), 1))
            }
        }
        return ok;
    }

    /// @notice The verifying key, laid out as in the fixture: `alpha` is (x, y); each G2 point
    /// is `[[x.c1, x.c0], [y.c1, y.c0]]`; `ic` holds the six G1 points IC0..IC5.
    function verifyingKey()
        external
        pure
        returns (
            uint256[2] memory alpha,
            uint256[2][2] memory beta,
            uint256[2][2] memory gamma,
            uint256[2][2] memory delta,
            uint256[2][6] memory ic
        )
    {
        alpha = [ALPHA_X, ALPHA_Y];
        beta = [[BETA_X1, BETA_X0], [BETA_Y1, BETA_Y0]];
        gamma = [[GAMMA_X1, GAMMA_X0], [GAMMA_Y1, GAMMA_Y0]];
        delta = [[DELTA_X1, DELTA_X0], [DELTA_Y1, DELTA_Y0]];
        ic = [[IC0_X, IC0_Y], [IC1_X, IC1_Y], [IC2_X, IC2_Y], [IC3_X, IC3_Y], [IC4_X, IC4_Y], [IC5_X, IC5_Y]];
    }
}
