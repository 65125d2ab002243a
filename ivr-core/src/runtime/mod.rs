//! The tokio shell around the sans-IO machines (DESIGN.md): the only part of the engine that
//! touches sockets, files, tasks and the clock. It holds no call logic.
//!
//! - One SIP task owns the [`crate::sip::endpoint::Endpoint`], the UDP socket and the TCP
//!   listener (a reader task per TCP connection frames messages and hands them over). For
//!   each offered call it leases an RTP port, makes the call's [`crate::call::Call`] machine
//!   and starts the call's task; it carries out the SIP commands calls hand out.
//! - One task per call owns the call machine and its RTP socket and sleeps until the
//!   machine's next deadline (one timer per call). It sends the machine's packets, performs
//!   its backend requests and blocking work off the task (`spawn_blocking`), writes its
//!   recordings through a writer thread each, and when the machine hands out the call record
//!   appends it to `DATA/cdr.jsonl` ([`cdr_log`]).
//!
//! [`Server::shutdown`] stops taking calls (503), lets calls in progress run for the grace
//! period, then sends BYE to what is left. [`Server::events`] tells subscribers what happens
//! in every call.

mod call_log;
mod call_task;
pub mod cdr_log;
mod control;
pub mod limits;
pub mod ports;
pub mod recording;
mod sip_task;
pub mod tcp;
mod work;

pub use tcp::TcpLimits;

use crate::backend::ops::Operations;
use crate::call::{CallEvent, Cdr, Line};
use crate::media::g711::Law;
use crate::sip::endpoint::{EndpointConfig, private_networks};
use crate::vocab::{Fault, Time};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, oneshot};

/// Why the server could not start (always this machine's doing: [`Fault::Local`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeError {
    /// A socket could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The data folder or a file in it could not be made.
    #[error("data folder {path}: {source}")]
    Data {
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The configuration is inconsistent.
    #[error("configuration: {0}")]
    Config(String),
    /// No random bits for tags and branches (the server does not start with guessable ones).
    #[error(transparent)]
    Entropy(#[from] crate::sip::ids::NoEntropy),
}

impl RuntimeError {
    /// Who is at fault: this machine (its configuration, sockets or disk).
    pub fn fault(&self) -> Fault {
        Fault::Local
    }
}

/// Server settings (`ivr.yaml`'s `sip` and `limits`, and the command line). What each call
/// does is in the line's [`crate::call::CallConfig`].
#[derive(Clone, Debug)]
pub struct RuntimeConfig {
    /// Where SIP listens (UDP and TCP on the same port; port 0 picks one).
    pub listen: SocketAddr,
    /// The address written into Contact, Via and SDP when it differs from `listen`'s (behind
    /// NAT, or when listening on 0.0.0.0).
    pub public: Option<IpAddr>,
    /// RTP ports, inclusive.
    pub rtp_ports: (u16, u16),
    /// Codec preference.
    pub prefer: Vec<Law>,
    /// Most calls at once (more get 503).
    pub max_calls: usize,
    /// Seconds a refused caller should wait (Retry-After).
    pub retry_after: u32,
    /// Source networks allowed to call.
    pub allow: Vec<ipnet::IpNet>,
    /// Peers whose P-Asserted-Identity is believed (RFC 3325); from anyone else the calling
    /// number is the From header's.
    pub trusted: Vec<ipnet::IpNet>,
    /// How long calls in progress may go on after shutdown begins.
    pub grace: Duration,
    /// Recordings and call records.
    pub data: PathBuf,
    /// Limits on SIP over TCP.
    pub tcp: TcpLimits,
    /// Limits against SIP floods.
    pub flood: crate::sip::endpoint::FloodLimits,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 5060)),
            public: None,
            rtp_ports: (20_000, 29_999),
            prefer: vec![Law::Pcmu, Law::Pcma],
            max_calls: 5_000,
            retry_after: 5,
            allow: private_networks(),
            trusted: Vec::new(),
            grace: Duration::from_secs(30),
            data: PathBuf::from("ivr-data"),
            tcp: TcpLimits::default(),
            flood: crate::sip::endpoint::FloodLimits::default(),
        }
    }
}

/// Text-to-speech the runtime can run off the call's task.
pub type SharedTts = Arc<dyn crate::prompts::audio::Tts + Send + Sync>;

/// What every call shares: the line (script, settings, prompt audio), the backend, text to
/// speech and the metrics.
pub struct Services {
    /// The line new calls run (the script is swapped by [`Services::set_script`]).
    line: RwLock<Line>,
    /// Backend operations.
    pub ops: Arc<Operations>,
    /// Operating metrics (Prometheus).
    #[cfg(feature = "metrics")]
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Text-to-speech for values said `as text` (a staff note).
    tts: Option<SharedTts>,
    events: broadcast::Sender<ServerEvent>,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services")
            .field("ops", &self.ops)
            .finish_non_exhaustive()
    }
}

/// How many events a slow [`Server::events`] subscriber may fall behind before it misses
/// some (it then gets `RecvError::Lagged`).
const EVENT_BACKLOG: usize = 4096;

impl Services {
    /// Services for `line`, backed by `ops`; `tts` speaks values said `as text` (without
    /// it they are skipped, with a warning).
    pub fn new(mut line: Line, ops: Arc<Operations>, tts: Option<SharedTts>) -> Self {
        if line.config.tts != tts.is_some() {
            let mut c = (*line.config).clone();
            c.tts = tts.is_some();
            line.config = Arc::new(c);
        }
        Services {
            line: RwLock::new(line),
            ops,
            #[cfg(feature = "metrics")]
            metrics: Arc::new(crate::metrics::Metrics::new()),
            tts,
            events: broadcast::channel(EVENT_BACKLOG).0,
        }
    }

    /// The line new calls run.
    pub fn line(&self) -> Line {
        match self.line.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Replaces the script for calls that start from now on; calls in progress keep theirs
    /// (hot reload). `version` goes into their call records.
    pub fn set_script(&self, program: Arc<crate::flow::Program>, version: &str) {
        let mut g = match self.line.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        g.program = program;
        g.version = Arc::from(version);
    }

    /// The version of the script new calls run.
    pub fn version(&self) -> Arc<str> {
        self.line().version
    }

    /// Tells every subscriber, if there are any.
    pub(crate) fn publish(&self, e: impl FnOnce() -> ServerEvent) {
        if self.events.receiver_count() > 0 {
            let _ = self.events.send(e());
        }
    }

    pub(crate) fn tts(&self) -> Option<&SharedTts> {
        self.tts.as_ref()
    }
}

/// What [`Server::events`] subscribers hear.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum ServerEvent {
    /// Something happened in a call.
    Call {
        /// The call's SIP Call-ID.
        call_id: Arc<str>,
        /// What.
        event: CallEvent,
    },
    /// A call ended: its record (also appended to `DATA/cdr.jsonl`).
    Ended(Arc<Cdr>),
}

/// Milliseconds since the server started: the `now` every machine is given.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Clock {
    base: tokio::time::Instant,
}

impl Clock {
    pub(crate) fn new() -> Self {
        Clock {
            base: tokio::time::Instant::now(),
        }
    }

    pub(crate) fn now(&self) -> Time {
        Time(self.base.elapsed().as_millis() as u64)
    }

    pub(crate) fn instant(&self, t: Time) -> tokio::time::Instant {
        self.base + Duration::from_millis(t.0)
    }
}

/// What the server did, when it has stopped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Calls answered.
    pub answered: u64,
    /// Calls refused (no RTP port, or after shutdown began).
    pub refused: u64,
    /// Calls still up at the end of the grace period, ended with BYE.
    pub cut_off: u64,
    /// Media ticks run (one per wake-up of a call's media).
    pub ticks: u64,
    /// Ticks run more than one packet time after their deadline (the machine was
    /// overloaded: audio went out in a burst).
    pub late_ticks: u64,
    /// The latest a tick ran after its deadline, in milliseconds.
    pub max_lateness_ms: u64,
}

/// Counters every call adds to when it ends.
#[derive(Debug, Default)]
pub(crate) struct Load {
    ticks: std::sync::atomic::AtomicU64,
    late_ticks: std::sync::atomic::AtomicU64,
    max_lateness_ms: std::sync::atomic::AtomicU64,
}

impl Load {
    /// A call's media counters.
    pub(crate) fn add(&self, m: &crate::call::record::MediaRecord) {
        use std::sync::atomic::Ordering::Relaxed;
        self.ticks.fetch_add(m.ticks, Relaxed);
        self.late_ticks.fetch_add(m.late_ticks, Relaxed);
        self.max_lateness_ms.fetch_max(m.max_late_ms, Relaxed);
    }

    fn fill(&self, s: &mut Summary) {
        use std::sync::atomic::Ordering::Relaxed;
        s.ticks = self.ticks.load(Relaxed);
        s.late_ticks = self.late_ticks.load(Relaxed);
        s.max_lateness_ms = self.max_lateness_ms.load(Relaxed);
    }
}

/// Stops a server from another task (see [`Server::shutdown`]).
#[derive(Clone, Debug)]
pub struct StopHandle {
    stop: mpsc::UnboundedSender<control::Control>,
}

impl StopHandle {
    /// Same as [`Server::shutdown`].
    pub fn shutdown(&self) {
        let _ = self.stop.send(control::Control::Shutdown);
    }
}

/// A running server.
#[derive(Debug)]
pub struct Server {
    local: SocketAddr,
    cdr: PathBuf,
    stop: mpsc::UnboundedSender<control::Control>,
    done: oneshot::Receiver<Summary>,
    services: Arc<Services>,
}

impl Server {
    /// Binds UDP and TCP on `cfg.listen`, opens the data folder and starts answering calls.
    pub async fn start(
        cfg: RuntimeConfig,
        services: Arc<Services>,
    ) -> Result<Server, RuntimeError> {
        let data = |path: &std::path::Path| {
            let path = path.to_path_buf();
            move |source| RuntimeError::Data { path, source }
        };
        crate::privacy::private_dir(&cfg.data).map_err(data(&cfg.data))?;
        let recordings = cfg.data.join("recordings");
        crate::privacy::private_dir(&recordings).map_err(data(&recordings))?;
        for r in recording::repair_partial(&recordings).map_err(data(&recordings))? {
            tracing::warn!(
                path = %r.path.display(),
                ms = r.duration_ms,
                "a recording cut off by a crash was repaired and set aside"
            );
        }
        let cdr_path = cfg.data.join("cdr.jsonl");
        let cdr = Arc::new(cdr_log::CdrLog::open(&cdr_path).map_err(data(&cdr_path))?);
        let bind = |addr| move |source| RuntimeError::Bind { addr, source };
        let udp = tokio::net::UdpSocket::bind(cfg.listen)
            .await
            .map_err(bind(cfg.listen))?;
        let local = udp.local_addr().map_err(bind(cfg.listen))?;
        let tcp = tokio::net::TcpListener::bind(local)
            .await
            .map_err(bind(local))?;
        if cfg.rtp_ports.0 > cfg.rtp_ports.1 {
            return Err(RuntimeError::Config(format!(
                "RTP port range {}-{} is empty",
                cfg.rtp_ports.0, cfg.rtp_ports.1
            )));
        }
        let advertised = SocketAddr::new(cfg.public.unwrap_or(local.ip()), local.port());
        if advertised.ip().is_unspecified() {
            return Err(RuntimeError::Config(
                "listening on an unspecified address needs a public address for Contact and SDP"
                    .into(),
            ));
        }
        let endpoint = EndpointConfig {
            local: advertised,
            prefer: cfg.prefer.clone(),
            max_calls: cfg.max_calls,
            retry_after: cfg.retry_after,
            allow: cfg.allow.clone(),
            flood: cfg.flood,
            ..EndpointConfig::default()
        };
        let (stop, control) = mpsc::unbounded_channel();
        let (done_tx, done) = oneshot::channel();
        let ids = crate::sip::ids::Ids::from_os()?;
        limits::prepare(cfg.max_calls);
        let reactor = sip_task::SipTask::new(sip_task::Parts {
            cfg,
            endpoint,
            ids,
            services: Arc::clone(&services),
            cdr,
            udp,
            tcp,
            control_tx: stop.clone(),
            control,
        });
        tokio::spawn(async move {
            let summary = reactor.run().await;
            let _ = done_tx.send(summary);
        });
        tracing::info!(%local, "SIP listening on UDP and TCP");
        Ok(Server {
            local,
            cdr: cdr_path,
            stop,
            done,
            services,
        })
    }

    /// The bound SIP address (UDP and TCP).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The call record file.
    pub fn cdr_path(&self) -> &std::path::Path {
        &self.cdr
    }

    /// What happens in every call from now on: call events as they happen, and each call's
    /// record when it ends. A subscriber that falls more than a few thousand events behind
    /// misses the oldest (`RecvError::Lagged`); the call records are in `cdr.jsonl` anyway.
    pub fn events(&self) -> broadcast::Receiver<ServerEvent> {
        self.services.events.subscribe()
    }

    /// Begins a graceful shutdown: new calls get 503, calls in progress have the grace
    /// period, then get BYE. A second call ends every call at once.
    pub fn shutdown(&self) {
        let _ = self.stop.send(control::Control::Shutdown);
    }

    /// A handle that can begin (or hurry) the shutdown from elsewhere.
    pub fn stopper(&self) -> StopHandle {
        StopHandle {
            stop: self.stop.clone(),
        }
    }

    /// Waits until the server has stopped (after [`Server::shutdown`]).
    pub async fn wait(self) -> Summary {
        self.done.await.unwrap_or_default()
    }
}
