//! The runtime's part of `ivr.yaml`: SIP, RTP, limits and prompts, turned into a
//! [`RuntimeConfig`]. Every key is optional; the command line overrides `listen` and `data`.
//!
//! ```yaml
//! sip:
//!   listen: 127.0.0.1:5060     # UDP and TCP
//!   public: 203.0.113.10       # address in Contact and SDP (NAT, or listening on 0.0.0.0)
//!   codecs: [pcmu, pcma]       # preference
//!   allow: [127.0.0.0/8, 10.0.0.0/8]   # source networks; default loopback + private ranges
//!   answer_after_ms: 0         # ring (180) this long before answering
//! rtp:
//!   ports: [20000, 29999]
//!   inband: auto               # auto | on | off
//!   jitter_frames: 3
//! limits:
//!   max_calls: 5000
//!   retry_after: 5
//!   grace_seconds: 30
//!   backend_timeout_seconds: 10
//! prompts: prompts             # relative to the project folder
//! backend:                     # default: the embedded SQLite store only
//!   kind: open311              # file locally, deliver to a GeoReport v2 endpoint
//!   endpoint: https://city.example/open311/v2
//!   api_key: SECRET
//!   jurisdiction_id: city.example
//!   service_codes: { roads: "POTHOLE", lighting: "STREETLIGHT" }
//!   media_base_url: https://ivr.city.example/recordings
//!   timeout_seconds: 10
//! tts: espeak-ng               # speaks values said `as text` (staff notes); `off` to disable;
//!                              # default: espeak-ng when it is installed
//! notify:                      # SMS to callers and notices to staff (templates in
//!   webhook: https://sms.example/send   # prompts/<lang>/sms/*.ftl), or
//!   file: notifications.jsonl  # one JSON line per notice (relative to the data folder)
//!   staff: true                # also a notice to staff for each new complaint
//! ```

use crate::project::{ProjectError, find_root};
use ivr_core::media::g711::Law;
use ivr_core::media::session::Inband;
use ivr_core::runtime::RuntimeConfig;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Why the runtime settings are invalid.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The file could not be read or parsed.
    #[error(transparent)]
    Project(#[from] ProjectError),
    /// A value is out of range or unknown.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct File {
    sip: Sip,
    rtp: Rtp,
    limits: Limits,
    prompts: Option<PathBuf>,
    transfer: BTreeMap<String, String>,
    backend: Option<Backend>,
    notify: Option<Notify>,
    tts: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Notify {
    webhook: Option<String>,
    file: Option<PathBuf>,
    #[serde(default)]
    staff: bool,
    timeout_seconds: Option<u64>,
}

/// Where notices go (`notify:` in `ivr.yaml`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotifyTarget {
    /// POST JSON here.
    Webhook {
        /// The URL.
        url: String,
        /// Time limit per request.
        timeout: Duration,
    },
    /// Append JSON lines to this file (relative paths: in the data folder).
    File(PathBuf),
}

/// The notification settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotifySettings {
    /// Where notices go.
    pub target: NotifyTarget,
    /// Whether staff get a notice per new complaint.
    pub staff: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Backend {
    kind: String,
    endpoint: Option<String>,
    api_key: Option<String>,
    jurisdiction_id: Option<String>,
    #[serde(default)]
    service_codes: BTreeMap<String, String>,
    media_base_url: Option<String>,
    timeout_seconds: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Sip {
    listen: Option<SocketAddr>,
    public: Option<IpAddr>,
    codecs: Option<Vec<String>>,
    allow: Option<Vec<String>>,
    answer_after_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Rtp {
    ports: Option<(u16, u16)>,
    inband: Option<String>,
    jitter_frames: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Limits {
    max_calls: Option<usize>,
    retry_after: Option<u32>,
    grace_seconds: Option<u64>,
    backend_timeout_seconds: Option<u64>,
}

/// What `ivr serve` reads from a project.
#[derive(Debug)]
pub struct ServeSettings {
    /// Sockets, limits, media.
    pub runtime: RuntimeConfig,
    /// The prompt folder.
    pub prompts: Option<PathBuf>,
    /// Transfer destinations by name.
    pub transfer: BTreeMap<String, String>,
    /// Where complaints go beyond the local store (`None`: the store only).
    pub open311: Option<ivr_core::backend::open311::Open311Config>,
    /// Notifications, when configured.
    pub notify: Option<NotifySettings>,
    /// The text-to-speech program for values said `as text` (`None`: off).
    pub tts: Option<PathBuf>,
}

/// `espeak-ng` when it is on the PATH.
fn default_tts() -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("espeak-ng"))
            .find(|f| f.is_file())
    })
}

/// Reads `config` (or the `ivr.yaml` of `script`'s project); defaults when there is none.
pub fn serve_settings(
    script: &Path,
    config: Option<&Path>,
) -> Result<ServeSettings, SettingsError> {
    let root = find_root(script);
    let path = config.map(Path::to_path_buf).or_else(|| {
        root.as_ref()
            .map(|r| r.join("ivr.yaml"))
            .filter(|p| p.is_file())
    });
    let mut rc = RuntimeConfig::default();
    let default_prompts = root
        .as_ref()
        .map(|r| r.join("prompts"))
        .filter(|p| p.is_dir());
    let Some(path) = path else {
        return Ok(ServeSettings {
            runtime: rc,
            prompts: default_prompts,
            transfer: BTreeMap::new(),
            open311: None,
            notify: None,
            tts: default_tts(),
        });
    };
    let text = std::fs::read_to_string(&path).map_err(|source| ProjectError::Io {
        path: path.clone(),
        source,
    })?;
    let f: File = if text.trim().is_empty() {
        File::default()
    } else {
        serde_yaml_ng::from_str(&text).map_err(|source| ProjectError::Config {
            path: path.clone(),
            source,
        })?
    };
    let bad = |message: String| SettingsError::Invalid {
        path: path.clone(),
        message,
    };
    if let Some(l) = f.sip.listen {
        rc.listen = l;
    }
    rc.public = f.sip.public;
    if let Some(ms) = f.sip.answer_after_ms {
        rc.answer_after = Duration::from_millis(ms);
    }
    if let Some(codecs) = f.sip.codecs {
        rc.prefer = codecs
            .iter()
            .map(|c| match c.to_ascii_lowercase().as_str() {
                "pcmu" => Ok(Law::Pcmu),
                "pcma" => Ok(Law::Pcma),
                other => Err(bad(format!(
                    "sip.codecs: unknown codec `{other}` (pcmu, pcma)"
                ))),
            })
            .collect::<Result<_, _>>()?;
        if rc.prefer.is_empty() {
            return Err(bad("sip.codecs is empty".into()));
        }
    }
    if let Some(nets) = f.sip.allow {
        rc.allow = nets
            .iter()
            .map(|n| {
                n.parse::<ipnet::IpNet>()
                    .or_else(|_| n.parse::<IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| bad(format!("sip.allow: `{n}` is not a network")))
            })
            .collect::<Result<_, _>>()?;
    }
    if let Some((a, b)) = f.rtp.ports {
        if a > b || a < 1024 {
            return Err(bad(format!("rtp.ports: {a}-{b} is not a usable range")));
        }
        rc.rtp_ports = (a, b);
    }
    if let Some(i) = f.rtp.inband {
        rc.inband = match i.as_str() {
            "auto" => Inband::Auto,
            "on" => Inband::On,
            "off" => Inband::Off,
            other => return Err(bad(format!("rtp.inband: `{other}` (auto, on, off)"))),
        };
    }
    if let Some(j) = f.rtp.jitter_frames {
        rc.jitter_frames = j.clamp(1, 50);
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
    if let Some(t) = f.limits.backend_timeout_seconds {
        rc.backend_timeout = Duration::from_secs(t.max(1));
    }
    let open311 = match f.backend {
        None => None,
        Some(b) => match b.kind.as_str() {
            "sqlite" => None,
            "open311" => {
                let endpoint = b
                    .endpoint
                    .filter(|e| e.starts_with("http://") || e.starts_with("https://"))
                    .ok_or_else(|| bad("backend.endpoint: an http(s) URL is needed".into()))?;
                let mut c = ivr_core::backend::open311::Open311Config {
                    endpoint,
                    api_key: b.api_key,
                    jurisdiction_id: b.jurisdiction_id,
                    service_codes: b.service_codes,
                    media_base_url: b.media_base_url,
                    ..Default::default()
                };
                if let Some(t) = b.timeout_seconds {
                    c.timeout = Duration::from_secs(t.max(1));
                }
                Some(c)
            }
            other => {
                return Err(bad(format!("backend.kind: `{other}` (sqlite, open311)")));
            }
        },
    };
    let notify = match f.notify {
        None => None,
        Some(n) => {
            let target = match (n.webhook, n.file) {
                (Some(url), None) if url.starts_with("http://") || url.starts_with("https://") => {
                    NotifyTarget::Webhook {
                        url,
                        timeout: Duration::from_secs(n.timeout_seconds.unwrap_or(10).max(1)),
                    }
                }
                (None, Some(file)) => NotifyTarget::File(file),
                _ => {
                    return Err(bad(
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
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let prompts = f.prompts.map(|p| base.join(p)).or(default_prompts);
    Ok(ServeSettings {
        runtime: rc,
        prompts,
        transfer: f.transfer,
        open311,
        notify,
        tts: match f.tts.as_deref() {
            None => default_tts(),
            Some("off") => None,
            Some(program) => Some(PathBuf::from(program)),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ivr-settings-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let p = dir.join("ivr.yaml");
        std::fs::write(&p, text).expect("write");
        p
    }

    #[test]
    fn reads_every_section() {
        let p = write(
            "all",
            "sip:\n  listen: 127.0.0.1:5999\n  codecs: [pcma]\n  allow: [10.1.0.0/16, 127.0.0.1]\n\
             rtp:\n  ports: [30000, 30100]\n  inband: on\nlimits:\n  max_calls: 7\n  grace_seconds: 2\n\
             transfer:\n  agents: sip:a@127.0.0.1\n",
        );
        let s = serve_settings(Path::new("x.flow"), Some(&p)).expect("valid");
        assert_eq!(s.runtime.listen.port(), 5999);
        assert_eq!(s.runtime.prefer, vec![Law::Pcma]);
        assert_eq!(s.runtime.allow.len(), 2);
        assert_eq!(s.runtime.rtp_ports, (30000, 30100));
        assert_eq!(s.runtime.inband, Inband::On);
        assert_eq!(s.runtime.max_calls, 7);
        assert_eq!(s.runtime.grace, Duration::from_secs(2));
        assert_eq!(s.transfer["agents"], "sip:a@127.0.0.1");
        assert!(s.open311.is_none());
        let p = write(
            "o311",
            "backend:\n  kind: open311\n  endpoint: http://127.0.0.1:9/v2\n  service_codes: { roads: POTHOLE }\n  timeout_seconds: 3\n",
        );
        let s = serve_settings(Path::new("x.flow"), Some(&p)).expect("valid");
        let o = s.open311.expect("open311 configured");
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
            ("sip:\n  lisen: 1.2.3.4:5\n", "lisen"),
            ("backend:\n  kind: carrier-pigeon\n", "carrier-pigeon"),
            ("backend:\n  kind: open311\n", "backend.endpoint"),
            ("notify:\n  staff: true\n", "notify:"),
        ] {
            let p = write("bad", text);
            let e = serve_settings(Path::new("x.flow"), Some(&p)).expect_err(text);
            assert!(e.to_string().contains(says), "{e}");
        }
    }

    #[test]
    fn the_shipped_project_file_is_valid() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("ivr.yaml");
        let s = serve_settings(Path::new("flows/complaint_940.flow"), Some(&p)).expect("valid");
        assert!(s.transfer.contains_key("agents"));
    }
}
