//! `ivr tickets`: the back office's view of the complaint store.

use ivr::core::backend::sqlite::SqliteStore;
use ivr::core::backend::{Status, TicketInfo};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
    /// The data folder (holds complaints.sqlite).
    #[arg(long, global = true, default_value = "ivr-data")]
    data: PathBuf,
    /// JSON output.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Every ticket, newest first.
    List,
    /// One ticket with its history.
    Show {
        /// Ticket number.
        ticket: String,
    },
    /// Record a status change; the next tracking call hears it.
    SetStatus {
        /// Ticket number.
        ticket: String,
        /// received | in_progress | escalated | resolved | closed
        status: String,
        /// A note for the caller.
        #[arg(long)]
        note: Option<String>,
        /// Queue the caller's SMS about it with the templates of this prompt folder
        /// (`<lang>/sms/*.ftl`); `ivr serve` with `notify:` sends it.
        #[arg(long, default_value = "prompts")]
        prompts: PathBuf,
        /// Change the status without queueing an SMS.
        #[arg(long)]
        quiet: bool,
    },
    /// Recordings a crash cut short: `ivr serve` repairs them at start and sets them aside
    /// in `recordings/partial/` (no ticket refers to them).
    Partial,
}

/// Lists the recordings set aside in `DATA/recordings/partial/`.
fn partial(data: &Path, json: bool) -> ExitCode {
    use ivr::core::runtime::recording::PARTIAL;
    let dir = data.join("recordings").join(PARTIAL);
    let mut found: Vec<(String, u64, String)> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| {
                    let meta = e.metadata().ok()?;
                    let modified = meta
                        .modified()
                        .ok()
                        .and_then(|t| jiff::Timestamp::try_from(t).ok())
                        .map(|t| t.to_string())
                        .unwrap_or_default();
                    // 8 kHz, 16-bit: 16 bytes a millisecond, after a 44-byte header.
                    let ms = meta.len().saturating_sub(44) / 16;
                    Some((e.path().display().to_string(), ms, modified))
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    if json {
        let list: Vec<serde_json::Value> = found
            .iter()
            .map(|(p, ms, at)| serde_json::json!({"path": p, "duration_ms": ms, "modified": at}))
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&list).unwrap_or_default()
        );
    } else {
        for (p, ms, at) in &found {
            println!("{p}  {:.1} s  {at}", *ms as f64 / 1000.0);
        }
        println!("{} partial recording(s)", found.len());
    }
    ExitCode::SUCCESS
}

/// Opens the store in a data folder (created if needed); service levels from `ivr.yaml`
/// beside it are not read yet.
pub fn open(dir: &Path) -> Result<SqliteStore, ExitCode> {
    if let Err(e) = std::fs::create_dir_all(dir) {
        eprintln!("ivr: cannot create {}: {e}", dir.display());
        return Err(ExitCode::from(2));
    }
    SqliteStore::open(&dir.join("complaints.sqlite")).map_err(|e| {
        eprintln!("ivr: {e}");
        ExitCode::from(2)
    })
}

fn line(t: &TicketInfo) -> String {
    format!(
        "{}  {:<11}  {:<9}  district {:<5}  {}  {}",
        t.ticket,
        t.status.as_str(),
        t.complaint.category,
        t.complaint.district.as_deref().unwrap_or("-"),
        t.complaint.at,
        t.note.as_deref().unwrap_or("")
    )
}

pub fn run(a: Args) -> ExitCode {
    if let Command::Partial = a.command {
        return partial(&a.data, a.json);
    }
    let store = match open(&a.data) {
        Ok(s) => s,
        Err(c) => return c,
    };
    let now = jiff::Timestamp::now();
    match a.command {
        Command::List => match store.list(now) {
            Ok(list) => {
                if a.json {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&list).unwrap_or_default()
                    );
                } else {
                    for t in &list {
                        println!("{}", line(t));
                    }
                    println!("{} ticket(s)", list.len());
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("ivr: {e}");
                ExitCode::from(2)
            }
        },
        Command::Show { ticket } => match store.status_at(&ticket, now) {
            Ok(Some(t)) => {
                if a.json {
                    println!("{}", serde_json::to_string_pretty(&t).unwrap_or_default());
                } else {
                    println!("{}", line(&t));
                    for h in &t.history {
                        println!(
                            "  {}  {}  {}",
                            h.at,
                            h.status.as_str(),
                            h.note.as_deref().unwrap_or("")
                        );
                    }
                    // Where a remote delivery (Open311) stands, when there is one.
                    if let Ok(Some(d)) = store.delivery(&ticket) {
                        use ivr::core::backend::outbox::DeliveryState;
                        let state = match &d.state {
                            DeliveryState::Pending => "waiting to be delivered".to_string(),
                            DeliveryState::Token(t) => format!("accepted, token {t}"),
                            DeliveryState::Delivered(id) => format!("delivered as request {id}"),
                            DeliveryState::Failed(e) => format!("refused: {e}"),
                        };
                        println!("  open311: {state} ({} attempt(s))", d.attempts);
                    }
                }
                ExitCode::SUCCESS
            }
            Ok(None) => {
                eprintln!("ivr: no ticket {ticket}");
                ExitCode::from(1)
            }
            Err(e) => {
                eprintln!("ivr: {e}");
                ExitCode::from(2)
            }
        },
        Command::Partial => ExitCode::SUCCESS,
        Command::SetStatus {
            ticket,
            status,
            note,
            prompts,
            quiet,
        } => {
            let Some(s) = Status::parse(&status) else {
                eprintln!(
                    "ivr: `{status}` is not a status (received, in_progress, escalated, resolved, closed)"
                );
                return ExitCode::from(2);
            };
            match store.set_status(&ticket, s, note.as_deref(), &now.to_string()) {
                Ok(true) => {
                    println!("{ticket}: {}", s.as_str());
                    if !quiet && prompts.join("en").join("sms").is_dir() {
                        use ivr::core::backend::notify;
                        let queued = notify::Templates::load(&prompts).and_then(|t| {
                            match store.status_at(&ticket, now)? {
                                Some(info) => {
                                    notify::queue_status(&store, &t, &info, s, note.as_deref())
                                }
                                None => Ok(()),
                            }
                        });
                        match queued {
                            Ok(()) => println!("{ticket}: the caller's SMS is queued"),
                            Err(e) => eprintln!("ivr: SMS not queued: {e}"),
                        }
                    }
                    ExitCode::SUCCESS
                }
                Ok(false) => {
                    eprintln!("ivr: no ticket {ticket}");
                    ExitCode::from(1)
                }
                Err(e) => {
                    eprintln!("ivr: {e}");
                    ExitCode::from(2)
                }
            }
        }
    }
}
