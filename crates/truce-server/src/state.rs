//! The running service's state: the store and the ledger behind one lock, the alert channel,
//! counters, limits.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::Result;
use serde::Serialize;
use tokio::sync::broadcast;
use truce_core::assess::Engine;
use truce_fusion::ledger::Ledger;
use truce_log::SignerKey;
use truce_store::GeoPackageStore;

use crate::auth::{Principal, Role, TokenCache, token_hash};

/// Named limits; each returns a clear 4xx when exceeded.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body, bytes (413).
    pub max_body_bytes: usize,
    /// Most records in one `POST /api/observations` (413).
    pub max_batch_records: usize,
    /// Most concurrent HTTP connections handled at once (503 beyond).
    pub max_connections: usize,
    /// Requests per second per token (or per client address for the public), burst the same
    /// (429 with Retry-After).
    pub requests_per_second: u32,
    /// Largest CoT event on a TCP stream or in a datagram, bytes.
    pub max_cot_event_bytes: usize,
    /// CoT events per listener batch, and how long a batch waits to fill.
    pub cot_batch_events: usize,
    pub cot_batch_wait: Duration,
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
            // ATAK events are ~1 KB; 64 KiB allows long remarks, not a flood.
            max_cot_event_bytes: 64 << 10,
            cot_batch_events: 500,
            cot_batch_wait: Duration::from_millis(200),
        }
    }
}

/// The store, the ledger and the log's key: everything a write needs, behind one lock.
pub struct Core {
    pub store: GeoPackageStore,
    pub ledger: Ledger<'static>,
    pub key: SignerKey,
    /// When the log was last checked for entries other processes appended.
    pub synced_at: Option<std::time::Instant>,
    /// The log's tiles at the latest checkpoint (`/log/`).
    pub tiles: crate::tlog::TileCache,
}

/// How often a request checks the log for entries another process appended: a CLI
/// `truce ingest` or `truce decide` alongside the server shows within this time.
pub const EXTERNAL_SYNC: Duration = Duration::from_millis(250);

/// Something parties and staff are told as it happens: on the alert stream, by webhook, and
/// in the log (`crate::alerts`).
#[derive(Debug, Clone, Serialize)]
pub struct Alert {
    /// `alert:<incident>:<entry_seq>`: the SSE event id and the webhook's `X-Truce-Alert-Id`.
    pub id: String,
    /// `breach` (a new or grown incident in breach), `state` (an analyst's decision) or
    /// `response` (a party's response).
    pub kind: &'static str,
    pub incident: String,
    pub state: String,
    pub rules: Vec<String>,
    /// After escalation (`[escalation.repeat]`).
    pub severity: Option<String>,
    /// The rules' own severity when a repeat escalated it, and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub escalated_from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub escalation: Option<String>,
    /// Whose area the incident is in, and the party it is attributed to (official or
    /// suggested): who is told.
    pub party_area: Option<String>,
    pub party: Option<String>,
    pub location: Option<[f64; 2]>,
    pub at: chrono::DateTime<chrono::Utc>,
    /// The log entry behind it.
    pub entry_seq: u64,
    /// The parties told (staff are told of every alert): `[escalation.notify]`, or without
    /// one the parties involved (every party for a response).
    pub recipients: Vec<String>,
    /// How fast the agreement's escalation section says they must be told, and by when.
    pub within_s: Option<u32>,
    pub deadline: Option<chrono::DateTime<chrono::Utc>>,
    /// When the alert was published.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// The `alert` log entry that records it (None only if logging it failed).
    pub log_seq: Option<u64>,
}

/// Counters for `/metrics`.
#[derive(Default)]
pub struct Metrics {
    pub requests: AtomicU64,
    pub observations_stored: AtomicU64,
    pub observations_duplicate: AtomicU64,
    pub records_rejected: AtomicU64,
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
    pub engine: &'static Engine,
    pub core: Mutex<Core>,
    pub alerts: broadcast::Sender<Alert>,
    pub metrics: Metrics,
    pub limits: Limits,
    pub tokens: Mutex<TokenCache>,
    pub db: PathBuf,
    /// Turns true when the service is shutting down: long-lived streams (alerts) end, so the
    /// graceful shutdown does not wait on them for ever.
    pub stop: tokio::sync::watch::Sender<bool>,
    /// Per-party webhooks (`truce serve --webhooks FILE`); unset: none.
    pub webhooks: std::sync::OnceLock<Arc<crate::webhooks::Webhooks>>,
}

pub type Shared = Arc<AppState>;

impl AppState {
    /// Opens the store, replays its log into the ledger, and brings the derived tables level.
    pub fn open(db: PathBuf, key: SignerKey, limits: Limits) -> Result<Shared> {
        let mut store = GeoPackageStore::open(&db)?;
        store.check_signer(&key)?;
        let engine: &'static Engine = Box::leak(Box::new(crate::replay::engine_in_force(&store)?));
        let ledger = crate::replay::open_ledger(&mut store, engine)?;
        let (alerts, _) = broadcast::channel(4096);
        Ok(Arc::new(AppState {
            engine,
            core: Mutex::new(Core {
                store,
                ledger,
                key,
                synced_at: None,
                tiles: crate::tlog::TileCache::default(),
            }),
            alerts,
            metrics: Metrics::default(),
            limits,
            tokens: Mutex::new(TokenCache::default()),
            db,
            stop: tokio::sync::watch::Sender::new(false),
            webhooks: std::sync::OnceLock::new(),
        }))
    }

    /// The core, even if a panicking writer poisoned the lock (its transaction rolled back).
    pub fn core(&self) -> MutexGuard<'_, Core> {
        self.core.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The caller for a bearer token (None: no such live token).
    pub fn principal(&self, secret: &str) -> Result<Option<Principal>> {
        let hash = token_hash(secret);
        if let Some(hit) = self
            .tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&hash)
        {
            return Ok(hit);
        }
        let row = self.core().store.live_token(&hash)?;
        let principal = match row {
            Some(r) => Some(Principal {
                token_id: Some(r.id),
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
