//! GeoJSON: a FeatureCollection of observations in the documented form (`docs/observations.md`).
//!
//! Parsing and validation are truce-core's [`parse_feature`]; this adapter adds each feature's
//! raw text, and an id (and `source_record`) where the feature has none: the feature's own `id`
//! when present, else `geojson:<hash of its canonical JSON>`.

use truce_core::observation::{parse_feature, split_collection};

use crate::text::{checked, content_id, raw_text, strip_bom};
use crate::{Adapter, Fatal, Format, Locator, Record, Records, finish_records};

pub(crate) struct GeoJsonAdapter;

impl Adapter for GeoJsonAdapter {
    fn format(&self) -> Format {
        Format::GeoJson
    }

    fn read<'a>(&'a self, file: &'a str, bytes: &'a [u8]) -> Result<Records<'a>, Fatal> {
        let bytes = strip_bom(bytes);
        let text = std::str::from_utf8(bytes).map_err(|e| {
            let at = e.valid_up_to();
            Fatal::NotUtf8 {
                file: file.to_string(),
                line: 1 + bytes[..at].iter().filter(|&&b| b == b'\n').count() as u64,
                byte: bytes[at],
            }
        })?;
        if text.trim().is_empty() {
            return Err(Fatal::Empty {
                file: file.to_string(),
            });
        }
        let raws = split_collection(text).map_err(|reason| Fatal::NotGeoJson {
            file: file.to_string(),
            reason,
        })?;
        let records = raws.into_iter().enumerate().map(|(index, raw)| Record {
            locator: Locator::Feature(index),
            raw: raw_text(raw),
            result: match parse_feature(index, raw) {
                Ok((mut obs, _place)) => {
                    let id = obs
                        .id
                        .clone()
                        .unwrap_or_else(|| content_id("geojson", &obs));
                    obs.properties
                        .source_record
                        .get_or_insert_with(|| id.clone());
                    obs.id = Some(id);
                    checked(obs)
                }
                Err(rejected) => Err(rejected.reason),
            },
        });
        Ok(finish_records(records))
    }
}
