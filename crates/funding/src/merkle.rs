//! The payout tree: a Merkle tree over `(index, account, amount)` leaves that OpenZeppelin's
//! `MerkleProof.verify` accepts (the `StandardMerkleTree` leaf: `keccak256(keccak256(abi.encode(
//! index, account, amount)))`, pairs hashed in sorted order).

use alloy::primitives::{Address, B256, U256, keccak256};
use serde::{Deserialize, Serialize};

/// One payout: `amount` token units to `account` (the zero address: not claimable until the
/// funder sweeps it back).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leaf {
    /// The leaf's index (its claim bit on chain).
    pub index: u64,
    /// Who is paid.
    pub account: Address,
    /// Token units (dUSD has 6 decimals), as a decimal string in JSON.
    #[serde(with = "crate::serde_u128")]
    pub amount: u128,
    /// What the payout is for: `solver 0x…` or a node id.
    pub label: String,
}

impl Leaf {
    /// The leaf hash the contract recomputes.
    pub fn hash(&self) -> B256 {
        let mut enc = [0u8; 96];
        enc[..32].copy_from_slice(&U256::from(self.index).to_be_bytes::<32>());
        enc[44..64].copy_from_slice(self.account.as_slice());
        enc[64..].copy_from_slice(&U256::from(self.amount).to_be_bytes::<32>());
        keccak256(keccak256(enc))
    }
}

fn pair(a: B256, b: B256) -> B256 {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    let mut buf = [0u8; 64];
    buf[..32].copy_from_slice(lo.as_slice());
    buf[32..].copy_from_slice(hi.as_slice());
    keccak256(buf)
}

/// A built tree: its levels, from the sorted leaf hashes up to the root.
#[derive(Clone, Debug)]
pub struct Tree {
    levels: Vec<Vec<B256>>,
}

impl Tree {
    /// Builds the tree over the leaves' hashes (sorted, so the root does not depend on order).
    pub fn new(leaves: &[Leaf]) -> Self {
        let mut level: Vec<B256> = leaves.iter().map(Leaf::hash).collect();
        level.sort_unstable();
        let mut levels = vec![level];
        while levels.last().is_some_and(|l| l.len() > 1) {
            let below = levels.last().map(Vec::as_slice).unwrap_or_default();
            let up = below.chunks(2).map(|c| if c.len() == 2 { pair(c[0], c[1]) } else { c[0] }).collect();
            levels.push(up);
        }
        Self { levels }
    }

    /// The root (zero for no leaves).
    pub fn root(&self) -> B256 {
        self.levels.last().and_then(|l| l.first()).copied().unwrap_or_default()
    }

    /// The proof of a leaf: its siblings from the bottom up (`None` if it is not in the tree).
    pub fn proof(&self, leaf: &Leaf) -> Option<Vec<B256>> {
        let mut i = self.levels.first()?.binary_search(&leaf.hash()).ok()?;
        let mut proof = Vec::new();
        for level in &self.levels[..self.levels.len() - 1] {
            let sibling = i ^ 1;
            if let Some(h) = level.get(sibling) {
                proof.push(*h);
            }
            i /= 2;
        }
        Some(proof)
    }
}

/// What `MerkleProof.verify` computes.
pub fn verify(root: B256, leaf: &Leaf, proof: &[B256]) -> bool {
    proof.iter().fold(leaf.hash(), |h, p| pair(h, *p)) == root
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: u64) -> Vec<Leaf> {
        (0..n)
            .map(|i| Leaf {
                index: i,
                account: Address::with_last_byte(i as u8 + 1),
                amount: 1000 + u128::from(i),
                label: format!("{i}"),
            })
            .collect()
    }

    #[test]
    fn every_leaf_proves_and_a_changed_amount_does_not() {
        for n in 1..=9 {
            let all = leaves(n);
            let tree = Tree::new(&all);
            for leaf in &all {
                let proof = tree.proof(leaf).expect("in the tree");
                assert!(verify(tree.root(), leaf, &proof), "{n} leaves, leaf {}", leaf.index);
                let forged = Leaf { amount: leaf.amount + 1, ..leaf.clone() };
                assert!(!verify(tree.root(), &forged, &proof));
            }
        }
    }

    #[test]
    fn the_leaf_is_openzeppelins_standard_leaf() {
        // keccak256(bytes.concat(keccak256(abi.encode(uint256(1), address(0x…01), uint256(5)))))
        let leaf = Leaf { index: 1, account: Address::with_last_byte(1), amount: 5, label: String::new() };
        let inner = keccak256(
            [
                U256::from(1).to_be_bytes::<32>(),
                U256::from(1).to_be_bytes::<32>(),
                U256::from(5).to_be_bytes::<32>(),
            ]
            .concat(),
        );
        assert_eq!(leaf.hash(), keccak256(inner));
    }
}
