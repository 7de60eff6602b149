use crate::{JobError, JobSpec, Result};
use agora_infer::Engine;
use agora_receipts::{ReceiptEnvelope, ReceiptOutput, model_hash};
use alloy::{
    primitives::{Address, B256, keccak256},
    signers::local::PrivateKeySigner,
};
use std::ops::ControlFlow;

/// The deliverable a delivery is submitted under: its keccak256.
pub fn deliverable(delivery: &[u8]) -> B256 {
    keccak256(delivery)
}

/// Checks a delivery against its job without running anything: it must be a receipt envelope
/// that verifies, signed by the job's provider, for the spec's model and exactly the spec's
/// request. Whether the output is the right one takes a re-run ([`audit`]).
pub fn check_delivery(spec: &JobSpec, provider: Address, delivery: &[u8]) -> Result<ReceiptEnvelope> {
    let text = std::str::from_utf8(delivery).map_err(|e| JobError::BadDelivery(e.to_string()))?;
    let envelope = ReceiptEnvelope::from_json(text).map_err(|e| JobError::BadDelivery(e.to_string()))?;
    let signer = envelope.verify()?;
    if signer != provider {
        return Err(JobError::WrongSigner { signer, provider });
    }
    let actual = envelope.signed.receipt.modelSha256;
    if actual != spec.model_sha256 {
        return Err(JobError::WrongModel { expected: spec.model_sha256, actual });
    }
    if envelope.request != spec.request {
        return Err(JobError::OtherRequest);
    }
    Ok(envelope)
}

/// Runs a job on `engine` and signs the receipt with `signer`, stamped `timestamp`: a
/// provider's delivery, or an auditor's evidence. Refuses when `engine` holds another model.
pub fn run(
    spec: &JobSpec,
    engine: &Engine,
    signer: &PrivateKeySigner,
    timestamp: u64,
) -> Result<ReceiptEnvelope> {
    let loaded = model_hash(&engine.info().sha256);
    if loaded != spec.model_sha256 {
        return Err(JobError::ModelNotLoaded { needed: spec.model_sha256, loaded });
    }
    let generation =
        engine.chat(&spec.request.messages, &spec.request.sampling, |_| ControlFlow::Continue(()))?;
    let prompt_tokens = generation.prompt_tokens;
    let output = ReceiptOutput { text: generation.text, tokens: generation.tokens };
    Ok(ReceiptEnvelope::sign(signer, engine, spec.request.clone(), output, prompt_tokens, timestamp, None)?)
}

/// What an audit concluded.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase", tag = "verdict")]
pub enum Verdict {
    /// The delivery is what the job's request gives on the job's model.
    Stands,
    /// It is not, and why.
    Wrong {
        /// Why, for people.
        reason: String,
    },
}

impl Verdict {
    /// The council choice for this verdict: 1, the delivery stands; 2, it is wrong.
    pub fn choice(&self) -> u8 {
        match self {
            Self::Stands => 1,
            Self::Wrong { .. } => 2,
        }
    }
}

/// An audit: the verdict, and the auditor's own signed receipt for the job's request, which
/// backs a challenge or a vote.
#[derive(Debug, Clone)]
pub struct Audit {
    /// The conclusion.
    pub verdict: Verdict,
    /// The auditor's receipt.
    pub evidence: ReceiptEnvelope,
}

/// Checks the delivery against the job on `engine`: a delivery that is a valid receipt for the
/// job is verified in one pass over its tokens ([`Engine::verify`], exactly as re-generating
/// would judge it); only a wrong one is re-generated, for the auditor's own output. `signer`
/// signs the auditor's receipt, stamped `timestamp` (for a delivery that stands, its output is
/// the delivered one).
pub fn audit(
    spec: &JobSpec,
    provider: Address,
    delivery: &[u8],
    engine: &Engine,
    signer: &PrivateKeySigner,
    timestamp: u64,
) -> Result<Audit> {
    let loaded = model_hash(&engine.info().sha256);
    if loaded != spec.model_sha256 {
        return Err(JobError::ModelNotLoaded { needed: spec.model_sha256, loaded });
    }
    let delivered = match check_delivery(spec, provider, delivery) {
        Ok(delivered) => delivered,
        Err(e) => {
            let evidence = run(spec, engine, signer, timestamp)?;
            return Ok(Audit { verdict: Verdict::Wrong { reason: e.to_string() }, evidence });
        }
    };
    let prompt = engine.chat_prompt(&spec.request.messages)?;
    let prompt_tokens = prompt.len();
    let prepared = engine.prepare(prompt, spec.request.sampling.clone())?;
    let checked = engine.verify(&prepared, &delivered.output.tokens)?;
    match checked.first_divergence {
        None if checked.text != delivered.output.text => {
            let evidence = run(spec, engine, signer, timestamp)?;
            let reason = "the output's text is not what its tokens make".to_owned();
            Ok(Audit { verdict: Verdict::Wrong { reason }, evidence })
        }
        None => {
            let evidence = ReceiptEnvelope::sign(
                signer,
                engine,
                spec.request.clone(),
                delivered.output,
                prompt_tokens,
                timestamp,
                None,
            )?;
            Ok(Audit { verdict: Verdict::Stands, evidence })
        }
        Some(at) => {
            let evidence = run(spec, engine, signer, timestamp)?;
            let reason = format!(
                "the output differs from the re-execution at token {at} of {}",
                evidence.output.tokens.len()
            );
            Ok(Audit { verdict: Verdict::Wrong { reason }, evidence })
        }
    }
}
