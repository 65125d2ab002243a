//! Media throughput: G.711 encode/decode, and the in-band DTMF detector in real-time channels
//! per core (spandsp's detector: about 28,000, i.e. 4.4 ns per sample).
//!
//! `cargo bench --bench media`; figures go to docs/PERFORMANCE.md.
#![allow(missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ivr::core::media::dtmf::inband::Detector;
use ivr::core::media::g711::{self, Law};
use ivr::core::media::jitter::JitterBuffer;
use ivr::core::media::rtp::{self, Datagram};

fn speechlike(n: usize) -> Vec<i16> {
    // A mix of tones and noise at speech levels; no DTMF.
    let mut seed = 0x1234_5678u32;
    (0..n)
        .map(|i| {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            let t = i as f32 / 8000.0;
            let v = 3000.0 * (2.0 * std::f32::consts::PI * 220.0 * t).sin()
                + 1500.0 * (2.0 * std::f32::consts::PI * 1030.0 * t).sin()
                + (seed % 2000) as f32
                - 1000.0;
            v as i16
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let second = speechlike(8000);
    let mut g = c.benchmark_group("media");
    g.throughput(Throughput::Elements(second.len() as u64));
    for law in [Law::Pcmu, Law::Pcma] {
        let mut codes = Vec::with_capacity(8000);
        g.bench_function(format!("g711 encode {}", law.name()), |b| {
            b.iter(|| {
                codes.clear();
                g711::encode(law, std::hint::black_box(&second), &mut codes);
            })
        });
        let mut enc = Vec::new();
        g711::encode(law, &second, &mut enc);
        let mut pcm = Vec::with_capacity(8000);
        g.bench_function(format!("g711 decode {}", law.name()), |b| {
            b.iter(|| {
                pcm.clear();
                g711::decode(law, std::hint::black_box(&enc), &mut pcm);
            })
        });
    }
    // One second of audio per iteration: samples/s ÷ 8000 = real-time channels per core.
    let mut det = Detector::default();
    let mut out = Vec::new();
    g.bench_function("inband dtmf detector (1 s of audio)", |b| {
        b.iter(|| {
            for chunk in second.chunks(160) {
                det.push(std::hint::black_box(chunk), &mut out);
            }
            out.clear();
        })
    });
    // Jitter buffer: 1,000 packets pushed (every 10th swapped with its neighbour) and played.
    let packets: Vec<Vec<u8>> = (0..1000u16)
        .map(|i| {
            let seq = if i % 10 == 3 {
                i + 1
            } else if i % 10 == 4 {
                i - 1
            } else {
                i
            };
            let mut b = Vec::new();
            rtp::build(
                &mut b,
                0,
                false,
                seq,
                u32::from(seq) * 160,
                42,
                &[0xFF; 160],
            );
            b
        })
        .collect();
    g.throughput(Throughput::Elements(1000));
    g.bench_function("jitter buffer push+pop (1000 packets)", |b| {
        b.iter(|| {
            let mut j = JitterBuffer::new(3);
            let mut out = Vec::with_capacity(160);
            for p in &packets {
                if let Datagram::Rtp(pkt) = rtp::parse(std::hint::black_box(p)) {
                    let _ = j.push(&pkt);
                }
                // As the media session does: one 20 ms tick into a reused buffer.
                out.clear();
                let _ = j.pop_into(160, 0xFF, &mut out);
            }
            j.stats
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
