//! Settling a deep-funding round: from what was revealed on chain to the payout tree.
//!
//! ```text
//! graph + revealed submissions + revealed jury sheets + the seed
//!   ─▶ submissions checked (Σ ≤ 1 per source), to logits
//!   ─▶ jury answers checked (only the questions drawn for that juror), to (a, b, c)
//!   ─▶ the blend α on the simplex (exact, earliest wins ties)
//!   ─▶ final weights (softmax per group of the blended logits)
//!   ─▶ the solvers' share of the pool split ∝ α, the rest propagated over the graph
//!   ─▶ leaves (index, account, amount) summing to the pool exactly, and their Merkle root
//! ```
//!
//! [`settle`] runs in fixed point and is what a result posted on chain is checked against, bit
//! for bit; [`score`] runs the same steps in either arithmetic.

use crate::{
    FundingError,
    graph::{Graph, decode_weights},
    jury::{JurySheet, sample},
    merkle::{Leaf, Tree},
    real::{Real, Wad},
    score::{Answer, blend},
};
use alloy::primitives::{Address, B256, keccak256};
use serde::{Deserialize, Serialize};

/// Everything a round's result depends on, as read from the chain.
#[derive(Clone, Debug)]
pub struct RoundInput {
    /// The graph (its canonical bytes hash to the round's graph root).
    pub graph: Graph,
    /// Revealed submissions in commit order: the solver and the revealed bytes.
    pub submissions: Vec<(Address, Vec<u8>)>,
    /// Revealed jury sheets: the juror and the revealed bytes.
    pub jury: Vec<(Address, Vec<u8>)>,
    /// The round's sample seed.
    pub seed: B256,
    /// Questions drawn per juror.
    pub pairs_per_juror: usize,
    /// The pool, in token units.
    pub pool: u128,
    /// The solvers' share of the pool, in basis points.
    pub solver_share_bps: u16,
}

/// Something revealed that the scoring left out, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejected {
    /// `submission 2` or `juror 0x… answer 3`.
    pub what: String,
    /// Why.
    pub reason: String,
}

/// The scoring of a round in one arithmetic.
#[derive(Clone, Debug)]
pub struct Scored<T> {
    /// Indices (into the input's submissions) of the valid submissions, in order.
    pub valid: Vec<usize>,
    /// Per valid submission: its blend weight.
    pub alpha: Vec<T>,
    /// Per valid submission: its cost alone against the jury.
    pub costs: Vec<T>,
    /// The blend's cost.
    pub cost: T,
    /// The final edge weights.
    pub weights: Vec<T>,
    /// The jury answers used, in logit space.
    pub answers: Vec<Answer<T>>,
    /// What was left out.
    pub rejected: Vec<Rejected>,
}

/// Checks the revealed data and scores it in `T`.
pub fn score<T: Real>(input: &RoundInput) -> Result<Scored<T>, FundingError> {
    let graph = &input.graph;
    graph.validate()?;
    let items = graph.items();
    let mut rejected = Vec::new();
    let mut valid = Vec::new();
    let mut logits = Vec::new();
    for (k, (_, bytes)) in input.submissions.iter().enumerate() {
        match decode_weights(bytes).and_then(|w| graph.logits::<T>(&items, &w)) {
            Ok(l) => {
                valid.push(k);
                logits.push(l);
            }
            Err(e) => rejected.push(Rejected { what: format!("submission {k}"), reason: e.to_string() }),
        }
    }
    let answers = jury_answers::<T>(input, &items, &mut rejected);
    if logits.is_empty() {
        return Err(FundingError::NoSubmissions);
    }
    let b = blend(&logits, &answers)?;
    let weights = graph.weights_from_logits(&items, &b.logits(&logits));
    Ok(Scored { valid, alpha: b.alpha, costs: b.costs, cost: b.cost, weights, answers, rejected })
}

fn jury_answers<T: Real>(
    input: &RoundInput,
    items: &crate::graph::Items,
    rejected: &mut Vec<Rejected>,
) -> Vec<Answer<T>> {
    let mut out = Vec::new();
    for (juror, bytes) in &input.jury {
        let sheet = match JurySheet::decode(bytes) {
            Ok(s) => s,
            Err(e) => {
                rejected.push(Rejected { what: format!("juror {juror}"), reason: e.to_string() });
                continue;
            }
        };
        let drawn = sample(&input.graph, input.seed, *juror, input.pairs_per_juror);
        let mut seen = Vec::new();
        for (i, answer) in sheet.answers.iter().enumerate() {
            let what = format!("juror {juror} answer {i}");
            let q = answer.question();
            if !drawn.contains(&q) {
                rejected.push(Rejected { what, reason: "not a question drawn for this juror".into() });
                continue;
            }
            if seen.contains(&q) {
                rejected.push(Rejected { what, reason: "a second answer to the same question".into() });
                continue;
            }
            seen.push(q);
            match answer.to_answer::<T>(&input.graph, items) {
                Ok(a) => out.push(a),
                Err(reason) => rejected.push(Rejected { what, reason }),
            }
        }
    }
    out
}

/// A round's result: what is posted on chain (the root and the hash of this document) and what
/// anyone needs to claim or to check it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundResult {
    /// The valid submissions' indices, their blend weights and their costs alone (fixed point,
    /// 18 decimals).
    pub submissions: Vec<SubmissionScore>,
    /// The blend's cost.
    pub cost: String,
    /// The final weight of each edge (18 decimals).
    pub weights: Vec<String>,
    /// The payouts.
    pub leaves: Vec<Leaf>,
    /// Their Merkle root.
    pub root: B256,
    /// What was left out, and why.
    pub rejected: Vec<Rejected>,
}

/// One valid submission's score.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmissionScore {
    /// Its index in commit order.
    pub index: usize,
    /// The solver.
    pub solver: Address,
    /// Its blend weight α.
    pub alpha: String,
    /// Its cost alone against the jury.
    pub cost: String,
}

impl RoundResult {
    /// The canonical bytes (compact JSON) whose hash is posted with the root.
    pub fn canonical(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// `keccak256` of [`RoundResult::canonical`].
    pub fn hash(&self) -> B256 {
        keccak256(self.canonical())
    }

    /// The sum of the leaves: the pool, exactly.
    pub fn total(&self) -> u128 {
        self.leaves.iter().map(|l| l.amount).sum()
    }
}

/// Settles a round in fixed point: the result that is posted, and that a challenge is decided
/// on. Deterministic: the same input gives the same bytes on every machine and thread count.
pub fn settle(input: &RoundInput) -> Result<RoundResult, FundingError> {
    if input.solver_share_bps > 10_000 {
        return Err(FundingError::Params(format!(
            "solver share {} bps is over 10000",
            input.solver_share_bps
        )));
    }
    let scored = score::<Wad>(input)?;
    let solver_pool = input.pool * u128::from(input.solver_share_bps) / 10_000;
    let rewards = split(solver_pool, &scored.alpha);
    let nodes = input.graph.propagate_units(&scored.weights, input.pool - solver_pool)?;
    let mut leaves = Vec::new();
    for (&k, &amount) in scored.valid.iter().zip(&rewards) {
        if amount > 0 {
            let solver = input.submissions[k].0;
            leaves.push(Leaf {
                index: leaves.len() as u64,
                account: solver,
                amount,
                label: format!("solver {k}"),
            });
        }
    }
    for (node, &amount) in input.graph.nodes.iter().zip(&nodes) {
        if amount > 0 {
            leaves.push(Leaf {
                index: leaves.len() as u64,
                account: node.recipient.unwrap_or_default(),
                amount,
                label: node.id.clone(),
            });
        }
    }
    let root = Tree::new(&leaves).root();
    let submissions = scored
        .valid
        .iter()
        .enumerate()
        .map(|(slot, &index)| SubmissionScore {
            index,
            solver: input.submissions[index].0,
            alpha: scored.alpha[slot].to_string(),
            cost: scored.costs[slot].to_string(),
        })
        .collect();
    Ok(RoundResult {
        submissions,
        cost: scored.cost.to_string(),
        weights: scored.weights.iter().map(ToString::to_string).collect(),
        leaves,
        root,
        rejected: scored.rejected,
    })
}

/// Splits `amount` units in proportion to weights summing to 1: each gets the floor of its
/// share, and the units left go one each to the largest remainders (ties: the earliest).
pub fn split(amount: u128, weights: &[Wad]) -> Vec<u128> {
    let wad = crate::real::WAD.unsigned_abs();
    let exact: Vec<(u128, u128)> = weights
        .iter()
        .map(|w| {
            let w = w.raw().max(0).unsigned_abs();
            let whole = (amount / wad) * w + (amount % wad) * w / wad;
            let rem = ((amount % wad) * w) % wad;
            (whole, rem)
        })
        .collect();
    let mut out: Vec<u128> = exact.iter().map(|e| e.0).collect();
    let given: u128 = out.iter().sum();
    let mut left = amount.saturating_sub(given);
    let mut order: Vec<usize> = (0..weights.len()).filter(|&i| weights[i].raw() > 0).collect();
    order.sort_by(|&a, &b| exact[b].1.cmp(&exact[a].1).then(a.cmp(&b)));
    // Rounding leaves fewer units than weights; anything beyond that is not handed out here.
    for &i in &order {
        if left == 0 {
            break;
        }
        out[i] += 1;
        left -= 1;
    }
    out
}
