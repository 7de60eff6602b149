//! The three job contracts on chain: each step of a job, the council's votes, and the events
//! the parties watch (deliveries to audit, disputes a validator is drawn for).

use crate::{JobError, JobSpec, Result};
use agora_chain::{ChainClient, ChainDeployment};
use agora_contracts::{
    SuiteContract,
    bindings::{AgenticCommerce, DevStablecoin, ValidatorCouncil, evaluator::JobEvaluator},
};
use alloy::{
    primitives::{Address, B256, Bytes, U256, keccak256},
    providers::Provider,
    rpc::types::{Filter, TransactionReceipt},
    sol_types::{SolEvent, SolValue},
};

/// Where the job contracts of a suite are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobContracts {
    /// `AgenticCommerce`, the ERC-8183 escrow.
    pub escrow: Address,
    /// `JobEvaluator`.
    pub evaluator: Address,
    /// `ValidatorCouncil`.
    pub council: Address,
    /// The payment token.
    pub token: Address,
}

impl JobContracts {
    /// The job contracts of a deployment, if it has them.
    pub fn of(deployment: &ChainDeployment) -> Option<Self> {
        Some(Self {
            escrow: deployment.address_of(SuiteContract::AgenticCommerce)?,
            evaluator: deployment.address_of(SuiteContract::JobEvaluator)?,
            council: deployment.address_of(SuiteContract::ValidatorCouncil)?,
            token: deployment.address_of(SuiteContract::DevStablecoin)?,
        })
    }
}

/// A transaction of a job step, and the gas it used.
#[derive(Debug, Clone)]
pub struct Step {
    /// Its receipt.
    pub receipt: TransactionReceipt,
}

impl Step {
    /// Gas used.
    pub fn gas(&self) -> u64 {
        self.receipt.gas_used
    }
}

fn upto(filter: Filter, to: Option<u64>) -> Filter {
    match to {
        Some(to) => filter.to_block(to),
        None => filter,
    }
}

fn chain_error(what: &str, e: impl std::fmt::Display) -> JobError {
    JobError::Chain(format!("{what}: {e}"))
}

macro_rules! send {
    ($call:expr, $what:expr) => {
        Step { receipt: agora_contracts::send($call, $what).await.map_err(JobError::Chain)? }
    };
}

async fn approve(chain: &ChainClient, token: Address, spender: Address, amount: U256) -> Result<Step> {
    Ok(send!(DevStablecoin::new(token, chain.provider()).approve(spender, amount), "approving the token"))
}

/// A job posted and funded.
#[derive(Debug, Clone)]
pub struct Posted {
    /// Its id in the escrow.
    pub job_id: U256,
    /// Gas of `createJob`, `setBudget`, the approval and `fund`.
    pub gas: [u64; 4],
}

/// Posts `spec` for `provider` at `price`, asking a provider bond of `bond`, expiring
/// `expires_in` seconds from the chain's clock, and funds it (the client is the chain client).
pub async fn post(
    chain: &ChainClient,
    jobs: JobContracts,
    provider: Address,
    spec: &JobSpec,
    price: U256,
    bond: U256,
    expires_in: u64,
) -> Result<Posted> {
    let escrow = AgenticCommerce::new(jobs.escrow, chain.provider());
    let now = chain.latest_block_timestamp().await.map_err(|e| chain_error("reading the clock", e))?;
    let expired_at = U256::from(now + expires_in);
    let created = send!(
        escrow.createJob(provider, jobs.evaluator, expired_at, spec.description(), jobs.evaluator),
        "creating the job"
    );
    let job_id = created
        .receipt
        .logs()
        .iter()
        .find_map(|l| AgenticCommerce::JobCreated::decode_log(&l.inner).ok())
        .map(|e| e.jobId)
        .ok_or_else(|| JobError::Chain("createJob emitted no JobCreated".into()))?;
    let budget = send!(escrow.setBudget(job_id, price, Bytes::new()), "setting the budget");
    let approved = approve(chain, jobs.token, jobs.escrow, price).await?;
    let terms: Bytes = (spec.model_hash(), bond).abi_encode_params().into();
    let funded = send!(escrow.fund(job_id, price, terms), "funding the job");
    Ok(Posted { job_id, gas: [created.gas(), budget.gas(), approved.gas(), funded.gas()] })
}

/// A job as the escrow and the evaluator see it.
#[derive(Debug, Clone)]
pub struct JobView {
    /// The escrow's record (status: 0 Open, 1 Funded, 2 Submitted, 3 Completed, 4 Rejected, 5 Expired).
    pub job: AgenticCommerce::Job,
    /// The evaluator's (phase: 0 none, 1 funded, 2 accepted, 3 submitted, 4 challenged, 5 settled).
    pub case: JobEvaluator::Case,
}

impl JobView {
    /// The job's spec, if its description is one.
    pub fn spec(&self) -> Result<JobSpec> {
        JobSpec::parse(&self.job.description)
    }
}

/// Reads a job.
pub async fn job(chain: &ChainClient, jobs: JobContracts, job_id: U256) -> Result<JobView> {
    let job = AgenticCommerce::new(jobs.escrow, chain.provider())
        .getJob(job_id)
        .call()
        .await
        .map_err(|e| chain_error("reading the job", agora_contracts::explain_call_error(&e)))?;
    let case = JobEvaluator::new(jobs.evaluator, chain.provider())
        .getCase(job_id)
        .call()
        .await
        .map_err(|e| chain_error("reading the job's case", e))?;
    Ok(JobView { job, case })
}

/// The provider takes a funded job as `agent_id`, posting the bond (approval included).
pub async fn accept(
    chain: &ChainClient,
    jobs: JobContracts,
    job_id: U256,
    agent_id: U256,
) -> Result<[Step; 2]> {
    let view = job(chain, jobs, job_id).await?;
    let approved = approve(chain, jobs.token, jobs.evaluator, view.case.bond).await?;
    let accepted = send!(
        JobEvaluator::new(jobs.evaluator, chain.provider()).accept(job_id, agent_id),
        "accepting the job"
    );
    Ok([approved, accepted])
}

/// The provider hands in `delivery` (its signed receipt, as JSON bytes).
pub async fn submit(
    chain: &ChainClient,
    jobs: JobContracts,
    job_id: U256,
    model_hash: B256,
    delivery: &[u8],
) -> Result<Step> {
    let params: Bytes = (model_hash, Bytes::copy_from_slice(delivery)).abi_encode_params().into();
    Ok(send!(
        AgenticCommerce::new(jobs.escrow, chain.provider()).submit(job_id, keccak256(delivery), params),
        "submitting the delivery"
    ))
}

/// Challenges a delivery with `evidence` (the challenger's own receipt), posting the bond and
/// the arbitration cost; returns the council's dispute id.
pub async fn challenge(
    chain: &ChainClient,
    jobs: JobContracts,
    job_id: U256,
    evidence: &[u8],
) -> Result<(U256, [Step; 2])> {
    let evaluator = JobEvaluator::new(jobs.evaluator, chain.provider());
    let view = job(chain, jobs, job_id).await?;
    let cost = evaluator
        .arbitrationCost()
        .call()
        .await
        .map_err(|e| chain_error("reading the arbitration cost", e))?;
    let approved = approve(chain, jobs.token, jobs.evaluator, view.case.bond + cost).await?;
    let challenged =
        send!(evaluator.challenge(job_id, Bytes::copy_from_slice(evidence)), "challenging the delivery");
    let dispute = challenged
        .receipt
        .logs()
        .iter()
        .find_map(|l| JobEvaluator::Challenged::decode_log(&l.inner).ok())
        .map(|e| e.disputeId)
        .ok_or_else(|| JobError::Chain("challenge emitted no Challenged".into()))?;
    Ok((dispute, [approved, challenged]))
}

/// Pays an unchallenged delivery once its window is over (anyone may).
pub async fn finalize(chain: &ChainClient, jobs: JobContracts, job_id: U256) -> Result<Step> {
    Ok(send!(JobEvaluator::new(jobs.evaluator, chain.provider()).finalize(job_id), "finalizing the job"))
}

/// Refunds an expired job to its client (anyone may), then settles its bonds.
pub async fn expire(chain: &ChainClient, jobs: JobContracts, job_id: U256) -> Result<[Step; 2]> {
    let refunded = send!(
        AgenticCommerce::new(jobs.escrow, chain.provider()).claimRefund(job_id),
        "refunding the expired job"
    );
    let settled =
        send!(JobEvaluator::new(jobs.evaluator, chain.provider()).settle(job_id), "settling the bonds");
    Ok([refunded, settled])
}

/// A job as created: who posted it, for whom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Created {
    /// The job.
    pub job_id: U256,
    /// Who posted it.
    pub client: Address,
    /// Who may deliver it.
    pub provider: Address,
    /// The block it was created in.
    pub block: u64,
}

/// Jobs created in blocks `from..=to`.
pub async fn created(chain: &ChainClient, jobs: JobContracts, from: u64, to: u64) -> Result<Vec<Created>> {
    let filter = Filter::new()
        .address(jobs.escrow)
        .event_signature(AgenticCommerce::JobCreated::SIGNATURE_HASH)
        .from_block(from)
        .to_block(to);
    let logs = chain.provider().get_logs(&filter).await.map_err(|e| chain_error("reading the jobs", e))?;
    Ok(logs
        .into_iter()
        .filter_map(|log| {
            let block = log.block_number.unwrap_or_default();
            let e = AgenticCommerce::JobCreated::decode_log(&log.inner).ok()?;
            Some(Created { job_id: e.jobId, client: e.client, provider: e.provider, block })
        })
        .collect())
}

/// The delivery of one job, if it was handed in.
pub async fn delivery_of(
    chain: &ChainClient,
    jobs: JobContracts,
    job_id: U256,
    from: u64,
) -> Result<Option<Bytes>> {
    let filter = Filter::new()
        .address(jobs.evaluator)
        .event_signature(JobEvaluator::Delivered::SIGNATURE_HASH)
        .topic1(B256::from(job_id))
        .from_block(from);
    let logs =
        chain.provider().get_logs(&filter).await.map_err(|e| chain_error("reading the delivery", e))?;
    Ok(logs
        .iter()
        .filter_map(|log| JobEvaluator::Delivered::decode_log(&log.inner).ok())
        .map(|e| e.delivery.clone())
        .next_back())
}

/// The evaluator's windows: (challenge, ruling), in seconds.
pub async fn windows(chain: &ChainClient, jobs: JobContracts) -> Result<(u64, u64)> {
    let evaluator = JobEvaluator::new(jobs.evaluator, chain.provider());
    let challenge = evaluator
        .challengeWindow()
        .call()
        .await
        .map_err(|e| chain_error("reading the challenge window", e))?;
    let ruling =
        evaluator.rulingWindow().call().await.map_err(|e| chain_error("reading the ruling window", e))?;
    Ok((challenge, ruling))
}

/// What a challenge costs beside the bond: the arbitration fee.
pub async fn arbitration_cost(chain: &ChainClient, jobs: JobContracts) -> Result<U256> {
    JobEvaluator::new(jobs.evaluator, chain.provider())
        .arbitrationCost()
        .call()
        .await
        .map_err(|e| chain_error("reading the arbitration cost", e))
}

/// The token balance of `who`.
pub async fn balance(chain: &ChainClient, jobs: JobContracts, who: Address) -> Result<U256> {
    DevStablecoin::new(jobs.token, chain.provider())
        .balanceOf(who)
        .call()
        .await
        .map_err(|e| chain_error("reading a balance", e))
}

/// A delivery published on chain.
#[derive(Debug, Clone)]
pub struct Delivered {
    /// The job.
    pub job_id: U256,
    /// What was delivered (a receipt envelope, as JSON bytes).
    pub delivery: Bytes,
    /// The block it was published in.
    pub block: u64,
}

/// Deliveries published from block `from` on (to block `to`, else the latest).
pub async fn deliveries(
    chain: &ChainClient,
    jobs: JobContracts,
    from: u64,
    to: Option<u64>,
) -> Result<Vec<Delivered>> {
    let filter = upto(
        Filter::new()
            .address(jobs.evaluator)
            .event_signature(JobEvaluator::Delivered::SIGNATURE_HASH)
            .from_block(from),
        to,
    );
    let logs = chain.provider().get_logs(&filter).await.map_err(|e| chain_error("reading deliveries", e))?;
    Ok(logs
        .into_iter()
        .filter_map(|log| {
            let block = log.block_number.unwrap_or_default();
            let event = JobEvaluator::Delivered::decode_log(&log.inner).ok()?;
            Some(Delivered { job_id: event.jobId, delivery: event.delivery.clone(), block })
        })
        .collect())
}

// ---- the council ----

/// Joins the council as `agent_id` with `stake` (approval included).
pub async fn join(chain: &ChainClient, jobs: JobContracts, agent_id: U256, stake: U256) -> Result<[Step; 2]> {
    let approved = approve(chain, jobs.token, jobs.council, stake).await?;
    let joined = send!(
        ValidatorCouncil::new(jobs.council, chain.provider()).join(agent_id, stake),
        "joining the council"
    );
    Ok([approved, joined])
}

/// Leaves the council with the whole stake (refused while drawn for an open dispute).
pub async fn leave(chain: &ChainClient, jobs: JobContracts) -> Result<Step> {
    Ok(send!(ValidatorCouncil::new(jobs.council, chain.provider()).leave(), "leaving the council"))
}

/// A validator's record on the council (`active` false and no stake: not a member).
pub async fn member(
    chain: &ChainClient,
    jobs: JobContracts,
    who: Address,
) -> Result<ValidatorCouncil::Validator> {
    ValidatorCouncil::new(jobs.council, chain.provider())
        .validator(who)
        .call()
        .await
        .map_err(|e| chain_error("reading the council", e))
}

/// The council's smallest stake.
pub async fn min_stake(chain: &ChainClient, jobs: JobContracts) -> Result<U256> {
    ValidatorCouncil::new(jobs.council, chain.provider())
        .minStake()
        .call()
        .await
        .map_err(|e| chain_error("reading the council", e))
}

/// A juror's vote in a dispute.
pub async fn vote(
    chain: &ChainClient,
    jobs: JobContracts,
    dispute_id: U256,
    juror: Address,
) -> Result<ValidatorCouncil::Vote> {
    ValidatorCouncil::new(jobs.council, chain.provider())
        .getVote(dispute_id, juror)
        .call()
        .await
        .map_err(|e| chain_error("reading the vote", e))
}

/// The job a dispute is about.
pub async fn job_of_dispute(chain: &ChainClient, jobs: JobContracts, dispute_id: U256) -> Result<U256> {
    JobEvaluator::new(jobs.evaluator, chain.provider())
        .jobOfDispute(dispute_id)
        .call()
        .await
        .map_err(|e| chain_error("reading the dispute's job", agora_contracts::explain_call_error(&e)))
}

/// A dispute's record on the council.
pub async fn dispute(
    chain: &ChainClient,
    jobs: JobContracts,
    dispute_id: U256,
) -> Result<ValidatorCouncil::Dispute> {
    ValidatorCouncil::new(jobs.council, chain.provider())
        .getDispute(dispute_id)
        .call()
        .await
        .map_err(|e| chain_error("reading the dispute", agora_contracts::explain_call_error(&e)))
}

/// The disputes `juror` was drawn for, from block `from` on (to block `to`, else the latest).
pub async fn drawn_for(
    chain: &ChainClient,
    jobs: JobContracts,
    juror: Address,
    from: u64,
    to: Option<u64>,
) -> Result<Vec<U256>> {
    let filter = upto(
        Filter::new()
            .address(jobs.council)
            .event_signature(ValidatorCouncil::Drawn::SIGNATURE_HASH)
            .from_block(from),
        to,
    );
    let logs = chain.provider().get_logs(&filter).await.map_err(|e| chain_error("reading the draws", e))?;
    Ok(logs
        .into_iter()
        .filter_map(|log| ValidatorCouncil::Drawn::decode_log(&log.inner).ok())
        .filter(|e| e.jurors.contains(&juror))
        .map(|e| e.disputeId)
        .collect())
}

/// The commitment of a vote, as the council computes it.
pub fn commitment(dispute_id: U256, juror: Address, choice: u8, salt: B256) -> B256 {
    keccak256((dispute_id, juror, U256::from(choice), salt).abi_encode())
}

/// Commits a vote (keep `salt`: the reveal needs it).
pub async fn commit(
    chain: &ChainClient,
    jobs: JobContracts,
    dispute_id: U256,
    choice: u8,
    salt: B256,
) -> Result<Step> {
    let juror = chain.signer_address().unwrap_or_default();
    Ok(send!(
        ValidatorCouncil::new(jobs.council, chain.provider())
            .commit(dispute_id, commitment(dispute_id, juror, choice, salt)),
        "committing the vote"
    ))
}

/// Reveals a committed vote, with the hash of the juror's own receipt as evidence.
pub async fn reveal(
    chain: &ChainClient,
    jobs: JobContracts,
    dispute_id: U256,
    choice: u8,
    salt: B256,
    evidence: B256,
) -> Result<Step> {
    Ok(send!(
        ValidatorCouncil::new(jobs.council, chain.provider()).reveal(
            dispute_id,
            U256::from(choice),
            salt,
            evidence
        ),
        "revealing the vote"
    ))
}

/// Rules a dispute whose voting is over, and settles its job (anyone may).
pub async fn execute(chain: &ChainClient, jobs: JobContracts, dispute_id: U256) -> Result<Step> {
    Ok(send!(
        ValidatorCouncil::new(jobs.council, chain.provider()).execute(dispute_id),
        "executing the ruling"
    ))
}

/// The status name of an escrow status number.
pub fn status_name(status: u8) -> &'static str {
    match status {
        0 => "open",
        1 => "funded",
        2 => "submitted",
        3 => "completed",
        4 => "rejected",
        5 => "expired",
        _ => "unknown",
    }
}
