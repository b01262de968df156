//! Truce's service layer.
//!
//! - [`replay`] — the log replayed into a [`truce_fusion::ledger::Ledger`], and the derived
//!   tables kept level with it;
//! - [`pipeline`] — one batch of records from an adapter to the log and the ledger, the same
//!   for `truce ingest`, the HTTP API and the Cursor-on-Target listeners;
//! - [`auth`] — tokens, roles and every authorization rule;
//! - [`state`] — the running service's shared state;
//! - [`api`] — the JSON REST API; [`ogc`] — OGC API – Features; [`cot`] — CoT listeners;
//!   [`openapi`] — the OpenAPI document and Swagger UI;
//! - [`alerts`] — alerts: escalation, the SSE stream, the `alert` log entries; [`webhooks`] —
//!   per-party webhooks with HMAC signatures, retries and backoff;
//! - [`app`] — the router, limits, graceful shutdown.

pub mod alerts;
pub mod api;
pub mod app;
pub mod auth;
pub mod cot;
pub mod ogc;
pub mod openapi;
pub mod pipeline;
pub mod proof;
pub mod replay;
pub mod state;
pub mod tlog;
pub mod webhooks;
