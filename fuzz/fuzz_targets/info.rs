//! Any bytes as a SIP INFO key press (the first byte picks the content type): the parser
//! never panics, and a key it accepts is one of the sixteen.
#![no_main]

use ivr_core::media::dtmf::info;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&kind, body)) = data.split_first() else {
        return;
    };
    let ct = match kind % 4 {
        0 => "application/dtmf-relay",
        1 => "application/dtmf",
        2 => "Application/DTMF-Relay; charset=utf-8",
        _ => "text/plain",
    };
    if let Ok(d) = info::parse(ct, body) {
        assert!(ivr_core::vocab::keys(&d.key.to_string()).is_ok());
    }
});
