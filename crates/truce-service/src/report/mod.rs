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
//! The files ([`FILES`]): `report.html` (self-contained: map and charts inline as SVG),
//! `report.pdf`, `report.json` (the numbers), and each figure as SVG and PNG (`map`, `chart`,
//! `chart-by-rule`, `chart-by-sector`; PNG by [`png`]). Their SHA-256 go in a `report` log
//! entry ([`truce_core::entry::ReportIssued`]) written by the caller.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use std::sync::Arc;

use anyhow::anyhow;
use chrono::{Days, NaiveDate};
use serde::Serialize;
use truce_core::entry::ReportIssued;
use truce_fusion::coverage::SectorDay;
use truce_fusion::ledger::Ledger;
use truce_log::VerifierKey;
use truce_log::checkpoint::verify_checkpoint;
use truce_store::Backend;

use crate::access::{self, Role};

mod figure;
mod pdf;
mod png;
mod subset;

use crate::view::IncidentView;
use figure::{Colour, Figure, Item, esc};

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

/// Every file a report is made of, with its media type, in the order they are listed to a
/// caller (the CLI writes them all; the API serves one by `?file=`).
pub const FILES: &[(&str, &str)] = &[
    ("report.html", "text/html; charset=utf-8"),
    ("report.pdf", "application/pdf"),
    ("report.json", "application/json"),
    ("map.svg", "image/svg+xml"),
    ("map.png", "image/png"),
    ("chart.svg", "image/svg+xml"),
    ("chart.png", "image/png"),
    ("chart-by-rule.svg", "image/svg+xml"),
    ("chart-by-rule.png", "image/png"),
    ("chart-by-sector.svg", "image/svg+xml"),
    ("chart-by-sector.png", "image/png"),
];

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
            "Explosions and firing by sector of the line: the day's incidents by kind and 25 km sector (km from the line's start)",
            "Вибухи та стрільба за ділянками лінії: інциденти дня за видом і ділянкою 25 км (км від початку лінії)",
            "Взрывы и стрельба по участкам линии: инциденты дня по виду и участку 25 км (км от начала линии)",
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
    (
        "explosions_impacts",
        [
            "explosions and impacts",
            "вибухи та влучання",
            "взрывы и попадания",
        ],
    ),
    (
        "firing_launches",
        [
            "firing and launches",
            "стрільба та пуски",
            "стрельба и пуски",
        ],
    ),
    ("other_kinds", ["other", "інше", "другое"]),
    ("kind", ["Kind", "Вид", "Вид"]),
    ("no_place", ["not on the line", "поза лінією", "вне линии"]),
    (
        "not_located",
        ["not located", "місце не визначено", "место не определено"],
    ),
    (
        "outside_areas",
        [
            "outside the party areas",
            "поза районами сторін",
            "вне районов сторон",
        ],
    ),
    ("incidents_word", ["incidents", "інциденти", "инциденты"]),
    ("sev_critical", ["critical", "критичний", "критический"]),
    ("sev_high", ["high", "високий", "высокий"]),
    ("sev_medium", ["medium", "середній", "средний"]),
    ("sev_low", ["low", "низький", "низкий"]),
    (
        "single_source",
        [
            "one source (open ring)",
            "одне джерело (кільце)",
            "один источник (кольцо)",
        ],
    ),
    (
        "verified_mark",
        [
            "verified or published (heavy ring)",
            "перевірено або опубліковано (товсте кільце)",
            "проверено или опубликовано (толстое кольцо)",
        ],
    ),
    (
        "storage_site",
        ["storage site", "місце зберігання", "место хранения"],
    ),
    ("zone", ["zone", "зона", "зона"]),
    ("bearing", ["Bearing", "Пеленг", "Пеленг"]),
    (
        "contact_line",
        ["contact line", "лінія зіткнення", "линия соприкосновения"],
    ),
    (
        "origin",
        [
            "origin of fire (95 % ellipse)",
            "місце ведення вогню (еліпс 95 %)",
            "место ведения огня (эллипс 95 %)",
        ],
    ),
    (
        "linked",
        [
            "linked strike or firing",
            "пов’язане влучання чи стрільба",
            "связанное попадание или стрельба",
        ],
    ),
    (
        "observations_bearings",
        [
            "observations (seq) and bearings",
            "спостереження (seq) і пеленги",
            "наблюдения (seq) и пеленги",
        ],
    ),
    (
        "kind_not_shown",
        ["kind not shown", "вид не показано", "вид не показан"],
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
    /// the line's start), by kind ([`fire_kind`]): sectors with none left out.
    by_sector: Vec<SectorCount>,
    /// The day's incidents in possible breach with no place on the line, by kind: no fixed
    /// place (bearings that fix no point: heard, not located), or more than 25 km from it.
    by_sector_no_place: KindCounts,
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
    /// Sectors not or partly observed that day, as `GET /api/coverage` gives the audience:
    /// `(from_km, to_km, observation)` (`reads::coverage_caveats`).
    coverage_caveats: Vec<(f64, f64, String)>,
    /// Staff spot report: the observations of its evidence chain, drawn on its map.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    evidence: Vec<EvidencePoint>,
}

/// Staff only, in a spot report: one observation of the incident's evidence chain, where it
/// was made (a point, a track's vertices or an area's ring) and, for a bearing, its azimuth
/// from that point. Read from the store by [`make_at`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvidencePoint {
    pub seq: u64,
    pub kind: String,
    pub observed_at: chrono::DateTime<chrono::Utc>,
    /// `[lon, lat]`; one for a point.
    pub coordinates: Vec<[f64; 2]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bearing_deg: Option<f64>,
}

/// One 25 km sector of the line and the day's incidents in possible breach there, by kind.
#[derive(Debug, Clone, Serialize)]
struct SectorCount {
    from_km: f64,
    to_km: f64,
    #[serde(flatten)]
    counts: KindCounts,
}

/// Incidents by kind ([`fire_kind`]).
#[derive(Debug, Clone, Copy, Default, Serialize)]
struct KindCounts {
    /// Incidents with an explosion or an impact among their observations.
    explosions_impacts: usize,
    /// Incidents of firing (a weapon seen or heard firing, a launch) with no explosion or impact.
    firing_launches: usize,
    /// Every other kind (weapons present, hotspots alone, storage, access, works, …).
    other: usize,
    /// Incidents whose kinds the audience is not shown (the public: the API withholds an
    /// incident's kinds from it, so the report does too).
    kind_not_shown: usize,
}

impl KindCounts {
    fn of(n: [usize; 4]) -> KindCounts {
        KindCounts {
            explosions_impacts: n[0],
            firing_launches: n[1],
            other: n[2],
            kind_not_shown: n[3],
        }
    }

    fn as_array(&self) -> [usize; 4] {
        [
            self.explosions_impacts,
            self.firing_launches,
            self.other,
            self.kind_not_shown,
        ]
    }
}

/// Which bar of the sector chart an incident goes in, from the kinds its view shows
/// (`None` when the audience is not shown them): explosions and impacts first, since a strike
/// linked to its firing is two incidents and each is counted at its own end.
fn fire_kind(kinds: Option<&[String]>) -> usize {
    match kinds {
        None => 3,
        Some(k) if k.iter().any(|k| k == "explosion" || k == "impact") => 0,
        Some(k) if k.iter().any(|k| k == "firing") => 1,
        Some(_) => 2,
    }
}

/// Makes a report: its files, from `ledger` folded to `basis.log_size`, `coverage` of the same
/// log (the day's cells are read; may be empty for a spot report).
pub fn make(
    ledger: &Ledger,
    coverage: &[SectorDay],
    evidence: &[EvidencePoint],
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
    let mut by_sector: BTreeMap<usize, [usize; 4]> = BTreeMap::new();
    let mut no_place = [0; 4];
    let sectors =
        truce_fusion::coverage::Sectors::new(&ledger.engine().agreement().contact_line.lines).ok();
    if let (Subject::Daily(_), Some(sectors)) = (subject, &sectors) {
        for v in &incidents {
            let kind = fire_kind(v.kinds.as_deref());
            match v.location.and_then(|p| sectors.sector_of(p)) {
                Some(i) => by_sector.entry(i).or_default()[kind] += 1,
                None => no_place[kind] += 1,
            }
        }
    }
    let by_sector_no_place = KindCounts::of(no_place);
    let by_sector: Vec<SectorCount> = by_sector
        .into_iter()
        .filter_map(|(i, n)| {
            let (from_km, to_km) = sectors.as_ref()?.bounds_km(i);
            Some(SectorCount {
                from_km,
                to_km,
                counts: KindCounts::of(n),
            })
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
            .filter(|k| {
                ids.contains(k.incident.as_str())
                    || matches!(subject, Subject::Daily(_)) && k.created_at.date_naive() == day
            })
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
    // What the API gives this audience of the day's coverage (`GET /api/coverage`).
    let coverage_caveats = crate::reads::coverage_caveats(audience, coverage, day);
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
        by_sector_no_place,
        previous_7_per_day,
        previous_30_per_day,
        by_rule_suggested,
        by_rule_official,
        rule_kinds,
        tasks,
        responses,
        coverage_caveats,
        // Only staff are shown where each observation was made (the API's evidence chain).
        evidence: match subject {
            Subject::Spot(_) if audience.is_staff() => evidence.to_vec(),
            _ => Vec::new(),
        },
    };
    let map = match (subject, numbers.incidents.first()) {
        (Subject::Spot(_), Some(v)) => spot_map_figure(ledger, v, &numbers.evidence, full, lang),
        _ => map_figure(ledger, &numbers.incidents, full, lang),
    };
    let chart = chart_figure(
        &numbers.per_day,
        t(
            lang,
            if full {
                "outside_areas"
            } else {
                "incidents_word"
            },
        ),
    );
    let by_rule_chart = chart_figure(&numbers.per_day_by_rule, "");
    let sector_chart = sector_figure(
        &numbers.by_sector,
        &numbers.by_sector_no_place,
        sectors.as_ref().map_or(0, |s| s.len()),
        lang,
    );
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
    files.insert(
        "chart-by-rule.svg".into(),
        by_rule_chart.to_svg().into_bytes(),
    );
    files.insert(
        "chart-by-sector.svg".into(),
        sector_chart.to_svg().into_bytes(),
    );
    files.insert("map.png".into(), map.to_png()?);
    files.insert("chart.png".into(), chart.to_png()?);
    files.insert("chart-by-rule.png".into(), by_rule_chart.to_png()?);
    files.insert("chart-by-sector.png".into(), sector_chart.to_png()?);
    Ok(files)
}

/// Makes a report from `store` at the signed checkpoint of `size` entries (default: the latest),
/// after checking the checkpoint's signature with `verifier`: the terms in force at that size,
/// the ledger replayed to it, the day's coverage. What `truce report` and `GET /api/reports/…`
/// both call.
pub fn make_at(
    store: &dyn Backend,
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
    let mut evidence = Vec::new();
    if let Subject::Spot(id) = subject
        && audience.is_staff()
        && let Some(k) = ledger.find(id)
    {
        use truce_core::observation::Geometry;
        for &seq in &ledger.incidents()[k].observation_seqs {
            let Some(o) = store
                .observations(seq, 1)?
                .into_iter()
                .find(|o| o.seq == seq)
            else {
                continue;
            };
            let lonlat = |c: &[f64]| [c[0], c[1]];
            let coordinates = match &o.observation.geometry {
                Geometry::Point { coordinates } => vec![lonlat(coordinates.as_slice())],
                Geometry::LineString { coordinates } => {
                    coordinates.iter().map(|c| lonlat(c)).collect()
                }
                Geometry::Polygon { coordinates } => coordinates
                    .first()
                    .map(|r| r.iter().map(|c| lonlat(c)).collect())
                    .unwrap_or_default(),
            };
            let props = &o.observation.properties;
            evidence.push(EvidencePoint {
                seq,
                kind: props.kind.as_str().to_string(),
                observed_at: props.observed_at,
                coordinates,
                bearing_deg: props.bearing.as_ref().map(|b| b.azimuth_deg),
            });
        }
    }
    let basis = Basis {
        log_size: size,
        root: checkpoint.root.to_hex(),
        checkpoint: checkpoint.text.clone(),
        verifier_key: verifier.to_string(),
    };
    let files = make(
        &ledger, &coverage, &evidence, &basis, subject, audience, lang,
    )
    .map_err(|e| anyhow!(e))?;
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
/// The height of the white band at a map's foot that holds its scale and legend.
const LEGEND_BAND: f64 = 36.0;

/// An incident's marker: filled with its severity's colour once more than one source stands
/// behind it, an open ring in that colour while it rests on one; a heavy black ring once
/// verified or published. Answers (fill, stroke colour, stroke width).
fn incident_marker(v: &IncidentView) -> (Colour, Colour, f64) {
    let colour = severity_colour(v.max_severity.map(|s| s.as_str()));
    match v.state.as_str() {
        "single_source" => ("#ffffff", colour, 2.2),
        "verified" | "published" => (colour, "#000000", 2.0),
        _ => (colour, "#000000", 0.6),
    }
}

fn severity_colour(severity: Option<&str>) -> Colour {
    match severity {
        Some("critical") => "#7a0019",
        Some("high") => "#d7301f",
        Some("medium") => "#fc8d59",
        _ => "#fdcc8a",
    }
}

fn map_figure(ledger: &Ledger, incidents: &[IncidentView], full: bool, lang: Lang) -> Figure {
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
    // The map above the legend band, centred: the spare width (or height) on both sides.
    let map_h = MAP_H - LEGEND_BAND;
    let scale = (MAP_W / ((x1 - x0) * k)).min(map_h / (y1 - y0));
    let (dx, dy) = (
        (MAP_W - (x1 - x0) * k * scale) / 2.0,
        (map_h - (y1 - y0) * scale) / 2.0,
    );
    let px = |p: [f64; 2]| (dx + (p[0] - x0) * k * scale, dy + (y1 - p[1]) * scale);
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
    let mut marks = Vec::new();
    for (i, v) in incidents.iter().enumerate() {
        let Some(p) = v.location else { continue };
        let (x, y) = px(p);
        marks.push((x, y, i + 1));
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
        let (fill, stroke, width) = incident_marker(v);
        items.push(Item::Circle {
            x,
            y,
            r: 5.0,
            fill,
            stroke: (stroke, width),
            title: Some(v.id.clone()),
        });
    }
    items.extend(marker_labels(&marks, MAP_W, map_h));
    items.extend(map_legend(incidents, full, lang));
    Figure {
        w: MAP_W,
        h: MAP_H,
        background: "#f4f1ea",
        items,
    }
}

/// The daily map's legend, in the band at its foot: the contact line, severity colours, what
/// a marker's ring says of its state, storage sites, zones, and origins where shown — only
/// what the map can hold for this day and audience.
fn map_legend(incidents: &[IncidentView], full: bool, lang: Lang) -> Vec<Item> {
    let mut items = vec![Item::Rect {
        x: 0.0,
        y: MAP_H - LEGEND_BAND,
        w: MAP_W,
        h: LEGEND_BAND,
        fill: "#ffffff",
        title: None,
    }];
    let text = |x: f64, y: f64, t: &str| Item::Text {
        x,
        y,
        size: 9.0,
        text: t.to_string(),
    };
    let located: Vec<&IncidentView> = incidents.iter().filter(|v| v.location.is_some()).collect();
    let circle = |x: f64, y: f64, fill: Colour, stroke: Colour, w: f64| Item::Circle {
        x,
        y,
        r: 4.0,
        fill,
        stroke: (stroke, w),
        title: None,
    };
    // Row one: the line, storage sites, zones, origins; row two: severities and states.
    let (mut x, y) = (10.0, MAP_H - LEGEND_BAND + 13.0);
    let entry = |items: &mut Vec<Item>, swatch: Item, label: &str, x: &mut f64, y: f64| {
        items.push(swatch);
        items.push(text(*x + 12.0, y + 3.0, label));
        *x += 12.0 + figure_text_width(label, 9.0) + 14.0;
    };
    let line = Item::Path {
        rings: vec![vec![(x, y), (x + 9.0, y)]],
        closed: false,
        fill: None,
        stroke: Some(("#b0001e", 2.0)),
        dashed: false,
        title: None,
    };
    entry(&mut items, line, t(lang, "contact_line"), &mut x, y);
    let site = Item::Rect {
        x: x + 1.0,
        y: y - 3.5,
        w: 7.0,
        h: 7.0,
        fill: "#238b45",
        title: None,
    };
    entry(&mut items, site, t(lang, "storage_site"), &mut x, y);
    let zone = Item::Path {
        rings: vec![vec![
            (x, y - 4.0),
            (x + 9.0, y - 4.0),
            (x + 9.0, y + 4.0),
            (x, y + 4.0),
        ]],
        closed: true,
        fill: None,
        stroke: Some(("#6a51a3", 1.0)),
        dashed: true,
        title: None,
    };
    entry(&mut items, zone, t(lang, "zone"), &mut x, y);
    if full && located.iter().any(|v| v.origin.is_some()) {
        let origin = Item::Ellipse {
            x: x + 4.0,
            y,
            rx: 2.5,
            ry: 5.0,
            rotate_deg: 60.0,
            stroke: "#444444",
        };
        entry(&mut items, origin, t(lang, "origin"), &mut x, y);
    }
    let (mut x, y) = (10.0, MAP_H - LEGEND_BAND + 28.0);
    for (sev, key) in [
        ("critical", "sev_critical"),
        ("high", "sev_high"),
        ("medium", "sev_medium"),
        ("low", "sev_low"),
    ] {
        let c = severity_colour(Some(sev));
        entry(
            &mut items,
            circle(x + 4.0, y, c, "#000000", 0.6),
            t(lang, key),
            &mut x,
            y,
        );
    }
    if located.iter().any(|v| v.state == "single_source") {
        let ring = circle(x + 4.0, y, "#ffffff", "#d7301f", 2.0);
        entry(&mut items, ring, t(lang, "single_source"), &mut x, y);
    }
    if located
        .iter()
        .any(|v| matches!(v.state.as_str(), "verified" | "published"))
    {
        let heavy = circle(x + 4.0, y, "#d7301f", "#000000", 2.0);
        entry(&mut items, heavy, t(lang, "verified_mark"), &mut x, y);
    }
    items
}

/// Markers closer than this (figure units) share one label.
const LABEL_CLUSTER: f64 = 9.0;

/// The labels of numbered markers `(x, y, n)` on a map, none over another or over a marker:
/// markers closer than [`LABEL_CLUSTER`] share one label ("16, 19, 22" or "40–44"); each label
/// goes to the first free place of eight around its markers, then further out with a leader
/// line; where none is free, to the least crowded of them. Greedy, in the markers' order, so
/// the same incidents always give the same picture.
fn marker_labels(marks: &[(f64, f64, usize)], w: f64, h: f64) -> Vec<Item> {
    const SIZE: f64 = 9.0;
    const R: f64 = 5.0;
    // Clusters: each mark joins the first cluster whose first mark is close enough.
    let mut clusters: Vec<(f64, f64, Vec<usize>)> = Vec::new();
    for &(x, y, n) in marks {
        match clusters
            .iter_mut()
            .find(|c| (c.0 - x).hypot(c.1 - y) < LABEL_CLUSTER)
        {
            Some(c) => c.2.push(n),
            None => clusters.push((x, y, vec![n])),
        }
    }
    type Rect = (f64, f64, f64, f64);
    let overlap = |a: Rect, b: Rect| {
        let dx = (a.0 + a.2).min(b.0 + b.2) - a.0.max(b.0);
        let dy = (a.1 + a.3).min(b.1 + b.3) - a.1.max(b.1);
        if dx > 0.0 && dy > 0.0 { dx * dy } else { 0.0 }
    };
    let mut taken: Vec<Rect> = marks
        .iter()
        .map(|&(x, y, _)| (x - R, y - R, 2.0 * R, 2.0 * R))
        .collect();
    let mut items = Vec::new();
    for (cx, cy, ns) in clusters {
        let text = number_runs(&ns);
        let tw = figure_text_width(&text, SIZE);
        let th = SIZE;
        // Candidate top-left corners: beside the marker, then twice as far (with a leader).
        let mut candidates = Vec::new();
        for (step, lead) in [(1.0, false), (2.6, true)] {
            let d = (R + 2.0) * step;
            for (ox, oy) in [
                (d, -th - d / 2.0 + th / 2.0),
                (d, -th / 2.0),
                (-d - tw, -th / 2.0),
                (-tw / 2.0, -d - th),
                (-tw / 2.0, d),
                (d, d / 2.0),
                (-d - tw, -th - d / 2.0 + th / 2.0),
                (-d - tw, d / 2.0),
            ] {
                candidates.push(((cx + ox, cy + oy, tw, th), lead));
            }
        }
        let fits = |r: &Rect| r.0 >= 0.0 && r.1 >= 0.0 && r.0 + r.2 <= w && r.1 + r.3 <= h;
        let crowd = |r: &Rect| taken.iter().map(|t| overlap(*r, *t)).sum::<f64>();
        let chosen = candidates
            .iter()
            .find(|(r, _)| fits(r) && crowd(r) == 0.0)
            .or_else(|| {
                candidates.iter().filter(|(r, _)| fits(r)).min_by(|a, b| {
                    crowd(&a.0)
                        .partial_cmp(&crowd(&b.0))
                        .unwrap_or(std::cmp::Ordering::Equal)
                })
            })
            .copied()
            .unwrap_or(candidates[0]);
        let (r, lead) = chosen;
        if lead {
            // From the marker's edge to the label's nearest point.
            let (tx, ty) = (cx.clamp(r.0, r.0 + r.2), cy.clamp(r.1, r.1 + r.3));
            let d = (tx - cx).hypot(ty - cy).max(1e-9);
            items.push(Item::Path {
                rings: vec![vec![
                    (cx + (tx - cx) / d * R, cy + (ty - cy) / d * R),
                    (tx, ty),
                ]],
                closed: false,
                fill: None,
                stroke: Some(("#555555", 0.5)),
                dashed: false,
                title: None,
            });
        }
        taken.push(r);
        items.push(Item::Text {
            x: r.0,
            y: r.1 + th * 0.8,
            size: SIZE,
            text,
        });
    }
    items
}

/// Numbers as runs: `[16, 19, 20, 21, 25]` → "16, 19–21, 25".
fn number_runs(ns: &[usize]) -> String {
    let mut ns = ns.to_vec();
    ns.sort_unstable();
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < ns.len() {
        let mut j = i;
        while j + 1 < ns.len() && ns[j + 1] == ns[j] + 1 {
            j += 1;
        }
        out.push(match j - i {
            0 => ns[i].to_string(),
            1 => format!("{}, {}", ns[i], ns[j]),
            _ => format!("{}–{}", ns[i], ns[j]),
        });
        i = j + 1;
    }
    out.join(", ")
}

/// Half the side of a spot report's inset at least, metres: enough to show the line and the
/// areas around a single incident.
const INSET_MIN_HALF_M: f64 = 8_000.0;

/// A spot report's map: an inset around the incident — its place, the contact line, the party
/// areas, zones and storage sites there; for the audiences shown them the origin of fire with
/// its 95 % ellipse and the incidents at the other end of its strike ↔ firing links; for staff
/// the observations of its evidence chain (bearings drawn as rays) — with a scale bar and a
/// legend naming what is drawn.
fn spot_map_figure(
    ledger: &Ledger,
    v: &IncidentView,
    evidence: &[EvidencePoint],
    full: bool,
    lang: Lang,
) -> Figure {
    let agreement = ledger.engine().agreement();
    let origin = v.origin.filter(|_| full);
    let links: Vec<&crate::view::LinkView> = if full {
        v.links.iter().flatten().collect()
    } else {
        Vec::new()
    };
    // What the inset must hold.
    let mut pts: Vec<[f64; 2]> = v.location.into_iter().collect();
    pts.extend(origin.map(|o| o.point));
    pts.extend(links.iter().filter_map(|l| l.location));
    pts.extend(evidence.iter().flat_map(|e| e.coordinates.iter().copied()));
    if pts.is_empty() {
        // Nothing to centre on (a firing known by one bearing, to an audience not shown the
        // sensor): the whole line, and a note saying why no marker is drawn.
        let mut f = map_figure(ledger, std::slice::from_ref(v), full, lang);
        let note = format!("{}: {}", v.id, t(lang, "not_located"));
        let nw = figure_text_width(&note, 11.0) + 16.0;
        f.items.push(Item::Rect {
            x: 8.0,
            y: 8.0,
            w: nw,
            h: 22.0,
            fill: "#ffffff",
            title: None,
        });
        f.items.push(Item::Text {
            x: 16.0,
            y: 23.0,
            size: 11.0,
            text: note,
        });
        return f;
    }
    let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for p in &pts {
        x0 = x0.min(p[0]);
        x1 = x1.max(p[0]);
        y0 = y0.min(p[1]);
        y1 = y1.max(p[1]);
    }
    let (cx, cy) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
    let k = cy.to_radians().cos();
    const M_PER_DEG: f64 = 111_320.0;
    // Half extents in metres, padded, at least INSET_MIN_HALF_M, at the figure's aspect.
    let aspect = MAP_W / MAP_H;
    let half_h = ((y1 - y0) / 2.0 * M_PER_DEG * 1.25).max(INSET_MIN_HALF_M);
    let half_w = ((x1 - x0) / 2.0 * M_PER_DEG * k * 1.25).max(INSET_MIN_HALF_M);
    // The taller of the two at the figure's aspect holds both.
    let half_h = half_h.max(half_w / aspect);
    let scale = MAP_H / (2.0 * half_h); // figure units per metre
    let px = |p: [f64; 2]| {
        (
            MAP_W / 2.0 + (p[0] - cx) * M_PER_DEG * k * scale,
            MAP_H / 2.0 - (p[1] - cy) * M_PER_DEG * scale,
        )
    };
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
    let inside = |(x, y): (f64, f64)| (0.0..=MAP_W).contains(&x) && (0.0..=MAP_H).contains(&y);
    for site in &agreement.storage_sites {
        let (x, y) = px(site.location);
        if inside((x, y)) {
            items.push(Item::Rect {
                x: x - 3.5,
                y: y - 3.5,
                w: 7.0,
                h: 7.0,
                fill: "#238b45",
                title: Some(site.name.clone()),
            });
            items.push(Item::Text {
                x: x + 6.0,
                y: y + 3.0,
                size: 8.0,
                text: site.name.clone(),
            });
        }
    }
    // Labels of the party areas at the inset's corners would mislead; the legend names them.
    let text = |x: f64, y: f64, size: f64, t: String| Item::Text {
        x,
        y,
        size,
        text: t,
    };
    // The evidence chain (staff): bearings as rays, points as small squares with their seq.
    for e in evidence {
        let Some(&first) = e.coordinates.first() else {
            continue;
        };
        let (ex, ey) = px(first);
        if let Some(az) = e.bearing_deg {
            let reach = origin
                .map(|o| {
                    let (ox, oy) = px(o.point);
                    ((ox - ex).powi(2) + (oy - ey).powi(2)).sqrt() * 1.2
                })
                .unwrap_or(MAP_W)
                .max(40.0);
            let (s, c) = az.to_radians().sin_cos();
            items.push(Item::Path {
                rings: vec![vec![(ex, ey), (ex + s * reach, ey - c * reach)]],
                closed: false,
                fill: None,
                stroke: Some(("#2171b5", 1.0)),
                dashed: false,
                title: Some(format!("seq {} {} {az:.1}°", e.seq, e.kind)),
            });
        }
        if e.coordinates.len() > 1 {
            items.push(Item::Path {
                rings: vec![ring(&e.coordinates)],
                closed: false,
                fill: None,
                stroke: Some(("#2171b5", 1.0)),
                dashed: true,
                title: Some(format!("seq {} {}", e.seq, e.kind)),
            });
        }
        items.push(Item::Rect {
            x: ex - 2.5,
            y: ey - 2.5,
            w: 5.0,
            h: 5.0,
            fill: "#2171b5",
            title: Some(format!("seq {} {}", e.seq, e.kind)),
        });
        items.push(text(ex + 4.0, ey + 11.0, 9.0, e.seq.to_string()));
    }
    let here = v.location.map(px);
    if let Some(o) = origin {
        let (ox, oy) = px(o.point);
        if let Some((x, y)) = here {
            items.push(Item::Path {
                rings: vec![vec![(ox, oy), (x, y)]],
                closed: false,
                fill: None,
                stroke: Some(("#444444", 1.0)),
                dashed: true,
                title: None,
            });
        }
        let e = &o.ellipse_95;
        items.push(Item::Ellipse {
            x: ox,
            y: oy,
            rx: (e.semi_minor_m * scale).max(1.0),
            ry: (e.semi_major_m * scale).max(1.0),
            rotate_deg: e.azimuth_deg,
            stroke: "#000000",
        });
    }
    for l in &links {
        let Some(p) = l.location else { continue };
        let (lx, ly) = px(p);
        if let Some((x, y)) = here {
            items.push(Item::Path {
                rings: vec![vec![(x, y), (lx, ly)]],
                closed: false,
                fill: None,
                stroke: Some(("#7a0177", 1.2)),
                dashed: true,
                title: Some(l.basis.clone()),
            });
        }
        items.push(Item::Circle {
            x: lx,
            y: ly,
            r: 4.0,
            fill: "#ffffff",
            stroke: ("#7a0177", 1.5),
            title: Some(l.incident.clone()),
        });
        items.push(text(lx + 6.0, ly - 4.0, 9.0, l.incident.clone()));
    }
    if let Some((x, y)) = here {
        let (fill, stroke, width) = incident_marker(v);
        items.push(Item::Circle {
            x,
            y,
            r: 7.0,
            fill,
            stroke: (stroke, width.max(1.0)),
            title: Some(v.id.clone()),
        });
        items.push(text(x + 9.0, y - 6.0, 11.0, v.id.clone()));
    }
    // The origin's cross on top: a firing incident's place is its origin.
    if let Some(o) = origin {
        let (ox, oy) = px(o.point);
        items.push(Item::Path {
            rings: vec![
                vec![(ox - 5.0, oy - 5.0), (ox + 5.0, oy + 5.0)],
                vec![(ox - 5.0, oy + 5.0), (ox + 5.0, oy - 5.0)],
            ],
            closed: false,
            fill: None,
            stroke: Some(("#000000", 1.5)),
            dashed: false,
            title: Some(t(lang, "origin").to_string()),
        });
    }
    // A white band at the foot, two rows: the scale bar and the party areas, then the
    // symbols drawn.
    let band = LEGEND_BAND;
    items.push(Item::Rect {
        x: 0.0,
        y: MAP_H - band,
        w: MAP_W,
        h: band,
        fill: "#ffffff",
        title: None,
    });
    let bar_m = [1_000.0, 2_000.0, 5_000.0, 10_000.0, 20_000.0, 50_000.0]
        .into_iter()
        .find(|m| m * scale >= MAP_W / 8.0)
        .unwrap_or(50_000.0);
    let (bx, by) = (10.0, MAP_H - 22.0);
    items.push(Item::Path {
        rings: vec![vec![
            (bx, by - 4.0),
            (bx, by),
            (bx + bar_m * scale, by),
            (bx + bar_m * scale, by - 4.0),
        ]],
        closed: false,
        fill: None,
        stroke: Some(("#000000", 1.2)),
        dashed: false,
        title: None,
    });
    items.push(text(
        bx + bar_m * scale + 4.0,
        by,
        9.0,
        format!("{:.0} km", bar_m / 1000.0),
    ));
    let mut lx = bx + bar_m * scale + 50.0;
    for (i, party) in agreement.parties.iter().enumerate() {
        items.push(Item::Rect {
            x: lx,
            y: by - 8.0,
            w: 10.0,
            h: 8.0,
            fill: fills[i % fills.len()],
            title: None,
        });
        let label = format!("{} ({})", party.name, party.id);
        lx += 14.0 + figure_text_width(&label, 9.0) + 14.0;
        items.push(text(
            lx - figure_text_width(&label, 9.0) - 14.0,
            by,
            9.0,
            label,
        ));
    }
    // The legend: each swatch drawn at its place, then its label.
    let by = MAP_H - 7.0;
    let mut entries = vec![(0, t(lang, "contact_line"))];
    if here.is_some() {
        entries.push((1, t(lang, "id")));
    }
    if origin.is_some() {
        entries.push((2, t(lang, "origin")));
    }
    if links.iter().any(|l| l.location.is_some()) {
        entries.push((3, t(lang, "linked")));
    }
    if !evidence.is_empty() {
        entries.push((4, t(lang, "observations_bearings")));
    }
    let mut lx = bx;
    let y = by - 3.0;
    for (swatch, label) in entries {
        items.push(match swatch {
            0 => Item::Path {
                rings: vec![vec![(lx, y), (lx + 9.0, y)]],
                closed: false,
                fill: None,
                stroke: Some(("#b0001e", 2.0)),
                dashed: false,
                title: None,
            },
            1 => Item::Circle {
                x: lx + 4.0,
                y,
                r: 4.0,
                fill: "#d7301f",
                stroke: ("#000000", 0.6),
                title: None,
            },
            2 => Item::Ellipse {
                x: lx + 4.0,
                y,
                rx: 2.5,
                ry: 5.0,
                rotate_deg: 60.0,
                stroke: "#000000",
            },
            3 => Item::Circle {
                x: lx + 4.0,
                y,
                r: 3.5,
                fill: "#ffffff",
                stroke: ("#7a0177", 1.5),
                title: None,
            },
            _ => Item::Rect {
                x: lx + 1.5,
                y: y - 2.5,
                w: 5.0,
                h: 5.0,
                fill: "#2171b5",
                title: None,
            },
        });
        items.push(text(lx + 12.0, by, 9.0, label.to_string()));
        lx += 12.0 + figure_text_width(label, 9.0) + 14.0;
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

/// Bars per 25 km sector of the line: the day's incidents in possible breach, stacked by kind
/// (explosions and impacts, firing and launches, other, kind not shown), with a legend.
/// The last bar, apart, holds the incidents with no place on the line.
/// Every sector of the line (`sectors` of them) has its slot, so the bars stand where their
/// sectors are along the line; the bar apart stands after a gap.
fn sector_figure(
    by_sector: &[SectorCount],
    no_place: &KindCounts,
    sectors: usize,
    lang: Lang,
) -> Figure {
    let slot_of = |km: f64| (km / truce_fusion::coverage::SECTOR_KM).round() as usize;
    // (slot, counts, tooltip)
    let mut bars: Vec<(usize, [usize; 4], String)> = by_sector
        .iter()
        .map(|s| {
            (
                slot_of(s.from_km),
                s.counts.as_array(),
                format!("{:.0}–{:.0} km", s.from_km, s.to_km),
            )
        })
        .collect();
    let mut slots = sectors.max(bars.iter().map(|b| b.0 + 1).max().unwrap_or(1));
    let apart = no_place.as_array().iter().sum::<usize>() > 0;
    if apart {
        bars.push((
            slots + 1,
            no_place.as_array(),
            t(lang, "no_place").to_string(),
        ));
        slots += 2;
    }
    let by_sector = &bars;
    let counts = |s: &(usize, [usize; 4], String)| s.1;
    let kinds = [
        (t(lang, "explosions_impacts"), "#d7301f"),
        (t(lang, "firing_launches"), "#4575b4"),
        (t(lang, "other_kinds"), "#999999"),
        (t(lang, "kind_not_shown"), "#8c6bb1"),
    ];
    let max = by_sector
        .iter()
        .map(|s| counts(s).iter().sum::<usize>())
        .max()
        .unwrap_or(0)
        .max(1);
    let (left, bottom, top) = (40.0, CHART_H - 30.0, 34.0);
    let bw = ((CHART_W - left - 10.0) / slots as f64).min(60.0);
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
    // The legend names only the kinds drawn.
    let used: Vec<usize> = (0..kinds.len())
        .filter(|&k| by_sector.iter().any(|s| counts(s)[k] > 0))
        .collect();
    let mut lx = left;
    for &k in &used {
        let (name, colour) = kinds[k];
        items.push(Item::Rect {
            x: lx,
            y: 6.0,
            w: 10.0,
            h: 10.0,
            fill: colour,
            title: None,
        });
        items.push(text(lx + 14.0, 15.0, name.to_string()));
        lx += 14.0 + figure_text_width(name, 10.0) + 16.0;
    }
    // The km at the start of every other sector along the axis, and the bar apart's name.
    for slot in (0..sectors).step_by(2) {
        items.push(text(
            left + slot as f64 * bw + 2.0,
            bottom + 14.0,
            format!("{:.0}", slot as f64 * truce_fusion::coverage::SECTOR_KM),
        ));
    }
    if apart {
        let name = t(lang, "no_place");
        items.push(text(
            (left + (sectors + 1) as f64 * bw + 2.0)
                .min(CHART_W - figure_text_width(name, 10.0) - 4.0),
            bottom + 14.0,
            name.to_string(),
        ));
    }
    for s in by_sector.iter() {
        let x = left + s.0 as f64 * bw;
        let mut y = bottom;
        for (k, c) in counts(s).into_iter().enumerate() {
            if c == 0 {
                continue;
            }
            let h = c as f64 / max as f64 * (bottom - top);
            y -= h;
            items.push(Item::Rect {
                x: x + 2.0,
                y,
                w: (bw - 4.0).max(1.0),
                h,
                fill: kinds[k].1,
                title: Some(format!("{}, {}: {c}", s.2, kinds[k].0)),
            });
        }
        let total: usize = counts(s).iter().sum();
        items.push(text(x + 2.0, y - 3.0, total.to_string()));
    }
    Figure {
        w: CHART_W,
        h: CHART_H,
        background: "#ffffff",
        items,
    }
}

/// An incident's place in a table: latitude, longitude to 4 decimals (about 10 m), or that it
/// has none (a firing known only by a bearing, say) — never an empty cell.
fn place_text(location: Option<[f64; 2]>, lang: Lang) -> String {
    match location {
        Some(p) => format!("{:.4}, {:.4}", p[1], p[0]),
        None => t(lang, "not_located").to_string(),
    }
}

/// About how wide `text` is at `size` in figure units (DejaVu Sans averages ~0.6 em a
/// character), to space a legend.
fn figure_text_width(text: &str, size: f64) -> f64 {
    text.chars().count() as f64 * size * 0.6
}

/// Bars per day, stacked by party area.
/// `blank` names the series whose key is empty (incidents outside every party area, or all
/// of them where the audience is not shown areas).
fn chart_figure(per_day: &BTreeMap<NaiveDate, BTreeMap<String, usize>>, blank: &str) -> Figure {
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
    // Each legend entry as wide as its name (a rule's id may be long).
    let mut x = left + 10.0 - 80.0;
    let mut width = 0.0;
    for a in areas.iter() {
        let name = if a.is_empty() { blank } else { a };
        x += (14.0 + width + 12.0_f64).max(80.0);
        width = figure_text_width(name, 10.0);
        items.push(Item::Rect {
            x,
            y: 4.0,
            w: 10.0,
            h: 10.0,
            fill: colour(a),
            title: None,
        });
        items.push(text(x + 14.0, 13.0, name.to_string()));
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
        if !n.by_sector.is_empty() || n.by_sector_no_place.as_array().iter().sum::<usize>() > 0 {
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
                    place_text(v.location, lang),
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
                    place_text(v.location, lang),
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
            if !n.evidence.is_empty() {
                let rows: Vec<Vec<String>> = n
                    .evidence
                    .iter()
                    .map(|e| {
                        vec![
                            e.seq.to_string(),
                            e.kind.clone(),
                            e.observed_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                            e.coordinates
                                .first()
                                .map(|p| format!("{:.4}, {:.4}", p[1], p[0]))
                                .unwrap_or_default(),
                            e.bearing_deg
                                .map(|b| format!("{b:.1}°"))
                                .unwrap_or_default(),
                        ]
                    })
                    .collect();
                table(
                    &mut h,
                    &[
                        "seq",
                        t(lang, "kind"),
                        t(lang, "time"),
                        t(lang, "place"),
                        t(lang, "bearing"),
                    ],
                    &rows,
                );
            }
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

    #[test]
    fn numbers_are_written_as_runs() {
        assert_eq!(number_runs(&[25, 16, 19, 20, 21]), "16, 19–21, 25");
        assert_eq!(number_runs(&[3, 4]), "3, 4");
        assert_eq!(number_runs(&[7]), "7");
    }

    /// A dense knot of markers and a few apart: markers closer than LABEL_CLUSTER share a
    /// label, and no two labels overlap while there is room.
    #[test]
    fn map_labels_do_not_overlap() {
        let mut marks = vec![];
        for i in 0..6 {
            marks.push((300.0 + i as f64 * 3.0, 200.0 + i as f64 * 2.0, i + 1));
        }
        for i in 0..12 {
            marks.push((100.0 + i as f64 * 12.0, 100.0, i + 7));
        }
        let items = marker_labels(&marks, 800.0, 520.0);
        let rects: Vec<(f64, f64, f64, String)> = items
            .iter()
            .filter_map(|i| match i {
                Item::Text { x, y, size, text } => {
                    Some((*x, *y, figure_text_width(text, *size), text.clone()))
                }
                _ => None,
            })
            .collect();
        let texts: Vec<&str> = rects.iter().map(|r| r.3.as_str()).collect();
        assert!(
            texts.contains(&"1–3") || texts.contains(&"1–6"),
            "{texts:?}"
        );
        let numbered: usize = texts
            .iter()
            .flat_map(|t| t.split(", "))
            .map(|run| match run.split_once('–') {
                Some((a, b)) => b.parse::<usize>().unwrap() - a.parse::<usize>().unwrap() + 1,
                None => 1,
            })
            .sum();
        assert_eq!(numbered, 18, "every marker numbered once: {texts:?}");
        for (i, a) in rects.iter().enumerate() {
            for b in &rects[i + 1..] {
                let apart =
                    a.0 + a.2 <= b.0 || b.0 + b.2 <= a.0 || a.1 <= b.1 - 9.0 || b.1 <= a.1 - 9.0;
                assert!(apart, "{} over {}", a.3, b.3);
            }
        }
    }

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
