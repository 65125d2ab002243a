//! Floods: what keeps a storm of requests from growing the endpoint or crowding out callers.
//!
//! - Every source IP has a token bucket for *new* transactions (out-of-dialog requests, or
//!   in-dialog ones for a dialog we do not know): [`FloodLimits::per_source`] a second, with
//!   bursts of [`FloodLimits::burst`]. Retransmissions, ACKs and requests inside a known
//!   dialog (whose tags are ours, random, and unguessable) never spend tokens.
//! - At most [`FloodLimits::max_transactions`] server transactions exist at once.
//! - At most [`FloodLimits::unconfirmed_per_source`] calls from one IP may wait for their
//!   ACK (an INVITE never acknowledged holds its call for 64·T1 = 32 s).
//!
//! Beyond any of them a request gets a stateless 503 with Retry-After (an ACK gets nothing)
//! and leaves no state behind. The bucket table itself is bounded: when it is full, buckets
//! that are full again (their sources went quiet) are dropped; if none is, a new source is
//! judged by the global caps alone.

use crate::vocab::Time;
use std::collections::HashMap;
use std::net::IpAddr;

/// Flood limits of an endpoint.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FloodLimits {
    /// New transactions a second from one source IP, sustained.
    pub per_source: f64,
    /// New transactions one source may send at once.
    pub burst: u32,
    /// Server transactions at once, from everyone.
    pub max_transactions: usize,
    /// Calls from one source IP waiting for their ACK.
    pub unconfirmed_per_source: u32,
    /// Source IPs whose buckets are kept at once.
    pub max_sources: usize,
}

impl Default for FloodLimits {
    /// Generous enough for a carrier's SBC that sends every call from one address (the load
    /// harness's 750 calls a second: only INVITEs count, in-dialog requests are free), tight
    /// enough that a single host cannot fill the tables.
    fn default() -> Self {
        FloodLimits {
            per_source: 2_000.0,
            burst: 4_000,
            max_transactions: 40_000,
            unconfirmed_per_source: 2_000,
            max_sources: 65_536,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    at: Time,
}

/// Token buckets by source IP.
#[derive(Debug, Default)]
pub(super) struct Buckets {
    by_ip: HashMap<IpAddr, Bucket>,
    /// When the table was last swept for full buckets.
    swept: Option<Time>,
}

impl Buckets {
    fn refill(b: &mut Bucket, limits: &FloodLimits, now: Time) {
        let secs = now.since(b.at) as f64 / 1000.0;
        b.tokens = (b.tokens + secs * limits.per_source).min(f64::from(limits.burst));
        b.at = now;
    }

    /// Whether `ip` may open a new transaction now (spends a token when it may).
    pub(super) fn admit(&mut self, ip: IpAddr, limits: &FloodLimits, now: Time) -> bool {
        if let Some(b) = self.by_ip.get_mut(&ip) {
            Self::refill(b, limits, now);
            if b.tokens >= 1.0 {
                b.tokens -= 1.0;
                return true;
            }
            return false;
        }
        if self.by_ip.len() >= limits.max_sources {
            self.sweep(limits, now);
        }
        if self.by_ip.len() < limits.max_sources {
            self.by_ip.insert(
                ip,
                Bucket {
                    tokens: f64::from(limits.burst) - 1.0,
                    at: now,
                },
            );
        }
        // A new source (tracked or, when the table is full of busy ones, not) starts full.
        true
    }

    /// Drops buckets that are full again (at most once a second: a sweep is linear).
    fn sweep(&mut self, limits: &FloodLimits, now: Time) {
        if self.swept.is_some_and(|t| now.since(t) < 1_000) {
            return;
        }
        self.swept = Some(now);
        self.by_ip.retain(|_, b| {
            Self::refill(b, limits, now);
            b.tokens < f64::from(limits.burst)
        });
    }

    /// Sources tracked now.
    pub(super) fn len(&self) -> usize {
        self.by_ip.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u32) -> IpAddr {
        IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 | n))
    }

    #[test]
    fn a_source_gets_its_burst_then_its_rate() {
        let limits = FloodLimits {
            per_source: 10.0,
            burst: 5,
            ..FloodLimits::default()
        };
        let mut b = Buckets::default();
        let admitted = (0..20).filter(|_| b.admit(ip(1), &limits, Time(0))).count();
        assert_eq!(admitted, 5, "the burst");
        assert!(
            b.admit(ip(2), &limits, Time(0)),
            "another source has its own"
        );
        assert!(!b.admit(ip(1), &limits, Time(50)), "half a token");
        assert!(
            b.admit(ip(1), &limits, Time(100)),
            "one token in 100 ms at 10/s"
        );
        let later = (0..20)
            .filter(|_| b.admit(ip(1), &limits, Time(10_000)))
            .count();
        assert_eq!(later, 5, "refilled to the burst, not beyond");
    }

    #[test]
    fn the_table_stays_bounded_under_many_sources() {
        let limits = FloodLimits {
            per_source: 1.0,
            burst: 2,
            max_sources: 100,
            ..FloodLimits::default()
        };
        let mut b = Buckets::default();
        for n in 0..10_000 {
            assert!(b.admit(ip(n), &limits, Time(u64::from(n))), "a new source");
            assert!(b.len() <= 100);
        }
        // Quiet sources are swept out, so a busy one can still be tracked later.
        assert!(b.admit(ip(99_999), &limits, Time(100_000)));
        assert!(b.len() <= 100);
    }
}
