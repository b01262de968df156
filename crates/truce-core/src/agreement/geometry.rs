//! The GeoJSON geometry files an agreement names: party areas, the contact line and zone
//! polygons, read through the caller's resolver and checked feature by feature (types,
//! coordinate ranges, closed and simple rings, a vertex limit).

use std::ops::Range;

use truce_geo::LonLat;

use super::sink::Sink;
use super::{Diagnostic, Location, MAX_VERTICES_PER_FILE, Resolver};

/// Reads the GeoJSON files the terms name, through the caller's resolver, keeping the
/// problems found in them (problems reading a file are the TOML's, reported where it is named).
pub(super) struct GeometryReader<'r, 'a> {
    /// The TOML file's directory, as geometry files are named in messages.
    pub(super) base: String,
    pub(super) resolve: &'r mut Resolver<'a>,
    pub(super) diags: Vec<Diagnostic>,
}

impl GeometryReader<'_, '_> {
    fn read(
        &mut self,
        rel: &str,
        span: Range<usize>,
        sink: &mut Sink<'_>,
    ) -> Option<(String, Vec<GeoFeature>)> {
        let shown = format!("{}{}", self.base, rel);
        let bytes = match (self.resolve)(rel) {
            Ok(b) => b,
            Err(e) => {
                sink.at(span, format!("cannot read geometry file {shown}: {e}"));
                return None;
            }
        };
        let value: serde_json::Value = match serde_json::from_slice(&bytes) {
            Ok(v) => v,
            Err(e) => {
                self.diags.push(Diagnostic {
                    file: shown,
                    location: Location::LineColumn {
                        line: e.line(),
                        column: e.column(),
                    },
                    message: format!("invalid GeoJSON: {e}"),
                });
                return None;
            }
        };
        match features(&value) {
            Ok(f) => Some((shown, f)),
            Err(message) => {
                self.diags.push(Diagnostic {
                    file: shown,
                    location: Location::File,
                    message,
                });
                None
            }
        }
    }

    pub(super) fn polygons(
        &mut self,
        rel: &str,
        span: Range<usize>,
        sink: &mut Sink<'_>,
    ) -> Option<Vec<Vec<Vec<LonLat>>>> {
        let (shown, feats) = self.read(rel, span, sink)?;
        let before = self.diags.len();
        let mut out = Vec::new();
        let mut vertices = 0usize;
        for (index, f) in feats.iter().enumerate() {
            let polys: Vec<&serde_json::Value> = match f.kind.as_str() {
                "Polygon" => vec![&f.coordinates],
                "MultiPolygon" => f
                    .coordinates
                    .as_array()
                    .map(|a| a.iter().collect())
                    .unwrap_or_default(),
                other => {
                    self.feature_error(
                        &shown,
                        index,
                        None,
                        format!("expected Polygon or MultiPolygon, found {other}"),
                    );
                    continue;
                }
            };
            for poly in polys {
                let Some(rings) = poly.as_array() else {
                    self.feature_error(
                        &shown,
                        index,
                        None,
                        "polygon coordinates must be an array of rings".into(),
                    );
                    continue;
                };
                let mut parsed = Vec::new();
                for ring in rings {
                    let Some(pts) = self.positions(&shown, index, ring) else {
                        continue;
                    };
                    vertices += pts.len();
                    self.check_ring(&shown, index, &pts);
                    parsed.push(pts);
                }
                if !parsed.is_empty() {
                    out.push(parsed);
                }
            }
        }
        if vertices > MAX_VERTICES_PER_FILE {
            self.diags.push(Diagnostic {
                file: shown.clone(),
                location: Location::File,
                message: format!("{vertices} vertices; the limit is {MAX_VERTICES_PER_FILE}"),
            });
        }
        if out.is_empty() && self.diags.len() == before {
            self.diags.push(Diagnostic {
                file: shown,
                location: Location::File,
                message: "no polygons in file".into(),
            });
        }
        (self.diags.len() == before).then_some(out)
    }

    pub(super) fn lines(
        &mut self,
        rel: &str,
        span: Range<usize>,
        sink: &mut Sink<'_>,
    ) -> Option<Vec<Vec<LonLat>>> {
        let (shown, feats) = self.read(rel, span, sink)?;
        let before = self.diags.len();
        let mut out = Vec::new();
        for (index, f) in feats.iter().enumerate() {
            let lines: Vec<&serde_json::Value> = match f.kind.as_str() {
                "LineString" => vec![&f.coordinates],
                "MultiLineString" => f
                    .coordinates
                    .as_array()
                    .map(|a| a.iter().collect())
                    .unwrap_or_default(),
                other => {
                    self.feature_error(
                        &shown,
                        index,
                        None,
                        format!("expected LineString or MultiLineString, found {other}"),
                    );
                    continue;
                }
            };
            for l in lines {
                if let Some(pts) = self.positions(&shown, index, l) {
                    if pts.len() < 2 {
                        self.feature_error(
                            &shown,
                            index,
                            pts.first().copied(),
                            "a line needs at least 2 positions".into(),
                        );
                    } else {
                        out.push(pts);
                    }
                }
            }
        }
        if out.is_empty() && self.diags.len() == before {
            self.diags.push(Diagnostic {
                file: shown,
                location: Location::File,
                message: "no lines in file".into(),
            });
        }
        (self.diags.len() == before).then_some(out)
    }

    fn feature_error(
        &mut self,
        file: &str,
        index: usize,
        coordinate: Option<LonLat>,
        message: String,
    ) {
        self.diags.push(Diagnostic {
            file: file.to_string(),
            location: Location::Feature { index, coordinate },
            message,
        });
    }

    fn positions(
        &mut self,
        file: &str,
        index: usize,
        v: &serde_json::Value,
    ) -> Option<Vec<LonLat>> {
        let Some(arr) = v.as_array() else {
            self.feature_error(
                file,
                index,
                None,
                "coordinates must be an array of positions".into(),
            );
            return None;
        };
        let mut pts = Vec::with_capacity(arr.len());
        let mut ok = true;
        for p in arr {
            let nums: Option<Vec<f64>> = p
                .as_array()
                .and_then(|a| a.iter().map(|x| x.as_f64()).collect());
            match nums.as_deref() {
                Some([lon, lat, ..]) => {
                    let c = [*lon, *lat];
                    if !(-180.0..=180.0).contains(lon) || !(-90.0..=90.0).contains(lat) {
                        self.feature_error(
                            file,
                            index,
                            Some(c),
                            "coordinate out of range (lon −180…180, lat −90…90)".into(),
                        );
                        ok = false;
                    }
                    pts.push(c);
                }
                _ => {
                    self.feature_error(
                        file,
                        index,
                        None,
                        format!("{p} is not a position [lon, lat]"),
                    );
                    ok = false;
                }
            }
        }
        ok.then_some(pts)
    }

    fn check_ring(&mut self, file: &str, index: usize, ring: &[LonLat]) {
        if ring.len() < 4 {
            self.feature_error(
                file,
                index,
                ring.first().copied(),
                format!(
                    "ring has {} positions; a closed ring needs at least 4",
                    ring.len()
                ),
            );
            return;
        }
        if ring.first() != ring.last() {
            self.feature_error(
                file,
                index,
                ring.last().copied(),
                format!(
                    "ring is not closed: it starts at [{}, {}]",
                    ring[0][0], ring[0][1]
                ),
            );
            return;
        }
        if let Some(at) = crate::rings::self_intersection(ring) {
            self.feature_error(file, index, Some(at), "ring intersects itself here".into());
        }
    }
}

struct GeoFeature {
    kind: String,
    coordinates: serde_json::Value,
}

/// The geometries of a FeatureCollection, a Feature or a bare geometry, in order.
fn features(v: &serde_json::Value) -> Result<Vec<GeoFeature>, String> {
    let kind = v
        .get("type")
        .and_then(|t| t.as_str())
        .ok_or("GeoJSON object has no \"type\"")?;
    match kind {
        "FeatureCollection" => {
            let feats = v
                .get("features")
                .and_then(|f| f.as_array())
                .ok_or("FeatureCollection has no \"features\" array")?;
            feats
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    geometry_of(f.get("geometry").unwrap_or(&serde_json::Value::Null))
                        .map_err(|e| format!("feature {i}: {e}"))
                })
                .collect()
        }
        "Feature" => Ok(vec![geometry_of(
            v.get("geometry").unwrap_or(&serde_json::Value::Null),
        )?]),
        _ => Ok(vec![geometry_of(v)?]),
    }
}

fn geometry_of(g: &serde_json::Value) -> Result<GeoFeature, String> {
    let kind = g
        .get("type")
        .and_then(|t| t.as_str())
        .ok_or("geometry is missing or has no \"type\"")?;
    let coordinates = g
        .get("coordinates")
        .cloned()
        .ok_or_else(|| format!("{kind} has no \"coordinates\""))?;
    Ok(GeoFeature {
        kind: kind.to_string(),
        coordinates,
    })
}

pub(super) fn base_dir(file: &str) -> String {
    match file.rfind('/') {
        Some(i) => file[..=i].to_string(),
        None => String::new(),
    }
}
