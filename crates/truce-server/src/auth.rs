//! Who is asking: bearer tokens (only their SHA-256 is stored) and the caller they name. What
//! each role may see and do is decided in one place, [`truce_service::access`], re-exported
//! here for the handlers.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::Engine as _;
use sha2::{Digest, Sha256};
pub use truce_service::access::{
    Action, COARSE_CELL_M, Role, Shown, View, allowed, coarsen, incident_view, shown_incidents,
};

/// The caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token's id (None for the public).
    pub token_id: Option<i64>,
    /// The SHA-256 of its secret, as stored (None for the public): how a long-lived
    /// response (the alert stream) re-checks that the token is still live.
    pub token_sha256: Option<String>,
    pub name: String,
    pub role: Role,
}

impl Principal {
    pub fn public() -> Principal {
        Principal {
            token_id: None,
            token_sha256: None,
            name: "public".into(),
            role: Role::Public,
        }
    }
}

/// SHA-256 of a token secret, lower-case hex: what the store keeps.
pub fn token_hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A new token secret: `truce_` and 32 random bytes, URL-safe base64.
pub fn new_secret() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(format!(
        "truce_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    ))
}

/// How long a looked-up token is trusted before the store is asked again: a revocation takes
/// effect within this time.
pub const TOKEN_CACHE_TTL: Duration = Duration::from_secs(2);

/// Tokens seen recently, by secret hash (None: no such live token).
#[derive(Default)]
pub struct TokenCache {
    entries: HashMap<String, (Instant, Option<Principal>)>,
}

impl TokenCache {
    pub fn get(&self, hash: &str) -> Option<Option<Principal>> {
        self.entries
            .get(hash)
            .filter(|(at, _)| at.elapsed() < TOKEN_CACHE_TTL)
            .map(|(_, p)| p.clone())
    }

    pub fn put(&mut self, hash: String, principal: Option<Principal>) {
        if self.entries.len() > 10_000 {
            self.entries.clear();
        }
        self.entries.insert(hash, (Instant::now(), principal));
    }
}

/// `Ok` when `p`'s role may do `action`; else 403 naming `what`.
pub fn require(p: &Principal, action: Action, what: &str) -> crate::error::ApiResult<()> {
    if allowed(&p.role, action) {
        Ok(())
    } else {
        Err(crate::error::ApiError::forbidden(what))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_and_print() {
        for s in ["admin", "analyst", "team:team-1", "party:RU", "public"] {
            assert_eq!(Role::parse(s).unwrap().name(), s);
        }
        assert!(Role::parse("party:").is_err());
        assert!(Role::parse("root").is_err());
    }

    #[test]
    fn coarse_cells_are_about_five_km_and_stable() {
        let p = [38.123456, 48.234567];
        let c = coarsen(p);
        assert_eq!(coarsen(c), c, "a cell centre is its own cell");
        let d = truce_geo::distance_m(p, c);
        assert!(d < COARSE_CELL_M * 0.75, "{d}");
        // Two points 100 m apart usually share a cell; far apart never.
        assert_ne!(coarsen([38.0, 48.0]), coarsen([38.2, 48.0]));
    }
}
