//! Proofs made and checked with the bundled circuits, and the fixtures the contracts' tests
//! read.

#![allow(clippy::unwrap_used)] // test helpers panic to fail the test

use agora_credits::{
    CallProver, Credit, Fr, PoolKey, PoolTree, Refusal, exit_verifying_key, from_hex, keccak_to_field, leaf,
    prove_exit, recover_secret, to_hex, to_u256,
};
use alloy::primitives::{U256, address};

fn key() -> PoolKey {
    PoolKey {
        chain_id: 31337,
        contract: address!("00000000000000000000000000000000000C4Ed1"),
        pool_id: U256::from(1),
    }
}

/// Two deposits, ours second (so its path turns right at the bottom).
fn pool_with(credit: &mut Credit) -> PoolTree {
    let other = Credit::generate(credit.key, credit.calls);
    let tree = PoolTree::from_leaves([other.leaf(), credit.leaf()]).expect("tree");
    credit.leaf_index = 1;
    tree
}

#[test]
fn a_call_proof_verifies_once_and_refuses_every_alteration() {
    let mut credit = Credit::generate(key(), 100);
    let tree = pool_with(&mut credit);
    let prover = CallProver::prepare(&credit, &tree).expect("prepare");
    let x = keccak_to_field(b"POST /v1/chat/completions {\"messages\":[]}");
    let proof = prover.prove(x, &[0, 1]).expect("prove");
    let roots = [tree.root()];
    let scope = key().call_scope();

    let spend = proof.verify(x, scope, &roots).expect("verifies");
    assert_eq!(spend.tickets.len(), 2);
    assert_eq!(spend.tickets[0].0, agora_credits::nullifier(&secret_of(&credit), scope, 0));

    // Another request, another pool, another root window: refused, each with its reason.
    let other_x = keccak_to_field(b"another request");
    assert_eq!(proof.verify(other_x, scope, &roots), Err(Refusal::InvalidProof));
    let other_pool = PoolKey { pool_id: U256::from(2), ..key() };
    assert_eq!(proof.verify(x, other_pool.call_scope(), &roots), Err(Refusal::WrongPool));
    assert_eq!(proof.verify(x, scope, &[Fr::from(7u64)]), Err(Refusal::UnknownRoot));
    // A share or a nullifier changed: the pairing fails.
    let mut forged = proof.clone();
    forged.ys[0] = to_hex(&(from_hex(&proof.ys[0]).unwrap() + Fr::from(1u64)));
    assert_eq!(forged.verify(x, scope, &roots), Err(Refusal::InvalidProof));
    let mut forged = proof.clone();
    forged.nullifiers.swap(0, 1);
    assert_eq!(forged.verify(x, scope, &roots), Err(Refusal::InvalidProof));
    // Claiming fewer units than the proof burns (dropping a slot) fails too.
    let mut fewer = proof.clone();
    fewer.nullifiers.pop();
    fewer.ys.pop();
    assert_eq!(fewer.verify(x, scope, &roots), Err(Refusal::InvalidProof));
    let mut bad = proof.clone();
    bad.proof = "0x1234".into();
    assert!(matches!(bad.verify(x, scope, &roots), Err(Refusal::Malformed(_))));
    let mut bad = proof.clone();
    bad.root = "zz".into();
    assert!(matches!(bad.verify(x, scope, &roots), Err(Refusal::Malformed(_))));
}

#[test]
fn a_ticket_spent_on_two_requests_gives_the_secret_away() {
    let mut credit = Credit::generate(key(), 100);
    let tree = pool_with(&mut credit);
    let prover = CallProver::prepare(&credit, &tree).expect("prepare");
    let (x1, x2) = (keccak_to_field(b"first"), keccak_to_field(b"second"));
    let scope = key().call_scope();
    let a = prover.prove(x1, &[5]).unwrap().verify(x1, scope, &[tree.root()]).unwrap();
    let b = prover.prove(x2, &[5]).unwrap().verify(x2, scope, &[tree.root()]).unwrap();
    assert_eq!(a.tickets[0].0, b.tickets[0].0, "same ticket, same nullifier");
    let secret = recover_secret((a.x, a.tickets[0].1), (b.x, b.tickets[0].1)).expect("two points");
    assert_eq!(to_hex(&secret), credit.secret_hex());
    // One point says nothing; the same request twice is a replay, not a line.
    assert_eq!(recover_secret((a.x, a.tickets[0].1), (a.x, a.tickets[0].1)), None);
    // A different ticket of the same member gives an unrelated line.
    let c = prover.prove(x2, &[6]).unwrap().verify(x2, scope, &[tree.root()]).unwrap();
    assert_ne!(c.tickets[0].0, a.tickets[0].0);
}

#[test]
fn tickets_out_of_range_are_refused_before_proving() {
    let mut credit = Credit::generate(key(), 10);
    let tree = pool_with(&mut credit);
    let prover = CallProver::prepare(&credit, &tree).expect("prepare");
    let x = keccak_to_field(b"x");
    assert!(prover.prove(x, &[10]).is_err(), "ticket 10 of 10 calls");
    assert!(prover.prove(x, &[1, 1]).is_err(), "a ticket twice");
    assert!(prover.prove(x, &[0, 1, 2, 3, 4]).is_err(), "five units");
    assert!(prover.prove(x, &[]).is_err());
    // A credit whose leaf is not where it says.
    let mut lost = credit.clone();
    lost.leaf_index = 0;
    assert!(CallProver::prepare(&lost, &tree).is_err());
}

fn secret_of(credit: &Credit) -> rln::prelude::SecretFr {
    let mut value = from_hex(&credit.secret_hex()).unwrap();
    rln::prelude::SecretFr::from(&mut value)
}

/// The scenario `contracts/test/ZkCredits.t.sol` replays: a fixed secret in pool 1 of a
/// contract at a fixed address, its exit proof, and the Poseidon values the contract must
/// reproduce.
fn fixture() -> serde_json::Value {
    let secret = "0x0000000000000000000000000000000000000000000000000000000000003039";
    let mut credit = Credit::from_secret_hex(key(), secret, 100, 1).unwrap();
    let first = Credit::from_secret_hex(key(), &to_hex(&Fr::from(777u64)), 100, 0).unwrap();
    let tree = PoolTree::from_leaves([first.leaf(), credit.leaf()]).unwrap();
    let exit_tree = PoolTree::from_leaves([first.exit_leaf(), credit.exit_leaf()]).unwrap();
    credit.leaf_index = 1;
    let receiver = address!("000000000000000000000000000000000000bEEF");
    let exit = prove_exit(&credit, &exit_tree, receiver).unwrap();
    let h = |v: Fr| to_u256(&v).to_string();
    use rln::prelude::{Hasher, PoseidonHash};
    serde_json::json!({
        "chainId": 31337,
        "contract": key().contract,
        "poolId": 1,
        "calls": 100,
        "poseidon": {
            "t2_1": h(Hasher::<PoseidonHash>::hash_single(Fr::from(1u64))),
            "t3_1_2": h(Hasher::<PoseidonHash>::hash_pair(Fr::from(1u64), Fr::from(2u64))),
            "t4_1_2_3": h(<PoseidonHash as zerokit_utils::hasher::ZerokitHasher>::hash(&[Fr::from(1u64), Fr::from(2u64), Fr::from(3u64)])),
        },
        "emptyRoot": h(PoolTree::new().root()),
        "rlnIdentifier": h(key().rln_identifier()),
        "callScope": h(key().call_scope()),
        "exitScope": h(key().exit_scope()),
        "first": { "secret": h(Fr::from(777u64)), "idCommitment": h(first.id_commitment()), "leaf": h(first.leaf()) },
        "member": { "secret": h(from_hex(secret).unwrap()), "idCommitment": h(credit.id_commitment()), "leaf": h(leaf(credit.id_commitment(), 100)) },
        "rootAfterTwo": h(tree.root()),
        "exitRootAfterTwo": h(exit_tree.root()),
        "firstExitLeaf": h(first.exit_leaf()),
        "memberExitLeaf": h(credit.exit_leaf()),
        "exit": {
            "receiver": receiver,
            "signal": h(key().exit_signal(receiver)),
            "root": exit.root.to_string(),
            "nullifier": exit.nullifier.to_string(),
            "y": exit.y.to_string(),
            "proof": exit.proof.iter().map(|w| w.to_string()).collect::<Vec<_>>(),
            "nullifierFromSecret": h(credit.exit_nullifier()),
        },
        "verifyingKey": exit_verifying_key(),
    })
}

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../contracts/test/fixtures/zk-credits.json");

/// Writes the fixture (`cargo test -p agora-credits -- --ignored write_fixture`).
#[test]
#[ignore = "writes contracts/test/fixtures/zk-credits.json"]
fn write_fixture() {
    let text = serde_json::to_string_pretty(&fixture()).unwrap() + "\n";
    std::fs::write(FIXTURE, text).unwrap();
}

/// The committed fixture's deterministic parts are what this crate computes today (proofs are
/// randomised, so the exit proof is checked by the contract's own test instead).
#[test]
fn the_committed_fixture_matches_the_circuits_and_hashes() {
    let committed: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(FIXTURE).expect("fixture")).unwrap();
    let mut now = fixture();
    let mut committed = committed;
    committed["exit"].as_object_mut().unwrap().remove("proof");
    now["exit"].as_object_mut().unwrap().remove("proof");
    assert_eq!(committed, now, "run `cargo test -p agora-credits -- --ignored write_fixture`");
}
