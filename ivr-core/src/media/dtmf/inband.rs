//! In-band DTMF: a tone detector on decoded audio, meeting ITU-T Q.24 (see
//! shared/testdata/dtmf/Q24-tests.md, tests D1–D9), including the strict frequency rule that
//! spandsp does not meet (accept ±1.5 %, reject ±3.5 %).
//!
//! The 8 DTMF frequencies are measured (a DFT at each, the job Goertzel filters usually do) over
//! 51-sample half-blocks; two neighbouring halves form a 102-sample analysis window (12.75 ms),
//! so a window ends every 6.375 ms at the cost of one filter bank.
//! A window carries key K when: both tones are strong enough; the twist is within −8…+4 dB
//! (high − low); each tone beats the others of its group by 8 dB; the two tones hold at least
//! 82 % of the window's energy (DC removed), which also means a window less than about 82 %
//! filled by the tone fails; and each tone's actual frequency, measured from the phase advance
//! between the two halves, is within 2.5 % of nominal. A key is reported after 4 consecutive
//! windows (a tone of 40 ms or more gives at least 4, one of 23 ms or less at most 3); it ends
//! after 4 consecutive windows without it (a 10 ms break spoils at most 3, a 40 ms pause at
//! least 7).

use crate::vocab::Key;
use std::f32::consts::PI;

const RATE: f32 = 8000.0;
const HALF: usize = 51;
const WINDOW: usize = 2 * HALF;
const ROWS: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
const COLS: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
const KEYS: [[Key; 4]; 4] = [
    [Key::D1, Key::D2, Key::D3, Key::A],
    [Key::D4, Key::D5, Key::D6, Key::B],
    [Key::D7, Key::D8, Key::D9, Key::C],
    [Key::Star, Key::D0, Key::Pound, Key::D],
];
/// Windows in a row needed to report a key.
const ON_WINDOWS: u32 = 4;
/// Windows in a row without the key that end it.
const OFF_WINDOWS: u32 = 4;
use crate::media::DBM0_POWER as DBM0;

/// A key heard in the audio.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tone {
    /// The key.
    pub key: Key,
    /// Start, in samples since the detector began.
    pub start: u64,
    /// Level of the weaker of its two tones, in dBm0.
    pub level_dbm0: f32,
}

/// Settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Settings {
    /// Weakest tone accepted, dBm0.
    pub min_level_dbm0: f32,
    /// Largest frequency error accepted, as a fraction (0.025 = 2.5 %).
    pub max_deviation: f32,
    /// Normal twist limit (low louder), dB.
    pub normal_twist_db: f32,
    /// Reverse twist limit (high louder), dB.
    pub reverse_twist_db: f32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            min_level_dbm0: -38.0,
            max_deviation: 0.025,
            // Q.24's 8 and 4 dB, plus half a dB for the estimate's own error (leakage from the
            // other tone differs by key), so that a twist of exactly 8 or 4 dB is accepted.
            normal_twist_db: 8.5,
            reverse_twist_db: 4.5,
        }
    }
}

/// One window's verdict.
#[derive(Clone, Copy, Debug)]
struct Hit {
    key: Key,
    /// Row tone power.
    low: f32,
    /// Column tone power.
    high: f32,
}

/// Consecutive windows with the same key.
#[derive(Clone, Copy, Debug)]
struct Run {
    key: Key,
    count: u32,
    start: u64,
    low: f32,
    high: f32,
}

#[derive(Clone, Copy, Debug, Default)]
struct Half {
    /// Complex DFT of the half at each of the 8 frequencies (local phase reference).
    x: [(f32, f32); 8],
    sum: f32,
    sum_sq: f32,
}

/// The dual tone of `key` for `ms` milliseconds, each tone at `dbm0` (a sender's side: the
/// softphone's in-band keys).
pub fn generate(key: Key, ms: u32, dbm0: f32) -> Vec<i16> {
    let (r, c) = KEYS
        .iter()
        .enumerate()
        .find_map(|(r, row)| row.iter().position(|&k| k == key).map(|c| (r, c)))
        // Every key is in the table.
        .unwrap_or((3, 1));
    let amp = crate::media::sine_amplitude(dbm0);
    let n = (ms * 8) as usize;
    (0..n)
        .map(|i| {
            let t = i as f32 / RATE;
            let v = amp * ((2.0 * PI * ROWS[r] * t).sin() + (2.0 * PI * COLS[c] * t).sin());
            v.clamp(-32_768.0, 32_767.0) as i16
        })
        .collect()
}

/// The detector for one audio stream.
#[derive(Clone, Debug)]
pub struct Detector {
    s: Settings,
    /// e^{−jω·HALF}, to join two halves into one window.
    join: [(f32, f32); 8],
    /// Running DFT of the current half at the 8 frequencies.
    re: [f32; 8],
    im: [f32; 8],
    /// cos and sin of ω·m for each position m of a half block.
    cos: Box<[[f32; 8]; HALF]>,
    sin: Box<[[f32; 8]; HALF]>,
    n: usize,
    sum: f32,
    sum_sq: f32,
    prev: Option<Half>,
    samples: u64,
    candidate: Option<Run>,
    current: Option<Key>,
    misses: u32,
}

impl Default for Detector {
    fn default() -> Self {
        Self::new(Settings::default())
    }
}

fn freq(i: usize) -> f32 {
    if i < 4 { ROWS[i] } else { COLS[i - 4] }
}

impl Detector {
    /// A detector with settings.
    pub fn new(s: Settings) -> Self {
        let join = std::array::from_fn(|i| {
            let j = 2.0 * PI * freq(i) / RATE * HALF as f32;
            (j.cos(), -j.sin())
        });
        Detector {
            s,
            join,
            re: [0.0; 8],
            im: [0.0; 8],
            cos: Box::new(std::array::from_fn(|m| {
                std::array::from_fn(|i| (2.0 * PI * freq(i) / RATE * m as f32).cos())
            })),
            sin: Box::new(std::array::from_fn(|m| {
                std::array::from_fn(|i| (2.0 * PI * freq(i) / RATE * m as f32).sin())
            })),
            n: 0,
            sum: 0.0,
            sum_sq: 0.0,
            prev: None,
            samples: 0,
            candidate: None,
            current: None,
            misses: 0,
        }
    }

    /// Feeds linear samples; keys found are appended to `out`.
    pub fn push(&mut self, mut samples: &[i16], out: &mut Vec<Tone>) {
        while !samples.is_empty() {
            let take = (HALF - self.n).min(samples.len());
            let (chunk, rest) = samples.split_at(take);
            self.filter(chunk);
            self.n += take;
            self.samples += take as u64;
            samples = rest;
            if self.n == HALF {
                self.end_half(out);
            }
        }
    }

    /// The filter bank over a run of samples: a direct DFT at the 8 frequencies against
    /// tables for the half-block's 51 positions. Unlike a Goertzel recursion it has no
    /// sample-to-sample dependency, so the compiler vectorises it fully.
    fn filter(&mut self, chunk: &[i16]) {
        // Digital silence (a tick with no packet) adds nothing to any sum: skip the bank.
        if chunk.iter().all(|&x| x == 0) {
            return;
        }
        // Two sets of accumulators for alternate samples keep the additions independent.
        let (mut re0, mut im0) = (self.re, self.im);
        let (mut re1, mut im1) = ([0.0f32; 8], [0.0f32; 8]);
        let (mut sum, mut sum_sq) = (self.sum, self.sum_sq);
        let cos = &self.cos[self.n..self.n + chunk.len()];
        let sin = &self.sin[self.n..self.n + chunk.len()];
        let pairs = chunk
            .chunks_exact(2)
            .zip(cos.chunks_exact(2))
            .zip(sin.chunks_exact(2));
        for ((x, c), sn) in pairs {
            let (x0, x1) = (f32::from(x[0]), f32::from(x[1]));
            sum += x0 + x1;
            sum_sq += x0 * x0 + x1 * x1;
            for i in 0..8 {
                re0[i] += x0 * c[0][i];
                im0[i] -= x0 * sn[0][i];
                re1[i] += x1 * c[1][i];
                im1[i] -= x1 * sn[1][i];
            }
        }
        if chunk.len() % 2 == 1 {
            let last = chunk.len() - 1;
            let x = f32::from(chunk[last]);
            sum += x;
            sum_sq += x * x;
            for i in 0..8 {
                re0[i] += x * cos[last][i];
                im0[i] -= x * sin[last][i];
            }
        }
        for i in 0..8 {
            re0[i] += re1[i];
            im0[i] += im1[i];
        }
        (self.re, self.im) = (re0, im0);
        (self.sum, self.sum_sq) = (sum, sum_sq);
    }

    fn end_half(&mut self, out: &mut Vec<Tone>) {
        let mut h = Half {
            sum: self.sum,
            sum_sq: self.sum_sq,
            ..Default::default()
        };
        for i in 0..8 {
            h.x[i] = (self.re[i], self.im[i]);
        }
        self.re = [0.0; 8];
        self.im = [0.0; 8];
        self.n = 0;
        self.sum = 0.0;
        self.sum_sq = 0.0;
        if let Some(p) = self.prev.replace(h) {
            let key = self.window(&p, &h);
            self.track(key, out);
        }
    }

    /// Decides one window made of halves `a` then `b`.
    fn window(&self, a: &Half, b: &Half) -> Option<Hit> {
        let n = WINDOW as f32;
        let total = ((a.sum_sq + b.sum_sq) - (a.sum + b.sum).powi(2) / n) / n;
        if total <= 0.0 {
            return None;
        }
        let power: [f32; 8] = std::array::from_fn(|i| {
            // Whole-window DFT: first half plus the second delayed by HALF samples.
            let (jr, ji) = self.join[i];
            let (br, bi) = b.x[i];
            let re = a.x[i].0 + br * jr - bi * ji;
            let im = a.x[i].1 + br * ji + bi * jr;
            2.0 * (re * re + im * im) / (n * n)
        });
        let best = |lo: usize| {
            (lo..lo + 4)
                .max_by(|&i, &j| power[i].total_cmp(&power[j]))
                .unwrap_or(lo)
        };
        let (r, c) = (best(0), best(4));
        let (pr, pc) = (power[r], power[c]);
        let min = DBM0 * 10f32.powf(self.s.min_level_dbm0 / 10.0);
        if pr < min || pc < min {
            return None;
        }
        // Twist is judged on the average over the windows that make a digit (see `track`):
        // leakage between the two tones makes one window's estimate swing by about ±1 dB.
        // Here only what no digit could have: more than 6 dB beyond either limit.
        let twist_db = 10.0 * (pc / pr).log10();
        if twist_db < -self.s.normal_twist_db - 6.0 || twist_db > self.s.reverse_twist_db + 6.0 {
            return None;
        }
        // Each tone beats the rest of its group by 8 dB.
        let dominant =
            |k: usize, lo: usize| (lo..lo + 4).all(|i| i == k || power[k] >= 6.31 * power[i]);
        if !dominant(r, 0) || !dominant(c, 4) {
            return None;
        }
        if pr + pc < 0.82 * total {
            return None;
        }
        // Frequency check: the phase a tone advances over HALF samples gives its frequency.
        for k in [r, c] {
            let (ar, ai) = a.x[k];
            let (br, bi) = b.x[k];
            // b · conj(a)
            let re = br * ar + bi * ai;
            let im = bi * ar - br * ai;
            let advance = im.atan2(re);
            let expected = 2.0 * PI * freq(k) * HALF as f32 / RATE;
            let mut d = advance - expected;
            d -= 2.0 * PI * (d / (2.0 * PI)).round();
            let df = d * RATE / (2.0 * PI * HALF as f32);
            if (df / freq(k)).abs() > self.s.max_deviation {
                return None;
            }
        }
        Some(Hit {
            key: KEYS[r][c - 4],
            low: pr,
            high: pc,
        })
    }

    fn track(&mut self, hit: Option<Hit>, out: &mut Vec<Tone>) {
        // The window that just ended began this many samples ago.
        let window_start = self.samples - WINDOW as u64;
        let Some(h) = hit else {
            self.candidate = None;
            if self.current.is_some() {
                self.misses += 1;
                if self.misses >= OFF_WINDOWS {
                    self.current = None;
                }
            }
            return;
        };
        if self.current == Some(h.key) {
            self.misses = 0;
            return;
        }
        if self.current.is_some() {
            // Another key: a miss for the current one.
            self.misses += 1;
            if self.misses >= OFF_WINDOWS {
                self.current = None;
            }
        }
        let run = match self.candidate {
            Some(mut r) if r.key == h.key => {
                r.count += 1;
                r.low += h.low;
                r.high += h.high;
                r
            }
            _ => Run {
                key: h.key,
                count: 1,
                start: window_start,
                low: h.low,
                high: h.high,
            },
        };
        self.candidate = Some(run);
        if run.count < ON_WINDOWS {
            return;
        }
        self.candidate = None;
        let twist_db = 10.0 * (run.high / run.low).log10();
        if twist_db < -self.s.normal_twist_db || twist_db > self.s.reverse_twist_db {
            return;
        }
        let n = run.count as f32;
        out.push(Tone {
            key: run.key,
            start: run.start,
            level_dbm0: 10.0 * ((run.low.min(run.high) / n) / DBM0).log10(),
        });
        self.current = Some(run.key);
        self.misses = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_detected() {
        for key in [
            Key::D1,
            Key::D5,
            Key::D9,
            Key::D0,
            Key::Star,
            Key::Pound,
            Key::D,
        ] {
            let mut d = Detector::default();
            let mut out = Vec::new();
            let mut audio = generate(key, 100, -10.0);
            audio.extend(std::iter::repeat_n(0i16, 800));
            d.push(&audio, &mut out);
            assert_eq!(out.iter().map(|t| t.key).collect::<Vec<_>>(), vec![key]);
        }
    }
}
