//! Whose RTP a call listens to (symmetric RTP, RFC 4961, hardened).
//!
//! Anyone can send a datagram to a call's media port; only the caller's may reach the call.
//! Before the latch is set, a packet counts only if its source is on the allow list (the same
//! networks as `sip.allow`) and, unless the line says otherwise, its source IP is one the
//! signalling named: the SDP connection address or the address the INVITE came from (a caller
//! behind NAT sends from its public address, which is where its signalling came from). The
//! latch is set on the [`LatchRules::confirm`]-th packet in sequence from one source and one
//! SSRC; a stranger who sprays the port range has to get past all of that first. Several
//! sources are counted side by side, so a stranger's packets in between do not reset the
//! caller's count (with `latch: anywhere`, a flood of more than seven new sources between two
//! of the caller's packets can still delay it; the default refuses those sources outright).
//!
//! Once latched, packets from another address are ignored, with one exception: the same IP,
//! the same SSRC and the next sequence numbers from another port (the caller's NAT moved the
//! mapping). Only a renegotiation ([`Latch::moved`]) lets the media come from somewhere else.

use crate::media::rtp::Packet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// Who may set the latch.
#[derive(Clone, Debug)]
pub struct LatchRules {
    /// Source IPs the signalling named (`None`: any source the allow list lets in; an empty
    /// list lets no one set the latch).
    pub expect: Option<Vec<IpAddr>>,
    /// Networks media may come from at all (empty: anywhere).
    pub allow: Arc<[ipnet::IpNet]>,
    /// Packets in sequence, from one source and one SSRC, that set the latch (at least 1).
    pub confirm: u8,
}

impl Default for LatchRules {
    /// No restriction but three packets in sequence.
    fn default() -> Self {
        LatchRules {
            expect: None,
            allow: Arc::from(Vec::new()),
            confirm: DEFAULT_CONFIRM,
        }
    }
}

/// Packets in sequence that set the latch, by default: 60 ms of audio at 20 ms per packet.
pub const DEFAULT_CONFIRM: u8 = 3;

/// How far ahead a sequence number may jump and still count as "in sequence" (a lost packet
/// or two).
const SEQ_WINDOW: u16 = 10;

/// Sources followed at once on their way to being latched: a stranger interleaving packets
/// (or a scanner sending one per source) does not reset the caller's count. When all are
/// taken, a newcomer replaces the one with the fewest packets, the least recent of those.
const CANDIDATES: usize = 8;

/// A source on its way to being latched.
#[derive(Clone, Copy, Debug)]
struct Candidate {
    from: SocketAddr,
    ssrc: u32,
    seq: u16,
    seen: u8,
    /// When it last sent (the latch's own packet count).
    last: u64,
}

/// The latch of one call's media.
#[derive(Clone, Debug, Default)]
pub struct Latch {
    rules: LatchRules,
    remote: Option<SocketAddr>,
    ssrc: Option<u32>,
    last_seq: u16,
    candidates: [Option<Candidate>; CANDIDATES],
    /// Packets judged (the candidates' clock).
    judged: u64,
    /// Where the far end sent from before the signalling moved it: its packets still in
    /// flight must not win the latch back.
    stale: Option<SocketAddr>,
    refused: u64,
}

fn follows(last: u16, seq: u16) -> bool {
    let ahead = seq.wrapping_sub(last);
    (1..=SEQ_WINDOW).contains(&ahead)
}

impl Latch {
    /// A latch with these rules.
    pub fn new(rules: LatchRules) -> Self {
        Latch {
            rules,
            ..Latch::default()
        }
    }

    /// Replaces the rules (the signalling named other addresses); a latch already set stays.
    pub fn set_rules(&mut self, rules: LatchRules) {
        self.rules = rules;
    }

    fn allowed(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        self.rules.allow.is_empty() || self.rules.allow.iter().any(|n| n.contains(&ip))
    }

    /// Whether to take a packet from `from` (a packet that sets the latch is taken).
    pub fn accept(&mut self, from: SocketAddr, p: &Packet) -> bool {
        let ok = self.judge(from, p);
        if !ok {
            self.refused += 1;
        }
        ok
    }

    fn judge(&mut self, from: SocketAddr, p: &Packet) -> bool {
        // The caller's own packets, nearly all of them: one comparison (its address passed
        // the allow list when it was latched).
        if self.remote == Some(from) {
            self.ssrc = Some(p.ssrc);
            self.last_seq = p.seq;
            return true;
        }
        if !self.allowed(from.ip()) {
            return false;
        }
        match self.remote {
            Some(r) => {
                // The caller's NAT moved its mapping: same IP, same stream, next packets.
                if r.ip() == from.ip() && self.ssrc == Some(p.ssrc) && follows(self.last_seq, p.seq)
                {
                    self.remote = Some(from);
                    self.last_seq = p.seq;
                    true
                } else {
                    false
                }
            }
            None => self.confirming(from, p),
        }
    }

    fn confirming(&mut self, from: SocketAddr, p: &Packet) -> bool {
        if self.stale == Some(from) {
            return false;
        }
        if let Some(expect) = &self.rules.expect
            && !expect.contains(&from.ip())
        {
            return false;
        }
        self.judged += 1;
        let slot = match self
            .candidates
            .iter()
            .position(|c| c.is_some_and(|c| c.from == from))
        {
            Some(i) => i,
            None => self.free_slot(),
        };
        let seen = match self.candidates[slot] {
            Some(c) if c.from == from && c.ssrc == p.ssrc && follows(c.seq, p.seq) => {
                c.seen.saturating_add(1)
            }
            // Its own duplicate or reordering: neither counts nor resets.
            Some(c) if c.from == from && c.ssrc == p.ssrc => return false,
            _ => 1,
        };
        if seen >= self.rules.confirm.max(1) {
            self.remote = Some(from);
            self.ssrc = Some(p.ssrc);
            self.last_seq = p.seq;
            self.candidates = [None; CANDIDATES];
            true
        } else {
            self.candidates[slot] = Some(Candidate {
                from,
                ssrc: p.ssrc,
                seq: p.seq,
                seen,
                last: self.judged,
            });
            false
        }
    }

    /// An empty slot, or the one whose candidate has the fewest packets (the least recent of
    /// those).
    fn free_slot(&self) -> usize {
        self.candidates
            .iter()
            .enumerate()
            .min_by_key(|(_, c)| c.map_or((0, 0), |c| (c.seen, c.last)))
            .map_or(0, |(i, _)| i)
    }

    /// The latched remote address.
    pub fn remote(&self) -> Option<SocketAddr> {
        self.remote
    }

    /// Packets not taken (strangers, unconfirmed sources, other networks).
    pub fn refused(&self) -> u64 {
        self.refused
    }

    /// Forgets the latched source (the signalling moved the media): the source is confirmed
    /// again, and never where the media was before (late packets of the old stream).
    pub fn moved(&mut self) {
        self.stale = self.remote.take();
        self.ssrc = None;
        self.candidates = [None; CANDIDATES];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkt(ssrc: u32, seq: u16) -> Packet<'static> {
        Packet {
            pt: 0,
            marker: false,
            seq,
            timestamp: u32::from(seq) * 160,
            ssrc,
            payload: &[],
        }
    }

    fn addr(s: &str) -> SocketAddr {
        s.parse().expect("literal address")
    }

    #[test]
    fn a_source_is_confirmed_by_packets_in_sequence() {
        let a = addr("192.0.2.1:4000");
        let mut l = Latch::default();
        assert!(!l.accept(a, &pkt(7, 10)));
        assert!(!l.accept(a, &pkt(7, 10)), "a duplicate does not count");
        assert!(!l.accept(a, &pkt(7, 11)));
        assert!(l.accept(a, &pkt(7, 12)), "the third in sequence latches");
        assert_eq!(l.remote(), Some(a));
    }

    #[test]
    fn strangers_neither_latch_nor_break_in() {
        let caller = addr("192.0.2.1:4000");
        let evil = addr("198.51.100.7:9");
        let mut l = Latch::new(LatchRules {
            expect: Some(vec![caller.ip()]),
            ..LatchRules::default()
        });
        // The stranger is first and keeps sending in sequence: never latched.
        for seq in 0..20 {
            assert!(!l.accept(evil, &pkt(99, seq)));
        }
        for seq in 100..103 {
            l.accept(caller, &pkt(7, seq));
        }
        assert_eq!(l.remote(), Some(caller));
        // Latched: the stranger, even with the caller's SSRC and next sequence number, stays out.
        assert!(!l.accept(evil, &pkt(7, 103)));
        assert!(!l.accept(evil, &pkt(99, 5)));
        assert!(l.accept(caller, &pkt(7, 103)));
        assert!(l.refused() >= 22);
    }

    #[test]
    fn interleaved_strangers_do_not_stop_the_caller_latching() {
        let caller = addr("192.0.2.1:4000");
        let mut l = Latch::default();
        for seq in 0..3u16 {
            // Between two of the caller's packets, one packet from each of six new sources
            // (the caller's own IP too).
            for k in 0..6u16 {
                let evil = SocketAddr::new(caller.ip(), 5_000 + seq * 20 + k);
                l.accept(evil, &pkt(99, 1_000 + seq * 7));
            }
            l.accept(caller, &pkt(7, seq));
        }
        assert_eq!(l.remote(), Some(caller));
    }

    #[test]
    fn a_stranger_out_of_sequence_never_latches() {
        let evil = addr("192.0.2.1:5000");
        let mut l = Latch::default();
        for k in 0..100u16 {
            assert!(!l.accept(evil, &pkt(99, k.wrapping_mul(1_000))));
        }
        assert_eq!(l.remote(), None);
    }

    #[test]
    fn a_moving_nat_is_followed_only_on_the_same_ip() {
        let a = addr("192.0.2.1:4000");
        let b = addr("192.0.2.1:4002");
        let elsewhere = addr("192.0.2.9:4000");
        let mut l = Latch::default();
        for seq in 10..13 {
            l.accept(a, &pkt(7, seq));
        }
        assert!(
            !l.accept(elsewhere, &pkt(7, 13)),
            "another IP is never followed"
        );
        assert!(
            l.accept(b, &pkt(7, 13)),
            "same IP, same stream, next packet: NAT rebinding"
        );
        assert_eq!(l.remote(), Some(b));
    }

    #[test]
    fn only_allowed_networks_reach_the_call() {
        let outside = addr("203.0.113.5:4000");
        let mut l = Latch::new(LatchRules {
            allow: Arc::from(vec!["10.0.0.0/8".parse::<ipnet::IpNet>().expect("net")]),
            confirm: 1,
            ..LatchRules::default()
        });
        assert!(!l.accept(outside, &pkt(7, 1)));
        assert!(!l.accept(addr("[::ffff:203.0.113.5]:4000"), &pkt(7, 1)));
        assert!(
            l.accept(addr("[::ffff:10.1.2.3]:4000"), &pkt(7, 1)),
            "mapped IPv4 counts"
        );
    }

    #[test]
    fn after_a_move_the_new_source_is_confirmed_and_the_old_one_refused() {
        let old = addr("192.0.2.1:4000");
        let new = addr("192.0.2.5:6000");
        let mut l = Latch::default();
        for seq in 0..3 {
            l.accept(old, &pkt(7, seq));
        }
        l.moved();
        l.set_rules(LatchRules {
            expect: Some(vec![new.ip()]),
            ..LatchRules::default()
        });
        for seq in 3..10 {
            assert!(!l.accept(old, &pkt(7, seq)));
        }
        for seq in 50..53 {
            l.accept(new, &pkt(8, seq));
        }
        assert_eq!(l.remote(), Some(new));
    }
}
