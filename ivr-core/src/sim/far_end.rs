//! The simulated far end: it answers what the call machine asks of the outside world (SIP,
//! backend, blocking work) in virtual time, follows what the call does from its events (the
//! [`Transcriber`]), and plays the caller's steps against it.

use super::transcript::{Transcriber, Transcript, clock};
use super::{Caller, CallerStep, SimBackend, SimOptions};
use crate::call::{Call, CallSetup, Input, Line, Output, Work, WorkResult};
use crate::media::g711::Law;
use crate::prompts::bank::PromptBank;
use crate::sip::endpoint::{CallRef, Command, EndReason, Event};
use crate::sip::sdp::{Agreed, Direction};
use crate::vocab::{DigitMethod, Key, Time};
use std::collections::VecDeque;

/// The simulator's one SIP call reference.
const CALL: CallRef = CallRef(1);
/// Most steps of the simulation loop before it gives up (a script that never ends).
const GUARD: u32 = 1_000_000;

pub(super) struct FarEnd<'a> {
    call: Call,
    now: Time,
    /// What the call does, as its events tell.
    seen: Transcriber<'a>,
    bank: &'a PromptBank,
    opts: &'a SimOptions,
    backend: &'a mut dyn SimBackend,
    /// Inputs due later (backend results, transfer outcomes), in no order.
    pending: Vec<(Time, Input<'static>)>,
    /// When the caller's talking into the current recording ends, once the caller talked.
    speech_until: Option<Time>,
    /// Prompts already matched by `hear` steps.
    heard_checked: usize,
}

fn agreed() -> Agreed {
    Agreed {
        law: Law::Pcmu,
        pt: 0,
        event: Some((101, 8000)),
        ptime: 20,
        direction: Direction::SendRecv,
        remote: Some(([127, 0, 0, 1].into(), 4000)),
        index: 0,
        refused: Vec::new(),
    }
}

impl<'a> FarEnd<'a> {
    pub(super) fn new(
        line: &'a Line,
        setup: CallSetup,
        backend: &'a mut dyn SimBackend,
        opts: &'a SimOptions,
    ) -> Self {
        let mut call = Call::new(line, setup, Time(0));
        if opts.coverage {
            call.track_coverage();
        }
        FarEnd {
            call,
            now: Time(0),
            seen: Transcriber::new(line.bank.catalog(), Time(0)),
            bank: &line.bank,
            opts,
            backend,
            pending: Vec::new(),
            speech_until: None,
            heard_checked: 0,
        }
    }

    fn line(&mut self, text: impl Into<String>) {
        self.seen.line(self.now, text);
    }

    fn failure(&mut self, text: String) {
        self.seen.t.failures.push(text);
    }

    fn input(&mut self, i: Input<'_>) {
        self.call.handle_input(i, self.now);
        self.drain();
    }

    fn idle(&self) -> bool {
        self.seen.idle()
    }

    /// Plays the caller's steps until the call is over.
    pub(super) fn run(mut self, caller: &mut dyn Caller) -> Transcript {
        self.drain();
        let mut step: Option<(CallerStep, Time)> = None;
        let mut keys: VecDeque<(Time, Key)> = VecDeque::new();
        let mut exhausted = false;
        let mut guard = 0u32;
        while !self.call.is_finished() {
            guard += 1;
            if guard > GUARD {
                self.failure("the simulation did not end".into());
                break;
            }
            let live = !self.seen.flow_ended();
            if self.seen.recording().is_none() {
                self.speech_until = None;
            }
            // The caller: take the next step when the current one is done.
            let recording_waits = self.seen.recording().is_some();
            if live
                && step.is_none()
                && !exhausted
                && keys.is_empty()
                && (!caller.when_idle() || self.idle() || recording_waits)
            {
                match caller.next(&self.seen.t) {
                    Some(s) => step = Some((s, self.now)),
                    None => exhausted = true,
                }
            }
            let mut caller_at: Option<Time> = keys.front().map(|(t, _)| *t);
            if let Some((s, since)) = step.as_ref().filter(|_| live).map(|(s, t)| (s, *t)) {
                match s {
                    CallerStep::Hear(id) => {
                        let from = self.heard_checked.max(self.seen.heard_mark);
                        if self.seen.t.heard.len() > from {
                            self.heard_checked = from + 1;
                            if self.seen.t.heard[from] != *id {
                                let at = clock(self.now.0);
                                let got = &self.seen.t.heard[from];
                                let text = format!("{at}: expected to hear {id}, heard {got}");
                                self.failure(text);
                            }
                            step = None;
                            continue;
                        }
                        // Otherwise wait: a timeout may still bring a prompt.
                    }
                    CallerStep::Press(k) if self.idle() || self.finish_key_goes_in(k) => {
                        self.schedule(k, &mut keys);
                        step = None;
                        continue;
                    }
                    CallerStep::Press(k) => {
                        // While a recording runs, its finish key follows the caller's speech.
                        if self.is_finish_key(k) {
                            self.auto_speak();
                            caller_at = self.speech_until.filter(|&u| u > self.now);
                        }
                    }
                    CallerStep::Barge(k) => {
                        self.schedule(k, &mut keys);
                        step = None;
                        continue;
                    }
                    CallerStep::Noinput => {
                        if self.seen.noinput_seen > 0 {
                            self.seen.noinput_seen = 0;
                            step = None;
                            continue;
                        }
                    }
                    CallerStep::Silence(ms) => {
                        let ms = *ms;
                        let until = since.plus(ms);
                        if self.now >= until {
                            step = None;
                            continue;
                        }
                        caller_at = Some(caller_at.map_or(until, |c| c.min(until)));
                    }
                    CallerStep::Speak(ms) => {
                        let ms = *ms;
                        if let Some(r) = self.seen.recording() {
                            if r.started {
                                if self.speech_until.is_none() {
                                    self.speak(ms);
                                }
                                step = None;
                                continue;
                            }
                            // Waits for the beep to end.
                        } else if self.idle() {
                            // Talking to a menu does nothing; the time passes.
                            step = Some((CallerStep::Silence(ms), self.now));
                            continue;
                        }
                    }
                    CallerStep::Hangup => {
                        step = None;
                        self.line("caller hangs up");
                        self.input(Input::Sip(Event::Ended {
                            call: CALL,
                            reason: EndReason::RemoteBye,
                        }));
                        continue;
                    }
                }
            }
            if exhausted && live {
                self.auto_speak();
            }
            // The next thing to happen.
            let next = [
                self.call.poll_timeout(),
                self.pending.iter().map(|(t, _)| *t).min(),
                caller_at.filter(|_| live),
            ]
            .into_iter()
            .flatten()
            .min();
            let Some(next) = next else {
                let at = clock(self.now.0);
                self.failure(format!("{at}: the call is stuck"));
                break;
            };
            self.now = self.now.max(next);
            let now = self.now;
            if live
                && let Some(&(t, key)) = keys.front()
                && t <= now
            {
                keys.pop_front();
                self.key(key);
                continue;
            }
            if let Some(i) = self.pending.iter().position(|(t, _)| *t <= now) {
                let (_, input) = self.pending.swap_remove(i);
                self.input(input);
                continue;
            }
            if self.call.poll_timeout().is_some_and(|t| t <= now) {
                self.call.handle_timeout(now);
                self.drain();
            }
        }
        if let Some((CallerStep::Hear(id), _)) = step {
            let at = clock(self.now.0);
            self.failure(format!("{at}: expected to hear {id}, but the call ended"));
        }
        let flow = self.call.flow();
        let outcome = flow.outcome().cloned();
        let vars = flow
            .vars()
            .into_iter()
            .map(|(n, v)| (n.to_string(), v.clone()))
            .collect();
        let executed = flow.coverage().map(<[bool]>::to_vec).unwrap_or_default();
        let ended = self.seen.flow_ended();
        let now = self.now.0;
        let mut t: Transcript = self.seen.finish();
        t.outcome = outcome;
        t.vars = vars;
        t.executed = executed;
        if !ended {
            t.duration_ms = now;
        }
        t
    }

    fn is_finish_key(&self, k: &str) -> bool {
        let first = k.trim_start().chars().next().and_then(Key::from_char);
        first.is_some() && self.seen.recording().is_some_and(|r| r.finish_key == first)
    }

    /// A recording's finish key goes in once the caller has spoken.
    fn finish_key_goes_in(&self, k: &str) -> bool {
        self.is_finish_key(k) && self.speech_until.is_some_and(|u| self.now >= u)
    }

    /// Talks the configured length into a recording that has heard nothing yet.
    fn auto_speak(&mut self) {
        if let (Some(ms), Some(r)) = (self.opts.auto_speak_ms, self.seen.recording())
            && r.started
            && self.speech_until.is_none()
        {
            self.speak(ms);
        }
    }

    fn speak(&mut self, ms: u64) {
        self.speech_until = Some(self.now.plus(ms));
        self.input(Input::Speech { ms });
    }

    fn schedule(&mut self, k: &str, keys: &mut VecDeque<(Time, Key)>) {
        for (i, c) in k.chars().filter(|c| !c.is_whitespace()).enumerate() {
            match Key::from_char(c) {
                Some(key) => keys.push_back((self.now.plus(100 * i as u64), key)),
                None => self.failure(format!("`{c}` is not a key the caller can press")),
            }
        }
    }

    fn key(&mut self, key: Key) {
        self.input(Input::Key {
            key,
            method: DigitMethod::Simulated,
        });
    }

    /// What the call hands out: answered at once, or later as pending inputs.
    fn drain(&mut self) {
        while let Some(o) = self.call.poll_output() {
            match o {
                Output::Sip(cmd) => self.sip(cmd),
                Output::Backend(b) => {
                    let result = self.backend.request(&b.context, &b.request);
                    let at = self.now.plus(self.opts.backend_delay_ms);
                    self.pending
                        .push((at, Input::BackendDone { id: b.id, result }));
                }
                Output::Work { id, work } => {
                    let result = self.work(work);
                    self.call
                        .handle_input(Input::WorkDone { id, result }, self.now);
                }
                Output::Event(e) => self.seen.event(self.now, e),
                Output::Record(r) => self.seen.t.record = Some(*r),
                Output::Rtp { packet, .. } => self.call.recycle(packet),
                Output::RecordingAudio { .. } => {}
            }
        }
    }

    fn sip(&mut self, cmd: Command) {
        let now = self.now;
        match cmd {
            // The caller's phone acknowledges the answer at once.
            Command::Answer { .. } => self.call.handle_input(
                Input::Sip(Event::Confirmed {
                    call: CALL,
                    media: agreed(),
                }),
                now,
            ),
            Command::Reject { code } => self.pending.push((
                now,
                Input::Sip(Event::Ended {
                    call: CALL,
                    reason: EndReason::Rejected(code),
                }),
            )),
            Command::Hangup => self.pending.push((
                now,
                Input::Sip(Event::Ended {
                    call: CALL,
                    reason: EndReason::LocalBye,
                }),
            )),
            Command::Transfer { .. } => {
                if let Some(ms) = self.opts.transfer_after_ms {
                    self.pending.push((
                        now.plus(ms),
                        Input::Sip(Event::Transferred {
                            call: CALL,
                            outcome: self.opts.transfer,
                        }),
                    ));
                }
            }
            Command::Ring => {}
        }
    }

    fn work(&mut self, work: Work) -> WorkResult {
        // The simulator has lengths, not sounds: texts and recordings play as pauses.
        match work {
            Work::Speak { text, .. } => WorkResult::Silence {
                ms: self.bank.estimate_ms(&text).unwrap_or(600),
            },
            Work::ReadRecording { recording } => WorkResult::Silence {
                ms: recording.duration_ms,
            },
            Work::OpenRecording { .. } => WorkResult::Opened,
            Work::CloseRecording { recording } => WorkResult::Closed {
                location: format!("sim://recording-{recording}"),
                sha256: String::new(),
            },
        }
    }
}
