//! The test softphone behind `ivr call`: one real SIP call over UDP ([`crate::sip::uac::Uac`])
//! with real RTP ([`crate::media::session::MediaSession`]), driven on tokio. It sends key
//! groups by RFC 4733, SIP INFO or in-band tones, speaks a WAV file after the far end's beep,
//! records everything it hears, and reports what happened with times.

use super::Clock;
use crate::flow::Time;
use crate::media::dtmf::inband;
use crate::media::g711::{self, Law};
use crate::media::session::{Inband, MediaConfig, MediaSession};
use crate::sip::transaction::Timers;
use crate::sip::uac::{Uac, UacConfig, UacEvent};
use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How keys are sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DtmfMode {
    /// RFC 4733 telephone-events in the RTP stream.
    Rfc4733,
    /// SIP INFO with `application/dtmf-relay`.
    Info,
    /// Dual tones in the audio.
    Inband,
}

/// When the next key group goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyTiming {
    /// This many milliseconds after the answer or the previous group (prompts that allow
    /// barge-in take the keys at once).
    Pause(u64),
    /// Once the far end has played audio and then been silent this many milliseconds (the
    /// prompt ended and the far end waits).
    Silence(u64),
    /// As soon as the far end's audio resumes after at least this many milliseconds of
    /// silence (the next prompt began: the keys barge in at its start).
    Resume(u64),
}

/// One step of what the caller does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Press these keys (200 ms apart).
    Keys(String),
    /// Wait for the far end's beep, then speak the `say` audio.
    Speak,
}

/// Parses `"1 1 101 say # 1"`: key groups and `say` markers.
pub fn parse_steps(text: &str) -> Vec<Step> {
    text.split_whitespace()
        .map(|w| {
            if w.eq_ignore_ascii_case("say") {
                Step::Speak
            } else {
                Step::Keys(w.to_string())
            }
        })
        .collect()
}

/// What `ivr call` does.
#[derive(Clone, Debug)]
pub struct PhoneOptions {
    /// Request-URI (`sip:940@127.0.0.1:5060`).
    pub target: String,
    /// Where requests go.
    pub server: SocketAddr,
    /// The local address to bind SIP and RTP on.
    pub bind: IpAddr,
    /// Our user part (calling number).
    pub user: String,
    /// The caller's steps.
    pub steps: Vec<Step>,
    /// How keys go.
    pub dtmf: DtmfMode,
    /// When they go.
    pub timing: KeyTiming,
    /// The caller's voice, 8 kHz samples, spoken at `say` steps (or after the first beep when
    /// no step says when).
    pub say: Option<Arc<[i16]>>,
    /// Where to write what was heard (8 kHz WAV).
    pub record: Option<PathBuf>,
    /// Hang up this long after the answer; `None`: when the far end hangs up (at most 5
    /// minutes).
    pub hangup_after: Option<Duration>,
    /// Credentials for digest challenges.
    pub credentials: Option<(String, String)>,
    /// Codecs offered.
    pub prefer: Vec<Law>,
}

/// What happened.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PhoneReport {
    /// SIP Call-ID.
    pub call_id: String,
    /// Whether the call was answered.
    pub answered: bool,
    /// The failure status, if it failed.
    pub failure: Option<(u16, String)>,
    /// Whether the far end hung up (rather than us).
    pub remote_hangup: bool,
    /// Events, with milliseconds since the INVITE went out.
    pub lines: Vec<(u64, String)>,
    /// Keys sent, with milliseconds since the answer.
    pub keys: Vec<(u64, char)>,
    /// Milliseconds of far-end audio above the speech level.
    pub heard_audio_ms: u64,
    /// Beeps heard.
    pub beeps: u32,
    /// The recording written.
    pub recorded: Option<PathBuf>,
}

/// Why the call could not be made at all.
#[derive(Debug, thiserror::Error)]
pub enum PhoneError {
    /// A socket could not be bound.
    #[error("cannot bind on {0}: {1}")]
    Bind(IpAddr, std::io::Error),
    /// The recording could not be written.
    #[error("cannot write {0}: {1}")]
    Record(PathBuf, String),
}

/// Listens to the far end's audio in 20 ms frames: speech level, silence since, the beep.
struct Ear {
    frame: Vec<i16>,
    loud: bool,
    quiet_ms: u64,
    heard_any: bool,
    beep_frames: u32,
    beep_seen: bool,
    audio_ms: u64,
    /// Set when audio starts again: how long the silence before it was.
    resumed_after: Option<u64>,
}

/// Energy above this (about −40 dBm0 mean power) is audio.
const LOUD: f64 = 2.6e4;

impl Ear {
    fn new() -> Self {
        Ear {
            frame: Vec::with_capacity(160),
            loud: false,
            quiet_ms: 0,
            heard_any: false,
            beep_frames: 0,
            beep_seen: false,
            audio_ms: 0,
            resumed_after: None,
        }
    }

    /// Feeds samples; returns whether a beep just ended.
    fn hear(&mut self, samples: &[i16]) -> bool {
        let mut beep_ended = false;
        for &s in samples {
            self.frame.push(s);
            if self.frame.len() == 160 {
                beep_ended |= self.frame_done();
                self.frame.clear();
            }
        }
        beep_ended
    }

    fn frame_done(&mut self) -> bool {
        let n = self.frame.len() as f64;
        let power: f64 = self
            .frame
            .iter()
            .map(|&x| f64::from(x).powi(2))
            .sum::<f64>()
            / n;
        let was_loud = self.loud;
        self.loud = power > LOUD;
        if self.loud {
            if !was_loud {
                self.resumed_after = Some(self.quiet_ms);
            }
            self.quiet_ms = 0;
            self.heard_any = true;
            self.audio_ms += 20;
        } else {
            self.quiet_ms += 20;
        }
        // The beep: most of the power at 1 kHz (Goertzel), 100 ms or more.
        let w = 2.0 * std::f64::consts::PI * 1000.0 / 8000.0;
        let (mut s1, mut s2) = (0.0f64, 0.0f64);
        for &x in &self.frame {
            let s0 = f64::from(x) + 2.0 * w.cos() * s1 - s2;
            s2 = s1;
            s1 = s0;
        }
        let tone = (s1 * s1 + s2 * s2 - 2.0 * w.cos() * s1 * s2) * 2.0 / (n * n);
        let is_beep = self.loud && tone > 0.8 * power;
        if is_beep {
            self.beep_frames += 1;
            if self.beep_frames >= 5 {
                self.beep_seen = true;
            }
            false
        } else {
            let ended = self.beep_seen;
            self.beep_frames = 0;
            self.beep_seen = false;
            ended
        }
    }
}

const SAY_ID: u64 = 1 << 40;
const TONE_ID: u64 = 1 << 41;

/// Places the call and runs it to its end.
pub async fn call(o: PhoneOptions) -> Result<PhoneReport, PhoneError> {
    let sip = tokio::net::UdpSocket::bind((o.bind, 0))
        .await
        .map_err(|e| PhoneError::Bind(o.bind, e))?;
    let rtp = tokio::net::UdpSocket::bind((o.bind, 0))
        .await
        .map_err(|e| PhoneError::Bind(o.bind, e))?;
    let local = sip.local_addr().map_err(|e| PhoneError::Bind(o.bind, e))?;
    let rtp_addr = rtp.local_addr().map_err(|e| PhoneError::Bind(o.bind, e))?;
    let clock = Clock::new();
    let mut seed = [0u8; 8];
    let _ = getrandom::fill(&mut seed);
    let seed = u64::from_le_bytes(seed);
    let mut uac = Uac::new(
        UacConfig {
            local,
            server: o.server,
            target: o.target.clone(),
            user: o.user.clone(),
            rtp: rtp_addr,
            prefer: o.prefer.clone(),
            event_pt: 101,
            timers: Timers::default(),
            credentials: o.credentials.clone(),
        },
        seed,
        clock.now(),
    );
    let mut report = PhoneReport {
        call_id: uac.call_id().to_string(),
        ..Default::default()
    };
    let mut media: Option<MediaSession> = None;
    let mut remote: Option<SocketAddr> = None;
    let mut answered_at: Option<Time> = None;
    let mut steps: VecDeque<Step> = o.steps.iter().cloned().collect();
    let speak_on_beep = o.say.is_some() && !steps.contains(&Step::Speak);
    let mut waiting_beep = false;
    let mut speaking_until: Option<Time> = None;
    let mut last_step_at: Option<Time> = None;
    let mut keys_out: VecDeque<(Time, char)> = VecDeque::new();
    let mut ear = Ear::new();
    let mut heard: Vec<i16> = Vec::new();
    let mut all_heard: Vec<i16> = Vec::new();
    let mut hung_up = false;
    let limit = clock.now().plus(300_000);
    let mut buf = vec![0u8; 65_535];
    let mut rbuf = vec![0u8; 2048];
    let line = |r: &mut PhoneReport, now: Time, text: String| r.lines.push((now.0, text));
    loop {
        let now = clock.now();
        // Outgoing SIP.
        while let Some((to, bytes)) = uac.poll_transmit() {
            let _ = sip.send_to(&bytes, to).await;
        }
        while let Some(e) = uac.poll_event() {
            match e {
                UacEvent::Progress { code, reason } => {
                    line(&mut report, now, format!("{code} {reason}"))
                }
                UacEvent::Answered { media: a } => {
                    report.answered = true;
                    answered_at = Some(now);
                    last_step_at = Some(now);
                    remote = a.remote.map(|(ip, port)| SocketAddr::new(ip, port));
                    line(
                        &mut report,
                        now,
                        format!(
                            "answered: {}{}",
                            a.law.name(),
                            a.event
                                .map(|(pt, _)| format!(", telephone-event {pt}"))
                                .unwrap_or_default()
                        ),
                    );
                    let mut m = MediaSession::new(
                        MediaConfig {
                            law: a.law,
                            ptime_ms: a.ptime.clamp(10, 60),
                            event_pt: a.event.map(|(pt, _)| pt),
                            inband: Inband::Off,
                            send_silence: true,
                            jitter_frames: 2,
                        },
                        now,
                        crate::media::rtp::random_start(),
                    );
                    m.monitor();
                    media = Some(m);
                }
                UacEvent::Failed { code, reason } => {
                    line(&mut report, now, format!("failed: {code} {reason}"));
                    report.failure = Some((code, reason));
                }
                UacEvent::InfoAnswered(code) => {
                    line(&mut report, now, format!("INFO answered {code}"))
                }
                UacEvent::Ended { by_remote } => {
                    report.remote_hangup = by_remote;
                    line(
                        &mut report,
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
        if uac.is_ended() {
            break;
        }
        // The caller's side of the call.
        if let (Some(m), Some(ans)) = (media.as_mut(), answered_at) {
            m.take_heard(&mut heard);
            let beep_ended = ear.hear(&heard);
            all_heard.append(&mut heard);
            if beep_ended {
                report.beeps += 1;
                line(&mut report, now, "beep".into());
            }
            let speaking = speaking_until.is_some_and(|t| now < t);
            if (waiting_beep || speak_on_beep) && beep_ended && speaking_until.is_none() {
                if let Some(say) = o.say.as_ref() {
                    let mut bytes = Vec::with_capacity(say.len());
                    g711::encode(m.law(), say, &mut bytes);
                    m.play(SAY_ID, vec![bytes.into()]);
                    let ms = say.len() as u64 / 8;
                    speaking_until = Some(now.plus(ms));
                    line(
                        &mut report,
                        now,
                        format!("speaking {:.1} s", ms as f64 / 1000.0),
                    );
                }
                waiting_beep = false;
                last_step_at = Some(now.plus(say_ms(&o)));
            }
            let ready = match o.timing {
                KeyTiming::Pause(ms) => last_step_at.is_some_and(|t| now.0 >= t.0 + ms),
                KeyTiming::Silence(ms) => {
                    ear.heard_any && ear.quiet_ms >= ms && last_step_at.is_some_and(|t| now >= t)
                }
                KeyTiming::Resume(ms) => {
                    let resumed = ear.resumed_after.take().is_some_and(|q| q >= ms);
                    resumed && last_step_at.is_some_and(|t| now >= t)
                }
            };
            if ready && !waiting_beep && !speaking && keys_out.is_empty() {
                match steps.pop_front() {
                    Some(Step::Keys(k)) => {
                        for (i, key) in k.chars().enumerate() {
                            keys_out.push_back((now.plus(200 * i as u64), key));
                        }
                        last_step_at = Some(now.plus(200 * k.chars().count() as u64));
                        ear.heard_any = false;
                        line(&mut report, now, format!("keys {k}"));
                    }
                    Some(Step::Speak) => {
                        waiting_beep = true;
                        line(&mut report, now, "waiting for the beep".into());
                    }
                    None => {}
                }
            }
            while keys_out.front().is_some_and(|(t, _)| *t <= now) {
                if let Some((_, key)) = keys_out.pop_front() {
                    report.keys.push((now.0 - ans.0, key));
                    match o.dtmf {
                        DtmfMode::Rfc4733 => m.send_dtmf(key, now, 120),
                        DtmfMode::Info => uac.send_info(key, 120, now),
                        DtmfMode::Inband => {
                            if let Some(mut tone) = inband::generate(key, 120, -8.0) {
                                tone.extend(std::iter::repeat_n(0i16, 480));
                                let mut bytes = Vec::with_capacity(tone.len());
                                g711::encode(m.law(), &tone, &mut bytes);
                                m.play(TONE_ID + report.keys.len() as u64, vec![bytes.into()]);
                            }
                        }
                    }
                }
            }
            if !hung_up
                && o.hangup_after
                    .is_some_and(|d| now.0 >= ans.0 + d.as_millis() as u64)
            {
                hung_up = true;
                uac.hangup(now);
            }
        }
        if !hung_up && now >= limit {
            hung_up = true;
            uac.hangup(now);
        }
        // Media out.
        if let Some(m) = media.as_mut() {
            if m.poll_timeout() <= now {
                m.handle_timeout(now);
            }
            while m.poll_event().is_some() {}
            let to = m.remote().or(remote);
            while let Some(p) = m.poll_transmit() {
                if let Some(to) = to {
                    let _ = rtp.try_send_to(&p, to);
                }
                m.recycle(p);
            }
        }
        let mut wake = now.plus(50);
        if let Some(t) = uac.poll_timeout() {
            wake = wake.min(t);
        }
        if let Some(m) = media.as_ref() {
            wake = wake.min(m.poll_timeout());
        }
        tokio::select! {
            r = sip.recv_from(&mut buf) => {
                if let Ok((n, from)) = r {
                    uac.receive(&buf[..n], from, clock.now());
                }
            }
            r = rtp.recv_from(&mut rbuf) => {
                if let (Ok((n, from)), Some(m)) = (r, media.as_mut()) {
                    m.receive(from, &rbuf[..n], clock.now());
                }
            }
            () = tokio::time::sleep_until(clock.instant(wake)) => {}
        }
        let now = clock.now();
        if uac.poll_timeout().is_some_and(|t| t <= now) {
            uac.handle_timeout(now);
        }
    }
    // Flush what the end produced (the 200 to a BYE).
    while let Some((to, bytes)) = uac.poll_transmit() {
        let _ = sip.send_to(&bytes, to).await;
    }
    report.heard_audio_ms = ear.audio_ms;
    if let Some(path) = o.record.as_ref() {
        crate::prompts::audio::write_wav(path, &all_heard)
            .map_err(|e| PhoneError::Record(path.clone(), e.to_string()))?;
        report.recorded = Some(path.clone());
    }
    Ok(report)
}

fn say_ms(o: &PhoneOptions) -> u64 {
    o.say.as_ref().map_or(0, |s| s.len() as u64 / 8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_parse() {
        assert_eq!(
            parse_steps("1 1 101 say # 1"),
            vec![
                Step::Keys("1".into()),
                Step::Keys("1".into()),
                Step::Keys("101".into()),
                Step::Speak,
                Step::Keys("#".into()),
                Step::Keys("1".into())
            ]
        );
    }

    #[test]
    fn the_ear_hears_the_beep_and_silence() {
        let mut ear = Ear::new();
        let beep = crate::media::playback::beep();
        assert!(!ear.hear(&beep[..3000]), "still beeping");
        assert!(ear.hear(&[0i16; 400]), "the beep ended");
        assert!(ear.heard_any && ear.quiet_ms >= 40);
        // Audio after silence is noted with the length of the silence.
        let mut ear = Ear::new();
        ear.hear(&beep[..1600]);
        assert_eq!(ear.resumed_after, Some(0));
        ear.resumed_after = None;
        ear.hear(&[0i16; 4000]);
        assert_eq!(ear.resumed_after, None);
        ear.hear(&beep[..1600]);
        assert_eq!(
            ear.resumed_after,
            Some(500),
            "half a second of silence before"
        );
        // Speech-like noise is not a beep.
        let noise: Vec<i16> = (0..4000)
            .map(|i| ((i * 7919 % 2000) as i16 - 1000) * 4)
            .collect();
        let mut ear = Ear::new();
        assert!(!ear.hear(&noise) && !ear.hear(&[0i16; 400]));
    }
}
