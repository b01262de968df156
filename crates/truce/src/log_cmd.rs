//! `truce log …`: keys, witnesses, the store's log, and offline verification.
//!
//! The offline commands need no database: `keygen` makes keys, `witness` is what a party runs
//! to cosign a checkpoint only if the log grew consistently, and `verify-entry` is what a
//! party's lawyer runs on one record. The store commands read the store (a GeoPackage or PostgreSQL) through
//! `truce_store::Log`: `checkpoint` prints the latest signed checkpoint, `prove` an entry's
//! proofs, `verify` checks the whole store against its log, `export-tiles` publishes the log as
//! C2SP tlog-tiles. This module also owns the log's signing key beside a store
//! ([`log_signer_key`]), which `truce ingest` and `truce demo` sign with. Formats and key
//! handling are in `docs/log.md`.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use truce_log::{
    Hash, KeyType, SignerKey, VerifierKey, Witness, WitnessState, root_from_tiles,
    verify_inclusion, verify_quorum,
};
use truce_store::{AuditError, Backend};

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
    /// Print the latest checkpoint the store's log signed.
    Checkpoint {
        /// The store: a GeoPackage file, or a PostgreSQL database as `postgres://user@host/dbname`.
        #[arg(long)]
        db: PathBuf,
    },
    /// Print, as one JSON object, entry SEQ with its inclusion proof at the latest checkpoint
    /// (and a consistency proof from OLD_SIZE), for `verify-entry`, a witness or any verifier.
    Prove {
        /// The store: a GeoPackage file, or a PostgreSQL database as `postgres://user@host/dbname`.
        #[arg(long)]
        db: PathBuf,
        /// The entry's sequence number (its leaf index).
        #[arg(long)]
        seq: u64,
        /// Add the consistency proof from this tree size (a witness's last cosigned size).
        #[arg(long = "old-size")]
        old_size: Option<u64>,
    },
    /// Recompute the log from the stored entries and check the tree, every checkpoint and every
    /// observation row against it; exit 1 naming the first sequence number that differs.
    Verify {
        /// The store: a GeoPackage file, or a PostgreSQL database as `postgres://user@host/dbname`.
        #[arg(long)]
        db: PathBuf,
        /// The log's verifier key (or a file holding it, or the log's signing key file);
        /// default: that of `<db>.log.key` if present, else signatures are not checked.
        #[arg(long)]
        key: Option<String>,
    },
    /// Write the log as static C2SP tlog-tiles files (`checkpoint`, `tile/…`) into DIR.
    ExportTiles {
        /// The store: a GeoPackage file, or a PostgreSQL database as `postgres://user@host/dbname`.
        #[arg(long)]
        db: PathBuf,
        /// The directory to write (created if missing).
        #[arg(long)]
        out: PathBuf,
    },
}

pub use truce_server::proof::ProofDocument;

pub fn run(cmd: LogCommand) -> Result<Outcome> {
    match cmd {
        LogCommand::Keygen { name, witness, out } => keygen(&name, witness, out),
        LogCommand::Witness {
            key,
            state,
            log_key,
            checkpoint,
            proof,
        } => witness_cosign(&key, &state, &log_key, &checkpoint, proof.as_deref()),
        LogCommand::VerifyEntry {
            checkpoint,
            proof,
            key,
            witnesses,
        } => verify_entry(&checkpoint, &proof, &key, &witnesses),
        LogCommand::Checkpoint { db } => print_checkpoint(&db),
        LogCommand::Prove { db, seq, old_size } => prove(&db, seq, old_size),
        LogCommand::Verify { db, key } => verify(&db, key.as_deref()),
        LogCommand::ExportTiles { db, out } => export_tiles(&db, &out),
    }
}

fn keygen(name: &str, witness: bool, out: Option<PathBuf>) -> Result<Outcome> {
    let key_type = if witness {
        KeyType::CosignatureV1
    } else {
        KeyType::Ed25519
    };
    let path = out.unwrap_or_else(|| PathBuf::from(format!("{}.key", name.replace('/', "_"))));
    let key = create_key(&path, name, key_type)?;
    eprintln!(
        "wrote signer key {} (mode 0600); keep it secret",
        path.display()
    );
    println!("{}", key.verifier_key());
    Ok(Outcome::Ok)
}

/// Makes a key from 32 bytes of the operating system's randomness and writes its signer key to
/// `path` (mode 0600, never overwriting).
pub fn create_key(path: &Path, name: &str, key_type: KeyType) -> Result<SignerKey> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed)
        .map_err(|e| anyhow::anyhow!("no randomness from the operating system: {e}"))?;
    let key =
        SignerKey::from_seed(name, key_type, seed).with_context(|| format!("key name {name:?}"))?;
    write_private(path, format!("{}\n", key.to_key_string()).as_bytes())?;
    Ok(key)
}

/// Where `truce ingest` keeps a store's log key unless told otherwise: `<db>.log.key`, beside
/// the store and never inside it; for a PostgreSQL database, `<dbname>.log.key` in the
/// current directory (replicas sharing the database are each given the key with `--log-key`).
pub fn default_key_path(db: &Path) -> PathBuf {
    if truce_store::is_postgres(db) {
        return PathBuf::from(format!("{}.log.key", pg_dbname(db)));
    }
    let mut path = db.as_os_str().to_owned();
    path.push(".log.key");
    PathBuf::from(path)
}

/// The log's signing key for the store `db`: the key file `explicit` if given; else
/// `<db>.log.key`, created on first use (mode 0600) with the name `truce.local/<db file stem>`.
pub fn log_signer_key(db: &Path, explicit: Option<&Path>) -> Result<SignerKey> {
    let path = explicit.map_or_else(|| default_key_path(db), Path::to_path_buf);
    if explicit.is_some() || path.exists() {
        return read_log_key(&path);
    }
    let stem = if truce_store::is_postgres(db) {
        pg_dbname(db)
    } else {
        db.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    // A key name has no white space and no `+`.
    let stem: String = stem
        .chars()
        .map(|c| {
            if c.is_whitespace() || c == '+' {
                '_'
            } else {
                c
            }
        })
        .collect();
    let key = create_key(&path, &format!("truce.local/{stem}"), KeyType::Ed25519)?;
    eprintln!(
        "created the log's signing key {} (mode 0600, name {}); keep it secret and out of the store.\n\
         Its verifier key, for witnesses and auditors: {}",
        path.display(),
        key.name(),
        key.verifier_key()
    );
    Ok(key)
}

/// Reads a log signing key, refusing a witness key: the log signs with a plain Ed25519 key.
pub fn read_log_key(path: &Path) -> Result<SignerKey> {
    let key = read_signer_key(path)?;
    if key.key_type() != KeyType::Ed25519 {
        bail!(
            "{}: a witness key ({}); the log signs with a plain Ed25519 key (`truce log keygen NAME` without --witness)",
            path.display(),
            key.key_type()
        );
    }
    Ok(key)
}

/// Writes a secret file readable by its owner only, refusing to overwrite an existing key.
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| {
            format!(
                "cannot create {} (an existing key is never overwritten)",
                path.display()
            )
        })?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}

pub fn read_signer_key(path: &Path) -> Result<SignerKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read key {}", path.display()))?;
    SignerKey::parse(text.trim()).with_context(|| format!("{}: not a signer key", path.display()))
}

pub fn parse_verifier_key(text: &str) -> Result<VerifierKey> {
    let text = text.trim();
    // Accept a key or a file holding one, or the log's signing key file (its verifier key).
    let key = if Path::new(text).is_file() {
        let held = std::fs::read_to_string(text)?.trim().to_string();
        match SignerKey::parse(&held) {
            Ok(signer) => return Ok(signer.verifier_key()),
            Err(_) => held,
        }
    } else {
        text.to_string()
    };
    VerifierKey::parse(&key)
        .with_context(|| format!("{text:?} is not a verifier key (name+hash+base64)"))
}

fn decode_hashes(items: &[String], what: &str) -> Result<Vec<Hash>> {
    items
        .iter()
        .enumerate()
        .map(|(i, s)| {
            Hash::from_base64(s)
                .with_context(|| format!("{what}[{i}] is not a base64 SHA-256 hash"))
        })
        .collect()
}

fn witness_cosign(
    key: &Path,
    state_dir: &Path,
    log_key: &str,
    checkpoint: &Path,
    proof: Option<&Path>,
) -> Result<Outcome> {
    let signer = read_signer_key(key)?;
    let log_key = parse_verifier_key(log_key)?;
    let witness = Witness::new(signer, log_key.clone()).context("witness key")?;
    let text = std::fs::read_to_string(checkpoint)
        .with_context(|| format!("cannot read {}", checkpoint.display()))?;
    std::fs::create_dir_all(state_dir)
        .with_context(|| format!("cannot create {}", state_dir.display()))?;
    let state_file = state_dir.join(format!("{}.state", log_key.name().replace('/', "_")));
    let state = match std::fs::read_to_string(&state_file) {
        Ok(s) => WitnessState::parse(&s)
            .with_context(|| format!("{}: corrupt witness state", state_file.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => WitnessState::new(log_key.name()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", state_file.display())),
    };
    let (old_size, hashes) = match proof {
        Some(p) => {
            let doc: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(p)
                    .with_context(|| format!("cannot read {}", p.display()))?,
            )
            .with_context(|| format!("{}: not JSON", p.display()))?;
            let old = doc
                .get("old_size")
                .and_then(|v| v.as_u64())
                .with_context(|| format!("{}: no old_size", p.display()))?;
            let items: Vec<String> =
                serde_json::from_value(doc.get("consistency").cloned().unwrap_or_default())
                    .with_context(|| {
                        format!(
                            "{}: consistency must be a list of base64 hashes",
                            p.display()
                        )
                    })?;
            (old, decode_hashes(&items, "consistency")?)
        }
        None => (state.size, Vec::new()),
    };
    // The one clock (`truce_service::Clock`) stamps cosignatures as it stamps checkpoints.
    let now_s = truce_service::Clock::unix_s(&truce_service::SystemClock);
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

fn verify_entry(
    checkpoint: &Path,
    proof: &Path,
    key: &str,
    witnesses: &[String],
) -> Result<Outcome> {
    let log_key = parse_verifier_key(key)?;
    let witness_keys = witnesses
        .iter()
        .map(|w| parse_verifier_key(w))
        .collect::<Result<Vec<_>>>()?;
    let required: Vec<&str> = witness_keys.iter().map(|k| k.name()).collect();
    let text = std::fs::read_to_string(checkpoint)
        .with_context(|| format!("cannot read {}", checkpoint.display()))?;
    let verified = verify_quorum(&text, &log_key, &witness_keys, &required)
        .map_err(|e| anyhow::anyhow!("checkpoint {}: {e}", checkpoint.display()))?;
    let doc: ProofDocument = serde_json::from_str(
        &std::fs::read_to_string(proof)
            .with_context(|| format!("cannot read {}", proof.display()))?,
    )
    .with_context(|| format!("{}: not a `truce log prove` document", proof.display()))?;
    let cp = &verified.checkpoint;
    if doc.tree_size != cp.size {
        bail!(
            "the proof is for a tree of {} entries but the checkpoint is of {}; ask for a proof at size {}",
            doc.tree_size,
            cp.size,
            cp.size
        );
    }
    let (leaf, entry) = doc.leaf()?;
    let inclusion = decode_hashes(&doc.inclusion, "inclusion")?;
    verify_inclusion(&leaf, doc.leaf_index, cp.size, &inclusion, &cp.root).map_err(|e| {
        anyhow::anyhow!(
            "entry {} is NOT proven to be in the log: {e}",
            doc.leaf_index
        )
    })?;
    let signers: Vec<String> = std::iter::once(log_key.name().to_string())
        .chain(required.iter().map(|s| s.to_string()))
        .collect();
    match &entry {
        Some(entry) => println!("{}", String::from_utf8_lossy(entry)),
        None => eprintln!(
            "the entry's bytes were withheld ({}): only its leaf hash {} is proven",
            doc.withheld.as_deref().unwrap_or("no reason given"),
            leaf.to_base64()
        ),
    }
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

/// The database name in a `postgres://…/dbname?…` URL.
fn pg_dbname(db: &Path) -> String {
    let url = db.to_string_lossy();
    let path = url.split_once("://").map_or(&*url, |(_, rest)| rest);
    let name = path.split_once('/').map_or("truce", |(_, name)| name);
    let name = name.split(['?', '#']).next().unwrap_or_default();
    if name.is_empty() { "truce".into() } else { name.to_string() }
}

/// Opens an existing store (never creating a GeoPackage by accident).
fn open_store(db: &Path) -> Result<Box<dyn Backend>> {
    if !truce_store::is_postgres(db) && !db.is_file() {
        bail!("{}: no such store", db.display());
    }
    Ok(truce_store::open(db)?)
}

fn print_checkpoint(db: &Path) -> Result<Outcome> {
    let store = open_store(db)?;
    let latest = store.latest_checkpoint()?.with_context(|| {
        format!(
            "{}: the log has signed no checkpoint yet (`truce ingest` signs one per batch)",
            db.display()
        )
    })?;
    print!("{}", latest.text);
    Ok(Outcome::Ok)
}

fn prove(db: &Path, seq: u64, old_size: Option<u64>) -> Result<Outcome> {
    let store = open_store(db)?;
    let doc = truce_server::proof::prove(&*store, &db.display().to_string(), seq, old_size)?;
    println!("{}", serde_json::to_string(&doc)?);
    Ok(Outcome::Ok)
}

fn verify(db: &Path, key: Option<&str>) -> Result<Outcome> {
    let key_file = default_key_path(db);
    let (key, key_source) = match key {
        Some(k) => (Some(parse_verifier_key(k)?), "given".to_string()),
        None if key_file.is_file() => (
            Some(read_signer_key(&key_file)?.verifier_key()),
            format!("of {}", key_file.display()),
        ),
        None => (None, String::new()),
    };
    let store = open_store(db)?;
    let summary = match store.audit(key.as_ref()) {
        Ok(summary) => summary,
        Err(AuditError::Mismatch {
            seq, differences, ..
        }) => {
            bail!(
                "{}: the log does not verify; first difference at seq {seq}:\n  {}",
                db.display(),
                differences.join("\n  ")
            )
        }
        Err(AuditError::Store(e)) => return Err(e.into()),
    };
    println!(
        "OK: {} entries; the tree recomputed from them has root {} and matches all {} stored log nodes",
        summary.entries,
        summary.root.to_base64(),
        summary.nodes
    );
    println!(
        "  {} observation rows and {} rejected-record rows match their entries",
        summary.observation_rows, summary.rejected_rows
    );
    match (
        &summary.signatures_checked_with,
        summary.latest_checkpoint_size,
    ) {
        (_, None) => println!("  no checkpoint signed yet"),
        (Some(k), Some(_)) => println!(
            "  {} checkpoints match the tree at their sizes; their signatures verify with the log key {key_source} ({k})",
            summary.checkpoints
        ),
        (None, Some(_)) => println!(
            "  {} checkpoints match the tree at their sizes; signatures NOT checked (no --key, and no {})",
            summary.checkpoints,
            key_file.display()
        ),
    }
    if let Some(size) = summary.latest_checkpoint_size
        && size < summary.entries
    {
        println!(
            "  {} entries after the latest checkpoint are not yet signed",
            summary.entries - size
        );
    }
    Ok(Outcome::Ok)
}

/// Entries per step of the export: 256 entry bundles, so that the store is read a slice at a
/// time and only tiles of tile level 2 and up are written more than once (partial, then full).
const EXPORT_STEP: u64 = 256 * 256;

fn export_tiles(db: &Path, out: &Path) -> Result<Outcome> {
    use truce_log::tiles::{TILE_HEIGHT, TILE_WIDTH, entry_bundle_path, tile_path};
    let store = open_store(db)?;
    let checkpoint = store.latest_checkpoint()?.with_context(|| {
        format!(
            "{}: the log has signed no checkpoint yet: nothing to publish",
            db.display()
        )
    })?;
    let size = checkpoint.size;
    let write = |path: &str, bytes: &[u8]| -> Result<()> {
        let file = out.join(path);
        std::fs::create_dir_all(file.parent().expect("a tile path has a directory"))
            .with_context(|| format!("cannot create the directory of {}", file.display()))?;
        std::fs::write(&file, bytes).with_context(|| format!("cannot write {}", file.display()))
    };
    // The partial tiles of the final size; partial tiles of the intermediate sizes are
    // superseded and removed.
    let mut wanted = std::collections::BTreeSet::new();
    for level in 0u8.. {
        let width = size
            .checked_shr(u32::from(level) * u32::from(TILE_HEIGHT))
            .unwrap_or(0);
        if width == 0 {
            break;
        }
        if width % TILE_WIDTH != 0 {
            wanted.insert(tile_path(level, width / TILE_WIDTH, width % TILE_WIDTH));
            if level == 0 {
                wanted.insert(entry_bundle_path(width / TILE_WIDTH, width % TILE_WIDTH));
            }
        }
    }
    let (mut files, mut superseded) = (0usize, Vec::new());
    let mut done = 0;
    while done < size {
        let next = (done + EXPORT_STEP).min(size);
        for tile in store.tiles(done, next)? {
            write(&tile.path, &tile.bytes)?;
            if tile.path.contains(".p/") && !wanted.contains(&tile.path) {
                superseded.push(tile.path);
            }
            files += 1;
        }
        done = next;
    }
    for path in superseded {
        std::fs::remove_file(out.join(&path))
            .with_context(|| format!("cannot remove {}", out.join(&path).display()))?;
        files -= 1;
    }
    // The tiles must rebuild the checkpoint's root before the checkpoint is published beside
    // them; it is written last, so a reader never finds a checkpoint without its tiles.
    let root = root_from_tiles(size, |path: &str| {
        std::fs::read(out.join(path)).map_err(|e| e.to_string())
    })
    .map_err(|e| anyhow::anyhow!("{}: the exported tiles are unreadable: {e}", out.display()))?;
    if root != checkpoint.root {
        bail!(
            "{}: the store's tree gives root {} at size {size} but its checkpoint {} says {}; run `truce log verify --db {}`",
            db.display(),
            root.to_base64(),
            checkpoint.id,
            checkpoint.root.to_base64(),
            db.display()
        );
    }
    write("checkpoint", checkpoint.text.as_bytes())?;
    println!(
        "wrote {} tiles and entry bundles and the checkpoint ({} entries, root {}) to {}",
        files,
        size,
        checkpoint.root.to_base64(),
        out.display()
    );
    Ok(Outcome::Ok)
}
