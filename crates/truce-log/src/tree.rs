//! The append-only Merkle tree: stored complete-subtree hashes and the
//! frontier that appends without recomputing the tree.
//!
//! # Node addressing
//!
//! Node `(level L, index N)` is the root of the *perfect* subtree covering
//! leaves `[N·2^L, (N+1)·2^L)`. Level 0 nodes are leaf hashes. Such a node
//! exists (is "complete") in a tree of size `S` exactly when
//! `(N+1)·2^L ≤ S`, and its hash never changes once it exists, so a store
//! can persist it once and forever.
//!
//! The root of a tree whose size is not a power of two is not a stored node:
//! it is folded from the perfect subtrees along the right edge (one per set
//! bit of the size), which is what [`tree_root`] and [`Frontier::root`] do.

use crate::hash::{Hash, empty_root, node_hash};

/// Highest level a node can have: a perfect subtree of 2^63 leaves. Sizes are
/// `u64`, so no tree has a complete subtree of 2^64 leaves.
pub const MAX_LEVEL: u8 = 63;

/// Read access to stored complete-subtree hashes.
///
/// Implementations only need to return nodes that are complete in the tree
/// sizes they are asked about; proof generation never asks for anything else.
pub trait HashReader {
    /// Why a node could not be read (missing, I/O failure, corrupt tile, …).
    type Error: std::error::Error + Send + Sync + 'static;

    /// The hash of node `(level, index)`: the root of the perfect subtree over
    /// leaves `[index·2^level, (index+1)·2^level)`.
    fn node(&self, level: u8, index: u64) -> Result<Hash, Self::Error>;
}

impl<R: HashReader + ?Sized> HashReader for &R {
    type Error = R::Error;

    fn node(&self, level: u8, index: u64) -> Result<Hash, Self::Error> {
        (**self).node(level, index)
    }
}

/// A complete-subtree hash produced by an append, for a store to persist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredNode {
    /// Level of the node: 0 for a leaf hash.
    pub level: u8,
    /// Index of the node within its level.
    pub index: u64,
    /// The node's hash.
    pub hash: Hash,
}

/// The right edge of the tree: the roots of the perfect subtrees that make up
/// a tree of the current size, largest (leftmost) first.
///
/// Appending a leaf costs one leaf-level push plus one node hash per
/// subtree it completes (amortised one), and reports every newly complete
/// node so a store can persist it. The frontier itself holds at most 64
/// hashes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Frontier {
    size: u64,
    /// Roots of the perfect subtrees for the set bits of `size`, from the
    /// highest bit to the lowest.
    subtree_roots: Vec<Hash>,
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuilds the frontier of a tree of `size` leaves from stored hashes,
    /// reading one node per set bit of `size` (at most 64).
    pub fn from_reader<R: HashReader>(reader: &R, size: u64) -> Result<Self, R::Error> {
        let subtree_roots = right_edge(size)
            .map(|(level, index)| reader.node(level, index))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            size,
            subtree_roots,
        })
    }

    /// Number of leaves appended so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Roots of the perfect subtrees along the right edge, largest first.
    pub fn subtree_roots(&self) -> &[Hash] {
        &self.subtree_roots
    }

    /// Root hash of the tree at the current size.
    pub fn root(&self) -> Hash {
        fold_right_edge(&self.subtree_roots)
    }

    /// Appends a leaf hash and returns every node that became complete: the
    /// leaf itself at level 0, then each interior node it completed, lowest
    /// level first.
    pub fn append(&mut self, leaf_hash: Hash) -> Vec<StoredNode> {
        let mut completed = Vec::with_capacity(1 + self.size.trailing_ones() as usize);
        self.append_with(leaf_hash, |node| completed.push(node));
        completed
    }

    /// Like [`Frontier::append`], but hands each completed node to `persist`
    /// instead of allocating a vector: the leaf first, then interior nodes
    /// from the lowest level up.
    ///
    /// # Panics
    ///
    /// Panics if the tree already holds `u64::MAX` leaves.
    pub fn append_with(&mut self, leaf_hash: Hash, mut persist: impl FnMut(StoredNode)) {
        let leaf_index = self.size;
        let new_size = leaf_index
            .checked_add(1)
            .expect("a Merkle tree holds at most u64::MAX leaves");
        persist(StoredNode {
            level: 0,
            index: leaf_index,
            hash: leaf_hash,
        });
        let mut current = leaf_hash;
        // Each trailing one bit of the old size is a perfect subtree of the
        // same size as `current`, immediately to its left: merge them.
        for level in 1..=leaf_index.trailing_ones() as u8 {
            let left = self
                .subtree_roots
                .pop()
                .expect("one subtree root per set bit of the size");
            current = node_hash(&left, &current);
            persist(StoredNode {
                level,
                index: leaf_index >> level,
                hash: current,
            });
        }
        self.subtree_roots.push(current);
        self.size = new_size;
    }
}

/// The `(level, index)` of each perfect subtree on the right edge of a tree of
/// `size` leaves, largest (leftmost) first.
pub fn right_edge(size: u64) -> impl Iterator<Item = (u8, u64)> {
    let mut start: u64 = 0;
    (0..=MAX_LEVEL).rev().filter_map(move |level| {
        let width = 1u64 << level;
        if size & width == 0 {
            return None;
        }
        let node = (level, start >> level);
        start += width;
        Some(node)
    })
}

/// Folds perfect-subtree roots (largest first) into the root of the tree they
/// make up: the rightmost pair is combined first.
pub(crate) fn fold_right_edge(subtree_roots: &[Hash]) -> Hash {
    match subtree_roots.split_last() {
        None => empty_root(),
        Some((last, rest)) => rest
            .iter()
            .rev()
            .fold(*last, |right, left| node_hash(left, &right)),
    }
}

/// Root hash of the tree of `size` leaves, read from stored complete-subtree
/// hashes with one node read per set bit of `size`.
pub fn tree_root<R: HashReader>(reader: &R, size: u64) -> Result<Hash, R::Error> {
    Ok(Frontier::from_reader(reader, size)?.root())
}

/// Root hash of the tree over `leaf_hashes`, computed from scratch in O(n).
///
/// This is the RFC 6962 §2.1 definition written directly; it is the reference
/// the incremental code is tested against and is handy for small trees.
pub fn root_from_leaf_hashes(leaf_hashes: &[Hash]) -> Hash {
    match leaf_hashes.len() {
        0 => empty_root(),
        1 => leaf_hashes[0],
        n => {
            let split = largest_power_of_two_below(n as u64) as usize;
            node_hash(
                &root_from_leaf_hashes(&leaf_hashes[..split]),
                &root_from_leaf_hashes(&leaf_hashes[split..]),
            )
        }
    }
}

/// The largest power of two strictly below `n` (RFC 6962's `k`), for `n ≥ 2`.
pub(crate) fn largest_power_of_two_below(n: u64) -> u64 {
    debug_assert!(n >= 2, "no power of two is strictly below {n} in a split");
    1u64 << (63 - (n - 1).leading_zeros())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;

    #[test]
    fn largest_power_of_two_below_matches_definition() {
        for n in 2u64..1000 {
            let k = largest_power_of_two_below(n);
            assert!(k.is_power_of_two());
            assert!(k < n && n <= 2 * k, "n={n} k={k}");
        }
        assert_eq!(largest_power_of_two_below(u64::MAX), 1 << 63);
    }

    #[test]
    fn right_edge_lists_one_subtree_per_set_bit() {
        assert_eq!(right_edge(0).count(), 0);
        assert_eq!(
            right_edge(7).collect::<Vec<_>>(),
            vec![(2, 0), (1, 2), (0, 6)]
        );
        assert_eq!(right_edge(8).collect::<Vec<_>>(), vec![(3, 0)]);
        assert_eq!(
            right_edge(13).collect::<Vec<_>>(),
            vec![(3, 0), (2, 2), (0, 12)]
        );
    }

    #[test]
    fn frontier_reports_every_completed_node() {
        let mut frontier = Frontier::new();
        let leaves: Vec<Hash> = (0u32..4).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        assert_eq!(frontier.append(leaves[0]).len(), 1);
        let second = frontier.append(leaves[1]);
        assert_eq!(
            second,
            vec![
                StoredNode {
                    level: 0,
                    index: 1,
                    hash: leaves[1]
                },
                StoredNode {
                    level: 1,
                    index: 0,
                    hash: node_hash(&leaves[0], &leaves[1])
                },
            ]
        );
        assert_eq!(frontier.append(leaves[2]).len(), 1);
        let fourth = frontier.append(leaves[3]);
        assert_eq!(
            fourth
                .iter()
                .map(|n| (n.level, n.index))
                .collect::<Vec<_>>(),
            vec![(0, 3), (1, 1), (2, 0)]
        );
        assert_eq!(fourth[2].hash, root_from_leaf_hashes(&leaves));
        assert_eq!(frontier.subtree_roots().len(), 1);
        assert_eq!(frontier.size(), 4);
    }

    #[test]
    fn frontier_root_matches_reference_for_every_size() {
        let leaves: Vec<Hash> = (0u32..300).map(|i| leaf_hash(&i.to_le_bytes())).collect();
        let mut frontier = Frontier::new();
        assert_eq!(frontier.root(), empty_root());
        for (count, leaf) in leaves.iter().enumerate() {
            frontier.append(*leaf);
            assert_eq!(
                frontier.root(),
                root_from_leaf_hashes(&leaves[..=count]),
                "size {}",
                count + 1
            );
            assert_eq!(
                frontier.subtree_roots().len() as u32,
                frontier.size().count_ones()
            );
        }
    }
}
