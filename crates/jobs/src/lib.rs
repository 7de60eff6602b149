//! Inference jobs between agents, on the three job contracts of the suite
//! (`AgenticCommerce`, ERC-8183's escrow; `JobEvaluator`, the optimistic evaluator that holds
//! bonds and takes disputes to an arbitrator; `ValidatorCouncil`, staked validators who
//! re-execute and vote). See `docs/jobs.md` for the protocol.
//!
//! This crate owns what the parties compute off chain:
//! - [`JobSpec`]: the job's description on chain, everything needed to re-run it: the model
//!   file's sha256 and the canonical request (messages and every sampling parameter, seed
//!   included);
//! - deliveries: the provider's signed receipt for the spec's request, whose keccak256 is the
//!   deliverable; [`check_delivery`] checks one against its spec without running anything;
//! - [`audit`]: re-runs a delivery's job and says whether it stands, with the auditor's own
//!   signed receipt as evidence (for a challenge or a council vote);
//! - [`incentive`]: the audit rate and bond that keep a provider honest;
//! - [`Worker`]: a node's part in jobs, run in passes: as a provider it takes jobs its
//!   [`Policy`] allows and delivers them; as a client it takes back expired budgets; as a
//!   validator it audits deliveries, challenges wrong ones and votes in the council.

mod audit;
pub mod chain;
mod error;
pub mod incentive;
mod spec;
pub mod worker;

pub use audit::{Audit, Verdict, audit, check_delivery, deliverable, run};
pub use error::{JobError, Result};
pub use spec::{JobSpec, MAX_JOB_TOKENS, SPEC_KIND};
pub use worker::{Activity, Policy, Worker};
