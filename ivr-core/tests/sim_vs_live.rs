//! The simulator and a live call of the same scenario write the same transcript: the
//! simulator's far end presses the keys the softphone presses, at the same instants, and
//! talks where the softphone talks; both calls run the same call machine, one on the media
//! model, the other on RTP through the test kit.
//!
//! They differ only where the network does: a live recording hears the caller's voice a few
//! packets later (the softphone waits to hear the beep end, and the audio crosses two jitter
//! buffers), so its length and what follows it move by well under a tenth of a second. The
//! comparison takes that into account and nothing else.

#[path = "support/hotline.rs"]
mod hotline;

use ivr_core::sim::{self, CallerStep, CannedBackend, SimOptions};
use ivr_core::softphone::{KeyTiming, parse_steps};
use ivr_core::testkit::{Delayed, Net, NetConfig};
use std::collections::VecDeque;
use std::sync::Arc;

/// The softphone's pause between key groups.
const PAUSE: u64 = 1_500;
/// How far a live call's lines may drift from the simulated ones (the recording's delay).
const DRIFT_MS: u64 = 150;

/// A line's text with what the network changes blanked: recording lengths and places.
fn comparable(text: &str) -> String {
    let recording = [
        "recording ends",
        "input recording",
        "set description",
        "play recording",
    ];
    if recording.iter().any(|r| text.starts_with(r)) {
        text.split_whitespace()
            .map(|w| {
                if w.chars().any(|c| c.is_ascii_digit()) {
                    "#"
                } else {
                    w
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    } else {
        // The recording's place in a backend request.
        text.split_whitespace()
            .map(|w| {
                if w.starts_with("description=") {
                    "description=#"
                } else {
                    w
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[test]
fn a_complaint_call_is_the_same_simulated_and_live() {
    let voice = hotline::voice();
    let say_ms = voice.len() as u64 / 8;
    let groups = ["2", "1", "1", "1", "0", "1"];
    // The live caller: English, new complaint, roads, district 1-0-1 key by key, the
    // description after the beep, # to end it, 1 to send.
    let line = hotline::line("complaint_940.flow", |_| {});
    let mut net = Net::new(
        line.clone(),
        Box::new(Delayed {
            backend: CannedBackend::new(100_001),
            delay_ms: 200,
        }),
        NetConfig::default(),
    );
    net.call("10.0.0.2".parse().expect("ip"), |c| {
        c.steps = parse_steps(&format!("{} say # 1", groups.join(" "))).expect("steps");
        c.timing = KeyTiming::Pause(PAUSE);
        c.say = Some(Arc::clone(&voice));
    });
    assert!(net.run_to_end(300_000));
    let live = net.transcript(0);
    // The simulated caller does the same at the same times.
    let mut steps = VecDeque::new();
    steps.push_back(CallerStep::Silence(PAUSE));
    for (i, g) in groups.iter().enumerate() {
        if i > 0 {
            steps.push_back(CallerStep::Silence(200 + PAUSE));
        }
        steps.push_back(CallerStep::Barge((*g).into()));
    }
    steps.push_back(CallerStep::Speak(say_ms));
    steps.push_back(CallerStep::Silence(say_ms + PAUSE));
    steps.push_back(CallerStep::Barge("#".into()));
    steps.push_back(CallerStep::Silence(200 + PAUSE));
    steps.push_back(CallerStep::Barge("1".into()));
    let mut backend = CannedBackend::new(100_001);
    let simulated = sim::simulate(&line, &mut steps, &mut backend, &SimOptions::default());
    let texts = |t: &ivr_core::sim::Transcript| -> Vec<String> {
        t.lines.iter().map(|l| comparable(&l.text)).collect()
    };
    assert_eq!(
        texts(&simulated),
        texts(&live),
        "simulated:\n{}\nlive:\n{}",
        simulated.render(),
        live.render()
    );
    let mut worst = 0;
    for (s, l) in simulated.lines.iter().zip(&live.lines) {
        worst = worst.max(s.at.abs_diff(l.at));
    }
    assert!(
        worst <= DRIFT_MS,
        "lines drift by up to {worst} ms:\nsimulated:\n{}\nlive:\n{}",
        simulated.render(),
        live.render()
    );
    // Before the recording, the two are the same to the millisecond.
    let before = simulated
        .lines
        .iter()
        .position(|l| l.text.starts_with("recording starts"))
        .expect("a recording");
    assert_eq!(simulated.lines[..before], live.lines[..before]);
    assert_eq!(simulated.outcome, Some(ivr_core::flow::Outcome::Hangup));
    assert_eq!(
        simulated.submitted.len(),
        1,
        "the complaint was filed in both"
    );
    assert_eq!(live.submitted.len(), 1);
}
