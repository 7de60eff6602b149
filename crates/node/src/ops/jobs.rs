//! Jobs between agents as operations (`agora job …`, `agora validator …`): post and fund a job
//! for a provider found by its ERC-8004 agent id, read jobs, and take each step by hand that a
//! running node's worker takes by itself. Every operation sends with the node key, reads the
//! suite from the data directory's deployments and needs no lock: it runs beside `agora up`.

use crate::{NodeConfig, NodeError, Result};
use agora_chain::{ChainClient, ChainDeployment};
use agora_contracts::{SuiteContract, bindings::IdentityRegistry};
use agora_infer::{ChatMessage, Engine, SamplingParams};
use agora_jobs::{
    Activity, JobSpec, Policy, Verdict, Worker,
    chain::{self as jobs, JobContracts, JobView},
    incentive,
};
use agora_receipts::ReceiptEnvelope;
use alloy::primitives::{Address, B256, U256};
use serde::Serialize;
use std::sync::Arc;

fn fail<E: Into<Box<dyn std::error::Error + Send + Sync>>>(
    step: &'static str,
) -> impl FnOnce(E) -> NodeError {
    move |e| NodeError::Jobs { step, source: e.into() }
}

/// The node key's chain client and the suite's job contracts.
#[derive(Debug, Clone)]
pub struct JobsContext {
    /// Signs with the node key (the agent's wallet).
    pub chain: ChainClient,
    /// The job contracts.
    pub contracts: JobContracts,
    /// The suite.
    pub deployment: ChainDeployment,
}

impl JobsContext {
    /// The first block worth reading: the escrow's deployment.
    pub fn first_block(&self) -> u64 {
        self.deployment.contracts.get(SuiteContract::AgenticCommerce.name()).map_or(0, |c| c.block_number)
    }

    /// This node's address (its key, the agent's wallet).
    pub fn me(&self) -> Address {
        self.chain.signer_address().unwrap_or_default()
    }
}

/// Connects with the node key to the configured chain and finds the job contracts in the data
/// directory's deployments.
pub async fn context(config: &NodeConfig) -> Result<JobsContext> {
    let chain = super::payments::wallet_client(config).await?;
    let deployment = agora_chain::DeploymentsFile::load(&config.deployments_path())?
        .chain(chain.chain_id())
        .cloned()
        .ok_or_else(|| {
            NodeError::Missing(format!(
                "no contracts recorded for chain {} in {}: start the node once (agora up) or run agora deploy",
                chain.chain_id(),
                config.deployments_path().display()
            ))
        })?;
    let contracts = JobContracts::of(&deployment).ok_or_else(|| {
        NodeError::Missing("the deployed suite has no job contracts: run agora deploy".into())
    })?;
    Ok(JobsContext { chain, contracts, deployment })
}

/// This node's agent id on the context's chain, as `agora up` recorded it.
pub fn own_agent(config: &NodeConfig, cx: &JobsContext) -> Result<U256> {
    let identity = cx
        .deployment
        .address_of(SuiteContract::IdentityRegistry)
        .ok_or_else(|| NodeError::Missing("no identity registry in the deployed suite".into()))?;
    let store = agora_store::Store::open_in(&config.data_dir)?;
    store
        .setting(&agora_agents::agent_setting_key(cx.chain.chain_id(), identity))?
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| {
            NodeError::Missing(
                "this node has no ERC-8004 agent on this chain: run agora up (it registers one)".into(),
            )
        })
}

/// Whom a job is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderRef {
    /// An ERC-8004 agent: the job goes to its wallet.
    Agent(U256),
    /// An address.
    Address(Address),
}

/// What `agora job post` asks for.
#[derive(Debug, Clone)]
pub struct PostRequest {
    /// The provider.
    pub provider: ProviderRef,
    /// The conversation.
    pub messages: Vec<ChatMessage>,
    /// Sampling, seed included (the job must be re-runnable).
    pub sampling: SamplingParams,
    /// The model's sha256 [default: the configured local model's].
    pub model: Option<B256>,
    /// The budget, atomic units.
    pub price: U256,
    /// The provider's bond, atomic units [default: four times the arbitration cost].
    pub bond: Option<U256>,
    /// Seconds until the job expires.
    pub expires_in: u64,
}

/// A job posted and funded.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PostedJob {
    /// Its id.
    pub job_id: U256,
    /// Who may deliver it.
    pub provider: Address,
    /// The budget (atomic units).
    pub price: U256,
    /// The bond asked of the provider (atomic units).
    pub bond: U256,
    /// The model.
    pub model: B256,
    /// Gas of createJob, setBudget, approve and fund.
    pub gas: [u64; 4],
}

/// Posts and funds a job from the node key.
pub async fn post(config: &NodeConfig, req: PostRequest) -> Result<PostedJob> {
    let cx = context(config).await?;
    let provider = match req.provider {
        ProviderRef::Address(a) => a,
        ProviderRef::Agent(id) => {
            let identity = cx
                .deployment
                .address_of(SuiteContract::IdentityRegistry)
                .ok_or_else(|| NodeError::Missing("no identity registry in the deployed suite".into()))?;
            let wallet = IdentityRegistry::new(identity, cx.chain.provider())
                .getAgentWallet(id)
                .call()
                .await
                .map_err(|e| {
                    NodeError::Missing(format!("agent {id}: {}", agora_contracts::explain_call_error(&e)))
                })?;
            if wallet == Address::ZERO {
                return Err(NodeError::Missing(format!(
                    "agent {id} has no wallet set: it cannot sign deliveries, so it cannot take jobs"
                )));
            }
            wallet
        }
    };
    let model = match req.model {
        Some(m) => m,
        None => {
            let path = config.inference.model.clone().ok_or(NodeError::NoModel)?;
            let info = tokio::task::spawn_blocking(move || agora_infer::inspect(&path)).await??;
            agora_receipts::model_hash(&info.sha256)
        }
    };
    let spec = JobSpec::new(model, req.messages, req.sampling);
    JobSpec::parse(&spec.description()).map_err(fail("checking the job"))?;
    let cost =
        jobs::arbitration_cost(&cx.chain, cx.contracts).await.map_err(fail("reading the council's fee"))?;
    let bond = req.bond.unwrap_or_else(|| U256::from(incentive::bond_for(cost.saturating_to(), 0)));
    let have = jobs::balance(&cx.chain, cx.contracts, cx.me()).await.map_err(fail("reading the balance"))?;
    if have < req.price {
        return Err(NodeError::Missing(format!(
            "the job's budget is {} and {} holds {}{}",
            agora_jobs::worker::dollars(req.price),
            cx.me(),
            agora_jobs::worker::dollars(have),
            if agora_chain::is_dev_chain(cx.chain.chain_id()) {
                " (on the devnet: agora faucet)"
            } else {
                ""
            }
        )));
    }
    let posted = jobs::post(&cx.chain, cx.contracts, provider, &spec, req.price, bond, req.expires_in)
        .await
        .map_err(fail("posting the job"))?;
    Ok(PostedJob { job_id: posted.job_id, provider, price: req.price, bond, model, gas: posted.gas })
}

/// A job as `agora job list|show|status` prints it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobReport {
    /// Its id.
    pub job_id: U256,
    /// `open`, `funded`, `submitted`, `completed`, `rejected` or `expired`.
    pub status: &'static str,
    /// Where the evaluator stands: `funded`, `accepted`, `delivered`, `challenged`, `settled`.
    pub phase: &'static str,
    /// Who posted it.
    pub client: Address,
    /// Who may deliver it.
    pub provider: Address,
    /// The provider's agent, once it accepted.
    pub agent_id: Option<U256>,
    /// The budget (atomic units).
    pub budget: U256,
    /// The bond (atomic units).
    pub bond: U256,
    /// When it expires (unix seconds).
    pub expires_at: u64,
    /// When its delivery was handed in (unix seconds).
    pub submitted_at: Option<u64>,
    /// The challenge window, seconds.
    pub challenge_window: u64,
    /// The council's dispute, once challenged.
    pub dispute: Option<U256>,
    /// The ruling, once settled by one (0 none, 1 stands, 2 wrong).
    pub ruling: Option<U256>,
    /// The job, when its description is an agora spec.
    pub spec: Option<JobSpec>,
    /// The delivered text, when there is a delivery.
    pub output: Option<String>,
    /// What happens next, in words.
    pub next: String,
    /// The chain's clock when read (unix seconds).
    pub now: u64,
}

fn phase_name(phase: u8) -> &'static str {
    match phase {
        1 => "funded",
        2 => "accepted",
        3 => "delivered",
        4 => "challenged",
        5 => "settled",
        _ => "none",
    }
}

fn report(
    view: &JobView,
    job_id: U256,
    now: u64,
    challenge_window: u64,
    delivery: Option<&[u8]>,
) -> JobReport {
    let (job, case) = (&view.job, &view.case);
    let expires_at: u64 = job.expiredAt.saturating_to();
    let submitted_at = (case.submittedAt > 0).then_some(case.submittedAt);
    let output =
        delivery.and_then(|d| serde_json::from_slice::<ReceiptEnvelope>(d).ok()).map(|r| r.output.text);
    let left = |at: u64| agora_jobs::worker::duration(at.saturating_sub(now));
    let next = match (job.status, case.phase) {
        (0, _) => "not funded yet".to_owned(),
        (1, 1) if now >= expires_at => {
            "expired unaccepted: anyone may refund it (agora job settle)".to_owned()
        }
        (1, 1) => format!("waiting for the provider to accept (expires in {})", left(expires_at)),
        (1, 2) if now >= expires_at => {
            "expired undelivered: anyone may refund it (agora job settle)".to_owned()
        }
        (1, 2) => format!("accepted; waiting for the delivery (expires in {})", left(expires_at)),
        (2, 3) => {
            let end = case.submittedAt + challenge_window;
            if now >= end {
                "the challenge window is over: anyone may finalize (agora job settle)".to_owned()
            } else {
                format!("delivered; open to challenges for {}, then the provider is paid", left(end))
            }
        }
        (2, 4) => format!("challenged: the council decides (dispute {})", case.disputeId),
        (3, _) => "completed: the provider was paid".to_owned(),
        (4, _) => "rejected: the client was refunded".to_owned(),
        (5, _) => "expired: the client was refunded".to_owned(),
        _ => "see the contracts' state".to_owned(),
    };
    JobReport {
        job_id,
        status: jobs::status_name(job.status),
        phase: phase_name(case.phase),
        client: job.client,
        provider: job.provider,
        agent_id: (case.phase >= 2).then_some(case.agentId),
        budget: job.budget,
        bond: case.bond,
        expires_at,
        submitted_at,
        challenge_window,
        dispute: (case.phase >= 4).then_some(case.disputeId),
        ruling: (case.phase == 5 && case.challenger != Address::ZERO).then_some(case.ruling),
        spec: view.spec().ok(),
        output,
        next,
        now,
    }
}

/// One job.
pub async fn show(config: &NodeConfig, job_id: U256) -> Result<JobReport> {
    let cx = context(config).await?;
    read(&cx, job_id).await
}

async fn read(cx: &JobsContext, job_id: U256) -> Result<JobReport> {
    read_on(&cx.chain, &cx.deployment, job_id).await
}

/// Reads job `job_id` of `deployment`'s escrow through `chain`.
pub(crate) async fn read_on(
    chain: &ChainClient,
    deployment: &ChainDeployment,
    job_id: U256,
) -> Result<JobReport> {
    let contracts = JobContracts::of(deployment)
        .ok_or_else(|| NodeError::Missing("the deployed suite has no job contracts".into()))?;
    let first_block =
        deployment.contracts.get(SuiteContract::AgenticCommerce.name()).map_or(0, |c| c.block_number);
    let view = jobs::job(chain, contracts, job_id).await.map_err(fail("reading the job"))?;
    let now = chain.latest_block_timestamp().await?;
    let (window, _) = jobs::windows(chain, contracts).await.map_err(fail("reading the windows"))?;
    let delivery = if view.case.phase >= 3 {
        jobs::delivery_of(chain, contracts, job_id, first_block)
            .await
            .map_err(fail("reading the delivery"))?
    } else {
        None
    };
    Ok(report(&view, job_id, now, window, delivery.as_ref().map(|d| d.as_ref())))
}

/// Every job on the escrow, newest first; with `mine`, only those this node posted or may
/// deliver.
pub async fn list(config: &NodeConfig, mine: bool) -> Result<Vec<JobReport>> {
    let cx = context(config).await?;
    let head = cx.chain.block_number().await?;
    let me = cx.me();
    let created = jobs::created(&cx.chain, cx.contracts, cx.first_block(), head)
        .await
        .map_err(fail("reading the jobs"))?;
    let mut out = Vec::new();
    for c in created.iter().rev().filter(|c| !mine || c.client == me || c.provider == me) {
        out.push(read(&cx, c.job_id).await?);
    }
    Ok(out)
}

/// Accepts a job as this node's agent, posting the bond.
pub async fn accept(config: &NodeConfig, job_id: U256) -> Result<JobReport> {
    let cx = context(config).await?;
    let agent = own_agent(config, &cx)?;
    jobs::accept(&cx.chain, cx.contracts, job_id, agent).await.map_err(fail("accepting the job"))?;
    read(&cx, job_id).await
}

async fn engine(config: &NodeConfig) -> Result<Arc<Engine>> {
    Ok(Arc::new(crate::load_engine(&config.inference).await?.ok_or(NodeError::NoModel)?))
}

/// Runs an accepted job on the local model and hands in the signed receipt.
pub async fn submit(config: &NodeConfig, job_id: U256) -> Result<JobReport> {
    let cx = context(config).await?;
    let view = jobs::job(&cx.chain, cx.contracts, job_id).await.map_err(fail("reading the job"))?;
    let spec = view.spec().map_err(fail("reading the job's spec"))?;
    let engine = engine(config).await?;
    let key = crate::node_key::load_or_create(&config.data_dir)?;
    let now = cx.chain.latest_block_timestamp().await?;
    let run_spec = spec.clone();
    let receipt =
        tokio::task::spawn_blocking(move || agora_jobs::run(&run_spec, &engine, &key, now).map_err(Box::new))
            .await?
            .map_err(fail("running the job"))?;
    let delivery = serde_json::to_vec(&receipt).map_err(fail("encoding the delivery"))?;
    jobs::submit(&cx.chain, cx.contracts, job_id, spec.model_hash(), &delivery)
        .await
        .map_err(fail("handing in the delivery"))?;
    read(&cx, job_id).await
}

/// What a hand-made challenge found.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Challenge {
    /// The re-execution's verdict.
    pub verdict: Verdict,
    /// The dispute, when challenged.
    pub dispute: Option<U256>,
    /// What the challenge put at stake (bond and fee, atomic units).
    pub stake: U256,
}

/// Re-runs a delivered job on the local model and challenges it when the delivery is wrong
/// (`anyway` challenges a delivery that stands, which loses the bond).
pub async fn challenge(config: &NodeConfig, job_id: U256, anyway: bool) -> Result<Challenge> {
    let cx = context(config).await?;
    let view = jobs::job(&cx.chain, cx.contracts, job_id).await.map_err(fail("reading the job"))?;
    let delivery = jobs::delivery_of(&cx.chain, cx.contracts, job_id, cx.first_block())
        .await
        .map_err(fail("reading the delivery"))?
        .ok_or_else(|| NodeError::Missing(format!("job {job_id} has no delivery to challenge")))?;
    let spec = view.spec().map_err(fail("reading the job's spec"))?;
    let engine = engine(config).await?;
    let key = crate::node_key::load_or_create(&config.data_dir)?;
    let provider = view.case.provider;
    let at = view.case.submittedAt;
    let a = tokio::task::spawn_blocking(move || {
        agora_jobs::audit(&spec, provider, &delivery, &engine, &key, at).map_err(Box::new)
    })
    .await?
    .map_err(fail("re-running the job"))?;
    let cost =
        jobs::arbitration_cost(&cx.chain, cx.contracts).await.map_err(fail("reading the council's fee"))?;
    let stake = view.case.bond + cost;
    if a.verdict == Verdict::Stands && !anyway {
        return Ok(Challenge { verdict: a.verdict, dispute: None, stake });
    }
    let evidence = serde_json::to_vec(&a.evidence).map_err(fail("encoding the evidence"))?;
    let (dispute, _) = jobs::challenge(&cx.chain, cx.contracts, job_id, &evidence)
        .await
        .map_err(fail("challenging the delivery"))?;
    Ok(Challenge { verdict: a.verdict, dispute: Some(dispute), stake })
}

/// Takes whatever step is due on a job: finalize a delivery past its window, refund an
/// expired job, or execute a council ruling whose voting is over.
pub async fn settle(config: &NodeConfig, job_id: U256) -> Result<(&'static str, JobReport)> {
    let cx = context(config).await?;
    let view = jobs::job(&cx.chain, cx.contracts, job_id).await.map_err(fail("reading the job"))?;
    let now = cx.chain.latest_block_timestamp().await?;
    let (window, _) = jobs::windows(&cx.chain, cx.contracts).await.map_err(fail("reading the windows"))?;
    let expired = U256::from(now) >= view.job.expiredAt;
    let step = match (view.job.status, view.case.phase) {
        (2, 3) if now >= view.case.submittedAt + window => {
            jobs::finalize(&cx.chain, cx.contracts, job_id).await.map_err(fail("finalizing"))?;
            "finalized: the provider is paid and its bond returned"
        }
        (2, 4) => {
            let d = jobs::dispute(&cx.chain, cx.contracts, view.case.disputeId)
                .await
                .map_err(fail("reading the dispute"))?;
            if d.executed && expired {
                jobs::expire(&cx.chain, cx.contracts, job_id).await.map_err(fail("refunding"))?;
                "refunded: the ruling never arrived"
            } else {
                jobs::execute(&cx.chain, cx.contracts, view.case.disputeId)
                    .await
                    .map_err(fail("executing the ruling"))?;
                "ruled: the council's ruling settled the job"
            }
        }
        (1 | 2, _) if expired => {
            jobs::expire(&cx.chain, cx.contracts, job_id).await.map_err(fail("refunding"))?;
            "refunded: the job expired"
        }
        _ => {
            let r = report(&view, job_id, now, window, None);
            return Err(NodeError::Missing(format!("nothing is due on job {job_id}: {}", r.next)));
        }
    };
    Ok((step, read(&cx, job_id).await?))
}

/// This node on the validator council.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CouncilSeat {
    /// The node's address.
    pub address: Address,
    /// On the roster.
    pub active: bool,
    /// Its stake (atomic units).
    pub stake: U256,
    /// Disputes it sits on now.
    pub open_disputes: u32,
    /// The council's smallest stake (atomic units).
    pub min_stake: U256,
    /// The node's balance (atomic units).
    pub balance: U256,
}

async fn seat(cx: &JobsContext) -> Result<CouncilSeat> {
    let me = cx.me();
    let v = jobs::member(&cx.chain, cx.contracts, me).await.map_err(fail("reading the council"))?;
    Ok(CouncilSeat {
        address: me,
        active: v.active,
        stake: v.stake,
        open_disputes: v.openDisputes,
        min_stake: jobs::min_stake(&cx.chain, cx.contracts).await.map_err(fail("reading the council"))?,
        balance: jobs::balance(&cx.chain, cx.contracts, me).await.map_err(fail("reading the balance"))?,
    })
}

/// The node's seat on the council.
pub async fn council(config: &NodeConfig) -> Result<CouncilSeat> {
    seat(&context(config).await?).await
}

/// Joins the council as this node's agent with `stake` [default: the council's minimum].
pub async fn join(config: &NodeConfig, stake: Option<U256>) -> Result<CouncilSeat> {
    let cx = context(config).await?;
    let agent = own_agent(config, &cx)?;
    let stake = match stake {
        Some(s) => s,
        None => jobs::min_stake(&cx.chain, cx.contracts).await.map_err(fail("reading the council"))?,
    };
    jobs::join(&cx.chain, cx.contracts, agent, stake).await.map_err(fail("joining the council"))?;
    seat(&cx).await
}

/// Leaves the council, taking the stake back.
pub async fn leave(config: &NodeConfig) -> Result<CouncilSeat> {
    let cx = context(config).await?;
    jobs::leave(&cx.chain, cx.contracts).await.map_err(fail("leaving the council"))?;
    seat(&cx).await
}

/// A jobs worker for this data directory with `policy` (`agora validator run`), its engine
/// loaded; run it with [`Worker::pass`].
pub async fn worker(config: &NodeConfig, policy: Policy) -> Result<Worker> {
    let cx = context(config).await?;
    let agent = own_agent(config, &cx).ok();
    let engine = engine(config).await?;
    let key = crate::node_key::load_or_create(&config.data_dir)?;
    let first = cx.first_block();
    let funding = agora_funding::chain::FundingContracts::of(&cx.deployment);
    Ok(Worker::new(cx.chain, cx.contracts, engine, key, agent, policy, first).with_funding(funding))
}

/// Runs `worker`'s passes until `stop`, handing each activity to `each`.
pub async fn run_worker(
    mut worker: Worker,
    stop: impl std::future::Future<Output = ()>,
    mut each: impl FnMut(&Activity),
) -> Result<()> {
    let interval = std::time::Duration::from_secs(worker.policy().poll_secs);
    tokio::pin!(stop);
    loop {
        match worker.pass().await {
            Ok(done) => done.iter().for_each(&mut each),
            Err(e) => tracing::warn!(target: "agora::jobs", "reading the chain failed (will retry): {e}"),
        }
        tokio::select! {
            () = &mut stop => return Ok(()),
            () = tokio::time::sleep(interval) => {}
        }
    }
}
