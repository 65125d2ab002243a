//! Receiving audio: a jitter buffer (the latch that decides whose packets get here is in
//! [`super::latch`]).
//!
//! [`JitterBuffer`] reorders within its depth,
//! plays by RTP timestamp (any packet size against any tick), drops duplicates and packets
//! too late to play, conceals loss with silence, follows SSRC changes and sequence or
//! timestamp jumps by starting over without a gap, and bounds its delay when a sender runs
//! fast.

use crate::media::rtp::Packet;
use std::collections::BTreeMap;

/// Why a packet was not buffered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Drop {
    /// Already buffered or played.
    Duplicate,
    /// Its turn to play has passed.
    Late,
}

/// What a playout tick got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fill {
    /// Received audio (gaps inside the tick, if any, are silence).
    Audio,
    /// Nothing arrived in time for this tick: silence.
    Lost,
    /// Not started yet (still filling): silence.
    Waiting,
}

/// A jitter buffer of G.711 packets (one octet per sample) for one stream.
///
/// Playout is by RTP timestamp, not by packet count: each tick takes as many samples as it
/// needs from whichever packets cover them, so a sender packetizing at 30 ms (or switching
/// packet sizes mid-call) plays correctly against 20 ms ticks.
#[derive(Clone, Debug)]
pub struct JitterBuffer {
    depth: u64,
    ssrc: Option<u32>,
    /// Extended (wrap-counted) sequence of the last packet seen, for extension.
    last_ext: u64,
    /// Buffered packets by extended sequence: (RTP timestamp, payload).
    packets: BTreeMap<u64, (u32, Vec<u8>)>,
    /// Payload buffers of played packets, reused for new ones (no allocation per packet).
    spare: Vec<Vec<u8>>,
    /// RTP timestamp of the next sample to play, once started.
    play_ts: Option<u32>,
    /// Counters.
    pub stats: Stats,
}

/// What happened to packets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Ticks that played received audio.
    pub played: u64,
    /// Ticks concealed with silence (nothing arrived in time).
    pub lost: u64,
    /// Duplicates dropped.
    pub duplicates: u64,
    /// Late packets dropped.
    pub late: u64,
    /// Times the stream started over (SSRC change, jump, or too much buffered).
    pub resets: u64,
}

/// A sequence jump bigger than this (in packets) starts the stream over.
const JUMP: u64 = 200;
/// A timestamp gap bigger than this (samples: 2 s) is a new talkspurt or a restarted
/// sender, not loss: playout moves to it.
const TS_JUMP: i64 = 16_000;
/// More packets than this many times the depth buffered: the sender runs fast; start over
/// from the newest to keep the delay bounded.
const OVERFLOW: u64 = 8;

/// `a - b` for RTP timestamps, as a signed distance.
fn ts_diff(a: u32, b: u32) -> i64 {
    i64::from(a.wrapping_sub(b) as i32)
}

impl JitterBuffer {
    /// A buffer holding `depth` packets before playing (2–3 at 20 ms is typical).
    pub fn new(depth: u64) -> Self {
        JitterBuffer {
            depth: depth.max(1),
            ssrc: None,
            last_ext: 0,
            packets: BTreeMap::new(),
            spare: Vec::new(),
            play_ts: None,
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
        let old = std::mem::take(&mut self.packets);
        for (_, (_, buf)) in old {
            self.keep(buf);
        }
        self.play_ts = None;
    }

    fn keep(&mut self, buf: Vec<u8>) {
        if self.spare.len() < 16 {
            self.spare.push(buf);
        }
    }

    /// Drops everything buffered and waits for a new stream (the codec changed).
    pub fn clear(&mut self) {
        let old = std::mem::take(&mut self.packets);
        for (_, (_, buf)) in old {
            self.keep(buf);
        }
        self.ssrc = None;
        self.play_ts = None;
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
        if let Some(play) = self.play_ts {
            let end = p.timestamp.wrapping_add(p.payload.len() as u32);
            let behind = ts_diff(play, end);
            if (0..=TS_JUMP).contains(&behind) {
                self.stats.late += 1;
                return Err(Drop::Late);
            }
        }
        if self.packets.contains_key(&ext) {
            self.stats.duplicates += 1;
            return Err(Drop::Duplicate);
        }
        self.last_ext = self.last_ext.max(ext);
        let mut buf = self.spare.pop().unwrap_or_default();
        buf.clear();
        buf.extend_from_slice(p.payload);
        self.packets.insert(ext, (p.timestamp, buf));
        if self.packets.len() as u64 > self.depth * OVERFLOW {
            // Keep the newest `depth` packets and play from them.
            self.stats.resets += 1;
            while self.packets.len() as u64 > self.depth {
                if let Some((_, (_, b))) = self.packets.pop_first() {
                    self.keep(b);
                }
            }
            self.play_ts = self.packets.first_key_value().map(|(_, (ts, _))| *ts);
        }
        Ok(())
    }

    /// Appends the next `n` samples' octets to `out` (called once per tick); gaps are filled
    /// with `silence` (the codec's silent octet).
    pub fn pop_into(&mut self, n: usize, silence: u8, out: &mut Vec<u8>) -> Fill {
        let mut play = match self.play_ts {
            Some(t) => t,
            None => {
                // Start once `depth` packets are in, from the oldest.
                match self.packets.first_key_value() {
                    Some((_, (ts, _))) if self.packets.len() as u64 >= self.depth => *ts,
                    _ => {
                        out.resize(out.len() + n, silence);
                        return Fill::Waiting;
                    }
                }
            }
        };
        let mut filled = 0;
        let mut audio = false;
        while filled < n {
            let Some((&key, (ts, data))) = self.packets.first_key_value() else {
                out.resize(out.len() + (n - filled), silence);
                play = play.wrapping_add((n - filled) as u32);
                break;
            };
            let off = ts_diff(play, *ts);
            if off < -TS_JUMP {
                // A new talkspurt far ahead: play from it now.
                play = *ts;
                continue;
            }
            if off < 0 {
                // Not yet: silence up to it (or to the end of the tick).
                let gap = ((-off) as usize).min(n - filled);
                out.resize(out.len() + gap, silence);
                filled += gap;
                play = play.wrapping_add(gap as u32);
                continue;
            }
            let off = off as usize;
            if off >= data.len() {
                // Entirely played already (overlapping packets).
                if let Some((_, b)) = self.packets.remove(&key) {
                    self.keep(b);
                }
                continue;
            }
            let take = (data.len() - off).min(n - filled);
            out.extend_from_slice(&data[off..off + take]);
            audio = true;
            filled += take;
            play = play.wrapping_add(take as u32);
            if off + take == data.len()
                && let Some((_, b)) = self.packets.remove(&key)
            {
                self.keep(b);
            }
        }
        self.play_ts = Some(play);
        if audio {
            self.stats.played += 1;
            Fill::Audio
        } else {
            self.stats.lost += 1;
            Fill::Lost
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
            // Small sequence numbers come after a wrap in these tests: the timestamp goes on.
            timestamp: (u32::from(seq) + if seq < 1000 { 65_536 } else { 0 })
                .wrapping_mul(payload.len().max(1) as u32),
            ssrc,
            payload,
        }
    }

    fn pop(j: &mut JitterBuffer, n: usize) -> (Fill, Vec<u8>) {
        let mut out = Vec::new();
        let f = j.pop_into(n, 0xFF, &mut out);
        assert_eq!(out.len(), n, "a tick is always whole");
        (f, out)
    }

    #[test]
    fn played_buffers_are_reused_for_new_packets() {
        let mut j = JitterBuffer::new(1);
        j.push(&pkt(1, 10, &[1u8; 160])).expect("first");
        assert_eq!(pop(&mut j, 160), (Fill::Audio, vec![1u8; 160]));
        let spare = j.spare.len();
        assert_eq!(spare, 1, "the played packet's buffer is kept");
        j.push(&pkt(1, 11, &[2u8; 160])).expect("next");
        assert_eq!(j.spare.len(), 0, "and reused by the next packet");
        assert_eq!(pop(&mut j, 160), (Fill::Audio, vec![2u8; 160]));
    }

    #[test]
    fn reorders_drops_duplicates_and_late_conceals_loss() {
        let mut j = JitterBuffer::new(2);
        let a = [1u8; 4];
        let b = [2u8; 4];
        let c = [3u8; 4];
        assert_eq!(j.push(&pkt(9, 65_535, &b)), Ok(()));
        assert_eq!(pop(&mut j, 4).0, Fill::Waiting);
        assert_eq!(j.push(&pkt(9, 65_534, &a)), Ok(()));
        assert_eq!(j.push(&pkt(9, 65_534, &a)), Err(Drop::Duplicate));
        assert_eq!(pop(&mut j, 4), (Fill::Audio, a.to_vec()));
        assert_eq!(pop(&mut j, 4), (Fill::Audio, b.to_vec()));
        // Seq 0 (after the wrap) is lost; 1 arrives.
        assert_eq!(j.push(&pkt(9, 1, &c)), Ok(()));
        assert_eq!(pop(&mut j, 4), (Fill::Lost, vec![0xFF; 4]));
        assert_eq!(pop(&mut j, 4), (Fill::Audio, c.to_vec()));
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
    fn packets_of_any_size_play_against_any_tick() {
        // 30 ms packets (240 samples) played in 20 ms ticks (160): no loss, nothing dropped,
        // every octet in order.
        let mut j = JitterBuffer::new(2);
        let mut sent = Vec::new();
        let mut got = Vec::new();
        for seq in 0..60u16 {
            let payload: Vec<u8> = (0..240)
                .map(|i| ((u32::from(seq) * 240 + i) % 251) as u8)
                .collect();
            sent.extend_from_slice(&payload);
            let p = Packet {
                pt: 0,
                marker: false,
                seq,
                timestamp: u32::from(seq) * 240,
                ssrc: 5,
                payload: &payload,
            };
            j.push(&p).expect("in order");
            // 3 ticks of 20 ms per 2 packets of 30 ms.
            if seq % 2 == 1 {
                for _ in 0..3 {
                    let (f, out) = pop(&mut j, 160);
                    if f != Fill::Waiting {
                        got.extend(out);
                    }
                }
            }
        }
        assert_eq!(j.stats.lost, 0, "{:?}", j.stats);
        assert_eq!(j.stats.late, 0);
        assert_eq!(got[..], sent[..got.len()], "every sample in order");
        assert!(
            got.len() >= sent.len() - 480,
            "{} of {}",
            got.len(),
            sent.len()
        );
    }

    #[test]
    fn ssrc_change_and_jumps_start_over() {
        let mut j = JitterBuffer::new(1);
        let x = [5u8; 2];
        j.push(&pkt(1, 100, &x)).expect("first");
        assert_eq!(pop(&mut j, 2), (Fill::Audio, x.to_vec()));
        // A new SSRC with an unrelated sequence number plays at once.
        j.push(&pkt(2, 40_000, &x)).expect("new stream");
        assert_eq!(pop(&mut j, 2), (Fill::Audio, x.to_vec()));
        // A sequence jump of thousands within the same SSRC too.
        j.push(&pkt(2, 50_000, &x)).expect("jump");
        assert_eq!(pop(&mut j, 2), (Fill::Audio, x.to_vec()));
        assert_eq!(j.stats.resets, 2);
        // A timestamp jump (new talkspurt, same sequence run) plays without a gap.
        let far = Packet {
            pt: 0,
            marker: true,
            seq: 50_001,
            timestamp: 9_000_000,
            ssrc: 2,
            payload: &x,
        };
        j.push(&far).expect("talkspurt");
        assert_eq!(pop(&mut j, 2), (Fill::Audio, x.to_vec()));
    }

    #[test]
    fn a_fast_sender_cannot_grow_the_delay_without_bound() {
        let mut j = JitterBuffer::new(2);
        for seq in 0..100u16 {
            j.push(&pkt(3, seq, &[7u8; 160])).expect("accepted");
        }
        assert!(
            j.packets.len() as u64 <= 2 * OVERFLOW,
            "{}",
            j.packets.len()
        );
        assert!(j.stats.resets > 0);
        assert_eq!(pop(&mut j, 160).0, Fill::Audio);
    }
}
