//! The life of a call: the INVITE and its offer, our answer or refusal, the ACK, CANCEL,
//! hanging up, and ending every call at shutdown.

use super::*;

impl Endpoint {
    pub(super) fn on_invite(&mut self, req: Message, from: Origin, now: Time) {
        if self.draining || self.legs.len() >= self.cfg.max_calls {
            let ra = [("Retry-After", self.cfg.retry_after.to_string())];
            self.answer_stateless(&req, from.addr, 503, None, &ra);
            return;
        }
        let ip = from.addr.ip().to_canonical();
        if self.unconfirmed.get(&ip).copied().unwrap_or(0) >= self.cfg.flood.unconfirmed_per_source
        {
            self.refuse_flood(&req, from.addr);
            return;
        }
        let local_tag = self.fresh_id();
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
        self.apply(&key, from.addr, acts, now);
        self.by_dialog.insert(dialog.id.clone(), call);
        let sdp_session = self.ids.number();
        let offered = Event::Offered {
            call,
            call_id: dialog.id.call_id.clone(),
            from: req.header("from").unwrap_or("").to_string(),
            to: req.header("to").unwrap_or("").to_string(),
            source: from.addr,
            asserted: req
                .header("p-asserted-identity")
                .map(|v| v.split(',').next().unwrap_or(v).trim().to_string()),
            media: media.clone(),
        };
        self.legs.insert(
            call,
            Leg {
                state: LegState::Offered,
                answer_in_ack: media.is_none(),
                unconfirmed: true,
                invite: req,
                source: from.addr,
                invite_tx: key,
                dialog,
                media,
                rtp_port: 0,
                sdp_version: 0,
                sdp_session,
                refer_pending: false,
            },
        );
        *self.unconfirmed.entry(ip).or_default() += 1;
        self.event(offered);
    }

    /// The agreement for an offer in `body`; `None` when there is no body (no offer).
    pub(super) fn negotiate(&self, body: &[u8]) -> Result<Option<Agreed>, sdp::SdpError> {
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
    pub(super) fn local_sdp(&self, leg: &Leg) -> String {
        let ip = self.cfg.local.ip();
        let session = leg.sdp_session;
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

    pub(super) fn contact(&self) -> String {
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

    /// Sends 180 Ringing for a call not answered yet (before an answer delay); an INVITE
    /// retransmission is then answered with it.
    pub fn ring(&mut self, call: CallRef, now: Time) -> Result<(), EndpointError> {
        let contact = self.contact();
        let leg = self.legs.get(&call).ok_or(EndpointError::NoCall(call.0))?;
        if leg.state != LegState::Offered {
            return Err(EndpointError::WrongState(
                call.0,
                "only unanswered calls ring",
            ));
        }
        let bytes = response::build(
            &leg.invite,
            leg.source,
            180,
            Some(&leg.dialog.id.local_tag),
            &[("Contact", format!("<{contact}>"))],
            None,
        );
        let key = leg.invite_tx.clone();
        self.respond_invite(&key, 180, bytes, now);
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

    pub(super) fn end(&mut self, call: CallRef, reason: EndReason) {
        if let Some(leg) = self.legs.remove(&call) {
            self.by_dialog.remove(&leg.dialog.id);
            if leg.unconfirmed {
                self.confirmed_from(leg.source.ip().to_canonical());
            }
            self.event(Event::Ended { call, reason });
        }
    }

    pub(super) fn on_ack(&mut self, req: &Message, now: Time) {
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
                    self.send_bye(call, now);
                    return;
                }
            }
        }
        leg.state = LegState::Confirmed;
        let media = leg.media.clone();
        let first_ack = std::mem::take(&mut leg.unconfirmed);
        let source = leg.source.ip().to_canonical();
        self.server.remove(&key);
        if first_ack {
            self.confirmed_from(source);
        }
        if let Some(media) = media {
            self.event(Event::Confirmed { call, media });
        }
    }

    pub(super) fn on_cancel(&mut self, req: &Message, from: Origin, now: Time) {
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
}
