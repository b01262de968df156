//! `truce report daily|spot`: a report made from the log at a signed checkpoint, written as
//! files into a directory and (unless `--no-log`) its SHA-256s appended to the log as a
//! `report` entry. Made again with `--at SIZE --no-log` from any copy of the store, every file
//! is byte-identical.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use chrono::NaiveDate;
use clap::{Args, Subcommand};
use truce_log::VerifierKey;
use truce_service::report::{self, Lang, Subject};

use crate::Outcome;

#[derive(Subcommand)]
pub enum ReportCommand {
    /// The daily report: the day's incidents, 30 days of history, coverage caveats.
    Daily {
        /// The UTC day the report is about.
        #[arg(long)]
        day: NaiveDate,
        #[command(flatten)]
        common: Common,
    },
    /// A spot report on one incident: map, evidence, history, responses.
    Spot {
        /// The incident's id.
        #[arg(long)]
        incident: String,
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Args)]
pub struct Common {
    /// The store: a GeoPackage file, or a PostgreSQL database as `postgres://user@host/dbname`.
    #[arg(long)]
    db: PathBuf,
    /// Who may read it: `public`, `party:ID` or `staff` (the API's role rules).
    #[arg(long, default_value = "public")]
    audience: String,
    /// The language: `en`, `uk` or `ru`.
    #[arg(long, default_value = "en")]
    lang: String,
    /// The directory the files are written into (made if missing).
    #[arg(long)]
    out: PathBuf,
    /// Make it from the log at this size (a signed checkpoint must exist at it); default the
    /// latest checkpoint.
    #[arg(long)]
    at: Option<u64>,
    /// Do not append the report's `report` entry to the log (to make an issued report again).
    #[arg(long)]
    no_log: bool,
    /// The log's signing key file (default: `<db>.log.key` beside the store).
    #[arg(long)]
    log_key: Option<PathBuf>,
    /// The log's verifier key (`name+keyid+key`), for checking the checkpoint without the
    /// signing key (with `--no-log`).
    #[arg(long)]
    key: Option<String>,
}

pub fn run(cmd: ReportCommand) -> Result<Outcome> {
    let (subject, common) = match cmd {
        ReportCommand::Daily { day, common } => (Subject::Daily(day), common),
        ReportCommand::Spot { incident, common } => (Subject::Spot(incident), common),
    };
    let audience = report::parse_audience(&common.audience).map_err(|e| anyhow!(e))?;
    let lang = Lang::parse(&common.lang).map_err(|e| anyhow!(e))?;
    let verifier: VerifierKey = match (&common.key, common.no_log) {
        (Some(text), _) => crate::log_cmd::parse_verifier_key(text)?,
        (None, false) => {
            crate::log_cmd::log_signer_key(&common.db, common.log_key.as_deref())?.verifier_key()
        }
        (None, true) => {
            let path = common
                .log_key
                .clone()
                .unwrap_or_else(|| crate::log_cmd::default_key_path(&common.db));
            if !path.exists() {
                bail!(
                    "no signing key at {} to take the verifier key from: pass the log's verifier key with --key 'name+keyid+key'",
                    path.display()
                );
            }
            crate::log_cmd::read_log_key(&path)?.verifier_key()
        }
    };
    let store = truce_store::open(&common.db)?;
    let (basis, files) = report::make_at(&*store, common.at, &verifier, &subject, &audience, lang)?;
    drop(store);
    write_files(&common.out, &files)?;
    let issued = report::issued(&basis, &files, &subject, &audience, lang);
    for (name, h) in &issued.files {
        println!("{h}  {}", common.out.join(name).display());
    }
    println!("made from log size {}, root {}", basis.log_size, basis.root);
    if !common.no_log {
        let key = crate::log_cmd::log_signer_key(&common.db, common.log_key.as_deref())?;
        let mut store = truce_store::open(&common.db)?;
        let now = truce_service::Clock::unix_s(&truce_service::SystemClock);
        let seq = truce_service::append_report(&mut *store, &key, &issued, now)?;
        println!(
            "logged as entry {seq}; prove it with: truce log prove --db {} --seq {seq}",
            common.db.display()
        );
    }
    Ok(Outcome::Ok)
}

fn write_files(dir: &Path, files: &report::Files) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot make {}", dir.display()))?;
    for (name, bytes) in files {
        let path = dir.join(name);
        std::fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}
