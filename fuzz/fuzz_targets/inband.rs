//! Any bytes as 16-bit audio in chunks of any length: the in-band DTMF detector never
//! panics and reports no more tones than 40 ms pieces of audio could hold.
#![no_main]

use ivr_core::media::dtmf::inband::{Detector, Settings};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let samples: Vec<i16> = data
        .chunks_exact(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .collect();
    let mut d = Detector::new(Settings::default());
    let mut tones = Vec::new();
    let mut rest = &samples[..];
    let mut k = 0usize;
    while !rest.is_empty() {
        let n = (data.get(k).copied().unwrap_or(160) as usize % 400 + 1).min(rest.len());
        d.push(&rest[..n], &mut tones);
        rest = &rest[n..];
        k += 1;
    }
    assert!(
        tones.len() <= samples.len() / 320 + 1,
        "{} tones",
        tones.len()
    );
});
