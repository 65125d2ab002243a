//! Backends for simulated calls.

use crate::flow::{BackendRequest, BackendResult, Value};
use std::collections::BTreeMap;

/// Answers backend requests in a simulation.
pub trait SimBackend {
    /// The result of a request.
    fn request(&mut self, req: &BackendRequest) -> BackendResult;
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
    fn request(&mut self, req: &BackendRequest) -> BackendResult {
        if self.failing.contains(&req.op) {
            return BackendResult::Failure("simulated failure".into());
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
