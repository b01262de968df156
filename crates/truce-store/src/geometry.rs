//! GeoPackage geometry BLOBs, written by hand.
//!
//! A GeoPackage stores each geometry as a *GeoPackageBinary* BLOB (OGC 12-128r18 §2.1.3): a
//! small header followed by standard ISO WKB. The format is a few dozen lines to write, so the
//! store writes it itself rather than pulling in a geometry library that brings its own SQLite.
//!
//! ```text
//! offset  bytes  field
//! 0       2      magic "GP" (0x47 0x50)
//! 2       1      version 0 (GeoPackage 1.x)
//! 3       1      flags: bit 0 byte order of the header (1 = little-endian),
//!                bits 1–3 envelope contents (1 = [minx, maxx, miny, maxy]),
//!                bit 4 empty geometry, bit 5 extended (0 = standard), bits 6–7 zero
//! 4       4      srs_id (int32), 4326 here
//! 8       32     envelope: minx, maxx, miny, maxy (float64)
//! 40      …      WKB, little-endian, 2D
//! ```
//!
//! The envelope is computed once, while the WKB is written, and handed back with the BLOB: the
//! store uses it for `gpkg_contents` extents, and the R-tree triggers read it back from the
//! header through the `ST_*` functions in [`crate::sqlite`].

use truce_core::LonLat;
use truce_core::observation::Place;

/// EPSG:4326, WGS 84 longitude/latitude: every geometry Truce stores is in it.
pub const SRS_WGS84: i32 = 4326;

const MAGIC: [u8; 2] = *b"GP";
const VERSION: u8 = 0;
/// Byte order bit: the header's numbers are little-endian.
const FLAG_LITTLE_ENDIAN: u8 = 0b0000_0001;
/// Envelope contents indicator 1 (`[minx, maxx, miny, maxy]`), in bits 1–3.
const FLAG_ENVELOPE_XY: u8 = 1 << 1;
/// Mask of the envelope contents indicator.
const FLAG_ENVELOPE_MASK: u8 = 0b0000_1110;
/// Empty-geometry bit.
const FLAG_EMPTY: u8 = 0b0001_0000;
/// Header length with an xy envelope: magic, version, flags, srs_id, four doubles.
pub(crate) const HEADER_BYTES: usize = 8 + 4 * 8;

/// WKB byte-order marker for little-endian (NDR).
const WKB_LITTLE_ENDIAN: u8 = 1;
const WKB_POINT: u32 = 1;
const WKB_LINESTRING: u32 = 2;
const WKB_POLYGON: u32 = 3;
const WKB_MULTILINESTRING: u32 = 5;
const WKB_MULTIPOLYGON: u32 = 6;

/// The bounding box of a geometry, in degrees; empty while `min_x > max_x`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Envelope {
    pub min_x: f64,
    pub max_x: f64,
    pub min_y: f64,
    pub max_y: f64,
}

impl Default for Envelope {
    fn default() -> Envelope {
        Envelope::EMPTY
    }
}

impl Envelope {
    /// The envelope of nothing: merging anything into it gives that thing's envelope.
    pub const EMPTY: Envelope = Envelope {
        min_x: f64::INFINITY,
        max_x: f64::NEG_INFINITY,
        min_y: f64::INFINITY,
        max_y: f64::NEG_INFINITY,
    };

    pub fn is_empty(&self) -> bool {
        self.min_x > self.max_x
    }

    fn add(&mut self, [x, y]: LonLat) {
        self.min_x = self.min_x.min(x);
        self.max_x = self.max_x.max(x);
        self.min_y = self.min_y.min(y);
        self.max_y = self.max_y.max(y);
    }

    pub fn merge(&mut self, other: &Envelope) {
        self.min_x = self.min_x.min(other.min_x);
        self.max_x = self.max_x.max(other.max_x);
        self.min_y = self.min_y.min(other.min_y);
        self.max_y = self.max_y.max(other.max_y);
    }
}

/// A GeoPackageBinary BLOB and its envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct GpkgGeometry {
    pub blob: Vec<u8>,
    pub envelope: Envelope,
}

impl GpkgGeometry {
    /// The geometry as plain WKB (the BLOB less its GeoPackage header): what PostGIS reads
    /// with `ST_GeomFromWKB`.
    pub(crate) fn wkb(&self) -> &[u8] {
        &self.blob[HEADER_BYTES..]
    }
}

/// Writes WKB after a header placeholder, tracking the envelope; [`Writer::finish`] fills the
/// header in.
struct Writer {
    buf: Vec<u8>,
    envelope: Envelope,
}

impl Writer {
    fn new(wkb_bytes: usize) -> Writer {
        let mut buf = Vec::with_capacity(HEADER_BYTES + wkb_bytes);
        buf.resize(HEADER_BYTES, 0);
        Writer {
            buf,
            envelope: Envelope::EMPTY,
        }
    }

    fn head(&mut self, wkb_type: u32) {
        self.buf.push(WKB_LITTLE_ENDIAN);
        self.buf.extend_from_slice(&wkb_type.to_le_bytes());
    }

    fn count(&mut self, n: usize) {
        let n = u32::try_from(n).expect("a geometry part count fits in 32 bits (WKB's limit)");
        self.buf.extend_from_slice(&n.to_le_bytes());
    }

    fn position(&mut self, p: LonLat) {
        self.envelope.add(p);
        self.buf.extend_from_slice(&p[0].to_le_bytes());
        self.buf.extend_from_slice(&p[1].to_le_bytes());
    }

    fn positions(&mut self, pts: &[LonLat]) {
        self.count(pts.len());
        for &p in pts {
            self.position(p);
        }
    }

    fn rings(&mut self, rings: &[Vec<LonLat>]) {
        self.count(rings.len());
        for ring in rings {
            self.positions(ring);
        }
    }

    fn finish(mut self) -> GpkgGeometry {
        let e = self.envelope;
        let header = &mut self.buf[..HEADER_BYTES];
        header[0..2].copy_from_slice(&MAGIC);
        header[2] = VERSION;
        header[3] = FLAG_LITTLE_ENDIAN | FLAG_ENVELOPE_XY;
        header[4..8].copy_from_slice(&SRS_WGS84.to_le_bytes());
        for (i, v) in [e.min_x, e.max_x, e.min_y, e.max_y].into_iter().enumerate() {
            header[8 + 8 * i..16 + 8 * i].copy_from_slice(&v.to_le_bytes());
        }
        GpkgGeometry {
            blob: self.buf,
            envelope: e,
        }
    }
}

/// Bytes of WKB per 2D position.
const POSITION_BYTES: usize = 16;
/// Bytes of a WKB geometry's byte-order marker and type.
const WKB_HEAD_BYTES: usize = 5;

pub fn point(p: LonLat) -> GpkgGeometry {
    let mut w = Writer::new(WKB_HEAD_BYTES + POSITION_BYTES);
    w.head(WKB_POINT);
    w.position(p);
    w.finish()
}

pub fn line_string(pts: &[LonLat]) -> GpkgGeometry {
    let mut w = Writer::new(WKB_HEAD_BYTES + 4 + POSITION_BYTES * pts.len());
    w.head(WKB_LINESTRING);
    w.positions(pts);
    w.finish()
}

pub fn polygon(rings: &[Vec<LonLat>]) -> GpkgGeometry {
    let n: usize = rings.iter().map(|r| 4 + POSITION_BYTES * r.len()).sum();
    let mut w = Writer::new(WKB_HEAD_BYTES + 4 + n);
    w.head(WKB_POLYGON);
    w.rings(rings);
    w.finish()
}

pub fn multi_line_string(lines: &[Vec<LonLat>]) -> GpkgGeometry {
    let n: usize = lines
        .iter()
        .map(|l| WKB_HEAD_BYTES + 4 + POSITION_BYTES * l.len())
        .sum();
    let mut w = Writer::new(WKB_HEAD_BYTES + 4 + n);
    w.head(WKB_MULTILINESTRING);
    w.count(lines.len());
    for line in lines {
        w.head(WKB_LINESTRING);
        w.positions(line);
    }
    w.finish()
}

pub fn multi_polygon(polygons: &[Vec<Vec<LonLat>>]) -> GpkgGeometry {
    let n: usize = polygons
        .iter()
        .map(|p| {
            WKB_HEAD_BYTES
                + 4
                + p.iter()
                    .map(|r| 4 + POSITION_BYTES * r.len())
                    .sum::<usize>()
        })
        .sum();
    let mut w = Writer::new(WKB_HEAD_BYTES + 4 + n);
    w.head(WKB_MULTIPOLYGON);
    w.count(polygons.len());
    for rings in polygons {
        w.head(WKB_POLYGON);
        w.rings(rings);
    }
    w.finish()
}

/// An observation's place as stored in the `observations` layer: a point, a track, an area.
pub fn place(place: &Place) -> GpkgGeometry {
    match place {
        Place::Point(p) => point(*p),
        Place::Track(pts) => line_string(pts),
        Place::Area(rings) => polygon(rings),
    }
}

/// What the header of a GeoPackageBinary BLOB says about its extent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum HeaderExtent {
    Empty,
    Envelope(Envelope),
}

/// Reads the envelope from a GeoPackageBinary header (for the `ST_*` functions the R-tree
/// triggers call). Every geometry Truce writes carries an envelope; a BLOB without one was not
/// written by Truce, and the reason says so.
pub fn header_extent(blob: &[u8]) -> Result<HeaderExtent, String> {
    if blob.len() < 8 || blob[0..2] != MAGIC {
        return Err("not a GeoPackage geometry BLOB (no \"GP\" magic)".into());
    }
    let flags = blob[3];
    if flags & FLAG_EMPTY != 0 {
        return Ok(HeaderExtent::Empty);
    }
    if flags & FLAG_ENVELOPE_MASK == 0 {
        return Err(
            "GeoPackage geometry has no envelope in its header; Truce writes one on every geometry"
                .into(),
        );
    }
    if blob.len() < HEADER_BYTES {
        return Err(format!(
            "GeoPackage geometry header is truncated ({} bytes)",
            blob.len()
        ));
    }
    let little = flags & FLAG_LITTLE_ENDIAN != 0;
    let read = |i: usize| {
        let bytes: [u8; 8] = blob[8 + 8 * i..16 + 8 * i].try_into().expect("8 bytes");
        if little {
            f64::from_le_bytes(bytes)
        } else {
            f64::from_be_bytes(bytes)
        }
    };
    Ok(HeaderExtent::Envelope(Envelope {
        min_x: read(0),
        max_x: read(1),
        min_y: read(2),
        max_y: read(3),
    }))
}

/// An observation's geometry as positions: its WKB type (1 Point, 2 LineString, 3 Polygon)
/// and one list of `[lon, lat]` per part (the point, the track, each ring in order). What the
/// log audit compares between an `observations` row and its entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Shape {
    pub wkb_type: u32,
    pub parts: Vec<Vec<LonLat>>,
}

impl Shape {
    /// The shape a place is stored as.
    pub fn of(place: &Place) -> Shape {
        match place {
            Place::Point(p) => Shape {
                wkb_type: WKB_POINT,
                parts: vec![vec![*p]],
            },
            Place::Track(pts) => Shape {
                wkb_type: WKB_LINESTRING,
                parts: vec![pts.clone()],
            },
            Place::Area(rings) => Shape {
                wkb_type: WKB_POLYGON,
                parts: rings.clone(),
            },
        }
    }

    /// The name of the geometry type, for messages.
    pub fn type_name(&self) -> String {
        match self.wkb_type {
            WKB_POINT => "Point".into(),
            WKB_LINESTRING => "LineString".into(),
            WKB_POLYGON => "Polygon".into(),
            other => format!("WKB type {other}"),
        }
    }
}

/// Reads an observation geometry (Point, LineString or Polygon, 2D) back from a
/// GeoPackageBinary BLOB. Reads either byte order and any envelope, as another writer (GDAL,
/// QGIS) may have written the row.
pub fn read_shape(blob: &[u8]) -> Result<Shape, String> {
    if blob.len() < 8 || blob[0..2] != MAGIC {
        return Err("not a GeoPackage geometry BLOB (no \"GP\" magic)".into());
    }
    let flags = blob[3];
    if flags & FLAG_EMPTY != 0 {
        return Err("the geometry is empty".into());
    }
    let envelope_bytes = match (flags & FLAG_ENVELOPE_MASK) >> 1 {
        0 => 0,
        1 => 32,
        2 | 3 => 48,
        4 => 64,
        other => return Err(format!("envelope contents indicator {other} is invalid")),
    };
    let mut wkb = Wkb {
        bytes: blob
            .get(8 + envelope_bytes..)
            .ok_or("the header is truncated")?,
        little: true,
    };
    wkb.little = match wkb.take(1)?[0] {
        0 => false,
        1 => true,
        other => return Err(format!("WKB byte order {other} is neither 0 nor 1")),
    };
    let wkb_type = wkb.u32()?;
    let parts = match wkb_type {
        WKB_POINT => vec![vec![wkb.position()?]],
        WKB_LINESTRING => vec![wkb.positions()?],
        WKB_POLYGON => (0..wkb.u32()?)
            .map(|_| wkb.positions())
            .collect::<Result<_, _>>()?,
        other => {
            return Err(format!(
                "WKB type {other} is not a 2D Point, LineString or Polygon"
            ));
        }
    };
    Ok(Shape { wkb_type, parts })
}

/// A cursor over WKB.
struct Wkb<'a> {
    bytes: &'a [u8],
    little: bool,
}

impl<'a> Wkb<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.bytes.len() < n {
            return Err("the WKB is truncated".into());
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn u32(&mut self) -> Result<u32, String> {
        let b: [u8; 4] = self.take(4)?.try_into().expect("4 bytes");
        Ok(if self.little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    }

    fn f64(&mut self) -> Result<f64, String> {
        let b: [u8; 8] = self.take(8)?.try_into().expect("8 bytes");
        Ok(if self.little {
            f64::from_le_bytes(b)
        } else {
            f64::from_be_bytes(b)
        })
    }

    fn position(&mut self) -> Result<LonLat, String> {
        Ok([self.f64()?, self.f64()?])
    }

    fn positions(&mut self) -> Result<Vec<LonLat>, String> {
        let n = self.u32()?;
        // Each position takes 16 bytes: refuse a count the BLOB cannot hold before allocating.
        if self.bytes.len() / POSITION_BYTES < n as usize {
            return Err(format!("the WKB claims {n} positions but is shorter"));
        }
        (0..n).map(|_| self.position()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn point_blob_is_header_then_wkb() {
        let g = point([38.25, 48.5]);
        assert_eq!(&g.blob[0..4], &[b'G', b'P', 0, 0b0000_0011]);
        assert_eq!(&g.blob[4..8], &4326i32.to_le_bytes());
        assert_eq!(g.blob.len(), HEADER_BYTES + 21);
        assert_eq!(&g.blob[40..45], &[1, 1, 0, 0, 0]);
        assert_eq!(
            f64::from_le_bytes(g.blob[45..53].try_into().unwrap()),
            38.25
        );
        assert_eq!(f64::from_le_bytes(g.blob[53..61].try_into().unwrap()), 48.5);
        assert_eq!(
            header_extent(&g.blob).unwrap(),
            HeaderExtent::Envelope(Envelope {
                min_x: 38.25,
                max_x: 38.25,
                min_y: 48.5,
                max_y: 48.5
            })
        );
    }

    #[test]
    fn capacity_estimates_are_exact() {
        let ring = vec![[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]];
        for g in [
            line_string(&ring),
            polygon(std::slice::from_ref(&ring)),
            multi_line_string(&[ring.clone(), ring.clone()]),
            multi_polygon(&[vec![ring.clone()], vec![ring.clone(), ring.clone()]]),
        ] {
            assert_eq!(g.blob.len(), g.blob.capacity());
        }
    }

    #[test]
    fn multi_polygon_envelope_covers_every_part() {
        let a = vec![vec![[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]]];
        let b = vec![vec![[5.0, -2.0], [6.0, -2.0], [6.0, 3.0], [5.0, -2.0]]];
        let g = multi_polygon(&[a, b]);
        assert_eq!(
            g.envelope,
            Envelope {
                min_x: 0.0,
                max_x: 6.0,
                min_y: -2.0,
                max_y: 3.0
            }
        );
        assert_eq!(
            header_extent(&g.blob).unwrap(),
            HeaderExtent::Envelope(g.envelope)
        );
    }

    #[test]
    fn foreign_blobs_are_explained() {
        assert!(header_extent(b"WKB?").unwrap_err().contains("magic"));
        let no_envelope = [b'G', b'P', 0, 0b0000_0001, 0xE6, 0x10, 0, 0, 1, 1, 0, 0, 0];
        assert!(
            header_extent(&no_envelope)
                .unwrap_err()
                .contains("no envelope")
        );
        let empty = [b'G', b'P', 0, 0b0001_0001, 0xE6, 0x10, 0, 0];
        assert_eq!(header_extent(&empty).unwrap(), HeaderExtent::Empty);
    }

    #[test]
    fn shapes_read_back_as_written() {
        let ring = vec![[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]];
        for place in [
            Place::Point([38.25, 48.5]),
            Place::Track(vec![[38.0, 48.0], [38.1, 48.2]]),
            Place::Area(vec![ring.clone(), ring]),
        ] {
            assert_eq!(read_shape(&self::place(&place).blob), Ok(Shape::of(&place)));
        }
        // Big-endian WKB without an envelope, as another writer may store it.
        let mut big = vec![b'G', b'P', 0, 0, 0, 0, 0x10, 0xE6, 0];
        big.extend_from_slice(&1u32.to_be_bytes());
        big.extend_from_slice(&38.5f64.to_be_bytes());
        big.extend_from_slice(&48.5f64.to_be_bytes());
        assert_eq!(read_shape(&big).unwrap().parts, vec![vec![[38.5, 48.5]]]);
        let truncated = &self::place(&Place::Point([1.0, 2.0])).blob[..50];
        assert!(read_shape(truncated).unwrap_err().contains("truncated"));
    }
}
