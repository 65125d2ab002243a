//! One call's task: the shell around its [`Call`] machine. It owns the RTP socket and one
//! timer, feeds the machine what arrives (packets, SIP events, finished work) and carries out
//! what the machine hands out. No call logic lives here.

use super::cdr_log::CdrLog;
use super::control::Control;
use super::ports::Lease;
use super::recording::Recordings;
use super::work::{self, Done};
use super::{Clock, Load, ServerEvent, Services};
use crate::call::{Call, Cdr, Input, Output, Work};
use crate::sip::endpoint::{CallRef, EndReason, Event};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Everything a call's task starts with.
pub(super) struct CallTask {
    pub(super) call: CallRef,
    pub(super) machine: Call,
    /// The RTP socket (`None`: no port was free; the machine refuses the call).
    pub(super) lease: Option<Lease>,
    pub(super) events: mpsc::Receiver<Event>,
    pub(super) sip: mpsc::UnboundedSender<Control>,
    pub(super) services: Arc<Services>,
    pub(super) cdr: Arc<CdrLog>,
    pub(super) load: Arc<Load>,
    /// The call's tracing span (its call id), entered for everything but media.
    pub(super) span: tracing::Span,
    pub(super) clock: Clock,
    pub(super) data: PathBuf,
}

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

/// Runs the call until its machine has handed out its record.
pub(super) async fn run(t: Box<CallTask>) {
    let _guard = DoneGuard {
        call: t.call,
        sip: t.sip.clone(),
    };
    let (done_tx, done_rx) = mpsc::unbounded_channel();
    let recordings = Recordings::new(t.data.join("recordings"), t.machine.uid());
    let call_id: Arc<str> = Arc::from(t.machine.call_id());
    let mut shell = Shell {
        t,
        done_tx,
        done_rx,
        recordings,
        call_id,
        record: None,
    };
    shell.run().await;
}

struct Shell {
    t: Box<CallTask>,
    done_tx: work::DoneTx,
    done_rx: mpsc::UnboundedReceiver<Done>,
    recordings: Recordings,
    call_id: Arc<str>,
    record: Option<Box<Cdr>>,
}

/// No deadline: wake in an hour anyway (one timer per call, moved, not re-created).
const FAR_MS: u64 = 3_600_000;

impl Shell {
    async fn run(&mut self) {
        let clock = self.t.clock;
        let mut armed = clock.now().plus(FAR_MS);
        let sleep = tokio::time::sleep_until(clock.instant(armed));
        tokio::pin!(sleep);
        loop {
            self.drain();
            if let Some(r) = self.record.take() {
                self.write_record(r).await;
            }
            if self.t.machine.is_finished() {
                return;
            }
            let wake = self
                .t
                .machine
                .poll_timeout()
                .unwrap_or_else(|| clock.now().plus(FAR_MS));
            if wake != armed {
                armed = wake;
                sleep.as_mut().reset(clock.instant(wake));
            }
            let readable = async {
                match self.t.lease.as_ref() {
                    Some(l) => l.socket.readable().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                r = readable => {
                    if r.is_ok() {
                        self.receive_rtp();
                    }
                }
                e = self.t.events.recv() => {
                    let span = self.t.span.clone();
                    let _entered = span.enter();
                    let now = clock.now();
                    // The SIP task is gone: the call cannot go on.
                    let e = e.unwrap_or(Event::Ended { call: self.t.call, reason: EndReason::LocalBye });
                    self.t.machine.handle_input(Input::Sip(e), now);
                }
                Some(d) = self.done_rx.recv() => {
                    let span = self.t.span.clone();
                    let _entered = span.enter();
                    let now = clock.now();
                    let input = match d {
                        Done::Backend { id, result } => Input::BackendDone { id, result },
                        Done::Work { id, result } => Input::WorkDone { id, result },
                    };
                    self.t.machine.handle_input(input, now);
                }
                () = &mut sleep => {
                    self.t.machine.handle_timeout(clock.now());
                }
            }
        }
    }

    /// Takes every datagram waiting on the RTP socket, through one buffer per worker thread
    /// (a call holds no receive buffer of its own while it waits).
    fn receive_rtp(&mut self) {
        thread_local! {
            static BUF: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0u8; 2048]);
        }
        let Some(lease) = self.t.lease.as_ref() else {
            return;
        };
        let now = self.t.clock.now();
        let machine = &mut self.t.machine;
        BUF.with_borrow_mut(|buf| {
            while let Ok((n, from)) = lease.socket.try_recv_from(buf) {
                machine.handle_input(
                    Input::Rtp {
                        from,
                        datagram: &buf[..n],
                    },
                    now,
                );
            }
        });
    }

    /// Carries out what the machine handed out.
    fn drain(&mut self) {
        while let Some(o) = self.t.machine.poll_output() {
            match o {
                Output::Rtp { to, packet } => {
                    if let Some(l) = self.t.lease.as_ref() {
                        // A full socket buffer drops the packet, as the network would.
                        let _ = l.socket.try_send_to(&packet, to);
                    }
                    self.t.machine.recycle(packet);
                }
                other => {
                    let span = self.t.span.clone();
                    let _entered = span.enter();
                    self.act(other);
                }
            }
        }
    }

    fn act(&mut self, o: Output) {
        match o {
            Output::Sip(cmd) => {
                let _ = self.t.sip.send(Control::Command(self.t.call, cmd));
            }
            Output::Backend(b) => {
                work::backend(Arc::clone(&self.t.services.ops), *b, self.done_tx.clone())
            }
            Output::Work { id, work } => match work {
                Work::Speak { text, lang } => work::speak(
                    self.t.services.tts().cloned(),
                    text,
                    lang,
                    id,
                    self.done_tx.clone(),
                ),
                Work::ReadRecording { recording } => {
                    work::read(recording, id, self.done_tx.clone())
                }
                Work::OpenRecording { recording } => {
                    self.recordings.open(recording, id, self.done_tx.clone())
                }
                Work::CloseRecording { recording } => {
                    self.recordings.close(recording, id, &self.done_tx)
                }
            },
            Output::RecordingAudio { recording, samples } => {
                self.recordings.audio(recording, samples)
            }
            Output::Event(e) => {
                super::call_log::log(&e);
                #[cfg(feature = "metrics")]
                self.t.services.metrics.observe(&e);
                let call_id = &self.call_id;
                self.t.services.publish(|| ServerEvent::Call {
                    call_id: Arc::clone(call_id),
                    event: e,
                });
            }
            Output::Record(r) => self.record = Some(r),
            Output::Rtp { packet, .. } => self.t.machine.recycle(packet),
        }
    }

    /// The call record: metrics, subscribers, and one line in `cdr.jsonl` (written off the
    /// task; the task ends only once it is written).
    async fn write_record(&mut self, r: Box<Cdr>) {
        let r: Arc<Cdr> = Arc::from(r);
        #[cfg(feature = "metrics")]
        self.t.services.metrics.call_ended(&r);
        if let Some(m) = r.media.as_ref() {
            self.t.load.add(m);
        }
        let log = Arc::clone(&self.t.cdr);
        let line = Arc::clone(&r);
        let written = tokio::task::spawn_blocking(move || log.write(&line)).await;
        if !matches!(written, Ok(Ok(()))) {
            let _entered = self.t.span.enter();
            tracing::error!(?written, "call record not written");
        }
        self.t.services.publish(|| ServerEvent::Ended(r));
    }
}
