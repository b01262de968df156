//! Integration tests of truce-log, in one binary so shared helpers compile once.

mod common;
mod proofs;
mod rfc6962_vectors;
mod signed_note;
mod tiles;
mod witness;
