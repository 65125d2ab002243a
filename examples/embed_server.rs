//! Running the engine inside a program of one's own: a script compiled in code, the shipped
//! prompts, a complaint store, `Server` on a free loopback port, and one real SIP call placed
//! with the library's softphone; then the call record, the metrics and a clean stop.
//!
//! `cargo run --example embed_server`

use ivr::core::backend::ops::Operations;
use ivr::core::backend::sqlite::SqliteStore;
use ivr::core::flow::{CallConfig, Defaults, Program};
use ivr::core::media::g711::Law;
use ivr::core::prompts::Catalog;
use ivr::core::runtime::bank::PromptBank;
use ivr::core::runtime::phone::{self, DtmfMode, KeyTiming, PhoneOptions};
use ivr::core::runtime::{RuntimeConfig, Server, Services};
use std::collections::BTreeMap;
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
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The checker reads the prompt ids the script may say from the catalog.
    let env = ivr::dsl::Environment {
        prompts: Some(ivr::dsl::PromptCatalog::load(&root.join("prompts"))?),
        ..Default::default()
    };
    let program = Arc::new(Program::compile(
        SCRIPT.as_bytes(),
        &env,
        Defaults::default(),
    )?);
    let data = std::env::temp_dir().join(format!("ivr-embed-{}", std::process::id()));
    std::fs::create_dir_all(&data)?;
    let store = SqliteStore::open(&data.join("complaints.sqlite"))?;
    let services = Arc::new(Services::new(
        program,
        "embedded-v1",
        Arc::new(CallConfig::default()),
        Arc::new(PromptBank::new(Arc::new(Catalog::load(
            &root.join("prompts"),
        )?))),
        Arc::new(Operations::new(Arc::new(store))),
        BTreeMap::new(),
    ));
    let config = RuntimeConfig {
        listen: ([127, 0, 0, 1], 0).into(),
        rtp_ports: (31_000, 31_999),
        data: data.clone(),
        grace: std::time::Duration::from_secs(1),
        ..RuntimeConfig::default()
    };
    let rt = tokio::runtime::Runtime::new()?;
    let result = rt.block_on(async {
        let server = Server::start(config, Arc::clone(&services)).await?;
        let addr = server.local_addr();
        println!("serving on {addr}");
        // One caller: keys district 101 as soon as the prompt ends, hears the ticket.
        let report = phone::call(PhoneOptions {
            target: format!("sip:940@{addr}"),
            server: addr,
            bind: addr.ip(),
            user: "+966500000042".into(),
            steps: phone::parse_steps("101"),
            dtmf: DtmfMode::Rfc4733,
            timing: KeyTiming::Silence(500),
            say: None,
            record: None,
            hangup_after: None,
            credentials: None,
            prefer: vec![Law::Pcmu],
        })
        .await?;
        for (at, line) in &report.lines {
            println!("{}  {line}", ivr::core::sim::clock(*at));
        }
        server.shutdown();
        let summary = server.wait().await;
        println!("server: {} call(s) answered", summary.answered);
        let cdr = std::fs::read_to_string(data.join("cdr.jsonl"))?;
        let record: serde_json::Value =
            serde_json::from_str(cdr.lines().next().ok_or("a record")?)?;
        let ticket = record["backend"][0]["detail"]
            .as_str()
            .unwrap_or("")
            .to_string();
        println!(
            "call record: outcome {}, ticket {ticket}",
            record["outcome"]
        );
        let metrics = services.metrics.render();
        let filed = metrics
            .lines()
            .find(|l| l.starts_with("ivr_complaints_submitted_total"))
            .unwrap_or("")
            .to_string();
        println!("metrics: {filed}");
        if !report.remote_hangup || ticket.is_empty() || !filed.ends_with(" 1") {
            return Err("the call did not file a complaint".into());
        }
        Ok::<(), Box<dyn std::error::Error>>(())
    });
    let _ = std::fs::remove_dir_all(&data);
    result
}
