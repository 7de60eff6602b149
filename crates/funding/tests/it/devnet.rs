//! A whole deep-funding round on the devnet with the real contracts: commitments, reveals, a
//! jury drawn from the on-chain seed, a deliberately wrong result posted and challenged, the
//! council re-settling the round and ruling for the challenger, every payout claimed by proof,
//! and the pool conserved to the unit. Bad input is refused by name along the way.

use agora_chain::ChainClient;
use agora_contracts::{
    SuiteContract,
    bindings::{DevStablecoin, ValidatorCouncil},
};
use agora_funding::{
    chain::{self as funding, FundingContracts, Plan},
    graph::{Edge, Graph, Node, encode_weights},
    jury::{JuryAnswer, JurySheet, Question, sample},
    merkle::Leaf,
    round::settle,
    solve::baseline,
};
use agora_testkit::TestNet;
use alloy::{
    primitives::{Address, B256, U256, keccak256},
    providers::Provider,
    sol_types::{SolEvent, SolValue},
};

alloy::sol! {
    #[sol(rpc)]
    interface IRegister {
        function register(string agentURI) external returns (uint256 agentId);
        event Registered(uint256 indexed agentId, string agentURI, address indexed owner);
    }
}

const POOL: u128 = 100_000_000; // $100
const STAKE: u128 = 1_000_000; // $1
const BOND: u128 = 5_000_000; // $5
const COUNCIL_STAKE: u64 = 10_000_000; // $10

fn addr(c: &ChainClient) -> Address {
    c.signer_address().unwrap()
}

async fn warp(c: &ChainClient, secs: u64) {
    let p = c.provider();
    let _: serde_json::Value = p.raw_request("evm_increaseTime".into(), (secs,)).await.unwrap();
    let _: serde_json::Value = p.raw_request("evm_mine".into(), ()).await.unwrap();
}

async fn balance(c: &ChainClient, token: Address, who: Address) -> u128 {
    DevStablecoin::new(token, c.provider()).balanceOf(who).call().await.unwrap().try_into().unwrap()
}

/// root → a, b, c; a → d, e, f; b → d, e: every node but the root can claim.
fn graph() -> Graph {
    let node = |i: u8, id: &str| Node {
        id: id.into(),
        url: None,
        recipient: (i > 0).then(|| Address::repeat_byte(0xa0 + i)),
        signals: None,
    };
    let e = |source, target| Edge { source, target };
    Graph {
        name: "devnet round".into(),
        nodes: ["root", "a", "b", "c", "d", "e", "f"]
            .iter()
            .enumerate()
            .map(|(i, id)| node(i as u8, id))
            .collect(),
        edges: vec![e(0, 1), e(0, 2), e(0, 3), e(1, 4), e(1, 5), e(1, 6), e(2, 4), e(2, 5)],
    }
}

/// Every juror holds the same view: a dependency with a higher index deserves 1.5× more; nodes
/// are 70% original.
fn answer(q: Question) -> JuryAnswer {
    match q {
        Question::Compare { a, b } => JuryAnswer::Compare { less: a, more: b, times_centi: 150 },
        Question::Originality { node } => JuryAnswer::Originality { node, percent: 70 },
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_round_runs_end_to_end_and_a_wrong_result_loses_its_challenge() {
    let net = TestNet::start().await;
    let c = FundingContracts::of(net.deployment()).unwrap();
    let registry = net.deployment().address_of(SuiteContract::IdentityRegistry).unwrap();
    let w: Vec<ChainClient> = futures_join(&net).await;
    let (funder, solver_a, solver_b, juror_x, poster) = (&w[0], &w[1], &w[2], &w[3], &w[4]);
    // The council: three registered, staked validators (wallets 2, 3, 4).
    let council = ValidatorCouncil::new(c.council, funder.provider());
    for v in &w[1..4] {
        let registrar = IRegister::new(registry, v.provider());
        let receipt = registrar
            .register("https://example.invalid/a.json".into())
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        let agent = receipt
            .logs()
            .iter()
            .find_map(|l| IRegister::Registered::decode_log(&l.inner).ok())
            .unwrap()
            .agentId;
        DevStablecoin::new(c.token, v.provider())
            .approve(c.council, U256::from(COUNCIL_STAKE))
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        ValidatorCouncil::new(c.council, v.provider())
            .join(agent, U256::from(COUNCIL_STAKE))
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
    }
    let _ = council;

    let jurors = vec![addr(funder), addr(juror_x), addr(poster)];
    let plan = Plan {
        graph: graph(),
        jurors: jurors.clone(),
        pool: POOL,
        solver_share_bps: 1_000,
        solver_stake: STAKE,
        result_bond: BOND,
        submit_secs: 600,
        reveal_secs: 300,
        jury_commit_secs: 600,
        jury_reveal_secs: 300,
        challenge_secs: 300,
        claim_secs: 3_600,
        pairs_per_juror: 4,
    };
    let funder_before = balance(funder, c.token, addr(funder)).await;
    let (id, gas) = funding::create_round(funder, c, &plan).await.unwrap();
    println!("gas: approve {} createRound {} publishGraph {}", gas[0], gas[1], gas[2]);

    // Solvers: a hand-made submission and the baseline; a third commits and reveals too late.
    let g = graph();
    let mine = encode_weights(&[
        300_000_000,
        300_000_000,
        400_000_000,
        100_000_000,
        200_000_000,
        300_000_000,
        200_000_000,
        400_000_000,
    ]);
    let base = encode_weights(&baseline(&g));
    let salt = |c: &ChainClient, what: &str| funding::salt(addr(c).as_slice(), id, what);
    funding::commit(solver_a, c, id, &mine, salt(solver_a, "submission")).await.unwrap();
    funding::commit(solver_b, c, id, &base, salt(solver_b, "submission")).await.unwrap();
    funding::commit(poster, c, id, &base, salt(poster, "submission")).await.unwrap();
    let early = funding::reveal(solver_a, c, id, &mine, salt(solver_a, "submission")).await.unwrap_err();
    assert!(early.to_string().contains("RevealNotOpen"), "{early}");
    warp(funder, 601).await;
    let late_commit = funding::commit(juror_x, c, id, &base, salt(juror_x, "submission")).await.unwrap_err();
    assert!(late_commit.to_string().contains("CommitClosed"), "{late_commit}");
    // A reveal that does not match its commitment.
    let forged = funding::reveal(solver_a, c, id, &base, salt(solver_a, "submission")).await.unwrap_err();
    assert!(forged.to_string().contains("CommitMismatch"), "{forged}");
    funding::reveal(solver_a, c, id, &mine, salt(solver_a, "submission")).await.unwrap();
    let reveal_gas = funding::reveal(solver_b, c, id, &base, salt(solver_b, "submission")).await.unwrap();
    println!("gas: reveal {reveal_gas}");

    // The sample is drawn after the submissions closed; each juror answers its own questions.
    let seed = funding::draw_sample(juror_x, c, id).await.unwrap();
    assert_ne!(seed, B256::ZERO);
    let outsider = funding::jury_commit(solver_b, c, id, b"{}", salt(solver_b, "jury")).await.unwrap_err();
    assert!(outsider.to_string().contains("NotJuror"), "{outsider}");
    let mut sheets = Vec::new();
    for juror in [funder, juror_x, poster] {
        let answers = sample(&g, seed, addr(juror), 4).into_iter().map(answer).collect();
        let sheet = JurySheet { answers }.encode();
        funding::jury_commit(juror, c, id, &sheet, salt(juror, "jury")).await.unwrap();
        sheets.push(sheet);
    }
    let too_soon = funding::jury_reveal(funder, c, id, &sheets[0], salt(funder, "jury")).await.unwrap_err();
    assert!(too_soon.to_string().contains("RevealNotOpen"), "{too_soon}");
    warp(funder, 601).await;
    // The late solver's reveal is refused after the reveal deadline.
    let late = funding::reveal(poster, c, id, &base, salt(poster, "submission")).await.unwrap_err();
    assert!(late.to_string().contains("RevealClosed"), "{late}");
    for (juror, sheet) in [funder, juror_x, poster].into_iter().zip(&sheets) {
        funding::jury_reveal(juror, c, id, sheet, salt(juror, "jury")).await.unwrap();
    }
    warp(funder, 301).await;

    // Anyone re-settles the round from the chain alone.
    let input = funding::input(juror_x, c, id).await.unwrap();
    assert_eq!(input.submissions.len(), 2);
    assert_eq!(input.jury.len(), 3);
    let right = settle(&input).unwrap();
    assert!(right.rejected.is_empty(), "{:?}", right.rejected);
    assert_eq!(right.total(), POOL);

    // The poster posts a wrong result: a dollar moved from a node to itself.
    let mut wrong = right.clone();
    let last = wrong.leaves.len() - 1;
    wrong.leaves[last].amount -= 1_000_000;
    wrong.leaves.push(Leaf {
        index: wrong.leaves.len() as u64,
        account: addr(poster),
        amount: 1_000_000,
        label: "poster".into(),
    });
    wrong.root = agora_funding::merkle::Tree::new(&wrong.leaves).root();
    let bad_total = agora_funding::round::RoundResult { leaves: right.leaves[1..].to_vec(), ..right.clone() };
    let refused = funding::post_result(poster, c, id, &bad_total).await.unwrap_err();
    assert!(refused.to_string().contains("WrongTotal"), "{refused}");
    let posted_gas = funding::post_result(poster, c, id, &wrong).await.unwrap();
    println!("gas: postResult {posted_gas}");
    let poster_after_post = balance(poster, c.token, addr(poster)).await;

    // The challenger re-settles, sees another root, and challenges with the right one.
    let dispute = funding::challenge(juror_x, c, id, &right).await.unwrap();
    // The council's jurors re-settle the round themselves and vote for the challenger.
    for v in &w[1..4] {
        let (choice, evidence) = funding::judge(v, c, dispute).await.unwrap().unwrap();
        assert_eq!(choice, 2);
        assert_eq!(evidence, right.hash());
        let s = keccak256([addr(v).as_slice(), b"vote"].concat());
        let commitment = keccak256((dispute, addr(v), U256::from(choice), s).abi_encode());
        ValidatorCouncil::new(c.council, v.provider())
            .commit(dispute, commitment)
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
    }
    for v in &w[1..4] {
        let s = keccak256([addr(v).as_slice(), b"vote"].concat());
        ValidatorCouncil::new(c.council, v.provider())
            .reveal(dispute, U256::from(2), s, right.hash())
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
    }
    ValidatorCouncil::new(c.council, funder.provider())
        .execute(dispute)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let view = funding::round(funder, c, id).await.unwrap();
    assert_eq!(funding::payout_state(view.payout.state), "final");
    assert_eq!(view.payout.root, right.root);
    // The poster lost its bond to the challenger.
    assert_eq!(balance(poster, c.token, addr(poster)).await, poster_after_post);

    // Every payout is claimed by proof; a forged proof is refused.
    let final_result = funding::final_result(solver_a, c, id).await.unwrap();
    assert_eq!(final_result, right);
    let contract = agora_contracts::bindings::DeepFundingRound::new(c.deep, funder.provider());
    let leaf = &right.leaves[0];
    let forged =
        contract.claim(id, U256::from(leaf.index), leaf.account, U256::from(leaf.amount + 1), vec![]);
    let err = agora_contracts::send(forged, "claiming").await.unwrap_err();
    assert!(err.contains("InvalidProof"), "{err}");
    let mut paid = 0u128;
    let accounts: std::collections::BTreeSet<Address> =
        right.leaves.iter().map(|l| l.account).filter(|a| *a != Address::ZERO).collect();
    for account in accounts {
        let before = balance(funder, c.token, account).await;
        let claims = funding::claim(funder, c, id, &right, account).await.unwrap();
        println!("gas: claim {:?}", claims.iter().map(|c| c.1).collect::<Vec<_>>());
        let got = balance(funder, c.token, account).await - before;
        assert_eq!(got, right.leaves.iter().filter(|l| l.account == account).map(|l| l.amount).sum::<u128>());
        paid += got;
    }
    // Each node's payout is the propagation of the graph's share of the pool, to the unit.
    let weights: Vec<agora_funding::Wad> =
        right.weights.iter().map(|w| agora_funding::Wad::parse(w).unwrap()).collect();
    let nodes = g.propagate_units(&weights, POOL - POOL / 10).unwrap();
    for (node, amount) in g.nodes.iter().zip(&nodes) {
        let leaf = right.leaves.iter().find(|l| l.label == node.id);
        assert_eq!(leaf.map_or(0, |l| l.amount), *amount, "{}", node.id);
    }
    // After the claim period the funder sweeps what nobody could claim (the root keeps 0 here)
    // and the round's money is all accounted for.
    warp(funder, 3_601).await;
    let swept = agora_contracts::send(contract.sweep(id), "sweeping").await;
    let funder_after = balance(funder, c.token, addr(funder)).await;
    let unclaimable: u128 =
        right.leaves.iter().filter(|l| l.account == Address::ZERO).map(|l| l.amount).sum();
    assert_eq!(paid + unclaimable, POOL);
    assert!(swept.is_ok() || unclaimable == 0, "{swept:?}");
    // The funder paid the pool and got back the unclaimable part (it was also a juror: no fees).
    assert_eq!(funder_before - funder_after, POOL - unclaimable);
}

async fn futures_join(net: &TestNet) -> Vec<ChainClient> {
    let mut out = Vec::new();
    for i in 1..=5 {
        out.push(net.client_for(i).await);
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn a_quadratic_funding_round_pays_its_matching_by_proof() {
    let net = TestNet::start().await;
    let c = FundingContracts::of(net.deployment()).unwrap();
    let w: Vec<ChainClient> = futures_join(&net).await;
    let projects: Vec<Address> = (1..=3u8).map(Address::repeat_byte).collect();
    let plan = funding::QfPlan {
        projects: projects.clone(),
        pool: 50_000_000,
        bond: BOND,
        donate_secs: 600,
        challenge_secs: 300,
        claim_secs: 3_600,
        require_identity: true,
    };
    let gated = funding::create_qf(&w[0], c, &plan).await.unwrap();
    // Nobody here holds an ERC-8004 identity: the gated round refuses them by name.
    let refused = funding::donate(&w[1], c, gated, 0, 1_000_000).await.unwrap_err();
    assert!(refused.to_string().contains("NoIdentity"), "{refused}");
    let id =
        funding::create_qf(&w[0], c, &funding::QfPlan { require_identity: false, ..plan }).await.unwrap();
    // Q5's donations in dollars: X = {1: 4, 2: 4, 3: 1}, Y = {1: 1, 2: 1}, Z = {3: 9, 4: 4}.
    let before: Vec<u128> = futures_balances(&w[0], c.token, &projects).await;
    for (donor, project, dollars) in
        [(1, 0, 4), (2, 0, 4), (3, 0, 1), (1, 1, 1), (2, 1, 1), (3, 2, 9), (4, 2, 4)]
    {
        funding::donate(&w[donor], c, id, project, dollars * 1_000_000).await.unwrap();
    }
    let after: Vec<u128> = futures_balances(&w[0], c.token, &projects).await;
    assert_eq!(
        after.iter().zip(&before).map(|(a, b)| a - b).collect::<Vec<_>>(),
        [9_000_000, 2_000_000, 13_000_000],
        "donations go straight to the projects"
    );
    let early =
        funding::post_qf(&w[0], c, id, &funding::settle_qf(&w[0], c, id).await.unwrap()).await.unwrap_err();
    assert!(early.to_string().contains("DonationsOpen"), "{early}");
    warp(&w[0], 601).await;
    let result = funding::settle_qf(&w[4], c, id).await.unwrap();
    assert_eq!(result.leaves.iter().map(|l| l.amount).sum::<u128>(), 50_000_000);
    funding::post_qf(&w[4], c, id, &result).await.unwrap();
    warp(&w[0], 301).await;
    funding::finalize_qf(&w[0], c, id).await.unwrap();
    for (p, project) in projects.iter().enumerate() {
        let paid = funding::claim_qf(&w[0], c, id, &result, *project).await.unwrap();
        let leaf = result.leaves.iter().find(|l| l.account == *project).unwrap();
        assert_eq!(paid, vec![(leaf.amount, paid[0].1)], "project {p}");
    }
    // M = $10: the raw matches 6, 0.666667 and 3.75 split the $50 pool.
    let shares: Vec<f64> = result.leaves.iter().map(|l| l.amount as f64 / 50e6).collect();
    for (got, want) in shares.iter().zip([6.0 / 10.416_667, 0.666_667 / 10.416_667, 3.75 / 10.416_667]) {
        assert!((got - want).abs() < 1e-5, "{shares:?}");
    }
}

async fn futures_balances(c: &ChainClient, token: Address, who: &[Address]) -> Vec<u128> {
    let mut out = Vec::new();
    for a in who {
        out.push(balance(c, token, *a).await);
    }
    out
}
