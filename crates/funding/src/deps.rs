//! Building a funding graph from what a project really depends on: its `Cargo.lock`, the npm
//! lockfile of its tools, and the metadata of installed Python packages.
//!
//! The root is the project itself; its workspace crates are folded into it, so the root's
//! dependencies are the external crates the workspace uses directly, plus the top-level npm and
//! PyPI packages. Every package name is one node (all versions of a crate together); an edge is
//! "depends on". Edges that would close a cycle once versions are merged are dropped (the first
//! seen, in a depth-first walk from the root in name order, are kept), and packages the root
//! does not reach are left out.

use crate::{
    FundingError,
    graph::{Edge, Graph, Node, Signals},
};
use std::collections::{BTreeMap, BTreeSet};

/// A graph under construction: node ids and "depends on" pairs.
#[derive(Clone, Debug, Default)]
pub struct Builder {
    root: String,
    urls: BTreeMap<String, String>,
    edges: BTreeSet<(String, String)>,
}

impl Builder {
    /// A builder whose root is `root` (the project's name).
    pub fn new(root: &str) -> Self {
        Self { root: root.to_owned(), ..Self::default() }
    }

    fn node(&mut self, id: String, url: String) -> String {
        self.urls.entry(id.clone()).or_insert(url);
        id
    }

    fn edge(&mut self, from: String, to: String) {
        if from != to {
            self.edges.insert((from, to));
        }
    }

    /// Adds the packages of a `Cargo.lock`: packages without a `source` are the workspace (the
    /// root); the others are `crates.io/<name>` nodes.
    pub fn cargo_lock(&mut self, text: &str) -> Result<usize, FundingError> {
        #[derive(serde::Deserialize)]
        struct Lock {
            #[serde(default)]
            package: Vec<Package>,
        }
        #[derive(serde::Deserialize)]
        struct Package {
            name: String,
            source: Option<String>,
            #[serde(default)]
            dependencies: Vec<String>,
        }
        let lock: Lock = toml::from_str(text)
            .map_err(|e| FundingError::Source { file: "Cargo.lock".into(), reason: e.to_string() })?;
        let local: BTreeSet<&str> =
            lock.package.iter().filter(|p| p.source.is_none()).map(|p| p.name.as_str()).collect();
        let id = |this: &mut Self, name: &str| -> String {
            if local.contains(name) {
                this.root.clone()
            } else {
                this.node(format!("crates.io/{name}"), format!("https://crates.io/crates/{name}"))
            }
        };
        for p in &lock.package {
            let from = id(self, &p.name);
            for d in &p.dependencies {
                // "name", "name version" or "name version (source)".
                let name = d.split_whitespace().next().unwrap_or(d);
                let to = id(self, name);
                self.edge(from.clone(), to);
            }
        }
        Ok(lock.package.len())
    }

    /// Adds npm packages from a lockfile (v2/v3 `packages` map, as in
    /// `node_modules/.package-lock.json`); `top` are the packages the project installs itself.
    pub fn npm_lock(&mut self, text: &str, top: &[String]) -> Result<usize, FundingError> {
        let lock: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| FundingError::Source { file: "npm lockfile".into(), reason: e.to_string() })?;
        let packages =
            lock.get("packages").and_then(|p| p.as_object()).ok_or_else(|| FundingError::Source {
                file: "npm lockfile".into(),
                reason: "no `packages` map (lockfile v2 or v3 is needed)".into(),
            })?;
        let npm = |this: &mut Self, name: &str| {
            this.node(format!("npm/{name}"), format!("https://www.npmjs.com/package/{name}"))
        };
        for name in top {
            let to = npm(self, name);
            self.edge(self.root.clone(), to);
        }
        for (path, meta) in packages {
            let Some(name) = path.rsplit("node_modules/").next().filter(|n| !n.is_empty()) else { continue };
            let from = npm(self, name);
            for key in ["dependencies", "optionalDependencies", "peerDependencies"] {
                for dep in meta.get(key).and_then(|d| d.as_object()).into_iter().flat_map(|d| d.keys()) {
                    let to = npm(self, dep);
                    self.edge(from.clone(), to);
                }
            }
        }
        Ok(packages.len())
    }

    /// Adds installed Python packages from their `*.dist-info/METADATA` texts (`Name:` and the
    /// `Requires-Dist:` lines without an extra); `top` are the packages the project installs.
    pub fn python_metadata(&mut self, metadata: &[String], top: &[String]) -> usize {
        let norm = |n: &str| n.trim().to_ascii_lowercase().replace(['_', '.'], "-");
        let pypi = |this: &mut Self, name: &str| {
            this.node(format!("pypi/{name}"), format!("https://pypi.org/project/{name}"))
        };
        for name in top {
            let to = pypi(self, &norm(name));
            self.edge(self.root.clone(), to);
        }
        for text in metadata {
            let Some(name) = text.lines().find_map(|l| l.strip_prefix("Name:")).map(norm) else { continue };
            let from = pypi(self, &name);
            for req in text.lines().filter_map(|l| l.strip_prefix("Requires-Dist:")) {
                if req.contains("extra ==") || req.contains("extra==") {
                    continue;
                }
                let dep: String = req
                    .trim()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
                    .collect();
                if !dep.is_empty() {
                    let to = pypi(self, &norm(&dep));
                    self.edge(from.clone(), to);
                }
            }
        }
        metadata.len()
    }

    /// The graph: the root first, then every node the root reaches in name order, with the
    /// edges of a depth-first walk that would not close a cycle.
    pub fn build(&self, name: &str) -> Graph {
        let mut out: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (a, b) in &self.edges {
            out.entry(a.as_str()).or_default().push(b.as_str());
        }
        // Iterative DFS with colours: an edge to a node on the stack is a back edge, dropped.
        let mut state: BTreeMap<&str, u8> = BTreeMap::new(); // 1 on the stack, 2 done
        let mut kept: BTreeSet<(&str, &str)> = BTreeSet::new();
        let mut stack: Vec<(&str, usize)> = vec![(self.root.as_str(), 0)];
        state.insert(self.root.as_str(), 1);
        while let Some((u, i)) = stack.pop() {
            let next = out.get(u).and_then(|v| v.get(i)).copied();
            match next {
                None => {
                    state.insert(u, 2);
                }
                Some(v) => {
                    stack.push((u, i + 1));
                    match state.get(v) {
                        Some(1) => {} // back edge: would close a cycle
                        Some(_) => {
                            kept.insert((u, v));
                        }
                        None => {
                            kept.insert((u, v));
                            state.insert(v, 1);
                            stack.push((v, 0));
                        }
                    }
                }
            }
        }
        let mut ids: Vec<&str> = state.keys().copied().filter(|id| *id != self.root).collect();
        ids.sort_unstable();
        ids.insert(0, self.root.as_str());
        let index: BTreeMap<&str, u32> = ids.iter().enumerate().map(|(i, id)| (*id, i as u32)).collect();
        let mut edges: Vec<Edge> =
            kept.iter().map(|(a, b)| Edge { source: index[a], target: index[b] }).collect();
        edges.sort_by_key(|e| (e.source, e.target));
        // The signals: direct dependents, and the size of each package's dependency closure.
        let n = ids.len();
        let mut dependents = vec![0u32; n];
        let mut out_of = vec![Vec::new(); n];
        for e in &edges {
            dependents[e.target as usize] += 1;
            out_of[e.source as usize].push(e.target as usize);
        }
        let transitive: Vec<u32> = (0..n)
            .map(|start| {
                let mut seen = vec![false; n];
                let mut stack = out_of[start].clone();
                let mut count = 0u32;
                while let Some(v) = stack.pop() {
                    if !std::mem::replace(&mut seen[v], true) {
                        count += 1;
                        stack.extend_from_slice(&out_of[v]);
                    }
                }
                count
            })
            .collect();
        let nodes = ids
            .iter()
            .enumerate()
            .map(|(i, id)| Node {
                id: (*id).to_owned(),
                url: self.urls.get(*id).cloned(),
                recipient: None,
                signals: Some(Signals { dependents: dependents[i], transitive: transitive[i] }),
            })
            .collect();
        Graph { name: name.to_owned(), nodes, edges }
    }
}

/// The part of `graph` within `depth` edges of the root, keeping at most `max_children`
/// dependencies per node (those most depended on across the whole graph; ties by name). Nodes
/// stay in the same relative order; the result is a valid graph.
pub fn prune(graph: &Graph, depth: usize, max_children: usize) -> Graph {
    let mut indegree = vec![0usize; graph.nodes.len()];
    for e in &graph.edges {
        indegree[e.target as usize] += 1;
    }
    let children = graph.children();
    let mut level = vec![usize::MAX; graph.nodes.len()];
    level[0] = 0;
    let mut kept_edges = BTreeSet::new();
    let mut frontier = vec![0usize];
    for d in 0..depth {
        let mut next = Vec::new();
        for &u in &frontier {
            let mut out: Vec<usize> = children[u].clone();
            out.sort_by(|&a, &b| {
                let (ta, tb) = (graph.edges[a].target as usize, graph.edges[b].target as usize);
                indegree[tb].cmp(&indegree[ta]).then(graph.nodes[ta].id.cmp(&graph.nodes[tb].id))
            });
            for &e in out.iter().take(max_children) {
                let t = graph.edges[e].target as usize;
                kept_edges.insert(e);
                if level[t] == usize::MAX {
                    level[t] = d + 1;
                    next.push(t);
                }
            }
        }
        frontier = next;
    }
    let kept: Vec<usize> = (0..graph.nodes.len()).filter(|&i| level[i] != usize::MAX).collect();
    let index: BTreeMap<usize, u32> = kept.iter().enumerate().map(|(new, &old)| (old, new as u32)).collect();
    let mut edges: Vec<Edge> = kept_edges
        .iter()
        .map(|&e| Edge {
            source: index[&(graph.edges[e].source as usize)],
            target: index[&(graph.edges[e].target as usize)],
        })
        .collect();
    edges.sort_by_key(|e| (e.source, e.target));
    Graph { name: graph.name.clone(), nodes: kept.iter().map(|&i| graph.nodes[i].clone()).collect(), edges }
}
