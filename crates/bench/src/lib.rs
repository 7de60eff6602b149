//! agora's benchmarks. Each harness takes a validated configuration, measures agora against the
//! anchor its issue names in the same run, and returns a report: a struct that serialises to
//! JSON and displays as the table `agora bench` prints.
//!
//! - [`infer`]: the local engine against llama.cpp on the same GGUF file and prompt tokens.
//! - [`index`]: the ERC-8004 discovery index at scale, and the registries' gas.
//! - [`pay`]: x402 paid calls against the same route unpaid; gas against `exact`.
//! - [`credits`]: anonymous credits: time to a ready call proof, verifications and durable paid
//!   calls per second, and the pool's gas.
//! - [`guard`]: verdict latency of the two simulators, and what the model summary adds.
//! - [`router`]: what routing and receipt checks add to a paid remote call, against paying the
//!   provider directly; a re-execution's cost and the time to catch a cheat.
//!
//! The chain benchmarks run on a scratch devnet of their own, never on the node's chain.

pub mod credits;
mod error;
pub mod funding;
pub mod guard;
pub mod index;
pub mod infer;
pub mod pay;
pub mod router;

pub use error::{BenchError, Result};

/// A throwaway devnet on a free port, started with the `anvil` binary at `anvil`.
async fn scratch_devnet(anvil: &std::path::Path) -> Result<agora_chain::Devnet> {
    let config = agora_chain::DevnetConfig { anvil: anvil.to_path_buf(), port: 0, ..Default::default() };
    agora_chain::Devnet::start(&config).await.map_err(BenchError::Devnet)
}

/// `ours / theirs` as `1.23x`, or `-` when either side is missing.
fn ratio(ours: Option<f64>, theirs: Option<f64>) -> String {
    match (ours, theirs) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}x", a / b),
        _ => "-".to_owned(),
    }
}
