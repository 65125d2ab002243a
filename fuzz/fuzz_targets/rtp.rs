//! Any bytes as a datagram on a media port: the RTP/RTCP classifier and parser never panic,
//! and what parses as RTP builds back to a packet that parses the same.
#![no_main]

use ivr_core::media::rtp::{self, Datagram};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Datagram::Rtp(p) = rtp::parse(data) {
        let mut out = Vec::new();
        rtp::build(
            &mut out,
            p.pt,
            p.marker,
            p.seq,
            p.timestamp,
            p.ssrc,
            p.payload,
        );
        match rtp::parse(&out) {
            Datagram::Rtp(q) => {
                assert_eq!(
                    (q.pt, q.seq, q.timestamp, q.ssrc),
                    (p.pt, p.seq, p.timestamp, p.ssrc)
                );
                assert_eq!(q.payload, p.payload);
            }
            _ => panic!("a packet built from a parsed one does not parse"),
        }
    }
});
