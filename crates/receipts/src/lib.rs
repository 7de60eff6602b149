//! Signed, re-executable inference receipts.
//!
//! A node that answers a chat completion can attach a receipt: an EIP-712 struct naming the
//! engine and its version, the model file's sha256, the hash of the canonical request (messages
//! and every sampling parameter, seed included), the hash of the output, token counts, the
//! node's address and a timestamp, signed by the node's key. The [`ReceiptEnvelope`] carries the
//! receipt with the request and output it commits to, so anyone can check the signature and the
//! hashes ([`ReceiptEnvelope::verify`]) and, holding the same model file, re-run the inference
//! with the same engine version and compare token by token ([`reexecute`]).

mod error;

pub use error::{ReceiptError, Result};

use agora_infer::{ChatMessage, Engine, SamplingParams};
use alloy::{
    primitives::{Address, B256, Signature, keccak256},
    signers::{SignerSync, local::PrivateKeySigner},
    sol_types::{SolStruct, eip712_domain},
};
use serde::{Deserialize, Serialize};

alloy::sol! {
    /// The signed statement: "this node ran this engine on this model for this request and
    /// produced this output".
    #[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct InferenceReceipt {
        string engine;
        string engineVersion;
        bytes32 modelSha256;
        bytes32 requestHash;
        bytes32 outputHash;
        uint32 promptTokens;
        uint32 completionTokens;
        address node;
        uint64 timestamp;
        bytes32 paymentHash;
    }
}

/// The payment a paid call was served for, named in its receipt, so that feedback on the
/// reputation registry can carry proof of payment. `paymentHash` in the receipt is the keccak256
/// of its canonical JSON (zero for an unpaid call).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptPayment {
    /// `exact` or `channel`.
    pub scheme: String,
    /// CAIP-2 network.
    pub network: String,
    /// Who paid.
    pub payer: Address,
    /// Who was paid.
    pub pay_to: Address,
    /// The token.
    pub asset: Address,
    /// The channel id (`channel`) or the EIP-3009 nonce (`exact`).
    pub reference: B256,
    /// What this call cost, in atomic units.
    pub amount: String,
    /// For channels: the channel's cumulative charge after this call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cumulative: Option<String>,
}

impl ReceiptPayment {
    /// keccak256 of the canonical JSON.
    pub fn hash(&self) -> B256 {
        keccak256(serde_json::to_vec(self).unwrap_or_default())
    }
}

/// How a paid call's price follows from its token counts: the worker that signs the receipt
/// fills in the amount once it knows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentTerms {
    /// The payment, its amount still to be set.
    pub payment: ReceiptPayment,
    /// Atomic units per token (prompt and completion alike); 0 with a fixed price.
    pub price_per_token: u128,
    /// The most (or, with `price_per_token` 0, exactly what) the call costs.
    pub ceiling: u128,
    /// For channels: the cumulative charge before this call.
    pub charged_before: Option<u128>,
}

impl PaymentTerms {
    /// What a call with `tokens` tokens in all costs.
    pub fn amount(&self, tokens: usize) -> u128 {
        if self.price_per_token == 0 {
            return self.ceiling;
        }
        self.price_per_token.saturating_mul(tokens as u128).min(self.ceiling)
    }

    /// The payment of a call with `tokens` tokens in all.
    pub fn settle(&self, tokens: usize) -> ReceiptPayment {
        let amount = self.amount(tokens);
        ReceiptPayment {
            amount: amount.to_string(),
            cumulative: self.charged_before.map(|before| before.saturating_add(amount).to_string()),
            ..self.payment.clone()
        }
    }
}

/// EIP-712 domain name of receipts.
pub const DOMAIN_NAME: &str = "agora-inference-receipt";
/// EIP-712 domain version of receipts.
pub const DOMAIN_VERSION: &str = "2";
/// HTTP response header carrying the compact receipt (base64 JSON of [`SignedReceipt`]).
pub const RECEIPT_HEADER: &str = "x-agora-receipt";

/// The request as it is hashed: messages (or a raw prompt) and every parameter that influences
/// the output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CanonicalRequest {
    /// The conversation (empty for a raw prompt).
    pub messages: Vec<ChatMessage>,
    /// Sampling parameters, with the seed actually used.
    pub sampling: SamplingParams,
    /// A raw prompt, tokenized as it is without a chat template (`/v1/completions`). Absent
    /// for a conversation, so a chat request hashes as it always did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
}

/// What a request asks the model to continue: a conversation, or a raw prompt.
#[derive(Debug, Clone, PartialEq)]
pub enum RequestInput {
    /// Messages, rendered with the model's chat template.
    Chat(Vec<ChatMessage>),
    /// Text, tokenized as it is.
    Raw(String),
}

impl CanonicalRequest {
    /// The request for `input` sampled with `sampling`.
    pub fn new(input: RequestInput, sampling: SamplingParams) -> Self {
        match input {
            RequestInput::Chat(messages) => Self { messages, sampling, prompt: None },
            RequestInput::Raw(prompt) => Self { messages: Vec::new(), sampling, prompt: Some(prompt) },
        }
    }

    /// The prompt tokens `engine` runs for this request.
    pub fn prompt_tokens(&self, engine: &Engine) -> Result<Vec<u32>> {
        Ok(match &self.prompt {
            Some(text) => engine.raw_prompt(text)?,
            None => engine.chat_prompt(&self.messages)?,
        })
    }

    /// keccak256 of the canonical JSON (fields in declaration order, no whitespace).
    pub fn hash(&self) -> B256 {
        // Serialising plain structs of strings and numbers cannot fail.
        keccak256(serde_json::to_vec(self).unwrap_or_default())
    }
}

/// A receipt and its signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedReceipt {
    /// The signed struct.
    pub receipt: InferenceReceipt,
    /// 65-byte signature over its EIP-712 hash.
    pub signature: Signature,
}

/// What was generated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptOutput {
    /// The text returned.
    pub text: String,
    /// The generated token ids, in order.
    pub tokens: Vec<u32>,
}

/// A receipt with the request and output it commits to: all a verifier needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReceiptEnvelope {
    /// Receipt and signature.
    #[serde(flatten)]
    pub signed: SignedReceipt,
    /// The request.
    pub request: CanonicalRequest,
    /// The output.
    pub output: ReceiptOutput,
    /// The payment the call was served for, if it was paid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment: Option<ReceiptPayment>,
}

/// The EIP-712 type string of [`InferenceReceipt`], generated from the struct the node signs.
pub fn receipt_type_string() -> String {
    InferenceReceipt::eip712_encode_type().into_owned()
}

/// The EIP-712 typehash of [`InferenceReceipt`]: keccak256 of [`receipt_type_string`].
pub fn receipt_typehash() -> B256 {
    keccak256(receipt_type_string().as_bytes())
}

/// The EIP-712 signing hash of a receipt.
pub fn signing_hash(receipt: &InferenceReceipt) -> B256 {
    let domain = eip712_domain! { name: DOMAIN_NAME, version: DOMAIN_VERSION, };
    receipt.eip712_signing_hash(&domain)
}

/// hex sha256 (as stored in `ModelInfo`) to bytes32.
pub fn model_hash(sha256_hex: &str) -> B256 {
    sha256_hex.parse().unwrap_or_default()
}

impl ReceiptEnvelope {
    /// Signs a receipt for `request` answered with `output` by `engine`.
    pub fn sign(
        signer: &PrivateKeySigner,
        engine: &Engine,
        request: CanonicalRequest,
        output: ReceiptOutput,
        prompt_tokens: usize,
        timestamp: u64,
        payment: Option<ReceiptPayment>,
    ) -> Result<Self> {
        let receipt = InferenceReceipt {
            engine: agora_infer::ENGINE_ID.to_owned(),
            engineVersion: agora_infer::ENGINE_VERSION.to_owned(),
            modelSha256: model_hash(&engine.info().sha256),
            requestHash: request.hash(),
            outputHash: keccak256(output.text.as_bytes()),
            promptTokens: prompt_tokens as u32,
            completionTokens: output.tokens.len() as u32,
            node: signer.address(),
            timestamp,
            paymentHash: payment.as_ref().map_or(B256::ZERO, ReceiptPayment::hash),
        };
        let signature = signer.sign_hash_sync(&signing_hash(&receipt))?;
        Ok(Self { signed: SignedReceipt { receipt, signature }, request, output, payment })
    }

    /// Parses an envelope, or a chat completion response that carries one in `agora_receipt`.
    pub fn from_json(json: &str) -> Result<Self> {
        let value: serde_json::Value = serde_json::from_str(json)?;
        let value = value.get("agora_receipt").cloned().unwrap_or(value);
        Ok(serde_json::from_value(value)?)
    }

    /// Checks the signature and that request and output match their signed hashes.
    pub fn verify(&self) -> Result<Address> {
        let receipt = &self.signed.receipt;
        let recovered = self.signed.signature.recover_address_from_prehash(&signing_hash(receipt))?;
        if recovered != receipt.node {
            return Err(ReceiptError::BadSignature { recovered, claimed: receipt.node });
        }
        if self.request.hash() != receipt.requestHash {
            return Err(ReceiptError::HashMismatch { what: "request" });
        }
        let payment_hash = self.payment.as_ref().map_or(B256::ZERO, ReceiptPayment::hash);
        if payment_hash != receipt.paymentHash {
            return Err(ReceiptError::HashMismatch { what: "payment" });
        }
        if keccak256(self.output.text.as_bytes()) != receipt.outputHash
            || self.output.tokens.len() != receipt.completionTokens as usize
        {
            return Err(ReceiptError::HashMismatch { what: "output" });
        }
        Ok(recovered)
    }
}

/// What re-running a receipt's inference showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reexecution {
    /// The engine's tokens: the receipt's up to the first divergence, then its own choice there.
    pub tokens: Vec<u32>,
    /// Index of the first token that differs from the receipt's output, if any (a changed token,
    /// a token after generation ends, or an end before it does).
    pub first_divergence: Option<usize>,
    /// How long the check took.
    pub time: std::time::Duration,
}

impl Reexecution {
    /// Whether the output matched token for token.
    pub fn matches(&self) -> bool {
        self.first_divergence.is_none()
    }
}

/// Re-runs the receipt's request on `engine` and compares the tokens. Checks first that the
/// model file and engine version are the receipt's. The output is checked at the cost of a prompt
/// pass ([`Engine::verify`]: the receipt's tokens go through the model in batches and the sampler
/// must choose each of them), which answers exactly as re-generating would.
pub fn reexecute(envelope: &ReceiptEnvelope, engine: &Engine) -> Result<Reexecution> {
    let receipt = &envelope.signed.receipt;
    let actual = model_hash(&engine.info().sha256);
    if actual != receipt.modelSha256 {
        return Err(ReceiptError::OtherModel {
            expected: hex(receipt.modelSha256),
            actual: engine.info().sha256.clone(),
        });
    }
    let ours = format!("{} {}", agora_infer::ENGINE_ID, agora_infer::ENGINE_VERSION);
    let theirs = format!("{} {}", receipt.engine, receipt.engineVersion);
    if ours != theirs {
        return Err(ReceiptError::OtherEngine { expected: theirs, actual: ours });
    }
    let prompt = envelope.request.prompt_tokens(engine)?;
    let prepared = engine.prepare(prompt, envelope.request.sampling.clone())?;
    let v = engine.verify(&prepared, &envelope.output.tokens)?;
    if v.first_divergence.is_none() && v.text != envelope.output.text {
        return Err(ReceiptError::TextMismatch);
    }
    Ok(Reexecution { tokens: v.tokens, first_divergence: v.first_divergence, time: v.time })
}

fn hex(b: B256) -> String {
    alloy::hex::encode(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(signer: &PrivateKeySigner) -> ReceiptEnvelope {
        let request = CanonicalRequest {
            messages: vec![ChatMessage::new("user", "hi")],
            sampling: SamplingParams { seed: 9, ..Default::default() },
            prompt: None,
        };
        let output = ReceiptOutput { text: "hello".into(), tokens: vec![1, 2, 3] };
        let receipt = InferenceReceipt {
            engine: "agora-infer".into(),
            engineVersion: "0.1.0".into(),
            modelSha256: B256::repeat_byte(1),
            requestHash: request.hash(),
            outputHash: keccak256(b"hello"),
            promptTokens: 10,
            completionTokens: 3,
            node: signer.address(),
            timestamp: 1_700_000_000,
            paymentHash: B256::ZERO,
        };
        let signature = signer.sign_hash_sync(&signing_hash(&receipt)).unwrap();
        ReceiptEnvelope { signed: SignedReceipt { receipt, signature }, request, output, payment: None }
    }

    #[test]
    fn a_signed_receipt_verifies_and_round_trips_as_json() {
        let signer = PrivateKeySigner::random();
        let env = envelope(&signer);
        assert_eq!(env.verify().unwrap(), signer.address());
        let json = serde_json::to_string(&env).unwrap();
        assert_eq!(ReceiptEnvelope::from_json(&json).unwrap(), env);
        let wrapped = serde_json::json!({ "id": "chatcmpl-1", "agora_receipt": env }).to_string();
        assert_eq!(ReceiptEnvelope::from_json(&wrapped).unwrap(), env);
    }

    #[test]
    fn tampering_is_detected() {
        let signer = PrivateKeySigner::random();
        let mut env = envelope(&signer);
        env.output.text = "hellO".into();
        assert!(matches!(env.verify(), Err(ReceiptError::HashMismatch { what: "output" })));

        let mut env = envelope(&signer);
        env.request.sampling.seed = 10;
        assert!(matches!(env.verify(), Err(ReceiptError::HashMismatch { what: "request" })));

        let mut env = envelope(&signer);
        env.signed.receipt.completionTokens = 4;
        assert!(matches!(env.verify(), Err(ReceiptError::BadSignature { .. })));

        // Signed by someone else, claiming to be the node.
        let mut env = envelope(&signer);
        let forger = PrivateKeySigner::random();
        env.signed.signature = forger.sign_hash_sync(&signing_hash(&env.signed.receipt)).unwrap();
        assert!(matches!(env.verify(), Err(ReceiptError::BadSignature { .. })));

        assert!(ReceiptEnvelope::from_json("{}").is_err());
    }

    #[test]
    fn the_docs_give_the_signed_type_string_typehash_and_domain() {
        let doc = include_str!("../../../docs/inference.md");
        let type_string = receipt_type_string();
        assert!(type_string.contains("bytes32 paymentHash"), "{type_string}");
        assert!(
            doc.contains(&format!("\n{type_string}\n")),
            "docs/inference.md lacks the line {type_string}"
        );
        let typehash = format!("{:#x}", receipt_typehash());
        assert!(doc.contains(&typehash), "docs/inference.md lacks the typehash {typehash}");
        let domain = format!("domain  {{ name: \"{DOMAIN_NAME}\", version: \"{DOMAIN_VERSION}\" }}");
        assert!(doc.contains(&domain), "docs/inference.md lacks {domain}");
        // The typehash is the one the signing hash is built from.
        let receipt = InferenceReceipt {
            engine: String::new(),
            engineVersion: String::new(),
            modelSha256: B256::ZERO,
            requestHash: B256::ZERO,
            outputHash: B256::ZERO,
            promptTokens: 0,
            completionTokens: 0,
            node: Address::ZERO,
            timestamp: 0,
            paymentHash: B256::ZERO,
        };
        assert_eq!(receipt.eip712_type_hash(), receipt_typehash());
    }
}
