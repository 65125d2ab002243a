//! Transaction timers: when the endpoint is next due, and what happens then.

use super::*;

impl Endpoint {
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
