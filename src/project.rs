//! A script's project: the folder that holds `prompts/` and `ivr.yaml`, and the checking
//! environment built from them.

use ivr_dsl::{Environment, OpKind, OpSpec, PromptCatalog};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Why a project could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    /// The prompt catalog could not be read.
    #[error(transparent)]
    Catalog(#[from] ivr_dsl::catalog::CatalogError),
    /// The configuration file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The configuration file is not valid.
    #[error("{path}: {source}")]
    Config {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: serde_yaml_ng::Error,
    },
    /// An operation kind other than `submit` or `lookup`.
    #[error("{path}: operation `{name}` has kind `{kind}`; expected `submit` or `lookup`")]
    OperationKind {
        /// The file.
        path: PathBuf,
        /// The operation.
        name: String,
        /// What was written.
        kind: String,
    },
}

/// The parts of `ivr.yaml` the language checker reads; the rest belongs to the runtime.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CheckConfig {
    /// Transfer destinations by name (values are SIP URIs, used by the runtime).
    pub transfer: BTreeMap<String, serde_yaml_ng::Value>,
    /// Extra backend operations registered by an embedder.
    pub operations: BTreeMap<String, OperationConfig>,
}

/// The parts of `ivr.yaml` a call needs.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CallSettings {
    /// IANA time zone for business hours, e.g. `Asia/Riyadh`.
    pub time_zone: Option<String>,
    /// Public holidays, `YYYY-MM-DD`.
    pub holidays: Vec<String>,
    /// Maximum call length in seconds.
    pub max_call_seconds: Option<u64>,
}

/// Why call settings are invalid.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// Reading the file failed.
    #[error(transparent)]
    Project(#[from] ProjectError),
    /// An unknown time zone.
    #[error("unknown time zone `{0}`")]
    TimeZone(String),
    /// A holiday that is not a date.
    #[error("holiday `{0}` is not a date (YYYY-MM-DD)")]
    Holiday(String),
}

/// The call configuration for `script`'s project (defaults when there is no `ivr.yaml`).
pub fn call_config(
    script: &Path,
    config: Option<&Path>,
) -> Result<ivr_core::flow::CallConfig, SettingsError> {
    let mut cfg = ivr_core::flow::CallConfig::default();
    let file = config.map(Path::to_path_buf).or_else(|| {
        find_root(script)
            .map(|r| r.join("ivr.yaml"))
            .filter(|p| p.is_file())
    });
    let Some(path) = file else { return Ok(cfg) };
    let text = std::fs::read_to_string(&path).map_err(|source| ProjectError::Io {
        path: path.clone(),
        source,
    })?;
    let s: CallSettings = if text.trim().is_empty() {
        CallSettings::default()
    } else {
        serde_yaml_ng::from_str(&text).map_err(|source| ProjectError::Config {
            path: path.clone(),
            source,
        })?
    };
    if let Some(tz) = s.time_zone {
        cfg.time_zone =
            jiff::tz::TimeZone::get(&tz).map_err(|_| SettingsError::TimeZone(tz.clone()))?;
    }
    for h in s.holidays {
        cfg.holidays
            .push(h.parse().map_err(|_| SettingsError::Holiday(h.clone()))?);
    }
    if let Some(secs) = s.max_call_seconds {
        cfg.max_call_ms = secs.saturating_mul(1000);
    }
    Ok(cfg)
}

/// An operation in `ivr.yaml`: `name: submit`, or `name: { kind: lookup, fields: [a, b] }`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum OperationConfig {
    /// Only the kind; any number of fields.
    Kind(String),
    /// Kind and fields.
    Full {
        /// `submit` or `lookup`.
        kind: String,
        /// Field names, in the order scripts pass them.
        #[serde(default)]
        fields: Option<Vec<String>>,
    },
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

/// Builds the checking environment for `script`, with explicit overrides.
pub fn environment(
    script: &Path,
    prompts: Option<&Path>,
    config: Option<&Path>,
) -> Result<Environment, ProjectError> {
    let root = find_root(script);
    let mut env = Environment::default();
    let prompts_dir = prompts.map(Path::to_path_buf).or_else(|| {
        root.as_ref()
            .map(|r| r.join("prompts"))
            .filter(|p| p.is_dir())
    });
    if let Some(dir) = prompts_dir {
        env.prompts = Some(PromptCatalog::load(&dir)?);
    }
    let config_file = config.map(Path::to_path_buf).or_else(|| {
        root.as_ref()
            .map(|r| r.join("ivr.yaml"))
            .filter(|p| p.is_file())
    });
    if let Some(path) = config_file {
        let text = std::fs::read_to_string(&path).map_err(|source| ProjectError::Io {
            path: path.clone(),
            source,
        })?;
        let cfg: CheckConfig = if text.trim().is_empty() {
            CheckConfig::default()
        } else {
            serde_yaml_ng::from_str(&text).map_err(|source| ProjectError::Config {
                path: path.clone(),
                source,
            })?
        };
        env.destinations = Some(cfg.transfer.keys().cloned().collect::<BTreeSet<_>>());
        for (name, op) in cfg.operations {
            let (kind, fields) = match op {
                OperationConfig::Kind(k) => (k, None),
                OperationConfig::Full { kind, fields } => (kind, fields),
            };
            let k = match kind.as_str() {
                "submit" => OpKind::Submit,
                "lookup" => OpKind::Lookup,
                _ => {
                    return Err(ProjectError::OperationKind { path, name, kind });
                }
            };
            env.operations.insert(name, OpSpec { kind: k, fields });
        }
    }
    Ok(env)
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
