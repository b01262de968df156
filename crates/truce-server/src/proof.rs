//! The proof document for one log entry (`truce log prove`, `GET /api/log/proof/{seq}`): the
//! entry's bytes and leaf hash, its inclusion proof in the latest signed checkpoint, and
//! optionally the consistency proof from an older size — checked before it is handed out. A
//! caller whose role may not read the entry gets the document without its bytes
//! ([`ProofDocument::withhold`]): the leaf hash still proves the entry is in the log.

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use truce_log::{Hash, leaf_hash, verify_inclusion};
use truce_store::Backend;

/// The proof document `truce log prove` prints and `verify-entry` / `witness` read
/// (`docs/log.md`).
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProofDocument {
    pub leaf_index: u64,
    /// Base64 of the exact entry bytes hashed into the leaf; left out where the caller's role
    /// may not read the entry (`withheld` says why).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<String>,
    /// Base64 RFC 6962 leaf hash, SHA-256(0x00 ‖ entry): what the inclusion proof starts
    /// from. A checker holding `entry` recomputes it and compares. Empty in documents written
    /// before it was added (they always hold `entry`).
    #[serde(default)]
    pub leaf_hash: String,
    /// Why `entry` is left out (`truce_service::access::entry_body`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withheld: Option<String>,
    pub tree_size: u64,
    /// Base64 root hash.
    pub root: String,
    /// Base64 hashes.
    pub inclusion: Vec<String>,
    /// The signed checkpoint (C2SP signed note).
    pub checkpoint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consistency: Option<Vec<String>>,
}

/// Entry `seq`'s proof against the latest checkpoint (and from `old_size`, if given). `shown`
/// names the store in messages.
pub fn prove(
    store: &dyn Backend,
    shown: &str,
    seq: u64,
    old_size: Option<u64>,
) -> Result<ProofDocument> {
    let checkpoint = store.latest_checkpoint()?.with_context(|| {
        format!(
            "{shown}: the log has signed no checkpoint yet, so there is nothing to prove against"
        )
    })?;
    let size = checkpoint.size;
    if seq >= size {
        bail!(
            "{shown}: entry {seq} is not covered by the latest checkpoint ({size} entries); sign a new one (`truce ingest` does) or ask for an earlier entry"
        );
    }
    let entry = store
        .entry(seq)?
        .with_context(|| format!("{shown}: entry {seq} is missing from entries"))?;
    let inclusion = store.inclusion_proof(seq, size)?;
    // Check the proof before handing it out: a store whose tree no longer matches its
    // checkpoint must not produce a proof that fails later in someone else's hands.
    verify_inclusion(&leaf_hash(&entry.body), seq, size, &inclusion, &checkpoint.root).map_err(|e| {
        anyhow::anyhow!("{shown}: entry {seq} does not lead to the root of checkpoint {} ({e}); run `truce log verify`", checkpoint.id)
    })?;
    let consistency = match old_size {
        Some(old) if old > size => {
            bail!("old size {old} is larger than the latest checkpoint's size {size}")
        }
        Some(old) => Some(store.consistency_proof(old, size)?),
        None => None,
    };
    Ok(ProofDocument {
        leaf_index: seq,
        entry: Some(B64.encode(&entry.body)),
        leaf_hash: leaf_hash(&entry.body).to_base64(),
        withheld: None,
        tree_size: size,
        root: checkpoint.root.to_base64(),
        inclusion: inclusion.iter().map(Hash::to_base64).collect(),
        checkpoint: checkpoint.text,
        old_size,
        consistency: consistency.map(|c| c.iter().map(Hash::to_base64).collect()),
    })
}

impl ProofDocument {
    /// The document without the entry's bytes, saying `why`: its hashes still prove that the
    /// leaf is in the log, to a caller who may not read what the leaf holds.
    pub fn withhold(self, why: &str) -> ProofDocument {
        ProofDocument {
            entry: None,
            withheld: Some(why.to_string()),
            ..self
        }
    }

    /// The leaf the inclusion proof starts from: the entry's hash if the document holds the
    /// entry (checked against `leaf_hash` when that is given too), else `leaf_hash`.
    pub fn leaf(&self) -> Result<(Hash, Option<Vec<u8>>)> {
        match &self.entry {
            Some(e) => {
                let bytes = B64.decode(e).context("entry is not base64")?;
                let leaf = leaf_hash(&bytes);
                if !self.leaf_hash.is_empty() && self.leaf_hash != leaf.to_base64() {
                    bail!("leaf_hash is not the hash of entry");
                }
                Ok((leaf, Some(bytes)))
            }
            None if self.leaf_hash.is_empty() => {
                bail!("the document holds neither entry nor leaf_hash")
            }
            None => Ok((
                Hash::from_base64(&self.leaf_hash).context("leaf_hash is not a base64 hash")?,
                None,
            )),
        }
    }
}
