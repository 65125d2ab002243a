//! The call machine: its state, the contract (inputs, timeouts, outputs), the SIP side of the
//! call and its timers. Plays and recordings are in `plays.rs`.

use super::media::Media;
use super::messages::{BackendCall, CallEvent, HangupBy, Input, Output};
use super::model::Model;
use super::plays::{Deferred, Purpose, RecState};
use super::record::{BackendRecord, Cdr, MediaRecord, TransferRecord};
use super::timers::{Timer, Timers};
use super::{CallConfig, CallSetup, Line, MediaPlan};
use crate::backend::ops::CallContext;
use crate::flow::{self, BackendResult, Failure, FailureKind, FlowMachine};
use crate::media::session::{MediaConfig, MediaSession};
use crate::prompts::bank::PromptBank;
use crate::sip::endpoint::{Command, EndReason, Event};
use crate::sip::sdp::{Agreed, Direction};
use crate::sip::uri::user_of;
use crate::vocab::{Time, TransferOutcome};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
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
    caller: String,
    called: String,
    /// The `now` the call was made at (its wall clock is `setup.started_at`).
    pub(super) t0: Time,
    phase: Phase,
    pub(super) flow: FlowMachine,
    pub(super) media: Option<Media>,
    pub(super) answered: Option<Time>,
    /// Where media goes until symmetric RTP latches (the SDP address).
    remote: Option<SocketAddr>,
    /// Whether we send (false while the caller holds the call).
    sending: bool,
    /// Whether the far end has said it sends (inactivity applies).
    far_sends: bool,
    /// Counted from here when the far end has sent nothing yet (answer, or resume).
    inactivity_from: Time,
    /// We hung up, or the SIP side ended the call.
    pub(super) hung_up: bool,
    outcome: Option<String>,
    hangup_by: Option<HangupBy>,
    pub(super) timers: Timers,
    pub(super) next_work: u64,
    pub(super) plays: VecDeque<Deferred>,
    pub(super) rec: Option<RecState>,
    pub(super) recordings: u32,
    pub(super) work: Vec<(u64, Purpose)>,
    backend: Vec<Pending>,
    /// The record's index of the transfer waiting for its outcome.
    transfer: Option<usize>,
    pub(super) out: VecDeque<Output>,
    pub(super) record: Cdr,
    ticks: u64,
    late_ticks: u64,
    max_late_ms: u64,
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
            caller: user_of(&setup.from),
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

    fn check_inactivity(&mut self, now: Time) {
        let limit = self.config.rtp_inactivity_ms;
        if limit == 0 || !self.far_sends || self.hung_up {
            return;
        }
        let last = self
            .media
            .as_ref()
            .and_then(Media::last_received)
            .map_or(self.inactivity_from, |t| t.max(self.inactivity_from));
        if now.since(last) >= limit {
            self.outcome = Some("rtp_timeout".into());
            self.hang_up("rtp_timeout", now);
        } else {
            self.timers.set(Timer::Inactivity, last.plus(limit));
        }
    }

    fn on_sip(&mut self, e: Event, now: Time) {
        match e {
            Event::Confirmed { media, .. } => self.confirmed(&media, now),
            Event::MediaChanged { media, .. } => self.media_changed(&media, now),
            Event::Info {
                content_type, body, ..
            } => {
                if !self.hung_up
                    && let Some(m) = self.media.as_mut()
                {
                    m.info(&content_type, &body, now);
                }
            }
            Event::Transferred { outcome, .. } => {
                let Some(i) = self.transfer.take() else {
                    self.emit(CallEvent::Warning(format!(
                        "transfer outcome {} after the call stopped waiting for it",
                        outcome.as_str()
                    )));
                    return;
                };
                self.timers.cancel(Timer::Transfer);
                if let Some(r) = self.record.transfers.get_mut(i) {
                    r.outcome = outcome.as_str().into();
                }
                self.emit(CallEvent::TransferEnded {
                    outcome,
                    timed_out: false,
                });
                self.flow.handle_input(flow::Input::Transfer(outcome), now);
            }
            Event::Ended { reason, .. } => self.sip_ended(reason, now),
            // A call machine is made for an offer; another one is not for this call.
            Event::Offered { .. } => {}
        }
    }

    fn apply(&mut self, media: &Agreed) {
        self.remote = media.remote.map(|(ip, port)| SocketAddr::new(ip, port));
        self.sending = matches!(media.direction, Direction::SendRecv | Direction::SendOnly)
            && self.remote.is_some();
        self.far_sends = matches!(media.direction, Direction::SendRecv | Direction::RecvOnly);
    }

    fn confirmed(&mut self, agreed: &Agreed, now: Time) {
        if self.answered.is_some() || self.hung_up {
            return;
        }
        self.phase = Phase::Answered;
        self.answered = Some(now);
        self.inactivity_from = now;
        self.record.answered_at = Some(self.wall(now).to_string());
        self.apply(agreed);
        let ptime = agreed.ptime.clamp(10, 60);
        let mut media = match self.setup.media {
            MediaPlan::Rtp { random, .. } => Media::Rtp(Box::new(MediaSession::new(
                MediaConfig {
                    law: agreed.law,
                    ptime_ms: ptime,
                    event_pt: agreed.event.map(|(pt, _)| pt),
                    inband: self.config.inband,
                    send_silence: true,
                    jitter_frames: self.config.jitter_frames,
                },
                now,
                random,
            ))),
            MediaPlan::Simulated => Media::Model(Model::new(agreed.law, ptime, now)),
        };
        // The frame due now goes out now: a play queued from here on starts at the next one.
        media.handle_timeout(now);
        self.emit(CallEvent::Answered {
            law: agreed.law,
            telephone_event: agreed.event.is_some(),
            inband: media.inband(),
        });
        let real = media.is_real();
        self.media = Some(media);
        self.timers
            .set(Timer::MaxDuration, now.plus(self.config.max_call_ms));
        if real && self.config.rtp_inactivity_ms > 0 && self.far_sends {
            self.timers
                .set(Timer::Inactivity, now.plus(self.config.rtp_inactivity_ms));
        }
        let at = self.wall(now);
        self.flow.handle_input(
            flow::Input::Started {
                caller: self.caller.clone(),
                called: self.called.clone(),
                at,
            },
            now,
        );
    }

    fn media_changed(&mut self, agreed: &Agreed, now: Time) {
        if self.hung_up {
            return;
        }
        let Some(m) = self.media.as_mut() else {
            return;
        };
        let remote = agreed.remote.map(|(ip, port)| SocketAddr::new(ip, port));
        let moved = remote.is_some() && remote != self.remote;
        m.renegotiate(agreed.law, agreed.event.map(|(pt, _)| pt), moved);
        let was_sending = self.far_sends;
        self.apply(agreed);
        if moved || (self.far_sends && !was_sending) {
            // A new source, or a resumed one: the far end has the whole limit again.
            self.inactivity_from = now;
        }
        let real = self.media.as_ref().is_some_and(Media::is_real);
        if self.far_sends && self.config.rtp_inactivity_ms > 0 && real {
            let from = self
                .media
                .as_ref()
                .and_then(Media::last_received)
                .map_or(self.inactivity_from, |t| t.max(self.inactivity_from));
            self.timers
                .set(Timer::Inactivity, from.plus(self.config.rtp_inactivity_ms));
        } else {
            self.timers.cancel(Timer::Inactivity);
        }
        let law = agreed.law;
        let remote = self.remote;
        let sending = self.sending;
        self.emit(CallEvent::MediaChanged {
            law,
            remote,
            sending,
        });
    }

    fn sip_ended(&mut self, reason: EndReason, now: Time) {
        self.emit(CallEvent::SipEnded { reason });
        if !self.hung_up {
            let (by, outcome) = match reason {
                EndReason::RemoteBye => (HangupBy::Caller, None),
                EndReason::LocalBye => (HangupBy::Ivr, Some("shutdown".to_string())),
                EndReason::AckTimeout => (HangupBy::Ivr, Some("ack_timeout".to_string())),
                EndReason::Cancelled => (HangupBy::Caller, Some("cancelled".to_string())),
                EndReason::Rejected(c) => (HangupBy::Nobody, Some(format!("rejected_{c}"))),
            };
            self.hangup_by = Some(by);
            if self.outcome.is_none() {
                self.outcome = outcome;
            }
            if reason == EndReason::RemoteBye && self.answered.is_some() && !self.flow.is_ended() {
                self.flow.handle_input(flow::Input::CallerHangup, now);
            }
        }
        self.hung_up = true;
        self.stop_recording(now);
        self.begin_ending(now);
    }

    /// This side ends the call.
    pub(super) fn hang_up(&mut self, reason: &'static str, now: Time) {
        if self.hung_up {
            return;
        }
        self.hung_up = true;
        if self.hangup_by.is_none() {
            self.hangup_by = Some(HangupBy::Ivr);
        }
        self.emit(CallEvent::HangingUp { reason });
        self.stop_recording(now);
        self.out.push_back(Output::Sip(Command::Hangup));
        self.begin_ending(now);
    }

    fn begin_ending(&mut self, now: Time) {
        if matches!(self.phase, Phase::Ending | Phase::Finished) {
            return;
        }
        self.phase = Phase::Ending;
        for t in [
            Timer::Answer,
            Timer::Inactivity,
            Timer::MaxDuration,
            Timer::Transfer,
        ] {
            self.timers.cancel(t);
        }
        self.timers
            .set(Timer::Teardown, now.plus(self.config.teardown_ms));
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
            });
        }
        self.emit(CallEvent::Ended { outcome, hangup_by });
        let record = std::mem::take(&mut self.record);
        self.out.push_back(Output::Record(Box::new(record)));
    }

    /// A backend request the flow asked for.
    pub(super) fn backend_request(&mut self, req: flow::BackendRequest, now: Time) {
        let index = self.record.backend.len();
        self.record.backend.push(BackendRecord {
            op: req.op.clone(),
            kind: match req.kind {
                ivr_dsl::OpKind::Submit => "submit".into(),
                ivr_dsl::OpKind::Lookup => "lookup".into(),
            },
            fields: req
                .fields
                .iter()
                .map(|(k, v)| (k.clone(), v.text()))
                .collect(),
            result: "pending".into(),
            detail: String::new(),
            ms: 0,
        });
        self.backend.push(Pending {
            id: req.id,
            sent: now,
            index,
        });
        self.timers.set(
            Timer::Backend(req.id),
            now.plus(self.config.backend_timeout_ms),
        );
        let context = CallContext {
            call_id: self.setup.call_id.clone(),
            caller: self.caller.clone(),
            language: self.flow.language().code().into(),
            at: self.wall(now),
        };
        self.emit(CallEvent::BackendRequested {
            request: req.clone(),
        });
        self.out.push_back(Output::Backend(BackendCall {
            id: req.id,
            request: req,
            context,
        }));
    }

    fn backend_done(&mut self, id: u64, result: BackendResult, now: Time) {
        let Some(i) = self.backend.iter().position(|p| p.id == id) else {
            // Late (it timed out) or unknown: the flow has moved on.
            return;
        };
        let p = self.backend.remove(i);
        self.timers.cancel(Timer::Backend(id));
        let ms = now.since(p.sent);
        let op = self
            .record
            .backend
            .get(p.index)
            .map(|b| b.op.clone())
            .unwrap_or_default();
        if let Some(b) = self.record.backend.get_mut(p.index) {
            b.ms = ms;
            (b.result, b.detail) = match &result {
                BackendResult::Ok(v) => ("ok".into(), v.text()),
                BackendResult::NotFound => ("not_found".into(), String::new()),
                BackendResult::Failure(f) => ("failure".into(), f.to_string()),
            };
        }
        self.emit(CallEvent::BackendAnswered {
            id,
            op,
            result: result.clone(),
            ms,
        });
        self.flow
            .handle_input(flow::Input::Backend { id, result }, now);
    }

    /// A transfer the flow asked for.
    pub(super) fn transfer(&mut self, dest: String, timeout_ms: Option<u64>, now: Time) {
        let target = self.config.transfer.get(&dest).cloned();
        let at_ms = self.since_answer(now);
        self.record.transfers.push(TransferRecord {
            dest: dest.clone(),
            target: target.clone().unwrap_or_default(),
            outcome: String::new(),
            timed_out: false,
            at_ms,
        });
        let index = self.record.transfers.len() - 1;
        self.emit(CallEvent::TransferRequested {
            dest,
            target: target.clone(),
        });
        match target {
            Some(target) => {
                self.transfer = Some(index);
                let limit = timeout_ms.unwrap_or(self.config.transfer_timeout_ms);
                self.timers.set(Timer::Transfer, now.plus(limit));
                self.out
                    .push_back(Output::Sip(Command::Transfer { target }));
            }
            None => {
                if let Some(r) = self.record.transfers.get_mut(index) {
                    r.outcome = TransferOutcome::Failed.as_str().into();
                }
                self.emit(CallEvent::TransferEnded {
                    outcome: TransferOutcome::Failed,
                    timed_out: false,
                });
                self.flow
                    .handle_input(flow::Input::Transfer(TransferOutcome::Failed), now);
            }
        }
    }
}
