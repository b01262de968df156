//! `truce`: the command line of the Truce ceasefire monitoring system.
//!
//! A thin shell over the library crates: it reads files, calls the pure core, and prints.
//! Exit codes are the same everywhere: 0 all good, 2 some records rejected (the rest went
//! through), 1 a fatal error (bad terms, unreadable file).

mod agreement_cmd;
mod assess_cmd;
mod demo_cmd;
mod forward_cmd;
mod incident_cmd;
mod ingest_cmd;
mod log_cmd;
mod mission_cmd;
mod report_cmd;
mod scenario;
mod score_cmd;
mod serve_cmd;
mod simulate_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "truce",
    version,
    about = "Ceasefire monitoring and verification",
    propagate_version = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check and describe agreement (ceasefire terms) files.
    #[command(subcommand)]
    Agreement(agreement_cmd::AgreementCommand),
    /// Assess observations (a GeoJSON FeatureCollection) against the terms; one JSON line each.
    Assess(assess_cmd::AssessArgs),
    /// Run the whole pipeline on the embedded Minsk II scenario: simulate, ingest, summarise.
    Demo(demo_cmd::DemoArgs),
    /// Simulate a multi-source scenario with ground truth; writes feeds and truth.json.
    Simulate(simulate_cmd::SimulateArgs),
    /// Ingest feeds (GeoJSON, CSV, FIRMS, UCDP, CoT) into the store (a GeoPackage, or PostgreSQL/PostGIS), assessing as it stores.
    Ingest(ingest_cmd::IngestArgs),
    /// At a forward base: read feeds as `ingest` does and publish each accepted observation
    /// to NATS JetStream, spooled on disk until acknowledged (docs/nats.md).
    Forward(forward_cmd::ForwardArgs),
    /// The tamper-evident log: keys, witnesses, offline verification.
    #[command(subcommand)]
    Log(log_cmd::LogCommand),
    /// Score the store's incidents, and a DBSCAN baseline, against a simulator's truth.json.
    Score(score_cmd::ScoreArgs),
    /// List incidents (fused from the log) with their state, confidence and attribution.
    Incidents(incident_cmd::IncidentsArgs),
    /// Record an analyst's decision on an incident: verify, attribute PARTY or publish.
    Decide(incident_cmd::DecideArgs),
    /// Verification tasks for ground teams: open ones by urgency, with team and distance.
    Tasks(mission_cmd::TasksArgs),
    /// Where the mission was looking: per sector of the line and day, observed or not.
    Coverage(mission_cmd::CoverageArgs),
    /// The monitoring mission's teams and fixed sensors (a mission file), put in force.
    #[command(subcommand)]
    Mission(mission_cmd::MissionCommand),
    /// Daily and spot reports (HTML with map and chart, SVG, JSON), made from the log at a
    /// signed checkpoint for an audience, and logged as a `report` entry.
    #[command(subcommand)]
    Report(report_cmd::ReportCommand),
    /// Recompute every derived table from the log's entries and compare with what was there.
    Rebuild(incident_cmd::RebuildArgs),
    /// Serve the HTTP API (roles, OGC API Features, alerts) and Cursor-on-Target listeners.
    Serve(Box<serve_cmd::ServeArgs>),
    /// Bearer tokens for the HTTP API.
    #[command(subcommand)]
    Token(serve_cmd::TokenCommand),
    /// Print a JSON Schema of the formats Truce reads.
    Schema {
        /// Which schema: `observation`.
        #[arg(value_parser = ["observation"])]
        what: String,
    },
}

/// What a command tells the shell.
pub enum Outcome {
    Ok,
    SomeRejected,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Agreement(cmd) => agreement_cmd::run(cmd),
        Command::Assess(args) => assess_cmd::run(args),
        Command::Log(cmd) => log_cmd::run(cmd),
        Command::Report(cmd) => report_cmd::run(cmd),
        Command::Ingest(args) => ingest_cmd::run(args),
        Command::Demo(args) => demo_cmd::run(args),
        Command::Forward(args) => forward_cmd::run(args),
        Command::Simulate(args) => simulate_cmd::run(args),
        Command::Score(args) => score_cmd::run(args),
        Command::Incidents(args) => incident_cmd::incidents(args),
        Command::Decide(args) => incident_cmd::decide(args),
        Command::Rebuild(args) => incident_cmd::rebuild(args),
        Command::Tasks(args) => mission_cmd::tasks(args),
        Command::Coverage(args) => mission_cmd::coverage(args),
        Command::Mission(cmd) => mission_cmd::run(cmd),
        Command::Serve(args) => serve_cmd::serve(*args),
        Command::Token(cmd) => serve_cmd::token(cmd),
        Command::Schema { .. } => {
            let schema = truce_core::observation::json_schema();
            println!(
                "{}",
                serde_json::to_string_pretty(&schema).expect("schema serialises")
            );
            Ok(Outcome::Ok)
        }
    };
    match result {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::SomeRejected) => ExitCode::from(2),
        Err(e) => {
            eprintln!("truce: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Prints the entries the ledger refused while folding (`decision entry 12: …`), as warnings.
pub(crate) fn print_warnings(svc: &mut truce_service::Service) {
    for w in svc.take_warnings() {
        eprintln!("warning: {w}");
    }
}

/// Opens a store for reading: its log folded into the ledger, derived tables level.
pub(crate) fn open_service(db: &std::path::Path) -> anyhow::Result<truce_service::Service> {
    let mut svc =
        truce_service::Service::open(db, std::sync::Arc::new(truce_service::SystemClock))?;
    print_warnings(&mut svc);
    Ok(svc)
}

/// Opens a store for writing with the log's key (`--log-key` or `<db>.log.key`).
pub(crate) fn open_service_for_writing(
    db: &std::path::Path,
    log_key: Option<&std::path::Path>,
) -> anyhow::Result<truce_service::Service> {
    let key = log_cmd::log_signer_key(db, log_key)?;
    open_service(db)?.with_key(key)
}
