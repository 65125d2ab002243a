//! Any bytes as a SIP TCP stream, cut into reads at 0xFF: the framer never panics, never
//! hands out more bytes than arrived, keeps at most its limit buffered, and frames the same
//! messages however the stream is cut.
#![no_main]

use ivr_core::sip::codec::{Framed, Framer};
use libfuzzer_sys::fuzz_target;

fn frame(reads: &[&[u8]]) -> (Vec<Vec<u8>>, bool) {
    let mut f = Framer::with_limit(4_096);
    let (mut messages, mut broken) = (Vec::new(), false);
    'all: for r in reads {
        f.push(r);
        while let Some(m) = f.next_message() {
            match m {
                Framed::Message(b) => messages.push(b),
                Framed::Broken(_) => {
                    broken = true;
                    break 'all;
                }
            }
        }
        assert!(f.buffered() <= 4_096 + r.len());
    }
    (messages, broken)
}

fuzz_target!(|data: &[u8]| {
    let reads: Vec<&[u8]> = data.split(|b| *b == 0xFF).collect();
    let (cut, cut_broken) = frame(&reads);
    let whole: Vec<u8> = reads.concat();
    let (once, once_broken) = frame(&[&whole]);
    let total: usize = cut.iter().map(Vec::len).sum();
    assert!(total <= whole.len());
    if !cut_broken && !once_broken {
        assert_eq!(cut, once, "framing depends on how the stream was cut");
    }
});
