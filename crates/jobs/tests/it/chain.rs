//! Jobs on the devnet with the real contracts, the default model and real receipts: the honest
//! path pays the provider and leaves feedback naming the job; the cheating path is caught by a
//! validator's audit, challenged, and ruled on by a council of three (one offline), with every
//! balance checked to the unit.

use crate::{ENGINE, deliver, spec};
use agora_chain::ChainClient;
use agora_contracts::bindings::{DevStablecoin, ReputationRegistry};
use agora_jobs::{
    Verdict, audit,
    chain::{self as jobs, JobContracts},
};
use agora_testkit::TestNet;
use alloy::{
    primitives::{Address, B256, U256, keccak256},
    providers::Provider,
    sol_types::SolEvent,
};

alloy::sol! {
    #[sol(rpc)]
    interface IRegister {
        function register(string agentURI) external returns (uint256 agentId);
        event Registered(uint256 indexed agentId, string agentURI, address indexed owner);
    }
}

pub(crate) const PRICE: u64 = 1_000_000; // $1
pub(crate) const BOND: u64 = 6_000_000; // $6: four times the $1.50 arbitration cost
pub(crate) const STAKE: u64 = 10_000_000; // $10

pub(crate) struct World {
    pub(crate) net: TestNet,
    pub(crate) jobs: JobContracts,
    pub(crate) client: ChainClient,
    pub(crate) provider: ChainClient,
    pub(crate) provider_agent: U256,
    pub(crate) validators: Vec<ChainClient>,
}

pub(crate) async fn register(chain: &ChainClient, registry: Address) -> U256 {
    let receipt = IRegister::new(registry, chain.provider())
        .register("https://example.invalid/agent.json".into())
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    receipt.logs().iter().find_map(|l| IRegister::Registered::decode_log(&l.inner).ok()).unwrap().agentId
}

pub(crate) async fn world() -> World {
    let net = TestNet::start().await;
    let jobs = JobContracts::of(net.deployment()).unwrap();
    let registry = net.deployment().address_of(agora_contracts::SuiteContract::IdentityRegistry).unwrap();
    let client = net.client_for(1).await;
    let provider = net.client_for(2).await;
    let provider_agent = register(&provider, registry).await;
    let mut validators = Vec::new();
    for i in 3..=5 {
        let v = net.client_for(i).await;
        let agent = register(&v, registry).await;
        jobs::join(&v, jobs, agent, U256::from(STAKE)).await.unwrap();
        validators.push(v);
    }
    World { net, jobs, client, provider, provider_agent, validators }
}

pub(crate) async fn balance(w: &World, who: Address) -> i128 {
    let b = DevStablecoin::new(w.jobs.token, w.client.provider()).balanceOf(who).call().await.unwrap();
    i128::try_from(b).unwrap()
}

pub(crate) async fn warp(w: &World, secs: u64) {
    let p = w.client.provider();
    let _: serde_json::Value = p.raw_request("evm_increaseTime".into(), (secs,)).await.unwrap();
    let _: serde_json::Value = p.raw_request("evm_mine".into(), ()).await.unwrap();
}

pub(crate) fn addr(c: &ChainClient) -> Address {
    c.signer_address().unwrap()
}

pub(crate) fn signer(w: &World, i: usize) -> alloy::signers::local::PrivateKeySigner {
    w.net.wallet(i)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_honest_job_is_paid_after_the_window_with_feedback_naming_it() {
    let w = world().await;
    let spec = spec();
    let (client0, provider0) = (balance(&w, addr(&w.client)).await, balance(&w, addr(&w.provider)).await);
    let posted =
        jobs::post(&w.client, w.jobs, addr(&w.provider), &spec, U256::from(PRICE), U256::from(BOND), 3600)
            .await
            .unwrap();
    jobs::accept(&w.provider, w.jobs, posted.job_id, w.provider_agent).await.unwrap();
    let delivery = deliver(&spec, &signer(&w, 2), false);
    jobs::submit(&w.provider, w.jobs, posted.job_id, spec.model_hash(), &delivery).await.unwrap();

    // A validator reads the delivery from the chain, re-runs it, and finds nothing wrong.
    let delivered = jobs::deliveries(&w.client, w.jobs, 0, None).await.unwrap();
    assert_eq!(delivered.len(), 1);
    let view = jobs::job(&w.client, w.jobs, delivered[0].job_id).await.unwrap();
    let a =
        audit(&view.spec().unwrap(), view.job.provider, &delivered[0].delivery, &ENGINE, &signer(&w, 3), 0)
            .unwrap();
    assert_eq!(a.verdict, Verdict::Stands);

    // Too early to finalize: the named error comes through.
    let early = jobs::finalize(&w.client, w.jobs, posted.job_id).await.unwrap_err().to_string();
    assert!(early.contains("ChallengeWindowOpen"), "{early}");
    warp(&w, 301).await;
    let done = jobs::finalize(&w.client, w.jobs, posted.job_id).await.unwrap();
    println!("gas: finalize {} (payment, bond back, feedback)", done.gas());
    assert_eq!(balance(&w, addr(&w.client)).await, client0 - i128::from(PRICE));
    assert_eq!(balance(&w, addr(&w.provider)).await, provider0 + i128::from(PRICE));
    let view = jobs::job(&w.client, w.jobs, posted.job_id).await.unwrap();
    assert_eq!(jobs::status_name(view.job.status), "completed");

    // The evaluator's feedback names the job and carries the deliverable.
    let feedback = done
        .receipt
        .logs()
        .iter()
        .find_map(|l| ReputationRegistry::NewFeedback::decode_log(&l.inner).ok())
        .expect("feedback on settlement");
    assert_eq!(feedback.agentId, w.provider_agent);
    assert_eq!(feedback.clientAddress, w.jobs.evaluator);
    assert_eq!((feedback.tag1.as_str(), feedback.tag2.as_str()), ("job", "completed"));
    assert!(feedback.feedbackURI.ends_with(&format!(":{}", posted.job_id)), "{}", feedback.feedbackURI);
    assert_eq!(feedback.feedbackHash, keccak256(&delivery));

    // A second payout is refused by name.
    let again = jobs::finalize(&w.client, w.jobs, posted.job_id).await.unwrap_err().to_string();
    assert!(again.contains("WrongPhase"), "{again}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tampered_delivery_is_challenged_and_the_council_refunds_the_client() {
    let w = world().await;
    let spec = spec();
    let who = [addr(&w.client), addr(&w.provider), addr(&w.validators[0]), addr(&w.validators[1])];
    let mut before = Vec::new();
    for a in who {
        before.push(balance(&w, a).await);
    }
    let posted =
        jobs::post(&w.client, w.jobs, addr(&w.provider), &spec, U256::from(PRICE), U256::from(BOND), 3600)
            .await
            .unwrap();
    let accepted = jobs::accept(&w.provider, w.jobs, posted.job_id, w.provider_agent).await.unwrap();
    let tampered = deliver(&spec, &signer(&w, 2), true);
    let submitted =
        jobs::submit(&w.provider, w.jobs, posted.job_id, spec.model_hash(), &tampered).await.unwrap();
    let since_submission = std::time::Instant::now();
    let second =
        jobs::submit(&w.provider, w.jobs, posted.job_id, spec.model_hash(), &tampered).await.unwrap_err();
    assert!(second.to_string().contains("WrongStatus"), "{second}");

    // Validator 3 audits from the chain and challenges with its own receipt.
    let delivered = jobs::deliveries(&w.client, w.jobs, 0, None).await.unwrap();
    let view = jobs::job(&w.client, w.jobs, delivered[0].job_id).await.unwrap();
    let job_spec = view.spec().unwrap();
    let first =
        audit(&job_spec, view.job.provider, &delivered[0].delivery, &ENGINE, &signer(&w, 3), 0).unwrap();
    assert_eq!(first.verdict.choice(), 2);
    let evidence = serde_json::to_vec(&first.evidence).unwrap();
    let (dispute, challenged) =
        jobs::challenge(&w.validators[0], w.jobs, posted.job_id, &evidence).await.unwrap();
    let to_challenge = since_submission.elapsed();
    let mut votes = Vec::new();

    // All three validators are drawn; two re-execute and vote, the third is offline.
    let d = jobs::dispute(&w.client, w.jobs, dispute).await.unwrap();
    assert_eq!(d.jurors.len(), 3);
    for (i, v) in w.validators.iter().enumerate().take(2) {
        assert_eq!(jobs::drawn_for(v, w.jobs, addr(v), 0, None).await.unwrap(), vec![dispute]);
        let started = std::time::Instant::now();
        let a = audit(&job_spec, view.job.provider, &delivered[0].delivery, &ENGINE, &signer(&w, 3 + i), 0)
            .unwrap();
        let reexecution = started.elapsed();
        let salt = keccak256([i as u8; 4]);
        let committed = jobs::commit(v, w.jobs, dispute, a.verdict.choice(), salt).await.unwrap();
        votes.push((reexecution, committed.gas()));
    }
    warp(&w, 301).await;
    // A reveal that does not match its commit is refused by name; the right one goes through.
    let bad = jobs::reveal(&w.validators[0], w.jobs, dispute, 1, keccak256([0u8; 4]), B256::ZERO)
        .await
        .unwrap_err();
    assert!(bad.to_string().contains("CommitMismatch"), "{bad}");
    let mut reveals = Vec::new();
    for (i, v) in w.validators.iter().enumerate().take(2) {
        let evidence_hash = keccak256(serde_json::to_vec(&first.evidence).unwrap());
        reveals.push(
            jobs::reveal(v, w.jobs, dispute, 2, keccak256([i as u8; 4]), evidence_hash).await.unwrap().gas(),
        );
    }
    let late = jobs::commit(&w.validators[2], w.jobs, dispute, 1, B256::ZERO).await.unwrap_err();
    assert!(late.to_string().contains("CommitClosed"), "{late}");
    warp(&w, 301).await;
    let executed = jobs::execute(&w.client, w.jobs, dispute).await.unwrap();
    // The figures of docs/benchmarks.md (run with --no-capture to see them).
    println!(
        "gas: createJob {} setBudget {} approve {} fund {} | approve {} accept {} | submit {} ({} B) | approve {} challenge {} ({} B evidence) | commit {} | reveal {} | execute {}",
        posted.gas[0],
        posted.gas[1],
        posted.gas[2],
        posted.gas[3],
        accepted[0].gas(),
        accepted[1].gas(),
        submitted.gas(),
        tampered.len(),
        challenged[0].gas(),
        challenged[1].gas(),
        evidence.len(),
        votes[0].1,
        reveals[0],
        executed.gas(),
    );
    println!(
        "time: submission to challenge {:.2} s (audit and challenge); re-execution per juror {:.2} s, {:.2} s; {} tokens",
        to_challenge.as_secs_f64(),
        votes[0].0.as_secs_f64(),
        votes[1].0.as_secs_f64(),
        first.evidence.output.tokens.len(),
    );
    let view = jobs::job(&w.client, w.jobs, posted.job_id).await.unwrap();
    assert_eq!(jobs::status_name(view.job.status), "rejected");
    let (bond, cost, slash) = (i128::from(BOND), 1_500_000i128, 2_000_000i128);
    let reward = (cost + slash) / 2;
    let after = [
        balance(&w, who[0]).await,
        balance(&w, who[1]).await,
        balance(&w, who[2]).await,
        balance(&w, who[3]).await,
    ];
    assert_eq!(after[0] - before[0], bond / 2, "client: refunded, plus half the bond");
    assert_eq!(after[1] - before[1], -bond, "provider: loses its bond, is not paid");
    assert_eq!(
        after[2] - before[2],
        bond / 2 - cost + reward,
        "challenger: 1.5× bond back, paid the fee, juror reward"
    );
    assert_eq!(after[3] - before[3], reward, "the other coherent juror");
    let offline = agora_contracts::bindings::ValidatorCouncil::new(w.jobs.council, w.client.provider())
        .validator(addr(&w.validators[2]))
        .call()
        .await
        .unwrap();
    assert_eq!(offline.stake, U256::from(STAKE) - U256::from(2_000_000u64), "the offline juror is slashed");
    for contract in [w.jobs.escrow, w.jobs.evaluator] {
        assert_eq!(balance(&w, contract).await, 0, "nothing is left in escrow");
    }
}
