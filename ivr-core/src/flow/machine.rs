//! One call's flow machine: given inputs and the time, it hands back outputs. It reads no
//! clock, opens nothing and spawns nothing; the runtime and the simulator drive the same code.

use super::FlowConfig;
use super::messages::{
    BackendRequest, BackendResult, Event, Fragment, Input, Outcome, Output, RecordingResult,
};
use super::program::{InputKind, Op, Pc, Program, PromptLine, SayItem, VarId};
use super::value::{Value, eval};
use crate::vocab::{DigitMethod, Key, Time, TransferOutcome};
use ivr_dsl::Lang;
use ivr_dsl::ast::ValueStyle;
use std::collections::VecDeque;
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wait {
    Starting,
    Running,
    Input,
    Backend(u64),
    Transfer,
    HangupAfterPlay,
    TransferAfterPlay,
    Ended,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Timer {
    Noinput,
    InterDigit,
    RecordGuard,
}

#[derive(Clone, Debug)]
struct Active {
    state: usize,
    noinput: u64,
    nomatch: u64,
    digits: String,
    listening: bool,
    recording: bool,
    timer: Option<(Time, Timer)>,
}

#[derive(Clone, Debug)]
struct Frame {
    vars: Vec<Value>,
    ret: Option<(Pc, Option<VarId>)>,
}

/// Most instructions one input may run before the call is ended as looping (the checker
/// rejects loops that need no caller; this guards unchecked programs).
const STEP_LIMIT: usize = 100_000;
/// Keys remembered while no input state is active.
const TYPEAHEAD: usize = 32;

/// The script's side of one call.
#[derive(Clone, Debug)]
pub struct FlowMachine {
    program: Arc<Program>,
    config: Arc<FlowConfig>,
    pc: Pc,
    frames: Vec<Frame>,
    lang: Lang,
    wait: Wait,
    start: Option<(Time, jiff::Timestamp)>,
    playing: Vec<(u64, bool)>,
    next_id: u64,
    typeahead: VecDeque<(Key, DigitMethod)>,
    active: Option<Active>,
    /// Input state that `repeat` returns to.
    current: Option<usize>,
    pending_transfer: Option<(String, Option<u64>)>,
    out: VecDeque<Output>,
    outcome: Option<Outcome>,
    /// Instructions executed, when coverage is on.
    coverage: Option<Vec<bool>>,
}

impl FlowMachine {
    /// Records which instructions run (for `ivr test --coverage`).
    pub fn track_coverage(&mut self) {
        self.coverage = Some(vec![false; self.program.code.len()]);
    }

    /// Which instructions ran, if tracked.
    pub fn coverage(&self) -> Option<&[bool]> {
        self.coverage.as_deref()
    }

    /// A new call on a compiled program.
    pub fn new(program: Arc<Program>, config: Arc<FlowConfig>) -> FlowMachine {
        let vars = vec![Value::Null; program.vars.len()];
        // The configured language, unless the script does not serve it: then its first one.
        let lang = if program.languages.contains(&config.default_language) {
            config.default_language
        } else {
            program
                .languages
                .first()
                .copied()
                .unwrap_or(config.default_language)
        };
        FlowMachine {
            program,
            config,
            pc: 0,
            frames: vec![Frame { vars, ret: None }],
            lang,
            wait: Wait::Starting,
            start: None,
            playing: Vec::new(),
            next_id: 1,
            typeahead: VecDeque::new(),
            active: None,
            current: None,
            pending_transfer: None,
            out: VecDeque::new(),
            outcome: None,
            coverage: None,
        }
    }

    /// The next output, if any.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// Whether an output is waiting (without taking it).
    pub fn has_output(&self) -> bool {
        !self.out.is_empty()
    }

    /// When to call [`FlowMachine::handle_timeout`] next.
    pub fn poll_timeout(&self) -> Option<Time> {
        if self.wait == Wait::Ended {
            return None;
        }
        self.active.as_ref().and_then(|a| a.timer.map(|(t, _)| t))
    }

    /// How the call ended, once it has.
    pub fn outcome(&self) -> Option<&Outcome> {
        self.outcome.as_ref()
    }

    /// Whether the call has ended.
    pub fn is_ended(&self) -> bool {
        self.wait == Wait::Ended
    }

    /// The caller's current language.
    pub fn language(&self) -> Lang {
        self.lang
    }

    /// A variable's value in the current frame, by name.
    pub fn var(&self, name: &str) -> Option<&Value> {
        let key = ivr_dsl::fold::name_key(name);
        let v = self
            .program
            .vars
            .iter()
            .position(|n| ivr_dsl::fold::name_key(n) == key)?;
        self.frames
            .last()
            .and_then(|f| f.vars.get(v))
            .filter(|v| **v != Value::Null)
    }

    /// Every variable that has a value, by name (current frame).
    pub fn vars(&self) -> Vec<(&str, &Value)> {
        let Some(f) = self.frames.last() else {
            return Vec::new();
        };
        self.program
            .vars
            .iter()
            .zip(&f.vars)
            .filter(|(_, v)| **v != Value::Null)
            .map(|(n, v)| (n.as_str(), v))
            .collect()
    }

    /// Feeds an input.
    pub fn handle_input(&mut self, input: Input, now: Time) {
        if self.wait == Wait::Ended {
            return;
        }
        match input {
            Input::Started { caller, called, at } => {
                if self.wait != Wait::Starting {
                    return;
                }
                self.start = Some((now, at));
                let builtins = self.program.builtins.clone();
                if let Some(f) = self.frames.first_mut() {
                    for (v, b) in builtins {
                        f.vars[v] = Value::Str(match b {
                            super::program::Builtin::Caller => caller.clone(),
                            super::program::Builtin::Called => called.clone(),
                        });
                    }
                }
                self.event(Event::Flow(self.program.flows[0].name.clone()));
                self.pc = self.program.flows[0].entry;
                self.wait = Wait::Running;
                self.run(now);
            }
            Input::Digit { key, method } => self.digit(key, method, now),
            Input::PlayFinished { id } => {
                self.playing.retain(|(p, _)| *p != id);
                if self.playing.is_empty() {
                    self.played_all(now);
                }
            }
            Input::RecordingFinished(r) => self.recording_finished(r, now),
            Input::Backend { id, result } => {
                if self.wait != Wait::Backend(id) {
                    return;
                }
                let Op::Backend {
                    into,
                    on_failure,
                    on_not_found,
                    next,
                    ..
                } = self.program.code[self.pc].clone()
                else {
                    return;
                };
                self.pc = match result {
                    BackendResult::Ok(v) => {
                        self.assign(into, v);
                        next
                    }
                    BackendResult::NotFound => on_not_found.or(on_failure).unwrap_or(next),
                    BackendResult::Failure(_) => on_failure.unwrap_or(next),
                };
                self.wait = Wait::Running;
                self.run(now);
            }
            Input::Transfer(outcome) => {
                if self.wait != Wait::Transfer {
                    return;
                }
                let Op::Transfer {
                    dest,
                    on_busy,
                    on_noanswer,
                    on_failure,
                    ..
                } = self.program.code[self.pc].clone()
                else {
                    return;
                };
                let handler = match outcome {
                    TransferOutcome::Success => return self.end(Outcome::Transfer(dest)),
                    TransferOutcome::Busy => on_busy.or(on_failure),
                    TransferOutcome::NoAnswer => on_noanswer.or(on_failure),
                    TransferOutcome::Failed => on_failure,
                };
                match handler {
                    Some(pc) => {
                        self.pc = pc;
                        self.wait = Wait::Running;
                        self.run(now);
                    }
                    None => {
                        self.out.push_back(Output::Hangup);
                        self.end(Outcome::Hangup);
                    }
                }
            }
            Input::CallerHangup => {
                if self.active.as_ref().is_some_and(|a| a.recording) {
                    self.out.push_back(Output::StopRecording);
                }
                self.end(Outcome::CallerHangup);
            }
            Input::TimeLimit => {
                if self.active.as_ref().is_some_and(|a| a.recording) {
                    self.out.push_back(Output::StopRecording);
                }
                self.out.push_back(Output::Hangup);
                self.end(Outcome::MaxDuration);
            }
        }
    }

    /// Fires whatever timer is due at `now`.
    pub fn handle_timeout(&mut self, now: Time) {
        if self.wait == Wait::Ended {
            return;
        }
        let Some(a) = self.active.as_mut() else {
            return;
        };
        let Some((at, kind)) = a.timer else { return };
        if now < at {
            return;
        }
        a.timer = None;
        match kind {
            Timer::Noinput => self.noinput(now),
            Timer::InterDigit => {
                let state = &self.program.states[a.state];
                if let InputKind::Collect { min, .. } = state.kind {
                    if a.digits.chars().count() >= min {
                        let digits = a.digits.clone();
                        self.collected(digits, now);
                    } else {
                        self.nomatch(now);
                    }
                }
            }
            Timer::RecordGuard => {
                self.out.push_back(Output::StopRecording);
            }
        }
    }

    fn event(&mut self, e: Event) {
        self.out.push_back(Output::Event(e));
    }

    fn end(&mut self, outcome: Outcome) {
        self.wait = Wait::Ended;
        self.active = None;
        self.event(Event::Ended(outcome.clone()));
        self.outcome = Some(outcome);
    }

    fn frame(&mut self) -> &mut Frame {
        if self.frames.is_empty() {
            self.frames.push(Frame {
                vars: vec![Value::Null; self.program.vars.len()],
                ret: None,
            });
        }
        let last = self.frames.len() - 1;
        &mut self.frames[last]
    }

    fn assign(&mut self, v: VarId, value: Value) {
        let name = self.program.var_name(v).to_string();
        self.event(Event::Assigned(name, value.clone()));
        if let Some(slot) = self.frame().vars.get_mut(v) {
            *slot = value;
        }
    }

    fn within(&self, h: usize, now: Time) -> bool {
        let Some(hours) = self.program.hours.get(h) else {
            return false;
        };
        let Some((t0, wall0)) = self.start else {
            return false;
        };
        let elapsed = jiff::SignedDuration::from_millis(now.0.saturating_sub(t0.0) as i64);
        let Ok(wall) = wall0.checked_add(elapsed) else {
            return false;
        };
        let local = wall.to_zoned(self.config.time_zone.clone());
        let date = local.date();
        if hours.closed_on_holidays && self.config.holidays.contains(&date) {
            return false;
        }
        let day = local.weekday().to_sunday_zero_offset() as u8;
        let minute = u32::from(local.hour() as u8) * 60 + u32::from(local.minute() as u8);
        hours
            .ranges
            .iter()
            .any(|&(mask, open, close)| mask & (1 << day) != 0 && minute >= open && minute < close)
    }

    fn fragment(&self, line: &PromptLine) -> Fragment {
        let lang = line.lang.unwrap_or(self.lang);
        let vars = &self.frames.last().map_or(&[][..], |f| f.vars.as_slice());
        match &line.item {
            SayItem::Prompt(id) => Fragment::Prompt {
                id: id.clone(),
                lang,
            },
            SayItem::Value(v, style) => Fragment::Value {
                text: vars.get(*v).map(Value::text).unwrap_or_default(),
                style: *style,
                lang,
            },
            SayItem::Recording(v) => match vars.get(*v) {
                Some(Value::Recording(r)) => Fragment::Recording(r.clone()),
                other => Fragment::Value {
                    text: other.map(Value::text).unwrap_or_default(),
                    style: ValueStyle::Digits,
                    lang,
                },
            },
        }
    }

    fn play(&mut self, fragments: Vec<Fragment>, barge_in: bool) {
        let id = self.next_id;
        self.next_id += 1;
        self.playing.push((id, barge_in));
        self.out.push_back(Output::Play {
            id,
            fragments,
            barge_in,
        });
    }

    /// Runs instructions until the call waits or ends.
    fn run(&mut self, now: Time) {
        let mut steps = 0;
        while self.wait == Wait::Running {
            steps += 1;
            if steps > STEP_LIMIT {
                self.out.push_back(Output::Hangup);
                return self.end(Outcome::Error("the script looped without waiting".into()));
            }
            if let Some(c) = self.coverage.as_mut().and_then(|c| c.get_mut(self.pc)) {
                *c = true;
            }
            let Some(op) = self.program.code.get(self.pc).cloned() else {
                self.out.push_back(Output::Hangup);
                return self.end(Outcome::Error("ran past the end of the program".into()));
            };
            self.pc += 1;
            match op {
                Op::Step(id) => {
                    let name = self.program.steps[id].name.clone();
                    self.event(Event::Step(name));
                }
                Op::Language(l) => {
                    self.lang = l;
                    self.out.push_back(Output::Language(l));
                }
                Op::Say(line) => {
                    let f = self.fragment(&line);
                    self.play(vec![f], line.barge_in);
                }
                Op::Input(state) => {
                    self.pc -= 1;
                    self.enter(state, true, now);
                }
                Op::Repeat => match self.current {
                    Some(state) => self.enter(state, false, now),
                    None => {
                        self.out.push_back(Output::Hangup);
                        return self.end(Outcome::Error("`repeat` outside an input state".into()));
                    }
                },
                Op::Jump(pc) => {
                    if let Some(f) = self.program.flows.iter().find(|f| f.entry == pc) {
                        let name = f.name.clone();
                        self.event(Event::Flow(name));
                    }
                    self.pc = pc;
                }
                Op::JumpUnless(cond, pc) => {
                    let v = self.eval(&cond, now);
                    if !v.truthy() {
                        self.pc = pc;
                    }
                }
                Op::Set(v, e) => {
                    let value = self.eval(&e, now);
                    self.assign(v, value);
                }
                Op::Backend {
                    kind, op, fields, ..
                } => {
                    self.pc -= 1;
                    let id = self.next_id;
                    self.next_id += 1;
                    let vars = self.frames.last().map_or(&[][..], |f| f.vars.as_slice());
                    let fields = fields
                        .iter()
                        .map(|(name, v)| (name.clone(), vars.get(*v).cloned().unwrap_or_default()))
                        .collect();
                    self.out.push_back(Output::Backend(BackendRequest {
                        id,
                        kind,
                        op,
                        fields,
                    }));
                    self.wait = Wait::Backend(id);
                }
                Op::Transfer {
                    dest, timeout_ms, ..
                } => {
                    self.pc -= 1;
                    if self.playing.is_empty() {
                        self.out.push_back(Output::Transfer { dest, timeout_ms });
                        self.wait = Wait::Transfer;
                    } else {
                        self.pending_transfer = Some((dest, timeout_ms));
                        self.wait = Wait::TransferAfterPlay;
                    }
                }
                Op::Run { flow, args, into } => {
                    let mut vars = vec![Value::Null; self.program.vars.len()];
                    if let Some(f) = self.frames.last() {
                        for &(v, _) in &self.program.builtins {
                            vars[v] = f.vars[v].clone();
                        }
                        for &(from, to) in &args {
                            vars[to] = f.vars.get(from).cloned().unwrap_or_default();
                        }
                    }
                    self.frames.push(Frame {
                        vars,
                        ret: Some((self.pc, into)),
                    });
                    let (name, entry) = {
                        let f = &self.program.flows[flow];
                        (f.name.clone(), f.entry)
                    };
                    self.event(Event::Flow(name));
                    self.pc = entry;
                }
                Op::Return(e) => {
                    let value = e.map(|e| self.eval(&e, now)).unwrap_or_default();
                    let frame = self.frames.pop();
                    match frame.and_then(|f| f.ret) {
                        Some((pc, into)) if !self.frames.is_empty() => {
                            self.pc = pc;
                            if let Some(v) = into {
                                self.assign(v, value);
                            }
                        }
                        _ => {
                            self.out.push_back(Output::Hangup);
                            return self
                                .end(Outcome::Error("`return` with nothing to return to".into()));
                        }
                    }
                }
                Op::Hangup => {
                    if self.playing.is_empty() {
                        self.out.push_back(Output::Hangup);
                        return self.end(Outcome::Hangup);
                    }
                    self.wait = Wait::HangupAfterPlay;
                }
                Op::FallOff(flow) => {
                    let name = self.program.flows[flow].name.clone();
                    self.out.push_back(Output::Hangup);
                    return self.end(Outcome::Error(format!("reached the end of flow {name}")));
                }
            }
        }
    }

    fn eval(&self, e: &super::program::CExpr, now: Time) -> Value {
        let vars = self.frames.last().map_or(&[][..], |f| f.vars.as_slice());
        eval(e, vars, &|h| self.within(h, now), &self.program)
    }

    /// Enters an input state (`fresh`: reset its counters).
    fn enter(&mut self, state: usize, fresh: bool, now: Time) {
        let (noinput, nomatch) = match (&self.active, fresh) {
            (Some(a), false) if a.state == state => (a.noinput, a.nomatch),
            _ => (0, 0),
        };
        self.current = Some(state);
        self.active = Some(Active {
            state,
            noinput,
            nomatch,
            digits: String::new(),
            listening: false,
            recording: false,
            timer: None,
        });
        self.wait = Wait::Input;
        let program = Arc::clone(&self.program);
        let st = &program.states[state];
        self.event(Event::Input(st.line));
        let prompts = &st.prompts;
        let record = matches!(st.kind, InputKind::Record { .. });
        for p in prompts {
            let f = self.fragment(p);
            self.play(vec![f], p.barge_in);
        }
        if record {
            self.typeahead.clear();
        } else {
            self.out.push_back(Output::Listen(true));
            while let Some((key, method)) = self.typeahead.pop_front() {
                self.digit(key, method, now);
                if self.wait != Wait::Input || self.active.as_ref().is_none_or(|a| a.state != state)
                {
                    break;
                }
            }
        }
        if self.playing.is_empty() && self.wait == Wait::Input {
            self.played_all(now);
        }
    }

    /// All playback finished.
    fn played_all(&mut self, now: Time) {
        match self.wait {
            Wait::HangupAfterPlay => {
                self.out.push_back(Output::Hangup);
                self.end(Outcome::Hangup);
            }
            Wait::TransferAfterPlay => {
                if let Some((dest, timeout_ms)) = self.pending_transfer.take() {
                    self.out.push_back(Output::Transfer { dest, timeout_ms });
                }
                self.wait = Wait::Transfer;
            }
            Wait::Input => {
                let Some(a) = self.active.as_mut() else {
                    return;
                };
                if a.listening || a.recording {
                    return;
                }
                let st = &self.program.states[a.state];
                match &st.kind {
                    InputKind::Record {
                        beep,
                        max_ms,
                        silence_ms,
                        until,
                        ..
                    } => {
                        a.recording = true;
                        a.timer = Some((now.plus(max_ms + 10_000), Timer::RecordGuard));
                        self.out.push_back(Output::StartRecording {
                            beep: *beep,
                            max_ms: *max_ms,
                            silence_ms: *silence_ms,
                            finish_key: *until,
                        });
                    }
                    _ => {
                        a.listening = true;
                        if a.digits.is_empty() {
                            a.timer = Some((now.plus(st.timeout_ms), Timer::Noinput));
                        } else {
                            a.timer =
                                Some((now.plus(self.config.interdigit_ms), Timer::InterDigit));
                        }
                    }
                }
            }
            _ => {}
        }
    }

    fn digit(&mut self, key: Key, method: DigitMethod, now: Time) {
        if matches!(key, Key::A | Key::B | Key::C | Key::D) {
            return;
        }
        let interruptible = self.playing.iter().all(|(_, b)| *b);
        let recording = self.active.as_ref().is_some_and(|a| a.recording);
        let accepting = self.wait == Wait::Input && !recording && self.active.is_some();
        if !self.playing.is_empty() {
            if !interruptible {
                self.event(Event::DigitIgnored(key));
                return;
            }
            self.out.push_back(Output::StopPlayback);
            self.playing.clear();
        }
        if recording {
            // The recorder ends on its finish key itself; other keys are ignored.
            return;
        }
        if !accepting {
            if self.typeahead.len() < TYPEAHEAD {
                self.typeahead.push_back((key, method));
            }
            if self.wait == Wait::HangupAfterPlay || self.wait == Wait::TransferAfterPlay {
                self.played_all(now);
            }
            return;
        }
        self.event(Event::Digit(key, method));
        let Some(a) = self.active.as_mut() else {
            return;
        };
        a.listening = true;
        a.timer = None;
        let state = a.state;
        match &self.program.states[state].kind {
            InputKind::Menu { options } => match options.iter().find(|(k, _)| *k == key) {
                Some(&(_, pc)) => {
                    self.event(Event::Matched(key.as_char().to_string()));
                    self.out.push_back(Output::Listen(false));
                    self.active = None;
                    self.pc = pc;
                    self.wait = Wait::Running;
                    self.run(now);
                }
                None => self.nomatch(now),
            },
            InputKind::Collect {
                min, max, until, ..
            } => {
                let (min, max, until) = (*min, *max, *until);
                if Some(key) == until {
                    let digits = a.digits.clone();
                    if digits.chars().count() >= min {
                        self.collected(digits, now);
                    } else {
                        self.nomatch(now);
                    }
                    return;
                }
                if !key.is_digit() {
                    return self.nomatch(now);
                }
                a.digits.push(key.as_char());
                if a.digits.chars().count() >= max {
                    let digits = a.digits.clone();
                    self.collected(digits, now);
                } else {
                    a.timer = Some((now.plus(self.config.interdigit_ms), Timer::InterDigit));
                }
            }
            InputKind::Record { .. } => {}
        }
    }

    fn collected(&mut self, digits: String, now: Time) {
        let Some(a) = self.active.take() else { return };
        let st = &self.program.states[a.state];
        let (var, next) = match st.kind {
            InputKind::Collect { var, .. } => (var, st.next),
            _ => return,
        };
        self.event(Event::Matched(digits.clone()));
        self.out.push_back(Output::Listen(false));
        self.assign(var, Value::Str(digits));
        self.pc = next;
        self.wait = Wait::Running;
        self.run(now);
    }

    fn recording_finished(&mut self, r: RecordingResult, now: Time) {
        let Some(a) = self.active.as_ref() else {
            return;
        };
        if !a.recording {
            return;
        }
        let st = &self.program.states[a.state];
        let (var, next) = match st.kind {
            InputKind::Record { var, .. } => (var, st.next),
            _ => return,
        };
        if r.speech {
            self.active = None;
            self.event(Event::Matched(format!(
                "recording {} ms",
                r.recording.duration_ms
            )));
            self.assign(var, Value::Recording(r.recording));
            self.pc = next;
            self.wait = Wait::Running;
            self.run(now);
        } else {
            if let Some(a) = self.active.as_mut() {
                a.recording = false;
            }
            self.noinput(now);
        }
    }

    fn noinput(&mut self, now: Time) {
        let Some(a) = self.active.as_mut() else {
            return;
        };
        a.noinput += 1;
        let n = a.noinput;
        self.event(Event::Noinput(n));
        self.input_event(true, now);
    }

    fn nomatch(&mut self, now: Time) {
        let Some(a) = self.active.as_mut() else {
            return;
        };
        a.nomatch += 1;
        a.digits.clear();
        let n = a.nomatch;
        self.event(Event::Nomatch(n));
        self.input_event(false, now);
    }

    /// After a noinput or nomatch: `after N attempts` first, else the counted handler with the
    /// highest count not above the counter, else repeat.
    fn input_event(&mut self, noinput: bool, now: Time) {
        let Some(a) = self.active.as_mut() else {
            return;
        };
        a.timer = None;
        a.listening = false;
        let st = &self.program.states[a.state];
        let attempts = a.noinput + a.nomatch;
        let counter = if noinput { a.noinput } else { a.nomatch };
        let target = match st.after {
            Some((n, pc)) if attempts >= n => {
                self.active = None;
                self.current = None;
                Some(pc)
            }
            _ => {
                let handlers = if noinput { &st.noinput } else { &st.nomatch };
                handlers
                    .iter()
                    .rev()
                    .find(|(c, _)| *c <= counter)
                    .map(|&(_, pc)| pc)
            }
        };
        self.out.push_back(Output::Listen(false));
        match target {
            Some(pc) => {
                self.pc = pc;
                self.wait = Wait::Running;
                self.run(now);
            }
            None => {
                let state = self.active.as_ref().map(|a| a.state);
                if let Some(s) = state {
                    self.enter(s, false, now);
                }
            }
        }
    }
}
