//! Backends for simulated calls.

#[cfg(feature = "sqlite")]
use crate::backend::ops;
use crate::backend::ops::{CallContext, Operations};
use crate::flow::{BackendRequest, BackendResult, Failure, FailureKind, Value};
use std::collections::BTreeMap;

/// Answers backend requests in a simulation.
pub trait SimBackend {
    /// The result of a request made for the call `ctx` (its id, number, language and the
    /// virtual wall clock).
    fn request(&mut self, ctx: &CallContext, req: &BackendRequest) -> BackendResult;
}

/// Canned lookup answers; submits get sequential ticket numbers.
#[derive(Clone, Debug, Default)]
pub struct CannedBackend {
    /// Operation → key (the first field's value) → answer.
    pub lookups: BTreeMap<String, BTreeMap<String, Value>>,
    /// Operations that fail.
    pub failing: Vec<String>,
    /// Next ticket number.
    pub next_ticket: u64,
}

impl CannedBackend {
    /// A backend whose first ticket is `first`.
    pub fn new(first: u64) -> Self {
        CannedBackend {
            next_ticket: first,
            ..Default::default()
        }
    }
}

impl SimBackend for CannedBackend {
    fn request(&mut self, _: &CallContext, req: &BackendRequest) -> BackendResult {
        if self.failing.contains(&req.op) {
            return BackendResult::Failure(Failure::new(
                FailureKind::Unavailable,
                "simulated failure",
            ));
        }
        match req.kind {
            ivr_dsl::OpKind::Submit => {
                let t = self.next_ticket;
                self.next_ticket += 1;
                BackendResult::Ok(Value::Str(t.to_string()))
            }
            ivr_dsl::OpKind::Lookup => {
                let key = req
                    .fields
                    .first()
                    .map(|(_, v)| v.text())
                    .unwrap_or_default();
                match self.lookups.get(&req.op).and_then(|m| m.get(&key)) {
                    Some(v) => BackendResult::Ok(v.clone()),
                    None => BackendResult::NotFound,
                }
            }
        }
    }
}

/// A simulated call's backend that files into and reads from a real complaint store.
#[cfg(feature = "sqlite")]
pub struct StoreBackend<'a> {
    /// The store.
    pub store: &'a crate::backend::sqlite::SqliteStore,
}

#[cfg(feature = "sqlite")]
impl SimBackend for StoreBackend<'_> {
    fn request(&mut self, ctx: &CallContext, req: &BackendRequest) -> BackendResult {
        match (req.kind, req.op.as_str()) {
            (ivr_dsl::OpKind::Submit, "create_complaint") => {
                ops::submitted(self.store.submit_sync(&ops::complaint(req, ctx)))
            }
            (ivr_dsl::OpKind::Lookup, op) if ops::ticket_lookup(op).is_some() => {
                // A mistyped number (wrong check digit) is not looked up.
                let (Some(answer), Some(t)) = (ops::ticket_lookup(op), ops::keyed_ticket(req))
                else {
                    return BackendResult::NotFound;
                };
                // The store is asked at the call's virtual time, so service levels escalate
                // in simulated time too.
                answer(self.store.status_at(&t, ctx.at))
            }
            (_, op) => BackendResult::Failure(Failure::new(
                FailureKind::NoSuchOperation,
                format!("operation {op} is not handled by the store"),
            )),
        }
    }
}

/// A simulated call's backend that runs the real [`Operations`] (any [`ComplaintBackend`] and
/// the embedder's own operations), each request to completion before the call goes on.
///
/// [`ComplaintBackend`]: crate::backend::ComplaintBackend
pub struct OpsBackend {
    /// The operations.
    pub ops: Operations,
}

impl SimBackend for OpsBackend {
    fn request(&mut self, ctx: &CallContext, req: &BackendRequest) -> BackendResult {
        pollster::block_on(self.ops.perform(ctx, req))
    }
}
