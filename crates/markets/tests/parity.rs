//! L5 on the devnet: the Solidity LMSR maker (`LmsrMarketMaker`, its own fixed-point `lnWad` and
//! `expWad`) against this crate's reference, within 1e-9 relative; real trades move the
//! contract's prices as the reference says, and a trade past its limit is refused by name.
#![allow(clippy::unwrap_used)]

use agora_contracts::{
    SuiteContract,
    bindings::{ConditionalTokens, DevStablecoin, LmsrMarketMaker},
};
use agora_markets::lmsr::Lmsr;
use agora_testkit::TestNet;
use alloy::primitives::{B256, I256, U256};

const WAD: f64 = 1e18;

fn wad(x: f64) -> I256 {
    I256::try_from((x * 1e6).round() as i128).unwrap() * I256::try_from(1_000_000_000_000i128).unwrap()
}

fn to_f64(x: I256) -> f64 {
    i128::try_from(x).unwrap() as f64 / WAD
}

#[tokio::test(flavor = "multi_thread")]
async fn the_solidity_maker_matches_the_reference_within_1e_9() {
    let net = TestNet::start().await;
    let d = net.deployment();
    let (ctf, maker, token) = (
        d.address_of(SuiteContract::ConditionalTokens).unwrap(),
        d.address_of(SuiteContract::LmsrMarketMaker).unwrap(),
        d.address_of(SuiteContract::DevStablecoin).unwrap(),
    );
    let me = net.client_for(1).await;
    let who = me.signer_address().unwrap();
    let ctf_c = ConditionalTokens::new(ctf, me.provider());
    let maker_c = LmsrMarketMaker::new(maker, me.provider());
    let usd = DevStablecoin::new(token, me.provider());
    for n in [2usize, 3, 5] {
        let question = B256::with_last_byte(n as u8);
        ctf_c
            .prepareCondition(who, question, U256::from(n))
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        let condition = ctf_c.getConditionId(who, question, U256::from(n)).call().await.unwrap();
        let b = 100.0;
        usd.approve(maker, U256::from(1_000_000_000u64)).send().await.unwrap().get_receipt().await.unwrap();
        let r = maker_c
            .createMarket(condition, U256::from(100u128 * 10u128.pow(18)), U256::from(1_000_000_000u64))
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        assert!(r.status());
        // `marketOfCondition` is the id plus one (0: none).
        let id = maker_c.marketOfCondition(condition).call().await.unwrap() - U256::from(1);
        let reference = Lmsr::new(b, n).unwrap();
        // The cost function at assorted states.
        let states: Vec<Vec<f64>> = vec![
            vec![0.0; n],
            (0..n).map(|i| 50.0 * i as f64).collect(),
            (0..n).map(|i| if i == 0 { 300.0 } else { -20.0 }).collect(),
            (0..n).map(|i| 1234.5 - 17.25 * i as f64).collect(),
        ];
        for q in &states {
            let sol = to_f64(maker_c.cost(id, q.iter().map(|&x| wad(x)).collect()).call().await.unwrap());
            let rust = reference.cost(q).unwrap();
            assert!(((sol - rust) / rust).abs() < 1e-9, "n {n} q {q:?}: {sol} vs {rust}");
        }
        // Quotes and real trades: buy 50 of outcome 0, then 30 of the last.
        let mut q = vec![0.0; n];
        for (outcome, shares) in [(0, 50.0), (n - 1, 30.0)] {
            let mut delta = vec![0.0; n];
            delta[outcome] = shares;
            let quote = maker_c.quote(id, delta.iter().map(|&x| wad(x)).collect()).call().await.unwrap();
            let rust = reference.trade_cost(&q, &delta).unwrap();
            assert!(
                ((to_f64(quote.costWad) - rust) / rust).abs() < 1e-9,
                "n {n}: {} vs {rust}",
                to_f64(quote.costWad)
            );
            // Charged in dUSD units, rounded up in the maker's favour.
            let charged = i128::try_from(quote.amount).unwrap();
            assert!(
                charged as f64 >= rust * 1e6 && (charged as f64) < rust * 1e6 + 2.0,
                "{charged} for {rust}"
            );
            let too_little = maker_c.buy(
                id,
                U256::from(outcome),
                U256::try_from(wad(shares)).unwrap(),
                U256::from(charged - 1),
            );
            let err = agora_contracts::send_to(SuiteContract::LmsrMarketMaker, too_little, "buying")
                .await
                .unwrap_err();
            assert!(err.contains("CostAboveLimit"), "{err}");
            maker_c
                .buy(id, U256::from(outcome), U256::try_from(wad(shares)).unwrap(), U256::from(charged))
                .send()
                .await
                .unwrap()
                .get_receipt()
                .await
                .unwrap();
            q[outcome] += shares;
            let prices = maker_c.prices(id).call().await.unwrap();
            for (p, want) in prices.iter().zip(reference.prices(&q).unwrap()) {
                let p = u128::try_from(*p).unwrap() as f64 / WAD;
                assert!((p - want).abs() < 1e-9, "n {n}: price {p} vs {want}");
            }
        }
    }
}

/// A market's life through `chain`: asked and opened, traded both ways, an early settle refused,
/// an assertion settled after its liveness, a trade after resolution refused, and the winning
/// shares redeemed one for one.
#[tokio::test(flavor = "multi_thread")]
async fn a_market_is_asked_traded_resolved_and_redeemed() {
    use agora_markets::chain::{self as markets, MarketContracts};
    let net = TestNet::start().await;
    let c = MarketContracts::of(net.deployment()).unwrap();
    let (creator, trader) = (net.client_for(1).await, net.client_for(2).await);
    let b = U256::from(100u128 * 10u128.pow(18));
    let id = markets::create(&creator, c, "Will block 100 have an even timestamp?", 2, b, 5_000_000, 3600)
        .await
        .unwrap();
    let m = markets::show(&trader, c, id).await.unwrap();
    assert_eq!((m.outcomes, markets::state_name(m.state)), (2, "open"));
    assert_eq!(m.text, "Will block 100 have an even timestamp?");
    let who = trader.signer_address().unwrap();
    let usd = DevStablecoin::new(c.token, trader.provider());
    let before = usd.balanceOf(who).call().await.unwrap();
    let ten = U256::from(10u128 * 10u128.pow(18));
    let (_, cost) =
        markets::quote(&trader, c, id, vec![I256::try_from(ten).unwrap(), I256::ZERO]).await.unwrap();
    let cost = u128::try_from(cost).unwrap();
    let refused = markets::buy(&trader, c, id, 0, ten, cost - 1).await.unwrap_err();
    assert!(refused.contains("CostAboveLimit"), "{refused}");
    markets::buy(&trader, c, id, 0, ten, cost).await.unwrap();
    markets::sell(&trader, c, id, 0, U256::from(4u128 * 10u128.pow(18)), 0).await.unwrap();
    let held = markets::holdings(&trader, c, id, 2, trader.signer_address().unwrap()).await.unwrap();
    assert_eq!(held, vec![U256::from(6_000_000u64), U256::ZERO]);
    markets::assert_outcome(&creator, c, m.question_id, 0).await.unwrap();
    let early = markets::settle(&trader, c, m.question_id).await.unwrap_err();
    assert!(early.contains("LivenessOpen"), "{early}");
    use alloy::providers::Provider;
    let p = creator.provider();
    let _: serde_json::Value = p.raw_request("evm_increaseTime".into(), (3601u64,)).await.unwrap();
    let _: serde_json::Value = p.raw_request("evm_mine".into(), ()).await.unwrap();
    markets::settle(&trader, c, m.question_id).await.unwrap();
    assert_eq!(markets::state_name(markets::show(&trader, c, id).await.unwrap().state), "resolved");
    let late = markets::buy(&trader, c, id, 1, ten, 10_000_000).await.unwrap_err();
    assert!(late.contains("ConditionResolved") || late.contains("MarketIsClosed"), "{late}");
    let paid = markets::redeem(&trader, c, m.condition_id, 2).await.unwrap();
    assert_eq!(paid, U256::from(6_000_000u64), "six winning shares redeem six dollars");
    // The trader's P&L, read from its trades and the payouts, is what its balance says.
    let after = usd.balanceOf(who).call().await.unwrap();
    let m = markets::show(&trader, c, id).await.unwrap();
    let pnl = markets::profit_and_loss(&trader, c, &m, who).await.unwrap();
    let moved = i128::try_from(after).unwrap() - i128::try_from(before).unwrap();
    assert_eq!(pnl, moved, "P&L {pnl} against the balance's move {moved}");
    assert!(pnl > 0, "bought at about 0.5, won");
    // The answer could be known from the assertion's block on.
    let known = markets::answer_known_from(&trader, c, &m).await.unwrap().unwrap();
    assert!(known > 0 && known < p.get_block_number().await.unwrap(), "{known}");
}

/// A decision through `chain`: two proposals whose action asks a question at the resolver; the
/// one the pass book prices higher passes and its action runs, the other fails and its action
/// does not.
#[tokio::test(flavor = "multi_thread")]
async fn a_decision_passes_or_fails_by_the_threshold_and_acts_only_on_pass() {
    use agora_contracts::bindings::OptimisticResolver;
    use agora_markets::chain::{self as markets, MarketContracts, Proposal};
    use alloy::{providers::Provider, sol_types::SolCall};
    let net = TestNet::start().await;
    let c = MarketContracts::of(net.deployment()).unwrap();
    let decision = markets::decision_market(net.deployment()).unwrap();
    let (proposer, trader) = (net.client_for(1).await, net.client_for(2).await);
    let action = |n: u8| {
        OptimisticResolver::askCall {
            questionId: B256::repeat_byte(n),
            outcomes: U256::from(2),
            text: format!("opened by decision {n}"),
            bond: U256::from(1_000_000u64),
            liveness: 60,
        }
        .abi_encode()
    };
    let proposal = |n: u8| Proposal {
        metric: "Will agora's users grow this quarter?".into(),
        target: c.resolver,
        data: action(n),
        trading: 600,
        twap_delay: 0,
        max_step: U256::from(10u128.pow(18)),
        threshold_bps: 300,
        b: U256::from(100u128 * 10u128.pow(18)),
        bond: 5_000_000,
        liveness: 3600,
    };
    let yes = markets::propose(&proposer, c, decision, &proposal(1)).await.unwrap();
    let no = markets::propose(&proposer, c, decision, &proposal(2)).await.unwrap();
    let forty = I256::try_from(40u128 * 10u128.pow(18)).unwrap();
    // Traders expect the metric to be met if the first passes, and if the second fails.
    markets::decision_trade(&trader, c, decision, yes, 0, forty, 50_000_000).await.unwrap();
    markets::decision_trade(&trader, c, decision, no, 1, forty, 50_000_000).await.unwrap();
    let view = markets::decision(&trader, decision, yes).await.unwrap();
    assert!(view.prices[0] > view.prices[1], "{view:?}");
    let early = markets::finalize(&trader, decision, yes).await.unwrap_err();
    assert!(early.contains("TradingOpen"), "{early}");
    // The TWAPs observe at most once a second: a keeper pokes after the trades' second.
    let p = proposer.provider();
    let _: serde_json::Value = p.raw_request("evm_increaseTime".into(), (2u64,)).await.unwrap();
    let _: serde_json::Value = p.raw_request("evm_mine".into(), ()).await.unwrap();
    markets::poke(&trader, decision, yes).await.unwrap();
    markets::poke(&trader, decision, no).await.unwrap();
    let _: serde_json::Value = p.raw_request("evm_increaseTime".into(), (601u64,)).await.unwrap();
    let _: serde_json::Value = p.raw_request("evm_mine".into(), ()).await.unwrap();
    let late = markets::decision_trade(&trader, c, decision, yes, 0, forty, 0).await.unwrap_err();
    assert!(late.contains("TradingClosed"), "{late}");
    let before = markets::decision(&trader, decision, yes).await.unwrap();
    assert!(markets::finalize(&trader, decision, yes).await.unwrap(), "the first passes: {before:?}");
    assert!(!markets::finalize(&trader, decision, no).await.unwrap(), "the second fails");
    // Only the passing proposal's action ran: its question exists at the resolver.
    let resolver = OptimisticResolver::new(c.resolver, p);
    let asked = |n: u8| resolver.question(B256::repeat_byte(n));
    assert_eq!(asked(1).call().await.unwrap().asker, decision);
    assert_eq!(asked(2).call().await.unwrap().asker, alloy::primitives::Address::ZERO);
}
