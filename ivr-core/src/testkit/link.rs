//! A virtual network link: datagrams sent now arrive later, some lost, some twice, out of
//! order — decided by a seeded generator, so that every run of a test is the same.

use crate::vocab::Time;
use rand_core::{Rng, SeedableRng};
use rand_xorshift::XorShiftRng;
use std::collections::BTreeMap;
use std::net::SocketAddr;

/// How a link misbehaves.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinkConfig {
    /// Each datagram takes between these many milliseconds (inclusive): different delays
    /// reorder datagrams.
    pub delay_ms: (u64, u64),
    /// The share of datagrams lost (0.0–1.0).
    pub loss: f64,
    /// The share of datagrams that arrive twice.
    pub duplicate: f64,
}

impl LinkConfig {
    /// A perfect link: everything arrives at once, in order.
    pub const PERFECT: LinkConfig = LinkConfig {
        delay_ms: (0, 0),
        loss: 0.0,
        duplicate: 0.0,
    };

    /// A link of a bad mobile network: 20–80 ms, 5 % lost, 2 % twice.
    pub const BAD: LinkConfig = LinkConfig {
        delay_ms: (20, 80),
        loss: 0.05,
        duplicate: 0.02,
    };
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig::PERFECT
    }
}

/// One datagram on the link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Datagram {
    /// Its source.
    pub from: SocketAddr,
    /// Its destination.
    pub to: SocketAddr,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// What a link did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Datagrams sent into it.
    pub sent: u64,
    /// Lost.
    pub lost: u64,
    /// Delivered twice.
    pub duplicated: u64,
}

/// A one-way-or-both link (it carries whatever is sent into it, to its destination).
#[derive(Debug)]
pub struct Link {
    cfg: LinkConfig,
    rng: XorShiftRng,
    in_flight: BTreeMap<(Time, u64), Datagram>,
    seq: u64,
    /// Counters.
    pub stats: LinkStats,
}

impl Link {
    /// A link behaving as `cfg`, its chance drawn from `seed`.
    pub fn new(cfg: LinkConfig, seed: u64) -> Link {
        Link {
            cfg,
            rng: XorShiftRng::seed_from_u64(seed),
            in_flight: BTreeMap::new(),
            seq: 0,
            stats: LinkStats::default(),
        }
    }

    /// The link's behaviour from now on.
    pub fn set_config(&mut self, cfg: LinkConfig) {
        self.cfg = cfg;
    }

    fn chance(&mut self) -> f64 {
        (self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn delay(&mut self) -> u64 {
        let (lo, hi) = self.cfg.delay_ms;
        if hi <= lo {
            return lo;
        }
        lo + self.rng.next_u64() % (hi - lo + 1)
    }

    fn put(&mut self, at: Time, d: Datagram) {
        self.seq += 1;
        self.in_flight.insert((at, self.seq), d);
    }

    /// Sends a datagram at `now`.
    pub fn send(&mut self, now: Time, d: Datagram) {
        self.stats.sent += 1;
        if self.cfg.loss > 0.0 && self.chance() < self.cfg.loss {
            self.stats.lost += 1;
            return;
        }
        let at = now.plus(self.delay());
        if self.cfg.duplicate > 0.0 && self.chance() < self.cfg.duplicate {
            self.stats.duplicated += 1;
            let again = at.plus(1 + self.rng.next_u64() % 20);
            self.put(again, d.clone());
        }
        self.put(at, d);
    }

    /// When the next datagram arrives.
    pub fn next_at(&self) -> Option<Time> {
        self.in_flight.keys().next().map(|(t, _)| *t)
    }

    /// The next datagram that has arrived by `now`.
    pub fn pop_due(&mut self, now: Time) -> Option<Datagram> {
        match self.in_flight.first_key_value() {
            Some(((t, _), _)) if *t <= now => self.in_flight.pop_first().map(|(_, d)| d),
            _ => None,
        }
    }

    /// Datagrams still on their way.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(n: u8) -> Datagram {
        Datagram {
            from: "10.0.0.1:1".parse().expect("addr"),
            to: "10.0.0.2:2".parse().expect("addr"),
            bytes: vec![n],
        }
    }

    fn run(seed: u64) -> (Vec<u8>, LinkStats) {
        let mut l = Link::new(
            LinkConfig {
                delay_ms: (10, 60),
                loss: 0.1,
                duplicate: 0.1,
            },
            seed,
        );
        for i in 0..200u8 {
            l.send(Time(u64::from(i) * 5), d(i));
        }
        let mut got = Vec::new();
        while let Some(t) = l.next_at() {
            while let Some(x) = l.pop_due(t) {
                got.push(x.bytes[0]);
            }
        }
        (got, l.stats)
    }

    #[test]
    fn a_seeded_link_is_the_same_every_run_and_misbehaves_as_asked() {
        let (a, sa) = run(7);
        let (b, _) = run(7);
        assert_eq!(a, b, "deterministic");
        let (c, _) = run(8);
        assert_ne!(a, c, "another seed, another run");
        assert!(sa.lost > 5 && sa.lost < 40, "{sa:?}");
        assert!(sa.duplicated > 5 && sa.duplicated < 40, "{sa:?}");
        assert_eq!(a.len() as u64, 200 - sa.lost + sa.duplicated);
        assert!(a.windows(2).any(|w| w[1] < w[0]), "reordered");
    }

    #[test]
    fn a_perfect_link_delivers_at_once_in_order() {
        let mut l = Link::new(LinkConfig::PERFECT, 1);
        l.send(Time(5), d(1));
        l.send(Time(5), d(2));
        assert_eq!(l.next_at(), Some(Time(5)));
        assert_eq!(l.pop_due(Time(5)).map(|d| d.bytes), Some(vec![1]));
        assert_eq!(l.pop_due(Time(5)).map(|d| d.bytes), Some(vec![2]));
        assert_eq!(l.pop_due(Time(5)), None);
    }
}
