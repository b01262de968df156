//! WGS84 earth-centred, earth-fixed (ECEF) coordinates and a closed-form geodesic distance
//! between nearby surface points, accurate enough to stand in for Karney's inverse problem.
//!
//! Why this exists: Karney's inverse costs about 400 ns in `geographiclib-rs`, which caps a
//! per-point distance query at well under 2.5 M points/s before any indexing. Between two
//! points on the ellipsoid the straight 3-D chord `c` and the geodesic length `s` are linked by
//! the curvature `κ` of the geodesic (its normal curvature, since a geodesic has no geodesic
//! curvature): `c = s − κ²s³/24 + κ⁴s⁵/1920 − …`. Taking `κ` at the midpoint cancels the even
//! terms, so inverting the series with the midpoint curvature in the chord's direction gives `s`
//! from `c` with an error that grows like `s⁵·f`: measured against Karney on random pairs it is
//! 2.5e-7 m at 100 km, 6e-5 m at 300 km, 2e-3 m at 600 km and 3.5e-2 m at 1,000 km (see the
//! unit test below, which asserts this on every run).

/// WGS84 semi-major axis (m).
pub(crate) const A_M: f64 = 6_378_137.0;
/// WGS84 flattening.
pub(crate) const F: f64 = 1.0 / 298.257_223_563;
/// First eccentricity squared, `f(2 − f)`.
const E2: f64 = F * (2.0 - F);
/// Semi-minor axis (m).
const B_M: f64 = A_M * (1.0 - F);
/// The largest radius of curvature anywhere on the ellipsoid: the polar radius `a²/b`.
/// Every normal curvature is at least `1/R_MAX_M`, which gives a lower bound on the geodesic
/// length for a given chord.
const R_MAX_M: f64 = A_M * A_M / B_M;

/// A point in ECEF metres.
pub(crate) type Ecef = [f64; 3];

/// ECEF position of a point on the ellipsoid surface (height 0) given in degrees.
pub(crate) fn to_ecef(p: [f64; 2]) -> Ecef {
    let (sin_lat, cos_lat) = p[1].to_radians().sin_cos();
    let (sin_lon, cos_lon) = p[0].to_radians().sin_cos();
    let n = A_M / (1.0 - E2 * sin_lat * sin_lat).sqrt();
    [
        n * cos_lat * cos_lon,
        n * cos_lat * sin_lon,
        n * (1.0 - E2) * sin_lat,
    ]
}

/// Moves a point near the surface along the ray from the earth's centre onto the ellipsoid.
/// A chord between two nearby surface points maps to a curve in the plane through the centre
/// (a great ellipse); over 2 km it stays within 0.3 mm of the geodesic through the same ends
/// (separation ≈ L²·f/(8R)), which is why long edges are split into sub-chords.
pub(crate) fn to_surface(v: Ecef) -> Ecef {
    let k = 1.0 / ((v[0] * v[0] + v[1] * v[1]) / (A_M * A_M) + v[2] * v[2] / (B_M * B_M)).sqrt();
    [v[0] * k, v[1] * k, v[2] * k]
}

/// Geodetic [lon, lat] in degrees of a point that lies on the ellipsoid surface.
pub(crate) fn surface_to_lonlat(v: Ecef) -> [f64; 2] {
    let rho = (v[0] * v[0] + v[1] * v[1]).sqrt();
    [
        v[1].atan2(v[0]).to_degrees(),
        v[2].atan2((1.0 - E2) * rho).to_degrees(),
    ]
}

pub(crate) fn sub(a: Ecef, b: Ecef) -> Ecef {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

pub(crate) fn dot(a: Ecef, b: Ecef) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

/// `a + t·(b − a)`.
pub(crate) fn lerp(a: Ecef, b: Ecef, t: f64) -> Ecef {
    [
        a[0] + t * (b[0] - a[0]),
        a[1] + t * (b[1] - a[1]),
        a[2] + t * (b[2] - a[2]),
    ]
}

/// Geodesic distance (m) between two surface points from their chord, using the normal
/// curvature at the chord's midpoint in the chord's direction (see the module comment).
pub(crate) fn geodesic_from_chord_m(p: Ecef, q: Ecef) -> f64 {
    // Constants folded here so the hot path has two divisions and two square roots.
    const INV_ONE_MINUS_E2: f64 = 1.0 / (1.0 - E2);
    const INV_A_M: f64 = 1.0 / A_M;
    const INV_A_ONE_MINUS_E2: f64 = 1.0 / (A_M * (1.0 - E2));
    let v = sub(q, p);
    let c2 = dot(v, v);
    if c2 == 0.0 {
        return 0.0;
    }
    let m = [
        (p[0] + q[0]) * 0.5,
        (p[1] + q[1]) * 0.5,
        (p[2] + q[2]) * 0.5,
    ];
    let rho2 = m[0] * m[0] + m[1] * m[1];
    // The ellipsoid normal at the midpoint is parallel to (x, y, z/(1 − e²)).
    let nz = m[2] * INV_ONE_MINUS_E2;
    let inv_n2 = 1.0 / (rho2 + nz * nz);
    let sin2_lat = nz * nz * inv_n2;
    let w = 1.0 - E2 * sin2_lat;
    let sqrt_w = w.sqrt();
    let inv_meridian = w * sqrt_w * INV_A_ONE_MINUS_E2;
    let inv_prime_vertical = sqrt_w * INV_A_M;
    // Split the chord into its part along the normal and its east component; the rest of the
    // tangential part points north. Euler: κ = cos²α/M + sin²α/N.
    let v_dot_n = v[0] * m[0] + v[1] * m[1] + v[2] * nz;
    let tangential2 = c2 - v_dot_n * v_dot_n * inv_n2;
    let v_east = v[1] * m[0] - v[0] * m[1];
    let denominator = rho2 * tangential2;
    let sin2_azimuth = if denominator > 0.0 {
        (v_east * v_east / denominator).min(1.0)
    } else {
        0.0
    };
    let kappa = inv_meridian + sin2_azimuth * (inv_prime_vertical - inv_meridian);
    let k2c2 = kappa * kappa * c2;
    c2.sqrt() * (1.0 + k2c2 * (1.0 / 24.0) + k2c2 * k2c2 * (3.0 / 640.0))
}

/// The longest chord whose geodesic could be as short as `s_m`.
///
/// Every normal curvature is at least 1/[`R_MAX_M`], so a geodesic of length `s` has a chord
/// no longer than the root `c` of `c + c³/k = s` (k = 24R², the first terms of the series;
/// the next one only shortens the chord further). This returns that root from above: with
/// `x = s − s³/k`, `y = s − x³/k` satisfies `y + y³/k ≥ s` because `y ≥ x`. The unit test
/// checks the bound against Karney up to 1,000 km.
pub(crate) fn chord_upper_bound_m(s_m: f64) -> f64 {
    let k = 24.0 * R_MAX_M * R_MAX_M;
    let x = s_m - s_m * s_m * s_m / k;
    s_m - x * x * x / k
}

#[cfg(test)]
mod tests {
    use super::*;
    use geographiclib_rs::{DirectGeodesic, Geodesic, InverseGeodesic};

    /// xorshift: tests need many pseudo-random pairs and must be reproducible.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> f64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    #[test]
    fn chord_series_matches_karney() {
        let g = Geodesic::wgs84();
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        // (largest distance, allowed error): the error bound is the measured worst case ×~5.
        for (max_m, tol_m) in [
            (1e4, 1e-7),
            (1e5, 2e-6),
            (3e5, 3e-4),
            (6e5, 1e-2),
            (1e6, 0.2),
        ] {
            for _ in 0..2000 {
                let lat = -89.0 + 178.0 * rng.next();
                let lon = -180.0 + 360.0 * rng.next();
                let azi = 360.0 * rng.next();
                let s = max_m * rng.next();
                let (lat2, lon2): (f64, f64) = g.direct(lat, lon, azi, s);
                let exact: f64 = g.inverse(lat, lon, lat2, lon2);
                let p = to_ecef([lon, lat]);
                let q = to_ecef([lon2, lat2]);
                let approx = geodesic_from_chord_m(p, q);
                assert!(
                    (approx - exact).abs() <= tol_m,
                    "{lat} {lon} {azi} {s}: {approx} vs {exact}"
                );
                let c = dot(sub(p, q), sub(p, q)).sqrt();
                assert!(c <= chord_upper_bound_m(exact) + 1e-6, "chord bound at {s}");
            }
        }
    }

    #[test]
    fn surface_round_trip() {
        for p in [[37.5, 48.0], [-179.9, -70.0], [0.0, 0.0], [120.0, 89.9]] {
            let back = surface_to_lonlat(to_surface(to_ecef(p)));
            assert!(
                (back[0] - p[0]).abs() < 1e-12 && (back[1] - p[1]).abs() < 1e-12,
                "{p:?} {back:?}"
            );
        }
    }
}
