//! What a call asks of others and waits for: backend requests (with their deadline) and
//! transfers (REFER, with the script's ring time or the configured limit).

use super::machine::{Call, Pending};
use super::messages::{BackendCall, CallEvent, Output};
use super::record::{BackendRecord, TransferRecord};
use super::timers::Timer;
use crate::backend::ops::CallContext;
use crate::flow::{self, BackendResult};
use crate::sip::endpoint::Command;
use crate::vocab::{Time, TransferOutcome};

impl Call {
    /// A backend request the flow asked for.
    pub(super) fn backend_request(&mut self, req: flow::BackendRequest, now: Time) {
        let index = self.record.backend.len();
        self.record.backend.push(BackendRecord {
            op: req.op.clone(),
            kind: match req.kind {
                ivr_dsl::OpKind::Submit => "submit".into(),
                ivr_dsl::OpKind::Lookup => "lookup".into(),
            },
            fields: req
                .fields
                .iter()
                .map(|(k, v)| (k.clone(), v.text()))
                .collect(),
            result: "pending".into(),
            detail: String::new(),
            ms: 0,
        });
        self.backend.push(Pending {
            id: req.id,
            sent: now,
            index,
        });
        self.timers.set(
            Timer::Backend(req.id),
            now.plus(self.config.backend_timeout_ms),
        );
        let context = CallContext {
            call_id: self.setup.call_id.clone(),
            uid: self.setup.uid.clone(),
            caller: self.caller.clone(),
            language: self.flow.language().code().into(),
            at: self.wall(now),
        };
        self.emit(CallEvent::BackendRequested {
            request: req.clone(),
        });
        self.out.push_back(Output::Backend(Box::new(BackendCall {
            id: req.id,
            request: req,
            context,
        })));
    }
    pub(super) fn backend_done(&mut self, id: u64, result: BackendResult, now: Time) {
        let Some(i) = self.backend.iter().position(|p| p.id == id) else {
            // Late (it timed out) or unknown: the flow has moved on.
            return;
        };
        let p = self.backend.remove(i);
        self.timers.cancel(Timer::Backend(id));
        let ms = now.since(p.sent);
        let op = self
            .record
            .backend
            .get(p.index)
            .map(|b| b.op.clone())
            .unwrap_or_default();
        if let Some(b) = self.record.backend.get_mut(p.index) {
            b.ms = ms;
            (b.result, b.detail) = match &result {
                BackendResult::Ok(v) => ("ok".into(), v.text()),
                BackendResult::NotFound => ("not_found".into(), String::new()),
                BackendResult::Failure(f) => ("failure".into(), f.to_string()),
            };
        }
        self.emit(CallEvent::BackendAnswered {
            id,
            op,
            result: result.clone(),
            ms,
        });
        self.flow
            .handle_input(flow::Input::Backend { id, result }, now);
    }
    /// A transfer the flow asked for.
    pub(super) fn transfer(&mut self, dest: String, timeout_ms: Option<u64>, now: Time) {
        let target = self.config.transfer.get(&dest).cloned();
        let at_ms = self.since_answer(now);
        self.record.transfers.push(TransferRecord {
            dest: dest.clone(),
            target: target.clone().unwrap_or_default(),
            outcome: String::new(),
            timed_out: false,
            at_ms,
        });
        let index = self.record.transfers.len() - 1;
        self.emit(CallEvent::TransferRequested {
            dest,
            target: target.clone(),
        });
        match target {
            Some(target) => {
                self.transfer = Some(index);
                let limit = timeout_ms.unwrap_or(self.config.transfer_timeout_ms);
                self.timers.set(Timer::Transfer, now.plus(limit));
                self.out
                    .push_back(Output::Sip(Command::Transfer { target }));
            }
            None => {
                if let Some(r) = self.record.transfers.get_mut(index) {
                    r.outcome = TransferOutcome::Failed.as_str().into();
                }
                self.emit(CallEvent::TransferEnded {
                    outcome: TransferOutcome::Failed,
                    timed_out: false,
                });
                self.flow
                    .handle_input(flow::Input::Transfer(TransferOutcome::Failed), now);
            }
        }
    }
}
