//! Hot reload for `ivr serve`: the script is read and checked again on SIGHUP or when its
//! file changes. A valid script replaces the one new calls run (calls in progress finish on
//! theirs); an invalid one is refused with its diagnostics, and the running version goes on.

use ivr_core::flow::{Defaults, Program};
use ivr_core::runtime::Services;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Where a script and its project come from.
#[derive(Clone, Debug)]
pub struct ScriptSource {
    /// The script.
    pub flow: PathBuf,
    /// `ivr.yaml`, when not the project's.
    pub config: Option<PathBuf>,
    /// The prompt folder, when not the project's.
    pub prompts: Option<PathBuf>,
}

/// A script's version: `sha256:` and the first 12 hex digits of its bytes.
pub fn version(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(bytes);
    let hex: String = h.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// Why a script was not (re)loaded: the error lines, one per diagnostic.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

impl Refused {
    /// Who is at fault: the project: the script as it is on disk.
    pub fn fault(&self) -> ivr_core::vocab::Fault {
        ivr_core::vocab::Fault::Local
    }
}

/// Reads and checks the script; the program and its version, or the diagnostics.
pub fn compile(src: &ScriptSource) -> Result<(Program, String), Refused> {
    let bytes = crate::project::read_script(&src.flow)
        .map_err(|e| Refused(format!("cannot read {}: {e}", src.flow.display())))?;
    let env = crate::project::environment(&src.flow, src.prompts.as_deref(), src.config.as_deref())
        .map_err(|e| Refused(e.to_string()))?;
    let checked = ivr_dsl::check(&bytes, &env);
    if ivr_dsl::diag::has_errors(&checked.diagnostics) {
        let errors: Vec<_> = checked
            .diagnostics
            .iter()
            .filter(|d| d.severity() == ivr_dsl::Severity::Error)
            .cloned()
            .collect();
        let name = src.flow.display().to_string();
        let text = ivr_dsl::render::render_human(
            &errors,
            &name,
            &checked.source,
            ivr_dsl::Lang::En,
            false,
        );
        // The greppable first line of each diagnostic.
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with(&format!("{name}:")))
            .collect();
        return Err(Refused(lines.join("\n")));
    }
    let program = Program::compile(&bytes, &env, Defaults::default())
        .map_err(|e| Refused(format!("{}: {e}", src.flow.display())))?;
    Ok((program, version(&bytes)))
}

/// Checks the script again and, when it is valid and changed, hands it to new calls.
/// Returns the version serving afterwards.
pub fn reload(src: &ScriptSource, services: &Services, why: &str) -> Result<String, Refused> {
    match compile(src) {
        Ok((program, v)) => {
            let current = services.version();
            if *current != *v {
                services.set_script(Arc::new(program), &v);
                tracing::info!(version = %v, %why, "script reloaded: new calls use it");
            }
            Ok(v)
        }
        Err(e) => {
            tracing::error!(
                %why,
                "script not reloaded; the previous version keeps serving:\n{e}"
            );
            Err(e)
        }
    }
}

/// Reloads on SIGHUP, and when the file's bytes change (checked every `poll`; `None`: on
/// SIGHUP only). Runs until the task is dropped.
pub async fn watch(src: ScriptSource, services: Arc<Services>, poll: Option<Duration>) {
    let mut hup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(error = %e, "no SIGHUP reload");
            None
        }
    };
    let mut last = std::fs::read(&src.flow).ok();
    loop {
        let tick = async {
            match poll {
                Some(p) => tokio::time::sleep(p).await,
                None => std::future::pending().await,
            }
        };
        let hup_recv = async {
            match hup.as_mut() {
                Some(h) => {
                    h.recv().await;
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = hup_recv => {
                last = std::fs::read(&src.flow).ok();
                let _ = reload(&src, &services, "SIGHUP");
            }
            () = tick => {
                let now = std::fs::read(&src.flow).ok();
                if now != last {
                    last = now;
                    let _ = reload(&src, &services, "the file changed");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_follow_the_bytes() {
        assert_eq!(version(b"flow main\n"), version(b"flow main\n"));
        assert_ne!(version(b"flow main\n"), version(b"flow other\n"));
        assert!(version(b"").starts_with("sha256:e3b0c44298fc"));
    }

    #[test]
    fn a_broken_script_is_refused_with_its_diagnostics() {
        let dir = std::env::temp_dir().join(format!("ivr-reload-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let flow = dir.join("bad.flow");
        std::fs::write(&flow, "flow main\n    goto nowhere\n").expect("write");
        let src = ScriptSource {
            flow: flow.clone(),
            config: None,
            prompts: None,
        };
        let e = compile(&src).expect_err("refused");
        assert!(e.0.contains("bad.flow:2:"), "{e}");
        assert!(e.0.contains("error[E"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
