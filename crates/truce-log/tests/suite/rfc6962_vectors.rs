//! The published RFC 6962 test vectors (see `tests/vectors/README.md`).

use crate::common;
use truce_log::{
    Hash, HashReader, MemoryLog, VerifyError, empty_root, leaf_hash, root_from_inclusion_proof,
    root_from_leaf_hashes, verify_consistency, verify_inclusion,
};

struct Vectors {
    leaves: Vec<Vec<u8>>,
    roots: Vec<(u64, Hash)>,
    nodes: Vec<(u8, u64, Hash)>,
    inclusion: Vec<(u64, u64, Vec<Hash>)>,
    consistency: Vec<(u64, u64, Vec<Hash>)>,
}

fn hex_bytes(text: &str) -> Vec<u8> {
    if text == "-" {
        return Vec::new();
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

fn hashes(fields: &[&str]) -> Vec<Hash> {
    fields.iter().map(|f| Hash::from_hex(f).unwrap()).collect()
}

fn load() -> Vectors {
    let mut vectors = Vectors {
        leaves: Vec::new(),
        roots: Vec::new(),
        nodes: Vec::new(),
        inclusion: Vec::new(),
        consistency: Vec::new(),
    };
    for line in include_str!("../vectors/rfc6962.txt").lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.as_slice() {
            [] => {}
            [comment, ..] if comment.starts_with('#') => {}
            ["leaf", index, data] => {
                assert_eq!(index.parse::<usize>().unwrap(), vectors.leaves.len());
                vectors.leaves.push(hex_bytes(data));
            }
            ["root", size, hash] => vectors
                .roots
                .push((size.parse().unwrap(), Hash::from_hex(hash).unwrap())),
            ["node", level, index, hash] => vectors.nodes.push((
                level.parse().unwrap(),
                index.parse().unwrap(),
                Hash::from_hex(hash).unwrap(),
            )),
            ["inclusion", index, size, proof @ ..] => vectors.inclusion.push((
                index.parse().unwrap(),
                size.parse().unwrap(),
                hashes(proof),
            )),
            ["consistency", old, new, proof @ ..] => vectors.consistency.push((
                old.parse().unwrap(),
                new.parse().unwrap(),
                hashes(proof),
            )),
            other => panic!("unrecognised vector line {other:?}"),
        }
    }
    assert_eq!(vectors.leaves.len(), 8);
    assert_eq!(vectors.roots.len(), 9);
    assert_eq!(vectors.nodes.len(), 15);
    assert_eq!(vectors.inclusion.len(), 5);
    assert_eq!(vectors.consistency.len(), 5);
    vectors
}

fn log_of(vectors: &Vectors) -> MemoryLog {
    let mut log = MemoryLog::new();
    for leaf in &vectors.leaves {
        log.append_entry(leaf);
    }
    log
}

#[test]
fn roots_match_for_every_tree_size() {
    let vectors = load();
    let log = log_of(&vectors);
    let leaf_hashes: Vec<Hash> = vectors.leaves.iter().map(|l| leaf_hash(l)).collect();
    for (size, expected) in &vectors.roots {
        assert_eq!(log.root_at(*size).unwrap(), *expected, "size {size}");
        assert_eq!(
            root_from_leaf_hashes(&leaf_hashes[..*size as usize]),
            *expected,
            "reference root, size {size}"
        );
    }
    assert_eq!(vectors.roots[0].1, empty_root());
    assert_eq!(log.root(), vectors.roots[8].1);
}

#[test]
fn stored_complete_subtree_hashes_match() {
    let vectors = load();
    let log = log_of(&vectors);
    for (level, index, expected) in &vectors.nodes {
        assert_eq!(
            log.node(*level, *index).unwrap(),
            *expected,
            "node ({level}, {index})"
        );
    }
    assert_eq!(log.stored_hash_count(), vectors.nodes.len() as u64);
}

#[test]
fn incremental_appends_report_the_published_nodes() {
    let vectors = load();
    let mut frontier = truce_log::Frontier::new();
    let mut reported = Vec::new();
    for leaf in &vectors.leaves {
        reported.extend(frontier.append(leaf_hash(leaf)));
    }
    let mut reported: Vec<(u8, u64, Hash)> = reported
        .iter()
        .map(|n| (n.level, n.index, n.hash))
        .collect();
    reported.sort();
    let mut expected = vectors.nodes.clone();
    expected.sort();
    assert_eq!(reported, expected);
}

#[test]
fn inclusion_proofs_match_and_verify() {
    let vectors = load();
    let log = log_of(&vectors);
    let root = |size: u64| vectors.roots.iter().find(|(s, _)| *s == size).unwrap().1;
    for (index, size, expected) in &vectors.inclusion {
        assert_eq!(
            &log.inclusion_proof(*index, *size).unwrap(),
            expected,
            "inclusion {index} in {size}"
        );
        let leaf = leaf_hash(&vectors.leaves[*index as usize]);
        assert_eq!(
            verify_inclusion(&leaf, *index, *size, expected, &root(*size)),
            Ok(())
        );
        assert_eq!(
            root_from_inclusion_proof(&leaf, *index, *size, expected),
            Ok(root(*size))
        );
    }
}

#[test]
fn consistency_proofs_match_and_verify() {
    let vectors = load();
    let log = log_of(&vectors);
    let root = |size: u64| vectors.roots.iter().find(|(s, _)| *s == size).unwrap().1;
    for (old, new, expected) in &vectors.consistency {
        assert_eq!(
            &log.consistency_proof(*old, *new).unwrap(),
            expected,
            "consistency {old} to {new}"
        );
        assert_eq!(
            verify_consistency(*old, *new, &root(*old), &root(*new), expected),
            Ok(())
        );
    }
}

/// The corruptions transparency-dev/merkle applies to each known-good
/// inclusion proof: every one must be rejected.
#[test]
fn corrupted_inclusion_proofs_are_rejected() {
    let vectors = load();
    let root = |size: u64| vectors.roots.iter().find(|(s, _)| *s == size).unwrap().1;
    let some_hash = leaf_hash(b"some other hash");
    for (index, size, proof) in &vectors.inclusion {
        let (index, size, root) = (*index, *size, root(*size));
        let leaf = leaf_hash(&vectors.leaves[index as usize]);
        let mut probes: Vec<(u64, u64, Hash, Hash, Vec<Hash>, String)> = vec![
            (
                index.wrapping_sub(1),
                size,
                leaf,
                root,
                proof.clone(),
                "index - 1".into(),
            ),
            (
                index + 1,
                size,
                leaf,
                root,
                proof.clone(),
                "index + 1".into(),
            ),
            (
                index ^ 2,
                size,
                leaf,
                root,
                proof.clone(),
                "index ^ 2".into(),
            ),
            (
                index,
                size * 2,
                leaf,
                root,
                proof.clone(),
                "size * 2".into(),
            ),
            (
                index,
                size / 2,
                leaf,
                root,
                proof.clone(),
                "size / 2".into(),
            ),
            (
                index,
                size,
                some_hash,
                root,
                proof.clone(),
                "wrong leaf".into(),
            ),
            (
                index,
                size,
                leaf,
                empty_root(),
                proof.clone(),
                "empty root".into(),
            ),
            (
                index,
                size,
                leaf,
                some_hash,
                proof.clone(),
                "random root".into(),
            ),
        ];
        let mut extended = proof.clone();
        extended.push(root);
        probes.push((index, size, leaf, root, extended, "trailing root".into()));
        let mut prepended = vec![root];
        prepended.extend_from_slice(proof);
        probes.push((index, size, leaf, root, prepended, "preceding root".into()));
        for i in 0..proof.len() {
            let mut wrong = proof.clone();
            wrong[i] = common::flip_bit(&wrong[i], 3);
            probes.push((index, size, leaf, root, wrong, format!("proof[{i}] bit 3")));
        }
        if !proof.is_empty() {
            probes.push((
                index,
                size,
                leaf,
                root,
                proof[..proof.len() - 1].to_vec(),
                "removed component".into(),
            ));
        }
        if proof.len() > 1 {
            let mut inserted = vec![proof[0], some_hash];
            inserted.extend_from_slice(&proof[1..]);
            probes.push((
                index,
                size,
                leaf,
                root,
                inserted,
                "inserted component".into(),
            ));
        }
        for (i, s, l, r, p, description) in probes {
            assert!(
                verify_inclusion(&l, i, s, &p, &r).is_err(),
                "accepted {description} for leaf {index} in {size}"
            );
        }
    }
}

/// The corruptions transparency-dev/merkle applies to each known-good
/// consistency proof: every one must be rejected.
#[test]
fn corrupted_consistency_proofs_are_rejected() {
    let vectors = load();
    let root = |size: u64| vectors.roots.iter().find(|(s, _)| *s == size).unwrap().1;
    let wrong_root = leaf_hash(b"WrongRoot");
    for (old, new, proof) in vectors.consistency.iter().filter(|(_, _, p)| !p.is_empty()) {
        let (old, new) = (*old, *new);
        let (root1, root2) = (root(old), root(new));
        let mut probes: Vec<(u64, u64, Hash, Hash, Vec<Hash>, String)> = vec![
            (old - 1, new, root1, root2, proof.clone(), "old - 1".into()),
            (old + 1, new, root1, root2, proof.clone(), "old + 1".into()),
            (old ^ 2, new, root1, root2, proof.clone(), "old ^ 2".into()),
            (old, new * 2, root1, root2, proof.clone(), "new * 2".into()),
            (old, new / 2, root1, root2, proof.clone(), "new / 2".into()),
            (
                old,
                new,
                wrong_root,
                root2,
                proof.clone(),
                "wrong root1".into(),
            ),
            (
                old,
                new,
                root1,
                wrong_root,
                proof.clone(),
                "wrong root2".into(),
            ),
            (
                old,
                new,
                root2,
                root1,
                proof.clone(),
                "swapped roots".into(),
            ),
            (old, new, root1, root2, Vec::new(), "empty proof".into()),
            (
                old,
                new,
                root1,
                root2,
                proof[..proof.len() - 1].to_vec(),
                "truncated".into(),
            ),
        ];
        for extra in [root1, root2] {
            let mut trailing = proof.clone();
            trailing.push(extra);
            probes.push((old, new, root1, root2, trailing, "trailing root".into()));
            let mut preceding = vec![extra];
            preceding.extend_from_slice(proof);
            probes.push((old, new, root1, root2, preceding, "preceding root".into()));
        }
        let mut preceding_first = vec![proof[0]];
        preceding_first.extend_from_slice(proof);
        probes.push((
            old,
            new,
            root1,
            root2,
            preceding_first,
            "preceding proof[0]".into(),
        ));
        for i in 0..proof.len() {
            let mut wrong = proof.clone();
            wrong[i] = common::flip_bit(&wrong[i], 4);
            probes.push((old, new, root1, root2, wrong, format!("proof[{i}] bit 4")));
        }
        for (o, n, r1, r2, p, description) in probes {
            assert!(
                verify_consistency(o, n, &r1, &r2, &p).is_err(),
                "accepted {description} for {old} to {new}"
            );
        }
    }
}

#[test]
fn trivial_consistency_cases_follow_rfc_9162() {
    let (a, b) = (leaf_hash(b"a"), leaf_hash(b"b"));
    // Always consistent.
    assert_eq!(verify_consistency(0, 0, &a, &a, &[]), Ok(()));
    assert_eq!(verify_consistency(0, 1, &a, &b, &[]), Ok(()));
    assert_eq!(verify_consistency(1, 1, &b, &b, &[]), Ok(()));
    // Same size, different roots.
    assert_eq!(
        verify_consistency(1, 1, &a, &b, &[]),
        Err(VerifyError::DifferentRootsAtSameSize {
            size: 1,
            old_root: a,
            new_root: b
        })
    );
    // Time travel to the past.
    assert_eq!(
        verify_consistency(2, 1, &a, &b, &[]),
        Err(VerifyError::SizesOutOfOrder {
            old_size: 2,
            new_size: 1
        })
    );
    // Empty proof for distinct non-zero sizes.
    assert_eq!(
        verify_consistency(1, 2, &a, &b, &[]),
        Err(VerifyError::WrongProofLength {
            expected: 1,
            actual: 0
        })
    );
    // Trivial cases with a non-empty proof.
    for (old, new) in [(0, 0), (0, 1), (1, 1)] {
        assert_eq!(
            verify_consistency(old, new, &a, &a, &[empty_root()]),
            Err(VerifyError::WrongProofLength {
                expected: 0,
                actual: 1
            })
        );
    }
}

#[test]
fn inclusion_in_degenerate_trees_is_rejected() {
    let some = leaf_hash(b"some");
    for (index, size) in [(0, 0), (1, 0), (2, 1), (1, 1)] {
        assert_eq!(
            verify_inclusion(&some, index, size, &[], &some),
            Err(VerifyError::LeafIndexOutOfRange { index, size })
        );
    }
    // A one-leaf tree's root is its leaf hash, with an empty proof.
    assert_eq!(verify_inclusion(&some, 0, 1, &[], &some), Ok(()));
    assert_eq!(
        verify_inclusion(&some, 0, 1, &[], &empty_root()),
        Err(VerifyError::RootMismatch {
            computed: some,
            expected: empty_root()
        })
    );
}
