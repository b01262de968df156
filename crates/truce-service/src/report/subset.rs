//! A TrueType font cut down to the glyphs a PDF uses: glyph ids stay as they are (so the PDF's
//! Identity CID→GID map and widths hold), the outlines of every other glyph are dropped from
//! `glyf` (with `loca` rewritten, long format), and only the tables a PDF viewer reads from an
//! embedded TrueType font are kept. Composite glyphs keep their components. Written here
//! because the subsetting crates (`subsetter`, `allsorts`) bring font stacks several times the
//! size of the rest of the report code; this is the part of their job a PDF needs.

use std::collections::BTreeSet;

/// The tables kept (sorted by tag, as a table directory must be).
const KEEP: [&[u8; 4]; 10] = [
    b"OS/2", b"cvt ", b"fpgm", b"glyf", b"head", b"hhea", b"hmtx", b"loca", b"maxp", b"prep",
];

fn u16_at(b: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?]))
}

fn u32_at(b: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_be_bytes([
        *b.get(i)?,
        *b.get(i + 1)?,
        *b.get(i + 2)?,
        *b.get(i + 3)?,
    ]))
}

fn checksum(data: &[u8]) -> u32 {
    data.chunks(4).fold(0u32, |sum, c| {
        let mut w = [0u8; 4];
        w[..c.len()].copy_from_slice(c);
        sum.wrapping_add(u32::from_be_bytes(w))
    })
}

/// `font` with only the outlines of `glyphs` (and glyph 0, and their components); None when
/// the font is not a TrueType font this understands (the caller embeds it whole).
pub fn subset(font: &[u8], glyphs: &BTreeSet<u16>) -> Option<Vec<u8>> {
    let n = usize::from(u16_at(font, 4)?);
    let mut tables = std::collections::BTreeMap::new();
    for i in 0..n {
        let rec = 12 + 16 * i;
        let tag: [u8; 4] = font.get(rec..rec + 4)?.try_into().ok()?;
        let off = u32_at(font, rec + 8)? as usize;
        let len = u32_at(font, rec + 12)? as usize;
        tables.insert(tag, font.get(off..off + len)?);
    }
    let head = *tables.get(b"head")?;
    let maxp = *tables.get(b"maxp")?;
    let loca = *tables.get(b"loca")?;
    let glyf = *tables.get(b"glyf")?;
    let num_glyphs = usize::from(u16_at(maxp, 4)?);
    let long = u16_at(head, 50)? == 1;
    let range = |g: usize| -> Option<(usize, usize)> {
        if long {
            Some((
                u32_at(loca, 4 * g)? as usize,
                u32_at(loca, 4 * g + 4)? as usize,
            ))
        } else {
            Some((
                usize::from(u16_at(loca, 2 * g)?) * 2,
                usize::from(u16_at(loca, 2 * g + 2)?) * 2,
            ))
        }
    };
    // The glyphs to keep, with the components of composite ones.
    let mut keep: BTreeSet<u16> = glyphs.clone();
    keep.insert(0);
    let mut todo: Vec<u16> = keep.iter().copied().collect();
    while let Some(g) = todo.pop() {
        if usize::from(g) >= num_glyphs {
            continue;
        }
        let (a, b) = range(usize::from(g))?;
        let data = glyf.get(a..b)?;
        if data.len() < 10 || (u16_at(data, 0)? as i16) >= 0 {
            continue;
        }
        let mut i = 10;
        loop {
            let flags = u16_at(data, i)?;
            let component = u16_at(data, i + 2)?;
            if keep.insert(component) {
                todo.push(component);
            }
            i += 4 + if flags & 0x0001 != 0 { 4 } else { 2 };
            i += if flags & 0x0008 != 0 {
                2
            } else if flags & 0x0040 != 0 {
                4
            } else if flags & 0x0080 != 0 {
                8
            } else {
                0
            };
            if flags & 0x0020 == 0 {
                break;
            }
        }
    }
    let mut new_glyf = Vec::new();
    let mut new_loca = Vec::with_capacity(4 * (num_glyphs + 1));
    for g in 0..num_glyphs {
        new_loca.extend_from_slice(&(new_glyf.len() as u32).to_be_bytes());
        if keep.contains(&(g as u16)) {
            let (a, b) = range(g)?;
            new_glyf.extend_from_slice(glyf.get(a..b)?);
            while new_glyf.len() % 4 != 0 {
                new_glyf.push(0);
            }
        }
    }
    new_loca.extend_from_slice(&(new_glyf.len() as u32).to_be_bytes());
    let mut new_head = head.to_vec();
    new_head.get_mut(8..12)?.copy_from_slice(&[0; 4]); // checkSumAdjustment
    new_head
        .get_mut(50..52)?
        .copy_from_slice(&1u16.to_be_bytes()); // long loca
    let out_tables: Vec<(&[u8; 4], Vec<u8>)> = KEEP
        .iter()
        .filter_map(|tag| {
            let data = match *tag {
                b"glyf" => new_glyf.clone(),
                b"loca" => new_loca.clone(),
                b"head" => new_head.clone(),
                _ => tables.get(*tag)?.to_vec(),
            };
            Some((*tag, data))
        })
        .collect();
    let count = out_tables.len() as u16;
    let mut out = Vec::new();
    out.extend_from_slice(&0x0001_0000u32.to_be_bytes());
    let mut pow = 1u16;
    let mut log = 0u16;
    while pow * 2 <= count {
        pow *= 2;
        log += 1;
    }
    out.extend_from_slice(&count.to_be_bytes());
    out.extend_from_slice(&(pow * 16).to_be_bytes());
    out.extend_from_slice(&log.to_be_bytes());
    out.extend_from_slice(&(count * 16 - pow * 16).to_be_bytes());
    let mut offset = 12 + 16 * out_tables.len();
    for (tag, data) in &out_tables {
        out.extend_from_slice(*tag);
        out.extend_from_slice(&checksum(data).to_be_bytes());
        out.extend_from_slice(&(offset as u32).to_be_bytes());
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        offset += data.len().div_ceil(4) * 4;
    }
    for (_, data) in &out_tables {
        out.extend_from_slice(data);
        while out.len() % 4 != 0 {
            out.push(0);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subset_keeps_the_glyphs_asked_for_and_drops_the_rest() {
        let font = include_bytes!("../../fonts/DejaVuSans.ttf");
        let face = ttf_parser::Face::parse(font, 0).unwrap();
        let glyphs: BTreeSet<u16> = "Звіт Ёё report"
            .chars()
            .map(|c| face.glyph_index(c).unwrap().0)
            .collect();
        let small = subset(font, &glyphs).unwrap();
        assert!(
            small.len() < font.len() / 5,
            "{} of {}",
            small.len(),
            font.len()
        );
        let sub = ttf_parser::Face::parse(&small, 0).unwrap();
        assert_eq!(sub.number_of_glyphs(), face.number_of_glyphs());
        for g in &glyphs {
            let id = ttf_parser::GlyphId(*g);
            assert_eq!(sub.glyph_hor_advance(id), face.glyph_hor_advance(id));
            assert_eq!(
                sub.glyph_bounding_box(id),
                face.glyph_bounding_box(id),
                "glyph {g}"
            );
        }
        // A glyph not asked for has no outline left.
        let other = face.glyph_index('Q').unwrap();
        assert!(face.glyph_bounding_box(other).is_some());
        assert!(sub.glyph_bounding_box(other).is_none());
    }
}
