//! The file's schema, as numbered migrations.
//!
//! GeoPackage owns `PRAGMA user_version` (it holds the GeoPackage version, 10300), so Truce
//! records its own schema version in the table `truce_schema_version`, one row per migration
//! applied. [`crate::GeoPackageStore::open`] applies every migration newer than the file's, in
//! order, in one transaction; opening an up-to-date file applies nothing. A migration is never
//! edited once released: a change is a new migration appended to [`MIGRATIONS`].
//!
//! Migration 1 creates a GeoPackage 1.3 (the core tables, the three required spatial reference
//! systems, the R-tree extension) and Truce's layers and tables; `docs/store.md` describes each
//! column. Migration 2 lays the log's Merkle tree and signed checkpoints beside `entries`:
//! `log_nodes` (every complete-subtree hash, see [`crate::log`]) and `log_checkpoints`.

/// `PRAGMA application_id` of a GeoPackage: the ASCII bytes "GPKG".
pub const GPKG_APPLICATION_ID: i32 = 0x4750_4B47;

/// `PRAGMA user_version` of a GeoPackage 1.3 file. 1.4 (10400) exists, but GDAL 3.6 — still in
/// Debian 12 — warns on opening it, and Truce needs nothing 1.4 added.
pub const GPKG_USER_VERSION: i32 = 10300;

/// The table that records which migrations a file has had.
pub const VERSION_TABLE_SQL: &str = "CREATE TABLE IF NOT EXISTS truce_schema_version (\
     version INTEGER PRIMARY KEY NOT NULL, description TEXT NOT NULL)";

/// One step of the schema.
pub struct Migration {
    pub version: i64,
    pub description: &'static str,
    pub sql: &'static str,
}

/// Every migration, oldest first; versions are 1, 2, 3, … with no gaps.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "GeoPackage 1.3 core, entries log, observations, assessments, breaches, agreement layers",
        sql: V1,
    },
    Migration {
        version: 2,
        description: "the log's Merkle tree (log_nodes) and signed checkpoints (log_checkpoints)",
        sql: V2,
    },
    Migration {
        version: 3,
        description: "decision, mission, response and alert entries; incidents, their observations and transitions, verification tasks",
        sql: V3,
    },
    Migration {
        version: 4,
        description: "API tokens (hashed) with their roles",
        sql: V4,
    },
    Migration {
        version: 5,
        description: "incidents: independent sources and strike-firing links, as the API shows them",
        sql: V5,
    },
    Migration {
        version: 6,
        description: "report entries; the entry kinds checked by a trigger, which a later kind replaces without copying the log",
        sql: V6,
    },
    Migration {
        version: 7,
        description: "observations without the copy of the entry body, content hash as 32 bytes, assessments a view over observations",
        sql: V7,
    },
    Migration {
        version: 8,
        description: "ledger snapshots: the folded ledger keyed by log size and root, so a restart folds only what came after; agreement entries indexed",
        sql: V8,
    },
];

/// The newest schema this build writes.
pub fn latest_version() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

const V1: &str = r#"
PRAGMA application_id = 1196444487;
PRAGMA user_version = 10300;

-- GeoPackage core (OGC 12-128r18, 1.3), as the specification defines the tables.
CREATE TABLE gpkg_spatial_ref_sys (
  srs_name TEXT NOT NULL,
  srs_id INTEGER NOT NULL PRIMARY KEY,
  organization TEXT NOT NULL,
  organization_coordsys_id INTEGER NOT NULL,
  definition TEXT NOT NULL,
  description TEXT
);
INSERT INTO gpkg_spatial_ref_sys VALUES
  ('Undefined Cartesian SRS', -1, 'NONE', -1, 'undefined', 'undefined Cartesian coordinate reference system'),
  ('Undefined geographic SRS', 0, 'NONE', 0, 'undefined', 'undefined geographic coordinate reference system'),
  ('WGS 84 geodetic', 4326, 'EPSG', 4326,
   'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AXIS["Latitude",NORTH],AXIS["Longitude",EAST],AUTHORITY["EPSG","4326"]]',
   'longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid');

-- last_change defaults to SQLite's clock, as the specification's DDL says: this is the one place
-- the store reads a clock (stamping the layers registered when the file is created). Every
-- later change is stamped with the time the caller passes in.
CREATE TABLE gpkg_contents (
  table_name TEXT NOT NULL PRIMARY KEY,
  data_type TEXT NOT NULL,
  identifier TEXT UNIQUE,
  description TEXT DEFAULT '',
  last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  min_x DOUBLE,
  min_y DOUBLE,
  max_x DOUBLE,
  max_y DOUBLE,
  srs_id INTEGER,
  CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id)
);

CREATE TABLE gpkg_geometry_columns (
  table_name TEXT NOT NULL,
  column_name TEXT NOT NULL,
  geometry_type_name TEXT NOT NULL,
  srs_id INTEGER NOT NULL,
  z TINYINT NOT NULL,
  m TINYINT NOT NULL,
  CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
  CONSTRAINT uk_gc_table_name UNIQUE (table_name),
  CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
  CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id)
);

CREATE TABLE gpkg_extensions (
  table_name TEXT,
  column_name TEXT,
  extension_name TEXT NOT NULL,
  definition TEXT NOT NULL,
  scope TEXT NOT NULL,
  CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name)
);

-- The log: every accepted input, in order. Append-only; seq is dense from 0 and is the
-- RFC 6962 leaf index of the entry in the Merkle tree a later migration adds.
CREATE TABLE entries (
  seq INTEGER PRIMARY KEY NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('observation', 'agreement', 'rejected')),
  body BLOB NOT NULL,
  sha256 TEXT NOT NULL
);
CREATE TRIGGER entries_seq_is_dense BEFORE INSERT ON entries
WHEN NEW.seq IS NOT (SELECT COALESCE(MAX(seq) + 1, 0) FROM entries)
BEGIN SELECT RAISE(ABORT, 'entries is append-only: seq must be the next number, counting from 0'); END;
CREATE TRIGGER entries_no_update BEFORE UPDATE ON entries
BEGIN SELECT RAISE(ABORT, 'entries is append-only: an entry is never changed'); END;
CREATE TRIGGER entries_no_delete BEFORE DELETE ON entries
BEGIN SELECT RAISE(ABORT, 'entries is append-only: an entry is never deleted'); END;

CREATE TABLE agreements (
  id INTEGER PRIMARY KEY NOT NULL,
  hash TEXT NOT NULL UNIQUE,
  agreement_id TEXT NOT NULL,
  version INTEGER NOT NULL,
  title TEXT NOT NULL,
  effective_at DATETIME NOT NULL,
  first_entry_seq INTEGER NOT NULL REFERENCES entries(seq),
  last_entry_seq INTEGER NOT NULL REFERENCES entries(seq),
  installed_at DATETIME NOT NULL
);

CREATE TABLE batches (
  id INTEGER PRIMARY KEY NOT NULL,
  file TEXT NOT NULL,
  format TEXT NOT NULL,
  agreement_hash TEXT NOT NULL REFERENCES agreements(hash),
  received_at DATETIME NOT NULL,
  accepted INTEGER NOT NULL,
  duplicates INTEGER NOT NULL,
  rejected INTEGER NOT NULL,
  first_entry_seq INTEGER,
  last_entry_seq INTEGER
);

CREATE TABLE sources (
  id INTEGER PRIMARY KEY NOT NULL,
  source_id TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL,
  reliability TEXT NOT NULL,
  party TEXT,
  observations INTEGER NOT NULL,
  first_entry_seq INTEGER NOT NULL REFERENCES entries(seq),
  last_entry_seq INTEGER NOT NULL REFERENCES entries(seq)
);

CREATE TABLE rejected_records (
  id INTEGER PRIMARY KEY NOT NULL,
  batch_id INTEGER NOT NULL REFERENCES batches(id),
  file TEXT NOT NULL,
  locator TEXT NOT NULL,
  raw TEXT NOT NULL,
  raw_sha256 TEXT NOT NULL,
  reason TEXT NOT NULL,
  received_at DATETIME NOT NULL,
  entry_seq INTEGER NOT NULL REFERENCES entries(seq),
  entry_sha256 TEXT NOT NULL
);
CREATE INDEX rejected_records_entry_sha256 ON rejected_records(entry_sha256);

-- fid is the observation's entry seq, so feature N of this layer is entry N of the log.
CREATE TABLE observations (
  fid INTEGER PRIMARY KEY NOT NULL,
  geom GEOMETRY NOT NULL,
  entry_seq INTEGER NOT NULL CHECK (entry_seq = fid),
  obs_id TEXT,
  kind TEXT NOT NULL,
  observed_at DATETIME NOT NULL,
  time_uncertainty_s DOUBLE NOT NULL,
  source_id TEXT NOT NULL,
  source_kind TEXT NOT NULL,
  reliability TEXT NOT NULL,
  credibility INTEGER NOT NULL,
  error_radius_m DOUBLE NOT NULL,
  bearing_deg DOUBLE,
  weapon_class TEXT,
  weapon_count INTEGER,
  affiliation TEXT,
  source_record TEXT,
  remarks TEXT NOT NULL,
  party_area TEXT,
  distance_to_line_m DOUBLE NOT NULL,
  zones TEXT NOT NULL,
  breach_count INTEGER NOT NULL,
  max_severity TEXT,
  content_sha256 TEXT NOT NULL UNIQUE,
  batch_id INTEGER NOT NULL REFERENCES batches(id),
  locator TEXT NOT NULL,
  body TEXT NOT NULL
);

-- GeoPackage R-tree spatial index (gpkg_rtree_index, Annex F.3), with the 1.2/1.3 triggers as
-- GDAL writes them. The triggers call ST_IsEmpty and ST_MinX … ST_MaxY, which every client
-- that writes the table registers (GDAL does). The store's own connection runs with triggers
-- off and indexes each batch's observations in one statement (see geopackage.rs).
CREATE VIRTUAL TABLE rtree_observations_geom USING rtree(id, minx, maxx, miny, maxy);
CREATE TRIGGER rtree_observations_geom_insert AFTER INSERT ON observations
WHEN (new.geom NOT NULL AND NOT ST_IsEmpty(NEW.geom))
BEGIN
  INSERT OR REPLACE INTO rtree_observations_geom VALUES (
    NEW.fid, ST_MinX(NEW.geom), ST_MaxX(NEW.geom), ST_MinY(NEW.geom), ST_MaxY(NEW.geom));
END;
CREATE TRIGGER rtree_observations_geom_update1 AFTER UPDATE OF geom ON observations
WHEN OLD.fid = NEW.fid AND (NEW.geom NOTNULL AND NOT ST_IsEmpty(NEW.geom))
BEGIN
  INSERT OR REPLACE INTO rtree_observations_geom VALUES (
    NEW.fid, ST_MinX(NEW.geom), ST_MaxX(NEW.geom), ST_MinY(NEW.geom), ST_MaxY(NEW.geom));
END;
CREATE TRIGGER rtree_observations_geom_update2 AFTER UPDATE OF geom ON observations
WHEN OLD.fid = NEW.fid AND (NEW.geom ISNULL OR ST_IsEmpty(NEW.geom))
BEGIN
  DELETE FROM rtree_observations_geom WHERE id = OLD.fid;
END;
CREATE TRIGGER rtree_observations_geom_update3 AFTER UPDATE ON observations
WHEN OLD.fid != NEW.fid AND (NEW.geom NOTNULL AND NOT ST_IsEmpty(NEW.geom))
BEGIN
  DELETE FROM rtree_observations_geom WHERE id = OLD.fid;
  INSERT OR REPLACE INTO rtree_observations_geom VALUES (
    NEW.fid, ST_MinX(NEW.geom), ST_MaxX(NEW.geom), ST_MinY(NEW.geom), ST_MaxY(NEW.geom));
END;
CREATE TRIGGER rtree_observations_geom_update4 AFTER UPDATE ON observations
WHEN OLD.fid != NEW.fid AND (NEW.geom ISNULL OR ST_IsEmpty(NEW.geom))
BEGIN
  DELETE FROM rtree_observations_geom WHERE id IN (OLD.fid, NEW.fid);
END;
CREATE TRIGGER rtree_observations_geom_delete AFTER DELETE ON observations
WHEN old.geom NOT NULL
BEGIN
  DELETE FROM rtree_observations_geom WHERE id = OLD.fid;
END;

-- One row per observation: fid is the observation's fid.
CREATE TABLE assessments (
  fid INTEGER PRIMARY KEY NOT NULL,
  geom POINT NOT NULL,
  obs_id TEXT,
  party_area TEXT,
  distance_to_line_m DOUBLE NOT NULL,
  zones TEXT NOT NULL,
  crossings TEXT,
  breach_count INTEGER NOT NULL,
  max_severity TEXT,
  agreement_hash TEXT NOT NULL REFERENCES agreements(hash)
);

CREATE TABLE breaches (
  fid INTEGER PRIMARY KEY NOT NULL,
  obs_fid INTEGER NOT NULL REFERENCES observations(fid),
  rule TEXT NOT NULL,
  severity TEXT NOT NULL,
  party TEXT,
  basis TEXT NOT NULL,
  detail TEXT NOT NULL,
  certain BOOLEAN NOT NULL
);
CREATE INDEX breaches_obs_fid ON breaches(obs_fid);

-- The terms in force, replaced whenever a different agreement is put.
CREATE TABLE contact_line (
  fid INTEGER PRIMARY KEY NOT NULL,
  geom MULTILINESTRING NOT NULL,
  agreement_id TEXT NOT NULL,
  geometry_file TEXT NOT NULL,
  agreement_hash TEXT NOT NULL REFERENCES agreements(hash)
);
CREATE TABLE party_areas (
  fid INTEGER PRIMARY KEY NOT NULL,
  geom MULTIPOLYGON NOT NULL,
  party TEXT NOT NULL,
  name TEXT NOT NULL,
  area_file TEXT NOT NULL,
  agreement_hash TEXT NOT NULL REFERENCES agreements(hash)
);
-- A zone defined as a band `within_km` of the contact line has no polygon of its own: its row
-- has a NULL geom and within_km set.
CREATE TABLE zones (
  fid INTEGER PRIMARY KEY NOT NULL,
  geom MULTIPOLYGON,
  zone_id TEXT NOT NULL,
  name TEXT NOT NULL,
  kind TEXT NOT NULL,
  prohibits TEXT NOT NULL,
  within_km DOUBLE,
  geometry_file TEXT,
  agreement_hash TEXT NOT NULL REFERENCES agreements(hash)
);
CREATE TABLE storage_sites (
  fid INTEGER PRIMARY KEY NOT NULL,
  geom POINT NOT NULL,
  site_id TEXT NOT NULL,
  name TEXT NOT NULL,
  party TEXT NOT NULL,
  radius_m DOUBLE NOT NULL,
  declared TEXT NOT NULL,
  serials TEXT,
  agreement_hash TEXT NOT NULL REFERENCES agreements(hash)
);

INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id) VALUES
  ('observations', 'features', 'observations',
   'Every accepted observation with its assessment; fid = the entry seq in the log', 4326),
  ('assessments', 'features', 'assessments',
   'Where each observation was assessed (point, track start, area centroid), whose area, distance to the contact line, zones', 4326),
  ('breaches', 'attributes', 'breaches',
   'Rules each observation may breach, the party presumed responsible and why; obs_fid = observations.fid', NULL),
  ('contact_line', 'features', 'contact line', 'The contact line of the agreement in force', 4326),
  ('party_areas', 'features', 'party areas', 'Each party''s area under the agreement in force', 4326),
  ('zones', 'features', 'zones',
   'Zones of the agreement in force; a zone defined as a distance from the contact line has no polygon (within_km)', 4326),
  ('storage_sites', 'features', 'storage sites', 'Declared heavy-weapon storage sites of the agreement in force', 4326),
  ('batches', 'attributes', 'batches', 'One row per ingested file: when, against which terms, how many accepted, duplicate, rejected', NULL),
  ('rejected_records', 'attributes', 'rejected records', 'Every record that could not be read, with its raw text and the reason', NULL),
  ('sources', 'attributes', 'sources', 'Every source that reported, with its kind and Admiralty reliability', NULL),
  ('agreements', 'attributes', 'agreements', 'Every agreement (terms) put into the store, by canonical hash', NULL),
  ('entries', 'attributes', 'log entries', 'The append-only log: every accepted input as canonical JSON, seq dense from 0', NULL);

INSERT INTO gpkg_geometry_columns VALUES
  ('observations', 'geom', 'GEOMETRY', 4326, 0, 0),
  ('assessments', 'geom', 'POINT', 4326, 0, 0),
  ('contact_line', 'geom', 'MULTILINESTRING', 4326, 0, 0),
  ('party_areas', 'geom', 'MULTIPOLYGON', 4326, 0, 0),
  ('zones', 'geom', 'MULTIPOLYGON', 4326, 0, 0),
  ('storage_sites', 'geom', 'POINT', 4326, 0, 0);

INSERT INTO gpkg_extensions VALUES
  ('observations', 'geom', 'gpkg_rtree_index', 'http://www.geopackage.org/spec120/#extension_rtree', 'write-only');
"#;

/// The Merkle tree over `entries` and its checkpoints. Neither table is registered in
/// `gpkg_contents`: like the R-tree's tables they are structure over the data, not layers, and
/// `truce log …` reads them. An older file gets its tree built when it is next opened
/// (`GeoPackageStore::open` catches up every entry the tree does not cover yet).
const V2: &str = r#"
-- Node (level, idx) is the RFC 6962 hash of the perfect subtree over entries
-- [idx * 2^level, (idx + 1) * 2^level); level 0 holds the leaf hashes SHA-256(0x00 || body).
-- A node is written once, in the transaction that appends the entry completing it.
CREATE TABLE log_nodes (
  level INTEGER NOT NULL CHECK (level BETWEEN 0 AND 63),
  idx INTEGER NOT NULL CHECK (idx >= 0),
  hash BLOB NOT NULL CHECK (length(hash) = 32),
  PRIMARY KEY (level, idx)
) WITHOUT ROWID;
CREATE TRIGGER log_nodes_dense BEFORE INSERT ON log_nodes
WHEN NEW.idx IS NOT (SELECT COALESCE(MAX(idx) + 1, 0) FROM log_nodes WHERE level = NEW.level)
BEGIN SELECT RAISE(ABORT, 'log_nodes is append-only: idx must be the next number at its level'); END;
CREATE TRIGGER log_nodes_no_update BEFORE UPDATE ON log_nodes
BEGIN SELECT RAISE(ABORT, 'log_nodes is append-only: a node is never changed'); END;
CREATE TRIGGER log_nodes_no_delete BEFORE DELETE ON log_nodes
BEGIN SELECT RAISE(ABORT, 'log_nodes is append-only: a node is never deleted'); END;

-- Every checkpoint the log signed: C2SP tlog-checkpoint text with its signature lines, and its
-- size and root (base64, as in the text) for queries. A tree never shrinks.
CREATE TABLE log_checkpoints (
  id INTEGER PRIMARY KEY NOT NULL,
  size INTEGER NOT NULL CHECK (size >= 0),
  root TEXT NOT NULL,
  text TEXT NOT NULL,
  created_at DATETIME NOT NULL
);
CREATE TRIGGER log_checkpoints_never_shrink BEFORE INSERT ON log_checkpoints
WHEN NEW.size < (SELECT MAX(size) FROM log_checkpoints)
BEGIN SELECT RAISE(ABORT, 'log_checkpoints is append-only: a checkpoint never has fewer entries than an earlier one'); END;
CREATE TRIGGER log_checkpoints_no_update BEFORE UPDATE ON log_checkpoints
BEGIN SELECT RAISE(ABORT, 'log_checkpoints is append-only: a checkpoint is never changed'); END;
CREATE TRIGGER log_checkpoints_no_delete BEFORE DELETE ON log_checkpoints
BEGIN SELECT RAISE(ABORT, 'log_checkpoints is append-only: a checkpoint is never deleted'); END;
"#;

/// Decisions and the mission file become log entries (the `entries.kind` CHECK is widened, which
/// SQLite can only do by rebuilding the table: the rows are copied as they are, seq for seq),
/// and the tables derived from the log by the ledger (`truce_fusion::ledger`, through the service) are laid:
/// `incidents` (a point layer at the fused location), `incident_observations`,
/// `incident_transitions` and `tasks` (a point layer). Every derived row is a function of the
/// entries alone; `truce rebuild` rewrites them all and must find them equal.
const V3: &str = r#"
DROP TRIGGER IF EXISTS entries_seq_is_dense;
DROP TRIGGER IF EXISTS entries_no_update;
DROP TRIGGER IF EXISTS entries_no_delete;
CREATE TABLE entries_v3 (
  seq INTEGER PRIMARY KEY NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('observation', 'agreement', 'rejected', 'decision', 'mission', 'response', 'alert')),
  body BLOB NOT NULL,
  sha256 TEXT NOT NULL
);
INSERT INTO entries_v3 (seq, kind, body, sha256) SELECT seq, kind, body, sha256 FROM entries ORDER BY seq;
DROP TABLE entries;
ALTER TABLE entries_v3 RENAME TO entries;
CREATE TRIGGER entries_seq_is_dense BEFORE INSERT ON entries
WHEN NEW.seq IS NOT (SELECT COALESCE(MAX(seq) + 1, 0) FROM entries)
BEGIN SELECT RAISE(ABORT, 'entries is append-only: seq must be the next number, counting from 0'); END;
CREATE TRIGGER entries_no_update BEFORE UPDATE ON entries
BEGIN SELECT RAISE(ABORT, 'entries is append-only: an entry is never changed'); END;
CREATE TRIGGER entries_no_delete BEFORE DELETE ON entries
BEGIN SELECT RAISE(ABORT, 'entries is append-only: an entry is never deleted'); END;

-- fid is the seq of the observation that started the incident (its id is inc-<fid>).
CREATE TABLE incidents (
  fid INTEGER PRIMARY KEY NOT NULL,
  geom POINT,
  incident_id TEXT NOT NULL UNIQUE,
  event_group TEXT NOT NULL,
  kinds TEXT NOT NULL,
  state TEXT NOT NULL,
  evidence TEXT NOT NULL,
  confidence DOUBLE NOT NULL,
  start_at DATETIME NOT NULL,
  end_at DATETIME NOT NULL,
  radius_m DOUBLE,
  source_kinds TEXT NOT NULL,
  observations INTEGER NOT NULL,
  rules TEXT NOT NULL,
  max_severity TEXT,
  suggested_party TEXT,
  suggestion_basis TEXT,
  attributed_party TEXT,
  origin_lon DOUBLE,
  origin_lat DOUBLE,
  ellipse_semi_major_m DOUBLE,
  ellipse_semi_minor_m DOUBLE,
  ellipse_azimuth_deg DOUBLE,
  first_seq INTEGER NOT NULL,
  last_seq INTEGER NOT NULL,
  updated_seq INTEGER NOT NULL
);
CREATE INDEX incidents_state ON incidents (state);
CREATE INDEX incidents_start ON incidents (start_at);

CREATE TABLE incident_observations (
  id INTEGER PRIMARY KEY NOT NULL,
  incident_fid INTEGER NOT NULL,
  obs_fid INTEGER NOT NULL REFERENCES observations(fid),
  UNIQUE (incident_fid, obs_fid)
);
CREATE INDEX incident_observations_obs ON incident_observations (obs_fid);

CREATE TABLE incident_transitions (
  id INTEGER PRIMARY KEY NOT NULL,
  incident_fid INTEGER NOT NULL,
  ordinal INTEGER NOT NULL,
  from_state TEXT,
  to_state TEXT NOT NULL,
  action TEXT NOT NULL,
  at DATETIME NOT NULL,
  actor TEXT NOT NULL,
  reason TEXT NOT NULL,
  entry_seq INTEGER NOT NULL REFERENCES entries(seq),
  UNIQUE (incident_fid, ordinal)
);

CREATE TABLE tasks (
  fid INTEGER PRIMARY KEY NOT NULL,
  geom POINT,
  task_id TEXT NOT NULL UNIQUE,
  incident_id TEXT NOT NULL,
  state TEXT NOT NULL,
  priority INTEGER NOT NULL,
  team TEXT,
  distance_m DOUBLE,
  created_at DATETIME NOT NULL,
  created_seq INTEGER NOT NULL,
  assigned_at DATETIME,
  outcome TEXT,
  outcome_at DATETIME,
  outcome_seq INTEGER,
  note TEXT NOT NULL
);

-- How far the derived tables have followed the log.
CREATE TABLE derived_state (
  name TEXT PRIMARY KEY NOT NULL,
  through_seq INTEGER
);

INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id) VALUES
  ('incidents', 'features', 'incidents',
   'Observations fused into incidents: fused location, lifecycle state, confidence, origin of fire, suggested and official attribution', 4326),
  ('incident_observations', 'attributes', 'incident observations',
   'Which observations (observations.fid) make up each incident (incidents.fid)', NULL),
  ('incident_transitions', 'attributes', 'incident transitions',
   'Each incident''s lifecycle: every state change and decision, with actor, time, reason and the log entry behind it', NULL),
  ('tasks', 'features', 'verification tasks',
   'Ground-team verification tasks: incident, priority, team, outcome', 4326);

INSERT INTO gpkg_geometry_columns VALUES
  ('incidents', 'geom', 'POINT', 4326, 0, 0),
  ('tasks', 'geom', 'POINT', 4326, 0, 0);
"#;

/// Bearer tokens for the HTTP API (`truce token create`): only each token's SHA-256 is kept, so
/// the file does not hold usable secrets. Not a layer (not in `gpkg_contents`).
const V4: &str = r#"
CREATE TABLE api_tokens (
  id INTEGER PRIMARY KEY NOT NULL,
  name TEXT NOT NULL,
  role TEXT NOT NULL,
  token_sha256 TEXT NOT NULL UNIQUE,
  created_at DATETIME NOT NULL,
  revoked_at DATETIME
);
"#;

/// The incidents layer shows what the API shows of fusion's evidence (issue 11): how many
/// independent platforms reported an incident, and its strike ↔ firing links. The derived
/// tables are marked behind the log so the next open writes them whole with the new columns.
const V5: &str = r#"
ALTER TABLE incidents ADD COLUMN independent_sources INTEGER;
ALTER TABLE incidents ADD COLUMN links TEXT;
DELETE FROM derived_state WHERE name = 'ledger';
"#;

/// `report` entries (`truce report`: the SHA-256 of each file a report wrote, and the log size
/// it was made from), found through a partial index (`GET /api/reports` lists them). The `entries.kind` CHECK is widened by rebuilding the table once more,
/// rows copied seq for seq — and the list of kinds moves into a trigger, so the next kind is a
/// `DROP TRIGGER` / `CREATE TRIGGER`, not a copy of the whole log.
const V6: &str = r#"
DROP TRIGGER IF EXISTS entries_seq_is_dense;
DROP TRIGGER IF EXISTS entries_no_update;
DROP TRIGGER IF EXISTS entries_no_delete;
CREATE TABLE entries_v6 (
  seq INTEGER PRIMARY KEY NOT NULL,
  kind TEXT NOT NULL,
  body BLOB NOT NULL,
  sha256 TEXT NOT NULL
);
INSERT INTO entries_v6 (seq, kind, body, sha256) SELECT seq, kind, body, sha256 FROM entries ORDER BY seq;
DROP TABLE entries;
ALTER TABLE entries_v6 RENAME TO entries;
CREATE INDEX entries_reports ON entries(seq) WHERE kind = 'report';
CREATE TRIGGER entries_kind_is_known BEFORE INSERT ON entries
WHEN NEW.kind NOT IN ('observation', 'agreement', 'rejected', 'decision', 'mission', 'response', 'alert', 'report')
BEGIN SELECT RAISE(ABORT, 'entries.kind must be observation, agreement, rejected, decision, mission, response, alert or report'); END;
CREATE TRIGGER entries_seq_is_dense BEFORE INSERT ON entries
WHEN NEW.seq IS NOT (SELECT COALESCE(MAX(seq) + 1, 0) FROM entries)
BEGIN SELECT RAISE(ABORT, 'entries is append-only: seq must be the next number, counting from 0'); END;
CREATE TRIGGER entries_no_update BEFORE UPDATE ON entries
BEGIN SELECT RAISE(ABORT, 'entries is append-only: an entry is never changed'); END;
CREATE TRIGGER entries_no_delete BEFORE DELETE ON entries
BEGIN SELECT RAISE(ABORT, 'entries is append-only: an entry is never deleted'); END;
"#;

/// The observations layer slimmed (issue 14, ~2.7 KB an observation before): the canonical JSON
/// is kept once, in `entries.body` (the layer's `body` column was a second copy); the content
/// hash that keys idempotency is the 32-byte SHA-256, not its 64-character hex; and the
/// `assessments` layer becomes a view over `observations`, which already held every column of
/// it but three: the point assessed (`assessed_geom`, NULL when it is the observation's own
/// point), the line crossings, and the agreement (the batch's). The rows are copied fid for fid;
/// the R-tree keeps its ids. The view stays registered as a GeoPackage feature layer, so GDAL and
/// QGIS open `assessments` as before.
const V7: &str = r#"
CREATE TABLE observations_v7 (
  fid INTEGER PRIMARY KEY NOT NULL,
  geom GEOMETRY NOT NULL,
  entry_seq INTEGER NOT NULL CHECK (entry_seq = fid),
  obs_id TEXT,
  kind TEXT NOT NULL,
  observed_at DATETIME NOT NULL,
  time_uncertainty_s DOUBLE NOT NULL,
  source_id TEXT NOT NULL,
  source_kind TEXT NOT NULL,
  reliability TEXT NOT NULL,
  credibility INTEGER NOT NULL,
  error_radius_m DOUBLE NOT NULL,
  bearing_deg DOUBLE,
  weapon_class TEXT,
  weapon_count INTEGER,
  affiliation TEXT,
  source_record TEXT,
  remarks TEXT NOT NULL,
  party_area TEXT,
  distance_to_line_m DOUBLE NOT NULL,
  zones TEXT NOT NULL,
  crossings TEXT,
  breach_count INTEGER NOT NULL,
  max_severity TEXT,
  assessed_geom BLOB,
  content_sha256 BLOB NOT NULL UNIQUE CHECK (length(content_sha256) = 32),
  batch_id INTEGER NOT NULL REFERENCES batches(id),
  locator TEXT NOT NULL
);
INSERT INTO observations_v7
SELECT o.fid, o.geom, o.entry_seq, o.obs_id, o.kind, o.observed_at, o.time_uncertainty_s,
  o.source_id, o.source_kind, o.reliability, o.credibility, o.error_radius_m, o.bearing_deg,
  o.weapon_class, o.weapon_count, o.affiliation, o.source_record, o.remarks, o.party_area,
  o.distance_to_line_m, o.zones, a.crossings, o.breach_count, o.max_severity,
  CASE WHEN a.geom IS o.geom THEN NULL ELSE a.geom END,
  CASE typeof(o.content_sha256) WHEN 'text' THEN unhex(o.content_sha256) ELSE o.content_sha256 END, o.batch_id,
  o.locator
FROM observations o JOIN assessments a ON a.fid = o.fid ORDER BY o.fid;
DROP TABLE assessments;
DROP TABLE observations;
ALTER TABLE observations_v7 RENAME TO observations;

CREATE TRIGGER rtree_observations_geom_insert AFTER INSERT ON observations
WHEN (new.geom NOT NULL AND NOT ST_IsEmpty(NEW.geom))
BEGIN
  INSERT OR REPLACE INTO rtree_observations_geom VALUES (
    NEW.fid, ST_MinX(NEW.geom), ST_MaxX(NEW.geom), ST_MinY(NEW.geom), ST_MaxY(NEW.geom));
END;
CREATE TRIGGER rtree_observations_geom_update1 AFTER UPDATE OF geom ON observations
WHEN OLD.fid = NEW.fid AND (NEW.geom NOTNULL AND NOT ST_IsEmpty(NEW.geom))
BEGIN
  INSERT OR REPLACE INTO rtree_observations_geom VALUES (
    NEW.fid, ST_MinX(NEW.geom), ST_MaxX(NEW.geom), ST_MinY(NEW.geom), ST_MaxY(NEW.geom));
END;
CREATE TRIGGER rtree_observations_geom_update2 AFTER UPDATE OF geom ON observations
WHEN OLD.fid = NEW.fid AND (NEW.geom ISNULL OR ST_IsEmpty(NEW.geom))
BEGIN
  DELETE FROM rtree_observations_geom WHERE id = OLD.fid;
END;
CREATE TRIGGER rtree_observations_geom_update3 AFTER UPDATE ON observations
WHEN OLD.fid != NEW.fid AND (NEW.geom NOTNULL AND NOT ST_IsEmpty(NEW.geom))
BEGIN
  DELETE FROM rtree_observations_geom WHERE id = OLD.fid;
  INSERT OR REPLACE INTO rtree_observations_geom VALUES (
    NEW.fid, ST_MinX(NEW.geom), ST_MaxX(NEW.geom), ST_MinY(NEW.geom), ST_MaxY(NEW.geom));
END;
CREATE TRIGGER rtree_observations_geom_update4 AFTER UPDATE ON observations
WHEN OLD.fid != NEW.fid AND (NEW.geom ISNULL OR ST_IsEmpty(NEW.geom))
BEGIN
  DELETE FROM rtree_observations_geom WHERE id IN (OLD.fid, NEW.fid);
END;
CREATE TRIGGER rtree_observations_geom_delete AFTER DELETE ON observations
WHEN old.geom NOT NULL
BEGIN
  DELETE FROM rtree_observations_geom WHERE id = OLD.fid;
END;

CREATE VIEW assessments AS
SELECT o.fid AS fid, COALESCE(o.assessed_geom, o.geom) AS geom, o.obs_id AS obs_id,
  o.party_area AS party_area, o.distance_to_line_m AS distance_to_line_m, o.zones AS zones,
  o.crossings AS crossings, o.breach_count AS breach_count, o.max_severity AS max_severity,
  b.agreement_hash AS agreement_hash
FROM observations o JOIN batches b ON b.id = o.batch_id;
UPDATE gpkg_contents SET description =
  'Where each observation was assessed (point, track start, area centroid), whose area, distance to the contact line, zones (a view over observations)'
WHERE table_name = 'assessments';
"#;

/// Snapshots of the folded ledger (issue 14: a restart that replays the whole log takes seconds
/// at a million observations). Derived data like the incident tables: keyed by the log size it
/// was folded through and the log's root at that size (a snapshot of another log is never
/// read), with the SHA-256 of its bytes; `truce rebuild` ignores it and replays from entry 0.
/// Not a GeoPackage layer.
const V8: &str = r#"
CREATE TABLE ledger_snapshots (
  size INTEGER PRIMARY KEY NOT NULL CHECK (size > 0),
  root BLOB NOT NULL CHECK (length(root) = 32),
  sha256 BLOB NOT NULL CHECK (length(sha256) = 32),
  state BLOB NOT NULL
);
-- The terms in force at any size without walking back over every entry since (at a million
-- entries the walk was most of a restart).
CREATE INDEX entries_agreements ON entries(seq) WHERE kind = 'agreement';
"#;
