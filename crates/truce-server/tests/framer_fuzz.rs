//! The CoT TCP stream framer (`truce_server::cot::Framer`) fed random and mutated streams cut
//! into random reads (issue 16): the first parser every byte from a TAK connection meets. It
//! must never panic, never hold more than one event (`max`) and one read, and — while no event
//! is over `max` — cut the same events whatever the reads were. Seeds are the CoT fixtures of
//! `truce-ingest`, concatenated as a TAK server streams them. The coverage-guided layer is
//! libFuzzer's `cot` target (`docs/fuzzing.md`). `PROPTEST_CASES=N` runs a longer campaign.

use std::path::Path;
use std::time::{Duration, Instant};

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;
use truce_server::cot::{Frame, Framer};

/// Framing a stream of at most [`MAX_STREAM_BYTES`] takes milliseconds; a second is a hang or
/// something quadratic.
const MAX_FRAME: Duration = Duration::from_secs(1);

const MAX_STREAM_BYTES: usize = 256 << 10;

const TOKENS: &[&[u8]] = &[
    b"<event",
    b"<event ",
    b"</event>",
    b"</event",
    b"/>",
    b">",
    b"<",
    b"\"",
    b"'",
    b"<![CDATA[",
    b"]]>",
    b"<!--",
    b"-->",
    b"<?xml version=\"1.0\"?>",
    b"<events>",
    b"\n",
    b"\xFF",
];

#[derive(Debug, Clone)]
enum Mutation {
    Flip(Index, u8),
    Token(Index, Index),
    Delete(Index, usize),
    Repeat(Index, usize, usize),
    Truncate(Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), 1..=255u8).prop_map(|(at, x)| Mutation::Flip(at, x)),
        (any::<Index>(), any::<Index>()).prop_map(|(at, t)| Mutation::Token(at, t)),
        (any::<Index>(), 1..256usize).prop_map(|(at, n)| Mutation::Delete(at, n)),
        (any::<Index>(), 1..32usize, 2..2000usize)
            .prop_map(|(at, n, times)| Mutation::Repeat(at, n, times)),
        any::<Index>().prop_map(Mutation::Truncate),
    ]
}

fn mutate(seed: &[u8], mutations: &[Mutation]) -> Vec<u8> {
    let mut b = seed.to_vec();
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
                b.splice(p..p, t.get(TOKENS).iter().copied());
            }
            Mutation::Delete(i, n) => {
                let p = at(&b, i);
                let end = (p + n).min(b.len());
                b.drain(p..end);
            }
            Mutation::Repeat(i, n, times) => {
                let p = at(&b, i);
                let span = b[p..(p + n).min(b.len())].repeat(*times);
                b.splice(p..p, span);
            }
            Mutation::Truncate(i) => {
                let p = at(&b, i);
                b.truncate(p);
            }
        }
        b.truncate(MAX_STREAM_BYTES);
    }
    b
}

/// The CoT fixtures one after another, as one connection carries them.
fn stream() -> Vec<u8> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../truce-ingest/tests/fixtures/cot");
    let mut out = Vec::new();
    for sub in ["cotlib", "taky", "truce"] {
        let mut files: Vec<_> = std::fs::read_dir(dir.join(sub))
            .unwrap_or_else(|e| panic!("{}: {e}", dir.join(sub).display()))
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for f in files {
            out.extend(std::fs::read(&f).unwrap());
            out.push(b'\n');
        }
    }
    out
}

/// Frames `bytes` read in pieces of `reads` sizes (cycled), checking the bound after each.
fn frame(max: usize, bytes: &[u8], reads: &[usize]) -> Vec<Frame> {
    let mut framer = Framer::new(max);
    let mut out = Vec::new();
    let (mut at, mut i) = (0, 0);
    while at < bytes.len() {
        let n = reads[i % reads.len()].min(bytes.len() - at);
        out.extend(framer.push(&bytes[at..at + n]));
        assert!(
            framer.buffered() <= max + n,
            "{} bytes held after a read of {n} (max {max})",
            framer.buffered()
        );
        at += n;
        i += 1;
    }
    out.extend(framer.finish());
    out
}

fn check(max: usize, bytes: &[u8], reads: &[usize]) {
    let started = Instant::now();
    let whole = frame(max, bytes, &[bytes.len().max(1)]);
    let pieces = frame(max, bytes, reads);
    let took = started.elapsed();
    assert!(took < MAX_FRAME, "{} bytes took {took:?}", bytes.len());
    let oversize = |frames: &[Frame]| frames.iter().any(|f| matches!(f, Frame::Oversize { .. }));
    // Over-long events are cut where the limit is met, which depends on the reads.
    if !oversize(&whole) && !oversize(&pieces) {
        assert_eq!(whole, pieces, "the reads changed the events");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn mutated_streams_in_random_reads(
        ms in vec(mutation(), 1..8),
        reads in vec(1..4096usize, 1..16),
        small in any::<bool>(),
    ) {
        let bytes = mutate(&stream(), &ms);
        check(if small { 1_000 } else { 64 << 10 }, &bytes, &reads);
    }

    #[test]
    fn random_bytes_in_random_reads(
        bytes in vec(any::<u8>(), 0..8192),
        reads in vec(1..512usize, 1..16),
    ) {
        check(1_000, &bytes, &reads);
    }
}
