//! Helpers shared by the integration tests: the RFC 6962 proof definitions
//! written directly over a list of leaf hashes (the reference the stored-hash
//! implementation is compared with), and a hash reader that counts reads.

use std::cell::Cell;

use truce_log::{Hash, HashReader, leaf_hash, root_from_leaf_hashes};

/// Leaf hashes of `count` distinct entries.
pub fn leaves(count: usize) -> Vec<Hash> {
    (0..count as u64)
        .map(|i| leaf_hash(&i.to_be_bytes()))
        .collect()
}

fn split(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// RFC 6962 §2.1.1 `PATH(m, D[n])`.
pub fn reference_inclusion(leaves: &[Hash], m: usize) -> Vec<Hash> {
    let n = leaves.len();
    if n == 1 {
        return Vec::new();
    }
    let k = split(n);
    if m < k {
        let mut path = reference_inclusion(&leaves[..k], m);
        path.push(root_from_leaf_hashes(&leaves[k..]));
        path
    } else {
        let mut path = reference_inclusion(&leaves[k..], m - k);
        path.push(root_from_leaf_hashes(&leaves[..k]));
        path
    }
}

/// RFC 6962 §2.1.2 `PROOF(m, D[n])` for `0 < m < n`.
pub fn reference_consistency(leaves: &[Hash], m: usize) -> Vec<Hash> {
    subproof(m, leaves, true)
}

fn subproof(m: usize, leaves: &[Hash], whole: bool) -> Vec<Hash> {
    let n = leaves.len();
    if m == n {
        return if whole {
            Vec::new()
        } else {
            vec![root_from_leaf_hashes(leaves)]
        };
    }
    let k = split(n);
    if m <= k {
        let mut proof = subproof(m, &leaves[..k], whole);
        proof.push(root_from_leaf_hashes(&leaves[k..]));
        proof
    } else {
        let mut proof = subproof(m - k, &leaves[k..], false);
        proof.push(root_from_leaf_hashes(&leaves[..k]));
        proof
    }
}

/// Wraps a reader and counts node reads.
pub struct CountingReader<R> {
    pub inner: R,
    pub reads: Cell<u64>,
}

impl<R: HashReader> CountingReader<R> {
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            reads: Cell::new(0),
        }
    }

    pub fn take_reads(&self) -> u64 {
        self.reads.replace(0)
    }
}

impl<R: HashReader> HashReader for CountingReader<R> {
    type Error = R::Error;

    fn node(&self, level: u8, index: u64) -> Result<Hash, R::Error> {
        self.reads.set(self.reads.get() + 1);
        self.inner.node(level, index)
    }
}

/// Returns `hash` with bit `bit` (0–255) flipped.
pub fn flip_bit(hash: &Hash, bit: usize) -> Hash {
    let mut bytes = hash.0;
    bytes[bit / 8] ^= 1 << (bit % 8);
    Hash(bytes)
}

/// Ceiling of log2 of `n` (0 for n ≤ 1).
pub fn ceil_log2(n: u64) -> u64 {
    if n <= 1 {
        0
    } else {
        u64::from(64 - (n - 1).leading_zeros())
    }
}
