//! Properties over random inputs: scale invariance, exact conservation, duplicate resistance,
//! and the blend's optimality.

use agora_funding::{
    Real, Wad,
    graph::{Edge, Graph, Node},
    score::{Answer, blend, cost, logits},
};
use proptest::prelude::*;

fn shares() -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(0.01f64..1.0, 4)
}

fn jury() -> impl Strategy<Value = Vec<Answer<f64>>> {
    prop::collection::vec((0usize..4, 1usize..4, -3.0f64..3.0), 1..8)
        .prop_map(|v| v.into_iter().map(|(a, d, c)| Answer { a, b: (a + d) % 4, c }).collect())
}

fn to_wad(v: &[f64]) -> Vec<Wad> {
    v.iter().map(|&x| Wad::from_f64(x)).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn scaling_a_submission_does_not_change_its_cost(s in shares(), k in 0.001f64..1000.0, j in jury()) {
        let scaled: Vec<f64> = s.iter().map(|x| x * k).collect();
        let (a, b) = (cost(&logits(&s), &j), cost(&logits(&scaled), &j));
        prop_assert!((a - b).abs() < 1e-9 * a.max(1.0));
    }

    #[test]
    fn propagation_conserves_the_pool_to_the_unit(
        weights in prop::collection::vec(0u32..400_000_000, 9),
        amount in 1u128..1_000_000_000_000_000,
    ) {
        // root → 1, 2, 3; 1 → 4, 5; 2 → 4, 6; 3 → 6, 7; 4 → 7.
        let pairs = [(0, 1), (0, 2), (0, 3), (1, 4), (1, 5), (2, 4), (2, 6), (3, 6), (3, 7)];
        let g = Graph {
            name: "p".into(),
            nodes: (0..8).map(|i| Node { id: format!("n{i}"), url: None, recipient: None, signals: None }).collect(),
            edges: pairs.iter().map(|&(source, target)| Edge { source, target }).collect(),
        };
        let w: Vec<Wad> = weights.iter().map(|&x| Wad::ratio(i128::from(x), 1_000_000_000)).collect();
        let paid = g.propagate_units(&w, amount).unwrap();
        prop_assert_eq!(paid.iter().sum::<u128>(), amount);
    }

    #[test]
    fn a_copy_earns_nothing_and_takes_nothing(subs in prop::collection::vec(shares(), 2..5), j in jury(), copy in 0usize..5) {
        let subs: Vec<Vec<f64>> = subs.iter().map(|s| logits(s)).collect();
        let copy = copy % subs.len();
        let before = blend(&subs, &j).unwrap();
        let mut with_copy = subs.clone();
        with_copy.push(subs[copy].clone());
        let after = blend(&with_copy, &j).unwrap();
        prop_assert_eq!(*after.alpha.last().unwrap(), 0.0);
        prop_assert!((after.cost - before.cost).abs() < 1e-9 * before.cost.max(1.0));
        // The same in fixed point, where the copy is exact too.
        let wsubs: Vec<Vec<Wad>> = with_copy.iter().map(|s| to_wad(s)).collect();
        let wj: Vec<Answer<Wad>> = j.iter().map(|a| Answer { a: a.a, b: a.b, c: Wad::from_f64(a.c) }).collect();
        prop_assert_eq!(*blend(&wsubs, &wj).unwrap().alpha.last().unwrap(), Wad::zero());
    }

    #[test]
    fn the_blend_is_no_worse_than_any_mix(subs in prop::collection::vec(shares(), 2..5), j in jury(), mix in prop::collection::vec(0.0f64..1.0, 5)) {
        let subs: Vec<Vec<f64>> = subs.iter().map(|s| logits(s)).collect();
        let b = blend(&subs, &j).unwrap();
        prop_assert!(b.alpha.iter().all(|&a| a >= 0.0));
        prop_assert!((b.alpha.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        for c in &b.costs {
            prop_assert!(b.cost <= c + 1e-9);
        }
        let total: f64 = mix[..subs.len()].iter().sum::<f64>() + 1e-9;
        let mixed: Vec<f64> = (0..4).map(|i| subs.iter().zip(&mix).map(|(s, m)| s[i] * m / total).sum()).collect();
        prop_assert!(b.cost <= cost(&mixed, &j) + 1e-9);
    }
}
