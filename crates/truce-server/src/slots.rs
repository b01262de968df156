//! Places for open connections, overall and per client address: a listener takes a [`Slot`]
//! for each connection it accepts, or closes the connection at once when [`Slots::take`] says
//! why there is none; the slot is given back when dropped. The HTTP accept loop
//! (`crate::http`) and the CoT TCP listener (`crate::cot`) each keep their own, so one
//! client address cannot take every place of either, and neither can take the other's.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// How many connections are open, overall and by client address.
#[derive(Debug, Default)]
struct Open {
    total: usize,
    by_address: HashMap<IpAddr, usize>,
}

/// The places of one listener.
#[derive(Clone)]
pub struct Slots {
    open: Arc<Mutex<Open>>,
    max_total: usize,
    max_per_address: usize,
    /// The names of the two limits, for the refusal (`max_open_connections`, …).
    names: (&'static str, &'static str),
}

/// A connection's place in [`Slots`], given back when it is dropped.
#[derive(Debug)]
pub struct Slot {
    open: Arc<Mutex<Open>>,
    ip: IpAddr,
}

impl Slots {
    /// At most `max_total` connections, `max_per_address` from one address; `names` are the
    /// limits' names as the operator sets them.
    pub fn new(
        max_total: usize,
        max_per_address: usize,
        names: (&'static str, &'static str),
    ) -> Slots {
        Slots {
            open: Arc::default(),
            max_total,
            max_per_address,
            names,
        }
    }

    /// A place for a connection from `ip`, or why there is none.
    pub fn take(&self, ip: IpAddr) -> Result<Slot, String> {
        let mut o = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if o.total >= self.max_total {
            return Err(format!(
                "{} connections open ({})",
                self.max_total, self.names.0
            ));
        }
        let n = o.by_address.entry(ip).or_insert(0);
        if *n >= self.max_per_address {
            return Err(format!(
                "{} connections open from this address ({})",
                self.max_per_address, self.names.1
            ));
        }
        *n += 1;
        o.total += 1;
        Ok(Slot {
            open: self.open.clone(),
            ip,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut o = self.open.lock().unwrap_or_else(|e| e.into_inner());
        o.total -= 1;
        if let Some(n) = o.by_address.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                o.by_address.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_per_address_and_overall_and_gives_places_back() {
        let slots = Slots::new(3, 2, ("total", "per_address"));
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let a1 = slots.take(a).unwrap();
        let _a2 = slots.take(a).unwrap();
        assert!(slots.take(a).unwrap_err().contains("per_address"));
        let _b1 = slots.take(b).unwrap();
        assert!(slots.take(b).unwrap_err().contains("(total)"));
        drop(a1);
        let _a3 = slots.take(a).unwrap();
    }
}
