//! A deep-funding round from the command line, as users run it beside a node on the devnet:
//! the graph from this repository's own `Cargo.lock`; a baseline solver and an AI solver that
//! asks through the running node (every answer's receipt checked); the held-out human jury's
//! comparison; then create, commit, reveal, the jury, score and post, an unchallenged window,
//! finalize and claims. Deadlines pass by moving the devnet's clock.

use super::{refused, run, start_seller, warp};
use agora_node::receipts::ReceiptEnvelope;
use serde_json::Value;
use std::path::Path;

#[test]
fn a_round_runs_from_the_command_line_with_an_ai_solver_asking_through_the_node() {
    let root = tempfile::tempdir().unwrap();
    let (funder, solver, juror) =
        (root.path().join("funder"), root.path().join("solver"), root.path().join("juror"));
    let up = start_seller(&funder, super::free_port, "2", true);
    let rpc = format!("http://127.0.0.1:{}", up.devnet_port);
    for dir in [&solver, &juror] {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::copy(funder.join("deployments.json"), dir.join("deployments.json")).unwrap();
        run(dir, &rpc, &["faucet", "--amount", "20"]);
    }
    run(&funder, &rpc, &["faucet", "--amount", "50"]);
    let address = |dir: &Path| agora_node::node_key::load_or_create(dir).unwrap().address().to_string();
    let f = |p: &str| root.path().join(p).to_string_lossy().into_owned();
    let lock = concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.lock");
    let tokio_recipient = "0x1111111111111111111111111111111111111111";

    // The graph of what agora uses directly, from the real lockfile.
    let built = run(
        &funder,
        &rpc,
        &[
            "funding",
            "graph",
            "--lock",
            lock,
            "--depth",
            "1",
            "--recipient",
            &format!("tokio={tokio_recipient}"),
            "-o",
            &f("g.json"),
        ],
    );
    assert!(built.contains("direct dependencies: alloy, anyhow"), "{built}");
    let bad =
        refused(&funder, &rpc, &["funding", "graph", "--lock", lock, "--recipient", "nosuchcrate=0x11"]);
    assert!(bad.contains("nosuchcrate"), "{bad}");

    // Two solvers: the baseline, and the model asked through the running node's OpenAI endpoint.
    run(&solver, &rpc, &["funding", "solve", "--graph", &f("g.json"), "-o", &f("base.json")]);
    let solved = run(
        &funder,
        &rpc,
        &[
            "funding",
            "solve",
            "--graph",
            &f("g.json"),
            "--ai",
            "--through-node",
            "default",
            "--questions",
            "3",
            "--personas",
            "1",
            "-o",
            &f("ai.json"),
        ],
    );
    assert!(solved.contains("6 model answers") || solved.contains("of 6 model answers"), "{solved}");
    let ai: Value = serde_json::from_str(&std::fs::read_to_string(f("ai.json")).unwrap()).unwrap();
    let judgements = ai["judgements"].as_array().unwrap();
    assert_eq!(judgements.len(), 6, "three comparisons, both orders");
    for j in judgements {
        let receipt: ReceiptEnvelope = serde_json::from_value(j["receipt"].clone()).unwrap();
        assert_eq!(
            receipt.verify().unwrap().to_string(),
            address(&funder),
            "signed by the node that answered"
        );
    }
    // Against the held-out human jury (answers by package name).
    let jury = concat!(env!("CARGO_MANIFEST_DIR"), "/../../crates/funding/tests/data/agora-jury.json");
    let compared = run(
        &funder,
        &rpc,
        &["funding", "compare", "--graph", &f("g.json"), "--jury", jury, &f("base.json"), &f("ai.json")],
    );
    assert!(compared.starts_with("24 jury answers"), "{compared}");
    assert!(compared.contains("the blend"), "{compared}");

    // The round: two jurors, four questions each.
    let created = run(
        &funder,
        &rpc,
        &[
            "funding",
            "round",
            "create",
            "--graph",
            &f("g.json"),
            "--pool",
            "10",
            "--juror",
            &address(&juror),
            "--juror",
            &address(&funder),
            "--submit-for",
            "10m",
            "--reveal-for",
            "5m",
            "--jury-for",
            "10m",
            "--jury-reveal-for",
            "5m",
            "--challenge-for",
            "5m",
            "--pairs",
            "4",
        ],
    );
    assert!(created.starts_with("round 1 created: 10.00 dUSD"), "{created}");
    run(&solver, &rpc, &["funding", "round", "submit", "1", "--weights", &f("base.json")]);
    run(&funder, &rpc, &["funding", "round", "submit", "1", "--weights", &f("ai.json")]);
    let early = refused(&solver, &rpc, &["funding", "round", "reveal", "1"]);
    assert!(early.contains("RevealNotOpen { roundId: 1"), "named with the round's own arguments: {early}");
    warp(&rpc, 601);
    run(&solver, &rpc, &["funding", "round", "reveal", "1"]);
    run(&funder, &rpc, &["funding", "round", "reveal", "1"]);
    let again = refused(&solver, &rpc, &["funding", "round", "reveal", "1"]);
    assert!(again.contains("AlreadyRevealed"), "{again}");

    // Each juror sees its own questions (the first one draws the sample) and answers them.
    for dir in [&juror, &funder] {
        let questions: Value =
            serde_json::from_str(&run(dir, &rpc, &["--json", "funding", "round", "jury", "1"])).unwrap();
        let questions = questions.as_array().unwrap();
        assert_eq!(questions.len(), 4);
        let answers: Vec<Value> = questions
            .iter()
            .map(|q| {
                let q = &q["question"];
                serde_json::json!({"kind": "compare", "less": q["a"], "more": q["b"], "times_centi": 200})
            })
            .collect();
        let file = dir.join("answers.json");
        std::fs::write(&file, serde_json::to_string(&answers).unwrap()).unwrap();
        let committed =
            run(dir, &rpc, &["funding", "round", "jury", "1", "--answers", file.to_str().unwrap()]);
        assert!(committed.contains("4 answers to 4 questions committed"), "{committed}");
    }
    let outsider = refused(
        &solver,
        &rpc,
        &["funding", "round", "jury", "1", "--answers", juror.join("answers.json").to_str().unwrap()],
    );
    assert!(outsider.contains("not drawn for this juror") || outsider.contains("NotJuror"), "{outsider}");
    warp(&rpc, 600);
    for dir in [&juror, &funder] {
        run(dir, &rpc, &["funding", "round", "jury", "1", "--reveal"]);
    }
    warp(&rpc, 301);

    // Scored, posted, left unchallenged, final, claimed.
    let scored = run(&funder, &rpc, &["funding", "round", "score", "1", "--post"]);
    assert!(scored.starts_with("round 1: 2 valid submissions"), "{scored}");
    assert!(scored.contains("posted"), "{scored}");
    let checked = run(&solver, &rpc, &["funding", "round", "challenge", "1"]);
    assert!(checked.contains("matches the re-settlement here; not challenged"), "{checked}");
    let open = refused(&funder, &rpc, &["funding", "round", "finalize", "1"]);
    assert!(open.contains("ChallengeOpen"), "{open}");
    warp(&rpc, 301);
    run(&solver, &rpc, &["funding", "round", "finalize", "1"]);
    let status = run(&juror, &rpc, &["funding", "round", "status", "1"]);
    assert!(status.starts_with("round 1: final"), "{status}");
    let result: Value =
        serde_json::from_str(&run(&juror, &rpc, &["--json", "funding", "round", "score", "1"])).unwrap();
    let tokio_leaf =
        result["leaves"].as_array().unwrap().iter().find(|l| l["label"] == "crates.io/tokio").unwrap();
    let claimed = run(&juror, &rpc, &["funding", "round", "claim", "1", "--account", tokio_recipient]);
    assert!(claimed.contains(&format!("for {tokio_recipient} (1 payouts)")), "{claimed}");
    let twice = run(&juror, &rpc, &["funding", "round", "claim", "1", "--account", tokio_recipient]);
    assert!(twice.contains("already claimed"), "{twice}");
    let solver_claim = run(&solver, &rpc, &["funding", "round", "claim", "1"]);
    assert!(solver_claim.contains("claimed") || solver_claim.contains("pays"), "{solver_claim}");
    let amount: u128 = tokio_leaf["amount"].as_str().unwrap().parse().unwrap();
    assert!(amount > 0);
}
