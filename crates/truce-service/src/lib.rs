//! Truce's service layer: every use case written once, for every front end.
//!
//! [`Service`] holds the store, the ledger folded from its log, the log's key and an injected
//! [`Clock`]; its use cases (ingest a batch, allege, decide, respond, record a task outcome,
//! set the mission, log alerts, rebuild) each append, sign and fold in one place. Around it:
//!
//! - [`view`] — the typed views every surface shows (incident, task, stats), built from the
//!   ledger's state, with their OpenAPI schemas derived from the same structs;
//! - [`rows`] — the store's derived layers, built from those views;
//! - [`access`] — roles, the one authorization table, what each audience sees;
//! - [`alerts`] — which folded entries call for an alert, how severe, to whom, by when;
//! - [`pipeline`] — one batch of records validated and assessed into a store batch;
//! - [`reads`] — stored observations and the coverage table, shared by several surfaces;
//! - [`report`] — daily and spot reports, a pure function of the log at a checkpoint;
//! - [`snapshot`] — a read copy of the incidents, indexed by place and time, that a server
//!   answers lists from outside its writer's lock.
//!
//! The CLI (`truce`) and the HTTP/CoT service (`truce-server`) call this crate and hold no
//! use-case logic; the engine below it (`truce-fusion`, `truce-core`) holds no I/O.

pub mod access;
pub mod alerts;
pub mod clock;
pub mod pipeline;
pub mod reads;
pub mod report;
pub mod rows;
mod service;
pub mod snapshot;
pub mod view;

pub use clock::{Clock, FixedClock, SystemClock};
pub use pipeline::{Committed, IngestResult, RecordResult};
pub use service::{
    Applied, Decided, DecisionRequest, Folded, Job, OutcomeReport, Payload, Rebuilt,
    ResponseRequest, Result, Service, ServiceError, append_report, engine_at, engine_in_force,
    replay, replay_to,
};
