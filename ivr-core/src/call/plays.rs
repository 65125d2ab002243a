//! What the flow asks of the media, in order: plays (each waits until its blocking work — a
//! text spoken, a recording read back — is done, and later plays wait behind it), the beep
//! before a recording, the recording's place opened and closed around its audio, and the
//! flow's other outputs. This is the one drain of the flow's outputs in the engine.

use super::machine::Call;
use super::messages::{CallEvent, Output, Work, WorkResult};
use super::record::{DigitRecord, PromptRecord, RecordingRecord};
use super::timers::Timer;
use crate::flow::{self, Fragment, Recording, RecordingResult};
use crate::media::g711::{self, Law};
use crate::media::playback::Piece;
use crate::media::record::{Ended, RecordConfig, Recorded};
use crate::media::session::MediaEvent;
use crate::vocab::{Key, Time};

/// The play id of the beep before a recording (flow ids count up from 1).
const BEEP: u64 = u64::MAX;

/// A play in order of arrival; it goes to the media once none of its pieces waits for
/// blocking work.
pub(super) struct Deferred {
    id: u64,
    law: Law,
    pieces: Vec<Piece>,
    /// Pieces still waiting: (index in `pieces`, work id).
    pending: Vec<(usize, u64)>,
}

/// What a piece of blocking work is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Purpose {
    /// A piece of a play.
    Play,
    /// Opening the current recording's place.
    Open,
    /// Closing the current recording.
    Close,
}

/// The recording in progress.
pub(super) struct RecState {
    n: u32,
    /// Waiting for the beep to end: the recorder's settings.
    after_beep: Option<(RecordConfig, Option<Key>)>,
    /// Its place could not be made: the audio goes nowhere and the flow hears of a failure.
    failed: bool,
    /// What the media said it came to, once it ended.
    ended: Option<Recorded>,
}

fn style_of(f: &Fragment) -> Option<&'static str> {
    match f {
        Fragment::Value { style, .. } => Some(flow::style_name(*style)),
        _ => None,
    }
}

impl Call {
    pub(super) fn work(&mut self, work: Work, purpose: Purpose, now: Time) -> u64 {
        let id = self.next_work;
        self.next_work += 1;
        self.work.push((id, purpose));
        self.timers
            .set(Timer::Work(id), now.plus(self.config.work_timeout_ms));
        self.out.push_back(Output::Work { id, work });
        id
    }

    /// One output of the flow machine.
    pub(super) fn on_flow(&mut self, o: flow::Output, now: Time) {
        match o {
            flow::Output::Play {
                id,
                fragments,
                barge_in,
            } => self.play(id, fragments, barge_in, now),
            flow::Output::StopPlayback => self.stop_playback(now),
            flow::Output::Listen(on) => self.emit(CallEvent::Listening(on)),
            flow::Output::StartRecording {
                beep,
                max_ms,
                silence_ms,
                finish_key,
            } => self.start_recording(beep, max_ms, silence_ms, finish_key, now),
            flow::Output::StopRecording => self.stop_recording(now),
            flow::Output::Backend(req) => self.backend_request(req, now),
            flow::Output::Transfer { dest, timeout_ms } => self.transfer(dest, timeout_ms, now),
            flow::Output::Language(l) => {
                self.record.language = l.code().into();
                self.emit(CallEvent::Language(l));
            }
            flow::Output::Hangup => self.hang_up("hangup", now),
            flow::Output::Event(e) => {
                match &e {
                    flow::Event::Flow(n) => self.record.steps.push(format!("flow {n}")),
                    flow::Event::Step(n) => self.record.steps.push(format!("step {n}")),
                    _ => {}
                }
                self.emit(CallEvent::Flow(e));
            }
        }
    }

    fn play(&mut self, id: u64, fragments: Vec<Fragment>, barge_in: bool, now: Time) {
        let Some(law) = self.media.as_ref().map(super::media::Media::law) else {
            self.flow
                .handle_input(flow::Input::PlayFinished { id }, now);
            return;
        };
        let at_ms = self.since_answer(now);
        let current = self.flow.language();
        let mut pieces = Vec::with_capacity(fragments.len());
        let mut pending = Vec::new();
        for f in &fragments {
            let lang = match f {
                Fragment::Prompt { lang, .. } | Fragment::Value { lang, .. } => *lang,
                Fragment::Recording(_) | Fragment::Beep => current,
            };
            self.record.prompts.push(PromptRecord {
                id: f.label(),
                lang: lang.code(),
                style: style_of(f),
                at_ms,
            });
            match f {
                Fragment::Value {
                    text,
                    style: ivr_dsl::ast::ValueStyle::Text,
                    lang,
                } => {
                    if self.config.tts {
                        let w = self.work(
                            Work::Speak {
                                text: text.clone(),
                                lang: *lang,
                            },
                            Purpose::Play,
                            now,
                        );
                        pending.push((pieces.len(), w));
                        pieces.push(Piece::Silence(0));
                    } else {
                        self.emit(CallEvent::AudioMissing {
                            fragment: f.label(),
                            reason: "no text-to-speech is configured".into(),
                        });
                    }
                }
                Fragment::Recording(r) => {
                    let w = self.work(
                        Work::ReadRecording {
                            recording: r.clone(),
                        },
                        Purpose::Play,
                        now,
                    );
                    pending.push((pieces.len(), w));
                    pieces.push(Piece::Silence(0));
                }
                _ => {
                    if let Err(e) = self.bank.resolve(f, law, &mut pieces) {
                        self.emit(CallEvent::AudioMissing {
                            fragment: f.label(),
                            reason: e.to_string(),
                        });
                    }
                }
            }
        }
        self.emit(CallEvent::PlayQueued {
            id,
            fragments,
            barge_in,
        });
        if pending.is_empty() && self.plays.is_empty() {
            // Nothing to wait for: straight to the media.
            if let Some(m) = self.media.as_mut() {
                m.play(id, law, pieces, now);
            }
            return;
        }
        self.plays.push_back(Deferred {
            id,
            law,
            pieces,
            pending,
        });
        self.flush_plays(now);
    }

    /// Hands the plays whose pieces are all ready to the media, in order.
    fn flush_plays(&mut self, now: Time) {
        while self.plays.front().is_some_and(|d| d.pending.is_empty()) {
            let Some(d) = self.plays.pop_front() else {
                break;
            };
            if let Some(m) = self.media.as_mut() {
                m.play(d.id, d.law, d.pieces, now);
            }
        }
    }

    fn stop_playback(&mut self, now: Time) {
        let waiting: Vec<u64> = self.plays.drain(..).map(|d| d.id).collect();
        // Their work may still come back; it is no longer wanted.
        let pending: Vec<u64> = self
            .work
            .iter()
            .filter(|(_, p)| *p == Purpose::Play)
            .map(|(id, _)| *id)
            .collect();
        for id in pending {
            self.work.retain(|(w, _)| *w != id);
            self.timers.cancel(Timer::Work(id));
        }
        self.emit(CallEvent::PlaybackStopped);
        if let Some(m) = self.media.as_mut() {
            m.stop_playback(now);
        }
        for id in waiting {
            self.flow
                .handle_input(flow::Input::PlayFinished { id }, now);
        }
    }

    fn start_recording(
        &mut self,
        beep: bool,
        max_ms: u64,
        silence_ms: u64,
        finish_key: Option<Key>,
        now: Time,
    ) {
        self.emit(CallEvent::RecordingRequested {
            beep,
            max_ms,
            silence_ms,
            finish_key,
        });
        let Some(law) = self.media.as_ref().map(super::media::Media::law) else {
            self.flow.handle_input(
                flow::Input::RecordingFinished(RecordingResult {
                    recording: Recording {
                        location: String::new(),
                        duration_ms: 0,
                        sha256: None,
                    },
                    speech: false,
                }),
                now,
            );
            return;
        };
        self.recordings += 1;
        let n = self.recordings;
        let c = RecordConfig {
            max_ms,
            silence_ms,
            ..self.config.record
        };
        self.rec = Some(RecState {
            n,
            after_beep: beep.then_some((c, finish_key)),
            failed: false,
            ended: None,
        });
        self.work(Work::OpenRecording { recording: n }, Purpose::Open, now);
        let beep_audio = self.bank.beep(law);
        if let Some(m) = self.media.as_mut() {
            if beep {
                m.play(BEEP, law, vec![Piece::Audio(beep_audio)], now);
            } else {
                m.record(c, finish_key, now);
                self.emit(CallEvent::RecordingStarted);
            }
        }
    }

    /// Ends whatever recording there is: one waiting for its beep, or one running.
    pub(super) fn stop_recording(&mut self, now: Time) {
        let Some(r) = self.rec.as_mut() else {
            return;
        };
        if r.ended.is_some() {
            return;
        }
        if r.after_beep.take().is_some() {
            self.recording_ended(
                Recorded {
                    duration_ms: 0,
                    ended: Ended::Stopped,
                    speech: false,
                },
                now,
            );
            return;
        }
        if let Some(m) = self.media.as_mut()
            && m.is_recording()
        {
            m.stop_recording(now);
        }
    }

    fn recording_ended(&mut self, r: Recorded, now: Time) {
        let Some(rec) = self.rec.as_mut() else {
            return;
        };
        rec.ended = Some(r);
        let (n, failed) = (rec.n, rec.failed);
        self.emit(CallEvent::RecordingEnded {
            ended: r.ended,
            duration_ms: r.duration_ms,
            speech: r.speech,
        });
        if failed {
            self.recording_done(None, now);
        } else {
            self.work(Work::CloseRecording { recording: n }, Purpose::Close, now);
        }
    }

    /// The recording is over: into the record, and to the flow.
    fn recording_done(&mut self, closed: Option<(String, String)>, now: Time) {
        let Some(rec) = self.rec.take() else {
            return;
        };
        let r = rec.ended.unwrap_or(Recorded {
            duration_ms: 0,
            ended: Ended::Stopped,
            speech: false,
        });
        let (location, sha256) = closed.unwrap_or_default();
        self.record.recordings.push(RecordingRecord {
            path: location.clone(),
            duration_ms: r.duration_ms,
            sha256: sha256.clone(),
            speech: r.speech,
            ended: format!("{:?}", r.ended).to_lowercase(),
        });
        let kept = !location.is_empty();
        self.flow.handle_input(
            flow::Input::RecordingFinished(RecordingResult {
                recording: Recording {
                    location,
                    duration_ms: if kept { r.duration_ms } else { 0 },
                    sha256: kept.then_some(sha256),
                },
                // A recording that could not be kept counts as silence: the script asks again.
                speech: r.speech && kept,
            }),
            now,
        );
    }

    /// A key into the record and the events (the recording's finish key too, which goes to
    /// the recorder rather than the flow).
    fn note_key(&mut self, d: &crate::media::dtmf::Digit) {
        let at_ms = d.at.since(self.answered.unwrap_or(d.at));
        self.record.digits.push(DigitRecord {
            key: d.key,
            method: d.method,
            at_ms,
        });
        self.emit(CallEvent::Key {
            key: d.key,
            method: d.method,
        });
    }

    /// One event of the media.
    pub(super) fn on_media(&mut self, e: MediaEvent, now: Time) {
        match e {
            MediaEvent::FinishKey(d) => self.note_key(&d),
            MediaEvent::Digit(d) => {
                self.note_key(&d);
                self.flow.handle_input(
                    flow::Input::Digit {
                        key: d.key,
                        method: d.method,
                    },
                    now,
                );
            }
            MediaEvent::PlayStarted(BEEP) => {}
            MediaEvent::PlayStarted(id) => self.emit(CallEvent::PlayStarted { id }),
            MediaEvent::Played(p) if p.id == BEEP => {
                let start = self.rec.as_mut().and_then(|r| r.after_beep.take());
                if let Some((c, key)) = start
                    && let Some(m) = self.media.as_mut()
                {
                    m.record(c, key, now);
                    self.emit(CallEvent::RecordingStarted);
                }
            }
            MediaEvent::Played(p) => {
                self.emit(CallEvent::PlayEnded {
                    id: p.id,
                    interrupted: p.interrupted,
                });
                self.flow
                    .handle_input(flow::Input::PlayFinished { id: p.id }, now);
            }
            MediaEvent::RecordAudio(samples) => {
                if let Some(r) = self.rec.as_ref()
                    && !r.failed
                {
                    let recording = r.n;
                    self.out
                        .push_back(Output::RecordingAudio { recording, samples });
                }
            }
            MediaEvent::RecordingEnded(r) => self.recording_ended(r, now),
            MediaEvent::BadInfo(e) => {
                self.emit(CallEvent::Warning(format!("INFO body without a key: {e}")));
            }
        }
    }

    /// Blocking work came back (or its deadline passed: `Failed`).
    pub(super) fn work_done(&mut self, id: u64, result: WorkResult, now: Time) {
        let Some(i) = self.work.iter().position(|(w, _)| *w == id) else {
            return;
        };
        let (_, purpose) = self.work.remove(i);
        self.timers.cancel(Timer::Work(id));
        match purpose {
            Purpose::Play => {
                let piece = match result {
                    WorkResult::Audio(samples) => {
                        self.emit(CallEvent::AudioLoaded {
                            ms: samples.len() as u64 / 8,
                        });
                        let law = self
                            .plays
                            .iter()
                            .find(|d| d.pending.iter().any(|(_, w)| *w == id))
                            .map_or(Law::Pcmu, |d| d.law);
                        let mut bytes = Vec::with_capacity(samples.len());
                        g711::encode(law, &samples, &mut bytes);
                        Piece::Audio(bytes.into())
                    }
                    WorkResult::Silence { ms } => {
                        self.emit(CallEvent::AudioLoaded { ms });
                        Piece::Silence(ms as usize * 8)
                    }
                    other => {
                        let reason = match other {
                            WorkResult::Failed(e) => e,
                            _ => "not audio".into(),
                        };
                        self.emit(CallEvent::AudioMissing {
                            fragment: "text or recording".into(),
                            reason,
                        });
                        Piece::Silence(0)
                    }
                };
                for d in &mut self.plays {
                    if let Some(i) = d.pending.iter().position(|(_, w)| *w == id) {
                        let (at, _) = d.pending.remove(i);
                        if let Some(slot) = d.pieces.get_mut(at) {
                            *slot = piece;
                        }
                        break;
                    }
                }
                self.flush_plays(now);
            }
            Purpose::Open => {
                if let WorkResult::Failed(e) = result {
                    self.emit(CallEvent::Warning(format!("recording not kept: {e}")));
                    let ended = match self.rec.as_mut() {
                        Some(r) => {
                            r.failed = true;
                            r.ended.is_some()
                        }
                        None => false,
                    };
                    if ended {
                        // Its close went out already; the close's answer settles it.
                    } else {
                        self.stop_recording(now);
                    }
                }
            }
            Purpose::Close => match result {
                WorkResult::Closed { location, sha256 } => {
                    let failed = self.rec.as_ref().is_some_and(|r| r.failed);
                    self.recording_done((!failed).then_some((location, sha256)), now);
                }
                other => {
                    if let WorkResult::Failed(e) = other {
                        self.emit(CallEvent::Warning(format!("recording lost: {e}")));
                    }
                    self.recording_done(None, now);
                }
            },
        }
    }
}
