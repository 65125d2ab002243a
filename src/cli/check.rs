//! `ivr check`.

use super::LangArg;
use clap::ValueEnum;
use ivr::dsl::{self, Severity, render};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Scripts, or folders searched for *.flow files.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// The prompt catalog folder (default: prompts/ of the script's project).
    #[arg(long)]
    prompts: Option<PathBuf>,
    /// The project configuration (default: ivr.yaml of the script's project).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Language of the messages.
    #[arg(long, value_enum, default_value = "en")]
    messages: LangArg,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Human,
    Json,
}

fn flow_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            flow_files(&p, out)?;
        } else if p.extension().is_some_and(|e| e == "flow") {
            out.push(p);
        }
    }
    Ok(())
}

pub fn run(a: Args) -> ExitCode {
    let mut files = Vec::new();
    for p in &a.paths {
        if p.is_dir() {
            if let Err(e) = flow_files(p, &mut files) {
                eprintln!("ivr: cannot read {}: {e}", p.display());
                return ExitCode::from(2);
            }
        } else {
            files.push(p.clone());
        }
    }
    if files.is_empty() {
        eprintln!("ivr: no .flow files found");
        return ExitCode::from(2);
    }
    let lang = a.messages.into();
    let (mut errors, mut warnings) = (0, 0);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for f in &files {
        let bytes = match super::read(f) {
            Ok(b) => b,
            Err(code) => return code,
        };
        let env = match ivr::project::environment(f, a.prompts.as_deref(), a.config.as_deref()) {
            Ok(e) => e,
            Err(e) => {
                eprintln!("ivr: {e}");
                return ExitCode::from(2);
            }
        };
        let checked = dsl::check(&bytes, &env);
        let name = f.display().to_string();
        let text = match a.format {
            Format::Human => render::render_human(
                &checked.diagnostics,
                &name,
                &checked.source,
                lang,
                super::color(),
            ),
            Format::Json => render::render_json(&checked.diagnostics, &name, &checked.source, lang),
        };
        let _ = out.write_all(text.as_bytes());
        for d in &checked.diagnostics {
            match d.severity() {
                Severity::Error => errors += 1,
                Severity::Warning => warnings += 1,
            }
        }
    }
    if matches!(a.format, Format::Human) {
        let _ = writeln!(
            out,
            "checked {} file(s): {errors} error(s), {warnings} warning(s)",
            files.len()
        );
    }
    if errors > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
