//! Jury questions, answers, and the sample of questions drawn from a round's on-chain seed.
//!
//! Two kinds of question, both about one node of the graph:
//!
//! - **compare**: "which of dependencies A and B deserves more of the credit the parent owes its
//!   dependencies, and how many times more?" The juror names the one that deserves more and a
//!   multiplier in [1, 999] with at most two decimals.
//! - **originality**: "how much of the node's credit is its own work, rather than its
//!   dependencies'?" A percentage in [1, 99].
//!
//! Sign convention (fixed here and tested): an originality answer `v` becomes the answer
//! `(own, deps, ln((1 − v)/v))`, which says `w_deps / w_own = (1 − v)/v`, so `v = 75%` pulls
//! the node's own share toward 0.75. (The reference script of the first deep-funding round stored
//! `ln(v/(1 − v))` for the same pair, which pulls it toward 0.25.)

use crate::{
    FundingError,
    graph::{Graph, Items},
    real::Real,
    score::Answer,
};
use alloy::primitives::{Address, B256, keccak256};
use serde::{Deserialize, Serialize};

/// The largest multiplier a juror may give.
pub const MAX_TIMES_CENTI: u32 = 99_900;

/// A question of the jury.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Question {
    /// Compare two dependencies (edge indices with the same source, `a < b`).
    Compare {
        /// The first edge.
        a: u32,
        /// The second edge.
        b: u32,
    },
    /// The originality of a node with dependencies.
    Originality {
        /// The node.
        node: u32,
    },
}

/// A juror's answer to a question.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JuryAnswer {
    /// Edge `more` deserves `times_centi / 100` times what edge `less` deserves.
    Compare {
        /// The edge that deserves less.
        less: u32,
        /// The edge that deserves more (or as much).
        more: u32,
        /// The multiplier ×100, in [100, 99 900].
        times_centi: u32,
    },
    /// `percent` of the node's credit is its own.
    Originality {
        /// The node.
        node: u32,
        /// In [1, 99].
        percent: u8,
    },
}

/// One juror's revealed answers: the document committed to and revealed on chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JurySheet {
    /// The answers, in the order of the questions drawn for the juror.
    pub answers: Vec<JuryAnswer>,
}

impl JurySheet {
    /// The canonical bytes (compact JSON) committed to and revealed.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Reads revealed bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, FundingError> {
        serde_json::from_slice(bytes).map_err(|e| FundingError::Encoding(format!("jury answers: {e}")))
    }
}

impl JuryAnswer {
    /// The question this answers.
    pub fn question(&self) -> Question {
        match *self {
            Self::Compare { less, more, .. } => Question::Compare { a: less.min(more), b: less.max(more) },
            Self::Originality { node, .. } => Question::Originality { node },
        }
    }

    /// The answer in logit space over the graph's items, after checking it against the graph.
    pub fn to_answer<T: Real>(&self, graph: &Graph, items: &Items) -> Result<Answer<T>, String> {
        match *self {
            Self::Compare { less, more, times_centi } => {
                let edge = |e: u32| graph.edges.get(e as usize).ok_or(format!("no edge {e}"));
                let (l, m) = (edge(less)?, edge(more)?);
                if less == more || l.source != m.source {
                    return Err(format!("edges {less} and {more} are not two dependencies of one node"));
                }
                if !(100..=MAX_TIMES_CENTI).contains(&times_centi) {
                    return Err(format!("multiplier {times_centi}/100 is outside [1, 999]"));
                }
                Ok(Answer {
                    a: less as usize,
                    b: more as usize,
                    c: T::ratio(i128::from(times_centi), 100).ln(),
                })
            }
            Self::Originality { node, percent } => {
                let n = node as usize;
                let (Some(own), Some(deps)) =
                    (items.own.get(n).copied().flatten(), items.deps.get(n).copied().flatten())
                else {
                    return Err(format!("node {node} has no dependencies (or is the root)"));
                };
                if !(1..=99).contains(&percent) {
                    return Err(format!("originality {percent}% is outside [1, 99]"));
                }
                let v = i128::from(percent);
                Ok(Answer { a: own, b: deps, c: T::ratio(100 - v, v).ln() })
            }
        }
    }
}

/// How many distinct questions the graph offers: for each node with dependencies, every pair of
/// them, plus its originality (except the root's).
pub fn question_count(graph: &Graph) -> u64 {
    graph
        .children()
        .iter()
        .enumerate()
        .map(|(node, out)| {
            let n = out.len() as u64;
            if n == 0 { 0 } else { n * (n - 1) / 2 + u64::from(node != 0) }
        })
        .sum()
}

/// The `index`-th question of the graph, in the order of [`question_count`]: by node, then the
/// originality question (if any), then pairs in lexicographic order.
pub fn question_at(graph: &Graph, mut index: u64) -> Option<Question> {
    for (node, out) in graph.children().iter().enumerate() {
        let n = out.len() as u64;
        if n == 0 {
            continue;
        }
        if node != 0 {
            if index == 0 {
                return Some(Question::Originality { node: u32::try_from(node).ok()? });
            }
            index -= 1;
        }
        let pairs = n * (n - 1) / 2;
        if index < pairs {
            // Unrank the pair (i, j), i < j.
            let mut i = 0u64;
            let mut left = index;
            while left >= n - 1 - i {
                left -= n - 1 - i;
                i += 1;
            }
            let j = i + 1 + left;
            let a = u32::try_from(out[usize::try_from(i).ok()?]).ok()?;
            let b = u32::try_from(out[usize::try_from(j).ok()?]).ok()?;
            return Some(Question::Compare { a, b });
        }
        index -= pairs;
    }
    None
}

/// The questions drawn for one juror from the round's seed: `count` distinct questions (fewer
/// when the graph has fewer), uniformly, by hashing `(seed, juror, i)`. Anyone can re-draw them.
pub fn sample(graph: &Graph, seed: B256, juror: Address, count: usize) -> Vec<Question> {
    let total = question_count(graph);
    let want = usize::try_from(total).unwrap_or(usize::MAX).min(count);
    let mut picked = Vec::with_capacity(want);
    let mut i = 0u64;
    while picked.len() < want {
        let mut buf = Vec::with_capacity(60);
        buf.extend_from_slice(seed.as_slice());
        buf.extend_from_slice(juror.as_slice());
        buf.extend_from_slice(&i.to_be_bytes());
        let h = keccak256(&buf);
        let r = u64::from_be_bytes(h[..8].try_into().unwrap_or_default()) % total;
        if let Some(q) = question_at(graph, r)
            && !picked.contains(&q)
        {
            picked.push(q);
        }
        i += 1;
    }
    picked
}

/// A jury answer written by names, for answers kept beside a graph that may be rebuilt (edge
/// numbers change when a lockfile does): "for `parent`, `more` deserves `times` what `less`
/// does", or "`node` is `percent`% original".
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum NamedAnswer {
    /// A comparison of two dependencies of `parent`.
    Compare {
        /// The dependent's id.
        parent: String,
        /// The dependency that deserves less.
        less: String,
        /// The one that deserves more.
        more: String,
        /// How many times more, in [1, 999].
        times: f64,
    },
    /// An originality answer.
    Originality {
        /// The node's id.
        node: String,
        /// In [1, 99].
        percent: u8,
    },
}

impl NamedAnswer {
    /// The answer over `graph`'s edges and nodes; ids match exactly or by their last part
    /// (`serde` for `crates.io/serde`).
    pub fn resolve(&self, graph: &Graph) -> Result<JuryAnswer, String> {
        let node = |name: &str| {
            graph
                .nodes
                .iter()
                .position(|n| n.id == name || n.id.rsplit('/').next() == Some(name))
                .ok_or_else(|| format!("no package {name:?} in the graph"))
        };
        match self {
            Self::Compare { parent, less, more, times } => {
                let p = node(parent)?;
                let edge = |child: &str| -> Result<u32, String> {
                    let c = node(child)?;
                    graph
                        .edges
                        .iter()
                        .position(|e| e.source as usize == p && e.target as usize == c)
                        .map(|e| e as u32)
                        .ok_or_else(|| format!("{child:?} is not a dependency of {parent:?}"))
                };
                if !(1.0..=999.0).contains(times) {
                    return Err(format!("multiplier {times} is outside [1, 999]"));
                }
                Ok(JuryAnswer::Compare {
                    less: edge(less)?,
                    more: edge(more)?,
                    times_centi: (times * 100.0).round() as u32,
                })
            }
            Self::Originality { node: n, percent } => {
                Ok(JuryAnswer::Originality { node: node(n)? as u32, percent: *percent })
            }
        }
    }
}
