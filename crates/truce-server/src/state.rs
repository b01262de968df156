//! The running service's state: the [`Service`] (store, ledger, key, clock) behind one lock,
//! the read snapshot of its incidents beside it, the alert channel, counters, limits — and
//! [`run_blocking`], how a handler reaches the service on a blocking thread (and how the
//! snapshot follows every write).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use anyhow::Result;
use tokio::sync::broadcast;
use truce_core::assess::Engine;
use truce_fusion::ledger::Ledger;
use truce_log::SignerKey;
use truce_service::alerts::Alert;
use truce_service::snapshot::Incidents;
use truce_service::view::TaskView;
use truce_service::{Applied, Clock, Service};

use crate::auth::{Principal, Role, TokenCache, token_hash};
use crate::error::{ApiError, ApiResult};

/// Named limits; each returns a clear 4xx when exceeded.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body, bytes (413).
    pub max_body_bytes: usize,
    /// Most records in one `POST /api/observations` (413).
    pub max_batch_records: usize,
    /// Most HTTP requests in flight at once (503 beyond). A request takes its place only once
    /// it is authenticated and authorised, before its body is read.
    pub max_connections: usize,
    /// Requests per second per token (or per client address for the public), burst the same
    /// (429 with Retry-After).
    pub requests_per_second: u32,
    /// How long a request over its caller's `requests_per_second` may be held until the rate
    /// allows it, rather than refused (429 beyond): a client paging through a collection one
    /// request after another — GDAL and QGIS ask OGC API – Features for 10 features at a time —
    /// is slowed to the rate, not cut off in the middle. Under a second, so that at one
    /// request a second the second request is still refused.
    pub rate_delay: Duration,
    /// Requests per second from one client address whatever its tokens, burst the same (429
    /// with Retry-After): checked first, before the token is looked up.
    pub requests_per_address_per_second: u32,
    /// Most open HTTP connections (`crate::http`): one more is closed as soon as it is
    /// accepted, holding no file descriptor.
    pub max_open_connections: usize,
    /// Most open HTTP connections from one client address (closed on accept beyond).
    pub max_connections_per_address: usize,
    /// How long a client has to send a request's headers, from its first byte or from the end
    /// of the previous response on a kept-alive connection (the connection is closed): bounds
    /// idle keep-alive connections too.
    pub header_timeout: Duration,
    /// How long a client has to send a request's whole body once its headers are read (408).
    pub body_timeout: Duration,
    /// Largest CoT event on a TCP stream or in a datagram, bytes.
    pub max_cot_event_bytes: usize,
    /// CoT events per listener batch, and how long a batch waits to fill.
    pub cot_batch_events: usize,
    pub cot_batch_wait: Duration,
    /// How long one CoT event may take to arrive on a TCP stream, from its first byte (or
    /// the first byte that is not white space after the previous event) to its last; the
    /// connection is closed beyond. Bytes that complete no event do not keep a connection
    /// open: a client sending a byte a second is cut off after this long.
    pub cot_event_timeout: Duration,
    /// Most CoT TCP connections from one client address (closed on accept beyond), under the
    /// listener's overall `crate::cot::MAX_CONNECTIONS`.
    pub cot_max_connections_per_address: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            // 32 MiB: a 100,000-feature GeoJSON batch of compact points fits.
            max_body_bytes: 32 << 20,
            // The CLI's transaction size: one batch, one transaction, one checkpoint.
            max_batch_records: 10_000,
            max_connections: 1024,
            // A dashboard polls a few times a second; a script ingesting batches needs a few.
            requests_per_second: 200,
            // 100 requests queued at the default rate; a sequential client waits 5 ms.
            rate_delay: Duration::from_millis(500),
            // Many users behind one NAT share an address; one client does not need more.
            requests_per_address_per_second: 1000,
            // Under the usual 65,536 descriptors a process may hold, with room for the store,
            // the CoT listeners and webhooks.
            max_open_connections: 4096,
            // A browser opens 6 per host; a NAT of a few dozen users fits, one host cannot
            // take every connection.
            max_connections_per_address: 256,
            // nginx's client_header_timeout is 60 s; a request's headers are one packet.
            header_timeout: Duration::from_secs(10),
            // A 32 MiB batch at 2 Mbit/s arrives in ~2 minutes.
            body_timeout: Duration::from_secs(120),
            // ATAK events are ~1 KB; 64 KiB allows long remarks, not a flood.
            max_cot_event_bytes: 64 << 10,
            cot_batch_events: 500,
            cot_batch_wait: Duration::from_millis(200),
            // An ATAK event is ~1 KB, one TCP segment; a maximal 64 KiB one arrives in 30 s
            // at 18 kbit/s, slower than any IP link a TAK device streams over.
            cot_event_timeout: Duration::from_secs(30),
            // A TAK server relays its devices over one connection; a team's router may put a
            // few dozen devices behind one address. Eight addresses are needed to fill the
            // listener's 256 places.
            cot_max_connections_per_address: 32,
        }
    }
}

/// The service (store, ledger, key, clock) and what the server caches beside it, behind one
/// lock.
pub struct Core {
    pub svc: Service,
    /// When the log was last checked for entries other processes appended.
    pub synced_at: Option<std::time::Instant>,
    /// The log's tiles at the latest checkpoint (`/log/`).
    pub tiles: TileCache,
    /// The assigned tasks already announced to the CoT listener's devices.
    pub assigned: crate::cot_tasks::Assigned,
    /// Entries folded (and already in the snapshot) that `crate::reactions` has not yet
    /// reacted to.
    pub unreacted: Vec<Applied>,
    /// This server leads the deployment ([`truce_store::Backend::lead`]): it logs alerts and
    /// calls webhooks. Replicas on one PostgreSQL database send alerts to their own
    /// subscribers only; checked again at every sync, so one takes over when the leader dies.
    pub leading: bool,
}

impl Core {
    /// Brings `snapshot` level with the ledger after a call into the service: the incidents
    /// the entries it folded touched are copied anew, the rest shared. Runs before the lock is
    /// released, so a writer's next read (from any connection) sees its write.
    pub fn settle(&mut self, snapshot: &RwLock<Arc<Incidents>>) {
        let applied = self.svc.take_applied();
        settle(snapshot, self.svc.ledger(), &applied);
        self.unreacted.extend(applied);
    }
}

/// Brings `snapshot` level with `ledger`, which folded `applied` since the snapshot was
/// taken: the incidents they touched are copied anew, the rest shared. (Also what a request
/// stored by `crate::ingest` does on the folding thread before it is answered.)
pub fn settle(snapshot: &RwLock<Arc<Incidents>>, ledger: &Ledger, applied: &[Applied]) {
    let current = snapshot.read().unwrap_or_else(|e| e.into_inner()).clone();
    if applied.is_empty() && current.through_seq() == ledger.through_seq() {
        return;
    }
    let next = if applied.is_empty() {
        // Folded without saying what it touched: taken whole rather than guessed.
        Incidents::of(ledger)
    } else {
        let touched = applied
            .iter()
            .flat_map(|a| &a.incidents)
            .filter_map(|id| ledger.find(id));
        current.updated(ledger, touched)
    };
    *snapshot.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(next);
}

/// Tile bytes by path under `/log/`, for one log size.
pub type Tiles = (u64, std::collections::HashMap<String, Vec<u8>>);

/// The tiles of the latest checkpoint (`crate::tlog`), made once per checkpoint size.
#[derive(Default)]
pub struct TileCache(pub Mutex<Option<Tiles>>);

/// Where published alerts go besides the stream: the parties' webhooks
/// (`crate::webhooks::Webhooks`), behind a trait so the state does not depend on them.
pub trait AlertSink: Send + Sync {
    /// The parties whose endpoints `alert` is queued for.
    fn parties_for(&self, alert: &Alert) -> Vec<String>;
    /// Queues `alert` for its recipients' endpoints.
    fn dispatch(&self, state: &Shared, alert: &Alert);
}

/// Counters for `/metrics`.
#[derive(Default)]
pub struct Metrics {
    pub requests: AtomicU64,
    pub observations_stored: AtomicU64,
    pub observations_duplicate: AtomicU64,
    pub records_rejected: AtomicU64,
    /// CoT rejections not kept one by one (over a source's sample), counted in an aggregate.
    pub rejected_suppressed: AtomicU64,
    pub cot_events: AtomicU64,
    pub alerts_sent: AtomicU64,
    /// Webhook deliveries that succeeded, and that were given up.
    pub webhooks_delivered: AtomicU64,
    pub webhooks_failed: AtomicU64,
    pub rate_limited: AtomicU64,
    /// Request latency histogram: counts per upper bound (seconds) in [`LATENCY_BUCKETS`].
    pub latency: [AtomicU64; LATENCY_BUCKETS.len()],
    pub latency_sum_us: AtomicU64,
}

/// Upper bounds of the latency histogram, seconds.
pub const LATENCY_BUCKETS: [f64; 10] =
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

impl Metrics {
    pub fn observe_latency(&self, d: Duration) {
        let s = d.as_secs_f64();
        for (i, b) in LATENCY_BUCKETS.iter().enumerate() {
            if s <= *b {
                self.latency[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.latency_sum_us
            .fetch_add(d.as_micros() as u64, Ordering::Relaxed);
    }
}

/// Shared by every handler and listener.
pub struct AppState {
    /// The terms in force when the service opened (the ledger folds under them).
    pub engine: Arc<Engine>,
    pub core: Mutex<Core>,
    /// The incidents as the ledger held them after the last write or fold
    /// ([`Core::settle`]): lists and counts are read from here, in parallel and without the
    /// core's lock. Entries other processes append reach it within
    /// `crate::reactions::EXTERNAL_SYNC`.
    pub snapshot: RwLock<Arc<Incidents>>,
    /// The service's clock: alerts and webhooks are timed by it too.
    pub clock: Arc<dyn Clock>,
    pub alerts: broadcast::Sender<Alert>,
    /// Tasks as they are assigned, for the teams' TAK devices (`crate::cot_tasks`).
    pub tasks: broadcast::Sender<TaskView>,
    pub metrics: Metrics,
    pub limits: Limits,
    pub tokens: Mutex<TokenCache>,
    /// A second connection to the store, for looking tokens up: SQLite (WAL) lets it read
    /// while the service's connection writes, so a request whose token left the cache does
    /// not wait for a batch being stored.
    tokens_db: Mutex<Box<dyn truce_store::Backend>>,
    pub db: PathBuf,
    /// Turns true when the service is shutting down: long-lived streams (alerts) end, so the
    /// graceful shutdown does not wait on them for ever.
    pub stop: tokio::sync::watch::Sender<bool>,
    /// Per-party webhooks (`truce serve --webhooks FILE`); unset: none.
    pub webhooks: std::sync::OnceLock<Arc<dyn AlertSink>>,
    /// An online map style for the web app (`truce serve --map-style`); unset: the bundled
    /// basemap.
    pub map_style: std::sync::OnceLock<MapStyle>,
    /// Reports made for `GET /api/reports/…`.
    pub reports: ReportCache,
    /// Batches posted, waiting to be stored (`crate::ingest`).
    pub ingest: crate::ingest_queue::IngestQueue,
}

/// An online map style a deployment serves the app (`truce serve --map-style URL`): the app
/// draws it under the terms instead of the bundled basemap. Its origin, and any others its
/// tiles, sprites and glyphs come from, are added to the policy's `connect-src` and `img-src`
/// — and nothing else is (`crate::web::csp`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapStyle {
    pub url: String,
    /// `scheme://host[:port]`, the style's first.
    pub origins: Vec<String>,
}

impl MapStyle {
    /// The style at `url` (http or https), its resources also from `more` origins.
    pub fn new(url: &str, more: &[String]) -> Result<MapStyle, String> {
        let origin = |u: &str, what: &str| -> Result<String, String> {
            let uri: axum::http::Uri = u
                .parse()
                .map_err(|e| format!("{what} {u:?} is not a URL: {e}"))?;
            let scheme = uri.scheme_str().unwrap_or("");
            if !matches!(scheme, "http" | "https") {
                return Err(format!("{what} {u:?} is not an http or https URL"));
            }
            let host = uri
                .authority()
                .ok_or_else(|| format!("{what} {u:?} names no host"))?;
            if host.as_str().contains('@') {
                return Err(format!("{what} {u:?} carries credentials"));
            }
            Ok(format!("{scheme}://{host}"))
        };
        let mut origins = vec![origin(url, "the map style")?];
        for m in more {
            let o = origin(m, "the map origin")?;
            if !origins.contains(&o) {
                origins.push(o);
            }
        }
        Ok(MapStyle {
            url: url.to_string(),
            origins,
        })
    }
}

pub type Shared = Arc<AppState>;

impl AppState {
    /// Opens the store, replays its log into the ledger, and brings the derived tables level.
    pub fn open(
        db: PathBuf,
        key: SignerKey,
        limits: Limits,
        clock: Arc<dyn Clock>,
    ) -> Result<Shared> {
        let svc = Service::open(&db, clock.clone())?
            .with_key(key)?
            .with_reactions();
        let (alerts, _) = broadcast::channel(4096);
        // A device that connects gets its team's open tasks then; the channel carries only
        // those assigned afterwards.
        let (tasks, _) = broadcast::channel(1024);
        let assigned = crate::cot_tasks::Assigned::of(svc.ledger());
        let snapshot = RwLock::new(Arc::new(Incidents::of(svc.ledger())));
        let tokens_db = Mutex::new(truce_store::open(&db)?);
        Ok(Arc::new(AppState {
            engine: svc.engine().clone(),
            snapshot,
            clock,
            core: Mutex::new(Core {
                svc,
                synced_at: None,
                tiles: TileCache::default(),
                assigned,
                unreacted: Vec::new(),
                leading: false,
            }),
            alerts,
            tasks,
            metrics: Metrics::default(),
            limits,
            tokens: Mutex::new(TokenCache::default()),
            tokens_db,
            db,
            stop: tokio::sync::watch::Sender::new(false),
            webhooks: std::sync::OnceLock::new(),
            map_style: std::sync::OnceLock::new(),
            reports: Default::default(),
            ingest: Default::default(),
        }))
    }

    /// The core, even if a panicking writer poisoned the lock (its transaction rolled back).
    pub fn core(&self) -> MutexGuard<'_, Core> {
        self.core.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The latest snapshot of the incidents (never waits for a writer).
    pub fn incidents(&self) -> Arc<Incidents> {
        self.snapshot
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The caller for a bearer token (None: no such live token).
    pub fn principal(&self, secret: &str) -> Result<Option<Principal>> {
        self.principal_by_hash(token_hash(secret))
    }

    /// The caller for a bearer token if the cache knows it (Some(None): no such live token),
    /// without touching the store: what a request tries before a blocking lookup.
    pub fn cached_principal(&self, secret: &str) -> Option<Option<Principal>> {
        self.tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&token_hash(secret))
    }

    /// Whether `p`'s token is still live (the public's "token" always is): what an open alert
    /// stream re-checks, through the same cache as every request, so a revocation reaches it
    /// as it reaches a request.
    pub fn still_live(&self, p: &Principal) -> Result<bool> {
        let Some(hash) = &p.token_sha256 else {
            return Ok(true);
        };
        Ok(self
            .principal_by_hash(hash.clone())?
            .is_some_and(|now| now.token_id == p.token_id))
    }

    /// The caller for a token's secret hash (None: no such live token), cached for
    /// [`crate::auth::TOKEN_CACHE_TTL`].
    fn principal_by_hash(&self, hash: String) -> Result<Option<Principal>> {
        if let Some(hit) = self
            .tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&hash)
        {
            return Ok(hit);
        }
        let row = self
            .tokens_db
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .live_token(&hash)?;
        let principal = match row {
            Some(r) => Some(Principal {
                token_id: Some(r.id),
                token_sha256: Some(r.token_sha256),
                name: r.name,
                role: Role::parse(&r.role).map_err(anyhow::Error::msg)?,
            }),
            None => None,
        };
        self.tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .put(hash, principal.clone());
        Ok(principal)
    }
}

/// Runs `f` with the core locked, on a blocking thread (SQLite and the fold are blocking
/// work), then brings the snapshot level with what it folded ([`Core::settle`]) before the
/// lock is released. Reactions to what `f` wrote are not taken here: see `crate::reactions`.
pub async fn run_blocking<T: Send + 'static>(
    state: &Shared,
    f: impl FnOnce(&mut Core) -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    let s = state.clone();
    tokio::task::spawn_blocking(move || {
        let mut core = s.core();
        let out = f(&mut core);
        core.settle(&s.snapshot);
        out
    })
    .await
    .map_err(|e| ApiError::from(anyhow::anyhow!("worker failed: {e}")))?
}

/// Appends each record as an `alert` entry (the ledger follows: the incidents show the
/// alerts) with one checkpoint. Returns the entries' seqs.
pub async fn log_alert_records(
    state: &Shared,
    records: Vec<truce_fusion::ledger::AlertRecord>,
) -> ApiResult<Vec<u64>> {
    run_blocking(state, move |core| Ok(core.svc.record_alerts(&records)?)).await
}

/// Reports kept in memory by `GET /api/reports/…`, newest last.
pub const KEPT_REPORTS: usize = 16;

/// A made report's key: (log size, subject, audience, language).
pub type ReportKey = (u64, String, String, &'static str);

/// Reports made, by [`ReportKey`]; one made at a time (`crate::api::reports`).
#[derive(Default)]
pub struct ReportCache {
    pub made: std::sync::Mutex<
        std::collections::VecDeque<(ReportKey, Arc<truce_service::report::Files>)>,
    >,
    pub making: tokio::sync::Mutex<()>,
}
