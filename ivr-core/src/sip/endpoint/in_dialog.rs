//! Requests inside an established call: BYE, INFO, OPTIONS, re-INVITE and UPDATE, our BYE
//! and REFER, and the NOTIFYs that report a transfer.

use super::*;

impl Endpoint {
    pub(super) fn in_dialog(&mut self, req: Message, from: Origin, method: &str, now: Time) {
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
    pub(super) fn refresh(
        &mut self,
        call: CallRef,
        req: Message,
        from: Origin,
        method: &str,
        now: Time,
    ) {
        let Some(leg) = self.legs.get(&call) else {
            return;
        };
        if method == "UPDATE"
            && !req.body.is_empty()
            && leg.answer_in_ack
            && leg.state == LegState::Accepted
        {
            // Glare (RFC 3311 §5.2): our offer is still waiting for its answer in the ACK.
            self.respond_new(&req, from, 491, &[], None, now);
            return;
        }
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
    pub(super) fn invite_final(
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

    pub(super) fn send_bye(&mut self, call: CallRef, now: Time) {
        if let Some(leg) = self.legs.get_mut(&call) {
            leg.state = LegState::Ending;
        }
        self.send_in_dialog(call, "BYE", &[], now);
    }

    /// Sends a request in a call's dialog through a new client transaction.
    pub(super) fn send_in_dialog(
        &mut self,
        call: CallRef,
        method: &'static str,
        headers: &[(&str, String)],
        now: Time,
    ) {
        let branch = format!("z9hG4bK{}", self.fresh_id());
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
            key.clone(),
            ClientTx {
                tx,
                to: next,
                call,
                method,
            },
        );
        self.schedule(TxRef::Client(key));
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
    pub(super) fn on_notify(&mut self, call: CallRef, req: &Message, from: Origin, now: Time) {
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
