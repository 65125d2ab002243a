//! Two media sessions (the IVR and a caller) over a virtual link with loss, duplication and
//! reordering: keys arrive once, prompt audio flows, in-band detection follows negotiation.

use ivr_core::flow::{DigitMethod, Time};
use ivr_core::media::g711::{self, Law};
use ivr_core::media::session::{Inband, MediaConfig, MediaEvent, MediaSession};
use std::net::SocketAddr;
use std::sync::Arc;

struct Link {
    loss_every: u64,
    n: u64,
    in_flight: Vec<(u64, Vec<u8>)>,
}

impl Link {
    fn send(&mut self, now: u64, p: Vec<u8>) {
        self.n += 1;
        if self.loss_every > 0 && self.n.is_multiple_of(self.loss_every) {
            return;
        }
        // Delay 10–59 ms (reorders), and duplicate every 23rd packet.
        let delay = 10 + (self.n * 37) % 50;
        if self.n.is_multiple_of(23) {
            self.in_flight.push((now + delay + 5, p.clone()));
        }
        self.in_flight.push((now + delay, p));
    }
    fn deliver(&mut self, now: u64) -> Vec<Vec<u8>> {
        let (due, keep): (Vec<_>, Vec<_>) = self.in_flight.drain(..).partition(|(t, _)| *t <= now);
        self.in_flight = keep;
        let mut due = due;
        due.sort_by_key(|(t, _)| *t);
        due.into_iter().map(|(_, p)| p).collect()
    }
}

fn run(
    ivr: &mut MediaSession,
    caller: &mut MediaSession,
    ms: u64,
    loss_every: u64,
    mut at: impl FnMut(u64, &mut MediaSession),
) -> Vec<MediaEvent> {
    let a: SocketAddr = "10.0.0.1:4000".parse().expect("addr");
    let b: SocketAddr = "10.0.0.2:5000".parse().expect("addr");
    let mut to_ivr = Link {
        loss_every,
        n: 0,
        in_flight: Vec::new(),
    };
    let mut to_caller = Link {
        loss_every,
        n: 0,
        in_flight: Vec::new(),
    };
    let mut events = Vec::new();
    for now in 0..ms {
        at(now, caller);
        for s in [&mut *ivr, &mut *caller] {
            if s.poll_timeout() <= Time(now) {
                s.handle_timeout(Time(now));
            }
        }
        while let Some(p) = caller.poll_transmit() {
            to_ivr.send(now, p);
        }
        while let Some(p) = ivr.poll_transmit() {
            to_caller.send(now, p);
        }
        for p in to_ivr.deliver(now) {
            ivr.receive(b, &p, Time(now));
        }
        for p in to_caller.deliver(now) {
            caller.receive(a, &p, Time(now));
        }
        while let Some(e) = ivr.poll_event() {
            events.push(e);
        }
        while caller.poll_event().is_some() {}
    }
    events
}

fn digits(ev: &[MediaEvent]) -> Vec<(char, DigitMethod)> {
    ev.iter()
        .filter_map(|e| match e {
            MediaEvent::Digit(d) => Some((d.key, d.method)),
            _ => None,
        })
        .collect()
}

#[test]
fn rfc4733_keys_arrive_once_through_a_lossy_link() {
    let mut ivr = MediaSession::new(MediaConfig::default(), Time(0), [1, 100, 1000]);
    let mut caller = MediaSession::new(MediaConfig::default(), Time(0), [2, 200, 2000]);
    assert!(!ivr.inband());
    let keys = ['1', '0', '1', '#'];
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
            c.play(1, vec![Arc::clone(&clip)]);
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
            c.play(1, vec![Arc::clone(&clip)]);
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
            c.play(1, vec![Arc::clone(&clip)]);
            c.send_dtmf('9', Time(now), 100);
        }
    });
    let d = digits(&ev);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].0, '9');
}
