//! RTP inactivity: a caller whose media stops for `rtp.inactivity_seconds` is hung up (its
//! record says `rtp_timeout`); 0 turns the check off; a caller holding the call (who has said
//! it sends nothing) is not.

use ivr_core::Time;
use ivr_core::call::{CallConfig, CallEvent};
use ivr_core::testkit::{LinkConfig, Net, NetConfig};
use std::sync::Arc;

/// A menu that waits a long time for a key (five minutes before the script gives up).
const PATIENT: &str = "languages en

defaults
    on noinput repeat
    after 10 attempts hangup

flow start
    menu timeout 30s
        say options
        press 1 hangup
";

fn net(inactivity_ms: u64) -> Net {
    let mut line = ivr_core::testkit::line(PATIENT);
    line.config = Arc::new(CallConfig {
        rtp_inactivity_ms: inactivity_ms,
        ..(*line.config).clone()
    });
    let mut net = Net::new(line, ivr_core::testkit::canned(), NetConfig::default());
    net.call("10.0.0.2".parse().expect("ip"), |c| {
        c.hangup_after_ms = Some(120_000);
    });
    net
}

fn dead() -> LinkConfig {
    LinkConfig {
        loss: 1.0,
        ..LinkConfig::PERFECT
    }
}

#[test]
fn a_caller_whose_media_stops_is_hung_up_after_the_limit() {
    let mut net = net(8_000);
    net.run_until(Time(6_000));
    // The caller's network dies (its media no longer arrives; signalling still works).
    net.rtp_link().set_config(dead());
    let cut = net.now();
    assert!(net.run_to_end(60_000));
    let f = &net.finished()[0];
    assert_eq!(f.record.outcome, "rtp_timeout", "{:#?}", f.record);
    assert_eq!(f.record.hangup_by, "ivr");
    let hung_up = f
        .events
        .iter()
        .find_map(|(t, e)| {
            matches!(
                e,
                CallEvent::HangingUp {
                    reason: "rtp_timeout"
                }
            )
            .then_some(*t)
        })
        .expect("hung up for inactivity");
    // The last packet arrived within one packet time of the cut.
    let after = hung_up.since(cut);
    assert!((7_960..=8_000).contains(&after), "{after} ms after the cut");
    assert!(
        net.phone(0).report().remote_hangup,
        "the caller got our BYE"
    );
    assert_eq!(net.ports_in_use(), 0);
}

#[test]
fn zero_turns_the_check_off() {
    let mut net = net(0);
    net.run_until(Time(6_000));
    net.rtp_link().set_config(dead());
    assert!(net.run_to_end(200_000));
    let r = &net.finished()[0].record;
    assert_ne!(r.outcome, "rtp_timeout", "{r:#?}");
    assert_eq!(
        r.hangup_by, "caller",
        "the caller hung up after two minutes"
    );
    assert_eq!(r.duration_ms, 120_000);
}

#[test]
fn a_held_call_is_not_timed_out() {
    let mut net = net(8_000);
    net.run_until(Time(6_000));
    let now = net.now();
    net.phone_mut(0).hold(now);
    net.run_until(Time(7_000));
    // Held: the caller sends nothing for far longer than the limit.
    net.run_until(Time(60_000));
    assert_eq!(net.active_calls(), 1, "still up while held");
    let now = net.now();
    net.phone_mut(0).resume(now);
    net.run_until(Time(64_000));
    assert_eq!(net.active_calls(), 1, "resumed, and media flows again");
    // After the resume the limit applies again.
    net.rtp_link().set_config(dead());
    assert!(net.run_to_end(60_000));
    assert_eq!(net.finished()[0].record.outcome, "rtp_timeout");
}
