//! A prediction market from the command line, beside a node on the devnet: a question asked
//! with a market on it, trades both ways with slippage limits, an answer asserted and settled
//! after its window, a trade after resolution refused, and the winning shares redeemed.

use super::{block_number, mine, refused, run, start_seller, start_seller_with, warp};
use serde_json::Value;

#[test]
fn a_market_is_asked_traded_resolved_and_redeemed_from_the_command_line() {
    let root = tempfile::tempdir().unwrap();
    let (node, trader) = (root.path().join("node"), root.path().join("trader"));
    let up = start_seller(&node, super::free_port, "2", false);
    let rpc = format!("http://127.0.0.1:{}", up.devnet_port);
    std::fs::create_dir_all(&trader).unwrap();
    std::fs::copy(node.join("deployments.json"), trader.join("deployments.json")).unwrap();
    run(&node, &rpc, &["faucet", "--amount", "200"]);
    run(&trader, &rpc, &["faucet", "--amount", "50"]);

    let created = run(
        &node,
        &rpc,
        &["market", "create", "Will agora ship markets this week?", "--liquidity", "100", "--liveness", "1h"],
    );
    assert!(
        created.starts_with(
            "market 0 open: Will agora ship markets this week? (2 outcomes, liquidity 100.00 dUSD"
        ),
        "{created}"
    );
    let listed = run(&trader, &rpc, &["market", "list"]);
    assert!(
        listed.contains("market 0: Will agora ship markets this week? — prices [0.500, 0.500], open"),
        "{listed}"
    );

    // A limit below the cost is refused by name; within it, the trade goes through.
    let tight = refused(
        &trader,
        &rpc,
        &["market", "buy", "0", "--outcome", "0", "--shares", "10", "--max-cost", "1"],
    );
    assert!(tight.contains("CostAboveLimit"), "{tight}");
    let bought = run(&trader, &rpc, &["market", "buy", "0", "--outcome", "0", "--shares", "10"]);
    assert!(bought.starts_with("market 0: bought 10.00 dUSD shares of outcome 0 for 5."), "{bought}");
    run(&trader, &rpc, &["market", "sell", "0", "--outcome", "0", "--shares", "4"]);
    let shown: Value = serde_json::from_str(&run(&trader, &rpc, &["--json", "market", "show", "0"])).unwrap();
    assert_eq!(shown["held"], serde_json::json!(["6000000", "0"]));
    assert!(shown["prices"][0].as_f64().unwrap() > 0.5);

    // The answer: asserted, too early to settle, settled after the window; trading is over.
    run(&node, &rpc, &["market", "resolve", "0", "--outcome", "0"]);
    let early = refused(&trader, &rpc, &["market", "resolve", "0"]);
    assert!(early.contains("LivenessOpen"), "{early}");
    warp(&rpc, 3601);
    run(&trader, &rpc, &["market", "resolve", "0"]);
    let late = refused(&trader, &rpc, &["market", "buy", "0", "--outcome", "1", "--shares", "1"]);
    assert!(late.contains("ConditionResolved") || late.contains("MarketIsClosed"), "{late}");
    let redeemed = run(&trader, &rpc, &["market", "redeem", "0"]);
    assert_eq!(redeemed.trim(), "market 0: redeemed 6.00 dUSD");
    let status = run(&trader, &rpc, &["market", "list"]);
    assert!(status.contains("resolved, answer 0"), "{status}");
}

/// The AI trader on the default model, through the running node: it forecasts each open market
/// (both ways, receipts kept), trades by capped Kelly or says why not, does not trade a market
/// twice, and its Brier score is reported against always-50% once a market resolves. Its
/// forecasts are on the board, where web3.py reads them with the contract's ABI alone.
#[test]
fn the_ai_trader_forecasts_trades_and_is_scored_against_always_fifty_percent() {
    let root = tempfile::tempdir().unwrap();
    let node = root.path().join("node");
    let up = start_seller(&node, super::free_port, "2", false);
    let rpc = format!("http://127.0.0.1:{}", up.devnet_port);
    run(&node, &rpc, &["faucet", "--amount", "300"]);
    for q in ["Is two plus two equal to four?", "Will it snow in the Sahara tomorrow?"] {
        run(&node, &rpc, &["market", "create", q, "--liquidity", "100", "--liveness", "1h"]);
    }
    // Two questions the chain answers by itself, a few blocks ahead: one account will be funded.
    let at = block_number(&rpc) + 100;
    let (funded, empty) =
        ("0x00000000000000000000000000000000000000aa", "0x00000000000000000000000000000000000000bb");
    for account in [funded, empty] {
        let made = run(
            &node,
            &rpc,
            &[
                "market",
                "create-fact",
                "--account",
                account,
                "--at-least",
                "5",
                "--at-block",
                &at.to_string(),
            ],
        );
        assert!(made.contains("(the chain answers it)"), "{made}");
    }
    let traded = run(&node, &rpc, &["trader", "run", "--once", "--bankroll", "10", "--cap", "0.2"]);
    let lines: Vec<&str> = traded.lines().collect();
    assert_eq!(lines.len(), 4, "{traded}");
    assert!(lines.iter().all(|l| l.contains("the model says") && l.contains("the market 50%")), "{traded}");
    for id in 0..4 {
        let record: Value = serde_json::from_str(
            &std::fs::read_to_string(node.join(format!("trader/market-{id}.json"))).unwrap(),
        )
        .unwrap();
        let receipts = record["forecast"]["receipts"].as_array().unwrap();
        assert_eq!(receipts.len(), 2, "asked for yes and for no");
        for r in receipts {
            let envelope: agora_node::receipts::ReceiptEnvelope = serde_json::from_value(r.clone()).unwrap();
            envelope.verify().unwrap();
        }
    }
    // Nothing is traded twice.
    assert_eq!(run(&node, &rpc, &["trader", "run", "--once"]).trim(), "");
    let none = run(&node, &rpc, &["trader", "score"]);
    assert!(none.contains("no resolved market"), "{none}");
    run(&node, &rpc, &["market", "resolve", "0", "--outcome", "0"]);
    warp(&rpc, 3601);
    run(&node, &rpc, &["market", "resolve", "0"]);
    // The chain settles its own questions once their block has come.
    let early = refused(&node, &rpc, &["market", "resolve", "2"]);
    assert!(early.contains("TooEarly"), "{early}");
    run(&node, &rpc, &["faucet", "--to", funded, "--amount", "10"]);
    mine(&rpc, 100);
    for id in ["2", "3"] {
        let settled = run(&node, &rpc, &["market", "resolve", id]);
        assert!(settled.contains("settled from the chain's state"), "{settled}");
    }
    let listed = run(&node, &rpc, &["market", "list"]);
    assert!(listed.contains("resolved, answer 0") && listed.contains("resolved, answer 1"), "{listed}");
    let scored = run(&node, &rpc, &["trader", "score"]);
    assert!(scored.contains("market 0: forecast") && scored.contains("market 3: forecast"), "{scored}");
    assert!(scored.contains("over 3 markets") && scored.contains("always answering 50% (0.25)"), "{scored}");

    // Every forecast was published on the board under the node's agent, before the answers:
    // anyone can score it. A scorer with its own key publishes the scores as ERC-8004 feedback.
    let scorer = root.path().join("scorer");
    std::fs::create_dir_all(&scorer).unwrap();
    std::fs::copy(node.join("deployments.json"), scorer.join("deployments.json")).unwrap();
    let board: Value =
        serde_json::from_str(&run(&scorer, &rpc, &["--json", "trader", "leaderboard"])).unwrap();
    let rows = board.as_array().unwrap();
    assert_eq!(rows.len(), 3, "one forecast per resolved market: {board}");
    for row in rows {
        let record: Value = serde_json::from_str(
            &std::fs::read_to_string(
                node.join(format!("trader/market-{}.json", row["market"].as_str().unwrap())),
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(row["agent_id"], record["agent_id"], "{row}");
        let p = record["forecast"]["probability"].as_f64().unwrap();
        assert!((row["probability"].as_f64().unwrap() - p).abs() <= 1e-6, "{row}");
        assert_eq!(row["counted"], true, "published before the answer: {row}");
        assert_eq!(row["scored"], false);
    }
    // web3.py reads the same forecast from the board with nothing but its ABI and address.
    let market = rows[0]["market"].as_str().unwrap();
    let read = std::process::Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/forecast_board.py"))
        .arg(&rpc)
        .arg(node.join("deployments.json"))
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../../crates/contracts/artifacts/ForecastBoard.json"))
        .arg(market)
        .env("PYTHONPATH", concat!(env!("CARGO_MANIFEST_DIR"), "/../../.tools/pylib"))
        .output()
        .unwrap();
    assert!(read.status.success(), "{}", String::from_utf8_lossy(&read.stderr));
    let read: Value = serde_json::from_slice(&read.stdout).unwrap();
    assert_eq!(read.as_array().map(Vec::len), Some(1), "one forecaster: {read}");
    assert_eq!(read[0]["agent_id"], rows[0]["agent_id"], "{read}");
    let ppm = read[0]["probability_ppm"].as_f64().unwrap();
    assert!((ppm / 1e6 - rows[0]["probability"].as_f64().unwrap()).abs() <= 1e-6, "{read}");
    assert_ne!(read[0]["reasoning"], format!("0x{}", "0".repeat(64)), "{read}");
    let own = run(&node, &rpc, &["trader", "leaderboard", "--publish"]);
    assert!(own.contains("this node's own forecast (ERC-8004 refuses self-feedback)"), "{own}");
    run(&scorer, &rpc, &["faucet", "--amount", "1"]);
    let published = run(&scorer, &rpc, &["trader", "leaderboard", "--publish"]);
    assert_eq!(published.matches(": published").count(), 3, "{published}");
    assert!(published.contains("rank  agent  markets  mean Brier  P&L"), "{published}");
    let again = run(&scorer, &rpc, &["trader", "leaderboard", "--publish"]);
    assert_eq!(again.matches(": scored already").count(), 3, "{again}");
    // The scores are ERC-8004 feedback on the agent, tagged by market, from the scorer.
    let agent = rows[0]["agent_id"].as_str().unwrap();
    let rater = agora_node::node_key::load_or_create(&scorer).unwrap().address().to_string();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let reputation = loop {
        // The node's index follows the chain by itself: the agent and its feedback show up soon.
        let out = super::agora()
            .args(["--json", "agent", "show", agent, "--trust", &rater, "--data-dir"])
            .arg(&node)
            .args(["--rpc-url", &rpc])
            .output()
            .unwrap();
        let shown: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        if shown["reputation"]["count"] == 6 || std::time::Instant::now() > deadline {
            break shown["reputation"].clone();
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    };
    assert_eq!(reputation["count"], 6, "a Brier score and a P&L per market: {reputation}");
    println!("{traded}{scored}{published}");
}

/// A decision from the command line: proposed with an action (asking a question at the
/// resolver), traded in the pass book, observed, decided by the threshold rule, and acted on.
#[test]
fn a_decision_is_proposed_traded_and_acted_on_from_the_command_line() {
    use alloy::sol_types::SolCall;
    let root = tempfile::tempdir().unwrap();
    let node = root.path().join("node");
    // The keeper off: every step here is taken by hand (the next test leaves them to it).
    let up = start_seller_with(&node, super::free_port, "2", false, &[("AGORA_MARKETS_KEEPER", "false")]);
    let rpc = format!("http://127.0.0.1:{}", up.devnet_port);
    run(&node, &rpc, &["faucet", "--amount", "300"]);
    let resolver =
        up.deployments()["contracts"]["OptimisticResolver"]["address"].as_str().unwrap().to_owned();
    let action = agora_node::contracts::bindings::OptimisticResolver::askCall {
        questionId: alloy::primitives::B256::repeat_byte(9),
        outcomes: alloy::primitives::U256::from(2),
        text: "opened by a decision".into(),
        bond: alloy::primitives::U256::from(1_000_000u64),
        liveness: 60,
    }
    .abi_encode();
    let data = format!("0x{}", alloy::primitives::hex::encode(action));
    // Each proposal's action asks a question at the resolver; it trades for ten minutes.
    let propose = || {
        run(
            &node,
            &rpc,
            &[
                "decide",
                "propose",
                "Will weekly active agents exceed 100?",
                "--target",
                &resolver,
                "--data",
                &data,
                "--trading",
                "10m",
                "--max-step",
                "1",
            ],
        )
    };
    let proposed = propose();
    assert!(proposed.starts_with("proposal 0: trading on"), "{proposed}");
    let traded =
        run(&node, &rpc, &["decide", "trade", "0", "--branch", "pass", "--yes", "30", "--collateral", "20"]);
    assert!(traded.contains("traded in the pass book"), "{traded}");
    let early = refused(&node, &rpc, &["decide", "finalize", "0"]);
    assert!(early.contains("TradingOpen"), "{early}");
    warp(&rpc, 2);
    run(&node, &rpc, &["decide", "poke", "0"]);
    warp(&rpc, 601);
    let status = run(&node, &rpc, &["decide", "status", "0"]);
    assert!(status.contains("it would pass now"), "{status}");
    let done = run(&node, &rpc, &["decide", "finalize", "0"]);
    assert_eq!(done.trim(), "proposal 0: passed; the action ran");
    let after = run(&node, &rpc, &["decide", "status", "0"]);
    assert!(after.starts_with("proposal 0: passed (the action ran)"), "{after}");

    // A second proposal, which traders expect to do worse: the fail book's YES is bought. It
    // fails by the rule, and its action does not run.
    let second = propose();
    assert!(second.starts_with("proposal 1: trading on"), "{second}");
    run(&node, &rpc, &["decide", "trade", "1", "--branch", "fail", "--yes", "30", "--collateral", "20"]);
    warp(&rpc, 2);
    run(&node, &rpc, &["decide", "poke", "1"]);
    warp(&rpc, 601);
    let status = run(&node, &rpc, &["decide", "status", "1"]);
    assert!(status.contains("it would fail now"), "{status}");
    let done = run(&node, &rpc, &["decide", "finalize", "1"]);
    assert_eq!(done.trim(), "proposal 1: failed; the action did not run");
    println!("{status}");
}

/// The node keeps decisions by itself: its keeper observes the books during the TWAP window and
/// finalizes the proposal when trading ends, so the action runs with nobody poking.
#[test]
fn the_node_keeps_a_decision_observed_and_finalizes_it() {
    let root = tempfile::tempdir().unwrap();
    let node = root.path().join("node");
    let up = start_seller_with(&node, super::free_port, "2", false, &[("AGORA_MARKETS_KEEPER_SECS", "1")]);
    let rpc = format!("http://127.0.0.1:{}", up.devnet_port);
    run(&node, &rpc, &["faucet", "--amount", "300"]);
    let proposed = run(
        &node,
        &rpc,
        &[
            "decide",
            "propose",
            "Will the keeper keep it?",
            "--target",
            "0x00000000000000000000000000000000000000aa",
            "--trading",
            "10m",
            "--max-step",
            "1",
        ],
    );
    assert!(proposed.starts_with("proposal 0: trading on"), "{proposed}");
    run(&node, &rpc, &["decide", "trade", "0", "--branch", "pass", "--yes", "30", "--collateral", "20"]);
    warp(&rpc, 5);
    let wait_for = |what: &str| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let status = run(&node, &rpc, &["decide", "status", "0"]);
            if status.contains(what) {
                return status;
            }
            assert!(std::time::Instant::now() < deadline, "the keeper never got to \"{what}\": {status}");
            std::thread::sleep(std::time::Duration::from_millis(300));
        }
    };
    // Observed: the pass book's TWAP leaves 0.500 without anyone poking.
    let observed = wait_for("pass book: YES");
    let twap_moved = |s: &str| s.lines().any(|l| l.contains("pass book") && !l.ends_with("TWAP 0.500"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut status = observed;
    while !twap_moved(&status) {
        assert!(std::time::Instant::now() < deadline, "the keeper never observed: {status}");
        std::thread::sleep(std::time::Duration::from_millis(300));
        status = run(&node, &rpc, &["decide", "status", "0"]);
    }
    warp(&rpc, 601);
    let done = wait_for("proposal 0: passed");
    assert!(done.starts_with("proposal 0: passed (the action ran)"), "{done}");
    let again = refused(&node, &rpc, &["decide", "finalize", "0"]);
    assert!(again.contains("AlreadyFinalized"), "{again}");
}

/// The arbitrageur: three markets of which exactly one resolves YES, priced to sum above 1, and
/// a market priced above one it implies. Told only how they are related, it trades them back to
/// coherence, and what it bought pays more than it cost whatever the answers are.
#[test]
fn the_arbitrageur_makes_related_markets_coherent_for_a_sure_profit() {
    let root = tempfile::tempdir().unwrap();
    let (node, arb) = (root.path().join("node"), root.path().join("arb"));
    let up = start_seller_with(&node, super::free_port, "2", false, &[("AGORA_MARKETS_KEEPER", "false")]);
    let rpc = format!("http://127.0.0.1:{}", up.devnet_port);
    std::fs::create_dir_all(&arb).unwrap();
    std::fs::copy(node.join("deployments.json"), arb.join("deployments.json")).unwrap();
    run(&node, &rpc, &["faucet", "--amount", "300"]);
    run(&arb, &rpc, &["faucet", "--amount", "50"]);
    for q in ["Will A win?", "Will B win?", "Will C win?", "Will A win by ten?", "Will A win (again)?"] {
        run(&node, &rpc, &["market", "create", q, "--liquidity", "20", "--liveness", "1h"]);
    }
    // Prices 0.5 each: the partition sums to 1.5. Then "A by ten" is pushed above "A".
    run(&node, &rpc, &["market", "buy", "3", "--outcome", "0", "--shares", "10"]);
    let coherent = run(&arb, &rpc, &["trader", "arb", "--implies", "4:3", "--once"]);
    assert!(coherent.contains("no trade (the prices are coherent)"), "{coherent}");
    let json: Value = serde_json::from_str(&run(
        &arb,
        &rpc,
        &["--json", "trader", "arb", "--partition", "0,1,2", "--implies", "3:4", "--budget", "40", "--once"],
    ))
    .unwrap();
    let records = json.as_array().unwrap();
    assert_eq!(records.len(), 2, "{json}");
    for r in records {
        assert!(r["skipped"].is_null(), "{r}");
        let (payout, cost) = (r["payout"].as_u64().unwrap(), r["cost"].as_u64().unwrap());
        assert!(payout > cost, "pays {payout} for {cost}: {r}");
    }
    let after: Vec<f64> =
        records[0]["after"].as_array().unwrap().iter().map(|p| p.as_f64().unwrap()).collect();
    let sum: f64 = after.iter().sum();
    assert!((sum - 1.0).abs() < 0.01, "the partition's prices sum to {sum}");
    let after: Vec<f64> =
        records[1]["after"].as_array().unwrap().iter().map(|p| p.as_f64().unwrap()).collect();
    assert!(after[0] <= after[1] + 0.01, "the implied market is priced at least as high: {after:?}");
    let again = run(&arb, &rpc, &["trader", "arb", "--partition", "0,1,2", "--once"]);
    assert!(again.contains("no trade"), "{again}");
    // B wins: one YES in the partition; A by ten did not happen, A did. Whatever the answers,
    // the legs pay what the arbitrageur was promised.
    for (id, answer) in [("0", "1"), ("1", "0"), ("2", "1"), ("3", "1"), ("4", "0")] {
        run(&node, &rpc, &["market", "resolve", id, "--outcome", answer]);
    }
    warp(&rpc, 3601);
    let mut redeemed = 0u64;
    for id in ["0", "1", "2", "3", "4"] {
        run(&node, &rpc, &["market", "resolve", id]);
        let out: Value = serde_json::from_str(&run(&arb, &rpc, &["--json", "market", "redeem", id])).unwrap();
        redeemed +=
            out["payout"].as_str().map_or_else(|| out["payout"].as_u64().unwrap(), |s| s.parse().unwrap());
    }
    let promised: u64 = records.iter().map(|r| r["payout"].as_u64().unwrap()).sum();
    let cost: u64 = records.iter().map(|r| r["cost"].as_u64().unwrap()).sum();
    assert!(redeemed >= promised && redeemed > cost, "redeemed {redeemed}, promised {promised}, cost {cost}");
}
