//! The CSV machinery the three CSV formats share: decoding (UTF-8 with or without BOM, else
//! Windows-1252), the header and its case-insensitive column look-up, per-row line numbers and raw
//! text, typed cells whose errors name the column and the value, and the row-size limit.
//!
//! Rows are streamed with the `csv` crate (RFC 4180: quoted fields may hold commas, doubled quotes
//! and newlines). A row whose every cell is empty is spreadsheet padding and is skipped; a row
//! with a different number of fields than the header is rejected, not guessed at.

use std::borrow::Cow;
use std::io::Cursor;

use csv::StringRecord;
use truce_core::observation::Observation;

use crate::text::{checked, decode_text, raw_text};
use crate::{Fatal, Locator, MAX_RECORD_BYTES, Record, Records, finish_records};

/// How many header names an error message lists before eliding the rest.
const MAX_HEADER_NAMES_SHOWN: usize = 30;

/// The names of a header line, trimmed and lower-cased (for [`crate::detect`]).
pub(crate) fn header_names(line: &str) -> Vec<String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(line.as_bytes());
    let mut record = StringRecord::new();
    match reader.read_record(&mut record) {
        Ok(true) => record.iter().map(|h| h.trim().to_lowercase()).collect(),
        _ => Vec::new(),
    }
}

/// A column found in the header: its index and how messages name it.
#[derive(Debug, Clone)]
pub(crate) struct Col {
    index: usize,
    /// The header as written in the file, trimmed.
    header: String,
    /// The header as written in the file, in backticks, with our name when it differs:
    /// `` `Breite` (lat) ``.
    label: String,
}

impl Col {
    /// The header as written in the file.
    pub(crate) fn header(&self) -> &str {
        &self.header
    }
}

/// The header row of a file.
pub(crate) struct Header {
    names: Vec<String>,
}

impl Header {
    /// The column whose header is `name`, ignoring case and surrounding white space; `ours` is
    /// the name our documentation uses for it, shown in messages when it differs.
    pub(crate) fn find_as(&self, name: &str, ours: &str) -> Option<Col> {
        let wanted = name.trim();
        let index = self
            .names
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(wanted))?;
        let written = self.names[index].trim();
        let label = if written.eq_ignore_ascii_case(ours) {
            format!("`{written}`")
        } else {
            format!("`{written}` ({ours})")
        };
        Some(Col {
            index,
            header: written.to_string(),
            label,
        })
    }

    /// The column named `name` (any case).
    pub(crate) fn find(&self, name: &str) -> Option<Col> {
        self.find_as(name, name)
    }

    /// The first of `names` the header has (alternative spellings of one column).
    pub(crate) fn find_any(&self, names: &[&str]) -> Option<Col> {
        names.iter().find_map(|n| self.find(n))
    }

    /// The column, or the whole-file error naming it. `hint` follows the message.
    pub(crate) fn require(
        &self,
        file: &str,
        name: &str,
        ours: &str,
        hint: &str,
    ) -> Result<Col, Fatal> {
        self.find_as(name, ours)
            .ok_or_else(|| Fatal::MissingColumn {
                file: file.to_string(),
                column: name.to_string(),
                header: self.listing(),
                hint: hint.to_string(),
            })
    }

    /// The header names for a message, elided after [`MAX_HEADER_NAMES_SHOWN`].
    fn listing(&self) -> String {
        if self.names.iter().all(|n| n.trim().is_empty()) {
            return "no column names".to_string();
        }
        let shown: Vec<&str> = self
            .names
            .iter()
            .take(MAX_HEADER_NAMES_SHOWN)
            .map(|n| n.trim())
            .collect();
        let more = self.names.len().saturating_sub(MAX_HEADER_NAMES_SHOWN);
        if more > 0 {
            format!("{} and {more} more", shown.join(", "))
        } else {
            shown.join(", ")
        }
    }
}

/// One data row, with typed access to its cells.
pub(crate) struct Row<'r> {
    fields: &'r StringRecord,
}

impl<'r> Row<'r> {
    /// The cell, trimmed; `None` when the column is absent or the cell empty.
    pub(crate) fn text(&self, col: Option<&Col>) -> Option<&'r str> {
        let cell = self.fields.get(col?.index)?.trim();
        (!cell.is_empty()).then_some(cell)
    }

    /// The cell, which must not be empty.
    pub(crate) fn required(&self, col: &Col) -> Result<&'r str, String> {
        self.text(Some(col))
            .ok_or_else(|| format!("column {} is empty", col.label))
    }

    /// The cell parsed by `parse`, whose error completes "column `x`: "value" …".
    pub(crate) fn parsed<T>(
        &self,
        col: &Col,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<T, String> {
        let cell = self.required(col)?;
        parse(cell).map_err(|why| format!("column {}: {cell:?} {why}", col.label))
    }

    /// An optional cell parsed by `parse`.
    pub(crate) fn parsed_opt<T>(
        &self,
        col: Option<&Col>,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<Option<T>, String> {
        match (col, self.text(col)) {
            (Some(col), Some(_)) => self.parsed(col, parse).map(Some),
            _ => Ok(None),
        }
    }

    /// A required finite number.
    pub(crate) fn number(&self, col: &Col) -> Result<f64, String> {
        self.parsed(col, number)
    }

    /// An optional finite number.
    pub(crate) fn number_opt(&self, col: Option<&Col>) -> Result<Option<f64>, String> {
        self.parsed_opt(col, number)
    }
}

/// A finite decimal number (`NaN` and `inf` are not measurements).
pub(crate) fn number(cell: &str) -> Result<f64, String> {
    match cell.parse::<f64>() {
        Ok(x) if x.is_finite() => Ok(x),
        _ => Err("is not a number".to_string()),
    }
}

/// Reads a CSV file: `columns` resolves what the format needs from the header (or fails the
/// file), `map` turns each row into an observation (or a reason), which is then validated.
pub(crate) fn read_table<'a, C: Send + 'a>(
    file: &str,
    bytes: &'a [u8],
    columns: impl FnOnce(&Header) -> Result<C, Fatal>,
    map: impl Fn(&C, &Row<'_>) -> Result<Observation, String> + Send + 'a,
) -> Result<Records<'a>, Fatal> {
    let text = decode_text(bytes);
    if text.trim().is_empty() {
        return Err(Fatal::Empty {
            file: file.to_string(),
        });
    }
    let data: Cow<'a, [u8]> = match text {
        Cow::Borrowed(s) => Cow::Borrowed(s.as_bytes()),
        Cow::Owned(s) => Cow::Owned(s.into_bytes()),
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(Cursor::new(data));
    // The text is valid UTF-8 and in memory, so reading the header cannot fail; were it to, the
    // empty header makes the first required column the error.
    let names: Vec<String> = reader
        .headers()
        .map(|h| h.iter().map(str::to_string).collect())
        .unwrap_or_default();
    let width = names.len();
    let columns = columns(&Header { names })?;
    Ok(finish_records(TableRows {
        reader,
        record: StringRecord::new(),
        width,
        columns,
        map,
        done: false,
    }))
}

struct TableRows<'a, C, F> {
    reader: csv::Reader<Cursor<Cow<'a, [u8]>>>,
    record: StringRecord,
    width: usize,
    columns: C,
    map: F,
    done: bool,
}

impl<C, F> Iterator for TableRows<'_, C, F>
where
    F: Fn(&C, &Row<'_>) -> Result<Observation, String>,
{
    type Item = Record;

    fn next(&mut self) -> Option<Record> {
        while !self.done {
            let before = self.reader.position().clone();
            match self.reader.read_record(&mut self.record) {
                Ok(false) => self.done = true,
                Ok(true) => {
                    let start = self.record.position().unwrap_or(&before).clone();
                    let end = self.reader.position().byte();
                    let data = self.reader.get_ref().get_ref();
                    let span = data
                        .get(start.byte() as usize..end as usize)
                        .unwrap_or_default();
                    let raw = String::from_utf8_lossy(span);
                    let raw = raw.trim_end_matches(['\r', '\n']);
                    if self.record.iter().all(|f| f.trim().is_empty()) {
                        continue;
                    }
                    let fields = self.record.len();
                    let result = if span.len() > MAX_RECORD_BYTES {
                        Err(format!(
                            "row is {} bytes, over the limit of {MAX_RECORD_BYTES}: probably an unbalanced quote (\") that swallowed the following lines",
                            span.len()
                        ))
                    } else if fields != self.width {
                        let truncated = if fields < self.width {
                            " (a truncated row?)"
                        } else {
                            ""
                        };
                        Err(format!(
                            "row has {fields} fields but the header has {}{truncated}",
                            self.width
                        ))
                    } else {
                        (self.map)(
                            &self.columns,
                            &Row {
                                fields: &self.record,
                            },
                        )
                        .and_then(checked)
                    };
                    return Some(Record {
                        locator: Locator::Line(start.line()),
                        raw: raw_text(raw),
                        result,
                    });
                }
                Err(e) => {
                    // Not reachable for in-memory UTF-8 text; stop rather than loop.
                    self.done = true;
                    return Some(Record {
                        locator: Locator::Line(before.line()),
                        raw: String::new(),
                        result: Err(format!("unreadable CSV: {e}")),
                    });
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_names_are_lowercased_and_unquoted() {
        assert_eq!(
            header_names("\"Latitude\", LONGITUDE ,acq_date"),
            ["latitude", "longitude", "acq_date"]
        );
    }

    #[test]
    fn labels_show_the_written_header_and_our_name() {
        let header = Header {
            names: vec!["Breite".into(), "LAT".into()],
        };
        assert_eq!(
            header.find_as("breite", "lat").unwrap().label,
            "`Breite` (lat)"
        );
        assert_eq!(header.find("lat").unwrap().label, "`LAT`");
        assert!(header.find_any(&["lon", "longitude"]).is_none());
    }

    #[test]
    fn numbers_must_be_finite() {
        assert_eq!(number(" 1.5".trim()), Ok(1.5));
        assert!(number("NaN").is_err());
        assert!(number("inf").is_err());
        assert!(number("1,5").is_err());
    }
}
