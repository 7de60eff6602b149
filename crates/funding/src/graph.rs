//! Dependency graphs, graph submissions, and the propagation of a pool to payouts.
//!
//! An edge `source → target` says the target is a dependency of the source; its weight is the
//! fraction of the credit owed to the source that belongs to the target. A node keeps
//! `1 − Σ out-weights` (its originality). Node 0 is the root: the funder's "everything this
//! round is about", which keeps nothing.
//!
//! In logit space every node with dependencies has two groups of items: its dependencies (one
//! item per out-edge) and, except for the root, the split between itself and its dependencies
//! (`own` and `deps`). A graph submission's weights map to those items; the jury compares
//! items of one group.

use crate::{
    FundingError,
    real::{Real, Wad},
    score::shares,
};
use alloy::primitives::{Address, B256, keccak256};
use serde::{Deserialize, Serialize};

/// Weights are given in parts per billion: 10⁹ is the whole credit of the source.
pub const PPB: u32 = 1_000_000_000;

/// A node: a project that can be credited.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    /// A stable name, such as `crates.io/serde` or `npm/viem`.
    pub id: String,
    /// Where the project lives (a repository or registry page), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The address that can claim the node's payout; without one it stays in the round until
    /// the funder sweeps it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient: Option<Address>,
    /// Plain signals about the package from where the graph was built, before any pruning:
    /// how many packages depend on it directly, and how many it depends on transitively.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signals: Option<Signals>,
}

/// What the graph builder counted about a package in the whole lockfile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signals {
    /// Packages that depend on it directly.
    pub dependents: u32,
    /// Packages it depends on, directly or not.
    pub transitive: u32,
}

/// A dependency edge between two nodes (indices into [`Graph::nodes`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Edge {
    /// The dependent.
    pub source: u32,
    /// The dependency.
    pub target: u32,
}

/// A funding graph. Node 0 is the root.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Graph {
    /// What the graph is of, e.g. `agora 0.1.0 dependencies`.
    pub name: String,
    /// The nodes; node 0 is the root.
    pub nodes: Vec<Node>,
    /// The edges, sorted by source then target.
    pub edges: Vec<Edge>,
}

/// Which item of a graph a logit is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Item {
    /// Edge `e`: the target's share of its source's dependency credit.
    Dep(usize),
    /// Node `n`'s own share (originality).
    Own(usize),
    /// Node `n`'s dependencies' share, as a whole.
    Deps(usize),
}

/// The items of a graph in logit space and their groups.
#[derive(Clone, Debug)]
pub struct Items {
    /// Every item; the first `edges.len()` are the edges, in order.
    pub items: Vec<Item>,
    /// The groups whose items are compared with each other and normalised together.
    pub groups: Vec<Vec<usize>>,
    /// Per node: its `own` item (nodes with dependencies, except the root).
    pub own: Vec<Option<usize>>,
    /// Per node: its `deps` item.
    pub deps: Vec<Option<usize>>,
    /// Per node: its out-edges.
    pub children: Vec<Vec<usize>>,
}

impl Graph {
    /// The canonical bytes of the graph (compact JSON) that the round's graph root hashes.
    pub fn canonical(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// `keccak256` of [`Graph::canonical`]: what a round commits to on chain.
    pub fn root(&self) -> B256 {
        keccak256(self.canonical())
    }

    /// Checks the graph: edges name existing nodes, no self-edges, no duplicates, sorted, and
    /// acyclic. Returns the nodes in a topological order (dependents before dependencies).
    pub fn validate(&self) -> Result<Vec<usize>, FundingError> {
        let n = self.nodes.len();
        if n == 0 {
            return Err(FundingError::Graph("the graph has no nodes".into()));
        }
        for (i, e) in self.edges.iter().enumerate() {
            let (s, t) = (e.source as usize, e.target as usize);
            if s >= n || t >= n {
                return Err(FundingError::Graph(format!("edge {i} names node {} of {n}", s.max(t))));
            }
            if s == t {
                return Err(FundingError::Graph(format!("edge {i} is a self-edge of {}", self.nodes[s].id)));
            }
            if t == 0 {
                return Err(FundingError::Graph(format!("edge {i} points at the root")));
            }
            if let Some(prev) = i.checked_sub(1).map(|p| &self.edges[p])
                && (prev.source, prev.target) >= (e.source, e.target)
            {
                return Err(FundingError::Graph(format!("edge {i} is a duplicate or out of order")));
            }
        }
        // Kahn's algorithm, lowest index first.
        let mut indegree = vec![0usize; n];
        for e in &self.edges {
            indegree[e.target as usize] += 1;
        }
        let children = self.children();
        let mut ready: std::collections::BTreeSet<usize> = (0..n).filter(|&i| indegree[i] == 0).collect();
        let mut order = Vec::with_capacity(n);
        while let Some(u) = ready.pop_first() {
            order.push(u);
            for &e in &children[u] {
                let t = self.edges[e].target as usize;
                indegree[t] -= 1;
                if indegree[t] == 0 {
                    ready.insert(t);
                }
            }
        }
        if order.len() != n {
            let stuck = (0..n).find(|&i| indegree[i] > 0).unwrap_or(0);
            return Err(FundingError::Graph(format!(
                "the graph has a cycle through {}",
                self.nodes[stuck].id
            )));
        }
        Ok(order)
    }

    /// Per node, the indices of its out-edges.
    pub fn children(&self) -> Vec<Vec<usize>> {
        let mut children = vec![Vec::new(); self.nodes.len()];
        for (i, e) in self.edges.iter().enumerate() {
            if let Some(list) = children.get_mut(e.source as usize) {
                list.push(i);
            }
        }
        children
    }

    /// The graph's items and groups (see the module docs).
    pub fn items(&self) -> Items {
        let children = self.children();
        let mut items: Vec<Item> = (0..self.edges.len()).map(Item::Dep).collect();
        let mut groups = Vec::new();
        let mut own = vec![None; self.nodes.len()];
        let mut deps = vec![None; self.nodes.len()];
        for (node, out) in children.iter().enumerate() {
            if out.is_empty() {
                continue;
            }
            groups.push(out.clone());
            if node != 0 {
                own[node] = Some(items.len());
                items.push(Item::Own(node));
                deps[node] = Some(items.len());
                items.push(Item::Deps(node));
                groups.push(vec![items.len() - 2, items.len() - 1]);
            }
        }
        Items { items, groups, own, deps, children }
    }

    /// Checks a submission of edge weights (parts per billion, one per edge): Σ out ≤ 10⁹ for
    /// every source.
    pub fn check_weights(&self, weights: &[u32]) -> Result<(), FundingError> {
        if weights.len() != self.edges.len() {
            return Err(FundingError::Length {
                what: "weights",
                index: 0,
                expected: self.edges.len(),
                got: weights.len(),
            });
        }
        let mut out = vec![0u64; self.nodes.len()];
        for (e, &w) in self.edges.iter().zip(weights) {
            out[e.source as usize] += u64::from(w);
        }
        match out.iter().position(|&s| s > u64::from(PPB)) {
            Some(node) => Err(FundingError::OverAllocated {
                node: self.nodes[node].id.clone(),
                sum: format_ppb(out[node]),
            }),
            None => Ok(()),
        }
    }

    /// A submission's logits over [`Graph::items`]: `ln` of each weight, of each node's own
    /// share and of its dependencies' share. A share of 0 counts as 1 ppb (10⁻⁹), so every
    /// logit is finite.
    pub fn logits<T: Real>(&self, items: &Items, weights: &[u32]) -> Result<Vec<T>, FundingError> {
        self.check_weights(weights)?;
        let ln_ppb = |v: u64| T::ratio(i128::from(v.max(1)), i128::from(PPB)).ln();
        let mut out = Vec::with_capacity(items.items.len());
        for item in &items.items {
            out.push(match *item {
                Item::Dep(e) => ln_ppb(u64::from(weights[e])),
                Item::Own(n) => {
                    let sum: u64 = items.children[n].iter().map(|&e| u64::from(weights[e])).sum();
                    ln_ppb(u64::from(PPB) - sum)
                }
                Item::Deps(n) => ln_ppb(items.children[n].iter().map(|&e| u64::from(weights[e])).sum()),
            });
        }
        Ok(out)
    }

    /// Edge weights from logits: shares per group, then `w(u→v) = (1 − own_u) · share(v)`
    /// (the root keeps nothing). Every source's weights sum to at most 1.
    pub fn weights_from_logits<T: Real>(&self, items: &Items, logits: &[T]) -> Vec<T> {
        let s = shares(logits, &items.groups);
        self.edges
            .iter()
            .enumerate()
            .map(|(e, edge)| {
                let kept = items.own[edge.source as usize].map_or(T::zero(), |i| s[i]);
                (T::one() - kept) * s[e]
            })
            .collect()
    }

    /// Propagates `amount` from the root along the weights: what each node is paid. The sum
    /// over every path of the product of the weights; exact conservation up to rounding.
    pub fn propagate<T: Real>(&self, weights: &[T], amount: T) -> Result<Vec<T>, FundingError> {
        let order = self.validate()?;
        let children = self.children();
        let mut inflow = vec![T::zero(); self.nodes.len()];
        inflow[0] = amount;
        let mut payout = vec![T::zero(); self.nodes.len()];
        for u in order {
            let mut kept = inflow[u];
            for &e in &children[u] {
                let part = inflow[u] * weights[e];
                inflow[self.edges[e].target as usize] = inflow[self.edges[e].target as usize] + part;
                kept = kept - part;
            }
            payout[u] = kept;
        }
        Ok(payout)
    }

    /// [`Graph::propagate`] in token units: each edge carries `⌊inflow · w⌋` and the source
    /// keeps the rest, so the payouts sum to `amount` exactly.
    pub fn propagate_units(&self, weights: &[Wad], amount: u128) -> Result<Vec<u128>, FundingError> {
        let order = self.validate()?;
        let children = self.children();
        let mut inflow = vec![0u128; self.nodes.len()];
        inflow[0] = amount;
        let mut payout = vec![0u128; self.nodes.len()];
        for u in order {
            let mut kept = inflow[u];
            for &e in &children[u] {
                let w = u128::try_from(weights[e].raw().max(0)).unwrap_or(0);
                let part = mul_wad_floor(inflow[u], w).min(kept);
                inflow[self.edges[e].target as usize] += part;
                kept -= part;
            }
            payout[u] = kept;
        }
        Ok(payout)
    }
}

/// `⌊a · w / 10¹⁸⌋` for an amount and a weight in [0, 10¹⁸], without overflow.
fn mul_wad_floor(a: u128, w: u128) -> u128 {
    let wad = crate::real::WAD.unsigned_abs();
    (a / wad) * w + (a % wad) * w / wad
}

fn format_ppb(v: u64) -> String {
    format!("{}.{:09}", v / u64::from(PPB), v % u64::from(PPB))
}

/// A graph submission's canonical bytes: each edge's weight as a big-endian `u32` (ppb), in
/// edge order. This is what a solver commits to and reveals on chain.
pub fn encode_weights(weights: &[u32]) -> Vec<u8> {
    weights.iter().flat_map(|w| w.to_be_bytes()).collect()
}

/// Reads [`encode_weights`] bytes back.
pub fn decode_weights(bytes: &[u8]) -> Result<Vec<u32>, FundingError> {
    if !bytes.len().is_multiple_of(4) {
        return Err(FundingError::Encoding(format!(
            "{} bytes is not a whole number of weights",
            bytes.len()
        )));
    }
    Ok(bytes.chunks_exact(4).map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]])).collect())
}
