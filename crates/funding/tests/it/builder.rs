//! The graph builder over real lockfiles: this repository's own `Cargo.lock`.

use agora_funding::{
    deps::{Builder, prune},
    solve::baseline,
};

#[test]
fn this_repository_s_cargo_lock_becomes_a_valid_acyclic_graph() {
    let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.lock")).unwrap();
    let mut b = Builder::new("agora");
    let packages = b.cargo_lock(&lock).unwrap();
    assert!(packages > 100);
    let g = b.build("agora dependencies");
    assert_eq!(g.nodes[0].id, "agora");
    g.validate().unwrap();
    let id = |name: &str| g.nodes.iter().position(|n| n.id == name).unwrap() as u32;
    // Real edges: the workspace uses alloy and serde directly; alloy-primitives uses ruint.
    let has = |a: u32, b: u32| g.edges.iter().any(|e| e.source == a && e.target == b);
    assert!(has(0, id("crates.io/serde")));
    assert!(has(id("crates.io/alloy-primitives"), id("crates.io/ruint")));
    // No workspace crate is a node of its own: they are the root.
    assert!(g.nodes.iter().all(|n| !n.id.contains("agora-")));
    let w = baseline(&g);
    g.check_weights(&w).unwrap();
    // Pruned to the direct dependencies and theirs, at most 8 each: still valid, smaller.
    let small = prune(&g, 2, 8);
    small.validate().unwrap();
    assert!(small.children()[0].len() <= 8 && small.nodes.len() < g.nodes.len());
    assert!(small.children().iter().all(|c| c.len() <= 8));
    assert_eq!(small.nodes[0].id, "agora");
}

#[test]
fn npm_and_python_packages_join_the_same_root() {
    let mut b = Builder::new("agora");
    let npm = r#"{"lockfileVersion":3,"packages":{
        "":{"dependencies":{"viem":"^2"}},
        "node_modules/viem":{"version":"2.0.0","dependencies":{"ox":"0.1","abitype":"1"}},
        "node_modules/ox":{"version":"0.1.0","dependencies":{"abitype":"1"}},
        "node_modules/abitype":{"version":"1.0.0","peerDependencies":{"typescript":"5"}}}}"#;
    b.npm_lock(npm, &["viem".into()]).unwrap();
    let meta = "Metadata-Version: 2.1\nName: openai\nRequires-Dist: httpx<1,>=0.23.0\nRequires-Dist: pydantic (>=1.9)\nRequires-Dist: numpy; extra == \"datalib\"\n".to_owned();
    b.python_metadata(&[meta], &["openai".into()]);
    let g = b.build("tools");
    g.validate().unwrap();
    let ids: Vec<&str> = g.nodes.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "agora",
            "npm/abitype",
            "npm/ox",
            "npm/typescript",
            "npm/viem",
            "pypi/httpx",
            "pypi/openai",
            "pypi/pydantic"
        ]
    );
    assert!(!ids.contains(&"pypi/numpy"), "an extra's requirement is not a dependency");
    assert!(b.npm_lock("{}", &[]).unwrap_err().to_string().contains("packages"));
}
