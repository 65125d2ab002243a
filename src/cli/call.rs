//! `ivr call`: the test softphone. Places one real SIP call, sends keys, speaks a WAV after the
//! beep, records what it hears and prints what happened.

use ivr::core::media::g711::Law;
use ivr::core::softphone::{self as phone, DtmfMode, KeyTiming, PhoneOptions};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Dtmf {
    /// RFC 4733 telephone-events.
    Rfc4733,
    /// SIP INFO (application/dtmf-relay).
    Info,
    /// In-band tones.
    Inband,
}

#[derive(clap::Args)]
pub struct Args {
    /// Who to call: sip:USER@HOST:PORT.
    target: String,
    /// Key groups, one per prompt, and `say` where the caller speaks: "1 1 1 101 say # 1".
    #[arg(long, default_value = "")]
    keys: String,
    /// How keys are sent.
    #[arg(long, value_enum, default_value = "rfc4733")]
    dtmf: Dtmf,
    /// When each key group goes: `pause:MS` after the previous one (barge-in), `silence:MS`
    /// once the far end has been quiet that long after speaking, or `resume:MS` as soon as
    /// the far end's audio resumes after at least that much silence.
    #[arg(long, default_value = "pause:1500")]
    key_timing: String,
    /// The caller's voice (WAV): spoken after the far end's beep.
    #[arg(long)]
    say: Option<PathBuf>,
    /// Write everything heard to this WAV file.
    #[arg(long)]
    record: Option<PathBuf>,
    /// Hang up this long after the answer (`30s`, `2m`, or seconds); default: when the far
    /// end hangs up.
    #[arg(long)]
    hangup_after: Option<String>,
    /// Our user part (calling number).
    #[arg(long, default_value = "+966500000001")]
    from: String,
    /// The Call-ID to send (to test how a server takes a reused one); default: a new one.
    #[arg(long)]
    call_id: Option<String>,
    /// User name for digest authentication.
    #[arg(long)]
    user: Option<String>,
    /// Password for digest authentication.
    #[arg(long)]
    password: Option<String>,
    /// Local address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    bind: IpAddr,
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("ivr: {message}");
    ExitCode::from(2)
}

/// `30s`, `2m`, `1500ms` or plain seconds.
pub fn duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if let Some(ms) = s.strip_suffix("ms") {
        return ms.parse().ok().map(Duration::from_millis);
    }
    if let Some(m) = s.strip_suffix('m') {
        return m.parse::<u64>().ok().map(|m| Duration::from_secs(m * 60));
    }
    s.strip_suffix('s')
        .unwrap_or(s)
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .map(Duration::from_secs_f64)
}

fn timing(s: &str) -> Option<KeyTiming> {
    let (kind, ms) = s.split_once(':').unwrap_or((s, ""));
    match kind {
        "pause" => Some(KeyTiming::Pause(ms.parse().unwrap_or(1500))),
        "silence" => Some(KeyTiming::Silence(ms.parse().unwrap_or(800))),
        "resume" => Some(KeyTiming::Resume(ms.parse().unwrap_or(300))),
        _ => None,
    }
}

/// `host:port` of a SIP URI (port 5060 when absent).
fn hostport(target: &str) -> Option<String> {
    let host = ivr::core::sip::codec::uri_hostport(target)?
        .split('>')
        .next()
        .filter(|h| !h.is_empty())?;
    let has_port = !host.ends_with(']')
        && host
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok());
    Some(if has_port {
        host.to_string()
    } else {
        format!("{host}:5060")
    })
}

pub fn run(a: Args) -> ExitCode {
    let Some(hp) = hostport(&a.target) else {
        return fail(format!("{}: not a sip: URI with a host", a.target));
    };
    let Some(key_timing) = timing(&a.key_timing) else {
        return fail(format!(
            "--key-timing {}: expected pause:MS, silence:MS or resume:MS",
            a.key_timing
        ));
    };
    let hangup_after = match a.hangup_after.as_deref().map(duration) {
        Some(None) => return fail("--hangup-after: expected 30s, 2m, 1500ms or seconds"),
        Some(Some(d)) => Some(d),
        None => None,
    };
    let say = match a.say.as_ref() {
        Some(p) => match ivr::core::prompts::audio::read_wav(p) {
            Ok(audio) => Some(Arc::clone(&audio.samples)),
            Err(e) => return fail(e),
        },
        None => None,
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(format!("cannot start the runtime: {e}")),
    };
    let steps = match phone::parse_steps(&a.keys) {
        Ok(s) => s,
        Err(e) => return fail(format!("--keys: {e}")),
    };
    rt.block_on(async move {
        let server: SocketAddr = match tokio::net::lookup_host(&hp).await {
            Ok(mut addrs) => match addrs.next() {
                Some(a) => a,
                None => return fail(format!("{hp}: no address")),
            },
            Err(e) => return fail(format!("{hp}: {e}")),
        };
        let opts = PhoneOptions {
            target: a.target.clone(),
            server,
            bind: a.bind,
            user: a.from.clone(),
            steps,
            dtmf: match a.dtmf {
                Dtmf::Rfc4733 => DtmfMode::Rfc4733,
                Dtmf::Info => DtmfMode::Info,
                Dtmf::Inband => DtmfMode::Inband,
            },
            timing: key_timing,
            say,
            record: a.record.clone(),
            hangup_after,
            credentials: a.user.clone().zip(a.password.clone()),
            prefer: vec![Law::Pcmu, Law::Pcma],
            call_id: a.call_id.clone(),
        };
        let report = match phone::call(opts).await {
            Ok(r) => r,
            Err(e) => return fail(e),
        };
        println!("call {}", report.call_id);
        for (at, text) in &report.lines {
            println!("{}  {text}", ivr::core::sim::clock(*at));
        }
        let keys: String = report.keys.iter().map(|(_, k)| k.as_char()).collect();
        println!(
            "keys sent: {}; far-end audio heard: {:.1} s; beeps: {}",
            if keys.is_empty() { "none" } else { &keys },
            report.heard_audio_ms as f64 / 1000.0,
            report.beeps
        );
        if let Some(p) = &report.recorded {
            println!("recorded: {}", p.display());
        }
        match &report.failure {
            Some((code, reason)) if !report.answered => {
                println!("result: failed {code} {reason}");
                ExitCode::from(1)
            }
            _ => {
                println!(
                    "result: answered, {} hung up",
                    if report.remote_hangup {
                        "the far end"
                    } else {
                        "we"
                    }
                );
                ExitCode::SUCCESS
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_targets_durations_and_timing() {
        assert_eq!(
            hostport("sip:940@127.0.0.1:5070").as_deref(),
            Some("127.0.0.1:5070")
        );
        assert_eq!(
            hostport("sip:940@example.com").as_deref(),
            Some("example.com:5060")
        );
        assert_eq!(hostport("sip:[::1]:5070").as_deref(), Some("[::1]:5070"));
        assert_eq!(hostport("tel:940"), None);
        assert_eq!(duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(duration("1500ms"), Some(Duration::from_millis(1500)));
        assert_eq!(duration("soon"), None);
        assert_eq!(timing("silence:600"), Some(KeyTiming::Silence(600)));
        assert_eq!(timing("pause"), Some(KeyTiming::Pause(1500)));
        assert_eq!(timing("resume:250"), Some(KeyTiming::Resume(250)));
        assert_eq!(timing("later"), None);
    }
}
