//! Checks across the geometry files, made once each has read cleanly: party areas that overlap,
//! and a contact line that strays outside every party's area.

use truce_geo::{AreaIndex, LonLat};

use super::geometry::base_dir;
use super::{ContactLine, Diagnostic, Location, MAX_PARTY_OVERLAP_KM2, Party, to_multipolygon};

/// Overlapping party areas and a contact line that strays from every area.
pub(super) fn cross_checks(file: &str, parties: &[Party], line: &ContactLine) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    let indexes: Vec<AreaIndex> = parties
        .iter()
        .map(|p| AreaIndex::new(to_multipolygon(&p.area)))
        .collect();
    for i in 0..parties.len() {
        for j in i + 1..parties.len() {
            if let Some((km2, at)) = overlap(&parties[i].area, &parties[j].area)
                && km2 > MAX_PARTY_OVERLAP_KM2
            {
                diags.push(Diagnostic {
                    file: file.to_string(),
                    location: Location::File,
                    message: format!(
                        "party areas `{}` ({}) and `{}` ({}) overlap by {km2:.3} km² (e.g. around [{:.5}, {:.5}])",
                        parties[i].id, parties[i].area_file, parties[j].id, parties[j].area_file, at[0], at[1]
                    ),
                });
            }
        }
    }
    if !indexes.is_empty() {
        let outside: Vec<LonLat> = line
            .lines
            .iter()
            .flatten()
            .copied()
            .filter(|p| !indexes.iter().any(|a| a.contains(*p)))
            .collect();
        if let Some(first) = outside.first() {
            diags.push(Diagnostic {
                file: format!("{}{}", base_dir(file), line.geometry_file),
                location: Location::Feature { index: 0, coordinate: Some(*first) },
                message: format!(
                    "{} contact-line vertices lie outside every party's area; the line should run along the parties' areas",
                    outside.len()
                ),
            });
        }
    }
    diags
}

fn overlap(a: &[Vec<Vec<LonLat>>], b: &[Vec<Vec<LonLat>>]) -> Option<(f64, LonLat)> {
    use geo::{BooleanOps, BoundingRect, GeodesicArea, InteriorPoint, Intersects};
    let (ma, mb) = (to_multipolygon(a), to_multipolygon(b));
    let (ra, rb) = (ma.bounding_rect()?, mb.bounding_rect()?);
    if !ra.intersects(&rb) {
        return None;
    }
    let inter = ma.intersection(&mb);
    if inter.0.is_empty() {
        return None;
    }
    let km2 = inter.geodesic_area_unsigned() / 1e6;
    let at = inter
        .interior_point()
        .map(|p| [p.x(), p.y()])
        .unwrap_or([f64::NAN, f64::NAN]);
    Some((km2, at))
}
