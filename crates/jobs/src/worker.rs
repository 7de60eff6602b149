//! A node's part in jobs, run one pass at a time (the node runs a pass every few seconds; `agora
//! validator run` does the same in the foreground). Each pass reads what is new on chain, then
//! moves every job, audit and dispute the node is party to one step on:
//!
//! - **provider**: a funded job addressed to this node is taken when the [`Policy`] allows it
//!   (the model is the loaded one, the budget pays the tokens at the node's price, the bond is
//!   within bounds, there is time to deliver), bonded, run and delivered; once its challenge
//!   window has passed it is finalized (paid, bond back);
//! - **client**: a job this node posted that expired undelivered or unsettled is refunded;
//! - **validator**: deliveries by others are audited (a share sampled with a secret seed, so no
//!   provider knows which are checked) and a wrong one is challenged with the auditor's receipt
//!   as evidence; in each dispute this node is drawn for, it re-executes, commits, reveals and
//!   executes the ruling.
//!
//! Nothing is kept on disk: the chain holds every job's state, and a vote's salt is derived from
//! the node key and the dispute, so a restarted node picks each job up where it stood (a commit
//! made before a crash is revealed after it). One failing job never stops the others: its error
//! is reported once, and it is retried on later passes.

use crate::{
    JobError, JobSpec, Result, Verdict, audit,
    chain::{self as jobs, JobContracts},
    incentive, run,
};
use agora_chain::ChainClient;
use agora_infer::Engine;
use alloy::{
    primitives::{Address, B256, Bytes, U256, keccak256},
    signers::local::PrivateKeySigner,
};
use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    fmt,
    sync::Arc,
};

/// What a node does about jobs (`[jobs]` in the node's configuration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Take funded jobs addressed to this node's agent.
    pub provide: bool,
    /// The least budget per token (the prompt's tokens plus `max_tokens`), in the token's atomic
    /// units.
    pub min_price_per_token: u64,
    /// The largest bond this node posts for one job (atomic units).
    pub max_bond: u64,
    /// Audit other providers' deliveries and sit on the validator council.
    pub validate: bool,
    /// The share of deliveries audited, in percent (100: every one).
    pub audit_percent: u8,
    /// The stake the node joins the council with (atomic units; at least the council's minimum).
    pub stake: u64,
    /// Seconds between passes.
    pub poll_secs: u64,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            provide: true,
            min_price_per_token: 10,
            max_bond: 10_000_000,
            validate: false,
            audit_percent: 100,
            stake: 10_000_000,
            poll_secs: 2,
        }
    }
}

/// One thing a pass did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Activity {
    /// Took a job: posted the bond.
    Accepted {
        /// The job.
        job: U256,
        /// The bond posted (atomic units).
        bond: U256,
    },
    /// Left a job addressed to this node alone.
    Declined {
        /// The job.
        job: U256,
        /// Why.
        reason: String,
    },
    /// Handed in a delivery.
    Delivered {
        /// The job.
        job: U256,
        /// Tokens generated.
        tokens: usize,
    },
    /// Finalized a delivery whose window passed: the provider is paid.
    Finalized {
        /// The job.
        job: U256,
    },
    /// Took back the budget of an expired job.
    Refunded {
        /// The job.
        job: U256,
    },
    /// Joined the validator council.
    Joined {
        /// The stake (atomic units).
        stake: U256,
    },
    /// Re-ran another provider's delivery.
    Audited {
        /// The job.
        job: U256,
        /// What the re-execution says.
        verdict: Verdict,
    },
    /// Challenged a wrong delivery.
    Challenged {
        /// The job.
        job: U256,
        /// The council's dispute.
        dispute: U256,
    },
    /// Committed a vote.
    Committed {
        /// The dispute.
        dispute: U256,
        /// 1: the delivery stands; 2: it is wrong.
        choice: u8,
    },
    /// Revealed a vote.
    Revealed {
        /// The dispute.
        dispute: U256,
        /// The choice revealed.
        choice: u8,
    },
    /// Executed a ruling (the job is settled by it).
    Ruled {
        /// The dispute.
        dispute: U256,
        /// 0: no ruling; 1: the delivery stands; 2: it is wrong.
        ruling: U256,
    },
    /// Voted in a dispute over a funding round's posted result (re-settled here).
    RoundVote {
        /// The dispute.
        dispute: U256,
        /// 0: neither root reproduces; 1: the posted result stands; 2: the challenger's does.
        choice: u8,
        /// Whether this was the reveal (else the commitment).
        revealed: bool,
    },
    /// Executed the ruling of a dispute over a funding round's result.
    RoundRuled {
        /// The dispute.
        dispute: U256,
        /// As in [`Activity::RoundVote`].
        ruling: U256,
    },
    /// A step failed; it is retried on the next pass.
    Failed {
        /// What was being done.
        what: String,
        /// The error.
        error: String,
    },
}

impl fmt::Display for Activity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Accepted { job, bond } => write!(f, "job {job}: accepted, bond {}", dollars(*bond)),
            Self::Declined { job, reason } => write!(f, "job {job}: declined ({reason})"),
            Self::Delivered { job, tokens } => write!(f, "job {job}: delivered ({tokens} tokens)"),
            Self::Finalized { job } => write!(f, "job {job}: finalized, the provider is paid"),
            Self::Refunded { job } => write!(f, "job {job}: expired, budget refunded"),
            Self::Joined { stake } => write!(f, "joined the validator council with {}", dollars(*stake)),
            Self::Audited { job, verdict: Verdict::Stands } => {
                write!(f, "job {job}: audited, the delivery stands")
            }
            Self::Audited { job, verdict: Verdict::Wrong { reason } } => {
                write!(f, "job {job}: audited, the delivery is wrong ({reason})")
            }
            Self::Challenged { job, dispute } => write!(f, "job {job}: challenged (dispute {dispute})"),
            Self::Committed { dispute, choice } => {
                write!(f, "dispute {dispute}: committed a vote ({})", choice_name(*choice))
            }
            Self::Revealed { dispute, choice } => {
                write!(f, "dispute {dispute}: revealed the vote ({})", choice_name(*choice))
            }
            Self::Ruled { dispute, ruling } => {
                write!(f, "dispute {dispute}: ruled {}", u8::try_from(*ruling).map_or("unknown", choice_name))
            }
            Self::RoundVote { dispute, choice, revealed } => write!(
                f,
                "dispute {dispute} (a funding round's result): {} a vote ({})",
                if *revealed { "revealed" } else { "committed" },
                round_choice_name(*choice)
            ),
            Self::RoundRuled { dispute, ruling } => write!(
                f,
                "dispute {dispute} (a funding round's result): ruled {}",
                u8::try_from(*ruling).map_or("unknown", round_choice_name)
            ),
            Self::Failed { what, error } => write!(f, "{what}: {error} (will retry)"),
        }
    }
}

/// A council choice in words.
pub fn choice_name(choice: u8) -> &'static str {
    match choice {
        0 => "no ruling",
        1 => "the delivery stands",
        2 => "the delivery is wrong",
        _ => "unknown",
    }
}

/// A council choice about a funding round's posted result, in words.
pub fn round_choice_name(choice: u8) -> &'static str {
    match choice {
        0 => "neither root reproduces",
        1 => "the posted result stands",
        2 => "the challenger's result is right",
        _ => "unknown",
    }
}

/// Atomic units of the suite's dollar token, as people read them (`1.50 dUSD`).
pub fn dollars(amount: U256) -> String {
    agora_chain::units::DOLLARS.format(u128::try_from(amount).unwrap_or(u128::MAX))
}

pub use agora_chain::units::duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Task {
    Join,
    Provide(U256),
    Refund(U256),
    Audit(U256),
    Dispute(U256),
}

/// How many times one step may fail before the worker stops trying it until restarted.
const MAX_FAILURES: u32 = 5;

/// Seconds kept beyond the evaluator's windows when taking a job: the delivery itself takes time.
const DELIVERY_MARGIN: u64 = 120;

/// A node's part in jobs; see the module documentation.
pub struct Worker {
    chain: ChainClient,
    jobs: JobContracts,
    engine: Arc<Engine>,
    signer: PrivateKeySigner,
    agent_id: Option<U256>,
    policy: Policy,
    model: B256,
    seed: B256,
    first_block: u64,
    next_block: u64,
    /// Jobs this node is party to: true when it is the provider, false when only the client.
    mine: BTreeMap<U256, bool>,
    /// Deliveries by others waiting for an audit.
    to_audit: BTreeMap<U256, Bytes>,
    /// Disputes this node sits on.
    disputes: BTreeSet<U256>,
    /// Votes committed by this worker: the choice and the evidence hash (after a restart they
    /// are recovered from the chain).
    votes: HashMap<U256, (u8, B256)>,
    joined: bool,
    failures: HashMap<Task, (u32, String)>,
    /// The funding-round contracts, whose disputed results this node also judges.
    funding: Option<agora_funding::chain::FundingContracts>,
}

impl fmt::Debug for Worker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Worker")
            .field("address", &self.signer.address())
            .field("agent_id", &self.agent_id)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl Worker {
    /// A worker sending with `chain` (whose key must be `signer`, the key that signs the node's
    /// receipts and is its agent's wallet), running `engine`, acting for `agent_id` (needed to
    /// take jobs and to join the council), reading the chain from block `first_block` (the job
    /// contracts' deployment).
    pub fn new(
        chain: ChainClient,
        jobs: JobContracts,
        engine: Arc<Engine>,
        signer: PrivateKeySigner,
        agent_id: Option<U256>,
        policy: Policy,
        first_block: u64,
    ) -> Self {
        let model = agora_receipts::model_hash(&engine.info().sha256);
        let seed = keccak256([signer.to_bytes().as_slice(), b"agora.jobs.audit-seed"].concat());
        Self {
            chain,
            jobs,
            engine,
            signer,
            agent_id,
            policy,
            model,
            seed,
            first_block,
            next_block: first_block,
            mine: BTreeMap::new(),
            to_audit: BTreeMap::new(),
            disputes: BTreeSet::new(),
            votes: HashMap::new(),
            joined: false,
            failures: HashMap::new(),
            funding: None,
        }
    }

    /// Also judges disputed results of funding rounds: the juror re-settles the round from the
    /// chain and votes for whichever root it reproduces.
    pub fn with_funding(mut self, funding: Option<agora_funding::chain::FundingContracts>) -> Self {
        self.funding = funding;
        self
    }

    /// The policy this worker runs.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    fn me(&self) -> Address {
        self.signer.address()
    }

    /// One pass: reads the new blocks, then moves each open job, audit and dispute one step on.
    /// Errors of single steps come back as [`Activity::Failed`]; an error reading the chain
    /// itself is returned.
    pub async fn pass(&mut self) -> Result<Vec<Activity>> {
        let mut done = Vec::new();
        self.scan().await?;
        let now = self.chain.latest_block_timestamp().await.map_err(|e| JobError::Chain(e.to_string()))?;
        if self.policy.validate && !self.joined {
            self.attempt(Task::Join, now, &mut done).await;
        }
        let mine: Vec<(U256, bool)> = self.mine.iter().map(|(k, v)| (*k, *v)).collect();
        for (job, providing) in mine {
            let task = if providing { Task::Provide(job) } else { Task::Refund(job) };
            self.attempt(task, now, &mut done).await;
        }
        let audits: Vec<U256> = self.to_audit.keys().copied().collect();
        for job in audits {
            self.attempt(Task::Audit(job), now, &mut done).await;
        }
        let disputes: Vec<U256> = self.disputes.iter().copied().collect();
        for dispute in disputes {
            self.attempt(Task::Dispute(dispute), now, &mut done).await;
        }
        Ok(done)
    }

    async fn scan(&mut self) -> Result<()> {
        let head = self.chain.block_number().await.map_err(|e| JobError::Chain(e.to_string()))?;
        if head < self.next_block {
            return Ok(());
        }
        let (from, me) = (self.next_block, self.me());
        for c in jobs::created(&self.chain, self.jobs, from, head).await? {
            if c.provider == me && self.policy.provide {
                self.mine.insert(c.job_id, true);
            } else if c.client == me {
                self.mine.entry(c.job_id).or_insert(false);
            }
        }
        if self.policy.validate {
            for d in jobs::deliveries(&self.chain, self.jobs, from, Some(head)).await? {
                if incentive::sampled(self.seed, d.job_id.saturating_to(), self.audit_rate()) {
                    self.to_audit.insert(d.job_id, d.delivery);
                }
            }
            self.disputes.extend(jobs::drawn_for(&self.chain, self.jobs, me, from, Some(head)).await?);
        }
        self.next_block = head + 1;
        Ok(())
    }

    fn audit_rate(&self) -> f64 {
        f64::from(self.policy.audit_percent.min(100)) / 100.0
    }

    /// Runs one step of `task`, reporting what it did, and its failure once per new error.
    async fn attempt(&mut self, task: Task, now: u64, done: &mut Vec<Activity>) {
        if self.failures.get(&task).is_some_and(|(n, _)| *n >= MAX_FAILURES) {
            return;
        }
        let result = match task {
            Task::Join => self.join().await.map(|a| (a.into_iter().collect(), true)),
            Task::Provide(job) => self.provide(job, now).await,
            Task::Refund(job) => self.refund(job, now).await,
            Task::Audit(job) => self.audit(job, now).await,
            Task::Dispute(dispute) => self.sit(dispute, now).await,
        };
        match result {
            Ok((activity, finished)) => {
                self.failures.remove(&task);
                done.extend(activity);
                if finished {
                    match task {
                        Task::Join => self.joined = true,
                        Task::Provide(job) | Task::Refund(job) => {
                            self.mine.remove(&job);
                        }
                        Task::Audit(job) => {
                            self.to_audit.remove(&job);
                        }
                        Task::Dispute(dispute) => {
                            self.disputes.remove(&dispute);
                            self.votes.remove(&dispute);
                        }
                    }
                }
            }
            Err(e) => {
                let error = e.to_string();
                let entry = self.failures.entry(task).or_insert((0, String::new()));
                entry.0 += 1;
                if entry.1 != error || entry.0 >= MAX_FAILURES {
                    entry.1 = error.clone();
                    let what = match task {
                        Task::Join => "joining the council".to_owned(),
                        Task::Provide(job) => format!("job {job}"),
                        Task::Refund(job) => format!("refunding job {job}"),
                        Task::Audit(job) => format!("auditing job {job}"),
                        Task::Dispute(d) => format!("dispute {d}"),
                    };
                    let what = if entry.0 >= MAX_FAILURES { format!("{what} (giving up)") } else { what };
                    done.push(Activity::Failed { what, error });
                }
            }
        }
    }

    async fn join(&self) -> Result<Option<Activity>> {
        let me = self.me();
        let record = jobs::member(&self.chain, self.jobs, me).await?;
        if record.active {
            return Ok(None);
        }
        let agent_id = self.agent_id.ok_or_else(|| {
            JobError::Refused("the council takes ERC-8004 agents: this node has no registered agent".into())
        })?;
        let stake = U256::from(self.policy.stake).max(jobs::min_stake(&self.chain, self.jobs).await?);
        let have = jobs::balance(&self.chain, self.jobs, me).await?;
        if have < stake {
            return Err(JobError::Refused(format!(
                "the stake is {} and {me} holds {}",
                dollars(stake),
                dollars(have)
            )));
        }
        jobs::join(&self.chain, self.jobs, agent_id, stake).await?;
        Ok(Some(Activity::Joined { stake }))
    }

    /// The provider's step; `true` once the job needs nothing more from this node.
    async fn provide(&mut self, job: U256, now: u64) -> Result<(Vec<Activity>, bool)> {
        let view = jobs::job(&self.chain, self.jobs, job).await?;
        let (status, phase) = (view.job.status, view.case.phase);
        if status >= 3 || phase == 5 {
            return Ok((vec![], true));
        }
        if view.job.evaluator != self.jobs.evaluator {
            return Ok((vec![Activity::Declined { job, reason: "another evaluator".into() }], true));
        }
        match (status, phase) {
            // Funded, nobody has taken it: the policy decides.
            (1, 1) => {
                let spec = match self.acceptable(&view, now).await {
                    Ok(spec) => spec,
                    Err(reason) => return Ok((vec![Activity::Declined { job, reason }], true)),
                };
                let agent_id = self.agent_id.ok_or_else(|| {
                    JobError::Refused("this node has no registered agent to take jobs as".into())
                })?;
                jobs::accept(&self.chain, self.jobs, job, agent_id).await?;
                let accepted = Activity::Accepted { job, bond: view.case.bond };
                tracing::info!(target: "agora::jobs", "{accepted}");
                let tokens = self.deliver(job, &spec).await?;
                Ok((vec![accepted, Activity::Delivered { job, tokens }], false))
            }
            // Taken but not delivered (a restart in between): deliver now.
            (1, 2) => {
                let spec = view.spec()?;
                let tokens = self.deliver(job, &spec).await?;
                Ok((vec![Activity::Delivered { job, tokens }], false))
            }
            // Delivered: finalize once the window has passed.
            (2, 3) => {
                let (window, _) = jobs::windows(&self.chain, self.jobs).await?;
                if now < view.case.submittedAt + window {
                    return Ok((vec![], false));
                }
                jobs::finalize(&self.chain, self.jobs, job).await?;
                Ok((vec![Activity::Finalized { job }], true))
            }
            // Challenged, or in a state another party moves: wait.
            _ => Ok((vec![], false)),
        }
    }

    /// Whether the policy takes a funded job; the reason when not.
    async fn acceptable(&self, view: &jobs::JobView, now: u64) -> std::result::Result<JobSpec, String> {
        let spec = view.spec().map_err(|e| e.to_string())?;
        if spec.model_hash() != self.model || view.case.modelHash != self.model {
            return Err(format!("it asks for model {}, this node serves {}", spec.model_hash(), self.model));
        }
        let prompt = self.engine.chat_prompt(&spec.request.messages).map_err(|e| e.to_string())?;
        let max_tokens = spec.request.sampling.max_tokens;
        self.engine.check_context(prompt.len(), max_tokens).map_err(|e| e.to_string())?;
        let tokens = (prompt.len() + max_tokens) as u64;
        let wanted = U256::from(tokens) * U256::from(self.policy.min_price_per_token);
        if view.job.budget < wanted {
            return Err(format!(
                "the budget {} is below {} ({tokens} tokens at this node's price)",
                dollars(view.job.budget),
                dollars(wanted)
            ));
        }
        if view.case.bond > U256::from(self.policy.max_bond) {
            return Err(format!(
                "the bond {} is above this node's limit {}",
                dollars(view.case.bond),
                dollars(U256::from(self.policy.max_bond))
            ));
        }
        let (challenge, ruling) = jobs::windows(&self.chain, self.jobs).await.map_err(|e| e.to_string())?;
        if U256::from(now + challenge + ruling + DELIVERY_MARGIN) > view.job.expiredAt {
            return Err("it expires too soon to deliver and be judged".into());
        }
        let have = jobs::balance(&self.chain, self.jobs, self.me()).await.map_err(|e| e.to_string())?;
        if have < view.case.bond {
            return Err(format!(
                "the bond is {} and this node holds {}",
                dollars(view.case.bond),
                dollars(have)
            ));
        }
        Ok(spec)
    }

    async fn deliver(&self, job: U256, spec: &JobSpec) -> Result<usize> {
        let (engine, signer, spec_owned) = (Arc::clone(&self.engine), self.signer.clone(), spec.clone());
        let now =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let receipt = tokio::task::spawn_blocking(move || run(&spec_owned, &engine, &signer, now))
            .await
            .map_err(|e| JobError::Refused(format!("the inference task stopped: {e}")))??;
        let delivery = serde_json::to_vec(&receipt).map_err(|e| JobError::BadDelivery(e.to_string()))?;
        jobs::submit(&self.chain, self.jobs, job, spec.model_hash(), &delivery).await?;
        Ok(receipt.output.tokens.len())
    }

    /// The client's step: take back an expired job's budget.
    async fn refund(&mut self, job: U256, now: u64) -> Result<(Vec<Activity>, bool)> {
        let view = jobs::job(&self.chain, self.jobs, job).await?;
        if view.job.status >= 3 {
            return Ok((vec![], true));
        }
        if !matches!(view.job.status, 1 | 2) || U256::from(now) < view.job.expiredAt {
            return Ok((vec![], view.job.status == 0 && U256::from(now) >= view.job.expiredAt));
        }
        // A delivery whose window passed is paid, not refunded.
        if view.case.phase == 3 {
            let (window, _) = jobs::windows(&self.chain, self.jobs).await?;
            if now >= view.case.submittedAt + window {
                jobs::finalize(&self.chain, self.jobs, job).await?;
                return Ok((vec![Activity::Finalized { job }], true));
            }
        }
        jobs::expire(&self.chain, self.jobs, job).await?;
        Ok((vec![Activity::Refunded { job }], true))
    }

    /// The auditor's step for one delivery.
    async fn audit(&mut self, job: U256, now: u64) -> Result<(Vec<Activity>, bool)> {
        let Some(delivery) = self.to_audit.get(&job).cloned() else { return Ok((vec![], true)) };
        let view = jobs::job(&self.chain, self.jobs, job).await?;
        // Only a standing delivery in its window can be challenged; our own are not audited.
        if view.case.phase != 3 || view.case.provider == self.me() {
            return Ok((vec![], true));
        }
        let (window, _) = jobs::windows(&self.chain, self.jobs).await?;
        if now >= view.case.submittedAt + window {
            return Ok((vec![], true));
        }
        let spec = match view.spec() {
            Ok(spec) if spec.model_hash() == self.model => spec,
            // Another model, or no spec this node can run: not for this auditor.
            _ => return Ok((vec![], true)),
        };
        let a = self.reexecute(&spec, view.case.provider, delivery, view.case.submittedAt).await?;
        let activity = Activity::Audited { job, verdict: a.verdict.clone() };
        if a.verdict == Verdict::Stands {
            return Ok((vec![activity], true));
        }
        let cost = jobs::arbitration_cost(&self.chain, self.jobs).await?;
        let have = jobs::balance(&self.chain, self.jobs, self.me()).await?;
        if have < view.case.bond + cost {
            return Err(JobError::Refused(format!(
                "{activity}; a challenge takes {} and this node holds {}",
                dollars(view.case.bond + cost),
                dollars(have)
            )));
        }
        let evidence = serde_json::to_vec(&a.evidence).map_err(|e| JobError::BadDelivery(e.to_string()))?;
        let (dispute, _) = jobs::challenge(&self.chain, self.jobs, job, &evidence).await?;
        tracing::info!(target: "agora::jobs", "{activity}");
        Ok((vec![activity, Activity::Challenged { job, dispute }], true))
    }

    async fn reexecute(
        &self,
        spec: &JobSpec,
        provider: Address,
        delivery: Bytes,
        timestamp: u64,
    ) -> Result<crate::Audit> {
        let (engine, signer, spec) = (Arc::clone(&self.engine), self.signer.clone(), spec.clone());
        tokio::task::spawn_blocking(move || audit(&spec, provider, &delivery, &engine, &signer, timestamp))
            .await
            .map_err(|e| JobError::Refused(format!("the inference task stopped: {e}")))?
    }

    /// The salt of this node's vote in `dispute`: secret (derived from the node key) and the
    /// same after a restart.
    fn salt(&self, dispute: U256) -> B256 {
        keccak256(
            [self.signer.to_bytes().as_slice(), b"agora.jobs.vote-salt", &dispute.to_be_bytes::<32>()]
                .concat(),
        )
    }

    /// Re-executes a dispute's job: this juror's choice and the hash of its receipt.
    async fn judge(&self, dispute: U256, timestamp: u64) -> Result<(u8, B256)> {
        if let Some(funding) = self.funding
            && let Some(vote) = agora_funding::chain::judge(&self.chain, funding, dispute)
                .await
                .map_err(|e| JobError::Chain(format!("re-settling the disputed round: {e}")))?
        {
            return Ok(vote);
        }
        let job = jobs::job_of_dispute(&self.chain, self.jobs, dispute).await?;
        let view = jobs::job(&self.chain, self.jobs, job).await?;
        let delivery = jobs::delivery_of(&self.chain, self.jobs, job, self.first_block)
            .await?
            .ok_or_else(|| JobError::Chain(format!("job {job} has no delivery on chain")))?;
        let spec = view.spec()?;
        let a = self.reexecute(&spec, view.case.provider, delivery, timestamp).await?;
        let evidence = serde_json::to_vec(&a.evidence).map_err(|e| JobError::BadDelivery(e.to_string()))?;
        Ok((a.verdict.choice(), keccak256(evidence)))
    }

    /// The juror's step in one dispute; `true` once it is executed.
    async fn sit(&mut self, dispute: U256, now: u64) -> Result<(Vec<Activity>, bool)> {
        let d = jobs::dispute(&self.chain, self.jobs, dispute).await?;
        if d.executed {
            return Ok((vec![], true));
        }
        let me = self.me();
        let round = self.funding.is_some_and(|f| d.arbitrable == f.deep || d.arbitrable == f.qf);
        let vote = jobs::vote(&self.chain, self.jobs, dispute, me).await?;
        let salt = self.salt(dispute);
        let all_committed = usize::from(d.commits) == d.jurors.len();
        let all_revealed = usize::from(d.reveals) == d.jurors.len();
        if vote.commitment == B256::ZERO && now < d.commitDeadline {
            let (choice, evidence) = self.judge(dispute, d.commitDeadline).await?;
            jobs::commit(&self.chain, self.jobs, dispute, choice, salt).await?;
            self.votes.insert(dispute, (choice, evidence));
            let activity = if round {
                Activity::RoundVote { dispute, choice, revealed: false }
            } else {
                Activity::Committed { dispute, choice }
            };
            return Ok((vec![activity], false));
        }
        if vote.commitment != B256::ZERO
            && !vote.revealed
            && (all_committed || now >= d.commitDeadline)
            && now < d.revealDeadline
        {
            let (choice, evidence) = match self.votes.get(&dispute) {
                Some(v) => *v,
                None => {
                    // After a restart: the choice is the one the commitment was made for.
                    let choice = (0..=2u8)
                        .find(|c| jobs::commitment(dispute, me, *c, salt) == vote.commitment)
                        .ok_or_else(|| JobError::Refused("the commitment is not this node's".into()))?;
                    let (_, evidence) = self.judge(dispute, d.commitDeadline).await?;
                    (choice, evidence)
                }
            };
            jobs::reveal(&self.chain, self.jobs, dispute, choice, salt, evidence).await?;
            let activity = if round {
                Activity::RoundVote { dispute, choice, revealed: true }
            } else {
                Activity::Revealed { dispute, choice }
            };
            return Ok((vec![activity], false));
        }
        if all_revealed || now >= d.revealDeadline {
            if let Err(e) = jobs::execute(&self.chain, self.jobs, dispute).await {
                // Another juror may have executed it first.
                if jobs::dispute(&self.chain, self.jobs, dispute).await?.executed {
                    return Ok((vec![], true));
                }
                return Err(e);
            }
            let ruled = jobs::dispute(&self.chain, self.jobs, dispute).await?;
            let activity = if round {
                Activity::RoundRuled { dispute, ruling: ruled.ruling }
            } else {
                Activity::Ruled { dispute, ruling: ruled.ruling }
            };
            return Ok((vec![activity], true));
        }
        Ok((vec![], false))
    }
}
