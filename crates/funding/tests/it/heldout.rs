//! The AI solver against the baseline on this repository's own dependency graph, scored by a
//! held-out human jury (`tests/data/agora-jury.json`: 24 judgements on agora's direct
//! dependencies, by the people who build it). The costs are printed; `docs/funding.md`
//! reports them. Every model answer's receipt is checked, and one is re-executed.

use agora_funding::{
    ai,
    deps::{Builder, prune},
    graph::Graph,
    jury::{NamedAnswer, sample},
    score::{Answer, cost},
    solve::baseline,
};
use agora_infer::{Engine, EngineOptions};
use alloy::{primitives::keccak256, signers::local::PrivateKeySigner};

fn repository_graph() -> Graph {
    let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.lock")).unwrap();
    let mut b = Builder::new("agora");
    b.cargo_lock(&lock).unwrap();
    prune(&b.build("agora direct dependencies"), 1, usize::MAX)
}

pub(crate) fn human_jury(g: &Graph) -> Vec<Answer<f64>> {
    let text = include_str!("../data/agora-jury.json");
    let named: Vec<NamedAnswer> = serde_json::from_str(text).unwrap();
    let items = g.items();
    named
        .iter()
        .map(|n| {
            let answer =
                n.resolve(g).unwrap_or_else(|e| panic!("the held-out jury no longer fits Cargo.lock: {e}"));
            answer.to_answer::<f64>(g, &items).unwrap()
        })
        .collect()
}

#[test]
fn the_ai_solver_and_the_baseline_face_a_held_out_human_jury() {
    let g = repository_graph();
    let jury = human_jury(&g);
    assert_eq!(jury.len(), 24);
    let items = g.items();
    let score = |w: &[u32]| cost(&g.logits::<f64>(&items, w).unwrap(), &jury);
    let n = g.edges.len() as u32;
    let uniform = vec![1_000_000_000 / n; g.edges.len()];
    let engine =
        Engine::load(&agora_testkit::default_model(), &EngineOptions { threads: 2, ..Default::default() })
            .unwrap_or_else(|e| panic!("load the default model (make setup): {e}"));
    let signer = PrivateKeySigner::random();
    let questions = sample(&g, keccak256(b"agora.funding.solver"), signer.address(), 24);
    let (ai_weights, judgements) =
        ai::solve(&engine, &signer, &g, &questions, 1, 1_700_000_000, |_, _| {}).unwrap();
    g.check_weights(&ai_weights).unwrap();
    let (u, b, a) = (score(&uniform), score(&baseline(&g)), score(&ai_weights));
    println!(
        "held-out human jury, {} answers: uniform {u:.4}, baseline {b:.4}, ai (default model) {a:.4}",
        jury.len()
    );
    let answered = judgements.iter().filter(|j| j.answer.is_some()).count();
    println!("the model answered {answered} of {} asks", judgements.len());
    // Every answer is signed by the solver over the request it was asked; one re-executes.
    assert_eq!(judgements.len(), 48, "each comparison asked in both orders");
    for j in &judgements {
        assert_eq!(j.receipt.verify().unwrap(), signer.address());
    }
    let rerun = agora_receipts::reexecute(&judgements[0].receipt, &engine).unwrap();
    assert!(rerun.matches(), "a judgement re-executes to the same text");
    // Plain signals already beat knowing nothing: the bar the AI has to clear.
    assert!(b < u, "baseline {b} vs uniform {u}");
    for c in [u, b, a] {
        assert!(c.is_finite() && c > 0.0);
    }
}
