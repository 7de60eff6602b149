//! T1–T10 from the research digest, each run in f64 and in fixed point.

use crate::close;
use agora_funding::{
    FundingError, Real, Wad,
    graph::{Edge, Graph, Node},
    jury::JuryAnswer,
    score::{Answer, blend, cost, fit, logits, pair_share_error, shares},
    solve::from_judgements,
};

fn r<T: Real>(n: i128, d: i128) -> T {
    T::ratio(n, d)
}

fn ln2<T: Real>() -> T {
    r::<T>(2, 1).ln()
}

/// (0,1,−ln 2) A = 2×B, (1,2, ln 2) C = 2×B, (0,2,0) A = C.
fn jury_t1<T: Real>() -> Vec<Answer<T>> {
    vec![
        Answer { a: 0, b: 1, c: -ln2::<T>() },
        Answer { a: 1, b: 2, c: ln2::<T>() },
        Answer { a: 0, b: 2, c: T::zero() },
    ]
}

fn s1<T: Real>() -> Vec<T> {
    vec![r(1, 2), r(3, 10), r(1, 5)]
}
fn s2<T: Real>() -> Vec<T> {
    vec![r(1, 5), r(3, 10), r(1, 2)]
}
fn s3<T: Real>() -> Vec<T> {
    vec![r(1, 3), r(1, 3), r(1, 3)]
}

fn t1<T: Real>() {
    let jury = jury_t1::<T>();
    close(cost(&logits(&s1::<T>()), &jury), 2.079779, 1e-6);
    close(cost(&logits(&s2::<T>()), &jury), 2.079779, 1e-6);
    close(cost(&logits(&s3::<T>()), &jury), 0.960906, 1e-6);
}

fn t2<T: Real>() {
    let scaled: Vec<T> = s1::<T>().iter().map(|&x| x * r(10, 1)).collect();
    close(cost(&logits(&scaled), &jury_t1::<T>()), 2.079779, 1e-6);
}

fn t3<T: Real>() {
    let subs = vec![logits(&s1::<T>()), logits(&s2::<T>()), logits(&s3::<T>())];
    let b = blend(&subs, &jury_t1::<T>()).unwrap();
    close(b.alpha[0], 0.5, 1e-6);
    close(b.alpha[1], 0.5, 1e-6);
    close(b.alpha[2], 0.0, 1e-6);
    close(b.cost, 0.820396, 1e-6);
    let final_shares = shares(&b.logits(&subs), &[vec![0, 1, 2]]);
    for (got, want) in final_shares.iter().zip([0.339134, 0.321731, 0.339134]) {
        close(*got, want, 1e-6);
    }
}

fn t4_subs<T: Real>() -> (Vec<Vec<T>>, Vec<Answer<T>>) {
    let a = logits(&[r::<T>(3, 5), r(3, 10), r(1, 10)]);
    let b = logits(&[r::<T>(3, 10), r(3, 10), r(2, 5)]);
    (vec![a, b], vec![Answer { a: 0, b: 1, c: -ln2::<T>() }, Answer { a: 1, b: 2, c: T::zero() }])
}

fn t4<T: Real>() {
    let (subs, jury) = t4_subs::<T>();
    close(cost(&subs[0], &jury), 1.206949, 1e-6);
    close(cost(&subs[1], &jury), 0.563214, 1e-6);
    let b = blend(&subs, &jury).unwrap();
    close(b.alpha[0], 0.366015, 1e-6);
    close(b.alpha[1], 0.633985, 1e-6);
    close(b.cost, 0.241390, 1e-6);
    for (got, want) in shares(&b.logits(&subs), &[vec![0, 1, 2]]).iter().zip([0.416877, 0.323464, 0.259658]) {
        close(*got, want, 1e-6);
    }
}

fn t5<T: Real>() {
    let (mut subs, jury) = t4_subs::<T>();
    subs.push(subs[1].clone());
    let b = blend(&subs, &jury).unwrap();
    close(b.alpha[0], 0.366015, 1e-6);
    close(b.alpha[1] + b.alpha[2], 0.633985, 1e-6);
    // The earlier commitment wins the tie: the copy earns nothing.
    assert_eq!(b.alpha[2], T::zero());
    // Submitted first, the copy would be the one paid: order, not identity, decides.
    let swapped = vec![subs[2].clone(), subs[0].clone(), subs[1].clone()];
    let b = blend(&swapped, &jury).unwrap();
    close(b.alpha[0], 0.633985, 1e-6);
    assert_eq!(b.alpha[2], T::zero());
}

/// root → X; X → A, X → B.
fn small_graph() -> Graph {
    let node = |id: &str| Node { id: id.into(), url: None, recipient: None, signals: None };
    Graph {
        name: "t6".into(),
        nodes: vec![node("root"), node("x"), node("a"), node("b")],
        edges: vec![
            Edge { source: 0, target: 1 },
            Edge { source: 1, target: 2 },
            Edge { source: 1, target: 3 },
        ],
    }
}

fn t6<T: Real>() {
    let g = small_graph();
    let items = g.items();
    let answer = JuryAnswer::Originality { node: 1, percent: 75 };
    let a = answer.to_answer::<T>(&g, &items).unwrap();
    // The pair is (own, deps) and c = ln((1 − v)/v) = ln(1/3): deps is a third of own.
    assert_eq!((a.a, a.b), (items.own[1].unwrap(), items.deps[1].unwrap()));
    close(a.c, (1.0f64 / 3.0).ln(), 1e-12);
    let weights = from_judgements::<T>(&g, &[answer]).unwrap();
    let out_of_x = u64::from(weights[1]) + u64::from(weights[2]);
    // X keeps 75%: its dependencies get 25% between them.
    assert!((out_of_x as f64 / 1e9 - 0.25).abs() < 1e-6, "{} keeps {}", T::NAME, 1.0 - out_of_x as f64 / 1e9);
    // Regression: the inverted convention (c = ln(v/(1−v))) would leave X with 25%.
    let inverted = Answer { c: -a.c, ..a };
    let fitted = fit(items.items.len(), &[inverted]).unwrap();
    let z = |i: usize| fitted.z[i].unwrap().to_f64();
    let own = 1.0 / (1.0 + (z(items.deps[1].unwrap()) - z(items.own[1].unwrap())).exp());
    assert!((own - 0.25).abs() < 1e-9);
}

fn t7<T: Real>() {
    let mut jury = jury_t1::<T>();
    let f = fit(3, &jury).unwrap();
    let z: Vec<T> = f.z.iter().map(|z| z.unwrap()).collect();
    for (got, want) in shares(&z, &[vec![0, 1, 2]]).iter().zip([0.4, 0.2, 0.4]) {
        close(*got, want, 1e-9);
    }
    close(f.residual, 0.0, 1e-9);
    jury.push(Answer { a: 0, b: 1, c: T::zero() });
    let f = fit(3, &jury).unwrap();
    assert_eq!(f.z[0], Some(T::zero()), "anchored at the lowest item");
    let z: Vec<T> = f.z.iter().map(|z| z.unwrap()).collect();
    for (got, want) in shares(&z, &[vec![0, 1, 2]]).iter().zip([0.356068, 0.234917, 0.409015]) {
        close(*got, want, 1e-6);
    }
    close(f.residual, 0.288272, 1e-6);
}

/// R→A 0.6, R→B 0.4; A keeps 0.5, C 0.7 and D 0.3 of the rest; B keeps 0.75, C the rest.
fn t8_graph() -> (Graph, Vec<f64>) {
    let node = |id: &str| Node { id: id.into(), url: None, recipient: None, signals: None };
    let g = Graph {
        name: "t8".into(),
        nodes: vec![node("R"), node("A"), node("B"), node("C"), node("D")],
        edges: vec![
            Edge { source: 0, target: 1 },
            Edge { source: 0, target: 2 },
            Edge { source: 1, target: 3 },
            Edge { source: 1, target: 4 },
            Edge { source: 2, target: 3 },
        ],
    };
    (g, vec![0.6, 0.4, 0.35, 0.15, 0.25])
}

fn t8<T: Real>() {
    let (g, w) = t8_graph();
    let w: Vec<T> = w.iter().map(|&x| T::ratio((x * 100.0).round() as i128, 100)).collect();
    let pay = g.propagate(&w, T::ratio(1000, 1)).unwrap();
    for (got, want) in pay.iter().zip([0.0, 300.0, 300.0, 310.0, 90.0]) {
        close(*got, want, 1e-9);
    }
    close(pay.iter().fold(T::zero(), |a, &b| a + b), 1000.0, 1e-9);
}

#[test]
fn t8_in_token_units_is_exact() {
    let (g, w) = t8_graph();
    let w: Vec<Wad> = w.iter().map(|&x| Wad::from_f64(x)).collect();
    let pay = g.propagate_units(&w, 1_000_000_000).unwrap();
    assert_eq!(pay, vec![0, 300_000_000, 300_000_000, 310_000_000, 90_000_000]);
}

#[test]
fn t9_a_source_giving_away_more_than_all_is_refused() {
    let node = |id: &str| Node { id: id.into(), url: None, recipient: None, signals: None };
    let g = Graph {
        name: "t9".into(),
        nodes: vec![node("R"), node("A"), node("B")],
        edges: vec![Edge { source: 0, target: 1 }, Edge { source: 0, target: 2 }],
    };
    let err = g.check_weights(&[600_000_000, 500_000_000]).unwrap_err();
    assert_eq!(err, FundingError::OverAllocated { node: "R".into(), sum: "1.100000000".into() });
    assert_eq!(err.to_string(), "the weights out of R sum to 1.100000000, more than 1");
    assert!(g.check_weights(&[600_000_000, 400_000_000]).is_ok());
}

fn t10<T: Real>() {
    close(pair_share_error(r::<T>(1, 2), r(3, 10), r(3, 4)), 0.015625, 1e-12);
}

macro_rules! both {
    ($($name:ident => $f:ident),* $(,)?) => {$(
        #[test]
        fn $name() {
            $f::<f64>();
            $f::<Wad>();
        }
    )*};
}

both! {
    t1_canonical_cost => t1,
    t2_scale_invariance => t2,
    t3_the_blend_beats_every_single_submission => t3,
    t4_asymmetric_blend => t4,
    t5_a_duplicate_cannot_raise_a_reward => t5,
    t6_originality_sign_convention => t6,
    t7_jury_only_fit => t7,
    t8_propagation => t8,
    t10_mini_contest_metric => t10,
}
