//! `truce serve` and `truce token`: the HTTP API and CoT listeners, and their bearer tokens.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use std::sync::Arc;
use truce_server::auth::{Role, new_secret, token_hash};
use truce_server::state::{AppState, Limits};

use truce_service::{Clock, Service, SystemClock};

use crate::Outcome;

#[derive(Args)]
pub struct ServeArgs {
    /// The store, a GeoPackage file or `postgres://user@host/dbname` (its log must hold an agreement: `truce ingest` or `truce demo`).
    #[arg(long)]
    db: PathBuf,
    /// Terms to put in force before serving (default: those already in the store).
    #[arg(long)]
    agreement: Option<String>,
    /// HTTP address (HTTPS with --tls-cert and --tls-key).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// The server's certificate chain, PEM: serves HTTPS on --listen, and is the certificate
    /// of --cot-tls.
    #[arg(long = "tls-cert", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert, PEM.
    #[arg(long = "tls-key", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Cursor-on-Target over TLS with client certificates (as TAK Server's streaming port
    /// 8089): each client's certificate must be signed by --cot-client-ca and name a team of
    /// the mission (docs/api.md). Needs --tls-cert and --tls-key.
    #[arg(long = "cot-tls", requires_all = ["tls_cert", "cot_client_ca"])]
    cot_tls: Option<SocketAddr>,
    /// The CA (PEM) that signs the teams' client certificates for --cot-tls.
    #[arg(long = "cot-client-ca", requires = "cot_tls")]
    cot_client_ca: Option<PathBuf>,
    /// Cursor-on-Target over plain TCP (a stream of <event> documents, as TAK servers send):
    /// unauthenticated, so only on a closed network or loopback (docs/api.md).
    #[arg(long = "cot-tcp")]
    cot_tcp: Option<SocketAddr>,
    /// Send each assigned task as a CoT event to its team's devices: on --cot-tls, to the
    /// connection whose certificate names the team; on --cot-tcp, to a connection that sends
    /// the team id as callsign, which authenticates nobody: only where its clients are the
    /// mission's (docs/mission.md).
    #[arg(long = "cot-tasks")]
    cot_tasks: bool,
    /// Cursor-on-Target over plain UDP (one event per datagram): unauthenticated, so only on
    /// a closed network or loopback.
    #[arg(long = "cot-udp")]
    cot_udp: Option<SocketAddr>,
    /// The log's signing key file (default: `<db>.log.key`).
    #[arg(long = "log-key")]
    log_key: Option<PathBuf>,
    /// Requests a second per token (or per address for the public).
    #[arg(long, default_value_t = Limits::default().requests_per_second)]
    rate: u32,
    /// Requests a second from one client address whatever its tokens (checked before the
    /// token).
    #[arg(long = "rate-per-address", default_value_t = Limits::default().requests_per_address_per_second)]
    rate_per_address: u32,
    /// Seconds a client has to send a request's headers (and that a kept-alive connection may
    /// stay idle) before it is closed.
    #[arg(long = "header-timeout", default_value_t = Limits::default().header_timeout.as_secs())]
    header_timeout_s: u64,
    /// Seconds a client has to send a request's whole body once its headers are read (408).
    #[arg(long = "body-timeout", default_value_t = Limits::default().body_timeout.as_secs())]
    body_timeout_s: u64,
    /// Most open HTTP connections from one client address (more are closed on accept).
    #[arg(long = "max-connections-per-address", default_value_t = Limits::default().max_connections_per_address)]
    max_connections_per_address: usize,
    /// Seconds one CoT event may take to arrive on a TCP stream, from its first byte to its
    /// last (the connection is closed beyond).
    #[arg(long = "cot-event-timeout", default_value_t = Limits::default().cot_event_timeout.as_secs())]
    cot_event_timeout_s: u64,
    /// Most CoT TCP connections from one client address (more are closed on accept).
    #[arg(long = "cot-max-connections-per-address", default_value_t = Limits::default().cot_max_connections_per_address)]
    cot_max_connections_per_address: usize,
    /// Per-party webhooks: a TOML file of `[[webhook]]` with `party`, `url` (http:// or
    /// https://) and `secret_env` (the environment variable holding the party's HMAC key);
    /// docs/api.md.
    #[arg(long)]
    webhooks: Option<PathBuf>,
    /// The CA (PEM) that https:// webhook receivers' certificates must chain to; without it,
    /// Mozilla's roots (bundled).
    #[arg(long = "webhook-ca", requires = "webhooks")]
    webhook_ca: Option<PathBuf>,
    /// An online map style (a MapLibre style JSON, http:// or https://) for the web app to draw
    /// under the terms instead of its bundled offline basemap; its origin is added to the
    /// pages' Content-Security-Policy (docs/dashboard.md).
    #[arg(long = "map-style")]
    map_style: Option<String>,
    /// Another origin the style's tiles, sprites or glyphs come from (repeat for several).
    #[arg(long = "map-origin", requires = "map_style")]
    map_origin: Vec<String>,
    /// Every day at this UTC time (HH:MM or HH:MM:SS), make the previous day's daily report
    /// for the public (en, uk, ru), each party and staff, write it under `--reports-dir` and
    /// log it (docs/reports.md).
    #[arg(long = "daily-report-at")]
    daily_report_at: Option<chrono::NaiveTime>,
    /// Where the nightly reports go (default: `reports/` beside the store).
    #[arg(long = "reports-dir")]
    reports_dir: Option<PathBuf>,
    /// Consume observations from NATS JetStream (`nats://host:4222`, several comma-separated):
    /// forward bases' `truce forward` publishes them; each batch is acknowledged only once
    /// stored and checkpointed (docs/nats.md). Needs --stream.
    #[arg(long, requires = "stream")]
    nats: Option<String>,
    /// The JetStream stream to consume (created if missing, with --nats-subject).
    #[arg(long, requires = "nats")]
    stream: Option<String>,
    /// The subjects the stream holds when serve creates it (repeat the option for several).
    #[arg(long = "nats-subject", default_value = "truce.observations.>")]
    nats_subject: Vec<String>,
    /// The durable consumer's name (replicas sharing it share the work).
    #[arg(long = "nats-consumer", default_value = "truce-serve")]
    nats_consumer: String,
    /// Most messages in one stored batch (one transaction and one checkpoint).
    #[arg(long = "nats-batch", default_value_t = 1000)]
    nats_batch: usize,
}

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Make a bearer token; prints it once (only its SHA-256 is kept).
    Create {
        #[arg(long)]
        db: PathBuf,
        /// admin | analyst | team:ID | party:ID | public
        #[arg(long)]
        role: String,
        /// Who holds it (shown as the actor of their decisions and posts).
        #[arg(long)]
        name: String,
    },
    /// Revoke a token by id (takes effect within two seconds on a running server).
    Revoke {
        #[arg(long)]
        db: PathBuf,
        id: i64,
    },
    /// List tokens (ids, names, roles; never secrets).
    List {
        #[arg(long)]
        db: PathBuf,
    },
}

pub fn serve(args: ServeArgs) -> Result<Outcome> {
    let key = crate::log_cmd::log_signer_key(&args.db, args.log_key.as_deref())?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    if let Some(file) = &args.agreement {
        let terms = crate::agreement_cmd::load(file)?;
        Service::open_with_terms(&args.db, &terms, key.clone(), clock.clone())?;
    }
    let limits = Limits {
        requests_per_second: args.rate,
        requests_per_address_per_second: args.rate_per_address,
        header_timeout: Duration::from_secs(args.header_timeout_s.max(1)),
        body_timeout: Duration::from_secs(args.body_timeout_s.max(1)),
        max_connections_per_address: args.max_connections_per_address.max(1),
        cot_event_timeout: Duration::from_secs(args.cot_event_timeout_s.max(1)),
        cot_max_connections_per_address: args.cot_max_connections_per_address.max(1),
        ..Limits::default()
    };
    tracing_init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let state = AppState::open(args.db.clone(), key, limits.clone(), clock)?;
    if let Some(url) = &args.map_style {
        let style = truce_server::state::MapStyle::new(url, &args.map_origin)
            .map_err(|e| anyhow::anyhow!("--map-style: {e}"))?;
        state
            .map_style
            .set(style)
            .map_err(|_| anyhow::anyhow!("the map style was already set"))?;
    }
    if args.cot_tasks && args.cot_tcp.is_none() && args.cot_tls.is_none() {
        anyhow::bail!("--cot-tasks sends tasks over a CoT listener: give --cot-tls or --cot-tcp");
    }
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(truce_server::tls::server_config(cert, key, None)?),
        _ => None,
    };
    let cot_tls = match (
        args.cot_tls,
        &args.tls_cert,
        &args.tls_key,
        &args.cot_client_ca,
    ) {
        (Some(addr), Some(cert), Some(key), Some(ca)) => {
            Some((addr, truce_server::tls::server_config(cert, key, Some(ca))?))
        }
        _ => None,
    };
    let webhooks = match &args.webhooks {
        None => Vec::new(),
        Some(file) => {
            let client_tls = truce_server::tls::client_config(args.webhook_ca.as_deref())?;
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            truce_server::webhooks::load(
                &file.display().to_string(),
                &text,
                state.engine.agreement(),
                &|name| std::env::var(name).ok(),
                &client_tls,
            )
            .map_err(|errors| anyhow::anyhow!("{}", errors.join("\n")))?
        }
    };
    let limits_batch = limits.max_batch_records;
    let config = truce_server::app::Config {
        nats: None,
        listen: args.listen,
        cot_tcp: args.cot_tcp,
        cot_tasks: args.cot_tasks,
        cot_udp: args.cot_udp,
        cot_tls,
        tls,
        limits,
        webhooks,
        nightly: args
            .daily_report_at
            .map(|at| truce_server::api::reports::Nightly {
                at,
                dir: args.reports_dir.clone().unwrap_or_else(|| {
                    args.db
                        .parent()
                        .unwrap_or(std::path::Path::new("."))
                        .join("reports")
                }),
            }),
    };
    let config = truce_server::app::Config {
        nats: match (args.nats, args.stream) {
            (Some(url), Some(stream)) => Some(truce_server::nats::Inbound {
                url,
                stream,
                subjects: args.nats_subject,
                consumer: args.nats_consumer,
                batch: args.nats_batch.clamp(1, limits_batch),
            }),
            _ => None,
        },
        ..config
    };
    runtime.block_on(truce_server::app::serve(state, config))?;
    println!("truce serve: stopped; every accepted batch is committed and checkpointed");
    Ok(Outcome::Ok)
}

pub(crate) fn tracing_init() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("TRUCE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

pub fn token(cmd: TokenCommand) -> Result<Outcome> {
    match cmd {
        TokenCommand::Create { db, role, name } => {
            let role = Role::parse(&role).map_err(anyhow::Error::msg)?;
            let mut store = truce_store::open(&db)?;
            let secret = new_secret().map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
            let id =
                store.create_token(&name, &role.name(), &token_hash(&secret), SystemClock.now())?;
            eprintln!(
                "token {id} for {name} ({}): shown once, keep it secret; revoke with `truce token revoke --db {} {id}`",
                role.name(),
                db.display()
            );
            println!("{secret}");
        }
        TokenCommand::Revoke { db, id } => {
            let mut store = truce_store::open(&db)?;
            if !store.revoke_token(id, SystemClock.now())? {
                anyhow::bail!("{}: no live token {id}", db.display());
            }
            println!("token {id} revoked");
        }
        TokenCommand::List { db } => {
            let store = truce_store::open(&db)?;
            for t in store.tokens()? {
                println!(
                    "{:>4}  {:<20} {:<16} created {}{}",
                    t.id,
                    t.name,
                    t.role,
                    t.created_at,
                    t.revoked_at
                        .map(|r| format!(", revoked {r}"))
                        .unwrap_or_default()
                );
            }
        }
    }
    Ok(Outcome::Ok)
}
