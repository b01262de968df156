//! A report's figures as display lists: drawn once, written as SVG (HTML, `map.svg`,
//! `chart.svg`) and as PDF operators ([`super::pdf`]) from the same items, so the two never
//! disagree. Coordinates are SVG's: origin top left, y down, in figure units.

use std::fmt::Write as _;

/// A colour, `#rrggbb`.
pub type Colour = &'static str;

/// One thing drawn.
#[derive(Debug, Clone)]
pub enum Item {
    /// Rings (closed) or polylines (open), filled and/or stroked.
    Path {
        rings: Vec<Vec<(f64, f64)>>,
        closed: bool,
        fill: Option<Colour>,
        stroke: Option<(Colour, f64)>,
        dashed: bool,
        title: Option<String>,
    },
    Rect {
        x: f64,
        y: f64,
        w: f64,
        h: f64,
        fill: Colour,
        title: Option<String>,
    },
    Circle {
        x: f64,
        y: f64,
        r: f64,
        fill: Colour,
        stroke: (Colour, f64),
        title: Option<String>,
    },
    /// An outline ellipse, its `ry` axis turned `rotate_deg` clockwise from up.
    Ellipse {
        x: f64,
        y: f64,
        rx: f64,
        ry: f64,
        rotate_deg: f64,
        stroke: Colour,
    },
    /// Text with its baseline starting at (x, y).
    Text {
        x: f64,
        y: f64,
        size: f64,
        text: String,
    },
}

/// A figure: its size, background and items in drawing order.
#[derive(Debug, Clone)]
pub struct Figure {
    pub w: f64,
    pub h: f64,
    pub background: Colour,
    pub items: Vec<Item>,
}

/// Escapes text for HTML and SVG.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            _ => o.push(c),
        }
    }
    o
}

fn title(t: &Option<String>) -> String {
    t.as_ref()
        .map(|t| format!("<title>{}</title>", esc(t)))
        .unwrap_or_default()
}

impl Figure {
    /// The figure as a standalone SVG document (one line, then a newline).
    pub fn to_svg(&self) -> String {
        let (w, h) = (self.w, self.h);
        let mut s = String::new();
        let _ = write!(
            s,
            r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" font-family="DejaVu Sans, sans-serif"><rect width="100%" height="100%" fill="{}"/>"##,
            self.background
        );
        for item in &self.items {
            match item {
                Item::Path {
                    rings,
                    closed,
                    fill,
                    stroke,
                    dashed,
                    title: t,
                } => {
                    let mut d = String::new();
                    for ring in rings {
                        for (i, (x, y)) in ring.iter().enumerate() {
                            let _ = write!(d, "{}{x:.1},{y:.1}", if i == 0 { "M" } else { "L" });
                        }
                        if *closed {
                            d.push('Z');
                        }
                    }
                    let _ = write!(
                        s,
                        r#"<path d="{d}" fill="{}" fill-rule="evenodd""#,
                        fill.unwrap_or("none")
                    );
                    if let Some((c, width)) = stroke {
                        let _ = write!(s, r#" stroke="{c}" stroke-width="{width}""#);
                    }
                    if *dashed {
                        s.push_str(r#" stroke-dasharray="4 3""#);
                    }
                    let _ = write!(s, ">{}</path>", title(t));
                }
                Item::Rect {
                    x,
                    y,
                    w,
                    h,
                    fill,
                    title: t,
                } => {
                    let _ = write!(
                        s,
                        r#"<rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}" fill="{fill}">{}</rect>"#,
                        title(t)
                    );
                }
                Item::Circle {
                    x,
                    y,
                    r,
                    fill,
                    stroke: (c, width),
                    title: t,
                } => {
                    let _ = write!(
                        s,
                        r#"<circle cx="{x:.1}" cy="{y:.1}" r="{r:.1}" fill="{fill}" stroke="{c}" stroke-width="{width}">{}</circle>"#,
                        title(t)
                    );
                }
                Item::Ellipse {
                    x,
                    y,
                    rx,
                    ry,
                    rotate_deg,
                    stroke,
                } => {
                    let _ = write!(
                        s,
                        r#"<ellipse cx="{x:.1}" cy="{y:.1}" rx="{rx:.1}" ry="{ry:.1}" transform="rotate({rotate_deg:.1} {x:.1} {y:.1})" fill="none" stroke="{stroke}"/>"#
                    );
                }
                Item::Text { x, y, size, text } => {
                    let _ = write!(
                        s,
                        r#"<text x="{x:.1}" y="{y:.1}" font-size="{size}">{}</text>"#,
                        esc(text)
                    );
                }
            }
        }
        s.push_str("</svg>\n");
        s
    }
}

/// `#rrggbb` as RGB in 0..=1.
pub fn rgb(c: Colour) -> (f32, f32, f32) {
    let v = u32::from_str_radix(c.trim_start_matches('#'), 16).unwrap_or(0);
    (
        ((v >> 16) & 0xff) as f32 / 255.0,
        ((v >> 8) & 0xff) as f32 / 255.0,
        (v & 0xff) as f32 / 255.0,
    )
}
