//! A script's project: the folder that holds `prompts/` and `ivr.yaml`, read once and checked
//! once ([`Project::load`]). Everything the `ivr` command builds from a project — the checking
//! environment, the script's and the calls' settings, the server's settings, and the whole
//! line `ivr serve` runs (store, Open311, notifications, text-to-speech, prompt audio) — comes
//! from here, so that an embedder builds exactly what `ivr serve` builds.

mod build;
pub mod file;

pub use build::{Built, NotifySettings, NotifyTarget, SecretSource};

use ivr_core::backend::lookups::{NotesTo, TicketPrivacy};
use ivr_core::call::CallConfig;
use ivr_core::call::LatchFrom;
use ivr_core::flow::FlowConfig;
use ivr_core::media::g711::Law;
use ivr_core::media::session::Inband;
use ivr_core::runtime::RuntimeConfig;
use ivr_dsl::{Environment, OpKind, OpSpec, PromptCatalog};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Why a project cannot be used (always its files' doing: [`ivr_core::Fault::Local`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProjectError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// `ivr.yaml` is not valid YAML or has an unknown key.
    #[error("{path}: {source}")]
    Yaml {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: serde_yaml_ng::Error,
    },
    /// A value is out of range or unknown.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The prompt catalog could not be read.
    #[error(transparent)]
    Catalog(#[from] ivr_dsl::catalog::CatalogError),
    /// The prompts (text and audio) could not be loaded.
    #[error(transparent)]
    Prompts(#[from] ivr_core::prompts::PromptError),
    /// There is no prompt folder.
    #[error("no prompt folder: give --prompts or put prompts/ beside the script")]
    NoPrompts,
    /// The complaint store or a notifier could not be set up.
    #[error("{0}")]
    Store(String),
}

impl ProjectError {
    /// Who is at fault: the project's files on this machine.
    pub fn fault(&self) -> ivr_core::Fault {
        ivr_core::Fault::Local
    }
}

/// The largest script `ivr` reads: far beyond any real call flow, and well inside the 4 GiB
/// that the language's 32-bit source positions can address.
pub const MAX_SCRIPT_BYTES: u64 = 256 * 1024 * 1024;

/// Reads a script file, refusing one larger than [`MAX_SCRIPT_BYTES`] before reading it.
pub fn read_script(path: &Path) -> std::io::Result<Vec<u8>> {
    let len = std::fs::metadata(path)?.len();
    if len > MAX_SCRIPT_BYTES {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("the script is {len} bytes; the limit is {MAX_SCRIPT_BYTES}"),
        ));
    }
    std::fs::read(path)
}

/// The folder above `script` that holds `prompts/` or `ivr.yaml` (the script's own folder and
/// its ancestors are tried in turn).
pub fn find_root(script: &Path) -> Option<PathBuf> {
    let start = if script.is_dir() {
        script.to_path_buf()
    } else {
        script.parent()?.to_path_buf()
    };
    let start = if start.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        start
    };
    let abs = std::fs::canonicalize(&start).unwrap_or(start);
    abs.ancestors()
        .find(|d| d.join("prompts").is_dir() || d.join("ivr.yaml").is_file())
        .map(Path::to_path_buf)
}

/// The checking environment of `script`'s project ([`Project::load`], then
/// [`Project::environment`]).
pub fn environment(
    script: &Path,
    prompts: Option<&Path>,
    config: Option<&Path>,
) -> Result<Environment, ProjectError> {
    Project::load(script, config, prompts)?.environment()
}

/// A project, its `ivr.yaml` read and every value checked.
#[derive(Debug)]
pub struct Project {
    /// The configuration file, if there is one.
    path: Option<PathBuf>,
    /// The prompt folder (the command line's, the file's, or the project's `prompts/`).
    prompts: Option<PathBuf>,
    flow: FlowConfig,
    call: CallConfig,
    runtime: RuntimeConfig,
    operations: BTreeMap<String, OpSpec>,
    backend: Option<file::Backend>,
    notify: Option<NotifySettings>,
    tts: Option<PathBuf>,
    privacy: TicketPrivacy,
}

/// `espeak-ng` when it is on the PATH.
fn default_tts() -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("espeak-ng"))
            .find(|f| f.is_file())
    })
}

impl Project {
    /// The project of `script`: its `ivr.yaml` (or `config`) and its prompt folder (or
    /// `prompts`). Defaults everywhere when there is no file.
    pub fn load(
        script: &Path,
        config: Option<&Path>,
        prompts: Option<&Path>,
    ) -> Result<Project, ProjectError> {
        let root = find_root(script);
        let path = config.map(Path::to_path_buf).or_else(|| {
            root.as_ref()
                .map(|r| r.join("ivr.yaml"))
                .filter(|p| p.is_file())
        });
        let f = match &path {
            None => file::File::default(),
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|source| ProjectError::Io {
                    path: p.clone(),
                    source,
                })?;
                if text.trim().is_empty() {
                    file::File::default()
                } else {
                    serde_yaml_ng::from_str(&text).map_err(|source| ProjectError::Yaml {
                        path: p.clone(),
                        source,
                    })?
                }
            }
        };
        let base = path
            .as_ref()
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .unwrap_or_default();
        let project_prompts = root
            .as_ref()
            .map(|r| r.join("prompts"))
            .filter(|p| p.is_dir());
        let prompts = prompts
            .map(Path::to_path_buf)
            .or_else(|| f.prompts.as_ref().map(|p| base.join(p)))
            .or(project_prompts);
        let named = path.clone().unwrap_or_else(|| PathBuf::from("ivr.yaml"));
        Checked::new(named).project(f, path, prompts)
    }

    /// The configuration file read, if any.
    pub fn config_path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The prompt folder.
    pub fn prompts_dir(&self) -> Option<&Path> {
        self.prompts.as_deref()
    }

    /// What the checker needs: the prompt ids (from the prompt folder), the transfer
    /// destinations and the extra operations.
    pub fn environment(&self) -> Result<Environment, ProjectError> {
        let mut env = Environment::default();
        if let Some(dir) = &self.prompts {
            env.prompts = Some(PromptCatalog::load(dir)?);
        }
        if self.path.is_some() {
            env.destinations = Some(self.call.transfer.keys().cloned().collect());
        }
        env.operations
            .extend(self.operations.iter().map(|(k, v)| (k.clone(), v.clone())));
        Ok(env)
    }

    /// The script's settings (time zone, holidays).
    pub fn flow_config(&self) -> FlowConfig {
        self.flow.clone()
    }

    /// The calls' settings (limits, media, transfer destinations).
    pub fn call_config(&self) -> CallConfig {
        self.call.clone()
    }

    /// The server's settings (sockets, limits, data folder).
    pub fn runtime_config(&self) -> RuntimeConfig {
        self.runtime.clone()
    }

    /// Transfer destinations by name.
    pub fn transfer(&self) -> &BTreeMap<String, String> {
        &self.call.transfer
    }

    /// The notification settings, if any.
    pub fn notify(&self) -> Option<&NotifySettings> {
        self.notify.as_ref()
    }

    /// Who may hear what of a ticket.
    pub fn privacy(&self) -> TicketPrivacy {
        self.privacy
    }

    /// The text-to-speech program (`None`: off).
    pub fn tts(&self) -> Option<&Path> {
        self.tts.as_deref()
    }
}

/// Turns the file's raw values into settings, naming the file in every error.
struct Checked {
    path: PathBuf,
}

impl Checked {
    fn new(path: PathBuf) -> Self {
        Checked { path }
    }

    /// A path from the file, relative to the file's folder.
    fn relative(&self, p: PathBuf) -> PathBuf {
        match self.path.parent() {
            Some(dir) if p.is_relative() => dir.join(p),
            _ => p,
        }
    }

    fn bad(&self, message: String) -> ProjectError {
        ProjectError::Invalid {
            path: self.path.clone(),
            message,
        }
    }

    fn project(
        &self,
        f: file::File,
        path: Option<PathBuf>,
        prompts: Option<PathBuf>,
    ) -> Result<Project, ProjectError> {
        let mut flow = FlowConfig::default();
        if let Some(tz) = &f.time_zone {
            flow.time_zone = jiff::tz::TimeZone::get(tz)
                .map_err(|_| self.bad(format!("time_zone: unknown time zone `{tz}`")))?;
        }
        for h in &f.holidays {
            flow.holidays
                .push(h.parse().map_err(|_| {
                    self.bad(format!("holidays: `{h}` is not a date (YYYY-MM-DD)"))
                })?);
        }
        let mut call = CallConfig::default();
        if let Some(secs) = f.max_call_seconds {
            call.max_call_ms = secs.saturating_mul(1000);
        }
        call.transfer = f.transfer;
        if let Some(ms) = f.sip.answer_after_ms {
            call.answer_after_ms = ms;
        }
        if let Some(i) = f.rtp.inband.as_deref() {
            call.inband = match i {
                "auto" => Inband::Auto,
                "on" => Inband::On,
                "off" => Inband::Off,
                other => return Err(self.bad(format!("rtp.inband: `{other}` (auto, on, off)"))),
            };
        }
        if let Some(j) = f.rtp.jitter_frames {
            call.jitter_frames = j.clamp(1, 50);
        }
        if let Some(s) = f.rtp.inactivity_seconds {
            call.rtp_inactivity_ms = s.saturating_mul(1000);
        }
        if let Some(l) = f.rtp.latch.as_deref() {
            call.rtp_latch = match l {
                "signalled" => LatchFrom::Signalled,
                "anywhere" => LatchFrom::Anywhere,
                other => {
                    return Err(self.bad(format!("rtp.latch: `{other}` (signalled, anywhere)")));
                }
            };
        }
        if let Some(n) = f.rtp.latch_packets {
            if !(1..=50).contains(&n) {
                return Err(self.bad(format!("rtp.latch_packets: {n} (1 to 50)")));
            }
            call.rtp_latch_packets = n;
        }
        if let Some(t) = f.limits.backend_timeout_seconds {
            call.backend_timeout_ms = t.max(1) * 1000;
        }
        if let Some(t) = f.limits.work_timeout_seconds {
            call.work_timeout_ms = t.max(1) * 1000;
        }
        let mut rc = RuntimeConfig::default();
        if let Some(l) = f.sip.listen {
            rc.listen = l;
        }
        rc.public = f.sip.public;
        if let Some(codecs) = &f.sip.codecs {
            rc.prefer = codecs
                .iter()
                .map(|c| match c.to_ascii_lowercase().as_str() {
                    "pcmu" => Ok(Law::Pcmu),
                    "pcma" => Ok(Law::Pcma),
                    other => {
                        Err(self.bad(format!("sip.codecs: unknown codec `{other}` (pcmu, pcma)")))
                    }
                })
                .collect::<Result<_, _>>()?;
            if rc.prefer.is_empty() {
                return Err(self.bad("sip.codecs is empty".into()));
            }
        }
        let nets = |key: &str, nets: &[String]| {
            nets.iter()
                .map(|n| {
                    n.parse::<ipnet::IpNet>()
                        .or_else(|_| n.parse::<IpAddr>().map(ipnet::IpNet::from))
                        .map_err(|_| self.bad(format!("sip.{key}: `{n}` is not a network")))
                })
                .collect::<Result<Vec<_>, _>>()
        };
        if let Some(n) = &f.sip.allow {
            rc.allow = nets("allow", n)?;
        }
        if let Some(n) = &f.sip.trusted {
            rc.trusted = nets("trusted", n)?;
        }
        let t = &f.sip.tcp;
        for (name, v) in [
            ("max_connections", t.max_connections.map(|n| n as u64)),
            ("per_ip", t.per_ip.map(|n| n as u64)),
            ("write_queue", t.write_queue.map(|n| n as u64)),
            ("idle_seconds", t.idle_seconds),
            ("message_seconds", t.message_seconds),
        ] {
            if v == Some(0) {
                return Err(self.bad(format!("sip.tcp.{name}: 0 (at least 1)")));
            }
        }
        if let Some(n) = t.max_connections {
            rc.tcp.max_connections = n;
        }
        if let Some(n) = t.per_ip {
            rc.tcp.per_ip = n;
        }
        if let Some(s) = t.idle_seconds {
            rc.tcp.idle = Duration::from_secs(s);
        }
        if let Some(s) = t.message_seconds {
            rc.tcp.message = Duration::from_secs(s);
        }
        if let Some(n) = t.write_queue {
            rc.tcp.write_queue = n;
        }
        if let Some((a, b)) = f.rtp.ports {
            if a > b || a < 1024 {
                return Err(self.bad(format!("rtp.ports: {a}-{b} is not a usable range")));
            }
            rc.rtp_ports = (a, b);
        }
        if let Some(m) = f.limits.max_calls {
            rc.max_calls = m;
        }
        if let Some(r) = f.limits.retry_after {
            rc.retry_after = r;
        }
        if let Some(g) = f.limits.grace_seconds {
            rc.grace = Duration::from_secs(g);
        }
        let l = &f.limits;
        if let Some(r) = l.rate_per_source {
            if !(r.is_finite() && r > 0.0) {
                return Err(self.bad(format!("limits.rate_per_source: {r} (above 0)")));
            }
            rc.flood.per_source = r;
        }
        for (name, v) in [
            ("burst", l.burst.map(u64::from)),
            ("max_transactions", l.max_transactions.map(|n| n as u64)),
            (
                "unconfirmed_per_source",
                l.unconfirmed_per_source.map(u64::from),
            ),
        ] {
            if v == Some(0) {
                return Err(self.bad(format!("limits.{name}: 0 (at least 1)")));
            }
        }
        if let Some(b) = l.burst {
            rc.flood.burst = b;
        }
        if let Some(m) = l.max_transactions {
            rc.flood.max_transactions = m;
        }
        if let Some(u) = l.unconfirmed_per_source {
            rc.flood.unconfirmed_per_source = u;
        }
        let mut operations = BTreeMap::new();
        for (name, op) in f.operations {
            let (kind, fields) = match op {
                file::Operation::Kind(k) => (k, None),
                file::Operation::Full { kind, fields } => (kind, fields),
            };
            let k = match kind.as_str() {
                "submit" => OpKind::Submit,
                "lookup" => OpKind::Lookup,
                _ => {
                    return Err(self.bad(format!(
                        "operation `{name}` has kind `{kind}`; expected `submit` or `lookup`"
                    )));
                }
            };
            operations.insert(name, OpSpec { kind: k, fields });
        }
        if let Some(b) = &f.backend {
            match b.kind.as_str() {
                "sqlite" => {}
                "open311" => {
                    if !b
                        .endpoint
                        .as_deref()
                        .is_some_and(|e| e.starts_with("http://") || e.starts_with("https://"))
                    {
                        return Err(self.bad("backend.endpoint: an http(s) URL is needed".into()));
                    }
                    if b.endpoint
                        .as_deref()
                        .is_some_and(|e| e.starts_with("http://"))
                        && !b.insecure_http
                    {
                        return Err(self.bad(
                            "backend.endpoint: plain http would carry the api_key and callers' \
                             data in the clear (use https, or insecure_http: true)"
                                .into(),
                        ));
                    }
                }
                other => {
                    return Err(self.bad(format!("backend.kind: `{other}` (sqlite, open311)")));
                }
            }
        }
        let notify = match f.notify {
            None => None,
            Some(n) => {
                let target = match (n.webhook, n.file) {
                    (Some(url), None)
                        if url.starts_with("https://")
                            || (n.insecure_http && url.starts_with("http://")) =>
                    {
                        let secret = match (n.secret_env, n.secret_file) {
                            (Some(v), None) => Some(SecretSource::Env(v)),
                            (None, Some(f)) => Some(SecretSource::File(self.relative(f))),
                            (None, None) if n.insecure_unsigned => None,
                            (None, None) => {
                                return Err(self.bad(
                                    "notify.webhook: sign it: give secret_env or secret_file \
                                     (or insecure_unsigned: true)"
                                        .into(),
                                ));
                            }
                            (Some(_), Some(_)) => {
                                return Err(self.bad(
                                    "notify: give secret_env or secret_file, not both".into(),
                                ));
                            }
                        };
                        NotifyTarget::Webhook {
                            url,
                            timeout: Duration::from_secs(n.timeout_seconds.unwrap_or(10).max(1)),
                            secret,
                        }
                    }
                    (Some(url), None) if url.starts_with("http://") => {
                        return Err(self.bad(format!(
                            "notify.webhook: {url} is plain http (use https, or insecure_http: true)"
                        )));
                    }
                    (None, Some(file)) => NotifyTarget::File(file),
                    _ => {
                        return Err(self.bad(
                            "notify: give either `webhook: http(s)://…` or `file: PATH`".into(),
                        ));
                    }
                };
                Some(NotifySettings {
                    target,
                    staff: n.staff,
                })
            }
        };
        let tts = match f.tts.as_deref() {
            None => default_tts(),
            Some("off") => None,
            Some(program) => Some(PathBuf::from(program)),
        };
        let mut privacy = TicketPrivacy::default();
        match f.lookups.notes_to.as_deref() {
            None | Some("filer") => {}
            Some("anyone") => privacy.notes_to = NotesTo::Anyone,
            Some(other) => {
                return Err(self.bad(format!("lookups.notes_to: `{other}` (filer, anyone)")));
            }
        }
        if let Some(n) = f.lookups.per_call {
            privacy.per_call = n;
        }
        if let Some(n) = f.lookups.per_number_hour {
            privacy.per_number_hour = n;
        }
        Ok(Project {
            path,
            prompts,
            flow,
            call,
            runtime: rc,
            operations,
            backend: f.backend,
            notify,
            tts,
            privacy,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ivr-project-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let p = dir.join("ivr.yaml");
        std::fs::write(&p, text).expect("write");
        p
    }

    fn load(p: &Path) -> Result<Project, ProjectError> {
        Project::load(Path::new("x.flow"), Some(p), None)
    }

    #[test]
    fn reads_every_section_once() {
        let p = write(
            "all",
            "sip:\n  listen: 127.0.0.1:5999\n  codecs: [pcma]\n  allow: [10.1.0.0/16, 127.0.0.1]\n  answer_after_ms: 40\n  tcp:\n    per_ip: 3\n    idle_seconds: 9\n\
             rtp:\n  ports: [30000, 30100]\n  inband: on\n  inactivity_seconds: 20\n  latch: anywhere\n  latch_packets: 5\nlimits:\n  max_calls: 7\n  grace_seconds: 2\n  rate_per_source: 9.5\n  unconfirmed_per_source: 4\n\
             transfer:\n  agents: sip:a@127.0.0.1\ntime_zone: Europe/London\nholidays: [\"2026-12-25\"]\n\
             max_call_seconds: 60\noperations:\n  mine: { kind: lookup, fields: [a] }\n",
        );
        let s = load(&p).expect("valid");
        let rc = s.runtime_config();
        assert_eq!(rc.listen.port(), 5999);
        assert_eq!(rc.prefer, vec![Law::Pcma]);
        assert_eq!(rc.allow.len(), 2);
        assert_eq!(rc.rtp_ports, (30000, 30100));
        assert_eq!(rc.tcp.per_ip, 3);
        assert_eq!(rc.tcp.idle, Duration::from_secs(9));
        assert_eq!(rc.tcp.max_connections, 1_024, "the default stays");
        assert_eq!(rc.max_calls, 7);
        assert_eq!(rc.flood.per_source, 9.5);
        assert_eq!(rc.flood.unconfirmed_per_source, 4);
        assert_eq!(rc.grace, Duration::from_secs(2));
        let c = s.call_config();
        assert_eq!(c.inband, Inband::On);
        assert_eq!(c.answer_after_ms, 40);
        assert_eq!(c.rtp_inactivity_ms, 20_000);
        assert_eq!(c.rtp_latch, LatchFrom::Anywhere);
        assert_eq!(c.rtp_latch_packets, 5);
        assert_eq!(c.max_call_ms, 60_000);
        assert_eq!(s.transfer()["agents"], "sip:a@127.0.0.1");
        let f = s.flow_config();
        assert_eq!(f.holidays.len(), 1);
        let env = s.environment().expect("environment");
        assert!(env.destinations.is_some_and(|d| d.contains("agents")));
        assert_eq!(env.operations["mine"].kind, OpKind::Lookup);
        let p = write(
            "o311",
            "backend:\n  kind: open311\n  endpoint: http://127.0.0.1:9/v2\n  insecure_http: true\n  service_codes: { roads: POTHOLE }\n  timeout_seconds: 3\n",
        );
        let s = load(&p).expect("valid");
        let o = s.open311().expect("open311 configured");
        assert_eq!(o.service_codes["roads"], "POTHOLE");
        assert_eq!(o.timeout, Duration::from_secs(3));
    }

    #[test]
    fn mistakes_are_named() {
        for (text, says) in [
            ("sip:\n  codecs: [g729]\n", "g729"),
            ("sip:\n  allow: [nonsense]\n", "nonsense"),
            ("rtp:\n  ports: [5000, 4000]\n", "rtp.ports"),
            ("rtp:\n  inband: maybe\n", "maybe"),
            ("rtp:\n  latch: first\n", "rtp.latch"),
            ("sip:\n  tcp:\n    per_ip: 0\n", "sip.tcp.per_ip"),
            ("limits:\n  rate_per_source: -1\n", "limits.rate_per_source"),
            ("rtp:\n  latch_packets: 0\n", "rtp.latch_packets"),
            ("sip:\n  lisen: 1.2.3.4:5\n", "lisen"),
            ("transfr:\n  a: b\n", "transfr"),
            ("backend:\n  kind: carrier-pigeon\n", "carrier-pigeon"),
            ("backend:\n  kind: open311\n", "backend.endpoint"),
            (
                "backend:\n  kind: open311\n  endpoint: http://x/v2\n",
                "insecure_http",
            ),
            ("notify:\n  webhook: https://x/sms\n", "secret_env"),
            (
                "notify:\n  webhook: http://x/sms\n  secret_env: K\n",
                "plain http",
            ),
            ("notify:\n  staff: true\n", "notify:"),
            ("time_zone: Mars/Olympus\n", "Mars/Olympus"),
            ("holidays: [tomorrow]\n", "tomorrow"),
            ("operations:\n  x: { kind: delete }\n", "delete"),
        ] {
            let p = write("bad", text);
            let e = load(&p).expect_err(text);
            assert!(e.to_string().contains(says), "{e}");
            assert!(e.to_string().contains("ivr.yaml"), "the file is named: {e}");
        }
    }

    #[test]
    fn the_shipped_project_file_is_valid() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("ivr.yaml");
        let s = load(&p).expect("valid");
        assert!(s.transfer().contains_key("agents"));
        assert_eq!(s.call_config().max_call_ms, 900_000);
    }
}
