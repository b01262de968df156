//! Installing an agreement: its entry in the log, its row in `agreements`, and the map layers
//! it provides (contact line, party areas, zones, storage sites), replaced together with their
//! extents in `gpkg_contents`.

use chrono::{DateTime, Utc};
use rusqlite::{Transaction, TransactionBehavior, params};
use truce_core::agreement::{Agreement, ZoneExtent};
use truce_core::canonical::to_canonical_json;
use truce_log::leaf_hash;

use crate::geometry::{self, Envelope};
use crate::geopackage::{
    Doing, Failed, GeoPackageStore, append_entry, current_agreement, gpkg_datetime, to_i64, touch,
};
use crate::log;
use crate::{AgreementOutcome, EntryKind};

/// The layers an agreement provides, replaced together.
const AGREEMENT_LAYERS: [&str; 4] = ["contact_line", "party_areas", "zones", "storage_sites"];

impl GeoPackageStore {
    /// Installs `agreement` (canonical JSON `body`) as the next entry and replaces the map
    /// layers by its own, unless it is the agreement in force already.
    pub(crate) fn write_agreement(
        &mut self,
        agreement: &Agreement,
        body: &str,
        received_at: &DateTime<Utc>,
    ) -> Result<AgreementOutcome, Failed> {
        let stamp = gpkg_datetime(received_at);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .doing("locking the file for writing")?;
        let previous_hash = current_agreement(&tx).doing("reading the agreement in force")?;
        if previous_hash.as_deref() == Some(agreement.hash.as_str()) {
            return Ok(AgreementOutcome::Unchanged);
        }
        let mut tree = log::sync_frontier(&tx, &self.frontier)?;
        let entry_seq = tree.size();
        append_entry(
            &tx,
            &mut tree,
            entry_seq,
            EntryKind::Agreement,
            body.as_bytes(),
            &agreement.hash,
            leaf_hash(body.as_bytes()),
        )
        .doing("appending the agreement entry")?;
        tx.execute(
            "INSERT INTO agreements (hash, agreement_id, version, title, effective_at, first_entry_seq, \
             last_entry_seq, installed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7) \
             ON CONFLICT (hash) DO UPDATE SET last_entry_seq = excluded.last_entry_seq, \
             installed_at = excluded.installed_at",
            params![
                agreement.hash,
                agreement.id,
                agreement.version,
                agreement.title,
                gpkg_datetime(&agreement.effective_at),
                to_i64(entry_seq),
                stamp
            ],
        )
        .doing("recording the agreement")?;
        replace_agreement_layers(&tx, agreement, &stamp)?;
        for table in ["agreements", "entries"] {
            touch(&tx, table, &stamp).doing("stamping gpkg_contents.last_change")?;
        }
        let frontier = tree
            .write(&tx)
            .doing("writing the log's Merkle tree nodes")?;
        tx.commit().doing("committing")?;
        self.frontier = frontier;
        Ok(AgreementOutcome::Installed {
            entry_seq,
            previous_hash,
        })
    }
}

/// Replaces the contact line, party areas, zones and storage sites by `a`'s.
fn replace_agreement_layers(
    tx: &Transaction<'_>,
    a: &Agreement,
    stamp: &str,
) -> Result<(), Failed> {
    for table in AGREEMENT_LAYERS {
        tx.execute(&format!("DELETE FROM {table}"), [])
            .map_err(|source| Failed {
                what: format!("clearing the {table} layer"),
                source: Box::new(source),
            })?;
    }
    write_contact_line(tx, a, stamp)?;
    write_party_areas(tx, a, stamp)?;
    write_zones(tx, a, stamp)?;
    write_storage_sites(tx, a, stamp)
}

/// The `contact_line` layer: one multi-line.
fn write_contact_line(tx: &Transaction<'_>, a: &Agreement, stamp: &str) -> Result<(), Failed> {
    let line = geometry::multi_line_string(&a.contact_line.lines);
    tx.execute(
        "INSERT INTO contact_line (geom, agreement_id, geometry_file, agreement_hash) VALUES (?1, ?2, ?3, ?4)",
        params![line.blob, a.id, a.contact_line.geometry_file, a.hash],
    )
    .doing("writing the contact line")?;
    set_extent(tx, "contact_line", &line.envelope, stamp).doing("setting the contact_line extent")
}

/// The `party_areas` layer: a multi-polygon per party.
fn write_party_areas(tx: &Transaction<'_>, a: &Agreement, stamp: &str) -> Result<(), Failed> {
    let mut extent = Envelope::EMPTY;
    for party in &a.parties {
        let area = geometry::multi_polygon(&party.area);
        extent.merge(&area.envelope);
        tx.execute(
            "INSERT INTO party_areas (geom, party, name, area_file, agreement_hash) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![area.blob, party.id, party.name, party.area_file, a.hash],
        )
        .map_err(|source| Failed { what: format!("writing the area of party {}", party.id), source: Box::new(source) })?;
    }
    set_extent(tx, "party_areas", &extent, stamp).doing("setting the party_areas extent")
}

/// The `zones` layer: polygon zones with their geometry, bands around the line without.
fn write_zones(tx: &Transaction<'_>, a: &Agreement, stamp: &str) -> Result<(), Failed> {
    let mut extent = Envelope::EMPTY;
    for zone in &a.zones {
        let (geom, within_km, file) = match &zone.extent {
            ZoneExtent::Polygons { file, polygons } => {
                let g = geometry::multi_polygon(polygons);
                extent.merge(&g.envelope);
                (Some(g.blob), None, Some(file.as_str()))
            }
            ZoneExtent::WithinKmOfLine { within_km } => (None, Some(*within_km), None),
        };
        let prohibits: Vec<&str> = zone.prohibits.iter().map(|p| p.as_str()).collect();
        tx.execute(
            "INSERT INTO zones (geom, zone_id, name, kind, prohibits, within_km, geometry_file, agreement_hash) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![geom, zone.id, zone.name, zone.kind.as_str(), prohibits.join(","), within_km, file, a.hash],
        )
        .map_err(|source| Failed { what: format!("writing zone {}", zone.id), source: Box::new(source) })?;
    }
    set_extent(tx, "zones", &extent, stamp).doing("setting the zones extent")
}

/// The `storage_sites` layer: a point per site, with its declared inventory.
fn write_storage_sites(tx: &Transaction<'_>, a: &Agreement, stamp: &str) -> Result<(), Failed> {
    let mut extent = Envelope::EMPTY;
    for site in &a.storage_sites {
        let point = geometry::point(site.location);
        extent.merge(&point.envelope);
        let serials = (!site.serials.is_empty()).then(|| to_canonical_json(&site.serials));
        tx.execute(
            "INSERT INTO storage_sites (geom, site_id, name, party, radius_m, declared, serials, agreement_hash) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                point.blob,
                site.id,
                site.name,
                site.party,
                site.radius_m,
                to_canonical_json(&site.declared),
                serials,
                a.hash
            ],
        )
        .map_err(|source| Failed { what: format!("writing storage site {}", site.id), source: Box::new(source) })?;
    }
    set_extent(tx, "storage_sites", &extent, stamp).doing("setting the storage_sites extent")
}

/// Sets a layer's extent in `gpkg_contents` (NULL when empty) and stamps its last change.
fn set_extent(
    tx: &Transaction<'_>,
    table: &str,
    e: &Envelope,
    stamp: &str,
) -> rusqlite::Result<()> {
    let v = |x: f64| (!e.is_empty()).then_some(x);
    tx.prepare_cached(
        "UPDATE gpkg_contents SET min_x = ?1, max_x = ?2, min_y = ?3, max_y = ?4, last_change = ?5 WHERE table_name = ?6",
    )?
    .execute(params![v(e.min_x), v(e.max_x), v(e.min_y), v(e.max_y), stamp, table])
    .map(drop)
}
