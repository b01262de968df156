//! Daily and spot reports (`truce report`): a pure function of the log at a signed checkpoint
//! and the options (audience, language, day or incident). Made again from the same store at
//! the same size, every file is byte-identical: no clock is read, maps are ordered, numbers
//! are printed at fixed precision, the only time written is the checkpoint's size and root.
//!
//! Audiences see exactly what the API shows their role: the incidents come from
//! [`access::shown_incidents`] and [`IncidentView::shown`], the same functions the REST and
//! OGC surfaces filter with, so a public report cannot hold a source, a team position or an
//! unpublished incident the public API would withhold.
//!
//! The files: `report.html` (self-contained: map and chart inline as SVG), `report.json` (the
//! numbers), `map.svg` and `chart.svg`. Their SHA-256 go in a `report` log entry
//! ([`truce_core::entry::ReportIssued`]) written by the caller.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use std::sync::Arc;

use anyhow::anyhow;
use chrono::{Days, NaiveDate};
use serde::Serialize;
use truce_core::entry::ReportIssued;
use truce_fusion::coverage::{SectorDay, Status};
use truce_fusion::ledger::Ledger;
use truce_log::VerifierKey;
use truce_log::checkpoint::verify_checkpoint;
use truce_store::{GeoPackageStore, Log};

use crate::access::{self, Role};

mod figure;
mod pdf;
mod subset;

use crate::view::IncidentView;
use figure::{Figure, Item, esc};

/// Days of history the daily report's chart and comparison cover.
pub const HISTORY_DAYS: u64 = 30;

/// What a report is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// Every incident starting on that UTC day.
    Daily(NaiveDate),
    /// One incident.
    Spot(String),
}

/// The report's language: the parties' and the mission's (the OSCE SMM published in all
/// three).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Uk,
    Ru,
}

impl Lang {
    pub fn parse(s: &str) -> Result<Lang, String> {
        match s {
            "en" => Ok(Lang::En),
            "uk" => Ok(Lang::Uk),
            "ru" => Ok(Lang::Ru),
            _ => Err(format!("language {s:?}: use en, uk or ru")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Uk => "uk",
            Lang::Ru => "ru",
        }
    }
}

/// The signed checkpoint a report is made at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Basis {
    pub log_size: u64,
    /// Lower-case hex.
    pub root: String,
    /// The signed checkpoint note, as stored.
    pub checkpoint: String,
    /// The log's verifier key (`name+keyid+key`), for `truce log verify-entry`.
    pub verifier_key: String,
}

/// A report's files, name → bytes, sorted by name.
pub type Files = BTreeMap<String, Vec<u8>>;

/// Labels in the three languages; [`t`] picks one.
const LABELS: &[(&str, [&str; 3])] = &[
    (
        "daily",
        ["Daily report", "Щоденний звіт", "Ежедневный отчёт"],
    ),
    (
        "spot",
        [
            "Spot report",
            "Термінове повідомлення",
            "Оперативное сообщение",
        ],
    ),
    ("audience", ["Audience", "Аудиторія", "Аудитория"]),
    ("summary", ["Summary", "Підсумок", "Сводка"]),
    (
        "summary_text",
        [
            "Incidents in possible breach of the terms that began on {day}: {n} (a day over the previous 7 days: {avg7}; over the previous 30: {avg30}).",
            "Інциденти з можливим порушенням умов, що почалися {day}: {n} (на день за попередні 7 днів: {avg7}; за попередні 30: {avg30}).",
            "Инциденты с возможным нарушением условий, начавшиеся {day}: {n} (в день за предыдущие 7 дней: {avg7}; за предыдущие 30: {avg30}).",
        ],
    ),
    ("map", ["Map", "Карта", "Карта"]),
    (
        "chart",
        [
            "Incidents in possible breach per day, last 30 days",
            "Інциденти з можливим порушенням за день, останні 30 днів",
            "Инциденты с возможным нарушением в день, последние 30 дней",
        ],
    ),
    (
        "chart_rule",
        [
            "The same days by rule",
            "Ті самі дні за правилом",
            "Те же дни по правилу",
        ],
    ),
    (
        "chart_sector",
        [
            "The day's incidents by sector of the line (km from its start)",
            "Інциденти дня за ділянками лінії (км від її початку)",
            "Инциденты дня по участкам линии (км от её начала)",
        ],
    ),
    (
        "by_rule",
        [
            "By rule and presumed party",
            "За правилом і ймовірною стороною",
            "По правилу и предполагаемой стороне",
        ],
    ),
    ("rule", ["Rule", "Правило", "Правило"]),
    (
        "suggested",
        ["Suggested by evidence", "За доказами", "По доказательствам"],
    ),
    (
        "official",
        [
            "Attributed by analysts",
            "Встановлено аналітиками",
            "Установлено аналитиками",
        ],
    ),
    ("none", ["none", "немає", "нет"]),
    ("incidents", ["Incidents", "Інциденти", "Инциденты"]),
    ("id", ["Incident", "Інцидент", "Инцидент"]),
    ("time", ["Time (UTC)", "Час (UTC)", "Время (UTC)"]),
    ("state", ["State", "Стан", "Состояние"]),
    ("place", ["Place", "Місце", "Место"]),
    (
        "weapons",
        [
            "Weapons seen in breach of withdrawal lines",
            "Озброєння в порушення ліній відведення",
            "Вооружение в нарушение линий отвода",
        ],
    ),
    (
        "storage",
        [
            "Storage sites: weapons missing or not as declared",
            "Місця зберігання: озброєння відсутнє або не відповідає задекларованому",
            "Места хранения: вооружение отсутствует или не соответствует заявленному",
        ],
    ),
    (
        "fom",
        [
            "Restrictions of the monitors' freedom of movement",
            "Обмеження свободи пересування спостерігачів",
            "Ограничения свободы передвижения наблюдателей",
        ],
    ),
    (
        "none_recorded",
        [
            "None recorded in the incidents shown.",
            "Серед показаних інцидентів не зафіксовано.",
            "Среди показанных инцидентов не зафиксировано.",
        ],
    ),
    (
        "tasks",
        [
            "Verification tasks and outcomes",
            "Завдання з перевірки та результати",
            "Задачи проверки и результаты",
        ],
    ),
    ("team", ["Team", "Група", "Группа"]),
    ("outcome", ["Outcome", "Результат", "Результат"]),
    (
        "responses",
        [
            "Parties' acknowledgements and disputes",
            "Визнання та заперечення сторін",
            "Признания и возражения сторон",
        ],
    ),
    ("party", ["Party", "Сторона", "Сторона"]),
    (
        "coverage",
        [
            "Coverage caveats",
            "Застереження щодо покриття",
            "Оговорки о покрытии",
        ],
    ),
    (
        "coverage_text",
        [
            "Sectors of the line not observed or only partly observed that day: no incident there does not mean quiet there.",
            "Ділянки лінії, які того дня не спостерігались або спостерігались частково: відсутність інцидентів там не означає тиші.",
            "Участки линии, не наблюдавшиеся или наблюдавшиеся частично в тот день: отсутствие инцидентов там не означает тишины.",
        ],
    ),
    (
        "sector",
        [
            "Sector (km along the line)",
            "Ділянка (км уздовж лінії)",
            "Участок (км вдоль линии)",
        ],
    ),
    (
        "not_observed",
        ["not observed", "не спостерігалась", "не наблюдался"],
    ),
    (
        "partly_observed",
        [
            "partly observed",
            "спостерігалась частково",
            "наблюдался частично",
        ],
    ),
    (
        "all_observed",
        [
            "Every sector was observed that day.",
            "Того дня спостерігались усі ділянки.",
            "В тот день наблюдались все участки.",
        ],
    ),
    ("evidence", ["Evidence", "Докази", "Доказательства"]),
    ("history", ["History", "Історія", "История"]),
    (
        "verify",
        [
            "How to verify this report",
            "Як перевірити цей звіт",
            "Как проверить этот отчёт",
        ],
    ),
    (
        "verify_text",
        [
            "This report is a function of the monitoring log at {size} entries (root {root}). Anyone holding a copy of the store makes it again with the command below and compares the SHA-256 of each file with the log's report entry.",
            "Цей звіт є функцією журналу моніторингу на {size} записів (корінь {root}). Будь-хто з копією сховища відтворить його командою нижче і порівняє SHA-256 кожного файлу із записом звіту в журналі.",
            "Этот отчёт является функцией журнала мониторинга на {size} записей (корень {root}). Любой, у кого есть копия хранилища, воспроизведёт его командой ниже и сравнит SHA-256 каждого файла с записью отчёта в журнале.",
        ],
    ),
    (
        "nothing",
        [
            "Nothing to report.",
            "Нічого повідомити.",
            "Сообщить нечего.",
        ],
    ),
];

fn t(lang: Lang, key: &str) -> &'static str {
    let i = lang as usize;
    LABELS
        .iter()
        .find(|(k, _)| *k == key)
        .map_or("?", |(_, v)| v[i])
}

/// The audience of a `report` entry (what [`access::entry_body`] reads of it).
#[derive(serde::Deserialize)]
pub(crate) struct IssuedAudience {
    pub audience: String,
}

/// The audience's name as the options and the log entry write it.
pub fn audience_name(role: &Role) -> String {
    match role {
        Role::Admin | Role::Analyst => "staff".into(),
        other => other.name(),
    }
}

/// Parses `public`, `party:ID` or `staff`.
pub fn parse_audience(s: &str) -> Result<Role, String> {
    match s {
        "staff" => Ok(Role::Analyst),
        "public" => Ok(Role::Public),
        _ if s.starts_with("party:") => Role::parse(s),
        _ => Err(format!("audience {s:?}: use public, party:ID or staff")),
    }
}

/// The numbers of a report (`report.json`).
#[derive(Debug, Clone, Serialize)]
struct Numbers<'a> {
    kind: &'static str,
    subject: String,
    audience: String,
    lang: &'static str,
    basis: &'a Basis,
    /// Incidents in possible breach starting on the day (daily) or the incident (spot).
    incidents: Vec<IncidentView>,
    /// Per day, the previous [`HISTORY_DAYS`] days and the day: incidents in possible breach by
    /// party area (`""` where the audience is not shown areas).
    per_day: BTreeMap<NaiveDate, BTreeMap<String, usize>>,
    /// The same days by rule (an incident counts once per rule it may breach).
    per_day_by_rule: BTreeMap<NaiveDate, BTreeMap<String, usize>>,
    /// The day's incidents in possible breach by 25 km sector of the contact line (chainage from
    /// the line's start): `(from_km, to_km, count)`, sectors with none left out.
    by_sector: Vec<(f64, f64, usize)>,
    previous_7_per_day: f64,
    previous_30_per_day: f64,
    /// rule → (suggested party or "none" → count), and the same for official attribution.
    by_rule_suggested: BTreeMap<String, BTreeMap<String, usize>>,
    by_rule_official: BTreeMap<String, BTreeMap<String, usize>>,
    /// Rule id → its kind (`no_fire`, `weapon_withdrawal`, `storage_inventory`,
    /// `freedom_of_movement`, …), for the rules of the incidents shown.
    rule_kinds: BTreeMap<String, String>,
    /// Staff only: tasks created on the day, `(id, incident, team, state, outcome)`.
    tasks: Vec<[String; 5]>,
    /// Responses given on the day: `(incident, party action, time)`.
    responses: Vec<[String; 3]>,
    /// Sectors not or partly observed that day: `(from_km, to_km, status)`.
    coverage_caveats: Vec<(f64, f64, String)>,
}

/// Makes a report: its files, from `ledger` folded to `basis.log_size`, `coverage` of the same
/// log (the day's cells are read; may be empty for a spot report).
pub fn make(
    ledger: &Ledger,
    coverage: &[SectorDay],
    basis: &Basis,
    subject: &Subject,
    audience: &Role,
    lang: Lang,
) -> Result<Files, String> {
    let shown = access::shown_incidents(ledger, audience);
    let view_of = |s: &access::Shown<'_>| IncidentView::shown(ledger, s.index, s.view);
    let audience_s = audience_name(audience);
    let full = !matches!(audience, Role::Public);
    let (kind, subject_s, day) = match subject {
        Subject::Daily(d) => ("daily", d.to_string(), *d),
        Subject::Spot(id) => {
            let s = shown
                .iter()
                .find(|s| ledger.incidents()[s.index].id == *id)
                .ok_or_else(|| {
                    format!("incident {id}: none such, or not shown to the audience {audience_s}")
                })?;
            (
                "spot",
                id.clone(),
                ledger.incidents()[s.index].start.date_naive(),
            )
        }
    };
    let first_day = day - Days::new(HISTORY_DAYS);
    let mut per_day: BTreeMap<NaiveDate, BTreeMap<String, usize>> = BTreeMap::new();
    let mut d = first_day;
    while d <= day {
        per_day.insert(d, BTreeMap::new());
        d = d + Days::new(1);
    }
    let mut per_day_by_rule = per_day.clone();
    let mut incidents: Vec<IncidentView> = Vec::new();
    for s in &shown {
        let inc = &ledger.incidents()[s.index];
        if inc.breaches.is_empty() {
            continue;
        }
        let start = inc.start.date_naive();
        if let Some(row) = per_day.get_mut(&start) {
            let area = if full {
                s.party_area.unwrap_or("").to_string()
            } else {
                String::new()
            };
            *row.entry(area).or_default() += 1;
            let by_rule = per_day_by_rule.get_mut(&start).expect("the same days");
            for r in &inc.breaches {
                *by_rule.entry(r.clone()).or_default() += 1;
            }
        }
        let wanted = match subject {
            Subject::Daily(d) => start == *d,
            Subject::Spot(id) => inc.id == *id,
        };
        if wanted {
            incidents.push(view_of(s));
        }
    }
    incidents.sort_by(|a, b| (a.start, &a.id).cmp(&(b.start, &b.id)));
    let count_over = |n: u64| -> f64 {
        let from = day - Days::new(n);
        let total: usize = per_day
            .range(from..day)
            .map(|(_, m)| m.values().sum::<usize>())
            .sum();
        (total as f64 / n as f64 * 10.0).round() / 10.0
    };
    let mut by_sector: BTreeMap<usize, usize> = BTreeMap::new();
    let sectors =
        truce_fusion::coverage::Sectors::new(&ledger.engine().agreement().contact_line.lines).ok();
    if let (Subject::Daily(_), Some(sectors)) = (subject, &sectors) {
        for v in &incidents {
            if let Some(i) = v.location.and_then(|p| sectors.sector_of(p)) {
                *by_sector.entry(i).or_default() += 1;
            }
        }
    }
    let by_sector: Vec<(f64, f64, usize)> = by_sector
        .into_iter()
        .filter_map(|(i, n)| {
            let (a, b) = sectors.as_ref()?.bounds_km(i);
            Some((a, b, n))
        })
        .collect();
    let previous_7_per_day = count_over(7);
    let previous_30_per_day = count_over(HISTORY_DAYS);
    let none = t(lang, "none").to_string();
    let mut by_rule_suggested: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    let mut by_rule_official: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for v in &incidents {
        for r in &v.rules {
            let sp = v.suggested_party.clone().unwrap_or_else(|| none.clone());
            let op = v.attributed_party.clone().unwrap_or_else(|| none.clone());
            *by_rule_suggested
                .entry(r.clone())
                .or_default()
                .entry(sp)
                .or_default() += 1;
            *by_rule_official
                .entry(r.clone())
                .or_default()
                .entry(op)
                .or_default() += 1;
        }
    }
    let rule_kinds: BTreeMap<String, String> = ledger
        .engine()
        .agreement()
        .rules
        .iter()
        .filter(|r| by_rule_suggested.contains_key(&r.id))
        .map(|r| (r.id.clone(), r.kind.as_str().to_string()))
        .collect();
    let ids: BTreeSet<&str> = incidents.iter().map(|v| v.id.as_str()).collect();
    let tasks: Vec<[String; 5]> = if audience.is_staff() {
        ledger
            .tasks()
            .iter()
            .filter(|k| k.created_at.date_naive() == day || ids.contains(k.incident.as_str()))
            .map(|k| {
                [
                    k.id.clone(),
                    k.incident.clone(),
                    k.team.clone().unwrap_or_default(),
                    k.state.as_str().to_string(),
                    k.outcome
                        .as_ref()
                        .map(|o| format!("{o:?}").to_lowercase())
                        .unwrap_or_default(),
                ]
            })
            .collect()
    } else {
        Vec::new()
    };
    let mut responses: Vec<[String; 3]> = Vec::new();
    for v in &incidents {
        for tr in v.transitions.iter().flatten() {
            if matches!(tr.action.as_str(), "acknowledge" | "dispute") {
                responses.push([
                    v.id.clone(),
                    format!("{} {}", tr.actor.clone().unwrap_or_default(), tr.action)
                        .trim()
                        .to_string(),
                    tr.at.format("%Y-%m-%d %H:%M").to_string(),
                ]);
            }
        }
    }
    let coverage_caveats: Vec<(f64, f64, String)> = coverage
        .iter()
        .filter(|c| c.day == day)
        .filter_map(|c| match c.status {
            Status::NotObserved => Some((c.from_km, c.to_km, "not_observed".to_string())),
            Status::PartlyObserved => Some((c.from_km, c.to_km, "partly_observed".to_string())),
            _ => None,
        })
        .collect();
    let numbers = Numbers {
        kind,
        subject: subject_s.clone(),
        audience: audience_s.clone(),
        lang: lang.as_str(),
        basis,
        incidents,
        per_day,
        per_day_by_rule,
        by_sector,
        previous_7_per_day,
        previous_30_per_day,
        by_rule_suggested,
        by_rule_official,
        rule_kinds,
        tasks,
        responses,
        coverage_caveats,
    };
    let map = map_figure(ledger, &numbers.incidents, full);
    let chart = chart_figure(&numbers.per_day);
    let by_rule_chart = chart_figure(&numbers.per_day_by_rule);
    let sector_chart = sector_figure(&numbers.by_sector);
    let blocks = blocks(
        &numbers,
        &[&map, &chart, &by_rule_chart, &sector_chart],
        lang,
        subject,
    );
    let html = html(&blocks, lang);
    let pdf = pdf::render(&blocks);
    let mut json = serde_json::to_string_pretty(&numbers).map_err(|e| e.to_string())?;
    json.push('\n');
    let mut files = Files::new();
    files.insert("report.html".into(), html.into_bytes());
    files.insert("report.json".into(), json.into_bytes());
    files.insert("report.pdf".into(), pdf);
    files.insert("map.svg".into(), map.to_svg().into_bytes());
    files.insert("chart.svg".into(), chart.to_svg().into_bytes());
    Ok(files)
}

/// Makes a report from `store` at the signed checkpoint of `size` entries (default: the latest),
/// after checking the checkpoint's signature with `verifier`: the terms in force at that size,
/// the ledger replayed to it, the day's coverage. What `truce report` and `GET /api/reports/…`
/// both call.
pub fn make_at(
    store: &GeoPackageStore,
    size: Option<u64>,
    verifier: &VerifierKey,
    subject: &Subject,
    audience: &Role,
    lang: Lang,
) -> anyhow::Result<(Basis, Files)> {
    let checkpoint = match size {
        Some(size) => store
            .checkpoint_at(size)?
            .ok_or_else(|| anyhow!("no signed checkpoint at log size {size}"))?,
        None => store
            .latest_checkpoint()?
            .ok_or_else(|| anyhow!("the store holds no signed checkpoint yet"))?,
    };
    verify_checkpoint(&checkpoint.text, verifier).map_err(|e| {
        anyhow!(
            "the checkpoint at size {} does not verify with the key {verifier}: {e}",
            checkpoint.size
        )
    })?;
    let size = checkpoint.size;
    let engine = Arc::new(crate::engine_at(store, size)?);
    let (ledger, warnings) = crate::replay_to(store, engine, size)?;
    for w in &warnings {
        tracing::warn!("report at size {size}: {w}");
    }
    let coverage = match subject {
        Subject::Daily(day) => {
            crate::reads::coverage_table_until(store, &ledger, Some(*day), Some(1), size)?
        }
        Subject::Spot(_) => Vec::new(),
    };
    let basis = Basis {
        log_size: size,
        root: checkpoint.root.to_hex(),
        checkpoint: checkpoint.text.clone(),
        verifier_key: verifier.to_string(),
    };
    let files =
        make(&ledger, &coverage, &basis, subject, audience, lang).map_err(|e| anyhow!(e))?;
    Ok((basis, files))
}

/// The log entry for a report made at `basis`: each file's SHA-256.
pub fn issued(
    basis: &Basis,
    files: &Files,
    subject: &Subject,
    audience: &Role,
    lang: Lang,
) -> ReportIssued {
    ReportIssued {
        kind: match subject {
            Subject::Daily(_) => "daily".into(),
            Subject::Spot(_) => "spot".into(),
        },
        subject: match subject {
            Subject::Daily(d) => d.to_string(),
            Subject::Spot(id) => id.clone(),
        },
        audience: audience_name(audience),
        lang: lang.as_str().into(),
        log_size: basis.log_size,
        root: basis.root.clone(),
        files: files
            .iter()
            .map(|(name, bytes)| (name.clone(), truce_log::hash::sha256(bytes).to_hex()))
            .collect(),
    }
}

const MAP_W: f64 = 800.0;
const MAP_H: f64 = 520.0;

/// The map: party areas, the contact line, and the incidents numbered as in the table
/// (severity colour; for the audiences shown them, origins of fire with their 95 % ellipse and
/// a dashed line to the strike).
fn map_figure(ledger: &Ledger, incidents: &[IncidentView], full: bool) -> Figure {
    let agreement = ledger.engine().agreement();
    let mut pts: Vec<[f64; 2]> = agreement
        .contact_line
        .lines
        .iter()
        .flatten()
        .copied()
        .collect();
    pts.extend(incidents.iter().filter_map(|v| v.location));
    let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for p in &pts {
        x0 = x0.min(p[0]);
        x1 = x1.max(p[0]);
        y0 = y0.min(p[1]);
        y1 = y1.max(p[1]);
    }
    if pts.is_empty() {
        (x0, y0, x1, y1) = (0.0, 0.0, 1.0, 1.0);
    }
    let pad = 0.1 * (x1 - x0).max(y1 - y0).max(0.01);
    let (x0, y0, x1, y1) = (x0 - pad, y0 - pad, x1 + pad, y1 + pad);
    // Equirectangular at the centre's latitude: metres look the same both ways.
    let k = ((y0 + y1) / 2.0).to_radians().cos();
    let scale = (MAP_W / ((x1 - x0) * k)).min(MAP_H / (y1 - y0));
    let px = |p: [f64; 2]| ((p[0] - x0) * k * scale, (y1 - p[1]) * scale);
    let ring = |r: &[[f64; 2]]| r.iter().map(|p| px(*p)).collect::<Vec<_>>();
    let mut items = Vec::new();
    let fills = ["#dbe7f3", "#f3e0d8", "#e2efd9", "#efe6f5"];
    for (i, party) in agreement.parties.iter().enumerate() {
        for poly in &party.area {
            items.push(Item::Path {
                rings: poly.iter().map(|r| ring(r)).collect(),
                closed: true,
                fill: Some(fills[i % fills.len()]),
                stroke: Some(("#9a9a9a", 0.5)),
                dashed: false,
                title: Some(party.name.clone()),
            });
        }
    }
    // Zones drawn as areas (those defined by distance from the line are its buffer, not drawn).
    for zone in &agreement.zones {
        if let truce_core::agreement::ZoneExtent::Polygons { polygons, .. } = &zone.extent {
            for poly in polygons {
                items.push(Item::Path {
                    rings: poly.iter().map(|r| ring(r)).collect(),
                    closed: true,
                    fill: None,
                    stroke: Some(("#6a51a3", 1.0)),
                    dashed: true,
                    title: Some(zone.name.clone()),
                });
            }
        }
    }
    for site in &agreement.storage_sites {
        let (x, y) = px(site.location);
        items.push(Item::Rect {
            x: x - 3.5,
            y: y - 3.5,
            w: 7.0,
            h: 7.0,
            fill: "#238b45",
            title: Some(site.name.clone()),
        });
    }
    for line in &agreement.contact_line.lines {
        items.push(Item::Path {
            rings: vec![ring(line)],
            closed: false,
            fill: None,
            stroke: Some(("#b0001e", 2.0)),
            dashed: false,
            title: None,
        });
    }
    for (i, v) in incidents.iter().enumerate() {
        let Some(p) = v.location else { continue };
        let (x, y) = px(p);
        if full && let Some(o) = &v.origin {
            let (ox, oy) = px(o.point);
            items.push(Item::Path {
                rings: vec![vec![(ox, oy), (x, y)]],
                closed: false,
                fill: None,
                stroke: Some(("#444444", 1.0)),
                dashed: true,
                title: None,
            });
            let e = &o.ellipse_95;
            let m_per_unit = 111_320.0 / scale;
            items.push(Item::Ellipse {
                x: ox,
                y: oy,
                rx: (e.semi_minor_m / m_per_unit).max(1.0),
                ry: (e.semi_major_m / m_per_unit).max(1.0),
                rotate_deg: e.azimuth_deg,
                stroke: "#444444",
            });
        }
        let colour = match v.max_severity.map(|s| s.as_str()) {
            Some("critical") => "#7a0019",
            Some("high") => "#d7301f",
            Some("medium") => "#fc8d59",
            _ => "#fdcc8a",
        };
        items.push(Item::Circle {
            x,
            y,
            r: 5.0,
            fill: colour,
            stroke: ("#000000", 0.6),
            title: Some(v.id.clone()),
        });
        items.push(Item::Text {
            x: x + 6.0,
            y: y - 3.0,
            size: 9.0,
            text: (i + 1).to_string(),
        });
    }
    Figure {
        w: MAP_W,
        h: MAP_H,
        background: "#f4f1ea",
        items,
    }
}

const CHART_W: f64 = 800.0;
const CHART_H: f64 = 220.0;

/// Bars per 25 km sector of the line: the day's incidents in possible breach.
fn sector_figure(by_sector: &[(f64, f64, usize)]) -> Figure {
    let max = by_sector.iter().map(|s| s.2).max().unwrap_or(0).max(1);
    let (left, bottom, top) = (40.0, CHART_H - 30.0, 20.0);
    let n = by_sector.len().max(1) as f64;
    let bw = ((CHART_W - left - 10.0) / n).min(60.0);
    let text = |x: f64, y: f64, t: String| Item::Text {
        x,
        y,
        size: 10.0,
        text: t,
    };
    let mut items = vec![
        Item::Path {
            rings: vec![vec![(left, bottom), (CHART_W - 10.0, bottom)]],
            closed: false,
            fill: None,
            stroke: Some(("#000000", 1.0)),
            dashed: false,
            title: None,
        },
        text(4.0, top + 8.0, max.to_string()),
        text(4.0, bottom, "0".into()),
    ];
    for (i, (a, b, c)) in by_sector.iter().enumerate() {
        let x = left + i as f64 * bw;
        let h = *c as f64 / max as f64 * (bottom - top);
        items.push(Item::Rect {
            x: x + 2.0,
            y: bottom - h,
            w: (bw - 4.0).max(1.0),
            h,
            fill: "#8c6bb1",
            title: Some(format!("{a:.0}–{b:.0} km: {c}")),
        });
        items.push(text(x + 2.0, bottom - h - 3.0, c.to_string()));
        items.push(text(x + 2.0, bottom + 14.0, format!("{a:.0}")));
    }
    Figure {
        w: CHART_W,
        h: CHART_H,
        background: "#ffffff",
        items,
    }
}

/// Bars per day, stacked by party area.
fn chart_figure(per_day: &BTreeMap<NaiveDate, BTreeMap<String, usize>>) -> Figure {
    let max = per_day
        .values()
        .map(|m| m.values().sum::<usize>())
        .max()
        .unwrap_or(0)
        .max(1);
    let areas: BTreeSet<&str> = per_day
        .values()
        .flat_map(|m| m.keys().map(String::as_str))
        .collect();
    let colours = ["#4575b4", "#d73027", "#91bfdb", "#fc8d59", "#999999"];
    let colour = |a: &str| {
        let i = areas.iter().position(|x| *x == a).unwrap_or(0);
        colours[i % colours.len()]
    };
    let n = per_day.len().max(1) as f64;
    let (left, bottom, top) = (40.0, CHART_H - 30.0, 20.0);
    let bw = (CHART_W - left - 10.0) / n;
    let text = |x: f64, y: f64, t: String| Item::Text {
        x,
        y,
        size: 10.0,
        text: t,
    };
    let mut items = vec![
        Item::Path {
            rings: vec![vec![(left, bottom), (CHART_W - 10.0, bottom)]],
            closed: false,
            fill: None,
            stroke: Some(("#000000", 1.0)),
            dashed: false,
            title: None,
        },
        text(4.0, top + 8.0, max.to_string()),
        text(4.0, bottom, "0".into()),
    ];
    for (i, (day, by)) in per_day.iter().enumerate() {
        let x = left + i as f64 * bw;
        let mut y = bottom;
        for (area, c) in by {
            let h = *c as f64 / max as f64 * (bottom - top);
            y -= h;
            items.push(Item::Rect {
                x: x + 1.0,
                y,
                w: (bw - 2.0).max(1.0),
                h,
                fill: colour(area),
                title: Some(format!("{day} {area} {c}")),
            });
        }
        if i % 5 == 0 || i + 1 == per_day.len() {
            items.push(text(x, bottom + 14.0, day.format("%m-%d").to_string()));
        }
    }
    for (i, a) in areas.iter().filter(|a| !a.is_empty()).enumerate() {
        let x = left + 10.0 + i as f64 * 80.0;
        items.push(Item::Rect {
            x,
            y: 4.0,
            w: 10.0,
            h: 10.0,
            fill: colour(a),
            title: None,
        });
        items.push(text(x + 14.0, 13.0, (*a).to_string()));
    }
    Figure {
        w: CHART_W,
        h: CHART_H,
        background: "#ffffff",
        items,
    }
}

/// What a report says, in order: written as HTML ([`html`]) and as PDF ([`pdf::render`]).
#[derive(Debug, Clone)]
pub(crate) enum Block {
    Title(String),
    Heading(String),
    Para(String),
    /// A label and a value set in bold.
    Labelled(String, String),
    Fig(Figure),
    Table(Vec<String>, Vec<Vec<String>>),
    /// Preformatted, small (a signed checkpoint, commands).
    Pre(String),
}

fn table(out: &mut Vec<Block>, head: &[&str], rows: &[Vec<String>]) {
    out.push(Block::Table(
        head.iter().map(|h| (*h).to_string()).collect(),
        rows.to_vec(),
    ));
}

/// The blocks as a self-contained HTML page.
fn html(blocks: &[Block], lang: Lang) -> String {
    let title = blocks
        .iter()
        .find_map(|b| match b {
            Block::Title(t) => Some(t.as_str()),
            _ => None,
        })
        .unwrap_or("");
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\"><title>{}</title><style>body{{font-family:'DejaVu Sans',sans-serif;max-width:60em;margin:2em auto;color:#111}}table{{border-collapse:collapse;margin:.5em 0}}td,th{{border:1px solid #aaa;padding:2px 6px;font-size:90%;text-align:left}}pre{{background:#f4f4f4;padding:.5em;white-space:pre-wrap;font-size:80%}}h2{{border-bottom:1px solid #ccc}}svg{{max-width:100%;height:auto}}</style></head><body>",
        lang.as_str(),
        esc(title)
    );
    for b in blocks {
        match b {
            Block::Title(t) => {
                let _ = write!(h, "<h1>{}</h1>", esc(t));
            }
            Block::Heading(t) => {
                let _ = write!(h, "<h2>{}</h2>", esc(t));
            }
            Block::Para(t) => {
                let _ = write!(h, "<p>{}</p>", esc(t));
            }
            Block::Labelled(l, v) => {
                let _ = write!(h, "<p>{}: <b>{}</b></p>", esc(l), esc(v));
            }
            Block::Fig(f) => h.push_str(f.to_svg().trim_end()),
            Block::Table(head, rows) => {
                h.push_str("<table><tr>");
                for c in head {
                    let _ = write!(h, "<th>{}</th>", esc(c));
                }
                h.push_str("</tr>");
                for r in rows {
                    h.push_str("<tr>");
                    for c in r {
                        let _ = write!(h, "<td>{}</td>", esc(c));
                    }
                    h.push_str("</tr>");
                }
                h.push_str("</table>");
            }
            Block::Pre(t) => {
                let _ = write!(h, "<pre>{}</pre>", esc(t));
            }
        }
    }
    h.push_str("</body></html>\n");
    h
}

fn by_rule(h: &mut Vec<Block>, n: &Numbers<'_>, lang: Lang) {
    h.push(Block::Heading(t(lang, "by_rule").into()));
    let rows: Vec<Vec<String>> = n
        .by_rule_suggested
        .iter()
        .map(|(r, s)| {
            let fmt = |m: Option<&BTreeMap<String, usize>>| {
                m.map(|m| {
                    m.iter()
                        .map(|(p, c)| format!("{p}: {c}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default()
            };
            vec![r.clone(), fmt(Some(s)), fmt(n.by_rule_official.get(r))]
        })
        .collect();
    table(
        h,
        &[t(lang, "rule"), t(lang, "suggested"), t(lang, "official")],
        &rows,
    );
}

fn blocks(n: &Numbers<'_>, figs: &[&Figure; 4], lang: Lang, subject: &Subject) -> Vec<Block> {
    let [map, chart, by_rule_chart, sector_chart] = *figs;
    let title = match subject {
        Subject::Daily(d) => format!("{} — {d}", t(lang, "daily")),
        Subject::Spot(id) => format!("{} — {id}", t(lang, "spot")),
    };
    let mut h = vec![
        Block::Title(title),
        Block::Labelled(t(lang, "audience").into(), n.audience.clone()),
    ];
    if let Subject::Daily(d) = subject {
        let text = t(lang, "summary_text")
            .replace("{n}", &n.incidents.len().to_string())
            .replace("{day}", &d.to_string())
            .replace("{avg7}", &format!("{:.1}", n.previous_7_per_day))
            .replace("{avg30}", &format!("{:.1}", n.previous_30_per_day));
        h.push(Block::Heading(t(lang, "summary").into()));
        h.push(Block::Para(text));
    }
    h.push(Block::Heading(t(lang, "map").into()));
    h.push(Block::Fig(map.clone()));
    if let Subject::Daily(_) = subject {
        h.push(Block::Heading(t(lang, "chart").into()));
        h.push(Block::Fig(chart.clone()));
        h.push(Block::Heading(t(lang, "chart_rule").into()));
        h.push(Block::Fig(by_rule_chart.clone()));
        if !n.by_sector.is_empty() {
            h.push(Block::Heading(t(lang, "chart_sector").into()));
            h.push(Block::Fig(sector_chart.clone()));
        }
    }
    h.push(Block::Heading(t(lang, "incidents").into()));
    if n.incidents.is_empty() {
        h.push(Block::Para(t(lang, "nothing").into()));
    } else {
        let rows: Vec<Vec<String>> = n
            .incidents
            .iter()
            .enumerate()
            .map(|(i, v)| {
                vec![
                    (i + 1).to_string(),
                    v.id.clone(),
                    v.start.format("%Y-%m-%d %H:%M").to_string(),
                    v.state.clone(),
                    v.rules.join(", "),
                    v.location
                        .map(|p| format!("{:.4}, {:.4}", p[1], p[0]))
                        .unwrap_or_default(),
                    v.suggested_party.clone().unwrap_or_default(),
                    v.attributed_party.clone().unwrap_or_default(),
                ]
            })
            .collect();
        table(
            &mut h,
            &[
                "#",
                t(lang, "id"),
                t(lang, "time"),
                t(lang, "state"),
                t(lang, "rule"),
                t(lang, "place"),
                t(lang, "suggested"),
                t(lang, "official"),
            ],
            &rows,
        );
    }
    if !n.by_rule_suggested.is_empty() {
        by_rule(&mut h, n, lang);
    }
    // The findings the mission's daily reports list by kind of rule, stated even when none.
    for (kind, label) in [
        ("weapon_withdrawal", "weapons"),
        ("storage_inventory", "storage"),
        ("freedom_of_movement", "fom"),
    ] {
        let rows: Vec<Vec<String>> = n
            .incidents
            .iter()
            .enumerate()
            .filter(|(_, v)| {
                v.rules
                    .iter()
                    .any(|r| n.rule_kinds.get(r).is_some_and(|k| k == kind))
            })
            .map(|(i, v)| {
                vec![
                    (i + 1).to_string(),
                    v.id.clone(),
                    v.start.format("%Y-%m-%d %H:%M").to_string(),
                    v.rules.join(", "),
                    v.location
                        .map(|p| format!("{:.4}, {:.4}", p[1], p[0]))
                        .unwrap_or_default(),
                    v.state.clone(),
                ]
            })
            .collect();
        if rows.is_empty() && matches!(subject, Subject::Spot(_)) {
            continue;
        }
        h.push(Block::Heading(t(lang, label).into()));
        if rows.is_empty() {
            h.push(Block::Para(t(lang, "none_recorded").into()));
        } else {
            table(
                &mut h,
                &[
                    "#",
                    t(lang, "id"),
                    t(lang, "time"),
                    t(lang, "rule"),
                    t(lang, "place"),
                    t(lang, "state"),
                ],
                &rows,
            );
        }
    }
    if !n.tasks.is_empty() {
        h.push(Block::Heading(t(lang, "tasks").into()));
        let rows: Vec<Vec<String>> = n.tasks.iter().map(|r| r.to_vec()).collect();
        table(
            &mut h,
            &[
                "",
                t(lang, "id"),
                t(lang, "team"),
                t(lang, "state"),
                t(lang, "outcome"),
            ],
            &rows,
        );
    }
    if !n.responses.is_empty() {
        h.push(Block::Heading(t(lang, "responses").into()));
        let rows: Vec<Vec<String>> = n.responses.iter().map(|r| r.to_vec()).collect();
        table(
            &mut h,
            &[t(lang, "id"), t(lang, "party"), t(lang, "time")],
            &rows,
        );
    }
    if let Subject::Daily(_) = subject {
        h.push(Block::Heading(t(lang, "coverage").into()));
        if n.coverage_caveats.is_empty() {
            h.push(Block::Para(t(lang, "all_observed").into()));
        } else {
            h.push(Block::Para(t(lang, "coverage_text").into()));
            let rows: Vec<Vec<String>> = n
                .coverage_caveats
                .iter()
                .map(|(a, b, st)| vec![format!("{a:.0}–{b:.0}"), t(lang, st).to_string()])
                .collect();
            table(&mut h, &[t(lang, "sector"), t(lang, "state")], &rows);
        }
    }
    if let Subject::Spot(_) = subject
        && let Some(v) = n.incidents.first()
    {
        if let Some(trs) = &v.transitions {
            h.push(Block::Heading(t(lang, "history").into()));
            let rows: Vec<Vec<String>> = trs
                .iter()
                .map(|tr| {
                    vec![
                        tr.at.format("%Y-%m-%d %H:%M").to_string(),
                        tr.action.clone(),
                        tr.to.clone(),
                        tr.entry_seq.to_string(),
                    ]
                })
                .collect();
            table(
                &mut h,
                &[t(lang, "time"), "", t(lang, "state"), "seq"],
                &rows,
            );
        }
        if let (Some(kinds), Some(sources)) = (&v.kinds, &v.source_kinds) {
            h.push(Block::Heading(t(lang, "evidence").into()));
            h.push(Block::Para(format!(
                "{} · {}",
                kinds.join(", "),
                sources.join(", ")
            )));
        }
    }
    let verify = t(lang, "verify_text")
        .replace("{size}", &n.basis.log_size.to_string())
        .replace("{root}", &n.basis.root);
    let cmd = match subject {
        Subject::Daily(d) => format!(
            "truce report daily --db STORE --day {d} --audience {} --lang {} --at {} --key '{}' --out DIR --no-log\ntruce log verify --db STORE --key '{}'\ntruce log prove --db STORE --seq SEQ_OF_THE_REPORT_ENTRY",
            n.audience,
            lang.as_str(),
            n.basis.log_size,
            n.basis.verifier_key,
            n.basis.verifier_key
        ),
        Subject::Spot(id) => format!(
            "truce report spot --db STORE --incident {id} --audience {} --lang {} --at {} --key '{}' --out DIR --no-log\ntruce log verify --db STORE --key '{}'\ntruce log prove --db STORE --seq SEQ_OF_THE_REPORT_ENTRY",
            n.audience,
            lang.as_str(),
            n.basis.log_size,
            n.basis.verifier_key,
            n.basis.verifier_key
        ),
    };
    h.push(Block::Heading(t(lang, "verify").into()));
    h.push(Block::Para(verify));
    h.push(Block::Pre(n.basis.checkpoint.clone()));
    h.push(Block::Pre(cmd));
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every label the report asks for exists, in all three languages (a missing one would
    /// print "?").
    #[test]
    fn every_label_is_translated() {
        let src = include_str!("mod.rs");
        let mut keys: BTreeSet<&str> = src
            .split("t(lang, \"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .collect();
        keys.extend(["not_observed", "partly_observed"]);
        assert!(keys.len() > 20, "{keys:?}");
        for key in keys {
            let (_, v) = LABELS
                .iter()
                .find(|(k, _)| *k == key)
                .unwrap_or_else(|| panic!("no label {key:?}"));
            assert!(v.iter().all(|s| !s.is_empty()), "{key}: {v:?}");
        }
        let mut seen = BTreeSet::new();
        for (k, _) in LABELS {
            assert!(seen.insert(k), "label {k} twice");
        }
    }
}
