//! Settling a round from revealed bytes: checks, exact conservation, proofs, determinism.

use agora_funding::{
    Wad,
    graph::{Edge, Graph, Node, encode_weights},
    jury::{JuryAnswer, JurySheet, Question, sample},
    merkle::{Tree, verify},
    round::{RoundInput, score, settle},
    solve::baseline,
};
use alloy::primitives::{Address, B256};

fn who(n: u8) -> Address {
    Address::with_last_byte(n)
}

/// root → a, b, c; a → d, e, f; b → d, e.
fn graph() -> Graph {
    let node = |i: u8, id: &str| Node {
        id: id.into(),
        url: None,
        recipient: (i > 0).then(|| who(100 + i)),
        signals: None,
    };
    let e = |source, target| Edge { source, target };
    Graph {
        name: "test".into(),
        nodes: ["root", "a", "b", "c", "d", "e", "f"]
            .iter()
            .enumerate()
            .map(|(i, id)| node(i as u8, id))
            .collect(),
        edges: vec![e(0, 1), e(0, 2), e(0, 3), e(1, 4), e(1, 5), e(1, 6), e(2, 4), e(2, 5)],
    }
}

/// A juror who answers every drawn question by a fixed opinion: each dependency with a higher
/// index deserves twice as much; every node is 60% original.
fn answer(q: Question) -> JuryAnswer {
    match q {
        Question::Compare { a, b } => JuryAnswer::Compare { less: a, more: b, times_centi: 200 },
        Question::Originality { node } => JuryAnswer::Originality { node, percent: 60 },
    }
}

fn input() -> RoundInput {
    let g = graph();
    let seed = B256::repeat_byte(7);
    let jurors = [who(1), who(2), who(3)];
    let jury = jurors
        .iter()
        .map(|&j| {
            let answers = sample(&g, seed, j, 4).into_iter().map(answer).collect();
            (j, JurySheet { answers }.encode())
        })
        .collect();
    let good = [
        300_000_000u32,
        300_000_000,
        400_000_000,
        100_000_000,
        200_000_000,
        300_000_000,
        200_000_000,
        400_000_000,
    ];
    let over = [600_000_000u32, 500_000_000, 0, 1, 1, 1, 1, 1];
    RoundInput {
        submissions: vec![
            (who(10), encode_weights(&good)),
            (who(11), encode_weights(&baseline(&g))),
            (who(12), encode_weights(&over)),
            (who(13), vec![1, 2, 3]),
        ],
        graph: g,
        jury,
        seed,
        pairs_per_juror: 4,
        pool: 1_000_000_000,
        solver_share_bps: 1_000,
    }
}

#[test]
fn a_round_settles_to_leaves_that_sum_to_the_pool_and_prove() {
    let input = input();
    let result = settle(&input).unwrap();
    assert_eq!(result.total(), input.pool);
    let tree = Tree::new(&result.leaves);
    assert_eq!(tree.root(), result.root);
    for leaf in &result.leaves {
        assert!(verify(result.root, leaf, &tree.proof(leaf).unwrap()));
    }
    // The solvers share 10% ∝ α; the nodes share the rest.
    let solvers: u128 =
        result.leaves.iter().filter(|l| l.label.starts_with("solver")).map(|l| l.amount).sum();
    assert_eq!(solvers, 100_000_000);
    // The over-allocating and the malformed submissions are left out, named.
    let reasons: Vec<String> = result.rejected.iter().map(|r| format!("{}: {}", r.what, r.reason)).collect();
    assert!(
        reasons.contains(&"submission 2: the weights out of root sum to 1.100000000, more than 1".to_owned()),
        "{reasons:?}"
    );
    assert!(reasons.iter().any(|r| r.starts_with("submission 3: bad encoding")), "{reasons:?}");
    assert_eq!(result.submissions.iter().map(|s| s.index).collect::<Vec<_>>(), [0, 1]);
}

#[test]
fn answers_to_questions_not_drawn_are_left_out_not_fatal() {
    let mut input = input();
    let drawn = sample(&input.graph, input.seed, who(1), 4);
    let stray = (0..8u32)
        .flat_map(|a| (a + 1..8).map(move |b| Question::Compare { a, b }))
        .find(|q| {
            !drawn.contains(q)
                && input.graph.edges[0].source == 0
                && matches!(q, Question::Compare { a: 0, .. })
        })
        .unwrap();
    let mut answers: Vec<JuryAnswer> = drawn.iter().copied().map(answer).collect();
    answers.push(answer(stray));
    answers.push(answer(drawn[0]));
    input.jury[0] = (who(1), JurySheet { answers }.encode());
    input.jury.push((who(4), b"not json".to_vec()));
    let result = settle(&input).unwrap();
    let reasons: Vec<&str> = result.rejected.iter().map(|r| r.reason.as_str()).collect();
    assert!(reasons.contains(&"not a question drawn for this juror"), "{reasons:?}");
    assert!(reasons.contains(&"a second answer to the same question"), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.starts_with("bad encoding: jury answers")), "{reasons:?}");
    assert_eq!(result.total(), input.pool);
}

#[test]
fn the_fixed_point_result_is_bit_identical_across_runs_and_threads() {
    let input = input();
    let once = settle(&input).unwrap().canonical();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let input = input.clone();
            std::thread::spawn(move || settle(&input).unwrap().canonical())
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), once);
    }
    assert_eq!(settle(&input).unwrap().canonical(), once);
}

#[test]
fn fixed_point_and_f64_agree_within_1e_9() {
    let input = input();
    let fixed = score::<Wad>(&input).unwrap();
    let float = score::<f64>(&input).unwrap();
    assert_eq!(fixed.valid, float.valid);
    let pairs = fixed.alpha.iter().zip(&float.alpha).chain(fixed.weights.iter().zip(&float.weights));
    for (x, y) in pairs {
        assert!((x.to_f64_lossy() - y).abs() < 1e-9, "{x} vs {y}");
    }
    assert!((fixed.cost.to_f64_lossy() - float.cost).abs() < 1e-9 * float.cost.max(1.0));
}

trait Lossy {
    fn to_f64_lossy(&self) -> f64;
}
impl Lossy for Wad {
    fn to_f64_lossy(&self) -> f64 {
        agora_funding::Real::to_f64(*self)
    }
}
