//! Transaction timers: every deadline sits in one queue, earliest first; the endpoint is due
//! when the earliest is, and handling a deadline files the transaction's next one.

use super::*;

impl Endpoint {
    /// When [`Endpoint::handle_timeout`] is next due. It may be a little early (a deadline
    /// that moved): then handling it does nothing.
    pub fn poll_timeout(&self) -> Option<Time> {
        self.deadlines.peek().map(|Reverse((t, _))| *t)
    }

    /// Runs the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Time) {
        let mut due = Vec::new();
        while let Some(Reverse((t, _))) = self.deadlines.peek()
            && *t <= now
        {
            if let Some(Reverse((_, tx))) = self.deadlines.pop() {
                due.push(tx);
            }
        }
        due.sort();
        due.dedup();
        for tx in due {
            match tx {
                TxRef::Server(key) => self.server_timeout(&key, now),
                TxRef::Client(key) => self.client_timeout(&key, now),
            }
        }
    }

    fn server_timeout(&mut self, key: &str, now: Time) {
        let mut acts = Vec::new();
        let to = match self.server.get_mut(key) {
            Some(ServerTx::Invite { tx, to, .. })
                if tx.poll_timeout().is_some_and(|t| t <= now) =>
            {
                tx.handle_timeout(now, &mut acts);
                *to
            }
            Some(ServerTx::NonInvite { tx, to }) if tx.poll_timeout().is_some_and(|t| t <= now) => {
                tx.handle_timeout(now, &mut acts);
                *to
            }
            // Ended, or its deadline moved on (already filed again).
            _ => return,
        };
        self.apply(key, to, acts, now);
    }

    fn client_timeout(&mut self, key: &str, now: Time) {
        let Some(c) = self
            .client
            .get_mut(key)
            .filter(|c| c.tx.poll_timeout().is_some_and(|t| t <= now))
        else {
            return;
        };
        let mut acts = Vec::new();
        c.tx.handle_timeout(now, &mut acts);
        let (to, call) = (c.to, c.call);
        for a in acts {
            match a {
                Action::Send(b) => self.transmit(to, b),
                Action::Terminated => {
                    self.client.remove(key);
                }
                Action::TimedOut => {
                    let method = self.client.remove(key).map_or("", |c| c.method);
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
        self.schedule(TxRef::Client(key.to_string()));
    }
}
