//! The donbas-2015 scenario as store input: its terms, its sample observations assessed by the
//! engine, and records the parser rejects — plus a scratch store file per test.

use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeZone, Utc};
use truce_core::agreement::{Agreement, load};
use truce_core::assess::Engine;
use truce_core::observation::parse_collection;
use truce_store::{Accepted, Batch, RejectedRecord};

pub fn scenario_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/donbas-2015")
}

/// The bundled terms, optionally with a text replacement (to make a different agreement).
pub fn agreement_with(replace: Option<(&str, &str)>) -> Agreement {
    let dir = scenario_dir();
    let mut text = std::fs::read_to_string(dir.join("agreement.toml")).unwrap();
    if let Some((from, to)) = replace {
        assert!(text.contains(from), "agreement.toml has no {from:?}");
        text = text.replace(from, to);
    }
    load("agreement.toml", &text, &mut |rel| {
        std::fs::read(dir.join(rel)).map_err(|e| e.to_string())
    })
    .unwrap_or_else(|d| panic!("{d:#?}"))
}

pub fn engine() -> Engine {
    Engine::new(agreement_with(None)).unwrap()
}

pub fn received_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2015, 3, 2, 12, 0, 0).unwrap()
}

/// The scenario's sample observations, every one valid, assessed by `engine`.
pub fn accepted(engine: &Engine) -> Vec<Accepted> {
    let text = std::fs::read_to_string(scenario_dir().join("observations.geojson")).unwrap();
    let (good, bad) = parse_collection(&text).unwrap();
    assert!(
        bad.is_empty(),
        "the scenario's samples are all valid: {bad:?}"
    );
    let assessments = engine.assess_batch(&good);
    in_store_order(
        good.into_iter()
            .zip(assessments)
            .map(|((index, observation, place), assessment)| Accepted {
                observation,
                place,
                assessment,
                locator: format!("feature {index}"),
            })
            .collect(),
    )
}

/// A batch in the order the store gives its observations seqs (by time observed, then id), so
/// that observation `i` of the result is entry `first_seq + i`.
pub fn in_store_order(input: Vec<Accepted>) -> Vec<Accepted> {
    let order = truce_store::canonical_order(&input);
    let mut slots: Vec<Option<Accepted>> = input.into_iter().map(Some).collect();
    order
        .into_iter()
        .map(|i| slots[i].take().unwrap())
        .collect()
}

/// Two features the parser rejects — a latitude out of range, a misspelt key — with the
/// parser's own reasons and the features' text as raw.
pub fn rejected() -> Vec<RejectedRecord> {
    let raw = [
        r#"{"type":"Feature","id":"bad-lat","geometry":{"type":"Point","coordinates":[38.0,98.1]},"properties":{"kind":"impact","observed_at":"2015-03-02T10:00:00Z","source":{"id":"team-3","kind":"ground_team","reliability":"B","credibility":2}}}"#,
        r#"{"type":"Feature","id":"bad-key","geometry":{"type":"Point","coordinates":[38.0,48.1]},"properties":{"kind":"impact","observed_at":"2015-03-02T10:00:00Z","colour":"red","source":{"id":"team-3","kind":"ground_team","reliability":"B","credibility":2}}}"#,
    ];
    let text = format!(
        r#"{{"type":"FeatureCollection","features":[{}]}}"#,
        raw.join(",")
    );
    let (good, bad) = parse_collection(&text).unwrap();
    assert!(good.is_empty());
    bad.into_iter()
        .map(|r| RejectedRecord {
            locator: format!("feature {}", r.index),
            raw: raw[r.index].to_string(),
            reason: r.reason,
        })
        .collect()
}

pub fn batch(
    engine: &Engine,
    file: &str,
    accepted: Vec<Accepted>,
    rejected: Vec<RejectedRecord>,
) -> Batch {
    Batch {
        file: file.to_string(),
        format: "geojson".into(),
        agreement_hash: engine.agreement().hash.clone(),
        received_at: received_at(),
        accepted,
        rejected,
    }
}

/// A store file in the test's scratch directory, removed (with its WAL) before and after.
pub struct ScratchFile(pub PathBuf);

impl ScratchFile {
    pub fn new(name: &str) -> ScratchFile {
        let f = ScratchFile(
            PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
                .join(format!("{name}-{}.gpkg", std::process::id())),
        );
        f.remove();
        f
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    fn remove(&self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.0.display()));
        }
    }
}

impl Drop for ScratchFile {
    fn drop(&mut self) {
        self.remove();
    }
}
