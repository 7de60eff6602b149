//! The errors of payments: one [`PayError`] for the payer, the paywall's settlement and the
//! ledger, with the wire codec's [`WireError`] and an authorization's [`AuthorizationError`]
//! converting into it.

use crate::wire::WireError;
use alloy::primitives::B256;
use std::sync::Arc;

/// The result of payment operations.
pub type Result<T, E = PayError> = std::result::Result<T, E>;

/// Why a payment operation failed.
#[derive(Debug, thiserror::Error)]
pub enum PayError {
    /// The mandate does not allow this payment.
    #[error("refused by spending mandate {mandate:?}: {reason}")]
    Mandate {
        /// The mandate.
        mandate: String,
        /// Why.
        reason: String,
    },
    /// No mandate of that name.
    #[error(
        "no spending mandate {0:?}: create one first, e.g. `agora mandate set --budget 1000000 --per-call 20000`"
    )]
    NoMandate(String),
    /// The server asked for nothing we can pay.
    #[error("the server accepts no payment this client can make: {0}")]
    Unpayable(String),
    /// The server refused the payment.
    #[error("the server refused the payment ({reason}): {message}")]
    Refused {
        /// Reason code.
        reason: String,
        /// The server's message.
        message: String,
    },
    /// The request failed.
    #[error("request failed: {0}")]
    Http(#[from] reqwest::Error),
    /// A payment header could not be read.
    #[error("the server accepts no payment this client can make: {0}")]
    Wire(#[from] WireError),
    /// An EIP-3009 authorization's numbers do not parse.
    #[error(transparent)]
    Authorization(#[from] AuthorizationError),
    /// Signing failed.
    #[error("the server accepts no payment this client can make: {0}")]
    Signing(#[from] alloy::signers::Error),
    /// A contract call was refused or could not be sent.
    #[error("{what}: {source}")]
    Contract {
        /// What was being done.
        what: &'static str,
        /// The call's error (boxed: it is large, and errors travel in every `Result`).
        #[source]
        source: Box<alloy::contract::Error>,
    },
    /// A sent transaction's receipt could not be read.
    #[error("{what}: {source}")]
    Receipt {
        /// What was being done.
        what: &'static str,
        /// The receipt's error.
        #[source]
        source: alloy::providers::PendingTransactionError,
    },
    /// A transaction was mined but reverted.
    #[error("{what} transaction {tx} reverted")]
    Reverted {
        /// What the transaction did.
        what: &'static str,
        /// The transaction.
        tx: B256,
    },
    /// The chain's RPC failed.
    #[error("the chain cannot be read: {0}")]
    Rpc(#[from] alloy::transports::TransportError),
    /// A channel this payer did not open.
    #[error("this payer did not open channel {0}")]
    UnknownChannel(B256),
    /// A stored payment status this version does not know.
    #[error("unknown payment status {0:?}")]
    UnknownStatus(String),
    /// The ledger's writer thread is gone.
    #[error("the ledger writer stopped")]
    LedgerStopped,
    /// The ledger's group commit failed (shared by every call in the batch).
    #[error(transparent)]
    Ledger(Arc<agora_store::StoreError>),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] agora_store::StoreError),
    /// A credit could not be bought, proven or exited.
    #[error(transparent)]
    Credits(#[from] agora_credits::Error),
}

impl PayError {
    /// Whether the payment was refused by a rule (a mandate, or the server), not by a failure.
    pub fn is_refused(&self) -> bool {
        matches!(self, Self::Mandate { .. } | Self::NoMandate(_) | Self::Refused { .. })
    }

    /// Whether retrying later may succeed (the chain, the network or the store were unavailable).
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Http(_) | Self::Rpc(_) | Self::Receipt { .. } | Self::LedgerStopped)
    }
}

/// Why an EIP-3009 authorization's decimal strings do not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthorizationError {
    /// Not a decimal number.
    #[error("{what} is not a decimal number: {value:?}")]
    NotDecimal {
        /// The field.
        what: &'static str,
        /// What it held.
        value: String,
    },
    /// A time beyond `u64`.
    #[error("{what} is out of range")]
    OutOfRange {
        /// The field.
        what: &'static str,
    },
}
