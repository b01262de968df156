//! Attribution suggestion: whose area a located firing position is in, and why we think so.
//!
//! A suggestion is only a suggestion: it becomes an attribution by an analyst's decision
//! (later work, issue 5 item 4). It is made from an [`Origin`] — a firing position fixed by
//! bearings — never from an impact: where a round lands says nothing about who fired it.
//! When the origin's 95 % ellipse reaches the contact line (semi-major axis ≥ the distance to
//! the line) the ellipse straddles the line and no party is suggested.

use std::collections::BTreeMap;

use truce_core::assess::Engine;
use truce_core::observation::{Observation, ObservationKind};
use truce_geo::{LonLat, azimuth_deg, destination, distance_m};

use crate::triangulate::{BearingObs, Origin, angle_diff_deg, km};

/// The least share of the area fire could have come from that must lie in one party's area for
/// that party to be suggested: 0.75, three-to-one odds. The area is weighted by the direction's
/// normal error over ±[`FIRE_AREA_SIGMA`] σ and uniformly over the range band (a flat prior in
/// range: nothing says at which range in the band the weapon stood).
pub const FIRE_AREA_SHARE: f64 = 0.75;
/// A direction's spread sampled for the area fire came from: ± this many σ (capped at 90°),
/// each direction weighted by the normal density (beyond 3σ lies 0.3 % of it).
pub const FIRE_AREA_SIGMA: f64 = 3.0;
/// Samples of the area fire came from: along the range band × across the direction's spread.
const AREA_SAMPLES_ALONG: usize = 24;
const AREA_SAMPLES_ACROSS: usize = 15;
/// A point within this many σ of a bearing's ray counts as on it ([`ray_within`]).
pub const RAY_WIDTH_SIGMA: f64 = 2.0;
/// Crater analyses of one strike that differ from their combined direction by more than this
/// many of their own σ disagree: no area is drawn from them.
pub const CRATER_AGREE_SIGMA: f64 = 3.0;

/// The range band (m) of a calibre, smallest to largest, from the weapons that fire it (the
/// Minsk II withdrawal classes and their neighbours); unknown: 0.5–25 km.
///
/// | calibre | weapons | band |
/// |---|---|---|
/// | ≤ 82 mm | 82 mm mortars | 0.1–4.3 km |
/// | 83–120 mm | 120 mm mortars, 100 mm MT-12 | 0.5–8.2 km |
/// | 121–130 mm | 122 mm D-30, 2S1, BM-21 Grad | 1–21 km |
/// | 131–155 mm | 152 mm D-20, 2S3, 2S19 | 1–25 km |
/// | 156–240 mm | 220 mm BM-27 Uragan | 10–35 km |
/// | > 240 mm | 300 mm BM-30 Smerch | 20–70 km |
pub fn range_band_m(calibre_mm: Option<u32>) -> (f64, f64) {
    match calibre_mm {
        Some(c) if c <= 82 => (100.0, 4_300.0),
        Some(c) if c <= 120 => (500.0, 8_200.0),
        Some(c) if c <= 130 => (1_000.0, 21_000.0),
        Some(c) if c <= 155 => (1_000.0, 25_000.0),
        Some(c) if c <= 240 => (10_000.0, 35_000.0),
        Some(_) => (20_000.0, 70_000.0),
        None => (500.0, 25_000.0),
    }
}

/// A crater analysis an impact, explosion or damage report states, as the CoT adapter writes it
/// into the remarks (`docs/ingest.md`): "crater analysis: fire came from 45° ± 27°" and
/// optionally "calibre 122 mm". (azimuth, σ, calibre).
pub fn crater_analysis(obs: &Observation) -> Option<(f64, f64, Option<u32>)> {
    let p = &obs.properties;
    if !matches!(
        p.kind,
        ObservationKind::Impact | ObservationKind::Explosion | ObservationKind::Damage
    ) || p.bearing.is_some()
    {
        return None;
    }
    let r = &p.remarks;
    let rest = &r[r.find("crater analysis: fire came from ")? + 32..];
    let (az, rest) = rest.split_once("° ± ")?;
    let (sigma, _) = rest.split_once('°')?;
    let az: f64 = az.trim().parse().ok()?;
    let sigma: f64 = sigma.trim().parse().ok()?;
    let calibre = r.find("calibre ").and_then(|i| {
        let (n, _) = r[i + 8..].split_once(" mm")?;
        n.trim().parse().ok()
    });
    ((0.0..360.0).contains(&az) && sigma.is_finite() && sigma > 0.0).then_some((az, sigma, calibre))
}

/// The stretch of `b`'s ray (distances from its observer, m) within `range` of `at`, clipped
/// to the ray's own reach; None when the ray does not come within `range`.
pub fn ray_within(b: &BearingObs, at: LonLat, range: f64) -> Option<(f64, f64)> {
    let d = distance_m(b.observer, at);
    let off = angle_diff_deg(azimuth_deg(b.observer, at), b.azimuth_deg).to_radians();
    let (along, across) = (d * off.cos(), (d * off.sin()).abs());
    // The ray's angular error widens it: a point within 2σ of the ray counts as on it.
    let across = (across - RAY_WIDTH_SIGMA * b.error_deg.to_radians() * d).max(0.0);
    if across > range {
        return None;
    }
    let half = (range * range - across * across).sqrt();
    let reach = b
        .max_range_m
        .unwrap_or(crate::correlate::DEFAULT_BEARING_RANGE_M);
    let (t0, t1) = ((along - half).max(0.0), (along + half).min(reach));
    (t1 > t0).then_some((t0, t1))
}

/// Shares of the area fire came from, seen from `apex` towards `azimuth` with a one-sigma
/// error of `sigma` degrees, between `t0` and `t1` metres, by party area ("" outside every
/// party's area): the probability that the weapon stood in each, for a direction error that is
/// normal (sampled to ± [`FIRE_AREA_SIGMA`] σ, capped at 90°, each sample weighted by its
/// density) and a range that is uniform over the ground (equal-area rings: nothing says at
/// which range in the band the weapon stood).
fn wedge_shares(
    engine: &Engine,
    apex: LonLat,
    azimuth: f64,
    sigma: f64,
    (t0, t1): (f64, f64),
) -> BTreeMap<String, f64> {
    let half = (FIRE_AREA_SIGMA * sigma).min(90.0);
    let mut shares: BTreeMap<String, f64> = BTreeMap::new();
    let mut total = 0.0;
    for j in 0..AREA_SAMPLES_ACROSS {
        let v = (j as f64 + 0.5) / AREA_SAMPLES_ACROSS as f64;
        let off = half * (2.0 * v - 1.0);
        let w = (-0.5 * (off / sigma).powi(2)).exp();
        for i in 0..AREA_SAMPLES_ALONG {
            let u = (i as f64 + 0.5) / AREA_SAMPLES_ALONG as f64;
            let t = (t0 * t0 + u * (t1 * t1 - t0 * t0)).sqrt();
            let q = destination(apex, (azimuth + off).rem_euclid(360.0), t);
            let party = engine.party_at(q).unwrap_or("").to_string();
            *shares.entry(party).or_insert(0.0) += w;
            total += w;
        }
    }
    for s in shares.values_mut() {
        *s /= total;
    }
    shares
}

/// The party holding at least [`FIRE_AREA_SHARE`] of `shares`, with that share.
fn dominant(shares: &BTreeMap<String, f64>) -> Option<(String, f64)> {
    shares
        .iter()
        .filter(|(p, s)| !p.is_empty() && **s >= FIRE_AREA_SHARE - 1e-9)
        .map(|(p, s)| (p.clone(), *s))
        .next()
}

fn shares_words(shares: &BTreeMap<String, f64>) -> String {
    let mut v: Vec<String> = shares
        .iter()
        .map(|(p, s)| {
            let p = if p.is_empty() {
                "no party's area"
            } else {
                p.as_str()
            };
            format!("{:.0} % {p}", s * 100.0)
        })
        .collect();
    v.sort();
    v.join(", ")
}

/// The area fire came from by crater analysis. The teams' analyses of one strike are combined
/// into one direction — their inverse-variance circular mean, σ = (Σ 1/σᵢ²)^-½, which is the
/// product of their normal errors seen from one place (the craters lie metres apart, the weapon
/// kilometres away) — over the range band every stated calibre allows ([`range_band_m`]; the
/// intersection of the bands). Analyses that disagree (one further than
/// [`CRATER_AGREE_SIGMA`] of its σ from the combined direction) or calibres whose bands do not
/// overlap draw no area. A party is suggested when at least [`FIRE_AREA_SHARE`] of the area's
/// probability lies in its area ([`wedge_shares`]).
pub fn fire_area_from_craters(
    engine: &Engine,
    at: LonLat,
    craters: &[(f64, f64, Option<u32>)],
) -> Option<Suggestion> {
    if craters.is_empty() {
        return None;
    }
    let (mut x, mut y, mut w) = (0.0, 0.0, 0.0);
    for &(a, s, _) in craters {
        let wi = 1.0 / (s * s);
        x += wi * a.to_radians().cos();
        y += wi * a.to_radians().sin();
        w += wi;
    }
    let mean = y.atan2(x).to_degrees().rem_euclid(360.0);
    let sigma = 1.0 / w.sqrt();
    let stated: Vec<u32> = craters.iter().filter_map(|c| c.2).collect();
    let band = if stated.is_empty() {
        range_band_m(None)
    } else {
        stated
            .iter()
            .fold((0.0_f64, f64::INFINITY), |(lo, hi), &c| {
                let (a, b) = range_band_m(Some(c));
                (lo.max(a), hi.min(b))
            })
    };
    let each: Vec<String> = craters
        .iter()
        .map(|&(a, s, c)| {
            let c = c.map_or("calibre unknown".to_string(), |c| format!("{c} mm"));
            format!("{a:.0}° ± {s:.0}° ({c})")
        })
        .collect();
    let outlier = craters
        .iter()
        .find(|&&(a, s, _)| angle_diff_deg(a, mean).abs() > CRATER_AGREE_SIGMA * s);
    let head = if craters.len() == 1 {
        format!("crater analysis: fire came from {}", each[0])
    } else {
        format!(
            "crater analyses ({}): fire came from {mean:.0}° ± {sigma:.0}° combined",
            each.join(", ")
        )
    };
    let (party, words) = if let Some(&(a, s, _)) = outlier {
        (
            None,
            format!(
                "{a:.0}° lies more than {CRATER_AGREE_SIGMA:.0} σ ({s:.0}°) from {mean:.0}°: the analyses disagree, no party suggested"
            ),
        )
    } else if band.0 >= band.1 {
        (
            None,
            "the calibres stated have no range in common: no party suggested".to_string(),
        )
    } else {
        let shares = wedge_shares(engine, at, mean, sigma, band);
        let party = dominant(&shares).map(|(p, _)| p);
        let verdict = match &party {
            Some(p) => format!("in {p}-controlled area"),
            None => format!(
                "no party holds {:.0} % of it: no party suggested",
                FIRE_AREA_SHARE * 100.0
            ),
        };
        (
            party,
            format!(
                "{}–{} out: {}; {verdict}",
                km(band.0),
                km(band.1),
                shares_words(&shares)
            ),
        )
    };
    Some(Suggestion {
        party,
        basis: format!("{head}, {words}"),
        distance_to_line_m: engine.line().nearest(at).distance_m,
        straddles_line: false,
    })
}

/// The area a lone firing bearing came from, held against the strike it caused: the ray's
/// stretch within `range` of the strike at `at` (± 2σ). A party is suggested when at least
/// [`FIRE_AREA_SHARE`] of that area is in its area.
pub fn fire_area_from_rays(
    engine: &Engine,
    rays: &[BearingObs],
    at: LonLat,
    range: f64,
    strike: &str,
) -> Option<Suggestion> {
    let b = rays.iter().find(|b| ray_within(b, at, range).is_some())?;
    let band = ray_within(b, at, range)?;
    let shares = wedge_shares(engine, b.observer, b.azimuth_deg, b.error_deg, band);
    let party = dominant(&shares).map(|(p, _)| p);
    let verdict = match &party {
        Some(p) => format!("in {p}-controlled area"),
        None => "no party holds most of it: no party suggested".into(),
    };
    Some(Suggestion {
        party,
        basis: format!(
            "firing bearing {:.0}° ± {:.1}° from {:.4},{:.4}, {}–{} out (within {} of strike {strike}): {}; {verdict}",
            b.azimuth_deg,
            b.error_deg,
            b.observer[1],
            b.observer[0],
            km(band.0),
            km(band.1),
            km(range),
            shares_words(&shares)
        ),
        distance_to_line_m: engine.line().nearest(b.observer).distance_m,
        straddles_line: false,
    })
}

/// A suggested party for a located origin of fire, with its basis in words.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PartySuggestion {
    pub party: String,
    /// Why: "origin 8.2 km east of the line in RU-controlled area; …", or the breaches that
    /// presume the party responsible.
    pub basis: String,
}

/// The incident's suggested party — the one definition, stored on the incident as
/// [`crate::correlate::Incident::suggested`] and refreshed whenever a member joins or a link
/// changes. In order:
///
/// 1. the located origin of fire's (two or more firing bearings), when it names one;
/// 2. the party its observations' breaches presume responsible, by the larger summed evidence
///    weight (a tie suggests nobody): a firing position seen in a party's area, a weapon in a
///    party's ground, works, a track's starting side, a checkpoint's holder;
/// 3. for a strike, the firing it is linked to (the firing side's party: the strike carries
///    the firing's place and basis); for a firing seen on one bearing, the area its ray can
///    have come from, held against the strike it caused ([`fire_area_from_rays`]);
/// 4. for a strike, a crater analysis's area fire came from ([`fire_area_from_craters`]).
///
/// Impacts and explosions never presume a party by themselves (the core's rule): a strike is
/// attributed only through where its fire came from.
pub fn suggested_party(incident: &crate::correlate::Incident) -> Option<PartySuggestion> {
    if let Some(s) = &incident.attribution
        && let Some(p) = &s.party
    {
        return Some(PartySuggestion {
            party: p.clone(),
            basis: s.basis.clone(),
        });
    }
    if let Some(s) = breach_party(incident) {
        return Some(s);
    }
    if incident.group == crate::correlate::EventGroup::Strike
        && let Some(l) = incident.links.first()
        && let Some(p) = &l.party
    {
        let place = l
            .location
            .map_or(String::new(), |q| format!(" at {:.4},{:.4}", q[1], q[0]));
        return Some(PartySuggestion {
            party: p.clone(),
            basis: format!("{}{place}, whose evidence suggests {p}", l.basis),
        });
    }
    if let Some(a) = &incident.fire_area
        && let Some(p) = &a.party
    {
        return Some(PartySuggestion {
            party: p.clone(),
            basis: a.basis.clone(),
        });
    }
    None
}

/// Rule 2 of [`suggested_party`]: the breaches' presumed party by evidence weight.
fn breach_party(incident: &crate::correlate::Incident) -> Option<PartySuggestion> {
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
