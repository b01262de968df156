//! A read snapshot of the incidents: the ledger's incidents and records (shared: the ledger
//! copies one before changing it), newest first, with a space index over the locations each
//! audience sees — what a server answers lists from without holding the writer's lock (the
//! server swaps an `Arc` of one after each write; `truce-server`'s `state`).
//!
//! It decides nothing itself: who sees an incident, and how, is
//! [`access::shown_incident`] (the function [`access::shown_incidents`] calls for the live
//! ledger), the order is [`access::newest_first`], and what is shown is
//! [`IncidentView::shown_parts`] — the same functions on a copy of the same state, so a list
//! read from a snapshot equals the list read from the ledger it was taken of (a test in
//! `truce-server` holds the two together after writes).
//!
//! A snapshot is updated with the incidents a write touched (what the ledger reports for the
//! derived rows, [`crate::Applied`]): the others are shared with the previous snapshot, not
//! copied.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Utc};
use rayon::prelude::*;
use rstar::RTree;
use rstar::primitives::GeomWithData;
use serde_json::value::RawValue;
use truce_core::assess::Engine;
use truce_fusion::Incident;
use truce_fusion::ledger::{Ledger, Record};

use crate::access::{self, Role, Shown, View, coarsen, coarsening_into};
use crate::view::{IncidentView, Stats};

/// One incident as the ledger held it when the snapshot was taken.
///
/// Kept small: a server holds one per incident (at a million incidents each 8 bytes here is
/// 8 MB resident, and a restart's time follows its memory).
#[derive(Debug)]
pub struct Item {
    /// Its index in `Ledger::incidents` (incidents are never removed or reordered).
    pub index: usize,
    /// The ledger's own incident, shared: the ledger copies it before changing it.
    pub incident: Arc<Incident>,
    pub record: Arc<Record>,
    /// Whose area holds its (true) location, under the snapshot's terms: the engine's own
    /// party id, shared.
    pub party_area: Option<Arc<str>>,
    /// Its view serialised, made on first read for each of [`View::Full`], [`View::Party`]
    /// and [`View::Public`] (the item never changes: a write makes a new one). Boxed: most
    /// items are never read one by one, and three empty slots inline were half the item.
    json: OnceLock<Box<[OnceLock<Box<RawValue>>; 3]>>,
}

impl Item {
    fn of(ledger: &Ledger, k: usize) -> Item {
        let incident = ledger.incidents()[k].clone();
        let party_area = incident
            .location
            .and_then(|l| ledger.engine().party_name_at(l))
            .cloned();
        Item {
            index: k,
            record: ledger.records()[k].clone(),
            incident,
            party_area,
            json: OnceLock::new(),
        }
    }

    /// How `role` sees it, if at all ([`access::shown_incident`]).
    pub fn shown(&self, role: &Role) -> Option<Shown<'_>> {
        access::shown_incident(
            role,
            self.index,
            &self.incident,
            &self.record,
            self.party_area.as_deref(),
        )
    }
}

/// A point and its place in the newest-first order.
type Located = GeomWithData<[f64; 2], u32>;

/// Which incidents to consider: the parts of a query the snapshot's indexes answer. Every
/// incident that may match is returned; the caller still applies its whole filter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Select {
    /// `[minlon, minlat, maxlon, maxlat]` on the location the caller's view shows.
    pub bbox: Option<[f64; 4]>,
    /// Only incidents starting before this.
    pub start_before: Option<DateTime<Utc>>,
}

/// Items in newest-first order, with a space index over the locations each audience sees.
struct Indexed {
    /// The items, newest first ([`access::newest_first`]).
    items: Vec<Arc<Item>>,
    /// True locations, with each incident's place in `items` (what staff and parties see;
    /// the public's coarsened ones are found through it, [`coarsening_into`]). One tree, not
    /// one per grid: a tree costs ~64 bytes an incident and its share of every re-index.
    located: RTree<Located>,
}

impl Indexed {
    fn of(mut items: Vec<Arc<Item>>) -> Indexed {
        // Keys taken once (each is behind two pointers) and sorted unstably: they are unique
        // (the index breaks ties), so the order is the same. A tenth of a restart at a million
        // incidents went to the stable sort's comparisons chasing those pointers.
        items.sort_by_cached_key(|i| key(i));
        Indexed::sorted(items)
    }

    /// [`Indexed::of`] items already newest first.
    fn sorted(items: Vec<Arc<Item>>) -> Indexed {
        let located = items
            .iter()
            .enumerate()
            .filter_map(|(rank, item)| {
                let l = item.incident.location?;
                Some(Located::new(l, rank as u32))
            })
            .collect();
        Indexed {
            items,
            located: RTree::bulk_load(located),
        }
    }

    /// The items `select` may match, newest first.
    fn select<'a>(&'a self, role: &Role, select: &Select) -> Vec<&'a Arc<Item>> {
        // Starts descend with rank: the incidents starting before a time are the ranks from
        // the first one that does.
        let first = select
            .start_before
            .map_or(0, |t| self.items.partition_point(|i| i.incident.start >= t));
        match select.bbox {
            Some(bbox) => {
                // Only the public's view coarsens ([`access::shown_incident`]): its cells are
                // found among the true locations they can come from.
                let public = *role == Role::Public;
                let [a, b, c, d] = if public { coarsening_into(bbox) } else { bbox };
                let within = |p: [f64; 2]| {
                    (bbox[0]..=bbox[2]).contains(&p[0]) && (bbox[1]..=bbox[3]).contains(&p[1])
                };
                let mut ranks: Vec<usize> = self
                    .located
                    .locate_in_envelope(&rstar::AABB::from_corners([a, b], [c, d]))
                    .filter(|p| !public || within(coarsen(*p.geom())))
                    .map(|p| p.data as usize)
                    .filter(|&r| r >= first)
                    .collect();
                ranks.sort_unstable();
                ranks.into_iter().map(|r| &self.items[r]).collect()
            }
            None => self.items[first..].iter().collect(),
        }
    }
}

fn key(item: &Item) -> std::cmp::Reverse<(DateTime<Utc>, usize)> {
    access::newest_first(item.incident.start, item.index)
}

/// Two newest-first runs with no incident in both, merged: the order of the whole.
fn merged<'a>(
    base: impl Iterator<Item = &'a Arc<Item>>,
    recent: impl Iterator<Item = &'a Arc<Item>>,
) -> impl Iterator<Item = &'a Arc<Item>> {
    let (mut base, mut recent) = (base.peekable(), recent.peekable());
    std::iter::from_fn(move || match (base.peek(), recent.peek()) {
        (Some(b), Some(r)) if key(b) < key(r) => base.next(),
        (Some(_), Some(_)) | (None, Some(_)) => recent.next(),
        (Some(_), None) => base.next(),
        (None, None) => None,
    })
}

/// Whether bit `k` of `bits` is set (outside them: not).
fn is_set(bits: &[u64], k: usize) -> bool {
    bits.get(k / 64).is_some_and(|w| w & (1 << (k % 64)) != 0)
}

/// The part of a snapshot indexed whole, and where each of its incidents is in it.
struct Base {
    indexed: Indexed,
    /// Ledger index → place in `indexed.items`.
    rank: Vec<u32>,
}

impl Base {
    fn of(indexed: Indexed) -> Base {
        let mut rank = vec![0u32; indexed.items.len()];
        for (r, item) in indexed.items.iter().enumerate() {
            rank[item.index] = r as u32;
        }
        Base { indexed, rank }
    }
}

/// The fewest changed incidents a snapshot keeps beside its base before it is indexed whole
/// again ([`Incidents::updated`]).
const RECENT_MIN: usize = 4096;

/// The incidents of a ledger at one log size, newest first, indexed by place.
///
/// In two parts, so that a write costs what it changed, not the whole ledger: a `base`
/// indexed whole (shared by the snapshots that follow it) and the `recent` incidents changed
/// or added since, indexed on their own; a read merges the two in newest-first order,
/// skipping the base's outdated copies. When the recent part outgrows about the square root
/// of (incidents × 1,024) — the size at which re-indexing it on every write costs what
/// re-indexing the whole now and then costs, for writes of ~1,000 — the whole is indexed
/// again. (At 200,000 incidents, re-indexing the whole on every write was a third of the
/// server's ingest.)
pub struct Incidents {
    engine: Arc<Engine>,
    through_seq: Option<u64>,
    len: usize,
    base: Arc<Base>,
    /// Base items a recent one replaces: a bit per ledger index below the base's length.
    outdated: Vec<u64>,
    recent: Indexed,
    /// Where in `recent.items` each recent incident (ledger index) is.
    recent_at: HashMap<usize, usize>,
}

impl std::fmt::Debug for Incidents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Incidents")
            .field("through_seq", &self.through_seq)
            .field("incidents", &self.len)
            .field("recent", &self.recent.items.len())
            .finish()
    }
}

impl Incidents {
    /// A snapshot of every incident of `ledger`.
    pub fn of(ledger: &Ledger) -> Incidents {
        // On every core: each item asks which party's area holds its incident.
        let items = (0..ledger.incidents().len())
            .into_par_iter()
            .map(|k| Arc::new(Item::of(ledger, k)))
            .collect();
        Incidents::whole(ledger, Indexed::of(items))
    }

    fn whole(ledger: &Ledger, indexed: Indexed) -> Incidents {
        let n = indexed.items.len();
        Incidents {
            engine: ledger.engine().clone(),
            through_seq: ledger.through_seq(),
            len: n,
            outdated: vec![0; n.div_ceil(64)],
            base: Arc::new(Base::of(indexed)),
            recent: Indexed::sorted(Vec::new()),
            recent_at: HashMap::new(),
        }
    }

    /// This snapshot brought level with `ledger`, which has since changed only the incidents
    /// `touched` (indices) and added new ones. Taken whole again when the terms changed or the
    /// ledger is not a continuation of this one (fewer incidents).
    pub fn updated(&self, ledger: &Ledger, touched: impl IntoIterator<Item = usize>) -> Incidents {
        let n = ledger.incidents().len();
        let limit = RECENT_MIN.max((n as f64 * 1024.0).sqrt() as usize);
        self.updated_within(ledger, touched, limit)
    }

    /// [`Incidents::updated`], indexing the whole again beyond `limit` recent incidents.
    fn updated_within(
        &self,
        ledger: &Ledger,
        touched: impl IntoIterator<Item = usize>,
        limit: usize,
    ) -> Incidents {
        let n = ledger.incidents().len();
        if !Arc::ptr_eq(&self.engine, ledger.engine()) || n < self.len {
            return Incidents::of(ledger);
        }
        let based = self.base.indexed.items.len();
        let mut fresh: HashMap<usize, Arc<Item>> = touched
            .into_iter()
            .chain(self.len..n)
            .filter(|&k| k < n)
            .map(|k| (k, Arc::new(Item::of(ledger, k))))
            .collect();
        let mut items: Vec<Arc<Item>> = self
            .recent
            .items
            .iter()
            .filter(|i| !fresh.contains_key(&i.index))
            .cloned()
            .collect();
        items.extend(fresh.drain().map(|(_, i)| i));
        let mut outdated = self.outdated.clone();
        for i in &items {
            if i.index < based {
                outdated[i.index / 64] |= 1 << (i.index % 64);
            }
        }
        items.sort_by_cached_key(|i| key(i));
        if items.len() > limit {
            // Both parts are newest first: merged, not sorted again.
            let current = |i: &&Arc<Item>| !is_set(&outdated, i.index);
            let whole = merged(self.base.indexed.items.iter().filter(current), items.iter())
                .cloned()
                .collect();
            return Incidents::whole(ledger, Indexed::sorted(whole));
        }
        let recent = Indexed::sorted(items);
        let recent_at = recent
            .items
            .iter()
            .enumerate()
            .map(|(at, i)| (i.index, at))
            .collect();
        Incidents {
            engine: ledger.engine().clone(),
            through_seq: ledger.through_seq(),
            len: n,
            base: Arc::clone(&self.base),
            outdated,
            recent,
            recent_at,
        }
    }

    /// The terms the snapshot's incidents were folded under.
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// The last log entry the snapshot's ledger had folded.
    pub fn through_seq(&self) -> Option<u64> {
        self.through_seq
    }

    /// How many incidents.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Incident `k` (ledger index).
    pub fn item(&self, k: usize) -> &Item {
        match self.recent_at.get(&k) {
            Some(&at) => &self.recent.items[at],
            None => &self.base.indexed.items[self.base.rank[k] as usize],
        }
    }

    /// The incidents `role` sees among those `select` may match, newest first, as
    /// [`access::shown_incidents`] lists them on the ledger.
    pub fn shown<'a>(&'a self, role: &Role, select: &Select) -> Vec<(Shown<'a>, &'a Item)> {
        let base = self.base.indexed.select(role, select);
        let recent = self.recent.select(role, select);
        let base = base
            .into_iter()
            .filter(|i| !is_set(&self.outdated, i.index));
        merged(base, recent.into_iter())
            .filter_map(|item| item.shown(role).map(|s| (s, &**item)))
            .collect()
    }

    /// Incident `item` as `view` shows it ([`IncidentView::shown_parts`]).
    pub fn view(&self, item: &Item, view: View) -> IncidentView {
        IncidentView::shown_parts(&self.engine, &item.incident, &item.record, view)
    }

    /// [`Incidents::view`] serialised (once per item and view, then shared by every read).
    pub fn json<'a>(&self, item: &'a Item, view: View) -> &'a RawValue {
        let slot = match view {
            View::Full => 0,
            View::Party => 1,
            View::Public => 2,
        };
        item.json.get_or_init(Default::default)[slot].get_or_init(|| {
            serde_json::value::to_raw_value(&self.view(item, view)).expect("a view serialises")
        })
    }

    /// Counts over `items` ([`Stats::of_parts`]).
    pub fn stats<'a>(&self, items: impl IntoIterator<Item = &'a Item>) -> Stats {
        Stats::of_parts(items.into_iter().map(|i| (&*i.incident, &*i.record)))
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use truce_log::{KeyType, SignerKey};

    use super::*;
    use truce_fusion::ledger::Action;

    use crate::{DecisionRequest, FixedClock, Service};

    /// What a snapshot shows `role` for `select`: ledger indices in order, each with the
    /// incident it holds (the ledger's own, shared).
    fn listed(s: &Incidents, role: &Role, select: &Select) -> Vec<(usize, *const Incident)> {
        s.shown(role, select)
            .into_iter()
            .map(|(_, i)| (i.index, Arc::as_ptr(&i.incident)))
            .collect()
    }

    /// Issue 14: a snapshot updated write by write — its recent part growing, then indexed
    /// whole again — lists exactly what a snapshot taken whole of the same ledger lists, for
    /// every role, box and time.
    #[test]
    fn a_snapshot_updated_write_by_write_lists_what_one_taken_whole_lists() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/donbas-2015");
        let text = std::fs::read_to_string(dir.join("agreement.toml")).unwrap();
        let terms = truce_core::agreement::load("agreement.toml", &text, &mut |rel| {
            std::fs::read(dir.join(rel)).map_err(|e| e.to_string())
        })
        .unwrap();
        let tmp = std::env::temp_dir().join(format!("truce-snapshot-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).unwrap();
        let key = SignerKey::from_seed("truce.test/snapshot", KeyType::Ed25519, [7; 32]).unwrap();
        let clock = Arc::new(FixedClock::new("2015-03-02T00:00:00Z".parse().unwrap()));
        let mut svc = Service::open_with_terms(&tmp.join("s.gpkg"), &terms, key, clock)
            .unwrap()
            .with_reactions();
        let sim = truce_sim::simulate(&terms, 4, 3, truce_sim::default_start(&terms));
        let roles = [
            Role::Analyst,
            Role::Public,
            Role::Party("UA".into()),
            Role::Party("RU".into()),
        ];
        let selects = [
            Select::default(),
            Select {
                bbox: Some([37.5, 47.8, 38.5, 48.5]),
                start_before: None,
            },
            Select {
                bbox: Some([36.0, 46.0, 41.0, 50.0]),
                start_before: Some("2015-03-01T12:00:00Z".parse().unwrap()),
            },
            Select {
                bbox: None,
                start_before: Some("2015-03-01T06:00:00Z".parse().unwrap()),
            },
        ];
        let mut snapshot = Incidents::of(svc.ledger());
        let (mut writes, mut rebuilt, mut kept, mut public_boxed) = (0, 0, 0, 0);
        let options = truce_ingest::Options::default();
        for feed in &sim.feeds {
            let format = truce_ingest::detect(&feed.file_name, &feed.bytes).unwrap();
            let records: Vec<_> = truce_ingest::adapter(format, &options)
                .read(&feed.file_name, &feed.bytes)
                .unwrap()
                .collect();
            let mut records = records.into_iter().peekable();
            while records.peek().is_some() {
                let chunk: Vec<_> = records.by_ref().take(8).collect();
                svc.ingest(&feed.file_name, &format.to_string(), chunk)
                    .unwrap();
                // Every third write publishes the newest incident: the public sees those.
                if writes % 3 == 0 {
                    let id = svc.ledger().incidents().last().unwrap().id.clone();
                    for action in [Action::Verify, Action::Publish] {
                        let _ = svc.decide(DecisionRequest {
                            incident: id.clone(),
                            action,
                            party: None,
                            actor: "analyst-1".into(),
                            reason: "seen".into(),
                        });
                    }
                }
                let applied = svc.take_applied();
                let ledger = svc.ledger();
                let touched: Vec<usize> = applied
                    .iter()
                    .flat_map(|a| &a.incidents)
                    .filter_map(|id| ledger.find(id))
                    .collect();
                let next = snapshot.updated_within(ledger, touched, 24);
                if next.recent.items.is_empty() {
                    rebuilt += 1;
                } else if Arc::ptr_eq(&next.base, &snapshot.base) {
                    kept += 1;
                }
                snapshot = next;
                writes += 1;
                let whole = Incidents::of(ledger);
                assert_eq!(snapshot.len(), whole.len());
                for k in 0..whole.len() {
                    assert!(
                        Arc::ptr_eq(&snapshot.item(k).incident, &whole.item(k).incident),
                        "write {writes}: incident {k} is not the ledger's"
                    );
                }
                for role in &roles {
                    for select in &selects {
                        assert_eq!(
                            listed(&snapshot, role, select),
                            listed(&whole, role, select),
                            "write {writes}: {role:?} {select:?}"
                        );
                    }
                }
                // The public's boxes hold coarsened locations (found through the true ones):
                // exactly the incidents shown to it whose cell centre is in the box.
                for select in &selects[1..3] {
                    let [a, b, c, d] = select.bbox.unwrap();
                    let unboxed = Select {
                        bbox: None,
                        ..*select
                    };
                    let expected: Vec<_> = whole
                        .shown(&Role::Public, &unboxed)
                        .into_iter()
                        .filter(|(_, i)| {
                            i.incident
                                .location
                                .map(coarsen)
                                .is_some_and(|[x, y]| (a..=c).contains(&x) && (b..=d).contains(&y))
                        })
                        .map(|(_, i)| (i.index, Arc::as_ptr(&i.incident)))
                        .collect();
                    assert_eq!(listed(&snapshot, &Role::Public, select), expected);
                    public_boxed += expected.len();
                }
                // A box around a cell's centre alone, which the true location is off.
                for (_, item) in whole.shown(&Role::Public, &Select::default()) {
                    let Some(l) = item.incident.location else {
                        continue;
                    };
                    let [x, y] = coarsen(l);
                    let cell = Select {
                        bbox: Some([x - 1e-9, y - 1e-9, x + 1e-9, y + 1e-9]),
                        start_before: None,
                    };
                    assert!(
                        listed(&snapshot, &Role::Public, &cell)
                            .contains(&(item.index, Arc::as_ptr(&item.incident))),
                        "write {writes}: {} not found in its cell",
                        item.incident.id
                    );
                }
            }
        }
        assert!(snapshot.len() > 60, "{} incidents", snapshot.len());
        assert!(public_boxed > 0, "the public saw nothing in a box");
        assert!(
            rebuilt > 2 && kept > 10,
            "{writes} writes: {rebuilt} rebuilt, {kept} kept"
        );
    }
}
