//! The RTP sender of one call: random SSRC, sequence number and timestamp; one frame every
//! ptime on an absolute schedule (frame n is due at start + n·ptime, so a long call never
//! drifts); the marker bit at the start of each talkspurt; silence frames (or none) between
//! prompts; RFC 4733 events sharing the sequence numbers.

use crate::media::dtmf::rfc4733::EventPacket;
use crate::media::rtp;
use crate::vocab::Time;

/// Settings from SDP and configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SenderConfig {
    /// Audio payload type (0 PCMU, 8 PCMA).
    pub pt: u8,
    /// Packet time in ms (20 by default).
    pub ptime_ms: u32,
    /// Telephone-event payload type, if negotiated.
    pub event_pt: Option<u8>,
    /// Send silence frames when nothing plays (else send nothing).
    pub send_silence: bool,
    /// The code of silence in the payload's law.
    pub silence_code: u8,
}

/// The sender.
#[derive(Clone, Debug)]
pub struct Sender {
    c: SenderConfig,
    ssrc: u32,
    seq: u16,
    ts0: u32,
    start: Time,
    frame: u64,
    talking: bool,
    silence: Vec<u8>,
}

impl Sender {
    /// A sender starting at `start`; `random` supplies SSRC, first sequence number and first
    /// timestamp (the runtime draws them from a CSPRNG; tests pass fixed values).
    pub fn new(c: SenderConfig, start: Time, random: [u32; 3]) -> Self {
        Sender {
            silence: vec![c.silence_code; (8 * c.ptime_ms) as usize],
            c,
            ssrc: random[0],
            seq: random[1] as u16,
            ts0: random[2],
            start,
            frame: 0,
            talking: false,
        }
    }

    /// Sends another payload from the next packet on (a re-INVITE changed the codec or the
    /// telephone-event type); SSRC, sequence numbers and timestamps go on unbroken.
    pub fn set_payload(&mut self, pt: u8, silence_code: u8, event_pt: Option<u8>) {
        self.c.pt = pt;
        self.c.silence_code = silence_code;
        self.c.event_pt = event_pt;
        self.silence.fill(silence_code);
    }

    /// Bytes of audio per frame.
    pub fn frame_len(&self) -> usize {
        (8 * self.c.ptime_ms) as usize
    }

    /// When the next frame is due.
    pub fn poll_timeout(&self) -> Time {
        self.start.plus(self.frame * u64::from(self.c.ptime_ms))
    }

    /// The SSRC.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// The RTP timestamp of the frame due next.
    pub fn timestamp(&self) -> u32 {
        self.ts0
            .wrapping_add((self.frame * u64::from(8 * self.c.ptime_ms)) as u32)
    }

    /// Sends the frame due now: `audio` when something plays, else silence (or nothing).
    /// Returns whether `out` holds a packet.
    pub fn frame(&mut self, audio: Option<&[u8]>, out: &mut Vec<u8>) -> bool {
        let ts = self.timestamp();
        self.frame += 1;
        let payload = match audio {
            Some(a) => {
                let marker = !self.talking;
                self.talking = true;
                self.seq = self.seq.wrapping_add(1);
                rtp::build(out, self.c.pt, marker, self.seq, ts, self.ssrc, a);
                return true;
            }
            None if self.c.send_silence => &self.silence,
            None => {
                self.talking = false;
                return false;
            }
        };
        self.talking = false;
        self.seq = self.seq.wrapping_add(1);
        rtp::build(out, self.c.pt, false, self.seq, ts, self.ssrc, payload);
        true
    }

    /// Sends one telephone-event report (the event carries its own timestamp).
    pub fn event(&mut self, e: &EventPacket, out: &mut Vec<u8>) -> bool {
        let Some(pt) = self.c.event_pt else {
            return false;
        };
        self.seq = self.seq.wrapping_add(1);
        rtp::build(
            out,
            pt,
            e.marker,
            self.seq,
            e.timestamp,
            self.ssrc,
            &e.payload,
        );
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::rtp::{Datagram, parse};

    fn cfg(send_silence: bool) -> SenderConfig {
        SenderConfig {
            pt: 8,
            ptime_ms: 20,
            event_pt: Some(101),
            send_silence,
            silence_code: 0xD5,
        }
    }

    #[test]
    fn schedule_is_absolute_and_timestamps_follow_frames() {
        let mut s = Sender::new(cfg(true), Time(1_000), [0xAABB, 65_530, 4_294_967_000]);
        let mut buf = Vec::new();
        // An hour of frames: frame n is due at exactly start + 20·n ms, whenever it is sent.
        for n in 0..180_000u64 {
            assert_eq!(s.poll_timeout(), Time(1_000 + 20 * n));
            s.frame(None, &mut buf);
        }
        assert_eq!(s.timestamp(), 4_294_967_000u32.wrapping_add(180_000 * 160));
    }

    #[test]
    fn marker_starts_each_talkspurt_and_sequence_wraps() {
        let mut s = Sender::new(cfg(false), Time(0), [7, 65_534, 0]);
        let mut buf = Vec::new();
        let audio = [0u8; 160];
        let mut seen = Vec::new();
        for frame in [
            Some(&audio[..]),
            Some(&audio[..]),
            None,
            None,
            Some(&audio[..]),
            Some(&audio[..]),
        ] {
            if s.frame(frame, &mut buf)
                && let Datagram::Rtp(p) = parse(&buf)
            {
                seen.push((p.marker, p.seq, p.timestamp, p.payload.len()));
            }
        }
        assert_eq!(
            seen,
            vec![
                (true, 65_535, 0, 160),
                (false, 0, 160, 160),
                (true, 1, 640, 160),
                (false, 2, 800, 160)
            ]
        );
    }

    #[test]
    fn silence_frames_when_configured() {
        let mut s = Sender::new(cfg(true), Time(0), [7, 0, 0]);
        let mut buf = Vec::new();
        assert!(s.frame(None, &mut buf));
        let Datagram::Rtp(p) = parse(&buf) else {
            panic!("rtp")
        };
        assert!(p.payload.iter().all(|&b| b == 0xD5) && p.payload.len() == 160);
    }
}
