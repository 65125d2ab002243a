//! Who hears what of a ticket, through the operations a call reaches and the real SQLite
//! store: anyone with the number hears its status, only the number that filed it hears the
//! staff's note, and a caller walking through the sequential ticket numbers is stopped.

use ivr_core::backend::lookups::{NotesTo, TicketPrivacy};
use ivr_core::backend::ops::{CallContext, Operations};
use ivr_core::backend::sqlite::SqliteStore;
use ivr_core::backend::{Complaint, Status};
use ivr_core::flow::{BackendRequest, BackendResult, FailureKind, Value};
use ivr_dsl::OpKind;
use std::sync::Arc;

fn complaint(call: &str, caller: &str) -> Complaint {
    Complaint {
        category: "roads".into(),
        district: Some("101".into()),
        location: None,
        recording: None,
        caller: caller.into(),
        language: "en".into(),
        channel: "ivr".into(),
        call_id: call.into(),
        at: "2026-12-04T08:00:00Z".into(),
    }
}

fn lookup(op: &str, ticket: &str) -> BackendRequest {
    BackendRequest {
        id: 1,
        kind: OpKind::Lookup,
        op: op.into(),
        fields: vec![("ticket".into(), Value::Str(ticket.into()))],
    }
}

fn ctx(uid: &str, caller: &str) -> CallContext {
    CallContext {
        call_id: format!("{uid}@pbx"),
        uid: uid.into(),
        caller: caller.into(),
        language: "en".into(),
        at: jiff::Timestamp::now(),
    }
}

fn setup(name: &str) -> (Arc<SqliteStore>, std::path::PathBuf) {
    let d = std::env::temp_dir().join(format!("ivr-privacy-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("dir");
    let store = Arc::new(SqliteStore::open(&d.join("complaints.sqlite")).expect("store"));
    (store, d)
}

#[test]
fn notes_go_only_to_the_number_that_filed_the_ticket() {
    let (store, dir) = setup("notes");
    let ticket = store
        .submit_sync(&complaint("c1", "+966500000001"))
        .expect("filed");
    let at = jiff::Timestamp::now().to_string();
    store
        .set_status(
            &ticket,
            Status::InProgress,
            Some("crew sent to 12 King St"),
            &at,
        )
        .expect("noted");
    let ops = Operations::new(store.clone());
    let run = |c: &CallContext, op: &str| pollster::block_on(ops.perform(c, &lookup(op, &ticket)));
    let stranger = ctx("s1", "+966500000777");
    assert_eq!(
        run(&stranger, "complaint_status"),
        BackendResult::Ok(Value::Str("in_progress".into())),
        "the status is for anyone with the number"
    );
    assert_eq!(
        run(&stranger, "complaint_note"),
        BackendResult::NotFound,
        "the note is not told to another number"
    );
    // The filer, in its national form.
    let filer = ctx("f1", "0500000001");
    assert_eq!(
        run(&filer, "complaint_note"),
        BackendResult::Ok(Value::Str("crew sent to 12 King St".into()))
    );
    // A line that chose otherwise.
    let open = Operations::new(store.clone()).with_privacy(TicketPrivacy {
        notes_to: NotesTo::Anyone,
        ..TicketPrivacy::default()
    });
    assert!(matches!(
        pollster::block_on(open.perform(&stranger, &lookup("complaint_note", &ticket))),
        BackendResult::Ok(_)
    ));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn walking_the_ticket_numbers_is_stopped() {
    let (store, dir) = setup("walk");
    let tickets: Vec<String> = (0..30)
        .map(|i| {
            store
                .submit_sync(&complaint(&format!("w{i}"), &format!("+96650000{i:04}")))
                .expect("filed")
        })
        .collect();
    let ops = Operations::new(store.clone());
    let walker = "+966511111111";
    let mut heard = 0;
    let mut refused = 0;
    // Ten calls, each keying in one ticket after another.
    for call in 0..10 {
        let c = ctx(&format!("walk-{call}"), walker);
        for t in &tickets[call * 3..call * 3 + 3] {
            match pollster::block_on(ops.perform(&c, &lookup("complaint_status", t))) {
                BackendResult::Ok(_) => heard += 1,
                BackendResult::Failure(f) => {
                    assert_eq!(f.kind, FailureKind::Refused);
                    refused += 1;
                }
                other => panic!("{other:?}"),
            }
        }
    }
    assert_eq!(heard, 10, "ten different tickets an hour from one number");
    assert_eq!(refused, 20);
    // One call trying many: three.
    let c = ctx("greedy", "+966522222222");
    let heard: usize = tickets
        .iter()
        .filter(|t| {
            matches!(
                pollster::block_on(ops.perform(&c, &lookup("complaint_status", t))),
                BackendResult::Ok(_)
            )
        })
        .count();
    assert_eq!(heard, 3);
    let _ = std::fs::remove_dir_all(&dir);
}
