//! Markets as operations (`agora market …`): ask a question with a market on it, trade, resolve,
//! redeem, with the node key; beside a running node like every operation.

use crate::{NodeConfig, NodeError, Result};
use agora_chain::ChainClient;
use agora_markets::chain::{self as markets, MarketContracts, MarketView};
use alloy::primitives::{Address, I256, U256};

fn fail(step: &'static str) -> impl FnOnce(String) -> NodeError {
    move |e| NodeError::Markets { step, source: e.into() }
}

/// The node key's chain client and the suite's market contracts.
#[derive(Debug, Clone)]
pub struct MarketsContext {
    /// Signs with the node key.
    pub chain: ChainClient,
    /// The market contracts.
    pub contracts: MarketContracts,
}

impl MarketsContext {
    /// This node's address.
    pub fn me(&self) -> Address {
        self.chain.signer_address().unwrap_or_default()
    }
}

/// Connects with the node key and finds the market contracts in the data directory's
/// deployments.
pub async fn context(config: &NodeConfig) -> Result<MarketsContext> {
    let jobs = super::jobs::context(config).await?;
    let contracts = MarketContracts::of(&jobs.deployment).ok_or_else(|| {
        NodeError::Missing("the deployed suite has no market contracts: run agora deploy".into())
    })?;
    Ok(MarketsContext { chain: jobs.chain, contracts })
}

/// Shares (or liquidity) in whole token units as a wad (dUSD has 6 decimals: ×10¹²).
pub fn wad_of_units(units: u128) -> U256 {
    U256::from(units) * U256::from(1_000_000_000_000u64)
}

/// Asks `text` and opens a market on it; returns its id.
pub async fn create(
    config: &NodeConfig,
    text: &str,
    outcomes: usize,
    liquidity: u128,
    bond: u128,
    liveness: u64,
) -> Result<U256> {
    let cx = context(config).await?;
    markets::create(&cx.chain, cx.contracts, text, outcomes, wad_of_units(liquidity), bond, liveness)
        .await
        .map_err(fail("creating the market"))
}

/// Every market, with its question, prices and state.
pub async fn list(config: &NodeConfig) -> Result<Vec<MarketView>> {
    let cx = context(config).await?;
    markets::list(&cx.chain, cx.contracts).await.map_err(fail("reading the markets"))
}

/// One market and what this node holds in it (token units per outcome).
pub async fn show(config: &NodeConfig, id: U256) -> Result<(MarketView, Vec<U256>)> {
    let cx = context(config).await?;
    let m = markets::show(&cx.chain, cx.contracts, id).await.map_err(fail("reading the market"))?;
    let held = markets::holdings(&cx.chain, cx.contracts, id, m.outcomes, cx.me())
        .await
        .map_err(fail("reading the holdings"))?;
    Ok((m, held))
}

/// Buys (positive) or sells (negative) `shares` token units of `outcome` within `limit` token
/// units (the most paid, or the least taken; default: the quote plus or minus 1%). Returns the
/// quote's amount (token units; negative: a refund).
pub async fn trade(
    config: &NodeConfig,
    id: U256,
    outcome: usize,
    shares: i128,
    limit: Option<u128>,
) -> Result<i128> {
    let cx = context(config).await?;
    let m = markets::show(&cx.chain, cx.contracts, id).await.map_err(fail("reading the market"))?;
    let mut deltas = vec![I256::ZERO; m.outcomes];
    let size = wad_of_units(shares.unsigned_abs());
    let signed = I256::try_from(size).map_err(|e| fail("sizing the trade")(e.to_string()))?;
    *deltas.get_mut(outcome).ok_or_else(|| {
        fail("sizing the trade")(format!("no outcome {outcome} in a market of {}", m.outcomes))
    })? = if shares >= 0 { signed } else { -signed };
    let (_, amount) = markets::quote(&cx.chain, cx.contracts, id, deltas).await.map_err(fail("quoting"))?;
    let amount = i128::try_from(amount).unwrap_or(i128::MAX);
    if shares >= 0 {
        let max = limit.unwrap_or_else(|| amount.unsigned_abs() + amount.unsigned_abs() / 100 + 1);
        markets::buy(&cx.chain, cx.contracts, id, outcome, size, max).await.map_err(fail("buying"))?;
    } else {
        let min = limit.unwrap_or_else(|| amount.unsigned_abs() - amount.unsigned_abs() / 100);
        markets::sell(&cx.chain, cx.contracts, id, outcome, size, min).await.map_err(fail("selling"))?;
    }
    Ok(amount)
}

/// Resolves a market's question one step: asserts `outcome` (with the bond), or settles an
/// undisputed assertion after its liveness. Returns what was done.
pub async fn resolve(config: &NodeConfig, id: U256, outcome: Option<usize>) -> Result<&'static str> {
    let cx = context(config).await?;
    let m = markets::show(&cx.chain, cx.contracts, id).await.map_err(fail("reading the market"))?;
    match outcome {
        Some(o) => {
            markets::assert_outcome(&cx.chain, cx.contracts, m.question_id, o)
                .await
                .map_err(fail("asserting"))?;
            Ok("asserted")
        }
        None => {
            markets::settle(&cx.chain, cx.contracts, m.question_id).await.map_err(fail("settling"))?;
            Ok("settled")
        }
    }
}

/// Disputes a market's asserted answer; returns the council's dispute.
pub async fn dispute(config: &NodeConfig, id: U256) -> Result<U256> {
    let cx = context(config).await?;
    let m = markets::show(&cx.chain, cx.contracts, id).await.map_err(fail("reading the market"))?;
    markets::dispute(&cx.chain, cx.contracts, m.question_id).await.map_err(fail("disputing"))
}

/// Redeems this node's positions in a resolved market; returns the payout (token units).
pub async fn redeem(config: &NodeConfig, id: U256) -> Result<U256> {
    let cx = context(config).await?;
    let m = markets::show(&cx.chain, cx.contracts, id).await.map_err(fail("reading the market"))?;
    markets::redeem(&cx.chain, cx.contracts, m.condition_id, m.outcomes).await.map_err(fail("redeeming"))
}
