//! The market contracts on chain: a question asked of the optimistic resolver with an LMSR market
//! on it, trades, resolution (assert, settle, dispute) and redemption.

use agora_chain::{ChainClient, ChainDeployment};
use agora_contracts::{
    SuiteContract,
    bindings::{
        ChainFacts, ConditionalTokens, DevStablecoin, ForecastBoard, LmsrMarketMaker, OptimisticResolver,
        ReputationRegistry,
    },
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
    /// `ChainFacts`: questions the chain answers by itself.
    pub facts: Address,
    /// `ForecastBoard`: forecasts published by ERC-8004 agents.
    pub board: Address,
    /// The ERC-8004 reputation registry scores are published to.
    pub reputation: Address,
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
            facts: deployment.address_of(SuiteContract::ChainFacts)?,
            board: deployment.address_of(SuiteContract::ForecastBoard)?,
            reputation: deployment.address_of(SuiteContract::ReputationRegistry)?,
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

/// A fresh question id: the text, the asker and its next transaction's nonce (no two asks by
/// one key share it).
async fn question_id(chain: &ChainClient, asker: Address, text: &str) -> Result<B256> {
    let nonce = chain.provider().get_transaction_count(asker).await.map_err(read("reading the nonce"))?;
    Ok(keccak256([text.as_bytes(), asker.as_slice(), &nonce.to_be_bytes()].concat()))
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
    /// Whether the chain answers the question by itself (`ChainFacts`), not the resolver.
    pub fact: bool,
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
    let question_id = question_id(chain, me, text).await?;
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
    open(chain, c, condition, outcomes, b).await
}

/// The markets the maker has, with their questions.
pub async fn list(chain: &ChainClient, c: MarketContracts) -> Result<Vec<MarketView>> {
    let count = LmsrMarketMaker::new(c.maker, chain.provider())
        .marketCount()
        .call()
        .await
        .map_err(read("reading the markets"))?;
    let (asked, facts) = questions(chain, c, None).await?;
    let mut out = Vec::new();
    let mut id = U256::ZERO;
    while id < count {
        out.push(view(chain, c, id, &asked, &facts).await?);
        id += U256::from(1);
    }
    Ok(out)
}

/// One market (its question's events read alone, by its condition).
pub async fn show(chain: &ChainClient, c: MarketContracts, id: U256) -> Result<MarketView> {
    let maker = LmsrMarketMaker::new(c.maker, chain.provider());
    if id >= maker.marketCount().call().await.map_err(read("reading the markets"))? {
        return Err(format!("no market {id}"));
    }
    let condition = maker.market(id).call().await.map_err(read("reading the market"))?.conditionId;
    let (asked, facts) = questions(chain, c, Some(condition)).await?;
    view(chain, c, id, &asked, &facts).await
}

/// The questions asked at the resolver and of the chain (all, or only `condition`'s).
async fn questions(
    chain: &ChainClient,
    c: MarketContracts,
    condition: Option<B256>,
) -> Result<(Vec<OptimisticResolver::QuestionAsked>, Vec<ChainFacts::FactAsked>)> {
    let of = |address: Address, signature: B256| {
        let filter = Filter::new().address(address).event_signature(signature).from_block(c.from_block);
        match condition {
            Some(condition) => filter.topic2(condition),
            None => filter,
        }
    };
    let asked = chain
        .provider()
        .get_logs(&of(c.resolver, OptimisticResolver::QuestionAsked::SIGNATURE_HASH))
        .await
        .map_err(read("reading the questions"))?
        .iter()
        .filter_map(|l| OptimisticResolver::QuestionAsked::decode_log(&l.inner).ok().map(|e| e.data))
        .collect();
    let facts = chain
        .provider()
        .get_logs(&of(c.facts, ChainFacts::FactAsked::SIGNATURE_HASH))
        .await
        .map_err(read("reading the chain's questions"))?
        .iter()
        .filter_map(|l| ChainFacts::FactAsked::decode_log(&l.inner).ok().map(|e| e.data))
        .collect();
    Ok((asked, facts))
}

async fn view(
    chain: &ChainClient,
    c: MarketContracts,
    id: U256,
    asked: &[OptimisticResolver::QuestionAsked],
    facts: &[ChainFacts::FactAsked],
) -> Result<MarketView> {
    let maker = LmsrMarketMaker::new(c.maker, chain.provider());
    let m = maker.market(id).call().await.map_err(read("reading the market"))?;
    let prices = maker.prices(id).call().await.map_err(read("reading the prices"))?;
    if let Some(f) = facts.iter().find(|f| f.conditionId == m.conditionId) {
        // A question the chain answers: open until settled, then as the payouts say.
        let ctf = ConditionalTokens::new(c.ctf, chain.provider());
        let resolved =
            ctf.payoutDenominator(m.conditionId).call().await.map_err(read("reading the payouts"))?
                > U256::ZERO;
        let outcome = if resolved {
            let yes = ctf
                .payoutNumerators(m.conditionId, U256::ZERO)
                .call()
                .await
                .map_err(read("reading the payouts"))?;
            Some(if yes > U256::ZERO { 0 } else { 1 })
        } else {
            None
        };
        return Ok(MarketView {
            id,
            question_id: f.questionId,
            condition_id: m.conditionId,
            text: f.text.clone(),
            outcomes: prices.len(),
            prices,
            b: m.b,
            q: m.q,
            state: if resolved { 4 } else { 1 },
            outcome,
            liveness_end: 0,
            fact: true,
        });
    }
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
        fact: false,
    })
}

/// Asks the chain's own question, "will `account` hold at least `threshold` token units of the
/// collateral from block `at_block` on?", and opens a market with liquidity `b` (wad) on it.
pub async fn create_fact(
    chain: &ChainClient,
    c: MarketContracts,
    account: Address,
    threshold: u128,
    at_block: u64,
    b: U256,
) -> Result<U256> {
    let text = format!(
        "Will {account} hold at least {}.{:06} dUSD at block {at_block}?",
        threshold / 1_000_000,
        threshold % 1_000_000
    );
    let facts = ChainFacts::new(c.facts, chain.provider());
    let asked = send(
        SuiteContract::ChainFacts,
        facts.ask(c.token, account, U256::from(threshold), at_block, text),
        "asking the chain's question",
    )
    .await?;
    let condition = asked
        .logs()
        .iter()
        .find_map(|l| ChainFacts::FactAsked::decode_log(&l.inner).ok())
        .map(|e| e.conditionId)
        .ok_or("ask emitted no FactAsked")?;
    open(chain, c, condition, 2, b).await
}

/// Opens an LMSR market with liquidity `b` (wad) on a prepared condition of `outcomes`
/// outcomes, paying its subsidy; returns the market id.
async fn open(
    chain: &ChainClient,
    c: MarketContracts,
    condition: B256,
    outcomes: usize,
    b: U256,
) -> Result<U256> {
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
    // `marketOfCondition` is the id plus one (0: none).
    let id = maker.marketOfCondition(condition).call().await.map_err(read("reading the market"))?;
    Ok(id - U256::from(1))
}

/// Answers a chain question from the chain's state (anyone, once its block has come).
pub async fn settle_fact(chain: &ChainClient, c: MarketContracts, question_id: B256) -> Result<()> {
    send(
        SuiteContract::ChainFacts,
        ChainFacts::new(c.facts, chain.provider()).settle(question_id),
        "settling the chain's question",
    )
    .await?;
    Ok(())
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

/// A decision: a proposal whose action runs only if the markets expect the metric to be better
/// with it than without (MetaDAO's rule over capped TWAPs).
#[derive(Debug, Clone)]
pub struct Proposal {
    /// The metric question, asked of the resolver (outcome 0 = yes, the metric is met).
    pub metric: String,
    /// The action's target and calldata (run on pass).
    pub target: Address,
    /// The calldata.
    pub data: Vec<u8>,
    /// Seconds of trading.
    pub trading: u64,
    /// Seconds before the TWAPs start recording.
    pub twap_delay: u64,
    /// The largest move of one TWAP observation (wad).
    pub max_step: U256,
    /// θ in basis points: pass iff TWAP(pass) > TWAP(fail)·(1 + θ).
    pub threshold_bps: u16,
    /// Each book's liquidity (wad).
    pub b: U256,
    /// The metric question's bond and liveness at the resolver.
    pub bond: u128,
    /// Its liveness.
    pub liveness: u64,
}

/// A decision as the contract sees it.
#[derive(Debug, Clone)]
pub struct DecisionView {
    /// Its id.
    pub id: U256,
    /// 1 trading, 2 passed, 3 failed.
    pub status: u8,
    /// The end of trading.
    pub end: u64,
    /// The YES prices of the pass and fail books (wad).
    pub prices: [U256; 2],
    /// The TWAPs of the pass and fail books (wad).
    pub twaps: [U256; 2],
    /// θ, bps.
    pub threshold_bps: U256,
    /// The decision condition (outcome 0 pass, 1 fail).
    pub decision_condition: B256,
    /// The chain's time now (its latest block's), which the trading period runs on.
    pub now: u64,
}

/// The decision contract's address in a deployment.
pub fn decision_market(deployment: &ChainDeployment) -> Option<Address> {
    deployment.address_of(SuiteContract::DecisionMarket)
}

/// Proposes: asks the metric question and opens both books (approving their funding).
pub async fn propose(
    chain: &ChainClient,
    c: MarketContracts,
    decision: Address,
    p: &Proposal,
) -> Result<U256> {
    use agora_contracts::bindings::{
        DecisionMarket, markets::decision_market::DecisionMarket::ProposalParams,
    };
    let me = chain.signer_address().ok_or("proposing needs a key")?;
    let question_id = question_id(chain, me, &p.metric).await?;
    let resolver = OptimisticResolver::new(c.resolver, chain.provider());
    let asked = send(
        SuiteContract::OptimisticResolver,
        resolver.ask(question_id, U256::from(2), p.metric.clone(), U256::from(p.bond), p.liveness),
        "asking the metric question",
    )
    .await?;
    let metric = asked
        .logs()
        .iter()
        .find_map(|l| OptimisticResolver::QuestionAsked::decode_log(&l.inner).ok())
        .map(|e| e.conditionId)
        .ok_or("ask emitted no QuestionAsked")?;
    let market = DecisionMarket::new(decision, chain.provider());
    let funding = market.fundingFor(p.b).call().await.map_err(read("reading the funding"))?;
    send(
        SuiteContract::DevStablecoin,
        DevStablecoin::new(c.token, chain.provider()).approve(decision, funding),
        "approving the funding",
    )
    .await?;
    let params = ProposalParams {
        metricConditionId: metric,
        target: p.target,
        data: p.data.clone().into(),
        tradingPeriod: p.trading,
        twapDelay: p.twap_delay,
        maxStepWad: p.max_step,
        thresholdBps: U256::from(p.threshold_bps),
        b: p.b,
        maxFunding: funding,
    };
    send(SuiteContract::DecisionMarket, market.propose(params), "proposing").await?;
    let count = market.proposalCount().call().await.map_err(read("reading the proposals"))?;
    Ok(count - U256::from(1))
}

/// Reads a decision.
pub async fn decision(chain: &ChainClient, decision: Address, id: U256) -> Result<DecisionView> {
    use agora_contracts::bindings::DecisionMarket;
    let market = DecisionMarket::new(decision, chain.provider());
    let p = market.proposal(id).call().await.map_err(read("reading the proposal"))?;
    let mut prices = [U256::ZERO; 2];
    let mut twaps = [U256::ZERO; 2];
    for branch in 0..2 {
        let b = U256::from(branch);
        prices[branch] = market
            .prices(id, b)
            .call()
            .await
            .map_err(read("reading the prices"))?
            .first()
            .copied()
            .unwrap_or_default();
        twaps[branch] = market.twap(id, b).call().await.map_err(read("reading the TWAP"))?;
    }
    let now = chain.latest_block_timestamp().await.map_err(read("reading the chain's time"))?;
    Ok(DecisionView {
        now,
        id,
        status: p.status,
        end: p.end,
        prices,
        twaps,
        threshold_bps: p.thresholdBps,
        decision_condition: p.decisionConditionId,
    })
}

/// Trades YES (`shares` > 0) or NO (< 0) of the metric in one branch's book (0 pass, 1 fail),
/// splitting `collateral` dollars (token units) into branch collateral first.
pub async fn decision_trade(
    chain: &ChainClient,
    c: MarketContracts,
    decision: Address,
    id: U256,
    branch: usize,
    shares: I256,
    collateral: u128,
) -> Result<i128> {
    use agora_contracts::bindings::DecisionMarket;
    let view = self::decision(chain, decision, id).await?;
    let ctf = ConditionalTokens::new(c.ctf, chain.provider());
    if collateral > 0 {
        send(
            SuiteContract::DevStablecoin,
            DevStablecoin::new(c.token, chain.provider()).approve(c.ctf, U256::from(collateral)),
            "approving the split",
        )
        .await?;
        send(
            SuiteContract::ConditionalTokens,
            ctf.splitPosition(
                c.token,
                B256::ZERO,
                view.decision_condition,
                vec![U256::from(1), U256::from(2)],
                U256::from(collateral),
            ),
            "splitting into pass and fail dollars",
        )
        .await?;
    }
    send(
        SuiteContract::ConditionalTokens,
        ctf.setApprovalForAll(decision, true),
        "letting the books take branch dollars",
    )
    .await?;
    let (yes, no) = if shares >= I256::ZERO { (shares, I256::ZERO) } else { (I256::ZERO, -shares) };
    let limit = I256::try_from(collateral).unwrap_or(I256::MAX);
    let market = DecisionMarket::new(decision, chain.provider());
    let r =
        send(SuiteContract::DecisionMarket, market.trade(id, U256::from(branch), yes, no, limit), "trading")
            .await?;
    Ok(r.logs()
        .iter()
        .find_map(|l| DecisionMarket::Traded::decode_log(&l.inner).ok())
        .map_or(0, |e| i128::try_from(e.amount).unwrap_or(0)))
}

/// Records an observation of both books (anyone may).
pub async fn poke(chain: &ChainClient, decision: Address, id: U256) -> Result<()> {
    use agora_contracts::bindings::DecisionMarket;
    send(
        SuiteContract::DecisionMarket,
        DecisionMarket::new(decision, chain.provider()).poke(id),
        "observing",
    )
    .await?;
    Ok(())
}

/// Decides after trading: `true` when the proposal passed (its action ran).
pub async fn finalize(chain: &ChainClient, decision: Address, id: U256) -> Result<bool> {
    use agora_contracts::bindings::DecisionMarket;
    send(
        SuiteContract::DecisionMarket,
        DecisionMarket::new(decision, chain.provider()).finalize(id),
        "finalizing",
    )
    .await?;
    Ok(self::decision(chain, decision, id).await?.status == 2)
}

/// A forecast an agent published on the board.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedForecast {
    /// The agent (ERC-8004 id).
    pub agent_id: U256,
    /// Who published it (the agent's owner or operator).
    pub forecaster: Address,
    /// The probability of outcome 0, in parts per million.
    pub ppm: u32,
    /// The block it was published in.
    pub block: u64,
    /// The hash of the forecaster's own record of why (the model's answers with receipts).
    pub reasoning: B256,
}

/// Publishes agent `agent`'s forecast of market `id` (the probability of outcome 0 in parts per
/// million), with the hash of the record of why; once per agent and market.
pub async fn publish_forecast(
    chain: &ChainClient,
    c: MarketContracts,
    id: U256,
    agent: U256,
    ppm: u32,
    reasoning: B256,
) -> Result<()> {
    send(
        SuiteContract::ForecastBoard,
        ForecastBoard::new(c.board, chain.provider()).publish(id, agent, ppm, reasoning),
        "publishing the forecast",
    )
    .await?;
    Ok(())
}

/// Every forecast published on market `id`, in publication order.
pub async fn forecasts(chain: &ChainClient, c: MarketContracts, id: U256) -> Result<Vec<PublishedForecast>> {
    let board = ForecastBoard::new(c.board, chain.provider());
    let agents = board.forecastersOf(id).call().await.map_err(read("reading the forecasters"))?;
    let mut out = Vec::new();
    for agent in agents {
        let f = board.forecastOf(id, agent).call().await.map_err(read("reading a forecast"))?;
        out.push(PublishedForecast {
            agent_id: agent,
            forecaster: f.forecaster,
            ppm: f.probabilityPpm,
            block: f.blockNumber,
            reasoning: f.reasoning,
        });
    }
    Ok(out)
}

/// The first block in which a market's answer could be known: its first assertion at the
/// resolver, or a chain question's own block. A forecast counts only if it came before.
pub async fn answer_known_from(
    chain: &ChainClient,
    c: MarketContracts,
    m: &MarketView,
) -> Result<Option<u64>> {
    if m.fact {
        let f = ChainFacts::new(c.facts, chain.provider())
            .fact(m.question_id)
            .call()
            .await
            .map_err(read("reading the chain's question"))?;
        return Ok(Some(f.atBlock));
    }
    let filter = Filter::new()
        .address(c.resolver)
        .event_signature(OptimisticResolver::OutcomeAsserted::SIGNATURE_HASH)
        .topic1(m.question_id)
        .from_block(c.from_block);
    let logs = chain.provider().get_logs(&filter).await.map_err(read("reading the assertions"))?;
    Ok(logs.iter().filter_map(|l| l.block_number).min())
}

/// What `who` made or lost on a resolved market, in token units: what its positions pay at the
/// reported payouts minus what its trades cost (refunds counted back).
pub async fn profit_and_loss(
    chain: &ChainClient,
    c: MarketContracts,
    m: &MarketView,
    who: Address,
) -> Result<i128> {
    let filter = Filter::new()
        .address(c.maker)
        .event_signature(LmsrMarketMaker::Traded::SIGNATURE_HASH)
        .topic1(m.id)
        .topic2(who.into_word())
        .from_block(c.from_block);
    let logs = chain.provider().get_logs(&filter).await.map_err(read("reading the trades"))?;
    let mut net = vec![I256::ZERO; m.outcomes];
    let mut spent = 0i128;
    for t in logs.iter().filter_map(|l| LmsrMarketMaker::Traded::decode_log(&l.inner).ok()) {
        for (n, d) in net.iter_mut().zip(&t.deltas) {
            *n += *d;
        }
        spent += i128::try_from(t.amount).unwrap_or(0);
    }
    let ctf = ConditionalTokens::new(c.ctf, chain.provider());
    let den = ctf.payoutDenominator(m.condition_id).call().await.map_err(read("reading the payouts"))?;
    if den == U256::ZERO {
        return Err(format!("market {} has not resolved", m.id));
    }
    let mut paid = 0i128;
    for (i, n) in net.iter().enumerate() {
        let num = ctf
            .payoutNumerators(m.condition_id, U256::from(i))
            .call()
            .await
            .map_err(read("reading the payouts"))?;
        // Shares are wads of whole dollars; the token has 6 decimals.
        let units = i128::try_from(*n).unwrap_or(0) / 1_000_000_000_000;
        let (num, den) = (i128::try_from(num).unwrap_or(0), i128::try_from(den).unwrap_or(1));
        paid += units * num / den;
    }
    Ok(paid - spent)
}

/// One score given as ERC-8004 feedback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Score {
    /// `brier` (lower is better; 0.25 is always-50%) or `pnl` (dollars).
    pub tag: &'static str,
    /// The value, fixed point with `decimals`.
    pub value: i128,
    /// Its decimals.
    pub decimals: u8,
}

/// The tag2 of a market's scores: `market:<id>`.
pub fn score_tag(id: U256) -> String {
    format!("market:{id}")
}

/// Whether this key already scored `agent` on market `id` (feedback tagged `brier`).
pub async fn scored(chain: &ChainClient, c: MarketContracts, agent: U256, id: U256) -> Result<bool> {
    let me = chain.signer_address().ok_or("reading feedback needs a key")?;
    let r = ReputationRegistry::new(c.reputation, chain.provider())
        .readAllFeedback(agent, vec![me], "brier".into(), score_tag(id), false)
        .call()
        .await
        .map_err(read("reading the feedback given"))?;
    Ok(!r.clients.is_empty())
}

/// Gives `agent` its scores on market `id` as ERC-8004 feedback (one entry per score, tagged
/// with the score's name and `market:<id>`; the board is the endpoint and the forecast's
/// reasoning hash the feedback hash).
pub async fn give_scores(
    chain: &ChainClient,
    c: MarketContracts,
    agent: U256,
    id: U256,
    scores: &[Score],
    reasoning: B256,
) -> Result<()> {
    let registry = ReputationRegistry::new(c.reputation, chain.provider());
    for s in scores {
        send(
            SuiteContract::ReputationRegistry,
            registry.giveFeedback(
                agent,
                s.value,
                s.decimals,
                s.tag.into(),
                score_tag(id),
                format!("{}", c.board),
                String::new(),
                reasoning,
            ),
            "giving the score as feedback",
        )
        .await?;
    }
    Ok(())
}

/// What one keeper pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeeperPass {
    /// Proposals whose books were observed.
    pub observed: Vec<U256>,
    /// Proposals finalized, and whether each passed.
    pub finalized: Vec<(U256, bool)>,
}

/// One keeper pass over every decision: observes the books of each proposal inside its TWAP
/// window (so the TWAP follows the price however rarely traders come) and finalizes each whose
/// trading has ended (so a passing action runs without anyone having to remember it).
pub async fn keep(chain: &ChainClient, decision: Address) -> Result<KeeperPass> {
    use agora_contracts::bindings::DecisionMarket;
    let market = DecisionMarket::new(decision, chain.provider());
    let count = market.proposalCount().call().await.map_err(read("reading the proposals"))?;
    let now = chain.latest_block_timestamp().await.map_err(read("reading the chain's time"))?;
    let mut pass = KeeperPass::default();
    let mut id = U256::ZERO;
    while id < count {
        let p = market.proposal(id).call().await.map_err(read("reading the proposal"))?;
        // Status 1: trading.
        if p.status == 1 {
            if now >= p.end {
                let passed = finalize(chain, decision, id).await?;
                pass.finalized.push((id, passed));
            } else if now > p.twapStart {
                poke(chain, decision, id).await?;
                pass.observed.push(id);
            }
        }
        id += U256::from(1);
    }
    Ok(pass)
}

/// A market's prices at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct PricePoint {
    /// The block.
    pub block: u64,
    /// Its time (unix seconds).
    pub time: u64,
    /// The prices after it, one per outcome.
    pub prices: Vec<f64>,
}

/// A market's prices from its opening through every trade (the last 500), rebuilt from the
/// maker's `MarketCreated` and `Traded` events with the LMSR reference.
pub async fn price_history(chain: &ChainClient, c: MarketContracts, id: U256) -> Result<Vec<PricePoint>> {
    let m = LmsrMarketMaker::new(c.maker, chain.provider())
        .market(id)
        .call()
        .await
        .map_err(read("reading the market"))?;
    let n = m.q.len();
    let b = u128::try_from(m.b).unwrap_or(0) as f64 / 1e18;
    let lmsr = crate::lmsr::Lmsr::new(b, n).map_err(|e| e.to_string())?;
    let logs = |signature: B256| {
        Filter::new().address(c.maker).event_signature(signature).topic1(id).from_block(c.from_block)
    };
    let opened = chain
        .provider()
        .get_logs(&logs(LmsrMarketMaker::MarketCreated::SIGNATURE_HASH))
        .await
        .map_err(read("reading the market's opening"))?;
    let traded = chain
        .provider()
        .get_logs(&logs(LmsrMarketMaker::Traded::SIGNATURE_HASH))
        .await
        .map_err(read("reading the trades"))?;
    let mut q = vec![0f64; n];
    let mut events: Vec<(u64, Option<Vec<I256>>)> =
        opened.iter().filter_map(|l| Some((l.block_number?, None))).collect();
    for l in &traded {
        if let (Some(block), Ok(t)) = (l.block_number, LmsrMarketMaker::Traded::decode_log(&l.inner)) {
            events.push((block, Some(t.data.deltas)));
        }
    }
    let skip = events.len().saturating_sub(501);
    let mut out: Vec<PricePoint> = Vec::new();
    for (i, (block, deltas)) in events.into_iter().enumerate() {
        if let Some(deltas) = deltas {
            for (x, d) in q.iter_mut().zip(&deltas) {
                *x += i128::try_from(*d).unwrap_or(0) as f64 / 1e18;
            }
        }
        if i < skip {
            continue;
        }
        // Trades in one block share its time: read it once.
        let time = match out.last() {
            Some(p) if p.block == block => p.time,
            _ => chain
                .provider()
                .get_block_by_number(block.into())
                .await
                .map_err(read("reading a block"))?
                .map_or(0, |b| b.header.timestamp),
        };
        let prices = lmsr.prices(&q).map_err(|e| e.to_string())?;
        out.push(PricePoint { block, time, prices });
    }
    Ok(out)
}

/// Every proposal of the decision contract, read.
pub async fn decisions(chain: &ChainClient, decision: Address) -> Result<Vec<DecisionView>> {
    use agora_contracts::bindings::DecisionMarket;
    let count = DecisionMarket::new(decision, chain.provider())
        .proposalCount()
        .call()
        .await
        .map_err(read("reading the proposals"))?;
    let mut out = Vec::new();
    let mut id = U256::ZERO;
    while id < count {
        out.push(self::decision(chain, decision, id).await?);
        id += U256::from(1);
    }
    Ok(out)
}
