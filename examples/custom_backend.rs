//! Plugging in a back office of one's own: a `ComplaintBackend` (here an in-memory one) and an
//! extra operation (`district_name`) that scripts can call, run through a simulated call that
//! files a complaint and then tracks it.
//!
//! `cargo run --example custom_backend`

use ivr::core::backend::ops::{CallContext, Operation, Operations};
use ivr::core::backend::{BackendError, Complaint, ComplaintBackend, Status, TicketInfo, ticket};
use ivr::core::flow::{BackendRequest, BackendResult, Defaults, Program, Value};
use ivr::core::sim::{self, CallerStep, OpsBackend, SimOptions};
use ivr::dsl::{Environment, OpKind, OpSpec};
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

const SCRIPT: &str = "languages en

defaults
    after 3 attempts hangup

flow start
    collect district digits 3
        say enter-district
    lookup district_name with district into name
        on not_found
            say district-unknown
            hangup
        on failure hangup
    set category = \"roads\"
    record description beep max 60s silence 3s until hash
        say describe-after-beep
    submit create_complaint with category district description into ticket
        on failure hangup
    say your-ticket-number-is
    say ticket as digits
    collect keyed digits 2 to 10 until hash
        say enter-ticket
    lookup complaint_status with keyed into status
        on not_found
            say ticket-not-found
            hangup
        on failure hangup
    say status-received
    hangup
";

/// A back office kept in memory: complaints by ticket, tickets by call id (idempotent).
#[derive(Default)]
struct Memory {
    tickets: Mutex<(BTreeMap<String, Complaint>, BTreeMap<String, String>)>,
}

#[async_trait::async_trait]
impl ComplaintBackend for Memory {
    async fn submit(&self, c: &Complaint) -> Result<String, BackendError> {
        let mut g = self
            .tickets
            .lock()
            .map_err(|_| BackendError::Unavailable("poisoned".into()))?;
        if let Some(t) = g.1.get(&c.call_id) {
            return Ok(t.clone());
        }
        let t = ticket::ticket(1000 + g.0.len() as u64);
        g.0.insert(t.clone(), c.clone());
        g.1.insert(c.call_id.clone(), t.clone());
        Ok(t)
    }

    async fn status(&self, t: &str) -> Result<Option<TicketInfo>, BackendError> {
        let g = self
            .tickets
            .lock()
            .map_err(|_| BackendError::Unavailable("poisoned".into()))?;
        Ok(g.0.get(t).map(|c| TicketInfo {
            ticket: t.to_string(),
            status: Status::Received,
            updated: c.at.clone(),
            note: None,
            complaint: c.clone(),
            history: Vec::new(),
        }))
    }

    async fn health(&self) -> Result<(), BackendError> {
        Ok(())
    }
}

/// The embedder's own lookup: a district's name from its code.
struct DistrictName;

#[async_trait::async_trait]
impl Operation for DistrictName {
    async fn perform(&self, _ctx: &CallContext, req: &BackendRequest) -> BackendResult {
        let code = req
            .fields
            .first()
            .map(|(_, v)| v.text())
            .unwrap_or_default();
        match code.as_str() {
            "101" => BackendResult::Ok(Value::Str("Al Olaya".into())),
            "102" => BackendResult::Ok(Value::Str("Al Malaz".into())),
            _ => BackendResult::NotFound,
        }
    }
}

/// Runs the example.
pub fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The checker must know the extra operation (in a project, `ivr.yaml` declares it).
    let mut env = Environment::default();
    env.operations.insert(
        "district_name".into(),
        OpSpec {
            kind: OpKind::Lookup,
            fields: Some(vec!["district".into()]),
        },
    );
    let program = Arc::new(Program::compile(
        SCRIPT.as_bytes(),
        &env,
        Defaults::default(),
    )?);
    let memory = Arc::new(Memory::default());
    let mut ops = Operations::new(memory.clone());
    ops.register("district_name", Arc::new(DistrictName));
    let mut backend = OpsBackend { ops };
    // The caller keys district 101, speaks, then keys the ticket just read out (10000 plus
    // its check digit, as `ticket::ticket(1000)` makes it).
    let ticket = ticket::ticket(1000);
    let mut caller: VecDeque<CallerStep> = [
        CallerStep::Hear("enter-district".into()),
        CallerStep::Press("101".into()),
        CallerStep::Hear("describe-after-beep".into()),
        CallerStep::Speak(4_000),
        CallerStep::Press("#".into()),
        CallerStep::Hear("your-ticket-number-is".into()),
        CallerStep::Hear(format!("value:{ticket}")),
        CallerStep::Hear("enter-ticket".into()),
        CallerStep::Press(format!("{ticket}#")),
        CallerStep::Hear("status-received".into()),
    ]
    .into();
    let opts = SimOptions {
        call_id: "example-call-1".into(),
        caller: "0501234567".into(),
        at: jiff::Timestamp::from_second(1_800_000_000)?,
        ..SimOptions::default()
    };
    let t = sim::simulate(&sim::line(program), &mut caller, &mut backend, &opts);
    print!("{}", t.render());
    assert!(t.failures.is_empty(), "{:?}", t.failures);
    let stored = pollster::block_on(memory.status(&ticket))?.ok_or("the complaint is stored")?;
    println!(
        "ok: ticket {ticket} filed for district {} with a {} ms recording",
        stored.complaint.district.unwrap_or_default(),
        stored.complaint.recording.map_or(0, |r| r.duration_ms)
    );
    Ok(())
}
