//! The call record: what one call did, built by the call machine as the call runs and handed
//! out once, when it ends ([`crate::call::Output::Record`]). The runtime appends it to
//! `DATA/cdr.jsonl`, one JSON object per line.

use crate::vocab::{DigitMethod, Key};
use serde::Serialize;

/// A key as the call received it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DigitRecord {
    /// The key.
    pub key: Key,
    /// How it arrived: `rfc4733`, `info`, `inband` or `simulated`.
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
    pub lang: &'static str,
    /// For a value: how it was spoken (`digits`, `number`, `date`, `text`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub style: Option<&'static str>,
    /// Milliseconds after the call was answered when it was queued.
    pub at_ms: u64,
}

/// A recording the call made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RecordingRecord {
    /// Where the audio was kept (a file path, or what the embedder's store calls it).
    pub path: String,
    /// Length of the audio kept.
    pub duration_ms: u64,
    /// SHA-256 of the file, hex (empty when the audio could not be kept).
    pub sha256: String,
    /// Whether speech was heard.
    pub speech: bool,
    /// Why it ended: `max`, `silence`, `nospeech`, `key`, `stopped`.
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
    /// The value, or the failure's kind and reason.
    pub detail: String,
    /// How long it took.
    pub ms: u64,
}

/// A transfer the call attempted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TransferRecord {
    /// The script's destination name.
    pub dest: String,
    /// The SIP URI it was sent to (empty when the name is not configured).
    pub target: String,
    /// `success`, `busy`, `noanswer`, `failed`, or `pending` (the call ended first).
    pub outcome: String,
    /// Whether the outcome is the call's own deadline rather than the far end's report.
    pub timed_out: bool,
    /// Milliseconds after the call was answered when it was asked for.
    pub at_ms: u64,
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
    /// Media ticks run (one per packet time).
    pub ticks: u64,
    /// Ticks run more than one packet time after their deadline (that audio left in a burst).
    pub late_ticks: u64,
    /// The latest a tick ran after its deadline, in milliseconds.
    pub max_late_ms: u64,
    /// RTP packets not taken from strangers, unconfirmed sources or other networks (a
    /// number that grows during calls says someone is spraying the media ports).
    pub refused_packets: u64,
}

/// One ended call.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Cdr {
    /// SIP Call-ID.
    pub call_id: String,
    /// The server's own id of the call (its recordings' names begin with it; its complaints
    /// carry it).
    pub uid: String,
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
    /// Milliseconds from the answer to the end (0 when never answered).
    pub duration_ms: u64,
    /// The flow's outcome (`hangup`, `transfer`, `caller_hangup`, `max_duration`, `error`), or
    /// what ended the call around the flow (`cancelled`, `rejected_CODE`, `ack_timeout`,
    /// `shutdown`, `rtp_timeout`).
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
    /// Transfers attempted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub transfers: Vec<TransferRecord>,
    /// Media counters.
    pub media: Option<MediaRecord>,
}
