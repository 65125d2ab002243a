//! `ivr serve` against SIPp (Debian package `sip-tester`): real SIP over loopback, with the
//! server's call records read back. Skipped when sipp is missing, unless
//! `IVR_REQUIRE_EXTERNAL` is set (CI), when that fails instead.

mod common;

use common::serve::{Served, free_port, run_sipp, scenario, sipp};
use std::net::UdpSocket;
use std::time::{Duration, Instant};

const FLOW: &str = "flows/complaint_940.flow";

/// μ-law byte to linear.
fn ulaw(b: u8) -> i16 {
    let b = !b;
    let t = ((i16::from(b & 0x0f) << 3) + 0x84) << ((b & 0x70) >> 4);
    if b & 0x80 != 0 { 0x84 - t } else { t - 0x84 }
}

#[test]
fn a_call_hears_prompt_audio_and_hangs_up_with_bye() {
    let Some(sipp) = sipp() else { return };
    let s = Served::start("basic", FLOW, "");
    let rtp = free_port();
    let sock = UdpSocket::bind(("127.0.0.1", rtp)).expect("media port");
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let listener = std::thread::spawn(move || {
        let (mut packets, mut loud, mut buf) = (0u32, 0u32, [0u8; 2048]);
        let until = Instant::now() + Duration::from_secs(6);
        while Instant::now() < until {
            if let Ok(n) = sock.recv(&mut buf)
                && n > 12
                && buf[1] & 0x7f == 0
            {
                packets += 1;
                let energy: i64 = buf[12..n].iter().map(|&b| i64::from(ulaw(b)).abs()).sum();
                if energy / (n as i64 - 12) > 300 {
                    loud += 1;
                }
            }
        }
        (packets, loud)
    });
    let run = run_sipp(
        &sipp,
        s.addr,
        s.dir(),
        &[
            "-sf",
            &scenario("basic_media.xml"),
            "-m",
            "1",
            "-key",
            "rtp_port",
            &rtp.to_string(),
            "-d",
            "3000",
        ],
    );
    let (packets, loud) = listener.join().expect("listener");
    assert!(run.success, "{}", run.output);
    // 3 s of call at 20 ms: about 150 packets, and the welcome prompt is speech.
    assert!(packets >= 120, "{packets} RTP packets received");
    assert!(loud >= 50, "only {loud} of {packets} packets carry audio");
    let cdrs = s.wait_cdrs(1);
    assert_eq!(cdrs.len(), 1, "{cdrs:?}");
    let c = &cdrs[0];
    assert_eq!(c["outcome"], "caller_hangup");
    assert_eq!(c["hangup_by"], "caller");
    assert_eq!(c["media"]["codec"], "PCMU");
    assert!(c["answered_at"].is_string());
    assert_eq!(c["prompts"][0]["id"], "welcome");
    assert_eq!(c["prompts"][0]["lang"], "ar");
    assert_eq!(c["steps"][0], "flow start");
    let (code, log) = s.stop();
    assert_eq!(code, Some(0), "{log}");
    assert!(
        log.contains("call_id="),
        "log lines carry the call id: {log}"
    );
}

#[path = "../ivr-core/tests/support/shared.rs"]
mod shared;

#[test]
fn rfc2833_digits_from_sipps_pcap_reach_the_flow_and_the_call_record() {
    let Some(sipp) = sipp() else { return };
    let Some(pcaps) = shared::testdata("sipp") else {
        return;
    };
    let s = Served::start("dtmf", FLOW, "");
    // uac_pcap.xml plays `pcap/g711a.pcap` then `pcap/dtmf_2833_1.pcap`, relative to its folder.
    std::os::unix::fs::symlink(&pcaps, s.dir().join("pcap")).expect("link the pcaps");
    let run = run_sipp(
        &sipp,
        s.addr,
        s.dir(),
        &[
            "-sf",
            &pcaps.join("uac_pcap.xml").display().to_string(),
            "-m",
            "1",
        ],
    );
    assert!(run.success, "{}", run.output);
    let cdrs = s.wait_cdrs(1);
    let c = &cdrs[0];
    assert_eq!(c["media"]["codec"], "PCMA", "{c}");
    let digits = c["digits"].as_array().expect("digits");
    assert_eq!(
        digits.len(),
        1,
        "exactly one key, whatever the pcap's repeats: {c}"
    );
    assert_eq!(digits[0]["key"], "1");
    assert_eq!(digits[0]["method"], "rfc4733");
    // The A-law audio before it went through the jitter buffer.
    assert!(
        c["media"]["frames_received"].as_u64().unwrap_or(0) > 200,
        "{c}"
    );
    // Key 1 at the language menu chooses Arabic.
    assert!(
        c["steps"].as_array().is_some_and(|s| s.len() > 1),
        "the flow moved on after the key: {c}"
    );
}

#[test]
fn cancel_while_ringing_gets_200_and_487_and_is_recorded() {
    let Some(sipp) = sipp() else { return };
    let s = Served::start("cancel", FLOW, "sip:\n  answer_after_ms: 3000\n");
    let run = run_sipp(
        &sipp,
        s.addr,
        s.dir(),
        &["-sf", &scenario("cancel.xml"), "-m", "1"],
    );
    assert!(run.success, "{}", run.output);
    let cdrs = s.wait_cdrs(1);
    assert_eq!(cdrs[0]["outcome"], "cancelled", "{cdrs:?}");
    assert_eq!(cdrs[0]["hangup_by"], "caller");
    assert!(cdrs[0]["answered_at"].is_null());
}

#[test]
fn a_retransmitted_invite_is_absorbed_into_one_call() {
    let Some(sipp) = sipp() else { return };
    let s = Served::start("retx", FLOW, "sip:\n  answer_after_ms: 1000\n");
    let run = run_sipp(
        &sipp,
        s.addr,
        s.dir(),
        &["-sf", &scenario("retransmit.xml"), "-m", "1"],
    );
    assert!(run.success, "{}", run.output);
    let cdrs = s.wait_cdrs(1);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(s.cdrs().len(), 1, "one call, not two: {cdrs:?}");
    assert_eq!(cdrs[0]["outcome"], "caller_hangup");
    let (code, log) = s.stop();
    assert_eq!(code, Some(0));
    assert!(log.contains("answered=1"), "{log}");
}

#[test]
fn an_offer_without_pcmu_or_pcma_gets_488() {
    let Some(sipp) = sipp() else { return };
    let s = Served::start("488", FLOW, "");
    let run = run_sipp(
        &sipp,
        s.addr,
        s.dir(),
        &["-sf", &scenario("no_codec.xml"), "-m", "1"],
    );
    assert!(run.success, "{}", run.output);
}

#[test]
fn options_is_answered_over_udp_and_tcp() {
    let Some(sipp) = sipp() else { return };
    let s = Served::start("options", FLOW, "");
    for transport in ["u1", "t1"] {
        let run = run_sipp(
            &sipp,
            s.addr,
            s.dir(),
            &["-sf", &scenario("options.xml"), "-m", "1", "-t", transport],
        );
        assert!(run.success, "{transport}: {}", run.output);
    }
}

#[test]
fn a_whole_call_over_tcp() {
    let Some(sipp) = sipp() else { return };
    let s = Served::start("tcp", FLOW, "");
    let run = run_sipp(
        &sipp,
        s.addr,
        s.dir(),
        &["-sn", "uac", "-m", "3", "-d", "500", "-t", "t1"],
    );
    assert!(run.success, "{}", run.output);
    let cdrs = s.wait_cdrs(3);
    assert_eq!(cdrs.len(), 3);
    assert!(
        cdrs.iter().all(|c| c["outcome"] == "caller_hangup"),
        "{cdrs:?}"
    );
}

#[test]
fn shutdown_refuses_new_calls_and_ends_the_rest_after_the_grace_period() {
    let Some(sipp) = sipp() else { return };
    let s = Served::start("shutdown", FLOW, "limits:\n  grace_seconds: 2\n");
    let (addr, dir) = (s.addr, s.dir().to_path_buf());
    let sipp2 = sipp.clone();
    let long = std::thread::spawn(move || {
        run_sipp(
            &sipp2,
            addr,
            &dir,
            &["-sf", &scenario("long_call.xml"), "-m", "1"],
        )
    });
    // Loopback call setup takes milliseconds; give it a second.
    std::thread::sleep(Duration::from_millis(1000));
    s.terminate();
    std::thread::sleep(Duration::from_millis(200));
    let refused = run_sipp(
        &sipp,
        s.addr,
        s.dir(),
        &["-sf", &scenario("refused.xml"), "-m", "1"],
    );
    assert!(
        refused.success,
        "a new call during the grace period: {}",
        refused.output
    );
    let t0 = Instant::now();
    let long = long.join().expect("sipp thread");
    assert!(
        long.success,
        "the call in progress got our BYE: {}",
        long.output
    );
    assert!(
        t0.elapsed() < Duration::from_secs(5),
        "within the grace period and a bit"
    );
    let cdrs = s.wait_cdrs(2);
    let long_cdr = cdrs
        .iter()
        .find(|c| c["answered_at"].is_string())
        .expect("the long call's record");
    assert_eq!(long_cdr["outcome"], "shutdown", "{cdrs:?}");
    assert_eq!(long_cdr["hangup_by"], "ivr");
    let (code, log) = s.stop();
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("grace period over"), "{log}");
}

/// A quick load smoke test (the full harness is benches/load/sipp_load.sh): 300 calls at 100
/// per second, each hearing prompts for a second; none may fail, each leaves one record.
#[test]
fn three_hundred_calls_at_a_hundred_per_second() {
    let Some(sipp) = sipp() else { return };
    let s = Served::start("load", FLOW, "");
    let run = run_sipp(
        &sipp,
        s.addr,
        s.dir(),
        &[
            "-sn", "uac", "-r", "100", "-m", "300", "-d", "1000", "-l", "400",
        ],
    );
    assert!(run.success, "{}", run.output);
    let cdrs = s.wait_cdrs(300);
    assert_eq!(cdrs.len(), 300);
    assert!(
        cdrs.iter()
            .all(|c| c["outcome"] == "caller_hangup" && c["hangup_by"] == "caller"),
        "{:?}",
        cdrs.iter().find(|c| c["outcome"] != "caller_hangup")
    );
    let (code, out) = s.stop();
    assert_eq!(code, Some(0), "{out}");
}

/// The script gives a transfer 2 s to ring; the caller's phone accepts the REFER and never
/// reports an outcome: the flow hears "no answer" at 2 s and goes on (plays its prompt, hangs
/// up).
#[test]
fn a_transfer_that_never_reports_times_out_as_no_answer() {
    let Some(sipp) = sipp() else { return };
    let dir = common::serve::Scratch::new("refer-flow");
    let flow = dir.0.join("transfer.flow");
    std::fs::write(
        &flow,
        "languages en\n\nflow start\n    transfer agents timeout 2s\n        on busy hangup\n        \
         on noanswer\n            say agents-no-answer\n            hangup\n        on failure hangup\n",
    )
    .expect("write");
    let s = Served::start("refer", flow.to_str().expect("utf-8"), "");
    let t0 = Instant::now();
    let run = run_sipp(
        &sipp,
        s.addr,
        s.dir(),
        &["-sf", &scenario("refer_silent.xml"), "-m", "1"],
    );
    assert!(run.success, "{}", run.output);
    let cdrs = s.wait_cdrs(1);
    assert!(t0.elapsed() >= Duration::from_secs(2));
    assert_eq!(cdrs[0]["prompts"][0]["id"], "agents-no-answer", "{cdrs:?}");
    assert_eq!(cdrs[0]["hangup_by"], "ivr");
}
