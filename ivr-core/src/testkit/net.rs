//! A whole telephone network in virtual time: the server (the SIP endpoint and a call
//! machine per call, composed as the tokio runtime composes them), softphones, and the links
//! between them. Everything runs on one thread from a seed; a complaint call of a minute takes
//! milliseconds and is the same on every run.

use super::link::{Datagram, Link, LinkConfig};
use crate::backend::ops::CallContext;
use crate::call::{Call, CallEvent, CallSetup, Cdr, Input, Line, MediaPlan, Output};
use crate::call::{Work, WorkResult};
use crate::flow::{BackendRequest, BackendResult};
use crate::sim::{SimBackend, Transcriber, Transcript};
use crate::sip::endpoint::{self, CallRef, Endpoint, EndpointConfig, Event};
use crate::softphone::{self, Phone, PhoneConfig};
use crate::vocab::Time;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// How a backend request is answered in the kit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// After this many milliseconds, with this result.
    After(u64, BackendResult),
    /// Never (a backend that hangs).
    Never,
}

/// The kit's backend: answers each request with a [`Reply`].
pub trait Backend {
    /// The reply to a request.
    fn answer(&mut self, ctx: &CallContext, req: &BackendRequest) -> Reply;
}

/// A simulator's backend, answering after a fixed delay.
pub struct Delayed<B> {
    /// The backend.
    pub backend: B,
    /// How long each answer takes.
    pub delay_ms: u64,
}

impl<B: SimBackend> Backend for Delayed<B> {
    fn answer(&mut self, ctx: &CallContext, req: &BackendRequest) -> Reply {
        Reply::After(self.delay_ms, self.backend.request(ctx, req))
    }
}

/// How the kit does blocking work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkPolicy {
    /// Done after this many milliseconds.
    After(u64),
    /// Never done (a hung program or disk).
    Hang,
    /// Fails at once.
    Fail,
}

/// The kit's settings.
#[derive(Clone, Debug)]
pub struct NetConfig {
    /// Seeds the links, the endpoint and the phones.
    pub seed: u64,
    /// The link SIP goes over.
    pub sip_link: LinkConfig,
    /// The link RTP goes over.
    pub rtp_link: LinkConfig,
    /// The server's SIP address.
    pub server: SocketAddr,
    /// The endpoint's settings (`local` is set to `server`).
    pub endpoint: EndpointConfig,
    /// Text-to-speech.
    pub tts: WorkPolicy,
    /// Opening, writing and closing recordings.
    pub disk: WorkPolicy,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            seed: 1,
            sip_link: LinkConfig::PERFECT,
            rtp_link: LinkConfig::PERFECT,
            server: SocketAddr::from(([10, 0, 0, 1], 5060)),
            endpoint: EndpointConfig::default(),
            tts: WorkPolicy::After(50),
            disk: WorkPolicy::After(5),
        }
    }
}

/// A call on the server side.
struct ServerCall {
    machine: Call,
    rtp: SocketAddr,
    events: Vec<(Time, CallEvent)>,
    recordings: HashMap<u32, Vec<i16>>,
    started: Time,
}

/// A call the server finished: its record and everything that happened in it.
#[derive(Clone, Debug)]
pub struct Finished {
    /// The record the call machine handed out.
    pub record: Cdr,
    /// Its events with their times.
    pub events: Vec<(Time, CallEvent)>,
    /// When the call machine was made.
    pub started: Time,
    /// When it handed out its record.
    pub ended: Time,
    /// Its RTP address (free again).
    pub rtp: SocketAddr,
}

/// The network.
pub struct Net {
    cfg: NetConfig,
    now: Time,
    line: Line,
    ep: Endpoint,
    calls: BTreeMap<CallRef, ServerCall>,
    finished: Vec<Finished>,
    phones: Vec<Phone>,
    sip: Link,
    rtp: Link,
    pending: Vec<(Time, CallRef, Input<'static>)>,
    backend: Box<dyn Backend>,
    next_port: u16,
    ports_in_use: BTreeSet<u16>,
    /// Recordings as written, by location.
    stored: HashMap<String, Arc<[i16]>>,
    /// Datagrams that reached no one.
    pub unroutable: u64,
    /// Datagrams that reached no one, by where they were sent.
    strays: HashMap<SocketAddr, u64>,
    /// Steps in a row at the same instant.
    stuck: u32,
}

impl std::fmt::Debug for Net {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Net")
            .field("now", &self.now)
            .field("calls", &self.calls.len())
            .field("phones", &self.phones.len())
            .finish_non_exhaustive()
    }
}

/// The first RTP port of the server.
const FIRST_PORT: u16 = 20_000;

impl Net {
    /// A network whose server runs `line` and answers backend requests with `backend`.
    pub fn new(line: Line, backend: Box<dyn Backend>, mut cfg: NetConfig) -> Net {
        cfg.endpoint.local = cfg.server;
        Net {
            ep: Endpoint::new(cfg.endpoint.clone(), cfg.seed ^ 0x5eed),
            sip: Link::new(cfg.sip_link, cfg.seed.wrapping_mul(3)),
            rtp: Link::new(cfg.rtp_link, cfg.seed.wrapping_mul(5)),
            now: Time(0),
            line,
            calls: BTreeMap::new(),
            finished: Vec::new(),
            phones: Vec::new(),
            pending: Vec::new(),
            backend,
            next_port: FIRST_PORT,
            ports_in_use: BTreeSet::new(),
            stored: HashMap::new(),
            unroutable: 0,
            strays: HashMap::new(),
            stuck: 0,
            cfg,
        }
    }

    /// Virtual time now.
    pub fn now(&self) -> Time {
        self.now
    }

    /// The server's SIP address.
    pub fn server(&self) -> SocketAddr {
        self.cfg.server
    }

    /// The endpoint (for its counters).
    pub fn endpoint(&self) -> &Endpoint {
        &self.ep
    }

    /// The link RTP goes over (to change how it behaves mid-call).
    pub fn rtp_link(&mut self) -> &mut Link {
        &mut self.rtp
    }

    /// The link SIP goes over.
    pub fn sip_link(&mut self) -> &mut Link {
        &mut self.sip
    }

    /// A softphone at `ip` calling the server, set up by `configure` (its addresses and
    /// target are filled in); it places its call now. Returns its index.
    pub fn call(&mut self, ip: IpAddr, configure: impl FnOnce(&mut PhoneConfig)) -> usize {
        let i = self.phones.len() as u16;
        let mut cfg = PhoneConfig {
            local: SocketAddr::new(ip, 5062 + 2 * i),
            rtp: SocketAddr::new(ip, 40_000 + 2 * i),
            server: self.cfg.server,
            target: format!("sip:940@{}", self.cfg.server),
            user: "+966500000001".into(),
            prefer: vec![crate::media::g711::Law::Pcmu, crate::media::g711::Law::Pcma],
            credentials: None,
            steps: Vec::new(),
            dtmf: softphone::DtmfMode::Rfc4733,
            timing: softphone::KeyTiming::Pause(1000),
            say: None,
            hangup_after_ms: None,
            limit_ms: 300_000,
            keep_heard: false,
            seed: self.cfg.seed.wrapping_add(u64::from(i) * 7919),
            call_id: None,
            random: [
                (self.cfg.seed as u32).wrapping_add(u32::from(i)),
                1000 + u32::from(i),
                77 * u32::from(i),
            ],
        };
        configure(&mut cfg);
        self.phones.push(Phone::new(cfg, self.now));
        self.phones.len() - 1
    }

    /// A phone.
    pub fn phone(&self, i: usize) -> &Phone {
        &self.phones[i]
    }

    /// A phone, to act on it (hang up, move its media).
    pub fn phone_mut(&mut self, i: usize) -> &mut Phone {
        &mut self.phones[i]
    }

    /// Calls the server has finished, in the order they ended.
    pub fn finished(&self) -> &[Finished] {
        &self.finished
    }

    /// Calls the server still has.
    pub fn active_calls(&self) -> usize {
        self.calls.len()
    }

    /// RTP ports the server's calls hold now.
    pub fn ports_in_use(&self) -> usize {
        self.ports_in_use.len()
    }

    /// The events of the server's call `n` (0: the first call made), finished or not.
    pub fn events(&self, n: usize) -> Vec<(Time, CallEvent)> {
        let mut all: Vec<(Time, &Vec<(Time, CallEvent)>)> = self
            .finished
            .iter()
            .map(|f| (f.started, &f.events))
            .chain(self.calls.values().map(|c| (c.started, &c.events)))
            .collect();
        all.sort_by_key(|(t, _)| *t);
        all.get(n).map(|(_, e)| (*e).clone()).unwrap_or_default()
    }

    /// The RTP address of the server's call `n` (0: the first call made), finished or not.
    pub fn call_rtp(&self, n: usize) -> Option<SocketAddr> {
        let mut all: Vec<(Time, SocketAddr)> = self
            .finished
            .iter()
            .map(|f| (f.started, f.rtp))
            .chain(self.calls.values().map(|c| (c.started, c.rtp)))
            .collect();
        all.sort_by_key(|(t, _)| *t);
        all.get(n).map(|(_, a)| *a)
    }

    /// Datagrams sent to `to` that reached no one (no phone, no call, not the server there).
    pub fn strays_to(&self, to: SocketAddr) -> u64 {
        self.strays.get(&to).copied().unwrap_or(0)
    }

    /// The transcript of the server's call `n`, as the simulator writes transcripts.
    pub fn transcript(&self, n: usize) -> Transcript {
        let start = self
            .finished
            .iter()
            .map(|f| f.started)
            .chain(self.calls.values().map(|c| c.started))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .nth(n)
            .unwrap_or_default();
        let mut t = Transcriber::new(self.line.bank.catalog(), start);
        for (at, e) in self.events(n) {
            t.event(at, e);
        }
        t.finish()
    }

    /// Puts a datagram on the network now, from anyone (an attacker, a stray packet).
    pub fn inject(&mut self, d: Datagram) {
        self.route(d);
        self.settle();
    }

    /// Runs until virtual time `t`.
    pub fn run_until(&mut self, t: Time) {
        self.settle();
        while let Some(next) = self.next_event().filter(|n| *n <= t) {
            self.advance(next);
        }
        self.now = self.now.max(t);
        self.settle();
    }

    /// Moves time to `next` (never back) and does what is due. A machine that asks to be
    /// woken again and again at the same instant without anything happening is a bug in it:
    /// the kit stops with the time rather than spin.
    fn advance(&mut self, next: Time) {
        if next <= self.now {
            self.stuck += 1;
            assert!(
                self.stuck < 100_000,
                "a machine keeps asking to be woken at {} ms: {:?}",
                self.now.0,
                self.who_is_due()
            );
        } else {
            self.stuck = 0;
        }
        self.now = self.now.max(next);
        self.step();
    }

    fn who_is_due(&self) -> Vec<String> {
        let now = self.now;
        let mut who = Vec::new();
        if self.ep.poll_timeout().is_some_and(|t| t <= now) {
            who.push("the endpoint".to_string());
        }
        for c in self.calls.values() {
            if c.machine.poll_timeout().is_some_and(|t| t <= now) {
                who.push(format!("{:?}", c.machine));
            }
        }
        for (i, p) in self.phones.iter().enumerate() {
            if p.poll_timeout().is_some_and(|t| t <= now) {
                who.push(format!("phone {i}"));
            }
        }
        who
    }

    /// Runs for `ms` more milliseconds.
    pub fn run_for(&mut self, ms: u64) {
        let t = self.now.plus(ms);
        self.run_until(t);
    }

    /// Runs until every phone has finished and the server has no call left, or `limit_ms`
    /// of virtual time have passed; whether everything finished.
    pub fn run_to_end(&mut self, limit_ms: u64) -> bool {
        let limit = self.now.plus(limit_ms);
        self.settle();
        loop {
            if self.phones.iter().all(Phone::is_finished) && self.calls.is_empty() {
                return true;
            }
            match self.next_event() {
                Some(next) if next <= limit => self.advance(next),
                _ => {
                    self.now = limit;
                    return false;
                }
            }
        }
    }

    fn next_event(&self) -> Option<Time> {
        let calls = self.calls.values().filter_map(|c| c.machine.poll_timeout());
        let phones = self.phones.iter().filter_map(Phone::poll_timeout);
        [
            self.ep.poll_timeout(),
            self.sip.next_at(),
            self.rtp.next_at(),
            self.pending.iter().map(|(t, _, _)| *t).min(),
        ]
        .into_iter()
        .flatten()
        .chain(calls)
        .chain(phones)
        .min()
    }

    /// Does everything due now.
    fn step(&mut self) {
        let now = self.now;
        loop {
            let d = self.sip.pop_due(now).or_else(|| self.rtp.pop_due(now));
            let Some(d) = d else { break };
            self.route(d);
            self.settle();
        }
        while let Some(i) = self.pending.iter().position(|(t, _, _)| *t <= now) {
            let (_, call, input) = self.pending.swap_remove(i);
            if let Some(c) = self.calls.get_mut(&call) {
                c.machine.handle_input(input, now);
            }
            self.settle();
        }
        if self.ep.poll_timeout().is_some_and(|t| t <= now) {
            self.ep.handle_timeout(now);
        }
        for c in self.calls.values_mut() {
            if c.machine.poll_timeout().is_some_and(|t| t <= now) {
                c.machine.handle_timeout(now);
            }
        }
        for p in &mut self.phones {
            if p.poll_timeout().is_some_and(|t| t <= now) {
                p.handle_timeout(now);
            }
        }
        self.settle();
    }

    fn route(&mut self, d: Datagram) {
        let now = self.now;
        if d.to == self.cfg.server {
            self.ep
                .handle_input(crate::sip::Input::udp(&d.bytes, d.from), now);
            return;
        }
        if let Some(c) = self.calls.values_mut().find(|c| c.rtp == d.to) {
            c.machine.handle_input(
                Input::Rtp {
                    from: d.from,
                    datagram: &d.bytes,
                },
                now,
            );
            return;
        }
        for p in &mut self.phones {
            if p.rtp_addr() == d.to {
                p.handle_input(
                    softphone::Input::Rtp {
                        bytes: &d.bytes,
                        from: d.from,
                    },
                    now,
                );
                return;
            }
            if p.sip_addr() == d.to {
                p.handle_input(
                    softphone::Input::Sip {
                        bytes: &d.bytes,
                        from: d.from,
                    },
                    now,
                );
                return;
            }
        }
        self.unroutable += 1;
        *self.strays.entry(d.to).or_default() += 1;
    }

    /// Moves every machine's output until nothing moves.
    fn settle(&mut self) {
        loop {
            let mut moved = false;
            while let Some(o) = self.ep.poll_output() {
                moved = true;
                match o {
                    endpoint::Output::Transmit { to, bytes } => self.sip.send(
                        self.now,
                        Datagram {
                            from: self.cfg.server,
                            to,
                            bytes: bytes.to_vec(),
                        },
                    ),
                    endpoint::Output::Event(e) => self.on_event(e),
                }
            }
            let refs: Vec<CallRef> = self.calls.keys().copied().collect();
            for r in refs {
                while let Some(o) = self.calls.get_mut(&r).and_then(|c| c.machine.poll_output()) {
                    moved = true;
                    self.on_call_output(r, o);
                }
            }
            for i in 0..self.phones.len() {
                while let Some(o) = self.phones[i].poll_output() {
                    moved = true;
                    match o {
                        softphone::Output::Sip { to, bytes } => {
                            let from = self.phones[i].sip_addr();
                            self.sip.send(
                                self.now,
                                Datagram {
                                    from,
                                    to,
                                    bytes: bytes.to_vec(),
                                },
                            );
                        }
                        softphone::Output::Rtp { from, to, packet } => {
                            self.rtp.send(
                                self.now,
                                Datagram {
                                    from,
                                    to,
                                    bytes: packet,
                                },
                            );
                        }
                    }
                }
            }
            if !moved {
                break;
            }
        }
    }

    fn on_event(&mut self, e: Event) {
        let now = self.now;
        match e {
            Event::Offered {
                call,
                call_id,
                from,
                to,
                source,
                ..
            } => {
                let port = self.next_port;
                self.next_port = self.next_port.wrapping_add(2).max(FIRST_PORT);
                self.ports_in_use.insert(port);
                let setup = CallSetup {
                    uid: format!("net{:020x}", self.calls.len() + self.finished.len()),
                    asserted: None,
                    call_id,
                    from,
                    to,
                    started_at: jiff::Timestamp::UNIX_EPOCH
                        .checked_add(jiff::SignedDuration::from_millis(now.0 as i64))
                        .unwrap_or(jiff::Timestamp::UNIX_EPOCH),
                    media: MediaPlan::Rtp {
                        port: Some(port),
                        random: [
                            u32::from(port).wrapping_mul(2_654_435_761),
                            u32::from(port),
                            7,
                        ],
                        signalling: Some(source.ip()),
                        allow: Arc::from(Vec::new()),
                    },
                };
                let machine = Call::new(&self.line, setup, now);
                self.calls.insert(
                    call,
                    ServerCall {
                        machine,
                        rtp: SocketAddr::new(self.cfg.server.ip(), port),
                        events: Vec::new(),
                        recordings: HashMap::new(),
                        started: now,
                    },
                );
            }
            other => {
                let call = match &other {
                    Event::Confirmed { call, .. }
                    | Event::MediaChanged { call, .. }
                    | Event::Info { call, .. }
                    | Event::Transferred { call, .. }
                    | Event::Ended { call, .. }
                    | Event::Offered { call, .. } => *call,
                };
                if let Some(c) = self.calls.get_mut(&call) {
                    c.machine.handle_input(Input::Sip(other), now);
                }
            }
        }
    }

    fn on_call_output(&mut self, r: CallRef, o: Output) {
        let now = self.now;
        let Some(c) = self.calls.get_mut(&r) else {
            return;
        };
        match o {
            Output::Rtp { to, packet } => {
                let from = c.rtp;
                self.rtp.send(
                    now,
                    Datagram {
                        from,
                        to,
                        bytes: packet,
                    },
                );
            }
            Output::Sip(cmd) => {
                // As the runtime's SIP task does: the endpoint carries it out (a transfer it
                // cannot start comes back as its outcome).
                let _ = self.ep.command(r, cmd, now);
            }
            Output::Backend(b) => match self.backend.answer(&b.context, &b.request) {
                Reply::After(ms, result) => {
                    self.pending
                        .push((now.plus(ms), r, Input::BackendDone { id: b.id, result }))
                }
                Reply::Never => {}
            },
            Output::Work { id, work } => {
                let policy = match &work {
                    Work::Speak { .. } => self.cfg.tts,
                    _ => self.cfg.disk,
                };
                let result = match (policy, work) {
                    (WorkPolicy::Hang, _) => None,
                    (WorkPolicy::Fail, _) => {
                        Some((0, WorkResult::Failed("refused by the kit".into())))
                    }
                    (WorkPolicy::After(ms), w) => Some((ms, Self::work_result(c, &self.stored, w))),
                };
                if let Some((ms, result)) = result {
                    self.pending
                        .push((now.plus(ms), r, Input::WorkDone { id, result }));
                }
            }
            Output::RecordingAudio { recording, samples } => {
                c.recordings.entry(recording).or_default().extend(samples);
            }
            Output::Event(e) => c.events.push((now, e)),
            Output::Record(record) => {
                if let Some(c) = self.calls.remove(&r) {
                    self.ports_in_use.remove(&c.rtp.port());
                    for (n, samples) in c.recordings {
                        self.stored
                            .insert(format!("kit://{}/{n}", record.call_id), Arc::from(samples));
                    }
                    self.finished.push(Finished {
                        record: *record,
                        events: c.events,
                        started: c.started,
                        ended: now,
                        rtp: c.rtp,
                    });
                }
            }
        }
    }

    fn work_result(
        c: &mut ServerCall,
        stored: &HashMap<String, Arc<[i16]>>,
        w: Work,
    ) -> WorkResult {
        match w {
            Work::Speak { text, .. } => {
                // Speech as long as the text would take: a tone, so that a listener hears it.
                let ms = (text.chars().count() as u64 * 60).max(600);
                let tone: Vec<i16> = (0..ms * 8)
                    .map(|i| ((i as f32 * 0.35).sin() * 6000.0) as i16)
                    .collect();
                WorkResult::Audio(tone.into())
            }
            Work::ReadRecording { recording } => {
                let own = c.machine.call_id().to_string();
                let location = recording.location;
                let mine = location
                    .strip_prefix(&format!("kit://{own}/"))
                    .and_then(|n| n.parse::<u32>().ok())
                    .and_then(|n| c.recordings.get(&n).cloned());
                match mine
                    .map(Arc::from)
                    .or_else(|| stored.get(&location).cloned())
                {
                    Some(samples) => WorkResult::Audio(samples),
                    None => WorkResult::Failed(format!("no recording at {location}")),
                }
            }
            Work::OpenRecording { recording } => {
                c.recordings.entry(recording).or_default();
                WorkResult::Opened
            }
            Work::CloseRecording { recording } => {
                use sha2::{Digest, Sha256};
                let samples = c.recordings.get(&recording).cloned().unwrap_or_default();
                let bytes: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
                let sha256 = Sha256::digest(&bytes)
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                WorkResult::Closed {
                    location: format!("kit://{}/{recording}", c.machine.call_id()),
                    sha256,
                }
            }
        }
    }
}
