//! `ivr simulate`, `ivr test` and `ivr say` from the command line.

mod common;
use common::{ivr, stdout};

#[test]
fn simulate_files_a_complaint_and_is_deterministic() {
    let args = [
        "simulate",
        "flows/complaint_940.ar.flow",
        "--keys",
        "1 1 1 101 # 1",
        "--at",
        "2026-11-29T10:00:00+03:00",
    ];
    let a = ivr(&args);
    assert_eq!(a.status.code(), Some(0));
    let text = stdout(&a);
    assert!(
        text.contains("say welcome (ar): مرحبًا بكم في خط 940 للخدمات البلدية."),
        "{text}"
    );
    assert!(
        text.contains("submit create_complaint category=roads district=101 description=sim://"),
        "{text}"
    );
    assert!(
        text.contains("say 100001 as digits (ar): واحد صفر صفر صفر صفر واحد"),
        "{text}"
    );
    assert!(text.contains("outcome: hangup after"), "{text}");
    // Virtual time: the same transcript every run.
    assert_eq!(stdout(&ivr(&args)), text);
}

#[test]
fn simulate_in_english_after_pressing_2() {
    let o = ivr(&[
        "simulate",
        "flows/complaint_940.flow",
        "--keys",
        "2 2 123456#",
        "--at",
        "2026-11-29T10:00:00+03:00",
    ]);
    let text = stdout(&o);
    assert!(
        text.contains(
            "say enter-ticket (en): Please enter your complaint number, then press hash."
        ),
        "{text}"
    );
    assert!(text.contains("result: not found"), "{text}");
}

#[test]
fn the_hotline_scenarios_pass_with_full_coverage() {
    let o = ivr(&["test", "flows/tests", "--coverage"]);
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{text}");
    let last = text.lines().last().unwrap_or_default();
    assert_eq!(last, "56 passed, 0 failed");
    assert_eq!(
        text.matches("33 of 33 steps, options and handlers reached")
            .count(),
        2,
        "{text}"
    );
}

#[test]
fn a_failing_scenario_fails_the_run() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/scenario-test");
    std::fs::create_dir_all(&dir).expect("dir");
    let flow = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("flows/complaint_940.flow");
    let f = dir.join("wrong.yaml");
    std::fs::write(
        &f,
        format!(
            "flow: {}\nat: 2026-11-29T10:00:00+03:00\nsteps:\n  - hear: main-options\nexpect:\n  outcome: transfer\n",
            flow.display()
        ),
    )
    .expect("write");
    let o = ivr(&["test", f.to_str().expect("utf-8")]);
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(
        text.contains("expected to hear main-options, heard welcome"),
        "{text}"
    );
    assert!(
        text.contains("outcome: expected transfer, got hangup"),
        "{text}"
    );
    assert_eq!(text.lines().last(), Some("0 passed, 1 failed"));
}

#[test]
fn say_prints_text_then_fragments() {
    let o = ivr(&["say", "1003", "--as", "number", "--lang", "ar"]);
    assert_eq!(stdout(&o), "ألف وثلاثة\nthousand and n-3\n");
    let o = ivr(&[
        "say", "21", "--as", "number", "--lang", "ar", "--gender", "feminine",
    ]);
    assert_eq!(stdout(&o), "إحدى وعشرون\nn-1-fc and n-20\n");
    assert_eq!(
        ivr(&["say", "x", "--as", "number", "--lang", "en"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn the_shipped_prompt_catalog_checks_clean() {
    let o = ivr(&[
        "prompts",
        "check",
        "flows/complaint_940.flow",
        "flows/complaint_940.ar.flow",
    ]);
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{text}");
    assert!(
        text.contains("checked prompts (ar, en): 68 messages, 0 problem(s)"),
        "{text}"
    );
}
