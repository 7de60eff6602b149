//! The crate's errors: each names what was wrong and where.

/// What can go wrong in scoring, graphs and payouts.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FundingError {
    /// The graph is malformed.
    #[error("bad graph: {0}")]
    Graph(String),
    /// A source gives away more than all of its credit.
    #[error("the weights out of {node} sum to {sum}, more than 1")]
    OverAllocated {
        /// The node.
        node: String,
        /// Its out-weights' sum.
        sum: String,
    },
    /// A vector has the wrong length.
    #[error("{what} {index} has {got} entries, expected {expected}")]
    Length {
        /// What the vector is.
        what: &'static str,
        /// Which one.
        index: usize,
        /// The length expected.
        expected: usize,
        /// The length found.
        got: usize,
    },
    /// A jury answer names items it cannot.
    #[error("jury answer {index} is malformed: {reason}")]
    BadAnswer {
        /// The answer's position.
        index: usize,
        /// Why.
        reason: String,
    },
    /// There is nothing to blend.
    #[error("no valid submissions")]
    NoSubmissions,
    /// The jury does not constrain what is asked of it.
    #[error("the system is singular: the jury does not determine the answer")]
    Singular,
    /// Bytes that do not decode.
    #[error("bad encoding: {0}")]
    Encoding(String),
    /// Round parameters that make no sense.
    #[error("bad parameters: {0}")]
    Params(String),
    /// A chain step failed (the contract's revert is named).
    #[error("{0}")]
    Chain(String),
    /// The model could not answer.
    #[error("the model failed: {0}")]
    Model(String),
    /// A lockfile or manifest that cannot be read.
    #[error("cannot read {file}: {reason}")]
    Source {
        /// The file.
        file: String,
        /// Why.
        reason: String,
    },
}
