//! The PostgreSQL/PostGIS schema, as numbered migrations (applied like the GeoPackage's: each
//! in its own transaction, recorded in `truce_schema_version`, never edited once released).
//!
//! The tables mirror the GeoPackage's (`docs/store.md`), in PostgreSQL's types: geometries are
//! PostGIS `geometry(…, 4326)` with GiST indexes (QGIS lists them as layers), times are
//! `timestamptz`, hashes of log entries stay lower-case hex text as in the file, the content
//! key is 32 bytes of `bytea`. The log's tables refuse UPDATE and DELETE by trigger.

pub(crate) struct PgMigration {
    pub version: i64,
    pub description: &'static str,
    pub sql: &'static str,
}

pub(crate) const VERSION_TABLE_SQL: &str = "CREATE TABLE IF NOT EXISTS truce_schema_version (\
     version bigint PRIMARY KEY NOT NULL, description text NOT NULL)";

pub(crate) const PG_MIGRATIONS: &[PgMigration] = &[PgMigration {
    version: 1,
    description: "PostGIS; entries log, Merkle tree nodes, signed checkpoints; batches, observations, breaches, rejected records; agreement layers; incidents, transitions, tasks; tokens; ledger snapshots",
    sql: V1,
}];

pub(crate) fn latest_version() -> i64 {
    PG_MIGRATIONS.last().map_or(0, |m| m.version)
}

const V1: &str = r#"
CREATE EXTENSION IF NOT EXISTS postgis;

CREATE FUNCTION truce_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: a row is never changed or deleted', TG_TABLE_NAME;
END $$;

-- The log: entry seq is leaf seq of the RFC 6962 tree; dense from 0, written under the
-- store's advisory lock (one writer at a time, so the log never forks).
CREATE TABLE entries (
  seq bigint PRIMARY KEY CHECK (seq >= 0),
  kind text NOT NULL CHECK (kind IN ('observation', 'agreement', 'rejected', 'decision',
    'mission', 'response', 'alert', 'report')),
  body bytea NOT NULL,
  sha256 text NOT NULL
);
CREATE INDEX entries_reports ON entries (seq) WHERE kind = 'report';
CREATE INDEX entries_agreements ON entries (seq) WHERE kind = 'agreement';
CREATE TRIGGER entries_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON entries
  FOR EACH STATEMENT EXECUTE FUNCTION truce_append_only();

CREATE TABLE log_nodes (
  level smallint NOT NULL CHECK (level BETWEEN 0 AND 63),
  idx bigint NOT NULL CHECK (idx >= 0),
  hash bytea NOT NULL CHECK (length(hash) = 32),
  PRIMARY KEY (level, idx)
);
CREATE TRIGGER log_nodes_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON log_nodes
  FOR EACH STATEMENT EXECUTE FUNCTION truce_append_only();

-- Every checkpoint signed. One root per size: a second checkpoint at a size must carry the
-- same root (a replica that forked the log could not record its checkpoint).
CREATE TABLE log_checkpoints (
  id bigserial PRIMARY KEY,
  size bigint NOT NULL CHECK (size >= 0),
  root text NOT NULL,
  text text NOT NULL,
  created_at timestamptz NOT NULL
);
CREATE INDEX log_checkpoints_size ON log_checkpoints (size);
CREATE FUNCTION truce_checkpoint_agrees() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.size < (SELECT COALESCE(MAX(size), 0) FROM log_checkpoints) THEN
    RAISE EXCEPTION 'log_checkpoints is append-only: a checkpoint never has fewer entries than an earlier one';
  END IF;
  IF EXISTS (SELECT 1 FROM log_checkpoints WHERE size = NEW.size AND root <> NEW.root) THEN
    RAISE EXCEPTION 'a checkpoint at size % with another root is already signed: the log would fork', NEW.size;
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER log_checkpoints_agree BEFORE INSERT ON log_checkpoints
  FOR EACH ROW EXECUTE FUNCTION truce_checkpoint_agrees();
CREATE TRIGGER log_checkpoints_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON log_checkpoints
  FOR EACH STATEMENT EXECUTE FUNCTION truce_append_only();

CREATE TABLE agreements (
  id bigserial PRIMARY KEY,
  hash text NOT NULL UNIQUE,
  agreement_id text NOT NULL,
  version integer NOT NULL,
  title text NOT NULL,
  effective_at timestamptz NOT NULL,
  first_entry_seq bigint NOT NULL REFERENCES entries (seq),
  last_entry_seq bigint NOT NULL REFERENCES entries (seq),
  installed_at timestamptz NOT NULL
);

CREATE TABLE batches (
  id bigserial PRIMARY KEY,
  file text NOT NULL,
  format text NOT NULL,
  agreement_hash text NOT NULL REFERENCES agreements (hash),
  received_at timestamptz NOT NULL,
  accepted integer NOT NULL,
  duplicates integer NOT NULL,
  rejected integer NOT NULL,
  first_entry_seq bigint,
  last_entry_seq bigint
);

CREATE TABLE rejected_records (
  id bigserial PRIMARY KEY,
  batch_id bigint NOT NULL REFERENCES batches (id),
  file text NOT NULL,
  locator text NOT NULL,
  raw text NOT NULL,
  raw_sha256 text NOT NULL,
  reason text NOT NULL,
  received_at timestamptz NOT NULL,
  entry_seq bigint NOT NULL REFERENCES entries (seq),
  entry_sha256 text NOT NULL
);
CREATE INDEX rejected_records_entry_sha256 ON rejected_records (entry_sha256);

-- fid = entry_seq. geom as validated (point, track or area); assessed_geom the point assessed
-- when it is not geom itself.
CREATE TABLE observations (
  fid bigint PRIMARY KEY REFERENCES entries (seq),
  geom geometry(Geometry, 4326) NOT NULL,
  obs_id text,
  kind text NOT NULL,
  observed_at timestamptz NOT NULL,
  time_uncertainty_s double precision NOT NULL,
  source_id text NOT NULL,
  source_kind text NOT NULL,
  reliability text NOT NULL,
  credibility integer NOT NULL,
  error_radius_m double precision NOT NULL,
  bearing_deg double precision,
  weapon_class text,
  weapon_count integer,
  affiliation text,
  source_record text,
  remarks text NOT NULL,
  party_area text,
  distance_to_line_m double precision NOT NULL,
  zones text NOT NULL,
  crossings text,
  breach_count integer NOT NULL,
  max_severity text,
  assessed_geom geometry(Point, 4326),
  content_sha256 bytea NOT NULL UNIQUE CHECK (length(content_sha256) = 32),
  batch_id bigint NOT NULL REFERENCES batches (id),
  locator text NOT NULL
);
CREATE INDEX observations_geom ON observations USING gist (geom);
CREATE INDEX observations_observed_at ON observations (observed_at);

CREATE TABLE breaches (
  fid bigserial PRIMARY KEY,
  obs_fid bigint NOT NULL REFERENCES observations (fid),
  rule text NOT NULL,
  severity text NOT NULL,
  party text,
  basis text NOT NULL,
  detail text NOT NULL,
  certain boolean NOT NULL
);
CREATE INDEX breaches_obs_fid ON breaches (obs_fid);

CREATE VIEW assessments AS
SELECT o.fid, COALESCE(o.assessed_geom, o.geom)::geometry(Geometry, 4326) AS geom, o.obs_id,
  o.party_area, o.distance_to_line_m, o.zones, o.crossings, o.breach_count, o.max_severity,
  b.agreement_hash
FROM observations o JOIN batches b ON b.id = o.batch_id;

-- The terms in force, replaced whenever a different agreement is put.
CREATE TABLE contact_line (
  fid serial PRIMARY KEY,
  geom geometry(MultiLineString, 4326) NOT NULL,
  agreement_id text NOT NULL,
  geometry_file text NOT NULL,
  agreement_hash text NOT NULL REFERENCES agreements (hash)
);
CREATE TABLE party_areas (
  fid serial PRIMARY KEY,
  geom geometry(MultiPolygon, 4326) NOT NULL,
  party text NOT NULL,
  name text NOT NULL,
  area_file text NOT NULL,
  agreement_hash text NOT NULL REFERENCES agreements (hash)
);
CREATE TABLE zones (
  fid serial PRIMARY KEY,
  geom geometry(MultiPolygon, 4326),
  zone_id text NOT NULL,
  name text NOT NULL,
  kind text NOT NULL,
  prohibits text NOT NULL,
  within_km double precision,
  geometry_file text,
  agreement_hash text NOT NULL REFERENCES agreements (hash)
);
CREATE TABLE storage_sites (
  fid serial PRIMARY KEY,
  geom geometry(Point, 4326) NOT NULL,
  site_id text NOT NULL,
  name text NOT NULL,
  party text NOT NULL,
  radius_m double precision NOT NULL,
  declared text NOT NULL,
  serials text,
  agreement_hash text NOT NULL REFERENCES agreements (hash)
);
CREATE INDEX party_areas_geom ON party_areas USING gist (geom);
CREATE INDEX zones_geom ON zones USING gist (geom);

-- Derived from the log by the ledger; `truce rebuild` rewrites them.
CREATE TABLE incidents (
  fid bigint PRIMARY KEY,
  geom geometry(Point, 4326),
  incident_id text NOT NULL UNIQUE,
  event_group text NOT NULL,
  kinds text NOT NULL,
  state text NOT NULL,
  evidence text NOT NULL,
  confidence double precision NOT NULL,
  start_at timestamptz NOT NULL,
  end_at timestamptz NOT NULL,
  radius_m double precision,
  source_kinds text NOT NULL,
  observations integer NOT NULL,
  rules text NOT NULL,
  max_severity text,
  suggested_party text,
  suggestion_basis text,
  attributed_party text,
  origin_lon double precision,
  origin_lat double precision,
  ellipse_semi_major_m double precision,
  ellipse_semi_minor_m double precision,
  ellipse_azimuth_deg double precision,
  first_seq bigint NOT NULL,
  last_seq bigint NOT NULL,
  updated_seq bigint NOT NULL,
  independent_sources bigint,
  links text
);
CREATE INDEX incidents_geom ON incidents USING gist (geom);
CREATE INDEX incidents_state ON incidents (state);
CREATE INDEX incidents_start ON incidents (start_at);

CREATE TABLE incident_observations (
  id bigserial PRIMARY KEY,
  incident_fid bigint NOT NULL,
  obs_fid bigint NOT NULL REFERENCES observations (fid),
  UNIQUE (incident_fid, obs_fid)
);
CREATE INDEX incident_observations_obs ON incident_observations (obs_fid);

CREATE TABLE incident_transitions (
  id bigserial PRIMARY KEY,
  incident_fid bigint NOT NULL,
  ordinal integer NOT NULL,
  from_state text,
  to_state text NOT NULL,
  action text NOT NULL,
  at timestamptz NOT NULL,
  actor text NOT NULL,
  reason text NOT NULL,
  entry_seq bigint NOT NULL REFERENCES entries (seq),
  UNIQUE (incident_fid, ordinal)
);

CREATE TABLE tasks (
  fid bigint PRIMARY KEY,
  geom geometry(Point, 4326),
  task_id text NOT NULL UNIQUE,
  incident_id text NOT NULL,
  state text NOT NULL,
  priority bigint NOT NULL,
  team text,
  distance_m double precision,
  created_at timestamptz NOT NULL,
  created_seq bigint NOT NULL,
  assigned_at timestamptz,
  outcome text,
  outcome_at timestamptz,
  outcome_seq bigint,
  note text NOT NULL
);

CREATE TABLE derived_state (
  name text PRIMARY KEY,
  through_seq bigint
);

CREATE TABLE api_tokens (
  id bigserial PRIMARY KEY,
  name text NOT NULL,
  role text NOT NULL,
  token_sha256 text NOT NULL UNIQUE,
  created_at text NOT NULL,
  revoked_at text
);

CREATE TABLE ledger_snapshots (
  size bigint PRIMARY KEY CHECK (size > 0),
  root bytea NOT NULL CHECK (length(root) = 32),
  sha256 bytea NOT NULL CHECK (length(sha256) = 32),
  state bytea NOT NULL
);
"#;
