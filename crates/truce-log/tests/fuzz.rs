//! The log's parsers of outside text, fed random and mutated bytes (issue 16): keys, signed
//! notes and their signature lines, checkpoints (and their verification), C2SP tlog-proofs,
//! witness state and add-checkpoint requests. Each must return a value or an error, never
//! panic, in bounded time. The same approach as `crates/truce-ingest/tests/fuzz.rs` (why: see
//! ARCHITECTURE.md, *Cross-cutting*), with a smaller mutator: these are short line formats.
//! Seeds are Go's signed-note vectors and texts made here with them. `PROPTEST_CASES=N` runs a
//! longer campaign.

use std::time::{Duration, Instant};

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;
use truce_log::{
    AddCheckpointRequest, Checkpoint, Note, NoteSignature, SignerKey, TlogProof, VerifierKey,
    WitnessState, empty_root, leaf_hash, verify_checkpoint,
};

const PETER_VKEY: &str = include_str!("vectors/signed-note/peter-neumann.vkey");
const PETER_SKEY: &str = include_str!("vectors/signed-note/peter-neumann.skey");
const TWO_SIGNATURES: &str = include_str!("vectors/signed-note/two-signatures.note");

/// The longest one input may take: these texts parse in microseconds.
const MAX_PARSE: Duration = Duration::from_secs(1);

/// Tokens of the formats, inserted whole.
const TOKENS: &[&str] = &[
    "\n",
    "\n\n",
    "— ",
    "\u{2014}",
    " ",
    "+",
    "=",
    "==",
    "/",
    "AAAA",
    "old ",
    "index ",
    "extra ",
    "c2sp.org/tlog-proof@v1\n",
    "truce-witness-state/v1\n",
    "18446744073709551616",
    "-1",
    "00",
    "\r\n",
    "\u{0}",
    "\u{feff}",
];

#[derive(Debug, Clone)]
enum Mutation {
    Flip(Index, u8),
    Token(Index, Index),
    Delete(Index, usize),
    Duplicate(Index, usize, Index),
    Truncate(Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), 1..=255u8).prop_map(|(at, x)| Mutation::Flip(at, x)),
        (any::<Index>(), any::<Index>()).prop_map(|(at, t)| Mutation::Token(at, t)),
        (any::<Index>(), 1..64usize).prop_map(|(at, n)| Mutation::Delete(at, n)),
        (any::<Index>(), 1..256usize, any::<Index>())
            .prop_map(|(from, n, to)| Mutation::Duplicate(from, n, to)),
        any::<Index>().prop_map(Mutation::Truncate),
    ]
}

/// `seed` with `mutations` applied, as text (invalid UTF-8 replaced, as a server would read a
/// body it must treat as text).
fn mutate(seed: &str, mutations: &[Mutation]) -> String {
    let mut b = seed.as_bytes().to_vec();
    let at = |b: &Vec<u8>, i: &Index| i.index(b.len() + 1);
    for m in mutations {
        match m {
            Mutation::Flip(i, x) if !b.is_empty() => {
                let p = i.index(b.len());
                b[p] ^= x;
            }
            Mutation::Flip(..) => {}
            Mutation::Token(i, t) => {
                let p = at(&b, i);
                b.splice(p..p, t.get(TOKENS).bytes());
            }
            Mutation::Delete(i, n) => {
                let p = at(&b, i);
                let end = (p + n).min(b.len());
                b.drain(p..end);
            }
            Mutation::Duplicate(from, n, to) => {
                let p = at(&b, from);
                let span = b[p..(p + n).min(b.len())].to_vec();
                let q = at(&b, to);
                b.splice(q..q, span);
            }
            Mutation::Truncate(i) => {
                let p = at(&b, i);
                b.truncate(p);
            }
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

fn peter() -> VerifierKey {
    VerifierKey::parse(PETER_VKEY.trim_end()).unwrap()
}

/// Real texts of every format: Go's vectors, and a checkpoint, proof, witness state and
/// request made with Go's test key.
fn seeds() -> Vec<String> {
    let signer = SignerKey::parse(PETER_SKEY.trim_end()).unwrap();
    let checkpoint = Checkpoint::new(peter().name(), 2, leaf_hash(b"x"))
        .sign(&signer)
        .unwrap();
    let proof = TlogProof {
        extra: Some(b"v1".to_vec()),
        index: 1,
        inclusion_proof: vec![empty_root(), leaf_hash(b"y")],
        checkpoint: checkpoint.clone(),
    };
    let request = AddCheckpointRequest {
        old_size: 1,
        consistency_proof: vec![leaf_hash(b"z")],
        checkpoint: checkpoint.clone(),
    };
    vec![
        PETER_VKEY.to_string(),
        PETER_SKEY.to_string(),
        TWO_SIGNATURES.to_string(),
        checkpoint,
        proof.to_text(),
        WitnessState::new(peter().name()).to_text(),
        request.to_text(),
    ]
}

/// Every parser on `text`, timed.
fn every_parser(text: &str) {
    let started = Instant::now();
    let key = peter();
    let _ = VerifierKey::parse(text.trim_end());
    let _ = SignerKey::parse(text.trim_end());
    for line in text.lines() {
        let _ = NoteSignature::parse_line(line);
    }
    if let Ok(note) = Note::parse(text) {
        let _ = note.verify(std::slice::from_ref(&key));
    }
    let _ = Checkpoint::parse(text);
    let _ = verify_checkpoint(text, &key);
    let _ = TlogProof::parse(text);
    let _ = WitnessState::parse(text);
    let _ = AddCheckpointRequest::parse(text);
    let took = started.elapsed();
    assert!(took < MAX_PARSE, "{} bytes took {took:?}", text.len());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    #[test]
    fn mutated_notes_keys_checkpoints_proofs_and_requests(
        seed in any::<Index>(),
        ms in vec(mutation(), 1..8),
    ) {
        let seeds = seeds();
        every_parser(&mutate(seed.get::<String>(&seeds), &ms));
    }

    #[test]
    fn random_text(bytes in vec(any::<u8>(), 0..2048)) {
        every_parser(&String::from_utf8_lossy(&bytes));
    }
}
