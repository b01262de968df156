//! The ledger: everything derived from the log, replayed entry by entry.
//!
//! The log is the source of truth (ARCHITECTURE.md, invariant 1). The ledger folds its entries,
//! in seq order, into the derived state the store keeps as tables: incidents (from
//! [`Fusion`]), each with its lifecycle and the transitions that moved it, and — once a
//! mission file is in force — verification tasks. It is pure: no clock, no I/O. Every time it
//! records comes from an entry (an observation's `observed_at`, a decision's `decided_at`), so
//! replaying the same entries gives the same state bit for bit, which is what `truce rebuild`
//! checks against the tables written incrementally.
//!
//! Lifecycle (`docs/fusion.md`, *Lifecycle*):
//!
//! ```text
//! single_source ──► corroborated ──► verification_tasked ──► verified ─────────┐
//!        │                │                   │            ├─► not_confirmed ──┼─► published
//!        └────────────────┴───────────────────┴────────────┴─► inconclusive ───┘
//! ```
//!
//! - `corroborated`: automatic, when fusion's evidence weight says so.
//! - `verification_tasked`: automatic, when the incident needs a ground team (see `tasks`).
//! - `verified` / `not_confirmed` / `inconclusive`: a team's outcome, or an analyst's `verify`.
//! - `published`: only an analyst's decision, and only once verified, not confirmed or
//!   inconclusive — nothing unverified reaches the public.
//! - An attribution becomes official only by an analyst's `attribute` decision; fusion's
//!   suggestion stays a suggestion.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{Read, Write};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use lz4_flex::frame::{BlockSize, FrameDecoder, FrameEncoder, FrameInfo};
use serde::{Deserialize, Serialize};
use smallvec::{SmallVec, smallvec};
use truce_core::assess::{Assessment, Engine};
use truce_core::mission::Mission;
use truce_core::observation::{Observation, Outcome, Place};
use truce_geo::LonLat;

use crate::correlate::{
    Fusion, FusionState, Incident, IncidentState, IncidentsPart, MembersPart, Name, Names,
};
use crate::repeats::RepeatStarts;
use crate::tasks::{self, Denial, Priority, TaskRequest, Verdict};

/// The actor named on transitions the engine makes itself.
pub const ENGINE_ACTOR: &str = "truce";

/// How long an assigned task waits for the team's outcome before it goes back to the queue and
/// the team is free again, seconds. A patrol day is 6–8 h; a team that has not reported within
/// a day did not get there (a cancelled patrol, a dead radio) or reported outside the system,
/// and must not hold its task — or be held by it — for ever. The analyst sees the note.
pub const TASK_NO_OUTCOME_S: i64 = 24 * 3600;

/// Where an incident stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lifecycle {
    SingleSource,
    Corroborated,
    VerificationTasked,
    Verified,
    NotConfirmed,
    Inconclusive,
    Published,
}

impl Lifecycle {
    pub const ALL: [Lifecycle; 7] = [
        Self::SingleSource,
        Self::Corroborated,
        Self::VerificationTasked,
        Self::Verified,
        Self::NotConfirmed,
        Self::Inconclusive,
        Self::Published,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::SingleSource => "single_source",
            Self::Corroborated => "corroborated",
            Self::VerificationTasked => "verification_tasked",
            Self::Verified => "verified",
            Self::NotConfirmed => "not_confirmed",
            Self::Inconclusive => "inconclusive",
            Self::Published => "published",
        }
    }

    /// A ground team or an analyst has concluded on it.
    pub fn is_concluded(self) -> bool {
        matches!(
            self,
            Self::Verified | Self::NotConfirmed | Self::Inconclusive | Self::Published
        )
    }
}

/// One step of an incident's history: a state change, or a decision that leaves the state
/// (an official attribution).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    // The words are [`Name`]s: a million detected incidents' first steps share a handful of
    // strings (action, actor, "thermal_anomaly from viirs-snpp (satellite)") rather than own
    // three allocations each.
    /// None for the first step (the incident was detected).
    pub from: Option<Lifecycle>,
    pub to: Lifecycle,
    /// `detected`, `corroborated`, `tasked`, `outcome`, `verify`, `attribute`, `publish`.
    pub action: Name,
    pub at: DateTime<Utc>,
    pub actor: Name,
    pub reason: Name,
    /// The log entry that caused it: the observation, outcome or decision.
    pub entry_seq: u64,
}

/// What the ledger adds to a fused incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub state: Lifecycle,
    /// Inline while there is one (most incidents are never more than detected): one
    /// allocation an incident fewer.
    pub transitions: SmallVec<[Transition; 1]>,
    /// The party an analyst's decision attributed it to (None until one does).
    pub attributed_party: Option<String>,
    /// The parties an alert about it was sent to (`alert` entries), sorted: a party told of an
    /// incident may read it.
    pub told: Vec<String>,
}

/// Where a verification task stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    /// Waiting for a free team (or for a denied road to reopen): `note` says which.
    Pending,
    /// A team is on it.
    Assigned,
    /// Concluded: by the team's outcome, or closed because an analyst concluded the incident.
    Done,
}

impl TaskState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Assigned => "assigned",
            Self::Done => "done",
        }
    }
}

/// A ground team sent (or to be sent) to verify an incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// `task-<incident id>`.
    pub id: String,
    pub incident: String,
    /// Where to go: the incident's fused location when the task was made (updated while
    /// pending).
    pub location: LonLat,
    pub severity: String,
    pub confidence: f64,
    pub priority: Priority,
    pub state: TaskState,
    pub team: Option<String>,
    /// From the team's base, metres.
    pub distance_m: Option<f64>,
    pub created_at: DateTime<Utc>,
    pub created_seq: u64,
    pub assigned_at: Option<DateTime<Utc>>,
    pub outcome: Option<Outcome>,
    pub outcome_at: Option<DateTime<Utc>>,
    pub outcome_seq: Option<u64>,
    /// The latest word on it: why it waits, who went, what they found.
    pub note: String,
}

pub use truce_core::entry::{
    ALERT_ACTIONS, Action, AlertRecord, Decision, Delivery, Entry, EntryKind, Response, SentAlert,
};

/// Why a decision cannot be taken (the CLI refuses it before anything is logged).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecisionError {
    #[error("no incident {0}")]
    UnknownIncident(String),
    #[error("{incident} is {state}: {why}")]
    NotNow {
        incident: String,
        state: &'static str,
        why: &'static str,
    },
    #[error("attribute needs a party of the agreement ({known}); got {}", .got.as_deref().unwrap_or("none"))]
    UnknownParty { got: Option<String>, known: String },
    #[error("{0} needs no party")]
    PartyNotExpected(&'static str),
    #[error("a decision needs an actor and a reason")]
    Unsigned,
    #[error("a response is `acknowledge` or `dispute`, with a text; got {0:?}")]
    BadResponse(String),
}

/// Why an entry could not be folded into the ledger.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    /// The body cannot be read as its kind (a damaged log, or one written by a newer Truce):
    /// a replay stops here, since every state after it would be wrong.
    #[error("{kind} entry {seq}: {why}")]
    Unreadable {
        seq: u64,
        kind: &'static str,
        why: String,
    },
    /// Read, but refused by the state it met (a decision the incident's state does not allow,
    /// an alert about an unknown incident): the entry stays in the log and changes nothing;
    /// the replay goes on.
    #[error("{kind} entry {seq}: {why}")]
    Refused {
        seq: u64,
        kind: &'static str,
        why: String,
    },
}

impl Ledger {
    /// Folds one log entry into the ledger: the only place that says how the log becomes
    /// incidents, tasks and lifecycle. Entries come in seq order. An observation is validated
    /// and assessed again under the terms in force, so what a party re-running the engine on
    /// the entries alone gets is what the monitor gets; `agreement` entries change nothing
    /// here (the caller builds the ledger under the terms in force) and `rejected` ones only
    /// count.
    pub fn apply(&mut self, entry: &Entry) -> Result<(), ApplyError> {
        let applied = self.apply_entry(entry);
        // Whatever the entry changed, also when it was refused part way.
        for k in std::mem::take(&mut self.changing) {
            self.repeats
                .update(k, &self.fusion.incidents()[k], &self.records[k]);
        }
        applied
    }

    fn apply_entry(&mut self, entry: &Entry) -> Result<(), ApplyError> {
        let (seq, kind) = (entry.seq, entry.kind.as_str());
        let unreadable = |why: String| ApplyError::Unreadable { seq, kind, why };
        let refused = |why: String| ApplyError::Refused { seq, kind, why };
        match entry.kind {
            EntryKind::Observation => {
                let obs: Observation =
                    serde_json::from_slice(&entry.body).map_err(|e| unreadable(e.to_string()))?;
                let place = obs
                    .validate()
                    .map_err(|r| unreadable(format!("no longer valid: {}", r.0)))?;
                let a = self.engine.assess(seq as usize, &obs, &place);
                self.observe(seq, &obs, &place, &a);
            }
            EntryKind::Decision => {
                let d: Decision =
                    serde_json::from_slice(&entry.body).map_err(|e| unreadable(e.to_string()))?;
                self.decide(seq, &d).map_err(|e| refused(e.to_string()))?;
            }
            EntryKind::Mission => {
                let text =
                    std::str::from_utf8(&entry.body).map_err(|_| unreadable("not UTF-8".into()))?;
                let mission =
                    Mission::from_canonical_json(text).map_err(|e| unreadable(e.to_string()))?;
                self.set_mission(seq, mission);
            }
            EntryKind::Response => {
                let r: Response =
                    serde_json::from_slice(&entry.body).map_err(|e| unreadable(e.to_string()))?;
                self.respond(seq, &r).map_err(|e| refused(e.to_string()))?;
            }
            EntryKind::Alert => {
                // Alerts change no incident's state: one that cannot be read is refused and
                // skipped, never a reason to stop the replay.
                match serde_json::from_slice::<AlertRecord>(&entry.body) {
                    Ok(a) => self.alerted(seq, &a),
                    Err(e) => {
                        self.skip(seq);
                        return Err(refused(e.to_string()));
                    }
                }
            }
            // A report changes no incident: it is a statement about the log, not in it.
            EntryKind::Agreement | EntryKind::Rejected | EntryKind::Report => self.skip(seq),
        }
        Ok(())
    }
}

/// The derived state, folded from the log.
pub struct Ledger {
    engine: Arc<Engine>,
    fusion: Fusion,
    /// Parallel to `fusion.incidents()`.
    /// Shared (copy on write) with the read snapshots, like the incidents.
    records: Vec<Arc<Record>>,
    /// Incident index by the seq in its id (`inc-<seq>`, [`incident_key`]): a number, not a
    /// second copy of every id string.
    by_id: HashMap<u64, usize>,
    /// Incidents changed since the last [`Ledger::take_touched`].
    touched: BTreeSet<usize>,
    /// Incidents changed by the entry being applied, for [`Ledger::repeats`].
    changing: Vec<usize>,
    /// Start times of the incidents breaching each repeated rule, by party (alert escalation).
    repeats: RepeatStarts,
    /// The last seq applied.
    through: Option<u64>,
    /// The mission in force (teams and sensors), from the last `mission` entry.
    mission: Option<Mission>,
    tasks: Vec<Task>,
    task_by_id: HashMap<String, usize>,
    touched_tasks: BTreeSet<usize>,
    /// Tasks by state, for planning without scanning them all.
    pending: BTreeSet<usize>,
    assigned: BTreeSet<usize>,
    /// The mission's access denials of the last [`tasks::ACCESS_DENIAL_WINDOW_S`].
    denials: Vec<Denial>,
    /// Entries the ledger noted but could not apply (an outcome for an unknown task).
    warnings: Vec<String>,
    /// The latest `observed_at` applied: the ledger's "now" for entries that carry no time.
    latest: Option<DateTime<Utc>>,
}

/// The format of [`Ledger::snapshot`]'s bytes, their first four (little-endian). A snapshot
/// of another format is not read: the ledger is replayed from the log instead. Bump it with
/// any change to what the ledger or the fusion engine keep.
/// 2: incidents keep their bearings ([`crate::correlate::BearingRay`]).
/// 3: an incident's sources are a sorted list, not a map.
/// 4: the postcard bytes are compressed, as one LZ4 frame (`lz4 -d` reads it after the first
///    four bytes): a quarter of the size in the store, for ~0.1 s a million observations.
/// 5: an incident's held-back reports are optional (most have none).
/// 6: two LZ4 frames, decoded on two cores at once — the incidents with their sums (and the
///    tasks and the rest), then the members and the records — after the first frame's length
///    (eight bytes, little-endian); `lz4 -d` reads the two after the first twelve bytes.
pub const SNAPSHOT_FORMAT: u32 = 6;

/// The number in an incident id (`inc-<seq>`: fusion names an incident after the seq of the
/// observation that started it, `correlate::Fusion`), the ledger's key for it.
fn incident_key(id: &str) -> Option<u64> {
    id.strip_prefix("inc-")?.parse().ok()
}

/// What a snapshot holds after its format, in two frames ([`SNAPSHOT_FORMAT`] 6): the folded
/// state, borrowed when written and owned when read. The indices by id are rebuilt; what
/// changed since the last `take_*` is not kept.
#[derive(Serialize, Deserialize)]
struct LedgerState<'a> {
    /// The hash of the terms it was folded under: restored only under the same.
    agreement: Cow<'a, str>,
    fusion: IncidentsPart<'a>,
    through: Option<u64>,
    /// The mission in force, as its canonical JSON (parsed again, hash and all).
    mission: Option<String>,
    tasks: Cow<'a, [Task]>,
    pending: Cow<'a, BTreeSet<usize>>,
    assigned: Cow<'a, BTreeSet<usize>>,
    denials: Cow<'a, [Denial]>,
    warnings: Cow<'a, [String]>,
    latest: Option<DateTime<Utc>>,
}

/// The second frame: what there is one of per member, and the incidents' records.
#[derive(Serialize, Deserialize)]
struct LedgerMembers<'a> {
    fusion: MembersPart<'a>,
    records: Cow<'a, [Arc<Record>]>,
}

/// `value` serialised (postcard) in one LZ4 frame.
fn frame<T: Serialize>(value: &T) -> Vec<u8> {
    let raw = postcard::to_allocvec(value).expect("a ledger always serialises");
    let info = FrameInfo::new()
        .block_size(BlockSize::Max4MB)
        .content_size(Some(raw.len() as u64));
    let mut lz4 = FrameEncoder::with_frame_info(info, Vec::with_capacity(raw.len() / 3));
    lz4.write_all(&raw)
        .expect("writing to memory does not fail");
    lz4.finish().expect("writing to memory does not fail")
}

/// What [`frame`] wrote, decoded with the names it reads shared ([`Names::decoding`]).
fn unframe<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<(T, Names), String> {
    let mut raw = Vec::new();
    FrameDecoder::new(bytes)
        .read_to_end(&mut raw)
        .map_err(|e| format!("a ledger snapshot that does not decompress: {e}"))?;
    let (value, names) = Names::decoding(|| postcard::from_bytes::<T>(&raw));
    let value = value.map_err(|e| format!("a ledger snapshot that does not decode: {e}"))?;
    Ok((value, names))
}

impl Ledger {
    /// The folded state as bytes ([`SNAPSHOT_FORMAT`], then postcard in two LZ4 frames): what
    /// [`Ledger::from_snapshot`] restores, so a restart folds only the entries after
    /// [`Ledger::through_seq`] instead of the whole log. Deterministic: two ledgers that folded
    /// the same entries under the same terms give the same bytes.
    pub fn snapshot(&self) -> Vec<u8> {
        let FusionState { incidents, members } = self.fusion.state();
        let state = LedgerState {
            agreement: Cow::Borrowed(&self.engine.agreement().hash),
            fusion: incidents,
            through: self.through,
            mission: self.mission.as_ref().map(Mission::canonical_json),
            tasks: Cow::Borrowed(&self.tasks),
            pending: Cow::Borrowed(&self.pending),
            assigned: Cow::Borrowed(&self.assigned),
            denials: Cow::Borrowed(&self.denials),
            warnings: Cow::Borrowed(&self.warnings),
            latest: self.latest,
        };
        let rest = LedgerMembers {
            fusion: members,
            records: Cow::Borrowed(&self.records),
        };
        let (first, second) = std::thread::scope(|s| {
            let second = s.spawn(|| frame(&rest));
            (
                frame(&state),
                second.join().expect("serialising does not panic"),
            )
        });
        let mut out = Vec::with_capacity(12 + first.len() + second.len());
        out.extend_from_slice(&SNAPSHOT_FORMAT.to_le_bytes());
        out.extend_from_slice(&(first.len() as u64).to_le_bytes());
        out.extend_from_slice(&first);
        out.extend_from_slice(&second);
        out
    }

    /// The ledger [`Ledger::snapshot`] wrote, under `engine`'s terms. Refused, with the reason,
    /// when the bytes are of another format, were folded under other terms, or do not decode.
    pub fn from_snapshot(engine: Arc<Engine>, bytes: &[u8]) -> Result<Ledger, String> {
        let (format, body) = bytes
            .split_first_chunk::<4>()
            .ok_or("a ledger snapshot of fewer than 4 bytes")?;
        let format = u32::from_le_bytes(*format);
        if format != SNAPSHOT_FORMAT {
            return Err(format!(
                "a ledger snapshot of format {format}, this build reads {SNAPSHOT_FORMAT}"
            ));
        }
        let (len, body) = body
            .split_first_chunk::<8>()
            .ok_or("a ledger snapshot cut short before its first frame's length")?;
        let (first, second) = usize::try_from(u64::from_le_bytes(*len))
            .ok()
            .and_then(|len| body.split_at_checked(len))
            .ok_or("a ledger snapshot shorter than its first frame")?;
        // The two frames on two cores: each is about half of a restart's decoding.
        let (state, rest) = std::thread::scope(|s| {
            let rest = s.spawn(|| unframe::<LedgerMembers>(second));
            (
                unframe::<LedgerState>(first),
                rest.join().expect("decoding does not panic"),
            )
        });
        let ((state, mut names), (rest, other_names)) = (state?, rest?);
        names.merge(other_names);
        if state.agreement != engine.agreement().hash.as_str() {
            return Err(format!(
                "a ledger snapshot folded under terms {}, not those in force ({})",
                state.agreement,
                engine.agreement().hash
            ));
        }
        let mission = state
            .mission
            .as_deref()
            .map(Mission::from_canonical_json)
            .transpose()
            .map_err(|e| format!("a ledger snapshot's mission: {e}"))?;
        let fusion = FusionState {
            incidents: state.fusion,
            members: rest.fusion,
        };
        let fusion = Fusion::restore(engine.clone(), fusion, names)
            .ok_or("a ledger snapshot whose incident parts differ in number")?;
        if rest.records.len() != fusion.incidents().len() {
            return Err("a ledger snapshot whose records and incidents differ in number".into());
        }
        let by_id = fusion
            .incidents()
            .iter()
            .enumerate()
            .map(|(k, i)| incident_key(&i.id).map(|key| (key, k)))
            .collect::<Option<_>>()
            .ok_or("a ledger snapshot with an incident id not of the form inc-<seq>")?;
        let tasks = state.tasks.into_owned();
        let task_by_id = tasks
            .iter()
            .enumerate()
            .map(|(k, t)| (t.id.clone(), k))
            .collect();
        let mut ledger = Ledger {
            engine,
            fusion,
            records: rest.records.into_owned(),
            by_id,
            touched: BTreeSet::new(),
            changing: Vec::new(),
            repeats: RepeatStarts::default(),
            through: state.through,
            mission,
            tasks,
            task_by_id,
            touched_tasks: BTreeSet::new(),
            pending: state.pending.into_owned(),
            assigned: state.assigned.into_owned(),
            denials: state.denials.into_owned(),
            warnings: state.warnings.into_owned(),
            latest: state.latest,
        };
        // Not in the snapshot: counted again from the incidents.
        ledger.repeats = RepeatStarts::new(ledger.engine.agreement());
        for k in 0..ledger.records.len() {
            ledger
                .repeats
                .update(k, &ledger.fusion.incidents()[k], &ledger.records[k]);
        }
        Ok(ledger)
    }

    /// An empty ledger under the terms `engine` holds (the terms in force: the last
    /// `agreement` entry).
    pub fn new(engine: Arc<Engine>) -> Ledger {
        let repeats = RepeatStarts::new(engine.agreement());
        Ledger {
            fusion: Fusion::new(engine.clone()),
            engine,
            records: Vec::new(),
            by_id: HashMap::new(),
            touched: BTreeSet::new(),
            changing: Vec::new(),
            repeats,
            through: None,
            mission: None,
            tasks: Vec::new(),
            task_by_id: HashMap::new(),
            touched_tasks: BTreeSet::new(),
            pending: BTreeSet::new(),
            assigned: BTreeSet::new(),
            denials: Vec::new(),
            warnings: Vec::new(),
            latest: None,
        }
    }

    /// Verification tasks, in order of creation.
    pub fn tasks(&self) -> &[Task] {
        &self.tasks
    }

    /// The mission in force, if one was set.
    pub fn mission(&self) -> Option<&Mission> {
        self.mission.as_ref()
    }

    /// What the replay noted and could not apply, by entry.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The indices of tasks changed since the last call, in order.
    pub fn take_touched_tasks(&mut self) -> Vec<usize> {
        std::mem::take(&mut self.touched_tasks)
            .into_iter()
            .collect()
    }

    /// Applies a `mission` entry: its teams take the pending tasks from now on.
    /// Pending tasks are planned at once, as of the latest observation applied.
    pub fn set_mission(&mut self, seq: u64, mission: Mission) {
        self.note_seq(seq);
        self.mission = Some(mission);
        for (t, task) in self.tasks.iter_mut().enumerate() {
            if task.state == TaskState::Pending && task.note.starts_with("no mission file") {
                task.note = "waiting for a team".into();
                self.touched_tasks.insert(t);
            }
        }
        if let Some(now) = self.latest {
            self.plan(now);
        }
    }

    /// The fused incidents, in order of creation; `records()[i]` belongs to `incidents()[i]`.
    pub fn incidents(&self) -> &[Arc<Incident>] {
        self.fusion.incidents()
    }

    pub fn records(&self) -> &[Arc<Record>] {
        &self.records
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    pub fn fusion(&self) -> &Fusion {
        &self.fusion
    }

    /// The index of an incident by id.
    pub fn find(&self, id: &str) -> Option<usize> {
        let k = *self.by_id.get(&incident_key(id)?)?;
        // `inc-07` has the key of `inc-7`: only the exact id is that incident.
        (self.fusion.incidents()[k].id == id).then_some(k)
    }

    /// The last entry seq applied.
    pub fn through_seq(&self) -> Option<u64> {
        self.through
    }

    /// Notes incident `k` changed: its rows are written again, its repeat counts updated.
    fn touch(&mut self, k: usize) {
        self.touched.insert(k);
        self.changing.push(k);
    }

    /// Start times of the incidents breaching each repeated rule (`[[escalation.repeat]]`), by
    /// party: what an alert's escalation counts.
    pub fn repeats(&self) -> &RepeatStarts {
        &self.repeats
    }

    /// The indices of incidents changed since the last call, in order.
    pub fn take_touched(&mut self) -> Vec<usize> {
        std::mem::take(&mut self.touched).into_iter().collect()
    }

    fn note_seq(&mut self, seq: u64) {
        debug_assert!(self.through.is_none_or(|t| seq > t), "entries in seq order");
        self.through = Some(seq);
    }

    /// Any entry the ledger has nothing to derive from (a rejected record): keeps the count.
    pub fn skip(&mut self, seq: u64) {
        self.note_seq(seq);
    }

    /// Applies an observation entry.
    pub fn observe(&mut self, seq: u64, obs: &Observation, place: &Place, a: &Assessment) {
        self.note_seq(seq);
        let observed = obs.properties.observed_at;
        self.latest = Some(self.latest.map_or(observed, |l| l.max(observed)));
        let Some(k) = self.fusion.fuse_one(seq, obs, place, a) else {
            return;
        };
        // A strike ↔ firing link made by this join changes the incident at the other end too.
        for k in self.fusion.take_changed() {
            self.touch(k);
        }
        let at = obs.properties.observed_at;
        // A new incident's first step, its words held once for every incident that says them.
        let detected = (k == self.records.len()).then(|| Transition {
            from: None,
            to: Lifecycle::SingleSource,
            action: self.fusion.name("detected"),
            at,
            actor: self.fusion.name(ENGINE_ACTOR),
            reason: self.fusion.name(&format!(
                "{} from {} ({})",
                obs.properties.kind.as_str(),
                obs.properties.source.id,
                obs.properties.source.kind.as_str()
            )),
            entry_seq: seq,
        });
        let inc = &self.fusion.incidents()[k];
        if let Some(detected) = detected {
            let key = incident_key(&inc.id).expect("fusion names incidents inc-<seq>");
            self.by_id.insert(key, k);
            self.records.push(Arc::new(Record {
                state: Lifecycle::SingleSource,
                transitions: smallvec![detected],
                attributed_party: None,
                told: Vec::new(),
            }));
        }
        let record = Arc::make_mut(&mut self.records[k]);
        // Corroboration is recorded once, whatever the state; it moves only a single-source
        // incident (a tasked one is already further along).
        if inc.state == IncidentState::Corroborated
            && !record
                .transitions
                .iter()
                .any(|t| t.action == "corroborated")
        {
            let kinds: Vec<&str> = inc.source_kinds.iter().map(|s| s.as_str()).collect();
            let to = if record.state == Lifecycle::SingleSource {
                Lifecycle::Corroborated
            } else {
                record.state
            };
            record.transitions.push(Transition {
                from: Some(record.state),
                to,
                action: "corroborated".into(),
                at,
                actor: ENGINE_ACTOR.into(),
                reason: format!("{} (confidence {:.2})", kinds.join(" + "), inc.confidence).into(),
                entry_seq: seq,
            });
            record.state = to;
        }
        self.touch(k);

        let place_denial = tasks::denial(obs, place);
        if let Some(d) = place_denial {
            self.denials.push(d);
        }
        if let Some(outcome) = &obs.properties.task_outcome {
            self.outcome(seq, obs, &outcome.task, outcome.outcome);
        }
        self.task_for(k, seq, at);
        self.plan(at);
    }

    /// Makes or refreshes the task incident `k` needs, and marks it tasked.
    fn task_for(&mut self, k: usize, seq: u64, at: DateTime<Utc>) {
        let inc = &self.fusion.incidents()[k];
        let record = &self.records[k];
        if record.state.is_concluded() {
            return;
        }
        let Ok(req) = tasks::request(inc, self.engine.agreement()) else {
            return;
        };
        if let Some(&t) = self.task_by_id.get(&req.task) {
            let TaskRequest {
                location, priority, ..
            } = req;
            let open = &mut self.tasks[t];
            if open.state == TaskState::Pending {
                open.location = location;
                open.priority = priority;
                open.severity = priority.severity.as_str().into();
                open.confidence = inc.confidence;
                self.touched_tasks.insert(t);
            }
            return;
        }
        let reason = format!(
            "{}: {} breach, confidence {:.2}",
            req.task,
            req.priority.severity.as_str(),
            inc.confidence
        );
        self.open_task(k, seq, at, req, ENGINE_ACTOR, reason);
    }

    /// Records a new task for incident `k` and marks the incident tasked.
    fn open_task(
        &mut self,
        k: usize,
        seq: u64,
        at: DateTime<Utc>,
        req: TaskRequest,
        actor: &str,
        reason: String,
    ) {
        let inc = &self.fusion.incidents()[k];
        let TaskRequest {
            task,
            incident,
            location,
            priority,
        } = req;
        let t = self.tasks.len();
        self.task_by_id.insert(task.clone(), t);
        self.tasks.push(Task {
            id: task.clone(),
            incident,
            location,
            severity: priority.severity.as_str().into(),
            confidence: inc.confidence,
            priority,
            state: TaskState::Pending,
            team: None,
            distance_m: None,
            created_at: at,
            created_seq: seq,
            assigned_at: None,
            outcome: None,
            outcome_at: None,
            outcome_seq: None,
            note: if self.mission.is_none() {
                "no mission file in force: no teams to send".into()
            } else {
                "waiting for a team".into()
            },
        });
        self.touched_tasks.insert(t);
        self.pending.insert(t);
        let record = Arc::make_mut(&mut self.records[k]);
        record.transitions.push(Transition {
            from: Some(record.state),
            to: Lifecycle::VerificationTasked,
            action: self.fusion.name("tasked"),
            at,
            actor: actor.into(),
            reason: reason.into(),
            entry_seq: seq,
        });
        record.state = Lifecycle::VerificationTasked;
    }

    /// Gives pending tasks to free teams, when a team is free; first returns to the queue the
    /// tasks whose team has not reported within [`TASK_NO_OUTCOME_S`].
    fn plan(&mut self, now: DateTime<Utc>) {
        let Some(mission) = &self.mission else {
            return;
        };
        let limit = chrono::TimeDelta::seconds(TASK_NO_OUTCOME_S);
        let overdue: Vec<usize> = self
            .assigned
            .iter()
            .copied()
            .filter(|&t| self.tasks[t].assigned_at.is_some_and(|a| a + limit <= now))
            .collect();
        for t in overdue {
            let task = &mut self.tasks[t];
            task.note = format!(
                "no outcome from {} within {} h: back in the queue",
                task.team.as_deref().unwrap_or("its team"),
                TASK_NO_OUTCOME_S / 3600
            );
            task.state = TaskState::Pending;
            task.team = None;
            task.distance_m = None;
            task.assigned_at = None;
            self.assigned.remove(&t);
            self.pending.insert(t);
            self.touched_tasks.insert(t);
        }
        let busy: BTreeSet<String> = self
            .assigned
            .iter()
            .filter_map(|&t| self.tasks[t].team.clone())
            .collect();
        if busy.len() >= mission.teams.len() || self.pending.is_empty() {
            return;
        }
        let window = chrono::TimeDelta::seconds(tasks::ACCESS_DENIAL_WINDOW_S);
        self.denials.retain(|(_, at)| *at + window > now);
        let pending: Vec<TaskRequest> = self
            .pending
            .iter()
            .map(|&t| {
                let t = &self.tasks[t];
                TaskRequest {
                    task: t.id.clone(),
                    incident: t.incident.clone(),
                    location: t.location,
                    priority: t.priority,
                }
            })
            .collect();
        let plan = tasks::assign(&pending, &mission.teams, &busy, &self.denials, now);
        for a in plan.assigned {
            let t = self.task_by_id[&a.task];
            let task = &mut self.tasks[t];
            task.state = TaskState::Assigned;
            task.team = Some(a.team.clone());
            task.distance_m = Some(a.distance_m);
            task.assigned_at = Some(now);
            task.note = format!(
                "{} sent, {:.1} km from its base",
                a.team,
                a.distance_m / 1000.0
            );
            self.pending.remove(&t);
            self.assigned.insert(t);
            self.touched_tasks.insert(t);
        }
        for u in plan.unassigned {
            let t = self.task_by_id[&u.task];
            let task = &mut self.tasks[t];
            if task.note != u.reason {
                task.note = u.reason;
                self.touched_tasks.insert(t);
            }
        }
    }

    /// A team's outcome on a task.
    fn outcome(&mut self, seq: u64, obs: &Observation, task: &str, outcome: Outcome) {
        let Some(&t) = self.task_by_id.get(task) else {
            self.warnings
                .push(format!("entry {seq}: an outcome for unknown task {task}"));
            return;
        };
        let p = &obs.properties;
        let by = &p.source.id;
        let remarks = if p.remarks.is_empty() {
            String::new()
        } else {
            format!(": {}", p.remarks)
        };
        let task_ref = &mut self.tasks[t];
        task_ref.outcome = Some(outcome);
        task_ref.outcome_at = Some(p.observed_at);
        task_ref.outcome_seq = Some(seq);
        self.touched_tasks.insert(t);
        self.assigned.remove(&t);
        let Some(verdict) = tasks::verdict(outcome) else {
            // Turned back: the task waits for the road (the denial is in `denials`).
            task_ref.state = TaskState::Pending;
            task_ref.team = None;
            task_ref.distance_m = None;
            task_ref.assigned_at = None;
            task_ref.note = format!("{by} was denied access{remarks}");
            self.pending.insert(t);
            return;
        };
        task_ref.state = TaskState::Done;
        self.pending.remove(&t);
        task_ref.note = format!("{by}: {}{remarks}", outcome.as_str());
        let incident = task_ref.incident.clone();
        let Some(k) = self.find(&incident) else {
            return;
        };
        let record = Arc::make_mut(&mut self.records[k]);
        if record.state == Lifecycle::Published {
            return;
        }
        let to = match verdict {
            Verdict::Verified => Lifecycle::Verified,
            Verdict::NotConfirmed => Lifecycle::NotConfirmed,
            Verdict::Inconclusive => Lifecycle::Inconclusive,
        };
        record.transitions.push(Transition {
            from: Some(record.state),
            to,
            action: self.fusion.name("outcome"),
            at: p.observed_at,
            actor: by.clone().into(),
            reason: format!("{task}: {}{remarks}", outcome.as_str()).into(),
            entry_seq: seq,
        });
        record.state = to;
        self.touch(k);
    }

    /// Checks a decision against the current state without applying it.
    pub fn check(&self, d: &Decision) -> Result<usize, DecisionError> {
        if d.actor.trim().is_empty() || d.reason.trim().is_empty() {
            return Err(DecisionError::Unsigned);
        }
        let k = self
            .find(&d.incident)
            .ok_or_else(|| DecisionError::UnknownIncident(d.incident.clone()))?;
        let state = self.records[k].state;
        let not_now = |why| DecisionError::NotNow {
            incident: d.incident.clone(),
            state: state.as_str(),
            why,
        };
        match d.action {
            Action::Verify => {
                if d.party.is_some() {
                    return Err(DecisionError::PartyNotExpected("verify"));
                }
                if state.is_concluded() {
                    return Err(not_now("it is already concluded"));
                }
            }
            Action::Publish => {
                if d.party.is_some() {
                    return Err(DecisionError::PartyNotExpected("publish"));
                }
                match state {
                    Lifecycle::Published => return Err(not_now("it is already published")),
                    s if !s.is_concluded() => {
                        return Err(not_now(
                            "only verified, not confirmed or inconclusive incidents are published",
                        ));
                    }
                    _ => {}
                }
            }
            Action::Task => {
                if d.party.is_some() {
                    return Err(DecisionError::PartyNotExpected("task"));
                }
                if state.is_concluded() {
                    return Err(not_now("it is already concluded"));
                }
                if self.fusion.incidents()[k].location.is_none() {
                    return Err(not_now("it has no location to send a team to"));
                }
                if let Some(&t) = self.task_by_id.get(&tasks::task_id(&d.incident))
                    && self.tasks[t].state != TaskState::Done
                {
                    return Err(not_now("a team is already tasked (or waiting to be)"));
                }
            }
            Action::Attribute => {
                let parties = &self.engine.agreement().parties;
                if !d
                    .party
                    .as_deref()
                    .is_some_and(|p| parties.iter().any(|x| x.id == p))
                {
                    let known: Vec<&str> = parties.iter().map(|p| p.id.as_str()).collect();
                    return Err(DecisionError::UnknownParty {
                        got: d.party.clone(),
                        known: known.join(", "),
                    });
                }
                if state == Lifecycle::Published {
                    return Err(not_now("a published incident's attribution is final"));
                }
            }
        }
        Ok(k)
    }

    /// Applies a decision entry. A decision the ledger refuses (it cannot be, when the CLI
    /// checked it first against the same state) is returned as the error and changes nothing.
    pub fn decide(&mut self, seq: u64, d: &Decision) -> Result<(), DecisionError> {
        self.note_seq(seq);
        let k = self.check(d)?;
        let record = Arc::make_mut(&mut self.records[k]);
        let from = record.state;
        if d.action == Action::Task {
            let inc = &self.fusion.incidents()[k];
            let severity = inc
                .breaches
                .iter()
                .filter_map(|r| self.engine.agreement().rules.iter().find(|x| &x.id == r))
                .map(|r| r.severity)
                .max()
                .unwrap_or(truce_core::agreement::Severity::Low);
            let req = TaskRequest {
                task: tasks::task_id(&d.incident),
                incident: d.incident.clone(),
                location: inc.location.expect("checked"),
                priority: Priority {
                    severity,
                    confidence_permille: (inc.confidence.clamp(0.0, 1.0) * 1000.0).round() as u16,
                    since: inc.start,
                },
            };
            if let Some(&t) = self.task_by_id.get(&req.task) {
                // A finished task tasked again: the old one keeps its history under a new id.
                let old = &mut self.tasks[t];
                old.id = format!("{}-{}", old.id, old.created_seq);
                let renamed = old.id.clone();
                self.task_by_id.remove(&req.task);
                self.task_by_id.insert(renamed, t);
                self.touched_tasks.insert(t);
            }
            self.open_task(k, seq, d.decided_at, req, &d.actor, d.reason.clone());
            self.touch(k);
            self.plan(d.decided_at);
            return Ok(());
        }
        let to = match d.action {
            Action::Task => unreachable!("handled above"),
            Action::Verify => Lifecycle::Verified,
            Action::Publish => Lifecycle::Published,
            Action::Attribute => {
                record.attributed_party = d.party.clone();
                from
            }
        };
        let reason = match (&d.action, &d.party) {
            (Action::Attribute, Some(p)) => format!("attributed to {p}: {}", d.reason),
            _ => d.reason.clone(),
        };
        record.transitions.push(Transition {
            from: Some(from),
            to,
            action: d.action.as_str().into(),
            at: d.decided_at,
            actor: d.actor.clone().into(),
            reason: reason.into(),
            entry_seq: seq,
        });
        record.state = to;
        self.touch(k);
        if d.action == Action::Verify {
            let task = tasks::task_id(&d.incident);
            if let Some(&t) = self.task_by_id.get(&task)
                && self.tasks[t].state != TaskState::Done
            {
                let open = &mut self.tasks[t];
                open.state = TaskState::Done;
                open.note = format!("closed: verified by {}", d.actor);
                self.pending.remove(&t);
                self.assigned.remove(&t);
                self.touched_tasks.insert(t);
                self.plan(d.decided_at);
            }
        }
        Ok(())
    }

    /// Checks a party's response without applying it.
    pub fn check_response(&self, r: &Response) -> Result<usize, DecisionError> {
        if !matches!(r.response.as_str(), "acknowledge" | "dispute") || r.text.trim().is_empty() {
            return Err(DecisionError::BadResponse(r.response.clone()));
        }
        let parties = &self.engine.agreement().parties;
        if !parties.iter().any(|p| p.id == r.party) {
            let known: Vec<&str> = parties.iter().map(|p| p.id.as_str()).collect();
            return Err(DecisionError::UnknownParty {
                got: Some(r.party.clone()),
                known: known.join(", "),
            });
        }
        self.find(&r.incident)
            .ok_or_else(|| DecisionError::UnknownIncident(r.incident.clone()))
    }

    /// Applies a `response` entry: a step in the incident's history that leaves its state,
    /// naming the party, its words and its counter-evidence.
    pub fn respond(&mut self, seq: u64, r: &Response) -> Result<(), DecisionError> {
        self.note_seq(seq);
        let k = self.check_response(r)?;
        let record = Arc::make_mut(&mut self.records[k]);
        let evidence = if r.evidence.is_empty() {
            String::new()
        } else {
            let seqs: Vec<String> = r.evidence.iter().map(u64::to_string).collect();
            format!(" (counter-evidence: entries {})", seqs.join(", "))
        };
        record.transitions.push(Transition {
            from: Some(record.state),
            to: record.state,
            action: self.fusion.name(&r.response),
            at: r.responded_at,
            actor: format!("party:{} ({})", r.party, r.actor).into(),
            reason: format!("{}{evidence}", r.text).into(),
            entry_seq: seq,
        });
        self.touch(k);
        Ok(())
    }

    /// Applies an `alert` entry: each alert and each delivery outcome becomes a step in its
    /// incident's history that leaves the state (`alert`, `delivered`, `undelivered`), so the
    /// incident shows who was told what and when. An alert about an incident the ledger does
    /// not know is noted in [`Ledger::warnings`] and skipped.
    pub fn alerted(&mut self, seq: u64, a: &AlertRecord) {
        self.note_seq(seq);
        for sent in &a.alerts {
            let Some(k) = self.find(&sent.incident) else {
                self.warnings.push(format!(
                    "entry {seq}: alert {} about unknown incident {}",
                    sent.id, sent.incident
                ));
                continue;
            };
            let severity = sent.severity.map_or("no breach", |s| s.as_str());
            let rules = if sent.rules.is_empty() {
                String::new()
            } else {
                format!(", rules {}", sent.rules.join(", "))
            };
            let escalated = match (&sent.escalated_from, &sent.escalation) {
                (Some(from), Some(why)) => format!(" (escalated from {}: {why})", from.as_str()),
                (Some(from), None) => format!(" (escalated from {})", from.as_str()),
                _ => String::new(),
            };
            let told = if sent.recipients.is_empty() {
                "staff only".to_string()
            } else {
                format!("staff and {}", sent.recipients.join(", "))
            };
            let within = sent
                .within_s
                .map(|s| format!("; within {s} s"))
                .unwrap_or_default();
            let hooks = if sent.webhooks.is_empty() {
                String::new()
            } else {
                format!("; webhooks to {}", sent.webhooks.join(", "))
            };
            let record = Arc::make_mut(&mut self.records[k]);
            for p in &sent.recipients {
                if let Err(at) = record.told.binary_search(p) {
                    record.told.insert(at, p.clone());
                }
            }
            record.transitions.push(Transition {
                from: Some(record.state),
                to: record.state,
                action: self.fusion.name("alert"),
                at: a.created_at,
                actor: self.fusion.name(ENGINE_ACTOR),
                reason: format!(
                    "{} alert {}: {severity}{escalated}{rules}; told {told}{within}{hooks}",
                    sent.kind, sent.id
                )
                .into(),
                entry_seq: seq,
            });
            self.touch(k);
        }
        for d in &a.deliveries {
            let Some(k) = self.find(&d.incident) else {
                self.warnings.push(format!(
                    "entry {seq}: delivery of alert {} about unknown incident {}",
                    d.alert, d.incident
                ));
                continue;
            };
            let status = d.status.map(|s| format!("HTTP {s}, ")).unwrap_or_default();
            let on_time = match d.on_time {
                Some(true) => ", within the deadline",
                Some(false) => ", after the deadline",
                None => "",
            };
            let error = d
                .error
                .as_deref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default();
            let record = Arc::make_mut(&mut self.records[k]);
            record.transitions.push(Transition {
                from: Some(record.state),
                to: record.state,
                action: if d.outcome == "delivered" {
                    "delivered"
                } else {
                    "undelivered"
                }
                .into(),
                at: d.at,
                actor: format!("webhook:{}", d.party).into(),
                reason: format!(
                    "alert {} to {}: {}{} attempt(s){on_time}{error}",
                    d.alert, d.party, status, d.attempts
                )
                .into(),
                entry_seq: seq,
            });
            self.touch(k);
        }
    }

    /// Incidents by lifecycle state.
    pub fn count_by_state(&self) -> BTreeMap<Lifecycle, usize> {
        let mut out = BTreeMap::new();
        for r in &self.records {
            *out.entry(r.state).or_insert(0) += 1;
        }
        out
    }
}
