//! Command-line interface. Exit codes: 0 success, 1 the input has errors (or is not
//! formatted), 2 usage or I/O error.

mod call;
mod check;
mod demo;
mod dtmf;
mod fmt;
mod graph;
mod prompts;
mod report;
mod say;
mod serve;
mod simulate;
mod test;
mod tickets;

use clap::{Parser, Subcommand, ValueEnum};
use ivr::dsl::Lang;
use std::path::Path;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "ivr", version, about = "Bilingual (Arabic/English) IVR engine")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// A language on the command line.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum LangArg {
    /// Arabic.
    Ar,
    /// English.
    En,
}

impl From<LangArg> for Lang {
    fn from(l: LangArg) -> Lang {
        match l {
            LangArg::Ar => Lang::Ar,
            LangArg::En => Lang::En,
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Check call-flow scripts (files, or folders of *.flow files).
    Check(check::Args),
    /// Print a script in canonical layout, optionally translating its keywords.
    Fmt(fmt::Args),
    /// Draw a script as a graph.
    Graph(graph::Args),
    /// Run one call in virtual time and print its transcript.
    Simulate(simulate::Args),
    /// Run scenario files against scripts; ends with `N passed, M failed`.
    Test(test::Args),
    /// Show how a value is spoken: text, then audio fragment ids.
    Say(say::Args),
    /// Make or verify prompt audio.
    #[command(subcommand)]
    Prompts(prompts::Command),
    /// Keypress tools.
    #[command(subcommand)]
    Dtmf(dtmf::Command),
    /// The complaint store: list, show, set-status.
    Tickets(tickets::Args),
    /// Answer SIP calls (UDP and TCP) with a script until SIGINT or SIGTERM.
    Serve(serve::Args),
    /// KPIs from the call records and the complaint store.
    Report(report::Args),
    /// Place a real SIP call (test softphone): keys, a spoken WAV, a recording of the call.
    Call(call::Args),
    /// The hotline end to end on loopback: serve, then file a complaint in Arabic and track
    /// it in English over real SIP and RTP.
    Demo(demo::Args),
}

/// Runs the command line.
pub fn run() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match cli.command {
        Command::Check(a) => check::run(a),
        Command::Fmt(a) => fmt::run(a),
        Command::Graph(a) => graph::run(a),
        Command::Simulate(a) => simulate::run(a),
        Command::Test(a) => test::run(a),
        Command::Say(a) => say::run(a),
        Command::Prompts(c) => prompts::run(c),
        Command::Dtmf(c) => dtmf::run(c),
        Command::Tickets(a) => tickets::run(a),
        Command::Serve(a) => serve::run(a),
        Command::Call(a) => call::run(a),
        Command::Report(a) => report::run(a),
        Command::Demo(a) => demo::run(a),
    }
}

/// Reads a script or reports why not (exit 2), refusing one over
/// [`ivr::project::MAX_SCRIPT_BYTES`].
pub fn read(path: &Path) -> Result<Vec<u8>, ExitCode> {
    ivr::project::read_script(path).map_err(|e| {
        eprintln!("ivr: cannot read {}: {e}", path.display());
        ExitCode::from(2)
    })
}

/// Whether to color output on stdout.
pub fn color() -> bool {
    use std::io::IsTerminal;
    std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal()
}
