//! C2SP `tlog-tiles`: the tree and its entries as static files.
//!
//! * `tile/<L>/<N>[.p/<W>]` — tile `N` at tile level `L`: up to 256
//!   consecutive hashes of Merkle level `8·L` (leaf hashes at `L = 0`),
//!   32 bytes each. A tile of 256 hashes is full; a partial tile of `W`
//!   hashes (1–255) gets the `.p/<W>` suffix.
//! * `tile/entries/<N>[.p/<W>]` — entry bundle `N`: the entries whose leaf
//!   hashes are in level-0 tile `N`, each as a big-endian `u16` length
//!   followed by the entry bytes.
//!
//! `N` is written in 3-digit groups, all but the last prefixed with `x`:
//! 1234067 is `x001/x234/067`.
//!
//! [`TileReader`] turns a set of tiles back into a [`HashReader`], so roots
//! and proofs can be computed from the files alone.

use std::fmt;

use crate::hash::{HASH_SIZE_BYTES, Hash, leaf_hash, node_hash};
use crate::proof::{node_inclusion_proof, root_from_inclusion_proof};
use crate::tree::{HashReader, fold_right_edge, right_edge, tree_root};

/// Height of a tile in tree levels: a tile holds `2^8 = 256` hashes
/// (C2SP tlog-tiles fixes this).
pub const TILE_HEIGHT: u8 = 8;

/// Number of hashes in a full tile, and of entries in a full entry bundle.
pub const TILE_WIDTH: u64 = 1 << TILE_HEIGHT;

/// Largest entry an entry bundle can hold: its length prefix is a `u16`.
pub const MAX_ENTRY_SIZE_BYTES: usize = u16::MAX as usize;

/// A file of a tiled log: its path relative to the log prefix, and contents.
#[derive(Clone, PartialEq, Eq)]
pub struct TileFile {
    /// Path such as `tile/0/x001/234` or `tile/entries/000.p/7`.
    pub path: String,
    /// File contents.
    pub bytes: Vec<u8>,
}

impl fmt::Debug for TileFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TileFile({}, {} bytes)", self.path, self.bytes.len())
    }
}

/// Encodes a tile index as zero-padded 3-digit path elements, all but the
/// last prefixed with `x`: `1234067` → `x001/x234/067`.
pub fn encode_tile_index(index: u64) -> String {
    let mut groups = vec![index % 1000];
    let mut rest = index / 1000;
    while rest > 0 {
        groups.push(rest % 1000);
        rest /= 1000;
    }
    let last = groups.len() - 1;
    groups
        .iter()
        .rev()
        .enumerate()
        .map(|(position, group)| {
            if position == last {
                format!("{group:03}")
            } else {
                format!("x{group:03}")
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn width_suffix(width: u64) -> String {
    debug_assert!((1..=TILE_WIDTH).contains(&width), "tile width {width}");
    if width == TILE_WIDTH {
        String::new()
    } else {
        format!(".p/{width}")
    }
}

/// Path of hash tile `index` at tile level `tile_level` holding `width`
/// hashes (256 for a full tile).
pub fn tile_path(tile_level: u8, index: u64, width: u64) -> String {
    format!(
        "tile/{tile_level}/{}{}",
        encode_tile_index(index),
        width_suffix(width)
    )
}

/// Path of entry bundle `index` holding `width` entries (256 when full).
pub fn entry_bundle_path(index: u64, width: u64) -> String {
    format!(
        "tile/entries/{}{}",
        encode_tile_index(index),
        width_suffix(width)
    )
}

/// Number of hashes at tile level `tile_level` in a tree of `size` leaves:
/// the complete nodes of Merkle level `8·tile_level`.
fn level_width(size: u64, tile_level: u8) -> u64 {
    size.checked_shr(u32::from(tile_level) * u32::from(TILE_HEIGHT))
        .unwrap_or(0)
}

/// Index of the first entry that [`tiles_for_update`] needs when the tree
/// grows from `old_size`: the start of the entry bundle that was partial at
/// `old_size`.
pub fn first_entry_needed(old_size: u64) -> u64 {
    old_size - old_size % TILE_WIDTH
}

/// Tiles could not be produced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TileError<E> {
    /// The old size is larger than the new size.
    #[error("old tree size {old_size} is larger than new tree size {new_size}")]
    SizesOutOfOrder {
        /// Old tree size.
        old_size: u64,
        /// New tree size.
        new_size: u64,
    },
    /// The number of entries given does not cover the needed range.
    #[error(
        "expected {expected} entries (from index {first_index} up to the new size), got {actual}"
    )]
    WrongEntryCount {
        /// Index of the first entry needed.
        first_index: u64,
        /// Entries needed.
        expected: u64,
        /// Entries given.
        actual: usize,
    },
    /// An entry is too long for the `u16` length prefix of entry bundles.
    #[error(
        "entry {index} is {length_bytes} bytes, more than the {MAX_ENTRY_SIZE_BYTES} an entry bundle can hold"
    )]
    EntryTooLarge {
        /// Index of the entry.
        index: u64,
        /// Its length.
        length_bytes: usize,
    },
    /// An entry does not hash to the stored leaf hash at its index.
    #[error("entry {index} does not hash to the stored leaf hash at that index")]
    EntryHashMismatch {
        /// Index of the entry.
        index: u64,
    },
    /// The hash store failed.
    #[error("could not read a stored tree hash: {0}")]
    Read(E),
}

/// Encodes entries as an entry bundle: each as a big-endian `u16` length and
/// the entry bytes. `first_index` is only used in error messages.
fn encode_entry_bundle<E: AsRef<[u8]>, R>(
    first_index: u64,
    entries: &[E],
) -> Result<Vec<u8>, TileError<R>> {
    let mut bundle = Vec::new();
    for (index, entry) in (first_index..).zip(entries) {
        let entry = entry.as_ref();
        let length = u16::try_from(entry.len()).map_err(|_| TileError::EntryTooLarge {
            index,
            length_bytes: entry.len(),
        })?;
        bundle.extend_from_slice(&length.to_be_bytes());
        bundle.extend_from_slice(entry);
    }
    Ok(bundle)
}

/// An entry bundle's bytes are not a sequence of length-prefixed entries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("entry bundle is truncated: entry starting at byte {offset_bytes} runs past the end")]
pub struct BundleError {
    /// Offset of the entry whose length prefix or body is cut off.
    pub offset_bytes: usize,
}

/// Splits an entry bundle into its entries.
pub fn decode_entry_bundle(bundle: &[u8]) -> Result<Vec<&[u8]>, BundleError> {
    let mut entries = Vec::new();
    let mut offset_bytes = 0;
    while offset_bytes < bundle.len() {
        let truncated = BundleError { offset_bytes };
        let length_bytes = bundle
            .get(offset_bytes..offset_bytes + 2)
            .ok_or(truncated.clone())?;
        let length = usize::from(u16::from_be_bytes([length_bytes[0], length_bytes[1]]));
        let start = offset_bytes + 2;
        entries.push(bundle.get(start..start + length).ok_or(truncated)?);
        offset_bytes = start + length;
    }
    Ok(entries)
}

/// The tiles and entry bundles that appear or change when the tree grows from
/// `old_size` to `new_size` leaves: new full tiles and the partial tiles at
/// `new_size`. With `old_size = 0` this is the whole tiled log.
///
/// `entries` are the entries with indexes
/// [`first_entry_needed(old_size)`](first_entry_needed)`..new_size`; each is
/// checked against the stored leaf hash.
pub fn tiles_for_update<R: HashReader, E: AsRef<[u8]>>(
    reader: &R,
    old_size: u64,
    new_size: u64,
    entries: &[E],
) -> Result<Vec<TileFile>, TileError<R::Error>> {
    if old_size > new_size {
        return Err(TileError::SizesOutOfOrder { old_size, new_size });
    }
    let first_index = first_entry_needed(old_size);
    if entries.len() as u64 != new_size - first_index {
        return Err(TileError::WrongEntryCount {
            first_index,
            expected: new_size - first_index,
            actual: entries.len(),
        });
    }
    let mut files = Vec::new();
    for tile_level in 0u8.. {
        let old_width = level_width(old_size, tile_level);
        let new_width = level_width(new_size, tile_level);
        if new_width == old_width {
            // Nothing changed at this level, so nothing above it changed.
            break;
        }
        for tile_index in old_width / TILE_WIDTH..new_width.div_ceil(TILE_WIDTH) {
            let start = tile_index * TILE_WIDTH;
            let width = (new_width - start).min(TILE_WIDTH);
            let merkle_level = tile_level * TILE_HEIGHT;
            let mut bytes = Vec::with_capacity(width as usize * HASH_SIZE_BYTES);
            for node_index in start..start + width {
                let hash = reader
                    .node(merkle_level, node_index)
                    .map_err(TileError::Read)?;
                bytes.extend_from_slice(hash.as_bytes());
            }
            files.push(TileFile {
                path: tile_path(tile_level, tile_index, width),
                bytes,
            });
            if tile_level == 0 {
                let bundle_entries = &entries[(start - first_index) as usize..][..width as usize];
                for (index, entry) in (start..).zip(bundle_entries) {
                    let stored = reader.node(0, index).map_err(TileError::Read)?;
                    if leaf_hash(entry.as_ref()) != stored {
                        return Err(TileError::EntryHashMismatch { index });
                    }
                }
                files.push(TileFile {
                    path: entry_bundle_path(tile_index, width),
                    bytes: encode_entry_bundle(start, bundle_entries)?,
                });
            }
        }
    }
    Ok(files)
}

/// Reading the tree from tiles failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TileReadError<E> {
    /// The node is not complete in the tree the tiles describe.
    #[error("node at level {level}, index {index} is not complete in a tree of size {tree_size}")]
    NodeBeyondTree {
        /// Requested level.
        level: u8,
        /// Requested index.
        index: u64,
        /// Size of the tiled tree.
        tree_size: u64,
    },
    /// Fetching a file failed.
    #[error("could not fetch {path}: {reason}")]
    Fetch {
        /// Path of the file.
        path: String,
        /// The fetcher's error.
        reason: E,
    },
    /// A tile does not have the length its path implies.
    #[error("tile {path} is {actual_bytes} bytes, expected {expected_bytes}")]
    WrongTileLength {
        /// Path of the tile.
        path: String,
        /// Length implied by the tile width.
        expected_bytes: usize,
        /// Length found.
        actual_bytes: usize,
    },
    /// An entry bundle is malformed.
    #[error("entry bundle {path} is malformed: {reason}")]
    MalformedBundle {
        /// Path of the bundle.
        path: String,
        /// What is wrong.
        reason: BundleError,
    },
    /// An entry bundle does not hold the number of entries its path implies.
    #[error("entry bundle {path} holds {actual} entries, expected {expected}")]
    WrongBundleLength {
        /// Path of the bundle.
        path: String,
        /// Entries implied by the bundle width.
        expected: u64,
        /// Entries found.
        actual: usize,
    },
    /// An entry does not hash to its leaf hash in the level-0 tile.
    #[error("entry {index} in the bundle does not match its leaf hash in the level-0 tile")]
    EntryHashMismatch {
        /// Index of the entry.
        index: u64,
    },
    /// A tile's hashes do not lead to the trusted root.
    #[error("tile {path} is not part of the tree with root {root}")]
    TileNotInTree {
        /// Path of the tile.
        path: String,
        /// The trusted root it was checked against.
        root: Hash,
    },
}

/// Root of the perfect subtree whose leaves are `hashes` (a power of two of
/// them), combining neighbours level by level.
fn fold_perfect(hashes: &[Hash]) -> Hash {
    debug_assert!(hashes.len().is_power_of_two());
    let mut level: Vec<Hash> = hashes.to_vec();
    while level.len() > 1 {
        level = level
            .chunks_exact(2)
            .map(|pair| node_hash(&pair[0], &pair[1]))
            .collect();
    }
    level[0]
}

fn tile_hashes(bytes: &[u8]) -> Vec<Hash> {
    bytes
        .chunks_exact(HASH_SIZE_BYTES)
        .map(|chunk| Hash::from_slice(chunk).expect("chunks are hash sized"))
        .collect()
}

/// A [`HashReader`] over the tiles of a tree of `tree_size` leaves, fetched
/// by path through `fetch` (from a directory, an HTTP cache, a map, …).
///
/// Every tile is read at the width it has at `tree_size`, so the tiles of one
/// checkpoint suffice to compute roots and proofs for any size up to it.
///
/// The hashes it returns are only as trustworthy as the files. That is
/// enough for proofs — verifying a proof against a root from a signed
/// checkpoint authenticates it — and [`TileReader::entries`] authenticates
/// entries against such a root itself.
pub struct TileReader<F> {
    tree_size: u64,
    fetch: F,
}

impl<F, E> TileReader<F>
where
    F: Fn(&str) -> Result<Vec<u8>, E>,
{
    /// A reader of the tiles of a tree of `tree_size` leaves.
    pub fn new(tree_size: u64, fetch: F) -> Self {
        Self { tree_size, fetch }
    }

    /// Size of the tree the tiles describe.
    pub fn tree_size(&self) -> u64 {
        self.tree_size
    }

    fn fetch_file(&self, path: String) -> Result<Vec<u8>, TileReadError<E>> {
        (self.fetch)(&path).map_err(|reason| TileReadError::Fetch { path, reason })
    }

    /// Fetches hash tile `tile_index` at `tile_level` at its width for the
    /// tree size, checking its length.
    fn fetch_tile(&self, tile_level: u8, tile_index: u64) -> Result<Vec<u8>, TileReadError<E>> {
        let width =
            (level_width(self.tree_size, tile_level) - tile_index * TILE_WIDTH).min(TILE_WIDTH);
        let path = tile_path(tile_level, tile_index, width);
        let bytes = self.fetch_file(path.clone())?;
        let expected_bytes = width as usize * HASH_SIZE_BYTES;
        if bytes.len() != expected_bytes {
            return Err(TileReadError::WrongTileLength {
                path,
                expected_bytes,
                actual_bytes: bytes.len(),
            });
        }
        Ok(bytes)
    }

    /// Fetches entry bundle `bundle_index` and returns its entries, having
    /// checked that the matching level-0 tile belongs to the tree with the
    /// trusted `root` (e.g. from a verified checkpoint of `tree_size`) and that
    /// every entry hashes to its leaf hash in that tile.
    pub fn entries(&self, bundle_index: u64, root: &Hash) -> Result<Vec<Vec<u8>>, TileReadError<E>>
    where
        E: fmt::Display + fmt::Debug + Send + Sync + 'static,
    {
        let start = bundle_index.saturating_mul(TILE_WIDTH);
        if start >= self.tree_size {
            return Err(TileReadError::NodeBeyondTree {
                level: 0,
                index: start,
                tree_size: self.tree_size,
            });
        }
        let width = (self.tree_size - start).min(TILE_WIDTH);
        let leaf_tile = self.fetch_tile(0, bundle_index)?;
        self.authenticate_leaf_tile(bundle_index, &tile_hashes(&leaf_tile), root)?;
        let path = entry_bundle_path(bundle_index, width);
        let bundle = self.fetch_file(path.clone())?;
        let entries =
            decode_entry_bundle(&bundle).map_err(|reason| TileReadError::MalformedBundle {
                path: path.clone(),
                reason,
            })?;
        if entries.len() as u64 != width {
            return Err(TileReadError::WrongBundleLength {
                path,
                expected: width,
                actual: entries.len(),
            });
        }
        for ((index, entry), stored) in (start..)
            .zip(&entries)
            .zip(leaf_tile.chunks_exact(HASH_SIZE_BYTES))
        {
            if leaf_hash(entry).as_bytes() != stored {
                return Err(TileReadError::EntryHashMismatch { index });
            }
        }
        Ok(entries.into_iter().map(<[u8]>::to_vec).collect())
    }

    /// Checks that the leaf hashes of level-0 tile `tile_index` belong to the
    /// tree with `root`, using only the hashes in hand for the tile itself:
    ///
    /// * a full tile folds into node `(8, tile_index)`, whose inclusion proof
    ///   (read from other tiles) must lead to `root`;
    /// * a partial tile holds exactly the right-edge subtrees below level 8,
    ///   which with the right-edge nodes above (read from other tiles) must
    ///   fold into `root`.
    fn authenticate_leaf_tile(
        &self,
        tile_index: u64,
        leaf_hashes: &[Hash],
        root: &Hash,
    ) -> Result<(), TileReadError<E>>
    where
        E: fmt::Display + fmt::Debug + Send + Sync + 'static,
    {
        let width = leaf_hashes.len() as u64;
        let computed = if width == TILE_WIDTH {
            let node = fold_perfect(leaf_hashes);
            let proof = node_inclusion_proof(self, TILE_HEIGHT, tile_index, self.tree_size)?;
            let node_tree_size = ((self.tree_size - 1) >> TILE_HEIGHT) + 1;
            root_from_inclusion_proof(&node, tile_index, node_tree_size, &proof).ok()
        } else {
            let tile_start = tile_index * TILE_WIDTH;
            let subtree_roots = right_edge(self.tree_size)
                .map(|(level, index)| {
                    if level >= TILE_HEIGHT {
                        return self.node(level, index);
                    }
                    let offset = ((index << level) - tile_start) as usize;
                    Ok(fold_perfect(&leaf_hashes[offset..offset + (1 << level)]))
                })
                .collect::<Result<Vec<_>, _>>()?;
            Some(fold_right_edge(&subtree_roots))
        };
        if computed == Some(*root) {
            Ok(())
        } else {
            Err(TileReadError::TileNotInTree {
                path: tile_path(0, tile_index, width),
                root: *root,
            })
        }
    }
}

impl<F, E> HashReader for TileReader<F>
where
    F: Fn(&str) -> Result<Vec<u8>, E>,
    E: fmt::Display + fmt::Debug + Send + Sync + 'static,
{
    type Error = TileReadError<E>;

    fn node(&self, level: u8, index: u64) -> Result<Hash, Self::Error> {
        let beyond = TileReadError::NodeBeyondTree {
            level,
            index,
            tree_size: self.tree_size,
        };
        let end = index
            .checked_add(1)
            .and_then(|end| end.checked_mul(1u64.checked_shl(u32::from(level))?));
        if end.is_none_or(|end| end > self.tree_size) {
            return Err(beyond);
        }
        let tile_level = level / TILE_HEIGHT;
        let height_in_tile = level % TILE_HEIGHT;
        // The node covers 2^height_in_tile consecutive hashes of the tile level.
        let first = index << height_in_tile;
        let tile_index = first / TILE_WIDTH;
        let offset = (first % TILE_WIDTH) as usize;
        let count = 1usize << height_in_tile;
        let bytes = self.fetch_tile(tile_level, tile_index)?;
        let covered = &bytes[offset * HASH_SIZE_BYTES..(offset + count) * HASH_SIZE_BYTES];
        Ok(fold_perfect(&tile_hashes(covered)))
    }
}

/// Root hash of the tree of `tree_size` leaves, computed from its tiles only
/// (one node read per set bit of `tree_size`). Comparing it with the root of
/// a verified checkpoint authenticates the tiles' right edge.
pub fn root_from_tiles<F, E>(tree_size: u64, fetch: F) -> Result<Hash, TileReadError<E>>
where
    F: Fn(&str) -> Result<Vec<u8>, E>,
    E: fmt::Display + fmt::Debug + Send + Sync + 'static,
{
    tree_root(&TileReader::new(tree_size, fetch), tree_size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_index_encoding_matches_c2sp_examples() {
        assert_eq!(encode_tile_index(0), "000");
        assert_eq!(encode_tile_index(7), "007");
        assert_eq!(encode_tile_index(999), "999");
        assert_eq!(encode_tile_index(1000), "x001/000");
        assert_eq!(encode_tile_index(1_234_067), "x001/x234/067");
        assert_eq!(
            encode_tile_index(u64::MAX),
            "x018/x446/x744/x073/x709/x551/615"
        );
    }

    #[test]
    fn paths_mark_partial_tiles() {
        assert_eq!(tile_path(0, 1_234_067, 256), "tile/0/x001/x234/067");
        assert_eq!(tile_path(2, 5, 17), "tile/2/005.p/17");
        assert_eq!(entry_bundle_path(1000, 1), "tile/entries/x001/000.p/1");
        assert_eq!(entry_bundle_path(3, 256), "tile/entries/003");
    }

    #[test]
    fn entry_bundles_round_trip_and_detect_truncation() {
        let entries: Vec<Vec<u8>> = vec![vec![], vec![1], vec![2; 300]];
        let bundle = encode_entry_bundle::<_, ()>(0, &entries).unwrap();
        assert_eq!(&bundle[..4], &[0, 0, 0, 1]);
        assert_eq!(decode_entry_bundle(&bundle).unwrap(), entries);
        assert_eq!(
            decode_entry_bundle(&bundle[..bundle.len() - 1]),
            Err(BundleError { offset_bytes: 5 })
        );
        assert_eq!(
            decode_entry_bundle(&[0]),
            Err(BundleError { offset_bytes: 0 })
        );
        let too_large = vec![vec![0u8; MAX_ENTRY_SIZE_BYTES + 1]];
        assert_eq!(
            encode_entry_bundle::<_, ()>(9, &too_large),
            Err(TileError::EntryTooLarge {
                index: 9,
                length_bytes: MAX_ENTRY_SIZE_BYTES + 1
            })
        );
    }
}
