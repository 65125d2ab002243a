//! The call simulator: the very same [`Call`] machine a live call runs, driven in virtual time
//! by a scripted caller, a media model that times playback and recording, and canned backends.
//! No sockets, no sleeping, and the same transcript on every run.

mod backend;
pub mod scenario;

pub use backend::{CannedBackend, OpsBackend, SimBackend, StoreBackend};

use crate::flow::{
    BackendRequest, BackendResult, Call, CallConfig, DigitMethod, Event, Fragment, Input, Outcome,
    Output, Program, Recording, RecordingResult, Time, TransferOutcome, Value,
};
use crate::prompts::Catalog;
use std::collections::VecDeque;
use std::sync::Arc;

/// What the simulated caller does next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallerStep {
    /// Expect the next prompt played to be this id.
    Hear(String),
    /// Press keys (100 ms apart) once the call is waiting for input and nothing is playing.
    Press(String),
    /// Press keys at once, interrupting what is playing.
    Barge(String),
    /// Do nothing until the current input state times out.
    Noinput,
    /// Do nothing for this many milliseconds.
    Silence(u64),
    /// Talk for this many milliseconds (into a recording).
    Speak(u64),
    /// Hang up.
    Hangup,
}

/// Where the caller's next steps come from.
pub trait Caller {
    /// The next step; `None` when the caller has nothing more to do (it then stays silent).
    fn next(&mut self, transcript: &Transcript) -> Option<CallerStep>;

    /// Whether to be asked only when the call waits for input with nothing playing (a person
    /// at a terminal), rather than as soon as the previous step is done.
    fn when_idle(&self) -> bool {
        false
    }
}

impl Caller for VecDeque<CallerStep> {
    fn next(&mut self, _: &Transcript) -> Option<CallerStep> {
        self.pop_front()
    }
}

/// Simulation settings.
#[derive(Clone, Debug)]
pub struct SimOptions {
    /// Wall clock at call start.
    pub at: jiff::Timestamp,
    /// Calling number.
    pub caller: String,
    /// Called number.
    pub called: String,
    /// When the caller has no step left and a recording starts, talk this long.
    pub auto_speak_ms: Option<u64>,
    /// How long a backend request takes.
    pub backend_delay_ms: u64,
    /// How a transfer ends.
    pub transfer: TransferOutcome,
    /// Milliseconds of audio per character of prompt text (when there is no audio file).
    pub ms_per_char: u64,
    /// Record which instructions ran.
    pub coverage: bool,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            at: jiff::Timestamp::UNIX_EPOCH,
            caller: "+966500000001".into(),
            called: "940".into(),
            auto_speak_ms: None,
            backend_delay_ms: 200,
            transfer: TransferOutcome::Success,
            ms_per_char: 60,
            coverage: false,
        }
    }
}

/// One line of a transcript.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// Virtual milliseconds since the call started.
    pub at: u64,
    /// What happened.
    pub text: String,
}

/// What happened during a simulated call.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Transcript {
    /// Lines in order.
    pub lines: Vec<Line>,
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
    /// Length of the call.
    pub duration_ms: u64,
    /// Instructions that ran (with [`SimOptions::coverage`]).
    pub executed: Vec<bool>,
}

impl Transcript {
    fn line(&mut self, at: u64, text: impl Into<String>) {
        self.lines.push(Line {
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

struct Playing {
    id: u64,
    fragments: Vec<Fragment>,
    duration: u64,
}

struct Sim<'a> {
    call: Call,
    now: u64,
    t: Transcript,
    catalog: Option<&'a Catalog>,
    opts: &'a SimOptions,
    queue: VecDeque<Playing>,
    head_end: Option<u64>,
    recording: Option<Rec>,
    pending: Vec<(u64, Input)>,
    backend: &'a mut dyn SimBackend,
    listening: bool,
    noinput_seen: usize,
    waiting_backend: bool,
    /// Prompts already matched by `hear` steps.
    heard_checked: usize,
    /// Prompts heard before the caller's last action (a key, a timeout): `hear` skips them.
    heard_mark: usize,
}

struct Rec {
    start: u64,
    end: Option<u64>,
    speech: bool,
    /// When the caller stops talking.
    speech_until: Option<u64>,
    max: u64,
    silence: u64,
    finish_key: Option<char>,
}

/// Runs one call to its end.
pub fn simulate(
    program: &Arc<Program>,
    config: &Arc<CallConfig>,
    catalog: Option<&Catalog>,
    caller: &mut dyn Caller,
    backend: &mut dyn SimBackend,
    opts: &SimOptions,
) -> Transcript {
    let mut call = Call::new(Arc::clone(program), Arc::clone(config));
    if opts.coverage {
        call.track_coverage();
    }
    let mut sim = Sim {
        call,
        now: 0,
        t: Transcript::default(),
        catalog,
        opts,
        queue: VecDeque::new(),
        head_end: None,
        recording: None,
        pending: Vec::new(),
        backend,
        listening: false,
        noinput_seen: 0,
        waiting_backend: false,
        heard_checked: 0,
        heard_mark: 0,
    };
    sim.input(Input::Started {
        caller: opts.caller.clone(),
        called: opts.called.clone(),
        at: opts.at,
    });
    let mut step: Option<(CallerStep, u64)> = None;
    let mut keys: VecDeque<(u64, char)> = VecDeque::new();
    let mut exhausted = false;
    let mut guard = 0u32;
    while !sim.call.is_ended() {
        guard += 1;
        if guard > 1_000_000 {
            sim.t.failures.push("the simulation did not end".into());
            break;
        }
        // The caller: take the next step when the current one is done.
        let idle_now = sim.queue.is_empty()
            && !sim.waiting_backend
            && sim.recording.is_none()
            && sim.listening;
        let recording_waits = sim.recording.as_ref().is_some_and(|r| r.end.is_none());
        if step.is_none()
            && !exhausted
            && keys.is_empty()
            && (!caller.when_idle() || idle_now || recording_waits)
        {
            match caller.next(&sim.t) {
                Some(s) => step = Some((s, sim.now)),
                None => exhausted = true,
            }
        }
        let mut caller_at: Option<u64> = keys.front().map(|(t, _)| *t);
        if let Some((s, since)) = step.clone() {
            let idle = sim.queue.is_empty()
                && !sim.waiting_backend
                && sim.recording.is_none()
                && sim.listening;
            match s {
                CallerStep::Hear(id) => {
                    let from = sim.heard_checked.max(sim.heard_mark);
                    if sim.t.heard.len() > from {
                        let got = sim.t.heard[from].clone();
                        sim.heard_checked = from + 1;
                        if got != id {
                            sim.t.failures.push(format!(
                                "{}: expected to hear {id}, heard {got}",
                                clock(sim.now)
                            ));
                        }
                        step = None;
                        continue;
                    }
                    // Otherwise wait: a timeout may still bring a prompt.
                }
                CallerStep::Press(k)
                    if idle
                        || sim.recording.as_ref().is_some_and(|r| {
                            // A recording's finish key goes in once the caller has spoken.
                            r.finish_key.is_some_and(|f| k.trim_start().starts_with(f))
                                && r.speech_until.is_some_and(|u| sim.now >= u)
                        }) =>
                {
                    for (i, c) in k.chars().filter(|c| !c.is_whitespace()).enumerate() {
                        keys.push_back((sim.now + 100 * i as u64, c));
                    }
                    step = None;
                    continue;
                }
                CallerStep::Press(k) => {
                    // While a recording runs, its finish key follows the caller's speech.
                    if let Some(r) = sim.recording.as_mut()
                        && r.finish_key.is_some_and(|f| k.trim_start().starts_with(f))
                    {
                        if r.speech_until.is_none()
                            && let Some(ms) = sim.opts.auto_speak_ms
                        {
                            let begin = r.start.max(sim.now);
                            r.speech = true;
                            r.speech_until = Some(begin + ms);
                            r.end = Some((begin + ms + r.silence).min(r.start + r.max));
                        }
                        caller_at = r.speech_until.filter(|&u| u > sim.now);
                    }
                }
                CallerStep::Barge(k) => {
                    for (i, c) in k.chars().filter(|c| !c.is_whitespace()).enumerate() {
                        keys.push_back((sim.now + 100 * i as u64, c));
                    }
                    step = None;
                    continue;
                }
                CallerStep::Noinput => {
                    if sim.noinput_seen > 0 {
                        sim.noinput_seen = 0;
                        step = None;
                        continue;
                    }
                }
                CallerStep::Silence(ms) => {
                    if sim.now >= since + ms {
                        step = None;
                        continue;
                    }
                    caller_at = Some(caller_at.map_or(since + ms, |c: u64| c.min(since + ms)));
                }
                CallerStep::Speak(ms) => {
                    if let Some(r) = sim.recording.as_mut() {
                        if r.end.is_none() {
                            let begin = r.start.max(sim.now);
                            r.speech = true;
                            r.speech_until = Some(begin + ms);
                            r.end = Some((begin + ms + r.silence).min(r.start + r.max));
                        }
                        step = None;
                        continue;
                    }
                    if idle {
                        // Talking to a menu does nothing; the time passes.
                        step = Some((CallerStep::Silence(ms), sim.now));
                        continue;
                    }
                }
                CallerStep::Hangup => {
                    sim.line("caller hangs up");
                    sim.input(Input::CallerHangup);
                    step = None;
                    continue;
                }
            }
        }
        if exhausted
            && let (Some(ms), Some(r)) = (sim.opts.auto_speak_ms, sim.recording.as_mut())
            && r.end.is_none()
            && !r.speech
        {
            r.speech = true;
            r.speech_until = Some(r.start + ms);
            r.end = Some((r.start + ms + r.silence).min(r.start + r.max));
        }
        // The next thing to happen.
        let candidates = [
            sim.head_end,
            sim.recording
                .as_ref()
                .and_then(|r| r.end.or(Some(r.start + r.silence.max(5_000).min(r.max)))),
            sim.pending.iter().map(|(t, _)| *t).min(),
            sim.call.poll_timeout().map(|t| t.0),
            caller_at,
        ];
        let Some(next) = candidates.into_iter().flatten().min() else {
            sim.t
                .failures
                .push(format!("{}: the call is stuck", clock(sim.now)));
            break;
        };
        sim.now = sim.now.max(next);
        let now = sim.now;
        if let Some(&(t, key)) = keys.front()
            && t <= now
        {
            keys.pop_front();
            sim.key(key);
            continue;
        }
        if sim.head_end.is_some_and(|e| e <= now) {
            sim.finish_head();
            continue;
        }
        if let Some(i) = sim.pending.iter().position(|(t, _)| *t <= now) {
            let (_, input) = sim.pending.remove(i);
            if let Input::Backend { .. } = input {
                sim.waiting_backend = false;
            }
            sim.input(input);
            continue;
        }
        if let Some(r) = sim.recording.as_ref() {
            let end = r.end.unwrap_or(r.start + r.silence.max(5_000).min(r.max));
            if end <= now {
                sim.finish_recording(end, "silence");
                continue;
            }
        }
        if sim.call.poll_timeout().is_some_and(|t| t.0 <= now) {
            sim.call.handle_timeout(Time(now));
            sim.drain();
        }
    }
    if let Some((CallerStep::Hear(id), _)) = step {
        sim.t.failures.push(format!(
            "{}: expected to hear {id}, but the call ended",
            clock(sim.now)
        ));
    }
    sim.t.outcome = sim.call.outcome().cloned();
    sim.t.vars = sim
        .call
        .vars()
        .into_iter()
        .map(|(n, v)| (n.to_string(), v.clone()))
        .collect();
    sim.t.duration_ms = sim.now;
    sim.t.executed = sim
        .call
        .coverage()
        .map(<[bool]>::to_vec)
        .unwrap_or_default();
    // Backend results are written when requested, with the time they arrive.
    sim.t.lines.sort_by_key(|l| l.at);
    sim.t
}

impl Sim<'_> {
    fn line(&mut self, text: impl Into<String>) {
        let now = self.now;
        self.t.line(now, text);
    }

    fn input(&mut self, i: Input) {
        self.call.handle(i, Time(self.now));
        self.drain();
    }

    fn key(&mut self, key: char) {
        self.heard_mark = self.t.heard.len();
        self.line(format!("caller presses {key}"));
        if let Some(r) = self.recording.as_ref()
            && r.finish_key == Some(key)
        {
            let speech = r.speech;
            let now = self.now;
            if let Some(r) = self.recording.as_mut() {
                r.speech = speech;
            }
            self.finish_recording(now, "key");
            return;
        }
        self.input(Input::Digit {
            key,
            method: DigitMethod::Simulated,
        });
    }

    fn duration(&self, f: &Fragment) -> u64 {
        match f {
            Fragment::Recording(r) => r.duration_ms,
            Fragment::Beep => 500,
            other => match self.catalog.and_then(|c| c.duration_ms(other)) {
                Some(ms) => ms,
                None => {
                    // No audio: estimate from the text.
                    let text = self
                        .catalog
                        .map(|c| c.fragment_text(other))
                        .unwrap_or_default();
                    (text.chars().count() as u64 * self.opts.ms_per_char).max(600)
                }
            },
        }
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
                format!("say {v} as {style:?} ({}): {}", lang.code(), t.text)
                    .replace("as Digits", "as digits")
                    .replace("as Number", "as number")
                    .replace("as Date", "as date")
                    .replace("as Text", "as text")
            }
            Fragment::Recording(r) => {
                format!("play recording {} ({} ms)", r.location, r.duration_ms)
            }
            Fragment::Beep => "beep".into(),
        }
    }

    fn start_head(&mut self) {
        let Some(p) = self.queue.front() else {
            self.head_end = None;
            return;
        };
        let descs: Vec<String> = p.fragments.iter().map(|f| self.describe(f)).collect();
        let ids: Vec<String> = p
            .fragments
            .iter()
            .map(|f| match f {
                Fragment::Prompt { id, .. } => id.clone(),
                Fragment::Value { text, .. } => format!("value:{text}"),
                Fragment::Recording(_) => "recording".into(),
                Fragment::Beep => "beep".into(),
            })
            .collect();
        self.head_end = Some(self.now + p.duration);
        for d in descs {
            self.line(d);
        }
        self.t.heard.extend(ids);
    }

    fn finish_head(&mut self) {
        if let Some(p) = self.queue.pop_front() {
            self.head_end = None;
            self.start_head();
            self.input(Input::PlayFinished { id: p.id });
        }
    }

    fn finish_recording(&mut self, at: u64, how: &str) {
        let Some(r) = self.recording.take() else {
            return;
        };
        let duration = at.saturating_sub(r.start);
        let reason = if r.end == Some(at) && r.speech {
            "silence after speech"
        } else {
            how
        };
        self.line(format!(
            "recording ends ({reason}): {duration} ms, speech: {}",
            if r.speech { "yes" } else { "no" }
        ));
        self.input(Input::RecordingFinished(RecordingResult {
            recording: Recording {
                location: format!("sim://recording-{}", self.t.lines.len()),
                duration_ms: duration,
                sha256: None,
            },
            speech: r.speech,
        }));
    }

    fn drain(&mut self) {
        while let Some(o) = self.call.poll_output() {
            match o {
                Output::Play { id, fragments, .. } => {
                    let duration = fragments.iter().map(|f| self.duration(f)).sum();
                    self.queue.push_back(Playing {
                        id,
                        fragments,
                        duration,
                    });
                    if self.head_end.is_none() {
                        self.start_head();
                    }
                }
                Output::StopPlayback => {
                    let stopped: Vec<u64> = self.queue.drain(..).map(|p| p.id).collect();
                    self.head_end = None;
                    if !stopped.is_empty() {
                        self.line("playback interrupted");
                    }
                    for id in stopped {
                        self.call.handle(Input::PlayFinished { id }, Time(self.now));
                    }
                }
                Output::Listen(on) => self.listening = on,
                Output::StartRecording {
                    beep,
                    max_ms,
                    silence_ms,
                    finish_key,
                } => {
                    let start = self.now + if beep { 500 } else { 0 };
                    self.line(format!(
                        "recording starts{} (max {} ms, silence {} ms)",
                        if beep { " after the beep" } else { "" },
                        max_ms,
                        silence_ms
                    ));
                    self.recording = Some(Rec {
                        start,
                        end: None,
                        speech: false,
                        speech_until: None,
                        max: max_ms,
                        silence: silence_ms,
                        finish_key,
                    });
                }
                Output::StopRecording => {
                    let now = self.now;
                    self.finish_recording(now, "stopped");
                }
                Output::Backend(req) => {
                    let fields: Vec<String> = req
                        .fields
                        .iter()
                        .map(|(k, v)| format!("{k}={}", v.text()))
                        .collect();
                    let verb = match req.kind {
                        ivr_dsl::OpKind::Submit => "submit",
                        ivr_dsl::OpKind::Lookup => "lookup",
                    };
                    self.line(format!("{verb} {} {}", req.op, fields.join(" ")));
                    let result = self.backend.request(&req);
                    if req.kind == ivr_dsl::OpKind::Submit {
                        self.t.submitted.push(req.clone());
                    }
                    let text = match &result {
                        BackendResult::Ok(v) => format!("result: {}", v.text()),
                        BackendResult::NotFound => "result: not found".into(),
                        BackendResult::Failure(e) => format!("result: failure ({e})"),
                    };
                    let at = self.now + self.opts.backend_delay_ms;
                    self.t.lines.push(Line { at, text });
                    self.waiting_backend = true;
                    self.pending
                        .push((at, Input::Backend { id: req.id, result }));
                }
                Output::Transfer { dest, .. } => {
                    self.line(format!("transfer to {dest}"));
                    self.pending
                        .push((self.now + 1_000, Input::Transfer(self.opts.transfer)));
                }
                Output::Language(l) => self.line(format!("language {}", l.code())),
                Output::Hangup => self.line("hangup"),
                Output::Event(e) => self.event(e),
            }
        }
    }

    fn event(&mut self, e: Event) {
        match e {
            Event::Flow(name) => {
                self.t.visited.push(format!("flow {name}"));
                self.line(format!("flow {name}"));
            }
            Event::Step(name) => {
                self.t.visited.push(format!("step {name}"));
                self.line(format!("step {name}"));
            }
            Event::Noinput(n) => {
                self.heard_mark = self.t.heard.len();
                self.noinput_seen += 1;
                self.line(format!("noinput {n}"));
            }
            Event::Nomatch(n) => {
                self.heard_mark = self.t.heard.len();
                self.noinput_seen += 1;
                self.line(format!("nomatch {n}"));
            }
            Event::DigitIgnored(k) => {
                self.line(format!("key {k} ignored (prompt not interruptible)"))
            }
            Event::Matched(v) => self.line(format!("input {v}")),
            Event::Assigned(n, v) => self.line(format!("set {n} = {}", v.text())),
            Event::Ended(o) => self.line(format!("call ends: {}", o.as_str())),
            Event::Input(_) | Event::Digit(..) => {}
        }
    }
}
