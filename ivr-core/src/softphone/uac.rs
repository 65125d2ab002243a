//! One outgoing call, sans-IO: the user agent client of the test softphone (`ivr call`).
//!
//! INVITE with an SDP offer (PCMU/PCMA and telephone-event), retransmitted on UDP (Timer A,
//! doubling) until a response, given up at 64·T1 (Timer B); provisional responses reported;
//! digest authentication answered once per challenge (401/407); every final response
//! acknowledged (non-2xx in the INVITE transaction, 2xx with a new ACK, again for each 2xx
//! retransmission); CANCEL before an answer (after a provisional, as RFC 3261 §9.1 asks), BYE
//! after; BYE and INFO (DTMF relay) through non-INVITE client transactions; the far end's BYE,
//! OPTIONS, INFO and NOTIFY answered with 200, a re-INVITE from the far end with 488 (the
//! softphone moves its own media only: [`Uac::reinvite`] offers a new address and codec in
//! the dialog, retransmitted until answered, the answer acknowledged).

use crate::media::g711::Law;
use crate::sip::codec::{self, Message, Start};
use crate::sip::dialog::{self, Dialog, DialogId};
use crate::sip::digest::Challenge;
use crate::sip::response;
use crate::sip::sdp::{self, Agreed};
use crate::sip::transaction::{Action, NonInviteClient, Timers};
use crate::vocab::{Key, Time};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;

/// Settings of one call.
#[derive(Clone, Debug)]
pub struct UacConfig {
    /// Our SIP address (Via, Contact).
    pub local: SocketAddr,
    /// Where every request goes (the server, or an outbound proxy).
    pub server: SocketAddr,
    /// Request-URI, e.g. `sip:940@127.0.0.1:5060`.
    pub target: String,
    /// Our user (the calling number).
    pub user: String,
    /// Our RTP address, offered in SDP.
    pub rtp: SocketAddr,
    /// Codecs offered, in preference order.
    pub prefer: Vec<Law>,
    /// telephone-event payload type offered.
    pub event_pt: u8,
    /// Transaction timers.
    pub timers: Timers,
    /// User name and password for digest challenges.
    pub credentials: Option<(String, String)>,
    /// The Call-ID to use (a test that reuses one on purpose); `None`: a new one.
    pub call_id: Option<String>,
}

/// What happened to the call.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UacEvent {
    /// A provisional response (100, 180, 183…).
    Progress {
        /// Status.
        code: u16,
        /// Reason phrase.
        reason: String,
    },
    /// Answered: the agreed media.
    Answered {
        /// The agreement from the 200's SDP answer.
        media: Agreed,
    },
    /// The call failed before it was answered (final response, or no response: 408).
    Failed {
        /// Status.
        code: u16,
        /// Reason phrase.
        reason: String,
    },
    /// An INFO we sent got its final response.
    InfoAnswered(u16),
    /// Our re-INVITE was answered: the media agreed now.
    Moved {
        /// The new agreement.
        media: Agreed,
    },
    /// Our re-INVITE was refused (or never answered: 408); the media stays as it was.
    MoveFailed(u16),
    /// The call is over.
    Ended {
        /// The far end hung up (BYE), rather than us.
        by_remote: bool,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// INVITE sent, nothing back yet.
    Calling,
    /// A provisional response came.
    Proceeding,
    /// 2xx received and acknowledged.
    Established,
    /// BYE sent.
    Terminating,
    /// Over.
    Ended,
}

struct Client {
    branch: String,
    method: &'static str,
    tx: NonInviteClient,
}

/// Our re-INVITE: retransmitted until answered (UDP), its 2xx acknowledged (and again for
/// each retransmission of it) until the transaction's time is up.
struct Reinvite {
    branch: String,
    cseq: u32,
    bytes: Arc<[u8]>,
    retransmit: Option<(Time, u64)>,
    give_up: Time,
    ack: Option<Arc<[u8]>>,
}

/// The user agent client of one call.
pub struct Uac {
    cfg: UacConfig,
    state: State,
    call_id: String,
    from: String,
    branch: String,
    cseq: u32,
    invite: Arc<[u8]>,
    /// Timer A (next retransmission, interval) and Timer B.
    retransmit: Option<(Time, u64)>,
    give_up: Option<Time>,
    /// The ACK of the last final response (resent for its retransmissions).
    ack: Option<Arc<[u8]>>,
    dialog: Option<Dialog>,
    challenged: bool,
    cancel_wanted: bool,
    clients: Vec<Client>,
    /// Our re-INVITEs: the one in progress, and answered ones kept a while to acknowledge
    /// retransmissions of their 2xx.
    reinvites: Vec<Reinvite>,
    counter: u64,
    seed: u64,
    out: VecDeque<(SocketAddr, Arc<[u8]>)>,
    events: VecDeque<UacEvent>,
}

impl std::fmt::Debug for Uac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Uac")
            .field("call_id", &self.call_id)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl Uac {
    /// Starts the call: the INVITE is the first thing to transmit.
    pub fn new(cfg: UacConfig, seed: u64, now: Time) -> Self {
        let tag = format!("{:x}", seed.rotate_left(17) ^ 0x5eed);
        let call_id = cfg
            .call_id
            .clone()
            .unwrap_or_else(|| format!("{:x}{:x}@{}", seed, now.0, cfg.local.ip()));
        let from = format!("<sip:{}@{}>;tag={tag}", cfg.user, cfg.local.ip());
        let mut u = Uac {
            state: State::Calling,
            call_id,
            from,
            branch: String::new(),
            cseq: 0,
            invite: Arc::from(&b""[..]),
            retransmit: None,
            give_up: None,
            ack: None,
            dialog: None,
            challenged: false,
            cancel_wanted: false,
            clients: Vec::new(),
            reinvites: Vec::new(),
            counter: 0,
            seed,
            out: VecDeque::new(),
            events: VecDeque::new(),
            cfg,
        };
        u.send_invite(None, now);
        u
    }

    /// The SIP Call-ID.
    pub fn call_id(&self) -> &str {
        &self.call_id
    }

    /// The RTP address offered last.
    pub fn rtp(&self) -> SocketAddr {
        self.cfg.rtp
    }

    /// Whether the call is over.
    pub fn is_ended(&self) -> bool {
        self.state == State::Ended
    }

    fn unique(&mut self) -> String {
        self.counter += 1;
        format!("{:x}{:x}", self.seed & 0xffff_ffff, self.counter)
    }

    fn send_invite(&mut self, auth: Option<(&str, String)>, now: Time) {
        self.cseq += 1;
        self.branch = format!("z9hG4bK{}", self.unique());
        let sdp = sdp::write_offer(
            &self.cfg.prefer,
            self.cfg.event_pt,
            self.cfg.rtp.ip(),
            self.cfg.rtp.port(),
            self.seed & 0xffff_ffff,
            0,
        );
        let mut m = format!(
            "INVITE {target} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch={branch};rport\r\n\
             Max-Forwards: 70\r\nFrom: {from}\r\nTo: <{target}>\r\nCall-ID: {call_id}\r\n\
             CSeq: {cseq} INVITE\r\nContact: <sip:{user}@{local}>\r\n\
             Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, NOTIFY\r\n\
             User-Agent: ivr call\r\n",
            target = self.cfg.target,
            local = self.cfg.local,
            branch = self.branch,
            from = self.from,
            call_id = self.call_id,
            cseq = self.cseq,
            user = self.cfg.user,
        );
        if let Some((name, value)) = auth {
            m.push_str(&format!("{name}: {value}\r\n"));
        }
        m.push_str(&format!(
            "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
            sdp.len()
        ));
        self.invite = Arc::from(m.into_bytes());
        self.out
            .push_back((self.cfg.server, Arc::clone(&self.invite)));
        self.retransmit = Some((now.plus(self.cfg.timers.t1), self.cfg.timers.t1));
        self.give_up = Some(now.plus(64 * self.cfg.timers.t1));
        self.state = State::Calling;
    }

    /// The next message to send, and where.
    pub fn poll_transmit(&mut self) -> Option<(SocketAddr, Arc<[u8]>)> {
        self.out.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<UacEvent> {
        self.events.pop_front()
    }

    /// When to call [`Uac::handle_timeout`].
    pub fn poll_timeout(&self) -> Option<Time> {
        let invite = [self.retransmit.map(|(t, _)| t), self.give_up];
        let re = self
            .reinvites
            .iter()
            .flat_map(|r| [r.retransmit.map(|(t, _)| t), Some(r.give_up)]);
        invite
            .into_iter()
            .chain(re)
            .flatten()
            .chain(self.clients.iter().filter_map(|c| c.tx.poll_timeout()))
            .min()
    }

    /// Runs the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Time) {
        if self.give_up.is_some_and(|t| t <= now) && self.state == State::Calling {
            self.finish_invite();
            self.state = State::Ended;
            self.events.push_back(UacEvent::Failed {
                code: 408,
                reason: "Request Timeout (no response to the INVITE)".into(),
            });
        }
        if let Some((t, interval)) = self.retransmit
            && t <= now
        {
            self.out
                .push_back((self.cfg.server, Arc::clone(&self.invite)));
            self.retransmit = Some((now.plus(interval * 2), interval * 2));
        }
        for r in &mut self.reinvites {
            if let Some((t, interval)) = r.retransmit
                && t <= now
            {
                self.out.push_back((self.cfg.server, Arc::clone(&r.bytes)));
                r.retransmit = Some((now.plus(interval * 2), interval * 2));
            }
        }
        let (done, keep): (Vec<Reinvite>, Vec<Reinvite>) = std::mem::take(&mut self.reinvites)
            .into_iter()
            .partition(|r| r.give_up <= now);
        self.reinvites = keep;
        for r in done {
            if r.ack.is_none() {
                self.events.push_back(UacEvent::MoveFailed(408));
            }
        }
        let mut ended = Vec::new();
        for (i, c) in self.clients.iter_mut().enumerate() {
            if c.tx.poll_timeout().is_some_and(|t| t <= now) {
                let mut acts = Vec::new();
                c.tx.handle_timeout(now, &mut acts);
                for a in acts {
                    match a {
                        Action::Send(b) => self.out.push_back((self.cfg.server, b)),
                        Action::TimedOut => ended.push((i, true)),
                        Action::Terminated => ended.push((i, false)),
                    }
                }
            }
        }
        for (i, timed_out) in ended.into_iter().rev() {
            let c = self.clients.remove(i);
            if timed_out && c.method == "BYE" && self.state == State::Terminating {
                self.end(false);
            }
            if timed_out && c.method == "INFO" {
                self.events.push_back(UacEvent::InfoAnswered(408));
            }
        }
    }

    fn finish_invite(&mut self) {
        self.retransmit = None;
        self.give_up = None;
    }

    fn end(&mut self, by_remote: bool) {
        if self.state != State::Ended {
            self.state = State::Ended;
            self.events.push_back(UacEvent::Ended { by_remote });
        }
    }

    /// Hangs up: CANCEL before an answer, BYE after.
    pub fn hangup(&mut self, now: Time) {
        match self.state {
            State::Calling => self.cancel_wanted = true,
            State::Proceeding => self.cancel(now),
            State::Established => {
                self.in_dialog("BYE", &[], None, now);
                self.state = State::Terminating;
            }
            State::Terminating | State::Ended => {}
        }
    }

    /// Sends a key by SIP INFO (`application/dtmf-relay`).
    pub fn send_info(&mut self, key: Key, duration_ms: u32, now: Time) {
        if self.state != State::Established {
            return;
        }
        let body = format!("Signal={key}\r\nDuration={duration_ms}\r\n");
        self.in_dialog(
            "INFO",
            &[],
            Some(("application/dtmf-relay", body.as_bytes())),
            now,
        );
    }

    /// Moves our media (a re-INVITE in the dialog): offers `rtp` and `prefer`. The answer
    /// comes as [`UacEvent::Moved`], a refusal as [`UacEvent::MoveFailed`].
    pub fn reinvite(&mut self, rtp: SocketAddr, prefer: &[Law], now: Time) {
        self.reinvite_as(rtp, prefer, "sendrecv", now);
    }

    /// A re-INVITE with the media direction `direction` (`inactive` holds the call,
    /// `sendrecv` resumes it).
    pub fn reinvite_as(&mut self, rtp: SocketAddr, prefer: &[Law], direction: &str, now: Time) {
        // One re-INVITE at a time (RFC 3261 §14.1): a new one once the last was answered.
        if self.state != State::Established || self.reinvites.iter().any(|r| r.ack.is_none()) {
            return;
        }
        let branch = format!("z9hG4bK{}", self.unique());
        let via = format!("SIP/2.0/UDP {}", self.cfg.local);
        let contact = format!("sip:{}@{}", self.cfg.user, self.cfg.local);
        self.cfg.rtp = rtp;
        self.cfg.prefer = prefer.to_vec();
        let version = self.counter;
        let sdp = sdp::write_offer(
            prefer,
            self.cfg.event_pt,
            rtp.ip(),
            rtp.port(),
            self.seed & 0xffff_ffff,
            version,
        )
        .replace("a=sendrecv", &format!("a={direction}"));
        let Some(d) = self.dialog.as_mut() else {
            return;
        };
        let bytes: Arc<[u8]> = d
            .request(
                "INVITE",
                &via,
                &branch,
                &contact,
                &[],
                Some(("application/sdp", sdp.as_bytes())),
            )
            .into();
        let cseq = d.local_cseq;
        self.out.push_back((self.cfg.server, Arc::clone(&bytes)));
        let t1 = self.cfg.timers.t1;
        self.reinvites.push(Reinvite {
            branch,
            cseq,
            bytes,
            retransmit: Some((now.plus(t1), t1)),
            give_up: now.plus(64 * t1),
            ack: None,
        });
    }

    fn on_reinvite_response(&mut self, m: &Message, code: u16, cseq_n: u32, _now: Time) {
        let Some(i) = self.reinvites.iter().position(|r| r.cseq == cseq_n) else {
            return;
        };
        let r = &mut self.reinvites[i];
        r.retransmit = None;
        match code {
            100..=199 => {}
            200..=299 => {
                if let Some(a) = &r.ack {
                    // A retransmitted 2xx: our ACK was lost.
                    self.out.push_back((self.cfg.server, Arc::clone(a)));
                    return;
                }
                let cseq = r.cseq;
                let branch = format!("z9hG4bK{}", self.unique());
                let via = format!("SIP/2.0/UDP {}", self.cfg.local);
                let contact = format!("sip:{}@{}", self.cfg.user, self.cfg.local);
                let Some(d) = self.dialog.as_mut() else {
                    return;
                };
                // The ACK of a 2xx carries the INVITE's sequence number.
                let next = d.local_cseq;
                d.local_cseq = cseq - 1;
                let ack: Arc<[u8]> = d.request("ACK", &via, &branch, &contact, &[], None).into();
                d.local_cseq = next;
                self.out.push_back((self.cfg.server, Arc::clone(&ack)));
                if let Some(r) = self.reinvites.get_mut(i) {
                    r.ack = Some(ack);
                    // Kept a while to answer 2xx retransmissions, then dropped by the timer.
                    r.give_up = _now.plus(64 * self.cfg.timers.t1);
                }
                let agreed = std::str::from_utf8(&m.body)
                    .ok()
                    .and_then(|b| sdp::parse_offer(b).ok())
                    .and_then(|o| o.negotiate(&self.cfg.prefer).ok());
                match agreed {
                    Some(media) => self.events.push_back(UacEvent::Moved { media }),
                    None => self.events.push_back(UacEvent::MoveFailed(488)),
                }
            }
            _ => {
                // The ACK of a non-2xx final belongs to its transaction: same branch.
                let Some(d) = self.dialog.as_ref() else {
                    return;
                };
                let ack = format!(
                    "ACK {target} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch={branch};rport\r\n\
                     Max-Forwards: 70\r\nFrom: {from}\r\nTo: {to}\r\nCall-ID: {call_id}\r\n\
                     CSeq: {cseq} ACK\r\nContent-Length: 0\r\n\r\n",
                    target = d.remote_target,
                    local = self.cfg.local,
                    branch = r.branch,
                    from = self.from,
                    to = m.header("to").unwrap_or(""),
                    call_id = self.call_id,
                    cseq = r.cseq,
                );
                self.out
                    .push_back((self.cfg.server, Arc::from(ack.into_bytes())));
                self.reinvites.remove(i);
                self.events.push_back(UacEvent::MoveFailed(code));
            }
        }
    }

    fn cancel(&mut self, now: Time) {
        // §9.1: the CANCEL copies the INVITE's Request-URI, Call-ID, From, To, CSeq number
        // and its Via (same branch).
        let m = format!(
            "CANCEL {target} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch={branch};rport\r\n\
             Max-Forwards: 70\r\nFrom: {from}\r\nTo: <{target}>\r\nCall-ID: {call_id}\r\n\
             CSeq: {cseq} CANCEL\r\nContent-Length: 0\r\n\r\n",
            target = self.cfg.target,
            local = self.cfg.local,
            branch = self.branch,
            from = self.from,
            call_id = self.call_id,
            cseq = self.cseq,
        );
        let mut acts = Vec::new();
        let tx = NonInviteClient::start(
            self.cfg.timers,
            false,
            Arc::from(m.into_bytes()),
            now,
            &mut acts,
        );
        self.push_actions(acts);
        self.clients.push(Client {
            branch: self.branch.clone(),
            method: "CANCEL",
            tx,
        });
        self.cancel_wanted = false;
    }

    fn push_actions(&mut self, acts: Vec<Action>) {
        for a in acts {
            if let Action::Send(b) = a {
                self.out.push_back((self.cfg.server, b));
            }
        }
    }

    fn in_dialog(
        &mut self,
        method: &'static str,
        headers: &[(&str, String)],
        body: Option<(&str, &[u8])>,
        now: Time,
    ) {
        let branch = format!("z9hG4bK{}", self.unique());
        let via = format!("SIP/2.0/UDP {}", self.cfg.local);
        let contact = format!("sip:{}@{}", self.cfg.user, self.cfg.local);
        let Some(d) = self.dialog.as_mut() else {
            return;
        };
        let bytes: Arc<[u8]> = d
            .request(method, &via, &branch, &contact, headers, body)
            .into();
        let mut acts = Vec::new();
        let tx = NonInviteClient::start(self.cfg.timers, false, bytes, now, &mut acts);
        self.push_actions(acts);
        self.clients.push(Client { branch, method, tx });
    }

    /// Takes what arrived from the network.
    pub fn handle_input(&mut self, input: crate::sip::Input<'_>, now: Time) {
        match input {
            crate::sip::Input::Message { bytes, from, .. } => self.receive(bytes, from, now),
        }
    }

    /// Handles a datagram from the network.
    fn receive(&mut self, bytes: &[u8], source: SocketAddr, now: Time) {
        let Ok(m) = codec::parse_datagram(bytes) else {
            return;
        };
        if m.header("call-id") != Some(self.call_id.as_str()) {
            return;
        }
        match &m.start {
            Start::Response { code, reason } => {
                let (code, reason) = (*code, reason.clone());
                self.on_response(&m, code, reason, now);
            }
            Start::Request { method, .. } => {
                let method = method.clone();
                self.on_request(&m, &method, source, now);
            }
        }
    }

    fn on_request(&mut self, req: &Message, method: &str, source: SocketAddr, now: Time) {
        let code = match method {
            "ACK" => return,
            "BYE" => {
                self.end(true);
                200
            }
            "OPTIONS" | "INFO" | "NOTIFY" => 200,
            "INVITE" | "UPDATE" => 488,
            // A transfer is accepted and reported as begun, never as finished: the test phone
            // places no second call (a far end whose transfer never completes).
            "REFER" if self.state == State::Established => 202,
            _ => 501,
        };
        let bytes = response::build(req, source, code, None, &[], None);
        self.out.push_back((source, Arc::from(bytes)));
        if code == 202 {
            self.in_dialog(
                "NOTIFY",
                &[
                    ("Event", "refer".to_string()),
                    ("Subscription-State", "active;expires=60".to_string()),
                ],
                Some(("message/sipfrag", b"SIP/2.0 100 Trying\r\n")),
                now,
            );
        }
    }

    fn top_branch(m: &Message) -> Option<String> {
        let via = m.values("via").into_iter().next()?;
        via.split(';')
            .filter_map(|p| p.split_once('='))
            .find(|(n, _)| n.trim().eq_ignore_ascii_case("branch"))
            .map(|(_, v)| v.trim().to_string())
    }

    fn on_response(&mut self, m: &Message, code: u16, reason: String, now: Time) {
        let method = m
            .header("cseq")
            .and_then(|c| c.split_whitespace().nth(1))
            .unwrap_or("")
            .to_ascii_uppercase();
        if method != "INVITE" {
            let branch = Self::top_branch(m).unwrap_or_default();
            if let Some(i) = self
                .clients
                .iter()
                .position(|c| c.branch == branch && c.method == method)
            {
                let c = &mut self.clients[i];
                let was_final = c.tx.final_code.is_some();
                c.tx.response(code, now);
                if code >= 200 && !was_final {
                    match c.method {
                        "BYE" => self.end(false),
                        "INFO" => self.events.push_back(UacEvent::InfoAnswered(code)),
                        _ => {}
                    }
                }
            }
            return;
        }
        let cseq_n: u32 = m
            .header("cseq")
            .and_then(|c| c.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        if self.reinvites.iter().any(|r| r.cseq == cseq_n) {
            self.on_reinvite_response(m, code, cseq_n, now);
            return;
        }
        if cseq_n != self.cseq {
            return;
        }
        match code {
            100..=199 => {
                if matches!(self.state, State::Calling | State::Proceeding) {
                    self.retransmit = None;
                    self.give_up = None;
                    if self.state == State::Calling {
                        self.state = State::Proceeding;
                    }
                    self.events.push_back(UacEvent::Progress { code, reason });
                    if self.cancel_wanted {
                        self.cancel(now);
                    }
                }
            }
            200..=299 => self.on_2xx(m, now),
            _ => self.on_failure(m, code, reason, now),
        }
    }

    fn on_2xx(&mut self, m: &Message, now: Time) {
        if matches!(self.state, State::Established | State::Terminating) {
            // A retransmitted 2xx: our ACK was lost.
            if let Some(a) = &self.ack {
                self.out.push_back((self.cfg.server, Arc::clone(a)));
            }
            return;
        }
        if !matches!(self.state, State::Calling | State::Proceeding) {
            return;
        }
        self.finish_invite();
        let to = m.header("to").unwrap_or("").to_string();
        let remote_target = m
            .values("contact")
            .first()
            .and_then(|c| dialog::uri(c))
            .unwrap_or(self.cfg.target.as_str())
            .to_string();
        let mut route_set: Vec<String> = m
            .values("record-route")
            .into_iter()
            .map(str::to_string)
            .collect();
        // A UAC uses the Record-Route in reverse (§12.1.2).
        route_set.reverse();
        let mut d = Dialog {
            id: DialogId {
                call_id: self.call_id.clone(),
                local_tag: dialog::tag(&self.from).unwrap_or("").to_string(),
                remote_tag: dialog::tag(&to).unwrap_or("").to_string(),
            },
            local: self.from.clone(),
            remote: to,
            remote_target,
            route_set,
            // The ACK carries the INVITE's number; `request` adds one.
            local_cseq: self.cseq - 1,
            remote_cseq: 0,
        };
        let branch = format!("z9hG4bK{}", self.unique());
        let via = format!("SIP/2.0/UDP {}", self.cfg.local);
        let contact = format!("sip:{}@{}", self.cfg.user, self.cfg.local);
        let ack: Arc<[u8]> = d.request("ACK", &via, &branch, &contact, &[], None).into();
        self.out.push_back((self.cfg.server, Arc::clone(&ack)));
        self.ack = Some(ack);
        self.dialog = Some(d);
        self.state = State::Established;
        let agreed = std::str::from_utf8(&m.body)
            .ok()
            .and_then(|b| sdp::parse_offer(b).ok())
            .and_then(|o| o.negotiate(&self.cfg.prefer).ok());
        match agreed {
            Some(media) if !self.cancel_wanted => {
                self.events.push_back(UacEvent::Answered { media })
            }
            Some(_) => self.hangup(now),
            None => {
                self.events.push_back(UacEvent::Failed {
                    code: 488,
                    reason: "the answer has no PCMU or PCMA".into(),
                });
                self.hangup(now);
            }
        }
    }

    fn on_failure(&mut self, m: &Message, code: u16, reason: String, now: Time) {
        // The ACK of a non-2xx final is part of the INVITE transaction (§17.1.1.3): same
        // branch, the To of the response.
        let ack = format!(
            "ACK {target} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch={branch};rport\r\n\
             Max-Forwards: 70\r\nFrom: {from}\r\nTo: {to}\r\nCall-ID: {call_id}\r\n\
             CSeq: {cseq} ACK\r\nContent-Length: 0\r\n\r\n",
            target = self.cfg.target,
            local = self.cfg.local,
            branch = self.branch,
            from = self.from,
            to = m.header("to").unwrap_or(""),
            call_id = self.call_id,
            cseq = self.cseq,
        );
        let ack: Arc<[u8]> = Arc::from(ack.into_bytes());
        self.out.push_back((self.cfg.server, Arc::clone(&ack)));
        if !matches!(self.state, State::Calling | State::Proceeding) {
            return;
        }
        self.finish_invite();
        self.ack = Some(ack);
        let header = match code {
            401 => Some(("www-authenticate", "Authorization")),
            407 => Some(("proxy-authenticate", "Proxy-Authorization")),
            _ => None,
        };
        if let (Some((challenge, answer)), Some((user, pass)), false) =
            (header, self.cfg.credentials.clone(), self.challenged)
            && let Some(c) = m.header(challenge).and_then(|v| Challenge::parse(v).ok())
        {
            self.challenged = true;
            let cnonce = self.unique();
            let value = c.answer(&user, &pass, "INVITE", &self.cfg.target, &cnonce, 1);
            self.send_invite(Some((answer, value)), now);
            return;
        }
        self.state = State::Ended;
        self.events.push_back(UacEvent::Failed { code, reason });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::Input;
    use crate::sip::endpoint::{Endpoint, EndpointConfig, Event, Output};

    fn cfg(credentials: Option<(String, String)>) -> UacConfig {
        UacConfig {
            local: "127.0.0.1:5062".parse().expect("addr"),
            server: "127.0.0.1:5060".parse().expect("addr"),
            target: "sip:940@127.0.0.1:5060".into(),
            user: "+966500000009".into(),
            rtp: "127.0.0.1:30000".parse().expect("addr"),
            prefer: vec![Law::Pcma, Law::Pcmu],
            event_pt: 101,
            timers: Timers::default(),
            credentials,
            call_id: None,
        }
    }

    /// Moves messages between the UAC and our own endpoint until both are quiet.
    fn pump(uac: &mut Uac, ep: &mut Endpoint, now: Time) -> Vec<Event> {
        let me: SocketAddr = "127.0.0.1:5062".parse().expect("addr");
        let mut events = Vec::new();
        loop {
            let mut moved = false;
            while let Some((_, b)) = uac.poll_transmit() {
                moved = true;
                ep.handle_input(Input::udp(&b, me), now);
            }
            while let Some(o) = ep.poll_output() {
                moved = true;
                match o {
                    Output::Transmit { bytes, .. } => uac.handle_input(
                        Input::udp(&bytes, "127.0.0.1:5060".parse().expect("addr")),
                        now,
                    ),
                    Output::Event(e) => events.push(e),
                }
            }
            if !moved {
                return events;
            }
        }
    }

    #[test]
    fn a_call_to_our_endpoint_answers_sends_info_and_hangs_up() {
        let mut ep = Endpoint::new(EndpointConfig::default(), 7);
        let mut uac = Uac::new(cfg(None), 42, Time(0));
        let events = pump(&mut uac, &mut ep, Time(0));
        let Some(Event::Offered { call, media, .. }) = events.first().cloned() else {
            panic!("{events:?}")
        };
        assert_eq!(
            media.map(|m| m.law),
            Some(Law::Pcmu),
            "the server's preference"
        );
        assert_eq!(
            uac.poll_event(),
            Some(UacEvent::Progress {
                code: 100,
                reason: "Trying".into()
            })
        );
        ep.answer(call, 20_000, Time(10)).expect("answer");
        let events = pump(&mut uac, &mut ep, Time(10));
        assert!(matches!(events[0], Event::Confirmed { .. }), "{events:?}");
        let Some(UacEvent::Answered { media }) = uac.poll_event() else {
            panic!()
        };
        assert_eq!(media.remote.map(|r| r.1), Some(20_000));
        uac.send_info(Key::D5, 160, Time(20));
        let events = pump(&mut uac, &mut ep, Time(20));
        assert!(
            matches!(&events[0], Event::Info { body, .. } if body.starts_with(b"Signal=5")),
            "{events:?}"
        );
        assert_eq!(uac.poll_event(), Some(UacEvent::InfoAnswered(200)));
        uac.hangup(Time(30));
        let events = pump(&mut uac, &mut ep, Time(30));
        assert!(matches!(events[0], Event::Ended { .. }), "{events:?}");
        assert_eq!(uac.poll_event(), Some(UacEvent::Ended { by_remote: false }));
        assert!(uac.is_ended());
    }

    #[test]
    fn the_far_end_hangs_up_and_refusals_are_acknowledged() {
        let mut ep = Endpoint::new(EndpointConfig::default(), 7);
        let mut uac = Uac::new(cfg(None), 43, Time(0));
        let events = pump(&mut uac, &mut ep, Time(0));
        let Some(Event::Offered { call, .. }) = events.first().cloned() else {
            panic!()
        };
        ep.answer(call, 20_000, Time(1)).expect("answer");
        pump(&mut uac, &mut ep, Time(1));
        ep.hangup(call, Time(2)).expect("hangup");
        let events = pump(&mut uac, &mut ep, Time(2));
        assert!(matches!(events[0], Event::Ended { .. }), "our 200 ends it");
        let all: Vec<UacEvent> = std::iter::from_fn(|| uac.poll_event()).collect();
        assert_eq!(all.last(), Some(&UacEvent::Ended { by_remote: true }));
        // A busy server: 486, acknowledged, reported.
        let mut uac = Uac::new(cfg(None), 44, Time(0));
        let events = pump(&mut uac, &mut ep, Time(100));
        let Some(Event::Offered { call, .. }) = events.first().cloned() else {
            panic!()
        };
        ep.reject(call, 486, Time(101)).expect("reject");
        pump(&mut uac, &mut ep, Time(101));
        let all: Vec<UacEvent> = std::iter::from_fn(|| uac.poll_event()).collect();
        assert!(
            matches!(all.last(), Some(UacEvent::Failed { code: 486, .. })),
            "{all:?}"
        );
        // The endpoint got its ACK: no 486 retransmission after Timer G.
        ep.handle_timeout(Time(700));
        assert!(ep.poll_output().is_none(), "acknowledged");
    }

    #[test]
    fn cancel_before_answer_and_timeouts() {
        let mut ep = Endpoint::new(EndpointConfig::default(), 7);
        let mut uac = Uac::new(cfg(None), 45, Time(0));
        pump(&mut uac, &mut ep, Time(0));
        uac.hangup(Time(5));
        let events = pump(&mut uac, &mut ep, Time(5));
        assert!(
            events.iter().any(|e| matches!(e, Event::Ended { .. })),
            "{events:?}"
        );
        let all: Vec<UacEvent> = std::iter::from_fn(|| uac.poll_event()).collect();
        assert!(
            matches!(all.last(), Some(UacEvent::Failed { code: 487, .. })),
            "{all:?}"
        );
        // Nobody there: retransmissions at 500, 1500, 3500… then 408 at 32 s.
        let mut lonely = Uac::new(cfg(None), 46, Time(0));
        let mut sends = 0;
        while lonely.poll_transmit().is_some() {
            sends += 1;
        }
        while let Some(t) = lonely.poll_timeout() {
            lonely.handle_timeout(t);
            while lonely.poll_transmit().is_some() {
                sends += 1;
            }
            if lonely.is_ended() {
                break;
            }
        }
        assert_eq!(sends, 7, "INVITE at 0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s");
        assert!(matches!(
            lonely.poll_event(),
            Some(UacEvent::Failed { code: 408, .. })
        ));
    }

    #[test]
    fn digest_challenges_are_answered_once() {
        let mut uac = Uac::new(cfg(Some(("1000".into(), "secret".into()))), 47, Time(0));
        let (_, invite) = uac.poll_transmit().expect("INVITE");
        let req = codec::parse_datagram(&invite).expect("parses");
        let src: SocketAddr = "127.0.0.1:5062".parse().expect("addr");
        let challenge = response::build(
            &req,
            src,
            401,
            Some("srv"),
            &[(
                "WWW-Authenticate",
                "Digest realm=\"pbx\", nonce=\"n1\", qop=\"auth\"".to_string(),
            )],
            None,
        );
        uac.handle_input(Input::udp(&challenge, src), Time(10));
        let (_, ack) = uac.poll_transmit().expect("ACK for the 401");
        assert!(ack.starts_with(b"ACK "));
        let (_, again) = uac.poll_transmit().expect("INVITE with credentials");
        let again = codec::parse_datagram(&again).expect("parses");
        let auth = again.header("authorization").expect("answered");
        assert!(auth.contains("username=\"1000\"") && auth.contains("realm=\"pbx\""));
        assert_eq!(again.header("cseq"), Some("2 INVITE"));
        // A second challenge is a failure, not a loop.
        let challenge = response::build(
            &again,
            src,
            401,
            Some("srv"),
            &[(
                "WWW-Authenticate",
                "Digest realm=\"pbx\", nonce=\"n2\"".to_string(),
            )],
            None,
        );
        uac.handle_input(Input::udp(&challenge, src), Time(20));
        assert!(matches!(
            uac.poll_event(),
            Some(UacEvent::Failed { code: 401, .. })
        ));
    }
}
