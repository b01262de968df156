//! The fuzz targets of issue 16: one function per family of parsers of outside input, each
//! taking any bytes, calling the crates' real parsers as the service calls them, and checking
//! what is cheap to check (round trips, bounds). A panic is a finding.
//!
//! Two callers, one body: the libFuzzer binaries of `fuzz/` (its own cargo workspace, built by
//! `fuzz/run.sh` with coverage instrumentation on the stable toolchain) and this crate's test
//! `tests/corpus.rs`, which replays every committed input of `fuzz/corpus/TARGET/` and
//! `fuzz/regressions/TARGET/` as an ordinary test. `docs/fuzzing.md` tells how to run them.

use truce_ingest::{Format, Options, adapter, detect};
use truce_log::{
    AddCheckpointRequest, Checkpoint, Hash, Note, NoteSignature, SignerKey, TlogProof, VerifierKey,
    WitnessState, verify_checkpoint,
};

/// A target's body: any bytes in; a panic is a finding.
pub type Target = fn(&[u8]);

/// Every target by the name `fuzz/run.sh` and the corpus directories use.
pub const TARGETS: &[(&str, Target)] = &[
    ("agreement", agreement),
    ("observation", observation),
    ("tabular", tabular),
    ("cot", cot),
    ("note", note),
    ("proof", proof),
    ("api_body", api_body),
    ("api_query", api_query),
];

/// The target named `name`.
pub fn target(name: &str) -> Option<Target> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|&(_, f)| f)
}

/// Separates the files of an agreement input (see [`agreement`]).
pub const FILE_SEPARATOR: u8 = 0;

/// An agreement: its TOML and the geometry files it names, as `truce_core::agreement::load`
/// reads them. The input is the TOML, then for each file a [`FILE_SEPARATOR`] byte, its path,
/// a newline and its bytes; a path the TOML names that is not there cannot be read.
pub fn agreement(data: &[u8]) {
    let mut parts = data.split(|&b| b == FILE_SEPARATOR);
    let toml = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let files: Vec<(&[u8], &[u8])> = parts
        .map(|p| match p.iter().position(|&b| b == b'\n') {
            Some(i) => (&p[..i], &p[i + 1..]),
            None => (p, &[][..]),
        })
        .collect();
    let _ = truce_core::agreement::load("agreement.toml", &toml, &mut |path: &str| {
        files
            .iter()
            .find(|(p, _)| *p == path.as_bytes())
            .map(|(_, b)| b.to_vec())
            .ok_or_else(|| format!("{path}: no such file"))
    });
}

/// Observation GeoJSON: the ingest adapter to its last record, format detection, and the
/// observation parser of `truce-core`.
pub fn observation(data: &[u8]) {
    read_all(Format::GeoJson, data);
    let _ = detect("fuzz.geojson", data);
    let _ = truce_core::observation::parse_collection(&String::from_utf8_lossy(data));
}

/// The tabular feeds: NASA FIRMS, partner CSV and UCDP GED, each adapter to its last record,
/// and format detection.
pub fn tabular(data: &[u8]) {
    for format in [Format::Firms, Format::Csv, Format::Ucdp] {
        read_all(format, data);
    }
    let _ = detect("fuzz.csv", data);
    let _ = detect("fuzz", data);
}

/// Cursor-on-Target: the file adapter, and the TCP/TLS stream framer with what the listeners
/// read of each event (`truce_server::fuzz::cot_stream`).
pub fn cot(data: &[u8]) {
    read_all(Format::Cot, data);
    let _ = detect("fuzz.xml", data);
    truce_server::fuzz::cot_stream(data);
}

fn read_all(format: Format, data: &[u8]) {
    if let Ok(records) = adapter(format, &Options::default()).read("fuzz", data) {
        for record in records {
            std::hint::black_box(record);
        }
    }
}

/// Go's test key (`crates/truce-log/tests/vectors/signed-note`), the key notes and
/// checkpoints are verified with.
const PETER_VKEY: &str =
    include_str!("../../truce-log/tests/vectors/signed-note/peter-neumann.vkey");

fn peter() -> VerifierKey {
    VerifierKey::parse(PETER_VKEY.trim_end()).expect("Go's test key")
}

/// Signed notes, keys, checkpoints, witness state and add-checkpoint requests: every parser,
/// verification with Go's test key, and parse → text → parse round trips.
pub fn note(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let text = text.as_ref();
    let key = peter();
    let _ = VerifierKey::parse(text.trim_end());
    let _ = SignerKey::parse(text.trim_end());
    for line in text.lines() {
        if let Ok(sig) = NoteSignature::parse_line(line) {
            assert_eq!(NoteSignature::parse_line(&sig.to_line()), Ok(sig));
        }
    }
    if let Ok(note) = Note::parse(text) {
        let _ = note.verify(std::slice::from_ref(&key));
        assert_eq!(Note::parse(&note.to_message()), Ok(note));
    }
    if let Ok(c) = Checkpoint::parse(text) {
        assert_eq!(Checkpoint::parse(&c.to_text()), Ok(c));
    }
    let _ = verify_checkpoint(text, &key);
    if let Ok(w) = WitnessState::parse(text) {
        assert_eq!(WitnessState::parse(&w.to_text()), Ok(w));
    }
    if let Ok(r) = AddCheckpointRequest::parse(text) {
        assert_eq!(AddCheckpointRequest::parse(&r.to_text()), Ok(r));
    }
}

/// Proofs: C2SP tlog-proofs (parsed, round-tripped, verified), `truce log prove` documents
/// (JSON, checked as `truce log verify-entry` checks them), entry bundles, and RFC 9162
/// inclusion and consistency verification on sizes, indexes and hashes taken from the bytes.
pub fn proof(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(p) = TlogProof::parse(&text) {
        assert_eq!(TlogProof::parse(&p.to_text()), Ok(p.clone()));
        let _ = p.verify(b"x", &peter(), &[], &[]);
    }
    if let Ok(doc) = serde_json::from_slice::<truce_server::proof::ProofDocument>(data) {
        let hashes = |v: &[String]| -> Option<Vec<Hash>> {
            v.iter().map(|h| Hash::from_base64(h).ok()).collect()
        };
        if let (Ok((leaf, _)), Some(inclusion), Ok(root)) = (
            doc.leaf(),
            hashes(&doc.inclusion),
            Hash::from_base64(&doc.root),
        ) {
            let _ = truce_log::proof::verify_inclusion(
                &leaf,
                doc.leaf_index,
                doc.tree_size,
                &inclusion,
                &root,
            );
            if let (Some(old), Some(consistency)) =
                (doc.old_size, doc.consistency.as_deref().and_then(hashes))
            {
                let _ = truce_log::proof::verify_consistency(
                    old,
                    doc.tree_size,
                    &root,
                    &root,
                    &consistency,
                );
            }
        }
    }
    let _ = truce_log::tiles::decode_entry_bundle(data);
    // Binary: index, size (8 bytes each), then 32-byte hashes: the first two the roots.
    if data.len() >= 16 {
        let index = u64::from_le_bytes(data[..8].try_into().expect("8 bytes"));
        let size = u64::from_le_bytes(data[8..16].try_into().expect("8 bytes"));
        let hashes: Vec<Hash> = data[16..]
            .chunks_exact(32)
            .map(|c| Hash::from_slice(c).expect("32 bytes"))
            .collect();
        if let [first, second, rest @ ..] = &hashes[..] {
            let _ = truce_log::proof::verify_inclusion(first, index, size, rest, second);
            let _ = truce_log::proof::verify_consistency(index, size, first, second, rest);
            let _ = truce_log::proof::root_from_inclusion_proof(first, index, size, rest);
        }
    }
}

/// The JSON bodies of the HTTP API, through the extractor its handlers use.
pub fn api_body(data: &[u8]) {
    truce_server::fuzz::api_bodies(data);
}

/// The query strings of the HTTP API and of OGC API – Features, through the extractors and
/// the filters' parsers.
pub fn api_query(data: &[u8]) {
    truce_server::fuzz::api_queries(data);
}
