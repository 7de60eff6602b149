use alloy::primitives::{Address, B256};

/// What can go wrong with a job spec or a delivery.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The description is not a job spec agora can run.
    #[error("not an agora inference job spec: {0}")]
    BadSpec(String),
    /// The delivery is not a receipt envelope.
    #[error("the delivery is not a signed receipt: {0}")]
    BadDelivery(String),
    /// The receipt does not verify (signature or hashes).
    #[error("the delivery's receipt does not verify: {0}")]
    Receipt(#[from] agora_receipts::ReceiptError),
    /// Signed by someone other than the job's provider.
    #[error("the delivery is signed by {signer}, not by the job's provider {provider}")]
    WrongSigner {
        /// Who signed.
        signer: Address,
        /// Who should have.
        provider: Address,
    },
    /// The receipt names another model than the spec.
    #[error("the delivery was made with model {actual}, the job asks for {expected}")]
    WrongModel {
        /// The spec's model.
        expected: B256,
        /// The receipt's.
        actual: B256,
    },
    /// The receipt answers another request than the spec's.
    #[error("the delivery answers another request than the job's")]
    OtherRequest,
    /// This node cannot re-run the job (another model file is loaded).
    #[error("cannot re-run the job: it needs model {needed}, this node has {loaded}")]
    ModelNotLoaded {
        /// The spec's model.
        needed: B256,
        /// The loaded one.
        loaded: B256,
    },
    /// The node will not (or cannot) take this step, and why.
    #[error("{0}")]
    Refused(String),
    /// A chain call failed (with the contract's named error when it reverted).
    #[error("{0}")]
    Chain(String),
    /// Running the model failed.
    #[error("re-running the job failed: {0}")]
    Inference(#[from] agora_infer::InferError),
}

/// Results of this crate.
pub type Result<T, E = JobError> = std::result::Result<T, E>;
