//! `ivr serve`: answer SIP calls with a script until SIGINT or SIGTERM.

use super::LangArg;
use ivr::core::backend::ops::Operations;
use ivr::core::prompts::Catalog;
use ivr::core::runtime::bank::PromptBank;
use ivr::core::runtime::{Server, Services};
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
    /// Sockets, limits, media, data folder.
    pub runtime: ivr::core::runtime::RuntimeConfig,
    /// Script, prompts, backend, destinations.
    pub services: Arc<Services>,
    /// Where the script came from (for reloads).
    pub source: ScriptSource,
}

/// Compiles `flow` and loads its project's settings, prompts and complaint store (in `data`).
pub fn prepare(
    flow: &std::path::Path,
    config: Option<&std::path::Path>,
    prompts: Option<&std::path::Path>,
    data: &std::path::Path,
    lang: Option<LangArg>,
) -> Result<Prepared, ExitCode> {
    let settings = ivr::settings::serve_settings(flow, config).map_err(|e| fail(2, e))?;
    let prompts = prompts
        .map(std::path::Path::to_path_buf)
        .or(settings.prompts.clone());
    let source = ScriptSource {
        flow: flow.to_path_buf(),
        config: config.map(std::path::Path::to_path_buf),
        prompts: prompts.clone(),
    };
    let (program, version) = ivr::reload::compile(&source).map_err(|e| fail(1, e))?;
    let mut call_config = ivr::project::call_config(flow, config).map_err(|e| fail(2, e))?;
    if let Some(l) = lang {
        call_config.default_language = l.into();
    }
    let Some(prompt_dir) = prompts else {
        return Err(fail(
            2,
            "no prompt folder: give --prompts or put prompts/ beside the script",
        ));
    };
    let catalog = Catalog::load(&prompt_dir).map_err(|e| fail(2, e))?;
    let store = Arc::new(super::tickets::open(data)?);
    let mut backend: Arc<dyn ivr::core::backend::ComplaintBackend> = match settings.open311.clone()
    {
        Some(cfg) => Arc::new(ivr::core::backend::open311::Open311Backend::start(
            Arc::clone(&store),
            cfg,
        )),
        None => store.clone(),
    };
    if let Some(n) = settings.notify.clone() {
        use ivr::core::backend::notify;
        let templates = notify::Templates::load(&prompt_dir).map_err(|e| fail(2, e))?;
        let notifier: Arc<dyn notify::Notifier> = match n.target {
            ivr::settings::NotifyTarget::Webhook { url, timeout } => {
                Arc::new(notify::WebhookNotifier::new(&url, timeout))
            }
            ivr::settings::NotifyTarget::File(p) => {
                Arc::new(notify::FileNotifier::new(&data.join(p)))
            }
        };
        let sender = Arc::new(notify::Notifications::start(
            Arc::clone(&store),
            notifier,
            std::time::Duration::from_secs(5),
            n.staff,
        ));
        backend = Arc::new(notify::NotifyingBackend::new(
            backend,
            Arc::clone(&store),
            Arc::new(templates),
            n.staff,
            sender,
        ));
    }
    let mut runtime = settings.runtime;
    runtime.data = data.to_path_buf();
    let mut services = Services::new(
        Arc::new(program),
        &version,
        Arc::new(call_config),
        Arc::new(PromptBank::new(Arc::new(catalog))),
        Arc::new(Operations::new(backend)),
        settings.transfer,
    );
    if let Some(program) = settings.tts.clone() {
        services.tts = Some(Arc::new(ivr::core::prompts::audio::EspeakNg {
            program,
            ..Default::default()
        }));
    }
    let services = Arc::new(services);
    Ok(Prepared {
        runtime,
        services,
        source,
    })
}

pub fn run(a: Args) -> ExitCode {
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
                match ivr::core::runtime::metrics::serve(
                    addr,
                    Arc::clone(&services_for_reload.metrics),
                )
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
