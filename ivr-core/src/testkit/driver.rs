//! The flow machine alone in virtual time, for tests of the script's semantics (timeouts,
//! handlers, collection rules) without media or SIP.

use crate::flow::{Event, FlowConfig, FlowMachine, Fragment, Input, Output, Value};
use crate::vocab::{DigitMethod, Key, Time};
use std::sync::Arc;

/// The flow machine alone, in virtual time: plays take a fixed time (`play_ms`), keys and
/// timeouts come when the test says.
#[derive(Debug)]
pub struct FlowDriver {
    /// The machine.
    pub call: FlowMachine,
    /// Virtual milliseconds.
    pub now: u64,
    /// Every output with its time.
    pub outputs: Vec<(u64, Output)>,
    /// Plays not yet finished (id, when they finish).
    pub playing: Vec<(u64, u64)>,
    /// How long each play lasts.
    pub play_ms: u64,
}

impl FlowDriver {
    /// A machine for `src` with default settings.
    pub fn new(src: &str) -> FlowDriver {
        Self::with_config(src, FlowConfig::default())
    }

    /// A machine for `src` with `config`.
    pub fn with_config(src: &str, config: FlowConfig) -> FlowDriver {
        FlowDriver {
            call: FlowMachine::new(super::program(src), Arc::new(config)),
            now: 0,
            outputs: Vec::new(),
            playing: Vec::new(),
            play_ms: 1000,
        }
    }

    /// Starts the call at the wall clock `at` (RFC 3339).
    pub fn start_at(&mut self, at: &str) {
        let at: jiff::Timestamp = at.parse().unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        self.input(Input::Started {
            caller: "+966500000001".into(),
            called: "940".into(),
            at,
        });
    }

    /// Starts the call on a Sunday morning in Riyadh.
    pub fn start(&mut self) {
        self.start_at("2026-11-29T07:00:00Z");
    }

    /// Feeds an input now.
    pub fn input(&mut self, i: Input) {
        self.call.handle_input(i, Time(self.now));
        self.drain();
    }

    fn drain(&mut self) {
        while let Some(o) = self.call.poll_output() {
            match &o {
                Output::Play { id, .. } => {
                    // Plays run one after another.
                    let begin = self
                        .playing
                        .last()
                        .map_or(self.now, |&(_, end)| end.max(self.now));
                    self.playing.push((*id, begin + self.play_ms));
                }
                Output::StopPlayback => {
                    let ids: Vec<u64> = self.playing.drain(..).map(|(id, _)| id).collect();
                    self.outputs.push((self.now, o.clone()));
                    for id in ids {
                        self.call
                            .handle_input(Input::PlayFinished { id }, Time(self.now));
                    }
                    continue;
                }
                _ => {}
            }
            self.outputs.push((self.now, o));
        }
    }

    /// Advances virtual time to `t`, finishing plays and firing timers on the way.
    pub fn until(&mut self, t: u64) {
        loop {
            let next_play = self.playing.first().map(|&(_, end)| end);
            let next_timer = self.call.poll_timeout().map(|t| t.0);
            let next = [next_play, next_timer].into_iter().flatten().min();
            match next {
                Some(n) if n <= t => {
                    self.now = self.now.max(n);
                    if next_play == Some(n) {
                        let (id, _) = self.playing.remove(0);
                        self.input(Input::PlayFinished { id });
                    } else {
                        self.call.handle_timeout(Time(n));
                        self.drain();
                    }
                }
                _ => break,
            }
        }
        self.now = self.now.max(t);
    }

    /// Presses `k` now (a character that is not a key is ignored).
    pub fn key(&mut self, k: char) {
        if let Some(key) = Key::from_char(k) {
            self.input(Input::Digit {
                key,
                method: DigitMethod::Rfc4733,
            });
        }
    }

    /// Presses keys 100 ms apart.
    pub fn keys(&mut self, ks: &str) {
        for k in ks.chars() {
            self.key(k);
            let t = self.now + 100;
            self.until(t);
        }
    }

    /// Prompt ids played so far, in order.
    pub fn prompts(&self) -> Vec<String> {
        self.outputs
            .iter()
            .filter_map(|(_, o)| match o {
                Output::Play { fragments, .. } => fragments.first().map(|f| match f {
                    Fragment::Prompt { id, .. } => id.clone(),
                    Fragment::Value { text, .. } => format!("value:{text}"),
                    _ => "other".into(),
                }),
                _ => None,
            })
            .collect()
    }

    /// The machine's events so far.
    pub fn events(&self) -> Vec<Event> {
        self.outputs
            .iter()
            .filter_map(|(_, o)| match o {
                Output::Event(e) => Some(e.clone()),
                _ => None,
            })
            .collect()
    }

    /// Times at which an event happened.
    pub fn when(&self, pred: impl Fn(&Event) -> bool) -> Vec<u64> {
        self.outputs
            .iter()
            .filter_map(|(t, o)| match o {
                Output::Event(e) if pred(e) => Some(*t),
                _ => None,
            })
            .collect()
    }

    /// A variable's value as text.
    pub fn var(&self, name: &str) -> Option<String> {
        self.call.var(name).map(Value::text)
    }
}
