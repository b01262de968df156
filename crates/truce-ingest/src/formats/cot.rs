//! Cursor-on-Target XML: one `<event>` per observation, from field teams' TAK devices.
//!
//! A file may hold one event, several concatenated (each with or without its `<?xml?>`
//! declaration) or events wrapped in any root element. Each event becomes one record; an event
//! that is not well-formed XML, not valid UTF-8 or lacks what an observation needs is rejected on
//! its own and reading resumes at the next `<event`, so the good events of a damaged or
//! truncated capture still come through.
//!
//! The event's `type` picks the observation kind through a [`CotTypes`] table (built in:
//! [`BUILTIN_COT_TYPES_TOML`]; a deployment can load its own). Affiliation letters (`a-h-…`
//! hostile, `a-f-…` friend) say how the sender saw the unit, not which party it belongs to, so
//! they go into the remarks, never into `affiliation`. The id is `cot:<uid>:<time>`.

use std::borrow::Cow;

use chrono::{DateTime, SecondsFormat, Utc};
use quick_xml::XmlVersion;
use quick_xml::errors::SyntaxError;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;
use serde::Deserialize;
use truce_core::observation::{
    Geometry, Observation, ObservationKind, Outcome, Reliability, Source, SourceKind, TaskOutcome,
    WeaponSeen,
};

use super::observation;
use crate::text::{checked, clip_remarks, decode_utf16_with_bom, raw_text, strip_bom};
use crate::{
    Adapter, ConfigError, Fatal, Format, Locator, MAX_RECORD_BYTES, Record, Records, finish_records,
};

/// Truce's built-in CoT type table, in the TOML form [`CotTypes::from_toml`] reads.
pub const BUILTIN_COT_TYPES_TOML: &str = include_str!("cot_types.toml");

/// CoT writes 9999999 for an unknown `ce`, `le` or `hae`; some TAK Server and WinTAK builds write
/// 999999. Any value from this one up is taken as unknown.
const UNKNOWN_FROM_M: f64 = 999_999.0;

/// Error radius, metres, for an event whose `ce` is unknown (or 0, which iTAK writes when it has
/// none): the point was most likely placed by hand on a map, and a kilometre keeps such a marker
/// from asserting a position it does not have.
const UNKNOWN_CE_M: f64 = 1_000.0;

/// How many bytes at the start of a file are searched for an `<?xml … encoding=…?>` declaration.
const DECLARATION_WINDOW_BYTES: usize = 256;

/// The CoT type → observation kind table: type rules with wildcard patterns, and remarks
/// keywords for types whose kind depends on what the team wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct CotTypes {
    types: Vec<TypeRule>,
    keywords: Vec<KeywordRule>,
}

impl Default for CotTypes {
    /// The built-in table.
    fn default() -> Self {
        Self::from_toml(BUILTIN_COT_TYPES_TOML)
            .expect("the built-in CoT type table is valid (a unit test checks it)")
    }
}

#[derive(Debug, Clone, PartialEq)]
struct TypeRule {
    pattern: Pattern,
    kind: KindRule,
    weapon_class: Option<String>,
    shape: Shape,
    label: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum KindRule {
    Fixed(ObservationKind),
    FromRemarks { fallback: ObservationKind },
}

/// Where the geometry comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Shape {
    /// The event's `<point>`.
    #[default]
    Point,
    /// The `<link point=…>` vertices, closed into a ring.
    Polygon,
    /// The `<link point=…>` vertices in order.
    Line,
}

/// A CoT type pattern: `?` matches any one character, a trailing `*` any rest.
#[derive(Debug, Clone, PartialEq)]
struct Pattern {
    chars: Vec<char>,
    prefix: bool,
}

impl Pattern {
    fn parse(text: &str) -> Result<Self, String> {
        let (body, prefix) = match text.strip_suffix('*') {
            Some(body) => (body, true),
            None => (text, false),
        };
        if body.is_empty() || body.contains('*') {
            return Err(format!(
                "pattern {text:?}: needs a type, with `*` only at the end"
            ));
        }
        Ok(Self {
            chars: body.chars().collect(),
            prefix,
        })
    }

    fn matches(&self, cot_type: &str) -> bool {
        let mut rest = cot_type.chars();
        for &p in &self.chars {
            match rest.next() {
                Some(c) if p == '?' || p == c => {}
                _ => return false,
            }
        }
        self.prefix || rest.next().is_none()
    }
}

#[derive(Debug, Clone, PartialEq)]
struct KeywordRule {
    kind: ObservationKind,
    /// Lower-case words, and whether each is a prefix (written with a trailing `*`).
    words: Vec<(String, bool)>,
}

impl KeywordRule {
    fn matches(&self, words: &[String]) -> bool {
        words.iter().any(|w| {
            self.words.iter().any(|(k, prefix)| {
                if *prefix {
                    w.starts_with(k.as_str())
                } else {
                    w == k
                }
            })
        })
    }
}

/// The table as written in TOML.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TableFile {
    #[serde(default, rename = "type")]
    types: Vec<TypeEntry>,
    #[serde(default, rename = "keyword")]
    keywords: Vec<KeywordEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TypeEntry {
    pattern: String,
    kind: String,
    fallback: Option<String>,
    weapon_class: Option<String>,
    #[serde(default)]
    geometry: Shape,
    label: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeywordEntry {
    kind: String,
    words: Vec<String>,
}

/// A kind a CoT event can become: not one that needs data CoT does not carry.
fn cot_kind(name: &str, what: &str) -> Result<ObservationKind, String> {
    let kind = ObservationKind::parse(name)
        .ok_or_else(|| format!("{what}: {name:?} is not an observation kind"))?;
    match kind {
        ObservationKind::StorageCheck | ObservationKind::Coverage => Err(format!(
            "{what}: {name} needs details a CoT event does not carry"
        )),
        _ => Ok(kind),
    }
}

/// Whether an observation of `kind` can have the geometry `shape` (tracks are not areas).
fn fits(kind: ObservationKind, shape: Shape) -> bool {
    !(shape == Shape::Polygon
        && matches!(
            kind,
            ObservationKind::Movement | ObservationKind::Overflight
        ))
}

impl CotTypes {
    /// Reads a table in the form of [`BUILTIN_COT_TYPES_TOML`], checking every rule.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let file: TableFile =
            toml::from_str(text).map_err(|e| ConfigError::CotTypes(e.to_string()))?;
        let types = file
            .types
            .into_iter()
            .map(|t| {
                let what = format!("type {:?}", t.pattern);
                let pattern = Pattern::parse(&t.pattern)?;
                let kind = match (t.kind.as_str(), &t.fallback) {
                    ("from_remarks", fallback) => KindRule::FromRemarks {
                        fallback: cot_kind(fallback.as_deref().unwrap_or("report"), &what)?,
                    },
                    (_, Some(_)) => {
                        return Err(format!(
                            "{what}: `fallback` goes with kind = \"from_remarks\""
                        ));
                    }
                    (name, None) => KindRule::Fixed(cot_kind(name, &what)?),
                };
                let weapon = matches!(kind, KindRule::Fixed(ObservationKind::WeaponPresent));
                match (&t.weapon_class, weapon) {
                    (None, true) => {
                        return Err(format!("{what}: weapon_present needs a weapon_class"));
                    }
                    (Some(_), false) => {
                        return Err(format!(
                            "{what}: weapon_class goes with kind = \"weapon_present\""
                        ));
                    }
                    _ => {}
                }
                let kinds = match kind {
                    KindRule::Fixed(k) | KindRule::FromRemarks { fallback: k } => k,
                };
                if !fits(kinds, t.geometry) {
                    return Err(format!("{what}: {kinds} cannot be a polygon"));
                }
                Ok(TypeRule {
                    pattern,
                    kind,
                    weapon_class: t.weapon_class,
                    shape: t.geometry,
                    label: t.label,
                })
            })
            .collect::<Result<Vec<_>, String>>()
            .map_err(ConfigError::CotTypes)?;
        let keywords = file
            .keywords
            .into_iter()
            .map(|k| {
                let what = format!("keyword rule {:?}", k.kind);
                let kind = cot_kind(&k.kind, &what)?;
                if kind == ObservationKind::WeaponPresent {
                    return Err(format!("{what}: weapon_present needs a weapon class; use a type rule"));
                }
                let words = k
                    .words
                    .iter()
                    .map(|w| {
                        let w = w.trim().to_lowercase();
                        let (word, prefix) = match w.strip_suffix('*') {
                            Some(stem) => (stem.to_string(), true),
                            None => (w.clone(), false),
                        };
                        if word.is_empty() || !word.chars().all(char::is_alphanumeric) {
                            return Err(format!("{what}: {w:?} is not a word (letters and digits, optional trailing *)"));
                        }
                        Ok((word, prefix))
                    })
                    .collect::<Result<Vec<_>, String>>()?;
                Ok(KeywordRule { kind, words })
            })
            .collect::<Result<Vec<_>, String>>()
            .map_err(ConfigError::CotTypes)?;
        Ok(Self { types, keywords })
    }

    fn rule(&self, cot_type: &str) -> Option<&TypeRule> {
        self.types.iter().find(|r| r.pattern.matches(cot_type))
    }

    /// A strike described with where its fire came from ("impact observed; fired from the
    /// west"): the kind of the remarks without that phrase, when it is a strike kind.
    fn strike_with_origin(&self, remarks: &str, shape: Shape) -> Option<ObservationKind> {
        let stripped = without_origin_phrases(remarks);
        if stripped == remarks.to_lowercase() {
            return None;
        }
        self.keyword_kind(&stripped, shape).filter(|k| {
            matches!(
                k,
                ObservationKind::Impact | ObservationKind::Explosion | ObservationKind::Damage
            )
        })
    }

    /// The first keyword rule whose kind fits `shape` and whose words occur in `remarks`.
    fn keyword_kind(&self, remarks: &str, shape: Shape) -> Option<ObservationKind> {
        let words: Vec<String> = remarks
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect();
        self.keywords
            .iter()
            .find(|k| fits(k.kind, shape) && k.matches(&words))
            .map(|k| k.kind)
    }
}

pub(crate) struct CotAdapter {
    types: CotTypes,
}

impl CotAdapter {
    pub(crate) fn new(types: CotTypes) -> Self {
        Self { types }
    }
}

impl Adapter for CotAdapter {
    fn format(&self) -> Format {
        Format::Cot
    }

    fn read<'a>(&'a self, file: &'a str, bytes: &'a [u8]) -> Result<Records<'a>, Fatal> {
        let (text, bad_bytes) = decode(bytes);
        if text.trim().is_empty() {
            return Err(Fatal::Empty {
                file: file.to_string(),
            });
        }
        if !text.contains("<event") {
            return Err(Fatal::NoCotEvents {
                file: file.to_string(),
            });
        }
        let lines: Vec<usize> = text.match_indices('\n').map(|(i, _)| i).collect();
        let line_of = move |at: usize| 1 + lines.partition_point(|&nl| nl < at) as u64;
        let (mut pos, mut index) = (0, 0);
        let records = std::iter::from_fn(move || {
            let (parsed, next) = next_event(&text, pos)?;
            pos = next;
            Some(match parsed {
                Parsed::Stray { at, error } => {
                    // The raw text of a stray error is its line.
                    let at = char_floor(&text, at);
                    let from = text[..at].rfind('\n').map_or(0, |i| i + 1);
                    let to = text[at..].find('\n').map_or(text.len(), |i| at + i);
                    Record {
                        locator: Locator::Line(line_of(at)),
                        raw: raw_text(text[from..to].trim_end()),
                        result: Err(error),
                    }
                }
                Parsed::Event { start, end, xml } => {
                    // Offsets from quick-xml, on character boundaries before any slicing.
                    let (start, end) = (char_floor(&text, start), char_floor(&text, end));
                    let locator = Locator::Event {
                        index,
                        line: line_of(start),
                    };
                    index += 1;
                    let bad = bad_bytes.iter().find(|b| (start..end).contains(&b.at));
                    let result = match (xml, bad) {
                        (Err(error), _) => Err(error),
                        (Ok(_), Some(bad)) => Err(format!(
                            "not valid UTF-8: byte 0x{:02X} at line {}; CoT is UTF-8 unless its <?xml?> declaration names another encoding",
                            bad.byte,
                            line_of(bad.at)
                        )),
                        (Ok(_), None) if end - start > MAX_RECORD_BYTES => Err(format!(
                            "event is {} bytes, over the limit of {MAX_RECORD_BYTES}",
                            end - start
                        )),
                        (Ok(xml), None) => event_observation(&self.types, *xml).and_then(checked),
                    };
                    Record {
                        locator,
                        raw: raw_text(text[start..end].trim_end()),
                        result,
                    }
                }
            })
        });
        Ok(finish_records(records))
    }
}

/// A byte that is not UTF-8, replaced by U+FFFD at `at` in the decoded text.
struct BadByte {
    at: usize,
    byte: u8,
}

/// The text of a CoT file: UTF-16 if its byte-order mark says so; UTF-8; else the encoding its
/// declaration names; else UTF-8 with each bad byte sequence replaced and remembered, so that
/// only the events containing one are rejected.
fn decode(bytes: &[u8]) -> (Cow<'_, str>, Vec<BadByte>) {
    if let Some(utf16) = decode_utf16_with_bom(bytes) {
        return (Cow::Owned(utf16), Vec::new());
    }
    let bytes = strip_bom(bytes);
    if let Ok(text) = std::str::from_utf8(bytes) {
        return (Cow::Borrowed(text), Vec::new());
    }
    if let Some(encoding) = declared_encoding(bytes)
        && encoding != encoding_rs::UTF_8
    {
        return (encoding.decode_without_bom_handling(bytes).0, Vec::new());
    }
    let mut text = String::with_capacity(bytes.len());
    let mut bad = Vec::new();
    for chunk in bytes.utf8_chunks() {
        text.push_str(chunk.valid());
        if let Some(&byte) = chunk.invalid().first() {
            bad.push(BadByte {
                at: text.len(),
                byte,
            });
            text.push(char::REPLACEMENT_CHARACTER);
        }
    }
    (Cow::Owned(text), bad)
}

/// The encoding named by an `<?xml … encoding="…"?>` declaration at the start of the file.
fn declared_encoding(bytes: &[u8]) -> Option<&'static encoding_rs::Encoding> {
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(DECLARATION_WINDOW_BYTES)]);
    let decl = head.trim_start().strip_prefix("<?xml")?;
    let decl = &decl[..decl.find("?>")?];
    let after = &decl[decl.find("encoding")? + "encoding".len()..];
    let value = after.trim_start().strip_prefix('=')?.trim_start();
    let quote = value.chars().next().filter(|q| *q == '"' || *q == '\'')?;
    let label = &value[1..value[1..].find(quote)? + 1];
    encoding_rs::Encoding::for_label(label.as_bytes())
}

/// What the XML of one event says, before any of it is interpreted.
#[derive(Default)]
struct EventXml {
    uid: Option<String>,
    cot_type: Option<String>,
    time: Option<String>,
    start: Option<String>,
    how: Option<String>,
    /// `<point>` attributes: lat, lon, hae, ce.
    point: Option<[Option<String>; 4]>,
    callsign: Option<String>,
    chat_sender: Option<String>,
    remarks: String,
    links: Vec<String>,
    /// `<truce task outcome>`: a verification team's answer to a task.
    task: Option<[Option<String>; 2]>,
}

/// What [`next_event`] found: an `<event>` (or why it could not be read), or an XML error
/// outside any event.
enum Parsed {
    Event {
        start: usize,
        end: usize,
        xml: Result<Box<EventXml>, String>,
    },
    Stray {
        at: usize,
        error: String,
    },
}

/// Why an event could not be read, and where (an offset in the reader's input).
struct BodyError {
    reason: String,
    at: usize,
    /// The error is a new `<event>` starting at `at` inside this one: resume exactly there.
    nested: bool,
}

fn new_reader(text: &str) -> Reader<&[u8]> {
    let mut reader = Reader::from_str(text);
    // Reading resumes mid-file, after a wrapper's start tag: its end tag is not an error.
    reader.config_mut().allow_unmatched_ends = true;
    reader
}

fn is_event(e: &BytesStart<'_>) -> bool {
    e.local_name().as_ref() == "event"
}

/// `i` moved back to the start of the character it falls in, and not past the end: quick-xml
/// may report an error inside a multi-byte character (found by the `cot` fuzz target: an
/// error offset inside a U+FEFF was sliced and panicked).
fn char_floor(text: &str, i: usize) -> usize {
    let mut i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Where to resume after an error at `at`: the next `<event` after it, or the end.
fn resume_after(text: &str, at: usize) -> usize {
    let from = (at + 1).min(text.len());
    text.get(from..)
        .and_then(|rest| rest.find("<event"))
        .map_or(text.len(), |i| from + i)
}

/// The next event at or after `pos` in `text`, and where to look for the one after it. A fresh
/// reader per event keeps the state between events to one offset and makes resuming after an
/// error the same as reading on.
fn next_event(text: &str, pos: usize) -> Option<(Parsed, usize)> {
    let input = text.get(pos..)?;
    let mut reader = new_reader(input);
    loop {
        let at = pos + reader.buffer_position() as usize;
        let (e, empty) = match reader.read_event() {
            Ok(Event::Start(e)) if is_event(&e) => (e, false),
            Ok(Event::Empty(e)) if is_event(&e) => (e, true),
            Ok(Event::Eof) => return None,
            Ok(_) => continue,
            Err(e) => {
                let error_at = char_floor(text, pos + reader.error_position() as usize);
                let next = resume_after(text, error_at);
                // A start tag that cannot be read is still an event's, if it is named so.
                let rest = &text[error_at..];
                if rest.starts_with("<event") && !rest.starts_with("<events") {
                    let xml = Err(format!("XML error: {}", xml_error(&e)));
                    return Some((
                        Parsed::Event {
                            start: error_at,
                            end: next,
                            xml,
                        },
                        next,
                    ));
                }
                let error = format!("XML error outside any <event>: {}", xml_error(&e));
                return Some((
                    Parsed::Stray {
                        at: error_at,
                        error,
                    },
                    next,
                ));
            }
        };
        return Some(match read_body(&mut reader, &e, empty) {
            Ok(xml) => {
                let end = pos + reader.buffer_position() as usize;
                (
                    Parsed::Event {
                        start: at,
                        end,
                        xml: Ok(Box::new(xml)),
                    },
                    end,
                )
            }
            Err(error) => {
                let error_at = char_floor(text, pos + error.at);
                let end = if error.nested {
                    error_at
                } else {
                    resume_after(text, error_at)
                };
                (
                    Parsed::Event {
                        start: at,
                        end,
                        xml: Err(error.reason),
                    },
                    end,
                )
            }
        });
    }
}

/// quick-xml's message, marked when the input ended inside a construct: a truncated file.
fn xml_error(e: &quick_xml::Error) -> String {
    match e {
        quick_xml::Error::Syntax(s) if *s != SyntaxError::InvalidBangMarkup => {
            format!("{e} (truncated?)")
        }
        _ => e.to_string(),
    }
}

/// An attribute's value, unescaped.
fn attribute(e: &BytesStart<'_>, name: &str) -> Result<Option<String>, String> {
    for attr in e.attributes() {
        let attr = attr.map_err(|err| format!("<{}>: bad attribute: {err}", e.name().as_ref()))?;
        if attr.key.local_name().as_ref() == name {
            let value = attr
                .normalized_value(XmlVersion::Implicit1_0)
                .map_err(|err| format!("<{}> {name}: {err}", e.name().as_ref()))?;
            return Ok(Some(value.trim().to_string()));
        }
    }
    Ok(None)
}

/// Reads the rest of an `<event>` whose start tag is `start` (`empty` for `<event …/>`).
fn read_body(
    reader: &mut Reader<&[u8]>,
    start: &BytesStart<'_>,
    empty: bool,
) -> Result<EventXml, BodyError> {
    let fail = |reason: String, at: usize| BodyError {
        reason,
        at,
        nested: false,
    };
    let after_start = reader.buffer_position() as usize;
    let attr = |e: &BytesStart<'_>, name: &str, at: usize| {
        attribute(e, name).map_err(|reason| fail(reason, at))
    };
    let mut xml = EventXml {
        uid: attr(start, "uid", after_start)?,
        cot_type: attr(start, "type", after_start)?,
        time: attr(start, "time", after_start)?,
        start: attr(start, "start", after_start)?,
        how: attr(start, "how", after_start)?,
        ..EventXml::default()
    };
    if empty {
        return Ok(xml);
    }
    // Open elements including <event>; the depths at which <detail> and <remarks> were opened.
    let mut depth = 1usize;
    let mut detail: Option<usize> = None;
    let mut remarks: Option<usize> = None;
    loop {
        let at = reader.buffer_position() as usize;
        let event = reader.read_event().map_err(|e| {
            fail(
                format!("XML error: {}", xml_error(&e)),
                reader.error_position() as usize,
            )
        })?;
        let (element, opens) = match event {
            Event::Start(e) => (e, true),
            Event::Empty(e) => (e, false),
            Event::Text(t) if remarks.is_some() => {
                xml.remarks.push_str(&t.xml10_content());
                continue;
            }
            Event::CData(t) if remarks.is_some() => {
                xml.remarks.push_str(&t.xml10_content());
                continue;
            }
            Event::GeneralRef(r) if remarks.is_some() => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    Ok(None) => resolve_predefined_entity(&r)
                        .ok_or_else(|| fail(format!("<remarks>: unknown entity &{};", &*r), at))?
                        .to_string(),
                    Err(e) => return Err(fail(format!("<remarks>: {e}"), at)),
                };
                xml.remarks.push_str(&resolved);
                continue;
            }
            Event::End(_) => {
                if remarks == Some(depth) {
                    remarks = None;
                }
                if detail == Some(depth) {
                    detail = None;
                }
                depth -= 1;
                if depth == 0 {
                    return Ok(xml);
                }
                continue;
            }
            Event::Eof => {
                return Err(fail(
                    "the file ends inside this <event> (truncated?)".to_string(),
                    at,
                ));
            }
            _ => continue,
        };
        if is_event(&element) {
            return Err(BodyError {
                reason: "this <event> is not closed before the next one starts (missing </event>?)"
                    .to_string(),
                at,
                nested: true,
            });
        }
        let child = depth + 1;
        match element.local_name().as_ref() {
            "point" if depth == 1 && xml.point.is_none() => {
                xml.point = Some([
                    attr(&element, "lat", at)?,
                    attr(&element, "lon", at)?,
                    attr(&element, "hae", at)?,
                    attr(&element, "ce", at)?,
                ]);
            }
            "detail" if depth == 1 && opens => detail = Some(child),
            "contact" if detail.is_some() && xml.callsign.is_none() => {
                xml.callsign = attr(&element, "callsign", at)?
            }
            "__chat" if detail.is_some() => xml.chat_sender = attr(&element, "senderCallsign", at)?,
            "link" if detail.is_some() => xml.links.extend(attr(&element, "point", at)?),
            "remarks" if detail.is_some() && opens && remarks.is_none() => remarks = Some(child),
            "truce" if detail.is_some() && xml.task.is_none() => {
                xml.task = Some([attr(&element, "task", at)?, attr(&element, "outcome", at)?]);
            }
            _ => {}
        }
        if opens {
            depth = child;
        }
    }
}

/// A required number attribute of `<point>`.
fn coordinate(value: &Option<String>, name: &str) -> Result<f64, String> {
    let value = value
        .as_deref()
        .ok_or_else(|| format!("<point> has no {name}"))?;
    value
        .parse::<f64>()
        .ok()
        .filter(|x| x.is_finite())
        .ok_or_else(|| format!("<point> {name}={value:?} is not a number"))
}

/// An optional `ce`/`hae`, `None` when absent or "unknown" (see [`UNKNOWN_FROM_M`]).
fn known(value: &Option<String>, name: &str) -> Result<Option<f64>, String> {
    match value.as_deref() {
        None => Ok(None),
        Some(v) => match v.parse::<f64>() {
            Ok(x) if x.is_finite() && x.abs() < UNKNOWN_FROM_M => Ok(Some(x)),
            Ok(x) if x.is_finite() => Ok(None),
            _ => Err(format!("<point> {name}={v:?} is not a number")),
        },
    }
}

/// A CoT time (`xs:dateTime` in UTC, e.g. `2021-02-27T20:32:24.771Z`).
fn cot_time(value: &str, name: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| format!("{name}={value:?} is not a CoT time such as 2021-02-27T20:32:24.771Z"))
}

/// `<link point="lat,lon[,hae]">` vertices as `[lon, lat]`.
fn vertices(links: &[String]) -> Result<Vec<Vec<f64>>, String> {
    links
        .iter()
        .map(|p| {
            let numbers: Vec<f64> = p
                .split(',')
                .map_while(|n| n.trim().parse::<f64>().ok())
                .collect();
            match numbers[..] {
                [lat, lon] | [lat, lon, _] if p.split(',').count() == numbers.len() => {
                    Ok(vec![lon, lat])
                }
                _ => Err(format!("<link point={p:?}> is not lat,lon[,hae]")),
            }
        })
        .collect()
}

/// `<truce task="…" outcome="…"/>`: both required, the outcome one of [`Outcome`]'s names.
fn task_outcome([task, outcome]: &[Option<String>; 2]) -> Result<TaskOutcome, String> {
    let task = task
        .clone()
        .filter(|t| !t.is_empty())
        .ok_or("<truce> has no task")?;
    let outcome = outcome.as_deref().ok_or("<truce> has no outcome")?;
    let outcome = Outcome::parse(outcome).ok_or_else(|| {
        format!(
            "<truce outcome={outcome:?}> is not a task outcome; expected one of {}",
            Outcome::ALL.map(Outcome::as_str).join(", ")
        )
    })?;
    Ok(TaskOutcome { task, outcome })
}

/// What the affiliation letter of an atom type (`a-h-…`) says, for the remarks.
fn affiliation_word(cot_type: &str) -> Option<&'static str> {
    let letter = cot_type.strip_prefix("a-")?.chars().next()?;
    Some(match letter {
        'p' => "pending",
        'u' => "unknown",
        'a' => "assumed friend",
        'f' => "friend",
        'n' => "neutral",
        's' => "suspect",
        'h' => "hostile",
        'j' => "joker",
        'k' => "faker",
        'o' => "none specified",
        _ => return None,
    })
}

fn event_observation(types: &CotTypes, xml: EventXml) -> Result<Observation, String> {
    let uid = xml
        .uid
        .filter(|u| !u.is_empty())
        .ok_or("<event> has no uid")?;
    let cot_type = xml
        .cot_type
        .filter(|t| !t.is_empty())
        .ok_or("<event> has no type")?;
    let observed_at = match (&xml.time, &xml.start) {
        (Some(time), _) => cot_time(time, "time")?,
        (None, Some(start)) => cot_time(start, "start")?,
        (None, None) => return Err("<event> has neither time nor start".to_string()),
    };
    let [lat, lon, hae, ce] = xml.point.as_ref().ok_or("<event> has no <point>")?;
    let (lat, lon) = (coordinate(lat, "lat")?, coordinate(lon, "lon")?);
    let hae = known(hae, "hae")?;
    let ce = known(ce, "ce")?.filter(|ce| *ce > 0.0);

    let task_outcome = xml.task.as_ref().map(task_outcome).transpose()?;
    let rule = types.rule(&cot_type);
    let shape = rule.map_or(Shape::Point, |r| r.shape);
    // A route or a drawing is its `<link point>` vertices: ATAK sends routes with the event
    // point at 0,0, so only a point event is refused for it.
    if lat == 0.0 && lon == 0.0 && shape == Shape::Point {
        return Err(
            "<point> is at 0,0, which TAK clients send when they have no position".to_string(),
        );
    }
    let user_remarks = xml.remarks.trim();
    let kind = match rule.map(|r| r.kind) {
        Some(KindRule::Fixed(kind)) => kind,
        // A team turned back says so in its outcome, whatever words the remarks use.
        _ if task_outcome
            .as_ref()
            .is_some_and(|t| t.outcome == Outcome::AccessDenied) =>
        {
            ObservationKind::AccessDenied
        }
        Some(KindRule::FromRemarks { fallback }) => types
            .strike_with_origin(user_remarks, shape)
            .or_else(|| types.keyword_kind(user_remarks, shape))
            .unwrap_or(fallback),
        None => ObservationKind::Report,
    };
    let geometry = match shape {
        Shape::Point => Geometry::Point {
            coordinates: [lon, lat].into_iter().chain(hae).collect(),
        },
        Shape::Polygon => {
            let mut ring = vertices(&xml.links)?;
            if ring.len() >= 2 && ring.first() != ring.last() {
                ring.push(ring[0].clone());
            }
            if ring.len() < 4 {
                return Err(format!(
                    "{cot_type} is drawn as an area but has {} <link point> vertices; an area needs at least 3",
                    xml.links.len()
                ));
            }
            Geometry::Polygon {
                coordinates: vec![ring],
            }
        }
        Shape::Line => {
            let line = vertices(&xml.links)?;
            if line.len() < 2 {
                return Err(format!(
                    "{cot_type} is drawn as a line but has {} <link point> vertices; a line needs at least 2",
                    line.len()
                ));
            }
            Geometry::LineString { coordinates: line }
        }
    };

    let mut note = vec![format!(
        "CoT {cot_type}: {}",
        rule.and_then(|r| r.label.as_deref())
            .unwrap_or("type not in the table, kept as a report")
    )];
    note.extend(
        affiliation_word(&cot_type).map(|a| format!("affiliation {a} (as the sender saw it)")),
    );
    note.extend(xml.how.as_ref().map(|how| format!("how {how}")));
    if shape == Shape::Point && ce.is_none() {
        note.push(format!("position error unknown, {UNKNOWN_CE_M} m assumed"));
    }
    let read = remarks_read(user_remarks, kind);
    note.extend(read.notes());
    let note = format!("[{}]", note.join("; "));
    let remarks = if user_remarks.is_empty() {
        note
    } else {
        format!("{user_remarks}\n{note}")
    };

    let source = Source {
        id: xml
            .callsign
            .or(xml.chat_sender)
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| uid.clone()),
        kind: SourceKind::GroundTeam,
        reliability: Reliability::C,
        credibility: if read.unconfirmed { 4 } else { 3 },
        party: None,
    };
    let mut obs = observation(kind, observed_at, source, geometry);
    let p = &mut obs.properties;
    if shape == Shape::Point {
        p.error_radius_m = ce.unwrap_or(UNKNOWN_CE_M);
    }
    if kind == ObservationKind::WeaponPresent
        && let Some(class) = rule.and_then(|r| r.weapon_class.clone())
    {
        p.weapon = Some(WeaponSeen {
            class,
            count: read.count.unwrap_or(1),
            serials: Vec::new(),
        });
    }
    p.remarks = clip_remarks(&remarks);
    p.source_record = Some(uid.clone());
    p.task_outcome = task_outcome;
    obs.id = Some(format!(
        "cot:{uid}:{}",
        observed_at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
    ));
    Ok(obs)
}

/// What a TAK user writes in `<remarks>` that the adapter reads beyond the kind: how many
/// weapons ("4 x BM-21 Grad"), a crater analysis (the direction fire came from and the
/// calibre: "direction of origin north-east", "122 mm"), and whether the team says it is
/// unsure ("possible explosion heard, unconfirmed").
#[derive(Debug, Clone, Default, PartialEq)]
struct RemarksRead {
    /// Weapons counted (`weapon_present` only), 1–[`MAX_COUNT`].
    count: Option<u32>,
    /// The azimuth fire came from, degrees, and its one-sigma error (impacts, explosions, damage).
    origin: Option<(f64, f64)>,
    /// The calibre, millimetres (impacts, explosions, damage).
    calibre_mm: Option<u32>,
    /// "possible", "unconfirmed", "probably" …: credibility 4 (doubtful) instead of 3.
    unconfirmed: bool,
}

/// The largest weapon count read from remarks: a battery or a company, not a typo's 4000.
const MAX_COUNT: u32 = 60;

/// Compass words and their azimuths (16 points; "north-east", "northeast", "NE" alike).
const COMPASS_16: [(&str, f64); 16] = [
    ("n", 0.0),
    ("nne", 22.5),
    ("ne", 45.0),
    ("ene", 67.5),
    ("e", 90.0),
    ("ese", 112.5),
    ("se", 135.0),
    ("sse", 157.5),
    ("s", 180.0),
    ("ssw", 202.5),
    ("sw", 225.0),
    ("wsw", 247.5),
    ("w", 270.0),
    ("wnw", 292.5),
    ("nw", 315.0),
    ("nnw", 337.5),
];

/// "north-east" / "northeast" / "NE" / "north-easterly" → 45°.
fn compass_azimuth(word: &str) -> Option<f64> {
    let w = word.to_lowercase().replace(['-', ' '], "");
    let w = w.strip_suffix("erly").unwrap_or(&w).to_string();
    let abbrev: String = if w.chars().all(|c| "nesw".contains(c)) && w.len() <= 3 {
        w.clone()
    } else {
        let mut rest = w.as_str();
        let mut out = String::new();
        'outer: while !rest.is_empty() {
            for (name, c) in [("north", 'n'), ("south", 's'), ("east", 'e'), ("west", 'w')] {
                if let Some(r) = rest.strip_prefix(name) {
                    out.push(c);
                    rest = r;
                    continue 'outer;
                }
            }
            return None;
        }
        out
    };
    COMPASS_16
        .iter()
        .find(|(n, _)| *n == abbrev)
        .map(|(_, a)| *a)
}

/// One-sigma error of a direction given as a compass word (8 or 16 points), degrees: half a
/// sector is ± 22.5° / 11.25°, plus what a crater analysis itself is off by (~15°).
fn compass_sigma(word: &str) -> f64 {
    // 16-point words have three letters once abbreviated ("NNE", "north-north-east").
    let letters = word.to_lowercase().replace(['-', ' '], "");
    let parts = ["north", "south", "east", "west"]
        .iter()
        .map(|p| letters.matches(p).count())
        .sum::<usize>();
    let half_sector: f64 = if letters.len() == 3 || parts >= 3 {
        11.25
    } else {
        22.5
    };
    (half_sector * half_sector + 15.0 * 15.0).sqrt()
}

/// The remarks without the phrases that say where fire came from ("fired from the west",
/// "fire came from 210°"): a crater analysis describes an impact, and its "fired" must not make
/// the marker a firing position (which would name the party holding the crater's ground).
fn without_origin_phrases(remarks: &str) -> String {
    let mut out = remarks.to_lowercase();
    for phrase in ["fired from", "fire came from", "firing from", "fire from"] {
        out = out.replace(phrase, "from");
    }
    out
}

/// Reads what [`RemarksRead`] says from the team's remarks.
fn remarks_read(remarks: &str, kind: ObservationKind) -> RemarksRead {
    let lower = remarks.to_lowercase();
    let tokens: Vec<&str> = lower
        .split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '°' || c == '.'))
        .map(|t| t.trim_matches(|c: char| c == '-' || c == '.'))
        .filter(|t| !t.is_empty())
        .collect();
    let mut read = RemarksRead {
        unconfirmed: tokens.iter().any(|t| {
            matches!(
                *t,
                "possible"
                    | "possibly"
                    | "unconfirmed"
                    | "probable"
                    | "probably"
                    | "unverified"
                    | "suspected"
                    | "maybe"
            )
        }),
        ..RemarksRead::default()
    };
    if kind == ObservationKind::WeaponPresent {
        // "4 x BM-21", "4x BM-21", "4 × D-30", "4 BM-21 …".
        for (i, t) in tokens.iter().enumerate() {
            let n = t
                .strip_suffix('x')
                .or_else(|| t.strip_suffix('×'))
                .unwrap_or(t);
            if let Ok(n) = n.parse::<u32>()
                && (1..=MAX_COUNT).contains(&n)
                && (n.to_string().len() < t.len()
                    || tokens.get(i + 1).is_some_and(|x| *x == "x" || *x == "×"))
            {
                read.count = Some(n);
                break;
            }
        }
    }
    if matches!(
        kind,
        ObservationKind::Impact | ObservationKind::Explosion | ObservationKind::Damage
    ) {
        // "122 mm", "122mm", "152-mm".
        for (i, t) in tokens.iter().enumerate() {
            let (digits, unit) = match t.strip_suffix("mm") {
                Some(d) => (d.trim_end_matches('-'), true),
                None => (*t, tokens.get(i + 1) == Some(&"mm")),
            };
            if unit
                && let Ok(n) = digits.parse::<u32>()
                && (20..=400).contains(&n)
            {
                read.calibre_mm = Some(n);
                break;
            }
        }
        // "direction of origin north-east", "fired from the NE", "from a north-easterly
        // direction", "origin 045°", "from 45 degrees".
        for (i, t) in tokens.iter().enumerate() {
            if !matches!(*t, "from" | "origin") {
                continue;
            }
            for next in tokens.iter().skip(i + 1).take(3) {
                if let Some(a) = compass_azimuth(next) {
                    read.origin = Some((a, compass_sigma(next)));
                    break;
                }
                let deg = next.trim_end_matches('°');
                if (deg.len() < next.len() || tokens.get(i + 2) == Some(&"degrees"))
                    && let Ok(a) = deg.parse::<f64>()
                    && (0.0..360.0).contains(&a)
                {
                    read.origin = Some((a, 15.0));
                    break;
                }
            }
            if read.origin.is_some() {
                break;
            }
        }
    }
    read
}

impl RemarksRead {
    /// The notes the adapter adds to the remarks: the words fusion reads as a crater analysis
    /// (`crater analysis: fire came from 45° ± 27°`, `calibre 122 mm`) and a doubt.
    fn notes(&self) -> Vec<String> {
        let mut v = Vec::new();
        if let Some(n) = self.count {
            v.push(format!("{n} weapons counted"));
        }
        if let Some((a, e)) = self.origin {
            v.push(format!("crater analysis: fire came from {a}° ± {e:.0}°"));
        }
        if let Some(c) = self.calibre_mm {
            v.push(format!("calibre {c} mm"));
        }
        if self.unconfirmed {
            v.push("unconfirmed, credibility 4".into());
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One spot marker from `team-2` with `truce_detail` inside its `<detail>`.
    fn marker(uid: &str, remarks: &str, truce_detail: &str) -> String {
        format!(
            r#"<event version="2.0" uid="{uid}" type="b-m-p-s-m" time="2015-03-02T10:00:00.250Z" start="2015-03-02T10:00:00.250Z" stale="2015-03-03T10:00:00Z" how="h-g-i-g-o"><point lat="48.1" lon="38.2" hae="9999999" ce="10" le="9999999"/><detail><contact callsign="team-2"/>{truce_detail}<remarks>{remarks}</remarks></detail></event>"#
        )
    }

    #[test]
    fn task_outcomes_are_read_from_the_truce_element() {
        let file = [
            marker(
                "a",
                "Crater found, 122 mm",
                r#"<truce task="task-inc-7" outcome="confirmed"/>"#,
            ),
            marker(
                "b",
                "No crater at the reported place",
                r#"<truce task="task-inc-8" outcome="not_confirmed"/>"#,
            ),
            // Turned back: an access_denied observation, whatever the remarks say.
            marker(
                "c",
                "Soldiers sent us away",
                r#"<truce task="task-inc-9" outcome="access_denied"/>"#,
            ),
            marker(
                "d",
                "Crater",
                r#"<truce task="task-inc-10" outcome="maybe"/>"#,
            ),
            marker("e", "Crater", r#"<truce outcome="confirmed"/>"#),
            marker("f", "Crater", r#"<truce task="task-inc-11"/>"#),
            marker("g", "Crater", ""),
        ]
        .concat();
        let adapter = CotAdapter::new(CotTypes::default());
        let records: Vec<_> = adapter
            .read("teams.cot", file.as_bytes())
            .ok()
            .unwrap()
            .map(|r| r.result)
            .collect();
        let ok = |i: usize| records[i].as_ref().unwrap().properties.clone();
        let outcome = |i: usize| ok(i).task_outcome.map(|t| (t.task, t.outcome));
        assert_eq!(ok(0).kind, ObservationKind::Impact);
        assert_eq!(
            outcome(0),
            Some(("task-inc-7".to_string(), Outcome::Confirmed))
        );
        assert_eq!(
            outcome(1),
            Some(("task-inc-8".to_string(), Outcome::NotConfirmed))
        );
        assert_eq!(ok(2).kind, ObservationKind::AccessDenied);
        assert_eq!(
            outcome(2),
            Some(("task-inc-9".to_string(), Outcome::AccessDenied))
        );
        assert_eq!(
            records[3].as_ref().unwrap_err(),
            "<truce outcome=\"maybe\"> is not a task outcome; expected one of confirmed, not_confirmed, inconclusive, access_denied"
        );
        assert_eq!(records[4].as_ref().unwrap_err(), "<truce> has no task");
        assert_eq!(records[5].as_ref().unwrap_err(), "<truce> has no outcome");
        assert_eq!(ok(6).task_outcome, None);
        // A weapon type cannot be an access denial: the observation's validation says so.
        let weapon = marker("h", "x", r#"<truce task="t" outcome="access_denied"/>"#)
            .replace("b-m-p-s-m", "a-u-G-E-W-A");
        let rec = adapter
            .read("w.cot", weapon.as_bytes())
            .ok()
            .unwrap()
            .next()
            .unwrap();
        assert_eq!(
            rec.result.unwrap_err(),
            "task_outcome access_denied needs kind access_denied, not weapon_present"
        );
    }

    #[test]
    fn builtin_table_is_valid() {
        let table = CotTypes::from_toml(BUILTIN_COT_TYPES_TOML).unwrap();
        assert_eq!(table, CotTypes::default());
    }

    #[test]
    fn patterns() {
        let p = Pattern::parse("a-?-G-E-W-A*").unwrap();
        assert!(p.matches("a-h-G-E-W-A"));
        assert!(p.matches("a-f-G-E-W-A-S"));
        assert!(!p.matches("a-h-G-E-W-R"));
        assert!(!p.matches("a-h-G-E-W"));
        let exact = Pattern::parse("b-t-f").unwrap();
        assert!(exact.matches("b-t-f"));
        assert!(!exact.matches("b-t-f-d"));
        assert!(Pattern::parse("a-*-G").is_err());
        assert!(Pattern::parse("*").is_err());
    }

    #[test]
    fn keywords_pick_the_first_rule_that_fits() {
        let t = CotTypes::default();
        assert_eq!(
            t.keyword_kind("Checkpoint: access DENIED", Shape::Point),
            Some(ObservationKind::AccessDenied)
        );
        assert_eq!(
            t.keyword_kind("fresh crater after explosion", Shape::Point),
            Some(ObservationKind::Impact)
        );
        assert_eq!(
            t.keyword_kind("Trenches dug overnight", Shape::Polygon),
            Some(ObservationKind::Construction)
        );
        assert_eq!(
            t.keyword_kind("drone seen", Shape::Point),
            Some(ObservationKind::Overflight)
        );
        assert_eq!(
            t.keyword_kind("drone seen over the area", Shape::Polygon),
            None
        );
        assert_eq!(
            t.keyword_kind("determined: mineral water", Shape::Point),
            None
        );
    }

    #[test]
    fn tables_are_checked() {
        let bad = |toml: &str| CotTypes::from_toml(toml).unwrap_err().to_string();
        assert!(
            bad("[[type]]\npattern = \"a-h\"\nkind = \"weapon_present\"")
                .contains("needs a weapon_class")
        );
        assert!(
            bad("[[type]]\npattern = \"a-h\"\nkind = \"shelling\"")
                .contains("not an observation kind")
        );
        assert!(bad("[[type]]\npattern = \"a-h\"\nkind = \"coverage\"").contains("does not carry"));
        assert!(
            bad("[[type]]\npattern = \"a-h\"\nkind = \"report\"\nfallback = \"impact\"")
                .contains("fallback")
        );
        assert!(
            bad("[[type]]\npattern = \"u\"\nkind = \"overflight\"\ngeometry = \"polygon\"")
                .contains("polygon")
        );
        assert!(
            bad("[[keyword]]\nkind = \"impact\"\nwords = [\"two words\"]").contains("not a word")
        );
        assert!(bad("[[typo]]").contains("unknown field"));
    }

    #[test]
    fn declared_encodings() {
        assert_eq!(
            declared_encoding(b"<?xml version='1.0' encoding='ISO-8859-1'?><event/>"),
            Some(encoding_rs::WINDOWS_1252)
        );
        assert_eq!(declared_encoding(b"<?xml version=\"1.0\"?><event/>"), None);
        assert_eq!(declared_encoding(b"<event/>"), None);
    }

    #[test]
    fn remarks_give_counts_crater_analysis_and_doubt() {
        let r = remarks_read(
            "4 x BM-21 Grad MLRS observed",
            ObservationKind::WeaponPresent,
        );
        assert_eq!(r.count, Some(4));
        assert!(!r.unconfirmed);
        assert_eq!(
            remarks_read("3x D-30 in a tree line", ObservationKind::WeaponPresent).count,
            Some(3)
        );
        assert_eq!(
            remarks_read("BM-21 seen near school 21", ObservationKind::WeaponPresent).count,
            None
        );
        let r = remarks_read(
            "Fresh crater, 122 mm round; direction of origin north-east",
            ObservationKind::Impact,
        );
        assert_eq!(r.calibre_mm, Some(122));
        assert_eq!(r.origin.map(|o| o.0), Some(45.0));
        let r = remarks_read(
            "Explosions heard and impact observed, assessed artillery 122mm, fired from WSW",
            ObservationKind::Impact,
        );
        assert_eq!(
            (r.calibre_mm, r.origin.map(|o| o.0)),
            (Some(122), Some(247.5))
        );
        let t = CotTypes::default();
        assert_eq!(
            t.strike_with_origin(
                "Impact observed; crater analysis: fired from the west",
                Shape::Point
            ),
            Some(ObservationKind::Impact)
        );
        assert_eq!(
            t.strike_with_origin("MLRS firing from the tree line", Shape::Point),
            None,
            "a launch seen stays a firing"
        );
        let r = remarks_read("Crater, fire came from 210°", ObservationKind::Impact);
        assert_eq!(r.origin, Some((210.0, 15.0)));
        let r = remarks_read(
            "possible explosion heard, unconfirmed",
            ObservationKind::Explosion,
        );
        assert!(r.unconfirmed);
        assert_eq!((r.origin, r.calibre_mm), (None, None));
        assert_eq!(compass_azimuth("north-easterly"), Some(45.0));
        assert_eq!(compass_azimuth("northnortheast"), Some(22.5));
        assert_eq!(compass_azimuth("fromage"), None);
    }

    #[test]
    fn a_route_at_0_0_is_read_from_its_vertices() {
        let route = r#"<event version="2.0" uid="route-1" type="b-m-r" time="2015-03-02T10:00:00Z" start="2015-03-02T10:00:00Z" stale="2015-03-03T10:00:00Z" how="h-e"><point lat="0" lon="0" hae="0" ce="9999999" le="9999999"/><detail><link uid="wp1" type="b-m-p-w" point="48.10,38.20,0" relation="c"/><link uid="wp2" type="b-m-p-w" point="48.12,38.25,0" relation="c"/><contact callsign="team-2"/><remarks>Column of BMP moving west</remarks></detail></event>"#;
        let adapter = CotAdapter::new(CotTypes::default());
        let rec = adapter
            .read("route.cot", route.as_bytes())
            .ok()
            .unwrap()
            .next()
            .unwrap();
        let obs = rec.result.unwrap();
        assert_eq!(obs.properties.kind, ObservationKind::Movement);
        assert_eq!(
            obs.geometry,
            Geometry::LineString {
                coordinates: vec![vec![38.2, 48.1], vec![38.25, 48.12]]
            }
        );
        // A point event at 0,0 is still refused.
        let point =
            marker("z", "Crater", "").replace(r#"lat="48.1" lon="38.2""#, r#"lat="0" lon="0""#);
        let rec = adapter
            .read("p.cot", point.as_bytes())
            .ok()
            .unwrap()
            .next()
            .unwrap();
        assert!(rec.result.unwrap_err().contains("0,0"));
    }

    #[test]
    fn a_weapon_marker_counts_what_the_remarks_say() {
        let m = marker("w", "4 x BM-21 Grad MLRS observed", "").replace("b-m-p-s-m", "a-u-G-E-W-R");
        let adapter = CotAdapter::new(CotTypes::default());
        let obs = adapter
            .read("w.cot", m.as_bytes())
            .ok()
            .unwrap()
            .next()
            .unwrap()
            .result
            .unwrap();
        let w = obs.properties.weapon.unwrap();
        assert_eq!((w.class.as_str(), w.count), ("mlrs", 4));
        let m = marker("u", "possible explosion heard, unconfirmed", "");
        let obs = adapter
            .read("u.cot", m.as_bytes())
            .ok()
            .unwrap()
            .next()
            .unwrap()
            .result
            .unwrap();
        assert_eq!(obs.properties.kind, ObservationKind::Explosion);
        assert_eq!(obs.properties.source.credibility, 4);
        assert!(
            obs.properties
                .remarks
                .contains("unconfirmed, credibility 4")
        );
    }

    #[test]
    fn link_vertices() {
        assert_eq!(
            vertices(&["48.1,37.9".into(), "48.2,38.0,12".into()]).unwrap(),
            [[37.9, 48.1], [38.0, 48.2]]
        );
        assert!(vertices(&["48.1".into()]).is_err());
        assert!(vertices(&["48.1,x".into()]).is_err());
        assert!(vertices(&["1,2,3,4".into()]).is_err());
    }
}
