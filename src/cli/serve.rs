//! `ivr serve`: answer SIP calls with a script until SIGINT or SIGTERM.

use super::LangArg;
use ivr::core::backend::ops::Operations;
use ivr::core::flow::{Defaults, Program};
use ivr::core::prompts::Catalog;
use ivr::core::runtime::bank::PromptBank;
use ivr::core::runtime::{Server, Services};
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(clap::Args)]
pub struct Args {
    /// The script.
    flow: PathBuf,
    /// Project configuration (default: ivr.yaml of the script's project).
    #[arg(long)]
    config: Option<PathBuf>,
    /// SIP address for UDP and TCP (overrides `sip.listen`; port 0 picks a free port).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Recordings, call records (cdr.jsonl) and the complaint store.
    #[arg(long, default_value = "ivr-data")]
    data: PathBuf,
    /// Prompt folder (default: `prompts` of the configuration, or of the project).
    #[arg(long)]
    prompts: Option<PathBuf>,
    /// The caller's language before the script sets one.
    #[arg(long, value_enum)]
    lang: Option<LangArg>,
    /// Seconds calls in progress may go on after SIGINT/SIGTERM (overrides
    /// `limits.grace_seconds`).
    #[arg(long)]
    grace: Option<u64>,
}

fn fail(code: u8, message: impl std::fmt::Display) -> ExitCode {
    eprintln!("ivr: {message}");
    ExitCode::from(code)
}

pub fn run(a: Args) -> ExitCode {
    let bytes = match super::read(&a.flow) {
        Ok(b) => b,
        Err(c) => return c,
    };
    let settings = match ivr::settings::serve_settings(&a.flow, a.config.as_deref()) {
        Ok(s) => s,
        Err(e) => return fail(2, e),
    };
    let prompts = a.prompts.clone().or(settings.prompts.clone());
    let env = match ivr::project::environment(&a.flow, prompts.as_deref(), a.config.as_deref()) {
        Ok(e) => e,
        Err(e) => return fail(2, e),
    };
    let program = match Program::compile(&bytes, &env, Defaults::default()) {
        Ok(p) => Arc::new(p),
        Err(e) => return fail(1, format!("{}: {e}", a.flow.display())),
    };
    let mut call_config = match ivr::project::call_config(&a.flow, a.config.as_deref()) {
        Ok(c) => c,
        Err(e) => return fail(2, e),
    };
    if let Some(l) = a.lang {
        call_config.default_language = l.into();
    }
    let Some(prompt_dir) = prompts else {
        return fail(
            2,
            "no prompt folder: give --prompts or put prompts/ beside the script",
        );
    };
    let catalog = match Catalog::load(&prompt_dir) {
        Ok(c) => c,
        Err(e) => return fail(2, e),
    };
    let store = match super::tickets::open(&a.data) {
        Ok(s) => s,
        Err(c) => return c,
    };
    let mut rc = settings.runtime;
    if let Some(l) = a.listen {
        rc.listen = l;
    }
    if let Some(g) = a.grace {
        rc.grace = std::time::Duration::from_secs(g);
    }
    rc.data = a.data.clone();
    let services = Arc::new(Services::new(
        program,
        Arc::new(call_config),
        Arc::new(PromptBank::new(Arc::new(catalog))),
        Arc::new(Operations::new(Arc::new(store))),
        settings.transfer,
    ));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(2, format!("cannot start the runtime: {e}")),
    };
    rt.block_on(async move {
        let server = match Server::start(rc, services).await {
            Ok(s) => s,
            Err(e) => return fail(2, e),
        };
        // The first line says where to call (tests and scripts read it).
        println!(
            "ivr: listening on {} (udp, tcp); call records in {}",
            server.local_addr(),
            server.cdr_path().display()
        );
        let _ = std::io::stdout().flush();
        let signals = tokio::spawn(async {
            // Nothing to wait for if signals cannot be installed: stop at once.
            let Ok(mut term) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            else {
                return;
            };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        });
        let _ = signals.await;
        server.shutdown();
        let again = {
            let stop = server.stopper();
            tokio::spawn(async move {
                if let Ok(mut term) =
                    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                {
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => {}
                        _ = term.recv() => {}
                    }
                    stop.shutdown();
                }
            })
        };
        let summary = server.wait().await;
        again.abort();
        println!(
            "ivr: stopped: {} calls answered, {} refused, {} ended at shutdown; \
             {} media ticks, {} late by more than a packet time (worst {} ms)",
            summary.answered,
            summary.refused,
            summary.cut_off,
            summary.ticks,
            summary.late_ticks,
            summary.max_lateness_ms
        );
        ExitCode::SUCCESS
    })
}
