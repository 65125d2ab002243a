//! One call, composed: the machine that makes a call out of the SIP dialog's events, the
//! media and the script's flow machine.
//!
//! A [`Call`] owns its [`crate::flow::FlowMachine`] and its media (an RTP
//! [`crate::media::session::MediaSession`], or in the simulator a model of one), the dialog
//! state the call needs (answered, where media goes, whether we send), the sequencing of plays
//! and recordings (a play waits for its blocking work, the beep comes before the recorder),
//! and every call timer as data ([`timers::Timer`]): answer delay, transfer deadline, backend
//! and blocking-work deadlines, RTP inactivity, maximum length and the teardown deadline.
//!
//! It is sans-IO, with the same contract as the other machines (docs/architecture.md):
//! [`Call::handle_input`], [`Call::handle_timeout`], [`Call::poll_output`],
//! [`Call::poll_timeout`]. What it needs done outside comes out as [`Output`]s: RTP to send,
//! SIP commands, backend requests and blocking work with ids (their results come back as
//! inputs), recorded audio, [`CallEvent`]s, and at the end the call record. The tokio runtime,
//! the simulator and the test kit drive this same machine; there is one composition of a call.

mod dialog;
mod machine;
mod media;
mod messages;
pub mod model;
mod plays;
pub mod record;
mod requests;
pub mod timers;

pub use machine::Call;
pub use messages::{BackendCall, CallEvent, HangupBy, Input, Output, Work, WorkResult};
pub use record::Cdr;

use crate::flow::{FlowConfig, Program};
use crate::media::record::RecordConfig;
use crate::media::session::Inband;
use crate::prompts::bank::PromptBank;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Settings of every call on a line (`ivr.yaml`'s limits, media and transfer sections).
#[derive(Clone, Debug)]
pub struct CallConfig {
    /// Ring (180) this long before answering; 0 answers at once.
    pub answer_after_ms: u64,
    /// A call is ended after this long.
    pub max_call_ms: u64,
    /// A backend request with no answer in this time fails (kind `timeout`).
    pub backend_timeout_ms: u64,
    /// A transfer without a ring time in the script counts as not answered after this long.
    pub transfer_timeout_ms: u64,
    /// Blocking work (text-to-speech, reading or closing a recording) is given up after this
    /// long: a hung program or disk never holds a call.
    pub work_timeout_ms: u64,
    /// No packet from the far end for this long ends the call (0: never). Not counted while
    /// the far end has said it sends nothing (hold).
    pub rtp_inactivity_ms: u64,
    /// Once a call has ended, how long its record may wait for results still outstanding.
    pub teardown_ms: u64,
    /// Whose RTP may set a call's latch (`rtp.latch`).
    pub rtp_latch: LatchFrom,
    /// Packets in sequence from one source that set the latch (`rtp.latch_packets`).
    pub rtp_latch_packets: u8,
    /// In-band key detection.
    pub inband: Inband,
    /// Jitter buffer depth in frames.
    pub jitter_frames: u64,
    /// Recording limits the script does not set (initial silence, speech level).
    pub record: RecordConfig,
    /// Transfer destinations: the name a script uses → SIP URI.
    pub transfer: BTreeMap<String, String>,
    /// Whether values said `as text` are spoken (text-to-speech is available); otherwise they
    /// are skipped, with a warning.
    pub tts: bool,
}

impl Default for CallConfig {
    fn default() -> Self {
        CallConfig {
            answer_after_ms: 0,
            max_call_ms: 15 * 60 * 1000,
            backend_timeout_ms: 10_000,
            transfer_timeout_ms: 60_000,
            work_timeout_ms: 10_000,
            rtp_inactivity_ms: 60_000,
            teardown_ms: 15_000,
            rtp_latch: LatchFrom::Signalled,
            rtp_latch_packets: crate::media::latch::DEFAULT_CONFIRM,
            inband: Inband::Auto,
            jitter_frames: 3,
            record: RecordConfig::default(),
            transfer: BTreeMap::new(),
            tts: false,
        }
    }
}

/// Whose RTP may set a call's latch, before the caller's media is confirmed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum LatchFrom {
    /// Only the IPs the signalling named: the SDP connection address and the address the
    /// INVITE came from (the default; covers callers behind NAT, whose media comes from the
    /// same public address as their signalling).
    #[default]
    Signalled,
    /// Any source on the allow list (a media relay or SBC that sends from other addresses
    /// than it signals from).
    Anywhere,
}

/// What every call of a line shares: the script, its settings and the prompt audio.
#[derive(Clone)]
pub struct Line {
    /// The compiled script.
    pub program: Arc<Program>,
    /// Its version (what call records name).
    pub version: Arc<str>,
    /// The script's settings.
    pub flow: Arc<FlowConfig>,
    /// The call's settings.
    pub config: Arc<CallConfig>,
    /// Prompt audio, encoded once.
    pub bank: Arc<PromptBank>,
}

impl std::fmt::Debug for Line {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Line")
            .field("version", &self.version)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// What media a call gets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MediaPlan {
    /// RTP on this local port (`None`: no port is free; the call is refused with 503).
    /// `random` seeds SSRC, sequence number and timestamp.
    Rtp {
        /// Our media port.
        port: Option<u16>,
        /// Random start values (the runtime draws them from the OS).
        random: [u32; 3],
        /// The IP the INVITE came from (media from there may set the latch).
        signalling: Option<std::net::IpAddr>,
        /// Networks media may come from at all (`sip.allow`; empty: anywhere).
        allow: Arc<[ipnet::IpNet]>,
    },
    /// The simulator's model of media (no packets).
    Simulated,
}

/// Everything a call starts with: the offered INVITE's identity and the media plan.
#[derive(Clone, Debug)]
pub struct CallSetup {
    /// SIP Call-ID.
    pub call_id: String,
    /// The server's own id of the call: unique (random where calls come from the network),
    /// never taken from the caller. Recordings are named by it and submits are idempotent by
    /// it, so a caller who reuses a Call-ID neither overwrites another's recording nor is
    /// told another's ticket.
    pub uid: String,
    /// From header value.
    pub from: String,
    /// To header value.
    pub to: String,
    /// The caller's identity as a trusted peer asserted it (P-Asserted-Identity), when the
    /// runtime believes it; the calling number is taken from it rather than from From.
    pub asserted: Option<String>,
    /// Wall clock at the moment the call is made (the `now` given to [`Call::new`]).
    pub started_at: jiff::Timestamp,
    /// Its media.
    pub media: MediaPlan,
}
