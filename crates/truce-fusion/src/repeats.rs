//! The start times of the incidents breaching each rule that `[[escalation.repeat]]` names, by
//! party (an analyst's attribution, else fusion's suggestion), kept as incidents change: what
//! an alert's escalation counts ("3 no-fire breaches by RU within 24 h"). Counting them by a
//! pass over every incident on each write grew with the ledger; the ledger updates this for
//! each incident an entry touched instead ([`crate::ledger::Ledger`]), and a count is a range of
//! a sorted set.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use truce_core::agreement::Agreement;

use crate::correlate::Incident;
use crate::ledger::Record;

/// (start, incident index) of one rule's incidents by one party, sorted.
type Starts = BTreeSet<(DateTime<Utc>, usize)>;

/// Start times of incidents by repeated rule and party.
#[derive(Debug, Clone, Default)]
pub struct RepeatStarts {
    /// The rules `[[escalation.repeat]]` names, each once.
    rules: Vec<String>,
    /// Per rule (index into `rules`), per party.
    starts: Vec<HashMap<String, Starts>>,
    /// What each incident is counted under now, to take it out when it changes.
    held: HashMap<usize, Vec<(usize, String, DateTime<Utc>)>>,
}

impl RepeatStarts {
    /// Empty, for the repeated rules of `terms`.
    pub fn new(terms: &Agreement) -> RepeatStarts {
        let mut rules: Vec<String> = Vec::new();
        for r in terms.escalation.iter().flat_map(|e| &e.repeat) {
            if !rules.contains(&r.rule) {
                rules.push(r.rule.clone());
            }
        }
        RepeatStarts {
            starts: vec![HashMap::new(); rules.len()],
            rules,
            held: HashMap::new(),
        }
    }

    /// Counts incident `k` as it is now (`inc`, `rec`), in place of what it was counted as.
    pub fn update(&mut self, k: usize, inc: &Incident, rec: &Record) {
        if self.rules.is_empty() {
            return;
        }
        for (r, party, start) in self.held.remove(&k).unwrap_or_default() {
            if let Some(set) = self.starts[r].get_mut(&party) {
                set.remove(&(start, k));
                if set.is_empty() {
                    self.starts[r].remove(&party);
                }
            }
        }
        let Some(party) = party_of(inc, rec) else {
            return;
        };
        let mut now = Vec::new();
        for (r, rule) in self.rules.iter().enumerate() {
            if inc.breaches.iter().any(|b| b == rule) {
                self.starts[r]
                    .entry(party.to_string())
                    .or_default()
                    .insert((inc.start, k));
                now.push((r, party.to_string(), inc.start));
            }
        }
        if !now.is_empty() {
            self.held.insert(k, now);
        }
    }

    /// How many incidents breaching `rule` by `party` started within `from ..= to`; None when
    /// `rule` is not a repeated rule of these terms.
    pub fn count(
        &self,
        rule: &str,
        party: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Option<usize> {
        let r = self.rules.iter().position(|x| x == rule)?;
        if from > to {
            return Some(0);
        }
        Some(
            self.starts[r]
                .get(party)
                .map_or(0, |set| set.range((from, 0)..=(to, usize::MAX)).count()),
        )
    }
}

/// The party an incident is counted against: an analyst's attribution, else the suggestion.
pub fn party_of<'a>(inc: &'a Incident, rec: &'a Record) -> Option<&'a str> {
    rec.attributed_party
        .as_deref()
        .or_else(|| inc.suggested.as_ref().map(|s| s.party.as_str()))
}
