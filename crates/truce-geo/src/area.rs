//! [`AreaIndex`]: point-in-MultiPolygon at tens of millions of points per second.

use geo::Orientation;
use geo_types::MultiPolygon;
use geographiclib_rs::{Geodesic, PolygonArea, Winding};

use crate::planar::{orient, within_box};
use crate::{GeoError, LonLat, valid_lonlat};

/// Grid cells per polygon edge, before the clamps below. The finer the grid, the fewer points
/// land in a boundary cell and need edge tests, as long as the cell table stays in cache. On
/// the donbas-2015 UA area (717 edges) and the DeepStateMap area (2,953 edges, which hits
/// [`MAX_CELLS`]), 1024 measured 20–50% faster than 64 and than 256 (`cargo bench -p
/// truce-geo`, shared machine, noisy).
const CELLS_PER_EDGE: usize = 1024;
/// Lower bound on the cell count: tiny polygons still get a useful grid.
const MIN_CELLS: usize = 1 << 16;
/// Upper bound on the cell count: 2²¹ cells take 0.75 MB of cell table, which still fits the
/// 1 MB L2 cache of the benchmark machine.
const MAX_CELLS: usize = 1 << 21;
/// Cells are tested in blocks of 64, one bit per cell in each mask.
const BLOCK_CELLS: usize = 64;
/// Relative padding of the grid around the area's bounding box, so that a point exactly on
/// the box's far edge still falls inside the grid.
const GRID_PAD_FRACTION: f64 = 1e-6;
/// Classification margin as a fraction of a cell: edges are assigned as if every cell were
/// this much larger on each side, which absorbs the rounding in computing a point's cell.
const CELL_MARGIN_FRACTION: f64 = 1e-4;

/// 64 grid cells: which are boundary cells (`boundary`), the parity (inside = 1) of the
/// others or, for boundary cells, the parity of everything not listed with the cell
/// (`parity`), and how many boundary cells precede the block (`rank`).
#[derive(Debug, Clone, Copy, Default)]
struct Block {
    boundary: u64,
    parity: u64,
    rank: u32,
}

/// A uniform grid over the area's bounding box; see [`AreaIndex`].
#[derive(Debug, Clone)]
struct Grid {
    origin: LonLat,
    inv_cell: [f64; 2],
    nx: usize,
    ny: usize,
    blocks: Vec<Block>,
    /// Edges listed with the boundary cells, `edge_offsets[rank]..edge_offsets[rank + 1]`.
    edge_offsets: Vec<u32>,
    edges: Vec<[LonLat; 2]>,
    /// Chain items (start and end latitude) of the boundary cells, by rank likewise.
    chain_offsets: Vec<u32>,
    chains: Vec<[f64; 2]>,
}

/// A MultiPolygon with fast point-in-polygon and its geodesic area.
///
/// `contains` treats edges as straight lines in lon/lat (RFC 7946) and counts the boundary
/// as inside ("covers"). Rings are combined by the even–odd rule, which agrees with the
/// OGC interpretation for valid MultiPolygons (holes inside shells, parts not overlapping).
///
/// # Why a hand-written grid
/// geo 0.33 offers `IntervalTreeMultiPolygon`, an interval tree over edge latitudes; each
/// query still walks every edge that spans the point's latitude (tens on a real front line).
/// It also reports the interior only. The grid here answers most points from two bits in a
/// table that fits in cache, and it is exact: every predicate is computed with Shewchuk's
/// robust orientation test, so the answer always equals a brute-force crossing count over all
/// edges (the property tests check this, near edges and vertices too). The bench compares the
/// two (`cargo bench -p truce-geo`).
///
/// # How the grid stays exact
/// For a point `p` the even–odd rule counts edges that cross the horizontal line through `p`
/// (half-open in latitude) strictly to its east. In a cell, edges are sorted into three kinds:
/// * edges that pass near the cell are listed with it and tested exactly at query time;
/// * edges that span the whole row of the cell, pass clear of it and are not wholly east of
///   it contribute the same for every point of the cell: that goes into the cell's parity bit;
/// * edges wholly east of the cell always lie east of `p`, so only their latitudes matter.
///   Along a run of consecutive such edges the crossings telescope to one test on the run's
///   two end latitudes (a "chain"), folded into the parity bit when the run spans the row.
///
/// A cell with nothing listed is wholly inside or outside and answers from its parity bit.
#[derive(Debug, Clone)]
pub struct AreaIndex {
    grid: Option<Grid>,
    area_m2: f64,
}

impl AreaIndex {
    /// Builds the index.
    ///
    /// # Panics
    /// If a coordinate is not a valid [lon, lat]; [`AreaIndex::try_new`] returns the error
    /// instead.
    pub fn new(area: MultiPolygon<f64>) -> AreaIndex {
        match AreaIndex::try_new(area) {
            Ok(index) => index,
            Err(e) => panic!("AreaIndex::new: {e}"),
        }
    }

    /// Builds the index, or says which coordinate is not a valid [lon, lat].
    pub fn try_new(area: MultiPolygon<f64>) -> Result<AreaIndex, GeoError> {
        let mut rings: Vec<Vec<LonLat>> = Vec::new();
        for (polygon_index, polygon) in area.0.iter().enumerate() {
            for (ring_index, ring) in std::iter::once(polygon.exterior())
                .chain(polygon.interiors())
                .enumerate()
            {
                let points: Vec<LonLat> = ring.0.iter().map(|c| [c.x, c.y]).collect();
                for (vertex, p) in points.iter().enumerate() {
                    valid_lonlat(*p).map_err(|reason| GeoError::BadAreaCoordinate {
                        polygon: polygon_index,
                        ring: ring_index,
                        vertex,
                        lon: p[0],
                        lat: p[1],
                        reason,
                    })?;
                }
                if points.len() >= 2 {
                    rings.push(points);
                }
            }
        }
        let area_m2 = geodesic_area_m2(&area);
        Ok(AreaIndex {
            grid: Grid::build(&rings),
            area_m2,
        })
    }

    /// Whether `p` is inside the area or on its boundary. Non-finite `p` is outside.
    #[inline]
    pub fn contains(&self, p: LonLat) -> bool {
        self.grid.as_ref().is_some_and(|g| g.contains(p))
    }

    /// Geodesic area on WGS84 (m²): exterior rings minus holes, with edges taken as geodesics
    /// (GeographicLib's `PolygonArea`). For the short edges of a front line the difference from
    /// straight lon/lat edges is negligible.
    pub fn area_m2(&self) -> f64 {
        self.area_m2
    }
}

/// Geodesic area of a MultiPolygon: |exterior| − Σ|holes| for each polygon.
fn geodesic_area_m2(area: &MultiPolygon<f64>) -> f64 {
    let geodesic = Geodesic::wgs84();
    let ring_area = |ring: &geo_types::LineString<f64>| -> f64 {
        let mut pa = PolygonArea::new(&geodesic, Winding::CounterClockwise);
        let n = ring.0.len();
        if n < 3 {
            return 0.0;
        }
        // PolygonArea closes the ring itself.
        let distinct = if ring.0[0] == ring.0[n - 1] { n - 1 } else { n };
        for c in &ring.0[..distinct] {
            pa.add_point(c.y, c.x);
        }
        // Signed, so a clockwise ring gives its own area (negative), never the rest of the earth.
        pa.compute(true).1.abs()
    };
    area.0
        .iter()
        .map(|p| ring_area(p.exterior()) - p.interiors().iter().map(ring_area).sum::<f64>())
        .sum()
}

/// One polygon edge with its bounding box.
#[derive(Debug, Clone, Copy)]
struct BoxedEdge {
    a: LonLat,
    b: LonLat,
    min: LonLat,
    max: LonLat,
}

impl Grid {
    fn build(rings: &[Vec<LonLat>]) -> Option<Grid> {
        let ring_edges: Vec<Vec<BoxedEdge>> = rings
            .iter()
            .map(|ring| {
                ring.windows(2)
                    .map(|w| BoxedEdge {
                        a: w[0],
                        b: w[1],
                        min: [w[0][0].min(w[1][0]), w[0][1].min(w[1][1])],
                        max: [w[0][0].max(w[1][0]), w[0][1].max(w[1][1])],
                    })
                    .collect()
            })
            .collect();
        let edge_count: usize = ring_edges.iter().map(Vec::len).sum();
        if edge_count == 0 {
            return None;
        }
        let mut min = [f64::INFINITY; 2];
        let mut max = [f64::NEG_INFINITY; 2];
        for e in ring_edges.iter().flatten() {
            for k in 0..2 {
                min[k] = min[k].min(e.min[k]);
                max[k] = max[k].max(e.max[k]);
            }
        }
        // Pad so points on the far sides of the box still fall in the grid; the absolute term
        // keeps a degenerate (zero-width) box usable.
        let mut size = [0.0; 2];
        let mut origin = [0.0; 2];
        for k in 0..2 {
            let pad = (max[k] - min[k]) * GRID_PAD_FRACTION + 1e-9;
            origin[k] = min[k] - pad;
            size[k] = max[k] - min[k] + 2.0 * pad;
        }
        let cells = (edge_count * CELLS_PER_EDGE).clamp(MIN_CELLS, MAX_CELLS);
        let nx = ((cells as f64 * size[0] / size[1]).sqrt().round() as usize).clamp(1, cells);
        let ny = (cells / nx).max(1);
        let cell = [size[0] / nx as f64, size[1] / ny as f64];
        let margin = [
            cell[0] * CELL_MARGIN_FRACTION,
            cell[1] * CELL_MARGIN_FRACTION,
        ];
        // Extended cell bounds, computed once so every test below uses the same numbers.
        let col_lo: Vec<f64> = (0..nx)
            .map(|c| origin[0] + c as f64 * cell[0] - margin[0])
            .collect();
        let col_hi: Vec<f64> = (0..nx)
            .map(|c| origin[0] + (c + 1) as f64 * cell[0] + margin[0])
            .collect();
        let row_lo: Vec<f64> = (0..ny)
            .map(|r| origin[1] + r as f64 * cell[1] - margin[1])
            .collect();
        let row_hi: Vec<f64> = (0..ny)
            .map(|r| origin[1] + (r + 1) as f64 * cell[1] + margin[1])
            .collect();
        let index_range = |lo: f64, hi: f64, k: usize, n: usize| -> (usize, usize) {
            let f = |v: f64| {
                ((v - origin[k]) / cell[k])
                    .floor()
                    .clamp(0.0, (n - 1) as f64) as usize
            };
            // One cell of slack each side: the exact tests below decide.
            (f(lo).saturating_sub(1), (f(hi) + 1).min(n - 1))
        };

        let mut parity = vec![false; nx * ny];
        let mut listed_edges: Vec<(u32, [LonLat; 2])> = Vec::new();
        let mut listed_chains: Vec<(u32, [f64; 2])> = Vec::new();

        // Edges that are not wholly east of a cell.
        for e in ring_edges.iter().flatten() {
            let (c0, c1) = index_range(e.min[0], e.max[0], 0, nx);
            let (r0, r1) = index_range(e.min[1], e.max[1], 1, ny);
            for c in c0..=c1 {
                if e.min[0] > col_hi[c] || e.max[0] < col_lo[c] {
                    // Wholly east (a chain handles it) or wholly west (never counts).
                    continue;
                }
                for r in r0..=r1 {
                    if e.min[1] > row_hi[r] || e.max[1] < row_lo[r] {
                        continue;
                    }
                    let cell_id = r * nx + c;
                    let spans_row = e.min[1] <= row_lo[r] && e.max[1] > row_hi[r];
                    let corners = [
                        [col_lo[c], row_lo[r]],
                        [col_hi[c], row_lo[r]],
                        [col_lo[c], row_hi[r]],
                        [col_hi[c], row_hi[r]],
                    ];
                    let (lower, upper) = if e.a[1] < e.b[1] {
                        (e.a, e.b)
                    } else {
                        (e.b, e.a)
                    };
                    let side = orient(lower, upper, corners[0]);
                    let clear = side != Orientation::Collinear
                        && corners[1..]
                            .iter()
                            .all(|&k| orient(lower, upper, k) == side);
                    if spans_row && clear {
                        // Every point of the cell sees this edge cross its latitude on the
                        // same side: east (counts) if the cell is left of the upward edge.
                        if side == Orientation::CounterClockwise {
                            parity[cell_id] ^= true;
                        }
                    } else {
                        listed_edges.push((cell_id as u32, [e.a, e.b]));
                    }
                }
            }
        }

        // Runs of edges wholly east of each column, reduced to chains.
        for (c, &east_of) in col_hi.iter().enumerate() {
            for edges in &ring_edges {
                let east: Vec<bool> = edges.iter().map(|e| e.min[0] > east_of).collect();
                let Some(start) = east.iter().position(|&is_east| !is_east) else {
                    // The whole ring is east: a closed chain crosses every latitude an even
                    // number of times.
                    continue;
                };
                let n = edges.len();
                let mut k = 0;
                while k < n {
                    let i = (start + k) % n;
                    if !east[i] {
                        k += 1;
                        continue;
                    }
                    let first = i;
                    let mut last = i;
                    while k + 1 < n && east[(start + k + 1) % n] {
                        k += 1;
                        last = (start + k) % n;
                    }
                    k += 1;
                    let (y_start, y_end) = (edges[first].a[1], edges[last].b[1]);
                    let (lo, hi) = (y_start.min(y_end), y_start.max(y_end));
                    if lo == hi {
                        continue;
                    }
                    let (r0, r1) = index_range(lo, hi, 1, ny);
                    for r in r0..=r1 {
                        let cell_id = r * nx + c;
                        if lo <= row_lo[r] && hi > row_hi[r] {
                            parity[cell_id] ^= true;
                        } else if hi > row_lo[r] && lo <= row_hi[r] {
                            listed_chains.push((cell_id as u32, [y_start, y_end]));
                        }
                    }
                }
            }
        }

        // Compact: boundary cells in cell order, each with its edges and chains.
        listed_edges.sort_by_key(|item| item.0);
        listed_chains.sort_by_key(|item| item.0);
        let mut is_boundary = vec![false; nx * ny];
        for &(cell_id, _) in &listed_edges {
            is_boundary[cell_id as usize] = true;
        }
        for &(cell_id, _) in &listed_chains {
            is_boundary[cell_id as usize] = true;
        }
        let mut blocks = vec![Block::default(); (nx * ny).div_ceil(BLOCK_CELLS)];
        let mut edge_offsets = vec![0u32];
        let mut chain_offsets = vec![0u32];
        let mut edges = Vec::with_capacity(listed_edges.len());
        let mut chains = Vec::with_capacity(listed_chains.len());
        let (mut next_edge, mut next_chain) = (0, 0);
        let mut rank = 0u32;
        for (cell_id, block) in (0..nx * ny).map(|i| (i, i / BLOCK_CELLS)) {
            let bit = 1u64 << (cell_id % BLOCK_CELLS);
            if cell_id % BLOCK_CELLS == 0 {
                blocks[block].rank = rank;
            }
            if parity[cell_id] {
                blocks[block].parity |= bit;
            }
            if !is_boundary[cell_id] {
                continue;
            }
            blocks[block].boundary |= bit;
            rank += 1;
            while next_edge < listed_edges.len() && listed_edges[next_edge].0 as usize == cell_id {
                edges.push(listed_edges[next_edge].1);
                next_edge += 1;
            }
            while next_chain < listed_chains.len()
                && listed_chains[next_chain].0 as usize == cell_id
            {
                chains.push(listed_chains[next_chain].1);
                next_chain += 1;
            }
            edge_offsets.push(edges.len() as u32);
            chain_offsets.push(chains.len() as u32);
        }
        Some(Grid {
            origin,
            inv_cell: [1.0 / cell[0], 1.0 / cell[1]],
            nx,
            ny,
            blocks,
            edge_offsets,
            edges,
            chain_offsets,
            chains,
        })
    }

    #[inline]
    fn contains(&self, p: LonLat) -> bool {
        let fx = (p[0] - self.origin[0]) * self.inv_cell[0];
        let fy = (p[1] - self.origin[1]) * self.inv_cell[1];
        // Written so that NaN fails too.
        if !(fx >= 0.0 && fy >= 0.0 && fx < self.nx as f64 && fy < self.ny as f64) {
            return false;
        }
        let cell_id = fy as usize * self.nx + fx as usize;
        let block = &self.blocks[cell_id / BLOCK_CELLS];
        let bit = 1u64 << (cell_id % BLOCK_CELLS);
        let mut inside = block.parity & bit != 0;
        if block.boundary & bit == 0 {
            return inside;
        }
        let rank = (block.rank + (block.boundary & (bit - 1)).count_ones()) as usize;
        let edges =
            &self.edges[self.edge_offsets[rank] as usize..self.edge_offsets[rank + 1] as usize];
        for &[a, b] in edges {
            let crosses = (a[1] > p[1]) != (b[1] > p[1]);
            let near = within_box(a, b, p);
            if !crosses && !near {
                continue;
            }
            let o = orient(a, b, p);
            if o == Orientation::Collinear {
                if near {
                    return true;
                }
                continue;
            }
            // Counts when the edge meets p's latitude east of p, i.e. p is left of the
            // edge directed upwards.
            if crosses && (o == Orientation::CounterClockwise) == (a[1] < b[1]) {
                inside = !inside;
            }
        }
        let chains =
            &self.chains[self.chain_offsets[rank] as usize..self.chain_offsets[rank + 1] as usize];
        for &[y_start, y_end] in chains {
            if (y_start > p[1]) != (y_end > p[1]) {
                inside = !inside;
            }
        }
        inside
    }
}

/// Brute force even–odd test over every edge, with the boundary counted as inside, for tests.
pub(crate) fn covers_brute_force(area: &MultiPolygon<f64>, p: LonLat) -> bool {
    let mut inside = false;
    for polygon in &area.0 {
        for ring in std::iter::once(polygon.exterior()).chain(polygon.interiors()) {
            for w in ring.0.windows(2) {
                let (a, b) = ([w[0].x, w[0].y], [w[1].x, w[1].y]);
                let o = orient(a, b, p);
                if o == Orientation::Collinear && within_box(a, b, p) {
                    return true;
                }
                let crosses = (a[1] > p[1]) != (b[1] > p[1]);
                if crosses && (o == Orientation::CounterClockwise) == (a[1] < b[1]) {
                    inside = !inside;
                }
            }
        }
    }
    inside
}
