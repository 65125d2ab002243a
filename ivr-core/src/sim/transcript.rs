//! Transcripts: what a call did, line by line, made from its [`CallEvent`]s. The simulator
//! and the test kit make them the same way, so a simulated call and a live one can be read —
//! and compared — alike.

use crate::call::CallEvent;
use crate::flow::{self, BackendRequest, BackendResult, Fragment, Outcome, Value};
use crate::media::record::Ended;
use crate::prompts::Catalog;
use crate::vocab::{Key, Time};
use ivr_dsl::OpKind;

/// One line of a transcript.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Virtual milliseconds since the call started.
    pub at: u64,
    /// What happened.
    pub text: String,
}

/// What happened during a call.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Transcript {
    /// Lines in order.
    pub lines: Vec<Entry>,
    /// Prompt ids in the order they started playing.
    pub heard: Vec<String>,
    /// Backend writes made.
    pub submitted: Vec<BackendRequest>,
    /// How the call ended.
    pub outcome: Option<Outcome>,
    /// Variables at the end.
    pub vars: Vec<(String, Value)>,
    /// Steps the call did not do what the caller expected.
    pub failures: Vec<String>,
    /// Flow and step names entered, in order.
    pub visited: Vec<String>,
    /// Length of the call (until the script ended).
    pub duration_ms: u64,
    /// Instructions that ran (with [`super::SimOptions::coverage`]).
    pub executed: Vec<bool>,
    /// The call record the call machine made.
    pub record: Option<crate::call::Cdr>,
}

impl Transcript {
    pub(crate) fn line(&mut self, at: u64, text: impl Into<String>) {
        self.lines.push(Entry {
            at,
            text: text.into(),
        });
    }

    /// The transcript as text, one `mm:ss.mmm  …` line per event.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for l in &self.lines {
            out.push_str(&format!("{}  {}\n", clock(l.at), l.text));
        }
        out
    }
}

/// `mm:ss.mmm`.
pub fn clock(ms: u64) -> String {
    format!("{:02}:{:02}.{:03}", ms / 60_000, ms / 1000 % 60, ms % 1000)
}

/// The recording in progress, as the call's events show it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordingView {
    /// The recorder listens (the beep is over).
    pub started: bool,
    /// The key that ends it.
    pub finish_key: Option<Key>,
}

/// Follows a call's events: writes the transcript and keeps what a far end can tell from
/// them (what plays, whether the call listens, waits for a backend, or records).
#[derive(Debug)]
pub struct Transcriber<'a> {
    catalog: Option<&'a Catalog>,
    /// The transcript so far.
    pub t: Transcript,
    /// When the call started (transcript times count from here).
    start: Time,
    /// Plays queued and not ended, with what they play (a handful at a time).
    queued: Vec<(u64, Vec<Fragment>)>,
    listening: bool,
    waiting_backend: usize,
    recording: Option<RecordingView>,
    /// noinput or nomatch events since the far end last looked.
    pub noinput_seen: usize,
    /// Prompts heard before the caller's last action (a key, a timeout).
    pub heard_mark: usize,
    flow_ended: bool,
}

impl<'a> Transcriber<'a> {
    /// A transcriber for a call that started at `start`, saying prompts with the texts of
    /// `catalog`.
    pub fn new(catalog: Option<&'a Catalog>, start: Time) -> Self {
        Transcriber {
            catalog,
            t: Transcript::default(),
            start,
            queued: Vec::new(),
            listening: false,
            waiting_backend: 0,
            recording: None,
            noinput_seen: 0,
            heard_mark: 0,
            flow_ended: false,
        }
    }

    /// Writes a line at `at`.
    pub fn line(&mut self, at: Time, text: impl Into<String>) {
        let ms = at.since(self.start);
        self.t.line(ms, text);
    }

    /// Whether the call waits for a key with nothing playing, no backend request out and no
    /// recording.
    pub fn idle(&self) -> bool {
        self.queued.is_empty()
            && self.waiting_backend == 0
            && self.recording.is_none()
            && self.listening
    }

    /// The recording in progress, if any.
    pub fn recording(&self) -> Option<RecordingView> {
        self.recording
    }

    /// Whether the script has ended.
    pub fn flow_ended(&self) -> bool {
        self.flow_ended
    }

    /// The transcript, once the call is over.
    pub fn finish(mut self) -> Transcript {
        self.t.lines.sort_by_key(|l| l.at);
        self.t
    }

    fn describe(&self, f: &Fragment) -> String {
        let text = self.catalog.map(|c| c.fragment_text(f));
        match f {
            Fragment::Prompt { id, lang } => match text {
                Some(t) => format!("say {id} ({}): {t}", lang.code()),
                None => format!("say {id} ({})", lang.code()),
            },
            Fragment::Value {
                text: v,
                style,
                lang,
            } => {
                let t = crate::prompts::say::say(
                    v,
                    *style,
                    *lang,
                    crate::prompts::say::Gender::Masculine,
                );
                format!(
                    "say {v} as {} ({}): {}",
                    flow::style_name(*style),
                    lang.code(),
                    t.text
                )
            }
            Fragment::Recording(r) => {
                format!("play recording {} ({} ms)", r.location, r.duration_ms)
            }
            Fragment::Beep => "beep".into(),
        }
    }

    /// One event of the call, at `at`.
    pub fn event(&mut self, at: Time, e: CallEvent) {
        match e {
            CallEvent::PlayQueued { id, fragments, .. } => {
                self.queued.push((id, fragments));
            }
            CallEvent::PlayStarted { id } => {
                if let Some(i) = self.queued.iter().position(|(q, _)| *q == id) {
                    // Taken out while described (describing reads the catalog), then put back.
                    let fragments = std::mem::take(&mut self.queued[i].1);
                    for f in &fragments {
                        let d = self.describe(f);
                        self.line(at, d);
                        self.t.heard.push(f.label());
                    }
                    self.queued[i].1 = fragments;
                }
            }
            CallEvent::PlayEnded { id, .. } => {
                self.queued.retain(|(q, _)| *q != id);
            }
            CallEvent::PlaybackStopped if !self.queued.is_empty() => {
                self.line(at, "playback interrupted");
            }
            CallEvent::Key { key, .. } => {
                self.heard_mark = self.t.heard.len();
                self.line(at, format!("caller presses {key}"));
            }
            CallEvent::Listening(on) => self.listening = on,
            CallEvent::Language(l) => self.line(at, format!("language {}", l.code())),
            CallEvent::RecordingRequested {
                beep,
                max_ms,
                silence_ms,
                finish_key,
            } => {
                self.line(
                    at,
                    format!(
                        "recording starts{} (max {max_ms} ms, silence {silence_ms} ms)",
                        if beep { " after the beep" } else { "" },
                    ),
                );
                self.recording = Some(RecordingView {
                    started: false,
                    finish_key,
                });
            }
            CallEvent::RecordingStarted => {
                if let Some(r) = self.recording.as_mut() {
                    r.started = true;
                }
            }
            CallEvent::RecordingEnded {
                ended,
                duration_ms,
                speech,
            } => {
                let reason = match ended {
                    Ended::Silence => "silence after speech",
                    Ended::NoSpeech => "silence",
                    Ended::Key => "key",
                    Ended::Max => "maximum length",
                    Ended::Stopped => "stopped",
                };
                self.line(
                    at,
                    format!(
                        "recording ends ({reason}): {duration_ms} ms, speech: {}",
                        if speech { "yes" } else { "no" }
                    ),
                );
                self.recording = None;
            }
            CallEvent::BackendRequested { request } => {
                let fields: Vec<String> = request
                    .fields
                    .iter()
                    .map(|(k, v)| format!("{k}={}", v.text()))
                    .collect();
                let verb = match request.kind {
                    OpKind::Submit => "submit",
                    OpKind::Lookup => "lookup",
                };
                self.line(at, format!("{verb} {} {}", request.op, fields.join(" ")));
                if request.kind == OpKind::Submit {
                    self.t.submitted.push(request);
                }
                self.waiting_backend += 1;
            }
            CallEvent::BackendAnswered { result, .. } => {
                self.waiting_backend = self.waiting_backend.saturating_sub(1);
                let text = match &result {
                    BackendResult::Ok(v) => format!("result: {}", v.text()),
                    BackendResult::NotFound => "result: not found".into(),
                    BackendResult::Failure(f) => format!("result: failure ({})", f.detail),
                };
                self.line(at, text);
            }
            CallEvent::TransferRequested { dest, .. } => {
                self.line(at, format!("transfer to {dest}"))
            }
            CallEvent::TransferEnded {
                outcome,
                timed_out: true,
            } => self.line(
                at,
                format!("transfer: {} (the call's deadline)", outcome.as_str()),
            ),
            CallEvent::HangingUp { .. } => self.line(at, "hangup"),
            CallEvent::Flow(e) => self.flow_event(at, e),
            _ => {}
        }
    }

    fn flow_event(&mut self, at: Time, e: flow::Event) {
        match e {
            flow::Event::Flow(name) => {
                self.t.visited.push(format!("flow {name}"));
                self.line(at, format!("flow {name}"));
            }
            flow::Event::Step(name) => {
                self.t.visited.push(format!("step {name}"));
                self.line(at, format!("step {name}"));
            }
            flow::Event::Noinput(n) => {
                self.heard_mark = self.t.heard.len();
                self.noinput_seen += 1;
                self.line(at, format!("noinput {n}"));
            }
            flow::Event::Nomatch(n) => {
                self.heard_mark = self.t.heard.len();
                self.noinput_seen += 1;
                self.line(at, format!("nomatch {n}"));
            }
            flow::Event::DigitIgnored(k) => {
                self.line(at, format!("key {k} ignored (prompt not interruptible)"))
            }
            flow::Event::Matched(v) => self.line(at, format!("input {v}")),
            flow::Event::Assigned(n, v) => self.line(at, format!("set {n} = {}", v.text())),
            flow::Event::Ended(o) => {
                self.flow_ended = true;
                self.t.duration_ms = at.since(self.start);
                self.line(at, format!("call ends: {}", o.as_str()));
            }
            _ => {}
        }
    }
}
