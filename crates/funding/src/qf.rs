//! Quadratic funding: plain CLR and CLR with pairwise bounding, in either arithmetic, and the
//! settlement of a round's matching pool to a payout tree.
//!
//! Plain CLR matches project `p` with `(Σ_i √c_ip)² − Σ_i c_ip = Σ_{i≠j} √(c_ip·c_jp)`: broad
//! support is matched more than deep pockets. Two colluders funding a fake project extract a
//! match that grows with what they put in. **Pairwise bounding** gives every pair of donors a
//! budget `M` across all projects: the pair's term in project `p` is
//! `√(c_ip·c_jp) · M / (M + k_ij)` with `k_ij = Σ_p √(c_ip·c_jp)`, so a pair never extracts
//! more than `M` however much it coordinates, and donors who always give together count for
//! less than donors who agree across otherwise different circles.

use crate::{
    FundingError,
    merkle::{Leaf, Tree},
    real::{Real, Wad},
    round::split,
};
use alloy::primitives::{Address, B256};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One donation (several from the same donor to the same project add up).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Donation {
    /// The donor.
    pub donor: Address,
    /// The project's index.
    pub project: usize,
    /// Token units.
    #[serde(with = "crate::serde_u128")]
    pub amount: u128,
}

/// Per donor, per project, the total given, in `T` (the unit is the caller's).
fn totals<T: Real>(
    projects: usize,
    donations: &[Donation],
    unit: u128,
) -> Result<BTreeMap<Address, Vec<T>>, FundingError> {
    let mut by_donor: BTreeMap<Address, Vec<u128>> = BTreeMap::new();
    for d in donations {
        if d.project >= projects {
            return Err(FundingError::Params(format!("a donation to project {} of {projects}", d.project)));
        }
        by_donor.entry(d.donor).or_insert_with(|| vec![0; projects])[d.project] += d.amount;
    }
    Ok(by_donor
        .into_iter()
        .map(|(k, v)| {
            let v = v
                .iter()
                .map(|&a| T::ratio(i128::try_from(a).unwrap_or(i128::MAX), i128::try_from(unit).unwrap_or(1)))
                .collect();
            (k, v)
        })
        .collect())
}

/// Plain CLR's ideal match per project: `(Σ √c)² − Σ c`.
pub fn clr<T: Real>(projects: usize, donations: &[Donation], unit: u128) -> Result<Vec<T>, FundingError> {
    let by_donor = totals::<T>(projects, donations, unit)?;
    Ok((0..projects)
        .map(|p| {
            let (roots, sum) =
                by_donor.values().fold((T::zero(), T::zero()), |(r, s), v| (r + v[p].sqrt(), s + v[p]));
            roots * roots - sum
        })
        .collect())
}

/// Pairwise-bounded CLR's raw match per project, over unordered donor pairs with budget `m`
/// (the same unit as the amounts): `Σ_{i<j} √(c_ip·c_jp) · m / (m + k_ij)`.
pub fn pairwise<T: Real>(
    projects: usize,
    donations: &[Donation],
    unit: u128,
    m: T,
) -> Result<Vec<T>, FundingError> {
    let by_donor = totals::<T>(projects, donations, unit)?;
    let donors: Vec<Vec<T>> = by_donor.into_values().map(|v| v.iter().map(|c| c.sqrt()).collect()).collect();
    let mut out = vec![T::zero(); projects];
    for i in 0..donors.len() {
        for j in i + 1..donors.len() {
            let terms: Vec<T> = (0..projects).map(|p| donors[i][p] * donors[j][p]).collect();
            let k = terms.iter().fold(T::zero(), |a, &b| a + b);
            if k == T::zero() {
                continue;
            }
            let factor = m / (m + k);
            for (o, t) in out.iter_mut().zip(terms) {
                *o = *o + t * factor;
            }
        }
    }
    Ok(out)
}

/// Scales raw matches to a pool: all of it when the raw matches reach it (`scale_up` also
/// scales up when they fall short), then applies a cap (a fraction of the pool) by giving each
/// capped project's excess to the uncapped ones in proportion, until none exceeds the cap.
pub fn allocate<T: Real>(raw: &[T], pool: T, cap: Option<T>, scale_up: bool) -> Vec<T> {
    let total = raw.iter().fold(T::zero(), |a, &b| a + b);
    let mut out: Vec<T> = if total > T::zero() && (scale_up || total > pool) {
        raw.iter().map(|&r| r * pool / total).collect()
    } else {
        raw.to_vec()
    };
    if let Some(cap) = cap {
        let limit = cap * pool;
        let mut capped = vec![false; out.len()];
        for _ in 0..out.len() {
            let mut excess = T::zero();
            for (i, v) in out.iter_mut().enumerate() {
                if *v > limit {
                    excess = excess + (*v - limit);
                    *v = limit;
                    capped[i] = true;
                }
            }
            if excess.is_small() {
                break;
            }
            let base = out.iter().zip(&capped).filter(|(_, c)| !**c).fold(T::zero(), |a, (&v, _)| a + v);
            if base == T::zero() {
                break;
            }
            for (v, c) in out.iter_mut().zip(&capped) {
                if !*c {
                    *v = *v + excess * *v / base;
                }
            }
        }
    }
    out
}

/// A settled quadratic-funding round.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QfResult {
    /// Per project: its raw pairwise match (18 decimals, in dollars' units as given).
    pub raw: Vec<String>,
    /// The payouts of the matching pool (one per project with a match; the pool back to the
    /// funder when nobody was matched).
    pub leaves: Vec<Leaf>,
    /// Their Merkle root.
    pub root: B256,
}

/// Splits `pool` units among the projects by pairwise-bounded CLR with budget `m` (in token
/// units), in fixed point, capped at `cap_bps` of the pool (10000 for no cap). The leaves sum to
/// the pool exactly.
pub fn settle(
    projects: &[Address],
    donations: &[Donation],
    pool: u128,
    m: u128,
    cap_bps: u16,
    funder: Address,
) -> Result<QfResult, FundingError> {
    // Amounts in millions of units (dollars for dUSD): keeps squares and products in range.
    let unit = 1_000_000;
    let budget = Wad::ratio(i128::try_from(m).unwrap_or(i128::MAX), unit);
    let raw = pairwise::<Wad>(projects.len(), donations, unit as u128, budget)?;
    let cap = (cap_bps < 10_000).then(|| Wad::ratio(i128::from(cap_bps), 10_000));
    let shares = allocate(&raw, Wad::one(), cap, true);
    let mut leaves = Vec::new();
    if shares.iter().all(|s| *s == Wad::zero()) {
        leaves.push(Leaf {
            index: 0,
            account: funder,
            amount: pool,
            label: "unmatched: back to the funder".into(),
        });
    } else {
        // Shares sum to 1 up to rounding: the split hands out the last units.
        let amounts = split(pool, &shares);
        let given: u128 = amounts.iter().sum();
        for (p, &amount) in amounts.iter().enumerate() {
            if amount > 0 {
                leaves.push(Leaf {
                    index: leaves.len() as u64,
                    account: projects[p],
                    amount,
                    label: format!("project {p}"),
                });
            }
        }
        if given < pool {
            leaves.push(Leaf {
                index: leaves.len() as u64,
                account: funder,
                amount: pool - given,
                label: "capped: back to the funder".into(),
            });
        }
    }
    let root = Tree::new(&leaves).root();
    Ok(QfResult { raw: raw.iter().map(ToString::to_string).collect(), leaves, root })
}
