//! The market contracts on chain: a question asked of the optimistic resolver with an LMSR market
//! on it, trades, resolution (assert, settle, dispute) and redemption.

use agora_chain::{ChainClient, ChainDeployment};
use agora_contracts::{
    SuiteContract,
    bindings::{ConditionalTokens, DevStablecoin, LmsrMarketMaker, OptimisticResolver},
};
use alloy::{
    primitives::{Address, B256, I256, U256, keccak256},
    providers::Provider,
    rpc::types::{Filter, TransactionReceipt},
    sol_types::SolEvent,
};

type Result<T> = std::result::Result<T, String>;

/// Where the market contracts of a suite are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarketContracts {
    /// `ConditionalTokens`.
    pub ctf: Address,
    /// `LmsrMarketMaker`.
    pub maker: Address,
    /// `OptimisticResolver`.
    pub resolver: Address,
    /// The collateral (dUSD).
    pub token: Address,
    /// The block the market contracts were deployed in.
    pub from_block: u64,
}

impl MarketContracts {
    /// The market contracts of a deployment, if it has them.
    pub fn of(deployment: &ChainDeployment) -> Option<Self> {
        Some(Self {
            ctf: deployment.address_of(SuiteContract::ConditionalTokens)?,
            maker: deployment.address_of(SuiteContract::LmsrMarketMaker)?,
            resolver: deployment.address_of(SuiteContract::OptimisticResolver)?,
            token: deployment.address_of(SuiteContract::DevStablecoin)?,
            from_block: deployment
                .contracts
                .get(SuiteContract::ConditionalTokens.name())
                .map_or(0, |c| c.block_number),
        })
    }
}

async fn send<P, D>(
    contract: SuiteContract,
    call: alloy::contract::CallBuilder<P, D>,
    what: &str,
) -> Result<TransactionReceipt>
where
    P: Provider,
    D: alloy::contract::CallDecoder,
{
    agora_contracts::send_to(contract, call, what).await
}

fn read<E: std::fmt::Display>(what: &'static str) -> impl FnOnce(E) -> String {
    move |e| format!("{what}: {e}")
}

/// The resolver's state number in words.
pub fn state_name(state: u8) -> &'static str {
    match state {
        1 => "open",
        2 => "answer asserted",
        3 => "answer disputed",
        4 => "resolved",
        _ => "unknown",
    }
}

/// A market as people read it.
#[derive(Debug, Clone)]
pub struct MarketView {
    /// The maker's market id.
    pub id: U256,
    /// The question's id at the resolver.
    pub question_id: B256,
    /// The condition on the conditional tokens.
    pub condition_id: B256,
    /// The question, as asked.
    pub text: String,
    /// Outcomes.
    pub outcomes: usize,
    /// Prices (wad), one per outcome.
    pub prices: Vec<U256>,
    /// The liquidity `b` (wad).
    pub b: U256,
    /// Outstanding shares per outcome (wad).
    pub q: Vec<I256>,
    /// The resolver's state, as [`state_name`] says it.
    pub state: u8,
    /// The asserted (or settled) outcome, when there is one.
    pub outcome: Option<u16>,
    /// When the assertion's liveness ends.
    pub liveness_end: u64,
}

/// Asks `text` with `outcomes` outcomes at the resolver (assertions bonded with `bond`, open
/// to dispute for `liveness` seconds) and opens an LMSR market with liquidity `b` (wad) on it,
/// paying its subsidy `b·ln n`. Returns the market id.
pub async fn create(
    chain: &ChainClient,
    c: MarketContracts,
    text: &str,
    outcomes: usize,
    b: U256,
    bond: u128,
    liveness: u64,
) -> Result<U256> {
    let me = chain.signer_address().ok_or("creating a market needs a key")?;
    let now = chain.latest_block_timestamp().await.map_err(read("reading the clock"))?;
    let question_id = keccak256([text.as_bytes(), me.as_slice(), &now.to_be_bytes()].concat());
    let resolver = OptimisticResolver::new(c.resolver, chain.provider());
    let asked = send(
        SuiteContract::OptimisticResolver,
        resolver.ask(question_id, U256::from(outcomes), text.to_owned(), U256::from(bond), liveness),
        "asking the question",
    )
    .await?;
    let condition = asked
        .logs()
        .iter()
        .find_map(|l| OptimisticResolver::QuestionAsked::decode_log(&l.inner).ok())
        .map(|e| e.conditionId)
        .ok_or("ask emitted no QuestionAsked")?;
    let maker = LmsrMarketMaker::new(c.maker, chain.provider());
    let funding =
        maker.fundingFor(b, U256::from(outcomes)).call().await.map_err(read("reading the subsidy"))?;
    send(
        SuiteContract::DevStablecoin,
        DevStablecoin::new(c.token, chain.provider()).approve(c.maker, funding),
        "approving the subsidy",
    )
    .await?;
    send(SuiteContract::LmsrMarketMaker, maker.createMarket(condition, b, funding), "creating the market")
        .await?;
    let id = maker.marketOfCondition(condition).call().await.map_err(read("reading the market"))?;
    Ok(id - U256::from(1))
}

/// The markets the maker has, with their questions.
pub async fn list(chain: &ChainClient, c: MarketContracts) -> Result<Vec<MarketView>> {
    let maker = LmsrMarketMaker::new(c.maker, chain.provider());
    let count = maker.marketCount().call().await.map_err(read("reading the markets"))?;
    let filter = Filter::new()
        .address(c.resolver)
        .event_signature(OptimisticResolver::QuestionAsked::SIGNATURE_HASH)
        .from_block(c.from_block);
    let asked: Vec<OptimisticResolver::QuestionAsked> = chain
        .provider()
        .get_logs(&filter)
        .await
        .map_err(read("reading the questions"))?
        .iter()
        .filter_map(|l| OptimisticResolver::QuestionAsked::decode_log(&l.inner).ok().map(|e| e.data))
        .collect();
    let mut out = Vec::new();
    let mut id = U256::ZERO;
    while id < count {
        out.push(view(chain, c, id, &asked).await?);
        id += U256::from(1);
    }
    Ok(out)
}

/// One market.
pub async fn show(chain: &ChainClient, c: MarketContracts, id: U256) -> Result<MarketView> {
    list(chain, c).await?.into_iter().find(|m| m.id == id).ok_or_else(|| format!("no market {id}"))
}

async fn view(
    chain: &ChainClient,
    c: MarketContracts,
    id: U256,
    asked: &[OptimisticResolver::QuestionAsked],
) -> Result<MarketView> {
    let maker = LmsrMarketMaker::new(c.maker, chain.provider());
    let m = maker.market(id).call().await.map_err(read("reading the market"))?;
    let prices = maker.prices(id).call().await.map_err(read("reading the prices"))?;
    let question = asked.iter().find(|q| q.conditionId == m.conditionId);
    let (question_id, text) =
        question.map_or((B256::ZERO, String::new()), |q| (q.questionId, q.text.clone()));
    let q = OptimisticResolver::new(c.resolver, chain.provider())
        .question(question_id)
        .call()
        .await
        .map_err(read("reading the question"))?;
    Ok(MarketView {
        id,
        question_id,
        condition_id: m.conditionId,
        text,
        outcomes: prices.len(),
        prices,
        b: m.b,
        q: m.q,
        state: q.state,
        outcome: (q.state >= 2).then_some(q.outcome),
        liveness_end: q.livenessEnd,
    })
}

/// Buys `shares` (wad, whole token units) of `outcome`, paying at most `max_cost` token units.
pub async fn buy(
    chain: &ChainClient,
    c: MarketContracts,
    id: U256,
    outcome: usize,
    shares: U256,
    max_cost: u128,
) -> Result<u64> {
    send(
        SuiteContract::DevStablecoin,
        DevStablecoin::new(c.token, chain.provider()).approve(c.maker, U256::from(max_cost)),
        "approving the cost",
    )
    .await?;
    let r = send(
        SuiteContract::LmsrMarketMaker,
        LmsrMarketMaker::new(c.maker, chain.provider()).buy(
            id,
            U256::from(outcome),
            shares,
            U256::from(max_cost),
        ),
        "buying",
    )
    .await?;
    Ok(r.gas_used)
}

/// Sells `shares` (wad) of `outcome` back to the maker for at least `min_refund` token units.
pub async fn sell(
    chain: &ChainClient,
    c: MarketContracts,
    id: U256,
    outcome: usize,
    shares: U256,
    min_refund: u128,
) -> Result<u64> {
    send(
        SuiteContract::ConditionalTokens,
        ConditionalTokens::new(c.ctf, chain.provider()).setApprovalForAll(c.maker, true),
        "letting the maker take the shares",
    )
    .await?;
    let r = send(
        SuiteContract::LmsrMarketMaker,
        LmsrMarketMaker::new(c.maker, chain.provider()).sell(
            id,
            U256::from(outcome),
            shares,
            U256::from(min_refund),
        ),
        "selling",
    )
    .await?;
    Ok(r.gas_used)
}

/// What a quote says: the cost in wad and in token units (negative: a refund).
pub async fn quote(
    chain: &ChainClient,
    c: MarketContracts,
    id: U256,
    deltas: Vec<I256>,
) -> Result<(I256, I256)> {
    let q = LmsrMarketMaker::new(c.maker, chain.provider())
        .quote(id, deltas)
        .call()
        .await
        .map_err(read("quoting"))?;
    Ok((q.costWad, q.amount))
}

/// Asserts the answer to a market's question, posting the resolver's bond.
pub async fn assert_outcome(
    chain: &ChainClient,
    c: MarketContracts,
    question_id: B256,
    outcome: usize,
) -> Result<()> {
    let q = OptimisticResolver::new(c.resolver, chain.provider())
        .question(question_id)
        .call()
        .await
        .map_err(read("reading the question"))?;
    send(
        SuiteContract::DevStablecoin,
        DevStablecoin::new(c.token, chain.provider()).approve(c.resolver, q.bond),
        "approving the bond",
    )
    .await?;
    send(
        SuiteContract::OptimisticResolver,
        OptimisticResolver::new(c.resolver, chain.provider()).assertOutcome(question_id, U256::from(outcome)),
        "asserting the outcome",
    )
    .await?;
    Ok(())
}

/// Settles an undisputed assertion after its liveness (anyone may).
pub async fn settle(chain: &ChainClient, c: MarketContracts, question_id: B256) -> Result<()> {
    send(
        SuiteContract::OptimisticResolver,
        OptimisticResolver::new(c.resolver, chain.provider()).settle(question_id),
        "settling the question",
    )
    .await?;
    Ok(())
}

/// Disputes an assertion during its liveness, posting the bond and the council's fee; returns
/// the council's dispute.
pub async fn dispute(chain: &ChainClient, c: MarketContracts, question_id: B256) -> Result<U256> {
    let resolver = OptimisticResolver::new(c.resolver, chain.provider());
    let q = resolver.question(question_id).call().await.map_err(read("reading the question"))?;
    let cost = resolver.arbitrationCost().call().await.map_err(read("reading the fee"))?;
    send(
        SuiteContract::DevStablecoin,
        DevStablecoin::new(c.token, chain.provider()).approve(c.resolver, q.bond + cost),
        "approving the bond and the fee",
    )
    .await?;
    let r = send(SuiteContract::OptimisticResolver, resolver.dispute(question_id), "disputing the assertion")
        .await?;
    r.logs()
        .iter()
        .find_map(|l| OptimisticResolver::AssertionDisputed::decode_log(&l.inner).ok())
        .map(|e| e.disputeId)
        .ok_or_else(|| "dispute emitted no AssertionDisputed".to_owned())
}

/// Redeems every position of a resolved market's condition this key holds; returns the payout.
pub async fn redeem(
    chain: &ChainClient,
    c: MarketContracts,
    condition: B256,
    outcomes: usize,
) -> Result<U256> {
    let sets: Vec<U256> = (0..outcomes).map(|i| U256::from(1) << i).collect();
    let r = send(
        SuiteContract::ConditionalTokens,
        ConditionalTokens::new(c.ctf, chain.provider()).redeemPositions(c.token, B256::ZERO, condition, sets),
        "redeeming",
    )
    .await?;
    Ok(r.logs()
        .iter()
        .find_map(|l| ConditionalTokens::PayoutRedemption::decode_log(&l.inner).ok())
        .map_or(U256::ZERO, |e| e.payout))
}

/// The shares of each outcome `who` holds in a market (token units).
pub async fn holdings(
    chain: &ChainClient,
    c: MarketContracts,
    id: U256,
    outcomes: usize,
    who: Address,
) -> Result<Vec<U256>> {
    let maker = LmsrMarketMaker::new(c.maker, chain.provider());
    let ctf = ConditionalTokens::new(c.ctf, chain.provider());
    let mut out = Vec::new();
    for i in 0..outcomes {
        let position =
            maker.positionIdOf(id, U256::from(i)).call().await.map_err(read("reading the position"))?;
        out.push(ctf.balanceOf(who, position).call().await.map_err(read("reading the balance"))?);
    }
    Ok(out)
}
