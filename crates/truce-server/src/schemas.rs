//! Schemas of bodies that are not views of the service (those derive their own, in
//! `truce_service::view`): the error body, the enumerations query and body strings take, and
//! the GeoJSON a batch is posted as. Documentation for the OpenAPI document only: never
//! constructed. Below the handlers, which name them in their annotations.
#![allow(dead_code)]

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// An error: `{"error": reason}`.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: String,
}

/// The format of a posted batch of observations.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum IngestFormat {
    Geojson,
    Cot,
    Csv,
    Firms,
    Ucdp,
}

/// An incident's lifecycle state.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LifecycleState {
    SingleSource,
    Corroborated,
    VerificationTasked,
    Verified,
    NotConfirmed,
    Inconclusive,
    Published,
}

/// What an analyst decides.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DecisionAction {
    Verify,
    Attribute,
    Publish,
    Task,
}

/// What a ground team found.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeKind {
    Confirmed,
    NotConfirmed,
    Inconclusive,
    AccessDenied,
}

/// A party's response.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResponseKind {
    Acknowledge,
    Dispute,
}

/// A GeoJSON FeatureCollection of observations; each feature as
/// `schema/observation.schema.json` (kind, observed_at, source, … in `properties`). A
/// feature that is not a valid observation is rejected with its reason, not the request.
#[derive(Serialize, ToSchema)]
pub struct FeatureCollection {
    #[serde(rename = "type")]
    #[schema(value_type = String, pattern = "^FeatureCollection$")]
    pub kind: String,
    pub features: Vec<Feature>,
}

/// A GeoJSON Feature: an observation.
#[derive(Serialize, ToSchema)]
pub struct Feature {
    #[serde(rename = "type")]
    #[schema(value_type = String, pattern = "^Feature$")]
    pub kind: String,
    /// The observation's id at its source (stable: re-posting it is a duplicate).
    pub id: Option<String>,
    /// Point, LineString or Polygon, `[lon, lat]` (WGS84).
    #[schema(value_type = Object)]
    pub geometry: Value,
    /// `kind`, `observed_at`, `source` {id, kind, reliability, credibility}, and the rest
    /// of `schema/observation.schema.json`.
    #[schema(value_type = Object)]
    pub properties: Value,
}
