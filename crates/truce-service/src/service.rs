//! [`Service`]: the store, the ledger folded from its log, the log's key and the clock — and
//! every use case that changes them, each written once: append the entry (or batch), sign a
//! checkpoint, fold what is new into the ledger ([`truce_fusion::ledger::Ledger::apply`]),
//! write the derived rows it touched. The CLI and the HTTP/CoT front ends call these and hold
//! no use-case logic of their own.
//!
//! Every entry folded — the service's own or one another process appended (`truce decide`
//! from a shell while `truce serve` runs, found by [`Service::sync`]) — is noted as an
//! [`Applied`], which front ends take ([`Service::take_applied`]) to react: alerts, webhooks,
//! live pages. So a reaction follows the data, not the handler that wrote it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, anyhow};
use chrono::{DateTime, Utc};
use truce_core::agreement::Agreement;
use truce_core::assess::Engine;
use truce_core::entry::{Action, AlertRecord, Decision, Entry, EntryKind, Response};
use truce_core::limits::{MAX_ID_BYTES, MAX_REASON_BYTES, MAX_RESPONSE_EVIDENCE, MAX_TEXT_BYTES};
use truce_core::mission::Mission;
use truce_core::observation::{
    Geometry, Observation, ObservationKind, Outcome, Reliability, Source, SourceKind, TaskOutcome,
};
use truce_fusion::ledger::{ApplyError, DecisionError, Ledger, Lifecycle};
use truce_ingest::Record;
use truce_log::SignerKey;
use truce_store::{Backend, DerivedRows};

use crate::clock::Clock;
use crate::pipeline::{self, Committed};
use crate::rows::derived_rows;

/// Entries read from the store per page when folding.
const PAGE: usize = 10_000;

/// One entry folded into the ledger, and the incidents it touched (ids): what reactions
/// (alerts, live pages) start from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub seq: u64,
    pub kind: EntryKind,
    pub incidents: Vec<String>,
}

/// Why a use case did not go through.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The ledger's state does not allow it (a decision out of turn, an unknown incident):
    /// nothing was logged.
    #[error(transparent)]
    Refused(#[from] DecisionError),
    /// What it names does not exist (a task not assigned to the team).
    #[error("{0}")]
    NotFound(String),
    /// The request itself is wrong (an unknown outcome or kind).
    #[error("{0}")]
    Invalid(String),
    /// The store, the log or the key failed.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<truce_store::StoreError> for ServiceError {
    fn from(e: truce_store::StoreError) -> ServiceError {
        ServiceError::Internal(e.into())
    }
}

pub type Result<T, E = ServiceError> = std::result::Result<T, E>;

/// An analyst's decision, before it is timed and logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionRequest {
    pub incident: String,
    pub action: Action,
    /// For `attribute`.
    pub party: Option<String>,
    pub actor: String,
    pub reason: String,
}

/// A decision logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decided {
    /// Its log entry.
    pub seq: u64,
    /// Index of the incident in the ledger.
    pub incident: usize,
    pub before: Lifecycle,
    pub after: Lifecycle,
}

/// A party's response, before it is timed and logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseRequest {
    pub incident: String,
    pub party: String,
    /// `acknowledge` or `dispute`.
    pub response: String,
    pub text: String,
    pub actor: String,
    pub evidence: Vec<u64>,
}

/// A ground team's outcome of its task.
#[derive(Debug, Clone, PartialEq)]
pub struct OutcomeReport {
    pub outcome: Outcome,
    /// What was found (default `report`; `access_denied` for that outcome).
    pub kind: Option<ObservationKind>,
    pub remarks: String,
    /// Where (default: the task's place).
    pub location: Option<[f64; 2]>,
    pub error_radius_m: Option<f64>,
    /// When (default: now).
    pub observed_at: Option<DateTime<Utc>>,
}

/// The log replayed from entry 0 into fresh derived tables.
#[derive(Debug, Clone)]
pub struct Rebuilt {
    pub entries: u64,
    /// Derived tables whose digest changed (they differed from the replay).
    pub rewritten: Vec<&'static str>,
    pub digests: std::collections::BTreeMap<&'static str, String>,
    /// Refused entries met on the way.
    pub refused: Vec<String>,
    /// The store's ledger snapshot, held against the replay at its size: (size, identical).
    /// None when there was none the log stands behind. A fresh one is written either way.
    pub snapshot: Option<(u64, bool)>,
}

/// The store, its ledger, the log's key and the clock.
pub struct Service {
    db: PathBuf,
    store: Box<dyn Backend>,
    ledger: Ledger,
    key: Option<SignerKey>,
    clock: Arc<dyn Clock>,
    /// Entries folded since the last [`Service::take_applied`], kept only once a front end
    /// asked for them ([`Service::with_reactions`]): a batch command has nobody to tell.
    applied: Vec<Applied>,
    reacting: bool,
    /// Refused entries met since the last [`Service::take_warnings`].
    warnings: Vec<String>,
    /// The log size of the newest ledger snapshot in the store (0: none), restored at open or
    /// written since ([`Service::write_snapshot`]).
    snapshot_size: u64,
}

/// Entries folded since the last ledger snapshot after which [`Service::snapshot_due`] says a
/// new one is worth writing. A snapshot costs about a replay's tenth of a second per hundred
/// thousand observations to write; restarting folds at most this many entries beyond it.
pub const SNAPSHOT_AFTER_ENTRIES: u64 = 20_000;

/// The terms in force: the body of the last `agreement` entry.
pub fn engine_in_force(store: &dyn Backend) -> anyhow::Result<Engine> {
    engine_at(store, store.log_size()?)
}

/// The engine for the terms in force at `size` entries: the last `agreement` entry before it.
pub fn engine_at(store: &dyn Backend, size: u64) -> anyhow::Result<Engine> {
    if let Some(seq) = store.last_agreement_before(size)? {
        let entry = store
            .entry(seq)?
            .with_context(|| format!("log entry {seq} is missing"))?;
        if entry.kind == EntryKind::Agreement {
            let text = std::str::from_utf8(&entry.body)
                .with_context(|| format!("agreement entry {seq} is not UTF-8"))?;
            let terms = Agreement::from_canonical_json(text)
                .map_err(|e| anyhow!("agreement entry {seq}: {e}"))?;
            return Engine::new(terms).map_err(|e| anyhow!("agreement entry {seq}: {e}"));
        }
    }
    anyhow::bail!(
        "the store holds no agreement: ingest something first (truce ingest --agreement …)"
    )
}

/// Folds every entry of `store` after the ledger's last one into it, in seq order, calling
/// `each` after each. Refused entries are noted in `warnings` and passed over; an unreadable
/// one stops the fold.
fn fold(
    store: &dyn Backend,
    ledger: &mut Ledger,
    warnings: &mut Vec<String>,
    each: impl FnMut(&mut Ledger, &Entry),
) -> anyhow::Result<()> {
    fold_until(store, ledger, warnings, u64::MAX, each)
}

/// [`fold`], stopping before entry `size` (the log as it was at `size` entries).
fn fold_until(
    store: &dyn Backend,
    ledger: &mut Ledger,
    warnings: &mut Vec<String>,
    size: u64,
    mut each: impl FnMut(&mut Ledger, &Entry),
) -> anyhow::Result<()> {
    let from = ledger.through_seq().map_or(0, |s| s + 1);
    in_pages(store, from, size, |page| {
        apply_entries(ledger, warnings, &page, &mut each)
    })
}

/// The log's entries from seq `from` up to (not including) `size`, a page at a time.
fn in_pages(
    store: &dyn Backend,
    mut from: u64,
    size: u64,
    mut each: impl FnMut(Vec<Entry>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    while from < size {
        let mut page = store.entries(from, PAGE)?;
        let Some(last) = page.last().map(|e| e.seq) else {
            break;
        };
        page.truncate(page.partition_point(|e| e.seq < size));
        each(page)?;
        from = last + 1;
    }
    Ok(())
}

/// The error of a batch committed and checkpointed whose incidents were not written.
fn incidents_not_written(
    file: &str,
    outcome: &truce_store::BatchOutcome,
    e: impl std::fmt::Display,
) -> anyhow::Error {
    anyhow!(
        "batch from {file}: {} and checkpointed, but its incidents could not be written: {e:#}. \
         They are rewritten from the log when the store is next opened",
        entries_committed(outcome)
    )
}

/// What folding some entries touched.
#[derive(Default)]
struct Touched {
    incidents: BTreeSet<usize>,
    tasks: BTreeSet<usize>,
}

impl Touched {
    /// What to do after each entry folded: when a front end reacts (`applied`), note the entry
    /// and the incidents it touched; otherwise nothing — the ledger's own sets are taken once,
    /// after the fold ([`Touched::take_rest`]).
    fn noting<'a>(
        &'a mut self,
        applied: Option<&'a mut Vec<Applied>>,
    ) -> impl FnMut(&mut Ledger, &Entry) + 'a {
        let mut applied = applied;
        move |ledger, e| {
            if let Some(applied) = applied.as_deref_mut() {
                let touched = ledger.take_touched();
                applied.push(Applied {
                    seq: e.seq,
                    kind: e.kind,
                    incidents: touched
                        .iter()
                        .map(|&k| ledger.incidents()[k].id.clone())
                        .collect(),
                });
                self.incidents.extend(touched);
            }
        }
    }

    fn take_rest(&mut self, ledger: &mut Ledger) {
        self.incidents.extend(ledger.take_touched());
        self.tasks.extend(ledger.take_touched_tasks());
    }
}

/// A batch stored and signed, on its way through the fold.
struct Folding {
    committed: Committed,
    /// The batch itself (none for alerts), freed on the folding thread rather than the
    /// storing one.
    batch: Option<truce_store::Batch>,
}

/// Appends `bodies` as `alert` entries, each in a transaction of its own; their seqs.
fn append_alerts(store: &mut dyn Backend, bodies: &[String]) -> Result<Vec<u64>> {
    let mut seqs = Vec::with_capacity(bodies.len());
    for body in bodies {
        seqs.push(store.append_record(EntryKind::Alert, body)?);
    }
    Ok(seqs)
}

/// Alert records as the bodies of their `alert` entries, each checked against the entry-size
/// limit before any is logged.
fn alert_bodies(records: &[AlertRecord]) -> Result<Vec<String>> {
    records
        .iter()
        .map(|r| {
            let body = truce_core::canonical::to_canonical_json(r);
            fits("an alert record", &body).map(|()| body)
        })
        .collect()
}

/// What an alerts job of [`Service::ingest_stream`] logged: one result per record, in order,
/// with its entry's seq (another process may have appended between two of them), and the
/// first and last of those seqs (batch id 0: no batch).
fn alerts_logged(seqs: Vec<u64>) -> (truce_store::BatchOutcome, Vec<pipeline::RecordResult>) {
    let outcome = truce_store::BatchOutcome {
        batch_id: 0,
        accepted: 0,
        duplicates: 0,
        rejected: 0,
        first_seq: seqs.first().copied(),
        last_seq: seqs.last().copied(),
        placed: Vec::new(),
    };
    let results = seqs
        .into_iter()
        .enumerate()
        .map(|(i, seq)| pipeline::RecordResult {
            locator: format!("alert record {i}"),
            id: None,
            status: "stored",
            seq: Some(seq),
            reason: None,
        })
        .collect();
    (outcome, results)
}

/// One caller's work for [`Service::ingest_stream`]: what to log (`file` names where it
/// came from), and what the caller needs to answer for it (`tag`).
pub struct Job<T> {
    pub file: String,
    pub payload: Payload,
    pub tag: T,
}

/// What a [`Job`] logs.
pub enum Payload {
    /// A feed's records, read from `format`: stored as one batch, as [`Service::ingest`]
    /// stores them.
    Records {
        format: String,
        records: Vec<Record>,
    },
    /// Alert records, logged as [`Service::record_alerts`] logs them (one `alert` entry each,
    /// one checkpoint): a server logs the alerts a batch calls for in the same stream. The
    /// job's [`Committed`] has a result per record, in order, with its entry's seq.
    Alerts(Vec<AlertRecord>),
}

/// A job of [`Service::ingest_stream`] folded, or stopped by an error, handed to the caller
/// on the folding thread with the ledger as that job left it.
pub struct Folded<'a, T> {
    pub tag: T,
    pub result: anyhow::Result<Committed>,
    pub ledger: &'a Ledger,
    /// The entries this job folded when the service reacts ([`Service::with_reactions`]):
    /// what the caller leaves here goes to [`Service::take_applied`].
    pub applied: &'a mut Vec<Applied>,
}

/// How long the storing thread waits for the next job before it writes the incidents of the
/// one folded meanwhile (a burst's jobs are written one append behind; the last one soon).
const IDLE_WRITE: std::time::Duration = std::time::Duration::from_millis(20);

/// The job whose derived rows are being written, for the error should they fail.
struct Written {
    file: String,
    outcome: truce_store::BatchOutcome,
}

/// A job read, validated and assessed, on its way to the store.
enum Prepared<T> {
    Batch {
        file: String,
        ready: (truce_store::Batch, Vec<pipeline::RecordResult>),
        tag: T,
    },
    /// Alert records as the bodies of their entries.
    Alerts {
        file: String,
        bodies: Vec<String>,
        tag: T,
    },
    /// Nothing to store (no records at all), or nothing can be (an alert record over the
    /// entry-size limit).
    Answered(T, anyhow::Result<Committed>),
}

/// What the storing thread hands the folding one.
enum ToFold<T> {
    Fold {
        file: String,
        entries: Vec<Entry>,
        folding: Folding,
        tag: T,
    },
    /// A job answered without a fold (nothing stored, or an error), in its turn.
    Answer(T, anyhow::Result<Committed>),
}

/// What a committed batch appended to the log, for an error that follows its commit.
fn entries_committed(outcome: &truce_store::BatchOutcome) -> String {
    match (outcome.first_seq, outcome.last_seq) {
        (Some(first), Some(last)) => format!(
            "its {} entries (seqs {first}–{last}) are committed to the log",
            last - first + 1
        ),
        _ => "it added no entry to the log".to_string(),
    }
}

/// Folds `entries` (in seq order, each the one after the ledger's last) into `ledger`: an entry
/// the state refuses is noted in `warnings` and skipped; one that cannot be read stops the fold.
fn apply_entries(
    ledger: &mut Ledger,
    warnings: &mut Vec<String>,
    entries: &[Entry],
    mut each: impl FnMut(&mut Ledger, &Entry),
) -> anyhow::Result<()> {
    for e in entries {
        match ledger.apply(e) {
            Ok(()) => {}
            Err(why @ ApplyError::Refused { .. }) => {
                tracing::warn!("{why}");
                warnings.push(why.to_string());
            }
            Err(why @ ApplyError::Unreadable { .. }) => return Err(why.into()),
        }
        each(ledger, e);
    }
    Ok(())
}

/// The whole log of `store` folded into a fresh ledger under `engine`'s terms, nothing
/// written: what a party re-running the engine on the entries gets (and `truce score` under
/// other terms). Returns the ledger and the entries it refused.
pub fn replay(store: &dyn Backend, engine: Arc<Engine>) -> anyhow::Result<(Ledger, Vec<String>)> {
    let mut ledger = Ledger::new(engine);
    let mut warnings = Vec::new();
    fold(store, &mut ledger, &mut warnings, |_, _| {})?;
    Ok((ledger, warnings))
}

/// The log of `store` as it was at `size` entries, folded into a fresh ledger under `engine`'s
/// terms: what a report made at that size shows, however much the log has grown since.
pub fn replay_to(
    store: &dyn Backend,
    engine: Arc<Engine>,
    size: u64,
) -> anyhow::Result<(Ledger, Vec<String>)> {
    let mut ledger = Ledger::new(engine);
    let mut warnings = Vec::new();
    fold_until(store, &mut ledger, &mut warnings, size, |_, _| {})?;
    Ok((ledger, warnings))
}

/// Appends a `report` entry to `store` with one checkpoint signed by `key` at `now_unix_s`,
/// without the ledger: report entries change no incident (the ledger skips them), so
/// `truce report` does not replay the log to log one. The derived tables, level with the log
/// before, are marked level after it (they reflect the report entry: it changes none of them).
/// A running service logs through [`Service::log_report`] instead.
pub fn append_report(
    store: &mut dyn Backend,
    key: &SignerKey,
    issued: &truce_core::entry::ReportIssued,
    now_unix_s: u64,
) -> Result<u64> {
    let body = truce_core::canonical::to_canonical_json(issued);
    fits("a report entry", &body)?;
    store.check_signer(key)?;
    let level = store.derived_through()? == store.log_size()?.checked_sub(1);
    let seq = store.append_record(EntryKind::Report, &body)?;
    store.sign_checkpoint(key, now_unix_s)?;
    if level {
        store.write_derived(&truce_store::DerivedRows {
            through_seq: Some(seq),
            ..Default::default()
        })?;
    }
    Ok(seq)
}

impl Service {
    /// Opens the store at `db` (made if missing) for reading: replays its log into the ledger
    /// under the terms in force and brings the derived tables level (written whole when they
    /// were behind: a store from before incidents, a batch whose incidents a kill left
    /// unwritten, new terms). Writing needs [`Service::with_key`].
    pub fn open(db: &Path, clock: Arc<dyn Clock>) -> anyhow::Result<Service> {
        let store = truce_store::open(db)?;
        let engine = Arc::new(engine_in_force(&*store)?);
        Service::start(db, store, engine, None, clock)
    }

    /// Opens the store at `db` for writing with `key`, putting `terms` in force first (a new
    /// `agreement` entry when they differ from those in force, with a checkpoint).
    pub fn open_with_terms(
        db: &Path,
        terms: &Agreement,
        key: SignerKey,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Service> {
        let mut store = truce_store::open(db)?;
        store.check_signer(&key)?;
        store.put_agreement(terms, clock.now())?;
        store.sign_checkpoint(&key, clock.unix_s())?;
        let engine = Arc::new(engine_in_force(&*store)?);
        Service::start(db, store, engine, Some(key), clock)
    }

    /// Opens the store at `db`, replays its log from entry 0 into fresh derived tables and
    /// reports which differed from what was there (`truce rebuild`): the log is folded once,
    /// not once to open and again to rebuild.
    pub fn open_rebuilt(db: &Path, clock: Arc<dyn Clock>) -> anyhow::Result<(Service, Rebuilt)> {
        let store = truce_store::open(db)?;
        let engine = Arc::new(engine_in_force(&*store)?);
        let mut s = Service::unfolded(db, store, engine, None, clock);
        let rebuilt = s.rebuild()?;
        Ok((s, rebuilt))
    }

    /// A service whose ledger has folded nothing yet.
    fn unfolded(
        db: &Path,
        store: Box<dyn Backend>,
        engine: Arc<Engine>,
        key: Option<SignerKey>,
        clock: Arc<dyn Clock>,
    ) -> Service {
        Service {
            db: db.to_path_buf(),
            store,
            ledger: Ledger::new(engine),
            key,
            clock,
            applied: Vec::new(),
            reacting: false,
            warnings: Vec::new(),
            snapshot_size: 0,
        }
    }

    /// Takes the ledger from the store's snapshot when there is one the log stands behind
    /// (same log root at its size, same bytes, same terms, same format); otherwise leaves the
    /// ledger empty for a replay from entry 0, saying why at debug level (no snapshot is the
    /// usual case for a new store) or as a warning (one there that cannot be used).
    fn restore_snapshot(&mut self) -> anyhow::Result<()> {
        let snap = match self.store.ledger_snapshot()? {
            Ok(snap) => snap,
            Err(why) => {
                tracing::debug!("replaying the log from entry 0: {why}");
                return Ok(());
            }
        };
        match Ledger::from_snapshot(self.ledger.engine().clone(), &snap.state) {
            Ok(ledger) if ledger.through_seq().map_or(0, |t| t + 1) == snap.size => {
                tracing::info!(
                    size = snap.size,
                    bytes = snap.state.len(),
                    "ledger restored from its snapshot; folding the entries after it"
                );
                self.ledger = ledger;
                self.snapshot_size = snap.size;
            }
            Ok(ledger) => tracing::warn!(
                "replaying the log from entry 0: the ledger snapshot at size {} folded through seq {:?}",
                snap.size,
                ledger.through_seq()
            ),
            Err(why) => tracing::warn!("replaying the log from entry 0: {why}"),
        }
        Ok(())
    }

    /// The log size of the ledger snapshot the service restored at open or last wrote (0:
    /// none; the ledger was replayed from entry 0).
    pub fn snapshot_size(&self) -> u64 {
        self.snapshot_size
    }

    /// Whether enough entries were folded since the last ledger snapshot
    /// ([`SNAPSHOT_AFTER_ENTRIES`]) for a new one to be worth its write.
    pub fn snapshot_due(&self) -> bool {
        self.folded_size() >= self.snapshot_size + SNAPSHOT_AFTER_ENTRIES
    }

    /// Entries folded into the ledger: the log size it reflects.
    fn folded_size(&self) -> u64 {
        self.ledger.through_seq().map_or(0, |t| t + 1)
    }

    /// Writes the folded ledger as the store's snapshot at the log size it reflects, in place
    /// of the older one, unless that one is already at this size. A restart then folds only the
    /// entries after it. Returns whether one was written.
    pub fn write_snapshot(&mut self) -> anyhow::Result<bool> {
        let size = self.folded_size();
        if size == 0 || size == self.snapshot_size {
            return Ok(false);
        }
        let bytes = self.ledger.snapshot();
        self.store.put_ledger_snapshot(size, &bytes)?;
        self.snapshot_size = size;
        tracing::info!(size, bytes = bytes.len(), "ledger snapshot written");
        Ok(true)
    }

    fn start(
        db: &Path,
        store: Box<dyn Backend>,
        engine: Arc<Engine>,
        key: Option<SignerKey>,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Service> {
        let mut s = Service::unfolded(db, store, engine, key, clock);
        s.restore_snapshot()?;
        s.fold_new()?;
        if s.store.derived_through()? != s.ledger.through_seq() {
            let rows = derived_rows(&s.ledger, true, &[], &[]);
            s.store.write_derived(&rows)?;
        }
        Ok(s)
    }

    /// The same service, noting every entry it folds from now on for
    /// [`Service::take_applied`]: for a front end that reacts (alerts, live pages).
    pub fn with_reactions(mut self) -> Service {
        self.reacting = true;
        self
    }

    /// The same service, able to write: the log is signed with `key` (refused when the store
    /// already holds checkpoints signed by another key).
    pub fn with_key(mut self, key: SignerKey) -> anyhow::Result<Service> {
        self.store.check_signer(&key)?;
        self.key = Some(key);
        Ok(self)
    }

    /// Closes the store (every write is committed already) for a command about to exit, and
    /// leaves the folded state's memory to go back with the process rather than freeing it
    /// piece by piece — a twentieth of a large `truce ingest` went to that.
    pub fn close_for_exit(mut self) {
        // What this command folded, for the next to start from; a failure only costs that
        // command a longer replay.
        if let Err(e) = self.write_snapshot() {
            tracing::warn!("the ledger snapshot was not written: {e:#}");
        }
        let Service { store, ledger, .. } = self;
        drop(store);
        std::mem::forget(ledger);
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    pub fn engine(&self) -> &Arc<Engine> {
        self.ledger.engine()
    }

    pub fn store(&self) -> &dyn Backend {
        &*self.store
    }

    /// The store, for what is not a use case (tokens, tiles).
    pub fn store_mut(&mut self) -> &mut dyn Backend {
        &mut *self.store
    }

    pub fn db(&self) -> &Path {
        &self.db
    }

    pub fn key(&self) -> Option<&SignerKey> {
        self.key.as_ref()
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Entries folded since the last call, in seq order (the service's own and others').
    pub fn take_applied(&mut self) -> Vec<Applied> {
        std::mem::take(&mut self.applied)
    }

    /// Entries the ledger refused since the last call (`decision entry 12: …`).
    pub fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }

    /// Folds entries other processes appended since the ledger's last one. Returns how many.
    pub fn sync(&mut self) -> anyhow::Result<usize> {
        let size = self.store.log_size()?;
        let next = self.ledger.through_seq().map_or(0, |t| t + 1);
        if next >= size {
            return Ok(0);
        }
        self.follow()?;
        Ok((size - next) as usize)
    }

    /// Folds every entry after the ledger's last one; returns the incidents and tasks they
    /// touched (indices).
    fn fold_new(&mut self) -> anyhow::Result<(BTreeSet<usize>, BTreeSet<usize>)> {
        let mut touched = Touched::default();
        let applied = self.reacting.then_some(&mut self.applied);
        fold(
            &*self.store,
            &mut self.ledger,
            &mut self.warnings,
            touched.noting(applied),
        )
        .map_err(|e| anyhow!("{}: {e}", self.db.display()))?;
        touched.take_rest(&mut self.ledger);
        Ok((touched.incidents, touched.tasks))
    }

    /// Folds what is new and writes the rows it touched; returns the incidents touched.
    fn follow(&mut self) -> anyhow::Result<Vec<usize>> {
        let (incidents, tasks) = self.fold_new()?;
        let incidents: Vec<usize> = incidents.into_iter().collect();
        let tasks: Vec<usize> = tasks.into_iter().collect();
        let rows = derived_rows(&self.ledger, false, &incidents, &tasks);
        self.store.write_derived(&rows)?;
        Ok(incidents)
    }

    fn signer(&self) -> anyhow::Result<&SignerKey> {
        self.key.as_ref().ok_or_else(|| {
            anyhow!(
                "{}: opened without the log's key: nothing can be written",
                self.db.display()
            )
        })
    }

    fn sign(&mut self) -> anyhow::Result<()> {
        let now = self.clock.unix_s();
        let key = self.signer()?.clone();
        self.store.sign_checkpoint(&key, now)?;
        Ok(())
    }

    /// Appends one entry the service writes itself (decision, mission, response, alert),
    /// signs a checkpoint and folds it. Returns its seq.
    fn record(&mut self, kind: EntryKind, body: &str) -> anyhow::Result<u64> {
        self.signer()?;
        let seq = self.store.append_record(kind, body)?;
        // From here the entry is committed: an error must not say the store is unchanged.
        self.sign().map_err(|e| {
            anyhow!(
                "the {} entry is committed to the log at seq {seq}, but no checkpoint covers \
                 it yet — signing one failed: {e:#}. The next checkpoint signed covers it",
                kind.as_str()
            )
        })?;
        self.follow().map_err(|e| {
            anyhow!(
                "the {} entry is committed to the log at seq {seq} and checkpointed, but \
                 the incidents could not be written: {e:#}. They are rewritten from the log \
                 when the store is next opened",
                kind.as_str()
            )
        })?;
        Ok(seq)
    }

    /// Ingests one batch of records (`file` and `format` name it in the store): validated,
    /// assessed, stored in one transaction, signed, folded. An empty batch does nothing.
    pub fn ingest(&mut self, file: &str, format: &str, records: Vec<Record>) -> Result<Committed> {
        let mut committed = Committed::empty();
        self.ingest_batches(file, format, std::iter::once(records), |c| committed = c)?;
        Ok(committed)
    }

    /// Ingests `batches` one after another, each as [`Service::ingest`] describes, calling
    /// `done` with each batch's [`Committed`] in order once its incidents are written. Each
    /// batch is folded on a second thread while the next is validated, assessed and stored
    /// on this one (the ledger needs nothing of the store but the entries appended, read back
    /// here), so a file of many batches keeps both cores busy. Stops at the first error, after
    /// the incidents of the batches already folded are written.
    pub fn ingest_batches(
        &mut self,
        file: &str,
        format: &str,
        batches: impl Iterator<Item = Vec<Record>> + Send,
        mut done: impl FnMut(Committed),
    ) -> anyhow::Result<()> {
        let jobs = batches.map(|records| Job {
            file: file.to_string(),
            payload: Payload::Records {
                format: format.to_string(),
                records,
            },
            tag: (),
        });
        self.ingest_stream(
            jobs,
            |folded| folded.result.ok(),
            |c: Option<Committed>| c.into_iter().for_each(&mut done),
        )
    }

    /// The pipeline of [`Service::ingest_batches`] for batches from several callers (the
    /// server's requests): each [`Job`] is read, validated and assessed on one thread, stored
    /// and signed on this one, and folded on a third while the next is stored. `folded` is
    /// called on the folding thread for every job, in order, as soon as it is folded — with
    /// the ledger as that job left it, so a caller can answer before the job's incidents are
    /// written to the store's derived tables (they follow the next job's append, or sooner
    /// when no job comes) — or with the error that stopped it. What `folded` returns for a
    /// job folded goes to `written` on this thread once that job's incidents are written.
    ///
    /// Stops at the first error: the job that failed is answered with it, and jobs read but
    /// not stored yet are answered "not stored"; jobs `jobs` has not yet given are left
    /// there. The error is returned after the incidents of the jobs already folded are
    /// written.
    pub fn ingest_stream<T: Send, R: Send>(
        &mut self,
        jobs: impl Iterator<Item = Job<T>> + Send,
        mut folded: impl FnMut(Folded<'_, T>) -> R + Send,
        mut written: impl FnMut(R),
    ) -> anyhow::Result<()> {
        let key = self.signer()?.clone();
        let engine = self.ledger.engine().clone();
        let Service {
            store,
            ledger,
            clock,
            applied,
            reacting,
            warnings,
            ..
        } = self;
        let reacting = *reacting;
        let mut next = ledger.through_seq().map_or(0, |t| t + 1);
        std::thread::scope(|scope| {
            // One job folds while the next is stored: a channel of one each way.
            let (to_fold, to_folder) = std::sync::mpsc::sync_channel::<ToFold<T>>(1);
            let (to_writer, from_folder) =
                std::sync::mpsc::sync_channel::<anyhow::Result<(DerivedRows, R, Written)>>(1);
            let folder = scope.spawn(move || {
                for job in to_folder {
                    let (file, entries, folding, tag) = match job {
                        ToFold::Answer(tag, result) => {
                            folded(Folded {
                                tag,
                                result,
                                ledger,
                                applied: &mut Vec::new(),
                            });
                            continue;
                        }
                        ToFold::Fold {
                            file,
                            entries,
                            folding,
                            tag,
                        } => (file, entries, folding, tag),
                    };
                    let Folding { committed, batch } = folding;
                    drop(batch);
                    let mut touched = Touched::default();
                    let mut mine = Vec::new();
                    let result = apply_entries(
                        ledger,
                        warnings,
                        &entries,
                        touched.noting(reacting.then_some(&mut mine)),
                    )
                    .map_err(|e| incidents_not_written(&file, &committed.outcome, e));
                    let sent = match result {
                        Ok(()) => {
                            touched.take_rest(ledger);
                            let incidents: Vec<usize> = touched.incidents.into_iter().collect();
                            let tasks: Vec<usize> = touched.tasks.into_iter().collect();
                            let rows = derived_rows(ledger, false, &incidents, &tasks);
                            // Named in the error should its rows fail to be written.
                            let as_written = Written {
                                file,
                                outcome: committed.outcome.clone(),
                            };
                            let mut c = committed;
                            c.incidents = incidents
                                .iter()
                                .map(|&k| ledger.incidents()[k].id.clone())
                                .collect();
                            let said = folded(Folded {
                                tag,
                                result: Ok(c),
                                ledger,
                                applied: &mut mine,
                            });
                            // What the caller did not take is kept for `take_applied`.
                            applied.append(&mut mine);
                            to_writer.send(Ok((rows, said, as_written))).is_ok()
                        }
                        Err(e) => {
                            let answer = anyhow!("{e:#}");
                            folded(Folded {
                                tag,
                                result: Err(answer),
                                ledger,
                                applied: &mut mine,
                            });
                            let _ = to_writer.send(Err(e));
                            false
                        }
                    };
                    if !sent {
                        break;
                    }
                }
            });
            // Writes the rows of the oldest job handed to the folder and not yet written, if
            // any (at most two are: the one folding and the one after it); hands them to
            // `written`.
            let mut in_flight = 0_usize;
            let mut write_folded =
                |store: &mut Box<dyn Backend>, in_flight: &mut usize| -> anyhow::Result<()> {
                    if *in_flight == 0 {
                        return Ok(());
                    }
                    *in_flight -= 1;
                    let (rows, said, job) = from_folder
                        .recv()
                        .map_err(|_| anyhow!("the thread folding batches stopped"))??;
                    store
                        .write_derived(&rows)
                        .map_err(|e| incidents_not_written(&job.file, &job.outcome, e))?;
                    written(said);
                    Ok(())
                };
            // Jobs are read, validated and assessed a step ahead on a third thread.
            let (to_store, prepared) = std::sync::mpsc::sync_channel::<Prepared<T>>(1);
            let reading_clock = clock.clone();
            let preparer = scope.spawn(move || {
                let clock = reading_clock;
                for Job { file, payload, tag } in jobs {
                    let message = match payload {
                        Payload::Records { format, records } => {
                            let received_at = clock.now();
                            match pipeline::prepare(&engine, &file, &format, records, received_at) {
                                Some(ready) => Prepared::Batch { file, ready, tag },
                                None => Prepared::Answered(tag, Ok(Committed::empty())),
                            }
                        }
                        Payload::Alerts(records) => match alert_bodies(&records) {
                            Ok(bodies) => Prepared::Alerts { file, bodies, tag },
                            Err(e) => Prepared::Answered(tag, Err(e.into())),
                        },
                    };
                    if to_store.send(message).is_err() {
                        break; // storing failed and stopped listening
                    }
                }
            });
            let answer = |tag: T, result: anyhow::Result<Committed>| {
                // The folder stops only after the storing side does: nothing to tell then.
                let _ = to_fold.send(ToFold::Answer(tag, result));
            };
            let mut stored = |in_flight: &mut usize| -> anyhow::Result<()> {
                loop {
                    // A job folded while no other comes has its incidents written meanwhile.
                    let message = match prepared.recv_timeout(IDLE_WRITE) {
                        Ok(message) => message,
                        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                            while *in_flight > 0 {
                                write_folded(store, in_flight)?;
                            }
                            match prepared.recv() {
                                Ok(message) => message,
                                Err(_) => return Ok(()),
                            }
                        }
                        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return Ok(()),
                    };
                    let (file, tag, outcome, batch, results) = match message {
                        Prepared::Answered(tag, result) => {
                            answer(tag, result);
                            continue;
                        }
                        Prepared::Batch {
                            file,
                            ready: (batch, mut results),
                            tag,
                        } => match store.append_batch(&batch) {
                            Ok(outcome) => {
                                pipeline::place(&mut results, &outcome);
                                (file, tag, outcome, Some(batch), results)
                            }
                            Err(e) => {
                                let e = anyhow::Error::from(e);
                                answer(tag, Err(anyhow!("batch from {file} not stored: {e:#}")));
                                return Err(e);
                            }
                        },
                        Prepared::Alerts { file, bodies, tag } => {
                            match append_alerts(&mut **store, &bodies) {
                                Ok(seqs) => {
                                    let (outcome, results) = alerts_logged(seqs);
                                    (file, tag, outcome, None, results)
                                }
                                Err(e) => {
                                    let e = anyhow::Error::from(e);
                                    answer(tag, Err(anyhow!("alerts not logged: {e:#}")));
                                    return Err(e);
                                }
                            }
                        }
                    };
                    // From here the batch is committed: an error must not say the store is
                    // unchanged.
                    let entries = entries_committed(&outcome);
                    if let Err(e) = store.sign_checkpoint(&key, clock.unix_s()) {
                        let e = anyhow!(
                            "batch from {file}: {entries}, but no checkpoint covers them yet — \
                             signing one failed: {e:#}. They stay in the store; the next \
                             checkpoint signed (the next `truce ingest`, or the next write \
                             `truce serve` takes) covers them"
                        );
                        answer(tag, Err(anyhow!("{e:#}")));
                        return Err(e);
                    }
                    // The batch is committed and signed; its incidents follow in a transaction
                    // of their own (a kill in between leaves them behind the log, and the next
                    // open rewrites them). What else was appended since the last fold (another
                    // process's entries) is folded with it, in seq order.
                    let mut appended = Vec::new();
                    let read = store
                        .log_size()
                        .map_err(anyhow::Error::from)
                        .and_then(|size| {
                            in_pages(&**store, next, size, |page| {
                                appended.extend(page);
                                Ok(())
                            })?;
                            next = size;
                            Ok(())
                        });
                    if let Err(e) = read {
                        answer(tag, Err(incidents_not_written(&file, &outcome, &e)));
                        return Err(e);
                    }
                    let committed = Committed {
                        outcome,
                        results,
                        incidents: Vec::new(),
                    };
                    let job = ToFold::Fold {
                        file,
                        entries: appended,
                        folding: Folding { committed, batch },
                        tag,
                    };
                    // Folded from now, while the job before has its rows written (a failure to
                    // write them stops the rest).
                    if to_fold.send(job).is_err() {
                        return Ok(()); // the folder stopped: its error follows
                    }
                    *in_flight += 1;
                    while *in_flight > 1 {
                        write_folded(store, in_flight)?;
                    }
                }
            };
            let result = stored(&mut in_flight);
            // Jobs read but not stored are answered; the reader stops at its next send.
            let why = result.as_ref().err().map(|e| format!("{e:#}"));
            while let Ok(message) = prepared.try_recv() {
                let tag = match message {
                    Prepared::Answered(tag, result) => {
                        answer(tag, result);
                        continue;
                    }
                    Prepared::Batch { tag, .. } | Prepared::Alerts { tag, .. } => tag,
                };
                let why = why.as_deref().unwrap_or("the ingest stopped");
                answer(
                    tag,
                    Err(anyhow!("not stored: a batch before it failed: {why}")),
                );
            }
            drop(prepared);
            preparer
                .join()
                .map_err(|_| anyhow!("the thread reading batches panicked"))?;
            // The jobs folding when the last was stored (or one failed) are written either way.
            let mut last = Ok(());
            while in_flight > 0 && last.is_ok() {
                last = write_folded(store, &mut in_flight);
            }
            drop(to_fold);
            folder
                .join()
                .map_err(|_| anyhow!("the thread folding batches panicked"))?;
            result.and(last)
        })
    }

    /// A party's allegations: each record's source becomes the party, graded F6 (cannot be
    /// judged) until corroborated.
    pub fn allege(
        &mut self,
        party: &str,
        actor: &str,
        file: &str,
        mut records: Vec<Record>,
    ) -> Result<Committed> {
        for r in &mut records {
            if let Ok(o) = &mut r.result {
                o.properties.source = Source {
                    id: actor.to_string(),
                    kind: SourceKind::Party,
                    reliability: Reliability::F,
                    credibility: 6,
                    party: Some(party.to_string()),
                };
            }
        }
        self.ingest(file, "geojson", records)
    }

    /// An analyst's decision: checked against the incident's state (refused: nothing is
    /// logged), logged as a `decision` entry, signed, folded.
    pub fn decide(&mut self, req: DecisionRequest) -> Result<Decided> {
        self.signer()?;
        bounded(&[
            ("incident", &req.incident, MAX_ID_BYTES, "MAX_ID_BYTES"),
            (
                "party",
                req.party.as_deref().unwrap_or(""),
                MAX_ID_BYTES,
                "MAX_ID_BYTES",
            ),
            ("actor", &req.actor, MAX_ID_BYTES, "MAX_ID_BYTES"),
            ("reason", &req.reason, MAX_REASON_BYTES, "MAX_REASON_BYTES"),
        ])?;
        let decision = Decision {
            incident: req.incident,
            action: req.action,
            party: req.party,
            actor: req.actor,
            reason: req.reason,
            decided_at: self.clock.now(),
        };
        let k = self.ledger.check(&decision)?;
        let before = self.ledger.records()[k].state;
        let body = truce_core::canonical::to_canonical_json(&decision);
        fits("the decision", &body)?;
        let seq = self.record(EntryKind::Decision, &body)?;
        Ok(Decided {
            seq,
            incident: k,
            before,
            after: self.ledger.records()[k].state,
        })
    }

    /// A party's response to an incident: checked, logged as a `response` entry, signed,
    /// folded. Whether the party may see the incident is the caller's check
    /// ([`crate::access`]).
    pub fn respond(&mut self, req: ResponseRequest) -> Result<u64> {
        self.signer()?;
        bounded(&[
            ("incident", &req.incident, MAX_ID_BYTES, "MAX_ID_BYTES"),
            ("party", &req.party, MAX_ID_BYTES, "MAX_ID_BYTES"),
            ("response", &req.response, MAX_ID_BYTES, "MAX_ID_BYTES"),
            ("actor", &req.actor, MAX_ID_BYTES, "MAX_ID_BYTES"),
            ("text", &req.text, MAX_TEXT_BYTES, "MAX_TEXT_BYTES"),
        ])?;
        self.check_evidence(&req.evidence)?;
        let response = Response {
            incident: req.incident,
            party: req.party,
            response: req.response,
            text: req.text,
            actor: req.actor,
            evidence: req.evidence,
            responded_at: self.clock.now(),
        };
        self.ledger
            .check_response(&response)
            .map_err(|e| ServiceError::Invalid(e.to_string()))?;
        let body = truce_core::canonical::to_canonical_json(&response);
        fits("the response", &body)?;
        Ok(self.record(EntryKind::Response, &body)?)
    }

    /// A response's evidence: at most [`MAX_RESPONSE_EVIDENCE`] entries, each an observation
    /// already in the log (a party's allegation, or an observation it was shown), so a response
    /// never points at an entry that is not there or is not evidence.
    fn check_evidence(&self, evidence: &[u64]) -> Result<()> {
        if evidence.len() > MAX_RESPONSE_EVIDENCE {
            return Err(ServiceError::Invalid(format!(
                "a response cites {} entries as evidence; the limit is {MAX_RESPONSE_EVIDENCE} (MAX_RESPONSE_EVIDENCE)",
                evidence.len()
            )));
        }
        let size = self.store.log_size()?;
        for &seq in evidence {
            if seq >= size {
                return Err(ServiceError::Invalid(format!(
                    "evidence entry {seq} is not in the log (it holds entries 0 to {})",
                    size.saturating_sub(1)
                )));
            }
            let kind = self.store.entry(seq)?.map(|e| e.kind);
            if kind != Some(EntryKind::Observation) {
                let what =
                    kind.map_or("missing".to_string(), |k| format!("a {} entry", k.as_str()));
                return Err(ServiceError::Invalid(format!(
                    "evidence entry {seq} is {what}, not an observation: cite observations (a party posts its own with POST /api/allegations)"
                )));
            }
        }
        Ok(())
    }

    /// A team's outcome of the task assigned to it: stored as the team's observation carrying
    /// `task_outcome`, which moves the incident.
    pub fn task_outcome(
        &mut self,
        team: &str,
        task: &str,
        file: &str,
        report: OutcomeReport,
    ) -> Result<Committed> {
        let place = self
            .ledger
            .tasks()
            .iter()
            .find(|t| t.id == task && t.team.as_deref() == Some(team))
            .map(|t| t.location)
            .ok_or_else(|| ServiceError::NotFound(format!("no task {task} assigned to {team}")))?;
        let kind = match (report.outcome, report.kind) {
            (Outcome::AccessDenied, _) => ObservationKind::AccessDenied,
            (_, None) => ObservationKind::Report,
            (_, Some(k)) => k,
        };
        let now = self.clock.now();
        let mut obs = Observation::new(
            kind,
            report.observed_at.unwrap_or(now),
            Source {
                id: team.to_string(),
                kind: SourceKind::GroundTeam,
                reliability: Reliability::A,
                credibility: 1,
                party: None,
            },
            Geometry::Point {
                coordinates: report.location.unwrap_or(place).to_vec(),
            },
        );
        obs.id = Some(format!("{team}-{task}-{}", now.timestamp_millis()));
        obs.properties.remarks = report.remarks;
        obs.properties.error_radius_m = report.error_radius_m.unwrap_or(0.0);
        obs.properties.task_outcome = Some(TaskOutcome {
            task: task.to_string(),
            outcome: report.outcome,
        });
        let record = Record {
            locator: truce_ingest::Locator::Feature(0),
            raw: truce_core::canonical::to_canonical_json(&obs),
            result: Ok(obs),
        };
        self.ingest(file, "api", vec![record])
    }

    /// Logs a report issued (`report` entry: what it was made from, each file's SHA-256),
    /// signed and folded; returns its seq.
    pub fn log_report(&mut self, issued: &truce_core::entry::ReportIssued) -> Result<u64> {
        let body = truce_core::canonical::to_canonical_json(issued);
        fits("a report entry", &body)?;
        Ok(self.record(EntryKind::Report, &body)?)
    }

    /// Puts a mission (teams, fixed sensors) in force: a `mission` entry, signed, folded.
    pub fn set_mission(&mut self, mission: &Mission) -> Result<u64> {
        let body = mission.canonical_json();
        fits("the mission", &body)?;
        Ok(self.record(EntryKind::Mission, &body)?)
    }

    /// Logs alert records (each one `alert` entry), with one checkpoint; returns their seqs.
    pub fn record_alerts(&mut self, records: &[AlertRecord]) -> Result<Vec<u64>> {
        self.signer()?;
        let bodies = alert_bodies(records)?;
        let seqs = append_alerts(&mut *self.store, &bodies)?;
        if !seqs.is_empty() {
            self.sign()?;
            self.follow()?;
        }
        Ok(seqs)
    }

    /// Replays the log from entry 0 into a fresh ledger and rewrites every derived table,
    /// reporting those whose digest changed.
    pub fn rebuild(&mut self) -> anyhow::Result<Rebuilt> {
        let before = self.store.derived_digests()?;
        let engine = Arc::new(engine_in_force(&*self.store)?);
        self.ledger = Ledger::new(engine);
        self.warnings.clear();
        let reacting = std::mem::replace(&mut self.reacting, false);
        // The snapshot a restart would start from is checked against the replay at its size.
        let mut snapshot = None;
        let folded = match self.store.ledger_snapshot()? {
            Ok(snap) => fold_until(
                &*self.store,
                &mut self.ledger,
                &mut self.warnings,
                snap.size,
                |_, _| {},
            )
            .map(|()| snapshot = Some((snap.size, self.ledger.snapshot() == snap.state)))
            .and_then(|()| self.fold_new().map(drop)),
            Err(_) => self.fold_new().map(drop),
        };
        self.reacting = reacting;
        folded?;
        let rows = derived_rows(&self.ledger, true, &[], &[]);
        self.store.write_derived(&rows)?;
        self.snapshot_size = 0;
        self.write_snapshot()?;
        let digests = self.store.derived_digests()?;
        let rewritten = digests
            .iter()
            .filter(|(t, d)| before.get(*t) != Some(*d))
            .map(|(t, _)| *t)
            .collect();
        Ok(Rebuilt {
            entries: self.ledger.through_seq().map_or(0, |s| s + 1),
            rewritten,
            digests,
            refused: self.warnings.clone(),
            snapshot,
        })
    }
}

impl Service {
    /// Most observations whose evidence and proofs an incident's detail lists.
    pub const EVIDENCE_MAX: usize = 200;

    /// Incident `k` as `view` shows it, with its evidence chain and inclusion proofs against
    /// the latest checkpoint (not for the public).
    pub fn incident_detail(
        &self,
        k: usize,
        view: crate::access::View,
    ) -> anyhow::Result<crate::view::IncidentDetail> {
        use crate::access::View;
        use crate::view::{EvidenceItem, IncidentDetail, IncidentView, ProofAnchor};
        let incident = IncidentView::shown(&self.ledger, k, view);
        if view == View::Public {
            return Ok(IncidentDetail {
                incident,
                evidence: None,
                log: None,
            });
        }
        let inc = &self.ledger.incidents()[k];
        let checkpoint = self.store.latest_checkpoint()?;
        let mut evidence = Vec::new();
        for &seq in inc.observation_seqs.iter().take(Self::EVIDENCE_MAX) {
            let Some(o) = self
                .store
                .observations(seq, 1)?
                .into_iter()
                .find(|o| o.seq == seq)
            else {
                continue;
            };
            let props = &o.observation.properties;
            let full = view == View::Full;
            let inclusion_proof = match &checkpoint {
                Some(c) if seq < c.size => Some(
                    self.store
                        .inclusion_proof(seq, c.size)?
                        .iter()
                        .map(|h| h.to_base64())
                        .collect(),
                ),
                _ => None,
            };
            evidence.push(EvidenceItem {
                seq,
                kind: props.kind.as_str().to_string(),
                observed_at: props.observed_at,
                source_kind: props.source.kind.as_str().to_string(),
                rules: o
                    .assessment
                    .breaches
                    .iter()
                    .map(|b| b.rule.clone())
                    .collect(),
                observation: full
                    .then(|| serde_json::to_value(&o.observation))
                    .transpose()?,
                assessment: full
                    .then(|| serde_json::to_value(&o.assessment))
                    .transpose()?,
                inclusion_proof,
            });
        }
        Ok(IncidentDetail {
            incident,
            evidence: Some(evidence),
            log: Some(ProofAnchor {
                checkpoint: checkpoint.as_ref().map(|c| c.text.clone()),
                tree_size: checkpoint.as_ref().map(|c| c.size),
                proofs_against:
                    "the checkpoint above; GET /api/log/proof/{seq} gives the entry's bytes".into(),
            }),
        })
    }
}

/// [`ServiceError::Invalid`] naming the limit when an entry `body` is over
/// [`truce_core::limits::MAX_ENTRY_BYTES`]: checked before anything is appended.
fn fits(what: &str, body: &str) -> Result<()> {
    truce_core::limits::check_entry(what, body.len()).map_err(ServiceError::Invalid)
}

/// [`ServiceError::Invalid`] naming the first of `(field, value, max bytes, limit name)` over
/// its limit.
fn bounded(fields: &[(&str, &str, usize, &str)]) -> Result<()> {
    for (field, value, max, limit) in fields {
        truce_core::limits::check_len(field, value, *max, limit).map_err(ServiceError::Invalid)?;
    }
    Ok(())
}
