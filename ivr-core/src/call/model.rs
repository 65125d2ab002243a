//! Simulated media: what a call's media would do, worked out from lengths instead of frames.
//!
//! The simulator runs the same call machine as a live call; only the media differs. Real media
//! ([`crate::media::session::MediaSession`]) wakes every packet time; this model keeps the same
//! frame clock but wakes only when something happens, so a simulated call costs microseconds.
//! It follows the real session's timing rules: a play queued at `t` starts at the first frame
//! after `t` and ends (is reported) one frame after its last frame, plays run back to back,
//! the recorder takes one frame per tick from the first tick after it starts and ends on the
//! same rules as [`crate::media::record::Recorder`] (maximum length, trailing silence after
//! speech, no speech at all, the finish key with its tone dropped, stopped). The far end's
//! speech is given as intervals ([`crate::call::Input::Speech`]); a frame is speech when its
//! tick falls inside one.

use crate::media::dtmf::Digit;
use crate::media::g711::Law;
use crate::media::playback::{self, Piece, Played};
use crate::media::record::{Ended, RecordConfig, Recorded};
use crate::media::session::MediaEvent;
use crate::vocab::{Key, Time};
use std::collections::VecDeque;

/// Samples of audio the real recorder holds back for the finish key's tone (120 ms).
const HOLD: u64 = 8 * 120;

#[derive(Clone, Copy, Debug)]
struct Play {
    id: u64,
    samples: u64,
    start: Time,
    end: Time,
    started: bool,
}

#[derive(Clone, Copy, Debug)]
struct Rec {
    /// The tick of the recorder's first frame.
    first: Time,
    c: RecordConfig,
    finish_key: Option<Key>,
    /// When and why it ends on its own, given the speech known so far (worked out again
    /// when the far end talks).
    end: (Time, Ended),
}

/// The media model of one simulated call.
#[derive(Debug)]
pub struct Model {
    start: Time,
    ptime: u64,
    frame: u64,
    law: Law,
    plays: VecDeque<Play>,
    events: VecDeque<MediaEvent>,
    rec: Option<Rec>,
    /// The far end's speech: (from, until], in time order.
    speech: Vec<(Time, Time)>,
}

impl Model {
    /// A model whose frame clock starts at `start` (the tick at `start` counts as run).
    pub fn new(law: Law, ptime_ms: u32, start: Time) -> Model {
        let ptime = u64::from(ptime_ms.max(1));
        Model {
            start,
            ptime,
            frame: 8 * ptime,
            law,
            plays: VecDeque::new(),
            events: VecDeque::new(),
            rec: None,
            speech: Vec::new(),
        }
    }

    /// The codec the plays are in.
    pub fn law(&self) -> Law {
        self.law
    }

    /// The packet time.
    pub fn ptime_ms(&self) -> u64 {
        self.ptime
    }

    /// Follows a codec change.
    pub fn set_law(&mut self, law: Law) {
        self.law = law;
    }

    /// The first tick after `t`.
    fn tick_after(&self, t: Time) -> Time {
        let since = t.since(self.start);
        self.start.plus((since / self.ptime + 1) * self.ptime)
    }

    /// Ticks in `[from, to]` (both on or after the first tick `from`).
    fn ticks_between(&self, from: Time, to: Time) -> u64 {
        if to < from {
            return 0;
        }
        to.since(from) / self.ptime + 1
    }

    /// Queues a play at `now`.
    pub fn play(&mut self, id: u64, pieces: &[Piece], now: Time) {
        let samples: usize = pieces.iter().map(Piece::len).sum();
        let frames = playback::frames(samples, self.frame as usize);
        let start = match self.plays.back() {
            Some(p) => p.end,
            None => self.tick_after(now),
        };
        self.plays.push_back(Play {
            id,
            samples: samples as u64,
            start,
            end: start.plus(frames * self.ptime),
            started: false,
        });
    }

    /// Stops every play at `now` (barge-in).
    pub fn stop_playback(&mut self, now: Time) {
        let plays: Vec<Play> = self.plays.drain(..).collect();
        for p in plays {
            let frames = if p.started {
                self.ticks_between(p.start, now)
                    .min(p.end.since(p.start) / self.ptime)
            } else {
                0
            };
            self.events.push_back(MediaEvent::Played(Played {
                id: p.id,
                ms: (frames * self.frame).min(p.samples) / 8,
                interrupted: true,
            }));
        }
    }

    /// Starts recording at `now`: the first frame is the next tick's.
    pub fn record(&mut self, c: RecordConfig, finish_key: Option<Key>, now: Time) {
        let mut r = Rec {
            first: self.tick_after(now),
            c,
            finish_key,
            end: (now, Ended::Max),
        };
        r.end = self.end_of(&r);
        self.rec = Some(r);
    }

    /// Whether a recording runs.
    pub fn is_recording(&self) -> bool {
        self.rec.is_some()
    }

    /// Ends the recording at `now`, as stopped.
    pub fn stop_recording(&mut self, now: Time) {
        self.end_recording_at(now, Ended::Stopped);
    }

    /// The far end talks for `ms` from `now`.
    pub fn speech(&mut self, ms: u64, now: Time) {
        self.speech.push((now, now.plus(ms)));
        if let Some(mut r) = self.rec {
            r.end = self.end_of(&r);
            self.rec = Some(r);
        }
    }

    /// A key from the far end.
    pub fn key(&mut self, d: Digit, now: Time) {
        if let Some(r) = self.rec
            && r.finish_key == Some(d.key)
        {
            self.events.push_back(MediaEvent::FinishKey(d));
            self.end_recording_at(now, Ended::Key);
            return;
        }
        self.events.push_back(MediaEvent::Digit(d));
    }

    fn is_speech(&self, t: Time) -> bool {
        self.speech.iter().any(|&(a, b)| a < t && t <= b)
    }

    /// The frame (1-based) at which the recording ends on its own, and why, given the speech
    /// known so far.
    fn natural_end(&self, r: &Rec) -> (u64, Ended) {
        let frames_for = |ms: u64| (ms * 8).div_ceil(self.frame).max(1);
        let k_max = frames_for(r.c.max_ms);
        let k_initial = frames_for(r.c.initial_ms);
        let quiet_needed = frames_for(r.c.silence_ms);
        // Speech frames as ranges of frame numbers, in order.
        let mut ranges: Vec<(u64, u64)> = Vec::new();
        for &(from, until) in &self.speech {
            // Frames k with from < at(k) <= until.
            let first = if from < r.first {
                1
            } else {
                from.since(r.first) / self.ptime + 2
            };
            if until < r.first {
                continue;
            }
            let last = until.since(r.first) / self.ptime + 1;
            if first <= last {
                ranges.push((first, last));
            }
        }
        ranges.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::new();
        for (a, b) in ranges {
            match merged.last_mut() {
                Some(last) if a <= last.1 + 1 => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        // Checked in the recorder's order on each frame: silence, no speech, maximum.
        let mut best = (k_max, Ended::Max);
        let first_speech = merged.first().map(|r| r.0);
        if first_speech.is_none_or(|k| k > k_initial) && k_initial <= best.0 {
            best = (k_initial, Ended::NoSpeech);
        }
        for (i, &(_, last)) in merged.iter().enumerate() {
            if first_speech.is_some_and(|k| k > k_initial) {
                break;
            }
            let quiet_end = last + quiet_needed;
            let next = merged.get(i + 1).map_or(u64::MAX, |r| r.0);
            if quiet_end < next && quiet_end <= best.0 {
                best = (quiet_end, Ended::Silence);
                break;
            }
        }
        best
    }

    fn end_recording_at(&mut self, now: Time, ended: Ended) {
        let Some(r) = self.rec.take() else { return };
        let frames = if now < r.first {
            0
        } else {
            self.ticks_between(r.first, now)
        };
        let mut total = frames * self.frame;
        if ended == Ended::Max {
            // The real recorder stops at the sample that reaches the limit.
            total = total.min(r.c.max_ms * 8);
        }
        let written = if ended == Ended::Key {
            total - total.min(HOLD)
        } else {
            total
        };
        let speech = (1..=frames).any(|k| self.is_speech(r.first.plus((k - 1) * self.ptime)));
        self.events.push_back(MediaEvent::RecordingEnded(Recorded {
            duration_ms: written / 8,
            ended,
            speech,
        }));
    }

    fn end_of(&self, r: &Rec) -> (Time, Ended) {
        let (k, why) = self.natural_end(r);
        (r.first.plus((k - 1) * self.ptime), why)
    }

    fn recording_end(&self) -> Option<(Time, Ended)> {
        self.rec.as_ref().map(|r| r.end)
    }

    fn next_play_event(&self) -> Option<Time> {
        let p = self.plays.front()?;
        Some(if p.started { p.end } else { p.start })
    }

    /// When something happens next.
    pub fn poll_timeout(&self) -> Option<Time> {
        let rec = self.recording_end().map(|(t, _)| t);
        [rec, self.next_play_event()].into_iter().flatten().min()
    }

    /// Reports what has happened by `now`, in order (within a tick: the recorder before the
    /// player, as in a real tick).
    pub fn handle_timeout(&mut self, now: Time) {
        loop {
            let rec = self.recording_end().filter(|(t, _)| *t <= now);
            let play = self.next_play_event().filter(|t| *t <= now);
            match (rec, play) {
                (Some((t, why)), p) if p.is_none_or(|p| t <= p) => {
                    self.end_recording_at(t, why);
                }
                (_, Some(_)) => {
                    let Some(p) = self.plays.front_mut() else {
                        break;
                    };
                    if p.started {
                        let p = *p;
                        self.plays.pop_front();
                        self.events.push_back(MediaEvent::Played(Played {
                            id: p.id,
                            ms: p.samples / 8,
                            interrupted: false,
                        }));
                    } else {
                        p.started = true;
                        let id = p.id;
                        self.events.push_back(MediaEvent::PlayStarted(id));
                    }
                }
                _ => break,
            }
        }
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<MediaEvent> {
        self.events.pop_front()
    }

    /// Whether an event waits.
    pub fn has_event(&self) -> bool {
        !self.events.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::session::{MediaConfig, MediaSession, Output};
    use crate::vocab::DigitMethod;
    use std::sync::Arc;

    fn events(m: &mut Model) -> Vec<MediaEvent> {
        std::iter::from_fn(|| m.poll_event()).collect()
    }

    /// Runs a real session for `ms` and returns its events with their times.
    fn real(ms: u64, mut at: impl FnMut(u64, &mut MediaSession)) -> Vec<(u64, MediaEvent)> {
        let mut s = MediaSession::new(MediaConfig::default(), Time(0), [1, 2, 3]);
        s.handle_timeout(Time(0));
        let mut out = Vec::new();
        for now in 0..ms {
            if s.poll_timeout().is_some_and(|t| t <= Time(now)) {
                s.handle_timeout(Time(now));
            }
            at(now, &mut s);
            while let Some(o) = s.poll_output() {
                match o {
                    Output::Event(e) => out.push((now, e)),
                    Output::Transmit(p) => s.recycle(p),
                }
            }
        }
        out
    }

    fn modelled(ms: u64, mut at: impl FnMut(u64, &mut Model)) -> Vec<(u64, MediaEvent)> {
        let mut m = Model::new(Law::Pcmu, 20, Time(0));
        let mut out = Vec::new();
        for now in 0..ms {
            if m.poll_timeout().is_some_and(|t| t <= Time(now)) {
                m.handle_timeout(Time(now));
            }
            at(now, &mut m);
            out.extend(events(&mut m).into_iter().map(|e| (now, e)));
        }
        out
    }

    fn audio(samples: usize) -> Vec<Piece> {
        vec![Piece::Audio(Arc::from(vec![0x55u8; samples]))]
    }

    #[test]
    fn plays_start_and_end_on_the_same_ticks_as_a_real_session() {
        let script = |now: u64| match now {
            5 => Some((1, 1000)),
            6 => Some((2, 333)),
            400 => Some((3, 0)),
            _ => None,
        };
        let r = real(1000, |now, s| {
            if let Some((id, n)) = script(now) {
                s.play(id, Law::Pcmu, audio(n));
            }
        });
        let m = modelled(1000, |now, m| {
            if let Some((id, n)) = script(now) {
                m.play(id, &audio(n), Time(now));
            }
        });
        assert_eq!(r, m);
        assert!(r.len() == 6, "{r:?}");
    }

    #[test]
    fn barge_in_reports_every_play_at_once() {
        let mut m = Model::new(Law::Pcmu, 20, Time(0));
        m.play(1, &audio(8000), Time(0));
        m.play(2, &audio(800), Time(0));
        m.handle_timeout(Time(500));
        m.stop_playback(Time(500));
        let e = events(&mut m);
        assert_eq!(e[0], MediaEvent::PlayStarted(1));
        assert!(matches!(
            e[1],
            MediaEvent::Played(Played {
                id: 1,
                interrupted: true,
                ..
            })
        ));
        assert!(matches!(
            e[2],
            MediaEvent::Played(Played {
                id: 2,
                ms: 0,
                interrupted: true
            })
        ));
        assert_eq!(m.poll_timeout(), None);
    }

    type Timed = Vec<(u64, MediaEvent)>;

    /// Speech as the model sees it, and as audio for a real session's recorder.
    fn recording_both_ways(
        c: RecordConfig,
        speech: &[(u64, u64)],
        key_at: Option<u64>,
    ) -> (Timed, Timed) {
        // The real session hears speech straight from its recorder (no network, no jitter
        // buffer): frames are fed by pushing audio into a recorder on the same ticks.
        let loud = |t: u64| speech.iter().any(|&(a, b)| a < t && t <= b);
        let mut rec = crate::media::record::Recorder::new(c);
        let mut first = None;
        let mut real = Vec::new();
        for now in 0..30_000u64 {
            if now == 10 {
                first = Some(20u64);
            }
            if let Some(f) = first
                && now >= f
                && now % 20 == 0
            {
                let s: Vec<i16> = if loud(now) {
                    (0..160)
                        .map(|i| ((i as f64 * 0.3).sin() * 8000.0) as i16)
                        .collect()
                } else {
                    vec![0; 160]
                };
                if let Some(e) = rec.push(&s) {
                    let r = rec.finish();
                    assert_eq!(r.ended, e);
                    real.push((now, MediaEvent::RecordingEnded(r)));
                    break;
                }
            }
            if key_at == Some(now) && first.is_some() {
                rec.finish_key();
                real.push((now, MediaEvent::RecordingEnded(rec.finish())));
                break;
            }
        }
        let model = modelled(30_000, |now, m| {
            if now == 10 {
                m.record(c, Some(Key::Pound), Time(now));
            }
            for &(a, b) in speech {
                if now == a {
                    m.speech(b - a, Time(now));
                }
            }
            if key_at == Some(now) {
                m.key(
                    Digit {
                        key: Key::Pound,
                        method: DigitMethod::Simulated,
                        at: Time(now),
                    },
                    Time(now),
                );
            }
        });
        (real, model)
    }

    #[test]
    fn recordings_end_like_the_real_recorder() {
        let c = RecordConfig {
            max_ms: 10_000,
            silence_ms: 1_000,
            initial_ms: 3_000,
            speech_dbm0: -40,
        };
        // The finish key itself is reported before the end (the call records it).
        let without_key = |v: Vec<(u64, MediaEvent)>| -> Vec<(u64, MediaEvent)> {
            v.into_iter()
                .filter(|(_, e)| !matches!(e, MediaEvent::FinishKey(_)))
                .collect()
        };
        for (speech, key) in [
            (vec![(500, 2500)], None),
            (vec![(500, 1200), (1900, 2600)], None),
            (vec![(500, 1200), (2500, 3000)], None),
            (vec![], None),
            (vec![(3500, 4000)], None),
            (vec![(100, 9_900)], None),
            (vec![(100, 20_000)], None),
            (vec![(500, 2500)], Some(1800)),
            (vec![(500, 2500)], Some(70)),
        ] {
            let (real, model) = recording_both_ways(c, &speech, key);
            assert_eq!(
                real,
                without_key(model),
                "speech {speech:?}, key at {key:?}"
            );
        }
    }
}
