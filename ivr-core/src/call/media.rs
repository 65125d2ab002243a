//! A call's media: a real RTP session, or the simulator's model of one. The call machine
//! talks to both through this one face, so that everything above the media is the same code
//! in a live call and in a simulated one.

use super::model::Model;
use crate::media::dtmf::Digit;
use crate::media::g711::Law;
use crate::media::jitter::Stats;
use crate::media::playback::Piece;
use crate::media::record::RecordConfig;
use crate::media::session::{self, MediaEvent, MediaSession};
use crate::vocab::{Key, Time};
use std::net::SocketAddr;

/// The media of one answered call.
pub(crate) enum Media {
    /// RTP on a real (or virtual) network.
    Rtp(Box<MediaSession>),
    /// The simulator's model.
    Model(Model),
}

impl Media {
    pub(crate) fn law(&self) -> Law {
        match self {
            Media::Rtp(s) => s.law(),
            Media::Model(m) => m.law(),
        }
    }

    pub(crate) fn play(&mut self, id: u64, law: Law, pieces: Vec<Piece>, now: Time) {
        match self {
            Media::Rtp(s) => s.play(id, law, pieces),
            Media::Model(m) => m.play(id, &pieces, now),
        }
    }

    pub(crate) fn stop_playback(&mut self, now: Time) {
        match self {
            Media::Rtp(s) => s.stop_playback(),
            Media::Model(m) => m.stop_playback(now),
        }
    }

    pub(crate) fn record(&mut self, c: RecordConfig, finish_key: Option<Key>, now: Time) {
        match self {
            Media::Rtp(s) => s.record(c, finish_key),
            Media::Model(m) => m.record(c, finish_key, now),
        }
    }

    pub(crate) fn is_recording(&self) -> bool {
        match self {
            Media::Rtp(s) => s.is_recording(),
            Media::Model(m) => m.is_recording(),
        }
    }

    pub(crate) fn stop_recording(&mut self, now: Time) {
        match self {
            Media::Rtp(s) => s.stop_recording(),
            Media::Model(m) => m.stop_recording(now),
        }
    }

    pub(crate) fn key(&mut self, d: Digit, now: Time) {
        match self {
            Media::Rtp(s) => s.handle_input(session::Input::Key(d), now),
            Media::Model(m) => m.key(d, now),
        }
    }

    pub(crate) fn info(&mut self, content_type: &str, body: &[u8], now: Time) {
        if let Media::Rtp(s) = self {
            s.handle_input(session::Input::Info { content_type, body }, now);
        }
    }

    pub(crate) fn datagram(&mut self, from: SocketAddr, bytes: &[u8], now: Time) {
        if let Media::Rtp(s) = self {
            s.handle_input(session::Input::Datagram { from, bytes }, now);
        }
    }

    pub(crate) fn speech(&mut self, ms: u64, now: Time) {
        if let Media::Model(m) = self {
            m.speech(ms, now);
        }
    }

    pub(crate) fn renegotiate(&mut self, law: Law, event_pt: Option<u8>, moved: bool) {
        match self {
            Media::Rtp(s) => s.renegotiate(law, event_pt, moved),
            Media::Model(m) => m.set_law(law),
        }
    }

    pub(crate) fn poll_timeout(&self) -> Option<Time> {
        match self {
            Media::Rtp(s) => s.poll_timeout(),
            Media::Model(m) => m.poll_timeout(),
        }
    }

    pub(crate) fn handle_timeout(&mut self, now: Time) {
        match self {
            Media::Rtp(s) => s.handle_timeout(now),
            Media::Model(m) => m.handle_timeout(now),
        }
    }

    /// The next event (an RTP session's packets stay queued for [`Media::poll_transmit`]).
    pub(crate) fn poll_event(&mut self) -> Option<MediaEvent> {
        match self {
            Media::Rtp(s) if s.has_event() => match s.poll_output() {
                Some(session::Output::Event(e)) => Some(e),
                Some(session::Output::Transmit(p)) => {
                    // Events come before packets; this arm is not reached while an event
                    // waits, but a packet is never lost if it is.
                    s.recycle(p);
                    None
                }
                None => None,
            },
            Media::Rtp(_) => None,
            Media::Model(m) => m.poll_event(),
        }
    }

    /// The next packet to send.
    pub(crate) fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        match self {
            Media::Rtp(s) if !s.has_event() => match s.poll_output() {
                Some(session::Output::Transmit(p)) => Some(p),
                // Not reached: no event waits.
                Some(session::Output::Event(_)) | None => None,
            },
            Media::Rtp(_) | Media::Model(_) => None,
        }
    }

    pub(crate) fn recycle(&mut self, p: Vec<u8>) {
        if let Media::Rtp(s) = self {
            s.recycle(p);
        }
    }

    /// Who may set the latch (real media only).
    pub(crate) fn set_latch_rules(&mut self, rules: crate::media::latch::LatchRules) {
        if let Media::Rtp(s) = self {
            s.set_latch_rules(rules);
        }
    }

    /// The latched far end (real media only).
    pub(crate) fn remote(&self) -> Option<SocketAddr> {
        match self {
            Media::Rtp(s) => s.remote(),
            Media::Model(_) => None,
        }
    }

    /// When the far end last sent anything (real media only).
    pub(crate) fn last_received(&self) -> Option<Time> {
        match self {
            Media::Rtp(s) => s.last_received(),
            Media::Model(_) => None,
        }
    }

    pub(crate) fn ptime_ms(&self) -> u64 {
        match self {
            Media::Rtp(s) => u64::from(s.ptime_ms()),
            Media::Model(m) => m.ptime_ms(),
        }
    }

    pub(crate) fn is_real(&self) -> bool {
        matches!(self, Media::Rtp(_))
    }

    pub(crate) fn stats(&self) -> Stats {
        match self {
            Media::Rtp(s) => s.jitter_stats(),
            Media::Model(_) => Stats::default(),
        }
    }

    /// Packets the latch refused (real media only).
    pub(crate) fn refused_packets(&self) -> u64 {
        match self {
            Media::Rtp(s) => s.refused_packets(),
            Media::Model(_) => 0,
        }
    }

    pub(crate) fn inband(&self) -> bool {
        match self {
            Media::Rtp(s) => s.inband(),
            Media::Model(_) => false,
        }
    }
}
