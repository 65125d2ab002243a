//! The SIP task: one endpoint, the UDP socket, the TCP listener and its connections, and the
//! calls' event channels. It makes each offered call's machine and task, and carries out the
//! SIP commands the calls hand out.

use super::call_task::{self, CallTask};
use super::cdr_log::CdrLog;
use super::control::Control;
use super::ports::PortPool;
use super::tcp::{self, Stream};
use super::{Clock, Load, RuntimeConfig, Services, Summary};
use crate::call::{Call, CallSetup, MediaPlan};
use crate::sip::endpoint::{CallRef, Command, Endpoint, EndpointConfig, Event, Output};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::net::{TcpListener, UdpSocket};
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
    /// What the TCP connections read (bounded: a fast peer waits, it does not grow us).
    inbound: mpsc::Receiver<Control>,
    inbound_tx: Option<mpsc::Sender<Control>>,
    streams: HashMap<SocketAddr, Stream>,
    calls: HashMap<CallRef, mpsc::Sender<Event>>,
    /// The TCP connection (address, id) each call's INVITE came over.
    call_streams: HashMap<CallRef, (SocketAddr, u64)>,
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
        let (inbound_tx, inbound) = mpsc::channel(tcp::INBOUND_QUEUE);
        SipTask {
            media_allow: Arc::from(p.cfg.allow.clone()),
            ep: Endpoint::with_ids(p.endpoint, p.ids),
            cfg: p.cfg,
            services: p.services,
            cdr: p.cdr,
            udp: Arc::new(p.udp),
            tcp: Some(p.tcp),
            inbound,
            inbound_tx: Some(inbound_tx),
            streams: HashMap::new(),
            calls: HashMap::new(),
            call_streams: HashMap::new(),
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
        if let (Some(listener), Some(sip)) = (self.tcp.take(), self.inbound_tx.take()) {
            tokio::spawn(tcp::accept(tcp::Listener {
                listener,
                allow: Arc::clone(&self.media_allow),
                limits: self.cfg.tcp.clone(),
                sip,
            }));
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
                Some(m) = self.inbound.recv() => self.on_control(m),
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
            Control::Opened { from, stream } => {
                self.streams.insert(from, stream);
            }
            Control::Closed { from, id } => {
                if self.streams.get(&from).is_some_and(|s| s.id == id) {
                    self.streams.remove(&from);
                }
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
                    Some(s) => {
                        if !s.send(bytes) {
                            // Its queue is full: the peer does not read; it is closed.
                            tracing::info!(%to, "TCP peer does not read its answers: closed");
                            self.streams.remove(&to);
                        }
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
                asserted,
                ..
            } => {
                let asserted = believed(asserted, source, &self.cfg.trusted);
                self.offered(call, call_id, from, to, source, asserted)
            }
            Event::Ended { call, .. } => {
                if let Some((from, id)) = self.call_streams.remove(&call)
                    && let Some(s) = self.streams.get(&from).filter(|s| s.id == id)
                {
                    s.calls.fetch_sub(1, Ordering::Relaxed);
                }
                if let Some(tx) = self.calls.remove(&call) {
                    deliver(&tx, e);
                }
            }
            other => {
                if let Some(call) = call_of(&other)
                    && let Some(tx) = self.calls.get(&call)
                {
                    deliver(tx, other);
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
        asserted: Option<String>,
    ) {
        let now = self.clock.now();
        if let Some(s) = self.streams.get(&source) {
            s.calls.fetch_add(1, Ordering::Relaxed);
            self.call_streams.insert(call, (source, s.id));
        }
        let lease = match self.ports.lease(self.cfg.listen.ip()) {
            Ok(l) => Some(l),
            Err(e) => {
                tracing::warn!(%call_id, error = %e, "no RTP socket for the call: 503");
                None
            }
        };
        // From the wire: escaped (no control characters reach the log), the number masked.
        let span = tracing::info_span!("call", call_id = %call_id.escape_debug(), uid = tracing::field::Empty);
        tracing::info!(parent: &span, from = %crate::privacy::mask_address(&from), "call offered");
        let setup = CallSetup {
            uid: self.ep.fresh_id(),
            asserted,
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
        let (tx, rx) = mpsc::channel(CALL_EVENTS);
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

/// RFC 3325: an asserted identity is believed from a trusted peer only.
fn believed(
    asserted: Option<String>,
    source: SocketAddr,
    trusted: &[ipnet::IpNet],
) -> Option<String> {
    let ip = source.ip().to_canonical();
    asserted.filter(|_| trusted.iter().any(|n| n.contains(&ip)))
}

/// SIP events that may wait for one call's task.
const CALL_EVENTS: usize = 64;

/// Hands a SIP event to its call's task. When the task is that far behind, a key by SIP INFO
/// is dropped (a peer flooding INFO fills no memory); every other event (rare, and needed:
/// the end, a media change) waits in a task of its own.
fn deliver(tx: &mpsc::Sender<Event>, e: Event) {
    match tx.try_send(e) {
        Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => {}
        Err(mpsc::error::TrySendError::Full(Event::Info { .. })) => {
            tracing::debug!("call task behind: SIP INFO dropped");
        }
        Err(mpsc::error::TrySendError::Full(e)) => {
            let tx = tx.clone();
            tokio::spawn(async move {
                let _ = tx.send(e).await;
            });
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_asserted_identity_is_believed_from_trusted_peers_only() {
        let trusted: Vec<ipnet::IpNet> = vec!["10.0.0.5/32".parse().expect("net")];
        let pai = || Some("<sip:+966511112222@pbx>".to_string());
        let from = |s: &str| s.parse::<SocketAddr>().expect("addr");
        assert_eq!(believed(pai(), from("10.0.0.5:5060"), &trusted), pai());
        assert_eq!(
            believed(pai(), from("[::ffff:10.0.0.5]:5060"), &trusted),
            pai()
        );
        assert_eq!(believed(pai(), from("10.0.0.6:5060"), &trusted), None);
        assert_eq!(
            believed(pai(), from("10.0.0.5:5060"), &[]),
            None,
            "none by default"
        );
    }
}
