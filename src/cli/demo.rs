//! `ivr demo`: the hotline end to end on loopback. Starts `ivr serve` on free ports with the
//! embedded store, then calls it twice with the softphone: an Arabic caller files a complaint
//! (category, district, a spoken description, confirmation) and hears a ticket number; an
//! English caller tracks that ticket and hears its status. Prints both calls as transcripts.

use ivr::core::dsl::Lang;
use ivr::core::media::g711::Law;
use ivr::core::prompts::{Catalog, say};
use ivr::core::runtime::Server;
use ivr::core::softphone::{self as phone, DtmfMode, KeyTiming, PhoneOptions, PhoneReport};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(clap::Args)]
pub struct Args {
    /// The hotline script.
    #[arg(default_value = "flows/complaint_940.flow")]
    flow: PathBuf,
    /// Where the recordings, call records and complaint store go (default: a new folder in
    /// the system's temporary directory, kept afterwards).
    #[arg(long)]
    data: Option<PathBuf>,
    /// The Arabic caller's spoken description (8 kHz WAV).
    #[arg(long)]
    voice: Option<PathBuf>,
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("ivr demo: {message}");
    ExitCode::from(1)
}

/// The call record of `call_id`, once written.
async fn record_of(cdr: &Path, call_id: &str) -> Option<serde_json::Value> {
    for _ in 0..100 {
        let text = std::fs::read_to_string(cdr).unwrap_or_default();
        let found = text
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|c| c["call_id"] == call_id);
        if found.is_some() {
            return found;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    None
}

/// What the caller heard, as text in the language it was played in.
fn heard(catalog: &Catalog, cdr: &serde_json::Value) -> Vec<(u64, String)> {
    let mut out = Vec::new();
    for p in cdr["prompts"].as_array().into_iter().flatten() {
        let id = p["id"].as_str().unwrap_or("");
        let lang = Lang::from_code(p["lang"].as_str().unwrap_or("en")).unwrap_or(Lang::En);
        let at = p["at_ms"].as_u64().unwrap_or(0);
        let text = if let Some(v) = id.strip_prefix("value:") {
            let style = match p["style"].as_str() {
                Some("number") => ivr::dsl::ast::ValueStyle::Number,
                Some("date") => ivr::dsl::ast::ValueStyle::Date,
                _ => ivr::dsl::ast::ValueStyle::Digits,
            };
            say::say(v, style, lang, say::Gender::Masculine).text
        } else if id == "recording" {
            "[the caller's recorded description]".to_string()
        } else {
            catalog.text(lang, id).unwrap_or_else(|| format!("[{id}]"))
        };
        out.push((at, format!("{} ({}): {text}", id, lang.code())));
    }
    out
}

fn print_call(title: &str, report: &PhoneReport, cdr: &serde_json::Value, catalog: &Catalog) {
    println!("\n== {title}");
    let mut lines: Vec<(u64, String)> = heard(catalog, cdr)
        .into_iter()
        .map(|(at, t)| (at, format!("hears  {t}")))
        .collect();
    for d in cdr["digits"].as_array().into_iter().flatten() {
        lines.push((
            d["at_ms"].as_u64().unwrap_or(0),
            format!(
                "presses {} ({})",
                d["key"].as_str().unwrap_or("?"),
                d["method"].as_str().unwrap_or("?")
            ),
        ));
    }
    for r in cdr["recordings"].as_array().into_iter().flatten() {
        lines.push((
            u64::MAX - 1,
            format!(
                "recorded {:.1} s of speech: {}",
                r["duration_ms"].as_f64().unwrap_or(0.0) / 1000.0,
                r["path"].as_str().unwrap_or("")
            ),
        ));
    }
    for b in cdr["backend"].as_array().into_iter().flatten() {
        lines.push((
            u64::MAX,
            format!(
                "backend {} -> {} {}",
                b["op"].as_str().unwrap_or(""),
                b["result"].as_str().unwrap_or(""),
                b["detail"].as_str().unwrap_or("")
            ),
        ));
    }
    lines.sort_by_key(|(at, _)| *at);
    for (at, text) in lines {
        let when = if at >= u64::MAX - 1 {
            "         ".to_string()
        } else {
            ivr::core::sim::clock(at)
        };
        println!("{when}  {text}");
    }
    println!(
        "call {}: {} after {:.1} s of far-end audio; {} hung up",
        report.call_id,
        cdr["outcome"].as_str().unwrap_or("?"),
        report.heard_audio_ms as f64 / 1000.0,
        cdr["hangup_by"].as_str().unwrap_or("?"),
    );
}

pub fn run(a: Args) -> ExitCode {
    let data = a.data.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!(
            "ivr-demo-{}",
            jiff::Timestamp::now().strftime("%Y%m%d-%H%M%S")
        ))
    });
    let root = ivr::project::find_root(&a.flow).unwrap_or_else(|| PathBuf::from("."));
    let voice_path = a
        .voice
        .clone()
        .unwrap_or_else(|| root.join("examples/audio/caller-ar.wav"));
    let voice = match ivr::core::prompts::audio::read_wav(&voice_path) {
        Ok(v) => v.samples,
        Err(e) => return fail(e),
    };
    let prepared = match super::serve::prepare(&a.flow, None, None, &data, None) {
        Ok(p) => p,
        Err(c) => return c,
    };
    let mut rc = prepared.runtime;
    rc.listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    rc.grace = std::time::Duration::from_secs(2);
    let bank = Arc::clone(&prepared.services.line().bank);
    if bank.catalog().is_none() {
        return fail("the line has no prompt catalog");
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(format!("cannot start the runtime: {e}")),
    };
    rt.block_on(async move {
        let Some(catalog) = bank.catalog() else {
            return fail("the line has no prompt catalog");
        };
        let server = match Server::start(rc, prepared.services).await {
            Ok(s) => s,
            Err(e) => return fail(e),
        };
        let addr = server.local_addr();
        println!(
            "ivr demo: serving {} on {addr} (UDP and TCP)",
            a.flow.display()
        );
        let target = format!("sip:940@{addr}");
        let call = |steps: String, record: PathBuf, user: &str| PhoneOptions {
            target: target.clone(),
            server: addr,
            bind: addr.ip(),
            user: user.to_string(),
            steps: phone::parse_steps(&steps).unwrap_or_default(),
            dtmf: DtmfMode::Rfc4733,
            timing: KeyTiming::Pause(1000),
            say: Some(Arc::clone(&voice)),
            record: Some(record),
            hangup_after: None,
            credentials: None,
            prefer: vec![Law::Pcmu, Law::Pcma],
            call_id: None,
        };
        // Call 1, in Arabic: 1 Arabic, 1 new complaint, 1 roads, district 101, speak after the
        // beep, # ends the recording, 1 confirms.
        let one = match phone::call(call(
            "1 1 1 101 say # 1".into(),
            data.join("call1-heard.wav"),
            "+966500000001",
        ))
        .await
        {
            Ok(r) => r,
            Err(e) => return fail(e),
        };
        let Some(cdr1) = record_of(server.cdr_path(), &one.call_id).await else {
            return fail("call 1 left no call record");
        };
        print_call("Call 1 (Arabic): a new complaint", &one, &cdr1, catalog);
        let ticket = cdr1["backend"]
            .as_array()
            .and_then(|b| b.iter().find(|r| r["result"] == "ok"))
            .and_then(|r| r["detail"].as_str())
            .map(str::to_string);
        let Some(ticket) = ticket else {
            server.shutdown();
            let _ = server.wait().await;
            return fail("call 1 did not file a complaint");
        };
        // Call 2, in English: 2 English, 2 track, the ticket and #.
        let two = match phone::call(call(
            format!("2 2 {ticket}#"),
            data.join("call2-heard.wav"),
            "+966500000001",
        ))
        .await
        {
            Ok(r) => r,
            Err(e) => return fail(e),
        };
        let Some(cdr2) = record_of(server.cdr_path(), &two.call_id).await else {
            return fail("call 2 left no call record");
        };
        print_call(
            "Call 2 (English): tracking the ticket",
            &two,
            &cdr2,
            catalog,
        );
        let status = cdr2["backend"]
            .as_array()
            .and_then(|b| b.iter().find(|r| r["op"] == "complaint_status"))
            .map(|r| {
                (
                    r["result"].as_str().unwrap_or(""),
                    r["detail"].as_str().unwrap_or(""),
                )
            });
        let cdr_path = server.cdr_path().to_path_buf();
        server.shutdown();
        let _ = server.wait().await;
        println!("\nticket {ticket}: filed in Arabic, tracked in English");
        println!("recordings:   {}", data.join("recordings").display());
        println!("call records: {}", cdr_path.display());
        println!(
            "what the callers heard: {} and {}",
            data.join("call1-heard.wav").display(),
            data.join("call2-heard.wav").display()
        );
        println!("complaints:   ivr tickets list --data {}", data.display());
        match status {
            Some(("ok", s)) => {
                println!("status heard: {s}");
                ExitCode::SUCCESS
            }
            other => fail(format!(
                "the tracking call did not hear a status: {other:?}"
            )),
        }
    })
}
