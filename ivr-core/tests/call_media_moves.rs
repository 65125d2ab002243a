//! A re-INVITE that moves the caller's media — a new address, a new SSRC and the other codec
//! — is followed: prompts go to the new address in the new codec, and keys sent from there
//! still reach the script (no one-way audio for the rest of the call).

#[path = "support/hotline.rs"]
mod hotline;

use ivr_core::call::CallEvent;
use ivr_core::media::g711::Law;
use ivr_core::softphone::{KeyTiming, parse_steps};
use ivr_core::testkit::{LinkConfig, Net, NetConfig};
use ivr_core::{Key, Time};
use std::net::SocketAddr;

fn net(link: LinkConfig) -> Net {
    hotline::net(21, link, |_| {})
}

#[test]
fn audio_and_keys_follow_the_media_to_its_new_address_and_codec() {
    for link in [
        LinkConfig::PERFECT,
        LinkConfig {
            delay_ms: (10, 40),
            loss: 0.02,
            duplicate: 0.01,
        },
    ] {
        let mut net = net(link);
        let caller = "10.0.0.2".parse().expect("ip");
        net.call(caller, |c| {
            // English, then (after the move) a new complaint: roads, district 101.
            c.steps = parse_steps("2 1 1 101").expect("steps");
            c.timing = KeyTiming::Pause(3_000);
            c.prefer = vec![Law::Pcmu];
            c.hangup_after_ms = Some(40_000);
        });
        // The English menu is playing: move to another address, in A-law only.
        net.run_until(Time(5_000));
        let heard_before = net.phone(0).report().heard_audio_ms;
        assert!(heard_before > 1_000, "prompts heard before the move");
        let moved: SocketAddr = "10.0.0.3:41000".parse().expect("addr");
        let now = net.now();
        net.phone_mut(0).move_media(moved, &[Law::Pcma], now);
        assert!(net.run_to_end(120_000));
        let report = net.phone(0).report();
        assert!(
            report
                .lines
                .iter()
                .any(|(_, l)| l.contains("media moved: PCMA")),
            "{report:#?}"
        );
        assert!(
            report.heard_audio_ms > heard_before + 5_000,
            "prompts keep coming after the move: {} ms then {} ms",
            heard_before,
            report.heard_audio_ms
        );
        let events = net.events(0);
        let change = events
            .iter()
            .find_map(|(t, e)| match e {
                CallEvent::MediaChanged { law, remote, .. } => Some((*t, *law, *remote)),
                _ => None,
            })
            .expect("the call saw the media change");
        assert_eq!(change.1, Law::Pcma);
        assert_eq!(change.2, Some(moved));
        // Keys pressed from the new address (after the change) reached the script.
        let keys_after: Vec<Key> = events
            .iter()
            .filter(|(t, _)| *t > change.0)
            .filter_map(|(_, e)| match e {
                CallEvent::Key { key, .. } => Some(*key),
                _ => None,
            })
            .collect();
        assert_eq!(
            keys_after,
            vec![Key::D1, Key::D1, Key::D1, Key::D0, Key::D1]
        );
        let r = &net.finished()[0].record;
        assert!(
            r.steps.iter().any(|s| s == "step describe"),
            "the complaint went on: {:?}",
            r.steps
        );
        assert_eq!(r.media.map(|m| m.codec), Some("PCMA"));
    }
}

/// A menu that waits a long time for a key.
const PATIENT: &str = "languages en

defaults
    on noinput repeat
    after 10 attempts hangup

flow start
    menu timeout 5s
        say main-options
        press 1 hangup
";

#[test]
fn hold_stops_our_audio_and_resume_brings_it_back() {
    // The shipped prompts, so that there is audio to hear.
    let mut line = ivr_core::testkit::line(PATIENT);
    line.bank = hotline::bank();
    let mut net = Net::new(line, ivr_core::testkit::canned(), NetConfig::default());
    net.call("10.0.0.2".parse().expect("ip"), |c| {
        c.hangup_after_ms = Some(60_000);
    });
    net.run_until(Time(4_000));
    let now = net.now();
    net.phone_mut(0).hold(now);
    net.run_until(Time(5_000));
    let held = net.phone(0).report().heard_audio_ms;
    net.run_until(Time(20_000));
    assert_eq!(
        net.phone(0).report().heard_audio_ms,
        held,
        "nothing is sent to a caller who holds the call"
    );
    let now = net.now();
    net.phone_mut(0).resume(now);
    net.run_until(Time(40_000));
    assert!(net.phone(0).report().heard_audio_ms > held, "resumed");
    let sending: Vec<bool> = net
        .events(0)
        .iter()
        .filter_map(|(_, e)| match e {
            CallEvent::MediaChanged { sending, .. } => Some(*sending),
            _ => None,
        })
        .collect();
    assert_eq!(sending, vec![false, true]);
}
