//! Benchmarks of the log core: append throughput, proofs over a tree of
//! 10 million entries, and checkpoint verification. Storage per entry is
//! printed while the 10M-entry tree is built.
//!
//! Run with `cargo bench -p truce-log -- --warm-up-time 1 --measurement-time 3`.

use std::hint::black_box;
use std::time::Instant;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use truce_log::{
    Checkpoint, Frontier, Hash, HashReader, KeyType, MemoryLog, Note, SignerKey, StoredNode,
    leaf_hash, verify_consistency, verify_inclusion, verify_quorum,
};

/// Entries appended per measured batch.
const BATCH_SIZE: usize = 10_000;

/// Size of a benchmark entry: about one canonical-JSON observation.
const ENTRY_SIZE_BYTES: usize = 200;

/// Tree size for the proof benchmarks.
const LARGE_TREE_SIZE: u64 = 10_000_000;

fn entries() -> Vec<Vec<u8>> {
    (0..BATCH_SIZE)
        .map(|i| {
            let mut entry = format!("{{\"observation\":{i},\"text\":\"").into_bytes();
            entry.resize(ENTRY_SIZE_BYTES - 2, b'x');
            entry.extend_from_slice(b"\"}");
            entry
        })
        .collect()
}

fn append(c: &mut Criterion) {
    let entries = entries();
    let mut group = c.benchmark_group("append");
    group.throughput(Throughput::Elements(BATCH_SIZE as u64));

    let mut frontier = Frontier::new();
    let mut completed: Vec<StoredNode> = Vec::with_capacity(2 * BATCH_SIZE);
    group.bench_function("hash_200B_entries_and_frontier", |b| {
        b.iter(|| {
            completed.clear();
            for entry in &entries {
                frontier.append_with(leaf_hash(entry), |node| completed.push(node));
            }
            black_box(frontier.root())
        })
    });

    let leaf_hashes: Vec<Hash> = entries.iter().map(|e| leaf_hash(e)).collect();
    let mut frontier = Frontier::new();
    group.bench_function("frontier_only_prehashed", |b| {
        b.iter(|| {
            completed.clear();
            for leaf in &leaf_hashes {
                frontier.append_with(*leaf, |node| completed.push(node));
            }
            black_box(frontier.root())
        })
    });

    group.bench_function("memory_log_200B_entries", |b| {
        b.iter_batched_ref(
            || MemoryLog::with_capacity(BATCH_SIZE as u64),
            |log| {
                for entry in &entries {
                    log.append_entry(entry);
                }
                black_box(log.root())
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

/// Deterministic pseudo-random indexes (SplitMix64), so runs are comparable.
struct Indexes(u64);

impl Indexes {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % bound
    }
}

fn large_tree() -> MemoryLog {
    let started = Instant::now();
    let mut log = MemoryLog::with_capacity(LARGE_TREE_SIZE);
    for i in 0..LARGE_TREE_SIZE {
        log.append_leaf_hash(leaf_hash(&i.to_be_bytes()));
    }
    let elapsed = started.elapsed();
    let stored_bytes = log.stored_hash_count() * 32;
    println!(
        "built a {LARGE_TREE_SIZE}-leaf MemoryLog in {:.2} s ({:.0} leaves/s including 8-byte leaf hashing); \
         {} stored hashes, {:.1} bytes of hashes per entry",
        elapsed.as_secs_f64(),
        LARGE_TREE_SIZE as f64 / elapsed.as_secs_f64(),
        log.stored_hash_count(),
        stored_bytes as f64 / LARGE_TREE_SIZE as f64,
    );
    log
}

fn proofs(c: &mut Criterion) {
    let log = large_tree();
    let size = log.size();
    let root = log.root();
    let mut group = c.benchmark_group("proofs_10M");

    let mut indexes = Indexes(1);
    group.bench_function("inclusion_generate", |b| {
        b.iter(|| log.inclusion_proof(indexes.below(size), size).unwrap())
    });

    let mut indexes = Indexes(2);
    group.bench_function("inclusion_verify", |b| {
        b.iter_batched(
            || {
                let index = indexes.below(size);
                let leaf = log.node(0, index).unwrap();
                (index, leaf, log.inclusion_proof(index, size).unwrap())
            },
            |(index, leaf, proof)| verify_inclusion(&leaf, index, size, &proof, &root).unwrap(),
            BatchSize::SmallInput,
        )
    });

    let mut indexes = Indexes(3);
    group.bench_function("consistency_generate", |b| {
        b.iter(|| {
            log.consistency_proof(1 + indexes.below(size - 1), size)
                .unwrap()
        })
    });

    let mut indexes = Indexes(4);
    group.bench_function("consistency_verify", |b| {
        b.iter_batched(
            || {
                let old = 1 + indexes.below(size - 1);
                let old_root = log.root_at(old).unwrap();
                (old, old_root, log.consistency_proof(old, size).unwrap())
            },
            |(old, old_root, proof)| {
                verify_consistency(old, size, &old_root, &root, &proof).unwrap()
            },
            BatchSize::SmallInput,
        )
    });

    let mut indexes = Indexes(5);
    group.bench_function("root_at_past_size", |b| {
        b.iter(|| log.root_at(1 + indexes.below(size)).unwrap())
    });
    group.finish();
}

fn checkpoints(c: &mut Criterion) {
    let log_key = SignerKey::from_seed("truce.example/log", KeyType::Ed25519, [1; 32]).unwrap();
    let witnesses: Vec<SignerKey> = [("ua.example/witness", 2), ("ru.example/witness", 3)]
        .iter()
        .map(|(name, seed)| {
            SignerKey::from_seed(name, KeyType::CosignatureV1, [*seed; 32]).unwrap()
        })
        .collect();
    let checkpoint = Checkpoint::new("truce.example/log", LARGE_TREE_SIZE, leaf_hash(b"root"));
    let mut note = Note::parse(&checkpoint.sign(&log_key).unwrap()).unwrap();
    for witness in &witnesses {
        note.add_signature(witness.cosign(&note.text, 1_700_000_000).unwrap());
    }
    let message = note.to_message();
    let witness_keys: Vec<_> = witnesses.iter().map(SignerKey::verifier_key).collect();
    let log_verifier = log_key.verifier_key();

    let mut group = c.benchmark_group("checkpoint");
    group.bench_function("sign", |b| b.iter(|| checkpoint.sign(&log_key).unwrap()));
    group.bench_function("verify_quorum_log_plus_2_witnesses", |b| {
        b.iter(|| {
            verify_quorum(
                &message,
                &log_verifier,
                &witness_keys,
                &["ua.example/witness", "ru.example/witness"],
            )
            .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, append, proofs, checkpoints);
criterion_main!(benches);
