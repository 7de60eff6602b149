//! ERC-8004 feedback files: the off-chain document a feedback's URI points to. A paid call's
//! feedback carries its proof of payment, taken from the call's verified inference receipt:
//! who paid whom, on which chain, by which settlement (the `exact` transfer's authorization
//! nonce, or the channel and its cumulative charge), with the signed receipt itself.

use crate::{AgentError, Result};
use agora_receipts::{ReceiptEnvelope, SignedReceipt};
use alloy::primitives::{Address, B256, U256, keccak256};
use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// A feedback file. Fields are in the order they are written (alphabetical), so the file's
/// bytes, and so its hash on chain, are the same however it is built.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FeedbackFile {
    /// The agent id.
    pub agent_id: u64,
    /// The registry, as `eip155:<chain>:<address>`.
    pub agent_registry: String,
    /// The rater, as `eip155:<chain>:<address>`.
    pub client_address: String,
    /// When the file was made, in Unix seconds.
    pub created_at: u64,
    /// The receipt of the call rated.
    pub inference_receipt: ReceiptProof,
    /// What paid for the call rated.
    pub proof_of_payment: ProofOfPayment,
    /// The rating, a signed fixed-point value as a decimal string.
    pub value: String,
    /// Decimals of `value`.
    pub value_decimals: u8,
}

/// The proof of payment of a feedback file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProofOfPayment {
    /// What the call cost, in atomic units.
    pub amount: String,
    /// The chain, as a decimal string.
    pub chain_id: String,
    /// For channels: the channel's cumulative charge after the call.
    pub cumulative: Option<String>,
    /// Who paid.
    pub from_address: Address,
    /// The channel id (`channel`) or the EIP-3009 nonce (`exact`).
    pub reference: B256,
    /// `exact` or `channel`.
    pub scheme: String,
    /// Who was paid.
    pub to_address: Address,
}

/// The signed receipt in a feedback file, with the node that signed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptProof {
    /// The signer, as recovered from the signature.
    pub node: Address,
    /// The signed receipt.
    pub receipt: SignedReceipt,
}

/// Who rates which agent, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedbackParams {
    /// The identity registry's id ([`crate::agent_registry_id`]).
    pub registry_id: String,
    /// The agent rated.
    pub agent: U256,
    /// The rater.
    pub client: Address,
    /// The chain.
    pub chain_id: u64,
    /// The rating.
    pub value: i128,
    /// Decimals of the rating.
    pub decimals: u8,
}

impl FeedbackFile {
    /// A feedback file for a paid call, from its receipt: the receipt must verify and name a
    /// payment (a call on the owner's API names none).
    pub fn paid(params: &FeedbackParams, envelope: &ReceiptEnvelope, created_at: u64) -> Result<Self> {
        let node = envelope.verify().map_err(|source| AgentError::Feedback {
            reason: "the receipt does not verify",
            source: Some(Box::new(source)),
        })?;
        let payment = envelope.payment.as_ref().ok_or(AgentError::Feedback {
            reason: "the receipt names no payment: it is from an unpaid call (the owner's API)",
            source: None,
        })?;
        Ok(Self {
            agent_id: params.agent.saturating_to::<u64>(),
            agent_registry: params.registry_id.clone(),
            client_address: format!("eip155:{}:{}", params.chain_id, params.client),
            created_at,
            inference_receipt: ReceiptProof { node, receipt: envelope.signed.clone() },
            proof_of_payment: ProofOfPayment {
                amount: payment.amount.clone(),
                chain_id: params.chain_id.to_string(),
                cumulative: payment.cumulative.clone(),
                from_address: payment.payer,
                reference: payment.reference,
                scheme: payment.scheme.clone(),
                to_address: payment.pay_to,
            },
            value: params.value.to_string(),
            value_decimals: params.decimals,
        })
    }

    /// The file as put on chain: a base64 `data:` URI and the keccak256 of the file's bytes.
    pub fn to_data_uri(&self) -> (String, B256) {
        let bytes = serde_json::to_vec(self).unwrap_or_default();
        let uri = format!(
            "data:application/json;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(&bytes)
        );
        (uri, keccak256(&bytes))
    }

    /// Reads a file back from its `data:` URI, checking it against its hash on chain.
    pub fn from_data_uri(uri: &str, hash: B256) -> Result<Self> {
        let bad = |reason: &'static str| AgentError::Feedback { reason, source: None };
        let b64 =
            uri.strip_prefix("data:application/json;base64,").ok_or(bad("not a base64 JSON data: URI"))?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| bad("the data: URI is not base64"))?;
        if keccak256(&bytes) != hash {
            return Err(bad("the feedback file does not hash to its recorded hash"));
        }
        serde_json::from_slice(&bytes).map_err(|_| bad("not a feedback file"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agora_receipts::{InferenceReceipt, ReceiptOutput, ReceiptPayment, signing_hash};
    use alloy::signers::{SignerSync, local::PrivateKeySigner};

    fn params() -> FeedbackParams {
        FeedbackParams {
            registry_id: "eip155:31337:0x0000000000000000000000000000000000000001".into(),
            agent: U256::from(7),
            client: Address::repeat_byte(0x22),
            chain_id: 31337,
            value: -15,
            decimals: 1,
        }
    }

    fn payment() -> ReceiptPayment {
        ReceiptPayment {
            scheme: "channel".into(),
            network: "eip155:31337".into(),
            payer: Address::repeat_byte(0x22),
            pay_to: Address::repeat_byte(0x33),
            asset: Address::repeat_byte(0x44),
            reference: B256::repeat_byte(0x55),
            amount: "120".into(),
            cumulative: Some("360".into()),
        }
    }

    fn envelope(signer: &PrivateKeySigner, payment: Option<ReceiptPayment>) -> ReceiptEnvelope {
        let request: agora_receipts::CanonicalRequest = serde_json::from_value(serde_json::json!({
            "messages": [{ "role": "user", "content": "hi" }],
            "sampling": { "seed": 3 },
        }))
        .unwrap();
        let output = ReceiptOutput { text: "hello".into(), tokens: vec![1, 2] };
        let receipt = InferenceReceipt {
            engine: "agora-infer".into(),
            engineVersion: "0.1.0".into(),
            modelSha256: B256::repeat_byte(1),
            requestHash: request.hash(),
            outputHash: keccak256(b"hello"),
            promptTokens: 5,
            completionTokens: 2,
            node: signer.address(),
            timestamp: 1_700_000_000,
            paymentHash: payment.as_ref().map_or(B256::ZERO, ReceiptPayment::hash),
        };
        let signature = signer.sign_hash_sync(&signing_hash(&receipt)).unwrap();
        ReceiptEnvelope { signed: SignedReceipt { receipt, signature }, request, output, payment }
    }

    #[test]
    fn a_paid_call_gives_a_file_with_its_proof_of_payment() {
        let signer = PrivateKeySigner::random();
        let file = FeedbackFile::paid(&params(), &envelope(&signer, Some(payment())), 1_700_000_100).unwrap();
        assert_eq!(file.inference_receipt.node, signer.address());
        assert_eq!(file.proof_of_payment.from_address, Address::repeat_byte(0x22));
        assert_eq!(file.proof_of_payment.cumulative.as_deref(), Some("360"));
        assert_eq!(file.value, "-15");
        assert_eq!(file.client_address, format!("eip155:31337:{}", Address::repeat_byte(0x22)));
        let json = serde_json::to_value(&file).unwrap();
        assert_eq!(json["proofOfPayment"]["chainId"], "31337");
        assert_eq!(json["valueDecimals"], 1);
        let (uri, hash) = file.to_data_uri();
        assert_eq!(FeedbackFile::from_data_uri(&uri, hash).unwrap(), file);
        assert!(FeedbackFile::from_data_uri(&uri, B256::ZERO).is_err());
    }

    #[test]
    fn an_unpaid_or_tampered_receipt_is_refused() {
        let signer = PrivateKeySigner::random();
        let unpaid = FeedbackFile::paid(&params(), &envelope(&signer, None), 0).unwrap_err();
        assert!(unpaid.to_string().contains("names no payment"), "{unpaid}");
        let mut tampered = envelope(&signer, Some(payment()));
        tampered.output.text.push('!');
        let err = FeedbackFile::paid(&params(), &tampered, 0).unwrap_err();
        assert!(err.to_string().contains("does not verify"), "{err}");
    }
}
