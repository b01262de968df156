//! Log lines a client can cause, rate-limited: a refused connection or a malformed record is
//! worth a warning, a flood of them is not worth a disk. Each [`LogRate`] lets through at most
//! `per_window` lines a window and counts the rest; the next line let through says how many
//! were suppressed.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// At most `per_window` log lines per `window`.
pub struct LogRate {
    per_window: u64,
    window: Duration,
    state: Mutex<Option<Window>>,
}

struct Window {
    started: Instant,
    emitted: u64,
    suppressed: u64,
}

impl LogRate {
    pub const fn new(per_window: u64, window: Duration) -> LogRate {
        LogRate {
            per_window,
            window,
            state: Mutex::new(None),
        }
    }

    /// Some(lines suppressed since the last one let through) when this line may be logged.
    pub fn admit(&self) -> Option<u64> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let w = state.get_or_insert(Window {
            started: now,
            emitted: 0,
            suppressed: 0,
        });
        if now.duration_since(w.started) >= self.window {
            w.started = now;
            w.emitted = 0;
        }
        if w.emitted < self.per_window {
            w.emitted += 1;
            Some(std::mem::take(&mut w.suppressed))
        } else {
            w.suppressed += 1;
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lets_through_n_a_window_and_counts_the_rest() {
        let r = LogRate::new(3, Duration::from_millis(50));
        assert_eq!(
            (0..10).map(|_| r.admit()).collect::<Vec<_>>(),
            [
                Some(0),
                Some(0),
                Some(0),
                None,
                None,
                None,
                None,
                None,
                None,
                None
            ]
        );
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(
            r.admit(),
            Some(7),
            "the next window says how many were suppressed"
        );
        assert_eq!(r.admit(), Some(0));
    }
}
