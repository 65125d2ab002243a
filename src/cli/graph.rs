//! `ivr graph`.

use super::LangArg;
use clap::ValueEnum;
use ivr::dsl::{self, Lang, graph::GraphFormat, render};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The script.
    file: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "dot")]
    format: Format,
    /// Language of keywords in labels (default: the script's).
    #[arg(long, value_enum)]
    keywords: Option<LangArg>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Dot,
    Mermaid,
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
        return ExitCode::from(1);
    }
    let lang: Lang = a
        .keywords
        .map_or_else(|| parsed.keyword_counts.majority(), Into::into);
    let fmt = match a.format {
        Format::Dot => GraphFormat::Dot,
        Format::Mermaid => GraphFormat::Mermaid,
    };
    print!("{}", dsl::graph::graph(&parsed.script, fmt, lang));
    ExitCode::SUCCESS
}
