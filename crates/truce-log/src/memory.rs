//! An in-memory hash store holding every complete-subtree hash.
//!
//! [`MemoryLog`] is the reference [`HashReader`]: a persistent store does the
//! same with the [`StoredNode`](crate::StoredNode)s that
//! [`Frontier::append`] reports. It stores about two hashes (64 bytes) per
//! leaf: `n` leaf hashes plus `n/2 + n/4 + … < n` interior nodes.

use crate::hash::{Hash, leaf_hash};
use crate::proof::{ProofError, consistency_proof, inclusion_proof};
use crate::tree::{Frontier, HashReader, tree_root};

/// A node was requested that the store does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "node at level {level}, index {index} is not stored: it is not complete in a log of {log_size} leaves"
)]
pub struct MissingNode {
    /// Requested level.
    pub level: u8,
    /// Requested index within the level.
    pub index: u64,
    /// Number of leaves the log holds.
    pub log_size: u64,
}

/// An append-only Merkle tree held in memory, with all complete-subtree
/// hashes stored so that roots and proofs for any past size cost `O(log n)`
/// node reads.
#[derive(Debug, Clone, Default)]
pub struct MemoryLog {
    /// `levels[L][N]` is node `(L, N)`.
    levels: Vec<Vec<Hash>>,
    frontier: Frontier,
}

impl MemoryLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty log with room for `leaf_count` leaves without reallocating.
    pub fn with_capacity(leaf_count: u64) -> Self {
        let mut levels = Vec::new();
        let mut width = leaf_count;
        while width > 0 {
            levels.push(Vec::with_capacity(
                usize::try_from(width).expect("capacity must fit in memory"),
            ));
            width /= 2;
        }
        Self {
            levels,
            frontier: Frontier::new(),
        }
    }

    /// Appends an entry (hashing it as an RFC 6962 leaf) and returns its index.
    pub fn append_entry(&mut self, entry: &[u8]) -> u64 {
        self.append_leaf_hash(leaf_hash(entry))
    }

    /// Appends an already computed leaf hash and returns its index.
    pub fn append_leaf_hash(&mut self, leaf_hash: Hash) -> u64 {
        let index = self.frontier.size();
        let levels = &mut self.levels;
        self.frontier.append_with(leaf_hash, |node| {
            let level = usize::from(node.level);
            if levels.len() <= level {
                levels.resize_with(level + 1, Vec::new);
            }
            debug_assert_eq!(levels[level].len() as u64, node.index);
            levels[level].push(node.hash);
        });
        index
    }

    /// Number of leaves in the log.
    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    /// Root hash at the current size.
    pub fn root(&self) -> Hash {
        self.frontier.root()
    }

    /// The frontier at the current size.
    pub fn frontier(&self) -> &Frontier {
        &self.frontier
    }

    /// Root hash of the tree as it was at `size` leaves.
    pub fn root_at(&self, size: u64) -> Result<Hash, MissingNode> {
        tree_root(self, size)
    }

    /// Inclusion proof of leaf `index` in the tree of `size` leaves.
    pub fn inclusion_proof(
        &self,
        index: u64,
        size: u64,
    ) -> Result<Vec<Hash>, ProofError<MissingNode>> {
        inclusion_proof(self, index, size)
    }

    /// Consistency proof from the tree of `old_size` leaves to the tree of
    /// `new_size` leaves.
    pub fn consistency_proof(
        &self,
        old_size: u64,
        new_size: u64,
    ) -> Result<Vec<Hash>, ProofError<MissingNode>> {
        consistency_proof(self, old_size, new_size)
    }

    /// Number of complete-subtree hashes stored (leaf hashes included).
    pub fn stored_hash_count(&self) -> u64 {
        self.levels.iter().map(|level| level.len() as u64).sum()
    }
}

impl HashReader for MemoryLog {
    type Error = MissingNode;

    fn node(&self, level: u8, index: u64) -> Result<Hash, MissingNode> {
        self.levels
            .get(usize::from(level))
            .and_then(|nodes| nodes.get(usize::try_from(index).ok()?))
            .copied()
            .ok_or(MissingNode {
                level,
                index,
                log_size: self.size(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::root_from_leaf_hashes;

    #[test]
    fn stores_every_complete_subtree_and_nothing_else() {
        let mut log = MemoryLog::with_capacity(6);
        let leaves: Vec<Hash> = (0u8..6).map(|i| leaf_hash(&[i])).collect();
        for leaf in &leaves {
            log.append_leaf_hash(*leaf);
        }
        // 6 leaves, 3 level-1 nodes, 1 level-2 node.
        assert_eq!(log.stored_hash_count(), 10);
        assert_eq!(log.node(2, 0), Ok(root_from_leaf_hashes(&leaves[..4])));
        assert_eq!(log.node(1, 2), Ok(root_from_leaf_hashes(&leaves[4..6])));
        assert_eq!(
            log.node(2, 1),
            Err(MissingNode {
                level: 2,
                index: 1,
                log_size: 6
            })
        );
        assert_eq!(log.root(), root_from_leaf_hashes(&leaves));
        assert_eq!(log.root_at(5), Ok(root_from_leaf_hashes(&leaves[..5])));
        assert!(log.root_at(7).is_err());
    }

    #[test]
    fn proofs_beyond_the_log_report_the_missing_node() {
        let mut log = MemoryLog::new();
        for i in 0u8..3 {
            log.append_entry(&[i]);
        }
        let error = log.inclusion_proof(0, 4).unwrap_err();
        assert!(matches!(error, ProofError::Read(MissingNode { .. })));
        assert!(error.to_string().contains("log of 3 leaves"), "{error}");
    }
}
