//! The report as PDF: the same [`Block`]s the HTML is written from, laid out on A4 pages with
//! DejaVu Sans embedded (Latin and Cyrillic; a Type 0 font with Identity-H encoding and a
//! ToUnicode map, so text can be searched and copied). `pdf-writer` writes the PDF syntax and
//! `ttf-parser` reads the font's cmap and advances; the layout (wrapping, tables split across
//! pages with the header repeated, figures scaled to the text width) is this file's, a few
//! hundred lines, because the crates that lay out documents (Typst) are many times the size
//! of the rest of Truce. The font is cut to the glyphs used ([`super::subset`]).
//! Deterministic: no date, no random id, a fixed compression level.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::sync::OnceLock;

use pdf_writer::types::{CidFontType, FontFlags, SystemInfo};
use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str};

use super::Block;
use super::figure::{Figure, Item, rgb};

/// DejaVu Sans (Bitstream Vera licence; `fonts/DejaVuSans-LICENSE.txt`).
static FONT: &[u8] = include_bytes!("../../fonts/DejaVuSans.ttf");

const PAGE_W: f32 = 595.28;
const PAGE_H: f32 = 841.89;
const MARGIN: f32 = 50.0;
const TEXT_W: f32 = PAGE_W - 2.0 * MARGIN;
const FONT_NAME: Name<'static> = Name(b"F1");

pub(super) fn face() -> &'static ttf_parser::Face<'static> {
    static FACE: OnceLock<ttf_parser::Face<'static>> = OnceLock::new();
    FACE.get_or_init(|| ttf_parser::Face::parse(FONT, 0).expect("the embedded font parses"))
}

fn deflate(data: &[u8]) -> Vec<u8> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(6));
    z.write_all(data).expect("writing to memory");
    z.finish().expect("writing to memory")
}

/// The font file cut to `glyphs` (the whole font if it cannot be cut), compressed: its bytes
/// and its uncompressed length.
fn font_stream(glyphs: &std::collections::BTreeSet<u16>) -> (Vec<u8>, usize) {
    let font = super::subset::subset(FONT, glyphs).unwrap_or_else(|| FONT.to_vec());
    (deflate(&font), font.len())
}

struct Layout {
    pages: Vec<Content>,
    page: Content,
    /// The baseline cursor, from the bottom of the page.
    y: f32,
    /// Glyphs used: id → the character it shows.
    used: BTreeMap<u16, char>,
}

impl Layout {
    fn new() -> Layout {
        Layout {
            pages: Vec::new(),
            page: Content::new(),
            y: PAGE_H - MARGIN,
            used: BTreeMap::new(),
        }
    }

    fn new_page(&mut self) {
        let done = std::mem::replace(&mut self.page, Content::new());
        self.pages.push(done);
        self.y = PAGE_H - MARGIN;
    }

    /// Room for `h` more points on this page, or a new page.
    fn need(&mut self, h: f32) {
        if self.y - h < MARGIN {
            self.new_page();
        }
    }

    fn width(text: &str, size: f32) -> f32 {
        let f = face();
        let upem = f32::from(f.units_per_em());
        text.chars()
            .map(|c| {
                f.glyph_index(c)
                    .and_then(|g| f.glyph_hor_advance(g))
                    .map_or(0.0, f32::from)
            })
            .sum::<f32>()
            / upem
            * size
    }

    /// Lines of `text` no wider than `w` at `size`: words kept whole where they fit, broken by
    /// characters where one does not; explicit newlines kept.
    fn wrap(text: &str, size: f32, w: f32) -> Vec<String> {
        let mut lines = Vec::new();
        for para in text.split('\n') {
            let mut line = String::new();
            for word in para.split(' ') {
                let candidate = if line.is_empty() {
                    word.to_string()
                } else {
                    format!("{line} {word}")
                };
                if Self::width(&candidate, size) <= w {
                    line = candidate;
                    continue;
                }
                if !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                }
                // The word alone, broken where it is wider than a line.
                for c in word.chars() {
                    line.push(c);
                    if Self::width(&line, size) > w && line.chars().count() > 1 {
                        let last = line.pop().expect("two characters");
                        lines.push(std::mem::take(&mut line));
                        line.push(last);
                    }
                }
            }
            lines.push(line);
        }
        lines
    }

    fn text(&mut self, x: f32, y: f32, size: f32, colour: (f32, f32, f32), text: &str) {
        let f = face();
        let mut bytes = Vec::with_capacity(text.len() * 2);
        for c in text.chars() {
            let g = f.glyph_index(c).map_or(0, |g| g.0);
            self.used.entry(g).or_insert(c);
            bytes.extend_from_slice(&g.to_be_bytes());
        }
        self.page
            .set_fill_rgb(colour.0, colour.1, colour.2)
            .begin_text()
            .set_font(FONT_NAME, size)
            .next_line(x, y)
            .show(Str(&bytes))
            .end_text();
    }

    /// A wrapped paragraph at the left margin.
    fn para(&mut self, text: &str, size: f32, colour: (f32, f32, f32), space_after: f32) {
        let lh = size * 1.35;
        for line in Self::wrap(text, size, TEXT_W) {
            self.need(lh);
            self.y -= lh;
            self.text(MARGIN, self.y + size * 0.3, size, colour, &line);
        }
        self.y -= space_after;
    }

    fn heading(&mut self, text: &str) {
        // Keep a heading with the start of what follows (a table's first rows, a figure's top).
        self.need(120.0);
        self.y -= 8.0;
        self.para(text, 13.0, (0.07, 0.07, 0.07), 2.0);
        self.page
            .set_stroke_rgb(0.8, 0.8, 0.8)
            .set_line_width(0.6)
            .move_to(MARGIN, self.y)
            .line_to(PAGE_W - MARGIN, self.y)
            .stroke();
        self.y -= 6.0;
    }

    fn pre(&mut self, text: &str) {
        let size = 6.5;
        let lh = size * 1.35;
        let lines = Self::wrap(text, size, TEXT_W - 8.0);
        let h = lines.len() as f32 * lh + 6.0;
        if h < PAGE_H - 2.0 * MARGIN {
            self.need(h);
        }
        let top = self.y;
        let bottom = (top - h).max(MARGIN);
        self.page
            .set_fill_rgb(0.96, 0.96, 0.96)
            .rect(MARGIN, bottom, TEXT_W, top - bottom)
            .fill_nonzero();
        self.y -= 3.0;
        for line in lines {
            self.need(lh);
            self.y -= lh;
            self.text(
                MARGIN + 4.0,
                self.y + size * 0.3,
                size,
                (0.1, 0.1, 0.1),
                &line,
            );
        }
        self.y -= 9.0;
    }

    fn table(&mut self, head: &[String], rows: &[Vec<String>]) {
        let size = 7.5;
        let pad = 3.0;
        let lh = size * 1.3;
        let n = head.len().max(rows.iter().map(Vec::len).max().unwrap_or(0));
        if n == 0 {
            return;
        }
        // Natural widths, then shrink the widest columns to fit the text width.
        let mut natural = vec![0.0f32; n];
        for r in std::iter::once(head).chain(rows.iter().map(Vec::as_slice)) {
            for (i, c) in r.iter().enumerate() {
                let w = c
                    .split(' ')
                    .map(|w| Self::width(w, size))
                    .fold(Self::width(c, size).min(TEXT_W * 0.45), f32::max);
                natural[i] = natural[i].max(w + 2.0 * pad);
            }
        }
        let total: f32 = natural.iter().sum();
        let widths: Vec<f32> = if total <= TEXT_W {
            natural
        } else {
            let fair = TEXT_W / n as f32;
            let small: f32 = natural.iter().filter(|w| **w <= fair).sum();
            let big: f32 = natural.iter().filter(|w| **w > fair).sum();
            let room = TEXT_W - small;
            natural
                .iter()
                .map(|w| if *w <= fair { *w } else { w / big * room })
                .collect()
        };
        let draw_row = |l: &mut Layout, cells: &[String], header: bool| {
            let wrapped: Vec<Vec<String>> = (0..n)
                .map(|i| {
                    Self::wrap(
                        cells.get(i).map_or("", String::as_str),
                        size,
                        widths[i] - 2.0 * pad,
                    )
                })
                .collect();
            let lines = wrapped.iter().map(Vec::len).max().unwrap_or(1).max(1);
            let h = lines as f32 * lh + 2.0 * pad;
            let top = l.y;
            if header {
                l.page
                    .set_fill_rgb(0.93, 0.93, 0.93)
                    .rect(MARGIN, top - h, widths.iter().sum(), h)
                    .fill_nonzero();
            }
            let mut x = MARGIN;
            for (i, cell) in wrapped.iter().enumerate() {
                for (k, line) in cell.iter().enumerate() {
                    let base = top - pad - (k as f32 + 1.0) * lh + size * 0.3;
                    l.text(x + pad, base, size, (0.07, 0.07, 0.07), line);
                }
                l.page
                    .set_stroke_rgb(0.67, 0.67, 0.67)
                    .set_line_width(0.5)
                    .rect(x, top - h, widths[i], h)
                    .stroke();
                x += widths[i];
            }
            l.y -= h;
            h
        };
        let row_height = |cells: &[String]| {
            let lines = (0..n)
                .map(|i| {
                    Self::wrap(
                        cells.get(i).map_or("", String::as_str),
                        size,
                        widths[i] - 2.0 * pad,
                    )
                    .len()
                })
                .max()
                .unwrap_or(1)
                .max(1);
            lines as f32 * lh + 2.0 * pad
        };
        self.need(row_height(head) + row_height(rows.first().map_or(&[][..], Vec::as_slice)));
        draw_row(self, head, true);
        for r in rows {
            if self.y - row_height(r) < MARGIN {
                self.new_page();
                draw_row(self, head, true);
            }
            draw_row(self, r, false);
        }
        self.y -= 8.0;
    }

    fn figure(&mut self, fig: &Figure) {
        let s = (TEXT_W / fig.w as f32).min((PAGE_H - 2.0 * MARGIN) / fig.h as f32);
        let h = fig.h as f32 * s;
        self.need(h + 4.0);
        let top = self.y - 2.0;
        let x0 = MARGIN;
        let at = |x: f64, y: f64| (x0 + x as f32 * s, top - y as f32 * s);
        let c = &mut self.page;
        c.save_state();
        c.rect(x0, top - h, fig.w as f32 * s, h)
            .clip_nonzero()
            .end_path();
        let bg = rgb(fig.background);
        c.set_fill_rgb(bg.0, bg.1, bg.2)
            .rect(x0, top - h, fig.w as f32 * s, h)
            .fill_nonzero();
        let mut texts = Vec::new();
        for item in &fig.items {
            match item {
                Item::Path {
                    rings,
                    closed,
                    fill,
                    stroke,
                    dashed,
                    ..
                } => {
                    for ring in rings {
                        for (i, (x, y)) in ring.iter().enumerate() {
                            let (px, py) = at(*x, *y);
                            if i == 0 {
                                c.move_to(px, py);
                            } else {
                                c.line_to(px, py);
                            }
                        }
                        if *closed {
                            c.close_path();
                        }
                    }
                    if let Some(f) = fill {
                        let f = rgb(f);
                        c.set_fill_rgb(f.0, f.1, f.2);
                    }
                    if let Some((sc, w)) = stroke {
                        let sc = rgb(sc);
                        c.set_stroke_rgb(sc.0, sc.1, sc.2)
                            .set_line_width((*w as f32 * s).max(0.3));
                    }
                    if *dashed {
                        c.set_dash_pattern([3.0, 2.0], 0.0);
                    }
                    match (fill.is_some(), stroke.is_some()) {
                        (true, true) => c.fill_even_odd_and_stroke(),
                        (true, false) => c.fill_even_odd(),
                        (false, true) => c.stroke(),
                        (false, false) => c.end_path(),
                    };
                    if *dashed {
                        c.set_dash_pattern([], 0.0);
                    }
                }
                Item::Rect {
                    x, y, w, h, fill, ..
                } => {
                    let (px, py) = at(*x, *y + *h);
                    let f = rgb(fill);
                    c.set_fill_rgb(f.0, f.1, f.2)
                        .rect(px, py, *w as f32 * s, *h as f32 * s)
                        .fill_nonzero();
                }
                Item::Circle {
                    x,
                    y,
                    r,
                    fill,
                    stroke,
                    ..
                } => {
                    let (px, py) = at(*x, *y);
                    let r = *r as f32 * s;
                    ellipse(c, px, py, r, r, 0.0);
                    let f = rgb(fill);
                    let sc = rgb(stroke.0);
                    c.set_fill_rgb(f.0, f.1, f.2)
                        .set_stroke_rgb(sc.0, sc.1, sc.2)
                        .set_line_width((stroke.1 as f32 * s).max(0.3))
                        .fill_nonzero_and_stroke();
                }
                Item::Ellipse {
                    x,
                    y,
                    rx,
                    ry,
                    rotate_deg,
                    stroke,
                } => {
                    let (px, py) = at(*x, *y);
                    // Clockwise on the page is a negative angle with y up.
                    ellipse(
                        c,
                        px,
                        py,
                        *rx as f32 * s,
                        *ry as f32 * s,
                        -(*rotate_deg as f32).to_radians(),
                    );
                    let sc = rgb(stroke);
                    c.set_stroke_rgb(sc.0, sc.1, sc.2)
                        .set_line_width(0.6)
                        .stroke();
                }
                Item::Text { x, y, size, text } => {
                    let (px, py) = at(*x, *y);
                    texts.push((px, py, *size as f32 * s, text.clone()));
                }
            }
        }
        for (px, py, size, text) in texts {
            self.text(px, py, size, (0.0, 0.0, 0.0), &text);
        }
        self.page.restore_state();
        self.y = top - h - 8.0;
    }
}

/// An ellipse centred at (cx, cy), semi-axes `rx` (along x) and `ry` (along y) turned `phi`
/// radians anticlockwise: four cubic Béziers.
fn ellipse(c: &mut Content, cx: f32, cy: f32, rx: f32, ry: f32, phi: f32) {
    const K: f32 = 0.552_284_8;
    let (sin, cos) = phi.sin_cos();
    let p = |x: f32, y: f32| (cx + x * cos - y * sin, cy + x * sin + y * cos);
    let (x0, y0) = p(rx, 0.0);
    c.move_to(x0, y0);
    let quads = [
        [(rx, K * ry), (K * rx, ry), (0.0, ry)],
        [(-K * rx, ry), (-rx, K * ry), (-rx, 0.0)],
        [(-rx, -K * ry), (-K * rx, -ry), (0.0, -ry)],
        [(K * rx, -ry), (rx, -K * ry), (rx, 0.0)],
    ];
    for q in quads {
        let (a, b) = p(q[0].0, q[0].1);
        let (d, e) = p(q[1].0, q[1].1);
        let (f, g) = p(q[2].0, q[2].1);
        c.cubic_to(a, b, d, e, f, g);
    }
    c.close_path();
}

/// The blocks as a PDF document.
pub(crate) fn render(blocks: &[Block]) -> Vec<u8> {
    let mut l = Layout::new();
    for b in blocks {
        match b {
            Block::Title(t) => l.para(t, 18.0, (0.0, 0.0, 0.0), 6.0),
            Block::Heading(t) => l.heading(t),
            Block::Para(t) => l.para(t, 9.5, (0.07, 0.07, 0.07), 5.0),
            Block::Labelled(k, v) => l.para(&format!("{k}: {v}"), 9.5, (0.07, 0.07, 0.07), 5.0),
            Block::Fig(f) => l.figure(f),
            Block::Table(head, rows) => l.table(head, rows),
            Block::Pre(t) => l.pre(t),
        }
    }
    l.new_page();
    let pages = std::mem::take(&mut l.pages);
    // Page numbers at the foot of each page.
    let count = pages.len();
    let mut numbered = Vec::with_capacity(count);
    for (i, mut page) in pages.into_iter().enumerate() {
        std::mem::swap(&mut l.page, &mut page);
        let label = format!("{} / {count}", i + 1);
        let w = Layout::width(&label, 8.0);
        l.text(
            PAGE_W - MARGIN - w,
            MARGIN / 2.0,
            8.0,
            (0.4, 0.4, 0.4),
            &label,
        );
        std::mem::swap(&mut l.page, &mut page);
        numbered.push(page);
    }

    let mut pdf = Pdf::new();
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let type0 = Ref::new(3);
    let cid = Ref::new(4);
    let descriptor = Ref::new(5);
    let file = Ref::new(6);
    let cmap = Ref::new(7);
    let first_page = 8;
    pdf.catalog(catalog).pages(tree);
    let page_ids: Vec<Ref> = (0..count)
        .map(|i| Ref::new(first_page + 2 * i as i32))
        .collect();
    pdf.pages(tree)
        .kids(page_ids.iter().copied())
        .count(count as i32);
    for (i, content) in numbered.into_iter().enumerate() {
        let id = page_ids[i];
        let content_id = Ref::new(id.get() + 1);
        let mut page = pdf.page(id);
        page.media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H))
            .parent(tree)
            .contents(content_id);
        page.resources().fonts().pair(FONT_NAME, type0);
        page.finish();
        pdf.stream(content_id, &deflate(&content.finish()))
            .filter(Filter::FlateDecode);
    }

    let f = face();
    let upem = f32::from(f.units_per_em());
    let to_pdf = |v: f32| v / upem * 1000.0;
    // A subset font is named with a tag of six capitals made from its glyphs.
    let tag: String = {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for g in l.used.keys() {
            for b in g.to_be_bytes() {
                h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
            }
        }
        (0..6)
            .map(|i| char::from(b'A' + ((h >> (i * 8)) % 26) as u8))
            .collect()
    };
    let base_name = format!("{tag}+DejaVuSans");
    let base = Name(base_name.as_bytes());
    pdf.type0_font(type0)
        .base_font(base)
        .encoding_predefined(Name(b"Identity-H"))
        .descendant_font(cid)
        .to_unicode(cmap);
    let info = SystemInfo {
        registry: Str(b"Adobe"),
        ordering: Str(b"Identity"),
        supplement: 0,
    };
    let mut font = pdf.cid_font(cid);
    font.subtype(CidFontType::Type2)
        .base_font(base)
        .system_info(info)
        .font_descriptor(descriptor)
        .default_width(to_pdf(f32::from(
            f.glyph_hor_advance(ttf_parser::GlyphId(0)).unwrap_or(0),
        )))
        .cid_to_gid_map_predefined(Name(b"Identity"));
    {
        let mut widths = font.widths();
        for g in l.used.keys() {
            let adv = f.glyph_hor_advance(ttf_parser::GlyphId(*g)).unwrap_or(0);
            widths.consecutive(*g, [to_pdf(f32::from(adv))]);
        }
    }
    font.finish();
    let bbox = f.global_bounding_box();
    pdf.font_descriptor(descriptor)
        .name(base)
        .flags(FontFlags::NON_SYMBOLIC)
        .bbox(Rect::new(
            to_pdf(f32::from(bbox.x_min)),
            to_pdf(f32::from(bbox.y_min)),
            to_pdf(f32::from(bbox.x_max)),
            to_pdf(f32::from(bbox.y_max)),
        ))
        .italic_angle(0.0)
        .ascent(to_pdf(f32::from(f.ascender())))
        .descent(to_pdf(f32::from(f.descender())))
        .cap_height(to_pdf(f32::from(
            f.capital_height().unwrap_or(f.ascender()),
        )))
        .stem_v(80.0)
        .font_file2(file);
    let (font_file, font_len) = font_stream(&l.used.keys().copied().collect());
    pdf.stream(file, &font_file)
        .filter(Filter::FlateDecode)
        .pair(Name(b"Length1"), font_len as i32);
    let mut unicode = pdf_writer::types::UnicodeCmap::new(Name(b"Truce-UTF16"), info);
    for (g, ch) in &l.used {
        unicode.pair(*g, *ch);
    }
    pdf.stream(cmap, &unicode.finish());
    pdf.finish()
}
