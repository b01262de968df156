//! Origin of fire: where two or more bearings meet.
//!
//! Method. The bearings are laid on a local tangent plane — the azimuthal-equidistant
//! projection around a centre, built from WGS84 geodesics (`truce_geo::distance_m`,
//! `azimuth_deg`, `destination`), so distances and azimuths from the centre are exact. Each
//! bearing becomes a line through its observer, pointing at the projection of a point
//! `range` metres along its geodesic. The origin is the weighted least-squares point closest
//! to all lines: bearing *i* has weight `1 / (σᵢ · rᵢ)²`, its cross-range standard deviation
//! (angular error σᵢ in radians × range rᵢ to the estimate). The solve is repeated
//! [`ITERATIONS`] times, each time re-centring the plane on the estimate and measuring each
//! range to it, so projection distortion vanishes where it matters and the weights use the
//! real ranges; exact bearings give the origin to well under a centimetre.
//!
//! Error ellipse. The covariance of the estimate is the inverse of the normal matrix
//! `Σ wᵢ nᵢ nᵢᵀ` (nᵢ the unit normal of line *i*) — a priori, from the stated bearing errors.
//! The 95 % ellipse has semi-axes `√(5.991 λ)` for the covariance's eigenvalues λ (5.991 is
//! the 95 % quantile of χ² with 2 degrees of freedom) and is oriented along the major
//! eigenvector, reported as an azimuth in [0, 180).
//!
//! Rejection. A fix is inconsistent when it lies behind an observer, beyond a bearing's
//! `max_range_m`, or (with three or more bearings) a bearing misses it by more than
//! [`REJECT_SIGMA`] of its own error. Then each bearing in turn is left out, and the one whose
//! removal leaves the most consistent fix is dropped, with the reason measured against the
//! others' fix; this repeats while at least two bearings remain. Two bearings that cross at
//! less than [`MIN_CROSSING_DEG`] are refused as parallel.

use truce_geo::{LonLat, azimuth_deg, destination, distance_m};

/// Solves on the tangent plane: a first solve around the observers' centroid, then two more,
/// each re-centred on the previous estimate with the ranges to it. With three, exact bearings
/// at ranges up to 25 km give the origin within a centimetre (tested).
pub const ITERATIONS: usize = 3;
/// χ² quantile with 2 degrees of freedom at 95 %: scales the covariance to the 95 % ellipse.
pub const CHI2_2DOF_95: f64 = 5.991;
/// Bearings that cross at less than this angle (degrees) do not fix a point: a tenth of a
/// degree of error would move the intersection by more than half the range.
pub const MIN_CROSSING_DEG: f64 = 2.0;
/// A bearing whose miss of the fix exceeds this many of its own standard deviations is
/// inconsistent: for Gaussian errors 3σ happens 0.3 % of the time, an echo or a wrong target
/// much more often.
pub const REJECT_SIGMA: f64 = 3.0;
/// The smallest angular error (degrees) we weight by: a stated 0° would give one bearing
/// infinite weight; a tenth of a degree is better than any fielded camera or acoustic array.
pub const MIN_ERROR_DEG: f64 = 0.1;
/// The shortest range (m) used in a weight: an estimate on top of an observer would otherwise
/// give its bearing infinite weight.
pub const MIN_RANGE_M: f64 = 10.0;
/// The range (m) at which a bearing is first laid on the plane, before any estimate exists:
/// mid-range for artillery seen from behind the line.
pub const INITIAL_RANGE_M: f64 = 10_000.0;

/// A bearing: seen from `observer`, towards `azimuth_deg` (clockwise from north), with a
/// one-sigma error `error_deg`, and optionally a farthest plausible range.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BearingObs {
    pub observer: LonLat,
    pub azimuth_deg: f64,
    pub error_deg: f64,
    pub max_range_m: Option<f64>,
}

/// A 95 % error ellipse: semi-axes in metres and the azimuth of the major axis, [0, 180).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Ellipse {
    pub semi_major_m: f64,
    pub semi_minor_m: f64,
    pub azimuth_deg: f64,
}

impl Ellipse {
    /// Whether `p` lies inside this ellipse centred on `centre`.
    pub fn contains(&self, centre: LonLat, p: LonLat) -> bool {
        let [e, n] = project(centre, p);
        let a = self.azimuth_deg.to_radians();
        // Unit vectors of the major and minor axes in (east, north).
        let along = e * a.sin() + n * a.cos();
        let across = e * a.cos() - n * a.sin();
        let (sa, sb) = (
            self.semi_major_m.max(f64::MIN_POSITIVE),
            self.semi_minor_m.max(f64::MIN_POSITIVE),
        );
        (along / sa).powi(2) + (across / sb).powi(2) <= 1.0
    }
}

/// A located origin: the point, its 95 % ellipse, the bearings used (indices into the input)
/// and those rejected, each with its reason.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Origin {
    pub point: LonLat,
    pub ellipse: Ellipse,
    pub used: Vec<usize>,
    pub rejected: Vec<(usize, String)>,
}

/// Why no origin could be fixed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TriangulationError {
    #[error("{found} usable bearing(s); at least 2 are needed{}", rejected_words(.rejected))]
    TooFewBearings {
        found: usize,
        rejected: Vec<(usize, String)>,
    },
    #[error(
        "bearings {a} and {b} cross at {angle_deg:.2}°, less than {MIN_CROSSING_DEG}°: (nearly) parallel, no fix"
    )]
    Parallel { a: usize, b: usize, angle_deg: f64 },
    #[error("the last two bearings {a} and {b} do not meet: {reason}")]
    Diverging { a: usize, b: usize, reason: String },
}

fn rejected_words(rejected: &[(usize, String)]) -> String {
    rejected
        .iter()
        .map(|(i, r)| format!("; bearing {i} rejected: {r}"))
        .collect()
}

/// Local plane coordinates (east, north) in metres of `p` around `centre`.
fn project(centre: LonLat, p: LonLat) -> [f64; 2] {
    let d = distance_m(centre, p);
    if d == 0.0 {
        return [0.0, 0.0];
    }
    let a = azimuth_deg(centre, p).to_radians();
    [d * a.sin(), d * a.cos()]
}

fn unproject(centre: LonLat, xy: [f64; 2]) -> LonLat {
    let d = xy[0].hypot(xy[1]);
    if d == 0.0 {
        return centre;
    }
    destination(centre, xy[0].atan2(xy[1]).to_degrees(), d)
}

/// Signed difference `a − b` of two azimuths, in (−180, 180].
pub(crate) fn angle_diff_deg(a: f64, b: f64) -> f64 {
    let d = (a - b).rem_euclid(360.0);
    if d > 180.0 { d - 360.0 } else { d }
}

/// One weighted least-squares fix: the point and its covariance (m², east/north) as
/// `[var_east, cov_east_north, var_north]`.
struct Fix {
    point: LonLat,
    cov: [f64; 3],
}

/// Fixes the point closest to the bearings `idx`, or None when the normal matrix is singular.
fn solve(bearings: &[BearingObs], idx: &[usize]) -> Option<Fix> {
    let n = idx.len() as f64;
    let mut centre = [
        idx.iter().map(|&i| bearings[i].observer[0]).sum::<f64>() / n,
        idx.iter().map(|&i| bearings[i].observer[1]).sum::<f64>() / n,
    ];
    let mut ranges: Vec<f64> = vec![INITIAL_RANGE_M; idx.len()];
    let mut fix = None;
    for _ in 0..ITERATIONS {
        let (mut a11, mut a12, mut a22, mut b1, mut b2) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for (k, &i) in idx.iter().enumerate() {
            let b = &bearings[i];
            let o = project(centre, b.observer);
            let q = project(centre, destination(b.observer, b.azimuth_deg, ranges[k]));
            let (ux, uy) = (q[0] - o[0], q[1] - o[1]);
            let len = ux.hypot(uy);
            let (nx, ny) = (uy / len, -ux / len);
            let sigma = b.error_deg.max(MIN_ERROR_DEG).to_radians() * ranges[k];
            let w = 1.0 / (sigma * sigma);
            let c = nx * o[0] + ny * o[1];
            a11 += w * nx * nx;
            a12 += w * nx * ny;
            a22 += w * ny * ny;
            b1 += w * nx * c;
            b2 += w * ny * c;
        }
        let det = a11 * a22 - a12 * a12;
        if !(det.is_finite() && det > 1e-12 * (a11 + a22).powi(2)) {
            return None;
        }
        let x = (a22 * b1 - a12 * b2) / det;
        let y = (a11 * b2 - a12 * b1) / det;
        let point = unproject(centre, [x, y]);
        for (k, &i) in idx.iter().enumerate() {
            ranges[k] = distance_m(bearings[i].observer, point).max(MIN_RANGE_M);
        }
        centre = point;
        fix = Some(Fix {
            point,
            cov: [a22 / det, -a12 / det, a11 / det],
        });
    }
    fix
}

/// What is wrong with a fix for one bearing, with a badness score (larger is worse).
fn inconsistency(b: &BearingObs, p: LonLat) -> Option<(f64, String)> {
    let range = distance_m(b.observer, p);
    if range < MIN_RANGE_M {
        return None;
    }
    let to_p = azimuth_deg(b.observer, p);
    let miss = angle_diff_deg(to_p, b.azimuth_deg);
    if miss.abs() > 90.0 {
        return Some((
            1e9,
            format!(
                "the fix lies behind the observer ({:.0}° off the bearing)",
                miss.abs()
            ),
        ));
    }
    if let Some(max) = b.max_range_m
        && range > max
    {
        return Some((
            1e6 + range / max,
            format!(
                "the fix is {} away, beyond its range of {}",
                km(range),
                km(max)
            ),
        ));
    }
    let k = miss.abs() / b.error_deg.max(MIN_ERROR_DEG);
    (k > REJECT_SIGMA).then(|| {
        (
            k,
            format!(
                "misses the fix by {:.1}° ({k:.1}σ, limit {REJECT_SIGMA}σ)",
                miss.abs()
            ),
        )
    })
}

/// The worst inconsistency among `idx` for the fix `p`: (position in idx, score, reason).
fn worst(
    bearings: &[BearingObs],
    idx: &[usize],
    p: LonLat,
    residuals: bool,
) -> Option<(usize, f64, String)> {
    idx.iter()
        .enumerate()
        .filter_map(|(k, &i)| {
            let (s, r) = inconsistency(&bearings[i], p)?;
            // With two bearings the residual is zero by construction; only geometry can fail.
            (residuals || s >= 1e6).then_some((k, s, r))
        })
        .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
}

fn crossing_check(bearings: &[BearingObs], idx: &[usize]) -> Result<(), TriangulationError> {
    let mut best = (0.0_f64, idx[0], idx[1]);
    for (k, &i) in idx.iter().enumerate() {
        for &j in &idx[k + 1..] {
            let d = angle_diff_deg(bearings[i].azimuth_deg, bearings[j].azimuth_deg).abs();
            let crossing = d.min(180.0 - d);
            if crossing > best.0 {
                best = (crossing, i, j);
            }
        }
    }
    if best.0 < MIN_CROSSING_DEG {
        return Err(TriangulationError::Parallel {
            a: best.1,
            b: best.2,
            angle_deg: best.0,
        });
    }
    Ok(())
}

/// Fixes the origin of two or more bearings, rejecting inconsistent ones (see the module doc).
pub fn triangulate(bearings: &[BearingObs]) -> Result<Origin, TriangulationError> {
    let mut rejected: Vec<(usize, String)> = Vec::new();
    let mut used: Vec<usize> = Vec::new();
    for (i, b) in bearings.iter().enumerate() {
        let ok = b.azimuth_deg.is_finite() && b.error_deg.is_finite() && b.error_deg >= 0.0;
        if ok {
            used.push(i);
        } else {
            rejected.push((i, "azimuth or error is not a finite number".into()));
        }
    }
    loop {
        if used.len() < 2 {
            return Err(TriangulationError::TooFewBearings {
                found: used.len(),
                rejected,
            });
        }
        crossing_check(bearings, &used)?;
        let fix = solve(bearings, &used);
        let problem = fix
            .as_ref()
            .and_then(|f| worst(bearings, &used, f.point, used.len() > 2));
        let Some(fix) = fix.filter(|_| problem.is_none()) else {
            if used.len() == 2 {
                let reason = problem.map_or_else(
                    || "the bearings do not intersect".to_string(),
                    |p| format!("bearing {}: {}", used[p.0], p.2),
                );
                return Err(TriangulationError::Diverging {
                    a: used[0],
                    b: used[1],
                    reason,
                });
            }
            // Leave each out in turn; drop the one whose absence leaves the most consistent fix.
            let (drop_k, reason) = leave_one_out(bearings, &used);
            rejected.push((used.remove(drop_k), reason));
            continue;
        };
        let c = fix.cov;
        let (a, b, d) = (c[0], c[1], c[2]);
        let mid = (a + d) / 2.0;
        let rad = ((a - d) / 2.0).hypot(b);
        let (l1, l2) = (mid + rad, (mid - rad).max(0.0));
        // Major-axis direction measured from east, anticlockwise; turned into an azimuth.
        let theta = 0.5 * (2.0 * b).atan2(a - d);
        let azimuth = (90.0 - theta.to_degrees()).rem_euclid(180.0);
        rejected.sort_by_key(|r| r.0);
        return Ok(Origin {
            point: fix.point,
            ellipse: Ellipse {
                semi_major_m: (CHI2_2DOF_95 * l1).sqrt(),
                semi_minor_m: (CHI2_2DOF_95 * l2).sqrt(),
                azimuth_deg: if azimuth >= 180.0 { 0.0 } else { azimuth },
            },
            used,
            rejected,
        });
    }
}

/// The bearing (position in `used`) to drop and why: the one whose absence leaves the fix with
/// the smallest worst inconsistency, its reason measured against the others' fix.
fn leave_one_out(bearings: &[BearingObs], used: &[usize]) -> (usize, String) {
    let mut best: Option<(f64, usize, String)> = None;
    for k in 0..used.len() {
        let rest: Vec<usize> = used
            .iter()
            .enumerate()
            .filter(|&(j, _)| j != k)
            .map(|(_, &i)| i)
            .collect();
        let Some(fix) = solve(bearings, &rest) else {
            continue;
        };
        let left = worst(bearings, &rest, fix.point, rest.len() > 2).map_or(0.0, |w| w.1);
        let own = inconsistency(&bearings[used[k]], fix.point);
        let score = left - own.as_ref().map_or(0.0, |o| o.0.min(1e5)) * 1e-9;
        let reason = own.map_or_else(|| "least consistent with the others".to_string(), |o| o.1);
        if best.as_ref().is_none_or(|b| score < b.0) {
            best = Some((score, k, reason));
        }
    }
    let (_, k, reason) = best.unwrap_or((0.0, used.len() - 1, "the fix is singular".into()));
    (k, reason)
}

/// Metres in words: "850 m", "8.2 km".
pub(crate) fn km(m: f64) -> String {
    if m < 1000.0 {
        format!("{m:.0} m")
    } else {
        format!("{:.1} km", m / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Exact bearings towards `origin` from each observer.
    fn exact(origin: LonLat, observers: &[LonLat], error_deg: f64) -> Vec<BearingObs> {
        observers
            .iter()
            .map(|&o| BearingObs {
                observer: o,
                azimuth_deg: azimuth_deg(o, origin),
                error_deg,
                max_range_m: None,
            })
            .collect()
    }

    #[test]
    fn exact_bearings_fix_the_origin_to_centimetres() {
        let origin = [38.21, 48.07];
        for observers in [
            vec![[38.05, 48.0], [38.3, 47.95]],
            vec![[38.0, 48.1], [38.2, 47.9], [38.45, 48.2]],
            vec![[38.2, 48.3], [38.21, 47.9], [37.9, 48.07], [38.5, 48.0]],
        ] {
            let o = triangulate(&exact(origin, &observers, 1.5)).unwrap();
            let err = distance_m(o.point, origin);
            assert!(err < 0.01, "{err} m off with {} observers", observers.len());
            assert_eq!(o.used.len(), observers.len());
            assert!(o.rejected.is_empty());
            assert!(
                o.ellipse.semi_major_m >= o.ellipse.semi_minor_m && o.ellipse.semi_minor_m > 0.0
            );
        }
    }

    #[test]
    fn ellipse_is_long_along_the_bearings_when_they_cross_narrowly() {
        // Two observers west of the origin, looking roughly east: range is poorly known, so
        // the ellipse's major axis runs east–west.
        let origin = [38.5, 48.0];
        let o = triangulate(&exact(origin, &[[38.2, 47.97], [38.2, 48.03]], 1.0)).unwrap();
        let az = o.ellipse.azimuth_deg;
        assert!((az - 90.0).abs() < 10.0, "major axis at {az}°");
        assert!(
            o.ellipse.semi_major_m > 3.0 * o.ellipse.semi_minor_m,
            "{:?}",
            o.ellipse
        );
    }

    #[test]
    fn parallel_bearings_are_refused() {
        let b = |lon: f64| BearingObs {
            observer: [lon, 48.0],
            azimuth_deg: 0.0,
            error_deg: 1.0,
            max_range_m: None,
        };
        let err = triangulate(&[b(38.0), b(38.1)]).unwrap_err();
        assert!(
            matches!(err, TriangulationError::Parallel { a: 0, b: 1, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("parallel"), "{err}");
    }

    #[test]
    fn diverging_rays_are_refused() {
        // Two observers looking away from each other: the lines meet behind both.
        let a = BearingObs {
            observer: [38.0, 48.0],
            azimuth_deg: 300.0,
            error_deg: 1.0,
            max_range_m: None,
        };
        let b = BearingObs {
            observer: [38.1, 48.0],
            azimuth_deg: 60.0,
            error_deg: 1.0,
            max_range_m: None,
        };
        let err = triangulate(&[a, b]).unwrap_err();
        assert!(err.to_string().contains("behind the observer"), "{err}");
    }

    #[test]
    fn an_outlier_is_rejected_with_its_reason() {
        let origin = [38.21, 48.07];
        let mut b = exact(
            origin,
            &[[38.0, 48.1], [38.2, 47.9], [38.45, 48.2], [38.4, 47.95]],
            1.5,
        );
        b[2].azimuth_deg += 15.0; // an echo
        let o = triangulate(&b).unwrap();
        assert_eq!(o.used, [0, 1, 3]);
        assert_eq!(o.rejected.len(), 1);
        assert_eq!(o.rejected[0].0, 2);
        assert!(
            o.rejected[0].1.contains("misses the fix by 15.0°"),
            "{:?}",
            o.rejected
        );
        assert!(distance_m(o.point, origin) < 0.01);
    }

    #[test]
    fn one_bearing_is_too_few() {
        let b = exact([38.2, 48.0], &[[38.0, 48.0]], 1.0);
        assert!(matches!(
            triangulate(&b),
            Err(TriangulationError::TooFewBearings { found: 1, .. })
        ));
    }

    /// SplitMix64 and Box–Muller: deterministic Gaussian noise without a dependency.
    struct Noise(u64);
    impl Noise {
        fn uniform(&mut self) -> f64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
        }
        fn gauss(&mut self) -> f64 {
            let u1 = self.uniform().max(1e-300);
            (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * self.uniform()).cos()
        }
    }

    #[test]
    fn noisy_bearings_fall_in_the_ellipse_about_95_percent_of_the_time() {
        let mut noise = Noise(7);
        let (mut inside, mut fixed) = (0, 0);
        let cases = 400;
        for case in 0..cases {
            let origin = [38.0 + 0.5 * noise.uniform(), 47.8 + 0.5 * noise.uniform()];
            let n = 2 + case % 3;
            let mut bearings = Vec::new();
            for k in 0..n {
                // Observers 4–20 km away, spread around the origin.
                let az = 360.0 * k as f64 / n as f64 + 60.0 * noise.uniform();
                let observer = destination(origin, az, 4_000.0 + 16_000.0 * noise.uniform());
                let sigma = if k % 2 == 0 { 1.5 } else { 4.0 };
                let azimuth =
                    (azimuth_deg(observer, origin) + sigma * noise.gauss()).rem_euclid(360.0);
                bearings.push(BearingObs {
                    observer,
                    azimuth_deg: azimuth,
                    error_deg: sigma,
                    max_range_m: None,
                });
            }
            let Ok(o) = triangulate(&bearings) else {
                continue;
            };
            fixed += 1;
            if o.ellipse.contains(o.point, origin) {
                inside += 1;
            }
        }
        let rate = inside as f64 / fixed as f64;
        println!(
            "{inside} of {fixed} fixes ({cases} cases) hold the true origin in their 95 % ellipse: {rate:.3}"
        );
        assert!(fixed >= cases * 9 / 10, "{fixed} of {cases} fixed");
        assert!((0.90..=0.99).contains(&rate), "coverage {rate}");
    }
}
