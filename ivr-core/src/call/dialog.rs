//! The SIP side of a call: the answer acknowledged (media made, the script started), media
//! changed by a re-INVITE or UPDATE (followed; hold stops our audio), RTP inactivity, and the
//! end — by the caller, by this side, or by the SIP layer.

use super::machine::{Call, Phase};
use super::media::Media;
use super::messages::{CallEvent, HangupBy, Output};
use super::model::Model;
use super::timers::Timer;
use super::{LatchFrom, MediaPlan};
use crate::flow;
use crate::media::latch::LatchRules;
use crate::media::session::{MediaConfig, MediaSession};
use crate::sip::endpoint::{Command, EndReason, Event};
use crate::sip::sdp::{Agreed, Direction};
use crate::vocab::Time;
use std::net::SocketAddr;
use std::sync::Arc;

impl Call {
    pub(super) fn check_inactivity(&mut self, now: Time) {
        let limit = self.config.rtp_inactivity_ms;
        if limit == 0 || !self.far_sends || self.hung_up {
            return;
        }
        let last = self
            .media
            .as_ref()
            .and_then(Media::last_received)
            .map_or(self.inactivity_from, |t| t.max(self.inactivity_from));
        if now.since(last) >= limit {
            self.outcome = Some("rtp_timeout".into());
            self.hang_up("rtp_timeout", now);
        } else {
            self.timers.set(Timer::Inactivity, last.plus(limit));
        }
    }
    pub(super) fn on_sip(&mut self, e: Event, now: Time) {
        match e {
            Event::Confirmed { media, .. } => self.confirmed(&media, now),
            Event::MediaChanged { media, .. } => self.media_changed(&media, now),
            Event::Info {
                content_type, body, ..
            } => {
                if !self.hung_up
                    && let Some(m) = self.media.as_mut()
                {
                    m.info(&content_type, &body, now);
                }
            }
            Event::Transferred { outcome, .. } => {
                let Some(i) = self.transfer.take() else {
                    self.emit(CallEvent::Warning(format!(
                        "transfer outcome {} after the call stopped waiting for it",
                        outcome.as_str()
                    )));
                    return;
                };
                self.timers.cancel(Timer::Transfer);
                if let Some(r) = self.record.transfers.get_mut(i) {
                    r.outcome = outcome.as_str().into();
                }
                self.emit(CallEvent::TransferEnded {
                    outcome,
                    timed_out: false,
                });
                self.flow.handle_input(flow::Input::Transfer(outcome), now);
            }
            Event::Ended { reason, .. } => self.sip_ended(reason, now),
            // A call machine is made for an offer; another one is not for this call.
            Event::Offered { .. } => {}
        }
    }
    /// Who may set the latch: the IPs the signalling named (the SDP address in force and the
    /// INVITE's source), from the allowed networks.
    fn latch_rules(&self) -> LatchRules {
        let (signalling, allow) = match &self.setup.media {
            MediaPlan::Rtp {
                signalling, allow, ..
            } => (*signalling, Arc::clone(allow)),
            MediaPlan::Simulated => (None, Arc::from(Vec::new())),
        };
        let expect = match self.config.rtp_latch {
            LatchFrom::Signalled => Some(
                [self.remote.map(|r| r.ip()), signalling]
                    .into_iter()
                    .flatten()
                    .collect(),
            ),
            LatchFrom::Anywhere => None,
        };
        LatchRules {
            expect,
            allow,
            confirm: self.config.rtp_latch_packets,
        }
    }

    pub(super) fn apply(&mut self, media: &Agreed) {
        self.remote = media.remote.map(|(ip, port)| SocketAddr::new(ip, port));
        self.sending = matches!(media.direction, Direction::SendRecv | Direction::SendOnly)
            && self.remote.is_some();
        self.far_sends = matches!(media.direction, Direction::SendRecv | Direction::RecvOnly);
    }
    pub(super) fn confirmed(&mut self, agreed: &Agreed, now: Time) {
        if self.answered.is_some() || self.hung_up {
            return;
        }
        self.phase = Phase::Answered;
        self.answered = Some(now);
        self.inactivity_from = now;
        self.record.answered_at = Some(self.wall(now).to_string());
        self.apply(agreed);
        let ptime = agreed.ptime.clamp(10, 60);
        let mut media = match self.setup.media {
            MediaPlan::Rtp { random, .. } => Media::Rtp(Box::new(MediaSession::new(
                MediaConfig {
                    law: agreed.law,
                    ptime_ms: ptime,
                    event_pt: agreed.event.map(|(pt, _)| pt),
                    inband: self.config.inband,
                    send_silence: true,
                    jitter_frames: self.config.jitter_frames,
                },
                now,
                random,
            ))),
            MediaPlan::Simulated => Media::Model(Model::new(agreed.law, ptime, now)),
        };
        media.set_latch_rules(self.latch_rules());
        // The frame due now goes out now: a play queued from here on starts at the next one.
        media.handle_timeout(now);
        self.emit(CallEvent::Answered {
            law: agreed.law,
            telephone_event: agreed.event.is_some(),
            inband: media.inband(),
        });
        let real = media.is_real();
        self.media = Some(media);
        self.timers
            .set(Timer::MaxDuration, now.plus(self.config.max_call_ms));
        if real && self.config.rtp_inactivity_ms > 0 && self.far_sends {
            self.timers
                .set(Timer::Inactivity, now.plus(self.config.rtp_inactivity_ms));
        }
        let at = self.wall(now);
        self.flow.handle_input(
            flow::Input::Started {
                caller: self.caller.clone(),
                called: self.called.clone(),
                at,
            },
            now,
        );
    }
    pub(super) fn media_changed(&mut self, agreed: &Agreed, now: Time) {
        if self.hung_up {
            return;
        }
        let Some(m) = self.media.as_mut() else {
            return;
        };
        let remote = agreed.remote.map(|(ip, port)| SocketAddr::new(ip, port));
        let moved = remote.is_some() && remote != self.remote;
        m.renegotiate(agreed.law, agreed.event.map(|(pt, _)| pt), moved);
        let was_sending = self.far_sends;
        self.apply(agreed);
        if moved {
            let rules = self.latch_rules();
            if let Some(m) = self.media.as_mut() {
                m.set_latch_rules(rules);
            }
        }
        if moved || (self.far_sends && !was_sending) {
            // A new source, or a resumed one: the far end has the whole limit again.
            self.inactivity_from = now;
        }
        let real = self.media.as_ref().is_some_and(Media::is_real);
        if self.far_sends && self.config.rtp_inactivity_ms > 0 && real {
            let from = self
                .media
                .as_ref()
                .and_then(Media::last_received)
                .map_or(self.inactivity_from, |t| t.max(self.inactivity_from));
            self.timers
                .set(Timer::Inactivity, from.plus(self.config.rtp_inactivity_ms));
        } else {
            self.timers.cancel(Timer::Inactivity);
        }
        let law = agreed.law;
        let remote = self.remote;
        let sending = self.sending;
        self.emit(CallEvent::MediaChanged {
            law,
            remote,
            sending,
        });
    }
    pub(super) fn sip_ended(&mut self, reason: EndReason, now: Time) {
        self.emit(CallEvent::SipEnded { reason });
        if !self.hung_up {
            let (by, outcome) = match reason {
                EndReason::RemoteBye => (HangupBy::Caller, None),
                EndReason::LocalBye => (HangupBy::Ivr, Some("shutdown".to_string())),
                EndReason::AckTimeout => (HangupBy::Ivr, Some("ack_timeout".to_string())),
                EndReason::Cancelled => (HangupBy::Caller, Some("cancelled".to_string())),
                EndReason::Rejected(c) => (HangupBy::Nobody, Some(format!("rejected_{c}"))),
            };
            self.hangup_by = Some(by);
            if self.outcome.is_none() {
                self.outcome = outcome;
            }
            if reason == EndReason::RemoteBye && self.answered.is_some() && !self.flow.is_ended() {
                self.flow.handle_input(flow::Input::CallerHangup, now);
            }
        }
        self.hung_up = true;
        self.stop_recording(now);
        self.begin_ending(now);
    }
    /// This side ends the call.
    pub(super) fn hang_up(&mut self, reason: &'static str, now: Time) {
        if self.hung_up {
            return;
        }
        self.hung_up = true;
        if self.hangup_by.is_none() {
            self.hangup_by = Some(HangupBy::Ivr);
        }
        self.emit(CallEvent::HangingUp { reason });
        self.stop_recording(now);
        self.out.push_back(Output::Sip(Command::Hangup));
        self.begin_ending(now);
    }
    pub(super) fn begin_ending(&mut self, now: Time) {
        if matches!(self.phase, Phase::Ending | Phase::Finished) {
            return;
        }
        self.phase = Phase::Ending;
        for t in [
            Timer::Answer,
            Timer::Inactivity,
            Timer::MaxDuration,
            Timer::Transfer,
        ] {
            self.timers.cancel(t);
        }
        self.timers
            .set(Timer::Teardown, now.plus(self.config.teardown_ms));
    }
}
