//! Proof generation against the RFC 6962 definitions, verification for every
//! small tree, the `O(log n)` read bound, and tamper detection.

use std::sync::OnceLock;

use proptest::prelude::*;
use truce_log::{
    Frontier, Hash, MemoryLog, ProofError, VerifyError, consistency_proof, inclusion_proof,
    root_from_leaf_hashes, verify_consistency, verify_inclusion,
};

use crate::common::{
    CountingReader, ceil_log2, flip_bit, leaves, reference_consistency, reference_inclusion,
};

/// Largest tree size checked exhaustively against the reference definitions
/// (each reference proof costs O(n) hashes).
const REFERENCE_MAX_SIZE: u64 = 128;

/// Largest tree size for which every proof is generated and verified.
const EXHAUSTIVE_MAX_SIZE: u64 = 300;

/// Largest tree size for exhaustive bit flipping (every bit of every hash).
const BIT_FLIP_MAX_SIZE: u64 = 12;

/// Largest tree size the property tests draw.
const PROPERTY_MAX_SIZE: u64 = 700;

struct Fixture {
    leaves: Vec<Hash>,
    log: MemoryLog,
    roots: Vec<Hash>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let leaves = leaves(PROPERTY_MAX_SIZE as usize);
        let mut log = MemoryLog::new();
        let mut roots = vec![log.root()];
        for leaf in &leaves {
            log.append_leaf_hash(*leaf);
            roots.push(log.root());
        }
        Fixture { leaves, log, roots }
    })
}

#[test]
fn generated_proofs_equal_the_rfc_6962_definitions() {
    let f = fixture();
    for size in 1..=REFERENCE_MAX_SIZE {
        let tree = &f.leaves[..size as usize];
        assert_eq!(f.roots[size as usize], root_from_leaf_hashes(tree));
        for index in 0..size {
            assert_eq!(
                f.log.inclusion_proof(index, size).unwrap(),
                reference_inclusion(tree, index as usize),
                "inclusion {index} in {size}"
            );
        }
        for old in 1..size {
            assert_eq!(
                f.log.consistency_proof(old, size).unwrap(),
                reference_consistency(tree, old as usize),
                "consistency {old} to {size}"
            );
        }
    }
}

#[test]
fn every_proof_verifies_for_every_size_up_to_300() {
    let f = fixture();
    for size in 1..=EXHAUSTIVE_MAX_SIZE {
        let root = f.roots[size as usize];
        for index in 0..size {
            let proof = f.log.inclusion_proof(index, size).unwrap();
            assert_eq!(
                verify_inclusion(&f.leaves[index as usize], index, size, &proof, &root),
                Ok(()),
                "inclusion {index} in {size}"
            );
        }
        for old in 0..=size {
            let proof = f.log.consistency_proof(old, size).unwrap();
            assert_eq!(
                verify_consistency(old, size, &f.roots[old as usize], &root, &proof),
                Ok(()),
                "consistency {old} to {size}"
            );
        }
    }
}

#[test]
fn flipping_any_bit_anywhere_breaks_small_proofs() {
    let f = fixture();
    for size in 1..=BIT_FLIP_MAX_SIZE {
        let root = f.roots[size as usize];
        for index in 0..size {
            let leaf = f.leaves[index as usize];
            let proof = f.log.inclusion_proof(index, size).unwrap();
            for bit in 0..256 {
                assert!(
                    verify_inclusion(&flip_bit(&leaf, bit), index, size, &proof, &root).is_err()
                );
                assert!(
                    verify_inclusion(&leaf, index, size, &proof, &flip_bit(&root, bit)).is_err()
                );
                for element in 0..proof.len() {
                    let mut bad = proof.clone();
                    bad[element] = flip_bit(&bad[element], bit);
                    assert!(
                        verify_inclusion(&leaf, index, size, &bad, &root).is_err(),
                        "inclusion {index} in {size}, element {element}, bit {bit}"
                    );
                }
            }
        }
        for old in 1..size {
            let old_root = f.roots[old as usize];
            let proof = f.log.consistency_proof(old, size).unwrap();
            for bit in 0..256 {
                assert!(
                    verify_consistency(old, size, &flip_bit(&old_root, bit), &root, &proof)
                        .is_err()
                );
                assert!(
                    verify_consistency(old, size, &old_root, &flip_bit(&root, bit), &proof)
                        .is_err()
                );
                for element in 0..proof.len() {
                    let mut bad = proof.clone();
                    bad[element] = flip_bit(&bad[element], bit);
                    assert!(
                        verify_consistency(old, size, &old_root, &root, &bad).is_err(),
                        "consistency {old} to {size}, element {element}, bit {bit}"
                    );
                }
            }
        }
    }
}

#[test]
fn proofs_cost_logarithmic_node_reads() {
    // A larger tree than the fixture, so the bound is not trivially met.
    const SIZE: u64 = 100_003;
    let mut log = MemoryLog::new();
    for leaf in leaves(SIZE as usize) {
        log.append_leaf_hash(leaf);
    }
    let reader = CountingReader::new(&log);
    let log2 = ceil_log2(SIZE);
    let mut worst_inclusion = 0;
    let mut worst_consistency = 0;
    for probe in 0..2_000u64 {
        let index = probe.wrapping_mul(0x9e37_79b9_7f4a_7c15) % SIZE;
        let size = index + 1 + probe % (SIZE - index);
        inclusion_proof(&reader, index, size).unwrap();
        worst_inclusion = worst_inclusion.max(reader.take_reads());
        consistency_proof(&reader, index + 1, size).unwrap();
        worst_consistency = worst_consistency.max(reader.take_reads());
    }
    // Each proof element is one stored node, except at most one element
    // folded from at most log2(n) right-edge nodes.
    assert!(
        worst_inclusion <= 2 * log2,
        "inclusion read {worst_inclusion} nodes"
    );
    assert!(
        worst_consistency <= 3 * log2,
        "consistency read {worst_consistency} nodes"
    );
    assert!(
        worst_inclusion >= log2,
        "the bound should be nearly tight, got {worst_inclusion}"
    );
    truce_log::tree_root(&reader, SIZE).unwrap();
    assert_eq!(reader.take_reads(), u64::from(SIZE.count_ones()));
}

#[test]
fn generation_rejects_impossible_requests() {
    let f = fixture();
    assert_eq!(
        f.log.inclusion_proof(5, 5),
        Err(ProofError::LeafIndexOutOfRange { index: 5, size: 5 })
    );
    assert_eq!(
        f.log.consistency_proof(6, 5),
        Err(ProofError::SizesOutOfOrder {
            old_size: 6,
            new_size: 5
        })
    );
    assert_eq!(f.log.consistency_proof(0, 5), Ok(Vec::new()));
    assert_eq!(f.log.consistency_proof(5, 5), Ok(Vec::new()));
}

#[test]
fn wrong_lengths_are_reported_with_the_expected_length() {
    let f = fixture();
    let proof = f.log.inclusion_proof(3, 7).unwrap();
    let mut longer = proof.clone();
    longer.push(f.leaves[0]);
    assert_eq!(
        verify_inclusion(&f.leaves[3], 3, 7, &longer, &f.roots[7]),
        Err(VerifyError::WrongProofLength {
            expected: 3,
            actual: 4
        })
    );
    assert_eq!(
        verify_inclusion(&f.leaves[3], 3, 7, &proof[..2], &f.roots[7]),
        Err(VerifyError::WrongProofLength {
            expected: 3,
            actual: 2
        })
    );
    let consistency = f.log.consistency_proof(3, 7).unwrap();
    assert_eq!(
        verify_consistency(3, 7, &f.roots[3], &f.roots[7], &consistency[1..]),
        Err(VerifyError::WrongProofLength {
            expected: 4,
            actual: 3
        })
    );
}

fn size_and_index() -> impl Strategy<Value = (u64, u64)> {
    (1..=PROPERTY_MAX_SIZE).prop_flat_map(|size| (Just(size), 0..size))
}

fn old_and_new_size() -> impl Strategy<Value = (u64, u64)> {
    (1..=PROPERTY_MAX_SIZE).prop_flat_map(|size| (0..=size, Just(size)))
}

proptest! {
    #[test]
    fn inclusion_proofs_verify_and_detect_any_bit_flip(
        (size, index) in size_and_index(),
        element in any::<prop::sample::Index>(),
        bit in 0..256usize,
    ) {
        let f = fixture();
        let leaf = f.leaves[index as usize];
        let root = f.roots[size as usize];
        let proof = f.log.inclusion_proof(index, size).unwrap();
        prop_assert_eq!(verify_inclusion(&leaf, index, size, &proof, &root), Ok(()));
        prop_assert!(verify_inclusion(&flip_bit(&leaf, bit), index, size, &proof, &root).is_err());
        prop_assert!(verify_inclusion(&leaf, index, size, &proof, &flip_bit(&root, bit)).is_err());
        if !proof.is_empty() {
            let mut bad = proof.clone();
            let i = element.index(proof.len());
            bad[i] = flip_bit(&bad[i], bit);
            prop_assert!(verify_inclusion(&leaf, index, size, &bad, &root).is_err());
        }
        // The proof is bound to its index.
        if size > 1 {
            let other = (index + 1) % size;
            prop_assert!(verify_inclusion(&leaf, other, size, &proof, &root).is_err());
        }
    }

    #[test]
    fn consistency_proofs_verify_and_detect_any_bit_flip(
        (old, new) in old_and_new_size(),
        element in any::<prop::sample::Index>(),
        bit in 0..256usize,
    ) {
        let f = fixture();
        let old_root = f.roots[old as usize];
        let new_root = f.roots[new as usize];
        let proof = f.log.consistency_proof(old, new).unwrap();
        prop_assert_eq!(verify_consistency(old, new, &old_root, &new_root, &proof), Ok(()));
        if old > 0 {
            // With an empty old tree there is nothing to contradict.
            prop_assert!(verify_consistency(old, new, &flip_bit(&old_root, bit), &new_root, &proof).is_err());
            prop_assert!(verify_consistency(old, new, &old_root, &flip_bit(&new_root, bit), &proof).is_err());
        }
        if !proof.is_empty() {
            let mut bad = proof.clone();
            let i = element.index(proof.len());
            bad[i] = flip_bit(&bad[i], bit);
            prop_assert!(verify_consistency(old, new, &old_root, &new_root, &bad).is_err());
        }
    }

    #[test]
    fn frontier_resumes_from_stored_hashes_at_any_size(size in 0..=PROPERTY_MAX_SIZE) {
        let f = fixture();
        let resumed = Frontier::from_reader(&f.log, size).unwrap();
        let mut rebuilt = Frontier::new();
        for leaf in &f.leaves[..size as usize] {
            rebuilt.append(*leaf);
        }
        prop_assert_eq!(&resumed, &rebuilt);
        prop_assert_eq!(resumed.root(), f.roots[size as usize]);
    }
}
