//! The agreement file's TOML as written: each table deserialised on its own, so that one bad
//! table does not hide the errors in the others, and nothing checked yet but shape.

use std::collections::BTreeMap;
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;
use toml::de::DeTable;

use super::sink::{Sink, deserialize, table_items};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawParty {
    pub(super) id: Spanned<String>,
    pub(super) name: String,
    pub(super) area: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawContactLine {
    pub(super) geometry: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWeaponClass {
    pub(super) id: Spanned<String>,
    pub(super) name: String,
    pub(super) withdrawal_km: Spanned<f64>,
    pub(super) withdraw_by: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawZone {
    pub(super) id: Spanned<String>,
    #[serde(default)]
    pub(super) name: Option<String>,
    pub(super) kind: Spanned<String>,
    #[serde(default)]
    pub(super) geometry: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) within_km: Option<Spanned<f64>>,
    pub(super) prohibits: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStorageSite {
    pub(super) id: Spanned<String>,
    #[serde(default)]
    pub(super) name: Option<String>,
    pub(super) party: Spanned<String>,
    pub(super) location: Spanned<[f64; 2]>,
    pub(super) radius_m: Spanned<f64>,
    pub(super) declared: Spanned<BTreeMap<String, u32>>,
    #[serde(default)]
    pub(super) serials: Option<Spanned<BTreeMap<String, Vec<String>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRule {
    pub(super) id: Spanned<String>,
    pub(super) kind: Spanned<String>,
    pub(super) severity: Spanned<String>,
    #[serde(default)]
    pub(super) description: Option<String>,
    #[serde(default)]
    pub(super) zones: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) activities: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) observation_kinds: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) classes: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEscalation {
    #[serde(default)]
    pub(super) notify: Vec<RawNotify>,
    #[serde(default)]
    pub(super) repeat: Vec<RawRepeat>,
}

/// `parties = "involved"` or `parties = ["UA", …]`.
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum RawRecipients {
    Word(String),
    List(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNotify {
    pub(super) severity: Spanned<String>,
    pub(super) parties: Spanned<RawRecipients>,
    pub(super) within_s: Spanned<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRepeat {
    pub(super) rule: Spanned<String>,
    pub(super) count: Spanned<i64>,
    pub(super) within_h: Spanned<i64>,
    pub(super) to_severity: Spanned<String>,
}

const TOP_LEVEL_KEYS: [&str; 12] = [
    "id",
    "title",
    "version",
    "effective_at",
    "party",
    "contact_line",
    "weapon_class",
    "zone",
    "storage_site",
    "rule",
    "description",
    "escalation",
];

/// The top level of the file: every key read, none yet checked against the others.
#[derive(Default)]
pub(super) struct RawTerms {
    pub(super) id: Option<String>,
    pub(super) title: Option<String>,
    pub(super) version: Option<u32>,
    pub(super) effective_at: Option<Spanned<String>>,
    pub(super) parties: Vec<RawParty>,
    pub(super) contact_line: Option<RawContactLine>,
    pub(super) weapon_classes: Vec<RawWeaponClass>,
    pub(super) zones: Vec<RawZone>,
    pub(super) storage_sites: Vec<RawStorageSite>,
    pub(super) rules: Vec<RawRule>,
    pub(super) escalation: Option<RawEscalation>,
}

/// The file's tables, each deserialised, or none when the file is not TOML (its syntax errors
/// reported). Bad tables, unknown keys and missing keys are reported too.
pub(super) fn read(text: &str, sink: &mut Sink<'_>) -> Option<RawTerms> {
    let (root, syntax_errors) = DeTable::parse_recoverable(text);
    if !syntax_errors.is_empty() {
        for e in &syntax_errors {
            sink.toml_error(e, 0..0);
        }
        return None;
    }
    let root_span = root.span();
    let raw = read_terms(root.into_inner(), sink);
    check_required(&raw, text, root_span.start..root_span.start, sink);
    Some(raw)
}

/// Deserialises each top-level key, in file order, reporting bad tables and unknown keys.
fn read_terms(root: DeTable<'_>, sink: &mut Sink<'_>) -> RawTerms {
    let mut raw = RawTerms::default();
    for (key, value) in root {
        let key_span = key.span();
        let key = key.into_inner();
        match key.as_ref() {
            "id" => raw.id = deserialize::<String>(value, sink),
            "title" => raw.title = deserialize::<String>(value, sink),
            "description" => {
                deserialize::<String>(value, sink);
            }
            "version" => raw.version = deserialize::<u32>(value, sink),
            "effective_at" => raw.effective_at = deserialize::<Spanned<String>>(value, sink),
            "contact_line" => raw.contact_line = deserialize::<RawContactLine>(value, sink),
            "party" => {
                for item in table_items(value, "party", sink) {
                    raw.parties.extend(deserialize::<RawParty>(item, sink));
                }
            }
            "weapon_class" => {
                for item in table_items(value, "weapon_class", sink) {
                    raw.weapon_classes
                        .extend(deserialize::<RawWeaponClass>(item, sink));
                }
            }
            "zone" => {
                for item in table_items(value, "zone", sink) {
                    raw.zones.extend(deserialize::<RawZone>(item, sink));
                }
            }
            "storage_site" => {
                for item in table_items(value, "storage_site", sink) {
                    raw.storage_sites
                        .extend(deserialize::<RawStorageSite>(item, sink));
                }
            }
            "rule" => {
                for item in table_items(value, "rule", sink) {
                    raw.rules.extend(deserialize::<RawRule>(item, sink));
                }
            }
            "escalation" => raw.escalation = deserialize::<RawEscalation>(value, sink),
            other => sink.at(
                key_span,
                format!(
                    "unknown key `{other}`; expected one of {}",
                    TOP_LEVEL_KEYS.join(", ")
                ),
            ),
        }
    }
    raw
}

/// Reports the keys the terms cannot do without (at `head`, the top of the file), unless an
/// error about the key was reported already.
fn check_required(raw: &RawTerms, text: &str, head: Range<usize>, sink: &mut Sink<'_>) {
    for (name, present) in [
        ("id", raw.id.is_some()),
        ("effective_at", raw.effective_at.is_some()),
        ("contact_line", raw.contact_line.is_some()),
    ] {
        if !present
            && !sink
                .diags
                .iter()
                .any(|d| d.message.contains(&format!("`{name}`")))
        {
            sink.at(head.clone(), format!("missing key `{name}`"));
        }
    }
    if raw.parties.is_empty() && !text.contains("[[party]]") {
        sink.at(
            head.clone(),
            "missing [[party]]: the terms need at least one party with an area",
        );
    }
}
