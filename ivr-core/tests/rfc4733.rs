//! RFC 4733 receive: the twelve receiver cases of shared/testdata/dtmf/rfc4733-notes.md, the
//! SIPp pcaps, the sender, and digits surviving loss, duplication and reordering.

#[path = "support/shared.rs"]
mod shared;

use ivr_core::media::dtmf::rfc4733::{self, Ignored, Receiver, Report};
use ivr_core::media::rtp::{self, Datagram};
use ivr_core::{Key, Time};
use proptest::prelude::*;

const PT: u8 = 101;

/// One event report: (ms, seq, marker, timestamp, ssrc, event, end, duration, volume byte).
#[derive(Clone, Copy)]
struct P {
    at: u64,
    seq: u16,
    m: bool,
    ts: u32,
    ssrc: u32,
    ev: u8,
    end: bool,
    dur: u16,
    pt: u8,
    vol: u8,
}

fn p(at: u64, seq: u16, ts: u32, ev: u8, end: bool, dur: u16) -> P {
    P {
        at,
        seq,
        m: false,
        ts,
        ssrc: 7,
        ev,
        end,
        dur,
        pt: PT,
        vol: 10,
    }
}

fn run(packets: &[P]) -> Vec<Report> {
    let mut r = Receiver::new(PT);
    let mut out = Vec::new();
    let mut buf = Vec::new();
    for x in packets {
        while let Some(t) = r.poll_timeout() {
            if t.0 > x.at {
                break;
            }
            r.handle_timeout(t, &mut out);
        }
        let d = x.dur.to_be_bytes();
        let flags = (u8::from(x.end) << 7) | x.vol;
        rtp::build(
            &mut buf,
            x.pt,
            x.m,
            x.seq,
            x.ts,
            x.ssrc,
            &[x.ev, flags, d[0], d[1]],
        );
        if let Datagram::Rtp(pkt) = rtp::parse(&buf) {
            let _ = r.handle(&pkt, Time(x.at), &mut out);
        }
    }
    // Let any open event time out.
    while let Some(t) = r.poll_timeout() {
        r.handle_timeout(t, &mut out);
    }
    out
}

fn pressed(r: &[Report]) -> String {
    r.iter()
        .filter_map(|x| match x {
            Report::Pressed(d) => Some(d.key.as_char()),
            _ => None,
        })
        .collect()
}

fn released(r: &[Report]) -> Vec<(char, u32, bool)> {
    r.iter()
        .filter_map(|x| match x {
            Report::Released {
                key,
                duration,
                timed_out,
            } => Some((key.as_char(), *duration, *timed_out)),
            _ => None,
        })
        .collect()
}

fn textbook(ts: u32, ev: u8, seq0: u16, at0: u64) -> Vec<P> {
    let mut v = vec![P {
        m: true,
        ..p(at0, seq0, ts, ev, false, 400)
    }];
    for i in 1..4u16 {
        v.push(p(
            at0 + 50 * u64::from(i),
            seq0 + i,
            ts,
            ev,
            false,
            400 * (i + 1),
        ));
    }
    for i in 0..3u16 {
        v.push(p(
            at0 + 200 + 50 * u64::from(i),
            seq0 + 4 + i,
            ts,
            ev,
            true,
            1600,
        ));
    }
    v
}

#[test]
fn case_01_textbook() {
    let r = run(&textbook(8000, 5, 100, 0));
    assert_eq!(pressed(&r), "5");
    assert_eq!(released(&r), vec![('5', 1600, false)]);
}

#[test]
fn case_03_first_two_packets_lost() {
    let v = textbook(8000, 3, 100, 0);
    let r = run(&v[2..]);
    assert_eq!(pressed(&r), "3");
    assert_eq!(released(&r), vec![('3', 1600, false)]);
}

#[test]
fn case_04_all_end_packets_lost() {
    let v = textbook(8000, 9, 100, 0);
    let r = run(&v[..4]);
    assert_eq!(pressed(&r), "9");
    assert_eq!(released(&r), vec![('9', 1600, true)]);
}

#[test]
fn case_05_end_deferred_once_without_e() {
    let mut v = textbook(8000, 2, 100, 0);
    v[4].end = false; // the final duration first comes with E=0
    let r = run(&v);
    assert_eq!(pressed(&r), "2");
    assert_eq!(released(&r), vec![('2', 1600, false)]);
}

#[test]
fn case_06_same_digit_twice() {
    let mut v = textbook(7040, 1, 100, 0);
    v.extend(textbook(7040 + 4160, 1, 107, 300));
    let r = run(&v);
    assert_eq!(pressed(&r), "11");
    assert_eq!(released(&r).len(), 2);
}

#[test]
fn case_07_long_press_in_segments_8khz() {
    // 10 s at 8 kHz: 80,000 units = one full segment (0xFFFF) then 14,465 more.
    let mut v = vec![P {
        m: true,
        ..p(0, 1, 1000, 0, false, 400)
    }];
    let mut seq = 2;
    let mut at = 50;
    let mut dur: u32 = 800;
    while dur < 0xFFFF {
        v.push(p(at, seq, 1000, 0, false, dur.min(0xFFFF) as u16));
        seq += 1;
        at += 50;
        dur += 400;
    }
    v.push(p(at, seq, 1000, 0, false, 0xFFFF));
    let ts2 = 1000 + 0xFFFF;
    let mut d2: u32 = 400;
    while d2 < 80_000 - 0xFFFF {
        seq += 1;
        at += 50;
        v.push(p(at, seq, ts2, 0, false, d2 as u16));
        d2 += 400;
    }
    for _ in 0..3 {
        seq += 1;
        at += 50;
        v.push(p(at, seq, ts2, 0, true, (80_000 - 0xFFFF) as u16));
    }
    let r = run(&v);
    assert_eq!(pressed(&r), "0");
    assert_eq!(released(&r), vec![('0', 80_000, false)]);
}

#[test]
fn case_08_long_press_at_48khz() {
    // telephone-event/48000: 2 s = 96,000 units, more than one segment.
    let mut v = vec![P {
        m: true,
        ..p(0, 1, 500, 8, false, 2400)
    }];
    let mut seq = 2;
    let mut at = 50;
    let mut d: u32 = 4800;
    while d < 0xFFFF {
        v.push(p(at, seq, 500, 8, false, d as u16));
        seq += 1;
        at += 50;
        d += 2400;
    }
    v.push(p(at, seq, 500, 8, false, 0xFFFF));
    let rest = 96_000 - 0xFFFF;
    for _ in 0..3 {
        seq += 1;
        at += 50;
        v.push(p(at, seq, 500 + 0xFFFF, 8, true, rest as u16));
    }
    let r = run(&v);
    assert_eq!(pressed(&r), "8");
    assert_eq!(released(&r), vec![('8', 96_000, false)]);
}

#[test]
fn case_09_irregular_spacing() {
    let v = vec![
        P {
            m: true,
            ..p(0, 1, 3000, 4, false, 160)
        },
        p(20, 2, 3000, 4, false, 320),
        p(40, 3, 3000, 4, false, 480),
        p(1700, 4, 3000, 4, true, 13_568),
        p(1700, 5, 3000, 4, true, 13_568),
        p(1720, 6, 3000, 4, true, 13_568),
    ];
    let r = run(&v);
    // The long silence closes the event by timeout before its end reports; they are then
    // recognised as the same event and not reported again.
    assert_eq!(pressed(&r), "4");
    assert_eq!(released(&r).len(), 1);
}

#[test]
fn case_10_volume_and_r_bit() {
    let mut v = textbook(9000, 7, 1, 0);
    for x in &mut v {
        x.vol = 0x4A; // R bit set, volume 10
    }
    let r = run(&v);
    assert_eq!(pressed(&r), "7");
    assert_eq!(released(&r), vec![('7', 1600, false)]);
    // Volume 0 ("unknown") is not a reason to reject.
    let mut v = textbook(9000, 6, 1, 0);
    for x in &mut v {
        x.vol = 0;
    }
    assert_eq!(pressed(&run(&v)), "6");
}

#[test]
fn case_11_wrong_payload_type() {
    let mut r = Receiver::new(PT);
    let mut out = Vec::new();
    let mut buf = Vec::new();
    rtp::build(&mut buf, 96, true, 1, 100, 7, &[5, 10, 1, 144]);
    let Datagram::Rtp(pkt) = rtp::parse(&buf) else {
        panic!("rtp")
    };
    assert_eq!(
        r.handle(&pkt, Time(0), &mut out),
        Err(Ignored::PayloadType(96))
    );
    assert!(out.is_empty());
}

#[test]
fn case_12_interleaved_with_audio_and_ssrc_change() {
    // Events on their own SSRC between audio packets of another (the session sends only the
    // telephone-event payload type here; audio PT 8 is refused without disturbing the event).
    let mut v = Vec::new();
    for (i, x) in textbook(20_000, 11, 50, 0).into_iter().enumerate() {
        v.push(P { ssrc: 0xABCD, ..x });
        v.push(P {
            pt: 8,
            ssrc: 0x1111 + i as u32,
            ..x
        });
    }
    let r = run(&v);
    assert_eq!(pressed(&r), "#");
}

#[test]
fn zero_duration_first_packet_then_the_digit() {
    let mut v = textbook(100, 1, 1, 0);
    v.insert(
        0,
        P {
            m: true,
            ..p(0, 0, 100, 1, false, 0)
        },
    );
    v[1].m = false;
    assert_eq!(pressed(&run(&v)), "1");
}

/// Reads RTP payloads (UDP payloads of IPv4 over Ethernet) from a classic pcap file.
fn pcap_rtp(path: &std::path::Path) -> Vec<(u64, Vec<u8>)> {
    let data = std::fs::read(path).expect("pcap readable");
    let mut r = pcap_file::pcap::PcapReader::new(&data[..]).expect("pcap header");
    let mut out = Vec::new();
    while let Some(pkt) = r.next_packet() {
        let pkt = pkt.expect("pcap record");
        let d = &pkt.data;
        if d.len() < 14 + 20 + 8 || d[12..14] != [0x08, 0x00] {
            continue;
        }
        let ihl = usize::from(d[14] & 0x0F) * 4;
        let udp = 14 + ihl;
        if d[14 + 9] != 17 || d.len() < udp + 8 {
            continue;
        }
        out.push((pkt.timestamp.as_millis() as u64, d[udp + 8..].to_vec()));
    }
    out
}

#[test]
fn case_02_sipp_pcaps_decode_to_their_digit() {
    let Some(dir) = shared::testdata("sipp") else {
        return;
    };
    let names = [
        ("0", '0'),
        ("1", '1'),
        ("2", '2'),
        ("3", '3'),
        ("4", '4'),
        ("5", '5'),
        ("6", '6'),
        ("7", '7'),
        ("8", '8'),
        ("9", '9'),
        ("star", '*'),
        ("pound", '#'),
    ];
    for (name, key) in names {
        let packets = pcap_rtp(&dir.join(format!("dtmf_2833_{name}.pcap")));
        assert!(!packets.is_empty());
        let mut r = Receiver::new(101);
        let mut out = Vec::new();
        let t0 = packets[0].0;
        for (t, bytes) in &packets {
            if let Datagram::Rtp(pkt) = rtp::parse(bytes) {
                let _ = r.handle(&pkt, Time(t - t0), &mut out);
            }
        }
        assert_eq!(pressed(&out), key.to_string(), "{name}");
        assert_eq!(released(&out).len(), 1, "{name}: {out:?}");
    }
}

#[test]
fn sender_follows_the_rfc() {
    let pkts = rfc4733::send(Key::Pound, Time(1000), 4242, 160, 8000, 10);
    // Same timestamp throughout; M only on the first; durations grow and are never 0.
    assert!(pkts.iter().all(|p| p.timestamp == 4242));
    assert!(pkts[0].marker && pkts[1..].iter().all(|p| !p.marker));
    let durs: Vec<u16> = pkts
        .iter()
        .map(|p| u16::from_be_bytes([p.payload[2], p.payload[3]]))
        .collect();
    assert!(durs.windows(2).all(|w| w[0] <= w[1]) && durs[0] > 0);
    // Updates every 50 ms, then three end packets carrying the final duration (1280 units).
    let times: Vec<u64> = pkts.iter().map(|p| p.at.0).collect();
    assert_eq!(times, vec![1000, 1050, 1100, 1150, 1160, 1210, 1260]);
    let ends: Vec<&rfc4733::EventPacket> =
        pkts.iter().filter(|p| p.payload[1] & 0x80 != 0).collect();
    assert_eq!(ends.len(), 3);
    assert!(
        ends.iter()
            .all(|p| u16::from_be_bytes([p.payload[2], p.payload[3]]) == 1280)
    );
    assert!(
        pkts.iter()
            .all(|p| p.payload[0] == 11 && p.payload[1] & 0x3F == 10 && p.payload[1] & 0x40 == 0)
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// A string of digits sent by the sender, through a link with 10 % loss, duplication and
    /// reordering (within 60 ms): every digit is reported exactly once, in order.
    #[test]
    fn every_digit_once_through_loss_and_reordering(
        digits in "[0-9*#]{1,12}",
        seed in any::<u64>(),
    ) {
        let mut rng = seed | 1;
        let mut next = move || { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; rng };
        let mut sent: Vec<(u64, u16, rfc4733::EventPacket)> = Vec::new();
        let mut seq = 0u16;
        let mut ts = 160u32;
        let mut t = 0u64;
        for key in digits.chars() {
            let key = Key::from_char(key).expect("the strategy makes keys");
            for pkt in rfc4733::send(key, Time(t), ts, 120, 8000, 10) {
                seq = seq.wrapping_add(1);
                sent.push((pkt.at.0, seq, pkt));
            }
            t += 300;
            ts = ts.wrapping_add(2400);
        }
        // The link: drop 10 %, duplicate 5 %, delay up to 60 ms (which reorders).
        let mut arrivals: Vec<(u64, u16, rfc4733::EventPacket)> = Vec::new();
        for (at, s, pkt) in sent {
            if next() % 10 == 0 { continue; }
            let copies = if next() % 20 == 0 { 2 } else { 1 };
            for _ in 0..copies {
                arrivals.push((at + next() % 60, s, pkt.clone()));
            }
        }
        arrivals.sort_by_key(|a| a.0);
        let mut r = Receiver::new(PT);
        let mut out = Vec::new();
        let mut buf = Vec::new();
        for (at, s, pkt) in &arrivals {
            while let Some(tt) = r.poll_timeout() {
                if tt.0 > *at { break; }
                r.handle_timeout(tt, &mut out);
            }
            rtp::build(&mut buf, PT, pkt.marker, *s, pkt.timestamp, 99, &pkt.payload);
            if let Datagram::Rtp(p) = rtp::parse(&buf) {
                let _ = r.handle(&p, Time(*at), &mut out);
            }
        }
        // A press can only go missing if every one of its packets was lost; expect exactly the
        // presses that had at least one packet arrive.
        let got = pressed(&out);
        let all_lost = |k: usize| {
            let key_ts = 160u32.wrapping_add(2400 * k as u32);
            !arrivals.iter().any(|a| a.2.timestamp == key_ts)
        };
        let expected: String = digits.chars().enumerate().filter(|(k, _)| !all_lost(*k)).map(|(_, c)| c).collect();
        prop_assert_eq!(got, expected);
    }
}
