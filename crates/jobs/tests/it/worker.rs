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
