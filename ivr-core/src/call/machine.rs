//! The call machine: its state and the contract (inputs, timeouts, outputs), its timers and
//! its end. The SIP side is in `dialog.rs`, backend requests and transfers in `requests.rs`,
//! plays and recordings in `plays.rs`.

use super::media::Media;
use super::messages::{CallEvent, HangupBy, Input, Output};
use super::plays::{Deferred, Purpose, RecState};
use super::record::{Cdr, MediaRecord};
use super::timers::{Timer, Timers};
use super::{CallConfig, CallSetup, Line, MediaPlan};
use crate::flow::{self, BackendResult, Failure, FailureKind, FlowMachine};
use crate::prompts::bank::PromptBank;
use crate::sip::endpoint::Command;
use crate::sip::uri::user_of;
use crate::vocab::{Time, TransferOutcome};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Phase {
    /// Answer or ring decided, waiting for the caller's ACK.
    Answering,
    /// Ringing until the answer delay passes.
    Ringing,
    /// The caller acknowledged: the script runs.
    Answered,
    /// The call is over; outstanding work may still come back until the teardown deadline.
    Ending,
    /// The record has gone out.
    Finished,
}

/// A backend request in flight.
#[derive(Clone, Copy, Debug)]
pub(super) struct Pending {
    pub(super) id: u64,
    pub(super) sent: Time,
    pub(super) index: usize,
}

/// One call, composed (see the module's documentation).
pub struct Call {
    pub(super) config: Arc<CallConfig>,
    pub(super) bank: Arc<PromptBank>,
    pub(super) setup: CallSetup,
    pub(super) caller: String,
    pub(super) called: String,
    /// The `now` the call was made at (its wall clock is `setup.started_at`).
    pub(super) t0: Time,
    pub(super) phase: Phase,
    pub(super) flow: FlowMachine,
    pub(super) media: Option<Media>,
    pub(super) answered: Option<Time>,
    /// Where media goes until symmetric RTP latches (the SDP address).
    pub(super) remote: Option<SocketAddr>,
    /// Whether we send (false while the caller holds the call).
    pub(super) sending: bool,
    /// Whether the far end has said it sends (inactivity applies).
    pub(super) far_sends: bool,
    /// Counted from here when the far end has sent nothing yet (answer, or resume).
    pub(super) inactivity_from: Time,
    /// We hung up, or the SIP side ended the call.
    pub(super) hung_up: bool,
    pub(super) outcome: Option<String>,
    pub(super) hangup_by: Option<HangupBy>,
    pub(super) timers: Timers,
    pub(super) next_work: u64,
    pub(super) plays: VecDeque<Deferred>,
    pub(super) rec: Option<RecState>,
    pub(super) recordings: u32,
    pub(super) work: Vec<(u64, Purpose)>,
    pub(super) backend: Vec<Pending>,
    /// The record's index of the transfer waiting for its outcome.
    pub(super) transfer: Option<usize>,
    pub(super) out: VecDeque<Output>,
    pub(super) record: Cdr,
    pub(super) ticks: u64,
    pub(super) late_ticks: u64,
    pub(super) max_late_ms: u64,
}

impl std::fmt::Debug for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Call")
            .field("call_id", &self.setup.call_id)
            .field("phase", &self.phase)
            .field("timers", &self.timers)
            .finish_non_exhaustive()
    }
}

impl Call {
    /// A call offered at `now`: it answers at once, rings first, or refuses (no media port),
    /// as the first outputs say.
    pub fn new(line: &Line, setup: CallSetup, now: Time) -> Call {
        let flow = FlowMachine::new(Arc::clone(&line.program), Arc::clone(&line.flow));
        let record = Cdr {
            call_id: setup.call_id.clone(),
            uid: setup.uid.clone(),
            from: setup.from.clone(),
            to: setup.to.clone(),
            started_at: setup.started_at.to_string(),
            language: flow.language().code().into(),
            script: line.version.to_string(),
            ..Default::default()
        };
        let mut c = Call {
            config: Arc::clone(&line.config),
            bank: Arc::clone(&line.bank),
            caller: crate::privacy::normalise_number(&user_of(
                setup.asserted.as_deref().unwrap_or(&setup.from),
            )),
            called: user_of(&setup.to),
            setup,
            t0: now,
            phase: Phase::Answering,
            flow,
            media: None,
            answered: None,
            remote: None,
            sending: true,
            far_sends: true,
            inactivity_from: now,
            hung_up: false,
            outcome: None,
            hangup_by: None,
            timers: Timers::default(),
            next_work: 1,
            plays: VecDeque::new(),
            rec: None,
            recordings: 0,
            work: Vec::new(),
            backend: Vec::new(),
            transfer: None,
            out: VecDeque::new(),
            record,
            ticks: 0,
            late_ticks: 0,
            max_late_ms: 0,
        };
        match c.setup.media {
            MediaPlan::Rtp { port: None, .. } => {
                c.emit(CallEvent::Refused { code: 503 });
                c.out.push_back(Output::Sip(Command::Reject { code: 503 }));
            }
            _ if c.config.answer_after_ms > 0 => {
                c.phase = Phase::Ringing;
                c.emit(CallEvent::Ringing);
                c.out.push_back(Output::Sip(Command::Ring));
                c.timers
                    .set(Timer::Answer, now.plus(c.config.answer_after_ms));
            }
            _ => c.answer(),
        }
        c
    }

    /// Records scripted coverage (`ivr test --coverage`).
    pub fn track_coverage(&mut self) {
        self.flow.track_coverage();
    }

    /// The script's machine (variables, outcome, coverage).
    pub fn flow(&self) -> &FlowMachine {
        &self.flow
    }

    /// The SIP Call-ID.
    pub fn call_id(&self) -> &str {
        &self.setup.call_id
    }

    /// The server's own id of the call ([`CallSetup::uid`]).
    pub fn uid(&self) -> &str {
        &self.setup.uid
    }

    /// Whether the call record has gone out: the call needs nothing more.
    pub fn is_finished(&self) -> bool {
        self.phase == Phase::Finished
    }

    /// The call's timers now (for tests and logs).
    pub fn timers(&self) -> &Timers {
        &self.timers
    }

    /// The wall clock at `now`.
    pub(super) fn wall(&self, now: Time) -> jiff::Timestamp {
        let ms = i64::try_from(now.since(self.t0)).unwrap_or(i64::MAX);
        self.setup
            .started_at
            .checked_add(jiff::SignedDuration::from_millis(ms))
            .unwrap_or(self.setup.started_at)
    }

    /// Milliseconds since the answer (0 before it).
    pub(super) fn since_answer(&self, now: Time) -> u64 {
        self.answered.map_or(0, |a| now.since(a))
    }

    pub(super) fn emit(&mut self, e: CallEvent) {
        self.out.push_back(Output::Event(e));
    }

    fn answer(&mut self) {
        let rtp_port = match self.setup.media {
            MediaPlan::Rtp { port, .. } => port.unwrap_or(0),
            MediaPlan::Simulated => 0,
        };
        self.phase = Phase::Answering;
        self.out
            .push_back(Output::Sip(Command::Answer { rtp_port }));
    }

    /// Takes what arrived.
    pub fn handle_input(&mut self, input: Input<'_>, now: Time) {
        if self.phase == Phase::Finished {
            return;
        }
        self.catch_up(now);
        match input {
            Input::Sip(e) => self.on_sip(e, now),
            Input::Rtp { from, datagram } => {
                if !self.hung_up
                    && let Some(m) = self.media.as_mut()
                {
                    m.datagram(from, datagram, now);
                }
            }
            Input::Key { key, method } => {
                if !self.hung_up
                    && let Some(m) = self.media.as_mut()
                {
                    m.key(
                        crate::media::dtmf::Digit {
                            key,
                            method,
                            at: now,
                        },
                        now,
                    );
                }
            }
            Input::Speech { ms } => {
                if let Some(m) = self.media.as_mut() {
                    m.speech(ms, now);
                }
            }
            Input::BackendDone { id, result } => self.backend_done(id, result, now),
            Input::WorkDone { id, result } => self.work_done(id, result, now),
        }
        self.pump(now);
        self.try_finish(now);
    }

    /// Does what is due at `now`.
    pub fn handle_timeout(&mut self, now: Time) {
        if self.phase == Phase::Finished {
            return;
        }
        self.catch_up(now);
        while let Some(t) = self.timers.take_due(now) {
            self.on_timer(t, now);
            self.pump(now);
        }
        if self.flow.poll_timeout().is_some_and(|t| t <= now) {
            self.flow.handle_timeout(now);
        }
        self.pump(now);
        self.try_finish(now);
    }

    /// When to call [`Call::handle_timeout`] next.
    pub fn poll_timeout(&self) -> Option<Time> {
        if self.phase == Phase::Finished {
            return None;
        }
        let media = self
            .media
            .as_ref()
            .filter(|_| !self.hung_up)
            .and_then(Media::poll_timeout);
        [self.timers.next(), self.flow.poll_timeout(), media]
            .into_iter()
            .flatten()
            .min()
    }

    /// The next output: what the call decided, then the packets its media has ready.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<Output> {
        if let Some(o) = self.out.pop_front() {
            return Some(o);
        }
        let send = self.sending && !self.hung_up;
        let fallback = self.remote;
        let m = self.media.as_mut()?;
        while let Some(p) = m.poll_transmit() {
            match (send, m.remote().or(fallback)) {
                (true, Some(to)) => return Some(Output::Rtp { to, packet: p }),
                _ => m.recycle(p),
            }
        }
        None
    }

    /// Gives a sent packet's buffer back (no allocation per packet).
    pub fn recycle(&mut self, packet: Vec<u8>) {
        if let Some(m) = self.media.as_mut() {
            m.recycle(packet);
        }
    }

    /// Runs the media's frame clock up to `now`: every input and timeout sees the media as it
    /// is at `now` (ticks due are run first, late ones counted).
    fn catch_up(&mut self, now: Time) {
        if self.hung_up {
            return;
        }
        let Some(m) = self.media.as_mut() else {
            return;
        };
        let Some(due) = m.poll_timeout().filter(|t| *t <= now) else {
            return;
        };
        if m.is_real() {
            let late = now.since(due);
            self.ticks += 1;
            self.max_late_ms = self.max_late_ms.max(late);
            if late > m.ptime_ms() {
                self.late_ticks += 1;
            }
        }
        m.handle_timeout(now);
    }

    /// Moves events between the machines until nothing moves.
    pub(super) fn pump(&mut self, now: Time) {
        loop {
            let mut moved = false;
            while let Some(e) = self.media.as_mut().and_then(Media::poll_event) {
                moved = true;
                self.on_media(e, now);
            }
            while let Some(o) = self.flow.poll_output() {
                moved = true;
                self.on_flow(o, now);
            }
            if !moved {
                break;
            }
        }
        if self.flow.is_ended() && self.answered.is_some() && !self.hung_up {
            self.hang_up("hangup", now);
        }
    }

    fn on_timer(&mut self, t: Timer, now: Time) {
        match t {
            Timer::Answer => {
                if self.phase == Phase::Ringing {
                    self.answer();
                }
            }
            Timer::Transfer => {
                if let Some(i) = self.transfer.take() {
                    if let Some(r) = self.record.transfers.get_mut(i) {
                        r.outcome = TransferOutcome::NoAnswer.as_str().into();
                        r.timed_out = true;
                    }
                    self.emit(CallEvent::TransferEnded {
                        outcome: TransferOutcome::NoAnswer,
                        timed_out: true,
                    });
                    self.flow
                        .handle_input(flow::Input::Transfer(TransferOutcome::NoAnswer), now);
                }
            }
            Timer::Backend(id) => {
                let limit = self.config.backend_timeout_ms;
                self.backend_done(
                    id,
                    BackendResult::Failure(Failure::new(
                        FailureKind::Timeout,
                        format!("no answer in {limit} ms"),
                    )),
                    now,
                );
            }
            Timer::Work(id) => {
                let limit = self.config.work_timeout_ms;
                self.work_done(
                    id,
                    super::WorkResult::Failed(format!("not done in {limit} ms")),
                    now,
                );
            }
            Timer::Inactivity => self.check_inactivity(now),
            Timer::MaxDuration => self.flow.handle_input(flow::Input::TimeLimit, now),
            Timer::Teardown => self.finish(now),
        }
    }

    fn try_finish(&mut self, now: Time) {
        if self.phase == Phase::Ending
            && self.backend.is_empty()
            && self.work.is_empty()
            && self.rec.is_none()
        {
            self.finish(now);
        }
    }

    fn finish(&mut self, now: Time) {
        if self.phase == Phase::Finished {
            return;
        }
        // Whatever the flow still had to say (its end event) goes into the record.
        self.pump(now);
        self.phase = Phase::Finished;
        self.timers = Timers::default();
        let ended_at = self.wall(now).to_string();
        let duration_ms = self.since_answer(now);
        let r = &mut self.record;
        let hangup_by = self.hangup_by.unwrap_or(if self.answered.is_some() {
            HangupBy::Caller
        } else {
            HangupBy::Nobody
        });
        r.hangup_by = hangup_by.as_str().into();
        let outcome = match self.outcome.take() {
            Some(o) => o,
            None => self
                .flow
                .outcome()
                .map_or("ended", flow::Outcome::as_str)
                .to_string(),
        };
        r.outcome = outcome.clone();
        for t in &mut r.transfers {
            if self.transfer.is_some() && t.outcome.is_empty() {
                t.outcome = "pending".into();
            }
        }
        r.ended_at = ended_at;
        r.duration_ms = duration_ms;
        if let Some(m) = self.media.as_ref() {
            let st = m.stats();
            r.media = Some(MediaRecord {
                codec: m.law().name(),
                frames_received: st.played,
                frames_lost: st.lost,
                ticks: self.ticks,
                late_ticks: self.late_ticks,
                max_late_ms: self.max_late_ms,
                refused_packets: m.refused_packets(),
            });
        }
        self.emit(CallEvent::Ended { outcome, hangup_by });
        let record = std::mem::take(&mut self.record);
        self.out.push_back(Output::Record(Box::new(record)));
    }
}
