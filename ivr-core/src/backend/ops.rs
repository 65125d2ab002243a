//! Backend operations as the flow machine asks for them: the built-in ones
//! (`create_complaint`, `complaint_status`, `complaint_updated`, `complaint_note`) go to a
//! [`ComplaintBackend`]; embedders register
//! their own operations by name. A ticket number whose check digit is wrong is answered
//! "not found" before any lookup reaches the backend.

use super::lookups::{LookupLimiter, NotesTo, TicketPrivacy, same_number};
use super::{BackendError, Complaint, ComplaintBackend, RecordingRef, TicketInfo, ticket};
use crate::flow::{BackendRequest, BackendResult, Failure, FailureKind, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// What an operation knows about the call that asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallContext {
    /// The SIP Call-ID (chosen by the caller: for reference only).
    pub call_id: String,
    /// The server's own id of the call: submits are idempotent by it.
    pub uid: String,
    /// Calling number.
    pub caller: String,
    /// The caller's language (`ar`, `en`).
    pub language: String,
    /// When the request was made.
    pub at: jiff::Timestamp,
}

/// An operation of the embedder's own (declared in `ivr.yaml` so scripts may use it).
#[async_trait::async_trait]
pub trait Operation: Send + Sync {
    /// Performs it.
    async fn perform(&self, ctx: &CallContext, req: &BackendRequest) -> BackendResult;
}

/// The operations a call can reach.
#[derive(Clone)]
pub struct Operations {
    backend: Arc<dyn ComplaintBackend>,
    custom: BTreeMap<String, Arc<dyn Operation>>,
    privacy: TicketPrivacy,
    /// Shared by clones: one count for the whole line.
    lookups: Arc<LookupLimiter>,
}

impl std::fmt::Debug for Operations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Operations")
            .field("custom", &self.custom.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// The value of a named field.
fn field<'a>(req: &'a BackendRequest, name: &str) -> Option<&'a Value> {
    req.fields.iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

/// The complaint a `create_complaint` request describes. Fields: `category` (service code),
/// `district` and/or `location`, `description` (a recording).
pub fn complaint(req: &BackendRequest, ctx: &CallContext) -> Complaint {
    let recording = match field(req, "description") {
        Some(Value::Recording(r)) => Some(RecordingRef {
            path: r.location.clone(),
            duration_ms: r.duration_ms,
            sha256: r.sha256.clone(),
        }),
        _ => None,
    };
    Complaint {
        category: field(req, "category").map(Value::text).unwrap_or_default(),
        district: field(req, "district").map(Value::text),
        location: field(req, "location").map(Value::text),
        recording,
        caller: ctx.caller.clone(),
        language: ctx.language.clone(),
        channel: "ivr".into(),
        call_id: ctx.uid.clone(),
        at: ctx.at.to_string(),
    }
}

/// The ticket number a `complaint_status` request asks about, if its check digit is right.
pub fn keyed_ticket(req: &BackendRequest) -> Option<String> {
    let t = field(req, "ticket").map(Value::text)?;
    ticket::valid(&t).then_some(t)
}

/// What the flow hears of a submit: the ticket number, or a failure.
pub fn submitted(r: Result<String, BackendError>) -> BackendResult {
    match r {
        Ok(t) => BackendResult::Ok(Value::Str(t)),
        Err(e) => BackendResult::Failure(e.failure()),
    }
}

/// What the flow hears of a status lookup: the status word, not found, or a failure.
pub fn looked_up(r: Result<Option<TicketInfo>, BackendError>) -> BackendResult {
    match r {
        Ok(Some(info)) => BackendResult::Ok(Value::Str(info.status.as_str().into())),
        Ok(None) => BackendResult::NotFound,
        Err(e) => BackendResult::Failure(e.failure()),
    }
}

/// What the flow hears of a `complaint_updated` lookup: the date (`YYYY-MM-DD`, UTC) of the
/// ticket's last status change, which `say … as date` speaks.
pub fn last_updated(r: Result<Option<TicketInfo>, BackendError>) -> BackendResult {
    match r {
        Ok(Some(info)) => {
            let date = info
                .updated
                .parse::<jiff::Timestamp>()
                .map(|t| t.to_zoned(jiff::tz::TimeZone::UTC).date().to_string())
                .ok()
                .or_else(|| info.updated.get(..10).map(str::to_string))
                .unwrap_or_default();
            if date.is_empty() {
                BackendResult::NotFound
            } else {
                BackendResult::Ok(Value::Str(date))
            }
        }
        Ok(None) => BackendResult::NotFound,
        Err(e) => BackendResult::Failure(e.failure()),
    }
}

/// What the flow hears of a `complaint_note` lookup: the latest note from staff (for
/// `say … as text`), or not found when there is none.
pub fn latest_note(r: Result<Option<TicketInfo>, BackendError>) -> BackendResult {
    match r {
        Ok(Some(TicketInfo { note: Some(n), .. })) if !n.trim().is_empty() => {
            BackendResult::Ok(Value::Str(n))
        }
        Ok(_) => BackendResult::NotFound,
        Err(e) => BackendResult::Failure(e.failure()),
    }
}

/// How a built-in lookup on a ticket turns its state into what the flow hears.
pub type TicketAnswer = fn(Result<Option<TicketInfo>, BackendError>) -> BackendResult;

/// The built-in lookups on a ticket (`complaint_status`, `complaint_updated`,
/// `complaint_note`), by operation name; every backend — the operations dispatcher and the
/// simulator's store — answers them through this one table.
pub fn ticket_lookup(op: &str) -> Option<TicketAnswer> {
    match op {
        "complaint_status" => Some(looked_up),
        "complaint_updated" => Some(last_updated),
        "complaint_note" => Some(latest_note),
        _ => None,
    }
}

impl Operations {
    /// The built-in operations on `backend`, and no others yet.
    pub fn new(backend: Arc<dyn ComplaintBackend>) -> Self {
        Operations {
            backend,
            custom: BTreeMap::new(),
            privacy: TicketPrivacy::default(),
            lookups: Arc::default(),
        }
    }

    /// Who may hear what of a ticket (the default: notes to the filer only, three tickets a
    /// call, ten a calling number an hour).
    pub fn with_privacy(mut self, privacy: TicketPrivacy) -> Self {
        self.privacy = privacy;
        self
    }

    /// Adds (or replaces) an operation of the embedder's own.
    pub fn register(&mut self, name: &str, op: Arc<dyn Operation>) {
        self.custom.insert(name.to_string(), op);
    }

    /// The backend the built-in operations use.
    pub fn backend(&self) -> &Arc<dyn ComplaintBackend> {
        &self.backend
    }

    /// Performs a request for a call.
    pub async fn perform(&self, ctx: &CallContext, req: &BackendRequest) -> BackendResult {
        if let Some(op) = self.custom.get(&req.op) {
            return op.perform(ctx, req).await;
        }
        if let Some(answer) = ticket_lookup(&req.op) {
            // A mistyped number never reaches the backend.
            let Some(t) = keyed_ticket(req) else {
                return BackendResult::NotFound;
            };
            let now = ctx.at.as_millisecond();
            if !self
                .lookups
                .admit(&self.privacy, &ctx.uid, &ctx.caller, &t, now)
            {
                return BackendResult::Failure(Failure::new(
                    FailureKind::Refused,
                    "too many tickets looked up from this number",
                ));
            }
            let mut status = self.backend.status(&t).await;
            // Staff notes: only to the number that filed the ticket, unless the line says
            // otherwise.
            if req.op == "complaint_note"
                && self.privacy.notes_to == NotesTo::Filer
                && let Ok(Some(info)) = &status
                && !same_number(&info.complaint.caller, &ctx.caller)
            {
                status = Ok(None);
            }
            return answer(status);
        }
        match req.op.as_str() {
            "create_complaint" => submitted(self.backend.submit(&complaint(req, ctx)).await),
            op => BackendResult::Failure(Failure::new(
                FailureKind::NoSuchOperation,
                format!("operation {op} is not registered"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Status;
    use ivr_dsl::OpKind;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Counts lookups; knows one ticket.
    #[derive(Default)]
    struct Counting {
        lookups: AtomicUsize,
    }

    #[async_trait::async_trait]
    impl ComplaintBackend for Counting {
        async fn submit(&self, c: &Complaint) -> Result<String, BackendError> {
            if c.category.is_empty() {
                return Err(BackendError::Invalid("no category".into()));
            }
            Ok(ticket::ticket(77))
        }
        async fn status(&self, t: &str) -> Result<Option<TicketInfo>, BackendError> {
            self.lookups.fetch_add(1, Ordering::SeqCst);
            Ok((t == ticket::ticket(77)).then(|| TicketInfo {
                ticket: t.into(),
                status: Status::Escalated,
                updated: "2026-11-20T21:30:00Z".into(),
                note: None,
                complaint: complaint(&req(OpKind::Submit, "x", &[]), &ctx()),
                history: Vec::new(),
            }))
        }
        async fn health(&self) -> Result<(), BackendError> {
            Ok(())
        }
    }

    struct Echo;

    #[async_trait::async_trait]
    impl Operation for Echo {
        async fn perform(&self, ctx: &CallContext, _req: &BackendRequest) -> BackendResult {
            BackendResult::Ok(Value::Str(ctx.caller.clone()))
        }
    }

    fn ctx() -> CallContext {
        CallContext {
            call_id: "sip-c1".into(),
            uid: "c1".into(),
            caller: "0501234567".into(),
            language: "ar".into(),
            at: jiff::Timestamp::UNIX_EPOCH,
        }
    }

    fn req(kind: OpKind, op: &str, fields: &[(&str, &str)]) -> BackendRequest {
        BackendRequest {
            id: 1,
            kind,
            op: op.into(),
            fields: fields
                .iter()
                .map(|(k, v)| (k.to_string(), Value::Str(v.to_string())))
                .collect(),
        }
    }

    #[test]
    fn a_mistyped_ticket_never_reaches_the_backend() {
        let backend = Arc::new(Counting::default());
        let ops = Operations::new(backend.clone());
        let good = ticket::ticket(77);
        // Change the last digit: the Damm check catches every single-digit error.
        let last = good
            .chars()
            .last()
            .and_then(|c| c.to_digit(10))
            .unwrap_or(0);
        let bad = format!("{}{}", &good[..good.len() - 1], (last + 1) % 10);
        let run = |t: &str| {
            pollster::block_on(ops.perform(
                &ctx(),
                &req(OpKind::Lookup, "complaint_status", &[("ticket", t)]),
            ))
        };
        assert_eq!(run(&bad), BackendResult::NotFound);
        assert_eq!(backend.lookups.load(Ordering::SeqCst), 0);
        assert_eq!(
            run(&good),
            BackendResult::Ok(Value::Str("escalated".into()))
        );
        assert_eq!(backend.lookups.load(Ordering::SeqCst), 1);
        // The date of the last change, for `say … as date`.
        let when = pollster::block_on(ops.perform(
            &ctx(),
            &req(OpKind::Lookup, "complaint_updated", &[("ticket", &good)]),
        ));
        assert_eq!(when, BackendResult::Ok(Value::Str("2026-11-20".into())));
        let none = pollster::block_on(ops.perform(
            &ctx(),
            &req(OpKind::Lookup, "complaint_updated", &[("ticket", &bad)]),
        ));
        assert_eq!(none, BackendResult::NotFound);
    }

    #[test]
    fn submits_custom_operations_and_unknown_ones() {
        let mut ops = Operations::new(Arc::new(Counting::default()));
        ops.register("whoami", Arc::new(Echo));
        let run = |r: BackendRequest| pollster::block_on(ops.perform(&ctx(), &r));
        assert_eq!(
            run(req(
                OpKind::Submit,
                "create_complaint",
                &[("category", "roads")]
            )),
            BackendResult::Ok(Value::Str(ticket::ticket(77)))
        );
        assert!(matches!(
            run(req(OpKind::Submit, "create_complaint", &[])),
            BackendResult::Failure(m) if m.detail.contains("no category")
        ));
        assert_eq!(
            run(req(OpKind::Lookup, "whoami", &[])),
            BackendResult::Ok(Value::Str("0501234567".into()))
        );
        assert!(matches!(
            run(req(OpKind::Lookup, "nope", &[])),
            BackendResult::Failure(m) if m.kind == FailureKind::NoSuchOperation
        ));
    }

    #[test]
    fn the_complaint_carries_the_call_and_its_fields() {
        let r = req(
            OpKind::Submit,
            "create_complaint",
            &[("category", "lights"), ("district", "101")],
        );
        let c = complaint(&r, &ctx());
        assert_eq!(
            (
                c.category.as_str(),
                c.district.as_deref(),
                c.channel.as_str()
            ),
            ("lights", Some("101"), "ivr")
        );
        assert_eq!((c.call_id.as_str(), c.language.as_str()), ("c1", "ar"));
        assert_eq!(c.recording, None);
    }
}
