//! `truce log …`: keys, witnesses and offline verification of the tamper-evident log.
//!
//! The offline commands here need no database: `keygen` makes keys, `witness` is what a party
//! runs to cosign a checkpoint only if the log grew consistently, and `verify-entry` is what a
//! party's lawyer runs on one record. Formats are in `docs/log.md`.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use clap::Subcommand;
use serde::{Deserialize, Serialize};
use truce_log::{Hash, KeyType, SignerKey, VerifierKey, Witness, WitnessState, leaf_hash, verify_inclusion, verify_quorum};

use crate::Outcome;

#[derive(Subcommand)]
pub enum LogCommand {
    /// Make a signing key: writes the signer key file (mode 0600), prints the verifier key.
    Keygen {
        /// Key name, e.g. `truce.example/log` for the log or `ua.example/witness` for a witness.
        name: String,
        /// Make a witness key (C2SP tlog-cosignature v1) rather than a log key.
        #[arg(long)]
        witness: bool,
        /// Where to write the signer key (default: NAME with `/` as `_`, plus `.key`).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// As a witness: cosign CHECKPOINT if it is consistent with the last one this witness
    /// cosigned (PROOF is the JSON of `truce log prove --old-size M`); else refuse, exit 1.
    Witness {
        /// The witness's signer key file.
        #[arg(long)]
        key: PathBuf,
        /// Directory holding the witness's state (the last checkpoint it cosigned, per log).
        #[arg(long)]
        state: PathBuf,
        /// The log's verifier key (`name+hash+base64`).
        #[arg(long = "log-key")]
        log_key: String,
        checkpoint: PathBuf,
        /// Consistency proof from the witness's last size; may be omitted on the first cosigning.
        proof: Option<PathBuf>,
    },
    /// Offline: check one entry's proof against a signed checkpoint, with a quorum of witnesses.
    VerifyEntry {
        /// The signed (and cosigned) checkpoint text.
        #[arg(long)]
        checkpoint: PathBuf,
        /// The JSON printed by `truce log prove`.
        #[arg(long)]
        proof: PathBuf,
        /// The log's verifier key.
        #[arg(long)]
        key: String,
        /// A witness verifier key whose cosignature is required (repeat for a quorum).
        #[arg(long = "witness")]
        witnesses: Vec<String>,
    },
}

/// The proof document `truce log prove` prints and `verify-entry` / `witness` read.
#[derive(Serialize, Deserialize)]
pub struct ProofDocument {
    pub leaf_index: u64,
    /// Base64 of the exact entry bytes hashed into the leaf.
    pub entry: String,
    pub tree_size: u64,
    pub root: String,
    pub inclusion: Vec<String>,
    pub checkpoint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consistency: Option<Vec<String>>,
}

pub fn run(cmd: LogCommand) -> Result<Outcome> {
    match cmd {
        LogCommand::Keygen { name, witness, out } => keygen(&name, witness, out),
        LogCommand::Witness { key, state, log_key, checkpoint, proof } => {
            witness_cosign(&key, &state, &log_key, &checkpoint, proof.as_deref())
        }
        LogCommand::VerifyEntry { checkpoint, proof, key, witnesses } => verify_entry(&checkpoint, &proof, &key, &witnesses),
    }
}

fn keygen(name: &str, witness: bool, out: Option<PathBuf>) -> Result<Outcome> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("no randomness from the operating system: {e}"))?;
    let key_type = if witness { KeyType::CosignatureV1 } else { KeyType::Ed25519 };
    let key = SignerKey::from_seed(name, key_type, seed).with_context(|| format!("key name {name:?}"))?;
    let path = out.unwrap_or_else(|| PathBuf::from(format!("{}.key", name.replace('/', "_"))));
    write_private(&path, format!("{}\n", key.to_key_string()).as_bytes())?;
    eprintln!("wrote signer key {} (mode 0600); keep it secret", path.display());
    println!("{}", key.verifier_key());
    Ok(Outcome::Ok)
}

/// Writes a secret file readable by its owner only, refusing to overwrite an existing key.
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {} (an existing key is never overwritten)", path.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}

pub fn read_signer_key(path: &Path) -> Result<SignerKey> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read key {}", path.display()))?;
    SignerKey::parse(text.trim()).with_context(|| format!("{}: not a signer key", path.display()))
}

pub fn parse_verifier_key(text: &str) -> Result<VerifierKey> {
    let text = text.trim();
    // Accept a key or a file holding one.
    let key = if Path::new(text).is_file() { std::fs::read_to_string(text)?.trim().to_string() } else { text.to_string() };
    VerifierKey::parse(&key).with_context(|| format!("{text:?} is not a verifier key (name+hash+base64)"))
}

fn decode_hashes(items: &[String], what: &str) -> Result<Vec<Hash>> {
    items
        .iter()
        .enumerate()
        .map(|(i, s)| Hash::from_base64(s).with_context(|| format!("{what}[{i}] is not a base64 SHA-256 hash")))
        .collect()
}

fn witness_cosign(key: &Path, state_dir: &Path, log_key: &str, checkpoint: &Path, proof: Option<&Path>) -> Result<Outcome> {
    let signer = read_signer_key(key)?;
    let log_key = parse_verifier_key(log_key)?;
    let witness = Witness::new(signer, log_key.clone()).context("witness key")?;
    let text = std::fs::read_to_string(checkpoint).with_context(|| format!("cannot read {}", checkpoint.display()))?;
    std::fs::create_dir_all(state_dir).with_context(|| format!("cannot create {}", state_dir.display()))?;
    let state_file = state_dir.join(format!("{}.state", log_key.name().replace('/', "_")));
    let state = match std::fs::read_to_string(&state_file) {
        Ok(s) => WitnessState::parse(&s).with_context(|| format!("{}: corrupt witness state", state_file.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => WitnessState::new(log_key.name()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", state_file.display())),
    };
    let (old_size, hashes) = match proof {
        Some(p) => {
            let doc: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?,
            )
            .with_context(|| format!("{}: not JSON", p.display()))?;
            let old = doc.get("old_size").and_then(|v| v.as_u64()).with_context(|| format!("{}: no old_size", p.display()))?;
            let items: Vec<String> = serde_json::from_value(doc.get("consistency").cloned().unwrap_or_default())
                .with_context(|| format!("{}: consistency must be a list of base64 hashes", p.display()))?;
            (old, decode_hashes(&items, "consistency")?)
        }
        None => (state.size, Vec::new()),
    };
    let now_s = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
    match witness.cosign(&state, &text, old_size, &hashes, now_s) {
        Ok(cosigned) => {
            // Store the new state before releasing the cosignature, atomically (write + rename).
            let tmp = state_file.with_extension("state.tmp");
            std::fs::write(&tmp, cosigned.state.to_text())?;
            std::fs::File::open(&tmp)?.sync_all()?;
            std::fs::rename(&tmp, &state_file)?;
            print!("{}", cosigned.signature_line());
            Ok(Outcome::Ok)
        }
        Err(refusal) => bail!("witness refuses to cosign: {refusal}"),
    }
}

fn verify_entry(checkpoint: &Path, proof: &Path, key: &str, witnesses: &[String]) -> Result<Outcome> {
    let log_key = parse_verifier_key(key)?;
    let witness_keys = witnesses.iter().map(|w| parse_verifier_key(w)).collect::<Result<Vec<_>>>()?;
    let required: Vec<&str> = witness_keys.iter().map(|k| k.name()).collect();
    let text = std::fs::read_to_string(checkpoint).with_context(|| format!("cannot read {}", checkpoint.display()))?;
    let verified = verify_quorum(&text, &log_key, &witness_keys, &required)
        .map_err(|e| anyhow::anyhow!("checkpoint {}: {e}", checkpoint.display()))?;
    let doc: ProofDocument = serde_json::from_str(
        &std::fs::read_to_string(proof).with_context(|| format!("cannot read {}", proof.display()))?,
    )
    .with_context(|| format!("{}: not a `truce log prove` document", proof.display()))?;
    let cp = &verified.checkpoint;
    if doc.tree_size != cp.size {
        bail!("the proof is for a tree of {} entries but the checkpoint is of {}; ask for a proof at size {}", doc.tree_size, cp.size, cp.size);
    }
    let entry = B64.decode(&doc.entry).context("entry is not base64")?;
    let inclusion = decode_hashes(&doc.inclusion, "inclusion")?;
    verify_inclusion(&leaf_hash(&entry), doc.leaf_index, cp.size, &inclusion, &cp.root)
        .map_err(|e| anyhow::anyhow!("entry {} is NOT proven to be in the log: {e}", doc.leaf_index))?;
    let signers: Vec<String> = std::iter::once(log_key.name().to_string()).chain(required.iter().map(|s| s.to_string())).collect();
    println!("{}", String::from_utf8_lossy(&entry));
    eprintln!(
        "OK: entry {} is in the log {} of {} entries (root {}), signed by {}",
        doc.leaf_index,
        cp.origin,
        cp.size,
        cp.root.to_base64(),
        signers.join(", ")
    );
    Ok(Outcome::Ok)
}
