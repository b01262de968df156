//! The monitoring mission's own assets: fixed cameras and acoustic arrays near the line, the
//! drones and the ground teams with the stretch of line each covers.
//!
//! Sensor sites are infrastructure, not chance: they are placed from the agreement's geometry
//! alone, at fixed fractions of the line's length and alternating sides, so every seed sees the
//! same network (as a mission would over a few days). [`mission`] writes the same sites, and a
//! base for each team, as the mission file (`mission.toml`).

use truce_core::mission::{Mission, Sector, Sensor, Team};
use truce_core::observation::SourceKind;
use truce_geo::{LonLat, azimuth_deg};

use crate::sources::fixed::{ACOUSTIC_GUN_RANGE_M, CAMERA_HALF_FOV_DEG, CAMERA_RANGE_M, wrap};
use crate::sources::position;
use crate::theatre::Theatre;

/// Where along the line (fractions of its length) the cameras stand: evenly spread, about one
/// every 45 km on the 2015 line, as the OSCE mission's camera network was at its densest.
const CAMERA_FRACTIONS: [f64; 9] = [0.06, 0.17, 0.28, 0.39, 0.50, 0.61, 0.72, 0.83, 0.94];
/// Cameras' distance from the line, metres: on a rooftop or mast in the first town behind it.
const CAMERA_OFFSET_M: f64 = 2_000.0;
/// Where the acoustic arrays stand, offset from the cameras so the two networks interleave.
const ACOUSTIC_FRACTIONS: [f64; 6] = [0.10, 0.26, 0.42, 0.58, 0.74, 0.90];
/// Acoustic arrays' distance from the line, metres: far enough back to be out of mortar range.
const ACOUSTIC_OFFSET_M: f64 = 5_000.0;
/// How far a site is nudged along the line (fraction) per try when it falls in the sea or abroad.
const SITE_NUDGE_FRACTION: f64 = 0.01;
/// Tries at nudging a site before leaving it out.
const SITE_NUDGE_TRIES: i32 = 10;
/// How far behind the line a team's base is, metres: a town out of reach of most of the guns
/// the line sees (a BM-21 Grad reaches 20.4 km), close enough to drive to the line in well
/// under an hour.
const TEAM_BASE_OFFSET_M: f64 = 25_000.0;

/// The monitor's drones; drone `i` patrols the `i`-th of [`DRONES`]`.len()` equal stretches.
pub(crate) const DRONES: [&str; 3] = ["uav-1", "uav-2", "uav-3"];
/// The ground teams; team `i` patrols the `i`-th of [`TEAMS`]`.len()` equal stretches, both sides.
pub(crate) const TEAMS: [&str; 4] = ["team-1", "team-2", "team-3", "team-4"];

/// A sensor at a fixed site.
#[derive(Debug, Clone)]
pub(crate) struct Site {
    pub id: String,
    pub position: LonLat,
    /// Azimuth from the site to the nearest point of the line, degrees: where a camera points.
    pub facing_deg: f64,
}

fn sites(
    theatre: &Theatre<'_>,
    prefix: &str,
    fractions: &[f64],
    offset_m: f64,
    first_side: usize,
) -> Vec<Site> {
    let parties: Vec<&str> = theatre.parties().collect();
    if parties.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (i, &fraction) in fractions.iter().enumerate() {
        let party = parties[(i + first_side) % parties.len()];
        if let Some(position) = place(theatre, fraction, party, offset_m) {
            let nearest = theatre.line.nearest(position).point;
            out.push(Site {
                id: format!("{prefix}-{:02}", out.len() + 1),
                position,
                facing_deg: azimuth_deg(position, nearest),
            });
        }
    }
    out
}

/// The point `offset_m` behind the line on `party`'s side at `fraction` of its length, nudged
/// along the line when it falls in the sea, abroad or near a bend of the line.
fn place(theatre: &Theatre<'_>, fraction: f64, party: &str, offset_m: f64) -> Option<LonLat> {
    (0..SITE_NUDGE_TRIES)
        .flat_map(|k| [k, -k])
        .map(|k| (fraction + f64::from(k) * SITE_NUDGE_FRACTION).clamp(0.0, 1.0))
        .find_map(|f| {
            theatre
                .offset(f * theatre.length_m, party, offset_m)
                .filter(|p| theatre.distance_m(*p) >= offset_m / 2.0)
        })
}

/// The camera sites, `cam-01` …, alternating sides starting with the first party's.
pub(crate) fn cameras(theatre: &Theatre<'_>) -> Vec<Site> {
    sites(theatre, "cam", &CAMERA_FRACTIONS, CAMERA_OFFSET_M, 0)
}

/// The acoustic arrays, `aco-01` …, alternating sides starting with the second party's.
pub(crate) fn acoustic_arrays(theatre: &Theatre<'_>) -> Vec<Site> {
    sites(theatre, "aco", &ACOUSTIC_FRACTIONS, ACOUSTIC_OFFSET_M, 1)
}

/// Where team `i` sets out from: [`TEAM_BASE_OFFSET_M`] behind the line on the first party's
/// side, level with the middle of its stretch (the point on the line itself if no place there
/// is on that party's land).
fn team_base(theatre: &Theatre<'_>, i: usize) -> LonLat {
    let fraction = (i as f64 + 0.5) / TEAMS.len() as f64;
    theatre
        .parties()
        .next()
        .and_then(|party| place(theatre, fraction, party, TEAM_BASE_OFFSET_M))
        .unwrap_or_else(|| theatre.at_fraction(fraction))
}

/// The mission file of the simulated mission: its teams with their bases, and its cameras and
/// acoustic arrays exactly where the simulated ones stand (positions as the feeds write them),
/// with the range and sector they see.
pub(crate) fn mission(theatre: &Theatre<'_>) -> Mission {
    let rounded = |p: LonLat| {
        let p = position(p);
        [p[0], p[1]]
    };
    let teams = TEAMS
        .iter()
        .enumerate()
        .map(|(i, id)| Team {
            id: (*id).to_string(),
            name: format!("Team {}", i + 1),
            base: rounded(team_base(theatre, i)),
        })
        .collect();
    let fixed = |site: Site, kind, range_m: f64, sector| Sensor {
        id: site.id,
        kind,
        position: rounded(site.position),
        range_km: range_m / 1000.0,
        sector,
    };
    let sensors = cameras(theatre)
        .into_iter()
        .map(|s| {
            let sector = Some(Sector {
                facing_deg: wrap(s.facing_deg),
                width_deg: 2.0 * CAMERA_HALF_FOV_DEG,
            });
            fixed(s, SourceKind::Camera, CAMERA_RANGE_M, sector)
        })
        .chain(
            acoustic_arrays(theatre)
                .into_iter()
                .map(|s| fixed(s, SourceKind::Acoustic, ACOUSTIC_GUN_RANGE_M, None)),
        )
        .collect();
    let mut m = Mission {
        id: format!("{}-mission", theatre.terms.id),
        version: 1,
        teams,
        sensors,
        hash: String::new(),
    };
    // The hash as loading the written file gives it.
    m.hash = truce_core::mission::load("mission.toml", &m.to_toml())
        .expect("the simulated mission is valid")
        .hash;
    m
}

/// Which of `count` equal stretches of the line the point at `fraction` is in.
pub(crate) fn stretch(fraction: f64, count: usize) -> usize {
    ((fraction * count as f64) as usize).min(count - 1)
}

/// The team whose stretch of line `p` is nearest to.
pub(crate) fn team_for(theatre: &Theatre<'_>, p: LonLat) -> &'static str {
    TEAMS[stretch(theatre.fraction_of(p), TEAMS.len())]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::theatre::tests::donbas;

    #[test]
    fn every_site_is_placed_on_its_side() {
        let terms = donbas();
        let t = Theatre::new(&terms);
        let cams = cameras(&t);
        assert_eq!(cams.len(), CAMERA_FRACTIONS.len());
        let arrays = acoustic_arrays(&t);
        assert_eq!(arrays.len(), ACOUSTIC_FRACTIONS.len());
        for (i, s) in cams.iter().enumerate() {
            assert_eq!(
                t.party_at(s.position),
                Some(["UA", "RU"][i % 2]),
                "{}",
                s.id
            );
        }
        for (i, s) in arrays.iter().enumerate() {
            assert_eq!(
                t.party_at(s.position),
                Some(["RU", "UA"][i % 2]),
                "{}",
                s.id
            );
        }
        assert_eq!(stretch(1.0, 4), 3);
        assert_eq!(stretch(0.26, 4), 1);
    }
}
