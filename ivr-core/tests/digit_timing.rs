//! VoiceXML Appendix D timing for `collect` and menus, in virtual time.

use ivr_core::flow::{Event, Outcome};
use ivr_core::testkit::FlowDriver as Driver;

const COLLECT: &str = "languages en

defaults
    after 5 attempts hangup

flow start
    collect code digits 3 to 6 until hash timeout 5s
        say enter
        on nomatch
            say wrong
            repeat
        on noinput
            say nothing
            repeat
    say got
    hangup
";

#[test]
fn first_digit_timeout_starts_when_the_prompt_ends() {
    let mut d = Driver::new(COLLECT);
    d.play_ms = 3000;
    d.start();
    d.until(7_900);
    assert!(
        d.when(|e| matches!(e, Event::Noinput(_))).is_empty(),
        "not before 3 s + 5 s"
    );
    d.until(8_000);
    assert_eq!(d.when(|e| matches!(e, Event::Noinput(1))), vec![8_000]);
    assert_eq!(d.prompts(), vec!["enter", "nothing", "enter"]);
}

#[test]
fn inter_digit_timeout_accepts_at_least_min_digits() {
    let mut d = Driver::new(COLLECT);
    d.start();
    d.until(1_000);
    d.keys("1234");
    // 4 digits (between 3 and 6), then 3 s of silence: accepted. `keys` waits 100 ms after
    // each key, so the last one came at `now - 100`.
    let t = d.now - 100;
    d.until(t + 2_900);
    assert_eq!(d.var("code"), None);
    d.until(t + 3_000);
    assert_eq!(d.var("code").as_deref(), Some("1234"));
}

#[test]
fn inter_digit_timeout_below_min_is_nomatch() {
    let mut d = Driver::new(COLLECT);
    d.start();
    d.until(1_000);
    d.keys("12");
    let t = d.now;
    d.until(t + 3_000);
    assert_eq!(d.when(|e| matches!(e, Event::Nomatch(1))).len(), 1);
    assert!(d.prompts().contains(&"wrong".to_string()));
}

#[test]
fn terminator_ends_input_and_is_not_kept() {
    let mut d = Driver::new(COLLECT);
    d.start();
    d.until(1_000);
    d.keys("123#");
    assert_eq!(d.var("code").as_deref(), Some("123"));
}

#[test]
fn terminator_before_min_is_nomatch() {
    let mut d = Driver::new(COLLECT);
    d.start();
    d.until(1_000);
    d.keys("12#");
    assert_eq!(d.var("code"), None);
    assert_eq!(d.when(|e| matches!(e, Event::Nomatch(1))).len(), 1);
}

#[test]
fn max_digits_end_input_at_once() {
    let mut d = Driver::new(COLLECT);
    d.start();
    d.until(1_000);
    d.keys("123456");
    assert_eq!(d.var("code").as_deref(), Some("123456"));
}

#[test]
fn typeahead_during_an_interruptible_prompt_is_kept() {
    let src = "languages en

defaults
    after 3 attempts hangup

flow start
    say welcome
    collect code digits 3
        say enter
    say got
    hangup
";
    let mut d = Driver::new(src);
    d.play_ms = 4000;
    d.start();
    d.until(500);
    // During `welcome`: the prompt stops, the digits are kept for the collect that follows.
    d.keys("42");
    d.keys("7");
    assert_eq!(d.var("code").as_deref(), Some("427"));
    assert!(
        !d.prompts().contains(&"enter".to_string())
            || d.prompts().iter().filter(|p| *p == "enter").count() == 1
    );
}

#[test]
fn keys_during_a_prompt_without_interruption_are_ignored() {
    let src = "languages en

defaults
    after 3 attempts hangup

flow start
    say rules without interruption
    menu
        say options
        press 1 hangup
";
    let mut d = Driver::new(src);
    d.play_ms = 2000;
    d.start();
    d.until(500);
    d.key('1');
    assert!(d.events().contains(&Event::DigitIgnored(ivr_core::Key::D1)));
    d.until(4_100);
    d.key('1');
    assert_eq!(d.call.outcome(), Some(&Outcome::Hangup));
}

#[test]
fn menu_key_during_its_prompt_barges_in() {
    let src = "languages en

defaults
    after 3 attempts hangup

flow start
    menu
        say options
        press 2 hangup
";
    let mut d = Driver::new(src);
    d.play_ms = 10_000;
    d.start();
    d.until(1_000);
    d.key('2');
    assert!(
        d.outputs
            .iter()
            .any(|(_, o)| matches!(o, ivr_core::flow::Output::StopPlayback))
    );
    assert_eq!(d.call.outcome(), Some(&Outcome::Hangup));
    assert_eq!(d.now, 1_000);
}
