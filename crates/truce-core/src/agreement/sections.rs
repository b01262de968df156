//! The agreement's sections, each checked in the order the terms build on one another: the
//! effective time, parties and their areas, the contact line, weapon classes, zones, storage
//! sites (which name parties and classes) and rules (which name zones and classes).

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use toml::Spanned;

use super::geometry::GeometryReader;
use super::raw::{RawContactLine, RawParty, RawRule, RawStorageSite, RawWeaponClass, RawZone};
use super::sink::{Sink, check_distance_km, check_lonlat, parse_time};
use super::{
    Activity, ContactLine, MAX_DISTANCE_KM, Party, Rule, RuleKind, Severity, StorageSite,
    WeaponClass, Zone, ZoneExtent, ZoneKind,
};
use crate::observation::ObservationKind;

/// `effective_at` as a time, or a report.
pub(super) fn effective_at(
    effective_at: Option<&Spanned<String>>,
    sink: &mut Sink<'_>,
) -> Option<DateTime<Utc>> {
    effective_at.and_then(|t| match parse_time(t.get_ref()) {
        Ok(t) => Some(t),
        Err(e) => {
            sink.at(t.span(), format!("effective_at: {e}"));
            None
        }
    })
}

/// `[[party]]`: unique ids, each with its area file read.
pub(super) fn parties(
    raw: Vec<RawParty>,
    geo: &mut GeometryReader<'_, '_>,
    sink: &mut Sink<'_>,
) -> Vec<Party> {
    let mut parties = Vec::new();
    let mut seen = BTreeSet::new();
    for p in raw {
        sink.unique(&mut seen, &p.id, "party");
        let area = geo.polygons(p.area.get_ref(), p.area.span(), sink);
        parties.push(Party {
            id: p.id.into_inner(),
            name: p.name,
            area_file: p.area.into_inner(),
            area: area.unwrap_or_default(),
        });
    }
    parties
}

/// `[contact_line]`: its geometry file read, or none when it could not be.
pub(super) fn contact_line(
    raw: Option<RawContactLine>,
    geo: &mut GeometryReader<'_, '_>,
    sink: &mut Sink<'_>,
) -> Option<ContactLine> {
    raw.and_then(|l| {
        let lines = geo.lines(l.geometry.get_ref(), l.geometry.span(), sink)?;
        Some(ContactLine {
            geometry_file: l.geometry.into_inner(),
            lines,
        })
    })
}

/// `[[weapon_class]]`: unique ids, sane distances, deadlines no earlier than `effective_at`
/// (`effective` is it parsed, when it could be).
pub(super) fn weapon_classes(
    raw: Vec<RawWeaponClass>,
    effective_at: Option<&Spanned<String>>,
    effective: Option<DateTime<Utc>>,
    sink: &mut Sink<'_>,
) -> Vec<WeaponClass> {
    let mut classes = Vec::new();
    let mut seen = BTreeSet::new();
    for c in raw {
        sink.unique(&mut seen, &c.id, "weapon_class");
        check_distance_km(sink, &c.withdrawal_km, "withdrawal_km");
        let deadline = match parse_time(c.withdraw_by.get_ref()) {
            Ok(t) => {
                if let Some(eff) = effective
                    && t < eff
                {
                    sink.at(
                        c.withdraw_by.span(),
                        format!(
                            "withdraw_by {} is before effective_at {}",
                            c.withdraw_by.get_ref(),
                            effective_at.map(|e| e.get_ref().as_str()).unwrap_or("")
                        ),
                    );
                }
                Some(t)
            }
            Err(e) => {
                sink.at(c.withdraw_by.span(), format!("withdraw_by: {e}"));
                None
            }
        };
        classes.push(WeaponClass {
            id: c.id.into_inner(),
            name: c.name,
            withdrawal_km: *c.withdrawal_km.get_ref(),
            withdraw_by: deadline.unwrap_or(DateTime::<Utc>::MIN_UTC),
        });
    }
    classes
}

/// `[[zone]]`: unique ids, a known kind, an extent, known prohibited activities. A zone whose
/// kind or extent is wrong is reported and left out.
pub(super) fn zones(
    raw: Vec<RawZone>,
    geo: &mut GeometryReader<'_, '_>,
    sink: &mut Sink<'_>,
) -> Vec<Zone> {
    let mut zones = Vec::new();
    let mut seen = BTreeSet::new();
    for z in raw {
        sink.unique(&mut seen, &z.id, "zone");
        let kind = sink.named(&z.kind, "zone kind", ZoneKind::ALL, ZoneKind::as_str);
        let extent = zone_extent(&z, geo, sink);
        let mut prohibits = Vec::new();
        for a in &z.prohibits {
            match Activity::parse(a.get_ref()) {
                Some(act) => prohibits.push(act),
                None => sink.at(
                    a.span(),
                    format!(
                        "unknown activity `{}`; expected one of {}",
                        a.get_ref(),
                        Activity::ALL.map(|a| a.as_str()).join(", ")
                    ),
                ),
            }
        }
        if let (Some(kind), Some(extent)) = (kind, extent) {
            zones.push(Zone {
                name: z.name.unwrap_or_else(|| z.id.get_ref().clone()),
                id: z.id.into_inner(),
                kind,
                extent,
                prohibits,
            });
        }
    }
    zones
}

/// Where a zone is: its polygon file read, or a band of `within_km` around the contact line.
fn zone_extent(
    z: &RawZone,
    geo: &mut GeometryReader<'_, '_>,
    sink: &mut Sink<'_>,
) -> Option<ZoneExtent> {
    match (&z.geometry, &z.within_km) {
        (Some(g), None) => {
            geo.polygons(g.get_ref(), g.span(), sink)
                .map(|polygons| ZoneExtent::Polygons {
                    file: g.get_ref().clone(),
                    polygons,
                })
        }
        (None, Some(km)) => {
            check_distance_km(sink, km, "within_km");
            Some(ZoneExtent::WithinKmOfLine {
                within_km: *km.get_ref(),
            })
        }
        (Some(g), Some(_)) => {
            sink.at(
                g.span(),
                "a zone has either `geometry` or `within_km`, not both",
            );
            None
        }
        (None, None) => {
            sink.at(
                z.id.span(),
                format!(
                    "zone `{}` needs `geometry` (a polygon file) or `within_km` (a band around the contact line)",
                    z.id.get_ref()
                ),
            );
            None
        }
    }
}

/// `[[storage_site]]`: unique ids, a known party, a location and radius in range, and
/// inventories (counts and serials) of known weapon classes.
pub(super) fn storage_sites(
    raw: Vec<RawStorageSite>,
    party_ids: &BTreeSet<String>,
    class_ids: &BTreeSet<String>,
    sink: &mut Sink<'_>,
) -> Vec<StorageSite> {
    let mut sites = Vec::new();
    let mut seen = BTreeSet::new();
    for s in raw {
        sink.unique(&mut seen, &s.id, "storage_site");
        if !party_ids.contains(s.party.get_ref()) {
            sink.at(
                s.party.span(),
                format!("storage_site names unknown party `{}`", s.party.get_ref()),
            );
        }
        let [lon, lat] = *s.location.get_ref();
        check_lonlat(sink, &s.location, "location");
        let radius = *s.radius_m.get_ref();
        if !radius.is_finite() || radius <= 0.0 || radius > MAX_DISTANCE_KM * 1000.0 {
            sink.at(
                s.radius_m.span(),
                format!("radius_m {radius} must be above 0 and at most 1,000 km"),
            );
        }
        for class in s.declared.get_ref().keys() {
            if !class_ids.contains(class) {
                sink.at(
                    s.declared.span(),
                    format!("declared inventory names unknown weapon_class `{class}`"),
                );
            }
        }
        let serials = s.serials.map(|x| {
            for class in x.get_ref().keys() {
                if !class_ids.contains(class) {
                    sink.at(
                        x.span(),
                        format!("serials name unknown weapon_class `{class}`"),
                    );
                }
            }
            x.into_inner()
        });
        sites.push(StorageSite {
            name: s.name.unwrap_or_else(|| s.id.get_ref().clone()),
            id: s.id.into_inner(),
            party: s.party.into_inner(),
            location: [lon, lat],
            radius_m: radius,
            declared: s.declared.into_inner(),
            serials: serials.unwrap_or_default(),
        });
    }
    sites
}

/// `[[rule]]`: unique ids, a known kind and severity, and only zones, classes, activities and
/// observation kinds that exist. A rule whose kind or severity is unknown is reported and
/// left out.
pub(super) fn rules(
    raw: Vec<RawRule>,
    zone_ids: &BTreeSet<String>,
    class_ids: &BTreeSet<String>,
    sink: &mut Sink<'_>,
) -> Vec<Rule> {
    let mut rules = Vec::new();
    let mut seen = BTreeSet::new();
    for r in raw {
        sink.unique(&mut seen, &r.id, "rule");
        let kind = sink.named(&r.kind, "rule kind", RuleKind::ALL, RuleKind::as_str);
        let severity = severity(sink, &r.severity);
        rule_references(&r, zone_ids, class_ids, sink);
        let (activities, observation_kinds) = rule_vocabulary(&r, sink);
        if kind == Some(RuleKind::Zone) && r.zones.is_empty() {
            sink.at(
                r.id.span(),
                format!(
                    "rule `{}` of kind zone needs `zones = [...]`",
                    r.id.get_ref()
                ),
            );
        }
        if let (Some(kind), Some(severity)) = (kind, severity) {
            rules.push(Rule {
                id: r.id.into_inner(),
                kind,
                severity,
                description: r.description.unwrap_or_default(),
                zones: r.zones.into_iter().map(Spanned::into_inner).collect(),
                activities,
                observation_kinds,
                classes: r.classes.into_iter().map(Spanned::into_inner).collect(),
            });
        }
    }
    rules
}

/// Reports the zones and weapon classes a rule names that the terms do not define.
fn rule_references(
    r: &RawRule,
    zone_ids: &BTreeSet<String>,
    class_ids: &BTreeSet<String>,
    sink: &mut Sink<'_>,
) {
    for z in &r.zones {
        if !zone_ids.contains(z.get_ref()) {
            sink.at(
                z.span(),
                format!(
                    "rule `{}` names unknown zone `{}`",
                    r.id.get_ref(),
                    z.get_ref()
                ),
            );
        }
    }
    for c in &r.classes {
        if !class_ids.contains(c.get_ref()) {
            sink.at(
                c.span(),
                format!(
                    "rule `{}` names unknown weapon_class `{}`",
                    r.id.get_ref(),
                    c.get_ref()
                ),
            );
        }
    }
}

/// A rule's `activities` and `observation_kinds`, the unknown ones reported and left out.
fn rule_vocabulary(r: &RawRule, sink: &mut Sink<'_>) -> (Vec<Activity>, Vec<ObservationKind>) {
    let mut activities = Vec::new();
    for a in &r.activities {
        match Activity::parse(a.get_ref()) {
            Some(act) => activities.push(act),
            None => sink.at(a.span(), format!("unknown activity `{}`", a.get_ref())),
        }
    }
    let mut observation_kinds = Vec::new();
    for k in &r.observation_kinds {
        match ObservationKind::parse(k.get_ref()) {
            Some(kind) => observation_kinds.push(kind),
            None => sink.at(
                k.span(),
                format!("unknown observation kind `{}`", k.get_ref()),
            ),
        }
    }
    (activities, observation_kinds)
}

/// A severity by name, or a report.
pub(super) fn severity(sink: &mut Sink<'_>, name: &Spanned<String>) -> Option<Severity> {
    match name.get_ref().as_str() {
        "low" => Some(Severity::Low),
        "medium" => Some(Severity::Medium),
        "high" => Some(Severity::High),
        "critical" => Some(Severity::Critical),
        other => {
            sink.at(
                name.span(),
                format!("unknown severity `{other}`; expected low, medium, high or critical"),
            );
            None
        }
    }
}
