//! One call's media, sans-IO: datagrams and time in, packets and events out.
//!
//! Receive: symmetric-RTP latch → RTCP ignored → payload type: audio into the jitter buffer,
//! telephone-events into the RFC 4733 receiver, anything else ignored. Every ptime: one frame
//! out of the jitter buffer, decoded, fed to the in-band detector (when on) and the recorder;
//! one frame from the player (or silence) sent. Keys from all methods pass one de-duplicator.

use super::dtmf::dedup::Dedup;
use super::dtmf::inband::Detector;
use super::dtmf::rfc4733::{self, Receiver, Report};
use super::dtmf::{Digit, info};
use super::g711::{self, Law};
use super::jitter::{Fill, JitterBuffer, Latch};
use super::playback::{Played, Player};
use super::record::{Ended, Recorder};
use super::rtp::{self, Datagram};
use super::sender::{Sender, SenderConfig};
use crate::flow::{DigitMethod, Time};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;

/// When to listen for keys in the audio.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inband {
    /// Only when the peer offered no telephone-event.
    Auto,
    /// Always.
    On,
    /// Never.
    Off,
}

/// Negotiated and configured media settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MediaConfig {
    /// The codec.
    pub law: Law,
    /// Packet time.
    pub ptime_ms: u32,
    /// telephone-event payload type, if negotiated.
    pub event_pt: Option<u8>,
    /// In-band detection.
    pub inband: Inband,
    /// Send silence frames when nothing plays.
    pub send_silence: bool,
    /// Jitter buffer depth in frames.
    pub jitter_frames: u64,
}

impl Default for MediaConfig {
    fn default() -> Self {
        MediaConfig {
            law: Law::Pcmu,
            ptime_ms: 20,
            event_pt: Some(101),
            inband: Inband::Auto,
            send_silence: true,
            jitter_frames: 3,
        }
    }
}

/// What the session reports.
#[derive(Debug)]
pub enum MediaEvent {
    /// A key press (once, whatever the methods).
    Digit(Digit),
    /// A play request ended.
    Played(Played),
    /// A recording ended; finish it with [`MediaSession::take_recorder`].
    RecordingEnded(Ended),
}

/// The media of one call.
pub struct MediaSession {
    c: MediaConfig,
    latch: Latch,
    jitter: JitterBuffer,
    events: Option<Receiver>,
    detector: Option<Detector>,
    dedup: Dedup,
    sender: Sender,
    player: Player,
    recorder: Option<Recorder>,
    finish_key: Option<char>,
    recording_ended: bool,
    out_events: VecDeque<MediaEvent>,
    /// Packets to send (audio frames and telephone-events), oldest first.
    transmit: VecDeque<Vec<u8>>,
    spare: Vec<Vec<u8>>,
    pcm: Vec<i16>,
    /// One tick's received octets.
    codes: Vec<u8>,
    /// Decoded received audio kept for [`MediaSession::take_heard`], when monitoring.
    heard: Option<Vec<i16>>,
    played: Vec<Played>,
    reports: Vec<Report>,
    tones: Vec<super::dtmf::inband::Tone>,
    dtmf_out: VecDeque<rfc4733::EventPacket>,
    received_samples: u64,
    start: Time,
}

impl MediaSession {
    /// A session starting at `start`; `random` seeds SSRC, sequence number and timestamp.
    pub fn new(c: MediaConfig, start: Time, random: [u32; 3]) -> Self {
        let inband = match c.inband {
            Inband::On => true,
            Inband::Off => false,
            Inband::Auto => c.event_pt.is_none(),
        };
        let sender = Sender::new(
            SenderConfig {
                pt: c.law.payload_type(),
                ptime_ms: c.ptime_ms,
                event_pt: c.event_pt,
                send_silence: c.send_silence,
                silence_code: c.law.silence(),
            },
            start,
            random,
        );
        let frame = sender.frame_len();
        MediaSession {
            latch: Latch::default(),
            jitter: JitterBuffer::new(c.jitter_frames),
            events: c.event_pt.map(Receiver::new),
            detector: inband.then(Detector::default),
            dedup: Dedup::default(),
            sender,
            player: Player::new(c.law, frame),
            recorder: None,
            finish_key: None,
            recording_ended: false,
            out_events: VecDeque::new(),
            transmit: VecDeque::new(),
            spare: Vec::new(),
            pcm: Vec::with_capacity(frame),
            codes: Vec::with_capacity(frame),
            heard: None,
            played: Vec::new(),
            reports: Vec::new(),
            tones: Vec::new(),
            dtmf_out: VecDeque::new(),
            received_samples: 0,
            start,
            c,
        }
    }

    /// Keeps the decoded received audio (one frame per tick, silence where nothing came) for
    /// [`MediaSession::take_heard`]: the softphone records and listens to what it hears.
    pub fn monitor(&mut self) {
        self.heard.get_or_insert_with(Vec::new);
    }

    /// Moves the audio heard since the last call onto `out`.
    pub fn take_heard(&mut self, out: &mut Vec<i16>) {
        if let Some(h) = self.heard.as_mut() {
            out.append(h);
        }
    }

    /// The packet time in milliseconds.
    pub fn ptime_ms(&self) -> u32 {
        self.c.ptime_ms
    }

    /// The codec.
    pub fn law(&self) -> Law {
        self.c.law
    }

    /// Whether in-band detection runs.
    pub fn inband(&self) -> bool {
        self.detector.is_some()
    }

    /// Where audio goes (the latched source).
    pub fn remote(&self) -> Option<SocketAddr> {
        self.latch.remote()
    }

    /// Jitter buffer counters (for metrics: packets lost).
    pub fn jitter_stats(&self) -> super::jitter::Stats {
        self.jitter.stats
    }

    /// Plays fragments (already in this session's law).
    pub fn play(&mut self, id: u64, fragments: Vec<Arc<[u8]>>) {
        self.player.play(id, fragments);
    }

    /// Stops playback at the next frame (barge-in).
    pub fn stop_playback(&mut self) {
        self.player.stop(&mut self.played);
        self.flush_played();
    }

    /// Starts recording.
    pub fn record(&mut self, recorder: Recorder, finish_key: Option<char>) {
        self.recorder = Some(recorder);
        self.finish_key = finish_key;
        self.recording_ended = false;
    }

    /// Takes the recorder (to finish it) after it ended or to stop it.
    pub fn take_recorder(&mut self) -> Option<Recorder> {
        self.finish_key = None;
        self.recorder.take()
    }

    /// Sends a key as RFC 4733 events (the softphone's side).
    pub fn send_dtmf(&mut self, key: char, now: Time, duration_ms: u32) {
        let ts = self.sender.timestamp();
        self.dtmf_out
            .extend(rfc4733::send(key, now, ts, duration_ms, 8000, 10));
    }

    /// A key from a SIP INFO body.
    pub fn info(
        &mut self,
        content_type: &str,
        body: &[u8],
        now: Time,
    ) -> Result<(), info::InfoError> {
        let d = info::parse(content_type, body)?;
        self.digit(Digit {
            key: d.key,
            method: DigitMethod::Info,
            at: now,
        });
        Ok(())
    }

    fn digit(&mut self, d: Digit) {
        if !self.dedup.accept(&d) {
            return;
        }
        if self.finish_key == Some(d.key)
            && !self.recording_ended
            && let Some(r) = self.recorder.as_mut()
            && let Some(e) = r.finish_key()
        {
            self.recording_ended = true;
            self.finish_key = None;
            self.out_events.push_back(MediaEvent::RecordingEnded(e));
            return;
        }
        self.out_events.push_back(MediaEvent::Digit(d));
    }

    /// A datagram arrived on the media port.
    pub fn receive(&mut self, from: SocketAddr, datagram: &[u8], now: Time) {
        let Datagram::Rtp(p) = rtp::parse(datagram) else {
            return;
        };
        if !self.latch.accept(from, &p) {
            return;
        }
        if Some(p.pt) == self.c.event_pt {
            if let Some(r) = self.events.as_mut() {
                let _ = r.handle(&p, now, &mut self.reports);
            }
            self.take_reports();
        } else if p.pt == self.c.law.payload_type() {
            let _ = self.jitter.push(&p);
        }
    }

    fn take_reports(&mut self) {
        // Taken out and put back so its capacity is reused: no allocation per packet.
        let mut reports = std::mem::take(&mut self.reports);
        for r in reports.drain(..) {
            if let Report::Pressed(d) = r {
                self.digit(d);
            }
        }
        self.reports = reports;
    }

    fn flush_played(&mut self) {
        for p in self.played.drain(..) {
            self.out_events.push_back(MediaEvent::Played(p));
        }
    }

    /// When to call [`MediaSession::handle_timeout`].
    pub fn poll_timeout(&self) -> Time {
        let next = self.sender.poll_timeout();
        let dtmf = self.dtmf_out.front().map(|e| e.at);
        let events = self.events.as_ref().and_then(Receiver::poll_timeout);
        [Some(next), dtmf, events]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(next)
    }

    /// Does what is due at `now`: a frame in and a frame out per ptime, keys sent, events
    /// closed.
    pub fn handle_timeout(&mut self, now: Time) {
        if let Some(r) = self.events.as_mut() {
            r.handle_timeout(now, &mut self.reports);
            self.take_reports();
        }
        while self.dtmf_out.front().is_some_and(|e| e.at <= now) {
            if let Some(e) = self.dtmf_out.pop_front() {
                let mut buf = self.spare.pop().unwrap_or_default();
                if self.sender.event(&e, &mut buf) {
                    self.transmit.push_back(buf);
                }
            }
        }
        while self.sender.poll_timeout() <= now {
            self.tick();
        }
    }

    fn tick(&mut self) {
        // In: one frame from the jitter buffer.
        let frame_len = self.sender.frame_len();
        self.codes.clear();
        let fill = self
            .jitter
            .pop_into(frame_len, self.c.law.silence(), &mut self.codes);
        self.pcm.clear();
        match fill {
            Fill::Audio => g711::decode(self.c.law, &self.codes, &mut self.pcm),
            Fill::Lost | Fill::Waiting => self.pcm.resize(frame_len, 0),
        }
        self.received_samples += self.pcm.len() as u64;
        if let Some(h) = self.heard.as_mut() {
            h.extend_from_slice(&self.pcm);
        }
        if let Some(d) = self.detector.as_mut() {
            d.push(&self.pcm, &mut self.tones);
            let at0 = self.start;
            let mut tones = std::mem::take(&mut self.tones);
            for t in tones.drain(..) {
                self.digit(Digit {
                    key: t.key,
                    method: DigitMethod::Inband,
                    at: at0.plus(t.start / 8),
                });
            }
            self.tones = tones;
        }
        if !self.recording_ended
            && let Some(r) = self.recorder.as_mut()
            && let Some(e) = r.push(&self.pcm)
        {
            // Reported once; the recorder stays for `take_recorder`.
            self.recording_ended = true;
            self.finish_key = None;
            self.out_events.push_back(MediaEvent::RecordingEnded(e));
        }
        // Out: one frame from the player, or silence.
        let mut buf = self.spare.pop().unwrap_or_default();
        let audio = self.player.next_frame(&mut self.played);
        let sent = self.sender.frame(audio, &mut buf);
        self.flush_played();
        if sent {
            self.transmit.push_back(buf);
        } else {
            self.spare.push(buf);
        }
    }

    /// The next packet to send to [`MediaSession::remote`] (or the SDP address).
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.transmit.pop_front()
    }

    /// Gives a sent packet's buffer back for reuse (no allocation per packet).
    pub fn recycle(&mut self, mut buf: Vec<u8>) {
        buf.clear();
        if self.spare.len() < 8 {
            self.spare.push(buf);
        }
    }

    /// Whether an event is waiting (without taking it).
    pub fn has_event(&self) -> bool {
        !self.out_events.is_empty()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<MediaEvent> {
        self.out_events.pop_front()
    }
}
