//! Truce's service layer.
//!
//! - [`replay`] — the log replayed into a [`truce_fusion::ledger::Ledger`], and the derived
//!   tables kept level with it;
//! - [`pipeline`] — one batch of records from an adapter to the log and the ledger, the same
//!   for `truce ingest`, the HTTP API and the Cursor-on-Target listeners.

pub mod pipeline;
pub mod replay;
