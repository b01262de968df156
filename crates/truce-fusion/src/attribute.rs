//! Attribution suggestion: whose area a located firing position is in, and why we think so.
//!
//! A suggestion is only a suggestion: it becomes an attribution by an analyst's decision
//! (later work, issue 5 item 4). It is made from an [`Origin`] — a firing position fixed by
//! bearings — never from an impact: where a round lands says nothing about who fired it.
//! When the origin's 95 % ellipse reaches the contact line (semi-major axis ≥ the distance to
//! the line) the ellipse straddles the line and no party is suggested.

use truce_core::assess::Engine;
use truce_geo::azimuth_deg;

use crate::triangulate::{Origin, km};

/// A suggested party for a located origin of fire, with its basis in words.
#[derive(Debug, Clone, PartialEq)]
pub struct Suggestion {
    /// The party whose area holds the origin; None when the ellipse straddles the line or the
    /// origin is outside every party's area.
    pub party: Option<String>,
    /// "origin 8.2 km east of the line in RU-controlled area; ellipse 1.1 × 0.4 km".
    pub basis: String,
    /// Geodesic distance from the origin to the contact line, metres.
    pub distance_to_line_m: f64,
    /// True when the 95 % ellipse reaches across the contact line.
    pub straddles_line: bool,
}

/// The eight compass points, clockwise from north.
const COMPASS: [&str; 8] = [
    "north",
    "north-east",
    "east",
    "south-east",
    "south",
    "south-west",
    "west",
    "north-west",
];

fn compass(azimuth: f64) -> &'static str {
    COMPASS[((azimuth.rem_euclid(360.0) + 22.5) / 45.0) as usize % 8]
}

/// Suggests who fired from `origin`: the party area it lies in, stated with the distance and
/// direction from the nearest point of the contact line and the ellipse's semi-axes.
pub fn suggest(engine: &Engine, origin: &Origin) -> Suggestion {
    let nearest = engine.line().nearest(origin.point);
    let d = nearest.distance_m;
    let direction = if d > 0.0 {
        compass(azimuth_deg(nearest.point, origin.point))
    } else {
        "on"
    };
    let e = &origin.ellipse;
    let ellipse = if e.semi_major_m >= 1000.0 {
        format!(
            "ellipse {:.1} × {:.1} km",
            e.semi_major_m / 1000.0,
            e.semi_minor_m / 1000.0
        )
    } else {
        format!("ellipse {:.0} × {:.0} m", e.semi_major_m, e.semi_minor_m)
    };
    let where_ = if d > 0.0 {
        format!("origin {} {direction} of the line", km(d))
    } else {
        "origin on the line".into()
    };
    let area = engine.party_at(origin.point);
    let straddles = e.semi_major_m >= d;
    let (party, basis) = match (area, straddles) {
        (_, true) => (
            None,
            format!("{where_}; {ellipse} straddles the line: no party suggested"),
        ),
        (Some(p), false) => (
            Some(p.to_string()),
            format!("{where_} in {p}-controlled area; {ellipse}"),
        ),
        (None, false) => (
            None,
            format!("{where_}, outside every party's area; {ellipse}"),
        ),
    };
    Suggestion {
        party,
        basis,
        distance_to_line_m: d,
        straddles_line: straddles,
    }
}

/// The party an incident's evidence suggests, with its basis in words: the one definition
/// every surface shows (CLI, REST, OGC API, the `incidents` layer, alerts, reports), stored
/// on the incident as [`crate::correlate::Incident::suggested`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PartySuggestion {
    pub party: String,
    /// Why: "origin 8.2 km east of the line in RU-controlled area; …", or the breaches that
    /// presume the party responsible.
    pub basis: String,
}

/// The incident's suggested party: the located origin of fire's, when it names one; else the
/// party its observations' breaches presume responsible, by the larger summed evidence weight
/// (a tie suggests nobody). Impacts and explosions never presume a party (the core's rule),
/// so they never vote.
pub fn suggested_party(incident: &crate::correlate::Incident) -> Option<PartySuggestion> {
    if let Some(s) = &incident.attribution
        && let Some(p) = &s.party
    {
        return Some(PartySuggestion {
            party: p.clone(),
            basis: s.basis.clone(),
        });
    }
    let mut ranked: Vec<(&String, f64)> = incident
        .breach_parties
        .iter()
        .map(|(p, w)| (p, *w))
        .collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    let (party, weight) = match ranked.as_slice() {
        [] => return None,
        [(p, w)] => (*p, *w),
        [(p, a), (_, b), ..] if a > b => (*p, *a),
        _ => return None,
    };
    let others: f64 = ranked.iter().skip(1).map(|(_, w)| w).sum();
    let rules = incident.breaches.join(", ");
    let basis = if others > 0.0 {
        format!(
            "breaches of {rules} presume {party} responsible (evidence weight {weight:.2} against {others:.2} for other parties)"
        )
    } else {
        format!("breaches of {rules} presume {party} responsible (evidence weight {weight:.2})")
    };
    Some(PartySuggestion {
        party: party.clone(),
        basis,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compass_points() {
        assert_eq!(compass(0.0), "north");
        assert_eq!(compass(359.0), "north");
        assert_eq!(compass(91.0), "east");
        assert_eq!(compass(200.0), "south");
        assert_eq!(compass(300.0), "north-west");
    }
}
