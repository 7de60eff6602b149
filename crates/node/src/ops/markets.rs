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
    /// The decision-market contract.
    pub decision: Option<Address>,
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
    let decision = markets::decision_market(&jobs.deployment);
    Ok(MarketsContext { chain: jobs.chain, contracts, decision })
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

/// Asks the chain's own question (will `account` hold at least `threshold` dollars at block
/// `at_block`?) with a market on it; returns the market id.
pub async fn create_fact(
    config: &NodeConfig,
    account: Address,
    threshold: u128,
    at_block: u64,
    liquidity: u128,
) -> Result<U256> {
    let cx = context(config).await?;
    markets::create_fact(&cx.chain, cx.contracts, account, threshold, at_block, wad_of_units(liquidity))
        .await
        .map_err(fail("creating the market"))
}

/// Resolves a market's question one step: asserts `outcome` (with the bond), or settles an
/// undisputed assertion after its liveness; a question the chain answers is settled from its
/// state. Returns what was done.
pub async fn resolve(config: &NodeConfig, id: U256, outcome: Option<usize>) -> Result<&'static str> {
    let cx = context(config).await?;
    let m = markets::show(&cx.chain, cx.contracts, id).await.map_err(fail("reading the market"))?;
    if m.fact {
        if outcome.is_some() {
            return Err(fail("resolving")(
                "the chain answers this question: resolve it without --outcome once its block has come"
                    .into(),
            ));
        }
        markets::settle_fact(&cx.chain, cx.contracts, m.question_id).await.map_err(fail("settling"))?;
        return Ok("settled from the chain's state");
    }
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

/// How `agora trader run` trades.
#[derive(Debug, Clone)]
pub struct TraderPolicy {
    /// The model asked, through the node running on this data directory (`auto` or a remote
    /// name reaches paid providers under the owner's mandate).
    pub model: String,
    /// Dollars at stake per market (token units).
    pub bankroll: u128,
    /// The Kelly cap: the largest fraction of the bankroll one trade may stake.
    pub cap: f64,
}

/// What the trader did with one market, and why.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct TraderRecord {
    /// The market.
    pub market: String,
    /// Its question.
    pub question: String,
    /// The model's forecast of outcome 0, its confidence and the receipts of its two answers.
    pub forecast: agora_markets::ai::Forecast,
    /// The market's price of outcome 0 when the trader looked.
    pub price: f64,
    /// The outcome bought (none when there was no edge).
    pub bought: Option<usize>,
    /// Shares bought (token units).
    pub shares: u128,
    /// What it cost (token units).
    pub cost: u128,
    /// Milliseconds from asking the model to the order (both answers, checks and sizing).
    #[serde(default)]
    pub decided_ms: u64,
    /// The node's agent that published the forecast on the board (ERC-8004 id), so that anyone
    /// can score it; the board keeps as its reasoning the keccak-256 of this record's compact JSON
    /// with this field null.
    #[serde(default)]
    pub agent_id: Option<String>,
}

fn trader_dir(config: &NodeConfig) -> std::path::PathBuf {
    config.data_dir.join("trader")
}

/// One pass of the trader over the open binary markets it has not traded yet: the model's
/// forecast (asked both ways, through the running node; every answer's receipt checked), a
/// capped-Kelly order up to its belief, the trade, and the record kept beside the data (the
/// receipts included, so why it traded can be re-run). Also redeems what resolved markets owe it.
pub async fn trader_pass(config: &NodeConfig, policy: &TraderPolicy) -> Result<(Vec<TraderRecord>, u128)> {
    use agora_markets::{ai, lmsr::Lmsr, trader::order};
    let cx = context(config).await?;
    let node = super::NodeApi::beside(config)?.ok_or_else(|| {
        NodeError::Missing("the trader asks its model through the node: start it (agora up)".into())
    })?;
    let dir = trader_dir(config);
    let io = |e: std::io::Error| NodeError::DataDir { dir: dir.clone(), reason: e.to_string() };
    std::fs::create_dir_all(&dir).map_err(io)?;
    let all = markets::list(&cx.chain, cx.contracts).await.map_err(fail("reading the markets"))?;
    // The node's ERC-8004 agent publishes each forecast, so scorers other than this trader can
    // rate it (registered on first use, as `agora up` does).
    let mut agent: Option<U256> = None;
    let mut done = Vec::new();
    let mut redeemed = 0u128;
    for m in &all {
        let file = dir.join(format!("market-{}.json", m.id));
        if m.state == 4 {
            let held = markets::holdings(&cx.chain, cx.contracts, m.id, m.outcomes, cx.me())
                .await
                .map_err(fail("reading the holdings"))?;
            if held.iter().any(|h| *h > U256::ZERO) {
                let paid = markets::redeem(&cx.chain, cx.contracts, m.condition_id, m.outcomes)
                    .await
                    .map_err(fail("redeeming"))?;
                redeemed += u128::try_from(paid).unwrap_or(0);
            }
            continue;
        }
        if m.state != 1 || m.outcomes != 2 || file.exists() {
            continue;
        }
        let started = std::time::Instant::now();
        let mut texts = Vec::new();
        let mut receipts = Vec::new();
        for messages in ai::prompts(&m.text) {
            let sampling = ai::sampling();
            let body = serde_json::json!({
                "model": policy.model,
                "messages": messages,
                "temperature": sampling.temperature,
                "max_tokens": sampling.max_tokens,
                "seed": sampling.seed,
            });
            let answer: serde_json::Value = node.post("/v1/chat/completions", &body).await?;
            let text = answer["choices"][0]["message"]["content"].as_str().unwrap_or_default().to_owned();
            let receipt: agora_receipts::ReceiptEnvelope =
                serde_json::from_value(answer["agora_receipt"].clone())
                    .map_err(|e| fail("reading the model's answer")(format!("no receipt: {e}")))?;
            ai::check_answer(&messages, &text, &receipt).map_err(fail("checking the model's answer"))?;
            texts.push(text);
            receipts.push(receipt);
        }
        let forecast = ai::combine(&m.text, &texts[0], &texts[1], receipts);
        let wad = |x: I256| i128::try_from(x).unwrap_or(0) as f64 / 1e18;
        let q: Vec<f64> = m.q.iter().map(|x| wad(*x)).collect();
        let b = u128::try_from(m.b).unwrap_or(0) as f64 / 1e18;
        let price = u128::try_from(m.prices[0]).unwrap_or(0) as f64 / 1e18;
        let lmsr = Lmsr::new(b, 2).map_err(|e| fail("reading the market")(e.to_string()))?;
        let bankroll = policy.bankroll as f64 / 1e6;
        let shares = order(&lmsr, &q, 0, forecast.probability, forecast.confidence, policy.cap, bankroll)
            .unwrap_or(0.0);
        // Against outcome 0, buy outcome 1: the same move of the price, with nothing to sell.
        let (outcome, size) = if shares >= 0.0 { (0, shares) } else { (1, -shares) };
        let units = (size * 1e6).floor() as u128;
        let decided_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let mut record = TraderRecord {
            market: m.id.to_string(),
            question: m.text.clone(),
            forecast,
            price,
            bought: None,
            shares: 0,
            cost: 0,
            decided_ms,
            agent_id: None,
        };
        if units > 0 {
            let mut deltas = vec![I256::ZERO; 2];
            deltas[outcome] = I256::try_from(wad_of_units(units)).unwrap_or(I256::ZERO);
            let (_, cost) =
                markets::quote(&cx.chain, cx.contracts, m.id, deltas).await.map_err(fail("quoting"))?;
            let cost = u128::try_from(cost).unwrap_or(0);
            if cost <= policy.bankroll {
                markets::buy(&cx.chain, cx.contracts, m.id, outcome, wad_of_units(units), cost)
                    .await
                    .map_err(fail("buying"))?;
                record.bought = Some(outcome);
                record.shares = units;
                record.cost = cost;
            }
        }
        let agent_id = match agent {
            Some(a) => a,
            None => {
                let r: super::agents::AgentRegistration =
                    node.post("/agent/register", &serde_json::json!({})).await?;
                *agent.insert(r.agent_id)
            }
        };
        let reasoning = alloy::primitives::keccak256(serde_json::to_vec(&record).unwrap_or_default());
        let ppm = (record.forecast.probability.clamp(0.0, 1.0) * 1e6).round() as u32;
        markets::publish_forecast(&cx.chain, cx.contracts, m.id, agent_id, ppm, reasoning)
            .await
            .map_err(fail("publishing the forecast"))?;
        record.agent_id = Some(agent_id.to_string());
        std::fs::write(&file, serde_json::to_vec_pretty(&record).unwrap_or_default()).map_err(io)?;
        done.push(record);
    }
    Ok((done, redeemed))
}

/// The trader's record against resolved markets: per market its forecast of outcome 0 and the
/// Brier score, beside always-50%'s 0.25.
pub async fn trader_scores(config: &NodeConfig) -> Result<Vec<(TraderRecord, u16, f64)>> {
    let cx = context(config).await?;
    let all = markets::list(&cx.chain, cx.contracts).await.map_err(fail("reading the markets"))?;
    let mut out = Vec::new();
    for m in all.iter().filter(|m| m.state == 4) {
        let file = trader_dir(config).join(format!("market-{}.json", m.id));
        let Ok(bytes) = std::fs::read(&file) else { continue };
        let Ok(record) = serde_json::from_slice::<TraderRecord>(&bytes) else { continue };
        let answer = m.outcome.unwrap_or(0);
        let brier = agora_markets::trader::brier(record.forecast.probability, answer == 0);
        out.push((record, answer, brier));
    }
    Ok(out)
}

fn decision_address(cx: &MarketsContext) -> Result<Address> {
    cx.decision.ok_or_else(|| {
        NodeError::Missing("the deployed suite has no DecisionMarket: run agora deploy".into())
    })
}

/// Proposes a decision; returns its id.
pub async fn propose(config: &NodeConfig, proposal: &markets::Proposal) -> Result<U256> {
    let cx = context(config).await?;
    let decision = decision_address(&cx)?;
    markets::propose(&cx.chain, cx.contracts, decision, proposal).await.map_err(fail("proposing"))
}

/// Reads a decision.
pub async fn decision(config: &NodeConfig, id: U256) -> Result<markets::DecisionView> {
    let cx = context(config).await?;
    let decision = decision_address(&cx)?;
    markets::decision(&cx.chain, decision, id).await.map_err(fail("reading the decision"))
}

/// Trades the metric in one branch's book (0 pass, 1 fail): `shares` token units of YES (> 0)
/// or NO (< 0), splitting `collateral` token units of dollars into branch dollars first.
pub async fn decide_trade(
    config: &NodeConfig,
    id: U256,
    branch: usize,
    shares: i128,
    collateral: u128,
) -> Result<i128> {
    let cx = context(config).await?;
    let decision = decision_address(&cx)?;
    let size = I256::try_from(wad_of_units(shares.unsigned_abs())).unwrap_or(I256::ZERO);
    let signed = if shares >= 0 { size } else { -size };
    markets::decision_trade(&cx.chain, cx.contracts, decision, id, branch, signed, collateral)
        .await
        .map_err(fail("trading"))
}

/// Records an observation of both books.
pub async fn poke(config: &NodeConfig, id: U256) -> Result<()> {
    let cx = context(config).await?;
    let decision = decision_address(&cx)?;
    markets::poke(&cx.chain, decision, id).await.map_err(fail("observing"))
}

/// Decides after trading; `true` when it passed (its action ran).
pub async fn finalize_decision(config: &NodeConfig, id: U256) -> Result<bool> {
    let cx = context(config).await?;
    let decision = decision_address(&cx)?;
    markets::finalize(&cx.chain, decision, id).await.map_err(fail("finalizing"))
}

/// Related markets, by id, as `agora trader arb` keeps them coherent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarketRelation {
    /// Exactly one of these markets resolves YES: their YES prices should sum to 1.
    Partition(Vec<U256>),
    /// If the first resolves YES, so does the second: its price should not be higher.
    Implies(U256, U256),
}

impl std::fmt::Display for MarketRelation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Partition(ids) => {
                let ids: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
                write!(f, "exactly one of markets {} resolves YES", ids.join(", "))
            }
            Self::Implies(a, b) => write!(f, "market {a} implies market {b}"),
        }
    }
}

/// One leg the arbitrageur bought.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ArbLeg {
    /// The market.
    pub market: String,
    /// The outcome bought (0 YES, 1 NO).
    pub outcome: usize,
    /// Shares (token units).
    pub shares: u128,
    /// What they cost (token units).
    pub cost: u128,
}

/// What the arbitrageur did about one relation.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ArbRecord {
    /// The relation, in words.
    pub relation: String,
    /// The related markets' YES prices before.
    pub before: Vec<f64>,
    /// And after (the same when nothing was traded).
    pub after: Vec<f64>,
    /// The legs bought (none: coherent already, the edge too small, or skipped).
    pub legs: Vec<ArbLeg>,
    /// The least the legs pay together, whatever happens (token units).
    pub payout: u128,
    /// What they cost (token units).
    pub cost: u128,
    /// Why nothing was traded, when nothing was.
    pub skipped: Option<String>,
}

/// One pass of the arbitrageur: for each relation, the equal-sized legs that make the related
/// markets' prices coherent (bought only when their on-chain quotes leave at least `min_profit`
/// token units earned in every world, and cost at most `budget`).
pub async fn arbitrage_pass(
    config: &NodeConfig,
    relations: &[MarketRelation],
    budget: u128,
    min_profit: u128,
) -> Result<Vec<ArbRecord>> {
    use agora_markets::{
        arb::{self, Book, Relation},
        lmsr::Lmsr,
    };
    let cx = context(config).await?;
    let mut out = Vec::new();
    for relation in relations {
        let ids: Vec<U256> = match relation {
            MarketRelation::Partition(ids) => ids.clone(),
            MarketRelation::Implies(a, b) => vec![*a, *b],
        };
        let mut seen = std::collections::BTreeSet::new();
        if let Some(dup) = ids.iter().find(|id| !seen.insert(**id)) {
            return Err(fail("reading the relation")(format!(
                "market {dup} appears twice in \"{relation}\""
            )));
        }
        let mut views = Vec::new();
        for id in &ids {
            views
                .push(markets::show(&cx.chain, cx.contracts, *id).await.map_err(fail("reading the market"))?);
        }
        let yes = |v: &MarketView| u128::try_from(v.prices[0]).unwrap_or(0) as f64 / 1e18;
        let before: Vec<f64> = views.iter().map(yes).collect();
        let mut record = ArbRecord {
            relation: relation.to_string(),
            before: before.clone(),
            after: before,
            legs: Vec::new(),
            payout: 0,
            cost: 0,
            skipped: None,
        };
        if let Some(v) = views.iter().find(|v| v.outcomes != 2) {
            return Err(fail("reading the relation")(format!(
                "market {} has {} outcomes: relations are between binary markets",
                v.id, v.outcomes
            )));
        }
        if let Some(v) = views.iter().find(|v| v.state != 1) {
            record.skipped = Some(format!("market {} is {}", v.id, markets::state_name(v.state)));
            out.push(record);
            continue;
        }
        let wad = |x: I256| i128::try_from(x).unwrap_or(0) as f64 / 1e18;
        let books: Vec<Book<f64>> = views
            .iter()
            .map(|v| {
                Ok(Book {
                    maker: Lmsr::new(u128::try_from(v.b).unwrap_or(0) as f64 / 1e18, 2)?,
                    q: v.q.iter().map(|x| wad(*x)).collect(),
                })
            })
            .collect::<std::result::Result<_, agora_markets::MarketError>>()
            .map_err(|e| fail("reading the market")(e.to_string()))?;
        let indices = (0..ids.len()).collect::<Vec<_>>();
        let rel = match relation {
            MarketRelation::Partition(_) => Relation::Partition(indices),
            MarketRelation::Implies(..) => Relation::Implies { a: 0, b: 1 },
        };
        let plan =
            arb::plan(&books, &rel, budget as f64 / 1e6).map_err(|e| fail("planning")(e.to_string()))?;
        let Some(plan) = plan else {
            record.skipped = Some("the prices are coherent".into());
            out.push(record);
            continue;
        };
        // Whole token units (the chain's precision), then the chain's own quotes.
        let units = (plan.legs[0].shares * 1e6).floor() as u128;
        let k = (plan.payout / plan.legs[0].shares).round() as u128;
        let mut legs = Vec::new();
        for leg in &plan.legs {
            let mut deltas = vec![I256::ZERO; 2];
            deltas[leg.outcome] = I256::try_from(wad_of_units(units)).unwrap_or(I256::ZERO);
            let (_, cost) = markets::quote(&cx.chain, cx.contracts, ids[leg.market], deltas)
                .await
                .map_err(fail("quoting"))?;
            legs.push(ArbLeg {
                market: ids[leg.market].to_string(),
                outcome: leg.outcome,
                shares: units,
                cost: u128::try_from(cost).unwrap_or(u128::MAX),
            });
        }
        let cost: u128 = legs.iter().map(|l| l.cost).sum();
        let payout = k * units;
        if units == 0 {
            record.skipped = Some("the prices are coherent to the token's precision".into());
            out.push(record);
            continue;
        }
        if payout < cost + min_profit || cost > budget {
            record.skipped = Some(format!(
                "the edge is too small: {} for {} (at least {} more wanted)",
                units_text(payout),
                units_text(cost),
                units_text(min_profit)
            ));
            out.push(record);
            continue;
        }
        for (leg, plan_leg) in legs.iter().zip(&plan.legs) {
            markets::buy(
                &cx.chain,
                cx.contracts,
                ids[plan_leg.market],
                leg.outcome,
                wad_of_units(units),
                leg.cost,
            )
            .await
            .map_err(fail("buying"))?;
        }
        let mut after = Vec::new();
        for id in &ids {
            after.push(yes(&markets::show(&cx.chain, cx.contracts, *id)
                .await
                .map_err(fail("reading the market"))?));
        }
        record.after = after;
        record.legs = legs;
        record.payout = payout;
        record.cost = cost;
        out.push(record);
    }
    Ok(out)
}

fn units_text(units: u128) -> String {
    agora_chain::units::DOLLARS.format(units)
}

/// A published forecast of a resolved market, scored.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ForecastScore {
    /// The market.
    pub market: String,
    /// Its question.
    pub question: String,
    /// The forecasting agent (ERC-8004 id).
    pub agent_id: String,
    /// Who published it.
    pub forecaster: Address,
    /// The forecast probability of outcome 0.
    pub probability: f64,
    /// The answer (0 or 1).
    pub answer: u16,
    /// `(p − o)²`: 0 is perfect, always-50% scores 0.25.
    pub brier: f64,
    /// What the forecaster's trades made or lost on the market (token units).
    pub pnl: i128,
    /// Published before the answer could be known (only those count).
    pub counted: bool,
    /// This node's key scored it already.
    pub scored: bool,
    /// The hash of the forecaster's record, as the board holds it.
    pub reasoning: alloy::primitives::B256,
}

/// Every forecast published on the board for a resolved binary market, scored: the Brier score
/// of the forecast and the forecaster's profit or loss from its trades. A forecast published
/// once the answer could be known (after the first assertion, or from a chain question's block)
/// does not count.
pub async fn leaderboard(config: &NodeConfig) -> Result<Vec<ForecastScore>> {
    let cx = context(config).await?;
    let all = markets::list(&cx.chain, cx.contracts).await.map_err(fail("reading the markets"))?;
    let mut out = Vec::new();
    for m in all.iter().filter(|m| m.state == 4 && m.outcomes == 2) {
        let known = markets::answer_known_from(&cx.chain, cx.contracts, m)
            .await
            .map_err(fail("reading the answer"))?;
        let answer = m.outcome.unwrap_or(0);
        for f in
            markets::forecasts(&cx.chain, cx.contracts, m.id).await.map_err(fail("reading the forecasts"))?
        {
            let probability = f64::from(f.ppm) / 1e6;
            let pnl = markets::profit_and_loss(&cx.chain, cx.contracts, m, f.forecaster)
                .await
                .map_err(fail("reading the trades"))?;
            let scored = markets::scored(&cx.chain, cx.contracts, f.agent_id, m.id)
                .await
                .map_err(fail("reading feedback"))?;
            out.push(ForecastScore {
                market: m.id.to_string(),
                question: m.text.clone(),
                agent_id: f.agent_id.to_string(),
                forecaster: f.forecaster,
                probability,
                answer,
                brier: agora_markets::trader::brier(probability, answer == 0),
                pnl,
                counted: known.is_none_or(|k| f.block < k),
                scored,
                reasoning: f.reasoning,
            });
        }
    }
    Ok(out)
}

/// What publishing did with one score.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Published {
    /// The score.
    pub score: ForecastScore,
    /// `published`, or why not.
    pub result: String,
}

/// Publishes every counted, not yet published score as ERC-8004 feedback from this node's key:
/// `brier` (4 decimals; lower is better) and `pnl` (dollars, 6 decimals), tagged `market:<id>`.
/// The node's own forecasts are left out: ERC-8004 refuses feedback on one's own agent.
pub async fn publish_scores(config: &NodeConfig) -> Result<Vec<Published>> {
    let cx = context(config).await?;
    let board = leaderboard(config).await?;
    let me = cx.me();
    let mut out = Vec::new();
    for score in board {
        let result = if !score.counted {
            "not counted: published after the answer could be known".to_owned()
        } else if score.scored {
            "scored already".to_owned()
        } else if score.forecaster == me {
            "this node's own forecast (ERC-8004 refuses self-feedback)".to_owned()
        } else {
            let id: U256 = score.market.parse().unwrap_or_default();
            let agent: U256 = score.agent_id.parse().unwrap_or_default();
            let scores = [
                markets::Score { tag: "brier", value: (score.brier * 1e4).round() as i128, decimals: 4 },
                markets::Score { tag: "pnl", value: score.pnl, decimals: 6 },
            ];
            markets::give_scores(&cx.chain, cx.contracts, agent, id, &scores, score.reasoning)
                .await
                .map_err(fail("publishing the scores"))?;
            "published".to_owned()
        };
        out.push(Published { score, result });
    }
    Ok(out)
}
