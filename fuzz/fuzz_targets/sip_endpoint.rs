//! Any bytes as SIP datagrams and TCP stream chunks: the endpoint (codec, screening,
//! transactions, dialogs, SDP) never panics, and whatever it sends is a response or a BYE.
//! The input is split at 0xFF bytes into several messages, so that sequences (INVITE then
//! CANCEL, ACK, BYE) are reached.
#![no_main]

use ivr_core::Time;
use ivr_core::sip::codec::{Framed, Framer};
use ivr_core::sip::endpoint::{Endpoint, EndpointConfig, Event, Output};
use libfuzzer_sys::fuzz_target;
use std::net::SocketAddr;

fuzz_target!(|data: &[u8]| {
    // A private address: on the default allow-list.
    let source = SocketAddr::from(([10, 0, 2, 7], 5062));
    let mut ep = Endpoint::new(EndpointConfig::default(), 1);
    let mut framer = Framer::default();
    let mut now = 0;
    for chunk in data.split(|&b| b == 0xff) {
        now += 100;
        ep.handle_input(ivr_core::sip::Input::udp(chunk, source), Time(now));
        framer.push(chunk);
        while let Some(Framed::Message(m)) = framer.next_message() {
            ep.handle_input(ivr_core::sip::Input::tcp(&m, source), Time(now));
        }
        ep.handle_timeout(Time(now));
        let mut calls = Vec::new();
        while let Some(o) = ep.poll_output() {
            match o {
                Output::Transmit { bytes, .. } => {
                    assert!(bytes.starts_with(b"SIP/2.0 ") || bytes.starts_with(b"BYE "));
                }
                Output::Event(Event::Offered { call, .. }) => calls.push(call),
                Output::Event(_) => {}
            }
        }
        // Answer every other call so both answered and unanswered states are reached.
        for (i, c) in calls.into_iter().enumerate() {
            if i % 2 == 0 {
                let _ = ep.answer(c, 20_000, Time(now));
            }
        }
    }
    ep.handle_timeout(Time(now + 64_000));
    while ep.poll_output().is_some() {}
});
