//! What `ivr serve` builds from a project: the complaint store in the data folder, the
//! delivery to Open311 when configured, notifications, text-to-speech, the prompt audio and
//! the line every call runs.

use super::{Project, ProjectError};
use ivr_core::backend::ComplaintBackend;
use ivr_core::backend::notify;
use ivr_core::backend::ops::Operations;
use ivr_core::backend::sqlite::SqliteStore;
use ivr_core::call::Line;
use ivr_core::flow::Program;
use ivr_core::prompts::Catalog;
use ivr_core::prompts::bank::PromptBank;
use ivr_core::runtime::{RuntimeConfig, Services, SharedTts};
use ivr_dsl::Lang;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Where notices go (`notify:` in `ivr.yaml`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotifyTarget {
    /// POST JSON here.
    Webhook {
        /// The URL.
        url: String,
        /// Time limit per request.
        timeout: Duration,
        /// Where the signing secret is (never in `ivr.yaml`); `None`: unsigned (allowed
        /// only with `insecure_unsigned: true`).
        secret: Option<SecretSource>,
    },
    /// Append JSON lines to this file (relative paths: in the data folder).
    File(PathBuf),
}

/// Where a secret is read from at start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretSource {
    /// An environment variable.
    Env(String),
    /// A file.
    File(PathBuf),
}

impl SecretSource {
    /// Reads it.
    pub fn read(&self) -> Result<notify::Secret, ProjectError> {
        let bytes = match self {
            SecretSource::Env(v) => std::env::var(v)
                .map_err(|_| ProjectError::Store(format!("notify.secret_env: ${v} is not set")))?
                .into_bytes(),
            SecretSource::File(p) => std::fs::read(p).map_err(|source| ProjectError::Io {
                path: p.clone(),
                source,
            })?,
        };
        notify::Secret::new(&bytes)
            .ok_or_else(|| ProjectError::Store("the webhook's signing secret is empty".into()))
    }
}

/// The notification settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotifySettings {
    /// Where notices go.
    pub target: NotifyTarget,
    /// Whether staff get a notice per new complaint.
    pub staff: bool,
}

/// A line ready to serve.
pub struct Built {
    /// What every call shares.
    pub services: Arc<Services>,
    /// The server's settings, with the data folder set.
    pub runtime: RuntimeConfig,
    /// The complaint store.
    pub store: Arc<SqliteStore>,
}

/// Opens the complaint store in a data folder (created if needed).
pub fn open_store(data: &Path) -> Result<SqliteStore, ProjectError> {
    std::fs::create_dir_all(data).map_err(|source| ProjectError::Io {
        path: data.to_path_buf(),
        source,
    })?;
    SqliteStore::open(&data.join("complaints.sqlite"))
        .map_err(|e| ProjectError::Store(e.to_string()))
}

impl Project {
    /// The Open311 delivery settings, when `backend.kind` is `open311`.
    pub fn open311(&self) -> Option<ivr_core::backend::open311::Open311Config> {
        let b = self.backend.as_ref().filter(|b| b.kind == "open311")?;
        let mut c = ivr_core::backend::open311::Open311Config {
            endpoint: b.endpoint.clone()?,
            api_key: b
                .api_key
                .clone()
                .or_else(|| b.api_key_env.as_ref().and_then(|v| std::env::var(v).ok())),
            jurisdiction_id: b.jurisdiction_id.clone(),
            service_codes: b.service_codes.clone(),
            media_base_url: b.media_base_url.clone(),
            ..Default::default()
        };
        if let Some(t) = b.timeout_seconds {
            c.timeout = Duration::from_secs(t.max(1));
        }
        // A claim outlives one attempt (its HTTP time limit), not much more.
        c.lease = (c.timeout * 3).max(Duration::from_secs(5));
        Some(c)
    }

    /// The prompt audio of the project.
    pub fn catalog(&self) -> Result<Catalog, ProjectError> {
        let dir = self.prompts_dir().ok_or(ProjectError::NoPrompts)?;
        Ok(Catalog::load(dir)?)
    }

    /// The line `program` runs on: its settings, the prompt audio, `lang` as the first
    /// language when given.
    pub fn line(
        &self,
        program: Arc<Program>,
        version: &str,
        lang: Option<Lang>,
    ) -> Result<Line, ProjectError> {
        let mut flow = self.flow_config();
        if let Some(l) = lang {
            flow.default_language = l;
        }
        Ok(Line {
            program,
            version: Arc::from(version),
            flow: Arc::new(flow),
            config: Arc::new(self.call_config()),
            bank: Arc::new(PromptBank::new(Arc::new(self.catalog()?))),
        })
    }

    /// Everything `ivr serve` runs for `program`, with recordings, call records and the
    /// complaint store in `data`.
    pub fn build(
        &self,
        program: Arc<Program>,
        version: &str,
        data: &Path,
        lang: Option<Lang>,
    ) -> Result<Built, ProjectError> {
        let line = self.line(program, version, lang)?;
        let store = Arc::new(open_store(data)?);
        let mut backend: Arc<dyn ComplaintBackend> = match self.open311() {
            Some(cfg) => Arc::new(ivr_core::backend::open311::Open311Backend::start(
                Arc::clone(&store),
                cfg,
            )),
            None => store.clone(),
        };
        if let Some(n) = self.notify() {
            let dir = self.prompts_dir().ok_or(ProjectError::NoPrompts)?;
            let templates =
                notify::Templates::load(dir).map_err(|e| ProjectError::Store(e.to_string()))?;
            let notifier: Arc<dyn notify::Notifier> = match &n.target {
                NotifyTarget::Webhook {
                    url,
                    timeout,
                    secret,
                } => {
                    let secret = secret.as_ref().map(SecretSource::read).transpose()?;
                    Arc::new(notify::WebhookNotifier::new(url, *timeout, secret))
                }
                NotifyTarget::File(p) => Arc::new(notify::FileNotifier::new(&data.join(p))),
            };
            let sender = Arc::new(notify::Notifications::start(
                Arc::clone(&store),
                notifier,
                notify::Retry::from_min(Duration::from_secs(5)),
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
        let tts: Option<SharedTts> = self.tts().map(|program| {
            Arc::new(ivr_core::prompts::audio::EspeakNg {
                program: program.to_path_buf(),
                ..Default::default()
            }) as SharedTts
        });
        let mut runtime = self.runtime_config();
        runtime.data = data.to_path_buf();
        let services = Arc::new(Services::new(
            line,
            Arc::new(Operations::new(backend).with_privacy(self.privacy())),
            tts,
        ));
        Ok(Built {
            services,
            runtime,
            store,
        })
    }
}
