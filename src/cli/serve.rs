//! `ivr serve`: answer SIP calls with a script until SIGINT or SIGTERM.

use super::LangArg;
use ivr::core::runtime::{Server, Services};
use ivr::project::Project;
use ivr::reload::ScriptSource;
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
    /// Serve Prometheus metrics at http://ADDR/metrics (e.g. 127.0.0.1:9940).
    #[arg(long)]
    metrics: Option<SocketAddr>,
    /// How often to look for changes of the script, in milliseconds (0: reload on SIGHUP
    /// only).
    #[arg(long, default_value_t = 1000)]
    reload_poll: u64,
}

fn fail(code: u8, message: impl std::fmt::Display) -> ExitCode {
    eprintln!("ivr: {message}");
    ExitCode::from(code)
}

/// What a server needs, read from a script's project.
pub struct Prepared {
    /// Sockets, limits, data folder.
    pub runtime: ivr::core::runtime::RuntimeConfig,
    /// The line, the backend, text-to-speech.
    pub services: Arc<Services>,
    /// Where the script came from (for reloads).
    pub source: ScriptSource,
}

/// Compiles `flow` and builds what its project serves (store, prompts, notifications) with
/// its data in `data`.
pub fn prepare(
    flow: &std::path::Path,
    config: Option<&std::path::Path>,
    prompts: Option<&std::path::Path>,
    data: &std::path::Path,
    lang: Option<LangArg>,
) -> Result<Prepared, ExitCode> {
    let project = Project::load(flow, config, prompts).map_err(|e| fail(2, e))?;
    let source = ScriptSource {
        flow: flow.to_path_buf(),
        config: config.map(std::path::Path::to_path_buf),
        prompts: project.prompts_dir().map(std::path::Path::to_path_buf),
    };
    let (program, version) = ivr::reload::compile(&source).map_err(|e| fail(1, e))?;
    let built = project
        .build(Arc::new(program), &version, data, lang.map(Into::into))
        .map_err(|e| fail(2, e))?;
    Ok(Prepared {
        runtime: built.runtime,
        services: built.services,
        source,
    })
}

pub fn run(a: Args) -> ExitCode {
    // Recordings, call records and the store hold callers' voices and numbers: whatever the
    // server creates is its user's only.
    ivr::core::runtime::limits::private_umask();
    let p = match prepare(
        &a.flow,
        a.config.as_deref(),
        a.prompts.as_deref(),
        &a.data,
        a.lang,
    ) {
        Ok(p) => p,
        Err(c) => return c,
    };
    let (mut rc, services, source) = (p.runtime, p.services, p.source);
    if let Some(l) = a.listen {
        rc.listen = l;
    }
    if let Some(g) = a.grace {
        rc.grace = std::time::Duration::from_secs(g);
    }
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
    let services_for_reload = Arc::clone(&services);
    rt.block_on(async move {
        let server = match Server::start(rc, services).await {
            Ok(s) => s,
            Err(e) => return fail(2, e),
        };
        let metrics_task = match a.metrics {
            Some(addr) => {
                match ivr::core::metrics::serve(addr, Arc::clone(&services_for_reload.metrics))
                    .await
                {
                    Ok((bound, task)) => {
                        tracing::info!(%bound, "metrics at http://{bound}/metrics");
                        Some((bound, task))
                    }
                    Err(e) => {
                        server.shutdown();
                        let _ = server.wait().await;
                        return fail(2, format!("cannot serve metrics on {addr}: {e}"));
                    }
                }
            }
            None => None,
        };
        let poll = (a.reload_poll > 0).then(|| std::time::Duration::from_millis(a.reload_poll));
        let watcher = tokio::spawn(ivr::reload::watch(
            source,
            Arc::clone(&services_for_reload),
            poll,
        ));
        // The first line says where to call (tests and scripts read it).
        println!(
            "ivr: listening on {} (udp, tcp); call records in {}{}",
            server.local_addr(),
            server.cdr_path().display(),
            metrics_task
                .as_ref()
                .map(|(b, _)| format!("; metrics at http://{b}/metrics"))
                .unwrap_or_default()
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
        watcher.abort();
        if let Some((_, t)) = metrics_task {
            t.abort();
        }
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
