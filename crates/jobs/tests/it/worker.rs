//! The worker a node runs, on the devnet with the real contracts and the default model: as a
//! provider it takes what its policy allows and delivers by itself, and is paid once the window
//! passes; as a client it takes back an expired budget; as validators, three workers (one of
//! them never runs) catch a tampered delivery, challenge it, vote and execute the ruling with no
//! one driving them.

use crate::{
    ENGINE,
    chain::{BOND, PRICE, STAKE, World, addr, balance, signer, warp, world},
    deliver, spec,
};
use agora_jobs::{
    Activity, Policy, Verdict, Worker,
    chain::{self as jobs},
};
use alloy::primitives::U256;
use std::sync::Arc;

fn provider_policy() -> Policy {
    Policy { provide: true, validate: false, ..Policy::default() }
}

fn validator_policy() -> Policy {
    Policy { provide: false, validate: true, ..Policy::default() }
}

fn worker(
    w: &World,
    chain: &agora_chain::ChainClient,
    key: usize,
    agent: Option<U256>,
    policy: Policy,
) -> Worker {
    Worker::new(chain.clone(), w.jobs, Arc::clone(&ENGINE), signer(w, key), agent, policy, 0)
}

#[allow(clippy::print_stdout)] // the activity log, shown with --no-capture
async fn pass(worker: &mut Worker) -> Vec<Activity> {
    let done = worker.pass().await.unwrap();
    for a in &done {
        println!("{a}");
    }
    done
}

#[tokio::test(flavor = "multi_thread")]
async fn a_provider_node_takes_what_its_policy_allows_delivers_and_is_paid() {
    let w = world().await;
    let spec = spec();
    let provider0 = balance(&w, addr(&w.provider)).await;
    let mut provider = worker(&w, &w.provider, 2, Some(w.provider_agent), provider_policy());
    let mut client = worker(&w, &w.client, 1, None, Policy { provide: false, ..Policy::default() });
    let mut auditor = worker(&w, &w.validators[0], 3, None, validator_policy());

    // One job pays; one is priced below the provider's rate; one asks another model.
    let good =
        jobs::post(&w.client, w.jobs, addr(&w.provider), &spec, U256::from(PRICE), U256::from(BOND), 7200)
            .await
            .unwrap()
            .job_id;
    let cheap =
        jobs::post(&w.client, w.jobs, addr(&w.provider), &spec, U256::from(100u64), U256::from(BOND), 7200)
            .await
            .unwrap()
            .job_id;
    let mut elsewhere = spec.clone();
    elsewhere.model_sha256 = alloy::primitives::B256::repeat_byte(7);
    let other = jobs::post(
        &w.client,
        w.jobs,
        addr(&w.provider),
        &elsewhere,
        U256::from(PRICE),
        U256::from(BOND),
        7200,
    )
    .await
    .unwrap()
    .job_id;

    let done = pass(&mut provider).await;
    assert!(done.contains(&Activity::Accepted { job: good, bond: U256::from(BOND) }), "{done:?}");
    assert!(
        done.iter().any(|a| matches!(a, Activity::Delivered { job, tokens } if *job == good && *tokens > 0))
    );
    let declined = |job| {
        done.iter()
            .find_map(|a| match a {
                Activity::Declined { job: j, reason } if *j == job => Some(reason.clone()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("job {job} declined: {done:?}"))
    };
    assert!(declined(cheap).contains("below"), "{}", declined(cheap));
    assert!(declined(other).contains("model"), "{}", declined(other));
    assert_eq!(jobs::status_name(jobs::job(&w.client, w.jobs, good).await.unwrap().job.status), "submitted");

    // An auditor re-runs the honest delivery and leaves it alone.
    let audited = pass(&mut auditor).await;
    assert!(audited.contains(&Activity::Audited { job: good, verdict: Verdict::Stands }), "{audited:?}");

    // Nothing to do inside the window; after it the provider finalizes by itself.
    assert!(pass(&mut provider).await.is_empty());
    warp(&w, 301).await;
    assert_eq!(pass(&mut provider).await, vec![Activity::Finalized { job: good }]);
    assert_eq!(balance(&w, addr(&w.provider)).await, provider0 + i128::from(PRICE));

    // The declined jobs expire; the client's node takes their budgets back.
    assert!(pass(&mut client).await.is_empty(), "nothing is due yet");
    warp(&w, 7200).await;
    let refunded = pass(&mut client).await;
    for job in [cheap, other] {
        assert!(refunded.contains(&Activity::Refunded { job }), "{refunded:?}");
        assert_eq!(jobs::status_name(jobs::job(&w.client, w.jobs, job).await.unwrap().job.status), "expired");
    }
    assert!(pass(&mut client).await.is_empty(), "each job is settled once");
}

#[tokio::test(flavor = "multi_thread")]
async fn validator_nodes_catch_a_tampered_delivery_and_rule_on_it_by_themselves() {
    let w = world().await;
    let spec = spec();
    let who = [addr(&w.client), addr(&w.provider)];
    let before = [balance(&w, who[0]).await, balance(&w, who[1]).await];
    let posted =
        jobs::post(&w.client, w.jobs, addr(&w.provider), &spec, U256::from(PRICE), U256::from(BOND), 7200)
            .await
            .unwrap();
    jobs::accept(&w.provider, w.jobs, posted.job_id, w.provider_agent).await.unwrap();
    let tampered = deliver(&spec, &signer(&w, 2), true);
    jobs::submit(&w.provider, w.jobs, posted.job_id, spec.model_hash(), &tampered).await.unwrap();

    // Two validators run a worker; the third never does.
    let mut v0 = worker(&w, &w.validators[0], 3, None, validator_policy());
    let mut v1 = worker(&w, &w.validators[1], 4, None, validator_policy());
    let first = pass(&mut v0).await;
    assert!(
        matches!(
            &first[..],
            [Activity::Audited { verdict: Verdict::Wrong { .. }, .. }, Activity::Challenged { .. }]
        ),
        "{first:?}"
    );
    let Activity::Challenged { dispute, .. } = first[1] else { unreachable!() };
    // The second validator finds the delivery already challenged; both are drawn and vote.
    let second = pass(&mut v1).await;
    assert_eq!(second, vec![Activity::Committed { dispute, choice: 2 }], "{second:?}");
    assert_eq!(pass(&mut v0).await, vec![Activity::Committed { dispute, choice: 2 }]);

    // The reveals open when the commit period ends (one juror is silent); a restarted worker
    // finds its vote again from the chain.
    assert!(pass(&mut v1).await.is_empty());
    warp(&w, 301).await;
    let mut v1 = worker(&w, &w.validators[1], 4, None, validator_policy());
    assert_eq!(pass(&mut v1).await, vec![Activity::Revealed { dispute, choice: 2 }]);
    assert_eq!(pass(&mut v0).await, vec![Activity::Revealed { dispute, choice: 2 }]);
    warp(&w, 301).await;
    assert_eq!(pass(&mut v0).await, vec![Activity::Ruled { dispute, ruling: U256::from(2) }]);
    assert!(pass(&mut v1).await.is_empty(), "executed once");

    let view = jobs::job(&w.client, w.jobs, posted.job_id).await.unwrap();
    assert_eq!(jobs::status_name(view.job.status), "rejected");
    let bond = i128::from(BOND);
    assert_eq!(balance(&w, who[0]).await - before[0], bond / 2, "client: refunded, plus half the bond");
    assert_eq!(balance(&w, who[1]).await - before[1], -bond, "provider: loses its bond");
    let offline = jobs::member(&w.client, w.jobs, addr(&w.validators[2])).await.unwrap();
    assert_eq!(offline.stake, U256::from(STAKE) - U256::from(2_000_000u64), "the silent juror is slashed");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_false_challenge_loses_the_challengers_bond_to_the_provider() {
    let w = world().await;
    let spec = spec();
    let posted =
        jobs::post(&w.client, w.jobs, addr(&w.provider), &spec, U256::from(PRICE), U256::from(BOND), 7200)
            .await
            .unwrap();
    jobs::accept(&w.provider, w.jobs, posted.job_id, w.provider_agent).await.unwrap();
    let honest = deliver(&spec, &signer(&w, 2), false);
    jobs::submit(&w.provider, w.jobs, posted.job_id, spec.model_hash(), &honest).await.unwrap();
    let (provider0, challenger0) = (balance(&w, addr(&w.provider)).await, balance(&w, addr(&w.client)).await);

    // The client challenges an honest delivery; the three validators re-run it and disagree.
    let (dispute, _) = jobs::challenge(&w.client, w.jobs, posted.job_id, b"no evidence").await.unwrap();
    let mut jurors: Vec<Worker> =
        (0..3).map(|i| worker(&w, &w.validators[i], 3 + i, None, validator_policy())).collect();
    for j in &mut jurors {
        let done = pass(j).await;
        assert!(done.contains(&Activity::Committed { dispute, choice: 1 }), "{done:?}");
    }
    // All three committed: the reveals open at once, and the ruling follows the last one.
    for j in &mut jurors {
        assert_eq!(pass(j).await, vec![Activity::Revealed { dispute, choice: 1 }]);
    }
    assert_eq!(pass(&mut jurors[0]).await, vec![Activity::Ruled { dispute, ruling: U256::from(1) }]);

    let bond = i128::from(BOND);
    assert_eq!(
        balance(&w, addr(&w.provider)).await - provider0,
        i128::from(PRICE) + 2 * bond,
        "provider: paid, its bond back and the challenger's"
    );
    assert_eq!(
        balance(&w, addr(&w.client)).await - challenger0,
        -bond - 1_500_000,
        "challenger: loses its bond and the council's fee"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_timeout_returns_the_funds_and_bad_steps_are_refused_by_name() {
    let w = world().await;
    let spec = spec();
    let bond = i128::from(BOND);
    let mut client = worker(&w, &w.client, 1, None, Policy { provide: false, ..Policy::default() });
    let post =
        || jobs::post(&w.client, w.jobs, addr(&w.provider), &spec, U256::from(PRICE), U256::from(BOND), 7200);

    // Accepted, never delivered; a delivery for another model is refused by name.
    let undelivered = post().await.unwrap().job_id;
    jobs::accept(&w.provider, w.jobs, undelivered, w.provider_agent).await.unwrap();
    let mut elsewhere = spec.clone();
    elsewhere.model_sha256 = alloy::primitives::B256::repeat_byte(7);
    let honest = deliver(&spec, &signer(&w, 2), false);
    let wrong =
        jobs::submit(&w.provider, w.jobs, undelivered, elsewhere.model_hash(), &honest).await.unwrap_err();
    assert!(wrong.to_string().contains("WrongModel"), "{wrong}");

    // Challenged, and the council never rules.
    let unruled = post().await.unwrap().job_id;
    jobs::accept(&w.provider, w.jobs, unruled, w.provider_agent).await.unwrap();
    jobs::submit(&w.provider, w.jobs, unruled, spec.model_hash(), &honest).await.unwrap();
    jobs::challenge(&w.validators[0], w.jobs, unruled, b"{}").await.unwrap();

    // A job created but never funded cannot be accepted.
    let escrow = agora_contracts::bindings::AgenticCommerce::new(w.jobs.escrow, w.client.provider());
    let now = w.client.latest_block_timestamp().await.unwrap();
    escrow
        .createJob(
            addr(&w.provider),
            w.jobs.evaluator,
            U256::from(now + 7200),
            spec.description(),
            w.jobs.evaluator,
        )
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let unfunded = escrow.jobCount().call().await.unwrap();
    let refused = jobs::accept(&w.provider, w.jobs, unfunded, w.provider_agent).await.unwrap_err();
    assert!(refused.to_string().contains("WrongPhase"), "{refused}");

    let who = [addr(&w.client), addr(&w.provider), addr(&w.validators[0])];
    let before = [balance(&w, who[0]).await, balance(&w, who[1]).await, balance(&w, who[2]).await];
    assert!(pass(&mut client).await.is_empty(), "nothing is due before the expiry");
    warp(&w, 7201).await;
    let done = pass(&mut client).await;
    for job in [undelivered, unruled] {
        assert!(done.contains(&Activity::Refunded { job }), "{done:?}");
    }
    let after = [balance(&w, who[0]).await, balance(&w, who[1]).await, balance(&w, who[2]).await];
    let price = i128::from(PRICE);
    assert_eq!(
        after[0] - before[0],
        2 * price + bond,
        "client: both budgets back, and the undelivered job's bond"
    );
    assert_eq!(after[1] - before[1], bond, "provider: its bond back where the council never ruled");
    assert_eq!(after[2] - before[2], bond, "challenger: its bond back");
    for contract in [w.jobs.escrow, w.jobs.evaluator] {
        assert_eq!(balance(&w, contract).await, 0, "nothing is left in escrow");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn validators_judge_a_disputed_funding_round_by_re_settling_it() {
    use agora_funding::{
        chain::{self as funding, FundingContracts, Plan},
        graph::{Edge, Graph, Node, encode_weights},
        jury::{JuryAnswer, JurySheet, Question, sample},
        merkle::{Leaf, Tree},
        round::settle,
    };
    let w = world().await;
    let c = FundingContracts::of(w.net.deployment()).unwrap();
    let node = |id: &str| Node {
        id: id.into(),
        url: None,
        recipient: Some(alloy::primitives::Address::repeat_byte(7)),
        signals: None,
    };
    let graph = Graph {
        name: "two deps".into(),
        nodes: vec![node("root"), node("a"), node("b")],
        edges: vec![Edge { source: 0, target: 1 }, Edge { source: 0, target: 2 }],
    };
    let plan = Plan {
        graph: graph.clone(),
        jurors: vec![addr(&w.client)],
        pool: 10_000_000,
        solver_share_bps: 1_000,
        solver_stake: 0,
        result_bond: 5_000_000,
        submit_secs: 600,
        reveal_secs: 300,
        jury_commit_secs: 600,
        jury_reveal_secs: 300,
        challenge_secs: 300,
        claim_secs: 3600,
        pairs_per_juror: 1,
    };
    let (id, _) = funding::create_round(&w.client, c, &plan).await.unwrap();
    let data = encode_weights(&[700_000_000, 300_000_000]);
    let salt = |who: &agora_chain::ChainClient| funding::salt(addr(who).as_slice(), id, "test");
    funding::commit(&w.provider, c, id, &data, salt(&w.provider)).await.unwrap();
    warp(&w, 601).await;
    funding::reveal(&w.provider, c, id, &data, salt(&w.provider)).await.unwrap();
    let seed = funding::draw_sample(&w.client, c, id).await.unwrap();
    let answers = sample(&graph, seed, addr(&w.client), 1)
        .into_iter()
        .map(|q| match q {
            Question::Compare { a, b } => JuryAnswer::Compare { less: a, more: b, times_centi: 300 },
            Question::Originality { node } => JuryAnswer::Originality { node, percent: 50 },
        })
        .collect();
    let sheet = JurySheet { answers }.encode();
    funding::jury_commit(&w.client, c, id, &sheet, salt(&w.client)).await.unwrap();
    warp(&w, 601).await;
    funding::jury_reveal(&w.client, c, id, &sheet, salt(&w.client)).await.unwrap();
    warp(&w, 301).await;
    let right = settle(&funding::input(&w.client, c, id).await.unwrap()).unwrap();
    // The provider posts a result that pays itself a dollar of the pool.
    let mut wrong = right.clone();
    wrong.leaves[0].amount -= 1_000_000;
    wrong.leaves.push(Leaf {
        index: wrong.leaves.len() as u64,
        account: addr(&w.provider),
        amount: 1_000_000,
        label: "me".into(),
    });
    wrong.root = Tree::new(&wrong.leaves).root();
    funding::post_result(&w.provider, c, id, &wrong).await.unwrap();
    let dispute = funding::challenge(&w.client, c, id, &right).await.unwrap();

    // The three validators' workers re-settle the round and side with the challenger.
    let mut jurors: Vec<Worker> = (0..3)
        .map(|i| worker(&w, &w.validators[i], 3 + i, None, validator_policy()).with_funding(Some(c)))
        .collect();
    for j in &mut jurors {
        let done = pass(j).await;
        assert!(done.contains(&Activity::RoundVote { dispute, choice: 2, revealed: false }), "{done:?}");
    }
    for j in &mut jurors {
        assert_eq!(pass(j).await, vec![Activity::RoundVote { dispute, choice: 2, revealed: true }]);
    }
    assert_eq!(pass(&mut jurors[0]).await, vec![Activity::RoundRuled { dispute, ruling: U256::from(2) }]);
    let view = funding::round(&w.client, c, id).await.unwrap();
    assert_eq!((funding::payout_state(view.payout.state), view.payout.root), ("final", right.root));
}
