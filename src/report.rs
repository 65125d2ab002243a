//! `ivr report`: the figures a hotline manager asks for, from the call records
//! (`DATA/cdr.jsonl`) and the complaint store: calls, answered, abandoned (and at which step),
//! complaints filed, tickets by status, past-due tickets, and the share of calls in each
//! language.

use ivr_core::backend::TicketInfo;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The parts of a call record the report reads (older or partial lines still count).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CallLine {
    started_at: String,
    answered_at: Option<String>,
    outcome: String,
    language: String,
    steps: Vec<String>,
    backend: Vec<BackendLine>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct BackendLine {
    op: String,
    result: String,
}

/// The report.
#[derive(Debug, Default, PartialEq, Serialize)]
pub struct Report {
    /// Only calls and tickets from this time on (RFC 3339), if limited.
    pub since: Option<String>,
    /// Calls that reached the server.
    pub calls: u64,
    /// Calls answered (the caller's ACK arrived).
    pub answered: u64,
    /// Calls never answered (cancelled while ringing, refused).
    pub unanswered: u64,
    /// Answered calls where the caller hung up before the flow ended them.
    pub abandoned: u64,
    /// Abandoned calls by the flow or step the caller was in.
    pub abandoned_at: BTreeMap<String, u64>,
    /// Calls the flow ended (goodbye or transfer).
    pub completed: u64,
    /// Calls transferred to an agent.
    pub transferred: u64,
    /// Complaints filed during calls.
    pub complaints_filed: u64,
    /// Ticket lookups during calls.
    pub lookups: u64,
    /// Answered calls by the caller's language at the end of the call.
    pub languages: BTreeMap<String, u64>,
    /// Tickets in the store (created since `since`).
    pub tickets: u64,
    /// Tickets by status now.
    pub tickets_by_status: BTreeMap<String, u64>,
    /// Tickets past their service level and not done (escalated).
    pub past_due: u64,
}

fn after(at: &str, since: Option<jiff::Timestamp>) -> bool {
    match (since, at.parse::<jiff::Timestamp>()) {
        (None, _) => true,
        (Some(s), Ok(t)) => t >= s,
        (Some(_), Err(_)) => false,
    }
}

/// Builds the report from call record lines (JSON, one per line; bad lines are skipped and
/// counted in the second value) and the store's tickets.
pub fn build(
    cdr_text: &str,
    tickets: &[TicketInfo],
    since: Option<jiff::Timestamp>,
) -> (Report, usize) {
    let mut r = Report {
        since: since.map(|s| s.to_string()),
        ..Report::default()
    };
    let mut bad = 0;
    for line in cdr_text.lines().filter(|l| !l.trim().is_empty()) {
        let Ok(c) = serde_json::from_str::<CallLine>(line) else {
            bad += 1;
            continue;
        };
        if !after(&c.started_at, since) {
            continue;
        }
        r.calls += 1;
        if c.answered_at.is_none() {
            r.unanswered += 1;
            continue;
        }
        r.answered += 1;
        *r.languages.entry(c.language.clone()).or_default() += 1;
        match c.outcome.as_str() {
            "caller_hangup" => {
                r.abandoned += 1;
                let at = c
                    .steps
                    .last()
                    .cloned()
                    .unwrap_or_else(|| "(before any step)".into());
                *r.abandoned_at.entry(at).or_default() += 1;
            }
            "hangup" => r.completed += 1,
            "transfer" => {
                r.completed += 1;
                r.transferred += 1;
            }
            _ => {}
        }
        for b in &c.backend {
            match (b.op.as_str(), b.result.as_str()) {
                ("create_complaint", "ok") => r.complaints_filed += 1,
                ("complaint_status", _) => r.lookups += 1,
                _ => {}
            }
        }
    }
    for t in tickets.iter().filter(|t| after(&t.complaint.at, since)) {
        r.tickets += 1;
        *r.tickets_by_status
            .entry(t.status.as_str().to_string())
            .or_default() += 1;
        if t.status == ivr_core::backend::Status::Escalated {
            r.past_due += 1;
        }
    }
    (r, bad)
}

fn pct(n: u64, of: u64) -> String {
    if of == 0 {
        "-".into()
    } else {
        format!("{:.1} %", n as f64 * 100.0 / of as f64)
    }
}

/// The report as a text table.
pub fn render(r: &Report) -> String {
    let mut rows: Vec<(String, String, String)> = Vec::new();
    let mut row = |a: &str, b: u64, c: String| rows.push((a.to_string(), b.to_string(), c));
    row("calls", r.calls, String::new());
    row("answered", r.answered, pct(r.answered, r.calls));
    row("not answered", r.unanswered, pct(r.unanswered, r.calls));
    row("abandoned", r.abandoned, pct(r.abandoned, r.answered));
    for (step, n) in &r.abandoned_at {
        row(&format!("  at {step}"), *n, pct(*n, r.abandoned));
    }
    row(
        "completed by the flow",
        r.completed,
        pct(r.completed, r.answered),
    );
    row(
        "  transferred",
        r.transferred,
        pct(r.transferred, r.answered),
    );
    row("complaints filed", r.complaints_filed, String::new());
    row("ticket lookups", r.lookups, String::new());
    for (lang, n) in &r.languages {
        row(&format!("calls in {lang}"), *n, pct(*n, r.answered));
    }
    row("tickets", r.tickets, String::new());
    for (status, n) in &r.tickets_by_status {
        row(&format!("  {status}"), *n, pct(*n, r.tickets));
    }
    row(
        "past due (escalated)",
        r.past_due,
        pct(r.past_due, r.tickets),
    );
    let w = rows
        .iter()
        .map(|(a, _, _)| a.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    if let Some(s) = &r.since {
        out.push_str(&format!("since {s}\n"));
    }
    for (a, b, c) in rows {
        let pad = w - a.chars().count();
        out.push_str(&format!("{a}{}  {b:>7}  {c}\n", " ".repeat(pad)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const CDRS: &str = r#"{"started_at":"2026-11-01T08:00:00Z","answered_at":"2026-11-01T08:00:00Z","outcome":"hangup","hangup_by":"ivr","language":"ar","steps":["flow start","flow main","flow new_complaint","step send","flow goodbye"],"backend":[{"op":"create_complaint","result":"ok"}]}
{"started_at":"2026-11-02T08:00:00Z","answered_at":"2026-11-02T08:00:00Z","outcome":"caller_hangup","hangup_by":"caller","language":"en","steps":["flow start","flow main","flow new_complaint"]}
{"started_at":"2026-11-03T08:00:00Z","answered_at":null,"outcome":"cancelled","hangup_by":"caller","language":"ar"}
not json
{"started_at":"2026-10-01T08:00:00Z","answered_at":"2026-10-01T08:00:00Z","outcome":"transfer","language":"ar","steps":["flow operator"]}
"#;

    #[test]
    fn counts_calls_abandonment_languages_and_since() {
        let (r, bad) = build(CDRS, &[], None);
        assert_eq!(bad, 1);
        assert_eq!((r.calls, r.answered, r.unanswered), (4, 3, 1));
        assert_eq!(r.abandoned, 1);
        assert_eq!(r.abandoned_at.get("flow new_complaint"), Some(&1));
        assert_eq!((r.completed, r.transferred, r.complaints_filed), (2, 1, 1));
        assert_eq!(r.languages.get("ar"), Some(&2));
        let since = "2026-11-01T00:00:00Z".parse().ok();
        let (r, _) = build(CDRS, &[], since);
        assert_eq!(r.calls, 3, "the October call is left out");
        let text = render(&r);
        assert!(text.contains("abandoned"), "{text}");
        assert!(text.contains("  at flow new_complaint"), "{text}");
        assert!(text.contains("50.0 %"), "{text}");
    }
}
