//! baresip (Debian package `baresip`) calls `ivr serve`, sends RFC 4733 digits through its
//! control socket, speaks a WAV file, and a complaint is filed. Skipped when baresip is
//! missing, unless `IVR_REQUIRE_EXTERNAL` is set.

mod common;

use common::serve::{Scratch, Served, free_port};
use std::io::Write;
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Kills baresip when the test ends, however it ends.
struct Phone(Child);

impl Drop for Phone {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One command on baresip's control socket (ctrl_tcp: a netstring of JSON).
fn command(s: &mut TcpStream, cmd: &str, params: &str) {
    let j = serde_json::json!({"command": cmd, "params": params, "token": "t"}).to_string();
    write!(s, "{}:{j},", j.len()).expect("ctrl_tcp write");
}

#[test]
fn baresip_files_a_complaint_with_rfc4733_digits() {
    let Some(baresip) = common::serve::tool("baresip", "baresip") else {
        return;
    };
    let served = Served::start("baresip", "flows/complaint_940.flow", "");
    let dir = Scratch::new("baresip-conf");
    // The caller's voice, long enough to still be talking when the recording starts.
    let voice = ivr::core::prompts::audio::read_wav(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/audio/caller-ar.wav"
    )))
    .expect("the shipped voice");
    let long: Vec<i16> = voice
        .samples
        .iter()
        .copied()
        .cycle()
        .take(8000 * 40)
        .collect();
    let voice_path = dir.0.join("voice.wav");
    ivr::core::prompts::audio::write_wav(&voice_path, &long).expect("write the voice");
    let (sip, ctrl, rtp) = (free_port(), free_port(), free_port());
    std::fs::write(
        dir.0.join("config"),
        format!(
            "poll_method epoll\nsip_listen 127.0.0.1:{sip}\nnet_interface 127.0.0.1\n\
             audio_player aufile,{heard}\naudio_source aufile,{voice}\naudio_alert aufile,/dev/null\n\
             rtp_ports {rtp}-{rtp_end}\nmodule_path /usr/lib/baresip/modules\n\
             module g711.so\nmodule aufile.so\nmodule_app account.so\nmodule_app menu.so\n\
             module_app ctrl_tcp.so\nctrl_tcp_listen 127.0.0.1:{ctrl}\n",
            heard = dir.0.join("heard.wav").display(),
            voice = voice_path.display(),
            rtp_end = rtp + 20,
        ),
    )
    .expect("config");
    std::fs::write(
        dir.0.join("accounts"),
        "<sip:+966500000007@127.0.0.1>;regint=0\n",
    )
    .expect("accounts");
    let child = Command::new(baresip)
        .arg("-f")
        .arg(&dir.0)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(dir.0.join("baresip.log")).expect("log"))
        .stderr(Stdio::null())
        .spawn()
        .expect("baresip starts");
    let _phone = Phone(child);
    let until = Instant::now() + Duration::from_secs(10);
    let mut ctl = loop {
        match TcpStream::connect(("127.0.0.1", ctrl)) {
            Ok(s) => break s,
            Err(_) if Instant::now() < until => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => panic!("baresip's control socket: {e}"),
        }
    };
    command(&mut ctl, "dial", &format!("sip:940@{}", served.addr));
    std::thread::sleep(Duration::from_secs(2));
    // Arabic, new complaint, roads, district 101 (barge-in: one group a second).
    for keys in ["1", "1", "1", "101"] {
        command(&mut ctl, "sndcode", keys);
        std::thread::sleep(Duration::from_millis(1200));
    }
    // The description prompt plays to the beep; the caller talks; # ends the recording;
    // 1 confirms.
    std::thread::sleep(Duration::from_secs(11));
    command(&mut ctl, "sndcode", "#");
    std::thread::sleep(Duration::from_millis(1500));
    command(&mut ctl, "sndcode", "1");
    // Submitting, the ticket read back, goodbye: the server hangs up.
    let until = Instant::now() + Duration::from_secs(30);
    let cdr = loop {
        if let Some(c) = served.cdrs().into_iter().next() {
            break c;
        }
        assert!(Instant::now() < until, "no call record");
        std::thread::sleep(Duration::from_millis(200));
    };
    let log = std::fs::read_to_string(dir.0.join("baresip.log")).unwrap_or_default();
    let digits = cdr["digits"].as_array().expect("digits");
    assert!(digits.len() >= 7, "{cdr}\n{log}");
    assert!(digits.iter().all(|d| d["method"] == "rfc4733"), "{cdr}");
    let filed = &cdr["backend"][0];
    assert_eq!(filed["op"], "create_complaint", "{cdr}\n{log}");
    assert_eq!(filed["result"], "ok", "{cdr}");
    assert_eq!(cdr["recordings"][0]["speech"], true, "{cdr}");
    assert!(
        cdr["steps"]
            .as_array()
            .is_some_and(|s| s.iter().any(|x| x == "step send")),
        "{cdr}"
    );
}
