//! API tokens (migration 4): name, role and the SHA-256 of the secret; revocable.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use crate::geopackage::gpkg_datetime;
use crate::{GeoPackageStore, StoreError};

/// A token as stored (never the secret itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenRow {
    pub id: i64,
    pub name: String,
    /// `admin`, `analyst`, `team:ID`, `party:ID` or `public`.
    pub role: String,
    pub token_sha256: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

impl GeoPackageStore {
    /// Records a token by the SHA-256 of its secret; returns its id.
    pub fn create_token(
        &mut self,
        name: &str,
        role: &str,
        token_sha256: &str,
        at: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        self.conn
            .execute(
                "INSERT INTO api_tokens (name, role, token_sha256, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![name, role, token_sha256, gpkg_datetime(&at)],
            )
            .map_err(|e| StoreError::LogWrite {
                path: self.path.clone(),
                what: "recording a token".into(),
                source: Box::new(e),
            })?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Revokes token `id`; false when there is no such token or it was already revoked.
    pub fn revoke_token(&mut self, id: i64, at: DateTime<Utc>) -> Result<bool, StoreError> {
        self.conn
            .execute(
                "UPDATE api_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                params![id, gpkg_datetime(&at)],
            )
            .map(|n| n == 1)
            .map_err(|e| StoreError::LogWrite {
                path: self.path.clone(),
                what: "revoking a token".into(),
                source: Box::new(e),
            })
    }

    /// Every token, revoked ones included, by id.
    pub fn tokens(&self) -> Result<Vec<TokenRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, name, role, token_sha256, created_at, revoked_at FROM api_tokens ORDER BY id",
            )
            .map_err(self.read_failed("api_tokens"))?;
        stmt.query_map([], row)
            .and_then(Iterator::collect::<rusqlite::Result<Vec<_>>>)
            .map_err(self.read_failed("api_tokens"))
    }

    /// The live (not revoked) token with this secret hash.
    pub fn live_token(&self, token_sha256: &str) -> Result<Option<TokenRow>, StoreError> {
        self.conn
            .prepare_cached(
                "SELECT id, name, role, token_sha256, created_at, revoked_at FROM api_tokens \
                 WHERE token_sha256 = ?1 AND revoked_at IS NULL",
            )
            .and_then(|mut s| s.query_row([token_sha256], row).optional())
            .map_err(self.read_failed("api_tokens"))
    }
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TokenRow> {
    Ok(TokenRow {
        id: r.get(0)?,
        name: r.get(1)?,
        role: r.get(2)?,
        token_sha256: r.get(3)?,
        created_at: r.get(4)?,
        revoked_at: r.get(5)?,
    })
}
