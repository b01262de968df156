//! What the store holds, read back for the engine: the observations with their stored
//! assessments. (The terms in force and the incidents: `replay`.)

use anyhow::Result;
use truce_core::assess::Assessment;
use truce_core::observation::{Observation, Place};
use truce_store::{GeoPackageStore, Store};

/// Observations read back from the store per page.
const PAGE: usize = 10_000;

/// An assessed observation as fusion takes it: (seq, observation, place, assessment), the
/// assessment's `id` being the observation's display id (the id the ingest gave it).
pub(crate) type Assessed = (u64, Observation, Place, Assessment);

/// Every stored observation with its stored assessment, in seq order.
pub(crate) fn stored_batch(store: &GeoPackageStore) -> Result<Vec<Assessed>> {
    let mut all = Vec::new();
    let mut from = 0;
    loop {
        let page = store.observations(from, PAGE)?;
        let Some(last) = page.last().map(|s| s.seq) else {
            break;
        };
        for s in page {
            let place = s
                .observation
                .validate()
                .map_err(|e| anyhow::anyhow!("stored observation {}: {e}", s.seq))?;
            let a = s.assessment;
            let assessment = Assessment {
                id: s.observation.display_id(s.seq as usize),
                party_area: a.party_area,
                distance_to_line_m: a.distance_to_line_m,
                zones: a.zones,
                crossings: a.crossings,
                breaches: a.breaches,
            };
            all.push((s.seq, s.observation, place, assessment));
        }
        from = last + 1;
    }
    Ok(all)
}
