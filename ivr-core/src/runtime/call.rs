//! One call's task: its RTP socket, media session and flow machine, driven by one timer (the
//! earliest deadline of the two machines), SIP events from the SIP task, and results of the
//! backend requests and recordings it started.

use super::cdr::{
    BackendRecord, Cdr, CdrLog, DigitRecord, MediaRecord, PromptRecord, RecordingRecord,
};
use super::ports::Lease;
use super::sip_task::Control;
use super::{Clock, RuntimeConfig, Services};
use crate::backend::ops::CallContext;
use crate::flow::{
    BackendResult, Call, Event as FlowEvent, Input, Output, Recording, RecordingResult, Time,
    TransferOutcome,
};
use crate::media::record::{RecordConfig, Recorded, Recorder, ThreadSink, WavSink};
use crate::media::session::{MediaConfig, MediaEvent, MediaSession};
use crate::sip::endpoint::{CallRef, EndReason, Event};
use crate::sip::sdp::{Agreed, Direction};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::mpsc;
use tracing::Instrument;

/// Everything a call's task starts with.
pub(crate) struct CallStart {
    pub(crate) call: CallRef,
    pub(crate) call_id: String,
    pub(crate) from: String,
    pub(crate) to: String,
    pub(crate) started_at: jiff::Timestamp,
    pub(crate) lease: Lease,
    pub(crate) events: mpsc::UnboundedReceiver<Event>,
    pub(crate) sip: mpsc::UnboundedSender<Control>,
    pub(crate) services: Arc<Services>,
    pub(crate) cdr: Arc<CdrLog>,
    pub(crate) load: Arc<super::Load>,
    /// The call's tracing span (its call id); entered when something other than media
    /// happens, so that every log line of the call carries the id.
    pub(crate) span: tracing::Span,
    pub(crate) clock: Clock,
    pub(crate) cfg: RuntimeConfig,
}

/// Work that finished off the call's task.
enum Done {
    Backend {
        id: u64,
        result: BackendResult,
        ms: u64,
        index: usize,
    },
    Recording(Result<Recorded, String>),
    /// The blocking work of a play finished: (piece index, samples or why not).
    Loaded {
        id: u64,
        audio: Vec<(usize, Loaded)>,
    },
}

/// A piece's samples, or why there are none.
type Loaded = Result<Arc<[i16]>, String>;

/// Audio that needs blocking work before it can play, done off the call's task.
enum Work {
    /// Text-to-speech (a value said `as text`).
    Speak(String, ivr_dsl::Lang),
    /// A recording read back from its file.
    Read(std::path::PathBuf),
}

/// One piece of a play.
enum Piece {
    Ready(Arc<[u8]>),
    Pending(Work),
}

/// A play in order of arrival; it goes to the media once none of its pieces is pending, and
/// later plays wait behind it.
struct Deferred {
    id: u64,
    pieces: Vec<Piece>,
    asked: bool,
}

/// The play id of the beep before a recording (flow ids count up from 1).
const BEEP: u64 = u64::MAX;

/// Tells the SIP task the call's task ended, however it ended (a panic included).
struct DoneGuard {
    call: CallRef,
    sip: mpsc::UnboundedSender<Control>,
}

impl Drop for DoneGuard {
    fn drop(&mut self) {
        let _ = self.sip.send(Control::TaskDone(self.call));
    }
}

/// Runs the call until the SIP side says it ended, then writes its record.
pub(crate) async fn run(start: CallStart) {
    let _guard = DoneGuard {
        call: start.call,
        sip: start.sip.clone(),
    };
    let mut live = Live::new(start);
    live.run().await;
}

struct Live {
    s: CallStart,
    flow: Call,
    media: Option<MediaSession>,
    /// The SDP address, until symmetric RTP latches onto where packets come from.
    remote: Option<SocketAddr>,
    /// False while the caller holds the call.
    sending: bool,
    answered: Option<Time>,
    hung_up: bool,
    /// A recorder waiting for the beep to end.
    after_beep: Option<(Recorder, Option<char>)>,
    recordings: u32,
    busy: usize,
    done_tx: mpsc::UnboundedSender<Done>,
    done_rx: mpsc::UnboundedReceiver<Done>,
    scratch: Vec<Arc<[u8]>>,
    /// Plays in order; each waits until its blocking work (speech, a file) is done.
    deferred: std::collections::VecDeque<Deferred>,
    /// When a transfer the script gave a ring timeout counts as not answered.
    transfer_deadline: Option<Time>,
    cdr: Cdr,
}

/// The user part of a From or To header's URI (`sip:+9665…@host` → `+9665…`), or the URI.
pub(crate) fn user_of(header: &str) -> String {
    let uri = crate::sip::dialog::uri(header).unwrap_or(header);
    let rest = uri
        .trim_start_matches("sips:")
        .trim_start_matches("sip:")
        .trim_start_matches("tel:");
    rest.split(['@', ';', '?'])
        .next()
        .unwrap_or(rest)
        .to_string()
}

fn sends(d: Direction) -> bool {
    matches!(d, Direction::SendRecv | Direction::SendOnly)
}

impl Live {
    fn new(s: CallStart) -> Self {
        let (program, version) = s.services.script();
        let flow = Call::new(program, Arc::clone(&s.services.call_config));
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        let cdr = Cdr {
            call_id: s.call_id.clone(),
            from: s.from.clone(),
            to: s.to.clone(),
            started_at: s.started_at.to_string(),
            language: s.services.call_config.default_language.code().into(),
            script: version.to_string(),
            ..Default::default()
        };
        Live {
            flow,
            media: None,
            remote: None,
            sending: true,
            answered: None,
            hung_up: false,
            after_beep: None,
            recordings: 0,
            busy: 0,
            done_tx,
            done_rx,
            scratch: Vec::new(),
            deferred: std::collections::VecDeque::new(),
            transfer_deadline: None,
            cdr,
            s,
        }
    }

    async fn run(&mut self) {
        let clock = self.s.clock;
        // One timer for the call's life, moved when the earliest deadline changes (not a new
        // timer entry per wake-up).
        let mut armed = clock.now().plus(3_600_000);
        let sleep = tokio::time::sleep_until(clock.instant(armed));
        tokio::pin!(sleep);
        loop {
            let now = clock.now();
            let mut wake = now.plus(3_600_000);
            if let Some(m) = self.media.as_ref().filter(|_| !self.hung_up) {
                wake = wake.min(m.poll_timeout());
            }
            if let Some(t) = self.flow.poll_timeout() {
                wake = wake.min(t);
            }
            if let Some(t) = self.transfer_deadline {
                wake = wake.min(t);
            }
            if wake != armed {
                armed = wake;
                sleep.as_mut().reset(clock.instant(wake));
            }
            tokio::select! {
                r = self.s.lease.socket.readable() => {
                    if r.is_ok() {
                        self.receive_rtp();
                    }
                }
                e = self.s.events.recv() => {
                    let span = self.s.span.clone();
                    match e {
                        Some(Event::Ended { reason, .. }) => {
                            self.ended(Some(reason)).instrument(span).await;
                            return;
                        }
                        Some(e) => span.in_scope(|| self.on_sip(e)),
                        None => {
                            self.ended(None).instrument(span).await;
                            return;
                        }
                    }
                },
                Some(d) = self.done_rx.recv(), if self.busy > 0 => {
                    let span = self.s.span.clone();
                    span.in_scope(|| self.on_done(d));
                }
                () = &mut sleep => {}
            }
            self.step();
        }
    }

    /// Runs what is due, moves events between the machines, sends what is ready.
    fn step(&mut self) {
        let now = self.s.clock.now();
        if !self.hung_up
            && let Some(m) = self.media.as_mut()
            && m.poll_timeout() <= now
        {
            let late = now.0 - m.poll_timeout().0;
            self.s.load.tick(late, u64::from(m.ptime_ms()));
            if late > u64::from(m.ptime_ms()) {
                self.s.services.metrics.late_tick();
            }
            m.handle_timeout(now);
        }
        if self.flow.poll_timeout().is_some_and(|t| t <= now) {
            self.flow.handle_timeout(now);
        }
        if self.transfer_deadline.is_some_and(|t| t <= now) {
            // The REFER goes on; the script hears that nobody answered in its ring time.
            self.transfer_deadline = None;
            tracing::info!("transfer: no answer within the script's timeout");
            self.flow
                .handle(Input::Transfer(TransferOutcome::NoAnswer), now);
        }
        let busy = self.flow.has_output()
            || self.media.as_ref().is_some_and(MediaSession::has_event)
            || (self.flow.is_ended() && self.answered.is_some() && !self.hung_up);
        if !busy {
            // A plain media tick: nothing to log, no span to enter.
            self.send_rtp();
            return;
        }
        let span = self.s.span.clone();
        let _entered = span.enter();
        loop {
            let mut moved = false;
            while let Some(e) = self.media.as_mut().and_then(MediaSession::poll_event) {
                moved = true;
                self.on_media(e, now);
            }
            while let Some(o) = self.flow.poll_output() {
                moved = true;
                self.on_output(o, now);
            }
            if !moved {
                break;
            }
        }
        if self.flow.is_ended() && self.answered.is_some() {
            self.hangup();
        }
        self.send_rtp();
    }

    /// Takes every datagram waiting on the RTP socket, through one buffer per worker thread
    /// (a call holds no receive buffer of its own while it waits).
    fn receive_rtp(&mut self) {
        thread_local! {
            static BUF: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0u8; 2048]);
        }
        let now = self.s.clock.now();
        BUF.with_borrow_mut(|buf| {
            while let Ok((n, from)) = self.s.lease.socket.try_recv_from(buf) {
                if let Some(m) = self.media.as_mut() {
                    m.receive(from, &buf[..n], now);
                }
            }
        });
    }

    fn send_rtp(&mut self) {
        let Some(m) = self.media.as_mut() else { return };
        let to = m.remote().or(self.remote);
        while let Some(p) = m.poll_transmit() {
            if self.sending
                && !self.hung_up
                && let Some(to) = to
            {
                // A full socket buffer drops the packet, as the network would.
                let _ = self.s.lease.socket.try_send_to(&p, to);
            }
            m.recycle(p);
        }
    }

    fn on_sip(&mut self, e: Event) {
        let now = self.s.clock.now();
        match e {
            Event::Confirmed { media, .. } => {
                if self.answered.is_some() {
                    return;
                }
                self.answered = Some(now);
                self.s.services.metrics.call_started();
                self.cdr.answered_at = Some(jiff::Timestamp::now().to_string());
                self.apply(&media);
                let c = MediaConfig {
                    law: media.law,
                    ptime_ms: media.ptime.clamp(10, 60),
                    event_pt: media.event.map(|(pt, _)| pt),
                    inband: self.s.cfg.inband,
                    send_silence: true,
                    jitter_frames: self.s.cfg.jitter_frames,
                };
                self.media = Some(MediaSession::new(c, now, crate::media::rtp::random_start()));
                self.flow.handle(
                    Input::Started {
                        caller: user_of(&self.s.from),
                        called: user_of(&self.s.to),
                        at: jiff::Timestamp::now(),
                    },
                    now,
                );
            }
            Event::MediaChanged { media, .. } => {
                if self.media.is_some() {
                    self.apply(&media);
                }
            }
            Event::Info {
                content_type, body, ..
            } => {
                if let Some(m) = self.media.as_mut()
                    && let Err(e) = m.info(&content_type, &body, now)
                {
                    tracing::info!(error = %e, "INFO body without a key");
                }
            }
            Event::Transferred { outcome, .. } => {
                tracing::info!(?outcome, "transfer");
                self.transfer_deadline = None;
                self.flow.handle(Input::Transfer(outcome), now);
            }
            Event::Offered { .. } | Event::Ended { .. } => {}
        }
    }

    fn apply(&mut self, media: &Agreed) {
        self.remote = media.remote.map(|(ip, port)| SocketAddr::new(ip, port));
        self.sending = sends(media.direction) && self.remote.is_some();
    }

    fn on_media(&mut self, e: MediaEvent, now: Time) {
        match e {
            MediaEvent::Digit(d) => {
                let since = self.answered.unwrap_or(now);
                self.cdr.digits.push(DigitRecord {
                    key: d.key,
                    method: d.method,
                    at_ms: d.at.0.saturating_sub(since.0),
                });
                tracing::debug!(key = %d.key, method = ?d.method, "key");
                self.flow.handle(
                    Input::Digit {
                        key: d.key,
                        method: d.method,
                    },
                    now,
                );
            }
            MediaEvent::Played(p) if p.id == BEEP => {
                if let Some((r, key)) = self.after_beep.take()
                    && let Some(m) = self.media.as_mut()
                {
                    m.record(r, key);
                }
            }
            MediaEvent::Played(p) => self.flow.handle(Input::PlayFinished { id: p.id }, now),
            MediaEvent::RecordingEnded(_) => self.finish_recording(),
        }
    }

    fn on_output(&mut self, o: Output, now: Time) {
        match o {
            Output::Play { id, fragments, .. } => {
                let Some(m) = self.media.as_ref() else {
                    self.flow.handle(Input::PlayFinished { id }, now);
                    return;
                };
                let law = m.law();
                let since = self.answered.map_or(0, |a| now.0.saturating_sub(a.0));
                let mut pieces = Vec::new();
                for f in &fragments {
                    self.cdr
                        .prompts
                        .push(prompt_record(f, self.flow.language(), since));
                    match f {
                        crate::flow::Fragment::Value {
                            text,
                            style: ivr_dsl::ast::ValueStyle::Text,
                            lang,
                        } => match self.s.services.tts {
                            Some(_) => {
                                pieces.push(Piece::Pending(Work::Speak(text.clone(), *lang)))
                            }
                            None => tracing::warn!(
                                "no text-to-speech configured: a text value is not spoken"
                            ),
                        },
                        crate::flow::Fragment::Recording(r) => {
                            pieces.push(Piece::Pending(Work::Read(r.location.clone().into())));
                        }
                        _ => {
                            self.scratch.clear();
                            if let Err(e) = self.s.services.bank.resolve(f, law, &mut self.scratch)
                            {
                                tracing::warn!(error = %e, "prompt not played");
                            }
                            pieces.extend(self.scratch.drain(..).map(Piece::Ready));
                        }
                    }
                }
                self.deferred.push_back(Deferred {
                    id,
                    pieces,
                    asked: false,
                });
                self.start_work();
                self.flush_deferred();
            }
            Output::StopPlayback => {
                if let Some(m) = self.media.as_mut() {
                    m.stop_playback();
                }
                // Plays still waiting for speech end unplayed, as stopped ones do.
                let stopped: Vec<u64> = self.deferred.drain(..).map(|d| d.id).collect();
                for id in stopped {
                    self.flow.handle(Input::PlayFinished { id }, now);
                }
            }
            // In-band detection is chosen per call when media starts (on when the caller
            // offered no telephone-event, or by `rtp.inband`), not per input state.
            Output::Listen(_) => {}
            Output::StartRecording {
                beep,
                max_ms,
                silence_ms,
                finish_key,
            } => self.start_recording(beep, max_ms, silence_ms, finish_key, now),
            Output::StopRecording => {
                self.stop_recording();
            }
            Output::Backend(req) => {
                let index = self.cdr.backend.len();
                self.cdr.backend.push(BackendRecord {
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
                let ctx = CallContext {
                    call_id: self.s.call_id.clone(),
                    caller: user_of(&self.s.from),
                    language: self.flow.language().code().into(),
                    at: jiff::Timestamp::now(),
                };
                let ops = Arc::clone(&self.s.services.ops);
                let limit = self.s.cfg.backend_timeout;
                let tx = self.done_tx.clone();
                self.busy += 1;
                tokio::spawn(async move {
                    let t0 = std::time::Instant::now();
                    let result = tokio::time::timeout(limit, ops.perform(&ctx, &req))
                        .await
                        .unwrap_or_else(|_| {
                            BackendResult::Failure(format!("no answer in {} ms", limit.as_millis()))
                        });
                    let _ = tx.send(Done::Backend {
                        id: req.id,
                        result,
                        ms: t0.elapsed().as_millis() as u64,
                        index,
                    });
                });
            }
            Output::Transfer { dest, timeout_ms } => match self.s.services.transfer.get(&dest) {
                Some(uri) => {
                    tracing::info!(%dest, %uri, "transferring");
                    self.transfer_deadline = timeout_ms.map(|ms| now.plus(ms));
                    let _ = self.s.sip.send(Control::Transfer(self.s.call, uri.clone()));
                }
                None => {
                    tracing::warn!(%dest, "no such transfer destination");
                    self.flow
                        .handle(Input::Transfer(TransferOutcome::Failed), now);
                }
            },
            Output::Language(l) => self.cdr.language = l.code().into(),
            Output::Hangup => self.hangup(),
            Output::Event(e) => match e {
                FlowEvent::Flow(n) => self.cdr.steps.push(format!("flow {n}")),
                FlowEvent::Step(n) => self.cdr.steps.push(format!("step {n}")),
                FlowEvent::Noinput(_) => self.s.services.metrics.input_event(true),
                FlowEvent::Nomatch(_) => self.s.services.metrics.input_event(false),
                FlowEvent::Ended(o) => {
                    tracing::info!(outcome = o.as_str(), "flow ended");
                    if self.cdr.outcome.is_empty() {
                        self.cdr.outcome = o.as_str().into();
                    }
                }
                _ => {}
            },
        }
    }

    /// Starts the blocking work (off the task) of plays not started yet.
    fn start_work(&mut self) {
        let tts = self.s.services.tts.clone();
        for d in self.deferred.iter_mut().filter(|d| !d.asked) {
            d.asked = true;
            let work: Vec<(usize, Work)> = d
                .pieces
                .iter_mut()
                .enumerate()
                .filter_map(|(i, p)| match p {
                    // The work goes to the worker; the piece stays pending until its result
                    // comes back.
                    Piece::Pending(w) => Some((
                        i,
                        std::mem::replace(w, Work::Read(std::path::PathBuf::new())),
                    )),
                    Piece::Ready(_) => None,
                })
                .collect();
            if work.is_empty() {
                continue;
            }
            let (id, tx, tts) = (d.id, self.done_tx.clone(), tts.clone());
            self.busy += 1;
            tokio::task::spawn_blocking(move || {
                let audio = work
                    .into_iter()
                    .map(|(i, w)| {
                        let samples = match w {
                            Work::Speak(text, lang) => match tts.as_ref() {
                                Some(t) => t
                                    .synthesize(&text, lang)
                                    .map(Arc::from)
                                    .map_err(|e| e.to_string()),
                                None => Err("no text-to-speech".into()),
                            },
                            Work::Read(path) => crate::prompts::audio::read_wav(&path)
                                .map(|a| a.samples)
                                .map_err(|e| e.to_string()),
                        };
                        (i, samples)
                    })
                    .collect();
                let _ = tx.send(Done::Loaded { id, audio });
            });
        }
    }

    /// Hands the plays whose pieces are all ready to the media, in order.
    fn flush_deferred(&mut self) {
        let Some(m) = self.media.as_mut() else { return };
        while self
            .deferred
            .front()
            .is_some_and(|d| !d.pieces.iter().any(|p| matches!(p, Piece::Pending(_))))
        {
            if let Some(d) = self.deferred.pop_front() {
                let ready = d
                    .pieces
                    .into_iter()
                    .filter_map(|p| match p {
                        Piece::Ready(b) => Some(b),
                        Piece::Pending(_) => None,
                    })
                    .collect();
                m.play(d.id, ready);
            }
        }
    }

    fn start_recording(
        &mut self,
        beep: bool,
        max_ms: u64,
        silence_ms: u64,
        finish_key: Option<char>,
        now: Time,
    ) {
        self.recordings += 1;
        let name: String = self
            .s
            .call_id
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .take(64)
            .collect();
        let path = self
            .s
            .cfg
            .data
            .join("recordings")
            .join(format!("{name}-{}.wav", self.recordings));
        let sink = match WavSink::create(&path) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(path = %path.display(), error = %e, "cannot record");
                self.flow.handle(
                    Input::RecordingFinished(RecordingResult {
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
            }
        };
        let c = RecordConfig {
            max_ms,
            silence_ms,
            ..self.s.cfg.record
        };
        let r = Recorder::new(c, Box::new(ThreadSink::spawn(Box::new(sink))));
        let bank = Arc::clone(&self.s.services.bank);
        let Some(m) = self.media.as_mut() else {
            self.finish(r);
            return;
        };
        if beep {
            let law = m.law();
            m.play(BEEP, vec![bank.beep(law)]);
            self.after_beep = Some((r, finish_key));
        } else {
            m.record(r, finish_key);
        }
    }

    /// Ends whatever recording there is: one waiting for its beep, or one running.
    fn stop_recording(&mut self) {
        if let Some((r, _)) = self.after_beep.take() {
            self.finish(r);
        }
        self.finish_recording();
    }

    fn finish_recording(&mut self) {
        if let Some(r) = self.media.as_mut().and_then(MediaSession::take_recorder) {
            self.finish(r);
        }
    }

    /// Closes a recording off the task (the file is flushed and hashed) and reports it back.
    fn finish(&mut self, r: Recorder) {
        let tx = self.done_tx.clone();
        self.busy += 1;
        tokio::task::spawn_blocking(move || {
            let _ = tx.send(Done::Recording(r.finish().map_err(|e| e.to_string())));
        });
    }

    fn on_done(&mut self, d: Done) {
        self.busy = self.busy.saturating_sub(1);
        let now = self.s.clock.now();
        match d {
            Done::Backend {
                id,
                result,
                ms,
                index,
            } => {
                if let Some(b) = self.cdr.backend.get_mut(index) {
                    self.s.services.metrics.backend(
                        &b.op,
                        ms as f64 / 1000.0,
                        matches!(result, BackendResult::Failure(_)),
                    );
                    b.ms = ms;
                    (b.result, b.detail) = match &result {
                        BackendResult::Ok(v) => ("ok".into(), v.text()),
                        BackendResult::NotFound => ("not_found".into(), String::new()),
                        BackendResult::Failure(e) => ("failure".into(), e.clone()),
                    };
                    tracing::info!(op = %b.op, result = %b.result, detail = %b.detail, ms, "backend answered");
                }
                self.flow.handle(Input::Backend { id, result }, now);
            }
            Done::Loaded { id, audio } => {
                let law = self
                    .media
                    .as_ref()
                    .map_or(crate::media::g711::Law::Pcmu, MediaSession::law);
                if let Some(d) = self.deferred.iter_mut().find(|d| d.id == id) {
                    for (i, r) in audio {
                        let mut bytes = Vec::new();
                        match r {
                            Ok(samples) => {
                                tracing::info!(ms = samples.len() / 8, "audio loaded");
                                crate::media::g711::encode(law, &samples, &mut bytes);
                            }
                            Err(e) => tracing::warn!(error = %e, "audio not played"),
                        }
                        if let Some(p) = d.pieces.get_mut(i) {
                            *p = Piece::Ready(bytes.into());
                        }
                    }
                }
                self.flush_deferred();
            }
            Done::Recording(r) => {
                let (recording, speech) = match r {
                    Ok(r) => {
                        let location = r.path.display().to_string();
                        self.cdr.recordings.push(RecordingRecord {
                            path: location.clone(),
                            duration_ms: r.duration_ms,
                            sha256: r.sha256.clone(),
                            speech: r.speech,
                            ended: format!("{:?}", r.ended).to_lowercase(),
                        });
                        (
                            Recording {
                                location,
                                duration_ms: r.duration_ms,
                                sha256: Some(r.sha256),
                            },
                            r.speech,
                        )
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "recording lost");
                        (
                            Recording {
                                location: String::new(),
                                duration_ms: 0,
                                sha256: None,
                            },
                            false,
                        )
                    }
                };
                self.flow.handle(
                    Input::RecordingFinished(RecordingResult { recording, speech }),
                    now,
                );
            }
        }
    }

    fn hangup(&mut self) {
        if self.hung_up {
            return;
        }
        self.hung_up = true;
        if self.cdr.hangup_by.is_empty() {
            self.cdr.hangup_by = "ivr".into();
        }
        self.stop_recording();
        let _ = self.s.sip.send(Control::Hangup(self.s.call));
    }

    /// The SIP side ended the call: tell the flow, close recordings, wait for requests in
    /// flight (each has its time limit), write the record.
    async fn ended(&mut self, reason: Option<EndReason>) {
        let now = self.s.clock.now();
        // Ended by our side without the flow asking: shutdown (grace period over) or a 2xx
        // never acknowledged.
        let mut forced = false;
        if !self.hung_up {
            match reason {
                Some(EndReason::RemoteBye) => self.cdr.hangup_by = "caller".into(),
                Some(EndReason::LocalBye) => {
                    forced = true;
                    self.cdr.hangup_by = "ivr".into();
                    self.cdr.outcome = "shutdown".into();
                }
                Some(EndReason::AckTimeout) => {
                    forced = true;
                    self.cdr.hangup_by = "ivr".into();
                    self.cdr.outcome = "ack_timeout".into();
                }
                _ => {}
            }
        }
        self.hung_up = true;
        if self.answered.is_some() && !self.flow.is_ended() && !forced {
            self.flow.handle(Input::CallerHangup, now);
        }
        self.stop_recording();
        while self.busy > 0 {
            match self.done_rx.recv().await {
                Some(d) => self.on_done(d),
                None => break,
            }
            while let Some(o) = self.flow.poll_output() {
                self.on_output(o, now);
            }
        }
        while let Some(o) = self.flow.poll_output() {
            self.on_output(o, now);
        }
        if self.cdr.hangup_by.is_empty() {
            self.cdr.hangup_by = if self.answered.is_some() {
                "caller".into()
            } else {
                "none".into()
            };
        }
        if self.cdr.outcome.is_empty() {
            self.cdr.outcome = match reason {
                Some(EndReason::Cancelled) => "cancelled".into(),
                Some(EndReason::Rejected(c)) => format!("rejected_{c}"),
                Some(EndReason::AckTimeout) => "ack_timeout".into(),
                _ => self
                    .flow
                    .outcome()
                    .map_or("ended", |o| o.as_str())
                    .to_string(),
            };
        }
        if let Some(m) = self.media.as_ref() {
            let st = m.jitter_stats();
            self.cdr.media = Some(MediaRecord {
                codec: m.law().name(),
                frames_received: st.played,
                frames_lost: st.lost,
            });
        }
        self.cdr.ended_at = jiff::Timestamp::now().to_string();
        let answered_s = self
            .answered
            .map(|a| self.s.clock.now().0.saturating_sub(a.0) as f64 / 1000.0);
        self.s.services.metrics.call_ended(&self.cdr, answered_s);
        if let Err(e) = self.s.cdr.write(&self.cdr) {
            tracing::error!(error = %e, "call record not written");
        }
        tracing::info!(
            outcome = %self.cdr.outcome,
            hangup_by = %self.cdr.hangup_by,
            digits = self.cdr.digits.len(),
            "call ended"
        );
    }
}

/// How a fragment appears in the call record.
fn prompt_record(f: &crate::flow::Fragment, current: ivr_dsl::Lang, at_ms: u64) -> PromptRecord {
    use crate::flow::Fragment;
    let (id, lang, style) = match f {
        Fragment::Prompt { id, lang } => (id.clone(), *lang, None),
        Fragment::Value { text, style, lang } => (
            format!("value:{text}"),
            *lang,
            Some(format!("{style:?}").to_lowercase()),
        ),
        Fragment::Recording(_) => ("recording".into(), current, None),
        Fragment::Beep => ("beep".into(), current, None),
    };
    PromptRecord {
        id,
        lang: lang.code().into(),
        style,
        at_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::user_of;

    #[test]
    fn caller_numbers_come_from_the_uri_user_part() {
        assert_eq!(
            user_of("\"Caller\" <sip:+966500000001@10.0.0.1:5060>;tag=abc"),
            "+966500000001"
        );
        assert_eq!(user_of("sip:940@127.0.0.1;tag=x"), "940");
        assert_eq!(user_of("<tel:+966112345678>"), "+966112345678");
        assert_eq!(user_of("<sip:127.0.0.1>"), "127.0.0.1");
    }
}
