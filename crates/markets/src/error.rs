//! What the market math refuses, by name.

/// A refused market computation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MarketError {
    /// The liquidity parameter must be positive.
    #[error("the liquidity parameter b must be positive")]
    Liquidity,
    /// A market needs at least two outcomes.
    #[error("a market needs at least 2 outcomes, got {0}")]
    Outcomes(usize),
    /// A trade or state names outcomes the market does not have.
    #[error("{what} has {got} entries for a market of {outcomes} outcomes")]
    Length {
        /// What had the wrong length.
        what: &'static str,
        /// Entries given.
        got: usize,
        /// The market's outcomes.
        outcomes: usize,
    },
    /// A sale of more shares than the maker holds out (a pool balance would go negative).
    #[error("the pool holds too little of outcome {0} for this trade")]
    Pool(usize),
    /// A probability outside (0, 1).
    #[error("a probability must be strictly between 0 and 1")]
    Probability,
}
