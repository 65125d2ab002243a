//! `ivr fmt`.

use super::LangArg;
use ivr::dsl::{self, Lang, render};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The script.
    file: PathBuf,
    /// Rewrite every keyword in this language (default: the language most keywords are in).
    #[arg(long, value_enum)]
    keywords: Option<LangArg>,
    /// Rewrite the file in place.
    #[arg(long, conflicts_with = "check")]
    write: bool,
    /// Exit 1 if the file is not formatted; change nothing.
    #[arg(long)]
    check: bool,
}

pub fn run(a: Args) -> ExitCode {
    let bytes = match super::read(&a.file) {
        Ok(b) => b,
        Err(c) => return c,
    };
    let parsed = dsl::parse(&bytes);
    let name = a.file.display().to_string();
    if parsed.has_errors() {
        eprint!(
            "{}",
            render::render_human(&parsed.diagnostics, &name, &parsed.source, Lang::En, false)
        );
        eprintln!("ivr: {name} has errors; not formatted");
        return ExitCode::from(1);
    }
    let lang: Lang = a
        .keywords
        .map_or_else(|| parsed.keyword_counts.majority(), Into::into);
    let formatted = dsl::format::format_script(&parsed.script, lang);
    if a.check {
        if formatted.as_bytes() != bytes.as_slice() {
            println!("{name}: not formatted");
            return ExitCode::from(1);
        }
        return ExitCode::SUCCESS;
    }
    if a.write {
        if formatted.as_bytes() != bytes.as_slice()
            && let Err(e) = std::fs::write(&a.file, formatted.as_bytes())
        {
            eprintln!("ivr: cannot write {name}: {e}");
            return ExitCode::from(2);
        }
        return ExitCode::SUCCESS;
    }
    print!("{formatted}");
    ExitCode::SUCCESS
}
