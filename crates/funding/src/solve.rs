//! Solvers: turning signals or pairwise judgements into a graph submission.
//!
//! - [`baseline`]: plain signals, no model. A dependency's share of its parent is proportional
//!   to `√((1 + dependents) · (1 + transitive))`: how many packages depend on it directly (how
//!   widely it is relied on) and how many packages it stands on itself (how big it is), both
//!   counted by the graph builder over the whole lockfile (in the graph itself when the builder
//!   did not record them). Every node keeps half of its credit. This is the bar an AI solver has
//!   to clear for its judgement to be worth paying for.
//! - [`from_judgements`]: pairwise judgements (from a model or from people), aggregated by least
//!   squares in log space (the canonical cost's own fit, so the submission is the one that best
//!   explains the judgements under the metric it is scored by), over the baseline as the prior
//!   for whatever the judgements do not reach.

use crate::{
    FundingError,
    graph::{Graph, PPB},
    jury::JuryAnswer,
    real::Real,
    score::{Answer, fit},
};

/// The share a node keeps for itself in the baseline.
const BASELINE_OWN_PPB: u64 = 500_000_000;

/// The baseline submission (see the module docs).
pub fn baseline(graph: &Graph) -> Vec<u32> {
    let mut indegree = vec![0u64; graph.nodes.len()];
    for e in &graph.edges {
        indegree[e.target as usize] += 1;
    }
    let children = graph.children();
    let size = |node: usize| -> u64 {
        let mut seen = vec![false; graph.nodes.len()];
        let mut stack: Vec<usize> = children[node].iter().map(|&e| graph.edges[e].target as usize).collect();
        let mut count = 0;
        while let Some(v) = stack.pop() {
            if !std::mem::replace(&mut seen[v], true) {
                count += 1;
                stack.extend(children[v].iter().map(|&e| graph.edges[e].target as usize));
            }
        }
        count
    };
    // Signals in integers (×1000 under the root), so the submission is the same everywhere.
    let signal: Vec<u64> = (0..graph.nodes.len())
        .map(|i| {
            let (dependents, transitive) = match graph.nodes[i].signals {
                Some(s) => (u64::from(s.dependents), u64::from(s.transitive)),
                None => (indegree[i], size(i)),
            };
            ((1 + dependents) * (1 + transitive) * 1_000_000).isqrt()
        })
        .collect();
    let mut weights = vec![0u32; graph.edges.len()];
    for (node, out) in children.iter().enumerate() {
        let total: u64 = out.iter().map(|&e| signal[graph.edges[e].target as usize]).sum();
        let give = if node == 0 { u64::from(PPB) } else { u64::from(PPB) - BASELINE_OWN_PPB };
        for &e in out {
            let w = give * signal[graph.edges[e].target as usize] / total.max(1);
            weights[e] = u32::try_from(w).unwrap_or(PPB);
        }
    }
    weights
}

/// A submission from pairwise judgements: the least-squares fit of the judgements in log space,
/// each connected group of answered items shifted to the baseline's mean over the same items;
/// unanswered items keep the baseline's logits.
pub fn from_judgements<T: Real>(graph: &Graph, judgements: &[JuryAnswer]) -> Result<Vec<u32>, FundingError> {
    let items = graph.items();
    let prior = graph.logits::<T>(&items, &baseline(graph))?;
    let answers: Vec<Answer<T>> = judgements
        .iter()
        .enumerate()
        .map(|(index, j)| {
            j.to_answer::<T>(graph, &items).map_err(|reason| FundingError::BadAnswer { index, reason })
        })
        .collect::<Result<_, _>>()?;
    let fitted = fit(items.items.len(), &answers)?;
    let mut logits = prior.clone();
    for group in &items.groups {
        let answered: Vec<usize> = group.iter().copied().filter(|&i| fitted.z[i].is_some()).collect();
        if answered.is_empty() {
            continue;
        }
        // Items of one group answered in separate components keep their own anchors; shifting
        // each group's answered items by one offset is exact when the group is one component.
        let n = T::ratio(answered.len() as i128, 1);
        let mean = |f: &dyn Fn(usize) -> T| answered.iter().fold(T::zero(), |a, &i| a + f(i)) / n;
        let shift = mean(&|i| prior[i]) - mean(&|i| fitted.z[i].unwrap_or_else(T::zero));
        for &i in &answered {
            logits[i] = fitted.z[i].unwrap_or_else(T::zero) + shift;
        }
    }
    Ok(to_ppb(&graph.weights_from_logits(&items, &logits)))
}

/// Edge weights in [0, 1] to parts per billion, rounded down (so no source exceeds 10⁹).
pub fn to_ppb<T: Real>(weights: &[T]) -> Vec<u32> {
    weights
        .iter()
        .map(|w| {
            let v = (w.to_f64() * f64::from(PPB)).floor();
            if v <= 0.0 { 0 } else { (v as u64).min(u64::from(PPB)) as u32 }
        })
        .collect()
}
