//! `truce forward --nats URL --subject SUBJECT [FILES…]`: a forward base's feeds to
//! headquarters over NATS JetStream (docs/nats.md).
//!
//! Each file is read as `truce ingest` reads it (the same adapters and validation; a bad
//! record is reported with its file and line and the rest goes through), and every accepted
//! observation is written to the spool (`--spool`, a SQLite file) before anything is sent:
//! from then on a killed forwarder loses nothing. The spool is then published, each message
//! with the observation's content hash as its `Nats-Msg-Id`, and a message leaves the spool
//! only once JetStream has acknowledged it. With the link down the command waits and retries;
//! run again (with or without files) it resends what the spool still holds.
//!
//! With `--cot-tcp ADDR` it also listens for TAK devices' Cursor-on-Target over TCP, with
//! headquarters' listener code (`truce_server::cot`: the same framing, bounds and parsing)
//! feeding the spool instead of a store (`truce_server::nats::CotSpool`), and publishes as it
//! goes until SIGINT/SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use truce_ingest::Format;
use truce_server::cot;
use truce_server::nats::{self, CotSpool, Spool};

use crate::Outcome;

/// Records spooled per transaction.
const SPOOL_CHUNK: usize = 10_000;
/// Rejection reasons printed per file.
const REASONS_SHOWN: usize = 5;
/// How long the NATS connection may take to flush at the end: with the link down a flush
/// never completes, and a stopped forwarder must still exit.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(2);
/// With `--cot-tcp`: how long a batch of events waits to fill before it is written to the
/// spool (one transaction, one fsync) — the most an event received is not yet on disk.
const COT_BATCH_WAIT: Duration = Duration::from_millis(100);
/// With `--cot-tcp`, at SIGINT/SIGTERM: how long the spool may still be published once the
/// listener has spooled its last events, before the forwarder stops with what is left.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);
/// … or for this long without the spool shrinking.
const DRAIN_STALLED: Duration = Duration::from_secs(1);

#[derive(Args)]
pub struct ForwardArgs {
    /// The NATS server(s): `nats://host:4222`, several comma-separated (a leaf node at the
    /// base, or headquarters' cluster).
    #[arg(long)]
    nats: String,
    /// The subject to publish on (headquarters' stream must hold it, e.g.
    /// `truce.observations.base-3`).
    #[arg(long)]
    subject: String,
    /// The spool of records not yet acknowledged by JetStream (created if missing).
    #[arg(long, default_value = "truce-forward.spool")]
    spool: PathBuf,
    /// Also listen for TAK devices' Cursor-on-Target events over TCP on this address
    /// (`0.0.0.0:8087`), as `truce serve --cot-tcp` does, spooling and publishing each
    /// accepted event; then the command runs until SIGINT/SIGTERM.
    #[arg(long = "cot-tcp", value_name = "ADDR")]
    cot_tcp: Option<SocketAddr>,
    #[command(flatten)]
    feed: crate::ingest_cmd::FeedArgs,
    /// Files to forward; none: only what the spool still holds is sent (and, with
    /// `--cot-tcp`, what devices send).
    paths: Vec<PathBuf>,
}

pub fn run(args: ForwardArgs) -> Result<Outcome> {
    let format = args.feed.format()?;
    let options = args.feed.options()?;
    let mut spool = Spool::open(&args.spool)?;
    let mut fatal = 0usize;
    let mut any_rejected = false;
    for path in &args.paths {
        let shown = path.display().to_string();
        match spool_file(&mut spool, path, format, &options) {
            Ok(r) => {
                println!(
                    "{shown}: {} spooled ({} already in the spool), {} rejected",
                    r.accepted,
                    r.accepted - r.added,
                    r.rejected
                );
                for reason in &r.reasons {
                    println!("  {reason}");
                }
                if r.rejected > r.reasons.len() {
                    println!("  … and {} more", r.rejected - r.reasons.len());
                }
                any_rejected |= r.rejected > 0;
            }
            Err(e) => {
                eprintln!("{shown}: {e:#}");
                fatal += 1;
            }
        }
    }
    let waiting = spool.len()?;
    println!(
        "spool {}: {waiting} records to publish on {}",
        args.spool.display(),
        args.subject
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let spool = Arc::new(Mutex::new(spool));
    let published = runtime.block_on(async {
        crate::serve_cmd::tracing_init();
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            truce_server::app::shutdown_signal().await;
            let _ = stop_tx.send(true);
        });
        let published = match args.cot_tcp {
            None => {
                let client = nats::connect(&args.nats, "truce forward").await?;
                let published = nats::publish(
                    client.clone(),
                    args.subject.clone(),
                    spool.clone(),
                    false,
                    stop_rx,
                )
                .await?;
                // Acks are in; the connection is closed cleanly (with the link down at a
                // signal, the flush would wait for ever).
                let _ = tokio::time::timeout(FLUSH_TIMEOUT, client.flush()).await;
                published
            }
            Some(addr) => listen(&args, addr, options, spool.clone(), stop_rx).await?,
        };
        anyhow::Ok(published)
    })?;
    let left = spool.lock().unwrap_or_else(|e| e.into_inner()).len()?;
    println!(
        "published: {} stored by JetStream, {} it already held; {left} left in the spool",
        published.stored, published.duplicates
    );
    if fatal > 0 {
        anyhow::bail!(
            "{fatal} of {} files could not be forwarded",
            args.paths.len()
        );
    }
    if left > 0 {
        anyhow::bail!(
            "stopped with {left} records in the spool {}: run `truce forward` again to send them",
            args.spool.display()
        );
    }
    Ok(if any_rejected {
        Outcome::SomeRejected
    } else {
        Outcome::Ok
    })
}

/// `--cot-tcp`: listens on `addr` and publishes the spool as it fills, until `stop`; then
/// the listener spools what it still holds and the publisher has [`DRAIN_TIMEOUT`] to send
/// the rest.
async fn listen(
    args: &ForwardArgs,
    addr: SocketAddr,
    options: truce_ingest::Options,
    spool: Arc<Mutex<Spool>>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Result<nats::Published> {
    let sink = Arc::new(CotSpool::new(spool.clone()));
    let limits = truce_server::state::Limits {
        cot_batch_wait: COT_BATCH_WAIT,
        ..Default::default()
    };
    let intake = cot::Intake::new(
        limits,
        options,
        Arc::new(truce_service::SystemClock),
        sink.clone(),
        "truce forward",
    );
    // The listener first: devices are served whether the link is up or not.
    let (listener_stop, listener_stopped) = tokio::sync::watch::channel(false);
    let mut listener = tokio::spawn(cot::listen_tcp_into(intake, addr, listener_stopped));
    // The publisher connects, then follows the spool; the connection (retried while NATS is
    // unreachable) gives way to the stop like the rest.
    let (publish_stop, mut publish_stopped) = tokio::sync::watch::channel(false);
    let (url, subject, to_send) = (args.nats.clone(), args.subject.clone(), spool.clone());
    let mut publisher = tokio::spawn(async move {
        let client = tokio::select! {
            c = nats::connect(&url, "truce forward") => c?,
            _ = publish_stopped.wait_for(|s| *s) => return Ok(nats::Published::default()),
        };
        let published =
            nats::publish(client.clone(), subject, to_send, true, publish_stopped).await;
        // Acks are in; the connection is closed cleanly.
        let _ = tokio::time::timeout(FLUSH_TIMEOUT, client.flush()).await;
        published
    });
    // Until the signal; the listener or the publisher ending before it is a failure (the
    // address taken, the spool unwritable).
    let mut failed = None;
    let (mut listener_ended, mut publisher_ended) = (false, false);
    tokio::select! {
        _ = stop.wait_for(|s| *s) => {}
        done = &mut listener => {
            listener_ended = true;
            failed = Some(match done {
                Ok(Ok(())) => anyhow::anyhow!("the CoT listener stopped"),
                Ok(Err(e)) => e,
                Err(e) => anyhow::anyhow!("the CoT listener panicked: {e}"),
            });
        }
        done = &mut publisher => {
            publisher_ended = true;
            failed = Some(match done {
                Ok(Ok(_)) => anyhow::anyhow!("the publisher stopped"),
                Ok(Err(e)) => e.context("publishing the spool"),
                Err(e) => anyhow::anyhow!("the publisher panicked: {e}"),
            });
        }
    }
    if !listener_ended {
        // The listener stops accepting, reads what the kernel holds, and spools its batches.
        let _ = listener_stop.send(true);
        match (&mut listener).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("CoT listener: {e:#}"),
            Err(e) => eprintln!("the CoT listener panicked: {e}"),
        }
    }
    let events = |what: &std::sync::atomic::AtomicU64| what.load(Ordering::Relaxed);
    println!(
        "CoT TCP {addr}: {} events spooled ({} already in the spool), {} rejected",
        events(&sink.spooled),
        events(&sink.already),
        events(&sink.rejected)
    );
    if events(&sink.lost) > 0 {
        eprintln!(
            "CoT TCP {addr}: {} events lost: the spool could not be written",
            events(&sink.lost)
        );
    }
    let published = if publisher_ended {
        nats::Published::default()
    } else {
        // What was spooled last is sent if the link allows, for a moment: until the spool
        // is empty, DRAIN_TIMEOUT, or a second without progress (the link is down).
        let deadline = tokio::time::Instant::now() + DRAIN_TIMEOUT;
        let mut last = (u64::MAX, tokio::time::Instant::now());
        while tokio::time::Instant::now() < deadline && !publisher.is_finished() {
            let left = {
                let spool = spool.clone();
                tokio::task::spawn_blocking(move || {
                    spool.lock().unwrap_or_else(|e| e.into_inner()).len()
                })
                .await??
            };
            let now = tokio::time::Instant::now();
            if left == 0 || (left >= last.0 && now - last.1 >= DRAIN_STALLED) {
                break;
            }
            if left < last.0 {
                last = (left, now);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = publish_stop.send(true);
        match publisher.await {
            Ok(Ok(p)) => p,
            Ok(Err(e)) => {
                failed.get_or_insert(e.context("publishing the spool"));
                nats::Published::default()
            }
            Err(e) => {
                failed.get_or_insert(anyhow::anyhow!("the publisher panicked: {e}"));
                nats::Published::default()
            }
        }
    };
    match failed {
        Some(e) => Err(e),
        None => Ok(published),
    }
}

/// What one file gave.
#[derive(Default)]
struct FileReport {
    accepted: usize,
    /// Of the accepted, those the spool did not hold yet.
    added: usize,
    rejected: usize,
    reasons: Vec<String>,
}

/// Reads one file with its adapter, validates each record, and spools the observations.
fn spool_file(
    spool: &mut Spool,
    path: &std::path::Path,
    format: Option<Format>,
    options: &truce_ingest::Options,
) -> Result<FileReport> {
    let shown = path.display().to_string();
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {shown}"))?;
    let format = match format {
        Some(f) => f,
        None => truce_ingest::detect(&shown, &bytes).ok_or_else(|| {
            truce_ingest::Fatal::UnknownFormat {
                file: shown.clone(),
            }
        })?,
    };
    let adapter = truce_ingest::adapter(format, options);
    let mut report = FileReport::default();
    let mut chunk = Vec::with_capacity(SPOOL_CHUNK);
    for record in adapter.read(&shown, &bytes)? {
        let checked = record.result.and_then(|o| {
            o.validate().map_err(|e| e.0)?;
            let (id, body) = nats::message(&o);
            truce_core::limits::check_entry("the observation", body.len())?;
            Ok((id, body))
        });
        match checked {
            Ok(m) => {
                report.accepted += 1;
                chunk.push(m);
                if chunk.len() == SPOOL_CHUNK {
                    report.added += spool.add(&std::mem::take(&mut chunk))?;
                }
            }
            Err(reason) => {
                report.rejected += 1;
                if report.reasons.len() < REASONS_SHOWN {
                    report
                        .reasons
                        .push(format!("{shown}: {}: {reason}", record.locator));
                }
            }
        }
    }
    report.added += spool.add(&chunk)?;
    Ok(report)
}
