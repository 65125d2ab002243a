//! What the delivery threads (the Open311 outbox, the notifier) share: the outcome of one
//! pass over a queue, and how long to wait after a pass the store let down.
//!
//! Each item is *claimed* before it is sent: its next attempt is moved a lease ahead in the
//! store, in one conditional update. If the store cannot record the result afterwards, the
//! item is not due again until the lease is over — it is sent again then (at least once),
//! never in a loop. A pass stops at the first store error, and the thread waits longer after
//! each pass that failed so (from one second, doubling, at most a minute).

use super::BackendError;
use std::sync::mpsc;
use std::time::Duration;

/// How long a claimed item stays claimed when its result cannot be recorded (or the process
/// died while sending it): long enough for one attempt, short enough that a crash delays a
/// delivery by half a minute, not more.
pub const LEASE: Duration = Duration::from_secs(30);

/// What one pass did.
#[derive(Debug, Default)]
#[must_use]
pub struct Pass {
    /// Items sent (or settled without sending).
    pub handled: usize,
    /// The store failed: the pass stopped here.
    pub store_error: Option<BackendError>,
}

impl Pass {
    /// Whether another pass may follow at once (this one did something and met no store
    /// error).
    pub fn go_on(&self) -> bool {
        self.handled > 0 && self.store_error.is_none()
    }
}

/// The wait after passes the store let down.
#[derive(Debug, Default)]
pub struct StoreBackoff {
    failures: u32,
}

impl StoreBackoff {
    /// Notes a pass; returns how long to wait before the next one at least.
    pub fn after(&mut self, pass: &Pass) -> Duration {
        match &pass.store_error {
            None => {
                self.failures = 0;
                Duration::ZERO
            }
            Some(_) => {
                self.failures = self.failures.saturating_add(1);
                Duration::from_secs(1u64 << (self.failures - 1).min(6)).min(Duration::from_secs(60))
            }
        }
    }
}

/// Runs `pass` until one does nothing or meets a store error, then, after a store error,
/// waits as `backoff` says (wake-ups ignored). `Err` when the thread's owner is gone.
pub fn run_passes(
    backoff: &mut StoreBackoff,
    woken: &mpsc::Receiver<()>,
    mut pass: impl FnMut() -> Pass,
) -> Result<(), mpsc::RecvTimeoutError> {
    let wait = loop {
        let p = pass();
        let wait = backoff.after(&p);
        if !p.go_on() {
            break wait;
        }
    };
    if wait.is_zero() {
        Ok(())
    } else {
        sleep_unless_dropped(woken, wait)
    }
}

/// Sleeps `wait`, ignoring wake-ups; `Err` when the owner is gone.
fn sleep_unless_dropped(
    woken: &mpsc::Receiver<()>,
    wait: Duration,
) -> Result<(), mpsc::RecvTimeoutError> {
    let until = std::time::Instant::now() + wait;
    loop {
        let left = until.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Ok(());
        }
        match woken.recv_timeout(left) {
            Ok(()) | Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_doubles_to_a_minute_and_resets_on_success() {
        let mut b = StoreBackoff::default();
        let bad = Pass {
            handled: 1,
            store_error: Some(BackendError::Store("disk full".into())),
        };
        let waits: Vec<u64> = (0..9).map(|_| b.after(&bad).as_secs()).collect();
        assert_eq!(waits, vec![1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert!(!bad.go_on());
        assert_eq!(b.after(&Pass::default()), Duration::ZERO);
        assert_eq!(b.after(&bad), Duration::from_secs(1));
    }
}
