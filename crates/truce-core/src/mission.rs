//! The monitoring mission's own resources — its ground verification teams and fixed sensors —
//! loaded from `mission.toml`, separate from the ceasefire terms (`agreement.toml`): the parties
//! agree the terms; the mission decides where its teams sleep and where its cameras stand, and
//! changes that far more often.
//!
//! ```toml
//! id = "donbas-2015-mission"
//! version = 1
//!
//! [[team]]
//! id = "team-1"
//! name = "Team 1"            # optional, defaults to the id
//! base = [37.55, 48.72]      # [lon, lat]: where the team sets out from
//!
//! [[sensor]]
//! id = "cam-01"              # the `source.id` its observations carry
//! kind = "camera"            # camera | acoustic | radar | other
//! position = [38.01, 48.95]  # [lon, lat]
//! range_km = 12
//! sector_deg = [135.5, 120]  # optional: facing azimuth and width, degrees
//! ```
//!
//! [`load`] reports every problem at once as `file:line:column: reason` (the agreement's
//! [`Diagnostic`]): unknown keys, missing keys, duplicate ids (a team and a sensor may not share
//! one either: both are observation source ids), coordinates off the globe, ranges that are not
//! above zero, sectors that are not angles. The hash is SHA-256 over the canonical JSON
//! ([`crate::canonical`]) of the parsed mission, as for the agreement; a mission is logged and
//! replayed from that JSON ([`Mission::from_canonical_json`]).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use toml::Spanned;
use toml::de::DeTable;

use crate::LonLat;
use crate::agreement::{
    Diagnostic, Sink, check_distance_km, check_lonlat, deserialize, hex, table_items,
};
use crate::canonical::to_canonical_json;
use crate::observation::SourceKind;

/// The kinds a `[[sensor]]` may be: sensors at a fixed site. Drones, satellites and ground teams
/// move: coverage counts their reports instead of a range circle, and teams are `[[team]]`.
pub const FIXED_SENSOR_KINDS: [SourceKind; 4] = [
    SourceKind::Camera,
    SourceKind::Acoustic,
    SourceKind::Radar,
    SourceKind::Other,
];

/// A ground verification team.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Team {
    /// The `source.id` of its reports (the CoT callsign).
    pub id: String,
    pub name: String,
    /// Where it sets out from, [lon, lat]: tasks go to the nearest free team from here.
    pub base: LonLat,
}

/// The part of the circle a directional sensor watches.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sector {
    /// Azimuth of the middle of the sector, degrees clockwise from north, [0, 360).
    pub facing_deg: f64,
    /// Full width of the sector, degrees, (0, 360].
    pub width_deg: f64,
}

impl Sector {
    /// Whether the azimuth `az` (degrees) is inside the sector, edges included.
    pub fn contains(&self, az: f64) -> bool {
        let off = (az - self.facing_deg + 540.0).rem_euclid(360.0) - 180.0;
        off.abs() <= self.width_deg / 2.0
    }
}

/// A sensor at a fixed site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sensor {
    /// The `source.id` of its observations and the `coverage.sensor` of its outages.
    pub id: String,
    /// One of [`FIXED_SENSOR_KINDS`].
    pub kind: SourceKind,
    pub position: LonLat,
    /// How far it sees or hears what it reports, kilometres.
    pub range_km: f64,
    /// For directional sensors (cameras): the sector watched; `None` is all round.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sector: Option<Sector>,
}

/// The mission's resources, parsed and checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mission {
    pub id: String,
    pub version: u32,
    pub teams: Vec<Team>,
    pub sensors: Vec<Sensor>,
    /// Lower-case hex SHA-256 of [`Mission::canonical_json`].
    #[serde(skip)]
    pub hash: String,
}

impl Mission {
    /// The canonical JSON the hash is computed over (and the form logged).
    pub fn canonical_json(&self) -> String {
        to_canonical_json(self)
    }

    /// The mission back from its canonical JSON (a log entry), with the hash computed over
    /// those bytes. Refuses text that is not exactly the canonical form of what it parses to,
    /// as [`crate::agreement::Agreement::from_canonical_json`] does, so a replay runs on the
    /// very mission the entry's hash names; [`load`]'s checks are not repeated.
    pub fn from_canonical_json(text: &str) -> Result<Mission, String> {
        let (mut m, hash): (Mission, _) = crate::canonical::from_canonical_json(text, "a mission")?;
        m.hash = hash;
        Ok(m)
    }

    pub fn team(&self, id: &str) -> Option<&Team> {
        self.teams.iter().find(|t| t.id == id)
    }

    pub fn sensor(&self, id: &str) -> Option<&Sensor> {
        self.sensors.iter().find(|s| s.id == id)
    }

    /// The mission as `mission.toml` text that [`load`] reads back to an equal mission: keys in
    /// the documented order, numbers in Rust's shortest round-trip form.
    pub fn to_toml(&self) -> String {
        let s = |v: &str| toml::Value::String(v.to_string()).to_string();
        let p = |p: LonLat| format!("[{:?}, {:?}]", p[0], p[1]);
        let mut out = format!("id = {}\nversion = {}\n", s(&self.id), self.version);
        for t in &self.teams {
            out.push_str(&format!(
                "\n[[team]]\nid = {}\nname = {}\nbase = {}\n",
                s(&t.id),
                s(&t.name),
                p(t.base)
            ));
        }
        for x in &self.sensors {
            out.push_str(&format!(
                "\n[[sensor]]\nid = {}\nkind = {}\nposition = {}\nrange_km = {:?}\n",
                s(&x.id),
                s(x.kind.as_str()),
                p(x.position),
                x.range_km
            ));
            if let Some(sec) = x.sector {
                out.push_str(&format!(
                    "sector_deg = [{:?}, {:?}]\n",
                    sec.facing_deg, sec.width_deg
                ));
            }
        }
        out
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTeam {
    id: Spanned<String>,
    #[serde(default)]
    name: Option<String>,
    base: Spanned<[f64; 2]>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSensor {
    id: Spanned<String>,
    kind: Spanned<String>,
    position: Spanned<[f64; 2]>,
    range_km: Spanned<f64>,
    #[serde(default)]
    sector_deg: Option<Spanned<[f64; 2]>>,
}

const TOP_LEVEL_KEYS: [&str; 5] = ["id", "version", "description", "team", "sensor"];

/// Parses and checks a mission file. `file` is how to name it in messages.
pub fn load(file: &str, text: &str) -> Result<Mission, Vec<Diagnostic>> {
    let mut sink = Sink::new(file, text);
    let (root, syntax_errors) = DeTable::parse_recoverable(text);
    if !syntax_errors.is_empty() {
        for e in &syntax_errors {
            sink.toml_error(e, 0..0);
        }
        return Err(sink.diags);
    }
    let root_span = root.span();
    let mut id: Option<Spanned<String>> = None;
    let mut version = None;
    let mut raw_teams = Vec::new();
    let mut raw_sensors = Vec::new();
    let mut id_failed = false;
    for (key, value) in root.into_inner() {
        let key_span = key.span();
        match key.into_inner().as_ref() {
            "id" => {
                id = deserialize::<Spanned<String>>(value, &mut sink);
                id_failed = id.is_none();
            }
            "version" => version = deserialize::<u32>(value, &mut sink),
            "description" => {
                deserialize::<String>(value, &mut sink);
            }
            "team" => {
                for item in table_items(value, "team", &mut sink) {
                    raw_teams.extend(deserialize::<RawTeam>(item, &mut sink));
                }
            }
            "sensor" => {
                for item in table_items(value, "sensor", &mut sink) {
                    raw_sensors.extend(deserialize::<RawSensor>(item, &mut sink));
                }
            }
            other => sink.at(
                key_span,
                format!(
                    "unknown key `{other}`; expected one of {}",
                    TOP_LEVEL_KEYS.join(", ")
                ),
            ),
        }
    }
    let head = root_span.start..root_span.start;
    match &id {
        None if !id_failed => sink.at(head, "missing key `id`"),
        Some(i) if i.get_ref().trim().is_empty() => sink.at(i.span(), "id must not be empty"),
        _ => {}
    }

    let mut seen = BTreeSet::new();
    let mut teams = Vec::new();
    for t in raw_teams {
        check_id(&mut sink, &t.id);
        sink.unique(&mut seen, &t.id, "team");
        check_lonlat(&mut sink, &t.base, "base");
        teams.push(Team {
            name: t.name.unwrap_or_else(|| t.id.get_ref().clone()),
            id: t.id.into_inner(),
            base: t.base.into_inner(),
        });
    }
    let team_ids = seen;
    let mut seen = BTreeSet::new();
    let mut sensors = Vec::new();
    for x in raw_sensors {
        check_id(&mut sink, &x.id);
        sink.unique(&mut seen, &x.id, "sensor");
        if team_ids.contains(x.id.get_ref()) {
            sink.at(
                x.id.span(),
                format!(
                    "sensor id `{}` is also a team's: both are observation source ids and must differ",
                    x.id.get_ref()
                ),
            );
        }
        let kind = sensor_kind(&mut sink, &x.kind);
        check_lonlat(&mut sink, &x.position, "position");
        check_distance_km(&mut sink, &x.range_km, "range_km");
        if *x.range_km.get_ref() == 0.0 {
            sink.at(x.range_km.span(), "range_km must be above 0");
        }
        let sector = x.sector_deg.and_then(|s| {
            let [facing_deg, width_deg] = *s.get_ref();
            let mut ok = true;
            if !(0.0..360.0).contains(&facing_deg) {
                sink.at(
                    s.span(),
                    format!("sector_deg facing {facing_deg} must be an azimuth in [0, 360)"),
                );
                ok = false;
            }
            if !(width_deg > 0.0 && width_deg <= 360.0) {
                sink.at(
                    s.span(),
                    format!("sector_deg width {width_deg} must be above 0 and at most 360"),
                );
                ok = false;
            }
            ok.then_some(Sector {
                facing_deg,
                width_deg,
            })
        });
        if let Some(kind) = kind {
            sensors.push(Sensor {
                id: x.id.into_inner(),
                kind,
                position: x.position.into_inner(),
                range_km: x.range_km.into_inner(),
                sector,
            });
        }
    }

    if !sink.diags.is_empty() {
        return Err(sink.diags);
    }
    let mut mission = Mission {
        id: id.map(Spanned::into_inner).unwrap_or_default(),
        version: version.unwrap_or(1),
        teams,
        sensors,
        hash: String::new(),
    };
    mission.hash = hex(&Sha256::digest(mission.canonical_json().as_bytes()));
    Ok(mission)
}

fn check_id(sink: &mut Sink<'_>, id: &Spanned<String>) {
    if id.get_ref().trim().is_empty() {
        sink.at(id.span(), "id must not be empty");
    }
}

fn sensor_kind(sink: &mut Sink<'_>, name: &Spanned<String>) -> Option<SourceKind> {
    if let Some(k) = FIXED_SENSOR_KINDS
        .into_iter()
        .find(|k| k.as_str() == name.get_ref())
    {
        return Some(k);
    }
    let fixed = FIXED_SENSOR_KINDS.map(SourceKind::as_str).join(", ");
    let mobile =
        serde_json::from_value::<SourceKind>(serde_json::Value::String(name.get_ref().clone()))
            .is_ok();
    sink.at(
        name.span(),
        if mobile {
            format!(
                "`{}` is not a fixed sensor kind (expected one of {fixed}): drones, satellites and \
                 teams move, so coverage counts their reports; ground teams are [[team]]",
                name.get_ref()
            )
        } else {
            format!(
                "unknown sensor kind `{}`; expected one of {fixed}",
                name.get_ref()
            )
        },
    );
    None
}
