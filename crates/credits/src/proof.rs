//! Proofs: a call's ticket spend (multi-message-id circuit, off chain) and the exit (single
//! circuit, checked on chain by `RlnVerifier.sol`).

use std::sync::LazyLock;

use alloy::primitives::{Address, U256};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use rln::prelude::{
    ArkGroth16Backend, Fr, PartialProof, PoseidonHash, Proof, RLN, RLNBuilder, RLNMerkleProof,
    RLNPartialWitnessInput, RLNProofValues, RLNWitnessInput, SecretFr, Stateless, default_graph_multi,
    default_zkey_multi,
};
use serde::{Deserialize, Serialize};

use crate::{
    Error, Refusal,
    field::{from_hex, to_hex, to_u256},
    pool::{MAX_UNITS, PoolKey, leaf},
    tree::PoolTree,
};

type Backend = RLN<Stateless, ArkGroth16Backend<PoseidonHash>>;

/// The single-ticket circuit (exits), its keys parsed once.
static SINGLE: LazyLock<Backend> = LazyLock::new(|| RLNBuilder::stateless().build());

/// The four-slot circuit (calls of 1–4 units), its keys parsed once.
static MULTI: LazyLock<Backend> = LazyLock::new(|| {
    RLNBuilder::stateless().graph(default_graph_multi().clone()).zkey(default_zkey_multi().clone()).build()
});

/// Parses both circuits' keys now rather than on the first call (about 10 ms each).
pub fn warm_up() {
    LazyLock::force(&SINGLE);
    LazyLock::force(&MULTI);
}

/// A deposit's secret and where its leaf sits: what a buyer keeps (and never shows).
#[derive(Clone)]
pub struct Credit {
    /// The pool it was bought in.
    pub key: PoolKey,
    secret: SecretFr,
    /// Calls (units) the deposit bought: ticket numbers run from 0 below it.
    pub calls: u32,
    /// The leaf's index in the pool's tree.
    pub leaf_index: usize,
}

impl std::fmt::Debug for Credit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credit")
            .field("key", &self.key)
            .field("calls", &self.calls)
            .field("leaf_index", &self.leaf_index)
            .finish_non_exhaustive()
    }
}

impl Credit {
    /// A fresh random secret for a deposit of `calls` in `key`'s pool (its leaf index is set
    /// once the deposit is on chain).
    pub fn generate(key: PoolKey, calls: u32) -> Self {
        let secret = SecretFr::rand(&mut rand::thread_rng());
        Self { key, secret, calls, leaf_index: usize::MAX }
    }

    /// A credit from its stored secret.
    pub fn from_secret_hex(key: PoolKey, secret: &str, calls: u32, leaf_index: usize) -> Result<Self, Error> {
        let mut value = from_hex(secret).ok_or_else(|| Error::Malformed("the stored secret".into()))?;
        Ok(Self { key, secret: SecretFr::from(&mut value), calls, leaf_index })
    }

    /// The secret in hex, for the buyer's own store (0600); never log it.
    pub fn secret_hex(&self) -> String {
        to_hex(&self.secret)
    }

    /// `Poseidon(secret)`: what the deposit registers.
    pub fn id_commitment(&self) -> Fr {
        crate::pool::id_commitment(&self.secret)
    }

    /// The deposit's leaf.
    pub fn leaf(&self) -> Fr {
        leaf(self.id_commitment(), self.calls)
    }

    /// The deposit's leaf in the pool's exit tree: `Poseidon(idCommitment, 1)`.
    pub fn exit_leaf(&self) -> Fr {
        leaf(self.id_commitment(), 1)
    }

    /// The exit ticket's nullifier: the contract refuses a second exit with it.
    pub fn exit_nullifier(&self) -> Fr {
        crate::pool::nullifier(&self.secret, self.key.exit_scope(), 0)
    }
}

/// A credit readied for calls: its path to one root and the half of the proof that does not
/// depend on the request, computed once (the slow part) so each call only finishes a proof.
pub struct CallProver {
    credit: Credit,
    path: RLNMerkleProof,
    root: Fr,
    partial: PartialProof,
}

impl std::fmt::Debug for CallProver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallProver").field("credit", &self.credit).finish_non_exhaustive()
    }
}

impl CallProver {
    /// Precomputes the request-independent part of a proof against `tree`'s current root.
    pub fn prepare(credit: &Credit, tree: &PoolTree) -> Result<Self, Error> {
        if tree.leaf(credit.leaf_index) != Some(credit.leaf()) {
            return Err(Error::Tree(format!(
                "leaf {} of the pool is not this credit's deposit",
                credit.leaf_index
            )));
        }
        let path = tree.path(credit.leaf_index)?;
        let partial_witness = RLNPartialWitnessInput::new()
            .identity_secret(credit.secret.clone())
            .user_message_limit(Fr::from(credit.calls))
            .merkle_proof(path.clone())
            .build()
            .map_err(|e| Error::Prove(e.to_string()))?;
        let partial =
            MULTI.generate_partial_proof(&partial_witness).map_err(|e| Error::Prove(e.to_string()))?;
        Ok(Self { credit: credit.clone(), path, root: tree.root(), partial })
    }

    /// The root this prover proves membership against.
    pub fn root(&self) -> Fr {
        self.root
    }

    /// The credit it spends.
    pub fn credit(&self) -> &Credit {
        &self.credit
    }

    /// Spends `tickets` (1–4 distinct numbers below the credit's calls) on the request whose
    /// signal is `x`.
    pub fn prove(&self, x: Fr, tickets: &[u32]) -> Result<CallProof, Error> {
        if tickets.is_empty() || tickets.len() > MAX_UNITS {
            return Err(Error::Prove(format!(
                "a call spends 1 to {MAX_UNITS} tickets, not {}",
                tickets.len()
            )));
        }
        let mut message_ids: Vec<Fr> = tickets.iter().map(|&t| Fr::from(t)).collect();
        let selector_used: Vec<bool> = (0..MAX_UNITS).map(|i| i < tickets.len()).collect();
        message_ids.resize(MAX_UNITS, Fr::from(0u64));
        let witness = RLNWitnessInput::new_multi()
            .identity_secret(self.credit.secret.clone())
            .user_message_limit(Fr::from(self.credit.calls))
            .merkle_proof(self.path.clone())
            .x(x)
            .external_nullifier(self.credit.key.call_scope())
            .message_ids(message_ids)
            .selector_used(selector_used)
            .build()
            .map_err(|e| Error::Prove(e.to_string()))?;
        let (proof, values) =
            MULTI.finish_proof(&self.partial, &witness).map_err(|e| Error::Prove(e.to_string()))?;
        let (Some(nullifiers), Some(ys)) = (values.nullifiers(), values.ys()) else {
            return Err(Error::Prove("the four-slot circuit gave single-ticket values".into()));
        };
        let used = tickets.len();
        let mut bytes = Vec::with_capacity(128);
        proof.serialize_compressed(&mut bytes).map_err(|e| Error::Prove(e.to_string()))?;
        Ok(CallProof {
            root: to_hex(&values.root()),
            scope: to_hex(&values.external_nullifier()),
            nullifiers: nullifiers[..used].iter().map(to_hex).collect(),
            ys: ys[..used].iter().map(to_hex).collect(),
            proof: alloy::hex::encode_prefixed(bytes),
        })
    }
}

/// What a call carries: a proof that an unnamed member of the pool spends `nullifiers.len()`
/// fresh tickets on this request. Every value is a field element in `0x` hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CallProof {
    /// The pool root the membership is proven against.
    pub root: String,
    /// The external nullifier (the pool's call scope).
    pub scope: String,
    /// One nullifier per ticket spent.
    pub nullifiers: Vec<String>,
    /// One share of the member's secret per ticket spent.
    pub ys: Vec<String>,
    /// The Groth16 proof, compressed (128 bytes).
    pub proof: String,
}

/// A verified spend: what the provider records, per ticket, before it serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spend {
    /// The request's signal.
    pub x: Fr,
    /// `(nullifier, y)` per ticket.
    pub tickets: Vec<(Fr, Fr)>,
}

impl CallProof {
    /// Units (tickets) the proof spends.
    pub fn units(&self) -> usize {
        self.nullifiers.len()
    }

    /// Checks the proof for a request with signal `x` in the pool with call scope `scope`,
    /// against the accepted `roots`. Checks are ordered cheapest first; the pairing is last.
    pub fn verify(&self, x: Fr, scope: Fr, roots: &[Fr]) -> Result<Spend, Refusal> {
        let malformed = |what: &str| Refusal::Malformed(format!("{what} is not a field element in 0x hex"));
        let units = self.units();
        if units == 0 || units > MAX_UNITS || self.ys.len() != units {
            return Err(Refusal::Malformed(format!(
                "a proof spends 1 to {MAX_UNITS} tickets with one share each (got {units} nullifiers, {} shares)",
                self.ys.len()
            )));
        }
        let root = from_hex(&self.root).ok_or_else(|| malformed("root"))?;
        let proof_scope = from_hex(&self.scope).ok_or_else(|| malformed("scope"))?;
        let mut nullifiers = Vec::with_capacity(MAX_UNITS);
        let mut ys = Vec::with_capacity(MAX_UNITS);
        for (n, y) in self.nullifiers.iter().zip(&self.ys) {
            nullifiers.push(from_hex(n).ok_or_else(|| malformed("a nullifier"))?);
            ys.push(from_hex(y).ok_or_else(|| malformed("a share"))?);
        }
        if proof_scope != scope {
            return Err(Refusal::WrongPool);
        }
        if !roots.contains(&root) {
            return Err(Refusal::UnknownRoot);
        }
        for (i, n) in nullifiers.iter().enumerate() {
            if nullifiers[..i].contains(n) {
                return Err(Refusal::Malformed("the proof names one ticket twice".into()));
            }
        }
        let bytes = alloy::hex::decode(&self.proof).map_err(|_| malformed("proof"))?;
        let proof = Proof::deserialize_compressed(bytes.as_slice())
            .map_err(|_| Refusal::Malformed("the proof is not a compressed Groth16 proof on BN254".into()))?;
        let tickets: Vec<(Fr, Fr)> = nullifiers.iter().copied().zip(ys.iter().copied()).collect();
        let selector_used: Vec<bool> = (0..MAX_UNITS).map(|i| i < units).collect();
        nullifiers.resize(MAX_UNITS, Fr::from(0u64));
        ys.resize(MAX_UNITS, Fr::from(0u64));
        let values = RLNProofValues::new_multi()
            .ys(ys)
            .root(root)
            .nullifiers(nullifiers)
            .x(x)
            .external_nullifier(scope)
            .selector_used(selector_used)
            .build()
            .map_err(|e| Refusal::Malformed(e.to_string()))?;
        match MULTI.verify(&proof, &values) {
            Ok(true) => Ok(Spend { x, tickets }),
            Ok(false) | Err(_) => Err(Refusal::InvalidProof),
        }
    }
}

/// An exit: a proof that an unnamed member of the pool sends its stake to `receiver`, in the
/// form `ZkCredits.requestExit` takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExitProof {
    /// The pool root the membership is proven against.
    pub root: U256,
    /// The exit ticket's nullifier (one per member).
    pub nullifier: U256,
    /// The share (a point on a line only this member knows).
    pub y: U256,
    /// `[a.x, a.y, b.x.c1, b.x.c0, b.y.c1, b.y.c0, c.x, c.y]`, as the EVM's pairing takes them.
    pub proof: [U256; 8],
}

/// Proves the exit of `credit` to `receiver` against the current root of the pool's *exit* tree,
/// whose leaves are `Poseidon(idCommitment, 1)`: with a limit of one ticket the only exit ticket
/// is number 0, so a member has exactly one exit nullifier (a proof against the calls tree could
/// pick any ticket below `N` and exit `N` times).
pub fn prove_exit(credit: &Credit, exit_tree: &PoolTree, receiver: Address) -> Result<ExitProof, Error> {
    let tree = exit_tree;
    if tree.leaf(credit.leaf_index) != Some(credit.exit_leaf()) {
        return Err(Error::Tree(format!(
            "leaf {} of the pool is not this credit's deposit",
            credit.leaf_index
        )));
    }
    let witness = RLNWitnessInput::new_single()
        .identity_secret(credit.secret.clone())
        .user_message_limit(Fr::from(1u64))
        .merkle_proof(tree.path(credit.leaf_index)?)
        .x(credit.key.exit_signal(receiver))
        .external_nullifier(credit.key.exit_scope())
        .message_id(Fr::from(0u64))
        .build()
        .map_err(|e| Error::Prove(e.to_string()))?;
    let (proof, values) = SINGLE.generate_proof(&witness).map_err(|e| Error::Prove(e.to_string()))?;
    let (Some(nullifier), Some(y)) = (values.nullifier(), values.y()) else {
        return Err(Error::Prove("the single circuit gave four-slot values".into()));
    };
    Ok(ExitProof {
        root: to_u256(&values.root()),
        nullifier: to_u256(&nullifier),
        y: to_u256(&y),
        proof: evm_proof(&proof),
    })
}

fn evm_proof(proof: &Proof) -> [U256; 8] {
    let q = |v: &rln::prelude::Fq| {
        use ark_ff::{BigInteger, PrimeField};
        U256::from_le_slice(&v.into_bigint().to_bytes_le())
    };
    [
        q(&proof.a.x),
        q(&proof.a.y),
        q(&proof.b.x.c1),
        q(&proof.b.x.c0),
        q(&proof.b.y.c1),
        q(&proof.b.y.c0),
        q(&proof.c.x),
        q(&proof.c.y),
    ]
}

/// The exit circuit's verifying key as `RlnVerifier.sol` holds it: `alpha` (G1), `beta`,
/// `gamma`, `delta` (G2, imaginary part first) and the six `IC` points.
pub fn exit_verifying_key() -> serde_json::Value {
    use ark_ff::{BigInteger, PrimeField};
    let vk = &rln::prelude::default_zkey_single().0.vk;
    let q = |v: &rln::prelude::Fq| U256::from_le_slice(&v.into_bigint().to_bytes_le()).to_string();
    let g1 = |p: &rln::prelude::G1Affine| serde_json::json!([q(&p.x), q(&p.y)]);
    let g2 =
        |p: &rln::prelude::G2Affine| serde_json::json!([[q(&p.x.c1), q(&p.x.c0)], [q(&p.y.c1), q(&p.y.c0)]]);
    serde_json::json!({
        "alpha": g1(&vk.alpha_g1),
        "beta": g2(&vk.beta_g2),
        "gamma": g2(&vk.gamma_g2),
        "delta": g2(&vk.delta_g2),
        "ic": vk.gamma_abc_g1.iter().map(g1).collect::<Vec<_>>(),
    })
}

/// Recovers a member's secret from two shares of one ticket on different requests: the
/// double-spender's secret, which slashes its stake. `None` when the requests are the same.
pub fn recover_secret(a: (Fr, Fr), b: (Fr, Fr)) -> Option<Fr> {
    if a.0 == b.0 {
        return None;
    }
    rln::prelude::compute_id_secret(a, b).ok().map(|s| *s)
}
