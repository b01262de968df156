//! The server's modules import each other one way only (ARCHITECTURE.md, `truce-server`):
//! read from the sources, every `crate::module` a file names, and no module may reach itself.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// `crate::x` and `crate::api::y` names in `src`, comments left out.
fn imports(src: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in src.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            rest = &rest[i + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            let after = &rest[name.len()..];
            let sub: String = after
                .strip_prefix("::")
                .unwrap_or("")
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            if name == "api" && !sub.is_empty() && sub != "routes" {
                out.insert(format!("api::{sub}"));
            } else {
                out.insert(name);
            }
        }
    }
    out
}

fn modules(dir: &Path, prefix: &str, out: &mut BTreeMap<String, BTreeSet<String>>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let stem = path.file_stem().unwrap().to_str().unwrap().to_string();
        if path.is_dir() {
            modules(&path, &format!("{prefix}{stem}::"), out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let name = match (prefix, stem.as_str()) {
                (p, "mod") => p.trim_end_matches("::").to_string(),
                (p, s) => format!("{p}{s}"),
            };
            let mut deps = imports(&std::fs::read_to_string(&path).unwrap());
            deps.remove(&name);
            out.insert(name, deps);
        }
    }
}

/// A path from `from` back to `to`, if there is one.
fn path_to(
    graph: &BTreeMap<String, BTreeSet<String>>,
    from: &str,
    to: &str,
    seen: &mut BTreeSet<String>,
) -> Option<Vec<String>> {
    for d in graph.get(from).into_iter().flatten() {
        if d == to {
            return Some(vec![d.clone()]);
        }
        if seen.insert(d.clone())
            && let Some(mut p) = path_to(graph, d, to, seen)
        {
            p.insert(0, d.clone());
            return Some(p);
        }
    }
    None
}

#[test]
fn no_module_imports_itself_through_others() {
    let mut graph = BTreeMap::new();
    modules(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        "",
        &mut graph,
    );
    assert!(graph.contains_key("state") && graph.contains_key("api::incidents"));
    assert!(
        graph["error"].is_empty(),
        "error sits below everything: {:?}",
        graph["error"]
    );
    for (m, deps) in &graph {
        for d in deps {
            if let Some(back) = path_to(&graph, d, m, &mut BTreeSet::new()) {
                panic!("{m} → {d} → {}: an import circle", back.join(" → "));
            }
        }
    }
}

#[test]
fn the_reader_finds_imports_and_skips_comments() {
    let got = imports(
        "use crate::state::Shared;\n// crate::app is not an import\nlet x = crate::api::incidents::f();",
    );
    assert_eq!(
        got.into_iter().collect::<Vec<_>>(),
        ["api::incidents", "state"]
    );
}
