//! The fixed-product market maker over outcome tokens (Gnosis `FixedProductMarketMaker`).
//!
//! Buying outcome `i` with `x` collateral (after the fee): `x` is split into one full set and
//! added to every pool balance, then outcome `i` tokens are paid out until the product of the
//! balances is what it was. Prices are `p_i ∝ Π_{j≠i} bal_j`.

use crate::{MarketError, Real};

/// Outcome tokens received for `x` collateral on `outcome`, and the pool's balances after.
pub fn buy<T: Real>(balances: &[T], outcome: usize, x: T) -> Result<(T, Vec<T>), MarketError> {
    let n = balances.len();
    if n < 2 {
        return Err(MarketError::Outcomes(n));
    }
    if outcome >= n {
        return Err(MarketError::Length { what: "the outcome", got: outcome, outcomes: n });
    }
    // bal_i·Π_{j≠i} bal_j/(bal_j + x): what is left of outcome i after restoring the product.
    let mut left = balances[outcome];
    for (j, &b) in balances.iter().enumerate() {
        if j != outcome {
            left = left * b / (b + x);
        }
    }
    let out = balances[outcome] + x - left;
    let after = balances.iter().enumerate().map(|(j, &b)| if j == outcome { left } else { b + x }).collect();
    Ok((out, after))
}

/// The prices of a pool: `p_i = Π_{j≠i} bal_j / Σ_k Π_{j≠k} bal_j`.
pub fn prices<T: Real>(balances: &[T]) -> Vec<T> {
    let products: Vec<T> = (0..balances.len())
        .map(|i| balances.iter().enumerate().filter(|(j, _)| *j != i).fold(T::one(), |a, (_, &b)| a * b))
        .collect();
    let total = products.iter().fold(T::zero(), |a, &b| a + b);
    products.into_iter().map(|p| p / total).collect()
}
