//! The round contracts on chain: each step of a deep-funding or quadratic-funding round, reading
//! back what was revealed, and the council juror's judgement of a disputed result (re-settling
//! the round and comparing the roots).
//!
//! The rest of the crate does no I/O; this module is where it meets the chain.

use crate::{
    FundingError,
    graph::Graph,
    merkle::Tree,
    qf::{self, Donation, QfResult},
    round::{RoundInput, RoundResult, settle},
};
use agora_chain::{ChainClient, ChainDeployment};
use agora_contracts::{
    SuiteContract,
    bindings::{
        DevStablecoin, ValidatorCouncil,
        deep_funding::DeepFundingRound::{self, RoundParams},
        quadratic_funding::QuadraticFundingRound::{self, QfParams},
    },
};
use alloy::{
    primitives::{Address, B256, Bytes, U256, keccak256},
    providers::Provider,
    rpc::types::{Filter, Log, TransactionReceipt},
    sol_types::{SolEvent, SolValue},
};

type Result<T> = std::result::Result<T, FundingError>;

fn chain_error(what: &str, e: impl std::fmt::Display) -> FundingError {
    FundingError::Chain(format!("{what}: {e}"))
}

/// Sends a call to a round contract (a deep-funding one unless it says otherwise); reverts are
/// named with the round contracts' argument names.
macro_rules! send {
    ($call:expr, $what:expr) => {
        agora_contracts::send_to(SuiteContract::DeepFundingRound, $call, $what)
            .await
            .map_err(FundingError::Chain)?
    };
    (qf: $call:expr, $what:expr) => {
        agora_contracts::send_to(SuiteContract::QuadraticFundingRound, $call, $what)
            .await
            .map_err(FundingError::Chain)?
    };
}

/// Where the round contracts of a suite are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FundingContracts {
    /// `DeepFundingRound`.
    pub deep: Address,
    /// `QuadraticFundingRound`.
    pub qf: Address,
    /// The pool token (dUSD).
    pub token: Address,
    /// The arbitrator (`ValidatorCouncil`).
    pub council: Address,
    /// The block the round contracts were deployed in: where event scans start.
    pub from_block: u64,
}

impl FundingContracts {
    /// The round contracts of a deployment, if it has them.
    pub fn of(deployment: &ChainDeployment) -> Option<Self> {
        let block = deployment.contracts.get(SuiteContract::DeepFundingRound.name()).map(|c| c.block_number);
        Some(Self {
            deep: deployment.address_of(SuiteContract::DeepFundingRound)?,
            qf: deployment.address_of(SuiteContract::QuadraticFundingRound)?,
            token: deployment.address_of(SuiteContract::DevStablecoin)?,
            council: deployment.address_of(SuiteContract::ValidatorCouncil)?,
            from_block: block.unwrap_or(0),
        })
    }
}

/// How many deep-funding rounds the contract holds (ids `1..=count`).
pub async fn round_count(
    chain: &ChainClient,
    deployment: &ChainDeployment,
) -> std::result::Result<u64, String> {
    let c = FundingContracts::of(deployment)
        .ok_or("the deployed suite has no funding rounds: run agora deploy")?;
    let n = agora_contracts::bindings::DeepFundingRound::new(c.deep, chain.provider())
        .roundCount()
        .call()
        .await
        .map_err(|e| format!("reading the rounds: {e}"))?;
    Ok(u64::try_from(n).unwrap_or(u64::MAX))
}

async fn approve(
    chain: &ChainClient,
    token: Address,
    spender: Address,
    amount: U256,
) -> Result<TransactionReceipt> {
    Ok(send!(DevStablecoin::new(token, chain.provider()).approve(spender, amount), "approving the token"))
}

fn me(chain: &ChainClient) -> Result<Address> {
    chain.signer_address().ok_or_else(|| FundingError::Chain("this step needs a key".into()))
}

/// A secret salt for a commitment, derived from the committer's key: the same key, round and
/// purpose always give the same salt, so a reveal needs nothing kept but the data.
pub fn salt(key: &[u8], round: U256, purpose: &str) -> B256 {
    keccak256([key, b"agora.funding.salt", &round.to_be_bytes::<32>(), purpose.as_bytes()].concat())
}

/// The schedule and money of a new deep-funding round; durations in seconds from now.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The graph (its root is committed; it is published on chain in the same step).
    pub graph: Graph,
    /// Who may answer the jury's questions.
    pub jurors: Vec<Address>,
    /// The pool, token units.
    pub pool: u128,
    /// The solvers' share of the pool, basis points.
    pub solver_share_bps: u16,
    /// The stake a solver commits with (returned on reveal).
    pub solver_stake: u128,
    /// The bond of whoever posts the result (and of a challenger).
    pub result_bond: u128,
    /// Submissions are committed until now + this.
    pub submit_secs: u64,
    /// Then revealed for this long.
    pub reveal_secs: u64,
    /// The jury commits until the submission deadline + this (after the sample is drawn).
    pub jury_commit_secs: u64,
    /// Then reveals for this long.
    pub jury_reveal_secs: u64,
    /// The challenge window of a posted result.
    pub challenge_secs: u64,
    /// How long claims stay open before the funder may sweep.
    pub claim_secs: u64,
    /// Questions drawn per juror.
    pub pairs_per_juror: u32,
}

/// Creates a round (approving the pool) and publishes its graph; returns the round id and the
/// gas of each transaction (approve, create, publish).
pub async fn create_round(chain: &ChainClient, c: FundingContracts, plan: &Plan) -> Result<(U256, [u64; 3])> {
    plan.graph.validate()?;
    let now = chain.latest_block_timestamp().await.map_err(|e| chain_error("reading the clock", e))?;
    let commit = now + plan.submit_secs;
    let reveal = commit + plan.reveal_secs;
    let jury_commit = reveal.max(commit + plan.jury_commit_secs);
    let params = RoundParams {
        graphRoot: plan.graph.root(),
        pool: U256::from(plan.pool),
        solverShareBps: plan.solver_share_bps,
        solverStake: U256::from(plan.solver_stake),
        resultBond: U256::from(plan.result_bond),
        commitDeadline: commit,
        revealDeadline: reveal,
        juryCommitDeadline: jury_commit,
        juryRevealDeadline: jury_commit + plan.jury_reveal_secs,
        challengeWindow: plan.challenge_secs,
        claimPeriod: plan.claim_secs,
        pairsPerJuror: plan.pairs_per_juror,
    };
    let approved = approve(chain, c.token, c.deep, U256::from(plan.pool)).await?;
    let round = DeepFundingRound::new(c.deep, chain.provider());
    let created = send!(round.createRound(params, plan.jurors.clone()), "creating the round");
    let id = created
        .logs()
        .iter()
        .find_map(|l| DeepFundingRound::RoundCreated::decode_log(&l.inner).ok())
        .map(|e| e.roundId)
        .ok_or_else(|| FundingError::Chain("createRound emitted no RoundCreated".into()))?;
    let published = send!(round.publishGraph(id, plan.graph.canonical().into()), "publishing the graph");
    Ok((id, [approved.gas_used, created.gas_used, published.gas_used]))
}

/// A round as the contract sees it.
#[derive(Debug, Clone)]
pub struct RoundView {
    /// The round's record (parameters, funder, seed, reveals).
    pub round: DeepFundingRound::Round,
    /// The result's state (root, poster, challenge, claims).
    pub payout: agora_contracts::bindings::deep_funding::OptimisticDistributor::Payout,
    /// The jurors.
    pub jurors: Vec<Address>,
    /// Submissions committed.
    pub submissions: u64,
}

/// The state name of a payout state number.
pub fn payout_state(state: u8) -> &'static str {
    match state {
        0 => "no result",
        1 => "result posted",
        2 => "result challenged",
        3 => "final",
        _ => "unknown",
    }
}

/// Reads a round.
pub async fn round(chain: &ChainClient, c: FundingContracts, id: U256) -> Result<RoundView> {
    let contract = DeepFundingRound::new(c.deep, chain.provider());
    let explain = |what: &'static str| {
        move |e: alloy::contract::Error| chain_error(what, agora_contracts::explain_call_error(&e))
    };
    let round = contract.round(id).call().await.map_err(explain("reading the round"))?;
    let payout = contract.payout(id).call().await.map_err(explain("reading the result"))?;
    let jurors = contract.jurors(id).call().await.map_err(explain("reading the jurors"))?;
    let submissions =
        contract.submissionCount(id).call().await.map_err(explain("reading the submissions"))?;
    Ok(RoundView { round, payout, jurors, submissions: submissions.try_into().unwrap_or(u64::MAX) })
}

/// The commitment the contract checks a reveal against.
pub fn commitment(id: U256, who: Address, data: &[u8], salt: B256) -> B256 {
    keccak256((id, who, keccak256(data), salt).abi_encode())
}

/// A solver commits to `data` (approving its stake); returns the submission's index.
pub async fn commit(
    chain: &ChainClient,
    c: FundingContracts,
    id: U256,
    data: &[u8],
    salt: B256,
) -> Result<U256> {
    let view = round(chain, c, id).await?;
    let stake = view.round.params.solverStake;
    if stake > U256::ZERO {
        approve(chain, c.token, c.deep, stake).await?;
    }
    let receipt = send!(
        DeepFundingRound::new(c.deep, chain.provider()).commit(id, commitment(id, me(chain)?, data, salt)),
        "committing the submission"
    );
    receipt
        .logs()
        .iter()
        .find_map(|l| DeepFundingRound::SubmissionCommitted::decode_log(&l.inner).ok())
        .map(|e| e.index)
        .ok_or_else(|| FundingError::Chain("commit emitted no SubmissionCommitted".into()))
}

/// A solver reveals what it committed to (its stake comes back).
pub async fn reveal(
    chain: &ChainClient,
    c: FundingContracts,
    id: U256,
    data: &[u8],
    salt: B256,
) -> Result<u64> {
    let r = send!(
        DeepFundingRound::new(c.deep, chain.provider()).reveal(id, Bytes::copy_from_slice(data), salt),
        "revealing the submission"
    );
    Ok(r.gas_used)
}

/// Draws the jury's sample seed (anyone, once, after the submission deadline).
pub async fn draw_sample(chain: &ChainClient, c: FundingContracts, id: U256) -> Result<B256> {
    send!(DeepFundingRound::new(c.deep, chain.provider()).drawSample(id), "drawing the sample");
    Ok(round(chain, c, id).await?.round.seed)
}

/// A juror commits to its answers.
pub async fn jury_commit(
    chain: &ChainClient,
    c: FundingContracts,
    id: U256,
    answers: &[u8],
    salt: B256,
) -> Result<u64> {
    let r = send!(
        DeepFundingRound::new(c.deep, chain.provider())
            .juryCommit(id, commitment(id, me(chain)?, answers, salt)),
        "committing the jury answers"
    );
    Ok(r.gas_used)
}

/// A juror reveals its answers.
pub async fn jury_reveal(
    chain: &ChainClient,
    c: FundingContracts,
    id: U256,
    answers: &[u8],
    salt: B256,
) -> Result<u64> {
    let r = send!(
        DeepFundingRound::new(c.deep, chain.provider()).juryReveal(id, Bytes::copy_from_slice(answers), salt),
        "revealing the jury answers"
    );
    Ok(r.gas_used)
}

async fn logs(
    chain: &ChainClient,
    c: FundingContracts,
    address: Address,
    signature: B256,
    id: U256,
) -> Result<Vec<Log>> {
    let filter = Filter::new()
        .address(address)
        .event_signature(signature)
        .topic1(B256::from(id))
        .from_block(c.from_block);
    chain.provider().get_logs(&filter).await.map_err(|e| chain_error("reading the round's events", e))
}

/// Everything the round's result depends on, read from the chain: the published graph (checked
/// against the root), the revealed submissions in commit order, and the revealed jury sheets.
pub async fn input(chain: &ChainClient, c: FundingContracts, id: U256) -> Result<RoundInput> {
    let view = round(chain, c, id).await?;
    let p = &view.round.params;
    let graph = logs(chain, c, c.deep, DeepFundingRound::GraphPublished::SIGNATURE_HASH, id)
        .await?
        .iter()
        .filter_map(|l| DeepFundingRound::GraphPublished::decode_log(&l.inner).ok())
        .find(|e| keccak256(&e.graph) == p.graphRoot)
        .ok_or_else(|| FundingError::Chain(format!("round {id}: its graph was never published")))?;
    let graph: Graph = serde_json::from_slice(&graph.graph)
        .map_err(|e| FundingError::Encoding(format!("the published graph: {e}")))?;
    let mut submissions: Vec<(U256, Address, Vec<u8>)> =
        logs(chain, c, c.deep, DeepFundingRound::SubmissionRevealed::SIGNATURE_HASH, id)
            .await?
            .iter()
            .filter_map(|l| DeepFundingRound::SubmissionRevealed::decode_log(&l.inner).ok())
            .map(|e| (e.index, e.solver, e.data.data.to_vec()))
            .collect();
    submissions.sort_by_key(|s| s.0);
    let jury = logs(chain, c, c.deep, DeepFundingRound::JuryRevealed::SIGNATURE_HASH, id)
        .await?
        .iter()
        .filter_map(|l| DeepFundingRound::JuryRevealed::decode_log(&l.inner).ok())
        .map(|e| (e.juror, e.answers.to_vec()))
        .collect();
    Ok(RoundInput {
        graph,
        submissions: submissions.into_iter().map(|(_, who, data)| (who, data)).collect(),
        jury,
        seed: view.round.seed,
        pairs_per_juror: p.pairsPerJuror as usize,
        pool: p.pool.try_into().unwrap_or(u128::MAX),
        solver_share_bps: p.solverShareBps,
    })
}

/// Posts a result (approving the bond).
pub async fn post_result(
    chain: &ChainClient,
    c: FundingContracts,
    id: U256,
    result: &RoundResult,
) -> Result<u64> {
    let view = round(chain, c, id).await?;
    approve(chain, c.token, c.deep, view.round.params.resultBond).await?;
    let r = send!(
        DeepFundingRound::new(c.deep, chain.provider()).postResult(
            id,
            result.root,
            result.hash(),
            U256::from(result.total())
        ),
        "posting the result"
    );
    Ok(r.gas_used)
}

/// Challenges the posted result with `correct` (approving the bond and the arbitration cost);
/// returns the council's dispute id.
pub async fn challenge(
    chain: &ChainClient,
    c: FundingContracts,
    id: U256,
    correct: &RoundResult,
) -> Result<U256> {
    let contract = DeepFundingRound::new(c.deep, chain.provider());
    let view = round(chain, c, id).await?;
    let cost = contract
        .arbitrationCost()
        .call()
        .await
        .map_err(|e| chain_error("reading the arbitration cost", e))?;
    approve(chain, c.token, c.deep, view.round.params.resultBond + cost).await?;
    let r = send!(contract.challenge(id, correct.root, correct.hash()), "challenging the result");
    r.logs()
        .iter()
        .find_map(|l| DeepFundingRound::ResultChallenged::decode_log(&l.inner).ok())
        .map(|e| e.disputeId)
        .ok_or_else(|| FundingError::Chain("challenge emitted no ResultChallenged".into()))
}

/// Finalizes an unchallenged result after its window (anyone may).
pub async fn finalize(chain: &ChainClient, c: FundingContracts, id: U256) -> Result<u64> {
    Ok(send!(DeepFundingRound::new(c.deep, chain.provider()).finalize(id), "finalizing the result").gas_used)
}

/// Claims every unclaimed leaf of `result` paying `account` (anyone may send; the money goes to
/// the account). Returns the amounts claimed and the gas of each claim.
pub async fn claim(
    chain: &ChainClient,
    c: FundingContracts,
    id: U256,
    result: &RoundResult,
    account: Address,
) -> Result<Vec<(u128, u64)>> {
    claim_leaves(chain, SuiteContract::DeepFundingRound, c.deep, id, &result.leaves, account).await
}

/// Both round kinds pay through the optimistic distributor: one claim loop for either.
async fn claim_leaves(
    chain: &ChainClient,
    kind: SuiteContract,
    round: Address,
    id: U256,
    leaves: &[crate::merkle::Leaf],
    account: Address,
) -> Result<Vec<(u128, u64)>> {
    // The distributor's `isClaimed` and `claim` are the same in both contracts' ABIs.
    let contract = DeepFundingRound::new(round, chain.provider());
    let tree = Tree::new(leaves);
    let mut out = Vec::new();
    for leaf in leaves.iter().filter(|l| l.account == account) {
        let index = U256::from(leaf.index);
        if contract.isClaimed(id, index).call().await.map_err(|e| chain_error("reading the claim", e))? {
            continue;
        }
        let proof = tree.proof(leaf).unwrap_or_default();
        let call = contract.claim(id, index, leaf.account, U256::from(leaf.amount), proof);
        let r = agora_contracts::send_to(kind, call, "claiming").await.map_err(FundingError::Chain)?;
        out.push((leaf.amount, r.gas_used));
    }
    Ok(out)
}

/// The result that is final on chain, recomputed and checked against the chain's root: the
/// posted one, or the challenger's when the council sided with it.
pub async fn final_result(chain: &ChainClient, c: FundingContracts, id: U256) -> Result<RoundResult> {
    let view = round(chain, c, id).await?;
    if view.payout.state != 3 {
        return Err(FundingError::Chain(format!("round {id}: {}", payout_state(view.payout.state))));
    }
    let result = settle(&input(chain, c, id).await?)?;
    if result.root != view.payout.root {
        return Err(FundingError::Chain(format!(
            "round {id}: the final root {} is not the round's result recomputed here ({}); claims need the result document that was posted",
            view.payout.root, result.root
        )));
    }
    Ok(result)
}

/// A council juror's choice in a dispute over a round's result: re-settle the round here and
/// compare. 1: the posted root is right; 2: the challenger's is; 0: neither (refuse to rule).
/// `None` when the dispute is not about a round of these contracts.
pub async fn judge(chain: &ChainClient, c: FundingContracts, dispute: U256) -> Result<Option<(u8, B256)>> {
    let d = ValidatorCouncil::new(c.council, chain.provider())
        .getDispute(dispute)
        .call()
        .await
        .map_err(|e| chain_error("reading the dispute", e))?;
    let (posted, challenger, evidence) = if d.arbitrable == c.deep {
        let id = DeepFundingRound::new(c.deep, chain.provider())
            .roundOfDispute(dispute)
            .call()
            .await
            .map_err(|e| chain_error("reading the dispute's round", e))?;
        let view = round(chain, c, id).await?;
        let result = settle(&input(chain, c, id).await?)?;
        (view.payout.root == result.root, view.payout.challengerRoot == result.root, result.hash())
    } else if d.arbitrable == c.qf {
        let contract = QuadraticFundingRound::new(c.qf, chain.provider());
        let id = contract
            .roundOfDispute(dispute)
            .call()
            .await
            .map_err(|e| chain_error("reading the dispute's round", e))?;
        let payout = contract.payout(id).call().await.map_err(|e| chain_error("reading the result", e))?;
        let result = settle_qf(chain, c, id).await?;
        (
            payout.root == result.root,
            payout.challengerRoot == result.root,
            keccak256(serde_json::to_vec(&result).unwrap_or_default()),
        )
    } else {
        return Ok(None);
    };
    let choice = if posted {
        1
    } else if challenger {
        2
    } else {
        0
    };
    Ok(Some((choice, evidence)))
}

/// The pairwise budget of agora's quadratic-funding rounds: $10 per pair of donors.
pub const QF_PAIR_BUDGET: u128 = 10_000_000;

/// A quadratic-funding round's donations, read from its events.
pub async fn donations(chain: &ChainClient, c: FundingContracts, id: U256) -> Result<Vec<Donation>> {
    Ok(logs(chain, c, c.qf, QuadraticFundingRound::Donated::SIGNATURE_HASH, id)
        .await?
        .iter()
        .filter_map(|l| QuadraticFundingRound::Donated::decode_log(&l.inner).ok())
        .map(|e| Donation {
            donor: e.donor,
            project: e.project as usize,
            amount: e.amount.try_into().unwrap_or(u128::MAX),
        })
        .collect())
}

/// Settles a quadratic-funding round from the chain (pairwise-bounded CLR, budget
/// [`QF_PAIR_BUDGET`], no cap).
pub async fn settle_qf(chain: &ChainClient, c: FundingContracts, id: U256) -> Result<QfResult> {
    let round = QuadraticFundingRound::new(c.qf, chain.provider())
        .round(id)
        .call()
        .await
        .map_err(|e| chain_error("reading the round", agora_contracts::explain_call_error(&e)))?;
    let donations = donations(chain, c, id).await?;
    let pool = round.params.matchingPool.try_into().unwrap_or(u128::MAX);
    qf::settle(&round.projects, &donations, pool, QF_PAIR_BUDGET, 10_000, round.funder)
}

/// A new quadratic-funding round; durations in seconds from now.
#[derive(Debug, Clone)]
pub struct QfPlan {
    /// The projects' payout addresses (donations go straight to them).
    pub projects: Vec<Address>,
    /// The matching pool, token units.
    pub pool: u128,
    /// The bond of whoever posts the result (and of a challenger).
    pub bond: u128,
    /// Donations are open until now + this.
    pub donate_secs: u64,
    /// The challenge window of a posted result.
    pub challenge_secs: u64,
    /// How long claims stay open before the funder may sweep.
    pub claim_secs: u64,
    /// Only holders of an ERC-8004 identity may donate.
    pub require_identity: bool,
}

/// Creates a quadratic-funding round (approving the matching pool); returns its id.
pub async fn create_qf(chain: &ChainClient, c: FundingContracts, plan: &QfPlan) -> Result<U256> {
    let now = chain.latest_block_timestamp().await.map_err(|e| chain_error("reading the clock", e))?;
    approve(chain, c.token, c.qf, U256::from(plan.pool)).await?;
    let params = QfParams {
        matchingPool: U256::from(plan.pool),
        resultBond: U256::from(plan.bond),
        donationDeadline: now + plan.donate_secs,
        challengeWindow: plan.challenge_secs,
        claimPeriod: plan.claim_secs,
        requireIdentity: plan.require_identity,
    };
    let r = send!(qf:
        QuadraticFundingRound::new(c.qf, chain.provider()).createRound(params, plan.projects.clone()),
        "creating the round"
    );
    r.logs()
        .iter()
        .find_map(|l| QuadraticFundingRound::RoundCreated::decode_log(&l.inner).ok())
        .map(|e| e.roundId)
        .ok_or_else(|| FundingError::Chain("createRound emitted no RoundCreated".into()))
}

/// Donates to a project of a quadratic-funding round (approving the amount).
pub async fn donate(
    chain: &ChainClient,
    c: FundingContracts,
    id: U256,
    project: u32,
    amount: u128,
) -> Result<u64> {
    approve(chain, c.token, c.qf, U256::from(amount)).await?;
    Ok(send!(qf:
        QuadraticFundingRound::new(c.qf, chain.provider()).donate(id, project, U256::from(amount)),
        "donating"
    )
    .gas_used)
}

/// Posts a quadratic-funding result (approving the bond).
pub async fn post_qf(chain: &ChainClient, c: FundingContracts, id: U256, result: &QfResult) -> Result<u64> {
    let contract = QuadraticFundingRound::new(c.qf, chain.provider());
    let round = contract.round(id).call().await.map_err(|e| chain_error("reading the round", e))?;
    approve(chain, c.token, c.qf, round.params.resultBond).await?;
    let total: u128 = result.leaves.iter().map(|l| l.amount).sum();
    let hash = keccak256(serde_json::to_vec(result).unwrap_or_default());
    Ok(send!(qf: contract.postResult(id, result.root, hash, U256::from(total)), "posting the result")
        .gas_used)
}

/// Finalizes a quadratic-funding result after its window.
pub async fn finalize_qf(chain: &ChainClient, c: FundingContracts, id: U256) -> Result<u64> {
    Ok(send!(qf: QuadraticFundingRound::new(c.qf, chain.provider()).finalize(id), "finalizing the result")
        .gas_used)
}

/// Claims the leaves of a quadratic-funding result paying `account`.
pub async fn claim_qf(
    chain: &ChainClient,
    c: FundingContracts,
    id: U256,
    result: &QfResult,
    account: Address,
) -> Result<Vec<(u128, u64)>> {
    claim_leaves(chain, SuiteContract::QuadraticFundingRound, c.qf, id, &result.leaves, account).await
}

/// Challenges a quadratic-funding result with `correct` (approving the bond and the
/// arbitration cost); returns the council's dispute id.
pub async fn challenge_qf(
    chain: &ChainClient,
    c: FundingContracts,
    id: U256,
    correct: &QfResult,
) -> Result<U256> {
    let contract = QuadraticFundingRound::new(c.qf, chain.provider());
    let round = contract.round(id).call().await.map_err(|e| chain_error("reading the round", e))?;
    let cost = contract
        .arbitrationCost()
        .call()
        .await
        .map_err(|e| chain_error("reading the arbitration cost", e))?;
    approve(chain, c.token, c.qf, round.params.resultBond + cost).await?;
    let hash = keccak256(serde_json::to_vec(correct).unwrap_or_default());
    let r = send!(qf: contract.challenge(id, correct.root, hash), "challenging the result");
    r.logs()
        .iter()
        .find_map(|l| QuadraticFundingRound::ResultChallenged::decode_log(&l.inner).ok())
        .map(|e| e.disputeId)
        .ok_or_else(|| FundingError::Chain("challenge emitted no ResultChallenged".into()))
}

/// A quadratic-funding round and its result's state.
pub async fn qf_round(
    chain: &ChainClient,
    c: FundingContracts,
    id: U256,
) -> Result<(
    QuadraticFundingRound::Round,
    agora_contracts::bindings::quadratic_funding::OptimisticDistributor::Payout,
)> {
    let contract = QuadraticFundingRound::new(c.qf, chain.provider());
    let explain = |what: &'static str| {
        move |e: alloy::contract::Error| chain_error(what, agora_contracts::explain_call_error(&e))
    };
    let round = contract.round(id).call().await.map_err(explain("reading the round"))?;
    let payout = contract.payout(id).call().await.map_err(explain("reading the result"))?;
    Ok((round, payout))
}
