//! `ivr simulate`: one call in virtual time, with a transcript.

use super::LangArg;
use ivr::core::flow::{Defaults, Program};
use ivr::core::prompts::Catalog;
use ivr::core::sim::{self, CallerStep, CannedBackend, Transcript};
use ivr::project::Project;
use std::collections::VecDeque;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(clap::Args)]
pub struct Args {
    /// The script.
    flow: PathBuf,
    /// The caller's language before the script sets one.
    #[arg(long, value_enum)]
    lang: Option<LangArg>,
    /// Keys, one group per input state: "1 1 101 #".
    #[arg(long, default_value = "")]
    keys: String,
    /// Wall clock at call start (RFC 3339); default: now.
    #[arg(long)]
    at: Option<String>,
    /// The calling number.
    #[arg(long, default_value = "+966500000001")]
    caller: String,
    /// Read keys from the terminal as the call runs.
    #[arg(long)]
    interactive: bool,
    /// Prompt folder (default: prompts/ of the script's project).
    #[arg(long)]
    prompts: Option<PathBuf>,
    /// Project configuration (default: ivr.yaml of the script's project).
    #[arg(long)]
    config: Option<PathBuf>,
    /// File into and read from the complaint store in this folder (instead of canned answers).
    #[arg(long)]
    data: Option<PathBuf>,
}

/// Asks the person at the terminal for keys whenever the call waits.
struct Terminal {
    shown: usize,
}

impl sim::Caller for Terminal {
    fn next(&mut self, t: &Transcript) -> Option<CallerStep> {
        let mut out = std::io::stdout().lock();
        for l in &t.lines[self.shown.min(t.lines.len())..] {
            let _ = writeln!(out, "{}  {}", sim::clock(l.at), l.text);
        }
        self.shown = t.lines.len();
        let _ = write!(
            out,
            "keys (Enter: say nothing, `s 3`: speak 3 s, `h`: hang up)> "
        );
        let _ = out.flush();
        let mut line = String::new();
        if std::io::stdin().lock().read_line(&mut line).ok()? == 0 {
            return Some(CallerStep::Hangup);
        }
        let line = line.trim();
        Some(match line {
            "" => CallerStep::Noinput,
            "h" | "hangup" => CallerStep::Hangup,
            l if l.starts_with("s ") => {
                CallerStep::Speak(l[2..].trim().parse::<u64>().unwrap_or(3) * 1000)
            }
            l => CallerStep::Press(l.to_string()),
        })
    }

    fn when_idle(&self) -> bool {
        true
    }
}

pub fn run(a: Args) -> ExitCode {
    let bytes = match super::read(&a.flow) {
        Ok(b) => b,
        Err(c) => return c,
    };
    let project = match Project::load(&a.flow, a.config.as_deref(), a.prompts.as_deref()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("ivr: {e}");
            return ExitCode::from(2);
        }
    };
    let env = match project.environment() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("ivr: {e}");
            return ExitCode::from(2);
        }
    };
    let program = match Program::compile(&bytes, &env, Defaults::default()) {
        Ok(p) => Arc::new(p),
        Err(e) => {
            eprintln!("ivr: {}: {e}", a.flow.display());
            return ExitCode::from(1);
        }
    };
    let mut flow = project.flow_config();
    if let Some(l) = a.lang {
        flow.default_language = l.into();
    }
    let catalog = match env
        .prompts
        .as_ref()
        .map(|c| Catalog::load(&c.dir))
        .transpose()
    {
        Ok(c) => c.map(Arc::new),
        Err(e) => {
            eprintln!("ivr: {e}");
            return ExitCode::from(2);
        }
    };
    let at = match &a.at {
        Some(s) => match s.parse::<jiff::Timestamp>() {
            Ok(t) => t,
            Err(e) => {
                eprintln!("ivr: --at {s}: {e}");
                return ExitCode::from(2);
            }
        },
        None => jiff::Timestamp::now(),
    };
    let opts = sim::SimOptions {
        at,
        call_id: format!("sim-{}", jiff::Timestamp::now().as_nanosecond()),
        caller: a.caller.clone(),
        auto_speak_ms: Some(3_000),
        ..Default::default()
    };
    let line = sim::line_with(
        program,
        Arc::new(flow),
        Arc::new(project.call_config()),
        catalog,
        opts.ms_per_char,
    );
    let mut canned = CannedBackend::new(100_001);
    let store = match &a.data {
        Some(dir) => match super::tickets::open(dir) {
            Ok(s) => Some(s),
            Err(code) => return code,
        },
        None => None,
    };
    let mut stored = store
        .as_ref()
        .map(|s| ivr::core::sim::StoreBackend { store: s });
    let backend: &mut dyn ivr::core::sim::SimBackend = match stored.as_mut() {
        Some(s) => s,
        None => &mut canned,
    };
    let t = if a.interactive {
        let mut term = Terminal { shown: 0 };
        let t = sim::simulate(&line, &mut term, backend, &opts);
        let rest = &t.lines[term.shown.min(t.lines.len())..];
        for l in rest {
            println!("{}  {}", sim::clock(l.at), l.text);
        }
        t
    } else {
        let mut steps: VecDeque<CallerStep> = a
            .keys
            .split_whitespace()
            .map(|k| CallerStep::Press(k.to_string()))
            .collect();
        let t = sim::simulate(&line, &mut steps, backend, &opts);
        print!("{}", t.render());
        t
    };
    let outcome = t.outcome.as_ref().map_or("none", |o| o.as_str());
    println!("outcome: {outcome} after {}", sim::clock(t.duration_ms));
    for f in &t.failures {
        println!("problem: {f}");
    }
    ExitCode::SUCCESS
}
