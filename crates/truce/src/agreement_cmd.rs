//! `truce agreement check|canonical FILE`: load the terms, report every problem, or summarise.

use std::path::Path;

use anyhow::{Result, bail};
use clap::Subcommand;
use truce_core::agreement::{Agreement, ZoneExtent, to_multipolygon};
use truce_geo::{AreaIndex, LineIndex};

use crate::Outcome;

#[derive(Subcommand)]
pub enum AgreementCommand {
    /// Check an agreement.toml and its geometry; print a summary, or every error with its place.
    Check { file: String },
    /// Print the canonical JSON the agreement hash is computed over.
    Canonical { file: String },
}

/// Loads an agreement from disk, printing every diagnostic to stderr on failure.
pub fn load(file: &str) -> Result<Agreement> {
    let text = match std::fs::read(file) {
        Ok(bytes) => {
            String::from_utf8(bytes).map_err(|e| anyhow::anyhow!("{file}: not UTF-8 text: {e}"))?
        }
        Err(e) => bail!("cannot read agreement {file}: {e}"),
    };
    let dir = Path::new(file)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let mut resolve = |rel: &str| std::fs::read(dir.join(rel)).map_err(|e| e.to_string());
    match truce_core::agreement::load(file, &text, &mut resolve) {
        Ok(a) => Ok(a),
        Err(diags) => {
            for d in &diags {
                eprintln!("{d}");
            }
            let n = diags.len();
            bail!(
                "{file}: {n} error{} in the agreement",
                if n == 1 { "" } else { "s" }
            )
        }
    }
}

pub fn run(cmd: AgreementCommand) -> Result<Outcome> {
    match cmd {
        AgreementCommand::Check { file } => {
            let a = load(&file)?;
            print!("{}", summary(&a));
            Ok(Outcome::Ok)
        }
        AgreementCommand::Canonical { file } => {
            let a = load(&file)?;
            println!("{}", a.canonical_json());
            Ok(Outcome::Ok)
        }
    }
}

fn summary(a: &Agreement) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let w = &mut s;
    let _ = writeln!(w, "Agreement {} (version {}): {}", a.id, a.version, a.title);
    let _ = writeln!(w, "  effective at   {}", a.effective_at.to_rfc3339());
    let _ = writeln!(w, "  canonical hash sha256:{}", a.hash);
    let _ = writeln!(w, "\nParties");
    for p in &a.parties {
        let idx = AreaIndex::new(to_multipolygon(&p.area));
        let _ = writeln!(
            w,
            "  {:<6} {:<40} {:>12} km²  {} polygon(s)  ({})",
            p.id,
            p.name,
            thousands(idx.area_m2() / 1e6),
            p.area.len(),
            p.area_file
        );
    }
    let vertices: usize = a.contact_line.lines.iter().map(Vec::len).sum();
    let length_km = LineIndex::new(a.contact_line.lines.clone())
        .map(|l| l.length_m() / 1000.0)
        .unwrap_or(f64::NAN);
    let _ = writeln!(
        w,
        "\nContact line  {length_km:.1} km, {} line(s), {vertices} vertices  ({})",
        a.contact_line.lines.len(),
        a.contact_line.geometry_file
    );
    let _ = writeln!(w, "\nWeapon classes");
    for c in &a.weapon_classes {
        let _ = writeln!(
            w,
            "  {:<24} {:>6.1} km each side, withdraw by {}  {}",
            c.id,
            c.withdrawal_km,
            c.withdraw_by.to_rfc3339(),
            c.name
        );
    }
    let _ = writeln!(w, "\nZones");
    for z in &a.zones {
        let extent = match &z.extent {
            ZoneExtent::Polygons { file, polygons } => {
                let km2 = AreaIndex::new(to_multipolygon(polygons)).area_m2() / 1e6;
                format!("{km2:.1} km² ({file})")
            }
            ZoneExtent::WithinKmOfLine { within_km } => {
                format!("within {within_km} km of the contact line")
            }
        };
        let prohibits: Vec<&str> = z.prohibits.iter().map(|a| a.as_str()).collect();
        let _ = writeln!(
            w,
            "  {:<28} {:<14} {extent}; prohibits {}",
            z.id,
            z.kind.as_str(),
            prohibits.join(", ")
        );
    }
    let _ = writeln!(w, "\nStorage sites");
    for site in &a.storage_sites {
        let declared: Vec<String> = site
            .declared
            .iter()
            .map(|(c, n)| format!("{c} ×{n}"))
            .collect();
        let _ = writeln!(
            w,
            "  {:<14} {:<4} [{:.4}, {:.4}] r={} m  {}",
            site.id,
            site.party,
            site.location[0],
            site.location[1],
            site.radius_m,
            declared.join(", ")
        );
    }
    let _ = writeln!(w, "\nRules");
    for r in &a.rules {
        let _ = writeln!(
            w,
            "  {:<22} {:<20} {:<8} {}",
            r.id,
            r.kind.as_str(),
            r.severity.as_str(),
            r.description
        );
    }
    let _ = writeln!(w, "\nOK: the terms are consistent.");
    s
}

fn thousands(x: f64) -> String {
    let n = x.round() as i64;
    let digits = n.abs().to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    if n < 0 { format!("-{out}") } else { out }
}
