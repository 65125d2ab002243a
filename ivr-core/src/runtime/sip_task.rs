//! The SIP task: one endpoint, the UDP socket, the TCP listener and its connections, and the
//! calls' event channels. It makes each offered call's machine and task, and carries out the
//! SIP commands the calls hand out.

use super::call_task::{self, CallTask};
use super::cdr_log::CdrLog;
use super::control::Control;
use super::ports::PortPool;
use super::{Clock, Load, RuntimeConfig, Services, Summary};
use crate::call::{Call, CallSetup, MediaPlan};
use crate::sip::codec::{Framed, Framer};
use crate::sip::endpoint::{CallRef, Command, Endpoint, EndpointConfig, Event, Output};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;

/// How long BYEs sent at the end of the grace period may wait for their answers before the
/// server stops anyway.
const LINGER_MS: u64 = 2_000;

/// What the SIP task is made of.
pub(super) struct Parts {
    pub(super) cfg: RuntimeConfig,
    pub(super) endpoint: EndpointConfig,
    pub(super) ids: crate::sip::ids::Ids,
    pub(super) services: Arc<Services>,
    pub(super) cdr: Arc<CdrLog>,
    pub(super) udp: UdpSocket,
    pub(super) tcp: TcpListener,
    pub(super) control_tx: mpsc::UnboundedSender<Control>,
    pub(super) control: mpsc::UnboundedReceiver<Control>,
}

pub(super) struct SipTask {
    cfg: RuntimeConfig,
    /// `sip.allow`, for media too.
    media_allow: Arc<[ipnet::IpNet]>,
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
    draining: Option<crate::vocab::Time>,
    /// The grace period is over and every call was sent BYE.
    cut: bool,
    summary: Summary,
    load: Arc<Load>,
}

impl SipTask {
    pub(super) fn new(p: Parts) -> Self {
        let ports = PortPool::new(p.cfg.rtp_ports.0, p.cfg.rtp_ports.1);
        SipTask {
            media_allow: Arc::from(p.cfg.allow.clone()),
            ep: Endpoint::with_ids(p.endpoint, p.ids),
            cfg: p.cfg,
            services: p.services,
            cdr: p.cdr,
            udp: Arc::new(p.udp),
            tcp: Some(p.tcp),
            streams: HashMap::new(),
            calls: HashMap::new(),
            tasks: 0,
            ports,
            control_tx: p.control_tx,
            control: p.control,
            clock: Clock::new(),
            draining: None,
            cut: false,
            summary: Summary::default(),
            load: Arc::default(),
        }
    }

    pub(super) async fn run(mut self) -> Summary {
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
            tokio::select! {
                r = udp.recv_from(&mut buf) => match r {
                    Ok((n, from)) => {
                        let now = self.clock.now();
                        self.ep.handle_input(crate::sip::Input::udp(&buf[..n], from), now);
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
        self.load.fill(&mut self.summary);
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
            Control::Stream { from, bytes } => self
                .ep
                .handle_input(crate::sip::Input::tcp(&bytes, from), now),
            Control::Opened { from, tx } => {
                self.streams.insert(from, tx);
            }
            Control::Closed { from } => {
                self.streams.remove(&from);
            }
            Control::Command(c, cmd) => {
                let answer = matches!(cmd, Command::Answer { .. });
                let refuse = matches!(cmd, Command::Reject { code: 503 });
                match self.ep.command(c, cmd, now) {
                    Ok(()) if answer => self.summary.answered += 1,
                    Ok(()) if refuse => self.summary.refused += 1,
                    Ok(()) => {}
                    Err(e) => tracing::debug!(error = %e, "command not carried out"),
                }
            }
            Control::TaskDone(c) => {
                self.tasks = self.tasks.saturating_sub(1);
                if self.calls.remove(&c).is_some() {
                    // The call's task ended before the dialog did: end the dialog.
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
        match e {
            Event::Offered {
                call,
                call_id,
                from,
                to,
                source,
                ..
            } => self.offered(call, call_id, from, to, source),
            Event::Ended { call, .. } => {
                if let Some(tx) = self.calls.remove(&call) {
                    let _ = tx.send(e);
                }
            }
            other => {
                if let Some(call) = call_of(&other)
                    && let Some(tx) = self.calls.get(&call)
                {
                    let _ = tx.send(other);
                }
            }
        }
    }

    /// A new call: its RTP port, its machine and its task.
    fn offered(
        &mut self,
        call: CallRef,
        call_id: String,
        from: String,
        to: String,
        source: SocketAddr,
    ) {
        let now = self.clock.now();
        let lease = match self.ports.lease(self.cfg.listen.ip()) {
            Ok(l) => Some(l),
            Err(e) => {
                tracing::warn!(%call_id, error = %e, "no RTP socket for the call: 503");
                None
            }
        };
        let span = tracing::info_span!("call", %call_id);
        tracing::info!(parent: &span, %from, "call offered");
        let setup = CallSetup {
            call_id,
            from,
            to,
            started_at: jiff::Timestamp::now(),
            media: MediaPlan::Rtp {
                port: lease.as_ref().map(|l| l.port),
                random: crate::media::rtp::random_start(),
                signalling: Some(source.ip()),
                allow: Arc::clone(&self.media_allow),
            },
        };
        let machine = Call::new(&self.services.line(), setup, now);
        let (tx, rx) = mpsc::unbounded_channel();
        self.calls.insert(call, tx);
        self.tasks += 1;
        // Boxed: the task's future then holds a pointer, not a second copy of the call
        // machine beside the one it moves into its shell (5.7 KiB → 0.6 KiB per call).
        tokio::spawn(call_task::run(Box::new(CallTask {
            call,
            machine,
            lease,
            events: rx,
            sip: self.control_tx.clone(),
            services: Arc::clone(&self.services),
            cdr: Arc::clone(&self.cdr),
            load: Arc::clone(&self.load),
            span,
            clock: self.clock,
            data: self.cfg.data.clone(),
        })));
    }
}

/// The call an event is about.
fn call_of(e: &Event) -> Option<CallRef> {
    match e {
        Event::Offered { call, .. }
        | Event::Confirmed { call, .. }
        | Event::MediaChanged { call, .. }
        | Event::Info { call, .. }
        | Event::Transferred { call, .. }
        | Event::Ended { call, .. } => Some(*call),
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
