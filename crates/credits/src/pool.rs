//! A credit pool's values, computed exactly as `ZkCredits.sol` computes them.

use alloy::primitives::{Address, U256};
use rln::prelude::{Fr, Hasher, PoseidonHash, SecretFr};
use serde::{Deserialize, Serialize};

use crate::field::{address_word, encode_words, keccak_to_field};

/// The depth of every pool's Merkle tree (the bundled circuits' depth): 2^20 deposits.
pub const TREE_DEPTH: usize = 20;

/// The most units one call can burn: the bundled multi-message-id circuit has four slots.
pub const MAX_UNITS: usize = 4;

/// The most calls one deposit can buy: the circuits range-check ticket numbers in 16 bits.
pub const MAX_CALLS: u32 = 1 << 16;

/// The epoch of call tickets and the epoch of the exit ticket: two scopes of one pool.
const CALL_EPOCH: u64 = 0;
const EXIT_EPOCH: u64 = 1;

/// Which pool of which contract on which chain: everything a proof is scoped to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PoolKey {
    /// The chain's id.
    pub chain_id: u64,
    /// The `ZkCredits` contract.
    pub contract: Address,
    /// The pool's number in the contract.
    pub pool_id: U256,
}

impl PoolKey {
    /// `keccak256(abi.encode(chainid, contract, poolId)) mod r`: RLN's application identifier.
    pub fn rln_identifier(&self) -> Fr {
        keccak_to_field(&encode_words(&[
            U256::from(self.chain_id),
            address_word(self.contract),
            self.pool_id,
        ]))
    }

    /// The external nullifier of call tickets: `Poseidon(0, rlnIdentifier)`.
    pub fn call_scope(&self) -> Fr {
        Hasher::<PoseidonHash>::hash_pair(Fr::from(CALL_EPOCH), self.rln_identifier())
    }

    /// The external nullifier of the exit ticket: `Poseidon(1, rlnIdentifier)`.
    pub fn exit_scope(&self) -> Fr {
        Hasher::<PoseidonHash>::hash_pair(Fr::from(EXIT_EPOCH), self.rln_identifier())
    }

    /// The signal an exit proof carries: `keccak256(abi.encode(poolId, receiver)) mod r`. It
    /// binds the receiver, so a copied proof cannot pay anyone else.
    pub fn exit_signal(&self, receiver: Address) -> Fr {
        keccak_to_field(&encode_words(&[self.pool_id, address_word(receiver)]))
    }
}

/// The leaf a deposit adds: `Poseidon(Poseidon(secret), calls)` (RLN's rate commitment).
pub fn leaf(id_commitment: Fr, calls: u32) -> Fr {
    Hasher::<PoseidonHash>::hash_pair(id_commitment, Fr::from(calls))
}

/// The nullifier of ticket `ticket` in `scope`: `Poseidon(Poseidon(secret, scope, ticket))`.
pub fn nullifier(secret: &SecretFr, scope: Fr, ticket: u32) -> Fr {
    let slope = PoseidonHash::hash_many(&[**secret, scope, Fr::from(ticket)]);
    Hasher::<PoseidonHash>::hash_single(slope)
}

trait HashMany {
    fn hash_many(inputs: &[Fr]) -> Fr;
}

impl HashMany for PoseidonHash {
    fn hash_many(inputs: &[Fr]) -> Fr {
        <PoseidonHash as zerokit_utils::hasher::ZerokitHasher>::hash(inputs)
    }
}

/// `Poseidon(secret)`: a member's identity commitment.
pub fn id_commitment(secret: &SecretFr) -> Fr {
    Hasher::<PoseidonHash>::hash_single(**secret)
}

/// The signal a call's proof is made over: `keccak256("{METHOD} {path}\n" ‖ body) mod r`. It
/// binds the proof to this request: the same ticket on another request gives a second point of
/// the member's line (and away its secret); the same request again is a replay.
pub fn request_signal(method: &str, path: &str, body: &[u8]) -> Fr {
    let mut bytes = Vec::with_capacity(method.len() + path.len() + 2 + body.len());
    bytes.extend_from_slice(method.as_bytes());
    bytes.push(b' ');
    bytes.extend_from_slice(path.as_bytes());
    bytes.push(b'\n');
    bytes.extend_from_slice(body);
    crate::field::keccak_to_field(&bytes)
}
