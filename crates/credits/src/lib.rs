//! Anonymous pay-per-call credits ("ZK API usage credits" on rate-limiting nullifiers).
//!
//! A buyer deposits into a provider's pool of `ZkCredits.sol`: the price of `N` calls (paid to
//! the provider at once) plus a stake. The contract adds the leaf `Poseidon(Poseidon(secret),
//! N)` to the pool's Merkle tree, computed from what was paid. Each call then carries a
//! Groth16 proof ([`CallProof`]) that *some* member of the pool spends 1–4 fresh tickets
//! `i < N` on this request: the provider learns neither who nor which earlier calls were the
//! same member's. A ticket spent twice on different requests gives two points of one line
//! whose intercept is the member's secret ([`recover_secret`]), and the secret slashes the
//! member's stake on chain. [`prove_exit`] takes the stake back with a proof of membership that
//! names no leaf.
//!
//! Proofs use the circuits and keys bundled with the `rln` crate (depth 20, 16-bit ticket
//! numbers, one or four slots). The contract computes the same values ([`PoolKey`]).

mod book;
mod chain;
mod field;
mod pool;
mod proof;
mod tree;

pub use book::{Held, Recorded, TicketBook, Wallet};
pub use chain::{
    Pool, complete_exit, create_pool, deposit, exit_state, exit_tree, pool, pools, recent_roots,
    request_exit, slash, tree, trees,
};
pub use field::{FIELD_ORDER, from_hex, from_u256, keccak_to_field, to_hex, to_u256};
pub use pool::{MAX_CALLS, MAX_UNITS, PoolKey, TREE_DEPTH, id_commitment, leaf, nullifier, request_signal};
pub use proof::{
    CallProof, CallProver, Credit, ExitProof, Spend, exit_verifying_key, prove_exit, recover_secret, warm_up,
};
pub use rln::prelude::Fr;
pub use tree::PoolTree;

/// What went wrong on our side: a proof we could not make, a tree that does not hold the
/// credit.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The Merkle tree does not have what was asked of it.
    #[error("credit pool tree: {0}")]
    Tree(String),
    /// The prover refused the inputs.
    #[error("could not make the proof: {0}")]
    Prove(String),
    /// The chain refused or could not be reached.
    #[error("{0}")]
    Chain(String),
    /// Stored data does not parse.
    #[error("malformed {0}")]
    Malformed(String),
}

/// Why a provider refuses a call's proof. Each has a stable reason code for the 402 answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The payload does not parse or breaks the format.
    #[error("malformed credit proof: {0}")]
    Malformed(String),
    /// The proof is for another pool (another provider, contract or chain).
    #[error("the proof is for another pool")]
    WrongPool,
    /// The root is not among the pool's recent roots.
    #[error("the proof's root is not a recent root of the pool")]
    UnknownRoot,
    /// The pairing check fails: a forged or altered proof.
    #[error("the proof does not verify")]
    InvalidProof,
    /// A ticket was spent before on this very request.
    #[error("a ticket of this proof was already spent")]
    Replayed,
    /// A ticket was spent before on another request: the member's secret is now known.
    #[error("a ticket of this proof was spent on another request: the stake will be slashed")]
    DoubleSpent,
}

impl Refusal {
    /// The reason code a 402 carries (`invalid_credit_*`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "invalid_credit_payload",
            Self::WrongPool => "invalid_credit_pool",
            Self::UnknownRoot => "invalid_credit_root",
            Self::InvalidProof => "invalid_credit_proof",
            Self::Replayed => "credit_ticket_replayed",
            Self::DoubleSpent => "credit_ticket_double_spent",
        }
    }
}
