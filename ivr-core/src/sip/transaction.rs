//! SIP transactions (RFC 3261 §17, with RFC 6026's Accepted state), sans-IO: each machine
//! is given events and the time, and hands back what to send; its timers are data
//! ([`poll_timeout`](InviteServer::poll_timeout) / `handle_timeout`). Messages are opaque bytes
//! here: the layer above builds them.

use crate::vocab::Time;
use std::sync::Arc;

/// Timer base values (RFC 3261 §17.1.1.1): T1 500 ms, T2 4 s, T4 5 s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timers {
    /// RTT estimate.
    pub t1: u64,
    /// Longest retransmit interval.
    pub t2: u64,
    /// How long the network keeps a message.
    pub t4: u64,
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            t1: 500,
            t2: 4_000,
            t4: 5_000,
        }
    }
}

/// What a transaction asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send these bytes (again).
    Send(Arc<[u8]>),
    /// The transaction is over.
    Terminated,
    /// It gave up: an INVITE's 2xx was never acknowledged (end the call), a final response
    /// was never acknowledged, or a request we sent got no final response.
    TimedOut,
}

/// The timers every transaction kind uses: retransmit (with its current interval), give up,
/// and end (the wait that absorbs the peer's retransmissions). Deadlines are data.
#[derive(Clone, Copy, Debug, Default)]
struct Clock {
    retransmit: Option<(Time, u64)>,
    give_up: Option<Time>,
    end: Option<Time>,
}

/// Which timer fired.
enum Fired {
    /// Give up (Timers B, F, H; RFC 6026's 2xx give-up).
    GiveUp,
    /// The absorbing wait is over (Timers I, J, K).
    End,
    /// Retransmit now; the interval that was running.
    Retransmit(u64),
}

impl Clock {
    /// Retransmit from T1 (on unreliable transports) and give up at 64·T1.
    fn start(&mut self, t: &Timers, reliable: bool, now: Time) {
        self.retransmit = (!reliable).then_some((now.plus(t.t1), t.t1));
        self.give_up = Some(now.plus(64 * t.t1));
    }

    /// No more sending: only wait `wait` ms, then end.
    fn finish(&mut self, now: Time, wait: u64) {
        *self = Clock {
            end: Some(now.plus(wait)),
            ..Clock::default()
        };
    }

    /// The next deadline.
    fn next(&self) -> Option<Time> {
        [self.retransmit.map(|(t, _)| t), self.give_up, self.end]
            .into_iter()
            .flatten()
            .min()
    }

    /// The timer due at `now`, if any; giving up and ending stop every timer.
    fn fire(&mut self, now: Time) -> Option<Fired> {
        if self.give_up.is_some_and(|g| now >= g) {
            *self = Clock::default();
            return Some(Fired::GiveUp);
        }
        if self.end.is_some_and(|e| now >= e) {
            *self = Clock::default();
            return Some(Fired::End);
        }
        match self.retransmit {
            Some((at, interval)) if now >= at => Some(Fired::Retransmit(interval)),
            _ => None,
        }
    }

    /// The next retransmission, `interval` from now.
    fn again(&mut self, now: Time, interval: u64) {
        self.retransmit = Some((now.plus(interval), interval));
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum InvState {
    Proceeding,
    Accepted,
    Completed,
    Confirmed,
    Terminated,
}

/// INVITE server transaction.
#[derive(Clone, Debug)]
pub struct InviteServer {
    t: Timers,
    reliable: bool,
    state: InvState,
    last: Option<Arc<[u8]>>,
    clock: Clock,
}

impl InviteServer {
    /// A new transaction; the layer above sends 100 Trying through [`InviteServer::respond`]
    /// at once.
    pub fn new(t: Timers, reliable: bool) -> Self {
        InviteServer {
            t,
            reliable,
            state: InvState::Proceeding,
            last: None,
            clock: Clock::default(),
        }
    }

    /// Whether it is over.
    pub fn is_terminated(&self) -> bool {
        self.state == InvState::Terminated
    }

    /// The TU sends a response with status `code`.
    pub fn respond(&mut self, code: u16, bytes: Arc<[u8]>, now: Time, out: &mut Vec<Action>) {
        if !matches!(self.state, InvState::Proceeding | InvState::Accepted) {
            return;
        }
        self.last = Some(Arc::clone(&bytes));
        out.push(Action::Send(bytes));
        match code {
            100..=199 => {}
            200..=299 => {
                // RFC 6026: stay to retransmit the 2xx until the ACK, or give up at 64·T1.
                self.state = InvState::Accepted;
                self.clock.start(&self.t, self.reliable, now);
            }
            _ => {
                // Timer G (unreliable only) and Timer H.
                self.state = InvState::Completed;
                self.clock.start(&self.t, self.reliable, now);
            }
        }
    }

    /// The INVITE arrived again.
    pub fn retransmitted(&mut self, out: &mut Vec<Action>) {
        if matches!(
            self.state,
            InvState::Proceeding | InvState::Accepted | InvState::Completed
        ) && let Some(b) = &self.last
        {
            out.push(Action::Send(Arc::clone(b)));
        }
    }

    /// An ACK for this transaction arrived.
    pub fn ack(&mut self, now: Time, out: &mut Vec<Action>) {
        match self.state {
            InvState::Accepted => {
                self.state = InvState::Terminated;
                self.clock = Clock::default();
                out.push(Action::Terminated);
            }
            InvState::Completed => {
                // Timer I absorbs ACK retransmissions.
                self.state = InvState::Confirmed;
                self.clock
                    .finish(now, if self.reliable { 0 } else { self.t.t4 });
            }
            _ => {}
        }
    }

    /// When to call [`InviteServer::handle_timeout`].
    pub fn poll_timeout(&self) -> Option<Time> {
        self.clock.next()
    }

    /// Fires due timers.
    pub fn handle_timeout(&mut self, now: Time, out: &mut Vec<Action>) {
        match self.clock.fire(now) {
            Some(Fired::GiveUp) => {
                self.state = InvState::Terminated;
                out.push(Action::TimedOut);
            }
            Some(Fired::End) => {
                self.state = InvState::Terminated;
                out.push(Action::Terminated);
            }
            Some(Fired::Retransmit(interval)) => {
                if let Some(b) = &self.last {
                    out.push(Action::Send(Arc::clone(b)));
                }
                self.clock.again(now, (interval * 2).min(self.t.t2));
            }
            None => {}
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NiState {
    Trying,
    Proceeding,
    Completed,
    Terminated,
}

/// Non-INVITE server transaction (absorbs retransmissions; Timer J).
#[derive(Clone, Debug)]
pub struct NonInviteServer {
    t: Timers,
    reliable: bool,
    state: NiState,
    last: Option<Arc<[u8]>>,
    clock: Clock,
}

impl NonInviteServer {
    /// A new transaction.
    pub fn new(t: Timers, reliable: bool) -> Self {
        NonInviteServer {
            t,
            reliable,
            state: NiState::Trying,
            last: None,
            clock: Clock::default(),
        }
    }

    /// Whether it is over.
    pub fn is_terminated(&self) -> bool {
        self.state == NiState::Terminated
    }

    /// The TU responds.
    pub fn respond(&mut self, code: u16, bytes: Arc<[u8]>, now: Time, out: &mut Vec<Action>) {
        if matches!(self.state, NiState::Completed | NiState::Terminated) {
            return;
        }
        self.last = Some(Arc::clone(&bytes));
        out.push(Action::Send(bytes));
        if code >= 200 {
            self.state = NiState::Completed;
            // Timer J.
            self.clock
                .finish(now, if self.reliable { 0 } else { 64 * self.t.t1 });
        } else {
            self.state = NiState::Proceeding;
        }
    }

    /// The request arrived again.
    pub fn retransmitted(&mut self, out: &mut Vec<Action>) {
        if matches!(self.state, NiState::Proceeding | NiState::Completed)
            && let Some(b) = &self.last
        {
            out.push(Action::Send(Arc::clone(b)));
        }
    }

    /// When to call [`NonInviteServer::handle_timeout`].
    pub fn poll_timeout(&self) -> Option<Time> {
        self.clock.next()
    }

    /// Fires Timer J.
    pub fn handle_timeout(&mut self, now: Time, out: &mut Vec<Action>) {
        if let Some(Fired::End) = self.clock.fire(now) {
            self.state = NiState::Terminated;
            out.push(Action::Terminated);
        }
    }
}

/// Non-INVITE client transaction for requests we send (BYE, REFER, INFO, NOTIFY…):
/// Timers E (retransmit), F (give up) and K (absorb response retransmissions).
#[derive(Clone, Debug)]
pub struct NonInviteClient {
    t: Timers,
    reliable: bool,
    state: NiState,
    request: Arc<[u8]>,
    clock: Clock,
    /// The final response's status, once received.
    pub final_code: Option<u16>,
}

impl NonInviteClient {
    /// Sends `request` now.
    pub fn start(
        t: Timers,
        reliable: bool,
        request: Arc<[u8]>,
        now: Time,
        out: &mut Vec<Action>,
    ) -> Self {
        out.push(Action::Send(Arc::clone(&request)));
        // Timers E and F.
        let mut clock = Clock::default();
        clock.start(&t, reliable, now);
        NonInviteClient {
            t,
            reliable,
            state: NiState::Trying,
            request,
            clock,
            final_code: None,
        }
    }

    /// Whether it is over.
    pub fn is_terminated(&self) -> bool {
        self.state == NiState::Terminated
    }

    /// A response arrived.
    pub fn response(&mut self, code: u16, now: Time) {
        match (self.state, code) {
            (NiState::Trying | NiState::Proceeding, 100..=199) => {
                self.state = NiState::Proceeding;
            }
            (NiState::Trying | NiState::Proceeding, _) => {
                self.state = NiState::Completed;
                self.final_code = Some(code);
                // Timer K.
                self.clock
                    .finish(now, if self.reliable { 0 } else { self.t.t4 });
            }
            _ => {}
        }
    }

    /// When to call [`NonInviteClient::handle_timeout`].
    pub fn poll_timeout(&self) -> Option<Time> {
        self.clock.next()
    }

    /// Fires due timers.
    pub fn handle_timeout(&mut self, now: Time, out: &mut Vec<Action>) {
        match self.clock.fire(now) {
            Some(Fired::GiveUp) => {
                self.state = NiState::Terminated;
                out.push(Action::TimedOut);
            }
            Some(Fired::End) => {
                self.state = NiState::Terminated;
                out.push(Action::Terminated);
            }
            Some(Fired::Retransmit(interval)) => {
                out.push(Action::Send(Arc::clone(&self.request)));
                // In Proceeding, retransmit at T2 (§17.1.2.2).
                let next = if self.state == NiState::Proceeding {
                    self.t.t2
                } else {
                    (interval * 2).min(self.t.t2)
                };
                self.clock.again(now, next);
            }
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Arc<[u8]> {
        Arc::from(s.as_bytes())
    }

    #[test]
    fn invite_2xx_retransmits_doubling_to_t2_until_ack() {
        let mut tx = InviteServer::new(Timers::default(), false);
        let mut out = Vec::new();
        tx.respond(100, b("100"), Time(0), &mut out);
        tx.respond(200, b("200"), Time(0), &mut out);
        let mut sends = Vec::new();
        while let Some(t) = tx.poll_timeout() {
            if t.0 > 10_000 {
                break;
            }
            let mut o = Vec::new();
            tx.handle_timeout(t, &mut o);
            sends.extend(
                o.iter()
                    .filter(|a| matches!(a, Action::Send(_)))
                    .map(|_| t.0),
            );
        }
        // T1, then doubling: 500, 1500, 3500, 7500 (intervals 500, 1000, 2000, 4000 = T2).
        assert_eq!(sends, vec![500, 1500, 3500, 7500]);
        let mut o = Vec::new();
        tx.ack(Time(8_000), &mut o);
        assert_eq!(o, vec![Action::Terminated]);
    }

    #[test]
    fn invite_2xx_never_acked_gives_up_at_64_t1() {
        let mut tx = InviteServer::new(Timers::default(), false);
        let mut out = Vec::new();
        tx.respond(200, b("200"), Time(0), &mut out);
        let mut last = Vec::new();
        while let Some(t) = tx.poll_timeout() {
            let mut o = Vec::new();
            tx.handle_timeout(t, &mut o);
            if o.contains(&Action::TimedOut) {
                last.push(t.0);
                break;
            }
        }
        assert_eq!(last, vec![32_000]);
        assert!(tx.is_terminated());
    }

    #[test]
    fn invite_failure_timer_g_h_and_i() {
        let mut tx = InviteServer::new(Timers::default(), false);
        let mut out = Vec::new();
        tx.respond(486, b("486"), Time(0), &mut out);
        let mut o = Vec::new();
        tx.handle_timeout(Time(500), &mut o);
        assert_eq!(o, vec![Action::Send(b("486"))]);
        // A retransmitted INVITE gets the final response again; the ACK confirms.
        let mut o = Vec::new();
        tx.retransmitted(&mut o);
        assert_eq!(o, vec![Action::Send(b("486"))]);
        let mut o = Vec::new();
        tx.ack(Time(600), &mut o);
        assert!(o.is_empty());
        // Timer I (T4) then terminates; retransmissions stopped.
        assert_eq!(tx.poll_timeout(), Some(Time(5_600)));
        let mut o = Vec::new();
        tx.handle_timeout(Time(5_600), &mut o);
        assert_eq!(o, vec![Action::Terminated]);
        // Over TCP: no retransmissions, Timer I is 0.
        let mut tcp = InviteServer::new(Timers::default(), true);
        tcp.respond(486, b("486"), Time(0), &mut Vec::new());
        assert_eq!(tcp.poll_timeout(), Some(Time(32_000)));
    }

    #[test]
    fn non_invite_server_absorbs_and_timer_j() {
        let mut tx = NonInviteServer::new(Timers::default(), false);
        let mut o = Vec::new();
        tx.retransmitted(&mut o);
        assert!(o.is_empty(), "nothing to resend before a response");
        tx.respond(200, b("200"), Time(0), &mut o);
        let mut o = Vec::new();
        tx.retransmitted(&mut o);
        assert_eq!(o, vec![Action::Send(b("200"))]);
        assert_eq!(tx.poll_timeout(), Some(Time(32_000)));
        let mut o = Vec::new();
        tx.handle_timeout(Time(32_000), &mut o);
        assert_eq!(o, vec![Action::Terminated]);
    }

    #[test]
    fn non_invite_client_timers_e_f_k() {
        let mut o = Vec::new();
        let mut tx = NonInviteClient::start(Timers::default(), false, b("BYE"), Time(0), &mut o);
        assert_eq!(o, vec![Action::Send(b("BYE"))]);
        let mut sends = Vec::new();
        for _ in 0..4 {
            let t = tx.poll_timeout().expect("timer");
            let mut o = Vec::new();
            tx.handle_timeout(t, &mut o);
            if !o.is_empty() {
                sends.push(t.0);
            }
        }
        assert_eq!(sends, vec![500, 1500, 3500, 7500]);
        // A provisional moves retransmission to T2; the final ends it; Timer K then terminates.
        tx.response(100, Time(7_600));
        let t = tx.poll_timeout().expect("timer");
        let mut o = Vec::new();
        tx.handle_timeout(t, &mut o);
        assert_eq!(tx.poll_timeout(), Some(Time(t.0 + 4_000)));
        tx.response(200, Time(12_000));
        assert_eq!(tx.final_code, Some(200));
        assert_eq!(tx.poll_timeout(), Some(Time(17_000)));
        // Without any response: Timer F at 64·T1.
        let mut lost = NonInviteClient::start(
            Timers::default(),
            false,
            b("INFO"),
            Time(0),
            &mut Vec::new(),
        );
        let mut timed_out = None;
        while let Some(t) = lost.poll_timeout() {
            let mut o = Vec::new();
            lost.handle_timeout(t, &mut o);
            if o.contains(&Action::TimedOut) {
                timed_out = Some(t.0);
                break;
            }
        }
        assert_eq!(timed_out, Some(32_000));
    }
}
