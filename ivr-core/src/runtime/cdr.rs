//! Call detail records: one JSON object per ended call, one line each, appended to
//! `DATA/cdr.jsonl`. The record is built as the call runs and written once, when it ends.

use crate::flow::DigitMethod;
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// A key as the call received it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DigitRecord {
    /// `0`–`9`, `*`, `#`.
    pub key: char,
    /// How it arrived: `rfc4733`, `info` or `inband`.
    pub method: DigitMethod,
    /// Milliseconds after the call was answered.
    pub at_ms: u64,
}

/// A prompt or spoken value the call played.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PromptRecord {
    /// Message id, or `value:TEXT` for a spoken value, `recording`, `beep`.
    pub id: String,
    /// Language code.
    pub lang: String,
    /// For a value: how it was spoken (`digits`, `number`, `date`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub style: Option<String>,
    /// Milliseconds after the call was answered when it was queued.
    pub at_ms: u64,
}

/// A recording the call made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RecordingRecord {
    /// The WAV file.
    pub path: String,
    /// Length of the audio kept.
    pub duration_ms: u64,
    /// SHA-256 of the file, hex.
    pub sha256: String,
    /// Whether speech was heard.
    pub speech: bool,
    /// Why it ended.
    pub ended: String,
}

/// A backend request and its result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BackendRecord {
    /// The operation.
    pub op: String,
    /// `submit` or `lookup`.
    pub kind: String,
    /// Fields sent, as text.
    pub fields: Vec<(String, String)>,
    /// `ok`, `not_found`, `failure` or `pending` (the call ended first).
    pub result: String,
    /// The value or the failure's reason.
    pub detail: String,
    /// How long it took.
    pub ms: u64,
}

/// Media counters of the call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MediaRecord {
    /// Codec.
    pub codec: &'static str,
    /// RTP frames played out of the jitter buffer.
    pub frames_received: u64,
    /// Frames concealed (lost or late).
    pub frames_lost: u64,
}

/// One ended call.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Cdr {
    /// SIP Call-ID.
    pub call_id: String,
    /// From header.
    pub from: String,
    /// To header.
    pub to: String,
    /// When the INVITE arrived (RFC 3339).
    pub started_at: String,
    /// When the caller acknowledged our answer, if it did.
    pub answered_at: Option<String>,
    /// When the call ended.
    pub ended_at: String,
    /// The flow's outcome (`hangup`, `transfer`, `caller_hangup`, `max_duration`, `error`), or
    /// what ended the call before the flow ran (`cancelled`, `rejected`, `ack_timeout`).
    pub outcome: String,
    /// `caller`, `ivr`, or `none` (never answered).
    pub hangup_by: String,
    /// The caller's language at the end.
    pub language: String,
    /// The version of the script the call ran (`sha256:` and the first 12 hex digits of the
    /// script's bytes): calls keep the version they started with across a reload.
    pub script: String,
    /// Flows and steps entered, in order (`flow main`, `step menu`).
    pub steps: Vec<String>,
    /// Prompts and values played, in order.
    pub prompts: Vec<PromptRecord>,
    /// Keys received.
    pub digits: Vec<DigitRecord>,
    /// Recordings made.
    pub recordings: Vec<RecordingRecord>,
    /// Backend requests and their results.
    pub backend: Vec<BackendRecord>,
    /// Media counters.
    pub media: Option<MediaRecord>,
}

/// The append-only CDR file.
#[derive(Debug)]
pub struct CdrLog {
    path: PathBuf,
    file: Mutex<std::fs::File>,
}

impl CdrLog {
    /// Opens (or creates) `path` for appending.
    pub fn open(path: &Path) -> std::io::Result<CdrLog> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(CdrLog {
            path: path.to_path_buf(),
            file: Mutex::new(file),
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record as one line (one write, so concurrent calls never interleave).
    pub fn write(&self, cdr: &Cdr) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(cdr).map_err(std::io::Error::other)?;
        line.push(b'\n');
        let mut f = self
            .file
            .lock()
            .map_err(|_| std::io::Error::other("the CDR file lock was poisoned"))?;
        f.write_all(&line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_whole_json_lines() {
        let dir = std::env::temp_dir().join(format!("ivr-cdr-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("cdr.jsonl");
        let _ = std::fs::remove_file(&path);
        let log = CdrLog::open(&path).expect("open");
        let mut c = Cdr {
            call_id: "a@b".into(),
            outcome: "hangup".into(),
            ..Default::default()
        };
        c.digits.push(DigitRecord {
            key: '1',
            method: DigitMethod::Rfc4733,
            at_ms: 1200,
        });
        log.write(&c).expect("write");
        c.call_id = "c@d".into();
        log.write(&c).expect("write");
        let text = std::fs::read_to_string(&path).expect("read");
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("each line is JSON"))
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["digits"][0]["method"], "rfc4733");
        assert_eq!(lines[1]["call_id"], "c@d");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
