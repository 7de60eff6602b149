//! Checks that the committed artifacts were exported from the Solidity sources as they are now.

#![allow(clippy::unwrap_used)] // test helpers panic to fail the test

use std::{fs, path::Path};

mod erc8004;
mod x402;

use sha2::{Digest, Sha256};

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn sources_match_artifacts() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let contracts = crate_dir.join("../../contracts");
    let recorded = fs::read_to_string(crate_dir.join("artifacts/sources.sha256"))
        .expect("artifacts/sources.sha256 is committed");

    let mut on_disk = Vec::new();
    collect_sources(&contracts.join("src"), &contracts, &mut on_disk);
    on_disk.sort();
    let expected: Vec<String> = recorded.lines().map(str::to_owned).collect();

    let current: Vec<String> =
        on_disk.iter().map(|(rel, bytes)| format!("{}  {rel}", sha256_hex(bytes))).collect();
    assert_eq!(
        current, expected,
        "the Solidity sources changed since the artifacts were exported: run `make artifacts` and commit crates/contracts/artifacts"
    );
}

fn collect_sources(dir: &Path, base: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    for entry in fs::read_dir(dir).expect("contracts/src exists") {
        let path = entry.expect("readable entry").path();
        if path.is_dir() {
            collect_sources(&path, base, out);
        } else if path.extension().is_some_and(|e| e == "sol") {
            let rel = path.strip_prefix(base).expect("under base").to_string_lossy().replace('\\', "/");
            out.push((rel, fs::read(&path).expect("readable source")));
        }
    }
}
