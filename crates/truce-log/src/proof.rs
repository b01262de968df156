//! Inclusion and consistency proofs: generation from stored complete-subtree
//! hashes (RFC 6962 §2.1.1 `PATH` and §2.1.2 `SUBPROOF`) and verification
//! (RFC 9162 §2.1.3.2 and §2.1.4.2).
//!
//! A proof is a list of hashes. An inclusion proof is ordered from the leaf's
//! sibling up to the child of the root; a consistency proof is in RFC 6962
//! `SUBPROOF` order. Generation reads `O(log n)` stored nodes: every proof
//! element is a stored perfect-subtree node, except at most one that covers
//! an incomplete right edge and is folded from at most 64 stored nodes.

use crate::hash::{Hash, node_hash};
use crate::tree::{HashReader, fold_right_edge, largest_power_of_two_below};

/// A proof could not be generated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError<E> {
    /// The leaf index is not below the tree size.
    #[error("leaf index {index} is not in a tree of size {size}")]
    LeafIndexOutOfRange {
        /// Requested leaf index.
        index: u64,
        /// Tree size the proof was requested for.
        size: u64,
    },
    /// A consistency proof was requested from a larger to a smaller tree.
    #[error("old tree size {old_size} is larger than new tree size {new_size}")]
    SizesOutOfOrder {
        /// Requested old (smaller) tree size.
        old_size: u64,
        /// Requested new (larger) tree size.
        new_size: u64,
    },
    /// The hash store failed to return a node the proof needs.
    #[error("could not read a stored tree hash: {0}")]
    Read(E),
}

/// A proof did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The leaf index is not below the tree size.
    #[error("leaf index {index} is not in a tree of size {size}")]
    LeafIndexOutOfRange {
        /// Claimed leaf index.
        index: u64,
        /// Claimed tree size.
        size: u64,
    },
    /// The old tree is larger than the new one.
    #[error("old tree size {old_size} is larger than new tree size {new_size}")]
    SizesOutOfOrder {
        /// Claimed old tree size.
        old_size: u64,
        /// Claimed new tree size.
        new_size: u64,
    },
    /// The proof does not have the number of hashes the sizes require.
    #[error("proof has {actual} hashes, but a proof for these sizes has {expected}")]
    WrongProofLength {
        /// Number of hashes the proof must have.
        expected: usize,
        /// Number of hashes the proof has.
        actual: usize,
    },
    /// An inclusion proof leads to a different root than the expected one.
    #[error("inclusion proof leads to root {computed}, expected {expected}")]
    RootMismatch {
        /// Root computed from the leaf and the proof.
        computed: Hash,
        /// Root the caller expected (e.g. from a checkpoint).
        expected: Hash,
    },
    /// A consistency proof does not lead to the old tree's root.
    #[error("consistency proof leads to old root {computed}, expected {expected}")]
    OldRootMismatch {
        /// Old root computed from the proof.
        computed: Hash,
        /// Old root the caller expected.
        expected: Hash,
    },
    /// A consistency proof does not lead to the new tree's root.
    #[error("consistency proof leads to new root {computed}, expected {expected}")]
    NewRootMismatch {
        /// New root computed from the proof.
        computed: Hash,
        /// New root the caller expected.
        expected: Hash,
    },
    /// Two trees of the same size have different roots: they cannot both be
    /// views of one append-only log.
    #[error("two trees of size {size} have different roots {old_root} and {new_root}")]
    DifferentRootsAtSameSize {
        /// The common tree size.
        size: u64,
        /// Root of the first tree.
        old_root: Hash,
        /// Root of the second tree.
        new_root: Hash,
    },
}

/// Generates the inclusion proof of leaf `index` in the tree of `size` leaves.
pub fn inclusion_proof<R: HashReader>(
    reader: &R,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, ProofError<R::Error>> {
    if index >= size {
        return Err(ProofError::LeafIndexOutOfRange { index, size });
    }
    let mut proof = Vec::with_capacity(inclusion_proof_length(index, size));
    inclusion_path(reader, index, 1, 0, size, &mut proof).map_err(ProofError::Read)?;
    Ok(proof)
}

/// The inclusion proof of the complete node `(level, index)` in the tree of
/// `size` leaves: the inclusion proof of its first leaf without the `level`
/// hashes inside the node's subtree. It verifies with
/// [`root_from_inclusion_proof`] using the node hash as leaf hash, `index`
/// as index, and `((size - 1) >> level) + 1` as size.
pub(crate) fn node_inclusion_proof<R: HashReader>(
    reader: &R,
    level: u8,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, R::Error> {
    let mut proof = Vec::new();
    inclusion_path(reader, index << level, 1 << level, 0, size, &mut proof)?;
    Ok(proof)
}

/// Generates the consistency proof from the tree of `old_size` leaves to the
/// tree of `new_size` leaves. It is empty when `old_size` is 0 or equal to
/// `new_size`.
pub fn consistency_proof<R: HashReader>(
    reader: &R,
    old_size: u64,
    new_size: u64,
) -> Result<Vec<Hash>, ProofError<R::Error>> {
    if old_size > new_size {
        return Err(ProofError::SizesOutOfOrder { old_size, new_size });
    }
    let mut proof = Vec::new();
    if old_size != 0 && old_size != new_size {
        proof.reserve(consistency_proof_length(old_size, new_size));
        subproof(reader, old_size, 0, new_size, true, &mut proof).map_err(ProofError::Read)?;
    }
    Ok(proof)
}

/// RFC 6962 `PATH(index, D[start:end])`, appended to `out` leaf-side first,
/// stopping at the aligned perfect subtree of `target_width` leaves that
/// contains `index` (1 for a leaf's full path). The recursion only ever
/// splits at multiples of powers of two at least `target_width`, so it
/// reaches that subtree exactly.
fn inclusion_path<R: HashReader>(
    reader: &R,
    index: u64,
    target_width: u64,
    start: u64,
    end: u64,
    out: &mut Vec<Hash>,
) -> Result<(), R::Error> {
    if end - start == target_width {
        return Ok(());
    }
    let middle = start + largest_power_of_two_below(end - start);
    if index < middle {
        inclusion_path(reader, index, target_width, start, middle, out)?;
        out.push(range_hash(reader, middle, end)?);
    } else {
        inclusion_path(reader, index, target_width, middle, end, out)?;
        out.push(range_hash(reader, start, middle)?);
    }
    Ok(())
}

/// RFC 6962 `SUBPROOF(old_size - start, D[start:end], whole)`.
fn subproof<R: HashReader>(
    reader: &R,
    old_size: u64,
    start: u64,
    end: u64,
    whole: bool,
    out: &mut Vec<Hash>,
) -> Result<(), R::Error> {
    if old_size == end {
        if !whole {
            out.push(range_hash(reader, start, end)?);
        }
        return Ok(());
    }
    let middle = start + largest_power_of_two_below(end - start);
    if old_size <= middle {
        subproof(reader, old_size, start, middle, whole, out)?;
        out.push(range_hash(reader, middle, end)?);
    } else {
        subproof(reader, old_size, middle, end, false, out)?;
        out.push(range_hash(reader, start, middle)?);
    }
    Ok(())
}

/// `MTH(D[start:end])` for a range that the RFC recursion produces: `start`
/// is a multiple of a power of two at least `end - start`, so the range is a
/// sequence of aligned perfect subtrees of decreasing size (one per set bit of
/// its length), each a stored node.
fn range_hash<R: HashReader>(reader: &R, start: u64, end: u64) -> Result<Hash, R::Error> {
    let length = end - start;
    let mut subtree_roots = Vec::with_capacity(length.count_ones() as usize);
    let mut position = start;
    for level in (0..u64::BITS as u8).rev() {
        let width = 1u64 << level;
        if length & width != 0 {
            debug_assert_eq!(position % width, 0, "subtree must be aligned");
            subtree_roots.push(reader.node(level, position >> level)?);
            position += width;
        }
    }
    Ok(fold_right_edge(&subtree_roots))
}

/// Number of hashes in the inclusion proof of leaf `index` in a tree of
/// `size` leaves (`index < size`).
pub fn inclusion_proof_length(index: u64, size: u64) -> usize {
    let (inner, border) = split_inclusion_path(index, size);
    (inner + border) as usize
}

/// Number of hashes in the consistency proof from `old_size` to `new_size`.
pub fn consistency_proof_length(old_size: u64, new_size: u64) -> usize {
    if old_size == 0 || old_size >= new_size {
        return 0;
    }
    let (inner, border) = split_inclusion_path(old_size - 1, new_size);
    let inner = inner - old_size.trailing_zeros();
    // The proof starts with the old tree's rightmost perfect subtree root,
    // unless the old tree is itself a perfect subtree whose root the verifier
    // already has.
    let seed = u32::from(!old_size.is_power_of_two());
    (seed + inner + border) as usize
}

/// Splits the path from leaf `index` to the root of a tree of `size` leaves
/// into the part below the point where it meets the right edge (`inner`:
/// levels where the sibling is a perfect subtree chosen by `index`) and the
/// part along the right edge (`border`: one per left sibling there).
fn split_inclusion_path(index: u64, size: u64) -> (u32, u32) {
    let inner = u64::BITS - (index ^ (size - 1)).leading_zeros();
    let border = index.checked_shr(inner).unwrap_or(0).count_ones();
    (inner, border)
}

/// Computes the root implied by an inclusion proof, following RFC 9162
/// §2.1.3.2 step by step.
pub fn root_from_inclusion_proof(
    leaf_hash: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
) -> Result<Hash, VerifyError> {
    if index >= size {
        return Err(VerifyError::LeafIndexOutOfRange { index, size });
    }
    let wrong_length = || VerifyError::WrongProofLength {
        expected: inclusion_proof_length(index, size),
        actual: proof.len(),
    };
    let mut f = index;
    let mut s = size - 1;
    let mut r = *leaf_hash;
    for p in proof {
        if s == 0 {
            return Err(wrong_length());
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(wrong_length());
    }
    Ok(r)
}

/// Verifies that `leaf_hash` is leaf `index` of the tree of `size` leaves
/// whose root is `root` (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    leaf_hash: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), VerifyError> {
    let computed = root_from_inclusion_proof(leaf_hash, index, size, proof)?;
    if computed != *root {
        return Err(VerifyError::RootMismatch {
            computed,
            expected: *root,
        });
    }
    Ok(())
}

/// Verifies that the tree of `old_size` leaves with root `old_root` is a
/// prefix of the tree of `new_size` leaves with root `new_root`
/// (RFC 9162 §2.1.4.2).
///
/// Equal sizes need an empty proof and equal roots; an old size of 0 needs an
/// empty proof and is consistent with everything.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), VerifyError> {
    if old_size > new_size {
        return Err(VerifyError::SizesOutOfOrder { old_size, new_size });
    }
    let wrong_length = || VerifyError::WrongProofLength {
        expected: consistency_proof_length(old_size, new_size),
        actual: proof.len(),
    };
    if old_size == new_size || old_size == 0 {
        if !proof.is_empty() {
            return Err(wrong_length());
        }
        if old_size == new_size && old_root != new_root {
            return Err(VerifyError::DifferentRootsAtSameSize {
                size: old_size,
                old_root: *old_root,
                new_root: *new_root,
            });
        }
        return Ok(());
    }
    // Step 1: a non-trivial proof is never empty.
    let Some((first, rest)) = proof.split_first() else {
        return Err(wrong_length());
    };
    // Step 2: if the old tree is a perfect subtree, its root is the seed.
    let (seed, path) = if old_size.is_power_of_two() {
        (old_root, proof)
    } else {
        (first, rest)
    };
    // Steps 3 and 4.
    let mut f = old_size - 1;
    let mut s = new_size - 1;
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    // Step 5.
    let mut fr = *seed;
    let mut sr = *seed;
    // Step 6.
    for c in path {
        if s == 0 {
            return Err(wrong_length());
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    // Step 7.
    if s != 0 {
        return Err(wrong_length());
    }
    if fr != *old_root {
        return Err(VerifyError::OldRootMismatch {
            computed: fr,
            expected: *old_root,
        });
    }
    if sr != *new_root {
        return Err(VerifyError::NewRootMismatch {
            computed: sr,
            expected: *new_root,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::memory::MemoryLog;

    #[test]
    fn node_inclusion_proofs_lead_to_the_root() {
        let mut log = MemoryLog::new();
        for size in 1u64..=130 {
            log.append_entry(&size.to_be_bytes());
            let root = log.root();
            for level in 0u8..8 {
                for index in 0..(size >> level) {
                    let node = log.node(level, index).unwrap();
                    let proof = node_inclusion_proof(&log, level, index, size).unwrap();
                    let node_tree_size = ((size - 1) >> level) + 1;
                    assert_eq!(
                        root_from_inclusion_proof(&node, index, node_tree_size, &proof),
                        Ok(root),
                        "node ({level}, {index}) in {size}"
                    );
                    let full = inclusion_proof(&log, index << level, size).unwrap();
                    assert_eq!(proof, full[usize::from(level)..]);
                }
            }
        }
    }

    #[test]
    fn proof_lengths_match_known_shapes() {
        // Shapes from the RFC 6962 example tree of 7 leaves.
        assert_eq!(inclusion_proof_length(0, 1), 0);
        assert_eq!(inclusion_proof_length(0, 7), 3);
        assert_eq!(inclusion_proof_length(6, 7), 2);
        assert_eq!(inclusion_proof_length(4, 7), 3);
        assert_eq!(consistency_proof_length(3, 7), 4);
        assert_eq!(consistency_proof_length(4, 7), 1);
        assert_eq!(consistency_proof_length(6, 7), 3);
        assert_eq!(consistency_proof_length(7, 7), 0);
        assert_eq!(consistency_proof_length(0, 7), 0);
        // The last leaf of the largest tree combines with the 63 other right-edge subtrees.
        assert_eq!(inclusion_proof_length(u64::MAX - 1, u64::MAX), 63);
    }
}
