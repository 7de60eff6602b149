//! The deep-funding acceptance tests (T1–T10; T11 is the contract's, with the jury's side here)
//! in both arithmetics, the quadratic-funding tests (Q1–Q5), properties, and the graph builder.
#![allow(clippy::unwrap_used)]

mod acceptance;
mod builder;
mod devnet;
mod heldout;
mod properties;
mod quadratic;
mod round;

use agora_funding::Real;

/// Asserts `got` is within `tol` of `want`.
#[track_caller]
pub(crate) fn close<T: Real>(got: T, want: f64, tol: f64) {
    let g = got.to_f64();
    assert!((g - want).abs() <= tol, "{} got {g}, want {want} (±{tol})", T::NAME);
}
