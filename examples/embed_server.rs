//! Running the engine inside a program of one's own: a script compiled in code, the shipped
//! prompts, a complaint store, `Server` on a free loopback port, the call's events as they
//! happen, and one real SIP call placed with the library's softphone.
//!
//! `cargo run --example embed_server`

use ivr::core::backend::ops::Operations;
use ivr::core::backend::sqlite::SqliteStore;
use ivr::core::call::{CallConfig, CallEvent, Line};
use ivr::core::flow::{BackendResult, Defaults, FlowConfig, Program};
use ivr::core::prompts::Catalog;
use ivr::core::prompts::bank::PromptBank;
use ivr::core::runtime::{RuntimeConfig, Server, ServerEvent, Services};
use ivr::core::softphone::{self, DtmfMode, KeyTiming, PhoneOptions};
use std::path::Path;
use std::sync::Arc;

const SCRIPT: &str = "languages en

defaults
    after 3 attempts hangup

flow start
    collect district digits 3
        say enter-district
    set category = \"lighting\"
    -- No recording in this example: the description is left empty.
    set description = \"\"
    submit create_complaint with category district description into ticket
        on failure hangup
    say your-ticket-number-is
    say ticket as digits
    hangup
";

/// Runs the example.
pub fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The prompts, loaded once: their audio for the calls, their ids for the checker.
    let catalog = Catalog::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts"))?;
    let env = ivr::dsl::Environment {
        prompts: Some(catalog.prompt_ids()),
        ..Default::default()
    };
    let program = Program::compile(SCRIPT.as_bytes(), &env, Defaults::default())?;
    let data = std::env::temp_dir().join(format!("ivr-embed-{}", std::process::id()));
    std::fs::create_dir_all(&data)?;
    let store = SqliteStore::open(&data.join("complaints.sqlite"))?;
    // What every call shares: the script, its settings and the prompt audio encoded once.
    let line = Line {
        program: Arc::new(program),
        version: Arc::from("embedded-v1"),
        flow: Arc::new(FlowConfig::default()),
        config: Arc::new(CallConfig::default()),
        bank: Arc::new(PromptBank::new(Arc::new(catalog))),
    };
    let services = Arc::new(Services::new(
        line,
        Arc::new(Operations::new(Arc::new(store))),
        None,
    ));
    let config = RuntimeConfig {
        listen: ([127, 0, 0, 1], 0).into(),
        rtp_ports: (31_000, 31_999),
        data: data.clone(),
        ..RuntimeConfig::default()
    };
    let rt = tokio::runtime::Runtime::new()?;
    let result: Result<(), Box<dyn std::error::Error>> = rt.block_on(async {
        let server = Server::start(config, services).await?;
        let mut events = server.events();
        let addr = server.local_addr();
        println!("serving on {addr}");
        // One caller: keys district 101 once the prompt has ended, hears the ticket.
        tokio::spawn(softphone::call(PhoneOptions {
            target: format!("sip:940@{addr}"),
            server: addr,
            bind: addr.ip(),
            user: "+966500000042".into(),
            steps: softphone::parse_steps("101")?,
            dtmf: DtmfMode::Rfc4733,
            timing: KeyTiming::Silence(500),
            say: None,
            record: None,
            hangup_after: None,
            credentials: None,
            prefer: vec![ivr::core::media::g711::Law::Pcmu],
            call_id: None,
        }));
        let mut ticket = None;
        let record = loop {
            match events.recv().await? {
                ServerEvent::Call { event, .. } => match event {
                    CallEvent::Answered { law, .. } => println!("answered ({})", law.name()),
                    CallEvent::Key { key, method } => println!("key {key} ({})", method.as_str()),
                    CallEvent::BackendAnswered {
                        op,
                        result: BackendResult::Ok(v),
                        ..
                    } => {
                        println!("{op}: {}", v.text());
                        ticket = Some(v.text());
                    }
                    _ => {}
                },
                ServerEvent::Ended(record) => break record,
                _ => {}
            }
        };
        println!(
            "call {} ended: {}, {} hung up",
            record.call_id, record.outcome, record.hangup_by
        );
        server.shutdown();
        server.wait().await;
        match ticket {
            Some(t) if record.outcome == "hangup" => {
                println!("ok: complaint {t} filed");
                Ok(())
            }
            _ => Err("the call did not file a complaint".into()),
        }
    });
    let _ = std::fs::remove_dir_all(&data);
    result
}
