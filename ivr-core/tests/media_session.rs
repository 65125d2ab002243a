//! Two media sessions (the IVR and a caller) over a virtual link with loss, duplication and
//! reordering: keys arrive once, prompt audio flows, in-band detection follows negotiation.

use ivr_core::media::g711::{self, Law};
use ivr_core::media::playback::Piece;
use ivr_core::media::session::{Inband, Input, MediaConfig, MediaEvent, MediaSession, Output};
use ivr_core::testkit::{Datagram, Link, LinkConfig};
use ivr_core::{DigitMethod, Key, Time};
use std::net::SocketAddr;
use std::sync::Arc;

fn run(
    ivr: &mut MediaSession,
    caller: &mut MediaSession,
    ms: u64,
    loss_every: u64,
    mut at: impl FnMut(u64, &mut MediaSession),
) -> Vec<MediaEvent> {
    let a: SocketAddr = "10.0.0.1:4000".parse().expect("addr");
    let b: SocketAddr = "10.0.0.2:5000".parse().expect("addr");
    // Delay 10–59 ms (reorders), some loss, some duplication: the kit's seeded link.
    let cfg = LinkConfig {
        delay_ms: (10, 59),
        loss: if loss_every > 0 {
            1.0 / loss_every as f64
        } else {
            0.0
        },
        duplicate: 1.0 / 23.0,
    };
    let mut link = Link::new(cfg, 42);
    let mut events = Vec::new();
    for now in 0..ms {
        at(now, caller);
        for s in [&mut *ivr, &mut *caller] {
            if s.poll_timeout().is_some_and(|t| t <= Time(now)) {
                s.handle_timeout(Time(now));
            }
        }
        while let Some(o) = caller.poll_output() {
            if let Output::Transmit(p) = o {
                link.send(
                    Time(now),
                    Datagram {
                        from: b,
                        to: a,
                        bytes: p,
                    },
                );
            }
        }
        while let Some(o) = ivr.poll_output() {
            match o {
                Output::Transmit(p) => link.send(
                    Time(now),
                    Datagram {
                        from: a,
                        to: b,
                        bytes: p,
                    },
                ),
                Output::Event(e) => events.push(e),
            }
        }
        while let Some(d) = link.pop_due(Time(now)) {
            let s = if d.to == a { &mut *ivr } else { &mut *caller };
            s.handle_input(
                Input::Datagram {
                    from: d.from,
                    bytes: &d.bytes,
                },
                Time(now),
            );
        }
        while let Some(o) = ivr.poll_output() {
            match o {
                Output::Transmit(p) => link.send(
                    Time(now),
                    Datagram {
                        from: a,
                        to: b,
                        bytes: p,
                    },
                ),
                Output::Event(e) => events.push(e),
            }
        }
    }
    events
}

fn digits(ev: &[MediaEvent]) -> Vec<(char, DigitMethod)> {
    ev.iter()
        .filter_map(|e| match e {
            MediaEvent::Digit(d) => Some((d.key.as_char(), d.method)),
            _ => None,
        })
        .collect()
}

#[test]
fn rfc4733_keys_arrive_once_through_a_lossy_link() {
    let mut ivr = MediaSession::new(MediaConfig::default(), Time(0), [1, 100, 1000]);
    let mut caller = MediaSession::new(MediaConfig::default(), Time(0), [2, 200, 2000]);
    assert!(!ivr.inband());
    let keys = [Key::D1, Key::D0, Key::D1, Key::Pound];
    let ev = run(&mut ivr, &mut caller, 3_000, 10, |now, c| {
        if now % 500 == 100 && (now / 500) < keys.len() as u64 {
            c.send_dtmf(keys[(now / 500) as usize], Time(now), 120);
        }
    });
    let got: String = digits(&ev).iter().map(|(k, _)| *k).collect();
    assert_eq!(got, "101#");
    assert!(digits(&ev).iter().all(|(_, m)| *m == DigitMethod::Rfc4733));
    // Audio flowed both ways through the jitter buffer, with some loss concealed.
    let st = ivr.jitter_stats();
    assert!(st.played > 100 && st.lost > 0, "{st:?}");
}

fn tone(key: (f64, f64), ms: usize) -> Vec<i16> {
    let a = f64::from(ivr_core::media::sine_amplitude(-10.0));
    (0..ms * 8)
        .map(|i| {
            let t = i as f64 / 8000.0;
            (a * ((2.0 * std::f64::consts::PI * key.0 * t).sin()
                + (2.0 * std::f64::consts::PI * key.1 * t).sin())) as i16
        })
        .collect()
}

#[test]
fn inband_keys_are_heard_when_no_telephone_event_was_negotiated() {
    let cfg = MediaConfig {
        event_pt: None,
        ..Default::default()
    };
    let mut ivr = MediaSession::new(cfg, Time(0), [1, 100, 1000]);
    let mut caller = MediaSession::new(cfg, Time(0), [2, 200, 2000]);
    assert!(ivr.inband());
    let mut pcm = tone((770.0, 1336.0), 80);
    pcm.extend(vec![0; 800]);
    pcm.extend(tone((941.0, 1477.0), 80));
    let mut codes = Vec::new();
    g711::encode(Law::Pcmu, &pcm, &mut codes);
    let clip: Arc<[u8]> = codes.into();
    let ev = run(&mut ivr, &mut caller, 1_500, 0, |now, c| {
        if now == 200 {
            c.play(1, Law::Pcmu, vec![Piece::Audio(Arc::clone(&clip))]);
        }
    });
    assert_eq!(
        digits(&ev),
        vec![('5', DigitMethod::Inband), ('#', DigitMethod::Inband)]
    );
}

#[test]
fn with_telephone_event_the_audio_is_not_searched_for_tones() {
    let mut ivr = MediaSession::new(
        MediaConfig {
            inband: Inband::Auto,
            ..Default::default()
        },
        Time(0),
        [1, 1, 1],
    );
    let mut caller = MediaSession::new(MediaConfig::default(), Time(0), [2, 2, 2]);
    let mut codes = Vec::new();
    g711::encode(Law::Pcmu, &tone((770.0, 1336.0), 100), &mut codes);
    let clip: Arc<[u8]> = codes.into();
    let ev = run(&mut ivr, &mut caller, 800, 0, |now, c| {
        if now == 100 {
            c.play(1, Law::Pcmu, vec![Piece::Audio(Arc::clone(&clip))]);
        }
    });
    assert!(digits(&ev).is_empty());
}

#[test]
fn the_same_key_in_band_and_as_an_event_is_reported_once() {
    let cfg = MediaConfig {
        inband: Inband::On,
        ..Default::default()
    };
    let mut ivr = MediaSession::new(cfg, Time(0), [1, 1, 1]);
    let mut caller = MediaSession::new(MediaConfig::default(), Time(0), [2, 2, 2]);
    let mut codes = Vec::new();
    g711::encode(Law::Pcmu, &tone((852.0, 1477.0), 100), &mut codes);
    let clip: Arc<[u8]> = codes.into();
    let ev = run(&mut ivr, &mut caller, 1_000, 0, |now, c| {
        if now == 100 {
            c.play(1, Law::Pcmu, vec![Piece::Audio(Arc::clone(&clip))]);
            c.send_dtmf(Key::D9, Time(now), 100);
        }
    });
    let d = digits(&ev);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].0, '9');
}
