//! Cursor-on-Target listeners: a TCP stream of `<event>` documents (as ATAK, WinTAK and TAK
//! servers send them), the same over TLS with client certificates ([`listen_tls`]: each
//! connection is the team its certificate names, `crate::tls`), and UDP datagrams of one
//! event each.
//!
//! A TCP connection carries events back to back with no framing, often with an `<?xml?>`
//! declaration before each. [`Framer`] cuts the stream into events incrementally with bounded
//! buffers: an event longer than [`Limits::max_cot_event_bytes`] is rejected with its first
//! bytes kept, and the stream resynchronises at the next `<event`; text between events is
//! skipped. Each event goes through the file ingest's CoT adapter (`truce_ingest`,
//! [`Format::Cot`]), so the type table and validation are those of `truce ingest`, and through
//! [`crate::api::observations::ingest`] in batches of up to [`Limits::cot_batch_events`] events or
//! [`Limits::cot_batch_wait`]: one transaction and one signed checkpoint per batch. A malformed
//! event is a rejected record (raw text and reason, in `rejected_records`); the connection stays
//! open. TAK protocol messages (`t-x-…`: pings, deletes) are not reports and are skipped.
//!
//! Where the batches go is the listener's [`Sink`], given with its limits in an [`Intake`]:
//! the server's store as above ([`listen_tcp`], [`listen_tls`], [`listen_udp`]), or a forward
//! base's spool (`truce forward --cot-tcp`, [`listen_tcp_into`] with `crate::nats::CotSpool`).
//! Everything before the sink — framing, bounds, parsing, rejection sampling and logging — is
//! the same code for both.
//!
//! Rejections are not a way in: a datagram yields at most [`Limits::cot_batch_events`] records
//! (the rest are one rejected record saying how many), and a listener keeps the first
//! [`REJECTED_KEPT_PER_SOURCE`] rejected records of each source address a minute in full; the
//! rest of that minute's are counted into one aggregate rejected record ([`Sampler`]). So
//! garbage grows the store and the log by at most about that many records a source a minute,
//! however fast it comes; their warnings are rate-limited ([`crate::throttle`]) the same way.
//!
//! A TCP connection is held only by a client that sends events: each event must arrive whole
//! within [`Limits::cot_event_timeout`] of its first byte, and bytes that complete no event
//! (junk, or an event trickled a byte at a time) do not reset the idle timeout, so a client
//! sending a byte a second is cut off; a TLS handshake must finish within the same deadline.
//! Connection lines are logged at most 60 a minute (`CONNECTION_LOG`). One client address holds at most
//! [`Limits::cot_max_connections_per_address`] of the listener's [`MAX_CONNECTIONS`] places.
//!
//! On shutdown the listeners stop accepting, read what the kernel already holds for them,
//! commit their open batches, and return: nothing received is lost.
//!
//! [`Limits::max_cot_event_bytes`]: crate::state::Limits::max_cot_event_bytes
//! [`Limits::cot_batch_events`]: crate::state::Limits::cot_batch_events
//! [`Limits::cot_batch_wait`]: crate::state::Limits::cot_batch_wait
//! [`Limits::cot_event_timeout`]: crate::state::Limits::cot_event_timeout
//! [`Limits::cot_max_connections_per_address`]: crate::state::Limits::cot_max_connections_per_address

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use truce_ingest::{Format, Locator, Options, Record};

use futures_util::future::BoxFuture;
use tokio::sync::broadcast::error::RecvError;
use truce_service::Clock;
use truce_service::view::TaskView;

use crate::cot_tasks::{
    MAX_CALLSIGNS_PER_CONNECTION, TASK_UID_PREFIX, event as task_event, open_tasks,
};
use crate::reactions::with_core;
use crate::slots::Slots;
use crate::state::{Limits, Shared};
use crate::throttle::LogRate;

/// Rejected records of one source address kept in full per [`REJECTED_WINDOW`]; the rest are
/// counted into one aggregate record. Enough to see what a misconfigured feed sends; a flood
/// of garbage costs at most this many records (and one aggregate) a source a minute.
pub const REJECTED_KEPT_PER_SOURCE: usize = 20;

/// The window of [`REJECTED_KEPT_PER_SOURCE`].
pub const REJECTED_WINDOW: Duration = Duration::from_secs(60);

/// Sources sampled one by one; beyond, rejections from further sources in the window share
/// one sample (the unspecified address): a spoofed flood from many addresses stays bounded.
const MAX_SAMPLED_SOURCES: usize = 10_000;

/// CoT warnings a client can cause (rejected events, over-long events) are logged at most
/// this often, each saying how many were suppressed before it.
static REJECTED_LOG: LogRate = LogRate::new(20, Duration::from_secs(60));

/// Refused TCP connections are logged at most this often (a flood is counted, not written out).
static REFUSED_LOG: LogRate = LogRate::new(10, Duration::from_secs(60));

/// Most TCP connections served at once; a connection beyond is closed as soon as it is
/// accepted (so is one beyond `cot_max_connections_per_address` from one address). A
/// deployment has a few TAK servers and perhaps a few dozen devices streaming directly; 256
/// leaves room for that while bounding memory (each connection holds at most one event and one
/// batch, see [`MAX_BATCH_BYTES`]) against a flood of connections.
pub const MAX_CONNECTIONS: usize = 256;

/// A TCP connection that sends no event for this long is closed (white space between events
/// does not count; other bytes start [`Limits::cot_event_timeout`]). A quiet night on a feed
/// is normal, so this is long; a connection silent for ten minutes is more often a phone that
/// lost coverage without closing it than a live feed, and TAK clients reconnect on their own.
///
/// [`Limits::cot_event_timeout`]: crate::state::Limits::cot_event_timeout
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(600);

/// A batch is also sent to the store once it holds this many bytes of events, whatever its
/// event count: 500 ordinary ATAK events (about 1 KB each) stay under it, 500 maximal ones
/// (64 KiB) would not, so memory per connection stays bounded by about this plus one event.
pub const MAX_BATCH_BYTES: usize = 1 << 20;

/// Bytes read from a socket at a time.
const READ_CHUNK_BYTES: usize = 16 << 10;

/// How much of an over-long event is kept as its raw text in `rejected_records`: enough to see
/// whose it was and what it was, without copying a flood into the store.
const OVERSIZE_RAW_KEPT_BYTES: usize = 4 << 10;

/// At shutdown, each connection reads what the kernel already holds for it, up to this much;
/// a client still streaming cannot hold the shutdown open.
const SHUTDOWN_DRAIN_BYTES: usize = 4 << 20;

/// At shutdown, the UDP listener reads at most this many datagrams already queued.
const SHUTDOWN_DRAIN_DATAGRAMS: usize = 10_000;

/// Batches waiting for the store, per listener, before readers wait (back-pressure).
const QUEUED_BATCHES: usize = 8;

/// Attempts to store one batch (a locked file is transient), with a doubling pause from
/// [`RETRY_PAUSE`].
const COMMIT_ATTEMPTS: u32 = 3;
const RETRY_PAUSE: Duration = Duration::from_millis(500);

/// Where a listener's batches go once parsed (and their rejections sampled, [`Sampler`]):
/// headquarters' store through the service ([`Store`]), or a forward base's spool
/// (`crate::nats::CotSpool`). The listener's framing, bounds, parsing and sampling are the
/// same whichever it is.
pub trait Sink: Send + Sync + 'static {
    /// Makes `batches` (each a label — `cot-tcp:<peer>`, … — and its records, accepted and
    /// rejected) durable, or gives up on them saying so. Called by one task, in the order the
    /// batches were closed; the readers wait (back-pressure) while it works. Rejected records
    /// have been logged already.
    fn store(&self, batches: Vec<(String, Vec<Record>)>) -> BoxFuture<'_, ()>;
}

/// What a listener needs, whatever it feeds: its limits (`max_cot_event_bytes`, the batch
/// size and wait, `cot_event_timeout`, connections per address), the CoT adapter's options
/// (its type table), a clock for its rejection windows, and its [`Sink`].
#[derive(Clone)]
pub struct Intake {
    pub limits: Limits,
    pub options: Arc<Options>,
    pub clock: Arc<dyn Clock>,
    pub sink: Arc<dyn Sink>,
    /// Who listens, in the line printed when it does (`truce serve`, `truce forward`).
    pub name: &'static str,
    /// The server whose `/metrics` count the events (None: a forwarder, which has none).
    server: Option<Shared>,
}

impl Intake {
    /// A forward base's listener feeding `sink`.
    pub fn new(
        limits: Limits,
        options: Options,
        clock: Arc<dyn Clock>,
        sink: Arc<dyn Sink>,
        name: &'static str,
    ) -> Intake {
        Intake {
            limits,
            options: Arc::new(options),
            clock,
            sink,
            name,
            server: None,
        }
    }

    /// The server's listeners: into the store, counted in its metrics.
    fn server(state: &Shared) -> Intake {
        Intake {
            limits: state.limits.clone(),
            options: Arc::new(Options::default()),
            clock: state.clock.clone(),
            sink: Arc::new(Store(state.clone())),
            name: "truce serve",
            server: Some(state.clone()),
        }
    }

    fn count_event(&self) {
        if let Some(s) = &self.server {
            s.metrics.cot_events.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn count_suppressed(&self) {
        if let Some(s) = &self.server {
            s.metrics
                .rejected_suppressed
                .fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The server's sink: each batch stored through the service as `POST /api/observations`
/// stores one (one transaction, one signed checkpoint), retried [`COMMIT_ATTEMPTS`] times.
struct Store(Shared);

impl Sink for Store {
    fn store(&self, batches: Vec<(String, Vec<Record>)>) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            for (label, records) in batches {
                commit(&self.0, label, records).await;
            }
        })
    }
}

/// Listens for CoT events on a TCP address until shutdown.
///
/// With `send_tasks` (`truce serve --cot-tasks`), each connection is also sent the tasks of
/// the teams whose callsigns it carries ([`crate::cot_tasks`]).
pub async fn listen_tcp(
    state: Shared,
    addr: SocketAddr,
    send_tasks: bool,
    shutdown: watch::Receiver<bool>,
) -> Result<()> {
    let tasks = send_tasks.then(|| state.clone());
    listen_stream(Intake::server(&state), addr, None, tasks, shutdown).await
}

/// Listens for CoT events on a TCP address until shutdown, handing them to `intake`'s sink
/// (`truce forward --cot-tcp`): the same framing, bounds, parsing and rejection sampling as
/// [`listen_tcp`], no tasks. Returns once every batch received has been handed over.
pub async fn listen_tcp_into(
    intake: Intake,
    addr: SocketAddr,
    shutdown: watch::Receiver<bool>,
) -> Result<()> {
    listen_stream(intake, addr, None, None, shutdown).await
}

/// Listens for CoT events over TLS on a TCP address until shutdown (`truce serve --cot-tls`):
/// `tls` must require client certificates (`crate::tls::server_config` with a client CA).
/// Each connection's certificate names its team ([`crate::tls::certificate_names`], the first
/// that is a team of the mission in force); a certificate that names none is refused. What
/// the connection sends is that team's: an event whose `<contact callsign>` is another's is
/// rejected, any other has the team as its source. With `send_tasks`, the team's tasks go to
/// it on this connection from the start.
pub async fn listen_tls(
    state: Shared,
    addr: SocketAddr,
    tls: Arc<rustls::ServerConfig>,
    send_tasks: bool,
    shutdown: watch::Receiver<bool>,
) -> Result<()> {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let tasks = send_tasks.then(|| state.clone());
    listen_stream(
        Intake::server(&state),
        addr,
        Some((acceptor, state)),
        tasks,
        shutdown,
    )
    .await
}

/// The TCP listener, plain or over TLS (whose teams are the server's mission's); `tasks`: the
/// server whose tasks go to the devices (`--cot-tasks`).
async fn listen_stream(
    intake: Intake,
    addr: SocketAddr,
    tls: Option<(tokio_rustls::TlsAcceptor, Shared)>,
    tasks: Option<Shared>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<()> {
    let what = if tls.is_some() { "TLS" } else { "TCP" };
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen for CoT on {what} {addr}"))
        // Said now: the service keeps serving HTTP, and the error is returned only at shutdown.
        .inspect_err(|e| tracing::error!(error = %format!("{e:#}"), "CoT {what} listener"))?;
    let local = listener.local_addr()?;
    tracing::info!(addr = %local, "CoT {what} listening");
    println!("{}: CoT {what} on {local}", intake.name);

    let (batches, committer) = spawn_committer(intake.clone());
    let slots = Slots::new(
        MAX_CONNECTIONS,
        intake.limits.cot_max_connections_per_address,
        ("cot::MAX_CONNECTIONS", "cot_max_connections_per_address"),
    );
    let mut connections = JoinSet::new();
    let stop = shutdown.clone();
    let accept = |stream: TcpStream, peer: SocketAddr, connections: &mut JoinSet<()>| {
        let slot = match slots.take(peer.ip()) {
            Ok(slot) => slot,
            Err(why) => {
                // Dropped here: closed at once.
                drop(stream);
                if let Some(suppressed) = REFUSED_LOG.admit() {
                    tracing::warn!(%peer, suppressed, "CoT {what}: connection refused: {why}");
                }
                return;
            }
        };
        let (intake, batches, shutdown) = (intake.clone(), batches.clone(), stop.clone());
        let (tls, tasks) = (tls.clone(), tasks.clone());
        connections.spawn(async move {
            match tls {
                None => connection(intake, stream, peer, None, batches, tasks, shutdown).await,
                Some((acceptor, state)) => {
                    if let Some((stream, team)) = handshake(&state, &acceptor, stream, peer).await {
                        connection(intake, stream, peer, Some(team), batches, tasks, shutdown)
                            .await;
                    }
                }
            }
            drop(slot);
        });
    };
    loop {
        tokio::select! {
            () = stopped(&mut shutdown) => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => accept(stream, peer, &mut connections),
                Err(e) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::warn!(error = %e, "CoT TCP: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(done) = connections.join_next(), if !connections.is_empty() => {
                if let Err(e) = done {
                    tracing::error!(error = %e, "CoT TCP connection panicked");
                }
            }
        }
    }
    // Connections the kernel completed before the shutdown but that were not accepted yet
    // may already carry events: take them too (they see the shutdown at once and drain).
    while let Ok(Ok((stream, peer))) = tokio::time::timeout(Duration::ZERO, listener.accept()).await
    {
        accept(stream, peer, &mut connections);
    }
    drop(listener);
    tracing::info!(
        connections = connections.len(),
        "CoT TCP: stopped accepting; committing open batches"
    );
    while let Some(done) = connections.join_next().await {
        if let Err(e) = done {
            tracing::error!(error = %e, "CoT TCP connection panicked");
        }
    }
    drop(batches);
    committer.await.context("the CoT TCP committer panicked")?;
    tracing::info!("CoT TCP: stopped");
    Ok(())
}

/// Listens for CoT events on a UDP address until shutdown: one event per datagram.
pub async fn listen_udp(
    state: Shared,
    addr: SocketAddr,
    mut shutdown: watch::Receiver<bool>,
) -> Result<()> {
    let socket = UdpSocket::bind(addr)
        .await
        .with_context(|| format!("cannot listen for CoT on UDP {addr}"))
        // Said now: the service keeps serving HTTP, and the error is returned only at shutdown.
        .inspect_err(|e| tracing::error!(error = %format!("{e:#}"), "CoT UDP listener"))?;
    let local = socket.local_addr()?;
    tracing::info!(addr = %local, "CoT UDP listening");
    println!("truce serve: CoT UDP on {local}");

    let intake = Intake::server(&state);
    let (batches, committer) = spawn_committer(intake.clone());
    let mut batch = Collector::new("cot-udp".into(), &intake);
    // The largest UDP payload is 65,507 bytes; one more byte than the limit tells an
    // over-long datagram from one that just fits.
    let mut buf = vec![0u8; state.limits.max_cot_event_bytes.max(65_535) + 1];
    loop {
        tokio::select! {
            () = stopped(&mut shutdown) => break,
            () = until(batch.deadline()) => batch.send(&batches).await,
            got = socket.recv_from(&mut buf) => match got {
                Ok((n, peer)) => {
                    batch.datagram(&intake, &buf[..n], peer);
                    if batch.full() {
                        batch.send(&batches).await;
                    }
                }
                Err(e) => {
                    // ICMP errors surface here on some systems; nothing to do but go on.
                    tracing::debug!(error = %e, "CoT UDP: receive failed");
                }
            },
        }
    }
    let mut drained = 0;
    while drained < SHUTDOWN_DRAIN_DATAGRAMS {
        match socket.try_recv_from(&mut buf) {
            Ok((n, peer)) => {
                drained += 1;
                batch.datagram(&intake, &buf[..n], peer);
                if batch.full() {
                    batch.send(&batches).await;
                }
            }
            Err(_) => break,
        }
    }
    drop(socket);
    if !batch.is_empty() {
        tracing::info!(
            label = %batch.label,
            events = batch.len(),
            "CoT: committing the open batch at shutdown"
        );
    }
    batch.send(&batches).await;
    drop(batches);
    committer.await.context("the CoT UDP committer panicked")?;
    tracing::info!("CoT UDP: stopped");
    Ok(())
}

/// Resolves once shutdown is asked for (or its sender is gone).
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|s| *s).await;
}

/// Resolves at `deadline`, never without one.
async fn until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Connection lines (opened, ended, handshakes refused) are logged at most this often: a
/// client reconnecting in a loop is counted, not written out line by line.
static CONNECTION_LOG: LogRate = LogRate::new(60, Duration::from_secs(60));

/// The TLS handshake of a `--cot-tls` connection, within `cot_event_timeout`, and the team
/// its client certificate names; None (logged, rate-limited) when the handshake fails or
/// times out or the certificate names no team of the mission in force.
async fn handshake(
    state: &Shared,
    acceptor: &tokio_rustls::TlsAcceptor,
    stream: TcpStream,
    peer: SocketAddr,
) -> Option<(tokio_rustls::server::TlsStream<TcpStream>, String)> {
    let refuse = |why: String| {
        if let Some(suppressed) = REFUSED_LOG.admit() {
            tracing::warn!(%peer, suppressed, "CoT TLS: connection refused: {why}");
        }
    };
    let tls =
        match tokio::time::timeout(state.limits.cot_event_timeout, acceptor.accept(stream)).await {
            Ok(Ok(tls)) => tls,
            Ok(Err(e)) => {
                refuse(format!("TLS handshake failed: {e}"));
                return None;
            }
            Err(_) => {
                refuse("TLS handshake not done within cot_event_timeout".into());
                return None;
            }
        };
    let names = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(<[_]>::first)
        .map(crate::tls::certificate_names)
        .unwrap_or_default();
    let candidates = names.clone();
    let team = with_core(state, move |core| {
        let mission = core.svc.ledger().mission();
        Ok(candidates
            .into_iter()
            .find(|n| mission.is_some_and(|m| m.team(n).is_some())))
    })
    .await
    .ok()
    .flatten();
    match team {
        Some(team) => Some((tls, team)),
        None => {
            refuse(format!(
                "the client certificate names no team of the mission in force (names: {})",
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            ));
            None
        }
    }
}

/// One TCP (or TLS) connection: read, frame, batch, until the peer closes, goes idle, takes
/// longer than `cot_event_timeout` over one event, or shutdown; with `tasks` (the server),
/// also write the tasks of the teams it carries ([`Devices`]). `team`: the team its client
/// certificate names (TLS), whose every event is.
async fn connection<S>(
    intake: Intake,
    stream: S,
    peer: SocketAddr,
    team: Option<String>,
    batches: mpsc::Sender<Pending>,
    tasks: Option<Shared>,
    mut shutdown: watch::Receiver<bool>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let label = match &team {
        Some(t) => format!("cot-tls:{t}@{peer}"),
        None => format!("cot-tcp:{peer}"),
    };
    if let Some(suppressed) = CONNECTION_LOG.admit() {
        tracing::info!(%peer, team = ?team, suppressed, "CoT connection");
    }
    let (mut stream, writer) = tokio::io::split(stream);
    let mut devices = Devices::new(tasks, Box::new(writer));
    let team: Option<Arc<str>> = team.map(Arc::from);
    if let Some(t) = &team
        && devices.tasks.is_some()
    {
        // The certificate says whose connection this is: its tasks go out at once.
        devices.callsigns.push(t.to_string());
        if let Err(e) = devices.joined(vec![t.to_string()]).await {
            tracing::warn!(%peer, error = %e, "CoT TLS: tasks could not be sent");
            return;
        }
    }
    let mut framer = Framer::new(intake.limits.max_cot_event_bytes);
    let mut batch = Collector::new(label, &intake);
    let mut chunk = vec![0u8; READ_CHUNK_BYTES];
    let mut received = 0u64;
    let event_timeout = intake.limits.cot_event_timeout;
    // When the last event ended (or the connection opened), and when the bytes of the next
    // began, if any have: the read deadline is the idle timeout from the one, or the event
    // timeout from the other. Only a whole event moves them on.
    let mut last_event = Instant::now();
    let mut started: Option<Instant> = None;
    let end = loop {
        let deadline = started.map_or(last_event + IDLE_TIMEOUT, |t| t + event_timeout);
        tokio::select! {
            () = stopped(&mut shutdown) => {
                // What the kernel already holds was sent before the shutdown: read it.
                let mut drained = 0;
                while drained < SHUTDOWN_DRAIN_BYTES {
                    // Polled once: what is ready now, nothing waited for.
                    match tokio::time::timeout(Duration::ZERO, stream.read(&mut chunk)).await {
                        Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
                        Ok(Ok(n)) => {
                            drained += n;
                            received += n as u64;
                            batch.frames(&intake, framer.push(&chunk[..n]), peer.ip(), &team);
                            if batch.full() {
                                batch.send(&batches).await;
                            }
                        }
                    }
                }
                break "shutdown";
            }
            () = until(batch.deadline()) => batch.send(&batches).await,
            task = devices.next() => {
                if let Err(e) = devices.assigned(task).await {
                    tracing::warn!(%peer, error = %e, "CoT TCP: a task could not be sent");
                    break "write error";
                }
            }
            read = tokio::time::timeout_at(deadline, stream.read(&mut chunk)) => match read {
                Err(_) if started.is_some() => break "an event took longer than cot_event_timeout",
                Err(_) => break "idle timeout",
                Ok(Ok(0)) => break "closed by the peer",
                Ok(Ok(n)) => {
                    received += n as u64;
                    let frames = framer.push(&chunk[..n]);
                    // Over TLS the certificate says whose the connection is: a callsign an
                    // event claims does not bring another team's tasks.
                    let joined = if team.is_some() {
                        Vec::new()
                    } else {
                        devices.learn(&frames)
                    };
                    let now = Instant::now();
                    if !frames.is_empty() {
                        last_event = now;
                        started = framer.in_event().then_some(now);
                    } else if started.is_none() && !chunk[..n].iter().all(u8::is_ascii_whitespace) {
                        started = Some(now);
                    }
                    batch.frames(&intake, frames, peer.ip(), &team);
                    if batch.full() {
                        batch.send(&batches).await;
                    }
                    if let Err(e) = devices.joined(joined).await {
                        tracing::warn!(%peer, error = %e, "CoT TCP: tasks could not be sent");
                        break "write error";
                    }
                }
                Ok(Err(e)) => {
                    tracing::warn!(%peer, error = %e, "CoT TCP: read failed");
                    break "read error";
                }
            },
        }
    };
    // An event cut off by the end of the stream is still a record: rejected as truncated.
    batch.frames(&intake, framer.finish(), peer.ip(), &team);
    if end == "shutdown" && !batch.is_empty() {
        tracing::info!(
            label = %batch.label,
            events = batch.len(),
            "CoT: committing the open batch at shutdown"
        );
    }
    batch.send(&batches).await;
    if let Some(suppressed) = CONNECTION_LOG.admit() {
        tracing::info!(%peer, bytes = received, events = batch.events_seen, tasks_sent = devices.sent, why = end, suppressed, "CoT connection ended");
    }
}

/// A connection's side towards the devices (`crate::cot_tasks`): the callsigns it carries and
/// the task events written to it. Inert unless tasks are sent.
struct Devices {
    writer: Box<dyn tokio::io::AsyncWrite + Unpin + Send>,
    /// The server whose tasks are sent (None: none are).
    server: Option<Shared>,
    /// Tasks as they are assigned; None when tasks are not sent (or the channel closed).
    tasks: Option<tokio::sync::broadcast::Receiver<truce_service::view::TaskView>>,
    /// Callsigns seen on this connection, at most [`MAX_CALLSIGNS_PER_CONNECTION`].
    callsigns: Vec<String>,
    /// Task events written.
    sent: u64,
}

/// A device that does not take a task event within this long is not keeping up; the connection
/// is closed (TAK clients reconnect, and get their open tasks again).
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

impl Devices {
    fn new(
        server: Option<Shared>,
        writer: Box<dyn tokio::io::AsyncWrite + Unpin + Send>,
    ) -> Devices {
        Devices {
            writer,
            tasks: server.as_ref().map(|s| s.tasks.subscribe()),
            server,
            callsigns: Vec::new(),
            sent: 0,
        }
    }

    /// The next task assigned anywhere (pending for ever when tasks are not sent).
    async fn next(&mut self) -> Result<TaskView, RecvError> {
        match &mut self.tasks {
            Some(rx) => rx.recv().await,
            None => std::future::pending().await,
        }
    }

    /// Notes the callsigns `frames` carry; answers those new to this connection.
    fn learn(&mut self, frames: &[Frame]) -> Vec<String> {
        let mut joined = Vec::new();
        if self.tasks.is_none() {
            return joined;
        }
        for frame in frames {
            let Frame::Event { bytes, .. } = frame else {
                continue;
            };
            if own_event(bytes) {
                continue;
            }
            if let Some(c) = contact_callsign(bytes)
                && !self.callsigns.iter().any(|k| k == c)
                && self.callsigns.len() < MAX_CALLSIGNS_PER_CONNECTION
            {
                self.callsigns.push(c.to_string());
                joined.push(c.to_string());
            }
        }
        joined
    }

    /// Sends the open tasks of the teams whose callsigns just showed.
    async fn joined(&mut self, callsigns: Vec<String>) -> std::io::Result<()> {
        let Some(state) = self.server.clone() else {
            return Ok(());
        };
        if callsigns.is_empty() {
            return Ok(());
        }
        let tasks = with_core(&state, move |core| {
            Ok(callsigns
                .iter()
                .flat_map(|c| open_tasks(core.svc.ledger(), c))
                .collect::<Vec<_>>())
        })
        .await
        .unwrap_or_default();
        self.write(&state, &tasks).await
    }

    /// Sends a task just assigned, if its team is on this connection. A receiver that fell
    /// behind sends every open task of its teams again, rather than miss one.
    async fn assigned(&mut self, task: Result<TaskView, RecvError>) -> std::io::Result<()> {
        match task {
            Ok(t) => {
                if let Some(state) = self.server.clone()
                    && t.team
                        .as_ref()
                        .is_some_and(|team| self.callsigns.contains(team))
                {
                    self.write(&state, &[t]).await?;
                }
                Ok(())
            }
            Err(RecvError::Lagged(_)) => self.joined(self.callsigns.clone()).await,
            Err(RecvError::Closed) => {
                self.tasks = None;
                Ok(())
            }
        }
    }

    async fn write(&mut self, state: &Shared, tasks: &[TaskView]) -> std::io::Result<()> {
        for t in tasks {
            let event = task_event(t, state.clock.now());
            tokio::time::timeout(WRITE_TIMEOUT, self.writer.write_all(event.as_bytes()))
                .await
                .map_err(|_| {
                    std::io::Error::new(std::io::ErrorKind::TimedOut, "write timed out")
                })??;
            self.sent += 1;
            tracing::info!(task = %t.id, team = ?t.team, "CoT: task sent");
        }
        Ok(())
    }
}

/// A batch on its way to the store: what [`Collector`] hands to the committer.
struct Pending {
    label: String,
    items: Vec<Item>,
}

/// One event of a batch, not yet parsed (parsing happens off the reader, per batch).
pub(crate) enum Item {
    Event {
        bytes: Vec<u8>,
        index: usize,
        line: u64,
        source: IpAddr,
        /// The team a client certificate authenticated (TLS): the event's source.
        team: Option<Arc<str>>,
    },
    Rejected(Box<Record>, IpAddr),
}

/// The open batch of one connection (or of the UDP socket).
struct Collector {
    label: String,
    items: Vec<Item>,
    bytes: usize,
    opened: Option<Instant>,
    max_events: usize,
    wait: Duration,
    /// Events seen on this connection, pings included: the next event's index.
    events_seen: usize,
}

impl Collector {
    fn new(label: String, intake: &Intake) -> Collector {
        Collector {
            label,
            items: Vec::new(),
            bytes: 0,
            opened: None,
            max_events: intake.limits.cot_batch_events.max(1),
            wait: intake.limits.cot_batch_wait,
            events_seen: 0,
        }
    }

    fn len(&self) -> usize {
        self.items.len()
    }

    fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    fn full(&self) -> bool {
        self.items.len() >= self.max_events || self.bytes >= MAX_BATCH_BYTES
    }

    /// When the open batch must be sent, if one is open.
    fn deadline(&self) -> Option<Instant> {
        self.opened.map(|t| t + self.wait)
    }

    fn push(&mut self, item: Item, size: usize) {
        self.opened.get_or_insert_with(Instant::now);
        self.items.push(item);
        self.bytes += size;
    }

    /// Takes the events framed from a stream from `source` (authenticated as `team`, if any).
    fn frames(
        &mut self,
        intake: &Intake,
        frames: Vec<Frame>,
        source: IpAddr,
        team: &Option<Arc<str>>,
    ) {
        for frame in frames {
            let index = self.events_seen;
            self.events_seen += 1;
            intake.count_event();
            match frame {
                Frame::Event { bytes, line } => {
                    if let Some(t) = control_type(&bytes) {
                        tracing::debug!(label = %self.label, cot_type = t, "CoT: TAK protocol message skipped");
                        continue;
                    }
                    if own_event(&bytes) {
                        tracing::debug!(label = %self.label, "CoT: Truce's own task event, echoed back, skipped");
                        continue;
                    }
                    let size = bytes.len();
                    self.push(
                        Item::Event {
                            bytes,
                            index,
                            line,
                            source,
                            team: team.clone(),
                        },
                        size,
                    );
                }
                Frame::Oversize { head, line, max } => {
                    let reason = format!(
                        "event longer than {max} bytes (max_cot_event_bytes): rejected and skipped to the next <event"
                    );
                    if let Some(suppressed) = REJECTED_LOG.admit() {
                        tracing::warn!(label = %self.label, index, line, suppressed, "CoT: {reason}");
                    }
                    let raw = raw_text(&head, " …[cut]");
                    let size = raw.len();
                    let record = Record {
                        locator: Locator::Event { index, line },
                        raw,
                        result: Err(reason),
                    };
                    self.push(Item::Rejected(Box::new(record), source), size);
                }
            }
        }
    }

    /// Takes one datagram: one event (an empty datagram is a keep-alive, and skipped).
    fn datagram(&mut self, intake: &Intake, bytes: &[u8], peer: SocketAddr) {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        let index = self.events_seen;
        self.events_seen += 1;
        intake.count_event();
        let max = intake.limits.max_cot_event_bytes;
        if bytes.len() > max {
            let reason = format!(
                "datagram from {peer} of {} bytes, over the limit of {max} (max_cot_event_bytes)",
                bytes.len()
            );
            if let Some(suppressed) = REJECTED_LOG.admit() {
                tracing::warn!(label = %self.label, suppressed, "CoT: {reason}");
            }
            let raw = raw_text(&bytes[..OVERSIZE_RAW_KEPT_BYTES.min(max)], " …[cut]");
            let size = raw.len();
            let record = Record {
                locator: Locator::Event { index, line: 1 },
                raw,
                result: Err(reason),
            };
            self.push(Item::Rejected(Box::new(record), peer.ip()), size);
            return;
        }
        if let Some(t) = control_type(bytes) {
            tracing::debug!(%peer, cot_type = t, "CoT UDP: TAK protocol message skipped");
            return;
        }
        tracing::trace!(%peer, bytes = bytes.len(), "CoT UDP datagram");
        self.push(
            Item::Event {
                bytes: bytes.to_vec(),
                index,
                line: 1,
                source: peer.ip(),
                team: None,
            },
            bytes.len(),
        );
    }

    /// Hands the open batch to the committer (waiting while it is behind).
    async fn send(&mut self, batches: &mpsc::Sender<Pending>) {
        self.opened = None;
        self.bytes = 0;
        if self.items.is_empty() {
            return;
        }
        let pending = Pending {
            label: self.label.clone(),
            items: std::mem::take(&mut self.items),
        };
        if let Err(lost) = batches.send(pending).await {
            tracing::error!(
                label = %self.label,
                events = lost.0.items.len(),
                "CoT: the committer has stopped; these events are lost"
            );
        }
    }
}

/// The task that parses a listener's batches and hands them to its sink, in arrival order;
/// rejected records pass its [`Sampler`] and are logged (rate-limited) with their connection's
/// label. The batches queued while the sink worked are handed over together: one spool
/// transaction for them at a forward base, whatever the number of connections.
fn spawn_committer(intake: Intake) -> (mpsc::Sender<Pending>, tokio::task::JoinHandle<()>) {
    let (tx, mut rx) = mpsc::channel::<Pending>(QUEUED_BATCHES);
    let task = tokio::spawn(async move {
        let options = intake.options.clone();
        let max_events = intake.limits.cot_batch_events.max(1);
        let mut sampler = Sampler::default();
        // Aggregates of windows that ended while their source went quiet are stored on a tick.
        let mut tick = tokio::time::interval(REJECTED_WINDOW / 4);
        loop {
            let first = tokio::select! {
                next = rx.recv() => match next {
                    Some(p) => p,
                    None => break,
                },
                _ = tick.tick() => {
                    let aggregates = sampler.expired(Instant::now(), false);
                    hand_over(&intake, aggregates).await;
                    continue;
                }
            };
            let mut pending = vec![first];
            while pending.len() < QUEUED_BATCHES {
                match rx.try_recv() {
                    Ok(p) => pending.push(p),
                    Err(_) => break,
                }
            }
            let events: usize = pending.iter().map(|p| p.items.len()).sum();
            let opts = options.clone();
            let parsed = match tokio::task::spawn_blocking(move || {
                pending
                    .into_iter()
                    .map(|Pending { label, items }| {
                        let records = parse(&opts, &label, items, max_events);
                        (label, records)
                    })
                    .collect::<Vec<_>>()
            })
            .await
            {
                Ok(parsed) => parsed,
                Err(e) => {
                    tracing::error!(events, error = %e, "CoT: parsing batches panicked; their events are lost");
                    continue;
                }
            };
            let now = Instant::now();
            let batches = parsed
                .into_iter()
                .map(|(label, records)| {
                    let records = sampler.sample(&intake, &label, records, now);
                    (label, records)
                })
                .collect();
            hand_over(&intake, batches).await;
        }
        // At shutdown every open window's aggregate is stored.
        let aggregates = sampler.expired(Instant::now(), true);
        hand_over(&intake, aggregates).await;
    });
    (tx, task)
}

/// Logs the rejected records of `batches` (rate-limited) and gives the batches to the sink.
async fn hand_over(intake: &Intake, batches: Vec<(String, Vec<Record>)>) {
    let batches: Vec<_> = batches.into_iter().filter(|(_, r)| !r.is_empty()).collect();
    if batches.is_empty() {
        return;
    }
    for (label, records) in &batches {
        for r in records {
            if let Err(reason) = &r.result
                && let Some(suppressed) = REJECTED_LOG.admit()
            {
                tracing::warn!(%label, locator = %r.locator, %reason, suppressed, "CoT event rejected");
            }
        }
    }
    intake.sink.store(batches).await;
}

/// Parses a batch's events with the file ingest's CoT adapter, each event its own "file", its
/// locator rewritten to its place on the connection; at most `max_events` records an item
/// (a datagram of `<event>` repeated is not thousands of records). Each record with the
/// address it came from.
pub(crate) fn parse(
    options: &Options,
    label: &str,
    items: Vec<Item>,
    max_events: usize,
) -> Vec<(IpAddr, Record)> {
    let adapter = truce_ingest::adapter(Format::Cot, options);
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        match item {
            Item::Rejected(r, source) => out.push((source, *r)),
            Item::Event {
                bytes,
                index,
                line,
                source,
                team,
            } => match adapter.read(label, &bytes) {
                Ok(mut records) => {
                    let relocate = |mut r: Record| {
                        r.locator = match r.locator {
                            Locator::Event { line: l, .. } | Locator::Line(l) => Locator::Event {
                                index,
                                line: line + l.saturating_sub(1),
                            },
                            other => other,
                        };
                        if let Some(team) = &team {
                            authenticated(&mut r, team, contact_callsign(&bytes));
                        }
                        r
                    };
                    out.extend(
                        records
                            .by_ref()
                            .take(max_events)
                            .map(|r| (source, relocate(r))),
                    );
                    let beyond = records.count();
                    if beyond > 0 {
                        out.push((
                            source,
                            Record {
                                locator: Locator::Event { index, line },
                                raw: raw_text(&bytes[..bytes.len().min(1024)], " …[cut]"),
                                result: Err(format!(
                                    "{} events in one datagram or event; the first {max_events} (cot_batch_events) were read, these {beyond} were not",
                                    max_events + beyond
                                )),
                            },
                        ));
                    }
                }
                Err(fatal) => out.push((
                    source,
                    Record {
                        locator: Locator::Event { index, line },
                        raw: raw_text(&bytes, " …[cut]"),
                        result: Err(fatal.to_string()),
                    },
                )),
            },
        }
    }
    out
}

/// Makes a record from a connection authenticated as `team` that team's: refused when the
/// event's callsign names another (a team speaks for itself only), else its source is `team`.
fn authenticated(r: &mut Record, team: &str, callsign: Option<&str>) {
    let Ok(obs) = &mut r.result else {
        return;
    };
    match callsign {
        Some(c) if c != team => {
            r.result = Err(format!(
                "the event's callsign {c:?} is not the team {team:?} its client certificate names; a TLS connection reports for its own team only"
            ));
        }
        _ => obs.properties.source.id = team.to_string(),
    }
}

/// Rejected records by source address and window: the first [`REJECTED_KEPT_PER_SOURCE`] of a
/// window kept, the rest counted into one aggregate record when the window ends.
#[derive(Default)]
struct Sampler {
    windows: HashMap<IpAddr, Window>,
}

/// One source's window.
struct Window {
    started: Instant,
    started_at: chrono::DateTime<chrono::Utc>,
    /// The batch label its records were stored under (the aggregate's too).
    label: String,
    kept: usize,
    suppressed: u64,
    /// The first suppressed record's reason and raw text (cut), shown in the aggregate.
    first: Option<(String, String)>,
}

impl Sampler {
    /// `records` with rejections over the sample removed (counted), and the aggregates of
    /// this batch's sources' ended windows added.
    fn sample(
        &mut self,
        intake: &Intake,
        label: &str,
        records: Vec<(IpAddr, Record)>,
        now: Instant,
    ) -> Vec<Record> {
        let mut out = Vec::with_capacity(records.len());
        for (source, r) in records {
            let Err(reason) = &r.result else {
                out.push(r);
                continue;
            };
            let key = if self.windows.len() >= MAX_SAMPLED_SOURCES
                && !self.windows.contains_key(&source)
            {
                IpAddr::V4(Ipv4Addr::UNSPECIFIED)
            } else {
                source
            };
            if let Some(w) = self.windows.get(&key)
                && now.duration_since(w.started) >= REJECTED_WINDOW
                && let Some(w) = self.windows.remove(&key)
                && let Some(aggregate) = w.aggregate(key)
            {
                out.push(aggregate);
            }
            let w = self.windows.entry(key).or_insert_with(|| Window {
                started: now,
                started_at: intake.clock.now(),
                label: label.to_string(),
                kept: 0,
                suppressed: 0,
                first: None,
            });
            if w.kept < REJECTED_KEPT_PER_SOURCE {
                w.kept += 1;
                out.push(r);
            } else {
                w.suppressed += 1;
                intake.count_suppressed();
                if w.first.is_none() {
                    w.first = Some((
                        reason.clone(),
                        raw_text(&r.raw.as_bytes()[..r.raw.len().min(1024)], " …[cut]"),
                    ));
                }
            }
        }
        out
    }

    /// The aggregates of windows ended by `now` (every window when `all`), by label; the
    /// windows are forgotten.
    fn expired(&mut self, now: Instant, all: bool) -> Vec<(String, Vec<Record>)> {
        let ended: Vec<IpAddr> = self
            .windows
            .iter()
            .filter(|(_, w)| all || now.duration_since(w.started) >= REJECTED_WINDOW)
            .map(|(ip, _)| *ip)
            .collect();
        let mut by_label: HashMap<String, Vec<Record>> = HashMap::new();
        for ip in ended {
            if let Some(w) = self.windows.remove(&ip) {
                let label = w.label.clone();
                if let Some(r) = w.aggregate(ip) {
                    by_label.entry(label).or_default().push(r);
                }
            }
        }
        by_label.into_iter().collect()
    }
}

impl Window {
    /// One rejected record counting what this window suppressed (None: nothing was).
    fn aggregate(self, source: IpAddr) -> Option<Record> {
        let (first_reason, raw) = self.first?;
        let from = if source.is_unspecified() {
            "sources beyond the sampled ones".to_string()
        } else {
            source.to_string()
        };
        Some(Record {
            locator: Locator::Event { index: 0, line: 0 },
            raw,
            result: Err(format!(
                "{} more rejected records from {from} in the {} s from {}, not kept one by one (the first {REJECTED_KEPT_PER_SOURCE} a source a window are); the first of them: {}",
                self.suppressed,
                REJECTED_WINDOW.as_secs(),
                self.started_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                truce_core::limits::clip(&first_reason, 512),
            )),
        })
    }
}

/// Stores one batch through the service's pipeline (the same as `POST /api/observations`),
/// retrying a failed attempt.
async fn commit(state: &Shared, label: String, records: Vec<Record>) {
    let events = records.len();
    let mut pause = RETRY_PAUSE;
    let mut records = Some(records);
    for attempt in 1..=COMMIT_ATTEMPTS {
        let last = attempt == COMMIT_ATTEMPTS;
        let these = if last {
            records.take().unwrap_or_default()
        } else {
            records.clone().unwrap_or_default()
        };
        match crate::api::observations::ingest(state, label.clone(), "cot".into(), these).await {
            Ok(done) => {
                tracing::info!(
                    %label,
                    events,
                    accepted = done.accepted,
                    duplicates = done.duplicates,
                    rejected = done.rejected,
                    "CoT batch committed"
                );
                return;
            }
            Err(e) if !last => {
                tracing::warn!(%label, events, attempt, error = %e.reason, "CoT: storing a batch failed; retrying");
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
            Err(e) => {
                tracing::error!(%label, events, error = %e.reason, "CoT: storing a batch failed {COMMIT_ATTEMPTS} times; its events are lost");
                return;
            }
        }
    }
}

/// Text for `rejected_records`: decoded (bad bytes replaced) and cut at
/// [`truce_ingest::MAX_RAW_BYTES`] on a character boundary, marked with `mark` when cut.
fn raw_text(bytes: &[u8], mark: &str) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    if text.len() <= truce_ingest::MAX_RAW_BYTES {
        return text.to_string();
    }
    let mut end = truce_ingest::MAX_RAW_BYTES - mark.len();
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{mark}", &text[..end])
}

/// The type of an event if it is a TAK protocol message (`t-x-…`: ping, pong, delete, protocol
/// negotiation), which reports nothing and is not ingested.
pub(crate) fn control_type(bytes: &[u8]) -> Option<&str> {
    let t = event_type(bytes)?;
    t.starts_with("t-x-").then_some(t)
}

/// Whether the event is one Truce sent (a task, [`crate::cot_tasks`]): a TAK server may echo
/// it back, and it is no report.
pub(crate) fn own_event(bytes: &[u8]) -> bool {
    event_attr(bytes, b"uid").is_some_and(|u| u.starts_with(TASK_UID_PREFIX))
}

/// The `type` attribute of the first `<event>` start tag in `bytes`.
pub(crate) fn event_type(bytes: &[u8]) -> Option<&str> {
    event_attr(bytes, b"type")
}

/// Attribute `name` of the first `<event>` start tag in `bytes`.
fn event_attr<'a>(bytes: &'a [u8], name: &[u8]) -> Option<&'a str> {
    let start = find_event_start(bytes, 0)?;
    tag_attr(&bytes[start + EVENT.len()..], name)
}

/// The callsign a device gives in the event (`<contact callsign>`), if any.
pub(crate) fn contact_callsign(bytes: &[u8]) -> Option<&str> {
    let mut from = 0;
    while let Some(at) = find(&bytes[from..], CONTACT) {
        let rest = &bytes[from + at + CONTACT.len()..];
        if rest.first().is_some_and(|&b| ends_name(b)) {
            return tag_attr(rest, b"callsign").filter(|c| !c.is_empty());
        }
        from += at + CONTACT.len();
    }
    None
}

/// Attribute `name` of the start tag whose attributes begin `rest` (just after its name; the
/// tag ends at the first `>`).
fn tag_attr<'a>(rest: &'a [u8], name: &[u8]) -> Option<&'a str> {
    let tag = &rest[..rest.iter().position(|&b| b == b'>').unwrap_or(rest.len())];
    let mut i = 0;
    while i < tag.len() {
        // An attribute name starts after white space.
        if tag[i].is_ascii_whitespace() {
            i += 1;
            let name_end = i + tag[i..]
                .iter()
                .position(|&b| b == b'=' || b.is_ascii_whitespace())
                .unwrap_or(tag.len() - i);
            let this = &tag[i..name_end];
            let mut j = name_end;
            while j < tag.len() && tag[j].is_ascii_whitespace() {
                j += 1;
            }
            if j >= tag.len() || tag[j] != b'=' {
                continue;
            }
            j += 1;
            while j < tag.len() && tag[j].is_ascii_whitespace() {
                j += 1;
            }
            let &quote = tag.get(j)?;
            if quote != b'"' && quote != b'\'' {
                return None;
            }
            let value_end = j + 1 + tag[j + 1..].iter().position(|&b| b == quote)?;
            if this == name {
                return std::str::from_utf8(&tag[j + 1..value_end]).ok();
            }
            i = value_end + 1;
        } else {
            i += 1;
        }
    }
    None
}

const EVENT: &[u8] = b"<event";
const CONTACT: &[u8] = b"<contact";
const EVENT_END: &[u8] = b"</event";
const CDATA: &[u8] = b"<![CDATA[";
const COMMENT: &[u8] = b"<!--";

/// Whether `b` may follow an element name (so `<event` is not `<events`).
fn ends_name(b: u8) -> bool {
    b.is_ascii_whitespace() || b == b'>' || b == b'/'
}

/// Where the next `<event` start tag begins at or after `from` (its name complete).
fn find_event_start(bytes: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(p) = find(&bytes[i..], EVENT) {
        let at = i + p;
        match bytes.get(at + EVENT.len()) {
            Some(&b) if ends_name(b) => return Some(at),
            _ => i = at + 1,
        }
    }
    None
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// `rest` is a proper prefix of `pattern`: the buffer ends where `pattern` may be starting.
fn may_start(rest: &[u8], pattern: &[u8]) -> bool {
    rest.len() < pattern.len() && pattern.starts_with(rest)
}

/// One event cut from a stream.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// An event's bytes from `<event` to the end of `</event>` (or of `<event …/>`), or up to
    /// where it broke off: a new `<event` inside it, or the end of the stream. `line` is the
    /// 1-based line of the stream it starts on.
    Event { bytes: Vec<u8>, line: u64 },
    /// An event longer than `max` bytes: its first bytes, and where it started.
    Oversize {
        head: Vec<u8>,
        line: u64,
        max: usize,
    },
}

/// Where [`Framer`] is in the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between events: looking for `<event`.
    Seek,
    /// Inside an event that started at the buffer's start.
    Event(Inside),
    /// Skipping the rest of an over-long event, to the next `<event`.
    Skip,
}

/// Where inside an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Inside {
    /// In the `<event …>` start tag, in a quoted value when `quote` is set.
    StartTag {
        quote: Option<u8>,
    },
    Content,
    Cdata,
    Comment,
}

/// How a scan of the buffered event ended.
enum Scan {
    /// The event ends before this offset.
    Done(usize),
    /// A new `<event` starts at this offset, inside the unfinished one.
    Nested(usize),
    /// The event goes on past the buffer.
    More,
}

/// Cuts a byte stream of concatenated CoT events into events, incrementally, holding at most
/// one event (up to `max` bytes) plus one read's worth of bytes.
///
/// An event ends at its `</event>` (CDATA sections and comments are skipped over, so a
/// `</event>` inside them does not end it) or at the end of an empty `<event …/>`. A new
/// `<event` inside an unfinished one ends the unfinished one there (a sender that broke off an
/// event and started the next): it is given to the adapter as it is, which rejects it, and the
/// new one is read. Text between events — `<?xml?>` declarations, white space, junk — is
/// skipped.
pub struct Framer {
    max: usize,
    buf: Vec<u8>,
    state: State,
    /// In an event: how far the buffer has been scanned.
    scan: usize,
    /// The stream line of `buf[0]`.
    line: u64,
}

impl Framer {
    pub fn new(max: usize) -> Framer {
        Framer {
            max,
            buf: Vec::new(),
            state: State::Seek,
            scan: 0,
            line: 1,
        }
    }

    /// Whether an event has begun and not ended.
    pub fn in_event(&self) -> bool {
        matches!(self.state, State::Event(_))
    }

    /// Bytes held now (for tests of the bound).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Drops the first `n` bytes of the buffer, counting their lines.
    fn consume(&mut self, n: usize) {
        self.line += self.buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
        self.buf.drain(..n);
    }

    /// Takes the next bytes of the stream; returns the events they complete.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Frame> {
        let mut out = Vec::new();
        self.buf.extend_from_slice(bytes);
        loop {
            match self.state {
                State::Seek | State::Skip => match find_event_start(&self.buf, 0) {
                    Some(at) => {
                        self.consume(at);
                        self.state = State::Event(Inside::StartTag { quote: None });
                        self.scan = EVENT.len();
                    }
                    None => {
                        // Keep only a tail that may be the start of `<event`.
                        let keep = (1..=EVENT.len().min(self.buf.len()))
                            .rev()
                            .find(|&k| EVENT.starts_with(&self.buf[self.buf.len() - k..]))
                            .unwrap_or(0);
                        self.consume(self.buf.len() - keep);
                        return out;
                    }
                },
                State::Event(_) => match self.scan_event() {
                    Scan::Done(end) => {
                        out.push(self.take(end));
                        self.state = State::Seek;
                    }
                    Scan::Nested(at) => {
                        out.push(self.take(at));
                        self.state = State::Event(Inside::StartTag { quote: None });
                        self.scan = EVENT.len();
                    }
                    Scan::More => {
                        if self.buf.len() > self.max {
                            out.push(self.oversize());
                            // Bytes scanned are the event's; the unscanned tail may begin
                            // the next `<event`.
                            let scanned = self.scan.min(self.buf.len());
                            self.consume(scanned);
                            self.state = State::Skip;
                            continue;
                        }
                        return out;
                    }
                },
            }
        }
    }

    /// The end of the stream: an unfinished event is given as it is (the adapter rejects it
    /// as truncated).
    pub fn finish(&mut self) -> Vec<Frame> {
        let mut out = Vec::new();
        if matches!(self.state, State::Event(_)) && !self.buf.is_empty() {
            let n = self.buf.len();
            out.push(self.take(n));
        }
        self.buf.clear();
        self.state = State::Seek;
        out
    }

    /// The first `n` bytes, an event, as a frame (an oversize one if over the limit).
    fn take(&mut self, n: usize) -> Frame {
        let line = self.line;
        let frame = if n > self.max {
            self.oversize()
        } else {
            Frame::Event {
                bytes: self.buf[..n].to_vec(),
                line,
            }
        };
        self.consume(n);
        frame
    }

    fn oversize(&self) -> Frame {
        Frame::Oversize {
            head: self.buf[..self.buf.len().min(OVERSIZE_RAW_KEPT_BYTES)].to_vec(),
            line: self.line,
            max: self.max,
        }
    }

    /// Scans the buffered event from where the last scan stopped.
    fn scan_event(&mut self) -> Scan {
        let State::Event(mut inside) = self.state else {
            unreachable!("scan_event outside an event")
        };
        let b = &self.buf;
        let mut i = self.scan;
        let result = 'scan: loop {
            match inside {
                Inside::StartTag { quote } => {
                    let mut quote = quote;
                    loop {
                        let Some(&c) = b.get(i) else {
                            inside = Inside::StartTag { quote };
                            break 'scan Scan::More;
                        };
                        match (quote, c) {
                            // `<` cannot stand in a start tag, not even quoted: the tag broke
                            // off. Read on as content, where a new `<event` is found.
                            (_, b'<') => {
                                inside = Inside::Content;
                                continue 'scan;
                            }
                            (Some(q), c) if c == q => quote = None,
                            (Some(_), _) => {}
                            (None, b'"' | b'\'') => quote = Some(c),
                            (None, b'>') => {
                                if b[i - 1] == b'/' {
                                    break 'scan Scan::Done(i + 1);
                                }
                                inside = Inside::Content;
                                i += 1;
                                continue 'scan;
                            }
                            _ => {}
                        }
                        i += 1;
                    }
                }
                Inside::Content => {
                    let Some(p) = b[i..].iter().position(|&c| c == b'<') else {
                        i = b.len();
                        break Scan::More;
                    };
                    let at = i + p;
                    let rest = &b[at..];
                    if rest.starts_with(CDATA) {
                        inside = Inside::Cdata;
                        i = at + CDATA.len();
                    } else if rest.starts_with(COMMENT) {
                        inside = Inside::Comment;
                        i = at + COMMENT.len();
                    } else if rest.starts_with(EVENT_END) {
                        match rest.get(EVENT_END.len()) {
                            None => {
                                i = at;
                                break Scan::More;
                            }
                            Some(&c) if ends_name(c) => {
                                match rest.iter().position(|&c| c == b'>') {
                                    Some(gt) => break Scan::Done(at + gt + 1),
                                    None => {
                                        i = at;
                                        break Scan::More;
                                    }
                                }
                            }
                            Some(_) => i = at + 1,
                        }
                    } else if rest.starts_with(EVENT) {
                        match rest.get(EVENT.len()) {
                            None => {
                                i = at;
                                break Scan::More;
                            }
                            Some(&c) if ends_name(c) => break Scan::Nested(at),
                            Some(_) => i = at + 1,
                        }
                    } else if [CDATA, COMMENT, EVENT_END, EVENT]
                        .iter()
                        .any(|p| may_start(rest, p))
                    {
                        i = at;
                        break Scan::More;
                    } else {
                        i = at + 1;
                    }
                }
                Inside::Cdata | Inside::Comment => {
                    let close: &[u8] = if inside == Inside::Cdata {
                        b"]]>"
                    } else {
                        b"-->"
                    };
                    match find(&b[i..], close) {
                        Some(p) => {
                            inside = Inside::Content;
                            i += p + close.len();
                        }
                        None => {
                            // The closer may straddle this read and the next.
                            i = b.len().saturating_sub(close.len() - 1).max(i);
                            break Scan::More;
                        }
                    }
                }
            }
        };
        self.scan = i;
        self.state = State::Event(inside);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<event version="2.0" uid="a" type="b-m-p-s-m" time="2024-01-01T00:00:00Z" start="2024-01-01T00:00:00Z" stale="2024-01-01T01:00:00Z" how="h-g-i-g-o"><point lat="48" lon="37.8" hae="0" ce="5" le="9999999"/><detail><remarks><![CDATA[a </event> in CDATA]]></remarks><!-- </event> --></detail></event>"#;
    const B: &str = r#"<event uid="b" type="a-u-G-E-W-A" time="2024-01-01T00:00:01Z" how="m-g"><point lat="48" lon="37.8" ce="5"/></event>"#;

    fn events(frames: &[Frame]) -> Vec<String> {
        frames
            .iter()
            .map(|f| match f {
                Frame::Event { bytes, line } => {
                    format!("{line}:{}", String::from_utf8_lossy(bytes))
                }
                Frame::Oversize { line, head, .. } => format!("{line}:oversize:{}", head.len()),
            })
            .collect()
    }

    #[test]
    fn cuts_concatenated_events_with_declarations_cdata_and_comments() {
        let stream = format!("{A}\n{B}<?xml version=\"1.0\"?><event uid=\"c\" type=\"x\"/>");
        let whole = events(&Framer::new(1 << 16).push(stream.as_bytes()));
        let a = &A[A.find("<event").unwrap()..];
        assert_eq!(
            whole,
            vec![
                format!("2:{a}"),
                format!("3:{B}"),
                "3:<event uid=\"c\" type=\"x\"/>".to_string()
            ]
        );
        // Byte by byte, and in every two-part split, the same events come out.
        let mut f = Framer::new(1 << 16);
        let mut bytewise = Vec::new();
        for b in stream.as_bytes() {
            bytewise.extend(f.push(std::slice::from_ref(b)));
        }
        assert_eq!(events(&bytewise), whole);
        for cut in 0..stream.len() {
            let mut f = Framer::new(1 << 16);
            let mut got = f.push(&stream.as_bytes()[..cut]);
            got.extend(f.push(&stream.as_bytes()[cut..]));
            got.extend(f.finish());
            assert_eq!(events(&got), whole, "split at {cut}");
        }
    }

    #[test]
    fn a_broken_event_ends_where_the_next_begins_and_a_truncated_one_at_the_end() {
        // Broken off in content, then in a quoted attribute value, then at the end.
        let stream = format!(
            "<event uid=\"x\" type=\"a\"><point lat=\"1\n{B}<events><event uid=\"y\" time=\"<?xml version=\"1.0\"?>\n{B}<event uid=\"z\""
        );
        let mut f = Framer::new(1 << 16);
        let mut got = f.push(stream.as_bytes());
        assert_eq!(got.len(), 4);
        got.extend(f.finish());
        assert_eq!(
            events(&got),
            vec![
                "1:<event uid=\"x\" type=\"a\"><point lat=\"1\n".to_string(),
                format!("2:{B}"),
                "2:<event uid=\"y\" time=\"<?xml version=\"1.0\"?>\n".to_string(),
                format!("3:{B}"),
                "3:<event uid=\"z\"".to_string()
            ]
        );
    }

    #[test]
    fn an_oversize_event_is_cut_short_and_the_stream_resynchronises() {
        let big = format!(
            "<event uid=\"big\" type=\"b-m-p-s-m\"><detail><remarks>{}</remarks></detail></event>",
            "x".repeat(10_000)
        );
        let mut f = Framer::new(1_000);
        let mut got = Vec::new();
        for chunk in format!("{big}\n{B}").as_bytes().chunks(100) {
            got.extend(f.push(chunk));
            assert!(f.buffered() <= 1_100, "{} bytes held", f.buffered());
        }
        assert_eq!(
            events(&got),
            vec![
                format!("1:oversize:{}", 1_000.min(OVERSIZE_RAW_KEPT_BYTES) + 100),
                format!("2:{B}")
            ]
        );
        // Junk between events is never held either.
        let mut f = Framer::new(1_000);
        for _ in 0..1_000 {
            assert!(f.push(&[b'j'; 100]).is_empty());
            assert!(f.buffered() <= EVENT.len());
        }
        assert_eq!(events(&f.push(B.as_bytes())), vec![format!("1:{B}")]);
    }

    #[test]
    fn event_types_and_protocol_messages() {
        assert_eq!(event_type(A.as_bytes()), Some("b-m-p-s-m"));
        assert_eq!(
            event_type(b"<event\n uid='t' type = 't-x-c-t'/>"),
            Some("t-x-c-t")
        );
        assert_eq!(
            event_type(b"<event subtype=\"x\" type=\"a-f\">"),
            Some("a-f")
        );
        assert_eq!(event_type(b"<event uid=\"a\">"), None);
        assert_eq!(
            control_type(b"<event type=\"t-x-d-d\" uid=\"takPing\"/>"),
            Some("t-x-d-d")
        );
        assert_eq!(control_type(B.as_bytes()), None);
    }

    #[test]
    fn callsigns_and_truces_own_events() {
        let pli = b"<event uid=\"ANDROID-1\" type=\"a-f-G-U-C\"><point/><detail><contacts x=\"1\"/><contact endpoint=\"*:-1:stcp\" callsign='team-2'/></detail></event>";
        assert_eq!(contact_callsign(pli), Some("team-2"));
        assert_eq!(
            contact_callsign(b"<event uid=\"a\"><detail><contact callsign=\"\"/></detail></event>"),
            None
        );
        assert_eq!(
            contact_callsign(b"<event uid=\"a\"><detail/></event>"),
            None
        );
        assert!(!own_event(pli));
        assert!(own_event(
            b"<event version=\"2.0\" uid=\"truce:task-inc-7\" type=\"b-m-p-w-GOTO\"/>"
        ));
    }
}
