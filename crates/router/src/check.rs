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
