//! Truce's HTTP and Cursor-on-Target front ends over the service layer (`truce-service`):
//! they authenticate, bound and parse what comes from the network, call one use case or view,
//! and answer; no use-case logic lives here.
//!
//! Modules, from the bottom up (a module imports only those above it in this list):
//! - [`error`] — the API's error type; [`extract`] — extractors that answer with it;
//!   [`throttle`] — log lines a client can cause, rate-limited; [`slots`] — connection places
//!   overall and per client address;
//!   [`schemas`] — OpenAPI schemas of bodies that are not service views;
//! - [`auth`] — bearer tokens and the caller (the role rules are `truce_service::access`);
//! - [`state`] — the shared state: the service behind one lock, limits, metrics;
//! - [`webhooks`] — per-party webhooks with HMAC signatures, retries and backoff;
//! - [`alerts`] — publishing alerts (logged, broadcast, webhooks);
//! - [`reactions`] — every service call, then the alerts what it folded calls for;
//! - [`proof`], [`tlog`] — log proofs and C2SP tiles;
//! - [`api`] — the JSON REST API by concern; [`ogc`] — OGC API – Features; [`cot`] — CoT
//!   listeners; [`openapi`] — the OpenAPI document and Swagger UI; [`web`] — the monitors'
//!   web app (embedded assets);
//! - [`http`] — the accept loop: connection caps, header timeout, HTTPS;
//! - [`tls`] — rustls configurations (HTTPS, CoT with client certificates, webhooks) and the
//!   certificate-to-team rule;
//! - [`nats`] — NATS JetStream: the forwarder's spool and publisher, serve's durable consumer;
//! - [`app`] — the router, the gate (authentication, limits), graceful shutdown;
//! - `fuzz` (hidden) — entry points for the fuzz targets (`crates/truce-fuzz`): reaches into
//!   `cot`, `api`, `ogc` and `extract`; nothing here imports it.

pub mod alerts;
pub mod api;
pub mod app;
pub mod auth;
pub mod cot;
pub mod cot_tasks;
pub mod error;
pub mod extract;
#[doc(hidden)]
pub mod fuzz;
pub mod http;
pub mod ingest;
pub mod ingest_queue;
pub mod nats;
pub mod ogc;
pub mod openapi;
pub mod proof;
pub mod reactions;
pub mod schemas;
pub mod slots;
pub mod state;
pub mod throttle;
pub mod tlog;
pub mod tls;
pub mod web;
pub mod webhooks;
