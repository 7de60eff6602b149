//! Crash durability: a writer process is killed with SIGKILL in the middle of writes; every
//! write it had acknowledged must be in the store afterwards, and the store must open cleanly.

#![allow(clippy::unwrap_used)] // test helpers panic to fail the test

use agora_store::Store;
use std::{
    collections::BTreeSet,
    io::{BufRead, BufReader},
    path::Path,
    process::{Command, Stdio},
};

/// Set in the child: the data directory the writer writes into.
const CHILD_ENV: &str = "AGORA_STORE_CRASH_WRITER";

/// Runs only inside the child process: appends journal entries as fast as it can and prints
/// `ack <id>` after each append has returned, i.e. after it was acknowledged as durable.
#[test]
#[ignore = "helper process of sigkill_mid_write_loses_no_acknowledged_write"]
fn crash_writer() {
    let Ok(dir) = std::env::var(CHILD_ENV) else { return };
    let store = Store::open_in(Path::new(&dir)).expect("child opens store");
    let mut out = std::io::stdout().lock();
    for i in 0u64.. {
        let id = store.journal_append("crash.test", &format!("{{\"i\":{i}}}")).expect("append");
        use std::io::Write;
        writeln!(out, "ack {id}").expect("parent reads");
        out.flush().expect("flush");
    }
}

#[test]
fn sigkill_mid_write_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let mut acknowledged = BTreeSet::new();

    for round in 0..3 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "crash_writer", "--ignored", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut acked_this_round = 0;
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            if let Some(id) = line.strip_prefix("ack ") {
                acknowledged.insert(id.parse::<u64>().unwrap());
                acked_this_round += 1;
                // Kill at a different point each round, while writes keep coming.
                if acked_this_round == 150 + round * 97 {
                    child.kill().unwrap(); // SIGKILL on Unix
                    break;
                }
            }
        }
        child.wait().unwrap();

        let store = Store::open_in(dir.path()).expect("store opens cleanly after SIGKILL");
        store.integrity_check().expect("integrity check passes");
        let present: BTreeSet<u64> =
            store.journal_after(0, usize::MAX >> 1).unwrap().into_iter().map(|e| e.id).collect();
        let lost: Vec<_> = acknowledged.difference(&present).collect();
        assert!(lost.is_empty(), "round {round}: acknowledged writes lost: {lost:?}");
    }
    assert!(acknowledged.len() >= 150 + 247 + 344);
}
