//! The `[escalation]` section: who is told of breaches of which severity and how fast
//! (`[[escalation.notify]]`), and what repeated breaches escalate to (`[[escalation.repeat]]`),
//! checked against the parties and rules the terms define.

use std::collections::BTreeSet;

use toml::Spanned;

use super::raw::{RawEscalation, RawNotify, RawRecipients, RawRepeat};
use super::sections::severity;
use super::sink::Sink;
use super::{Escalation, MAX_NOTIFY_WITHIN_S, MAX_REPEAT_WINDOW_H, Notify, Repeat};

/// Checks `[escalation]`: severities, parties, rules, and numbers in range.
pub(super) fn escalation(
    sink: &mut Sink<'_>,
    raw: RawEscalation,
    party_ids: &BTreeSet<String>,
    rule_ids: &BTreeSet<String>,
) -> Escalation {
    let mut notify = Vec::new();
    for n in raw.notify {
        notify.extend(notify_entry(sink, n, party_ids));
    }
    let mut repeat = Vec::new();
    for r in raw.repeat {
        repeat.extend(repeat_entry(sink, r, rule_ids));
    }
    Escalation { notify, repeat }
}

/// One `[[escalation.notify]]`, or none when its severity is unknown.
fn notify_entry(sink: &mut Sink<'_>, n: RawNotify, party_ids: &BTreeSet<String>) -> Option<Notify> {
    let sev = severity(sink, &n.severity);
    let (involved, parties) = recipients(sink, n.parties, party_ids);
    let within = *n.within_s.get_ref();
    if within < 1 || within > i64::from(MAX_NOTIFY_WITHIN_S) {
        sink.at(
            n.within_s.span(),
            format!(
                "within_s {within} must be from 1 to {MAX_NOTIFY_WITHIN_S} (a week), in seconds"
            ),
        );
    }
    sev.map(|severity| Notify {
        severity,
        involved,
        parties,
        within_s: within.clamp(1, i64::from(MAX_NOTIFY_WITHIN_S)) as u32,
    })
}

/// `parties = "involved"` (true, no names) or a list of known party ids, each once.
fn recipients(
    sink: &mut Sink<'_>,
    parties: Spanned<RawRecipients>,
    party_ids: &BTreeSet<String>,
) -> (bool, Vec<String>) {
    let span = parties.span();
    match parties.into_inner() {
        RawRecipients::Word(w) if w == "involved" => (true, Vec::new()),
        RawRecipients::Word(w) => {
            sink.at(
                span,
                format!(
                    "parties = {w:?}: write \"involved\" (the parties whose area it is in or it is attributed to) or a list of party ids"
                ),
            );
            (false, Vec::new())
        }
        RawRecipients::List(list) => {
            if list.is_empty() {
                sink.at(
                    span.clone(),
                    "parties = []: name at least one party, or write \"involved\"",
                );
            }
            let mut seen = BTreeSet::new();
            for p in &list {
                if !party_ids.contains(p) {
                    sink.at(
                        span.clone(),
                        format!(
                            "escalation names unknown party `{p}`; expected one of {}",
                            party_ids.iter().cloned().collect::<Vec<_>>().join(", ")
                        ),
                    );
                } else if !seen.insert(p.clone()) {
                    sink.at(span.clone(), format!("party `{p}` named twice"));
                }
            }
            (false, seen.into_iter().collect())
        }
    }
}

/// One `[[escalation.repeat]]`, or none when its severity is unknown.
fn repeat_entry(sink: &mut Sink<'_>, r: RawRepeat, rule_ids: &BTreeSet<String>) -> Option<Repeat> {
    if !rule_ids.contains(r.rule.get_ref()) {
        sink.at(
            r.rule.span(),
            format!("escalation names unknown rule `{}`", r.rule.get_ref()),
        );
    }
    let count = *r.count.get_ref();
    if !(2..=10_000).contains(&count) {
        sink.at(
            r.count.span(),
            format!("count {count} must be from 2 to 10,000 (one breach is not a repeat)"),
        );
    }
    let hours = *r.within_h.get_ref();
    if hours < 1 || hours > i64::from(MAX_REPEAT_WINDOW_H) {
        sink.at(
            r.within_h.span(),
            format!("within_h {hours} must be from 1 to {MAX_REPEAT_WINDOW_H} (a year), in hours"),
        );
    }
    severity(sink, &r.to_severity).map(|to_severity| Repeat {
        rule: r.rule.into_inner(),
        count: count.clamp(2, 10_000) as u32,
        within_h: hours.clamp(1, i64::from(MAX_REPEAT_WINDOW_H)) as u32,
        to_severity,
    })
}
