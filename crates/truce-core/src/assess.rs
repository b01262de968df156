//! Assessment: one observation held against the terms.
//!
//! [`Engine`] indexes the agreement's geometry once (contact line, party areas, zones) and then
//! answers, for each observation: whose area it is in, how far it is from the contact line
//! (geodesic, WGS84), which zones contain it, where a track crosses the line, and which rules
//! it may breach — naming the party presumed responsible and why, and the measured quantity in
//! words. The engine is pure: same observation and terms, same assessment, on any core.
//!
//! Where an observation is assessed: a Point at its position (a bearing at its observer, since
//! the target is not located until fusion triangulates it — so a bearing breaches no zone rule:
//! the zones it is "in" are the observer's); a track along all of it (distance is
//! its closest approach, zones are every zone any vertex is in, the party is where it started);
//! a Polygon at its centroid.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use rayon::prelude::*;
use serde::Serialize;
use truce_geo::{AreaIndex, LineIndex, LonLat};

use crate::agreement::{
    Activity, Agreement, Rule, RuleKind, Severity, StorageSite, Zone, ZoneExtent, to_multipolygon,
};
use crate::observation::{Observation, ObservationKind, Place, StorageCheck};

/// The monitor's own aircraft, which air-exclusion zones exempt.
pub const MONITOR_AFFILIATION: &str = "monitor";

/// A rule an observation may breach.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Breach {
    pub rule: String,
    pub severity: Severity,
    /// The party presumed responsible, or null when the evidence cannot say (an impact alone).
    pub party: Option<String>,
    /// Why that party (or why none): "weapon in RU-controlled area".
    pub basis: String,
    /// The measured quantity in words: "MLRS ×4 at 12.4 km from the contact line; limit 35 km since …".
    pub detail: String,
    /// False when the observation's error radius straddles the limit: a breach to verify.
    pub certain: bool,
}

/// Where a track crosses the contact line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LineCrossing {
    pub point: LonLat,
    /// Index of the track segment that crosses.
    pub track_segment: usize,
}

/// One observation held against the agreement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assessment {
    pub id: String,
    pub party_area: Option<String>,
    /// Geodesic distance to the contact line, metres, rounded to 0.1 m.
    pub distance_to_line_m: f64,
    pub zones: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub crossings: Vec<LineCrossing>,
    pub breaches: Vec<Breach>,
}

enum ZoneShape {
    Area(AreaIndex),
    Band { within_m: f64 },
}

/// The agreement with its geometry indexed for assessment.
pub struct Engine {
    agreement: Agreement,
    line: LineIndex,
    /// Each party's id (shared: what [`Engine::party_name_at`] hands out) and area.
    areas: Vec<(Arc<str>, AreaIndex)>,
    zones: Vec<ZoneShape>,
}

/// What we measured about a place, before rules.
struct Measured {
    party_area: Option<String>,
    start_area: Option<String>,
    distance_m: f64,
    zones: Vec<usize>,
    crossings: Vec<LineCrossing>,
}

impl Engine {
    pub fn new(agreement: Agreement) -> Result<Engine, String> {
        let line = LineIndex::new(agreement.contact_line.lines.clone())
            .map_err(|e| format!("contact line: {e}"))?;
        let areas = agreement
            .parties
            .iter()
            .map(|p| {
                (
                    Arc::from(p.id.as_str()),
                    AreaIndex::new(to_multipolygon(&p.area)),
                )
            })
            .collect();
        let zones = agreement
            .zones
            .iter()
            .map(|z| match &z.extent {
                ZoneExtent::Polygons { polygons, .. } => {
                    ZoneShape::Area(AreaIndex::new(to_multipolygon(polygons)))
                }
                ZoneExtent::WithinKmOfLine { within_km } => ZoneShape::Band {
                    within_m: within_km * 1000.0,
                },
            })
            .collect();
        Ok(Engine {
            agreement,
            line,
            areas,
            zones,
        })
    }

    pub fn agreement(&self) -> &Agreement {
        &self.agreement
    }

    pub fn line(&self) -> &LineIndex {
        &self.line
    }

    /// The party whose area contains `p` (the first in agreement order, should areas touch).
    pub fn party_at(&self, p: LonLat) -> Option<&str> {
        self.party_name_at(p).map(|id| &**id)
    }

    /// [`Engine::party_at`], the id shared rather than borrowed: what a copy kept beside
    /// many incidents holds (one allocation per party, not one per incident).
    pub fn party_name_at(&self, p: LonLat) -> Option<&Arc<str>> {
        self.areas
            .iter()
            .find(|(_, a)| a.contains(p))
            .map(|(id, _)| id)
    }

    fn zones_at(&self, p: LonLat, distance_m: f64, into: &mut Vec<usize>) {
        for (i, z) in self.zones.iter().enumerate() {
            let inside = match z {
                ZoneShape::Area(a) => a.contains(p),
                ZoneShape::Band { within_m } => distance_m <= *within_m,
            };
            if inside && !into.contains(&i) {
                into.push(i);
            }
        }
    }

    fn measure(&self, place: &Place) -> Measured {
        match place {
            Place::Point(p) => self.measure_point(*p),
            Place::Area(_) => self.measure_point(place.assessed_point()),
            Place::Track(pts) => {
                let mut zones = Vec::new();
                let mut distance_m = f64::INFINITY;
                for &p in pts {
                    let d = self.line.distance_m(p);
                    distance_m = distance_m.min(d);
                    self.zones_at(p, d, &mut zones);
                }
                let crossings: Vec<LineCrossing> = self
                    .line
                    .crossings(pts)
                    .into_iter()
                    .map(|c| LineCrossing {
                        point: c.point,
                        track_segment: c.track_segment,
                    })
                    .collect();
                if !crossings.is_empty() {
                    distance_m = 0.0;
                    // A track on the line is in a band zone of any width.
                    for (i, z) in self.zones.iter().enumerate() {
                        if matches!(z, ZoneShape::Band { .. }) && !zones.contains(&i) {
                            zones.push(i);
                        }
                    }
                }
                zones.sort_unstable();
                let start_area = self.party_at(pts[0]).map(str::to_string);
                Measured {
                    party_area: start_area.clone(),
                    start_area,
                    distance_m,
                    zones,
                    crossings,
                }
            }
        }
    }

    fn measure_point(&self, p: LonLat) -> Measured {
        let distance_m = self.line.distance_m(p);
        let mut zones = Vec::new();
        self.zones_at(p, distance_m, &mut zones);
        let area = self.party_at(p).map(str::to_string);
        Measured {
            party_area: area.clone(),
            start_area: area,
            distance_m,
            zones,
            crossings: Vec::new(),
        }
    }

    /// Assesses one validated observation (`index` names it when it has no id).
    pub fn assess(&self, index: usize, obs: &Observation, place: &Place) -> Assessment {
        let m = self.measure(place);
        let breaches = self.breaches(obs, place, &m);
        Assessment {
            id: obs.display_id(index),
            party_area: m.party_area,
            distance_to_line_m: (m.distance_m * 10.0).round() / 10.0,
            zones: m
                .zones
                .iter()
                .map(|&i| self.agreement.zones[i].id.clone())
                .collect(),
            crossings: m.crossings,
            breaches,
        }
    }

    /// Assesses many observations on all cores, results in input order.
    pub fn assess_batch(&self, items: &[(usize, Observation, Place)]) -> Vec<Assessment> {
        items
            .par_iter()
            .map(|(i, o, p)| self.assess(*i, o, p))
            .collect()
    }

    /// The rules `obs` breaches, in the agreement's order, none before the terms took effect.
    fn breaches(&self, obs: &Observation, place: &Place, m: &Measured) -> Vec<Breach> {
        if obs.properties.observed_at < self.agreement.effective_at {
            return Vec::new();
        }
        let mut out = Vec::new();
        for rule in &self.agreement.rules {
            match rule.kind {
                RuleKind::NoFire => out.extend(self.no_fire(rule, obs, m)),
                RuleKind::WeaponWithdrawal => out.extend(self.weapon_withdrawal(rule, obs, m)),
                RuleKind::Zone => out.extend(self.zone(rule, obs, place, m)),
                RuleKind::NoCrossing => out.extend(self.no_crossing(rule, obs, m)),
                RuleKind::StorageInventory => out.extend(self.storage_inventory(rule, obs)),
                RuleKind::FreedomOfMovement => out.extend(self.freedom_of_movement(rule, obs, m)),
            }
        }
        out
    }

    // -----------------------------------------------------------------------------------------
    // One function per kind of rule: whether `obs` breaches `rule`, and if so who is presumed
    // responsible, why, and what was measured.

    /// Fire (explosions, impacts and firing, or the rule's `observation_kinds`), inside the
    /// rule's zones if it names any.
    fn no_fire(&self, rule: &Rule, obs: &Observation, m: &Measured) -> Option<Breach> {
        let p = &obs.properties;
        let counts = if rule.observation_kinds.is_empty() {
            matches!(
                p.kind,
                ObservationKind::Explosion | ObservationKind::Impact | ObservationKind::Firing
            )
        } else {
            rule.observation_kinds.contains(&p.kind)
        };
        // A bearing's point is its observer: whether the fire was inside a
        // rule's zones is not known until fusion fixes it.
        let zoned_bearing = p.bearing.is_some() && !rule.zones.is_empty();
        if !counts || zoned_bearing || !self.in_rule_zones(&rule.zones, m) {
            return None;
        }
        let (party, basis) = self.fire_party(obs, m);
        let what = match (&p.bearing, p.kind) {
            (Some(b), k) => {
                format!("{k} on bearing {:.0}° from an observer", b.azimuth_deg)
            }
            (None, k) => format!("{k} {}", where_words(m)),
        };
        let detail = format!(
            "{what} at {}, after the ceasefire took effect {}",
            when(p.observed_at),
            when(self.agreement.effective_at)
        );
        Some(breach(rule, party, basis, detail, true))
    }

    /// A weapon of a class the rule covers, seen within the class's withdrawal distance after
    /// its deadline (a bearing locates nothing, so breaches nothing).
    fn weapon_withdrawal(&self, rule: &Rule, obs: &Observation, m: &Measured) -> Option<Breach> {
        let p = &obs.properties;
        let w = p.weapon.as_ref()?;
        if !matches!(
            p.kind,
            ObservationKind::WeaponPresent | ObservationKind::Firing
        ) {
            return None;
        }
        if !rule.classes.is_empty() && !rule.classes.contains(&w.class) {
            return None;
        }
        let class = self.agreement.weapon_class(&w.class)?;
        let limit_m = class.withdrawal_km * 1000.0;
        if p.observed_at < class.withdraw_by || m.distance_m >= limit_m || p.bearing.is_some() {
            return None;
        }
        let (party, basis) = self.presence_party(obs, m, "weapon");
        let error_m = p.error_radius_m;
        let detail = format!(
            "{} ×{} at {} from the contact line; limit {} since {}{}",
            class.name,
            w.count,
            km(m.distance_m),
            km(limit_m),
            when(class.withdraw_by),
            uncertainty_words(error_m)
        );
        let certain = m.distance_m + error_m < limit_m;
        Some(breach(rule, party, basis, detail, certain))
    }

    /// An activity prohibited by a zone the rule names, seen inside it: one breach per such
    /// zone.
    fn zone(&self, rule: &Rule, obs: &Observation, place: &Place, m: &Measured) -> Vec<Breach> {
        let p = &obs.properties;
        if p.bearing.is_some() {
            return Vec::new(); // the zones are the observer's, not the event's
        }
        let error_m = p.error_radius_m;
        let mut out = Vec::new();
        for zone_i in &m.zones {
            let zone = &self.agreement.zones[*zone_i];
            if !rule.zones.contains(&zone.id) {
                continue;
            }
            let Some(activity) = prohibited_activity(zone, &rule.activities, p.kind) else {
                continue;
            };
            if activity == Activity::Overflight
                && p.affiliation.as_deref() == Some(MONITOR_AFFILIATION)
            {
                continue;
            }
            let (party, basis) = match activity {
                Activity::Explosion => (
                    None,
                    "an explosion or impact alone does not show who fired".to_string(),
                ),
                Activity::Overflight | Activity::Movement => self.track_party(obs, m),
                _ => self.presence_party(obs, m, activity.as_str()),
            };
            let detail = format!(
                "{} inside the {}, which prohibits {}, at {}{}",
                p.kind,
                zone.name,
                activity.as_str(),
                when(p.observed_at),
                uncertainty_words(error_m)
            );
            let certain = error_m == 0.0 || !matches!(place, Place::Point(_));
            out.push(breach(rule, party, basis, detail, certain));
        }
        out
    }

    /// A movement track crossing the contact line.
    fn no_crossing(&self, rule: &Rule, obs: &Observation, m: &Measured) -> Option<Breach> {
        let p = &obs.properties;
        if p.kind != ObservationKind::Movement || m.crossings.is_empty() {
            return None;
        }
        let (party, basis) = self.track_party(obs, m);
        let first = m.crossings[0].point;
        let detail = format!(
            "movement track crosses the contact line {} time{}, first at [{:.5}, {:.5}], at {}",
            m.crossings.len(),
            if m.crossings.len() == 1 { "" } else { "s" },
            first[0],
            first[1],
            when(p.observed_at)
        );
        Some(breach(rule, party, basis, detail, true))
    }

    /// A storage-site check finding fewer weapons than declared, or other serials; the site's
    /// party is responsible.
    fn storage_inventory(&self, rule: &Rule, obs: &Observation) -> Option<Breach> {
        let p = &obs.properties;
        let check = p.storage.as_ref()?;
        let site = self.agreement.storage_site(&check.site)?;
        let findings = storage_findings(site, check);
        if findings.is_empty() {
            return None;
        }
        let detail = format!(
            "storage site {} ({}): {}, checked {}",
            site.id,
            site.name,
            findings.join("; "),
            when(p.observed_at)
        );
        Some(breach(
            rule,
            Some(site.party.clone()),
            format!("declared storage site of {}", site.party),
            detail,
            true,
        ))
    }

    /// A monitoring team refused access.
    fn freedom_of_movement(&self, rule: &Rule, obs: &Observation, m: &Measured) -> Option<Breach> {
        let p = &obs.properties;
        if p.kind != ObservationKind::AccessDenied {
            return None;
        }
        let (party, basis) = self.presence_party(obs, m, "access denied");
        let detail = format!(
            "monitors denied access {} at {}",
            where_words(m),
            when(p.observed_at)
        );
        Some(breach(rule, party, basis, detail, true))
    }

    fn in_rule_zones(&self, zones: &[String], m: &Measured) -> bool {
        zones.is_empty()
            || m.zones
                .iter()
                .any(|&i| zones.contains(&self.agreement.zones[i].id))
    }

    /// Who fired: only a located firing position attributes; impacts, explosions, hotspots and
    /// bare bearings never do.
    fn fire_party(&self, obs: &Observation, m: &Measured) -> (Option<String>, String) {
        let p = &obs.properties;
        if p.kind != ObservationKind::Firing {
            return (
                None,
                format!("{} alone does not show who fired", article(p.kind)),
            );
        }
        if p.bearing.is_some() {
            return (
                None,
                "a single bearing does not locate the firing position".into(),
            );
        }
        self.presence_party(obs, m, "firing position")
    }

    /// Who is present: an identified affiliation, else the party controlling the place.
    fn presence_party(
        &self,
        obs: &Observation,
        m: &Measured,
        what: &str,
    ) -> (Option<String>, String) {
        if let Some(aff) = &obs.properties.affiliation
            && self.agreement.party(aff).is_some()
        {
            return (
                Some(aff.clone()),
                format!("{what} identified as {aff} by the source"),
            );
        }
        match &m.party_area {
            Some(party) => (
                Some(party.clone()),
                format!("{what} in {party}-controlled area"),
            ),
            None => (None, format!("{what} outside every party's area")),
        }
    }

    /// Who moved or flew: an identified affiliation, else where the track started.
    fn track_party(&self, obs: &Observation, m: &Measured) -> (Option<String>, String) {
        if let Some(aff) = &obs.properties.affiliation
            && self.agreement.party(aff).is_some()
        {
            return (
                Some(aff.clone()),
                format!("identified as {aff} by the source"),
            );
        }
        match &m.start_area {
            Some(party) => (
                Some(party.clone()),
                format!("track started on the {party} side"),
            ),
            None => (None, "track started outside every party's area".into()),
        }
    }
}

/// A breach of `rule`, at the rule's severity.
fn breach(
    rule: &Rule,
    party: Option<String>,
    basis: String,
    detail: String,
    certain: bool,
) -> Breach {
    Breach {
        rule: rule.id.clone(),
        severity: rule.severity,
        party,
        basis,
        detail,
        certain,
    }
}

/// What a storage-site check found wrong: counts below the declared, declared serials not
/// found, and serials seen that were not declared (classes in declared order).
fn storage_findings(site: &StorageSite, check: &StorageCheck) -> Vec<String> {
    let mut findings = Vec::new();
    for (class, &declared) in &site.declared {
        let seen = check.counts.get(class).copied().unwrap_or(0);
        if seen < declared {
            findings.push(format!(
                "{class} {seen} of {declared} declared ({} missing)",
                declared - seen
            ));
        }
    }
    for (class, declared) in &site.serials {
        let Some(seen) = check.serials_seen.get(class) else {
            continue;
        };
        let missing: Vec<&str> = declared
            .iter()
            .filter(|s| !seen.contains(s))
            .map(String::as_str)
            .collect();
        let foreign: Vec<&str> = seen
            .iter()
            .filter(|s| !declared.contains(s))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            findings.push(format!("{class} serials not found: {}", missing.join(", ")));
        }
        if !foreign.is_empty() {
            findings.push(format!(
                "{class} undeclared serials: {}",
                foreign.join(", ")
            ));
        }
    }
    findings
}

fn prohibited_activity(zone: &Zone, only: &[Activity], kind: ObservationKind) -> Option<Activity> {
    Activity::shown_by(kind)
        .iter()
        .copied()
        .find(|a| zone.prohibits.contains(a) && (only.is_empty() || only.contains(a)))
}

fn article(kind: ObservationKind) -> &'static str {
    match kind {
        ObservationKind::Impact => "an impact",
        ObservationKind::Explosion => "an explosion",
        ObservationKind::ThermalAnomaly => "a thermal anomaly",
        _ => "this observation",
    }
}

fn where_words(m: &Measured) -> String {
    match &m.party_area {
        Some(p) => format!(
            "{} from the contact line in {p}-controlled area",
            km(m.distance_m)
        ),
        None => format!(
            "{} from the contact line, outside every party's area",
            km(m.distance_m)
        ),
    }
}

fn uncertainty_words(error_m: f64) -> String {
    if error_m > 0.0 {
        format!(" (±{})", km(error_m))
    } else {
        String::new()
    }
}

fn km(m: f64) -> String {
    if m < 1000.0 {
        format!("{m:.0} m")
    } else {
        format!("{:.1} km", m / 1000.0)
    }
}

fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}
