//! Entry points for the fuzz targets (`crates/truce-fuzz`, run by `fuzz/run.sh`): the parsers
//! of this crate that are not its public API — the CoT stream framer with what the listeners
//! read from each event, the JSON request bodies and the query strings of the HTTP API, through
//! the same extractors the handlers use. Each takes any bytes, must not panic, and checks what
//! is cheap to check. Not for anything else: hidden from the docs.

use std::net::{IpAddr, Ipv4Addr};

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::{Request, header};
use futures_util::FutureExt as _;
use serde::de::DeserializeOwned;
use truce_ingest::Options;

use crate::api::incidents::{DecisionBody, Filter, IncidentQuery, ResponseBody};
use crate::api::log::ProofQuery;
use crate::api::observations::IngestQuery;
use crate::api::reports::ReportQuery;
use crate::api::tasks::{CoverageQuery, OutcomeBody, TaskBody};
use crate::cot::{Frame, Framer, Item};
use crate::extract::{ApiJson, ApiQuery};
use crate::ogc::ItemsQuery;

/// The CoT stream `data` framed as it arrives in reads of a size and with a per-event limit
/// (small, so the over-long path is taken, or the default's 64 KiB) both drawn from its length,
/// so a seed needs no prefix; then each event as the listeners read it: the TAK control and
/// contact peeks, and the CoT adapter with a per-item record cap (`cot::parse`).
///
/// Checks: the framer never holds more than one event and one read; the reads do not change
/// the events cut (while none is over the limit).
pub fn cot_stream(stream: &[u8]) {
    let max = if stream.len().is_multiple_of(3) {
        1_000
    } else {
        64 << 10
    };
    let read = 1 + stream.len().wrapping_mul(7919) % 509;
    let whole = frame(max, stream, stream.len().max(1));
    let pieces = frame(max, stream, read);
    let oversize = |frames: &[Frame]| frames.iter().any(|f| matches!(f, Frame::Oversize { .. }));
    if !oversize(&whole) && !oversize(&pieces) {
        assert_eq!(whole, pieces, "reads of {read} bytes changed the events");
    }
    let source = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let mut items = Vec::new();
    for (index, f) in pieces.into_iter().enumerate() {
        if let Frame::Event { bytes, line } = f {
            let _ = crate::cot::control_type(&bytes);
            let _ = crate::cot::own_event(&bytes);
            let _ = crate::cot::event_type(&bytes);
            let team = crate::cot::contact_callsign(&bytes).map(Into::into);
            items.push(Item::Event {
                bytes,
                index,
                line,
                source,
                team,
            });
        }
    }
    let _ = crate::cot::parse(&Options::default(), "fuzz", items, 5);
}

/// `bytes` through a [`Framer`] of limit `max` in reads of `read` bytes.
fn frame(max: usize, bytes: &[u8], read: usize) -> Vec<Frame> {
    let mut framer = Framer::new(max);
    let mut out = Vec::new();
    for chunk in bytes.chunks(read) {
        out.extend(framer.push(chunk));
        assert!(
            framer.buffered() <= max + chunk.len(),
            "{} bytes held after a read of {} (max {max})",
            framer.buffered(),
            chunk.len()
        );
    }
    out.extend(framer.finish());
    out
}

/// `data` as the body of every JSON request the API reads with [`ApiJson`] (decisions,
/// responses, task requests, task outcomes), sent as `application/json`.
pub fn api_bodies(data: &[u8]) {
    body::<DecisionBody>(data);
    body::<ResponseBody>(data);
    body::<TaskBody>(data);
    body::<OutcomeBody>(data);
}

fn body<T: DeserializeOwned>(data: &[u8]) {
    let req = Request::builder()
        .method("POST")
        .uri("/")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(data.to_vec()))
        .expect("a request");
    // The body is in memory: the extractor never waits.
    let done = ApiJson::<T>::from_request(req, &())
        .now_or_never()
        .expect("a JSON body in memory is read at once");
    let _ = done.map(|ApiJson(v)| v);
}

/// `data` as the query string of every endpoint that reads one: the incidents list (and its
/// filters parsed), proofs, observation posts, reports, coverage, and OGC API – Features
/// (`ItemsQuery`, parsed as `items` does). Bytes a query may not carry are percent-encoded
/// first, as a client would send them, so every input reaches the parsers.
pub fn api_queries(data: &[u8]) {
    let mut uri = String::from("/x?");
    for &c in data {
        // What RFC 3986 lets a query carry as it is (`%` too: a bad escape is the parser's).
        if c.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?%".contains(&c) {
            uri.push(char::from(c));
        } else {
            uri.push_str(&format!("%{c:02X}"));
        }
    }
    let req = Request::builder().uri(&uri).body(()).expect("a request");
    let (mut parts, ()) = req.into_parts();
    if let Some(q) = extract::<IncidentQuery>(&mut parts) {
        let _ = Filter::parse(&q);
    }
    let _ = extract::<ProofQuery>(&mut parts);
    let _ = extract::<IngestQuery>(&mut parts);
    let _ = extract::<ReportQuery>(&mut parts);
    let _ = extract::<CoverageQuery>(&mut parts);
    if let Some(params) = extract::<Vec<(String, String)>>(&mut parts) {
        let _ = ItemsQuery::parse(&params);
    }
}

fn extract<T: DeserializeOwned>(parts: &mut axum::http::request::Parts) -> Option<T> {
    ApiQuery::<T>::from_request_parts(parts, &())
        .now_or_never()
        .expect("a query is read at once")
        .ok()
        .map(|ApiQuery(q)| q)
}
