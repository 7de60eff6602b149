//! A pool's Merkle tree, rebuilt from the contract's deposit events.

use rln::prelude::{Fr, PoseidonHash, RLNMerkleProof};
use zerokit_utils::merkle_tree::{OptimalMerkleTree, ZerokitMerkleTree};

use crate::{Error, pool::TREE_DEPTH};

/// The leaves of one pool in deposit order, and their root.
pub struct PoolTree {
    tree: OptimalMerkleTree<PoseidonHash>,
}

impl std::fmt::Debug for PoolTree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolTree").field("leaves", &self.len()).finish()
    }
}

impl Default for PoolTree {
    fn default() -> Self {
        Self::new()
    }
}

impl PoolTree {
    /// An empty tree (zero leaves, as the contract starts).
    pub fn new() -> Self {
        Self { tree: OptimalMerkleTree::default(TREE_DEPTH).expect("depth 20 is supported") }
    }

    /// A tree holding `leaves` at indices 0, 1, ….
    pub fn from_leaves(leaves: impl IntoIterator<Item = Fr>) -> Result<Self, Error> {
        let mut tree = Self::new();
        for leaf in leaves {
            tree.push(leaf)?;
        }
        Ok(tree)
    }

    /// Appends a leaf at the next index.
    pub fn push(&mut self, leaf: Fr) -> Result<(), Error> {
        self.tree.update_next(leaf).map_err(|e| Error::Tree(e.to_string()))
    }

    /// How many leaves are set.
    pub fn len(&self) -> usize {
        self.tree.leaves_set()
    }

    /// Whether no leaf is set.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The root over all leaves (zero leaves beyond them).
    pub fn root(&self) -> Fr {
        self.tree.root()
    }

    /// The leaf at `index`.
    pub fn leaf(&self, index: usize) -> Option<Fr> {
        (index < self.len()).then(|| self.tree.get(index).ok()).flatten()
    }

    /// The index of `leaf`, if it is in the tree.
    pub fn position(&self, leaf: Fr) -> Option<usize> {
        (0..self.len()).find(|&i| self.tree.get(i).ok() == Some(leaf))
    }

    /// The path from leaf `index` to the root, as the circuits take it.
    pub fn path(&self, index: usize) -> Result<RLNMerkleProof, Error> {
        if index >= self.len() {
            return Err(Error::Tree(format!("leaf {index} is not in the pool's tree of {}", self.len())));
        }
        let proof = self.tree.proof(index).map_err(|e| Error::Tree(e.to_string()))?;
        Ok(RLNMerkleProof::from(&proof))
    }
}
