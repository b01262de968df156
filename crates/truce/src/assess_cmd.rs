//! `truce assess --agreement FILE OBSERVATIONS`: one JSON line per observation, in input order.

use std::io::{BufWriter, Read, Write};

use anyhow::{Context, Result};
use clap::Args;
use truce_core::assess::Engine;
use truce_core::observation::parse_collection;

use crate::Outcome;

#[derive(Args)]
pub struct AssessArgs {
    /// The agreement.toml to assess against.
    #[arg(long)]
    agreement: String,
    /// A GeoJSON FeatureCollection of observations; `-` reads standard input.
    observations: String,
}

pub fn run(args: AssessArgs) -> Result<Outcome> {
    let terms = crate::agreement_cmd::load(&args.agreement)?;
    let text = if args.observations == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("reading observations from standard input")?;
        s
    } else {
        std::fs::read_to_string(&args.observations)
            .with_context(|| format!("cannot read {}", args.observations))?
    };
    let shown = if args.observations == "-" {
        "<stdin>"
    } else {
        args.observations.as_str()
    };
    let (good, bad) = parse_collection(&text).map_err(|e| anyhow::anyhow!("{shown}: {e}"))?;
    for r in &bad {
        match &r.id {
            Some(id) => eprintln!("{shown}: feature {} (id {id}): {}", r.index, r.reason),
            None => eprintln!("{shown}: feature {}: {}", r.index, r.reason),
        }
    }
    let engine = Engine::new(terms).map_err(|e| anyhow::anyhow!(e))?;
    let assessments = engine.assess_batch(&good);
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    for a in &assessments {
        serde_json::to_writer(&mut out, a)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    if bad.is_empty() {
        Ok(Outcome::Ok)
    } else {
        eprintln!(
            "{shown}: {} of {} features rejected; the rest were assessed",
            bad.len(),
            bad.len() + good.len()
        );
        Ok(Outcome::SomeRejected)
    }
}
