//! The baseline our correlation is scored against: space-time DBSCAN, the naive thing a
//! monitoring team would do first.
//!
//! Every observation is a point in space and time — its assessed point: a point report's
//! point, a track's first line crossing (else its middle vertex), an area's centroid, and for
//! a bearing **the observer's position** (the baseline does not know that a bearing points
//! elsewhere; that is the naive part) — at its `observed_at`. Two points are neighbours when
//! both within [`EPS_SPACE_M`] (geodesic) and within [`EPS_TIME_S`]; clusters are DBSCAN's with
//! [`MIN_POINTS`]. No kinds, no error radii, no uncertainty intervals, no grades. Coverage
//! observations (sensor health) are skipped, as ours skips them.
//!
//! With `MIN_POINTS` = 1 every point is a core point, so clusters are the connected
//! components of the neighbour graph and no observation is dropped as noise — as ours drops
//! none (a single report is a single-source incident, not nothing).
//!
//! Points are sorted by time and each is compared only with those within `EPS_TIME_S` after
//! it (Earth-centred chords screen before a geodesic is measured), with union–find, so n
//! points cost O(n log n + n·w) for w points per time window: a million is feasible.
//!
//! A cluster becomes a [`Claim`]: its location is the mean of its points (on the sphere), its
//! party the presumed party most of its breaches name (a tie: none), its start the earliest
//! time, and it is corroborated when it first holds two distinct source kinds (any kinds,
//! party desks included: the baseline has no notion of independence).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use truce_core::assess::Assessment;
use truce_core::observation::{Observation, ObservationKind, Place, SourceKind};
use truce_geo::{LonLat, distance_m};

use crate::score::{Claim, majority};

/// Neighbours in space: 2 km, the size of a salvo's impact area or a battery's position plus
/// the usual error of the reports.
pub const EPS_SPACE_M: f64 = 2_000.0;
/// Neighbours in time: 30 minutes, a party desk's stated time uncertainty.
pub const EPS_TIME_S: f64 = 30.0 * 60.0;
/// DBSCAN's minimum neighbourhood for a core point: 1, so no observation is dropped as noise.
pub const MIN_POINTS: usize = 1;
/// Mean Earth radius (m) for the chord screen (not for distances).
const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// One observation as the baseline sees it.
struct Pt {
    seq: u64,
    at: DateTime<Utc>,
    t: f64,
    p: LonLat,
    c: [f64; 3],
    source: SourceKind,
    source_id: String,
    breach: bool,
    parties: Vec<String>,
}

fn ecef(p: LonLat) -> [f64; 3] {
    let (lon, lat) = (p[0].to_radians(), p[1].to_radians());
    [
        EARTH_RADIUS_M * lat.cos() * lon.cos(),
        EARTH_RADIUS_M * lat.cos() * lon.sin(),
        EARTH_RADIUS_M * lat.sin(),
    ]
}

/// The point the baseline puts an observation at (module doc).
pub fn assessed_point(place: &Place, a: &Assessment) -> LonLat {
    match place {
        Place::Point(p) => *p,
        Place::Track(pts) => a.crossings.first().map_or(pts[pts.len() / 2], |c| c.point),
        Place::Area(rings) => {
            let ring = &rings[0][..rings[0].len() - 1];
            let n = ring.len().max(1) as f64;
            ring.iter()
                .fold([0.0, 0.0], |s, q| [s[0] + q[0] / n, s[1] + q[1] / n])
        }
    }
}

fn find(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

/// A baseline cluster: its observations' seqs (sorted) and the claim it makes.
#[derive(Debug, Clone, PartialEq)]
pub struct Cluster {
    pub seqs: Vec<u64>,
    /// `id` is `dbscan-<first seq>`; `observation_ids` is empty until the caller maps seqs.
    pub claim: Claim,
}

/// Clusters the observations (module doc); coverage is skipped. The same input in any order
/// gives the same clusters, in order of their first seq.
pub fn cluster(batch: &[(u64, Observation, Place, Assessment)]) -> Vec<Cluster> {
    let mut pts: Vec<Pt> = batch
        .iter()
        .filter(|(_, o, _, _)| o.properties.kind != ObservationKind::Coverage)
        .map(|(seq, o, place, a)| {
            let p = assessed_point(place, a);
            let at = o.properties.observed_at;
            let mut parties: Vec<String> =
                a.breaches.iter().filter_map(|b| b.party.clone()).collect();
            parties.sort();
            Pt {
                seq: *seq,
                at,
                t: at.timestamp_millis() as f64 / 1000.0,
                p,
                c: ecef(p),
                source: o.properties.source.kind,
                source_id: o.properties.source.id.clone(),
                breach: !a.breaches.is_empty(),
                parties,
            }
        })
        .collect();
    pts.sort_by(|a, b| a.t.total_cmp(&b.t).then(a.seq.cmp(&b.seq)));
    let n = pts.len();
    // Neighbour pairs (i < j), found through the time-sorted window.
    let mut edges: Vec<(usize, usize)> = Vec::new();
    let mut degree = vec![1_usize; n]; // a point is in its own neighbourhood
    for i in 0..n {
        for j in i + 1..n {
            if pts[j].t - pts[i].t > EPS_TIME_S {
                break;
            }
            let (a, b) = (pts[i].c, pts[j].c);
            let chord =
                ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt();
            if 0.99 * chord > EPS_SPACE_M || distance_m(pts[i].p, pts[j].p) > EPS_SPACE_M {
                continue;
            }
            degree[i] += 1;
            degree[j] += 1;
            edges.push((i, j));
        }
    }
    // DBSCAN: core points with a core neighbour are one cluster; a border point joins its
    // earliest core neighbour's; a point neither core nor border is noise, kept as a cluster
    // of its own (it never happens with MIN_POINTS = 1, and the baseline drops nothing).
    let core: Vec<bool> = degree.iter().map(|&d| d >= MIN_POINTS).collect();
    let mut parent: Vec<usize> = (0..n).collect();
    for &(i, j) in &edges {
        if core[i] && core[j] {
            let (ri, rj) = (find(&mut parent, i), find(&mut parent, j));
            if ri != rj {
                parent[ri.max(rj)] = ri.min(rj);
            }
        }
    }
    let mut border: Vec<Option<usize>> = vec![None; n];
    for &(i, j) in &edges {
        for (b, c) in [(i, j), (j, i)] {
            if !core[b] && core[c] && border[b].is_none_or(|x| c < x) {
                border[b] = Some(c);
            }
        }
    }
    for b in 0..n {
        if let Some(c) = border[b] {
            let r = find(&mut parent, c);
            parent[b] = r;
        }
    }
    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for i in 0..n {
        let r = find(&mut parent, i);
        groups.entry(r).or_default().push(i);
    }
    let mut out: Vec<Cluster> = groups
        .into_values()
        .map(|members| {
            // Members are in time order (then seq).
            let mut seqs: Vec<u64> = members.iter().map(|&i| pts[i].seq).collect();
            seqs.sort_unstable();
            let mut sum = [0.0; 3];
            for &i in &members {
                for (acc, x) in sum.iter_mut().zip(pts[i].c) {
                    *acc += x;
                }
            }
            let location = (members.len() > 1)
                .then(|| {
                    let [x, y, z] = sum;
                    [y.atan2(x).to_degrees(), z.atan2(x.hypot(y)).to_degrees()]
                })
                .or(Some(pts[members[0]].p));
            let party = majority(
                members
                    .iter()
                    .flat_map(|&i| pts[i].parties.iter().map(|p| (p.as_str(), 1.0))),
            );
            let mut kinds = BTreeSet::new();
            let mut corroborated_at = None;
            for &i in &members {
                kinds.insert(pts[i].source);
                if kinds.len() >= 2 {
                    corroborated_at = Some(pts[i].at);
                    break;
                }
            }
            Cluster {
                claim: Claim {
                    id: format!("dbscan-{}", seqs[0]),
                    observation_ids: Vec::new(),
                    location,
                    party,
                    start: pts[members[0]].at,
                    corroborated_at,
                    breach: members.iter().any(|&i| pts[i].breach),
                    sources: members
                        .iter()
                        .filter(|&&i| pts[i].source != SourceKind::Party)
                        .map(|&i| pts[i].source_id.as_str())
                        .collect::<BTreeSet<_>>()
                        .len(),
                },
                seqs,
            }
        })
        .collect();
    out.sort_by_key(|c| c.seqs[0]);
    out
}

/// The baseline's claims, with observation ids from `id_of(seq)`.
pub fn claims(
    batch: &[(u64, Observation, Place, Assessment)],
    id_of: impl Fn(u64) -> Option<String>,
) -> Vec<Claim> {
    cluster(batch)
        .into_iter()
        .map(|c| {
            let mut claim = c.claim;
            claim.observation_ids = c.seqs.iter().filter_map(|&s| id_of(s)).collect();
            claim
        })
        .collect()
}
