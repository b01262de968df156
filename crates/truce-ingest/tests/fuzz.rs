//! Every parser of outside input, fed random and mutated bytes (issue 16): the ingest adapters
//! (Cursor-on-Target XML, NASA FIRMS CSV, partner CSV, UCDP GED CSV, observation GeoJSON),
//! format detection, the observation JSON parser of `truce-core`, and the agreement (its TOML
//! and its GeoJSON geometry). Each must return — records, reasons or an error — and never
//! panic, and must do so in bounded time.
//!
//! The coverage-guided fuzzing is libFuzzer's (`fuzz/`, `docs/fuzzing.md`); these are the quick
//! layer beside it, run with every test: property tests (proptest) over a structure-aware mutator
//! seeded from the real fixtures
//! (`tests/fixtures`, `scenarios/donbas-2015`): byte flips, inserted bytes and format tokens
//! (`<event`, `]]>`, `"coordinates":`, `1e309` …), deletions, duplicated and repeated spans
//! (deep nesting, long fields), truncations; and plain random bytes. They run with the other
//! tests in seconds; a failure shrinks to a small input and is kept in
//! `fuzz.proptest-regressions` beside this file, replayed first on every run.
//! `PROPTEST_CASES=100000 cargo test --release -p truce-ingest --test fuzz` runs a longer
//! campaign. ARCHITECTURE.md (*Cross-cutting*) says how the two layers fit.

use std::path::Path;
use std::time::{Duration, Instant};

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;
use truce_ingest::{Format, Options, adapter, detect};

/// The longest one input may take to parse. Parsing a fixture takes milliseconds; an input
/// of at most [`MAX_INPUT_BYTES`] that takes a second has found something super-linear (or a
/// hang, which the harness would otherwise wait on for ever).
const MAX_PARSE: Duration = Duration::from_secs(2);

/// Mutated inputs are cut to this size: room for every fixture, repeated spans and nesting.
const MAX_INPUT_BYTES: usize = 256 << 10;

/// Cases per target: together the targets run in a few seconds (release). `PROPTEST_CASES`
/// overrides it.
const CASES: u32 = 300;

/// Tokens of the formats, inserted whole: a random byte rarely makes a `<![CDATA[`.
const TOKENS: &[&[u8]] = &[
    b"<event",
    b"</event>",
    b"<event/>",
    b"<detail>",
    b"</detail>",
    b"<point lat=\"",
    b"\" lon=\"",
    b"<![CDATA[",
    b"]]>",
    b"<!--",
    b"-->",
    b"<?xml version=\"1.0\"?>",
    b"<!DOCTYPE x [<!ENTITY a \"aaaaaaaaaa\">]>",
    b"&a;",
    b"&amp;",
    b"&#0;",
    b"&#x110000;",
    b"\"",
    b"'",
    b",",
    b";",
    b"\n",
    b"\r\n",
    b"\r",
    b"\t",
    b"{",
    b"}",
    b"[",
    b"]",
    b":",
    b"null",
    b"true",
    b"1e309",
    b"-1e400",
    b"NaN",
    b"-0",
    b"99999999999999999999999999",
    b"\"coordinates\":",
    b"\"type\":\"Polygon\"",
    b"\"type\":\"FeatureCollection\",\"features\":",
    b"\"observed_at\":\"2015-02-30T25:61:61Z\"",
    b"\\u0000",
    b"\\ud800",
    b"\xEF\xBB\xBF",
    b"\xFF\xFE",
    b"\xC3\x28",
    b"\xF0\x9F\x92",
    b"= ",
    b"[[",
    b"]]",
    b"\"\"\"",
];

/// One change to an input.
#[derive(Debug, Clone)]
enum Mutation {
    /// XOR one byte with a non-zero value.
    Flip(Index, u8),
    Insert(Index, Vec<u8>),
    Token(Index, Index),
    Delete(Index, usize),
    /// Copy a span elsewhere.
    Duplicate(Index, usize, Index),
    /// Repeat a short span many times in place (nesting, long fields, many records).
    Repeat(Index, usize, usize),
    Truncate(Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), 1..=255u8).prop_map(|(at, x)| Mutation::Flip(at, x)),
        (any::<Index>(), vec(any::<u8>(), 1..16)).prop_map(|(at, b)| Mutation::Insert(at, b)),
        (any::<Index>(), any::<Index>()).prop_map(|(at, t)| Mutation::Token(at, t)),
        (any::<Index>(), 1..512usize).prop_map(|(at, n)| Mutation::Delete(at, n)),
        (any::<Index>(), 1..1024usize, any::<Index>())
            .prop_map(|(from, n, to)| Mutation::Duplicate(from, n, to)),
        (any::<Index>(), 1..32usize, 2..4000usize)
            .prop_map(|(at, n, times)| Mutation::Repeat(at, n, times)),
        any::<Index>().prop_map(Mutation::Truncate),
    ]
}

/// `seed` with `mutations` applied in order, cut to [`MAX_INPUT_BYTES`].
fn mutate(seed: &[u8], mutations: &[Mutation]) -> Vec<u8> {
    let mut b = seed.to_vec();
    // A position in `b`, end included.
    let at = |b: &Vec<u8>, i: &Index| i.index(b.len() + 1);
    for m in mutations {
        match m {
            Mutation::Flip(i, x) if !b.is_empty() => {
                let p = i.index(b.len());
                b[p] ^= x;
            }
            Mutation::Flip(..) => {}
            Mutation::Insert(i, bytes) => {
                let p = at(&b, i);
                b.splice(p..p, bytes.iter().copied());
            }
            Mutation::Token(i, t) => {
                let p = at(&b, i);
                b.splice(p..p, t.get(TOKENS).iter().copied());
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
            Mutation::Repeat(i, n, times) => {
                let p = at(&b, i);
                let span = b[p..(p + n).min(b.len())].to_vec();
                let copies = span.repeat(*times);
                b.splice(p..p, copies);
            }
            Mutation::Truncate(i) => {
                let p = at(&b, i);
                b.truncate(p);
            }
        }
        b.truncate(MAX_INPUT_BYTES);
    }
    b
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn fixture(name: &str) -> Vec<u8> {
    read(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
    )
}

fn scenario(name: &str) -> Vec<u8> {
    read(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../scenarios/donbas-2015")
            .join(name),
    )
}

/// The seeds of a format: its real fixtures.
fn seeds(format: Format) -> Vec<Vec<u8>> {
    match format {
        Format::Cot => [
            "cot/cotlib/geochat_geo1.xml",
            "cot/cotlib/group_chat.xml",
            "cot/taky/atak_pli_a-f-G-U-C.xml",
            "cot/taky/geochat_b-t-f_with_remarks.xml",
            "cot/taky/itak_marker_a-u-G_empty_marti.xml",
            "cot/truce/geochat_ukrainian.xml",
            "cot/truce/shapes.xml",
            "cot/truce/spot_markers_wrapped.xml",
            "cot/truce/weapons_concatenated.xml",
        ]
        .iter()
        .map(|n| fixture(n))
        .collect(),
        Format::Firms => vec![fixture("firms/firms_viirs_snpp_ukraine_2023_head200.csv")],
        Format::Csv => vec![fixture("csv/partner_observations.csv")],
        Format::Ucdp => vec![fixture("ucdp/ucdp_ged_ukraine_subset.csv")],
        Format::GeoJson => vec![fixture("geojson/donbas-2015-observations.geojson")],
    }
}

/// Runs `parse` on `input`, failing if it takes longer than [`MAX_PARSE`] (a panic fails the
/// case by itself).
fn timed(what: &str, input: &[u8], parse: impl FnOnce(&[u8])) {
    let started = Instant::now();
    parse(input);
    let took = started.elapsed();
    assert!(
        took < MAX_PARSE,
        "{what}: {} bytes took {took:?}",
        input.len()
    );
}

/// Reads `input` with `format`'s adapter to the last record, and detects its format.
fn adapter_reads(format: Format, input: &[u8]) {
    timed(&format!("{format:?}"), input, |bytes| {
        let adapter = adapter(format, &Options::default());
        if let Ok(records) = adapter.read("fuzz", bytes) {
            // Every record is an observation or a reason, never a panic.
            for record in records {
                std::hint::black_box(record);
            }
        }
        let _ = detect("fuzz", bytes);
        let _ = detect("fuzz.csv", bytes);
        let _ = detect("fuzz.xml", bytes);
    });
}

fn mutated(format: Format) -> impl Strategy<Value = Vec<u8>> {
    let seeds = seeds(format);
    (any::<Index>(), vec(mutation(), 1..8))
        .prop_map(move |(seed, ms)| mutate(seed.get::<Vec<u8>>(&seeds), &ms))
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: CASES,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn cot_xml(input in mutated(Format::Cot)) {
        adapter_reads(Format::Cot, &input);
    }

    #[test]
    fn firms_csv(input in mutated(Format::Firms)) {
        adapter_reads(Format::Firms, &input);
    }

    #[test]
    fn partner_csv(input in mutated(Format::Csv)) {
        adapter_reads(Format::Csv, &input);
    }

    #[test]
    fn ucdp_csv(input in mutated(Format::Ucdp)) {
        adapter_reads(Format::Ucdp, &input);
    }

    #[test]
    fn observation_geojson(input in mutated(Format::GeoJson)) {
        adapter_reads(Format::GeoJson, &input);
        timed("observation::parse_collection", &input, |bytes| {
            let _ = truce_core::observation::parse_collection(&String::from_utf8_lossy(bytes));
        });
    }

    #[test]
    fn random_bytes_to_every_adapter(input in vec(any::<u8>(), 0..4096)) {
        for format in [Format::Cot, Format::Firms, Format::Csv, Format::Ucdp, Format::GeoJson] {
            adapter_reads(format, &input);
        }
    }

    /// The agreement's TOML mutated, its geometry files as they are.
    #[test]
    fn agreement_toml(ms in vec(mutation(), 1..8)) {
        let toml = mutate(&scenario("agreement.toml"), &ms);
        timed("agreement TOML", &toml, |bytes| {
            let _ = truce_core::agreement::load(
                "agreement.toml",
                &String::from_utf8_lossy(bytes),
                &mut |path: &str| {
                    std::fs::read(
                        Path::new(env!("CARGO_MANIFEST_DIR"))
                            .join("../../scenarios/donbas-2015")
                            .join(path),
                    )
                    .map_err(|e| e.to_string())
                },
            );
        });
    }

    /// One of the agreement's geometry files mutated (served for every path), its TOML as it is.
    #[test]
    fn agreement_geometry(
        file in prop::sample::select(vec![
            "geometry/area-ru.geojson",
            "geometry/contact-line.geojson",
            "geometry/zone-zolote.geojson",
        ]),
        ms in vec(mutation(), 1..8),
    ) {
        let toml = String::from_utf8(scenario("agreement.toml")).unwrap();
        let geometry = mutate(&scenario(file), &ms);
        timed("agreement geometry", &geometry, |bytes| {
            let _ = truce_core::agreement::load(
                "agreement.toml",
                &toml,
                &mut |path: &str| {
                    if path == file {
                        Ok(bytes.to_vec())
                    } else {
                        std::fs::read(
                            Path::new(env!("CARGO_MANIFEST_DIR"))
                                .join("../../scenarios/donbas-2015")
                                .join(path),
                        )
                        .map_err(|e| e.to_string())
                    }
                },
            );
        });
    }
}
