//! Validation around the ERC-8004 Validation Registry, with the first real validator: one that
//! re-executes an inference receipt.
//!
//! The request file (`agora-validation-request-v1`) holds the agent, its registry and the signed
//! receipt envelope (inputs, outputs, receipt); `requestHash` is the keccak256 of its bytes, as
//! the standard says, and the file travels as a `data:` URI so the validator needs nothing else.
//! A validator answers 100 when the receipt is signed by the agent's wallet and re-executes to
//! the same tokens, 0 otherwise.

use crate::{AgentError, Result};
use agora_chain::ChainClient;
use agora_contracts::bindings::{IdentityRegistry, ValidationRegistry};
use agora_receipts::ReceiptEnvelope;
use alloy::{
    primitives::{Address, B256, U256, keccak256},
    providers::Provider,
    rpc::types::Filter,
    sol_types::SolEvent,
};
use base64::Engine as _;
use serde_json::{Value, json};

/// The `type` of a validation request file.
pub const REQUEST_TYPE: &str = "agora-validation-request-v1";
/// The tag a re-executing validator answers with.
pub const REEXECUTION_TAG: &str = "reexecution";

/// A request file: its bytes, their hash, and the `data:` URI that carries them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestFile {
    /// The JSON bytes.
    pub bytes: Vec<u8>,
    /// keccak256 of the bytes: the request's key in the registry.
    pub hash: B256,
    /// `data:application/json;base64,…`
    pub uri: String,
}

/// Builds the request file for `agent_id`'s work proven by `receipt`.
pub fn request_file(agent_id: U256, agent_registry: &str, receipt: &ReceiptEnvelope) -> RequestFile {
    let file = json!({
        "type": REQUEST_TYPE,
        "agentId": agent_id,
        "agentRegistry": agent_registry,
        "receipt": receipt,
    });
    let bytes = serde_json::to_vec(&file).unwrap_or_default();
    let uri =
        format!("data:application/json;base64,{}", base64::engine::general_purpose::STANDARD.encode(&bytes));
    RequestFile { hash: keccak256(&bytes), bytes, uri }
}

/// Decodes a request URI and checks it hashes to `hash`; returns the receipt it carries.
pub fn open_request(uri: &str, hash: B256) -> Result<(U256, ReceiptEnvelope)> {
    let bad = |reason: String| AgentError::Validation(reason);
    let b64 = uri
        .strip_prefix("data:application/json;base64,")
        .ok_or_else(|| bad("the request is not a data: URI".into()))?;
    let bytes =
        base64::engine::general_purpose::STANDARD.decode(b64).map_err(|e| bad(format!("bad base64: {e}")))?;
    if keccak256(&bytes) != hash {
        return Err(bad("the request file does not hash to the request hash".into()));
    }
    let file: Value = serde_json::from_slice(&bytes).map_err(|e| bad(format!("not JSON: {e}")))?;
    if file["type"] != REQUEST_TYPE {
        return Err(bad(format!("not an {REQUEST_TYPE} file")));
    }
    let agent_id: U256 =
        serde_json::from_value(file["agentId"].clone()).map_err(|e| bad(format!("agentId: {e}")))?;
    let receipt: ReceiptEnvelope =
        serde_json::from_value(file["receipt"].clone()).map_err(|e| bad(format!("receipt: {e}")))?;
    Ok((agent_id, receipt))
}

fn registry_error(registry: Address, call: &'static str) -> impl Fn(alloy::contract::Error) -> AgentError {
    move |e| {
        let reason = e
            .as_decoded_interface_error::<ValidationRegistry::ValidationRegistryErrors>()
            .map(|d| crate::BoxError::from(format!("{d:?}")))
            .unwrap_or_else(|| e.into());
        AgentError::Registry { registry, call, source: reason }
    }
}

/// Posts a validation request naming `validator` (as the agent's owner or operator).
pub async fn request(
    client: &ChainClient,
    registry: Address,
    validator: Address,
    agent_id: U256,
    file: &RequestFile,
) -> Result<B256> {
    let validation = ValidationRegistry::new(registry, client.provider());
    validation
        .validationRequest(validator, agent_id, file.uri.clone(), file.hash)
        .send()
        .await
        .map_err(registry_error(registry, "validationRequest"))?
        .get_receipt()
        .await
        .map_err(|e| AgentError::Registry { registry, call: "validationRequest", source: e.into() })?;
    Ok(file.hash)
}

/// Finds the request URI of `hash` in the registry's logs (searching from `from_block`).
pub async fn find_request_uri(
    client: &ChainClient,
    registry: Address,
    hash: B256,
    from_block: u64,
) -> Result<String> {
    let filter = Filter::new()
        .address(registry)
        .event_signature(ValidationRegistry::ValidationRequest::SIGNATURE_HASH)
        .topic3(hash)
        .from_block(from_block);
    let logs = client.provider().get_logs(&filter).await.map_err(|e| AgentError::Registry {
        registry,
        call: "eth_getLogs",
        source: e.into(),
    })?;
    let log = logs.last().ok_or_else(|| AgentError::Validation(format!("no validation request {hash}")))?;
    let event = log
        .log_decode::<ValidationRegistry::ValidationRequest>()
        .map_err(|e| AgentError::Validation(format!("undecodable request event: {e}")))?;
    Ok(event.inner.data.requestURI)
}

/// The verdict of a re-executing validator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// 100 pass, 0 fail.
    pub response: u8,
    /// Why, in a sentence.
    pub reason: String,
}

/// Judges a receipt for `agent_id`: signed by the agent's wallet, hashes consistent, and
/// `reexecuted` (the outcome of re-running it) identical.
pub async fn judge(
    client: &ChainClient,
    identity: Address,
    agent_id: U256,
    receipt: &ReceiptEnvelope,
    reexecuted: std::result::Result<agora_receipts::Reexecution, agora_receipts::ReceiptError>,
) -> Result<Verdict> {
    let wallet =
        IdentityRegistry::new(identity, client.provider()).getAgentWallet(agent_id).call().await.map_err(
            |e| AgentError::Registry { registry: identity, call: "getAgentWallet", source: e.into() },
        )?;
    let fail = |reason: String| Ok(Verdict { response: 0, reason });
    let signer = match receipt.verify() {
        Ok(signer) => signer,
        Err(e) => return fail(format!("the receipt does not verify: {e}")),
    };
    if signer != wallet {
        return fail(format!("the receipt is signed by {signer}, not by the agent's wallet {wallet}"));
    }
    match reexecuted {
        Err(e) => fail(format!("could not re-execute: {e}")),
        Ok(r) => match r.first_divergence {
            None => Ok(Verdict {
                response: 100,
                reason: format!("re-executed {} tokens, identical", r.tokens.len()),
            }),
            Some(at) => fail(format!("re-execution diverges at token {at}")),
        },
    }
}

/// Posts a validator's answer with its reason as a `data:` URI.
pub async fn respond(client: &ChainClient, registry: Address, hash: B256, verdict: &Verdict) -> Result<()> {
    let report = serde_json::to_vec(&json!({ "response": verdict.response, "reason": verdict.reason }))
        .unwrap_or_default();
    let uri =
        format!("data:application/json;base64,{}", base64::engine::general_purpose::STANDARD.encode(&report));
    ValidationRegistry::new(registry, client.provider())
        .validationResponse(hash, verdict.response, uri, keccak256(&report), REEXECUTION_TAG.into())
        .send()
        .await
        .map_err(registry_error(registry, "validationResponse"))?
        .get_receipt()
        .await
        .map_err(|e| AgentError::Registry { registry, call: "validationResponse", source: e.into() })?;
    Ok(())
}
