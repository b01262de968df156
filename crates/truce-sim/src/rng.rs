//! Random streams, and the few distributions the simulation draws from.
//!
//! Every generator — each kind of true event, each source — draws from its own ChaCha20 stream:
//! the key is the run's seed, the stream number (ChaCha's 64-bit nonce) is fixed per generator
//! in [`Stream`]. Streams are independent sequences, so adding a source, or drawing more from
//! one, leaves every other generator's draws unchanged. ChaCha20 is used for that stream
//! parameter and for its fixed, documented algorithm (the same bytes on every platform and in
//! every release of the `chacha20` crate), not for its cryptographic strength.

use chrono::{DateTime, TimeDelta, Utc};
use rand::rngs::ChaCha20Rng;
use rand::{RngExt, SeedableRng};
use rand_distr::{Binomial, Distribution, Normal, Poisson};
use truce_geo::{LonLat, destination};

/// The stream of each generator. The numbers are part of the output format: renumbering one
/// changes what that generator draws for every seed, so new generators take new numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stream {
    QuietPeriods = 1,
    Hotspots = 2,
    FireEpisodes = 3,
    HeavyWeapons = 4,
    Disengagement = 5,
    Crossings = 6,
    AccessDenials = 7,
    Storage = 8,
    AgriculturalFires = 9,
    Satellite = 101,
    Drones = 102,
    Cameras = 103,
    Acoustic = 104,
    Teams = 105,
    SensorHealth = 106,
    /// The first party's allegations; party `i` (in agreement order) draws from this + `i`.
    Allegations = 1000,
}

/// The random source every generator draws from.
pub(crate) type Rng = ChaCha20Rng;

/// The stream `stream` (plus `offset`, for per-party streams) of the run seeded with `seed`.
pub(crate) fn stream(seed: u64, stream: Stream, offset: u64) -> Rng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    let mut rng = ChaCha20Rng::from_seed(key);
    rng.set_stream(stream as u64 + offset);
    rng
}

/// Uniform in `[low, high)`; `low` when the range is empty.
pub(crate) fn uniform(rng: &mut Rng, low: f64, high: f64) -> f64 {
    if high > low {
        rng.random_range(low..high)
    } else {
        low
    }
}

/// True with probability `p` (clamped to [0, 1]).
pub(crate) fn chance(rng: &mut Rng, p: f64) -> bool {
    rng.random_bool(p.clamp(0.0, 1.0))
}

/// Normal with mean `mean` and standard deviation `sd` (`mean` when `sd` is not positive).
pub(crate) fn normal(rng: &mut Rng, mean: f64, sd: f64) -> f64 {
    match Normal::new(mean, sd) {
        Ok(n) if sd > 0.0 => n.sample(rng),
        _ => mean,
    }
}

/// Exponential with mean `mean` (a waiting time, a fire's burning time).
pub(crate) fn exponential(rng: &mut Rng, mean: f64) -> f64 {
    -mean * (1.0 - rng.random::<f64>()).ln()
}

/// A Poisson count with mean `mean` (0 when the mean is not positive).
pub(crate) fn poisson(rng: &mut Rng, mean: f64) -> u32 {
    match Poisson::new(mean) {
        Ok(p) if mean > 0.0 => p.sample(rng) as u32,
        _ => 0,
    }
}

/// How many of `n` items each kept with probability `p`.
pub(crate) fn binomial(rng: &mut Rng, n: u32, p: f64) -> u32 {
    Binomial::new(u64::from(n), p.clamp(0.0, 1.0)).map_or(n, |b| b.sample(rng) as u32)
}

/// A whole number in `[low, high]`.
pub(crate) fn int(rng: &mut Rng, low: u32, high: u32) -> u32 {
    if high > low {
        rng.random_range(low..=high)
    } else {
        low
    }
}

/// An index into a non-empty collection of `len` items.
pub(crate) fn index(rng: &mut Rng, len: usize) -> usize {
    rng.random_range(0..len.max(1))
}

/// A time uniform in `[from, to)`, to the second; `from` when the span is empty.
pub(crate) fn time_between(rng: &mut Rng, from: DateTime<Utc>, to: DateTime<Utc>) -> DateTime<Utc> {
    let span = (to - from).num_seconds();
    if span <= 0 {
        return from;
    }
    from + TimeDelta::seconds(rng.random_range(0..span))
}

/// `p` moved by a two-dimensional normal error of `sd_m` metres on each axis.
pub(crate) fn scatter(rng: &mut Rng, p: LonLat, sd_m: f64) -> LonLat {
    let east = normal(rng, 0.0, sd_m);
    let north = normal(rng, 0.0, sd_m);
    let distance = east.hypot(north);
    if distance == 0.0 {
        return p;
    }
    destination(p, east.atan2(north).to_degrees(), distance)
}

/// A random version-4 UUID in its usual text form, as TAK clients give their markers.
pub(crate) fn uuid(rng: &mut Rng) -> String {
    let mut b: [u8; 16] = rng.random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: Vec<String> = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        hex[..4].concat(),
        hex[4..6].concat(),
        hex[6..8].concat(),
        hex[8..10].concat(),
        hex[10..].concat()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_independent_and_reproducible() {
        let draw = |s, o| {
            let mut r = stream(7, s, o);
            (0..4).map(|_| r.random::<u64>()).collect::<Vec<_>>()
        };
        assert_eq!(draw(Stream::Drones, 0), draw(Stream::Drones, 0));
        assert_ne!(draw(Stream::Drones, 0), draw(Stream::Cameras, 0));
        assert_ne!(draw(Stream::Allegations, 0), draw(Stream::Allegations, 1));
        let mut other_seed = stream(8, Stream::Drones, 0);
        assert_ne!(draw(Stream::Drones, 0)[0], other_seed.random::<u64>());
    }

    #[test]
    fn uuid_is_version_4() {
        let u = uuid(&mut stream(1, Stream::Teams, 0));
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"), "{u}");
    }
}
