//! The SIP task: one endpoint, the UDP socket, the TCP listener and its connections, and the
//! calls' event channels.

use super::call::{self, CallStart};
use super::cdr::{Cdr, CdrLog};
use super::ports::PortPool;
use super::{Clock, RuntimeConfig, Services, Summary};
use crate::flow::Time;
use crate::sip::codec::{Framed, Framer};
use crate::sip::endpoint::{CallRef, EndReason, Endpoint, EndpointConfig, Event, Output};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;

/// What reaches the SIP task from elsewhere.
#[derive(Debug)]
pub(crate) enum Control {
    /// A framed message from a TCP connection.
    Stream { from: SocketAddr, bytes: Vec<u8> },
    /// A TCP connection opened; responses to `from` go to `tx`.
    Opened {
        from: SocketAddr,
        tx: mpsc::UnboundedSender<Arc<[u8]>>,
    },
    /// A TCP connection closed.
    Closed { from: SocketAddr },
    /// A call's flow hung up.
    Hangup(CallRef),
    /// A call's flow transfers the caller to a SIP URI.
    Transfer(CallRef, String),
    /// A call's task ended.
    TaskDone(CallRef),
    /// Begin (or, the second time, finish) a graceful shutdown.
    Shutdown,
}

/// How long BYEs sent at the end of the grace period may wait for their answers before the
/// server stops anyway.
const LINGER_MS: u64 = 2_000;

pub(crate) struct Reactor {
    cfg: RuntimeConfig,
    ep: Endpoint,
    services: Arc<Services>,
    cdr: Arc<CdrLog>,
    udp: Arc<UdpSocket>,
    tcp: Option<TcpListener>,
    streams: HashMap<SocketAddr, mpsc::UnboundedSender<Arc<[u8]>>>,
    calls: HashMap<CallRef, mpsc::UnboundedSender<Event>>,
    tasks: usize,
    ports: Arc<PortPool>,
    control_tx: mpsc::UnboundedSender<Control>,
    control: mpsc::UnboundedReceiver<Control>,
    clock: Clock,
    draining: Option<crate::flow::Time>,
    /// The grace period is over and every call was sent BYE.
    cut: bool,
    summary: Summary,
    load: Arc<super::Load>,
    /// Calls ringing until their answer time (the answer delay is the same for all, so the
    /// queue is in deadline order).
    ringing: VecDeque<(Time, Offer)>,
}

/// A call waiting to be answered.
struct Offer {
    call: CallRef,
    call_id: String,
    from: String,
    to: String,
    started_at: jiff::Timestamp,
}

impl Reactor {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        cfg: RuntimeConfig,
        endpoint: EndpointConfig,
        services: Arc<Services>,
        cdr: Arc<CdrLog>,
        udp: UdpSocket,
        tcp: TcpListener,
        control_tx: mpsc::UnboundedSender<Control>,
        control: mpsc::UnboundedReceiver<Control>,
    ) -> Self {
        let mut seed = [0u8; 8];
        let _ = getrandom::fill(&mut seed);
        let ports = PortPool::new(cfg.rtp_ports.0, cfg.rtp_ports.1);
        Reactor {
            ep: Endpoint::new(endpoint, u64::from_le_bytes(seed)),
            cfg,
            services,
            cdr,
            udp: Arc::new(udp),
            tcp: Some(tcp),
            streams: HashMap::new(),
            calls: HashMap::new(),
            tasks: 0,
            ports,
            control_tx,
            control,
            clock: Clock::new(),
            draining: None,
            cut: false,
            summary: Summary::default(),
            load: Arc::default(),
            ringing: VecDeque::new(),
        }
    }

    pub(crate) async fn run(mut self) -> Summary {
        if let Some(listener) = self.tcp.take() {
            tokio::spawn(accept(listener, self.control_tx.clone()));
        }
        let udp = Arc::clone(&self.udp);
        let mut buf = vec![0u8; 65_535];
        loop {
            let far = self.clock.now().plus(3_600_000);
            let mut wake = self.ep.poll_timeout().unwrap_or(far);
            if let Some(g) = self.draining {
                wake = wake.min(g);
            }
            if let Some((t, _)) = self.ringing.front() {
                wake = wake.min(*t);
            }
            tokio::select! {
                r = udp.recv_from(&mut buf) => match r {
                    Ok((n, from)) => {
                        let now = self.clock.now();
                        self.ep.receive(&buf[..n], from, false, now);
                    }
                    // ICMP port unreachable from an earlier send surfaces here on some
                    // systems; it concerns that peer only.
                    Err(e) => tracing::debug!(error = %e, "UDP receive"),
                },
                m = self.control.recv() => match m {
                    Some(m) => self.on_control(m),
                    None => break,
                },
                () = tokio::time::sleep_until(self.clock.instant(wake)) => {}
            }
            let now = self.clock.now();
            if self.ep.poll_timeout().is_some_and(|t| t <= now) {
                self.ep.handle_timeout(now);
            }
            while self.ringing.front().is_some_and(|(t, _)| *t <= now) {
                if let Some((_, o)) = self.ringing.pop_front() {
                    self.accept(o);
                }
            }
            if self.draining.is_some_and(|g| g <= now) {
                if self.cut {
                    // BYEs still unanswered after the linger time: their peers are gone.
                    tracing::info!(calls = self.ep.calls(), "stopping with BYEs unanswered");
                    break;
                }
                self.cut = true;
                self.draining = Some(now.plus(LINGER_MS));
                self.summary.cut_off = self.calls.len() as u64;
                if !self.calls.is_empty() {
                    tracing::info!(calls = self.calls.len(), "grace period over: ending calls");
                }
                self.ep.end_all(now);
            }
            self.flush().await;
            if self.draining.is_some() && self.tasks == 0 && self.ep.calls() == 0 {
                break;
            }
        }
        use std::sync::atomic::Ordering::Relaxed;
        self.summary.ticks = self.load.ticks.load(Relaxed);
        self.summary.late_ticks = self.load.late_ticks.load(Relaxed);
        self.summary.max_lateness_ms = self.load.max_lateness_ms.load(Relaxed);
        tracing::info!(
            answered = self.summary.answered,
            refused = self.summary.refused,
            late_ticks = self.summary.late_ticks,
            "SIP stopped"
        );
        self.summary
    }

    fn on_control(&mut self, m: Control) {
        let now = self.clock.now();
        match m {
            Control::Stream { from, bytes } => self.ep.receive(&bytes, from, true, now),
            Control::Opened { from, tx } => {
                self.streams.insert(from, tx);
            }
            Control::Closed { from } => {
                self.streams.remove(&from);
            }
            Control::Hangup(c) => {
                if let Err(e) = self.ep.hangup(c, now) {
                    tracing::debug!(error = %e, "hangup");
                }
            }
            Control::Transfer(c, uri) => {
                if let Err(e) = self.ep.transfer(c, &uri, now) {
                    tracing::warn!(error = %e, "transfer refused");
                    if let Some(tx) = self.calls.get(&c) {
                        let _ = tx.send(Event::Transferred {
                            call: c,
                            outcome: crate::flow::TransferOutcome::Failed,
                        });
                    }
                }
            }
            Control::TaskDone(c) => {
                self.tasks = self.tasks.saturating_sub(1);
                if self.calls.remove(&c).is_some() {
                    // The task ended without the call ending (it failed): end the call.
                    let _ = self.ep.hangup(c, now);
                }
            }
            Control::Shutdown => match self.draining {
                None => {
                    tracing::info!(
                        calls = self.calls.len(),
                        grace_s = self.cfg.grace.as_secs(),
                        "shutting down: new calls get 503"
                    );
                    self.ep.drain();
                    self.draining = Some(now.plus(self.cfg.grace.as_millis() as u64));
                }
                Some(_) if !self.cut => self.draining = Some(now),
                Some(_) => {}
            },
        }
    }

    async fn flush(&mut self) {
        while let Some(o) = self.ep.poll_output() {
            match o {
                Output::Transmit { to, bytes } => match self.streams.get(&to) {
                    Some(tx) => {
                        let _ = tx.send(bytes);
                    }
                    None => {
                        if let Err(e) = self.udp.send_to(&bytes, to).await {
                            tracing::debug!(%to, error = %e, "UDP send");
                        }
                    }
                },
                Output::Event(e) => self.on_event(e),
            }
        }
    }

    fn on_event(&mut self, e: Event) {
        let now = self.clock.now();
        match e {
            Event::Offered {
                call,
                call_id,
                from,
                to,
                ..
            } => {
                let o = Offer {
                    call,
                    call_id,
                    from,
                    to,
                    started_at: jiff::Timestamp::now(),
                };
                if self.cfg.answer_after.is_zero() {
                    self.accept(o);
                } else {
                    let _ = self.ep.ring(call, now);
                    let at = now.plus(self.cfg.answer_after.as_millis() as u64);
                    self.ringing.push_back((at, o));
                }
            }
            Event::Confirmed { call, .. }
            | Event::MediaChanged { call, .. }
            | Event::Info { call, .. }
            | Event::Transferred { call, .. } => {
                if let Some(tx) = self.calls.get(&call) {
                    let _ = tx.send(e);
                }
            }
            Event::Ended { call, reason } => {
                if let Some(tx) = self.calls.remove(&call) {
                    let _ = tx.send(e);
                } else if let Some(i) = self.ringing.iter().position(|(_, o)| o.call == call) {
                    // Ended while ringing (CANCEL): no task ever ran; record it here.
                    if let Some((_, o)) = self.ringing.remove(i) {
                        self.unanswered(&o, reason);
                    }
                }
            }
        }
    }

    /// Answers a call: binds its RTP port and starts its task (503 when no port is free).
    fn accept(&mut self, o: Offer) {
        let now = self.clock.now();
        let Some(lease) = self.ports.lease(self.cfg.listen.ip()) else {
            tracing::warn!(call_id = %o.call_id, "no RTP port free: 503");
            self.summary.refused += 1;
            if self.ep.reject(o.call, 503, now).is_ok() {
                self.unanswered(&o, EndReason::Rejected(503));
            }
            return;
        };
        if let Err(e) = self.ep.answer(o.call, lease.port, now) {
            tracing::debug!(call_id = %o.call_id, error = %e, "answer");
            return;
        }
        self.summary.answered += 1;
        let (tx, rx) = mpsc::unbounded_channel();
        self.calls.insert(o.call, tx);
        self.tasks += 1;
        let span = tracing::info_span!("call", call_id = %o.call_id);
        tracing::info!(parent: &span, from = %o.from, "call answered");
        let start = CallStart {
            call: o.call,
            call_id: o.call_id,
            from: o.from,
            to: o.to,
            started_at: o.started_at,
            lease,
            events: rx,
            sip: self.control_tx.clone(),
            services: Arc::clone(&self.services),
            cdr: Arc::clone(&self.cdr),
            load: Arc::clone(&self.load),
            span,
            clock: self.clock,
            cfg: self.cfg.clone(),
        };
        tokio::spawn(call::run(start));
    }

    /// The record of a call that ended before it was answered.
    fn unanswered(&self, o: &Offer, reason: EndReason) {
        let (outcome, by) = match reason {
            EndReason::Cancelled => ("cancelled".to_string(), "caller"),
            EndReason::Rejected(c) => (format!("rejected_{c}"), "none"),
            other => (format!("{other:?}").to_lowercase(), "none"),
        };
        tracing::info!(call_id = %o.call_id, %outcome, "call ended before it was answered");
        let cdr = Cdr {
            call_id: o.call_id.clone(),
            from: o.from.clone(),
            to: o.to.clone(),
            started_at: o.started_at.to_string(),
            ended_at: jiff::Timestamp::now().to_string(),
            outcome,
            hangup_by: by.into(),
            language: self.services.call_config.default_language.code().into(),
            script: self.services.script().1.to_string(),
            ..Cdr::default()
        };
        self.services.metrics.call_ended(&cdr, None);
        if let Err(e) = self.cdr.write(&cdr) {
            tracing::error!(error = %e, "call record not written");
        }
    }
}

/// Accepts TCP connections for as long as the SIP task runs.
async fn accept(listener: TcpListener, sip: mpsc::UnboundedSender<Control>) {
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            () = sip.closed() => return,
        };
        match accepted {
            Ok((stream, from)) => {
                tokio::spawn(connection(stream, from, sip.clone()));
            }
            Err(e) => {
                tracing::warn!(error = %e, "TCP accept");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}

/// One TCP connection: frames what arrives, writes what the endpoint sends to this peer.
async fn connection(stream: TcpStream, from: SocketAddr, sip: mpsc::UnboundedSender<Control>) {
    let (mut rd, mut wr) = stream.into_split();
    let (tx, mut rx) = mpsc::unbounded_channel::<Arc<[u8]>>();
    if sip.send(Control::Opened { from, tx }).is_err() {
        return;
    }
    let writer = tokio::spawn(async move {
        while let Some(b) = rx.recv().await {
            if wr.write_all(&b).await.is_err() {
                return;
            }
        }
    });
    let mut framer = Framer::with_limit(65_536);
    let mut buf = vec![0u8; 16_384];
    'read: loop {
        let read = tokio::select! {
            r = rd.read(&mut buf) => r,
            () = sip.closed() => break,
        };
        let n = match read {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        framer.push(&buf[..n]);
        while let Some(f) = framer.next_message() {
            match f {
                Framed::Message(bytes) => {
                    if sip.send(Control::Stream { from, bytes }).is_err() {
                        break 'read;
                    }
                }
                Framed::Broken(why) => {
                    tracing::info!(%from, %why, "TCP stream closed");
                    break 'read;
                }
            }
        }
    }
    let _ = sip.send(Control::Closed { from });
    writer.abort();
}
