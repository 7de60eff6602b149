//! Why a receipt cannot be made, read, verified or re-executed.

use alloy::primitives::Address;

/// Why a receipt does not check out.
#[derive(Debug, thiserror::Error)]
pub enum ReceiptError {
    /// The file is not a receipt.
    #[error("not a receipt: {0}")]
    Malformed(#[from] serde_json::Error),
    /// The signature does not recover to an address.
    #[error("not a receipt: signature: {0}")]
    Signature(#[from] alloy::primitives::SignatureError),
    /// The node's key could not sign.
    #[error("cannot sign the receipt: {0}")]
    Signing(#[from] alloy::signers::Error),
    /// The signature is not the node's.
    #[error("bad signature: signed by {recovered}, but the receipt names node {claimed}")]
    BadSignature {
        /// Who signed.
        recovered: Address,
        /// Who the receipt says signed.
        claimed: Address,
    },
    /// The request or output does not match its hash.
    #[error("{what} does not match the signed hash")]
    HashMismatch {
        /// `request` or `output`.
        what: &'static str,
    },
    /// The output's tokens are the engine's, but its text is not what they make.
    #[error("the output text is not what its tokens decode to")]
    TextMismatch,
    /// Re-execution needs the same model file.
    #[error("the receipt is for model sha256 {expected}, the local model is {actual}")]
    OtherModel {
        /// From the receipt.
        expected: String,
        /// Of the local file.
        actual: String,
    },
    /// Re-execution needs the same engine version.
    #[error("the receipt was made by {expected}; this is {actual}")]
    OtherEngine {
        /// From the receipt.
        expected: String,
        /// Of this build.
        actual: String,
    },
    /// Re-running failed.
    #[error("re-execution failed: {0}")]
    Inference(#[from] agora_infer::InferError),
}

/// Result alias for receipt operations.
pub type Result<T, E = ReceiptError> = std::result::Result<T, E>;
