//! What goes into a call machine, what comes out, and the events it reports.

use super::record::Cdr;
use crate::backend::ops::CallContext;
use crate::flow::{self, BackendRequest, BackendResult, Fragment, Recording};
use crate::media::g711::Law;
use crate::media::record::Ended;
use crate::sip::endpoint::{self, Command, EndReason};
use crate::vocab::{DigitMethod, Key, TransferOutcome};
use ivr_dsl::Lang;
use std::net::SocketAddr;
use std::sync::Arc;

/// What reaches a call.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Input<'a> {
    /// Something the SIP endpoint reported about this call (answer acknowledged, media
    /// changed, INFO, transfer outcome, the end).
    Sip(endpoint::Event),
    /// A datagram on the call's media port.
    Rtp {
        /// Where it came from.
        from: SocketAddr,
        /// Its bytes.
        datagram: &'a [u8],
    },
    /// A key that arrived some other way than the media or SIP INFO (a simulated caller, an
    /// embedder's own signalling).
    Key {
        /// The key.
        key: Key,
        /// How it arrived.
        method: DigitMethod,
    },
    /// The far end talks for this long, starting now: simulated media only (real media hears
    /// speech in the RTP it receives).
    Speech {
        /// How long.
        ms: u64,
    },
    /// A backend request the call asked for ([`Output::Backend`]) finished.
    BackendDone {
        /// The request's id.
        id: u64,
        /// Its result.
        result: BackendResult,
    },
    /// Blocking work the call asked for ([`Output::Work`]) finished.
    WorkDone {
        /// The work's id.
        id: u64,
        /// What it came to.
        result: WorkResult,
    },
}

/// A backend request to perform, with what the operation may know of the call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackendCall {
    /// Answer with [`Input::BackendDone`] and this id.
    pub id: u64,
    /// The request.
    pub request: BackendRequest,
    /// The call it is performed for.
    pub context: CallContext,
}

/// Blocking work the runtime does off the call's path and reports with [`Input::WorkDone`].
/// Each has a deadline in the call: a result that comes later is ignored.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Work {
    /// Speak a text (a value said `as text`): answer with [`WorkResult::Audio`].
    Speak {
        /// The text.
        text: String,
        /// Its language.
        lang: Lang,
    },
    /// Read a recording back to play it: answer with [`WorkResult::Audio`].
    ReadRecording {
        /// The recording.
        recording: Recording,
    },
    /// Make a place for recording number `recording` of this call: answer with
    /// [`WorkResult::Opened`]. Its audio follows in [`Output::RecordingAudio`].
    OpenRecording {
        /// The recording's number in the call (1, 2, …).
        recording: u32,
    },
    /// Close recording number `recording` (flush it, make it durable, hash it): answer with
    /// [`WorkResult::Closed`].
    CloseRecording {
        /// The recording's number in the call.
        recording: u32,
    },
}

/// What blocking work came to.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WorkResult {
    /// Audio, 8 kHz linear.
    Audio(Arc<[i16]>),
    /// A pause this long in place of audio (the simulator, which knows a recording's or a
    /// text's length but has no sound for it).
    Silence {
        /// Its length.
        ms: u64,
    },
    /// The recording's place is ready.
    Opened,
    /// The recording is closed.
    Closed {
        /// Where it is.
        location: String,
        /// Its SHA-256, hex.
        sha256: String,
    },
    /// The work failed.
    Failed(String),
}

/// Who ended a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HangupBy {
    /// The caller.
    Caller,
    /// This side (the script, a limit, shutdown).
    Ivr,
    /// Nobody: it was never answered.
    Nobody,
}

impl HangupBy {
    /// `caller`, `ivr`, `none` (as in call records).
    pub fn as_str(self) -> &'static str {
        match self {
            HangupBy::Caller => "caller",
            HangupBy::Ivr => "ivr",
            HangupBy::Nobody => "none",
        }
    }
}

/// What happened in a call, in order: the call record, logs, metrics, transcripts and
/// [`crate::runtime::Server::events`] subscribers are all made from these.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum CallEvent {
    /// The call rings before it is answered.
    Ringing,
    /// The call is refused before it is answered (no media port, or shutting down).
    Refused {
        /// The status sent.
        code: u16,
    },
    /// The caller acknowledged the answer: media flows and the script starts.
    Answered {
        /// The codec.
        law: Law,
        /// Whether keys come as telephone-events.
        telephone_event: bool,
        /// Whether in-band key detection runs.
        inband: bool,
    },
    /// A re-INVITE or UPDATE changed the media.
    MediaChanged {
        /// The codec now.
        law: Law,
        /// Where media goes now.
        remote: Option<SocketAddr>,
        /// Whether we send.
        sending: bool,
    },
    /// A play was queued.
    PlayQueued {
        /// Its id.
        id: u64,
        /// What it plays.
        fragments: Vec<Fragment>,
        /// Whether a key may stop it.
        barge_in: bool,
    },
    /// A play began to sound.
    PlayStarted {
        /// Its id.
        id: u64,
    },
    /// A play ended.
    PlayEnded {
        /// Its id.
        id: u64,
        /// Whether it was stopped before its end (barge-in).
        interrupted: bool,
    },
    /// Playback was stopped (a key barged in).
    PlaybackStopped,
    /// A fragment could not be played (no audio for it, text-to-speech failed).
    AudioMissing {
        /// The fragment, as call records name it.
        fragment: String,
        /// Why.
        reason: String,
    },
    /// Audio made for a play by blocking work (a text spoken, a recording read back) is
    /// ready.
    AudioLoaded {
        /// Its length.
        ms: u64,
    },
    /// A key press (once, whatever the methods it came by).
    Key {
        /// The key.
        key: Key,
        /// How it arrived.
        method: DigitMethod,
    },
    /// The script listens for keys, or stops listening.
    Listening(bool),
    /// The caller's language changed.
    Language(Lang),
    /// Something in the script happened (a flow or step entered, noinput, nomatch, input
    /// accepted, a variable set, the script's end).
    Flow(flow::Event),
    /// The script asked for a recording.
    RecordingRequested {
        /// A beep first.
        beep: bool,
        /// Longest recording.
        max_ms: u64,
        /// Trailing silence that ends it.
        silence_ms: u64,
        /// The key that ends it.
        finish_key: Option<Key>,
    },
    /// The recorder listens now (after the beep).
    RecordingStarted,
    /// The recording ended.
    RecordingEnded {
        /// Why.
        ended: Ended,
        /// Length of the audio kept.
        duration_ms: u64,
        /// Whether speech was heard.
        speech: bool,
    },
    /// A backend request went out.
    BackendRequested {
        /// The request.
        request: BackendRequest,
    },
    /// A backend request came back (or timed out: a [`flow::FailureKind::Timeout`]).
    BackendAnswered {
        /// Its id.
        id: u64,
        /// The operation.
        op: String,
        /// The result.
        result: BackendResult,
        /// How long it took.
        ms: u64,
    },
    /// The script transfers the caller.
    TransferRequested {
        /// The destination's name.
        dest: String,
        /// Its SIP URI (`None`: not configured, the transfer fails).
        target: Option<String>,
    },
    /// The transfer ended.
    TransferEnded {
        /// How.
        outcome: TransferOutcome,
        /// Whether the call's own deadline decided it.
        timed_out: bool,
    },
    /// Something an operator may want to know (a bad INFO body, work that failed, a result
    /// that came too late).
    Warning(String),
    /// This side hangs up.
    HangingUp {
        /// Why (`hangup`, `max_duration`, `rtp_timeout`, …).
        reason: &'static str,
    },
    /// The SIP side reported the end of the call.
    SipEnded {
        /// Why.
        reason: EndReason,
    },
    /// The call is over; its record follows as [`Output::Record`].
    Ended {
        /// The record's outcome.
        outcome: String,
        /// Who hung up.
        hangup_by: HangupBy,
    },
}

/// What a call hands out.
#[derive(Debug)]
#[must_use]
#[non_exhaustive]
pub enum Output {
    /// An RTP packet to send from the call's media port; give the buffer back with
    /// [`super::Call::recycle`].
    Rtp {
        /// Where to.
        to: SocketAddr,
        /// The packet.
        packet: Vec<u8>,
    },
    /// Something the SIP endpoint should do for this call.
    Sip(Command),
    /// A backend request to perform.
    Backend(Box<BackendCall>),
    /// Blocking work to do off the call's path.
    Work {
        /// Answer with this id.
        id: u64,
        /// What.
        work: Work,
    },
    /// Audio for recording number `recording` (after [`Work::OpenRecording`], before
    /// [`Work::CloseRecording`]), in order.
    RecordingAudio {
        /// The recording's number in the call.
        recording: u32,
        /// 8 kHz linear samples.
        samples: Vec<i16>,
    },
    /// Something happened.
    Event(CallEvent),
    /// The call record; the last output of a call.
    Record(Box<Cdr>),
}
