//! RFC 4733 telephone-event, receive and send.
//!
//! The receiver reports exactly one digit per key press. An event is identified by (SSRC, RTP
//! timestamp, event code), never by the marker bit, the sequence number or packet spacing; a
//! zero-duration report is ignored (digits are not states, §2.3.5) but the next one starts the
//! event; end reports may repeat with or without new sequence numbers; an event whose end
//! reports are all lost is closed after a quiet period; a long press continues in segments
//! (§2.5.2.3). The volume field is never used to accept or reject.

use super::Digit;
use crate::media::rtp::Packet;
use crate::vocab::{DigitMethod, Key, Time};
use std::collections::VecDeque;

/// What the receiver reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Report {
    /// A key went down (report it to the flow now).
    Pressed(Digit),
    /// The key press ended; duration in telephone-event clock units.
    Released {
        /// The key.
        key: Key,
        /// Total duration, across segments.
        duration: u32,
        /// Whether it ended by timeout because no end report arrived.
        timed_out: bool,
    },
}

/// Why a packet was not used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ignored {
    /// Not the negotiated telephone-event payload type.
    PayloadType(u8),
    /// Shorter than 4 bytes.
    Short,
    /// An event that is not a DTMF key (for example hook flash, 16).
    NotDtmf(u8),
    /// Duration 0 (not a state event).
    ZeroDuration,
}

#[derive(Clone, Copy, Debug)]
struct Event {
    ssrc: u32,
    timestamp: u32,
    code: u8,
    /// Duration of earlier segments.
    base: u32,
    duration: u32,
    ended: bool,
    last_at: Time,
    /// Time between the last two reports, for the timeout.
    interval: u64,
}

/// Keeps this many finished events to recognise their late repeats.
const MEMORY: usize = 16;

/// The receiver for one RTP session.
#[derive(Clone, Debug)]
pub struct Receiver {
    pt: u8,
    events: VecDeque<Event>,
    /// Closes an event after this long without reports (at least; see [`Receiver::poll_timeout`]).
    pub quiet_ms: u64,
}

impl Receiver {
    /// A receiver for the negotiated payload type.
    pub fn new(pt: u8) -> Self {
        Receiver {
            pt,
            events: VecDeque::new(),
            quiet_ms: 200,
        }
    }

    /// Handles one RTP packet; `out` gets any reports.
    pub fn handle(&mut self, p: &Packet, now: Time, out: &mut Vec<Report>) -> Result<(), Ignored> {
        if p.pt != self.pt {
            return Err(Ignored::PayloadType(p.pt));
        }
        let [code, flags, d1, d0, ..] = *p.payload else {
            return Err(Ignored::Short);
        };
        let end = flags & 0x80 != 0;
        let duration = u32::from(u16::from_be_bytes([d1, d0]));
        let key = Key::from_event(code).ok_or(Ignored::NotDtmf(code))?;
        if let Some(e) = self
            .events
            .iter_mut()
            .find(|e| e.ssrc == p.ssrc && e.timestamp == p.timestamp && e.code == code)
        {
            if e.ended {
                // A repeated end report, or a late packet of a finished event.
                return Ok(());
            }
            if duration > e.duration {
                e.interval = now.0.saturating_sub(e.last_at.0).max(1);
                e.duration = duration;
            }
            e.last_at = now;
            if end {
                e.ended = true;
                out.push(Report::Released {
                    key,
                    duration: e.base + e.duration,
                    timed_out: false,
                });
            }
            return Ok(());
        }
        if duration == 0 && !end {
            return Err(Ignored::ZeroDuration);
        }
        // A new segment of a long press: the previous one ended at 0xFFFF without E.
        let continued = self.events.iter_mut().find(|e| {
            e.ssrc == p.ssrc
                && e.code == code
                && !e.ended
                && e.duration == 0xFFFF
                && e.timestamp.wrapping_add(0xFFFF) == p.timestamp
        });
        if let Some(prev) = continued {
            prev.base += 0xFFFF;
            prev.timestamp = p.timestamp;
            prev.duration = duration;
            prev.last_at = now;
            if end {
                prev.ended = true;
                out.push(Report::Released {
                    key,
                    duration: prev.base + duration,
                    timed_out: false,
                });
            }
            return Ok(());
        }
        // Events on other keys of this source end when a new one starts.
        let mut closed = Vec::new();
        for e in self
            .events
            .iter_mut()
            .filter(|e| e.ssrc == p.ssrc && !e.ended)
        {
            e.ended = true;
            closed.push((e.code, e.base + e.duration));
        }
        for (c, d) in closed {
            if let Some(k) = Key::from_event(c) {
                out.push(Report::Released {
                    key: k,
                    duration: d,
                    timed_out: true,
                });
            }
        }
        out.push(Report::Pressed(Digit {
            key,
            method: DigitMethod::Rfc4733,
            at: now,
        }));
        let e = Event {
            ssrc: p.ssrc,
            timestamp: p.timestamp,
            code,
            base: 0,
            duration,
            ended: end,
            last_at: now,
            interval: 50,
        };
        if end {
            out.push(Report::Released {
                key,
                duration,
                timed_out: false,
            });
        }
        self.events.push_back(e);
        while self.events.len() > MEMORY {
            self.events.pop_front();
        }
        Ok(())
    }

    /// When an open event should be closed for lack of reports.
    pub fn poll_timeout(&self) -> Option<Time> {
        self.events
            .iter()
            .filter(|e| !e.ended)
            .map(|e| e.last_at.plus(self.quiet(e)))
            .min()
    }

    fn quiet(&self, e: &Event) -> u64 {
        // Three report intervals (RFC 4733 §2.5.2.2), and never less than `quiet_ms`.
        (e.interval * 3).max(self.quiet_ms)
    }

    /// Closes events that have been quiet too long.
    pub fn handle_timeout(&mut self, now: Time, out: &mut Vec<Report>) {
        let quiet_ms = self.quiet_ms;
        for e in self.events.iter_mut().filter(|e| !e.ended) {
            if now.0 >= e.last_at.0 + (e.interval * 3).max(quiet_ms) {
                e.ended = true;
                if let Some(key) = Key::from_event(e.code) {
                    out.push(Report::Released {
                        key,
                        duration: e.base + e.duration,
                        timed_out: true,
                    });
                }
            }
        }
    }
}

/// One packet the sender wants sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventPacket {
    /// Marker bit (first packet of the event).
    pub marker: bool,
    /// RTP timestamp: the event's start, the same for all its packets.
    pub timestamp: u32,
    /// The 4-byte payload.
    pub payload: [u8; 4],
    /// When to send it.
    pub at: Time,
}

/// Sends one key press as RFC 4733 events: the first packet with M=1, updates every 50 ms with
/// the same timestamp and a growing duration, then the end report three times (each goes out
/// as its own RTP packet, so each gets a new sequence number from the session).
pub fn send(
    key: Key,
    start: Time,
    timestamp: u32,
    duration_ms: u32,
    clock_hz: u32,
    volume: u8,
) -> Vec<EventPacket> {
    let code = key.event();
    let units = |ms: u32| (u64::from(ms) * u64::from(clock_hz) / 1000).min(0xFFFF) as u16;
    let pkt = |marker: bool, end: bool, ms: u32, at_ms: u64| EventPacket {
        marker,
        timestamp,
        payload: {
            let d = units(ms).to_be_bytes();
            [code, (u8::from(end) << 7) | (volume & 0x3F), d[0], d[1]]
        },
        at: start.plus(at_ms),
    };
    let mut out = Vec::new();
    let mut t = 0;
    loop {
        // Durations are never 0 (§2.3.5): the first report already covers one interval.
        let ms = (t + 50).min(duration_ms);
        out.push(pkt(t == 0, false, ms, u64::from(t)));
        t += 50;
        if t >= duration_ms {
            break;
        }
    }
    for i in 0..3u64 {
        out.push(pkt(
            false,
            true,
            duration_ms,
            u64::from(duration_ms) + i * 50,
        ));
    }
    out
}
