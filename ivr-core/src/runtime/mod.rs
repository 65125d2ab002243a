//! The tokio shell around the sans-IO machines (DESIGN.md): the only part of the engine that
//! touches sockets, files, tasks and the clock.
//!
//! - One SIP task owns the [`crate::sip::endpoint::Endpoint`], the UDP socket and the TCP
//!   listener (a reader task per TCP connection frames messages and hands them over). It
//!   answers each offered call, binds an RTP port for it and starts the call's task.
//! - One task per call owns the call's [`crate::media::session::MediaSession`], its flow
//!   [`crate::flow::Call`] and its RTP socket, and sleeps until the earliest of their
//!   deadlines: one timer per call, whatever the machines have pending. Prompt audio is
//!   encoded once at load ([`bank::PromptBank`]); a packet's buffer is reused, never
//!   allocated per packet.
//! - Backend requests run as tasks of their own and come back to the call as inputs, with a
//!   time limit. Recordings are written by a writer thread, never on the media path.
//! - When a call ends its record is appended to `DATA/cdr.jsonl` ([`cdr`]).
//!
//! [`Server::shutdown`] stops taking calls (503), lets calls in progress run for the grace
//! period, then sends BYE to what is left.

pub mod bank;
mod call;
pub mod cdr;
pub mod metrics;
pub mod phone;
pub mod ports;
mod sip_task;

use crate::backend::ops::Operations;
use crate::flow::{CallConfig, Program, Time};
use crate::media::g711::Law;
use crate::media::record::RecordConfig;
use crate::media::session::Inband;
use crate::sip::endpoint::{EndpointConfig, private_networks};
use bank::PromptBank;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
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
}

/// Runtime settings (`ivr.yaml`'s `sip`, `rtp` and `limits`, and the command line).
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
    /// In-band key detection.
    pub inband: Inband,
    /// Ring (180) this long before answering; zero answers at once.
    pub answer_after: Duration,
    /// Most calls at once (more get 503).
    pub max_calls: usize,
    /// Seconds a refused caller should wait (Retry-After).
    pub retry_after: u32,
    /// Source networks allowed to call.
    pub allow: Vec<ipnet::IpNet>,
    /// How long calls in progress may go on after shutdown begins.
    pub grace: Duration,
    /// A backend request taking longer fails.
    pub backend_timeout: Duration,
    /// Recordings and call records.
    pub data: PathBuf,
    /// Recording limits the script does not set (initial silence, speech level).
    pub record: RecordConfig,
    /// Jitter buffer depth in frames.
    pub jitter_frames: u64,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 5060)),
            public: None,
            rtp_ports: (20_000, 29_999),
            prefer: vec![Law::Pcmu, Law::Pcma],
            inband: Inband::Auto,
            answer_after: Duration::ZERO,
            max_calls: 5_000,
            retry_after: 5,
            allow: private_networks(),
            grace: Duration::from_secs(30),
            backend_timeout: Duration::from_secs(10),
            data: PathBuf::from("ivr-data"),
            record: RecordConfig::default(),
            jitter_frames: 3,
        }
    }
}

/// What every call shares: the script, its settings, prompt audio and the backend.
pub struct Services {
    /// The script new calls run, and its version (what the call records name).
    script: RwLock<(Arc<Program>, Arc<str>)>,
    /// Settings of every call.
    pub call_config: Arc<CallConfig>,
    /// Prompt audio.
    pub bank: Arc<PromptBank>,
    /// Backend operations.
    pub ops: Arc<Operations>,
    /// Transfer destinations: the name a script uses → SIP URI.
    pub transfer: BTreeMap<String, String>,
    /// Operating metrics (Prometheus).
    pub metrics: Arc<metrics::Metrics>,
    /// Text-to-speech for values said `as text` (a staff note); `None`: such values are
    /// skipped with a warning.
    pub tts: Option<Arc<dyn crate::prompts::audio::Tts + Send + Sync>>,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services")
            .field("bank", &self.bank)
            .field("transfer", &self.transfer)
            .finish_non_exhaustive()
    }
}

impl Services {
    /// Services running `program` (its `version` goes into call records: a content hash).
    pub fn new(
        program: Arc<Program>,
        version: &str,
        call_config: Arc<CallConfig>,
        bank: Arc<PromptBank>,
        ops: Arc<Operations>,
        transfer: BTreeMap<String, String>,
    ) -> Self {
        Services {
            script: RwLock::new((program, Arc::from(version))),
            call_config,
            bank,
            ops,
            transfer,
            metrics: Arc::new(metrics::Metrics::new()),
            tts: None,
        }
    }

    /// The script new calls run, with its version.
    pub fn script(&self) -> (Arc<Program>, Arc<str>) {
        let g = match self.script.read() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        (Arc::clone(&g.0), Arc::clone(&g.1))
    }

    /// Replaces the script for calls that start from now on; calls in progress keep theirs
    /// (hot reload).
    pub fn set_script(&self, p: Arc<Program>, version: &str) {
        let mut g = match self.script.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        *g = (p, Arc::from(version));
    }
}

/// Milliseconds since the server started: the `now` every machine is given.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Clock {
    base: tokio::time::Instant,
}

impl Clock {
    fn new() -> Self {
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
    /// Media ticks run (one per packet time per call).
    pub ticks: u64,
    /// Ticks run more than one packet time after their deadline (the machine was
    /// overloaded: audio went out in a burst).
    pub late_ticks: u64,
    /// The latest a tick ran after its deadline, in milliseconds.
    pub max_lateness_ms: u64,
}

/// Counters every call task adds to.
#[derive(Debug, Default)]
pub(crate) struct Load {
    pub(crate) ticks: std::sync::atomic::AtomicU64,
    pub(crate) late_ticks: std::sync::atomic::AtomicU64,
    pub(crate) max_lateness_ms: std::sync::atomic::AtomicU64,
}

impl Load {
    /// A media wake-up `late_ms` after its deadline.
    pub(crate) fn tick(&self, late_ms: u64, ptime_ms: u64) {
        use std::sync::atomic::Ordering::Relaxed;
        self.ticks.fetch_add(1, Relaxed);
        if late_ms > ptime_ms {
            self.late_ticks.fetch_add(1, Relaxed);
        }
        self.max_lateness_ms.fetch_max(late_ms, Relaxed);
    }
}

/// Stops a server from another task (see [`Server::shutdown`]).
#[derive(Clone, Debug)]
pub struct StopHandle {
    stop: mpsc::UnboundedSender<sip_task::Control>,
}

impl StopHandle {
    /// Same as [`Server::shutdown`].
    pub fn shutdown(&self) {
        let _ = self.stop.send(sip_task::Control::Shutdown);
    }
}

/// A running server.
#[derive(Debug)]
pub struct Server {
    local: SocketAddr,
    cdr: PathBuf,
    stop: mpsc::UnboundedSender<sip_task::Control>,
    done: oneshot::Receiver<Summary>,
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
        std::fs::create_dir_all(cfg.data.join("recordings")).map_err(data(&cfg.data))?;
        let cdr_path = cfg.data.join("cdr.jsonl");
        let cdr = Arc::new(cdr::CdrLog::open(&cdr_path).map_err(data(&cdr_path))?);
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
            ..EndpointConfig::default()
        };
        let (stop, control) = mpsc::unbounded_channel();
        let (done_tx, done) = oneshot::channel();
        let reactor = sip_task::Reactor::new(
            cfg,
            endpoint,
            services,
            cdr,
            udp,
            tcp,
            stop.clone(),
            control,
        );
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

    /// Begins a graceful shutdown: new calls get 503, calls in progress have the grace
    /// period, then get BYE. A second call ends every call at once.
    pub fn shutdown(&self) {
        let _ = self.stop.send(sip_task::Control::Shutdown);
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
