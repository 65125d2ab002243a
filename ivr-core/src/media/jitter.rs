//! Receiving audio: symmetric RTP latching and a jitter buffer.
//!
//! [`Latch`] takes the remote address from the first valid packet and then ignores packets
//! from elsewhere, unless their SSRC is the latched one and their sequence number follows
//! (the caller's NAT moved), which moves the latch. [`JitterBuffer`] reorders within its depth,
//! drops duplicates and packets too late to play, conceals loss with silence, and follows
//! SSRC changes and sequence or timestamp jumps by starting over without a gap.

use crate::media::rtp::Packet;
use std::collections::BTreeMap;
use std::net::SocketAddr;

/// Symmetric RTP.
#[derive(Clone, Debug, Default)]
pub struct Latch {
    remote: Option<SocketAddr>,
    ssrc: Option<u32>,
    last_seq: u16,
}

impl Latch {
    /// Whether to accept a packet from `from` (and latch onto it).
    pub fn accept(&mut self, from: SocketAddr, p: &Packet) -> bool {
        match self.remote {
            None => {
                self.remote = Some(from);
                self.ssrc = Some(p.ssrc);
                self.last_seq = p.seq;
                true
            }
            Some(r) if r == from => {
                self.ssrc = Some(p.ssrc);
                self.last_seq = p.seq;
                true
            }
            Some(_) => {
                let follows = p.seq.wrapping_sub(self.last_seq) <= 10;
                if self.ssrc == Some(p.ssrc) && follows {
                    self.remote = Some(from);
                    self.last_seq = p.seq;
                    true
                } else {
                    false
                }
            }
        }
    }

    /// The latched remote address.
    pub fn remote(&self) -> Option<SocketAddr> {
        self.remote
    }
}

/// Why a packet was not buffered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Drop {
    /// Already buffered or played.
    Duplicate,
    /// Its turn to play has passed.
    Late,
}

/// What plays next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// Received audio.
    Audio(Vec<u8>),
    /// Nothing arrived in time: play silence.
    Lost,
    /// Not started yet (still filling).
    Waiting,
}

/// A jitter buffer of encoded frames for one stream.
#[derive(Clone, Debug)]
pub struct JitterBuffer {
    depth: u64,
    ssrc: Option<u32>,
    /// Extended (wrap-counted) sequence of the last packet seen, for extension.
    last_ext: u64,
    frames: BTreeMap<u64, Vec<u8>>,
    /// Payload buffers handed back by [`JitterBuffer::recycle`], reused for new packets.
    spare: Vec<Vec<u8>>,
    /// Next sequence to play.
    next: Option<u64>,
    /// Counters.
    pub stats: Stats,
}

/// What happened to packets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Frames played from packets.
    pub played: u64,
    /// Frames concealed.
    pub lost: u64,
    /// Duplicates dropped.
    pub duplicates: u64,
    /// Late packets dropped.
    pub late: u64,
    /// Times the stream started over (SSRC change or jump).
    pub resets: u64,
}

/// A jump bigger than this (in packets) starts the stream over.
const JUMP: u64 = 200;

impl JitterBuffer {
    /// A buffer holding up to `depth` frames before playing (2–3 at 20 ms is typical).
    pub fn new(depth: u64) -> Self {
        JitterBuffer {
            depth: depth.max(1),
            ssrc: None,
            last_ext: 0,
            frames: BTreeMap::new(),
            spare: Vec::new(),
            next: None,
            stats: Stats::default(),
        }
    }

    fn extend(&self, seq: u16) -> u64 {
        // The extended sequence nearest the last one seen.
        let base = self.last_ext & !0xFFFF;
        let cands = [base.wrapping_sub(0x1_0000), base, base + 0x1_0000];
        cands
            .into_iter()
            .map(|b| b.wrapping_add(u64::from(seq)))
            .min_by_key(|c| c.abs_diff(self.last_ext))
            .unwrap_or(u64::from(seq))
    }

    fn reset(&mut self, ssrc: u32, seq: u16) {
        if self.ssrc.is_some() {
            self.stats.resets += 1;
        }
        self.ssrc = Some(ssrc);
        self.last_ext = 0x1_0000_0000 + u64::from(seq);
        self.frames.clear();
        self.next = None;
    }

    /// Adds a received packet.
    pub fn push(&mut self, p: &Packet) -> Result<(), Drop> {
        if self.ssrc != Some(p.ssrc) {
            self.reset(p.ssrc, p.seq);
        }
        let mut ext = self.extend(p.seq);
        if ext.abs_diff(self.last_ext) > JUMP {
            self.reset(p.ssrc, p.seq);
            ext = self.last_ext;
        }
        if let Some(n) = self.next
            && ext < n
        {
            self.stats.late += 1;
            return Err(Drop::Late);
        }
        if self.frames.contains_key(&ext) {
            self.stats.duplicates += 1;
            return Err(Drop::Duplicate);
        }
        self.last_ext = self.last_ext.max(ext);
        let mut buf = self.spare.pop().unwrap_or_default();
        buf.clear();
        buf.extend_from_slice(p.payload);
        self.frames.insert(ext, buf);
        Ok(())
    }

    /// Gives a played frame's buffer back, so that receiving needs no allocation per packet
    /// once the first few buffers exist.
    pub fn recycle(&mut self, frame: Frame) {
        if let Frame::Audio(buf) = frame
            && self.spare.len() < 8
        {
            self.spare.push(buf);
        }
    }

    /// The frame to play now (called once per ptime).
    pub fn pop(&mut self) -> Frame {
        let next = match self.next {
            Some(n) => n,
            None => {
                // Start once `depth` frames are in, from the oldest.
                if (self.frames.len() as u64) < self.depth {
                    return Frame::Waiting;
                }
                match self.frames.keys().next() {
                    Some(&k) => k,
                    None => return Frame::Waiting,
                }
            }
        };
        self.next = Some(next + 1);
        match self.frames.remove(&next) {
            Some(f) => {
                self.stats.played += 1;
                Frame::Audio(f)
            }
            None => {
                self.stats.lost += 1;
                Frame::Lost
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkt(ssrc: u32, seq: u16, payload: &[u8]) -> Packet<'_> {
        Packet {
            pt: 0,
            marker: false,
            seq,
            timestamp: u32::from(seq) * 160,
            ssrc,
            payload,
        }
    }

    #[test]
    fn played_buffers_are_reused_for_new_packets() {
        let mut j = JitterBuffer::new(1);
        let a = [1u8; 160];
        j.push(&pkt(1, 10, &a)).expect("first");
        let Frame::Audio(first) = j.pop() else {
            panic!("audio expected")
        };
        let at = first.as_ptr();
        j.recycle(Frame::Audio(first));
        let b = [2u8; 160];
        j.push(&pkt(1, 11, &b)).expect("next");
        let Frame::Audio(second) = j.pop() else {
            panic!("audio expected")
        };
        assert_eq!(second, b.to_vec());
        assert_eq!(second.as_ptr(), at, "the same buffer, no new allocation");
    }

    #[test]
    fn reorders_drops_duplicates_and_late_conceals_loss() {
        let mut j = JitterBuffer::new(2);
        let a = [1u8; 4];
        let b = [2u8; 4];
        let c = [3u8; 4];
        assert_eq!(j.push(&pkt(9, 65_535, &b)), Ok(()));
        assert_eq!(j.pop(), Frame::Waiting);
        assert_eq!(j.push(&pkt(9, 65_534, &a)), Ok(()));
        assert_eq!(j.push(&pkt(9, 65_534, &a)), Err(Drop::Duplicate));
        assert_eq!(j.pop(), Frame::Audio(a.to_vec()));
        assert_eq!(j.pop(), Frame::Audio(b.to_vec()));
        // Seq 0 (after the wrap) is lost; 1 arrives.
        assert_eq!(j.push(&pkt(9, 1, &c)), Ok(()));
        assert_eq!(j.pop(), Frame::Lost);
        assert_eq!(j.pop(), Frame::Audio(c.to_vec()));
        // 0 arrives too late.
        assert_eq!(j.push(&pkt(9, 0, &a)), Err(Drop::Late));
        assert_eq!(
            j.stats,
            Stats {
                played: 3,
                lost: 1,
                duplicates: 1,
                late: 1,
                resets: 0
            }
        );
    }

    #[test]
    fn ssrc_change_and_jumps_start_over() {
        let mut j = JitterBuffer::new(1);
        let x = [5u8; 2];
        j.push(&pkt(1, 100, &x)).expect("first");
        assert_eq!(j.pop(), Frame::Audio(x.to_vec()));
        // A new SSRC with an unrelated sequence number plays at once.
        j.push(&pkt(2, 40_000, &x)).expect("new stream");
        assert_eq!(j.pop(), Frame::Audio(x.to_vec()));
        // A sequence jump of thousands within the same SSRC too.
        j.push(&pkt(2, 50_000, &x)).expect("jump");
        assert_eq!(j.pop(), Frame::Audio(x.to_vec()));
        assert_eq!(j.stats.resets, 2);
    }

    #[test]
    fn latch_follows_the_first_source_and_a_moving_nat() {
        let a: SocketAddr = "192.0.2.1:4000".parse().expect("addr");
        let b: SocketAddr = "192.0.2.1:4002".parse().expect("addr");
        let evil: SocketAddr = "198.51.100.7:9".parse().expect("addr");
        let mut l = Latch::default();
        assert!(l.accept(a, &pkt(7, 10, &[])));
        assert!(!l.accept(evil, &pkt(99, 500, &[])));
        assert!(!l.accept(evil, &pkt(7, 5_000, &[])));
        // Same SSRC, next sequence number, new port: the caller's NAT rebound.
        assert!(l.accept(b, &pkt(7, 11, &[])));
        assert_eq!(l.remote(), Some(b));
    }
}
