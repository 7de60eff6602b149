//! A prediction market from the command line, beside a node on the devnet: a question asked
//! with a market on it, trades both ways with slippage limits, an answer asserted and settled
//! after its window, a trade after resolution refused, and the winning shares redeemed.

use super::{agora, start_seller};
use serde_json::Value;
use std::path::Path;

fn run(dir: &Path, rpc: &str, args: &[&str]) -> String {
    let out = agora().args(args).arg("--data-dir").arg(dir).args(["--rpc-url", rpc]).output().unwrap();
    assert!(
        out.status.success(),
        "agora {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn refused(dir: &Path, rpc: &str, args: &[&str]) -> String {
    let out = agora().args(args).arg("--data-dir").arg(dir).args(["--rpc-url", rpc]).output().unwrap();
    assert!(!out.status.success(), "agora {args:?} should fail: {}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8(out.stderr).unwrap()
}

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
    super::funding::warp(&rpc, 3601);
    run(&trader, &rpc, &["market", "resolve", "0"]);
    let late = refused(&trader, &rpc, &["market", "buy", "0", "--outcome", "1", "--shares", "1"]);
    assert!(late.contains("ConditionResolved") || late.contains("MarketIsClosed"), "{late}");
    let redeemed = run(&trader, &rpc, &["market", "redeem", "0"]);
    assert_eq!(redeemed.trim(), "market 0: redeemed 6.00 dUSD");
    let status = run(&trader, &rpc, &["market", "list"]);
    assert!(status.contains("resolved, answer 0"), "{status}");
}
