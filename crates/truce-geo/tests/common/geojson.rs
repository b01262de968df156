//! Minimal GeoJSON reading for the tests, benches and examples (the library itself does no
//! I/O). Shared by `#[path]` so that every target reads fixtures the same way.

use std::path::Path;

use geo_types::{Coord, LineString, MultiPolygon, Polygon};
use serde_json::Value;
use truce_geo::LonLat;

/// The geometries of a FeatureCollection, a Feature or a bare geometry.
pub fn geometries(path: &Path) -> Result<Vec<Value>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let json: Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(match json["type"].as_str() {
        Some("FeatureCollection") => json["features"]
            .as_array()
            .map(|fs| fs.iter().map(|f| f["geometry"].clone()).collect())
            .unwrap_or_default(),
        Some("Feature") => vec![json["geometry"].clone()],
        _ => vec![json],
    })
}

fn position(v: &Value) -> LonLat {
    [
        v[0].as_f64().unwrap_or(f64::NAN),
        v[1].as_f64().unwrap_or(f64::NAN),
    ]
}

fn positions(v: &Value) -> Vec<LonLat> {
    v.as_array()
        .map(|a| a.iter().map(position).collect())
        .unwrap_or_default()
}

fn polygon(rings: &Value) -> Polygon<f64> {
    let mut rings: Vec<LineString<f64>> = rings
        .as_array()
        .map(|a| {
            a.iter()
                .map(|r| {
                    LineString(
                        positions(r)
                            .iter()
                            .map(|p| Coord { x: p[0], y: p[1] })
                            .collect(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    if rings.is_empty() {
        return Polygon::new(LineString(vec![]), vec![]);
    }
    let exterior = rings.remove(0);
    Polygon::new(exterior, rings)
}

/// All polygons in the file as one MultiPolygon.
pub fn read_area(path: &Path) -> Result<MultiPolygon<f64>, String> {
    let mut out = Vec::new();
    for g in geometries(path)? {
        match g["type"].as_str() {
            Some("Polygon") => out.push(polygon(&g["coordinates"])),
            Some("MultiPolygon") => out.extend(
                g["coordinates"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(polygon),
            ),
            _ => {}
        }
    }
    Ok(MultiPolygon(out))
}

/// Polylines in the file: LineStrings and MultiLineStrings as they are, and the rings of
/// Polygons and MultiPolygons (their boundary), for lines derived from areas.
pub fn read_lines(path: &Path) -> Result<Vec<Vec<LonLat>>, String> {
    let mut out = Vec::new();
    for g in geometries(path)? {
        let c = &g["coordinates"];
        match g["type"].as_str() {
            Some("LineString") => out.push(positions(c)),
            Some("MultiLineString") | Some("Polygon") => {
                out.extend(c.as_array().into_iter().flatten().map(positions))
            }
            Some("MultiPolygon") => out.extend(
                c.as_array()
                    .into_iter()
                    .flatten()
                    .flat_map(|p| p.as_array().into_iter().flatten())
                    .map(positions),
            ),
            _ => {}
        }
    }
    Ok(out)
}
