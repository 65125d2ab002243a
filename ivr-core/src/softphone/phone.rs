//! The softphone's call as one sans-IO machine: the user agent client, the media session,
//! the ear, and the caller's steps.

use super::ear::Ear;
use super::uac::{Uac, UacConfig, UacEvent};
use super::{DtmfMode, KeyTiming, PhoneReport, Step};
use crate::media::dtmf::inband;
use crate::media::g711::{self, Law};
use crate::media::playback::Piece;
use crate::media::session::{self, Inband, MediaConfig, MediaSession};
use crate::sip::sdp::Agreed;
use crate::sip::transaction::Timers;
use crate::vocab::{Key, Time};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;

/// What the softphone's call does.
#[derive(Clone, Debug)]
pub struct PhoneConfig {
    /// Our SIP address (Via, Contact).
    pub local: SocketAddr,
    /// Our RTP address, offered in SDP.
    pub rtp: SocketAddr,
    /// Where requests go.
    pub server: SocketAddr,
    /// Request-URI (`sip:940@127.0.0.1:5060`).
    pub target: String,
    /// Our user part (calling number).
    pub user: String,
    /// Codecs offered.
    pub prefer: Vec<Law>,
    /// Credentials for digest challenges.
    pub credentials: Option<(String, String)>,
    /// The caller's steps.
    pub steps: Vec<Step>,
    /// How keys go.
    pub dtmf: DtmfMode,
    /// When they go.
    pub timing: KeyTiming,
    /// The caller's voice, 8 kHz samples, spoken at `say` steps (or after the first beep when
    /// no step says when).
    pub say: Option<Arc<[i16]>>,
    /// Hang up this long after the answer; `None`: when the far end hangs up, or at `limit_ms`.
    pub hangup_after_ms: Option<u64>,
    /// Hang up this long after the INVITE whatever happens.
    pub limit_ms: u64,
    /// Keep everything heard (for [`Phone::heard`]).
    pub keep_heard: bool,
    /// Seeds the Call-ID and tags.
    pub seed: u64,
    /// The Call-ID to use instead (a test that reuses one on purpose).
    pub call_id: Option<String>,
    /// Seeds SSRC, sequence number and timestamp.
    pub random: [u32; 3],
}

/// What reaches the phone.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub enum Input<'a> {
    /// A SIP datagram.
    Sip {
        /// Its bytes.
        bytes: &'a [u8],
        /// Where it came from.
        from: SocketAddr,
    },
    /// A datagram on the RTP port.
    Rtp {
        /// Its bytes.
        bytes: &'a [u8],
        /// Where it came from.
        from: SocketAddr,
    },
}

/// What the phone sends.
#[derive(Debug)]
#[must_use]
#[non_exhaustive]
pub enum Output {
    /// A SIP message.
    Sip {
        /// Where to.
        to: SocketAddr,
        /// The message.
        bytes: Arc<[u8]>,
    },
    /// An RTP packet; give it back with [`Phone::recycle`].
    Rtp {
        /// From our RTP address (it moves with [`Phone::move_media`]).
        from: SocketAddr,
        /// Where to.
        to: SocketAddr,
        /// The packet.
        packet: Vec<u8>,
    },
}

const SAY_ID: u64 = 1 << 40;
const TONE_ID: u64 = 1 << 41;

/// One softphone call.
pub struct Phone {
    cfg: PhoneConfig,
    uac: Uac,
    media: Option<MediaSession>,
    remote: Option<SocketAddr>,
    answered_at: Option<Time>,
    started: Time,
    steps: VecDeque<Step>,
    speak_on_beep: bool,
    waiting_beep: bool,
    speaking_until: Option<Time>,
    last_step_at: Option<Time>,
    keys_out: VecDeque<(Time, Key)>,
    ear: Ear,
    /// Heard since the ear last listened.
    fresh: Vec<i16>,
    all_heard: Vec<i16>,
    hung_up: bool,
    moves: u32,
    /// On hold: nothing is sent.
    held: bool,
    report: PhoneReport,
}

impl std::fmt::Debug for Phone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Phone")
            .field("uac", &self.uac)
            .finish_non_exhaustive()
    }
}

fn media_config(a: &Agreed) -> MediaConfig {
    MediaConfig {
        law: a.law,
        ptime_ms: a.ptime.clamp(10, 60),
        event_pt: a.event.map(|(pt, _)| pt),
        inband: Inband::Off,
        send_silence: true,
        jitter_frames: 2,
    }
}

impl Phone {
    /// Places the call at `now` (the INVITE is the first output).
    pub fn new(cfg: PhoneConfig, now: Time) -> Phone {
        let uac = Uac::new(
            UacConfig {
                local: cfg.local,
                server: cfg.server,
                target: cfg.target.clone(),
                user: cfg.user.clone(),
                rtp: cfg.rtp,
                prefer: cfg.prefer.clone(),
                event_pt: 101,
                timers: Timers::default(),
                credentials: cfg.credentials.clone(),
                call_id: cfg.call_id.clone(),
            },
            cfg.seed,
            now,
        );
        let steps: VecDeque<Step> = cfg.steps.iter().cloned().collect();
        let speak_on_beep = cfg.say.is_some() && !steps.contains(&Step::Speak);
        let report = PhoneReport {
            call_id: uac.call_id().to_string(),
            ..Default::default()
        };
        Phone {
            uac,
            media: None,
            remote: None,
            answered_at: None,
            started: now,
            steps,
            speak_on_beep,
            waiting_beep: false,
            speaking_until: None,
            last_step_at: None,
            keys_out: VecDeque::new(),
            ear: Ear::new(),
            fresh: Vec::new(),
            all_heard: Vec::new(),
            hung_up: false,
            moves: 0,
            held: false,
            report,
            cfg,
        }
    }

    /// Whether the call is over.
    pub fn is_finished(&self) -> bool {
        self.uac.is_ended()
    }

    /// What happened so far.
    pub fn report(&self) -> &PhoneReport {
        &self.report
    }

    /// Everything heard (with [`PhoneConfig::keep_heard`]), 8 kHz.
    pub fn heard(&self) -> &[i16] {
        &self.all_heard
    }

    /// The SIP Call-ID.
    pub fn call_id(&self) -> &str {
        self.uac.call_id()
    }

    /// Our SIP address.
    pub fn sip_addr(&self) -> SocketAddr {
        self.cfg.local
    }

    /// Our RTP address now.
    pub fn rtp_addr(&self) -> SocketAddr {
        self.cfg.rtp
    }

    /// Hangs up now.
    pub fn hang_up(&mut self, now: Time) {
        if !self.hung_up {
            self.hung_up = true;
            self.uac.hangup(now);
        }
    }

    /// Moves our media to `rtp` with `prefer` codecs (a re-INVITE); once answered, a new
    /// stream (a new SSRC) goes from there.
    pub fn move_media(&mut self, rtp: SocketAddr, prefer: &[Law], now: Time) {
        self.uac.reinvite(rtp, prefer, now);
    }

    /// Puts the call on hold (a re-INVITE with `a=inactive`): the phone sends no media until
    /// [`Phone::resume`].
    pub fn hold(&mut self, now: Time) {
        let (rtp, prefer) = (self.cfg.rtp, self.cfg.prefer.clone());
        self.held = true;
        self.uac.reinvite_as(rtp, &prefer, "inactive", now);
    }

    /// Takes the call off hold.
    pub fn resume(&mut self, now: Time) {
        let (rtp, prefer) = (self.cfg.rtp, self.cfg.prefer.clone());
        self.held = false;
        self.uac.reinvite_as(rtp, &prefer, "sendrecv", now);
    }

    fn line(&mut self, now: Time, text: String) {
        self.report.lines.push((now.since(self.started), text));
    }

    /// Takes what arrived.
    pub fn handle_input(&mut self, input: Input<'_>, now: Time) {
        match input {
            Input::Sip { bytes, from } => {
                self.uac
                    .handle_input(crate::sip::Input::udp(bytes, from), now);
                self.after(now);
            }
            Input::Rtp { bytes, from } => {
                if let Some(m) = self.media.as_mut() {
                    m.handle_input(session::Input::Datagram { from, bytes }, now);
                }
            }
        }
    }

    /// Does what is due at `now`.
    pub fn handle_timeout(&mut self, now: Time) {
        if self.uac.poll_timeout().is_some_and(|t| t <= now) {
            self.uac.handle_timeout(now);
        }
        if let Some(m) = self.media.as_mut()
            && m.poll_timeout().is_some_and(|t| t <= now)
        {
            m.handle_timeout(now);
        }
        self.after(now);
    }

    /// When to call [`Phone::handle_timeout`].
    pub fn poll_timeout(&self) -> Option<Time> {
        if self.is_finished() {
            return None;
        }
        // The next key group's time, when nothing else holds it back (a deadline that
        // passes while the phone waits for a beep would wake it for nothing).
        let pause = match (self.cfg.timing, self.last_step_at) {
            (KeyTiming::Pause(ms), Some(t))
                if !self.steps.is_empty() && !self.waiting_beep && self.keys_out.is_empty() =>
            {
                let speaking = self.speaking_until.unwrap_or(Time(0));
                Some(t.plus(ms).max(speaking))
            }
            _ => None,
        };
        let hangup = match (self.cfg.hangup_after_ms, self.answered_at) {
            (Some(ms), Some(a)) if !self.hung_up => Some(a.plus(ms)),
            _ => None,
        };
        let limit = (!self.hung_up).then(|| self.started.plus(self.cfg.limit_ms));
        [
            self.uac.poll_timeout(),
            self.media.as_ref().and_then(MediaSession::poll_timeout),
            self.keys_out.front().map(|(t, _)| *t),
            pause,
            hangup,
            limit,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The next message or packet to send.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<Output> {
        if let Some((to, bytes)) = self.uac.poll_transmit() {
            return Some(Output::Sip { to, bytes });
        }
        let from = self.cfg.rtp;
        let held = self.held;
        let m = self.media.as_mut()?;
        while let Some(o) = m.poll_output() {
            match o {
                session::Output::Transmit(packet) => match m.remote().or(self.remote) {
                    Some(to) if !held => return Some(Output::Rtp { from, to, packet }),
                    _ => m.recycle(packet),
                },
                session::Output::Event(_) => {}
            }
        }
        None
    }

    /// Gives a sent packet's buffer back.
    pub fn recycle(&mut self, packet: Vec<u8>) {
        if let Some(m) = self.media.as_mut() {
            m.recycle(packet);
        }
    }

    fn new_media(&mut self, a: &Agreed, now: Time) {
        self.remote = a.remote.map(|(ip, port)| SocketAddr::new(ip, port));
        let r = self.cfg.random;
        let moves = self.moves;
        let random = [
            r[0].wrapping_add(moves.wrapping_mul(0x9E37_79B9)),
            r[1].wrapping_add(moves),
            r[2].wrapping_add(moves.wrapping_mul(7)),
        ];
        let mut m = MediaSession::new(media_config(a), now, random);
        m.monitor();
        self.media = Some(m);
    }

    /// After every input: the user agent's events, then the caller.
    fn after(&mut self, now: Time) {
        while let Some(e) = self.uac.poll_event() {
            self.uac_event(e, now);
        }
        if !self.hung_up && now >= self.started.plus(self.cfg.limit_ms) {
            self.hang_up(now);
        }
        self.caller(now);
    }

    fn uac_event(&mut self, e: UacEvent, now: Time) {
        match e {
            UacEvent::Progress { code, reason } => self.line(now, format!("{code} {reason}")),
            UacEvent::Answered { media: a } => {
                self.report.answered = true;
                self.answered_at = Some(now);
                self.last_step_at = Some(now);
                let te = a
                    .event
                    .map(|(pt, _)| format!(", telephone-event {pt}"))
                    .unwrap_or_default();
                self.line(now, format!("answered: {}{te}", a.law.name()));
                self.new_media(&a, now);
            }
            UacEvent::Moved { media: a } => {
                self.moves += 1;
                let moved = self.uac.rtp() != self.cfg.rtp;
                self.cfg.rtp = self.uac.rtp();
                self.line(
                    now,
                    format!(
                        "media {}: {} from {}",
                        if self.held {
                            "held"
                        } else if moved {
                            "moved"
                        } else {
                            "resumed"
                        },
                        a.law.name(),
                        self.cfg.rtp
                    ),
                );
                if moved || self.media.as_ref().is_some_and(|m| m.law() != a.law) {
                    self.new_media(&a, now);
                }
            }
            UacEvent::MoveFailed(code) => self.line(now, format!("re-INVITE refused: {code}")),
            UacEvent::Failed { code, reason } => {
                self.line(now, format!("failed: {code} {reason}"));
                self.report.failure = Some((code, reason));
            }
            UacEvent::InfoAnswered(code) => self.line(now, format!("INFO answered {code}")),
            UacEvent::Ended { by_remote } => {
                self.report.remote_hangup = by_remote;
                self.line(
                    now,
                    if by_remote {
                        "the far end hung up".into()
                    } else {
                        "hung up".into()
                    },
                );
            }
        }
    }

    /// The caller's side: listen, press keys, speak, hang up.
    fn caller(&mut self, now: Time) {
        let (Some(ans), false) = (self.answered_at, self.is_finished()) else {
            return;
        };
        let Some(m) = self.media.as_mut() else { return };
        m.take_heard(&mut self.fresh);
        let beep_ended = self.ear.hear(&self.fresh);
        self.report.heard_audio_ms = self.ear.audio_ms;
        if self.cfg.keep_heard {
            self.all_heard.append(&mut self.fresh);
        } else {
            self.fresh.clear();
        }
        if beep_ended {
            self.report.beeps += 1;
            self.line(now, "beep".into());
        }
        let speaking = self.speaking_until.is_some_and(|t| now < t);
        if (self.waiting_beep || self.speak_on_beep) && beep_ended && self.speaking_until.is_none()
        {
            if let Some(say) = self.cfg.say.clone()
                && let Some(m) = self.media.as_mut()
            {
                let law = m.law();
                let mut bytes = Vec::with_capacity(say.len());
                g711::encode(law, &say, &mut bytes);
                m.play(SAY_ID, law, vec![Piece::Audio(bytes.into())]);
                let ms = say.len() as u64 / 8;
                self.speaking_until = Some(now.plus(ms));
                self.line(now, format!("speaking {:.1} s", ms as f64 / 1000.0));
            }
            self.waiting_beep = false;
            let say_ms = self.cfg.say.as_ref().map_or(0, |s| s.len() as u64 / 8);
            self.last_step_at = Some(now.plus(say_ms));
        }
        let ready = match self.cfg.timing {
            KeyTiming::Pause(ms) => self.last_step_at.is_some_and(|t| now.0 >= t.0 + ms),
            KeyTiming::Silence(ms) => {
                self.ear.heard_any
                    && self.ear.quiet_ms >= ms
                    && self.last_step_at.is_some_and(|t| now >= t)
            }
            KeyTiming::Resume(ms) => {
                let resumed = self.ear.resumed_after.take().is_some_and(|q| q >= ms);
                resumed && self.last_step_at.is_some_and(|t| now >= t)
            }
        };
        if ready && !self.waiting_beep && !speaking && self.keys_out.is_empty() {
            match self.steps.pop_front() {
                Some(Step::Keys(k)) => {
                    for (i, key) in k.iter().enumerate() {
                        self.keys_out.push_back((now.plus(200 * i as u64), *key));
                    }
                    self.last_step_at = Some(now.plus(200 * k.len() as u64));
                    self.ear.heard_any = false;
                    let text: String = k.iter().map(|k| k.as_char()).collect();
                    self.line(now, format!("keys {text}"));
                }
                Some(Step::Speak) => {
                    self.waiting_beep = true;
                    self.line(now, "waiting for the beep".into());
                }
                None => {}
            }
        }
        while self.keys_out.front().is_some_and(|(t, _)| *t <= now) {
            let Some((_, key)) = self.keys_out.pop_front() else {
                break;
            };
            self.report.keys.push((now.since(ans), key));
            match self.cfg.dtmf {
                DtmfMode::Rfc4733 => {
                    if let Some(m) = self.media.as_mut() {
                        m.send_dtmf(key, now, 120);
                    }
                }
                DtmfMode::Info => self.uac.send_info(key, 120, now),
                DtmfMode::Inband => {
                    if let Some(m) = self.media.as_mut() {
                        let mut tone = inband::generate(key, 120, -8.0);
                        tone.extend(std::iter::repeat_n(0i16, 480));
                        let law = m.law();
                        let mut bytes = Vec::with_capacity(tone.len());
                        g711::encode(law, &tone, &mut bytes);
                        let id = TONE_ID + self.report.keys.len() as u64;
                        m.play(id, law, vec![Piece::Audio(bytes.into())]);
                    }
                }
            }
        }
        if !self.hung_up && self.cfg.hangup_after_ms.is_some_and(|d| now.0 >= ans.0 + d) {
            self.hang_up(now);
        }
    }
}
