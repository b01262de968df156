//! Reading TOML with diagnostics: the [`Sink`] that collects problems with their line and column,
//! and the checks every terms file shares (ids, names, coordinates, distances). `mission.rs`
//! reads the mission file with the same tools.

use std::collections::BTreeSet;
use std::ops::Range;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::IntoDeserializer;
use toml::Spanned;
use toml::de::DeValue;

use super::{Diagnostic, Location, MAX_DISTANCE_KM};

/// Collects diagnostics for one TOML file, turning byte spans into line:column.
pub(crate) struct Sink<'t> {
    pub(crate) file: String,
    pub(crate) text: &'t str,
    pub(crate) diags: Vec<Diagnostic>,
    /// Where each line starts (byte offsets): a diagnostic's line is a binary search, not a
    /// count from the start of the file, so a file with thousands of errors is read in linear
    /// time (a fuzzed terms file of 146 KB with 7,000 duplicate keys took 0.8 s before).
    line_starts: Vec<usize>,
}

impl<'t> Sink<'t> {
    pub(crate) fn new(file: &str, text: &'t str) -> Sink<'t> {
        Sink {
            file: file.to_string(),
            text,
            diags: Vec::new(),
            line_starts: std::iter::once(0)
                .chain(text.match_indices('\n').map(|(i, _)| i + 1))
                .collect(),
        }
    }
}

impl Sink<'_> {
    pub(crate) fn at(&mut self, span: Range<usize>, message: impl Into<String>) {
        let (line, column) = line_column(self.text, &self.line_starts, span.start);
        self.diags.push(Diagnostic {
            file: self.file.clone(),
            location: Location::LineColumn { line, column },
            message: message.into(),
        });
    }

    pub(crate) fn toml_error(&mut self, e: &toml::de::Error, fallback: Range<usize>) {
        let span = e.span().unwrap_or(fallback);
        let msg = e.message().trim().replace('\n', " ");
        self.at(span, msg);
    }
}

impl Sink<'_> {
    /// Reports `id` if an earlier table of the same kind used it.
    pub(crate) fn unique(&mut self, seen: &mut BTreeSet<String>, id: &Spanned<String>, what: &str) {
        if !seen.insert(id.get_ref().clone()) {
            self.at(id.span(), format!("duplicate {what} id `{}`", id.get_ref()));
        }
    }

    /// The variant of `all` named `name`, or a report listing the names there are.
    pub(crate) fn named<T: Copy, const N: usize>(
        &mut self,
        name: &Spanned<String>,
        what: &str,
        all: [T; N],
        as_str: fn(T) -> &'static str,
    ) -> Option<T> {
        let found = all.into_iter().find(|k| as_str(*k) == name.get_ref());
        if found.is_none() {
            self.at(
                name.span(),
                format!(
                    "unknown {what} `{}`; expected one of {}",
                    name.get_ref(),
                    all.map(as_str).join(", ")
                ),
            );
        }
        found
    }
}

/// 1-based line and column (in characters) of a byte offset, given where `text`'s lines
/// start.
fn line_column(text: &str, line_starts: &[usize], offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    // Lines starting at or before the offset: the first always does.
    let line = line_starts.partition_point(|&start| start <= offset);
    let line_start = line_starts[line - 1];
    let column = text[line_start..offset].chars().count() + 1;
    (line, column)
}

pub(super) fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            format!(
                "{s:?} is not an RFC 3339 time with offset (e.g. 2015-02-15T00:00:00+02:00): {e}"
            )
        })
}

pub(crate) fn table_items<'i>(
    value: Spanned<DeValue<'i>>,
    key: &str,
    sink: &mut Sink<'_>,
) -> Vec<Spanned<DeValue<'i>>> {
    let span = value.span();
    match value.into_inner() {
        DeValue::Array(items) => items.into_iter().collect(),
        DeValue::Table(t) => vec![Spanned::new(span, DeValue::Table(t))],
        _ => {
            sink.at(
                span,
                format!("`{key}` must be a table (write it as [[{key}]])"),
            );
            Vec::new()
        }
    }
}

pub(crate) fn deserialize<'i, T: Deserialize<'i>>(
    value: Spanned<DeValue<'i>>,
    sink: &mut Sink<'_>,
) -> Option<T> {
    let span = value.span();
    match T::deserialize(value.into_deserializer()) {
        Ok(t) => Some(t),
        Err(e) => {
            sink.toml_error(&e, span);
            None
        }
    }
}

/// Reports a `[lon, lat]` outside lon −180…180, lat −90…90 (or not a number).
pub(crate) fn check_lonlat(sink: &mut Sink<'_>, p: &Spanned<[f64; 2]>, name: &str) {
    let [lon, lat] = *p.get_ref();
    if !(-180.0..=180.0).contains(&lon) || !(-90.0..=90.0).contains(&lat) {
        sink.at(
            p.span(),
            format!("{name} [{lon}, {lat}] is out of range (lon −180…180, lat −90…90)"),
        );
    }
}

pub(crate) fn check_distance_km(sink: &mut Sink<'_>, km: &Spanned<f64>, name: &str) {
    let v = *km.get_ref();
    if !v.is_finite() || v < 0.0 {
        sink.at(km.span(), format!("{name} {v} must not be negative"));
    } else if v > MAX_DISTANCE_KM {
        sink.at(
            km.span(),
            format!(
                "{name} {v} km is absurd (over {MAX_DISTANCE_KM} km); distances are in kilometres"
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_column_counts_characters() {
        let text = "a = 1\nbé = 2\n";
        let starts = Sink::new("t", text).line_starts;
        let at = |offset| line_column(text, &starts, offset);
        assert_eq!(at(0), (1, 1));
        assert_eq!(at(5), (1, 6), "the newline ends its line");
        assert_eq!(at(6), (2, 1));
        assert_eq!(at(text.find('=').unwrap()), (1, 3));
        assert_eq!(at(text.rfind('=').unwrap()), (2, 4));
        assert_eq!(at(text.len()), (3, 1));
    }
}
