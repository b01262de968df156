//! The pure core of Truce: ceasefire terms, observations, and assessment of one against the other.
//!
//! Nothing here does I/O, reads a clock or draws a random number: the same terms and the same
//! observations give the same assessments, bit for bit, on any machine. Files are read by the
//! caller (the `truce` binary, the ingest adapters) and handed in as bytes.
//!
//! ```no_run
//! use truce_core::{agreement, assess::Engine, observation};
//! let toml = std::fs::read_to_string("scenarios/donbas-2015/agreement.toml").unwrap();
//! let terms = agreement::load("agreement.toml", &toml, &mut |rel| {
//!     std::fs::read(format!("scenarios/donbas-2015/{rel}")).map_err(|e| e.to_string())
//! }).unwrap();
//! let engine = Engine::new(terms).unwrap();
//! let (good, _bad) = observation::parse_collection(r#"{"type":"FeatureCollection","features":[]}"#).unwrap();
//! for a in engine.assess_batch(&good) { println!("{}", serde_json::to_string(&a).unwrap()); }
//! ```

pub mod agreement;
pub mod assess;
pub mod canonical;
pub mod entry;
pub mod limits;
pub mod mission;
pub mod observation;
mod rings;

pub use truce_geo::LonLat;
