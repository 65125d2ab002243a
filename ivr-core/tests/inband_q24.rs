//! The in-band detector against shared/testdata/dtmf/Q24-tests.md, tests D1–D9, at the
//! "target" column, in linear audio and through G.711 A-law and μ-law.

use ivr_core::media::dtmf::inband::{Detector, Tone};
use ivr_core::media::g711::{self, Law};

const ROWS: [f64; 4] = [697.0, 770.0, 852.0, 941.0];
const COLS: [f64; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
const KEYS: &str = "123A456B789C*0#D";

#[derive(Clone, Copy, Debug)]
enum Path {
    Linear,
    Law(Law),
}
const PATHS: [Path; 3] = [Path::Linear, Path::Law(Law::Pcma), Path::Law(Law::Pcmu)];

/// A 0 dBm0 sine is 3.14 dB below a full-scale one (a level, not π).
#[allow(clippy::approx_constant)]
const DBM0_BELOW_FULL_SCALE: f64 = 3.14;

fn amp(dbm0: f64) -> f64 {
    32767.0 * 10f64.powf((dbm0 - DBM0_BELOW_FULL_SCALE) / 20.0)
}

fn freqs(key: char) -> (f64, f64) {
    let i = KEYS.find(key).expect("key");
    (ROWS[i / 4], COLS[i % 4])
}

/// Audio being built, in f64 so signals can be summed before quantising.
#[derive(Default)]
struct Sig(Vec<f64>);

impl Sig {
    fn tone(&mut self, f1: f64, l1: f64, f2: f64, l2: f64, ms: f64) {
        let n = (ms * 8.0).round() as usize;
        let start = self.0.len();
        for k in 0..n {
            let t = (start + k) as f64 / 8000.0;
            self.0.push(
                amp(l1) * (2.0 * std::f64::consts::PI * f1 * t).sin()
                    + amp(l2) * (2.0 * std::f64::consts::PI * f2 * t).sin(),
            );
        }
    }
    fn key(&mut self, key: char, level: f64, on_ms: f64, off_ms: f64) {
        let (r, c) = freqs(key);
        self.tone(r, level, c, level, on_ms);
        self.silence(off_ms);
    }
    fn silence(&mut self, ms: f64) {
        let n = (ms * 8.0).round() as usize;
        self.0.extend(std::iter::repeat_n(0.0, n));
    }
    fn add(&mut self, other: impl Fn(usize) -> f64) {
        for (i, x) in self.0.iter_mut().enumerate() {
            *x += other(i);
        }
    }
    fn pcm(&self, path: Path) -> Vec<i16> {
        let lin: Vec<i16> = self
            .0
            .iter()
            .map(|x| x.round().clamp(-32768.0, 32767.0) as i16)
            .collect();
        match path {
            Path::Linear => lin,
            Path::Law(law) => {
                let mut codes = Vec::new();
                g711::encode(law, &lin, &mut codes);
                let mut back = Vec::new();
                g711::decode(law, &codes, &mut back);
                back
            }
        }
    }
}

fn detect(sig: &Sig, path: Path) -> Vec<Tone> {
    let mut d = Detector::default();
    let mut out = Vec::new();
    // Fed in 20 ms chunks, as RTP delivers it.
    for chunk in sig.pcm(path).chunks(160) {
        d.push(chunk, &mut out);
    }
    let mut tail = Vec::new();
    d.push(&vec![0; 800], &mut tail);
    out.extend(tail);
    out
}

fn keys(t: &[Tone]) -> String {
    t.iter().map(|t| t.key.as_char()).collect()
}

#[test]
fn d1_decode_all_sixteen_keys() {
    let mut s = Sig::default();
    for k in KEYS.chars() {
        for _ in 0..10 {
            s.key(k, -4.0, 50.0, 50.0);
        }
    }
    let want: String = KEYS
        .chars()
        .flat_map(|k| std::iter::repeat_n(k, 10))
        .collect();
    for path in PATHS {
        assert_eq!(keys(&detect(&s, path)), want, "{path:?}");
    }
}

#[test]
fn d2_frequency_deviation_accept_1_5_reject_3_5_percent() {
    for key in ['1', '5', '9', 'D'] {
        let (r, c) = freqs(key);
        for low_group in [true, false] {
            for step in 1..=60 {
                for sign in [1.0, -1.0] {
                    let off = sign * f64::from(step) * 0.001;
                    let (fr, fc) = if low_group {
                        (r * (1.0 + off), c)
                    } else {
                        (r, c * (1.0 + off))
                    };
                    let mut s = Sig::default();
                    s.tone(fr, -17.0, fc, -17.0, 50.0);
                    s.silence(50.0);
                    for path in PATHS {
                        let n = detect(&s, path).len();
                        let pct = off.abs() * 100.0;
                        if pct <= 1.5 + 1e-9 {
                            assert_eq!(
                                n,
                                1,
                                "{key} {} {off:+.3} {path:?}: not detected",
                                if low_group { "low" } else { "high" }
                            );
                        } else if pct >= 3.5 - 1e-9 {
                            assert_eq!(
                                n,
                                0,
                                "{key} {} {off:+.3} {path:?}: detected",
                                if low_group { "low" } else { "high" }
                            );
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn d3_twist() {
    for key in ['1', '5', '9', 'D'] {
        let (r, c) = freqs(key);
        for path in PATHS {
            for db in 0..=20 {
                let d = f64::from(db);
                // Normal: low fixed at −3 dBm0, high lower by d.
                let mut s = Sig::default();
                s.tone(r, -3.0, c, -3.0 - d, 50.0);
                s.silence(50.0);
                let n = detect(&s, path).len();
                if db <= 8 {
                    assert_eq!(n, 1, "{key} normal twist {db} dB {path:?}");
                } else if db >= 12 {
                    assert_eq!(n, 0, "{key} normal twist {db} dB accepted {path:?}");
                }
                // Reverse: high fixed at −3 dBm0, low lower by d.
                let mut s = Sig::default();
                s.tone(r, -3.0 - d, c, -3.0, 50.0);
                s.silence(50.0);
                let n = detect(&s, path).len();
                if db <= 4 {
                    assert_eq!(n, 1, "{key} reverse twist {db} dB {path:?}");
                } else if db >= 8 {
                    assert_eq!(n, 0, "{key} reverse twist {db} dB accepted {path:?}");
                }
            }
        }
    }
}

#[test]
fn d4_dynamic_range() {
    for path in PATHS {
        let mut hits = 0;
        for db in (-50..=3).rev() {
            let mut s = Sig::default();
            s.key('1', f64::from(db), 50.0, 50.0);
            let n = detect(&s, path).len();
            assert!(n <= 1, "{db} dBm0: {n} digits");
            if (-30..=-4).contains(&db) {
                assert_eq!(n, 1, "{db} dBm0 {path:?}");
            }
            hits += n;
        }
        assert!(hits >= 35, "{path:?}: range {hits} dB");
    }
}

#[test]
fn d5_minimum_duration() {
    for path in PATHS {
        for tenth in (100..=490).step_by(5) {
            let ms = f64::from(tenth) / 10.0;
            let mut s = Sig::default();
            s.key('1', -3.0, ms, 50.0);
            let n = detect(&s, path).len();
            if ms >= 40.0 {
                assert_eq!(n, 1, "{ms} ms {path:?}");
            } else if ms <= 23.0 {
                assert_eq!(n, 0, "{ms} ms detected {path:?}");
            }
        }
    }
}

#[test]
fn d6_digit_strings_at_ten_per_second_and_at_the_q24_minimums() {
    for (on, off) in [(50.0, 50.0), (40.0, 40.0)] {
        for reps in 1..=9 {
            let mut s = Sig::default();
            let want: String = KEYS.repeat(reps);
            for k in want.chars() {
                s.key(k, -10.0, on, off);
            }
            for path in PATHS {
                let got = detect(&s, path);
                assert_eq!(keys(&got), want, "{on}/{off} ms ×{reps} {path:?}");
                for t in &got {
                    assert!(
                        (t.level_dbm0 + 10.0).abs() <= 1.0,
                        "level {} dBm0",
                        t.level_dbm0
                    );
                }
            }
        }
    }
}

#[test]
fn d7_signal_interruption() {
    for path in PATHS {
        let mut s = Sig::default();
        let (r, c) = freqs('5');
        s.tone(r, -10.0, c, -10.0, 45.0);
        s.silence(10.0);
        s.tone(r, -10.0, c, -10.0, 45.0);
        s.silence(100.0);
        assert_eq!(keys(&detect(&s, path)), "5", "10 ms break {path:?}");
        let mut s = Sig::default();
        s.tone(r, -10.0, c, -10.0, 45.0);
        s.silence(40.0);
        s.tone(r, -10.0, c, -10.0, 45.0);
        s.silence(100.0);
        assert_eq!(keys(&detect(&s, path)), "55", "40 ms pause {path:?}");
    }
}

/// Gaussian noise with a fixed seed (Box–Muller over xorshift).
fn noise(power_dbm0: f64, n: usize, mut seed: u64) -> Vec<f64> {
    let sigma = (10f64.powf(power_dbm0 / 10.0) * 2.6145e8).sqrt();
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..n)
        .map(|_| {
            let (u1, u2) = (next().max(1e-12), next());
            sigma * (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
        })
        .collect()
}

#[test]
fn d8_signal_to_noise_15_db() {
    let mut s = Sig::default();
    for _ in 0..1000 {
        s.key('1', -4.0, 50.0, 50.0);
    }
    let w = noise(-19.0, s.0.len(), 0x5EED);
    s.add(|i| w[i]);
    for path in PATHS {
        let got = detect(&s, path);
        assert_eq!(got.len(), 1000, "{path:?}");
        assert!(got.iter().all(|t| t.key == ivr_core::Key::D1));
    }
}

#[test]
fn d9_dial_tone_11_db_below() {
    let mut s = Sig::default();
    for _ in 0..10 {
        for k in KEYS.chars() {
            s.key(k, -15.0, 50.0, 50.0);
        }
    }
    let a = amp(-26.0);
    s.add(|i| {
        let t = i as f64 / 8000.0;
        a * ((2.0 * std::f64::consts::PI * 350.0 * t).sin()
            + (2.0 * std::f64::consts::PI * 440.0 * t).sin())
    });
    for path in PATHS {
        assert_eq!(keys(&detect(&s, path)), KEYS.repeat(10), "{path:?}");
    }
}

#[test]
fn dc_offset_is_removed() {
    let mut s = Sig::default();
    for k in KEYS.chars() {
        s.key(k, -4.0, 50.0, 50.0);
    }
    s.add(|_| 1000.0);
    assert_eq!(keys(&detect(&s, Path::Linear)), KEYS);
}
