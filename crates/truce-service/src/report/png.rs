//! A report's figures as PNG: the third renderer of [`super::figure`]'s display lists, beside
//! SVG and PDF. `tiny-skia` rasterises the paths, fills, strokes and dashes (anti-aliased) and
//! encodes the PNG; text is drawn by hand from the embedded DejaVu Sans glyph outlines read
//! with `ttf-parser` (each glyph's outline into a tiny-skia path, advanced by its horizontal
//! advance, as the PDF measures it), so no system font and no SVG parser is involved.
//! Deterministic: the same figure gives the same bytes (no timestamp or other ancillary chunk).

use tiny_skia::{
    Color, FillRule, LineCap, LineJoin, Paint, Path, PathBuilder, Pixmap, Rect, Stroke, StrokeDash,
    Transform,
};

use super::figure::{Colour, Figure, Item};
use super::pdf::face;

/// Pixels per figure unit: a map of 800 × 520 units is written 1600 × 1040 pixels.
pub const SCALE: f32 = 2.0;

fn colour(c: Colour) -> Color {
    let v = u32::from_str_radix(c.trim_start_matches('#'), 16).unwrap_or(0);
    Color::from_rgba8(
        ((v >> 16) & 0xff) as u8,
        ((v >> 8) & 0xff) as u8,
        (v & 0xff) as u8,
        255,
    )
}

fn paint(c: Colour) -> Paint<'static> {
    let mut p = Paint::default();
    p.set_color(colour(c));
    p.anti_alias = true;
    p
}

fn stroke(width: f64, dashed: bool) -> Stroke {
    Stroke {
        width: width as f32,
        line_cap: LineCap::Butt,
        line_join: LineJoin::Miter,
        // SVG's `stroke-dasharray="4 3"`, in figure units like the width.
        dash: if dashed {
            StrokeDash::new(vec![4.0, 3.0], 0.0)
        } else {
            None
        },
        ..Stroke::default()
    }
}

/// A glyph outline in font units (y up) into a path in figure units (y down) at (x, y).
struct Outline {
    pb: PathBuilder,
    x: f32,
    y: f32,
    k: f32,
}

impl ttf_parser::OutlineBuilder for Outline {
    fn move_to(&mut self, x: f32, y: f32) {
        self.pb.move_to(self.x + x * self.k, self.y - y * self.k);
    }
    fn line_to(&mut self, x: f32, y: f32) {
        self.pb.line_to(self.x + x * self.k, self.y - y * self.k);
    }
    fn quad_to(&mut self, x1: f32, y1: f32, x: f32, y: f32) {
        self.pb.quad_to(
            self.x + x1 * self.k,
            self.y - y1 * self.k,
            self.x + x * self.k,
            self.y - y * self.k,
        );
    }
    fn curve_to(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, x: f32, y: f32) {
        self.pb.cubic_to(
            self.x + x1 * self.k,
            self.y - y1 * self.k,
            self.x + x2 * self.k,
            self.y - y2 * self.k,
            self.x + x * self.k,
            self.y - y * self.k,
        );
    }
    fn close(&mut self) {
        self.pb.close();
    }
}

/// `text` at `size` with its baseline starting at (x, y), as one path (None when blank).
fn text_path(x: f64, y: f64, size: f64, text: &str) -> Option<Path> {
    let f = face();
    let k = size as f32 / f32::from(f.units_per_em());
    let mut o = Outline {
        pb: PathBuilder::new(),
        x: x as f32,
        y: y as f32,
        k,
    };
    for c in text.chars() {
        let Some(g) = f.glyph_index(c) else { continue };
        f.outline_glyph(g, &mut o);
        o.x += f32::from(f.glyph_hor_advance(g).unwrap_or(0)) * k;
    }
    o.pb.finish()
}

impl Figure {
    /// The figure as a PNG, [`SCALE`] pixels per unit, opaque RGBA.
    pub fn to_png(&self) -> Result<Vec<u8>, String> {
        let (w, h) = (
            (self.w as f32 * SCALE).ceil() as u32,
            (self.h as f32 * SCALE).ceil() as u32,
        );
        let mut pm = Pixmap::new(w, h).ok_or_else(|| format!("a figure of {w} × {h} pixels"))?;
        pm.fill(colour(self.background));
        let t = Transform::from_scale(SCALE, SCALE);
        let mut texts = Vec::new();
        for item in &self.items {
            match item {
                Item::Path {
                    rings,
                    closed,
                    fill,
                    stroke: st,
                    dashed,
                    ..
                } => {
                    let mut pb = PathBuilder::new();
                    for ring in rings {
                        for (i, (x, y)) in ring.iter().enumerate() {
                            if i == 0 {
                                pb.move_to(*x as f32, *y as f32);
                            } else {
                                pb.line_to(*x as f32, *y as f32);
                            }
                        }
                        if *closed {
                            pb.close();
                        }
                    }
                    let Some(path) = pb.finish() else { continue };
                    if let Some(f) = fill {
                        pm.fill_path(&path, &paint(f), FillRule::EvenOdd, t, None);
                    }
                    if let Some((c, width)) = st {
                        pm.stroke_path(&path, &paint(c), &stroke(*width, *dashed), t, None);
                    }
                }
                Item::Rect {
                    x, y, w, h, fill, ..
                } => {
                    if let Some(r) = Rect::from_xywh(*x as f32, *y as f32, *w as f32, *h as f32) {
                        pm.fill_rect(r, &paint(fill), t, None);
                    }
                }
                Item::Circle {
                    x,
                    y,
                    r,
                    fill,
                    stroke: (c, width),
                    ..
                } => {
                    if let Some(path) = PathBuilder::from_circle(*x as f32, *y as f32, *r as f32) {
                        pm.fill_path(&path, &paint(fill), FillRule::Winding, t, None);
                        pm.stroke_path(&path, &paint(c), &stroke(*width, false), t, None);
                    }
                }
                Item::Ellipse {
                    x,
                    y,
                    rx,
                    ry,
                    rotate_deg,
                    stroke: c,
                } => {
                    let oval = Rect::from_xywh(
                        (x - rx) as f32,
                        (y - ry) as f32,
                        (2.0 * rx) as f32,
                        (2.0 * ry) as f32,
                    );
                    if let Some(path) = oval.and_then(PathBuilder::from_oval) {
                        // SVG's `rotate(a x y)`: clockwise on the y-down figure.
                        let rt = t.pre_concat(Transform::from_rotate_at(
                            *rotate_deg as f32,
                            *x as f32,
                            *y as f32,
                        ));
                        pm.stroke_path(&path, &paint(c), &stroke(1.0, false), rt, None);
                    }
                }
                Item::Text { x, y, size, text } => texts.push((*x, *y, *size, text)),
            }
        }
        // Text last, as the PDF draws it, so no area covers a label.
        let black = paint("#000000");
        for (x, y, size, text) in texts {
            if let Some(path) = text_path(x, y, size, text) {
                pm.fill_path(&path, &black, FillRule::Winding, t, None);
            }
        }
        pm.encode_png()
            .map_err(|e| format!("encoding a figure as PNG: {e}"))
    }
}
