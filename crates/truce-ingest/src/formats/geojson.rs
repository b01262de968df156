//! GeoJSON: a FeatureCollection of observations in the documented form (`docs/observations.md`).
//!
//! Parsing and validation are truce-core's [`parse_collection`]; this adapter adds each feature's
//! raw text, and an id (and `source_record`) where the feature has none: the feature's own `id`
//! when present, else `geojson:<hash of its canonical JSON>`.

use serde::Deserialize;
use serde_json::value::RawValue;
use truce_core::observation::parse_collection;

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
        let (good, bad) = parse_collection(text).map_err(|reason| Fatal::NotGeoJson {
            file: file.to_string(),
            reason,
        })?;

        // The same text parsed once more, keeping each feature's bytes; it parsed above, so this
        // cannot fail, and would only cost the raw text if it did.
        #[derive(Deserialize)]
        struct RawFeatures<'t> {
            #[serde(borrow)]
            features: Vec<&'t RawValue>,
        }
        let raws: Vec<&str> = serde_json::from_str::<RawFeatures<'_>>(text)
            .map(|r| r.features.into_iter().map(RawValue::get).collect())
            .unwrap_or_default();
        let raw = |index: usize| raw_text(raws.get(index).copied().unwrap_or_default());

        let mut records: Vec<Record> = good
            .into_iter()
            .map(|(index, mut obs, _place)| {
                let id = obs
                    .id
                    .clone()
                    .unwrap_or_else(|| content_id("geojson", &obs));
                obs.properties
                    .source_record
                    .get_or_insert_with(|| id.clone());
                obs.id = Some(id);
                Record {
                    locator: Locator::Feature(index),
                    raw: raw(index),
                    result: checked(obs),
                }
            })
            .chain(bad.into_iter().map(|rejected| Record {
                locator: Locator::Feature(rejected.index),
                raw: raw(rejected.index),
                result: Err(rejected.reason),
            }))
            .collect();
        records.sort_by_key(|r| r.locator);
        Ok(finish_records(records.into_iter()))
    }
}
