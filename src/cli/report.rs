//! `ivr report`: KPIs from the call records and the complaint store.

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The data folder (cdr.jsonl and complaints.sqlite).
    #[arg(long, default_value = "ivr-data")]
    data: PathBuf,
    /// Only calls and tickets from this day (YYYY-MM-DD, UTC) or instant (RFC 3339) on.
    #[arg(long)]
    since: Option<String>,
    /// JSON output.
    #[arg(long)]
    json: bool,
}

fn since(s: &str) -> Option<jiff::Timestamp> {
    s.parse::<jiff::Timestamp>().ok().or_else(|| {
        s.parse::<jiff::civil::Date>()
            .ok()
            .and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC).ok())
            .map(|z| z.timestamp())
    })
}

pub fn run(a: Args) -> ExitCode {
    let since = match a.since.as_deref() {
        Some(s) => match since(s) {
            Some(t) => Some(t),
            None => {
                eprintln!("ivr: --since {s}: expected YYYY-MM-DD or an RFC 3339 time");
                return ExitCode::from(2);
            }
        },
        None => None,
    };
    let cdr_path = a.data.join("cdr.jsonl");
    let text = match std::fs::read_to_string(&cdr_path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            eprintln!("ivr: cannot read {}: {e}", cdr_path.display());
            return ExitCode::from(2);
        }
    };
    let tickets = if a.data.join("complaints.sqlite").is_file() {
        let store = match super::tickets::open(&a.data) {
            Ok(s) => s,
            Err(c) => return c,
        };
        match store.list(jiff::Timestamp::now()) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("ivr: {e}");
                return ExitCode::from(2);
            }
        }
    } else {
        Vec::new()
    };
    let (report, bad) = ivr::report::build(&text, &tickets, since);
    if bad > 0 {
        eprintln!(
            "ivr: {bad} line(s) of {} are not call records and were skipped",
            cdr_path.display()
        );
    }
    if a.json {
        match serde_json::to_string_pretty(&report) {
            Ok(j) => println!("{j}"),
            Err(e) => {
                eprintln!("ivr: {e}");
                return ExitCode::from(2);
            }
        }
    } else {
        print!("{}", ivr::report::render(&report));
    }
    ExitCode::SUCCESS
}
