//! Any bytes as what reaches one answered call: split at 0xFF into a sequence; each piece is an
//! RTP datagram (from the caller or from a stranger), a SIP INFO body, or — by its first byte
//! — a key, a media change or a pause. The call machine (its media session, RFC 4733
//! receiver, jitter buffer, in-band detector, recorder and flow) never panics, and once the
//! caller hangs up it hands out exactly one record.
#![no_main]

use ivr_core::call::{Call, CallConfig, CallSetup, Input, Line, MediaPlan, Output};
use ivr_core::flow::{Defaults, FlowConfig, Program};
use ivr_core::media::g711::Law;
use ivr_core::media::session::Inband;
use ivr_core::prompts::bank::PromptBank;
use ivr_core::sip::endpoint::{CallRef, EndReason, Event};
use ivr_core::sip::sdp::{Agreed, Direction};
use ivr_core::{DigitMethod, Key, Time};
use libfuzzer_sys::fuzz_target;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

const SCRIPT: &str = "languages en

defaults
    on noinput repeat
    after 3 attempts hangup

flow start
    menu
        say options
        press 1 goto describe
        press 2 goto ask
        press 9 hangup

flow describe
    record note beep max 20s silence 2s until hash
        say record-now
    say note
    goto start

flow ask
    collect ticket digits 2 to 6 until hash
        say enter-ticket
    goto start
";

fn line() -> &'static Line {
    static LINE: OnceLock<Line> = OnceLock::new();
    LINE.get_or_init(|| Line {
        program: Arc::new(
            Program::compile(SCRIPT.as_bytes(), &Default::default(), Defaults::default())
                .expect("the fuzz script compiles"),
        ),
        version: Arc::from("fuzz"),
        flow: Arc::new(FlowConfig::default()),
        config: Arc::new(CallConfig {
            inband: Inband::On,
            ..CallConfig::default()
        }),
        bank: Arc::new(PromptBank::estimating(None, 60)),
    })
}

fn agreed(law: Law, port: u16) -> Agreed {
    Agreed {
        law,
        pt: law.payload_type(),
        event: Some((101, 8000)),
        ptime: 20,
        direction: Direction::SendRecv,
        remote: Some(([127, 0, 0, 2].into(), port)),
        index: 0,
        refused: Vec::new(),
    }
}

fn drain(call: &mut Call, records: &mut u32) {
    while let Some(o) = call.poll_output() {
        match o {
            Output::Rtp { packet, .. } => call.recycle(packet),
            Output::Record(_) => *records += 1,
            _ => {}
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let setup = CallSetup {
        uid: "fuzz".into(),
        asserted: None,
        call_id: "fuzz@test".into(),
        from: "<sip:1@127.0.0.2>;tag=1".into(),
        to: "<sip:940@127.0.0.1>".into(),
        started_at: jiff::Timestamp::UNIX_EPOCH,
        media: MediaPlan::Rtp {
            port: Some(20_000),
            random: [1, 2, 3],
            signalling: None,
            allow: std::sync::Arc::from(Vec::new()),
        },
    };
    let mut now = Time(0);
    let mut call = Call::new(line(), setup, now);
    let mut records = 0;
    let c = CallRef(1);
    call.handle_input(
        Input::Sip(Event::Confirmed {
            call: c,
            media: agreed(Law::Pcmu, 4000),
        }),
        now,
    );
    let caller = SocketAddr::from(([127, 0, 0, 2], 4000));
    let stranger = SocketAddr::from(([127, 0, 0, 3], 4000));
    for piece in data.split(|&b| b == 0xff) {
        let Some((&first, rest)) = piece.split_first() else {
            continue;
        };
        match first % 8 {
            0 | 1 | 2 => call.handle_input(
                Input::Rtp {
                    from: caller,
                    datagram: piece,
                },
                now,
            ),
            3 => call.handle_input(
                Input::Rtp {
                    from: stranger,
                    datagram: piece,
                },
                now,
            ),
            4 => call.handle_input(
                Input::Sip(Event::Info {
                    call: c,
                    content_type: if first & 8 == 0 {
                        "application/dtmf-relay"
                    } else {
                        "application/dtmf"
                    }
                    .into(),
                    body: rest.to_vec(),
                }),
                now,
            ),
            5 => call.handle_input(
                Input::Key {
                    key: Key::from_event(first >> 4).unwrap_or(Key::D1),
                    method: DigitMethod::Simulated,
                },
                now,
            ),
            6 => call.handle_input(
                Input::Sip(Event::MediaChanged {
                    call: c,
                    media: agreed(
                        if first & 8 == 0 { Law::Pcma } else { Law::Pcmu },
                        4000 + u16::from(first >> 4),
                    ),
                }),
                now,
            ),
            _ => {
                let until = now.plus(u64::from(first) * 40);
                while let Some(t) = call.poll_timeout().filter(|t| *t <= until) {
                    now = now.max(t);
                    call.handle_timeout(now);
                    drain(&mut call, &mut records);
                }
                now = until;
            }
        }
        drain(&mut call, &mut records);
        assert!(records <= 1);
    }
    call.handle_input(
        Input::Sip(Event::Ended {
            call: c,
            reason: EndReason::RemoteBye,
        }),
        now,
    );
    drain(&mut call, &mut records);
    let mut steps = 0;
    while let Some(t) = call.poll_timeout() {
        steps += 1;
        assert!(steps < 100_000, "teardown does not end");
        now = now.max(t);
        call.handle_timeout(now);
        drain(&mut call, &mut records);
    }
    assert_eq!(records, 1);
});
