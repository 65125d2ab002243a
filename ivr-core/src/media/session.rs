//! One call's media, sans-IO: datagrams and time in, packets and events out.
//!
//! Receive: symmetric-RTP latch → RTCP noted (activity) and ignored → payload type: audio
//! into the jitter buffer, telephone-events into the RFC 4733 receiver, anything else ignored.
//! Every ptime: one frame out of the jitter buffer, decoded, fed to the in-band detector (when
//! on) and the recorder; one frame from the player (or silence) sent. Keys from all methods
//! pass one de-duplicator.
//!
//! The contract is the engine's (docs/architecture.md): [`MediaSession::handle_input`],
//! [`MediaSession::handle_timeout`], [`MediaSession::poll_output`],
//! [`MediaSession::poll_timeout`].

use super::dtmf::dedup::Dedup;
use super::dtmf::inband::Detector;
use super::dtmf::rfc4733::{self, Receiver, Report};
use super::dtmf::{Digit, info};
use super::g711::{self, Law};
use super::jitter::{Fill, JitterBuffer};
use super::latch::{Latch, LatchRules};
use super::playback::{Piece, PlayEvent, Played, Player};
use super::record::{RecordConfig, Recorded, Recorder};
use super::rtp::{self, Datagram};
use super::sender::{Sender, SenderConfig};
use crate::vocab::{DigitMethod, Key, Time};
use std::collections::VecDeque;
use std::net::SocketAddr;

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

/// What reaches the session.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub enum Input<'a> {
    /// A datagram on the media port.
    Datagram {
        /// Where it came from.
        from: SocketAddr,
        /// Its bytes.
        bytes: &'a [u8],
    },
    /// A SIP INFO body (DTMF relay) from the call's dialog.
    Info {
        /// Its content type.
        content_type: &'a str,
        /// Its body.
        body: &'a [u8],
    },
    /// A key that arrived some other way (a simulated caller, an embedder's own signalling).
    Key(Digit),
}

/// What the session reports.
#[derive(Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MediaEvent {
    /// A key press (once, whatever the methods).
    Digit(Digit),
    /// A play request began to sound.
    PlayStarted(u64),
    /// A play request ended.
    Played(Played),
    /// Recorded audio to keep, in order (8 kHz linear).
    RecordAudio(Vec<i16>),
    /// The recording's finish key was pressed (the recording's end follows).
    FinishKey(Digit),
    /// The recording ended; all its audio has been handed out before this.
    RecordingEnded(Recorded),
    /// An INFO body that carried no key.
    BadInfo(info::InfoError),
}

/// What the session hands out.
#[derive(Debug, PartialEq, Eq)]
#[must_use]
pub enum Output {
    /// A packet to send to [`MediaSession::remote`] (or the address the signalling gave);
    /// give the buffer back with [`MediaSession::recycle`].
    Transmit(Vec<u8>),
    /// An event.
    Event(MediaEvent),
}

/// Recorded audio is handed out in pieces of about this many samples (one second).
const AUDIO_CHUNK: usize = 8_000;

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
    finish_key: Option<Key>,
    out_events: VecDeque<MediaEvent>,
    /// Packets to send (audio frames and telephone-events), oldest first.
    transmit: VecDeque<Vec<u8>>,
    spare: Vec<Vec<u8>>,
    pcm: Vec<i16>,
    /// One tick's received octets.
    codes: Vec<u8>,
    /// Decoded received audio kept for [`MediaSession::take_heard`], when monitoring.
    heard: Option<Vec<i16>>,
    played: Vec<PlayEvent>,
    reports: Vec<Report>,
    tones: Vec<super::dtmf::inband::Tone>,
    dtmf_out: VecDeque<rfc4733::EventPacket>,
    received_samples: u64,
    /// When the far end last sent anything accepted (RTP or RTCP).
    last_received: Option<Time>,
    start: Time,
}

impl MediaSession {
    /// A session starting at `start`; `random` seeds SSRC, sequence number and timestamp.
    pub fn new(c: MediaConfig, start: Time, random: [u32; 3]) -> Self {
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
            detector: inband_on(&c).then(Detector::default),
            dedup: Dedup::default(),
            sender,
            player: Player::new(c.law, frame),
            recorder: None,
            finish_key: None,
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
            last_received: None,
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

    /// The settings in force.
    pub fn config(&self) -> MediaConfig {
        self.c
    }

    /// Whether in-band detection runs.
    pub fn inband(&self) -> bool {
        self.detector.is_some()
    }

    /// Where audio goes (the latched source).
    pub fn remote(&self) -> Option<SocketAddr> {
        self.latch.remote()
    }

    /// Who may set the latch (the signalling's addresses, the allowed networks); a latch
    /// already set stays.
    pub fn set_latch_rules(&mut self, rules: LatchRules) {
        self.latch.set_rules(rules);
    }

    /// Packets the latch refused (strangers, unconfirmed sources, other networks).
    pub fn refused_packets(&self) -> u64 {
        self.latch.refused()
    }

    /// When the far end last sent anything the session accepted (RTP or RTCP).
    pub fn last_received(&self) -> Option<Time> {
        self.last_received
    }

    /// Jitter buffer counters (for metrics: packets lost).
    pub fn jitter_stats(&self) -> super::jitter::Stats {
        self.jitter.stats
    }

    /// Plays pieces queued in `law` (normally this session's; a play queued before a codec
    /// change is transcoded).
    pub fn play(&mut self, id: u64, law: Law, pieces: Vec<Piece>) {
        self.player.play(id, law, pieces);
    }

    /// Stops playback at the next frame (barge-in).
    pub fn stop_playback(&mut self) {
        self.player.stop(&mut self.played);
        self.flush_played();
    }

    /// Starts recording what the far end sends, from the next tick on.
    pub fn record(&mut self, c: RecordConfig, finish_key: Option<Key>) {
        self.recorder = Some(Recorder::new(c));
        self.finish_key = finish_key;
    }

    /// Whether a recording runs.
    pub fn is_recording(&self) -> bool {
        self.recorder.is_some()
    }

    /// Ends the recording now (the rest of its audio and its end are reported).
    pub fn stop_recording(&mut self) {
        if let Some(r) = self.recorder.as_mut() {
            r.stop();
        }
        self.end_recording();
    }

    /// Follows a renegotiation (re-INVITE or UPDATE): another codec or telephone-event type,
    /// and a far end that may send from elsewhere now (the latch starts over). Playback goes
    /// on (queued audio is transcoded); SSRC and sequence numbers continue.
    pub fn renegotiate(&mut self, law: Law, event_pt: Option<u8>, moved: bool) {
        if law != self.c.law {
            self.jitter.clear();
            self.player.set_law(law);
        }
        if event_pt != self.c.event_pt {
            self.events = event_pt.map(Receiver::new);
        }
        self.c.law = law;
        self.c.event_pt = event_pt;
        self.sender
            .set_payload(law.payload_type(), law.silence(), event_pt);
        if inband_on(&self.c) != self.detector.is_some() {
            self.detector = inband_on(&self.c).then(Detector::default);
        }
        if moved {
            self.latch.moved();
        }
    }

    /// Sends a key as RFC 4733 events (the softphone's side).
    pub fn send_dtmf(&mut self, key: Key, now: Time, duration_ms: u32) {
        let ts = self.sender.timestamp();
        self.dtmf_out
            .extend(rfc4733::send(key, now, ts, duration_ms, 8000, 10));
    }

    /// Takes what arrived: a datagram, an INFO body or a key from elsewhere.
    pub fn handle_input(&mut self, input: Input<'_>, now: Time) {
        match input {
            Input::Datagram { from, bytes } => self.receive(from, bytes, now),
            Input::Info { content_type, body } => match info::parse(content_type, body) {
                Ok(d) => self.digit(Digit {
                    key: d.key,
                    method: DigitMethod::Info,
                    at: now,
                }),
                Err(e) => self.out_events.push_back(MediaEvent::BadInfo(e)),
            },
            Input::Key(d) => self.digit(d),
        }
    }

    fn digit(&mut self, d: Digit) {
        if !self.dedup.accept(&d) {
            return;
        }
        if self.finish_key == Some(d.key)
            && let Some(r) = self.recorder.as_mut()
            && r.finish_key().is_some()
        {
            self.out_events.push_back(MediaEvent::FinishKey(d));
            self.end_recording();
            return;
        }
        self.out_events.push_back(MediaEvent::Digit(d));
    }

    fn receive(&mut self, from: SocketAddr, datagram: &[u8], now: Time) {
        let p = match rtp::parse(datagram) {
            Datagram::Rtp(p) => p,
            Datagram::Rtcp => {
                if self.latch.remote() == Some(from) {
                    self.last_received = Some(now);
                }
                return;
            }
            Datagram::Invalid => return,
        };
        if !self.latch.accept(from, &p) {
            return;
        }
        self.last_received = Some(now);
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
            self.out_events.push_back(match p {
                PlayEvent::Started(id) => MediaEvent::PlayStarted(id),
                PlayEvent::Ended(p) => MediaEvent::Played(p),
            });
        }
    }

    /// Reports the rest of the recording's audio and its end, and drops the recorder.
    fn end_recording(&mut self) {
        self.finish_key = None;
        let Some(mut r) = self.recorder.take() else {
            return;
        };
        let result = r.finish();
        if r.pending() > 0 {
            let mut audio = Vec::with_capacity(r.pending());
            r.take_audio(&mut audio);
            self.out_events.push_back(MediaEvent::RecordAudio(audio));
        }
        self.out_events
            .push_back(MediaEvent::RecordingEnded(result));
    }

    /// When to call [`MediaSession::handle_timeout`]: the next frame, key report or event
    /// close (always set: a session ticks for as long as it lives).
    pub fn poll_timeout(&self) -> Option<Time> {
        let next = self.sender.poll_timeout();
        let dtmf = self.dtmf_out.front().map(|e| e.at);
        let events = self.events.as_ref().and_then(Receiver::poll_timeout);
        [Some(next), dtmf, events].into_iter().flatten().min()
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

    /// When the frame after the ones already sent is due (the media clock).
    pub fn next_tick(&self) -> Time {
        self.sender.poll_timeout()
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
        if let Some(r) = self.recorder.as_mut() {
            if r.push(&self.pcm).is_some() {
                self.end_recording();
            } else if r.pending() >= AUDIO_CHUNK {
                let mut audio = Vec::with_capacity(r.pending());
                r.take_audio(&mut audio);
                self.out_events.push_back(MediaEvent::RecordAudio(audio));
            }
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

    /// The next event or packet: events first.
    pub fn poll_output(&mut self) -> Option<Output> {
        if let Some(e) = self.out_events.pop_front() {
            return Some(Output::Event(e));
        }
        self.transmit.pop_front().map(Output::Transmit)
    }

    /// Whether an event is waiting (without taking it).
    pub fn has_event(&self) -> bool {
        !self.out_events.is_empty()
    }

    /// Gives a sent packet's buffer back for reuse (no allocation per packet).
    pub fn recycle(&mut self, mut buf: Vec<u8>) {
        buf.clear();
        if self.spare.len() < 8 {
            self.spare.push(buf);
        }
    }
}

/// Whether the in-band detector runs for these settings.
fn inband_on(c: &MediaConfig) -> bool {
    match c.inband {
        Inband::On => true,
        Inband::Off => false,
        Inband::Auto => c.event_pt.is_none(),
    }
}
