//! The SIP user agent server, sans-IO: it takes datagrams or framed stream messages with
//! their source and the time, runs the codec, screening, transactions and dialogs, and hands
//! back what to transmit and what happened to each call. The runtime (or a test) owns the
//! sockets and the clock and decides, per call, when to answer or hang up.
//!
//! Handled here: INVITE with an offer or without one (our offer in the 200, the answer in the
//! ACK), ACK, BYE both ways, CANCEL (200, then 487 for the INVITE), re-INVITE and UPDATE
//! (hold, resume, new address; 500 with Retry-After for an INVITE that overlaps one still
//! unanswered), OPTIONS in and out of dialogs, INFO bodies handed to the call, 481 for unknown
//! dialogs and transactions, 488 when no codec is common, 503 when full or draining, a BYE
//! when a 2xx is never acknowledged, and blind transfer by REFER (RFC 3515) followed through
//! its NOTIFYs to success, busy, no answer or failure.

use super::codec::{self, CodecError, Message, Start};
use super::dialog::{self, Dialog, DialogId};
use super::response;
use super::screen::{self, ACCEPT, Refusal};
use super::sdp::{self, Agreed, Direction};
use super::transaction::{Action, InviteServer, NonInviteClient, NonInviteServer, Timers};
use crate::flow::{Time, TransferOutcome};
use crate::media::g711::Law;
use std::collections::HashMap;
use std::collections::VecDeque;
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

/// Output of the endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
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

/// Why an application request on a call was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    /// No such call (it ended).
    #[error("no call {0}")]
    NoCall(u64),
    /// The call is not in a state for this (answering twice, hanging up before answer).
    #[error("call {0} cannot do that now: {1}")]
    WrongState(u64, &'static str),
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
    /// The last INVITE we answered carried no offer: the answer is in its ACK.
    answer_in_ack: bool,
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
    seed: u64,
    counter: u64,
    draining: bool,
    refused: u64,
    legs: HashMap<CallRef, Leg>,
    /// Dialog id → call, for in-dialog requests.
    by_dialog: HashMap<DialogId, CallRef>,
    server: HashMap<String, ServerTx>,
    client: HashMap<String, ClientTx>,
    out: VecDeque<Output>,
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
    m.header("content-type")
        .and_then(|c| c.split(';').next())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// The address a URI names, when it is an IP literal (with the default port 5060).
fn uri_addr(uri: &str) -> Option<SocketAddr> {
    let rest = uri
        .strip_prefix("sip:")
        .or_else(|| uri.strip_prefix("sips:"))?;
    let rest = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let end = rest.find([';', '?']).unwrap_or(rest.len());
    let hostport = &rest[..end];
    if let Ok(sa) = hostport.parse::<SocketAddr>() {
        return Some(sa);
    }
    let host = hostport.trim_start_matches('[').trim_end_matches(']');
    host.parse::<IpAddr>()
        .ok()
        .map(|ip| SocketAddr::new(ip, 5060))
}

impl Endpoint {
    /// A new endpoint. `seed` makes its tags and branches unique (the runtime passes random
    /// bits; tests pass a constant).
    pub fn new(cfg: EndpointConfig, seed: u64) -> Self {
        Endpoint {
            cfg,
            seed,
            counter: 0,
            draining: false,
            refused: 0,
            legs: HashMap::new(),
            by_dialog: HashMap::new(),
            server: HashMap::new(),
            client: HashMap::new(),
            out: VecDeque::new(),
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

    /// Ends every call, for shutdown once the grace period is over: answered calls get a BYE
    /// ([`Event::Ended`] follows as each is answered or times out), unanswered ones a 503 with
    /// Retry-After. New calls are refused from now on.
    pub fn end_all(&mut self, now: Time) {
        self.draining = true;
        let mut calls: Vec<(CallRef, LegState)> =
            self.legs.iter().map(|(c, l)| (*c, l.state)).collect();
        calls.sort_by_key(|(c, _)| *c);
        for (call, state) in calls {
            match state {
                LegState::Offered => {
                    let _ = self.reject(call, 503, now);
                }
                LegState::Accepted | LegState::Confirmed => self.send_bye(call, now),
                LegState::Ending => {}
            }
        }
    }

    /// The next output.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    fn unique(&mut self) -> String {
        self.counter += 1;
        format!("{:x}{:x}", self.seed, self.counter)
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
        let tag = format!(
            "{:x}",
            self.seed
                ^ req
                    .header("call-id")
                    .unwrap_or("")
                    .bytes()
                    .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
                    })
        );
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

    /// Handles one message from `source` (`reliable`: it came over TCP).
    pub fn receive(&mut self, bytes: &[u8], source: SocketAddr, reliable: bool, now: Time) {
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
        ct.tx.response(code, now);
        if code < 200 {
            return;
        }
        let (call, sent) = (ct.call, ct.method);
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
            self.apply(&key, to, acts);
            if !ack_2xx {
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
            "ACK" => self.on_ack(&req),
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
            .unwrap_or_else(|| self.unique());
        let bytes: Arc<[u8]> =
            response::build(req, from.addr, code, Some(&tag), headers, body).into();
        let mut tx = NonInviteServer::new(self.cfg.timers, from.reliable);
        let mut acts = Vec::new();
        tx.respond(code, bytes, now, &mut acts);
        let key = tx_key(req, method_of(req));
        self.server
            .insert(key.clone(), ServerTx::NonInvite { tx, to: from.addr });
        self.apply(&key, from.addr, acts);
    }

    /// Sends through an INVITE server transaction.
    fn respond_invite(&mut self, key: &str, code: u16, bytes: Vec<u8>, now: Time) {
        let mut acts = Vec::new();
        let Some(ServerTx::Invite { tx, to, .. }) = self.server.get_mut(key) else {
            return;
        };
        tx.respond(code, bytes.into(), now, &mut acts);
        let to = *to;
        self.apply(key, to, acts);
    }

    fn apply(&mut self, key: &str, to: SocketAddr, acts: Vec<Action>) {
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
                        self.send_bye(call, Time(0));
                        self.end(call, EndReason::AckTimeout);
                    }
                }
            }
        }
    }

    fn on_invite(&mut self, req: Message, from: Origin, now: Time) {
        if self.draining || self.legs.len() >= self.cfg.max_calls {
            let ra = [("Retry-After", self.cfg.retry_after.to_string())];
            self.answer_stateless(&req, from.addr, 503, None, &ra);
            return;
        }
        let local_tag = self.unique();
        let dialog = match Dialog::from_invite(&req, &local_tag) {
            Ok(d) => d,
            Err(e) => {
                let why = format!("{} ({e})", response::reason(e.status()));
                self.answer_stateless(&req, from.addr, e.status(), Some(&why), &[]);
                return;
            }
        };
        let media = match self.negotiate(&req.body) {
            Ok(m) => m,
            Err(e) => {
                let warn = [("Warning", format!("304 ivr \"{e}\""))];
                self.answer_stateless(&req, from.addr, 488, None, &warn);
                return;
            }
        };
        self.counter += 1;
        let call = CallRef(self.counter);
        let key = tx_key(&req, "INVITE");
        let mut tx = InviteServer::new(self.cfg.timers, from.reliable);
        let trying = response::build(&req, from.addr, 100, None, &[], None);
        let mut acts = Vec::new();
        tx.respond(100, trying.into(), now, &mut acts);
        self.server.insert(
            key.clone(),
            ServerTx::Invite {
                tx,
                to: from.addr,
                call: Some(call),
            },
        );
        self.apply(&key, from.addr, acts);
        self.by_dialog.insert(dialog.id.clone(), call);
        let offered = Event::Offered {
            call,
            call_id: dialog.id.call_id.clone(),
            from: req.header("from").unwrap_or("").to_string(),
            to: req.header("to").unwrap_or("").to_string(),
            media: media.clone(),
        };
        self.legs.insert(
            call,
            Leg {
                state: LegState::Offered,
                answer_in_ack: media.is_none(),
                invite: req,
                source: from.addr,
                invite_tx: key,
                dialog,
                media,
                rtp_port: 0,
                sdp_version: 0,
                refer_pending: false,
            },
        );
        self.event(offered);
    }

    /// The agreement for an offer in `body`; `None` when there is no body (no offer).
    fn negotiate(&self, body: &[u8]) -> Result<Option<Agreed>, sdp::SdpError> {
        if body.is_empty() {
            return Ok(None);
        }
        let text = std::str::from_utf8(body)
            .map_err(|_| sdp::SdpError::NotAcceptable("sdp is not utf-8".into()))?;
        sdp::parse_offer(text)?
            .negotiate(&self.cfg.prefer)
            .map(Some)
    }

    /// Our SDP for a leg: the answer to its offer, or our offer (both laws, events).
    fn local_sdp(&self, leg: &Leg) -> String {
        let ip = self.cfg.local.ip();
        let session = self.seed & 0xffff_ffff;
        match &leg.media {
            Some(a) if !leg.answer_in_ack => {
                sdp::write(a, ip, leg.rtp_port, session, leg.sdp_version)
            }
            _ => sdp::write_offer(
                &self.cfg.prefer,
                self.cfg.event_pt,
                ip,
                leg.rtp_port,
                session,
                leg.sdp_version,
            ),
        }
    }

    fn contact(&self) -> String {
        format!("sip:ivr@{}", self.cfg.local)
    }

    /// Answers a call with 200 OK; its media will use `rtp_port` on our address.
    pub fn answer(&mut self, call: CallRef, rtp_port: u16, now: Time) -> Result<(), EndpointError> {
        let contact = self.contact();
        let caps = self.capabilities();
        let leg = self
            .legs
            .get_mut(&call)
            .ok_or(EndpointError::NoCall(call.0))?;
        if leg.state != LegState::Offered {
            return Err(EndpointError::WrongState(call.0, "already answered"));
        }
        leg.rtp_port = rtp_port;
        leg.state = LegState::Accepted;
        let leg = &self.legs[&call];
        let sdp = self.local_sdp(leg);
        let mut headers = vec![("Contact", format!("<{contact}>"))];
        headers.extend(
            caps.into_iter()
                .filter(|(n, _)| *n == "Allow" || *n == "Supported"),
        );
        let bytes = response::build(
            &leg.invite,
            leg.source,
            200,
            Some(&leg.dialog.id.local_tag),
            &headers,
            Some(("application/sdp", sdp.as_bytes())),
        );
        let key = leg.invite_tx.clone();
        self.respond_invite(&key, 200, bytes, now);
        Ok(())
    }

    /// Declines a call that is not answered yet (e.g. 486, 480, 603).
    pub fn reject(&mut self, call: CallRef, code: u16, now: Time) -> Result<(), EndpointError> {
        let leg = self.legs.get(&call).ok_or(EndpointError::NoCall(call.0))?;
        if leg.state != LegState::Offered || !(300..=699).contains(&code) {
            return Err(EndpointError::WrongState(
                call.0,
                "only unanswered calls are rejected with 3xx-6xx",
            ));
        }
        let retry = [("Retry-After", self.cfg.retry_after.to_string())];
        let headers: &[(&str, String)] = if code == 503 { &retry } else { &[] };
        let bytes = response::build(
            &leg.invite,
            leg.source,
            code,
            Some(&leg.dialog.id.local_tag),
            headers,
            None,
        );
        let key = leg.invite_tx.clone();
        self.respond_invite(&key, code, bytes, now);
        self.end(call, EndReason::Rejected(code));
        Ok(())
    }

    /// Hangs up an answered call with BYE; [`Event::Ended`] follows when it is answered or
    /// times out.
    pub fn hangup(&mut self, call: CallRef, now: Time) -> Result<(), EndpointError> {
        let leg = self.legs.get(&call).ok_or(EndpointError::NoCall(call.0))?;
        match leg.state {
            LegState::Accepted | LegState::Confirmed => {
                self.send_bye(call, now);
                Ok(())
            }
            LegState::Ending => Ok(()),
            LegState::Offered => Err(EndpointError::WrongState(call.0, "not answered; reject it")),
        }
    }

    fn send_bye(&mut self, call: CallRef, now: Time) {
        if let Some(leg) = self.legs.get_mut(&call) {
            leg.state = LegState::Ending;
        }
        self.send_in_dialog(call, "BYE", &[], now);
    }

    /// Sends a request in a call's dialog through a new client transaction.
    fn send_in_dialog(
        &mut self,
        call: CallRef,
        method: &'static str,
        headers: &[(&str, String)],
        now: Time,
    ) {
        let branch = format!("z9hG4bK{}", self.unique());
        let via = format!("SIP/2.0/UDP {}", self.cfg.local);
        let contact = self.contact();
        let Some(leg) = self.legs.get_mut(&call) else {
            return;
        };
        let bytes: Arc<[u8]> = leg
            .dialog
            .request(method, &via, &branch, &contact, headers, None)
            .into();
        // Where it goes: the first loose route, or the remote target, when it is an address;
        // otherwise back where the INVITE came from (the usual case behind NAT).
        let next = leg
            .dialog
            .route_set
            .first()
            .and_then(|r| dialog::uri(r))
            .or(Some(leg.dialog.remote_target.as_str()))
            .and_then(uri_addr)
            .unwrap_or(leg.source);
        let mut acts = Vec::new();
        let tx = NonInviteClient::start(self.cfg.timers, false, Arc::clone(&bytes), now, &mut acts);
        let key = format!("{branch}|{}|{method}", self.cfg.local);
        self.client.insert(
            key,
            ClientTx {
                tx,
                to: next,
                call,
                method,
            },
        );
        for a in acts {
            if let Action::Send(b) = a {
                self.transmit(next, b);
            }
        }
    }

    /// Blind transfer (RFC 3515): REFER the caller to `target` (a SIP URI from the
    /// configuration). [`Event::Transferred`] follows, from the REFER's answer or the NOTIFYs.
    pub fn transfer(
        &mut self,
        call: CallRef,
        target: &str,
        now: Time,
    ) -> Result<(), EndpointError> {
        let leg = self.legs.get(&call).ok_or(EndpointError::NoCall(call.0))?;
        if leg.state != LegState::Confirmed {
            return Err(EndpointError::WrongState(
                call.0,
                "only an established call is transferred",
            ));
        }
        let headers = [
            ("Refer-To", format!("<{target}>")),
            ("Referred-By", format!("<{}>", self.contact())),
        ];
        self.send_in_dialog(call, "REFER", &headers, now);
        Ok(())
    }

    /// A NOTIFY about our REFER: its `message/sipfrag` body carries the transferee's status.
    fn on_notify(&mut self, call: CallRef, req: &Message, from: Origin, now: Time) {
        let pending = self.legs.get(&call).is_some_and(|l| l.refer_pending);
        let about_refer = req.header("event").is_some_and(|e| {
            e.split(';')
                .next()
                .is_some_and(|n| n.trim().eq_ignore_ascii_case("refer"))
        });
        if !pending || !about_refer {
            // No subscription of ours (RFC 6665 §4.1.3).
            self.respond_new(req, from, 481, &[], None, now);
            return;
        }
        self.respond_new(req, from, 200, &[], None, now);
        let code = sipfrag_status(&req.body);
        let terminated = req
            .header("subscription-state")
            .is_some_and(|s| s.trim().to_ascii_lowercase().starts_with("terminated"));
        let outcome = match code {
            Some(c) if c >= 200 => transfer_outcome(c),
            // Provisional: wait for the next NOTIFY, unless the subscription ended without one.
            _ if terminated => TransferOutcome::Failed,
            _ => return,
        };
        if let Some(leg) = self.legs.get_mut(&call) {
            leg.refer_pending = false;
        }
        self.event(Event::Transferred { call, outcome });
    }

    fn end(&mut self, call: CallRef, reason: EndReason) {
        if let Some(leg) = self.legs.remove(&call) {
            self.by_dialog.remove(&leg.dialog.id);
            self.event(Event::Ended { call, reason });
        }
    }

    fn on_ack(&mut self, req: &Message) {
        let Some(id) = DialogId::of_request(req) else {
            return;
        };
        let Some(&call) = self.by_dialog.get(&id) else {
            return;
        };
        // An answer, when our 200 carried the offer.
        let agreed = self.negotiate(&req.body).ok().flatten();
        let Some(leg) = self.legs.get_mut(&call) else {
            return;
        };
        if leg.state != LegState::Accepted {
            return;
        }
        // The 2xx transaction is done (RFC 6026: the ACK goes to the TU).
        let key = leg.invite_tx.clone();
        if leg.answer_in_ack {
            match agreed {
                Some(a) => {
                    leg.media = Some(a);
                    leg.answer_in_ack = false;
                }
                None => {
                    // No usable answer in the ACK: the session cannot start (§13.3.1.4).
                    self.server.remove(&key);
                    self.send_bye(call, Time(0));
                    return;
                }
            }
        }
        leg.state = LegState::Confirmed;
        let media = leg.media.clone();
        self.server.remove(&key);
        if let Some(media) = media {
            self.event(Event::Confirmed { call, media });
        }
    }

    fn on_cancel(&mut self, req: &Message, from: Origin, now: Time) {
        let invite_key = tx_key(req, "INVITE");
        let call = match self.server.get(&invite_key) {
            Some(ServerTx::Invite { call, .. }) => *call,
            _ => {
                self.respond_new(req, from, 481, &[], None, now);
                return;
            }
        };
        self.respond_new(req, from, 200, &[], None, now);
        if let Some(call) = call
            && let Some(leg) = self.legs.get(&call)
            && leg.state == LegState::Offered
        {
            let bytes = response::build(
                &leg.invite,
                leg.source,
                487,
                Some(&leg.dialog.id.local_tag),
                &[],
                None,
            );
            self.respond_invite(&invite_key, 487, bytes, now);
            self.end(call, EndReason::Cancelled);
        }
    }

    fn in_dialog(&mut self, req: Message, from: Origin, method: &str, now: Time) {
        let call = DialogId::of_request(&req).and_then(|id| self.by_dialog.get(&id).copied());
        let Some(call) = call else {
            self.respond_new(&req, from, 481, &[], None, now);
            return;
        };
        let Some(leg) = self.legs.get_mut(&call) else {
            self.respond_new(&req, from, 481, &[], None, now);
            return;
        };
        if let Err(e) = leg.dialog.receive(&req) {
            let reason = e.to_string();
            let status = e.status();
            self.respond_new(
                &req,
                from,
                status,
                &[("Warning", format!("399 ivr \"{reason}\""))],
                None,
                now,
            );
            return;
        }
        match method {
            "BYE" => {
                self.respond_new(&req, from, 200, &[], None, now);
                self.end(call, EndReason::RemoteBye);
            }
            "INFO" => {
                self.respond_new(&req, from, 200, &[], None, now);
                if !req.body.is_empty() {
                    let e = Event::Info {
                        call,
                        content_type: content_type(&req),
                        body: req.body,
                    };
                    self.event(e);
                }
            }
            "OPTIONS" => {
                let caps = self.capabilities();
                self.respond_new(&req, from, 200, &caps, None, now);
            }
            "INVITE" | "UPDATE" => self.refresh(call, req, from, method, now),
            "NOTIFY" => self.on_notify(call, &req, from, now),
            // We offer no reliable provisional responses.
            "PRACK" => self.respond_new(&req, from, 481, &[], None, now),
            // A peer asking us to transfer: we do not act on it (RFC 3515 §2.4.2).
            _ => self.respond_new(&req, from, 403, &[], None, now),
        }
    }

    /// re-INVITE or UPDATE: a new offer (or none: we offer, the answer comes in the ACK).
    fn refresh(&mut self, call: CallRef, req: Message, from: Origin, method: &str, now: Time) {
        let Some(leg) = self.legs.get(&call) else {
            return;
        };
        if method == "INVITE" && leg.state != LegState::Confirmed {
            // §14.2: an INVITE overlapping one still in progress.
            let ra = [("Retry-After", "1".to_string())];
            self.answer_stateless(&req, from.addr, 500, None, &ra);
            return;
        }
        let offer = match self.negotiate(&req.body) {
            Ok(o) => o,
            Err(e) => {
                // The old session goes on unchanged (RFC 3264 §8).
                let warn = [("Warning", format!("304 ivr \"{e}\""))];
                if method == "INVITE" {
                    self.invite_final(&req, from, 488, &warn, None, now);
                } else {
                    self.respond_new(&req, from, 488, &warn, None, now);
                }
                return;
            }
        };
        let contact = format!("<{}>", self.contact());
        let Some(leg) = self.legs.get_mut(&call) else {
            return;
        };
        let changed = offer.is_some() && offer != leg.media;
        if let Some(a) = &offer {
            leg.media = Some(a.clone());
            leg.sdp_version += 1;
        }
        let no_offer_invite = offer.is_none() && method == "INVITE";
        if no_offer_invite {
            // Offerless re-INVITE: our offer now, the answer in the ACK.
            leg.answer_in_ack = true;
            leg.sdp_version += 1;
        }
        let body = (offer.is_some() || no_offer_invite).then(|| self.local_sdp(&self.legs[&call]));
        let headers = [("Contact", contact)];
        let body = body.as_ref().map(|b| ("application/sdp", b.as_bytes()));
        if method == "INVITE" {
            if let Some(leg) = self.legs.get_mut(&call) {
                leg.state = LegState::Accepted;
                leg.invite_tx = tx_key(&req, "INVITE");
            }
            self.invite_final(&req, from, 200, &headers, body, now);
        } else {
            self.respond_new(&req, from, 200, &headers, body, now);
        }
        if changed && let Some(media) = offer {
            self.event(Event::MediaChanged { call, media });
        }
    }

    /// A final answer to a re-INVITE through its own INVITE server transaction.
    fn invite_final(
        &mut self,
        req: &Message,
        from: Origin,
        code: u16,
        headers: &[(&str, String)],
        body: Option<(&str, &[u8])>,
        now: Time,
    ) {
        let call = DialogId::of_request(req).and_then(|id| self.by_dialog.get(&id).copied());
        let key = tx_key(req, "INVITE");
        self.server.insert(
            key.clone(),
            ServerTx::Invite {
                tx: InviteServer::new(self.cfg.timers, from.reliable),
                to: from.addr,
                call: if code < 300 { call } else { None },
            },
        );
        let bytes = response::build(req, from.addr, code, None, headers, body);
        self.respond_invite(&key, code, bytes, now);
    }

    /// When [`Endpoint::handle_timeout`] is next due.
    pub fn poll_timeout(&self) -> Option<Time> {
        let server = self.server.values().filter_map(|s| match s {
            ServerTx::Invite { tx, .. } => tx.poll_timeout(),
            ServerTx::NonInvite { tx, .. } => tx.poll_timeout(),
        });
        let client = self.client.values().filter_map(|c| c.tx.poll_timeout());
        server.chain(client).min()
    }

    /// Runs the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Time) {
        let due: Vec<String> = self
            .server
            .iter()
            .filter(|(_, s)| {
                match s {
                    ServerTx::Invite { tx, .. } => tx.poll_timeout(),
                    ServerTx::NonInvite { tx, .. } => tx.poll_timeout(),
                }
                .is_some_and(|t| t <= now)
            })
            .map(|(k, _)| k.clone())
            .collect();
        for key in due {
            let mut acts = Vec::new();
            let to = match self.server.get_mut(&key) {
                Some(ServerTx::Invite { tx, to, .. }) => {
                    tx.handle_timeout(now, &mut acts);
                    *to
                }
                Some(ServerTx::NonInvite { tx, to }) => {
                    tx.handle_timeout(now, &mut acts);
                    *to
                }
                None => continue,
            };
            self.apply(&key, to, acts);
        }
        let due: Vec<String> = self
            .client
            .iter()
            .filter(|(_, c)| c.tx.poll_timeout().is_some_and(|t| t <= now))
            .map(|(k, _)| k.clone())
            .collect();
        for key in due {
            let Some(c) = self.client.get_mut(&key) else {
                continue;
            };
            let mut acts = Vec::new();
            c.tx.handle_timeout(now, &mut acts);
            let (to, call) = (c.to, c.call);
            for a in acts {
                match a {
                    Action::Send(b) => self.transmit(to, b),
                    Action::Terminated => {
                        self.client.remove(&key);
                    }
                    Action::TimedOut => {
                        let method = self.client.remove(&key).map_or("", |c| c.method);
                        if method == "REFER" {
                            self.event(Event::Transferred {
                                call,
                                outcome: TransferOutcome::Failed,
                            });
                        } else {
                            // A BYE nobody answered still ends the call.
                            self.end(call, EndReason::LocalBye);
                        }
                    }
                }
            }
        }
    }
}

/// The status code in a `message/sipfrag` body (`SIP/2.0 200 OK`).
fn sipfrag_status(body: &[u8]) -> Option<u16> {
    let text = std::str::from_utf8(body).ok()?;
    let line = text.lines().next()?;
    let code = line.strip_prefix("SIP/2.0 ")?.split_whitespace().next()?;
    code.parse().ok().filter(|c| (100..700).contains(c))
}

/// What a transferee's final status means for the flow's `transfer` handlers.
fn transfer_outcome(code: u16) -> TransferOutcome {
    match code {
        200..=299 => TransferOutcome::Success,
        486 | 600 => TransferOutcome::Busy,
        408 | 480 | 487 => TransferOutcome::NoAnswer,
        _ => TransferOutcome::Failed,
    }
}

/// The direction of an agreement, for callers that only need hold state.
pub fn on_hold(a: &Agreed) -> bool {
    a.remote.is_none() || matches!(a.direction, Direction::Inactive | Direction::RecvOnly)
}
