//! Scoring incidents against the simulator's ground truth (`truth.json`), ours and a baseline's
//! alike: both become [`Claim`]s — "these observations are one event, there, then, by that
//! party" — and [`score`] holds the claims against the true events.
//!
//! # Matching rule (one-to-one, greedy, deterministic)
//!
//! A (claim, event) pair is a *candidate* when they share at least one observation id (the ids
//! the ingest gives, which `truth.json` lists per event). Candidates are taken in order of
//!
//! 1. most shared observations first,
//! 2. then the smaller geodesic distance between the claim's location and the event's (a
//!    claim without a location after every located one),
//! 3. then claim id, then event id (lexicographic),
//!
//! and a candidate is matched unless its claim or its event is already matched: each claim
//! and each event is used at most once.
//!
//! # Metrics
//!
//! - **precision** = matched / claims (a claim made of noise, or a second claim of an event
//!   already matched, counts against);
//! - **recall** = matched / observable events, an event being observable when at least one of
//!   its observation ids is among the ids the scored claims hold (the scored run's
//!   observations: an event the run never received cannot be found);
//! - **F1** = 2PR / (P + R);
//! - **breach precision / recall / F1**: the same over breaches — claims that state a breach
//!   against observable true violations (a matched pair counts when both are);
//! - **attribution accuracy** = among matched events that have a true party, of the claims that
//!   state a party, the share stating the true one; **attribution coverage** = of the
//!   observable *attributable* events ([`Truth::mark_attributable`]: the run holds evidence
//!   that could name the party), the share whose matched claim states a party — both, so a
//!   scorer that states little and a scorer that states wrongly are both visible;
//! - **noise claims** (no observation of any true event), **duplicate claims** (unmatched,
//!   sharing observations with a true event: a second incident of one event) and claims
//!   **corroborated by one source** (fewer than two independent monitoring sources);
//! - **location error** p50 / p90 = the geodesic distance claim ↔ event over matched pairs whose
//!   claim has a location (nearest-rank percentiles);
//! - **time to corroboration** p50 = claim's `corroborated_at` − event time, seconds, over
//!   matched pairs that were corroborated (negative when a report's stated time precedes the
//!   event's, e.g. a party's rounded time).
//!
//! Every ratio or percentile with nothing to measure is `None` (printed "n/a", JSON null):
//! the output has no NaN.
//!
//! [`suggested_party`] says whom an incident's evidence points at (the party used for scoring
//! until analysts attribute).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use truce_geo::{LonLat, distance_m};

use crate::correlate::Incident;

/// The parts of the simulator's `truth.json` the scorer reads; other fields are ignored.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Truth {
    #[serde(default)]
    pub seed: Option<u64>,
    #[serde(default)]
    pub start: Option<DateTime<Utc>>,
    #[serde(default)]
    pub end: Option<DateTime<Utc>>,
    pub events: Vec<TrueEvent>,
    #[serde(default)]
    pub outages: Vec<TrueOutage>,
}

/// One true event of `truth.json`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TrueEvent {
    pub id: String,
    pub kind: String,
    pub time: DateTime<Utc>,
    pub location: LonLat,
    /// Who is responsible; None when nobody is (a field fire, a compliant inspection).
    #[serde(default)]
    pub party: Option<String>,
    #[serde(default)]
    pub violation: bool,
    /// Ids, as the ingest gives them, of the valid records that observed it.
    #[serde(default)]
    pub observation_ids: Vec<String>,
    /// For an impact: the firing event that caused it.
    #[serde(default)]
    pub cause: Option<String>,
    /// Whether the evidence a run can hold could name its party (module doc); when the truth
    /// does not say, [`Truth::mark_attributable`] works it out from the observations' kinds,
    /// and without that an event with a party counts as attributable.
    #[serde(default)]
    pub attributable: Option<bool>,
}

/// What the scorer needs to know of one observation to tell whether its event was attributable:
/// its kind, whether it is a bearing (and from where), whether it states a crater analysis.
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    pub kind: truce_core::observation::ObservationKind,
    pub bearing_from: Option<LonLat>,
    pub crater_analysis: bool,
}

/// A sensor outage of `truth.json` (its record is a `coverage` observation).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TrueOutage {
    pub sensor: String,
    #[serde(default)]
    pub observation_id: Option<String>,
}

impl Evidence {
    /// What an assessed observation offers [`Truth::mark_attributable`].
    pub fn of(
        obs: &truce_core::observation::Observation,
        place: &truce_core::observation::Place,
    ) -> Evidence {
        let bearing_from = match (place, &obs.properties.bearing) {
            (truce_core::observation::Place::Point(p), Some(_)) => Some(*p),
            _ => None,
        };
        Evidence {
            kind: obs.properties.kind,
            bearing_from,
            crater_analysis: crate::attribute::crater_analysis(obs).is_some(),
        }
    }
}

impl Truth {
    /// Sets `attributable` on events where the truth left it open, from the evidence the run
    /// holds (`evidence` by observation id). An event with a party is attributable when one of
    /// its observations can name it: a located report that is not a strike (a firing position,
    /// a weapon, works, a column, a checkpoint), two firing bearings from places at least
    /// 100 m apart, or a crater analysis; an impact also when the firing that caused it
    /// (`cause`) was seen at all (located, or on a bearing the strike can be held against).
    pub fn mark_attributable(&mut self, evidence: &BTreeMap<String, Evidence>) {
        use truce_core::observation::ObservationKind as K;
        let strike = |k: K| matches!(k, K::Impact | K::Explosion | K::ThermalAnomaly | K::Damage);
        let own = |e: &TrueEvent| {
            let facts: Vec<&Evidence> = e
                .observation_ids
                .iter()
                .filter_map(|o| evidence.get(o))
                .collect();
            let located = facts
                .iter()
                .any(|f| !strike(f.kind) && f.bearing_from.is_none() && f.kind != K::Report);
            let rays: Vec<LonLat> = facts
                .iter()
                .filter(|f| f.kind == K::Firing)
                .filter_map(|f| f.bearing_from)
                .collect();
            let fixed = rays
                .iter()
                .any(|a| rays.iter().any(|b| distance_m(*a, *b) >= 100.0));
            let crater = facts.iter().any(|f| f.crater_analysis);
            (
                located || fixed || crater,
                facts.iter().any(|f| f.kind == K::Firing),
            )
        };
        let by_id: BTreeMap<String, (bool, bool)> =
            self.events.iter().map(|e| (e.id.clone(), own(e))).collect();
        for e in &mut self.events {
            if e.attributable.is_some() {
                continue;
            }
            let (mine, _) = by_id[&e.id];
            let caused = e
                .cause
                .as_ref()
                .and_then(|c| by_id.get(c))
                .is_some_and(|(located, seen)| *located || *seen);
            e.attributable = Some(e.party.is_some() && (mine || caused));
        }
    }

    /// Parses `truth.json`.
    pub fn from_json(text: &str) -> Result<Truth, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// Which of a run's observations the truth speaks for: those from a source that made at
    /// least one record the truth lists (an event's or an outage's), observed within a day of
    /// the truth's period (a report may be filed late). Observations from other feeds — real
    /// FIRMS or UCDP extracts ingested into the same store — are outside: the truth cannot
    /// say whether they are right. `observations` yields (id, source id, observed_at).
    pub fn scope<'a>(
        &self,
        observations: impl IntoIterator<Item = (&'a str, &'a str, DateTime<Utc>)> + Clone,
    ) -> BTreeSet<String> {
        let listed: BTreeSet<&str> = self
            .events
            .iter()
            .flat_map(|e| e.observation_ids.iter().map(String::as_str))
            .chain(
                self.outages
                    .iter()
                    .filter_map(|o| o.observation_id.as_deref()),
            )
            .collect();
        let sources: BTreeSet<&str> = observations
            .clone()
            .into_iter()
            .filter(|(id, _, _)| listed.contains(id))
            .map(|(_, source, _)| source)
            .collect();
        let day = chrono::Duration::days(1);
        observations
            .into_iter()
            .filter(|(_, source, _)| sources.contains(source))
            .filter(|(_, _, t)| self.start.is_none_or(|s| *t >= s - day))
            .filter(|(_, _, t)| self.end.is_none_or(|e| *t <= e + day))
            .map(|(id, _, _)| id.to_string())
            .collect()
    }
}

/// What a correlator claims: these observations are one event, there, then, by that party.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Claim {
    pub id: String,
    /// Observation ids as the ingest gives them (truth's `observation_ids`).
    pub observation_ids: Vec<String>,
    pub location: Option<LonLat>,
    /// The party the claim states as responsible; None when it states none.
    pub party: Option<String>,
    pub start: DateTime<Utc>,
    /// When the claim became corroborated; None when it never did.
    pub corroborated_at: Option<DateTime<Utc>>,
    /// Whether the claim says a rule was breached (it counts in the breach F1).
    pub breach: bool,
    /// Independent monitoring sources behind it (a corroborated claim needs two).
    pub sources: usize,
}

/// Keeps of each claim only the observation ids in `scope`, and only claims left with one.
pub fn restrict(claims: Vec<Claim>, scope: &BTreeSet<String>) -> Vec<Claim> {
    claims
        .into_iter()
        .filter_map(|mut c| {
            c.observation_ids.retain(|id| scope.contains(id));
            (!c.observation_ids.is_empty()).then_some(c)
        })
        .collect()
}

/// The party an incident's evidence suggests, for scoring and for the analyst to confirm:
///
/// 1. a firing position's attribution suggestion ([`Incident::attribution`], from the origin
///    triangulated from bearings) when it names a party;
/// 2. else the party its observations' breaches name as presumed responsible
///    ([`Incident::breach_parties`]: a located firing position, a weapon or works in a
///    party's area or identified by the source, a track's starting side, a checkpoint's
///    holder, a storage site's party), the one with the most evidence weight; a tie
///    suggests nobody.
///
/// Impacts, explosions, hotspots and damage never attribute (the core names no party for
/// them), so a strike incident suggests nobody.
pub fn suggested_party(incident: &Incident) -> Option<String> {
    incident.suggested.as_ref().map(|s| s.party.clone())
}

/// The key with the largest total weight, None when empty or tied at the top.
pub(crate) fn majority<'a>(votes: impl IntoIterator<Item = (&'a str, f64)>) -> Option<String> {
    let mut total: BTreeMap<&str, f64> = BTreeMap::new();
    for (k, w) in votes {
        *total.entry(k).or_insert(0.0) += w;
    }
    let mut ranked: Vec<(&str, f64)> = total.into_iter().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    match ranked.as_slice() {
        [] => None,
        [(p, _)] => Some((*p).to_string()),
        [(p, a), (_, b), ..] => (a > b).then(|| (*p).to_string()),
    }
}

/// Our incidents as claims: observation ids from `id_of(seq)` (seqs it does not know are left
/// out), the fused location, [`suggested_party`], the interval start and `corroborated_at`.
pub fn claims_from_incidents(
    incidents: &[std::sync::Arc<Incident>],
    id_of: impl Fn(u64) -> Option<String>,
) -> Vec<Claim> {
    incidents
        .iter()
        .map(|i| Claim {
            id: i.id.clone(),
            observation_ids: i
                .observation_seqs
                .iter()
                .filter_map(|&s| id_of(s))
                .collect(),
            location: i.location,
            party: suggested_party(i),
            start: i.start,
            corroborated_at: i.corroborated_at,
            breach: !i.breaches.is_empty(),
            sources: i.independent_sources,
        })
        .collect()
}

/// The one-to-one matching of claims to true events (module doc): (claim index, event index,
/// distance claim ↔ event when the claim is located), in the order they were taken.
pub fn matching(claims: &[Claim], truth: &Truth) -> Vec<(usize, usize, Option<f64>)> {
    let mut events_of: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (k, e) in truth.events.iter().enumerate() {
        for o in &e.observation_ids {
            events_of.entry(o).or_default().push(k);
        }
    }
    // Candidates: (shared, distance, claim, event).
    let mut candidates: Vec<(usize, Option<f64>, usize, usize)> = Vec::new();
    for (c, claim) in claims.iter().enumerate() {
        let ids: BTreeSet<&str> = claim.observation_ids.iter().map(String::as_str).collect();
        let mut shared: BTreeMap<usize, usize> = BTreeMap::new();
        for id in &ids {
            for &e in events_of.get(id).map(Vec::as_slice).unwrap_or(&[]) {
                *shared.entry(e).or_default() += 1;
            }
        }
        for (e, n) in shared {
            let d = claim
                .location
                .map(|p| distance_m(p, truth.events[e].location));
            candidates.push((n, d, c, e));
        }
    }
    candidates.sort_by(|a, b| {
        b.0.cmp(&a.0)
            .then_with(|| match (a.1, b.1) {
                (Some(x), Some(y)) => x.total_cmp(&y),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            })
            .then_with(|| claims[a.2].id.cmp(&claims[b.2].id))
            .then_with(|| truth.events[a.3].id.cmp(&truth.events[b.3].id))
    });
    let (mut claim_used, mut event_used) =
        (vec![false; claims.len()], vec![false; truth.events.len()]);
    let mut pairs = Vec::new();
    for (_, d, c, e) in candidates {
        if claim_used[c] || event_used[e] {
            continue;
        }
        claim_used[c] = true;
        event_used[e] = true;
        pairs.push((c, e, d));
    }

    pairs
}

/// How claims compare with the truth (module doc). Undefined ratios are None.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scores {
    pub precision: Option<f64>,
    pub recall: Option<f64>,
    pub f1: Option<f64>,
    /// The same over breaches only: claims that state a breach against true violations.
    pub breach_precision: Option<f64>,
    pub breach_recall: Option<f64>,
    pub breach_f1: Option<f64>,
    pub breach_claims: usize,
    pub breach_events_observable: usize,
    pub breach_matched: usize,
    pub attribution_accuracy: Option<f64>,
    pub attribution_coverage: Option<f64>,
    pub location_error_m_p50: Option<f64>,
    pub location_error_m_p90: Option<f64>,
    pub time_to_corroboration_s_p50: Option<f64>,
    pub claims: usize,
    pub events: usize,
    pub events_observable: usize,
    pub matched: usize,
    /// Claims none of whose observations any true event lists: false detections and false
    /// allegations, kept as single-source incidents by design (they count against precision).
    pub noise_claims: usize,
    /// Matched events that have a true party.
    pub matched_with_party: usize,
    /// Of those, how many claims state a party, and how many state the true one.
    pub attribution_stated: usize,
    pub attribution_correct: usize,
    /// Matched claims stating a party for an event nobody is responsible for.
    pub attribution_stated_without_party: usize,
    /// Observable events the evidence could attribute ([`Truth::mark_attributable`]), and of
    /// those, how many have a matched claim stating a party.
    pub attributable_events: usize,
    pub attributable_stated: usize,
    /// Claims that share observations with an event another claim matched: second claims of
    /// one event (a duplicate incident).
    pub duplicate_claims: usize,
    /// Claims corroborated with fewer than two independent monitoring sources.
    pub corroborated_single_source: usize,
    /// Matched pairs: (claim id, event id), in matching order.
    #[serde(skip)]
    pub pairs: Vec<(String, String)>,
}

/// Scores `claims` against `truth` (module doc for the rule).
pub fn score(claims: &[Claim], truth: &Truth) -> Scores {
    let held: BTreeSet<&str> = claims
        .iter()
        .flat_map(|c| c.observation_ids.iter().map(String::as_str))
        .collect();
    let observable = truth
        .events
        .iter()
        .filter(|e| e.observation_ids.iter().any(|o| held.contains(o.as_str())))
        .count();
    let mut events_of: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (k, e) in truth.events.iter().enumerate() {
        for o in &e.observation_ids {
            events_of.entry(o).or_default().push(k);
        }
    }
    let pairs = matching(claims, truth);
    let mut claim_used = vec![false; claims.len()];
    for &(c, _, _) in &pairs {
        claim_used[c] = true;
    }
    let matched = pairs.len();
    let ratio = |a: usize, b: usize| (b > 0).then(|| a as f64 / b as f64);
    let precision = ratio(matched, claims.len());
    let recall = ratio(matched, observable);
    let f1 = match (precision, recall) {
        (Some(p), Some(r)) if p + r > 0.0 => Some(2.0 * p * r / (p + r)),
        (Some(_), Some(_)) => Some(0.0),
        _ => None,
    };
    let observable_ev = |e: &TrueEvent| e.observation_ids.iter().any(|o| held.contains(o.as_str()));
    let breach_claims = claims.iter().filter(|c| c.breach).count();
    let breach_observable = truth
        .events
        .iter()
        .filter(|e| e.violation && observable_ev(e))
        .count();
    let breach_matched = pairs
        .iter()
        .filter(|&&(c, e, _)| claims[c].breach && truth.events[e].violation)
        .count();
    let breach_precision = ratio(breach_matched, breach_claims);
    let breach_recall = ratio(breach_matched, breach_observable);
    let breach_f1 = match (breach_precision, breach_recall) {
        (Some(p), Some(r)) if p + r > 0.0 => Some(2.0 * p * r / (p + r)),
        (Some(_), Some(_)) => Some(0.0),
        _ => None,
    };
    let attributable =
        |e: &TrueEvent| e.attributable.unwrap_or(e.party.is_some()) && e.party.is_some();
    let attributable_events = truth
        .events
        .iter()
        .filter(|e| attributable(e) && observable_ev(e))
        .count();
    let attributable_stated = pairs
        .iter()
        .filter(|&&(c, e, _)| attributable(&truth.events[e]) && claims[c].party.is_some())
        .count();
    let duplicate_claims = claims
        .iter()
        .enumerate()
        .filter(|(c, claim)| {
            !claim_used[*c]
                && claim
                    .observation_ids
                    .iter()
                    .any(|o| events_of.contains_key(o.as_str()))
        })
        .count();
    let corroborated_single_source = claims
        .iter()
        .filter(|c| c.corroborated_at.is_some() && c.sources < 2)
        .count();
    let (mut with_party, mut stated, mut correct, mut stated_without) = (0, 0, 0, 0);
    let mut errors = Vec::new();
    let mut delays = Vec::new();
    for &(c, e, d) in &pairs {
        let (claim, event) = (&claims[c], &truth.events[e]);
        match (&event.party, &claim.party) {
            (Some(t), Some(p)) => {
                with_party += 1;
                stated += 1;
                correct += usize::from(t == p);
            }
            (Some(_), None) => with_party += 1,
            (None, Some(_)) => stated_without += 1,
            (None, None) => {}
        }
        errors.extend(d);
        if let Some(at) = claim.corroborated_at {
            delays.push((at - event.time).num_milliseconds() as f64 / 1000.0);
        }
    }
    Scores {
        precision,
        recall,
        f1,
        breach_precision,
        breach_recall,
        breach_f1,
        breach_claims,
        breach_events_observable: breach_observable,
        breach_matched,
        attribution_accuracy: ratio(correct, stated),
        attribution_coverage: ratio(attributable_stated, attributable_events),
        location_error_m_p50: percentile(&mut errors, 50.0),
        location_error_m_p90: percentile(&mut errors, 90.0),
        time_to_corroboration_s_p50: percentile(&mut delays, 50.0),
        claims: claims.len(),
        events: truth.events.len(),
        events_observable: observable,
        matched,
        noise_claims: claims
            .iter()
            .filter(|c| {
                c.observation_ids
                    .iter()
                    .all(|o| !events_of.contains_key(o.as_str()))
            })
            .count(),
        matched_with_party: with_party,
        attribution_stated: stated,
        attribution_correct: correct,
        attribution_stated_without_party: stated_without,
        attributable_events,
        attributable_stated,
        duplicate_claims,
        corroborated_single_source,
        pairs: pairs
            .iter()
            .map(|&(c, e, _)| (claims[c].id.clone(), truth.events[e].id.clone()))
            .collect(),
    }
}

/// Nearest-rank percentile: the smallest value with at least `q` % of the values at or below
/// it; None for no values.
pub fn percentile(values: &mut [f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let rank = ((q / 100.0) * values.len() as f64).ceil().max(1.0) as usize;
    Some(values[rank.min(values.len()) - 1])
}

/// A score for a table: "0.93", or "n/a" when undefined.
pub fn fmt_ratio(x: Option<f64>) -> String {
    x.map_or_else(|| "n/a".into(), |v| format!("{v:.3}"))
}

/// A distance or time for a table: "412", or "n/a".
pub fn fmt_amount(x: Option<f64>) -> String {
    x.map_or_else(|| "n/a".into(), |v| format!("{v:.0}"))
}

/// Ours and the baseline side by side, one metric a line.
pub fn table(ours: &Scores, baseline: &Scores) -> String {
    let rows: Vec<(&str, String, String)> = vec![
        (
            "claims",
            ours.claims.to_string(),
            baseline.claims.to_string(),
        ),
        (
            "events observable",
            ours.events_observable.to_string(),
            baseline.events_observable.to_string(),
        ),
        (
            "matched",
            ours.matched.to_string(),
            baseline.matched.to_string(),
        ),
        (
            "precision",
            fmt_ratio(ours.precision),
            fmt_ratio(baseline.precision),
        ),
        ("recall", fmt_ratio(ours.recall), fmt_ratio(baseline.recall)),
        ("F1", fmt_ratio(ours.f1), fmt_ratio(baseline.f1)),
        (
            "breach claims / observable",
            format!("{}/{}", ours.breach_claims, ours.breach_events_observable),
            format!(
                "{}/{}",
                baseline.breach_claims, baseline.breach_events_observable
            ),
        ),
        (
            "breach precision",
            fmt_ratio(ours.breach_precision),
            fmt_ratio(baseline.breach_precision),
        ),
        (
            "breach recall",
            fmt_ratio(ours.breach_recall),
            fmt_ratio(baseline.breach_recall),
        ),
        (
            "breach F1",
            fmt_ratio(ours.breach_f1),
            fmt_ratio(baseline.breach_f1),
        ),
        (
            "noise claims",
            ours.noise_claims.to_string(),
            baseline.noise_claims.to_string(),
        ),
        (
            "duplicate claims",
            ours.duplicate_claims.to_string(),
            baseline.duplicate_claims.to_string(),
        ),
        (
            "corroborated by one source",
            ours.corroborated_single_source.to_string(),
            baseline.corroborated_single_source.to_string(),
        ),
        (
            "attributable events",
            ours.attributable_events.to_string(),
            baseline.attributable_events.to_string(),
        ),
        (
            "attribution accuracy",
            fmt_ratio(ours.attribution_accuracy),
            fmt_ratio(baseline.attribution_accuracy),
        ),
        (
            "attribution coverage",
            fmt_ratio(ours.attribution_coverage),
            fmt_ratio(baseline.attribution_coverage),
        ),
        (
            "location error p50 (m)",
            fmt_amount(ours.location_error_m_p50),
            fmt_amount(baseline.location_error_m_p50),
        ),
        (
            "location error p90 (m)",
            fmt_amount(ours.location_error_m_p90),
            fmt_amount(baseline.location_error_m_p90),
        ),
        (
            "time to corroboration p50 (s)",
            fmt_amount(ours.time_to_corroboration_s_p50),
            fmt_amount(baseline.time_to_corroboration_s_p50),
        ),
    ];
    let mut out = format!("  {:<30} {:>9} {:>9}\n", "metric", "ours", "baseline");
    for (name, a, b) in rows {
        out.push_str(&format!("  {name:<30} {a:>9} {b:>9}\n"));
    }
    out
}
