//! The SIP user agent server, sans-IO: it takes datagrams or framed stream messages with
//! their source and the time, runs the codec, screening, transactions and dialogs, and hands
//! back what to transmit and what happened to each call. The runtime (or a test) owns the
//! sockets and the clock and decides, per call, when to answer or hang up.
//!
//! Handled here: INVITE with an offer or without one (our offer in the 200, the answer in the
//! ACK), ACK, BYE both ways, CANCEL (200, then 487 for the INVITE), re-INVITE and UPDATE
//! (hold, resume, new address; 500 with Retry-After for an INVITE that overlaps one still
//! unanswered; 491 for an UPDATE offer crossing ours), OPTIONS in and out of dialogs, INFO
//! bodies handed to the call, 481 for unknown dialogs and transactions, 488 when no codec is common, 503 when full or draining, a BYE
//! when a 2xx is never acknowledged, and blind transfer by REFER (RFC 3515) followed through
//! its NOTIFYs to success, busy, no answer or failure.
//!
//! Parts: this file holds the types, message intake and transactions; `calls` the life of a
//! call (offer, answer, ACK, CANCEL, end); `in_dialog` requests inside a call (re-INVITE,
//! UPDATE, INFO, BYE, REFER/NOTIFY); `timers` the transaction timers.

mod calls;
pub mod flood;
mod in_dialog;
mod timers;

pub use flood::FloodLimits;

use super::codec::{self, CodecError, Message, Start};
use super::dialog::{self, Dialog, DialogId};
pub use super::ids::Ids;
use super::response;
use super::screen::{self, ACCEPT, Refusal};
use super::sdp::{self, Agreed, Direction};
use super::transaction::{Action, InviteServer, NonInviteClient, NonInviteServer, Timers};
use crate::media::g711::Law;
use crate::vocab::{Time, TransferOutcome};
use std::cmp::Reverse;
use std::collections::VecDeque;
use std::collections::{BinaryHeap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// Endpoint settings.
#[derive(Clone, Debug)]
pub struct EndpointConfig {
    /// Our address as written into Contact, Via and SDP.
    pub local: SocketAddr,
    /// Codec preference.
    pub prefer: Vec<Law>,
    /// Transaction timer bases.
    pub timers: Timers,
    /// Most calls at once; more get 503 with Retry-After.
    pub max_calls: usize,
    /// Seconds a refused caller should wait (Retry-After).
    pub retry_after: u32,
    /// The telephone-event payload type we offer in an offerless INVITE's 200.
    pub event_pt: u8,
    /// Source networks that may talk to us; anything else is dropped unanswered.
    pub allow: Vec<ipnet::IpNet>,
    /// Largest message taken, in octets (larger requests get 513).
    pub max_message_bytes: usize,
    /// Most header fields in one message (more: 400).
    pub max_headers: usize,
    /// Largest body, in octets (larger: 413).
    pub max_body_bytes: usize,
    /// Rate and size limits against floods.
    pub flood: FloodLimits,
}

/// Loopback and private networks (RFC 1918, RFC 4193, link-local): the default allow-list.
pub fn private_networks() -> Vec<ipnet::IpNet> {
    [
        "127.0.0.0/8",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "169.254.0.0/16",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
    ]
    .iter()
    .filter_map(|n| n.parse().ok())
    .collect()
}

impl Default for EndpointConfig {
    fn default() -> Self {
        EndpointConfig {
            local: SocketAddr::from(([127, 0, 0, 1], 5060)),
            prefer: vec![Law::Pcmu, Law::Pcma],
            timers: Timers::default(),
            max_calls: 10_000,
            retry_after: 5,
            event_pt: 101,
            allow: private_networks(),
            max_message_bytes: 16_384,
            max_headers: 100,
            max_body_bytes: 8_192,
            flood: FloodLimits::default(),
        }
    }
}

/// A call's handle, stable for its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallRef(pub u64);

/// Why a call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// The caller sent BYE.
    RemoteBye,
    /// The caller sent CANCEL before we answered.
    Cancelled,
    /// We hung up (BYE answered or timed out).
    LocalBye,
    /// We declined with this status.
    Rejected(u16),
    /// Our 2xx was never acknowledged (we sent BYE).
    AckTimeout,
}

/// What happened to a call.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A new call is waiting for [`Endpoint::answer`] or [`Endpoint::reject`]. `media` is the
    /// agreed stream when the INVITE had an offer; `None` when the answer comes in the ACK.
    Offered {
        /// The call.
        call: CallRef,
        /// SIP Call-ID.
        call_id: String,
        /// From header value.
        from: String,
        /// To header value.
        to: String,
        /// Where the INVITE came from (the caller, or the proxy in front of it).
        source: SocketAddr,
        /// The P-Asserted-Identity the INVITE carried (RFC 3325), if any: to be believed only
        /// when `source` is a trusted peer.
        asserted: Option<String>,
        /// The agreed stream, when the INVITE carried an offer.
        media: Option<Agreed>,
    },
    /// The caller acknowledged our 200: media flows. `media` is final here.
    Confirmed {
        /// The call.
        call: CallRef,
        /// The agreed stream.
        media: Agreed,
    },
    /// A re-INVITE or UPDATE changed the stream (hold, resume, new address).
    MediaChanged {
        /// The call.
        call: CallRef,
        /// The new agreement.
        media: Agreed,
    },
    /// An INFO body arrived in the call (DTMF relay).
    Info {
        /// The call.
        call: CallRef,
        /// Its content type (lowercase, no parameters).
        content_type: String,
        /// The body.
        body: Vec<u8>,
    },
    /// How a blind transfer went. After `Success` the caller is with the destination: hang up.
    Transferred {
        /// The call.
        call: CallRef,
        /// The outcome, as the flow's `transfer` handlers take it.
        outcome: TransferOutcome,
    },
    /// The call is over; the handle is no longer valid.
    Ended {
        /// The call.
        call: CallRef,
        /// Why.
        reason: EndReason,
    },
}

/// What the application decides for one call.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Command {
    /// Send 180 Ringing (before an answer delay).
    Ring,
    /// Answer with 200 OK; the media uses this port on our address.
    Answer {
        /// Our RTP port for the call.
        rtp_port: u16,
    },
    /// Decline with this status (3xx–6xx).
    Reject {
        /// The status.
        code: u16,
    },
    /// Hang up (BYE).
    Hangup,
    /// Blind transfer by REFER to this SIP URI.
    Transfer {
        /// Where to.
        target: String,
    },
}

/// Output of the endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use]
pub enum Output {
    /// Send these bytes to this address (over the transport the peer used).
    Transmit {
        /// Destination.
        to: SocketAddr,
        /// The message.
        bytes: Arc<[u8]>,
    },
    /// A call event.
    Event(Event),
}

/// Why an application request on a call was refused (always the application's doing:
/// [`crate::Fault::Api`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EndpointError {
    /// No such call (it ended).
    #[error("no call {0}")]
    NoCall(u64),
    /// The call is not in a state for this (answering twice, hanging up before answer).
    #[error("call {0} cannot do that now: {1}")]
    WrongState(u64, &'static str),
}

impl EndpointError {
    /// Who is at fault: the application that asked.
    pub fn fault(&self) -> crate::vocab::Fault {
        crate::vocab::Fault::Api
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LegState {
    /// Waiting for the application to answer.
    Offered,
    /// 200 sent, waiting for ACK.
    Accepted,
    /// Established.
    Confirmed,
    /// Our BYE is out.
    Ending,
}

#[derive(Debug)]
struct Leg {
    state: LegState,
    invite: Message,
    source: SocketAddr,
    invite_tx: String,
    dialog: Dialog,
    media: Option<Agreed>,
    rtp_port: u16,
    sdp_version: u64,
    /// The SDP `o=` session id of this leg (random, RFC 8866 §5.2).
    sdp_session: u64,
    /// The last INVITE we answered carried no offer: the answer is in its ACK.
    answer_in_ack: bool,
    /// The call has not been acknowledged yet (it counts against its source's unconfirmed
    /// calls).
    unconfirmed: bool,
    /// Our REFER was accepted; its NOTIFYs tell how the transfer goes.
    refer_pending: bool,
}

#[derive(Debug)]
enum ServerTx {
    Invite {
        tx: InviteServer,
        to: SocketAddr,
        call: Option<CallRef>,
    },
    NonInvite {
        tx: NonInviteServer,
        to: SocketAddr,
    },
}

#[derive(Debug)]
struct ClientTx {
    tx: NonInviteClient,
    to: SocketAddr,
    call: CallRef,
    method: &'static str,
}

/// A transaction, by its key, for the deadline queue.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum TxRef {
    Server(String),
    Client(String),
}

/// How much state an endpoint holds ([`Endpoint::footprint`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Footprint {
    /// Server transactions.
    pub server_transactions: usize,
    /// Client transactions (our BYEs, REFERs).
    pub client_transactions: usize,
    /// Calls.
    pub calls: usize,
    /// Deadlines queued (some may be stale).
    pub deadlines: usize,
    /// Source IPs with a flood bucket.
    pub sources: usize,
}

/// Where a request came from: the address to answer and whether its transport is reliable.
#[derive(Clone, Copy, Debug)]
struct Origin {
    addr: SocketAddr,
    reliable: bool,
}

/// The UAS endpoint.
#[derive(Debug)]
pub struct Endpoint {
    cfg: EndpointConfig,
    ids: Ids,
    counter: u64,
    draining: bool,
    refused: u64,
    legs: HashMap<CallRef, Leg>,
    /// Dialog id → call, for in-dialog requests.
    by_dialog: HashMap<DialogId, CallRef>,
    server: HashMap<String, ServerTx>,
    client: HashMap<String, ClientTx>,
    /// Every transaction deadline, earliest first. An entry may be stale (its transaction
    /// ended or moved its deadline); it is skipped when it comes up.
    deadlines: BinaryHeap<Reverse<(Time, TxRef)>>,
    out: VecDeque<Output>,
    /// New-transaction buckets by source.
    buckets: flood::Buckets,
    /// Calls waiting for their first ACK, by source IP.
    unconfirmed: HashMap<IpAddr, u32>,
    /// Requests refused by the flood limits.
    flood_refused: u64,
}

/// The top Via's branch and sent-by, and the method class: the server transaction key
/// (RFC 3261 §17.2.3; ACK and CANCEL are keyed apart, CANCEL finds its INVITE by branch).
fn tx_key(m: &Message, method: &str) -> String {
    let via = m.values("via").first().copied().unwrap_or("");
    let (sent, params) = via.split_once(';').unwrap_or((via, ""));
    let sent_by = sent.split_whitespace().last().unwrap_or("");
    let branch = params
        .split(';')
        .find_map(|p| {
            let (n, v) = p.split_once('=')?;
            n.trim().eq_ignore_ascii_case("branch").then(|| v.trim())
        })
        .unwrap_or("");
    let class = if method == "ACK" { "INVITE" } else { method };
    if branch.starts_with("z9hG4bK") {
        format!("{branch}|{sent_by}|{class}")
    } else {
        // RFC 2543 peers: no unique branch; Call-ID, CSeq number and From tag instead.
        let cseq = m
            .header("cseq")
            .and_then(|c| c.split_whitespace().next())
            .unwrap_or("");
        let from_tag = m.header("from").and_then(dialog::tag).unwrap_or("");
        format!(
            "{}|{cseq}|{from_tag}|{sent_by}|{class}",
            m.header("call-id").unwrap_or("")
        )
    }
}

fn method_of(m: &Message) -> &str {
    match &m.start {
        Start::Request { method, .. } => method,
        Start::Response { .. } => "",
    }
}

fn content_type(m: &Message) -> String {
    codec::mime_type(m.header("content-type").unwrap_or(""))
}

/// The address a URI names, when it is an IP literal (with the default port 5060).
fn uri_addr(uri: &str) -> Option<SocketAddr> {
    let hostport = codec::uri_hostport(uri)?;
    if let Ok(sa) = hostport.parse::<SocketAddr>() {
        return Some(sa);
    }
    let host = hostport.trim_start_matches('[').trim_end_matches(']');
    host.parse::<IpAddr>()
        .ok()
        .map(|ip| SocketAddr::new(ip, 5060))
}

impl Endpoint {
    /// A new endpoint whose tags, branches and session ids are repeatable from `seed` (tests,
    /// the simulator). A server uses [`Endpoint::with_ids`] with [`Ids::from_os`].
    pub fn new(cfg: EndpointConfig, seed: u64) -> Self {
        Endpoint::with_ids(cfg, Ids::seeded(seed))
    }

    /// A new endpoint taking its identifiers from `ids`.
    pub fn with_ids(cfg: EndpointConfig, ids: Ids) -> Self {
        Endpoint {
            cfg,
            ids,
            counter: 0,
            draining: false,
            refused: 0,
            legs: HashMap::new(),
            by_dialog: HashMap::new(),
            server: HashMap::new(),
            client: HashMap::new(),
            deadlines: BinaryHeap::new(),
            out: VecDeque::new(),
            buckets: flood::Buckets::default(),
            unconfirmed: HashMap::new(),
            flood_refused: 0,
        }
    }

    /// Requests refused by the flood limits (stateless 503).
    pub fn flood_refused(&self) -> u64 {
        self.flood_refused
    }

    /// How much state the endpoint holds: server and client transactions, calls, pending
    /// deadlines and sources tracked by the flood limits (each is bounded by a limit).
    pub fn footprint(&self) -> Footprint {
        Footprint {
            server_transactions: self.server.len(),
            client_transactions: self.client.len(),
            calls: self.legs.len(),
            deadlines: self.deadlines.len(),
            sources: self.buckets.len(),
        }
    }

    /// Refuses a request statelessly with 503 and Retry-After (a flood limit was reached).
    fn refuse_flood(&mut self, req: &Message, source: SocketAddr) {
        self.flood_refused += 1;
        let ra = [("Retry-After", self.cfg.retry_after.to_string())];
        self.answer_stateless(req, source, 503, None, &ra);
    }

    /// Notes that a call from `ip` no longer waits for its first ACK.
    fn confirmed_from(&mut self, ip: IpAddr) {
        if let Some(n) = self.unconfirmed.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                self.unconfirmed.remove(&ip);
            }
        }
    }

    /// Calls in progress.
    pub fn calls(&self) -> usize {
        self.legs.len()
    }

    /// Messages dropped because their source is not on the allow-list.
    pub fn refused_sources(&self) -> u64 {
        self.refused
    }

    /// Stop taking new calls (they get 503); calls in progress go on.
    pub fn drain(&mut self) {
        self.draining = true;
    }

    /// The next output.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// A fresh identifier from the endpoint's generator (96 random bits, hex), for the
    /// runtime's own ids of calls.
    pub fn fresh_id(&mut self) -> String {
        self.ids.token()
    }

    fn transmit(&mut self, to: SocketAddr, bytes: Arc<[u8]>) {
        self.out.push_back(Output::Transmit { to, bytes });
    }

    fn event(&mut self, e: Event) {
        self.out.push_back(Output::Event(e));
    }

    /// A stateless answer (refusals before any transaction exists). The To tag is derived
    /// from the request so a retransmission gets the same answer.
    fn answer_stateless(
        &mut self,
        req: &Message,
        source: SocketAddr,
        code: u16,
        phrase: Option<&str>,
        headers: &[(&str, String)],
    ) {
        let tag = self
            .ids
            .keyed(req.header("call-id").unwrap_or("").as_bytes());
        let bytes = response::build_with_reason(
            req,
            source,
            code,
            phrase.unwrap_or(response::reason(code)),
            Some(&tag),
            headers,
            None,
        );
        self.transmit(source, bytes.into());
    }

    /// Takes what arrived from the network.
    pub fn handle_input(&mut self, input: super::Input<'_>, now: Time) {
        match input {
            super::Input::Message {
                bytes,
                from,
                reliable,
            } => self.receive(bytes, from, reliable, now),
        }
    }

    /// Carries out what the application decided for a call. A transfer the endpoint cannot
    /// start is reported as [`Event::Transferred`] with [`TransferOutcome::Failed`] as well
    /// as refused, so that the call always hears how its transfer went.
    pub fn command(&mut self, call: CallRef, cmd: Command, now: Time) -> Result<(), EndpointError> {
        match cmd {
            Command::Ring => self.ring(call, now),
            Command::Answer { rtp_port } => self.answer(call, rtp_port, now),
            Command::Reject { code } => self.reject(call, code, now),
            Command::Hangup => self.hangup(call, now),
            Command::Transfer { target } => {
                let r = self.transfer(call, &target, now);
                if r.is_err() {
                    self.event(Event::Transferred {
                        call,
                        outcome: TransferOutcome::Failed,
                    });
                }
                r
            }
        }
    }

    /// Handles one message from `source` (`reliable`: it came over TCP).
    fn receive(&mut self, bytes: &[u8], source: SocketAddr, reliable: bool, now: Time) {
        let ip = source.ip().to_canonical();
        if !self.cfg.allow.iter().any(|n| n.contains(&ip)) {
            self.refused += 1;
            return;
        }
        if bytes.len() > self.cfg.max_message_bytes {
            if let Some(req) = codec::salvage(bytes)
                && method_of(&req) != "ACK"
            {
                self.answer_stateless(&req, source, 513, None, &[]);
            }
            return;
        }
        let msg = match codec::parse_datagram(bytes) {
            Ok(m) => m,
            Err(CodecError::Reject { code, reason }) => {
                // Answer what can be answered; an ACK never is.
                if let Some(req) = codec::salvage(bytes)
                    && method_of(&req) != "ACK"
                {
                    self.answer_stateless(&req, source, code, Some(&reason), &[]);
                }
                return;
            }
            Err(CodecError::Drop(_)) => return,
        };
        if msg.is_request() && method_of(&msg) != "ACK" {
            if msg.headers.len() > self.cfg.max_headers {
                let why = "Bad Request (too many header fields)";
                self.answer_stateless(&msg, source, 400, Some(why), &[]);
                return;
            }
            if msg.body.len() > self.cfg.max_body_bytes {
                self.answer_stateless(&msg, source, 413, None, &[]);
                return;
            }
        }
        match &msg.start {
            Start::Response { code, .. } => self.on_response(&msg, *code, now),
            Start::Request { .. } => self.on_request(
                msg,
                Origin {
                    addr: source,
                    reliable,
                },
                now,
            ),
        }
    }

    fn on_response(&mut self, msg: &Message, code: u16, now: Time) {
        let method = msg
            .header("cseq")
            .and_then(|c| c.split_whitespace().nth(1))
            .unwrap_or("")
            .to_string();
        let key = tx_key(msg, &method);
        let Some(ct) = self.client.get_mut(&key) else {
            return;
        };
        // Only the first final response counts; retransmissions of it change nothing.
        let first_final = code >= 200 && ct.tx.final_code.is_none();
        ct.tx.response(code, now);
        let (call, sent) = (ct.call, ct.method);
        self.schedule(TxRef::Client(key));
        if !first_final {
            return;
        }
        match sent {
            "BYE" => self.end(call, EndReason::LocalBye),
            "REFER" if code < 300 => {
                if let Some(leg) = self.legs.get_mut(&call) {
                    leg.refer_pending = true;
                }
            }
            "REFER" => self.event(Event::Transferred {
                call,
                outcome: TransferOutcome::Failed,
            }),
            _ => {}
        }
    }

    fn on_request(&mut self, req: Message, from: Origin, now: Time) {
        let method = method_of(&req).to_string();
        let key = tx_key(&req, &method);
        // Retransmissions and ACKs for non-2xx finals belong to their transaction.
        if let Some(st) = self.server.get_mut(&key) {
            let mut acts = Vec::new();
            let to = match st {
                ServerTx::Invite { tx, to, .. } if method == "ACK" => {
                    tx.ack(now, &mut acts);
                    *to
                }
                ServerTx::Invite { tx, to, .. } => {
                    tx.retransmitted(&mut acts);
                    *to
                }
                ServerTx::NonInvite { tx, to } => {
                    tx.retransmitted(&mut acts);
                    *to
                }
            };
            // An ACK that matched a 2xx-accepted transaction also confirms the call below.
            let ack_2xx = method == "ACK" && acts.contains(&Action::Terminated);
            self.apply(&key, to, acts, now);
            if !ack_2xx {
                return;
            }
        }
        // A new transaction: within the flood limits, or refused without state. A request
        // inside a dialog we know costs nothing (its tags are ours and unguessable).
        if method != "ACK" {
            let limits = self.cfg.flood;
            // Only a request with a To tag can belong to a dialog: the others (INVITE,
            // OPTIONS) are judged without building a dialog id.
            let known = req.header("to").and_then(dialog::tag).is_some()
                && DialogId::of_request(&req).is_some_and(|d| self.by_dialog.contains_key(&d));
            if self.server.len() >= limits.max_transactions
                || (!known
                    && !self
                        .buckets
                        .admit(from.addr.ip().to_canonical(), &limits, now))
            {
                self.refuse_flood(&req, from.addr);
                return;
            }
        }
        if let Err(refusal) = screen::screen(&req) {
            if let Refusal::Respond { code, headers } = refusal {
                self.answer_stateless(&req, from.addr, code, None, &headers);
            }
            return;
        }
        match method.as_str() {
            "ACK" => self.on_ack(&req, now),
            "CANCEL" => self.on_cancel(&req, from, now),
            _ if DialogId::of_request(&req).is_some() => {
                self.in_dialog(req, from, &method, now);
            }
            "INVITE" => self.on_invite(req, from, now),
            "OPTIONS" => {
                let headers = self.capabilities();
                self.respond_new(&req, from, 200, &headers, None, now);
            }
            _ => self.respond_new(&req, from, 481, &[], None, now),
        }
    }

    fn capabilities(&self) -> Vec<(&'static str, String)> {
        vec![
            ("Allow", screen::allow()),
            ("Accept", ACCEPT.to_string()),
            ("Accept-Encoding", "identity".to_string()),
            ("Supported", screen::SUPPORTED.join(", ")),
        ]
    }

    /// Answers a non-INVITE request through a new server transaction.
    fn respond_new(
        &mut self,
        req: &Message,
        from: Origin,
        code: u16,
        headers: &[(&str, String)],
        body: Option<(&str, &[u8])>,
        now: Time,
    ) {
        let tag = req
            .header("to")
            .and_then(dialog::tag)
            .map(str::to_string)
            .unwrap_or_else(|| self.fresh_id());
        let bytes: Arc<[u8]> =
            response::build(req, from.addr, code, Some(&tag), headers, body).into();
        let mut tx = NonInviteServer::new(self.cfg.timers, from.reliable);
        let mut acts = Vec::new();
        tx.respond(code, bytes, now, &mut acts);
        let key = tx_key(req, method_of(req));
        self.server
            .insert(key.clone(), ServerTx::NonInvite { tx, to: from.addr });
        self.apply(&key, from.addr, acts, now);
    }

    /// Sends through an INVITE server transaction.
    fn respond_invite(&mut self, key: &str, code: u16, bytes: Vec<u8>, now: Time) {
        let mut acts = Vec::new();
        let Some(ServerTx::Invite { tx, to, .. }) = self.server.get_mut(key) else {
            return;
        };
        tx.respond(code, bytes.into(), now, &mut acts);
        let to = *to;
        self.apply(key, to, acts, now);
    }

    /// Carries out what a server transaction asked for, then files its next deadline.
    fn apply(&mut self, key: &str, to: SocketAddr, acts: Vec<Action>, now: Time) {
        for a in acts {
            match a {
                Action::Send(b) => self.transmit(to, b),
                Action::Terminated => {
                    self.server.remove(key);
                }
                Action::TimedOut => {
                    let call = match self.server.remove(key) {
                        Some(ServerTx::Invite { call, .. }) => call,
                        _ => None,
                    };
                    // A 2xx never acknowledged: the dialog is confirmed but the session ends
                    // with a BYE (RFC 3261 §13.3.1.4).
                    if let Some(call) = call
                        && self
                            .legs
                            .get(&call)
                            .is_some_and(|l| l.state == LegState::Accepted)
                    {
                        self.send_bye(call, now);
                        self.end(call, EndReason::AckTimeout);
                    }
                }
            }
        }
        self.schedule(TxRef::Server(key.to_string()));
    }

    /// Files a transaction's next deadline, if it has one.
    fn schedule(&mut self, tx: TxRef) {
        let due = match &tx {
            TxRef::Server(k) => match self.server.get(k) {
                Some(ServerTx::Invite { tx, .. }) => tx.poll_timeout(),
                Some(ServerTx::NonInvite { tx, .. }) => tx.poll_timeout(),
                None => None,
            },
            TxRef::Client(k) => self.client.get(k).and_then(|c| c.tx.poll_timeout()),
        };
        if let Some(t) = due {
            self.deadlines.push(Reverse((t, tx)));
        }
    }
}

/// The direction of an agreement, for callers that only need hold state.
pub fn on_hold(a: &Agreed) -> bool {
    a.remote.is_none() || matches!(a.direction, Direction::Inactive | Direction::RecvOnly)
}
