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

use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Utc};
use rstar::RTree;
use rstar::primitives::GeomWithData;
use serde_json::value::RawValue;
use truce_core::assess::Engine;
use truce_fusion::Incident;
use truce_fusion::ledger::{Ledger, Record};

use crate::access::{self, Role, Shown, View, coarsen};
use crate::view::{IncidentView, Stats};

/// One incident as the ledger held it when the snapshot was taken.
#[derive(Debug)]
pub struct Item {
    /// Its index in `Ledger::incidents` (incidents are never removed or reordered).
    pub index: usize,
    /// The ledger's own incident, shared: the ledger copies it before changing it.
    pub incident: Arc<Incident>,
    pub record: Arc<Record>,
    /// Whose area holds its (true) location, under the snapshot's terms.
    pub party_area: Option<String>,
    /// Its view serialised, made on first read for each of [`View::Full`], [`View::Party`]
    /// and [`View::Public`] (the item never changes: a write makes a new one).
    json: [OnceLock<Box<RawValue>>; 3],
}

impl Item {
    fn of(ledger: &Ledger, k: usize) -> Item {
        let incident = ledger.incidents()[k].clone();
        let party_area = incident
            .location
            .and_then(|l| ledger.engine().party_at(l))
            .map(str::to_string);
        Item {
            index: k,
            record: ledger.records()[k].clone(),
            incident,
            party_area,
            json: Default::default(),
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

/// The incidents of a ledger at one log size, newest first, indexed by place.
pub struct Incidents {
    engine: Arc<Engine>,
    through_seq: Option<u64>,
    /// By ledger index.
    by_index: Vec<Arc<Item>>,
    /// Ledger indices, newest first ([`access::newest_first`]).
    order: Vec<u32>,
    /// True locations, with each incident's place in `order` (what staff and parties see).
    located: RTree<Located>,
    /// Locations coarsened to the public's grid ([`coarsen`]), likewise.
    coarse: RTree<Located>,
}

impl std::fmt::Debug for Incidents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Incidents")
            .field("through_seq", &self.through_seq)
            .field("incidents", &self.by_index.len())
            .finish()
    }
}

impl Incidents {
    /// A snapshot of every incident of `ledger`.
    pub fn of(ledger: &Ledger) -> Incidents {
        let items = (0..ledger.incidents().len())
            .map(|k| Arc::new(Item::of(ledger, k)))
            .collect();
        Incidents::index(ledger, items)
    }

    /// This snapshot brought level with `ledger`, which has since changed only the incidents
    /// `touched` (indices) and added new ones. Taken whole again when the terms changed or the
    /// ledger is not a continuation of this one (fewer incidents).
    pub fn updated(&self, ledger: &Ledger, touched: impl IntoIterator<Item = usize>) -> Incidents {
        let n = ledger.incidents().len();
        if !Arc::ptr_eq(&self.engine, ledger.engine()) || n < self.by_index.len() {
            return Incidents::of(ledger);
        }
        let mut items: Vec<Arc<Item>> = self.by_index.clone();
        for k in touched {
            if k < items.len() {
                items[k] = Arc::new(Item::of(ledger, k));
            }
        }
        items.extend((items.len()..n).map(|k| Arc::new(Item::of(ledger, k))));
        Incidents::index(ledger, items)
    }

    fn index(ledger: &Ledger, by_index: Vec<Arc<Item>>) -> Incidents {
        let mut order: Vec<u32> = (0..by_index.len() as u32).collect();
        // Keys taken once (each is behind two pointers) and sorted unstably: they are unique
        // (the index breaks ties), so the order is the same. A tenth of a restart at a million
        // incidents went to the stable sort's comparisons chasing those pointers.
        order.sort_by_cached_key(|&k| {
            access::newest_first(by_index[k as usize].incident.start, k as usize)
        });
        let mut located = Vec::new();
        let mut coarse = Vec::new();
        for (rank, &k) in order.iter().enumerate() {
            if let Some(l) = by_index[k as usize].incident.location {
                located.push(Located::new(l, rank as u32));
                coarse.push(Located::new(coarsen(l), rank as u32));
            }
        }
        // The two indexes are independent: one per core (half a restart's indexing, and of
        // every write's re-index).
        let (located, coarse) =
            rayon::join(|| RTree::bulk_load(located), || RTree::bulk_load(coarse));
        Incidents {
            engine: ledger.engine().clone(),
            through_seq: ledger.through_seq(),
            by_index,
            order,
            located,
            coarse,
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
        self.by_index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_index.is_empty()
    }

    /// Incident `k` (ledger index).
    pub fn item(&self, k: usize) -> &Item {
        &self.by_index[k]
    }

    /// The incidents `role` sees among those `select` may match, newest first, as
    /// [`access::shown_incidents`] lists them on the ledger.
    pub fn shown<'a>(&'a self, role: &Role, select: &Select) -> Vec<(Shown<'a>, &'a Item)> {
        // Starts descend with rank: the incidents starting before a time are the ranks from
        // the first one that does.
        let first = select.start_before.map_or(0, |t| {
            self.order
                .partition_point(|&k| self.by_index[k as usize].incident.start >= t)
        });
        let ranks: Box<dyn Iterator<Item = usize>> = match select.bbox {
            Some([a, b, c, d]) => {
                // Only the public's view coarsens ([`access::shown_incident`]).
                let tree = if *role == Role::Public {
                    &self.coarse
                } else {
                    &self.located
                };
                let mut ranks: Vec<usize> = tree
                    .locate_in_envelope(&rstar::AABB::from_corners([a, b], [c, d]))
                    .map(|p| p.data as usize)
                    .filter(|&r| r >= first)
                    .collect();
                ranks.sort_unstable();
                Box::new(ranks.into_iter())
            }
            None => Box::new(first..self.order.len()),
        };
        ranks
            .filter_map(|r| {
                let item = &*self.by_index[self.order[r] as usize];
                item.shown(role).map(|s| (s, item))
            })
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
        item.json[slot].get_or_init(|| {
            serde_json::value::to_raw_value(&self.view(item, view)).expect("a view serialises")
        })
    }

    /// Counts over `items` ([`Stats::of_parts`]).
    pub fn stats<'a>(&self, items: impl IntoIterator<Item = &'a Item>) -> Stats {
        Stats::of_parts(items.into_iter().map(|i| (&*i.incident, &*i.record)))
    }
}
