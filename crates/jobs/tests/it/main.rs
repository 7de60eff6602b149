//! Audits by re-execution on the default model: an honest delivery stands, a tampered one with
//! a valid signature is caught at the first changed token, and so are deliveries for another
//! request or from another signer.

#![allow(clippy::unwrap_used)] // test helpers panic to fail the test

mod chain;
mod worker;

use agora_infer::{ChatMessage, Engine, EngineOptions, SamplingParams};
use agora_jobs::{JobError, JobSpec, Verdict, audit, check_delivery, deliverable};
use agora_receipts::{ReceiptEnvelope, ReceiptOutput, model_hash};
use alloy::signers::local::PrivateKeySigner;
use std::{
    ops::ControlFlow,
    sync::{Arc, LazyLock},
};

pub(crate) static ENGINE: LazyLock<Arc<Engine>> = LazyLock::new(|| {
    Arc::new(
        Engine::load(&agora_testkit::default_model(), &EngineOptions { threads: 2, ..Default::default() })
            .unwrap_or_else(|e| panic!("load the default model (make setup): {e}")),
    )
});

pub(crate) fn spec() -> JobSpec {
    JobSpec::new(
        model_hash(&ENGINE.info().sha256),
        vec![ChatMessage::new("user", "Name three colours.")],
        SamplingParams { temperature: 0.7, seed: 11, max_tokens: 16, ..Default::default() },
    )
}

/// What a provider delivers: the output of `spec`, possibly edited, signed as its receipt.
pub(crate) fn deliver(spec: &JobSpec, provider: &PrivateKeySigner, tamper: bool) -> Vec<u8> {
    let generation =
        ENGINE.chat(&spec.request.messages, &spec.request.sampling, |_| ControlFlow::Continue(())).unwrap();
    let mut output = ReceiptOutput { text: generation.text, tokens: generation.tokens };
    if tamper {
        // Skip the work after the first two tokens: a cheaper, plausible answer, signed as usual.
        let cheap = ENGINE.tokenizer().encode(" Purple elephants, mostly.");
        output.tokens.truncate(2);
        output.tokens.extend(cheap);
        output.text = ENGINE.tokenizer().decode(&output.tokens);
    }
    let receipt = ReceiptEnvelope::sign(
        provider,
        &ENGINE,
        spec.request.clone(),
        output,
        generation.prompt_tokens,
        1_700_000_000,
        None,
    )
    .unwrap();
    serde_json::to_vec(&receipt).unwrap()
}

#[test]
fn an_honest_delivery_stands_and_a_tampered_one_is_caught() {
    let (provider, validator) = (PrivateKeySigner::random(), PrivateKeySigner::random());
    let spec = spec();

    let honest = deliver(&spec, &provider, false);
    let checked = check_delivery(&spec, provider.address(), &honest).unwrap();
    assert_eq!(checked.signed.receipt.node, provider.address());
    let a = audit(&spec, provider.address(), &honest, &ENGINE, &validator, 1_700_000_100).unwrap();
    assert_eq!(a.verdict, Verdict::Stands);
    assert_eq!(a.verdict.choice(), 1);
    // The evidence is the validator's own receipt for the same request, with the same tokens.
    assert_eq!(a.evidence.verify().unwrap(), validator.address());
    assert_eq!(a.evidence.request, spec.request);
    assert_eq!(a.evidence.output, checked.output);

    let tampered = deliver(&spec, &provider, true);
    assert_ne!(deliverable(&tampered), deliverable(&honest));
    // Nothing short of re-running tells: the signature and hashes are valid.
    check_delivery(&spec, provider.address(), &tampered).unwrap();
    let a = audit(&spec, provider.address(), &tampered, &ENGINE, &validator, 1_700_000_100).unwrap();
    let (ours, theirs) =
        (&a.evidence.output.tokens, check_delivery(&spec, provider.address(), &tampered).unwrap());
    let first = (0..ours.len()).find(|i| theirs.output.tokens.get(*i) != ours.get(*i)).unwrap();
    assert!(first >= 2, "the first two tokens were kept");
    match &a.verdict {
        Verdict::Wrong { reason } => assert!(reason.contains(&format!("at token {first} ")), "{reason}"),
        other => panic!("a tampered delivery must be caught, got {other:?}"),
    }
    assert_eq!(a.verdict.choice(), 2);
}

#[test]
fn deliveries_for_another_request_or_from_another_signer_are_wrong() {
    let (provider, validator) = (PrivateKeySigner::random(), PrivateKeySigner::random());
    let spec = spec();
    let mut other = spec.clone();
    other.request.sampling.seed = 12;
    let for_other = deliver(&other, &provider, false);
    assert!(matches!(check_delivery(&spec, provider.address(), &for_other), Err(JobError::OtherRequest)));
    let a = audit(&spec, provider.address(), &for_other, &ENGINE, &validator, 0).unwrap();
    assert_eq!(a.verdict.choice(), 2);

    let by_someone_else = deliver(&spec, &validator, false);
    assert!(matches!(
        check_delivery(&spec, provider.address(), &by_someone_else),
        Err(JobError::WrongSigner { .. })
    ));
    assert!(matches!(check_delivery(&spec, provider.address(), b"{}"), Err(JobError::BadDelivery(_))));

    let mut elsewhere = spec.clone();
    elsewhere.model_sha256 = alloy::primitives::B256::repeat_byte(9);
    assert!(matches!(
        audit(&elsewhere, provider.address(), &for_other, &ENGINE, &validator, 0),
        Err(JobError::ModelNotLoaded { .. })
    ));
}
