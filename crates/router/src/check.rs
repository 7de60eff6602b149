//! What every remote answer must prove before the owner sees it: a receipt signed by the
//! provider's agent wallet, for the model file the provider advertises, over the request that
//! was sent, naming the payment this node made, and committing to the text returned.

use agora_infer::ChatMessage;
use agora_receipts::{ReceiptEnvelope, model_hash};
use alloy::primitives::Address;

/// Why a remote answer was not accepted.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CheckError {
    /// The answer carries no receipt.
    #[error("the answer carries no inference receipt")]
    NoReceipt,
    /// The receipt does not verify.
    #[error("the receipt does not verify: {0}")]
    Invalid(String),
    /// Signed by another key than the agent's wallet.
    #[error("the receipt is signed by {signer}, not by the agent's wallet {wallet}")]
    WrongSigner {
        /// Who signed.
        signer: Address,
        /// The agent's wallet on the identity registry.
        wallet: Address,
    },
    /// For another model file than the one advertised.
    #[error("the receipt names model file {receipt}, not the advertised {advertised}")]
    WrongModel {
        /// The receipt's model sha256.
        receipt: String,
        /// What the provider's catalog says.
        advertised: String,
    },
    /// Over another request than the one sent.
    #[error("the receipt is for another request than the one sent ({0})")]
    WrongRequest(&'static str),
    /// Not naming this node's payment.
    #[error("the receipt does not name this node's payment: {0}")]
    WrongPayment(String),
    /// The text returned is not the text receipted.
    #[error("the text returned is not the text the receipt commits to")]
    WrongText,
}

/// What the receipt of a remote answer must say.
#[derive(Debug, Clone)]
pub struct Expected<'a> {
    /// The provider's agent wallet.
    pub wallet: Address,
    /// The advertised model file's sha256, hex.
    pub model_sha256: &'a str,
    /// The conversation sent.
    pub messages: &'a [ChatMessage],
    /// The sampling seed sent, if one was.
    pub seed: Option<u64>,
    /// The largest completion asked for, if set.
    pub max_tokens: Option<usize>,
    /// Who paid (this node), when paid openly; `None` for anonymous credits.
    pub payer: Option<Address>,
    /// The text the answer returned.
    pub text: &'a str,
}

/// Checks `envelope` against what was sent and paid.
pub fn check(envelope: &ReceiptEnvelope, expected: &Expected<'_>) -> Result<(), CheckError> {
    let signer = envelope.verify().map_err(|e| CheckError::Invalid(e.to_string()))?;
    if signer != expected.wallet {
        return Err(CheckError::WrongSigner { signer, wallet: expected.wallet });
    }
    let receipt = &envelope.signed.receipt;
    if receipt.modelSha256 != model_hash(expected.model_sha256) {
        return Err(CheckError::WrongModel {
            receipt: alloy::hex::encode(receipt.modelSha256),
            advertised: expected.model_sha256.to_owned(),
        });
    }
    let request = &envelope.request;
    if request.prompt.is_some() || request.messages != expected.messages {
        return Err(CheckError::WrongRequest("messages"));
    }
    if expected.seed.is_some_and(|seed| seed != request.sampling.seed) {
        return Err(CheckError::WrongRequest("seed"));
    }
    if expected.max_tokens.is_some_and(|max| max != request.sampling.max_tokens) {
        return Err(CheckError::WrongRequest("max_tokens"));
    }
    match (&envelope.payment, expected.payer) {
        (None, _) => return Err(CheckError::WrongPayment("it names none".into())),
        (Some(p), Some(payer)) if p.payer != payer => {
            return Err(CheckError::WrongPayment(format!("it names payer {}, not {payer}", p.payer)));
        }
        (Some(p), _) if p.pay_to != expected.wallet => {
            return Err(CheckError::WrongPayment(format!(
                "it names payee {}, not the agent's wallet",
                p.pay_to
            )));
        }
        _ => {}
    }
    if envelope.output.text != expected.text {
        return Err(CheckError::WrongText);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use agora_infer::SamplingParams;
    use agora_receipts::{
        CanonicalRequest, InferenceReceipt, ReceiptOutput, ReceiptPayment, SignedReceipt, signing_hash,
    };
    use alloy::{
        primitives::{B256, keccak256},
        signers::{SignerSync, local::PrivateKeySigner},
    };

    const SHA: &str = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";

    fn messages() -> Vec<ChatMessage> {
        vec![ChatMessage::new("user", "hi")]
    }

    /// A receipt as an honest provider signs it: for `messages()`, seed 7, 12 tokens at most,
    /// paid by `payer` to the provider.
    fn signed(provider: &PrivateKeySigner, payer: Address, text: &str) -> ReceiptEnvelope {
        let request = CanonicalRequest {
            messages: messages(),
            sampling: SamplingParams { seed: 7, max_tokens: 12, ..Default::default() },
            prompt: None,
        };
        let payment = ReceiptPayment {
            scheme: "exact".into(),
            network: "eip155:31337".into(),
            payer,
            pay_to: provider.address(),
            asset: Address::repeat_byte(9),
            reference: B256::repeat_byte(3),
            amount: "120".into(),
            cumulative: None,
        };
        let output = ReceiptOutput { text: text.into(), tokens: vec![1, 2] };
        let receipt = InferenceReceipt {
            engine: "agora-infer".into(),
            engineVersion: "1".into(),
            modelSha256: model_hash(SHA),
            requestHash: request.hash(),
            outputHash: keccak256(text.as_bytes()),
            promptTokens: 5,
            completionTokens: 2,
            node: provider.address(),
            timestamp: 1,
            paymentHash: payment.hash(),
        };
        let signature = provider.sign_hash_sync(&signing_hash(&receipt)).unwrap();
        ReceiptEnvelope {
            signed: SignedReceipt { receipt, signature },
            request,
            output,
            payment: Some(payment),
        }
    }

    fn expected<'a>(
        wallet: Address,
        payer: Address,
        messages: &'a [ChatMessage],
        text: &'a str,
    ) -> Expected<'a> {
        Expected {
            wallet,
            model_sha256: SHA,
            messages,
            seed: Some(7),
            max_tokens: Some(12),
            payer: Some(payer),
            text,
        }
    }

    #[test]
    fn an_honest_answer_passes_and_each_lie_is_named() {
        let (provider, payer) = (PrivateKeySigner::random(), Address::repeat_byte(1));
        let msgs = messages();
        let envelope = signed(&provider, payer, "red");
        assert_eq!(check(&envelope, &expected(provider.address(), payer, &msgs, "red")), Ok(()));

        // Another text than the one receipted.
        assert_eq!(
            check(&envelope, &expected(provider.address(), payer, &msgs, "blue")),
            Err(CheckError::WrongText)
        );
        // Signed by a key that is not the agent's wallet.
        let other = Address::repeat_byte(2);
        assert!(matches!(
            check(&envelope, &expected(other, payer, &msgs, "red")),
            Err(CheckError::WrongSigner { wallet, .. }) if wallet == other
        ));
        // Another model file than advertised.
        let mut e = expected(provider.address(), payer, &msgs, "red");
        e.model_sha256 = "00";
        assert!(matches!(check(&envelope, &e), Err(CheckError::WrongModel { .. })));
        // Another conversation, seed or length than sent.
        let asked = vec![ChatMessage::new("user", "hello")];
        assert_eq!(
            check(&envelope, &expected(provider.address(), payer, &asked, "red")),
            Err(CheckError::WrongRequest("messages"))
        );
        let mut e = expected(provider.address(), payer, &msgs, "red");
        e.seed = Some(8);
        assert_eq!(check(&envelope, &e), Err(CheckError::WrongRequest("seed")));
        let mut e = expected(provider.address(), payer, &msgs, "red");
        e.max_tokens = Some(13);
        assert_eq!(check(&envelope, &e), Err(CheckError::WrongRequest("max_tokens")));
        // Someone else's payment.
        assert!(matches!(
            check(&envelope, &expected(provider.address(), Address::repeat_byte(5), &msgs, "red")),
            Err(CheckError::WrongPayment(_))
        ));
        // Tampered after signing.
        let mut tampered = envelope.clone();
        tampered.output.text = "blue".into();
        assert!(matches!(
            check(&tampered, &expected(provider.address(), payer, &msgs, "blue")),
            Err(CheckError::Invalid(_))
        ));
        // No payment named at all.
        let mut unpaid = signed(&provider, payer, "red");
        unpaid.payment = None;
        unpaid.signed.receipt.paymentHash = B256::ZERO;
        unpaid.signed.signature = provider.sign_hash_sync(&signing_hash(&unpaid.signed.receipt)).unwrap();
        assert!(matches!(
            check(&unpaid, &expected(provider.address(), payer, &msgs, "red")),
            Err(CheckError::WrongPayment(_))
        ));
    }
}
