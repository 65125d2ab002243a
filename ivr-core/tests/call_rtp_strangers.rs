//! A stranger who sends RTP to a call's media port — audio and RFC 4733 keys, before the
//! caller's media arrives and all through the call — neither takes the call's audio nor
//! presses keys in it: the server's prompts keep going to the caller, the caller's own keys
//! reach the script, and the complaint is filed as if no one had tried.

#[path = "support/hotline.rs"]
mod hotline;

use ivr_core::call::{CallConfig, CallEvent, LatchFrom};
use ivr_core::media::rtp;
use ivr_core::softphone::{KeyTiming, parse_steps};
use ivr_core::testkit::{Datagram, LinkConfig, Net};
use ivr_core::{Key, Time};
use std::net::SocketAddr;

fn net(link: LinkConfig, configure: impl FnOnce(&mut CallConfig)) -> Net {
    hotline::net(33, link, configure)
}

/// One packet of the stranger's: every fifth an RFC 4733 key 9 (start, then end), the rest
/// loud PCMU audio.
fn stranger_packet(n: u16, ssrc: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let ts = u32::from(n) * 160;
    match n % 5 {
        0 => rtp::build(&mut out, 101, true, n, ts, ssrc, &[9, 10, 0, 160]),
        1 => rtp::build(
            &mut out,
            101,
            false,
            n,
            ts - 160,
            ssrc,
            &[9, 0x80 | 10, 1, 64],
        ),
        _ => rtp::build(&mut out, 0, false, n, ts, ssrc, &[0x00; 160]),
    }
    out
}

/// The caller's script: English, a new complaint, roads, district 101, then a description; hangs up at 40 s.
fn place_call(net: &mut Net) {
    let caller = "10.0.0.2".parse().expect("ip");
    net.call(caller, |c| {
        c.steps = parse_steps("2 1 1 101").expect("steps");
        c.timing = KeyTiming::Pause(3_000);
        c.hangup_after_ms = Some(40_000);
    });
}

/// Runs the call to its end, a stranger sending `burst` packets every 20 ms, the n-th from
/// `from(n)`, to the call's media port, from the moment the call exists.
fn run_with_stranger(
    net: &mut Net,
    burst: u16,
    from: impl Fn(u16) -> SocketAddr,
    ssrc: impl Fn(u16) -> u32,
) {
    let mut n: u16 = 0;
    while net.now() < Time(60_000) {
        let t = net.now().plus(20);
        net.run_until(t);
        for _ in 0..burst {
            if let Some(to) = net.call_rtp(0)
                && net.active_calls() > 0
            {
                net.inject(Datagram {
                    from: from(n),
                    to,
                    bytes: stranger_packet(n, ssrc(n)),
                });
                n = n.wrapping_add(1);
            }
        }
    }
    assert!(n > 1_000, "the stranger sent all through the call: {n}");
    assert!(net.run_to_end(60_000), "the call ended");
}

fn keys(net: &Net) -> Vec<Key> {
    net.events(0)
        .into_iter()
        .filter_map(|(_, e)| match e {
            CallEvent::Key { key, .. } => Some(key),
            _ => None,
        })
        .collect()
}

/// What the caller should see whatever the stranger did.
fn assert_untouched(net: &Net, stranger: &[SocketAddr]) {
    assert_eq!(
        keys(net),
        vec![Key::D2, Key::D1, Key::D1, Key::D1, Key::D0, Key::D1],
        "only the caller's keys reached the script"
    );
    for s in stranger {
        assert_eq!(net.strays_to(*s), 0, "no audio went to the stranger at {s}");
    }
    let report = net.phone(0).report();
    assert!(
        report.heard_audio_ms > 15_000,
        "the caller heard the prompts: {} ms",
        report.heard_audio_ms
    );
    let r = &net.finished()[0].record;
    assert!(
        r.steps.iter().any(|s| s == "step describe"),
        "the complaint went on: {:?}",
        r.steps
    );
    let refused = r.media.map_or(0, |m| m.refused_packets);
    assert!(
        refused > 1_000,
        "the call record counts the stranger's packets: {refused}"
    );
}

#[test]
fn a_stranger_on_another_host_never_gets_in() {
    for link in [
        LinkConfig::PERFECT,
        LinkConfig {
            delay_ms: (10, 40),
            loss: 0.02,
            duplicate: 0.01,
        },
    ] {
        for burst in [1, 3] {
            let mut net = net(link, |_| {});
            place_call(&mut net);
            let evil: SocketAddr = "198.51.100.7:5004".parse().expect("addr");
            run_with_stranger(&mut net, burst, |_| evil, |_| 0xBAD);
            assert_untouched(&net, &[evil]);
        }
    }
}

#[test]
fn a_spray_of_one_packet_per_source_never_sets_the_latch_even_from_anywhere() {
    // A media relay line: any source may set the latch, but only by packets in sequence from
    // one source and one stream. A scanner sends one packet per port (and per stream).
    let mut net = net(LinkConfig::PERFECT, |c| c.rtp_latch = LatchFrom::Anywhere);
    place_call(&mut net);
    let from = |n: u16| SocketAddr::new([198, 51, 100, 7].into(), 1024 + (n % 30_000));
    run_with_stranger(&mut net, 1, from, |n| 0x1000 + u32::from(n));
    let sprayed: Vec<SocketAddr> = (0..3_000).map(from).collect();
    assert_untouched(&net, &sprayed);
}

#[test]
fn with_the_latch_open_to_anywhere_a_steady_stranger_first_would_win() {
    // The trade-off the default avoids, shown so that it stays a choice: with `latch:
    // anywhere`, a stranger whose stream is in sequence before the caller's takes the audio.
    // It sends three packets at a time, so that it is first.
    let mut net = net(LinkConfig::PERFECT, |c| c.rtp_latch = LatchFrom::Anywhere);
    place_call(&mut net);
    let evil: SocketAddr = "198.51.100.7:5004".parse().expect("addr");
    run_with_stranger(&mut net, 3, |_| evil, |_| 0xBAD);
    assert!(
        net.strays_to(evil) > 0,
        "the stranger got audio (so the default, `signalled`, is what keeps it out)"
    );
}
