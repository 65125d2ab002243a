//! Counted handlers, `after N attempts`, `repeat`, `defaults`, and the rest of the machine's
//! semantics.

use ivr_core::TransferOutcome;
use ivr_core::flow::Fragment;
use ivr_core::flow::{BackendResult, Event, FlowConfig, Input, Outcome, Output, Value};
use ivr_core::testkit::FlowDriver as Driver;
use ivr_dsl::Lang;

const MENU: &str = "languages en

defaults
    on noinput
        say d1
        repeat
    on noinput 2
        say d2
        repeat
    on noinput 3
        say d3
        repeat
    on nomatch
        say dm
        repeat

flow start
    menu
        say options
        press 1 hangup
        on noinput 2
            say local2
            repeat
        after 5 attempts
            say bye
            hangup
";

#[test]
fn highest_count_not_above_the_counter_runs_and_local_beats_defaults() {
    let mut d = Driver::new(MENU);
    d.start();
    d.until(4 * 6_000 + 5_000);
    let p = d.prompts();
    // noinput 1 → defaults d1; 2 → local2 (beats defaults' d2); 3 → defaults d3; 4 → still d3
    // (the highest count not above 4).
    let handlers: Vec<&String> = p.iter().filter(|x| *x != "options").collect();
    assert_eq!(handlers, vec!["d1", "local2", "d3", "d3"]);
}

#[test]
fn after_attempts_counts_noinput_and_nomatch_and_goes_first() {
    let mut d = Driver::new(MENU);
    d.start();
    d.until(1_000);
    d.key('7'); // nomatch 1
    d.until(2_000);
    d.key('8'); // nomatch 2
    d.until(3_000);
    d.key('9'); // nomatch 3
    d.until(4_000);
    d.key('6'); // nomatch 4
    let t = d.now;
    d.until(t + 10_000); // prompts (2 s), then 5 s: noinput 1 → attempts 5 → after, not the noinput handler
    let p = d.prompts();
    assert_eq!(p.last().map(String::as_str), Some("bye"));
    assert_eq!(p.iter().filter(|x| *x == "d1").count(), 0);
    assert_eq!(d.call.outcome(), Some(&Outcome::Hangup));
}

#[test]
fn repeat_keeps_counters_and_reentry_resets_them() {
    let src = "languages en

defaults
    after 2 attempts
        say capped
        hangup

flow start
    step ask
        menu
            say options
            press 1 goto ask
            press 2 hangup
";
    let mut d = Driver::new(src);
    d.start();
    d.until(1_000);
    d.key('9'); // nomatch 1 (implicit repeat keeps the count)
    d.until(2_000);
    d.key('1'); // re-enters the state: counters reset
    d.until(3_000);
    d.key('9'); // nomatch 1 again, not 2
    assert!(!d.prompts().contains(&"capped".to_string()));
    d.until(4_000);
    d.key('9'); // nomatch 2 → after 2 attempts
    assert_eq!(d.prompts().last().map(String::as_str), Some("capped"));
}

#[test]
fn the_time_limit_ends_the_script_and_a_recording() {
    // The call machine keeps the maximum length (tests/call_timers.rs); the flow hears it as
    // an input and ends, stopping a recording first.
    let src = "languages en

defaults
    on noinput repeat
    after 10 attempts hangup

flow start
    record note beep max 60s silence 3s
        say record-now
    hangup
";
    let mut d = Driver::new(src);
    d.start();
    d.until(1_500);
    assert!(
        d.outputs
            .iter()
            .any(|(_, o)| matches!(o, Output::StartRecording { .. })),
        "{:?}",
        d.outputs
    );
    d.input(Input::TimeLimit);
    assert_eq!(d.call.outcome(), Some(&Outcome::MaxDuration));
    let tail: Vec<&Output> = d.outputs.iter().rev().take(3).map(|(_, o)| o).collect();
    assert!(matches!(tail[2], Output::StopRecording), "{tail:?}");
    assert!(matches!(tail[1], Output::Hangup), "{tail:?}");
    assert!(
        matches!(tail[0], Output::Event(Event::Ended(Outcome::MaxDuration))),
        "{tail:?}"
    );
    d.input(Input::TimeLimit);
    assert!(d.call.is_ended());
}

const HOURS: &str = "languages en

hours office
    sunday to thursday from 08:00 to 16:00
    closed on holidays

flow start
    if within hours office
        say open
    else
        say closed
    hangup
";

fn hours_at(at: &str, holidays: &[&str]) -> String {
    let config = FlowConfig {
        time_zone: jiff::tz::TimeZone::get("Asia/Riyadh").expect("zone"),
        holidays: holidays.iter().map(|h| h.parse().expect("date")).collect(),
        ..Default::default()
    };
    let mut d = Driver::with_config(HOURS, config);
    d.start_at(at);
    d.prompts().join(",")
}

#[test]
fn business_hours_in_the_configured_zone_with_holidays() {
    // 07:59 and 08:00 in Riyadh are 04:59Z and 05:00Z.
    assert_eq!(hours_at("2026-11-29T04:59:00Z", &[]), "closed");
    assert_eq!(hours_at("2026-11-29T05:00:00Z", &[]), "open");
    assert_eq!(hours_at("2026-11-29T12:59:00Z", &[]), "open");
    assert_eq!(hours_at("2026-11-29T13:00:00Z", &[]), "closed");
    // Friday.
    assert_eq!(hours_at("2026-11-27T07:00:00Z", &[]), "closed");
    // A holiday on a Sunday.
    assert_eq!(hours_at("2026-11-29T07:00:00Z", &["2026-11-29"]), "closed");
}

#[test]
fn subflows_take_arguments_and_return_values() {
    let src = "languages en

flow start
    set a = 20
    set b = 22
    run add with a b into total
    say total as number
    hangup

flow add with a b
    set a = a + b
    return a
";
    let mut d = Driver::new(src);
    d.start();
    d.until(10_000);
    assert_eq!(d.prompts(), vec!["value:42"]);
    // The subflow's `a` was its own.
    assert_eq!(d.var("a").as_deref(), Some("20"));
}

#[test]
fn not_found_without_its_handler_uses_on_failure() {
    let src = "languages en

flow start
    set t = 1
    lookup complaint_status with t into s
        on failure
            say failed
            hangup
    say s as digits
    hangup
";
    let mut d = Driver::new(src);
    d.start();
    let id = d
        .outputs
        .iter()
        .find_map(|(_, o)| match o {
            Output::Backend(r) => Some(r.id),
            _ => None,
        })
        .expect("a backend request");
    d.input(Input::Backend {
        id,
        result: BackendResult::NotFound,
    });
    assert_eq!(d.prompts(), vec!["failed"]);
}

#[test]
fn backend_fields_are_the_operations_in_order() {
    let src = "languages en

flow start
    set cat = \"roads\"
    set where = \"101\"
    set what = \"x\"
    submit create_complaint with cat where what into ticket
        on failure hangup
    say ticket as digits
    hangup
";
    let mut d = Driver::new(src);
    d.start();
    let req = d
        .outputs
        .iter()
        .find_map(|(_, o)| match o {
            Output::Backend(r) => Some(r.clone()),
            _ => None,
        })
        .expect("request");
    let names: Vec<&str> = req.fields.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, vec!["category", "district", "description"]);
    assert_eq!(req.fields[0].1, Value::Str("roads".into()));
    d.input(Input::Backend {
        id: req.id,
        result: BackendResult::Ok(Value::Str("123456".into())),
    });
    assert_eq!(d.prompts(), vec!["value:123456"]);
}

#[test]
fn hangup_and_transfer_wait_for_prompts() {
    let src = "languages en

flow start
    say bye
    transfer agents
        on busy hangup
";
    let mut d = Driver::new(src);
    d.play_ms = 2_000;
    d.start();
    assert!(
        !d.outputs
            .iter()
            .any(|(_, o)| matches!(o, Output::Transfer { .. }))
    );
    d.until(2_000);
    assert!(
        d.outputs
            .iter()
            .any(|(t, o)| *t == 2_000 && matches!(o, Output::Transfer { .. }))
    );
    d.input(Input::Transfer(TransferOutcome::Busy));
    assert_eq!(d.call.outcome(), Some(&Outcome::Hangup));
}

#[test]
fn caller_hangup_during_recording_stops_it() {
    let src = "languages en

defaults
    after 3 attempts hangup

flow start
    record msg beep max 30s
        say speak
    play msg
    hangup
";
    let mut d = Driver::new(src);
    d.start();
    d.until(1_000);
    assert!(d.outputs.iter().any(|(_, o)| matches!(
        o,
        Output::StartRecording {
            beep: true,
            max_ms: 30_000,
            ..
        }
    )));
    d.input(Input::CallerHangup);
    assert!(
        d.outputs
            .iter()
            .any(|(_, o)| matches!(o, Output::StopRecording))
    );
    assert_eq!(d.call.outcome(), Some(&Outcome::CallerHangup));
}

#[test]
fn an_input_state_inside_a_defaults_handler_cannot_nest_forever() {
    // The checker rejects this script; compiling its tree directly must still terminate.
    let src = "languages en

defaults
    on noinput
        menu
            say inner
            press 1 hangup
    after 3 attempts hangup

flow start
    menu
        say options
        press 1 hangup
";
    let checked = ivr_dsl::check(src.as_bytes(), &ivr_dsl::Environment::default());
    assert!(
        checked
            .diagnostics
            .iter()
            .any(|d| d.code == ivr_dsl::Code::Misplaced)
    );
    let p = ivr_core::flow::Program::from_script(
        &checked.script,
        &ivr_dsl::Environment::default(),
        Default::default(),
    );
    assert!(p.is_ok());
}

#[test]
fn a_script_that_does_not_serve_the_configured_language_starts_in_its_own() {
    // The default configuration starts calls in Arabic; this script serves English only.
    let mut d = Driver::new("languages en\n\nflow start\n    say hello\n    hangup\n");
    d.start();
    assert_eq!(d.call.language(), Lang::En);
    assert!(d.outputs.iter().any(|(_, o)| matches!(
        o,
        Output::Play { fragments, .. }
            if matches!(&fragments[0], Fragment::Prompt { lang: Lang::En, .. })
    )));
    // A bilingual script keeps the configured language.
    let mut d = Driver::new("languages ar en\n\nflow start\n    say hello\n    hangup\n");
    d.start();
    assert_eq!(d.call.language(), Lang::Ar);
}
