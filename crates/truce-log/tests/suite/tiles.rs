//! C2SP tlog-tiles export, and rebuilding roots, proofs and entries from the
//! tiles alone.

use std::collections::HashMap;
use std::path::Path;

use truce_log::tiles::{TileError, TileReadError, first_entry_needed};
use truce_log::{
    HashReader, MemoryLog, TileFile, TileReader, consistency_proof, inclusion_proof,
    root_from_tiles, tiles_for_update,
};

fn entry(i: u64) -> Vec<u8> {
    format!("{{\"observation\":{i}}}").into_bytes()
}

fn log_and_entries(size: u64) -> (MemoryLog, Vec<Vec<u8>>) {
    let entries: Vec<Vec<u8>> = (0..size).map(entry).collect();
    let mut log = MemoryLog::new();
    for e in &entries {
        log.append_entry(e);
    }
    (log, entries)
}

type Files = HashMap<String, Vec<u8>>;

fn store(files: &mut Files, tiles: Vec<TileFile>) {
    for tile in tiles {
        files.insert(tile.path, tile.bytes);
    }
}

fn fetcher(files: &Files) -> impl Fn(&str) -> Result<Vec<u8>, String> + '_ {
    |path| {
        files
            .get(path)
            .cloned()
            .ok_or_else(|| format!("{path} not found"))
    }
}

#[test]
fn full_export_rebuilds_every_root() {
    for size in [
        0u64, 1, 2, 255, 256, 257, 511, 512, 513, 1000, 65_536, 65_537,
    ] {
        let (log, entries) = log_and_entries(size);
        let mut files = Files::new();
        store(
            &mut files,
            tiles_for_update(&log, 0, size, &entries).unwrap(),
        );
        assert_eq!(
            root_from_tiles(size, fetcher(&files)).unwrap(),
            log.root(),
            "size {size}"
        );
    }
}

#[test]
fn tree_of_70000_has_the_c2sp_tile_layout() {
    let (log, entries) = log_and_entries(70_000);
    let files = tiles_for_update(&log, 0, 70_000, &entries).unwrap();
    let count = |prefix: &str, partial: bool| {
        files
            .iter()
            .filter(|f| f.path.starts_with(prefix) && f.path.contains(".p/") == partial)
            .count()
    };
    assert_eq!(count("tile/0/", false), 273);
    assert_eq!(count("tile/1/", false), 1);
    assert_eq!(count("tile/2/", false), 0);
    assert_eq!(count("tile/entries/", false), 273);
    let partials: Vec<&str> = files
        .iter()
        .filter(|f| f.path.contains(".p/"))
        .map(|f| f.path.as_str())
        .collect();
    assert_eq!(
        partials,
        vec![
            "tile/0/273.p/112",
            "tile/entries/273.p/112",
            "tile/1/001.p/17",
            "tile/2/000.p/1"
        ]
    );
    assert!(files.iter().any(|f| f.path == "tile/0/272"));
    assert!(files.iter().all(|f| !f.path.starts_with("tile/3/")));
    for file in files
        .iter()
        .filter(|f| !f.path.starts_with("tile/entries/"))
    {
        let width = file
            .path
            .split_once(".p/")
            .map_or(256, |(_, w)| w.parse::<usize>().unwrap());
        assert_eq!(file.bytes.len(), 32 * width, "{}", file.path);
    }
}

#[test]
fn incremental_exports_add_up_to_the_full_export() {
    let sizes = [0u64, 1, 100, 256, 300, 600, 65_536, 66_000, 66_001];
    let final_size = *sizes.last().unwrap();
    let (log, entries) = log_and_entries(final_size);
    let mut files = Files::new();
    for window in sizes.windows(2) {
        let (old, new) = (window[0], window[1]);
        let needed = &entries[first_entry_needed(old) as usize..new as usize];
        let update = tiles_for_update(&log, old, new, needed).unwrap();
        // Only the partial tile at the old size may be rewritten; full tiles
        // are written once.
        for tile in &update {
            if let Some(existing) = files.get(&tile.path) {
                assert_eq!(existing, &tile.bytes, "{} changed", tile.path);
            }
        }
        store(&mut files, update);
        assert_eq!(
            root_from_tiles(new, fetcher(&files)).unwrap(),
            log.root_at(new).unwrap(),
            "size {new}"
        );
    }
    let full = tiles_for_update(&log, 0, final_size, &entries).unwrap();
    for tile in full {
        assert_eq!(files.get(&tile.path), Some(&tile.bytes), "{}", tile.path);
    }
    assert!(
        tiles_for_update(
            &log,
            final_size,
            final_size,
            &entries[first_entry_needed(final_size) as usize..]
        )
        .unwrap()
        .is_empty()
    );
}

#[test]
fn proofs_from_tiles_equal_proofs_from_the_store() {
    let size = 2 * 65_536 + 777;
    let (log, entries) = log_and_entries(size);
    let mut files = Files::new();
    store(
        &mut files,
        tiles_for_update(&log, 0, size, &entries).unwrap(),
    );
    let tiles = TileReader::new(size, fetcher(&files));
    for probe in 0..200u64 {
        let index = probe.wrapping_mul(0x9e37_79b9_7f4a_7c15) % size;
        let past_size = index + 1 + probe * 997 % (size - index);
        assert_eq!(
            inclusion_proof(&tiles, index, past_size).unwrap(),
            log.inclusion_proof(index, past_size).unwrap()
        );
        assert_eq!(
            consistency_proof(&tiles, index + 1, past_size).unwrap(),
            log.consistency_proof(index + 1, past_size).unwrap()
        );
    }
    for (level, index) in [(0, 0), (7, 3), (8, 0), (8, 514), (16, 1), (9, 256)] {
        assert_eq!(
            tiles.node(level, index).unwrap(),
            log.node(level, index).unwrap(),
            "({level}, {index})"
        );
    }
    assert!(matches!(
        tiles.node(17, 1),
        Err(TileReadError::NodeBeyondTree {
            level: 17,
            index: 1,
            ..
        })
    ));
    assert!(matches!(
        tiles.node(0, size),
        Err(TileReadError::NodeBeyondTree { .. })
    ));
}

#[test]
fn entries_are_read_back_and_checked_against_leaf_hashes() {
    let size = 600;
    let (log, entries) = log_and_entries(size);
    let mut files = Files::new();
    store(
        &mut files,
        tiles_for_update(&log, 0, size, &entries).unwrap(),
    );
    let tiles = TileReader::new(size, fetcher(&files));
    let mut read_back = Vec::new();
    for bundle in 0..3 {
        read_back.extend(tiles.entries(bundle, &log.root()).unwrap());
    }
    assert_eq!(read_back, entries);
    assert!(matches!(
        tiles.entries(3, &log.root()),
        Err(TileReadError::NodeBeyondTree { .. })
    ));

    // Altering an entry in its bundle is caught against the level-0 tile.
    let mut tampered = files.clone();
    let bundle = tampered.get_mut("tile/entries/001").unwrap();
    let last = bundle.len() - 1;
    bundle[last] ^= 1;
    assert_eq!(
        TileReader::new(size, fetcher(&tampered))
            .entries(1, &log.root())
            .unwrap_err(),
        TileReadError::EntryHashMismatch { index: 511 }
    );
    // Dropping an entry is caught too.
    let mut short = files.clone();
    let bundle = short.get_mut("tile/entries/002.p/88").unwrap();
    let first_length = usize::from(u16::from_be_bytes([bundle[0], bundle[1]]));
    bundle.drain(..2 + first_length);
    assert!(matches!(
        TileReader::new(size, fetcher(&short)).entries(2, &log.root()),
        Err(TileReadError::WrongBundleLength {
            expected: 88,
            actual: 87,
            ..
        })
    ));
}

#[test]
fn damaged_or_missing_tiles_are_reported() {
    let size = 300;
    let (log, entries) = log_and_entries(size);
    let mut files = Files::new();
    store(
        &mut files,
        tiles_for_update(&log, 0, size, &entries).unwrap(),
    );

    // The root of 300 leaves folds node (8, 0) from the level-1 tile and the
    // partial level-0 tile; damage to either changes it.
    for path in ["tile/1/000.p/1", "tile/0/001.p/44"] {
        let mut flipped = files.clone();
        flipped.get_mut(path).unwrap()[5] ^= 1;
        assert_ne!(
            root_from_tiles(size, fetcher(&flipped)).unwrap(),
            log.root(),
            "{path}"
        );
    }
    // A full level-0 tile is not read for the root, but reading its entries
    // authenticates it, even when the bundle was altered to match it.
    let mut rewritten = files.clone();
    let fake_entry = b"{\"observation\":\"forged\"}";
    let mut fake_bundle = Vec::new();
    for i in 0..256u64 {
        let e = if i == 9 {
            fake_entry.to_vec()
        } else {
            entry(i)
        };
        fake_bundle.extend_from_slice(&(e.len() as u16).to_be_bytes());
        fake_bundle.extend_from_slice(&e);
    }
    rewritten.insert("tile/entries/000".into(), fake_bundle);
    rewritten.get_mut("tile/0/000").unwrap()[9 * 32..10 * 32]
        .copy_from_slice(truce_log::leaf_hash(fake_entry).as_bytes());
    assert_eq!(
        root_from_tiles(size, fetcher(&rewritten)).unwrap(),
        log.root(),
        "the forgery does not touch the right edge"
    );
    assert_eq!(
        TileReader::new(size, fetcher(&rewritten))
            .entries(0, &log.root())
            .unwrap_err(),
        TileReadError::TileNotInTree {
            path: "tile/0/000".into(),
            root: log.root()
        }
    );
    // The same for a partial level-0 tile, checked against another root.
    assert!(matches!(
        TileReader::new(size, fetcher(&files)).entries(1, &log.root_at(299).unwrap()),
        Err(TileReadError::TileNotInTree { .. })
    ));

    let mut truncated = files.clone();
    truncated.get_mut("tile/0/001.p/44").unwrap().pop();
    assert_eq!(
        root_from_tiles(size, fetcher(&truncated)).unwrap_err(),
        TileReadError::WrongTileLength {
            path: "tile/0/001.p/44".into(),
            expected_bytes: 44 * 32,
            actual_bytes: 44 * 32 - 1
        }
    );

    let mut missing = files.clone();
    missing.remove("tile/1/000.p/1");
    let error = root_from_tiles(size, fetcher(&missing)).unwrap_err();
    assert_eq!(
        error.to_string(),
        "could not fetch tile/1/000.p/1: tile/1/000.p/1 not found"
    );
}

#[test]
fn export_rejects_inconsistent_input() {
    let (log, entries) = log_and_entries(10);
    assert_eq!(
        tiles_for_update(&log, 0, 10, &entries[..9]),
        Err(TileError::WrongEntryCount {
            first_index: 0,
            expected: 10,
            actual: 9
        })
    );
    let mut swapped = entries.clone();
    swapped.swap(3, 4);
    assert_eq!(
        tiles_for_update(&log, 0, 10, &swapped),
        Err(TileError::EntryHashMismatch { index: 3 })
    );
    assert_eq!(
        tiles_for_update(&log, 11, 10, &entries),
        Err(TileError::SizesOutOfOrder {
            old_size: 11,
            new_size: 10
        })
    );
    assert!(matches!(
        tiles_for_update(&log, 0, 11, &(0..11).map(entry).collect::<Vec<_>>()),
        Err(TileError::Read(_))
    ));
}

fn write_tree(dir: &Path, files: &[TileFile]) {
    for file in files {
        let path = dir.join(&file.path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, &file.bytes).unwrap();
    }
}

#[test]
fn a_log_exported_to_disk_verifies_from_the_files_alone() {
    let size = 1_234;
    let (log, entries) = log_and_entries(size);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("truce-log-tiles-export");
    let _ = std::fs::remove_dir_all(&dir);
    write_tree(&dir, &tiles_for_update(&log, 0, size, &entries).unwrap());

    let read = |path: &str| std::fs::read(dir.join(path));
    let tiles = TileReader::new(size, read);
    assert_eq!(truce_log::tree_root(&tiles, size).unwrap(), log.root());
    let mut all_entries = Vec::new();
    for bundle in 0..size.div_ceil(256) {
        all_entries.extend(tiles.entries(bundle, &log.root()).unwrap());
    }
    assert_eq!(all_entries, entries);
    std::fs::remove_dir_all(&dir).unwrap();
}
