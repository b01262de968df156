//! NATS JetStream between forward bases and headquarters (docs/nats.md).
//!
//! At a forward base, `truce forward` reads feeds with the same adapters as `truce ingest`,
//! writes each accepted observation into a [`Spool`] (a small SQLite file: once a record is
//! there, the forwarder has it, killed or not), and [`publish`] sends the spool to JetStream,
//! one message per observation, its `Nats-Msg-Id` the SHA-256 of the observation's canonical
//! JSON ([`message`], the key the store de-duplicates on); a record leaves the spool only once
//! JetStream has acknowledged it. While the link is down the spool grows and the publisher
//! retries; on reconnect it resends from the oldest record.
//!
//! At headquarters, `truce serve --nats URL --stream NAME` runs [`consume`]: a durable pull
//! consumer (created, with its stream, if missing), batches of up to [`Inbound::batch`]
//! messages, each batch stored through the service as one transaction with a signed checkpoint
//! — as `POST /api/observations` — and only then acknowledged. A crash between the commit and
//! the ack redelivers the batch, and the store drops what it already holds: one stored copy.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, Result};
use async_nats::jetstream::{self, consumer, stream};
use futures_util::StreamExt as _;
use rusqlite::{OptionalExtension, params};
use tokio::sync::watch;
use truce_core::observation::Observation;
use truce_ingest::{Locator, Record};

use crate::state::Shared;
use crate::throttle::LogRate;

/// Largest message the consumer reads (and the stream it creates accepts): an observation is
/// one log entry, and no entry is larger (`truce_core::limits::MAX_ENTRY_BYTES`).
pub const MAX_MESSAGE_BYTES: usize = truce_core::limits::MAX_ENTRY_BYTES;

/// Messages the publisher has in flight (sent, ack awaited) at once.
const PUBLISH_WINDOW: usize = 1000;

/// How long the publisher waits for JetStream to acknowledge a message.
const ACK_TIMEOUT: Duration = Duration::from_secs(5);

/// The publisher's pause after a failed round, doubling up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// How long JetStream remembers a message id (the stream [`consume`] creates): a resend within
/// it is dropped by the server; later, by the store.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(24 * 3600);

/// Events a forwarder's CoT listener read that do not validate, logged at most this often.
static INVALID_LOG: LogRate = LogRate::new(20, Duration::from_secs(60));

/// Link warnings (publisher, consumer) at most this often.
static LINK_LOG: LogRate = LogRate::new(6, Duration::from_secs(60));

/// An observation as a message: its id (the SHA-256 of its canonical JSON, in hex — the
/// store's idempotency key) and its body (that canonical JSON).
pub fn message(observation: &Observation) -> (String, Vec<u8>) {
    let (body, digest) = truce_store::observation_content(observation);
    let id = digest.iter().map(|b| format!("{b:02x}")).collect();
    (id, body.into_bytes())
}

/// The forwarder's records not yet acknowledged by JetStream, in the order accepted: a SQLite
/// file (WAL, synchronous=FULL), one row a message, keyed by its id so a record spooled twice
/// (a file forwarded again) is kept once.
pub struct Spool {
    conn: rusqlite::Connection,
}

/// One spooled message: its row, id and body.
pub struct Spooled {
    pub row: i64,
    pub id: String,
    pub body: Vec<u8>,
}

impl Spool {
    pub fn open(path: &Path) -> Result<Spool> {
        let conn = rusqlite::Connection::open(path)
            .with_context(|| format!("cannot open the spool {}", path.display()))?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = FULL;
             PRAGMA busy_timeout = 5000;
             CREATE TABLE IF NOT EXISTS spool (
               row INTEGER PRIMARY KEY AUTOINCREMENT,
               msg_id TEXT NOT NULL UNIQUE,
               body BLOB NOT NULL
             );",
        )
        .with_context(|| format!("{}: not a forwarder spool", path.display()))?;
        Ok(Spool { conn })
    }

    /// Adds `messages` (id, body) in one transaction; those already spooled are skipped. The
    /// number added.
    pub fn add(&mut self, messages: &[(String, Vec<u8>)]) -> Result<usize> {
        let tx = self.conn.transaction()?;
        let mut added = 0;
        {
            let mut insert =
                tx.prepare_cached("INSERT OR IGNORE INTO spool (msg_id, body) VALUES (?1, ?2)")?;
            for (id, body) in messages {
                added += insert.execute(params![id, body])?;
            }
        }
        tx.commit()?;
        Ok(added)
    }

    /// The oldest `n` messages.
    pub fn oldest(&self, n: usize) -> Result<Vec<Spooled>> {
        let mut q = self
            .conn
            .prepare_cached("SELECT row, msg_id, body FROM spool ORDER BY row LIMIT ?1")?;
        let rows = q.query_map([n as i64], |r| {
            Ok(Spooled {
                row: r.get(0)?,
                id: r.get(1)?,
                body: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Removes acknowledged rows, in one transaction.
    pub fn remove(&mut self, rows: &[i64]) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut delete = tx.prepare_cached("DELETE FROM spool WHERE row = ?1")?;
            for row in rows {
                delete.execute([row])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Messages waiting.
    pub fn len(&self) -> Result<u64> {
        let n: Option<i64> = self
            .conn
            .query_row("SELECT COUNT(*) FROM spool", [], |r| r.get(0))
            .optional()?;
        Ok(n.unwrap_or(0) as u64)
    }

    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }
}

/// A forward base's CoT listener's sink (`truce forward --cot-tcp`, [`crate::cot::Sink`]):
/// each accepted event's observation, validated as a file's are, goes into the spool — the
/// batches the listener hands over at once in one transaction (one fsync), so within
/// `cot_batch_wait` of arriving an event is on disk — and the publisher sends it from there.
/// Rejected events (logged by the listener with their connection) are counted, not kept: a
/// forward base has no store for them.
pub struct CotSpool {
    spool: Arc<Mutex<Spool>>,
    /// Observations spooled (new to the spool), already in it, and events rejected.
    pub spooled: AtomicU64,
    pub already: AtomicU64,
    pub rejected: AtomicU64,
    /// Events given up after the spool failed [`SPOOL_ATTEMPTS`] times.
    pub lost: AtomicU64,
}

/// Attempts to write one round of events into the spool (a disk briefly full, a lock), with a
/// doubling pause from [`SPOOL_RETRY_PAUSE`].
const SPOOL_ATTEMPTS: u32 = 5;
const SPOOL_RETRY_PAUSE: Duration = Duration::from_millis(200);

impl CotSpool {
    pub fn new(spool: Arc<Mutex<Spool>>) -> CotSpool {
        CotSpool {
            spool,
            spooled: AtomicU64::new(0),
            already: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            lost: AtomicU64::new(0),
        }
    }
}

impl crate::cot::Sink for CotSpool {
    fn store(
        &self,
        batches: Vec<(String, Vec<Record>)>,
    ) -> futures_util::future::BoxFuture<'_, ()> {
        Box::pin(async move {
            let mut messages = Vec::new();
            for (label, records) in batches {
                for r in records {
                    let observation = match r.result {
                        Ok(o) => o,
                        // Logged by the listener, with the connection.
                        Err(_) => {
                            self.rejected.fetch_add(1, Ordering::Relaxed);
                            continue;
                        }
                    };
                    let checked = observation.validate().map_err(|e| e.0).and_then(|_| {
                        let (id, body) = message(&observation);
                        truce_core::limits::check_entry("the observation", body.len())?;
                        Ok((id, body))
                    });
                    match checked {
                        Ok(m) => messages.push(m),
                        Err(reason) => {
                            self.rejected.fetch_add(1, Ordering::Relaxed);
                            if let Some(suppressed) = INVALID_LOG.admit() {
                                tracing::warn!(%label, locator = %r.locator, %reason, suppressed, "CoT event rejected");
                            }
                        }
                    }
                }
            }
            if messages.is_empty() {
                return;
            }
            let n = messages.len() as u64;
            let messages = Arc::new(messages);
            let mut pause = SPOOL_RETRY_PAUSE;
            for attempt in 1..=SPOOL_ATTEMPTS {
                let (spool, these) = (self.spool.clone(), messages.clone());
                let added = tokio::task::spawn_blocking(move || {
                    spool.lock().unwrap_or_else(|e| e.into_inner()).add(&these)
                })
                .await
                .map_err(anyhow::Error::from)
                .and_then(|r| r);
                match added {
                    Ok(added) => {
                        self.spooled.fetch_add(added as u64, Ordering::Relaxed);
                        self.already.fetch_add(n - added as u64, Ordering::Relaxed);
                        tracing::debug!(events = n, added, "CoT: spooled");
                        return;
                    }
                    Err(e) if attempt < SPOOL_ATTEMPTS => {
                        tracing::warn!(events = n, attempt, error = %format!("{e:#}"), "CoT: writing to the spool failed; retrying");
                        tokio::time::sleep(pause).await;
                        pause *= 2;
                    }
                    Err(e) => {
                        self.lost.fetch_add(n, Ordering::Relaxed);
                        tracing::error!(events = n, error = %format!("{e:#}"), "CoT: writing to the spool failed {SPOOL_ATTEMPTS} times; these events are lost");
                    }
                }
            }
        })
    }
}

/// Connects to `url` (several servers comma-separated), retrying the first connection as the
/// later ones: a forward base starts whether its link is up or not.
pub async fn connect(url: &str, name: &str) -> Result<async_nats::Client> {
    async_nats::ConnectOptions::new()
        .name(name)
        .retry_on_initial_connect()
        .max_reconnects(None)
        .connection_timeout(Duration::from_secs(5))
        .event_callback(|event| async move {
            match event {
                async_nats::Event::Connected => tracing::info!("NATS: connected"),
                async_nats::Event::Disconnected => tracing::warn!("NATS: disconnected"),
                other => tracing::debug!(event = %other, "NATS"),
            }
        })
        .connect(url)
        .await
        .with_context(|| format!("cannot connect to NATS at {url}"))
}

/// What [`publish`] did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Published {
    /// Messages JetStream acknowledged as new …
    pub stored: u64,
    /// … and as duplicates of a message id it already held.
    pub duplicates: u64,
}

/// Sends the spool to `subject` until it is empty (`follow` false) or until `stop` (`follow`
/// true: more is spooled meanwhile, by a listener). Each message leaves the spool once
/// JetStream acknowledges it; a failed round (link down, no stream yet, a timeout) is retried
/// from the oldest message, after a pause that grows to [`MAX_BACKOFF`].
pub async fn publish(
    client: async_nats::Client,
    subject: String,
    spool: Arc<Mutex<Spool>>,
    follow: bool,
    mut stop: watch::Receiver<bool>,
) -> Result<Published> {
    let js = jetstream::ContextBuilder::new()
        .timeout(ACK_TIMEOUT)
        .build(client);
    let mut done = Published::default();
    let mut backoff = FIRST_BACKOFF;
    loop {
        if *stop.borrow() {
            return Ok(done);
        }
        let batch = {
            let spool = spool.clone();
            tokio::task::spawn_blocking(move || {
                spool
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .oldest(PUBLISH_WINDOW)
            })
            .await??
        };
        if batch.is_empty() {
            if !follow {
                return Ok(done);
            }
            tokio::select! {
                _ = stop.changed() => {}
                () = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
            continue;
        }
        // A stop does not wait for a round's acks (up to ACK_TIMEOUT with the link down): the
        // rows not yet removed are resent by the next run, and de-duplicated.
        let (acked, failure) = tokio::select! {
            r = send_round(&js, &subject, batch, &mut done) => r,
            _ = stop.wait_for(|s| *s) => return Ok(done),
        };
        if !acked.is_empty() {
            let spool = spool.clone();
            tokio::task::spawn_blocking(move || {
                spool
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&acked)
            })
            .await??;
        }
        match failure {
            None => backoff = FIRST_BACKOFF,
            Some(why) => {
                if let Some(suppressed) = LINK_LOG.admit() {
                    tracing::warn!(%subject, suppressed, retry_in_ms = backoff.as_millis() as u64, "NATS: publishing failed ({why}); the records stay in the spool");
                }
                tokio::select! {
                    _ = stop.changed() => {}
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// Publishes one window of the spool and awaits the acks: the rows acknowledged, and why the
/// round stopped short, if it did.
async fn send_round(
    js: &jetstream::Context,
    subject: &str,
    batch: Vec<Spooled>,
    done: &mut Published,
) -> (Vec<i64>, Option<String>) {
    let mut sent = Vec::with_capacity(batch.len());
    let mut failure = None;
    for m in batch {
        let publish = jetstream::message::PublishMessage::build()
            .payload(m.body.into())
            .message_id(&m.id);
        match js.send_publish(subject.to_string(), publish).await {
            Ok(ack) => sent.push((m.row, ack)),
            Err(e) => {
                failure = Some(e.to_string());
                break;
            }
        }
    }
    let mut acked = Vec::with_capacity(sent.len());
    // One deadline for the round: each ack's own timeout starts only when it is awaited, so a
    // window of acks lost with a connection would otherwise take a timeout each.
    let deadline = tokio::time::Instant::now() + ACK_TIMEOUT;
    for (row, ack) in sent {
        match tokio::time::timeout_at(deadline, ack).await {
            Ok(Ok(a)) => {
                if a.duplicate {
                    done.duplicates += 1;
                } else {
                    done.stored += 1;
                }
                acked.push(row);
            }
            Ok(Err(e)) => {
                // Later acks may still come; those messages are resent and de-duplicated.
                failure.get_or_insert_with(|| e.to_string());
            }
            Err(_) => {
                failure.get_or_insert_with(|| format!("no ack within {} s", ACK_TIMEOUT.as_secs()));
            }
        }
    }
    (acked, failure)
}

/// Where and how `truce serve` consumes (`--nats`, `--stream`, …).
#[derive(Debug, Clone)]
pub struct Inbound {
    /// The NATS server(s), comma-separated.
    pub url: String,
    /// The stream (created with [`Inbound::subjects`] if missing).
    pub stream: String,
    /// The subjects the stream holds when this creates it.
    pub subjects: Vec<String>,
    /// The durable consumer's name.
    pub consumer: String,
    /// Most messages a batch (one transaction, one checkpoint).
    pub batch: usize,
}

/// The stream's configuration when [`consume`] creates it.
fn stream_config(cfg: &Inbound) -> stream::Config {
    stream::Config {
        name: cfg.stream.clone(),
        subjects: cfg.subjects.clone(),
        storage: stream::StorageType::File,
        duplicate_window: DUPLICATE_WINDOW,
        max_message_size: MAX_MESSAGE_BYTES as i32,
        ..Default::default()
    }
}

/// Consumes `cfg.stream` through its durable consumer until `shutdown`: each batch is stored
/// (committed, checkpointed) and then acknowledged. Waits for the server when it is down; a
/// batch whose storing fails is not acknowledged, so JetStream delivers it again.
pub async fn consume(
    state: Shared,
    cfg: Inbound,
    mut shutdown: watch::Receiver<bool>,
) -> Result<()> {
    let client = tokio::select! {
        c = connect(&cfg.url, "truce serve") => c?,
        _ = shutdown.wait_for(|s| *s) => return Ok(()),
    };
    let js = jetstream::ContextBuilder::new()
        .timeout(ACK_TIMEOUT)
        .build(client);
    println!(
        "truce serve: NATS stream {} (consumer {}) on {}",
        cfg.stream, cfg.consumer, cfg.url
    );
    let label = format!("nats:{}", cfg.stream);
    let mut backoff = FIRST_BACKOFF;
    let mut puller: Option<consumer::Consumer<consumer::pull::Config>> = None;
    loop {
        if *shutdown.borrow() {
            break;
        }
        let c = match &puller {
            Some(c) => c.clone(),
            None => match durable(&js, &cfg).await {
                Ok(c) => {
                    tracing::info!(stream = %cfg.stream, consumer = %cfg.consumer, "NATS: consuming");
                    puller = Some(c.clone());
                    c
                }
                Err(e) => {
                    pause(&mut shutdown, &mut backoff, &format!("{e:#}")).await;
                    continue;
                }
            },
        };
        let messages = match fetch(&c, cfg.batch).await {
            Ok(m) => m,
            Err(e) => {
                // The consumer may be gone (a server restarted without its state): made anew.
                puller = None;
                pause(&mut shutdown, &mut backoff, &format!("{e:#}")).await;
                continue;
            }
        };
        backoff = FIRST_BACKOFF;
        if messages.is_empty() {
            continue;
        }
        let records = messages.iter().map(record).collect::<Vec<_>>();
        let n = records.len();
        match crate::api::observations::ingest(&state, label.clone(), "nats".into(), records).await
        {
            Ok(done) => {
                tracing::debug!(
                    messages = n,
                    accepted = done.accepted,
                    duplicates = done.duplicates,
                    rejected = done.rejected,
                    "NATS batch committed"
                );
                // Committed and checkpointed: now acknowledged. An ack lost here redelivers,
                // and the store drops the copy.
                for m in &messages {
                    if let Err(e) = m.ack().await {
                        tracing::debug!(error = %e, "NATS: ack failed; the message will be redelivered");
                    }
                }
            }
            Err(e) => {
                tracing::error!(messages = n, error = %e.reason, "NATS: storing a batch failed; not acknowledged, so redelivered");
                pause(&mut shutdown, &mut backoff, "storing failed").await;
            }
        }
    }
    tracing::info!("NATS consumer: stopped");
    Ok(())
}

/// Waits `backoff` (or until shutdown), logging why (rate-limited), and doubles it.
async fn pause(shutdown: &mut watch::Receiver<bool>, backoff: &mut Duration, why: &str) {
    if let Some(suppressed) = LINK_LOG.admit() {
        tracing::warn!(
            suppressed,
            retry_in_ms = backoff.as_millis() as u64,
            "NATS: {why}"
        );
    }
    tokio::select! {
        () = tokio::time::sleep(*backoff) => {}
        _ = shutdown.wait_for(|s| *s) => {}
    }
    *backoff = (*backoff * 2).min(MAX_BACKOFF);
}

/// The stream (created if missing) and its durable pull consumer (created if missing).
async fn durable(
    js: &jetstream::Context,
    cfg: &Inbound,
) -> Result<consumer::Consumer<consumer::pull::Config>> {
    let stream = js
        .get_or_create_stream(stream_config(cfg))
        .await
        .with_context(|| format!("stream {}", cfg.stream))?;
    let consumer = stream
        .get_or_create_consumer(
            &cfg.consumer,
            consumer::pull::Config {
                durable_name: Some(cfg.consumer.clone()),
                ack_policy: consumer::AckPolicy::Explicit,
                // A batch is stored in well under this; one not acked by then is redelivered.
                ack_wait: Duration::from_secs(60),
                max_ack_pending: (cfg.batch * 4) as i64,
                ..Default::default()
            },
        )
        .await
        .with_context(|| format!("consumer {} of stream {}", cfg.consumer, cfg.stream))?;
    Ok(consumer)
}

/// How long one pull request stays open: a batch is what arrived by then (or `max` messages,
/// whichever comes first). The request is answered only when it expires or is full, so this is
/// the longest a lone report waits at headquarters before it is stored: at a second, a base's
/// report reached the analyst's stream in 0.7 s typically; at 100 ms, in well under that
/// (`bench/nats/latency.py`). Idle, it is ten pull requests a second.
const FETCH_WINDOW: Duration = Duration::from_millis(100);

/// One batch: up to `max` messages and [`MAX_MESSAGE_BYTES`] × `max` bytes, waiting at most
/// [`FETCH_WINDOW`].
async fn fetch(
    c: &consumer::Consumer<consumer::pull::Config>,
    max: usize,
) -> Result<Vec<jetstream::Message>> {
    let mut batch = c
        .batch()
        .max_messages(max)
        .max_bytes(MAX_MESSAGE_BYTES * max)
        .expires(FETCH_WINDOW)
        .messages()
        .await
        .context("pull request")?;
    let mut out = Vec::with_capacity(max);
    while let Some(m) = batch.next().await {
        match m {
            Ok(m) => out.push(m),
            Err(e) if out.is_empty() => return Err(anyhow::anyhow!(e).context("fetching")),
            // What arrived is stored; the rest comes with the next batch.
            Err(_) => break,
        }
    }
    Ok(out)
}

/// A message as an adapter record: the observation its body holds, or the reason it is
/// rejected (over [`MAX_MESSAGE_BYTES`], not an observation). Located by its stream sequence.
fn record(m: &jetstream::Message) -> Record {
    let index = m.info().map(|i| i.stream_sequence as usize).unwrap_or(0);
    let locator = Locator::Event { index, line: 1 };
    let body = &m.payload;
    let cut = |b: &[u8]| {
        let b = &b[..b.len().min(truce_ingest::MAX_RAW_BYTES)];
        String::from_utf8_lossy(b).into_owned()
    };
    if body.len() > MAX_MESSAGE_BYTES {
        return Record {
            locator,
            raw: cut(&body[..body.len().min(4096)]),
            result: Err(format!(
                "message of {} bytes, over the limit of {MAX_MESSAGE_BYTES} (MAX_MESSAGE_BYTES)",
                body.len()
            )),
        };
    }
    let result = serde_json::from_slice::<Observation>(body)
        .map_err(|e| format!("not an observation (schema/observation.schema.json): {e}"));
    Record {
        locator,
        raw: cut(body),
        result,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spool_keeps_a_message_once_and_in_order() {
        let dir = std::env::temp_dir().join(format!("truce-spool-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("a.spool");
        let _ = std::fs::remove_file(&path);
        let mut s = Spool::open(&path).unwrap();
        let m = |i: u8| (format!("id{i}"), vec![i]);
        assert_eq!(s.add(&[m(1), m(2), m(1)]).unwrap(), 2);
        assert_eq!(s.add(&[m(3), m(2)]).unwrap(), 1);
        let got = s.oldest(10).unwrap();
        assert_eq!(
            got.iter().map(|g| g.id.as_str()).collect::<Vec<_>>(),
            ["id1", "id2", "id3"]
        );
        s.remove(&[got[0].row]).unwrap();
        drop(s);
        let s = Spool::open(&path).unwrap();
        assert_eq!(s.len().unwrap(), 2);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
