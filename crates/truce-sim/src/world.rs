//! The true events: what really happens along the line, before any sensor looks.
//!
//! Each kind of event has its own generator and random stream. Firing comes in episodes around a
//! few hotspots, mostly in the evening and at night (as the OSCE mission's daily reports counted
//! it); an episode is a firing position 3–20 km behind the line and one to three impact areas
//! across it, within the weapon's range, and half the time the other side returns fire. Windows
//! of silence suppress firing. Heavy weapons appear inside their withdrawal distance only after
//! their class's deadline; works and weapons appear inside disengagement zones; a column crosses
//! the line; teams are turned back at checkpoints; storage sites are inspected, once found short;
//! farmers burn fields far from the line. Every kind with a violation happens at least once per
//! run when the terms and the period allow it, so a demo always shows each.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use truce_geo::{LonLat, distance_m};

use crate::network::{TEAMS, team_for};
use crate::rng::{
    Rng, Stream, chance, exponential, index, int, normal, poisson, scatter, stream, time_between,
    uniform,
};
use crate::sources::satellite::FIRMS_PIXEL_KM;
use crate::sun::local_hour;
use crate::theatre::Theatre;
use crate::truth::EventKind;

/// Firing episodes started per day along the whole line (responses come on top). The OSCE
/// mission logged hundreds of explosions a day in bad weeks; an episode here is one battery's
/// fire mission, which such logs count as many explosions.
const EPISODES_PER_DAY: f64 = 6.0;
/// Chance that the side fired upon returns fire.
const RESPONSE_P: f64 = 0.5;
/// Delay before returned fire, minutes.
const RESPONSE_DELAY_MIN: (f64, f64) = (5.0, 40.0);
/// Number of hotspots (stretches where most firing happens), and the share of episodes there.
const HOTSPOTS: usize = 4;
const HOTSPOT_SHARE: f64 = 0.7;
/// Spread of episodes around a hotspot, as a fraction of the line's length (≈ 6 km on 2015's).
const HOTSPOT_SPREAD: f64 = 0.015;
/// Relative chance of an episode starting in each local solar hour: mostly evening and night.
const LOCAL_HOUR_WEIGHTS: [f64; 24] = [
    3.0, 3.0, 2.0, 2.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 4.0,
    5.0, 5.0, 5.0, 4.0, 4.0,
];
/// Farthest an aim point lies across the line, metres: targets are forward positions and the
/// villages just behind them.
const MAX_IMPACT_DEPTH_M: f64 = 10_000.0;
/// Nearest an aim point lies across the line, metres.
const MIN_IMPACT_DEPTH_M: f64 = 500.0;
/// Spread of impact areas around the aim point, metres (adjustments between salvoes).
const IMPACT_SPREAD_M: f64 = 250.0;
/// Gap between successive salvoes of one episode, seconds.
const SALVO_GAP_S: (f64, f64) = (120.0, 360.0);
/// Time of flight of a round, seconds (tens of seconds at these ranges).
const FLIGHT_S: (f64, f64) = (15.0, 70.0);
/// How long a fire started by an impact burns, on average, hours.
const IMPACT_FIRE_MEAN_H: f64 = 2.0;
/// Mean fire radiative power of a fire set by an impact, and of a field fire, MW: most VIIRS
/// fire pixels are a few megawatts, few reach tens.
const IMPACT_FIRE_MEAN_MW: f64 = 3.0;
const FIELD_FIRE_MEAN_MW: f64 = 8.0;
/// Bounds on a fire's radiative power, MW.
const FIRE_MW: (f64, f64) = (0.5, 40.0);

/// Heavy-weapon sightings per day after the deadline, all classes together.
const HEAVY_WEAPONS_PER_DAY: f64 = 3.0;
/// How long heavy weapons stay in a forbidden position, hours.
const HEAVY_WEAPON_STAY_H: (f64, f64) = (4.0, 36.0);
/// Margin kept inside the withdrawal distance (and from the line), metres, so a position is
/// unambiguously forbidden whatever a sensor's error.
const WITHDRAWAL_MARGIN_M: f64 = 2_000.0;
/// Disengagement breaches per day.
const DISENGAGEMENT_PER_DAY: f64 = 0.4;
/// Line crossings per day.
const CROSSINGS_PER_DAY: f64 = 0.3;
/// Vertex spacing of a crossing track, metres (a GPS fix every half minute at 25 km/h).
const TRACK_STEP_M: f64 = 200.0;
/// Sideways wander of a track's vertices, metres (roads, tree lines).
const TRACK_WANDER_M: f64 = 30.0;
/// Access denials per day.
const ACCESS_DENIALS_PER_DAY: f64 = 0.7;
/// Chance of one storage inspection a day, and of a second.
const INSPECTION_P: (f64, f64) = (0.9, 0.3);
/// Agricultural fires per day over the whole FIRMS box (early spring stubble burning).
const AGRICULTURAL_FIRES_PER_DAY: f64 = 10.0;
/// Nearest an agricultural fire is to the line, metres: farther than any shelling reaches.
const AGRICULTURAL_MIN_FROM_LINE_M: f64 = 30_000.0;
/// Local solar hours in which farmers set fields alight: late morning and early afternoon,
/// when the stubble is driest (which is why the early-afternoon VIIRS pass sees so many).
const FIELD_BURNING_HOURS: std::ops::Range<u32> = 9..15;
/// Mean burning time of a field fire, hours.
const AGRICULTURAL_FIRE_MEAN_H: f64 = 4.0;
/// Margin around the contact line's bounding box that the FIRMS download covers, degrees
/// [lon, lat]; the bundled real download for the same area spans about this much.
pub(crate) const FIRMS_BOX_MARGIN_DEG: [f64; 2] = [0.7, 0.5];
/// Windows of silence per day: one, and a second with this chance.
const QUIET_SECOND_P: f64 = 0.5;
/// Length of a window of silence, hours.
const QUIET_HOURS: (f64, f64) = (3.0, 8.0);

/// The simulated period: `days` whole days from `start`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Period {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub days: u32,
}

impl Period {
    pub fn new(start: DateTime<Utc>, days: u32) -> Period {
        Period {
            start,
            end: start + TimeDelta::days(i64::from(days)),
            days,
        }
    }

    /// Start and end of day `k` (0-based).
    pub fn day(&self, k: u32) -> (DateTime<Utc>, DateTime<Utc>) {
        let from = self.start + TimeDelta::days(i64::from(k));
        (from, from + TimeDelta::days(1))
    }

    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.start <= t && t < self.end
    }
}

/// What fired, in a firing episode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ordnance {
    Mortar,
    Gun,
    Rockets,
}

/// A weapon system that fires in episodes.
struct Launcher {
    model: &'static str,
    class: &'static str,
    ordnance: Ordnance,
    /// Maximum range, metres.
    range_m: f64,
    /// Distance of its firing positions from the line, metres.
    from_line_m: (f64, f64),
    /// Weapons in the battery.
    tubes: (u32, u32),
    /// Rounds (rockets) per salvo.
    rounds: (u32, u32),
    /// Chance that a salvo sets the ground on fire.
    ignite_p: f64,
    /// Relative frequency.
    weight: f64,
}

/// The weapons that fire, with their published maximum ranges.
const LAUNCHERS: [Launcher; 5] = [
    Launcher {
        model: "2B11 120 mm mortar",
        class: "mortar_120mm",
        ordnance: Ordnance::Mortar,
        range_m: 7_100.0,
        from_line_m: (3_000.0, 5_000.0),
        tubes: (1, 3),
        rounds: (3, 12),
        ignite_p: 0.08,
        weight: 0.45,
    },
    Launcher {
        model: "2S1 Gvozdika 122 mm self-propelled howitzer",
        class: "artillery_100mm_plus",
        ordnance: Ordnance::Gun,
        range_m: 15_200.0,
        from_line_m: (5_000.0, 12_000.0),
        tubes: (2, 4),
        rounds: (2, 10),
        ignite_p: 0.15,
        weight: 0.15,
    },
    Launcher {
        model: "D-30 122 mm towed howitzer",
        class: "artillery_100mm_plus",
        ordnance: Ordnance::Gun,
        range_m: 15_400.0,
        from_line_m: (5_000.0, 12_000.0),
        tubes: (2, 4),
        rounds: (2, 10),
        ignite_p: 0.15,
        weight: 0.12,
    },
    Launcher {
        model: "2S3 Akatsiya 152 mm self-propelled howitzer",
        class: "artillery_100mm_plus",
        ordnance: Ordnance::Gun,
        range_m: 18_500.0,
        from_line_m: (6_000.0, 15_000.0),
        tubes: (2, 4),
        rounds: (2, 8),
        ignite_p: 0.15,
        weight: 0.08,
    },
    Launcher {
        model: "BM-21 Grad 122 mm multiple rocket launcher",
        class: "mlrs",
        ordnance: Ordnance::Rockets,
        range_m: 20_400.0,
        from_line_m: (8_000.0, 18_000.0),
        tubes: (1, 2),
        rounds: (10, 40),
        ignite_p: 0.35,
        weight: 0.20,
    },
];

/// The systems a declared class is seen as, by class id; other classes use their name.
fn models_of(class: &str) -> &'static [&'static str] {
    match class {
        "artillery_100mm_plus" => &[
            "2S1 Gvozdika 122 mm self-propelled howitzer",
            "D-30 122 mm towed howitzer",
            "2S3 Akatsiya 152 mm self-propelled howitzer",
            "2A65 Msta-B 152 mm towed howitzer",
        ],
        "mlrs" => &["BM-21 Grad 122 mm multiple rocket launcher"],
        "heavy_mlrs_tochka" => &[
            "BM-27 Uragan 220 mm multiple rocket launcher",
            "BM-30 Smerch 300 mm multiple rocket launcher",
            "9K79 Tochka-U tactical missile launcher",
        ],
        _ => &[],
    }
}

/// Weapons seen or used in an event.
#[derive(Debug, Clone)]
pub(crate) struct Weapon {
    pub class: String,
    pub count: u32,
    pub model: String,
}

/// A fire burning, which a satellite pass may see.
#[derive(Debug, Clone)]
pub(crate) struct Burn {
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// 375 m pixels the fire covers.
    pub pixels: u32,
    /// Fire radiative power per pixel, megawatts.
    pub frp_mw: f64,
}

/// What an inspection found at a storage site.
#[derive(Debug, Clone)]
pub(crate) struct Finding {
    pub site: String,
    pub counts: BTreeMap<String, u32>,
    pub serials_seen: BTreeMap<String, Vec<String>>,
}

/// One true event, with what the sources need to observe it.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    /// `ev-0001` …, given once all events are in time order.
    pub id: String,
    pub kind: EventKind,
    pub time: DateTime<Utc>,
    pub end: Option<DateTime<Utc>>,
    pub location: LonLat,
    pub party: Option<String>,
    pub violation: bool,
    pub weapon: Option<Weapon>,
    pub ordnance: Option<Ordnance>,
    pub rounds: u32,
    pub zone: Option<String>,
    pub finding: Option<Finding>,
    pub track: Vec<(LonLat, DateTime<Utc>)>,
    /// Index (in the final order) of the firing event an impact came from.
    pub cause: Option<usize>,
    pub team: Option<&'static str>,
    pub burn: Option<Burn>,
    pub detail: String,
}

impl Event {
    fn new(kind: EventKind, time: DateTime<Utc>, location: LonLat, party: Option<&str>) -> Event {
        Event {
            id: String::new(),
            kind,
            time,
            end: None,
            location,
            party: party.map(str::to_string),
            violation: false,
            weapon: None,
            ordnance: None,
            rounds: 0,
            zone: None,
            finding: None,
            track: Vec::new(),
            cause: None,
            team: None,
            burn: None,
            detail: String::new(),
        }
    }

    /// Whether the thing is there (a weapon in place, works standing) at any time in `[from, to)`.
    pub fn present_during(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> bool {
        self.time < to && self.end.is_none_or(|end| end > from)
    }
}

/// Everything the generators share.
struct Ctx<'t, 'a> {
    theatre: &'t Theatre<'a>,
    period: Period,
    seed: u64,
    parties: Vec<String>,
    quiet: Vec<(DateTime<Utc>, DateTime<Utc>)>,
}

impl Ctx<'_, '_> {
    fn rng(&self, s: Stream) -> Rng {
        stream(self.seed, s, 0)
    }

    fn random_party(&self, rng: &mut Rng) -> Option<String> {
        (!self.parties.is_empty()).then(|| self.parties[index(rng, self.parties.len())].clone())
    }

    fn violation_at(&self, t: DateTime<Utc>) -> bool {
        t >= self.theatre.terms.effective_at
    }

    fn is_quiet(&self, t: DateTime<Utc>) -> bool {
        self.quiet.iter().any(|(a, b)| *a <= t && t < *b)
    }

    /// At least one when `rate_per_day × days` allows any at all, else a Poisson count.
    fn at_least_one(&self, rng: &mut Rng, rate_per_day: f64, days: f64) -> u32 {
        poisson(rng, rate_per_day * days).max(u32::from(days > 0.0))
    }

    /// A time in `[from, to)` whose local solar hour (at `lon`) is in `hours`.
    fn time_in_hours(
        &self,
        rng: &mut Rng,
        (from, to): (DateTime<Utc>, DateTime<Utc>),
        lon: f64,
        hours: std::ops::Range<u32>,
    ) -> DateTime<Utc> {
        let mut t = time_between(rng, from, to);
        for _ in 0..100 {
            if hours.contains(&local_hour(t, lon)) {
                break;
            }
            t = time_between(rng, from, to);
        }
        t
    }
}

/// Generates every true event of the period, in time order with ids `ev-0001` ….
pub(crate) fn generate(theatre: &Theatre<'_>, period: Period, seed: u64) -> Vec<Event> {
    let mut ctx = Ctx {
        theatre,
        period,
        seed,
        parties: theatre.parties().map(str::to_string).collect(),
        quiet: Vec::new(),
    };
    let mut events = Vec::new();
    quiet_periods(&mut ctx, &mut events);
    fire_episodes(&ctx, &mut events);
    heavy_weapons(&ctx, &mut events);
    disengagement(&ctx, &mut events);
    crossings(&ctx, &mut events);
    access_denials(&ctx, &mut events);
    storage(&ctx, &mut events);
    agricultural_fires(&ctx, &mut events);
    in_time_order(events)
}

/// Sorts by time (then kind and place, so ties are stable), names `ev-0001` …, and points each
/// impact's `cause` at its firing event's new index.
fn in_time_order(events: Vec<Event>) -> Vec<Event> {
    let mut order: Vec<usize> = (0..events.len()).collect();
    order.sort_by(|&a, &b| {
        let (x, y) = (&events[a], &events[b]);
        x.time
            .cmp(&y.time)
            .then(x.kind.cmp(&y.kind))
            .then(x.location[0].total_cmp(&y.location[0]))
            .then(x.location[1].total_cmp(&y.location[1]))
    });
    let mut new_index = vec![0; events.len()];
    for (new, &old) in order.iter().enumerate() {
        new_index[old] = new;
    }
    let mut slots: Vec<Option<Event>> = events.into_iter().map(Some).collect();
    order
        .iter()
        .enumerate()
        .map(|(i, &old)| {
            let mut e = slots[old].take().expect("each event is taken once");
            e.id = format!("ev-{:04}", i + 1);
            e.cause = e.cause.map(|c| new_index[c]);
            e
        })
        .collect()
}

fn quiet_periods(ctx: &mut Ctx<'_, '_>, events: &mut Vec<Event>) {
    let mut rng = ctx.rng(Stream::QuietPeriods);
    let middle = ctx.theatre.at_fraction(0.5);
    for k in 0..ctx.period.days {
        let day = ctx.period.day(k);
        for _ in 0..1 + u32::from(chance(&mut rng, QUIET_SECOND_P)) {
            let from = time_between(&mut rng, day.0, day.1);
            let hours = uniform(&mut rng, QUIET_HOURS.0, QUIET_HOURS.1);
            let until = (from + TimeDelta::seconds((hours * 3600.0) as i64)).min(ctx.period.end);
            if ctx.quiet.iter().any(|(a, b)| from < *b && *a < until) {
                continue;
            }
            ctx.quiet.push((from, until));
            let mut e = Event::new(EventKind::QuietPeriod, from, middle, None);
            e.end = Some(until);
            e.detail = format!(
                "window of silence along the whole line for {hours:.1} h, agreed for repairs to water and power lines"
            );
            events.push(e);
        }
    }
}

fn pick_launcher(rng: &mut Rng) -> &'static Launcher {
    let total: f64 = LAUNCHERS.iter().map(|l| l.weight).sum();
    let mut x = uniform(rng, 0.0, total);
    for l in &LAUNCHERS {
        if x < l.weight {
            return l;
        }
        x -= l.weight;
    }
    &LAUNCHERS[0]
}

fn fire_episodes(ctx: &Ctx<'_, '_>, events: &mut Vec<Event>) {
    let mut rng = ctx.rng(Stream::FireEpisodes);
    let hotspots: Vec<f64> = {
        let mut h = ctx.rng(Stream::Hotspots);
        (0..HOTSPOTS).map(|_| uniform(&mut h, 0.05, 0.95)).collect()
    };
    let lon = ctx.theatre.at_fraction(0.5)[0];
    let weight_max = LOCAL_HOUR_WEIGHTS.iter().copied().fold(0.0, f64::max);
    for k in 0..ctx.period.days {
        let (from, to) = ctx.period.day(k);
        for _ in 0..poisson(&mut rng, EPISODES_PER_DAY) {
            // Rejection sampling on the hour weights, and away from windows of silence.
            let mut time = None;
            for _ in 0..200 {
                let t = time_between(&mut rng, from, to);
                let w = LOCAL_HOUR_WEIGHTS[local_hour(t, lon) as usize] / weight_max;
                if chance(&mut rng, w) && !ctx.is_quiet(t) {
                    time = Some(t);
                    break;
                }
            }
            let Some(time) = time else { continue };
            let centre = if chance(&mut rng, HOTSPOT_SHARE) {
                (hotspots[index(&mut rng, hotspots.len())], HOTSPOT_SPREAD)
            } else {
                (0.5, 1.0)
            };
            let Some(firer) = ctx.random_party(&mut rng) else {
                return;
            };
            let Some((s_m, target)) = episode(ctx, &mut rng, &firer, centre, time, false, events)
            else {
                continue;
            };
            if chance(&mut rng, RESPONSE_P) {
                let delay = uniform(&mut rng, RESPONSE_DELAY_MIN.0, RESPONSE_DELAY_MIN.1);
                let t = time + TimeDelta::seconds((delay * 60.0) as i64);
                if ctx.period.contains(t) && !ctx.is_quiet(t) {
                    let centre = (s_m / ctx.theatre.length_m, HOTSPOT_SPREAD / 2.0);
                    episode(ctx, &mut rng, &target, centre, t, true, events);
                }
            }
        }
    }
}

/// One fire mission by `firer`: the firing event and its impacts. Returns where along the line
/// it was (metres) and the party fired upon.
fn episode(
    ctx: &Ctx<'_, '_>,
    rng: &mut Rng,
    firer: &str,
    centre: (f64, f64),
    time: DateTime<Utc>,
    returned: bool,
    events: &mut Vec<Event>,
) -> Option<(f64, String)> {
    let th = ctx.theatre;
    let launcher = pick_launcher(rng);
    let (position, s_m) = th.place(rng, firer, centre, launcher.from_line_m)?;
    let target = th.across(s_m, firer)?.to_string();
    let depth_max = (launcher.range_m - th.distance_m(position) - IMPACT_SPREAD_M * 2.0)
        .min(MAX_IMPACT_DEPTH_M);
    if depth_max < MIN_IMPACT_DEPTH_M {
        return None;
    }
    let aim = (0..100).find_map(|_| {
        let along = s_m + normal(rng, 0.0, 1_500.0);
        let p = th.offset(along, &target, uniform(rng, MIN_IMPACT_DEPTH_M, depth_max))?;
        (distance_m(position, p) <= launcher.range_m - IMPACT_SPREAD_M * 2.0).then_some(p)
    })?;

    let tubes = int(rng, launcher.tubes.0, launcher.tubes.1);
    let salvoes = int(rng, 1, 3);
    let firing_index = events.len();
    let mut impacts = Vec::new();
    let mut t = time;
    let mut total_rounds = 0;
    for salvo in 0..salvoes {
        if salvo > 0 {
            t += TimeDelta::seconds(uniform(rng, SALVO_GAP_S.0, SALVO_GAP_S.1) as i64);
        }
        let landed = t + TimeDelta::seconds(uniform(rng, FLIGHT_S.0, FLIGHT_S.1) as i64);
        let Some(spot) = (0..20)
            .map(|_| scatter(rng, aim, IMPACT_SPREAD_M))
            .find(|p| {
                th.party_at(*p) == Some(target.as_str())
                    && th.distance_m(*p) >= MIN_IMPACT_DEPTH_M / 2.0
            })
        else {
            continue;
        };
        let rounds = int(rng, launcher.rounds.0, launcher.rounds.1);
        total_rounds += rounds;
        let mut e = Event::new(EventKind::Impact, landed, spot, Some(firer));
        e.violation = ctx.violation_at(landed);
        e.ordnance = Some(launcher.ordnance);
        e.rounds = rounds;
        e.cause = Some(firing_index);
        e.weapon = Some(Weapon {
            class: launcher.class.into(),
            count: tubes,
            model: launcher.model.into(),
        });
        if chance(rng, launcher.ignite_p) {
            let from = landed + TimeDelta::seconds(uniform(rng, 60.0, 600.0) as i64);
            let hours = exponential(rng, IMPACT_FIRE_MEAN_H).clamp(0.3, 8.0);
            e.burn = Some(Burn {
                from,
                until: from + TimeDelta::seconds((hours * 3600.0) as i64),
                pixels: 1 + u32::from(chance(rng, 0.2)),
                frp_mw: exponential(rng, IMPACT_FIRE_MEAN_MW).clamp(FIRE_MW.0, FIRE_MW.1),
            });
        }
        e.detail = format!(
            "{rounds} rounds from {firer}'s {} landed {:.1} km inside {target}-held area{}",
            launcher.model,
            th.distance_m(spot) / 1000.0,
            if e.burn.is_some() {
                ", setting the ground on fire"
            } else {
                ""
            }
        );
        impacts.push(e);
    }
    if impacts.is_empty() {
        return None;
    }
    let mut firing = Event::new(EventKind::Firing, time, position, Some(firer));
    firing.end = (t > time).then_some(t);
    firing.violation = ctx.violation_at(time);
    firing.ordnance = Some(launcher.ordnance);
    firing.rounds = total_rounds;
    firing.weapon = Some(Weapon {
        class: launcher.class.into(),
        count: tubes,
        model: launcher.model.into(),
    });
    firing.detail = format!(
        "{tubes} × {} {}fired {total_rounds} rounds in {salvoes} {} from {:.1} km behind the line in {firer}-held area",
        launcher.model,
        if returned { "returned fire: " } else { "" },
        if salvoes == 1 { "salvo" } else { "salvoes" },
        th.distance_m(position) / 1000.0
    );
    events.push(firing);
    events.extend(impacts);
    Some((s_m, target))
}

fn heavy_weapons(ctx: &Ctx<'_, '_>, events: &mut Vec<Event>) {
    let mut rng = ctx.rng(Stream::HeavyWeapons);
    let period = ctx.period;
    // Each class from its deadline (or the start) to the end of the period.
    let classes: Vec<_> = ctx
        .theatre
        .terms
        .weapon_classes
        .iter()
        .map(|c| (c, c.withdraw_by.max(period.start)))
        .filter(|(_, from)| *from < period.end - TimeDelta::hours(1))
        .collect();
    let Some(first) = classes.iter().map(|(_, from)| *from).min() else {
        return;
    };
    let days = (period.end - first).num_seconds() as f64 / 86_400.0;
    for _ in 0..ctx.at_least_one(&mut rng, HEAVY_WEAPONS_PER_DAY, days) {
        let (class, from) = classes[index(&mut rng, classes.len())];
        let Some(party) = ctx.random_party(&mut rng) else {
            return;
        };
        let limit_m = class.withdrawal_km * 1000.0;
        let band = if limit_m > 3.0 * WITHDRAWAL_MARGIN_M {
            (WITHDRAWAL_MARGIN_M, limit_m - WITHDRAWAL_MARGIN_M)
        } else {
            (0.2 * limit_m, 0.8 * limit_m)
        };
        let Some((p, _)) = ctx.theatre.place(&mut rng, &party, (0.5, 1.0), band) else {
            continue;
        };
        let time = time_between(&mut rng, from, period.end - TimeDelta::hours(1));
        let stay = uniform(&mut rng, HEAVY_WEAPON_STAY_H.0, HEAVY_WEAPON_STAY_H.1);
        let models = models_of(&class.id);
        let model = if models.is_empty() {
            class.name.clone()
        } else {
            models[index(&mut rng, models.len())].to_string()
        };
        let count = if model.contains("Tochka") {
            int(&mut rng, 1, 2)
        } else {
            int(&mut rng, 2, 6)
        };
        let mut e = Event::new(EventKind::HeavyWeapon, time, p, Some(&party));
        e.end = Some(time + TimeDelta::seconds((stay * 3600.0) as i64));
        e.violation = ctx.violation_at(time);
        e.detail = format!(
            "{count} × {model} {:.1} km from the line in {party}-held area; {} must be {} km back since {}",
            ctx.theatre.distance_m(p) / 1000.0,
            class.id,
            class.withdrawal_km,
            class.withdraw_by.format("%Y-%m-%d %H:%M UTC")
        );
        e.weapon = Some(Weapon {
            class: class.id.clone(),
            count,
            model,
        });
        events.push(e);
    }
}

fn disengagement(ctx: &Ctx<'_, '_>, events: &mut Vec<Event>) {
    let th = ctx.theatre;
    if th.zones.is_empty() {
        return;
    }
    let mut rng = ctx.rng(Stream::Disengagement);
    let period = ctx.period;
    for _ in 0..ctx.at_least_one(&mut rng, DISENGAGEMENT_PER_DAY, f64::from(period.days)) {
        let zone = &th.zones[index(&mut rng, th.zones.len())];
        let Some(p) = th.in_zone(&mut rng, zone) else {
            continue;
        };
        let party = th.party_at(p).map(str::to_string);
        let time = time_between(&mut rng, period.start, period.end - TimeDelta::hours(1));
        let zone_name = th
            .terms
            .zones
            .iter()
            .find(|z| z.id == zone.id)
            .map_or(zone.id.as_str(), |z| z.name.as_str());
        let held = party.as_deref().unwrap_or("no party");
        let mut e = Event::new(EventKind::DisengagementBreach, time, p, party.as_deref());
        e.zone = Some(zone.id.clone());
        e.violation = ctx.violation_at(time);
        if chance(&mut rng, 0.5) {
            let (class, model, count) = if chance(&mut rng, 0.5) {
                ("tank", "T-64BV main battle tank", int(&mut rng, 1, 3))
            } else {
                (
                    "artillery_100mm_plus",
                    "D-30 122 mm towed howitzer",
                    int(&mut rng, 1, 2),
                )
            };
            e.end = Some(time + TimeDelta::seconds((uniform(&mut rng, 2.0, 12.0) * 3600.0) as i64));
            e.detail = format!("{count} × {model} brought into the {zone_name} ({held}-held part)");
            e.weapon = Some(Weapon {
                class: class.into(),
                count,
                model: model.into(),
            });
        } else {
            e.detail =
                format!("new trenches and a dugout inside the {zone_name} ({held}-held part)");
        }
        events.push(e);
    }
}

fn crossings(ctx: &Ctx<'_, '_>, events: &mut Vec<Event>) {
    let th = ctx.theatre;
    let mut rng = ctx.rng(Stream::Crossings);
    let period = ctx.period;
    for _ in 0..ctx.at_least_one(&mut rng, CROSSINGS_PER_DAY, f64::from(period.days)) {
        let Some(party) = ctx.random_party(&mut rng) else {
            return;
        };
        let crossing = (0..200).find_map(|_| {
            let s_m = uniform(&mut rng, 0.05, 0.95) * th.length_m;
            let other = th.across(s_m, &party)?.to_string();
            let a = th.offset(s_m, &party, uniform(&mut rng, 2_000.0, 5_000.0))?;
            let b = th.offset(
                s_m + normal(&mut rng, 0.0, 500.0),
                &other,
                uniform(&mut rng, 1_000.0, 4_000.0),
            )?;
            let steps = (distance_m(a, b) / TRACK_STEP_M).ceil().max(2.0) as usize;
            let track: Vec<LonLat> = (0..=steps)
                .map(|i| {
                    let f = i as f64 / steps as f64;
                    let p = [a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f];
                    if i == 0 || i == steps {
                        p
                    } else {
                        scatter(&mut rng, p, TRACK_WANDER_M)
                    }
                })
                .collect();
            let crossings = th.line.crossings(&track);
            (crossings.len() % 2 == 1 && th.party_at(b) == Some(other.as_str()))
                .then(|| (track, crossings[0].point, other))
        });
        let Some((track, at, other)) = crossing else {
            continue;
        };
        let speed_m_s = uniform(&mut rng, 15.0, 30.0) / 3.6;
        let start = time_between(&mut rng, period.start, period.end - TimeDelta::hours(1));
        let mut t = start;
        let mut timed = Vec::with_capacity(track.len());
        for (i, p) in track.iter().enumerate() {
            if i > 0 {
                t += TimeDelta::seconds((distance_m(track[i - 1], *p) / speed_m_s).round() as i64);
            }
            timed.push((*p, t));
        }
        let vehicles = int(&mut rng, 2, 5);
        let mut e = Event::new(EventKind::LineCrossing, start, at, Some(&party));
        e.end = Some(t);
        e.violation = ctx.violation_at(start);
        e.weapon = Some(Weapon {
            class: "armoured_vehicle".into(),
            count: vehicles,
            model: "BMP-2 infantry fighting vehicle".into(),
        });
        e.detail = format!(
            "a column of {vehicles} BMP-2 crossed from {party}-held into {other}-held area"
        );
        e.track = timed;
        events.push(e);
    }
}

fn access_denials(ctx: &Ctx<'_, '_>, events: &mut Vec<Event>) {
    let th = ctx.theatre;
    let mut rng = ctx.rng(Stream::AccessDenials);
    let period = ctx.period;
    for _ in 0..ctx.at_least_one(&mut rng, ACCESS_DENIALS_PER_DAY, f64::from(period.days)) {
        let Some(party) = ctx.random_party(&mut rng) else {
            return;
        };
        let Some((p, _)) = th.place(&mut rng, &party, (0.5, 1.0), (1_000.0, 10_000.0)) else {
            continue;
        };
        let day = ctx.period.day(index(&mut rng, period.days as usize) as u32);
        let time = ctx.time_in_hours(&mut rng, day, p[0], 9..16);
        let team = team_for(th, p);
        let mut e = Event::new(EventKind::AccessDenied, time, p, Some(&party));
        e.violation = ctx.violation_at(time);
        e.team = Some(team);
        e.detail = format!(
            "{team} refused passage at a {party} checkpoint {:.1} km from the line",
            th.distance_m(p) / 1000.0
        );
        events.push(e);
    }
}

fn storage(ctx: &Ctx<'_, '_>, events: &mut Vec<Event>) {
    let sites = &ctx.theatre.terms.storage_sites;
    if sites.is_empty() || ctx.period.days == 0 {
        return;
    }
    let mut rng = ctx.rng(Stream::Storage);
    let mut visits = Vec::new();
    for k in 0..ctx.period.days {
        let n = u32::from(chance(&mut rng, INSPECTION_P.0))
            + u32::from(chance(&mut rng, INSPECTION_P.1));
        visits.extend((0..n).map(|_| k));
    }
    if visits.is_empty() {
        visits.push(index(&mut rng, ctx.period.days as usize) as u32);
    }
    let short = index(&mut rng, visits.len());
    for (i, day) in visits.into_iter().enumerate() {
        let site = &sites[index(&mut rng, sites.len())];
        let time = ctx.time_in_hours(&mut rng, ctx.period.day(day), site.location[0], 9..15);
        let team = TEAMS[index(&mut rng, TEAMS.len())];
        let mut counts = site.declared.clone();
        let mut serials_seen = site.serials.clone();
        let shortfall = (i == short)
            .then(|| {
                let classes: Vec<&String> = counts
                    .iter()
                    .filter(|(_, n)| **n >= 2)
                    .map(|(c, _)| c)
                    .collect();
                (!classes.is_empty()).then(|| classes[index(&mut rng, classes.len())].clone())
            })
            .flatten();
        let mut e = Event::new(EventKind::StorageInspection, time, site.location, None);
        e.team = Some(team);
        e.detail = format!(
            "{team} inspected {}: everything declared was there",
            site.name
        );
        if let Some(class) = shortfall {
            let declared = counts[&class];
            let missing = int(&mut rng, 1, (declared - 1).min(3));
            counts.insert(class.clone(), declared - missing);
            if let Some(serials) = serials_seen.get_mut(&class) {
                for _ in 0..missing.min(serials.len() as u32) {
                    serials.remove(index(&mut rng, serials.len()));
                }
            }
            e.kind = EventKind::StorageShortfall;
            e.party = Some(site.party.clone());
            e.violation = ctx.violation_at(time);
            e.detail = format!(
                "{team} inspected {}: {} of {declared} declared {class} present, {missing} missing",
                site.name,
                declared - missing
            );
        }
        e.finding = Some(Finding {
            site: site.id.clone(),
            counts,
            serials_seen,
        });
        events.push(e);
    }
}

fn agricultural_fires(ctx: &Ctx<'_, '_>, events: &mut Vec<Event>) {
    let th = ctx.theatre;
    let mut rng = ctx.rng(Stream::AgriculturalFires);
    let [w, s, e, n] = th.bbox;
    let [dlon, dlat] = FIRMS_BOX_MARGIN_DEG;
    let bbox = [w - dlon, s - dlat, e + dlon, n + dlat];
    for _ in 0..poisson(
        &mut rng,
        AGRICULTURAL_FIRES_PER_DAY * f64::from(ctx.period.days),
    ) {
        let Some(p) = th.on_land_away(&mut rng, bbox, AGRICULTURAL_MIN_FROM_LINE_M) else {
            continue;
        };
        let day = ctx
            .period
            .day(index(&mut rng, ctx.period.days as usize) as u32);
        let from = ctx.time_in_hours(&mut rng, day, p[0], FIELD_BURNING_HOURS);
        let hours = exponential(&mut rng, AGRICULTURAL_FIRE_MEAN_H).clamp(0.5, 10.0);
        let pixels = [1, 1, 1, 2, 2, 3][index(&mut rng, 6)];
        let mut ev = Event::new(EventKind::AgriculturalFire, from, p, None);
        let until = from + TimeDelta::seconds((hours * 3600.0) as i64);
        ev.end = Some(until);
        ev.burn = Some(Burn {
            from,
            until,
            pixels,
            frp_mw: exponential(&mut rng, FIELD_FIRE_MEAN_MW).clamp(FIRE_MW.0, FIRE_MW.1),
        });
        ev.detail = format!(
            "stubble burning over about {pixels} × {:.0} m, {:.0} km from the line, for {hours:.1} h",
            FIRMS_PIXEL_KM * 1000.0,
            th.distance_m(p) / 1000.0
        );
        events.push(ev);
    }
}
