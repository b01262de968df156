//! `truce ingest --db FILE --agreement FILE PATH...`: feeds into the store, assessed as stored.
//!
//! Each file is read by its adapter as a stream of records and cut into batches of
//! [`BATCH_RECORDS`]; each batch is assessed on all cores and committed in one transaction,
//! and folded into incidents on a second thread while the next is stored
//! (`Service::ingest_batches`). A
//! process killed mid-file loses only the batch in flight: re-running the same command stores
//! what is missing and counts the rest as duplicates (the store keys observations by content).
//!
//! The log signs a checkpoint after every batch (and after new terms are put in force), with
//! the key from `--log-key` or `<db>.log.key` (see `log_cmd::log_signer_key`).

use std::path::PathBuf;

use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use truce_ingest::{Format, Options, Record};
use truce_service::pipeline::Committed;
use truce_service::{Service, SystemClock};
use truce_store::BatchOutcome;

use crate::Outcome;

/// Records per transaction: large enough that commit cost vanishes, small enough that a crash
/// loses seconds of work and a progress bar moves.
pub const BATCH_RECORDS: usize = 10_000;
/// Files above this size get a progress bar (on a terminal).
const PROGRESS_MIN_BYTES: usize = 1 << 20;
/// How many rejection reasons to print per file; all are kept in the store.
const REASONS_SHOWN: usize = 5;

#[derive(Args)]
pub struct IngestArgs {
    /// The store (created if missing): a GeoPackage file, or a PostgreSQL database as `postgres://user@host/dbname`.
    #[arg(long)]
    db: PathBuf,
    /// The agreement the observations are assessed against.
    #[arg(long)]
    agreement: String,
    #[command(flatten)]
    feed: FeedArgs,
    /// The log's signing key file (default: `<db>.log.key` beside the store, created on first
    /// use); a checkpoint is signed with it after every batch.
    #[arg(long = "log-key")]
    log_key: Option<PathBuf>,
    /// Files to ingest.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
}

/// What one file gave.
#[derive(Default)]
pub struct FileReport {
    pub accepted: usize,
    pub duplicates: usize,
    pub rejected: usize,
    pub reasons: Vec<String>,
}

impl FileReport {
    fn add(&mut self, o: &BatchOutcome) {
        self.accepted += o.accepted;
        self.duplicates += o.duplicates;
        self.rejected += o.rejected;
    }
}

/// How a feed's files are read: the options `truce ingest` and `truce forward` share.
#[derive(Args)]
pub struct FeedArgs {
    /// Feed format; `auto` detects it from the name and content.
    #[arg(long, default_value = "auto")]
    format: String,
    /// For CSV from partners: map our column names to theirs, `ours=theirs,…`.
    #[arg(long)]
    columns: Option<String>,
    /// A TOML table mapping Cursor-on-Target types to observation kinds (default: built in).
    #[arg(long = "cot-types")]
    cot_types: Option<PathBuf>,
}

impl FeedArgs {
    /// The format asked for; None: detect each file's.
    pub fn format(&self) -> Result<Option<Format>> {
        match self.format.as_str() {
            "auto" => Ok(None),
            other => Ok(Some(other.parse::<Format>()?)),
        }
    }

    /// The adapters' options: the CSV column map and the CoT type table.
    pub fn options(&self) -> Result<Options> {
        let mut options = Options::default();
        if let Some(spec) = &self.columns {
            options.csv_columns = truce_ingest::parse_csv_columns(spec)?;
        }
        if let Some(path) = &self.cot_types {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            options.cot_types = truce_ingest::CotTypes::from_toml(&text)
                .with_context(|| path.display().to_string())?;
        }
        Ok(options)
    }
}

pub fn run(args: IngestArgs) -> Result<Outcome> {
    let terms = crate::agreement_cmd::load(&args.agreement)?;
    let format = args.feed.format()?;
    let options = args.feed.options()?;
    let log_key = crate::log_cmd::log_signer_key(&args.db, args.log_key.as_deref())?;
    let mut svc = Service::open_with_terms(&args.db, &terms, log_key, Arc::new(SystemClock))?;
    let mut fatal = 0usize;
    let mut any_rejected = false;
    for path in &args.paths {
        let shown = path.display().to_string();
        match ingest_path(&mut svc, path, format, &options) {
            Ok(report) => {
                println!(
                    "{shown}: {} accepted, {} duplicate, {} rejected",
                    report.accepted, report.duplicates, report.rejected
                );
                for r in &report.reasons {
                    println!("  {r}");
                }
                if report.rejected > report.reasons.len() {
                    println!(
                        "  … and {} more (table rejected_records)",
                        report.rejected - report.reasons.len()
                    );
                }
                any_rejected |= report.rejected > 0;
            }
            Err(e) => {
                eprintln!("{shown}: {e:#}");
                fatal += 1;
            }
        }
    }
    crate::print_warnings(&mut svc);
    if let Some(checkpoint) = svc.store().latest_checkpoint()? {
        let entries = svc.store().log_size()?;
        let name = svc.key().map_or("", |k| k.name());
        if entries == checkpoint.size {
            println!(
                "log {name}: {entries} entries, checkpoint signed (root {})",
                checkpoint.root.to_base64()
            );
        } else {
            // A batch committed whose checkpoint could not be signed (a full disk).
            println!(
                "log {name}: {entries} entries; the latest checkpoint (root {}) covers the first {}: the next checkpoint signed covers the rest",
                checkpoint.root.to_base64(),
                checkpoint.size
            );
        }
    }
    svc.close_for_exit();
    if fatal > 0 {
        anyhow::bail!(
            "{fatal} of {} files could not be ingested",
            args.paths.len()
        );
    }
    Ok(if any_rejected {
        Outcome::SomeRejected
    } else {
        Outcome::Ok
    })
}

/// Reads, assesses and stores one file, batch by batch.
pub fn ingest_path(
    svc: &mut Service,
    path: &std::path::Path,
    format: Option<Format>,
    options: &Options,
) -> Result<FileReport> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    ingest_bytes(svc, &path.display().to_string(), &bytes, format, options)
}

pub fn ingest_bytes(
    svc: &mut Service,
    shown: &str,
    bytes: &[u8],
    format: Option<Format>,
    options: &Options,
) -> Result<FileReport> {
    let format = match format {
        Some(f) => f,
        None => truce_ingest::detect(shown, bytes).ok_or_else(|| {
            truce_ingest::Fatal::UnknownFormat {
                file: shown.to_string(),
            }
        })?,
    };
    let adapter = truce_ingest::adapter(format, options);
    let mut records = adapter.read(shown, bytes)?;
    let progress = progress_bar(shown, bytes);
    let mut report = FileReport::default();
    // A batch that fails leaves those before it stored and checkpointed: the error says so.
    let stored_before = |report: &FileReport, batches: usize| match batches {
        0 => "its first batch".to_string(),
        n => format!(
            "after {n} batch{} of this file stored and checkpointed ({} accepted, {} duplicate, {} rejected), the next",
            if n == 1 { "" } else { "es" },
            report.accepted,
            report.duplicates,
            report.rejected
        ),
    };
    let mut batches = 0;
    // Each batch is folded on a second thread while the next is parsed and stored.
    let chunks = std::iter::from_fn(|| {
        let chunk: Vec<Record> = records.by_ref().take(BATCH_RECORDS).collect();
        (!chunk.is_empty()).then_some(chunk)
    });
    let label = format.to_string();
    let result = svc.ingest_batches(shown, &label, chunks, |done| {
        note_rejected(&done, &mut report);
        report.add(&done.outcome);
        batches += 1;
        progress.inc(done.results.len() as u64);
    });
    result.with_context(|| stored_before(&report, batches))?;
    progress.finish_and_clear();
    Ok(report)
}

fn progress_bar(shown: &str, bytes: &[u8]) -> ProgressBar {
    if bytes.len() < PROGRESS_MIN_BYTES {
        return ProgressBar::hidden();
    }
    // One record a line is the rule for CSV feeds and our GeoJSON; an estimate is enough here.
    let lines = bytes.iter().filter(|&&b| b == b'\n').count() as u64;
    let bar = ProgressBar::new(lines.max(1));
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} [{bar:30}] {human_pos}/~{human_len} records, {per_sec}, eta {eta}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.set_message(shown.to_string());
    bar
}

/// Keeps the first [`REASONS_SHOWN`] reasons a record was rejected, for the file's summary.
fn note_rejected(done: &Committed, report: &mut FileReport) {
    for r in done.results.iter().filter(|r| r.status == "rejected") {
        if report.reasons.len() < REASONS_SHOWN {
            report.reasons.push(format!(
                "{}: {}",
                r.locator,
                r.reason.as_deref().unwrap_or_default()
            ));
        }
    }
}
