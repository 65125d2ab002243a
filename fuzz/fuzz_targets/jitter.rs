//! Any bytes as a stream of RTP datagrams and playout ticks: the jitter buffer never panics,
//! never hands out more than a tick's worth, and stays within its depth.
#![no_main]

use ivr_core::media::jitter::JitterBuffer;
use ivr_core::media::rtp::{self, Datagram};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let depth = u64::from(data.first().copied().unwrap_or(3) % 8) + 1;
    let mut jb = JitterBuffer::new(depth);
    let mut out = Vec::new();
    for piece in data.split(|b| *b == 0xFF) {
        match piece.first() {
            // A tick: 160 samples (20 ms) out.
            Some(0) | None => {
                out.clear();
                let _ = jb.pop_into(160, 0xFF, &mut out);
                assert_eq!(out.len(), 160, "a tick is always a tick's worth");
            }
            Some(1) => jb.clear(),
            Some(_) => {
                if let Datagram::Rtp(p) = rtp::parse(piece) {
                    let _ = jb.push(&p);
                }
            }
        }
    }
});
