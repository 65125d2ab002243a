//! What goes into the flow machine and what comes out of it.

use super::value::{Recording, Value};
use crate::vocab::{DigitMethod, Key, TransferOutcome};
use ivr_dsl::ast::ValueStyle;
use ivr_dsl::{Lang, OpKind};

/// What a call hears: one piece of a play request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fragment {
    /// A prompt by id, in a language.
    Prompt {
        /// Message id.
        id: String,
        /// Language.
        lang: Lang,
    },
    /// A value spoken in a style and language.
    Value {
        /// The value's text.
        text: String,
        /// How to speak it.
        style: ValueStyle,
        /// Language.
        lang: Lang,
    },
    /// A recording.
    Recording(Recording),
    /// The beep before a recording.
    Beep,
}

impl Fragment {
    /// How call records and transcripts name it: the prompt id, `value:TEXT`, `recording`
    /// or `beep`.
    pub fn label(&self) -> String {
        match self {
            Fragment::Prompt { id, .. } => id.clone(),
            Fragment::Value { text, .. } => format!("value:{text}"),
            Fragment::Recording(_) => "recording".into(),
            Fragment::Beep => "beep".into(),
        }
    }
}

/// A backend request the runtime performs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackendRequest {
    /// Matches the result.
    pub id: u64,
    /// Submit or lookup.
    pub kind: OpKind,
    /// Operation.
    pub op: String,
    /// Fields by name.
    pub fields: Vec<(String, Value)>,
}

/// What kind of failure a backend request met (what the operator should look at).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FailureKind {
    /// The backend is down or unreachable.
    Unavailable,
    /// It did not answer within the configured time.
    Timeout,
    /// It refused the request (the request was not valid for it).
    Refused,
    /// The store itself failed (disk, database).
    Store,
    /// No backend handles this operation.
    NoSuchOperation,
}

impl FailureKind {
    /// `unavailable`, `timeout`, `refused`, `store`, `no_such_operation`.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Unavailable => "unavailable",
            FailureKind::Timeout => "timeout",
            FailureKind::Refused => "refused",
            FailureKind::Store => "store",
            FailureKind::NoSuchOperation => "no_such_operation",
        }
    }
}

/// A failed backend request: its kind and what the backend said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// What kind of failure.
    pub kind: FailureKind,
    /// The detail, for logs and call records.
    pub detail: String,
}

impl Failure {
    /// A failure of `kind`.
    pub fn new(kind: FailureKind, detail: impl Into<String>) -> Failure {
        Failure {
            kind,
            detail: detail.into(),
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind.as_str(), self.detail)
    }
}

/// A backend result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BackendResult {
    /// Done; the value goes into the `into` variable.
    Ok(Value),
    /// A lookup found nothing.
    NotFound,
    /// It failed.
    Failure(Failure),
}

/// How a recording ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordingResult {
    /// The recording.
    pub recording: Recording,
    /// Whether any speech was heard.
    pub speech: bool,
}

/// Inputs to the machine.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Input {
    /// The call was answered.
    Started {
        /// Calling number.
        caller: String,
        /// Called number.
        called: String,
        /// Wall clock at answer.
        at: jiff::Timestamp,
    },
    /// A key.
    Digit {
        /// The key.
        key: Key,
        /// How it arrived.
        method: DigitMethod,
    },
    /// A play request finished (completely or interrupted).
    PlayFinished {
        /// Which.
        id: u64,
    },
    /// A recording finished.
    RecordingFinished(RecordingResult),
    /// A backend request finished.
    Backend {
        /// Which.
        id: u64,
        /// Its result.
        result: BackendResult,
    },
    /// A transfer finished.
    Transfer(TransferOutcome),
    /// The caller hung up.
    CallerHangup,
    /// The call reached its maximum length (the call machine keeps that limit).
    TimeLimit,
}

/// How a call ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The script hung up.
    Hangup,
    /// Transferred to a destination.
    Transfer(String),
    /// The caller hung up.
    CallerHangup,
    /// The maximum call duration passed.
    MaxDuration,
    /// The script could not go on.
    Error(String),
}

impl Outcome {
    /// `hangup`, `transfer`, `caller_hangup`, `max_duration`, `error`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Hangup => "hangup",
            Outcome::Transfer(_) => "transfer",
            Outcome::CallerHangup => "caller_hangup",
            Outcome::MaxDuration => "max_duration",
            Outcome::Error(_) => "error",
        }
    }
}

/// Things that happened, for logs, call records and metrics.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A flow was entered.
    Flow(String),
    /// A step was entered.
    Step(String),
    /// An input state began (source line).
    Input(u32),
    /// A key arrived.
    Digit(Key, DigitMethod),
    /// A key was ignored (prompt not interruptible).
    DigitIgnored(Key),
    /// No input before the timeout (count so far).
    Noinput(u64),
    /// Input that did not match (count so far).
    Nomatch(u64),
    /// Input accepted: the key or digits.
    Matched(String),
    /// A variable was assigned.
    Assigned(String, Value),
    /// The call ended.
    Ended(Outcome),
}

/// Outputs of the machine.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Output {
    /// Play these fragments after whatever is playing.
    Play {
        /// Id, reported back in [`Input::PlayFinished`].
        id: u64,
        /// What.
        fragments: Vec<Fragment>,
        /// Whether a key press may stop it.
        barge_in: bool,
    },
    /// Stop all playback now.
    StopPlayback,
    /// Start or stop listening for keys (lets media switch in-band detection on).
    Listen(bool),
    /// Record.
    StartRecording {
        /// Beep first.
        beep: bool,
        /// Maximum length.
        max_ms: u64,
        /// Trailing silence that ends it.
        silence_ms: u64,
        /// Key that ends it.
        finish_key: Option<Key>,
    },
    /// Stop recording.
    StopRecording,
    /// Perform a backend request.
    Backend(BackendRequest),
    /// Blind-transfer the call.
    Transfer {
        /// Configured destination.
        dest: String,
        /// Ring timeout.
        timeout_ms: Option<u64>,
    },
    /// The caller's language changed.
    Language(Lang),
    /// End the call.
    Hangup,
    /// Something happened.
    Event(Event),
}

/// The text of a value said in a style, as the transcript and logs name the style.
pub fn style_name(style: ValueStyle) -> &'static str {
    match style {
        ValueStyle::Digits => "digits",
        ValueStyle::Number => "number",
        ValueStyle::Date => "date",
        ValueStyle::Text => "text",
    }
}
