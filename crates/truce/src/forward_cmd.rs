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

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use clap::Args;
use truce_ingest::Format;
use truce_server::nats::{self, Spool};

use crate::Outcome;

/// Records spooled per transaction.
const SPOOL_CHUNK: usize = 10_000;
/// Rejection reasons printed per file.
const REASONS_SHOWN: usize = 5;

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
    #[command(flatten)]
    feed: crate::ingest_cmd::FeedArgs,
    /// Files to forward; none: only what the spool still holds is sent.
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
        let client = nats::connect(&args.nats, "truce forward").await?;
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            truce_server::app::shutdown_signal().await;
            let _ = stop_tx.send(true);
        });
        let published = nats::publish(
            client.clone(),
            args.subject.clone(),
            spool.clone(),
            false,
            stop_rx,
        )
        .await?;
        // Acks are in; the connection is closed cleanly.
        let _ = client.flush().await;
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
