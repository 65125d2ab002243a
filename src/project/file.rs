//! The schema of `ivr.yaml`, read once ([`super::Project::load`]). Every key is optional;
//! unknown keys are refused with the file named, so that a typo is never silently ignored.
//!
//! ```yaml
//! time_zone: Asia/Riyadh         # business hours (`within hours`) are evaluated here
//! holidays: ["2026-12-18"]       # dates on which `closed on holidays` hours are closed
//! max_call_seconds: 900          # a call is ended after this long
//! transfer:                      # blind transfer (REFER) targets by the name scripts use
//!   agents: "sip:agents@10.0.0.5"
//! operations:                    # extra backend operations an embedder registers
//!   my_operation: { kind: submit, fields: [a, b] }
//! sip:
//!   listen: 127.0.0.1:5060       # UDP and TCP
//!   public: 203.0.113.10         # address in Contact and SDP (NAT, or listening on 0.0.0.0)
//!   codecs: [pcmu, pcma]         # preference
//!   allow: [127.0.0.0/8, 10.0.0.0/8]   # source networks; default loopback + private ranges
//!   trusted: [10.0.0.5]          # peers whose P-Asserted-Identity is believed (default: none)
//!   answer_after_ms: 0           # ring (180) this long before answering
//!   tcp:                         # limits on SIP over TCP
//!     max_connections: 1024      # at once, from everyone (more are closed at accept)
//!     per_ip: 64                 # at once, from one IP
//!     idle_seconds: 300          # no byte this long and no call on it: closed
//!     message_seconds: 30        # a message begun must be complete within this
//!     write_queue: 64            # answers waiting for a peer that does not read; then closed
//! rtp:
//!   ports: [20000, 29999]
//!   inband: auto                 # auto | on | off
//!   jitter_frames: 3
//!   inactivity_seconds: 60       # no RTP from the caller this long ends the call; 0: never
//!   latch: signalled             # whose media a call takes: signalled (SDP or INVITE source) | anywhere
//!   latch_packets: 3             # packets in sequence from one source before it is the caller's
//! limits:
//!   max_calls: 5000
//!   retry_after: 5
//!   grace_seconds: 30
//!   backend_timeout_seconds: 10
//!   work_timeout_seconds: 10     # text-to-speech, reading and closing recordings
//!   rate_per_source: 2000        # new SIP transactions a second from one IP (then 503)
//!   burst: 4000                  # ... of which this many at once
//!   max_transactions: 40000      # SIP server transactions at once
//!   unconfirmed_per_source: 2000 # calls from one IP waiting for their ACK (ringing counts)
//! prompts: prompts               # relative to the project folder
//! backend:                       # default: the embedded SQLite store only
//!   kind: open311                # file locally, deliver to a GeoReport v2 endpoint
//!   endpoint: https://city.example/open311/v2
//!   api_key_env: IVR_OPEN311_KEY # the api_key, from the environment (or api_key: here)
//!   # insecure_http: true        # needed for an http:// endpoint (https is required)
//!   jurisdiction_id: city.example
//!   service_codes: { roads: "POTHOLE", lighting: "STREETLIGHT" }
//!   media_base_url: https://ivr.city.example/recordings
//!   timeout_seconds: 10
//! tts: espeak-ng                 # speaks values said `as text` (staff notes); `off` to disable;
//!                                # default: espeak-ng when it is installed
//! lookups:                       # who may hear what of a ticket
//!   notes_to: filer              # staff notes only to the number that filed it | anyone
//!   per_call: 3                  # different tickets one call may look up
//!   per_number_hour: 10          # ... and one calling number in an hour
//! notify:                        # SMS to callers and notices to staff (templates in
//!   webhook: https://sms.example/send   # prompts/<lang>/sms/*.ftl), or
//!   secret_env: IVR_WEBHOOK_SECRET      # signs each POST (X-Ivr-Signature: t=…,v1=HMAC-SHA256);
//!   # secret_file: webhook.key  # or from a file; unsigned only with insecure_unsigned: true
//!   # insecure_http: true       # needed for an http:// webhook
//!   file: notifications.jsonl    # one JSON line per notice (relative to the data folder)
//!   staff: true                  # also a notice to staff for each new complaint
//! ```

use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

/// `ivr.yaml`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct File {
    /// IANA time zone for business hours, e.g. `Asia/Riyadh`.
    pub time_zone: Option<String>,
    /// Public holidays, `YYYY-MM-DD`.
    pub holidays: Vec<String>,
    /// Maximum call length in seconds.
    pub max_call_seconds: Option<u64>,
    /// Transfer destinations by name: SIP URIs.
    pub transfer: BTreeMap<String, String>,
    /// Extra backend operations.
    pub operations: BTreeMap<String, Operation>,
    /// SIP.
    pub sip: Sip,
    /// Media.
    pub rtp: Rtp,
    /// Limits.
    pub limits: Limits,
    /// The prompt folder, relative to the file.
    pub prompts: Option<PathBuf>,
    /// Where complaints go.
    pub backend: Option<Backend>,
    /// Notifications.
    pub notify: Option<Notify>,
    /// Text-to-speech program, or `off`.
    pub tts: Option<String>,
    /// Who may hear what of a ticket.
    pub lookups: Lookups,
}

/// `lookups:`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Lookups {
    /// `filer` (the default) or `anyone`: who hears a ticket's staff notes.
    pub notes_to: Option<String>,
    /// Different tickets one call may look up.
    pub per_call: Option<u32>,
    /// Different tickets one calling number may look up in an hour.
    pub per_number_hour: Option<u32>,
}

/// An operation: `name: submit`, or `name: { kind: lookup, fields: [a, b] }`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Operation {
    /// Only the kind; any number of fields.
    Kind(String),
    /// Kind and fields.
    Full {
        /// `submit` or `lookup`.
        kind: String,
        /// Field names, in the order scripts pass them.
        #[serde(default)]
        fields: Option<Vec<String>>,
    },
}

/// `sip:`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Sip {
    /// UDP and TCP address.
    pub listen: Option<SocketAddr>,
    /// The address in Contact and SDP.
    pub public: Option<IpAddr>,
    /// Codec preference.
    pub codecs: Option<Vec<String>>,
    /// Source networks allowed to call.
    pub allow: Option<Vec<String>>,
    /// Peers whose P-Asserted-Identity is believed.
    pub trusted: Option<Vec<String>>,
    /// Ring this long before answering.
    pub answer_after_ms: Option<u64>,
    /// Limits on SIP over TCP.
    pub tcp: SipTcp,
}

/// `sip.tcp:`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SipTcp {
    /// Connections at once, from everyone.
    pub max_connections: Option<usize>,
    /// Connections at once from one IP address.
    pub per_ip: Option<usize>,
    /// A connection that sends nothing this long, and carries no call, is closed.
    pub idle_seconds: Option<u64>,
    /// A message begun must be complete within this.
    pub message_seconds: Option<u64>,
    /// Answers that may wait for a peer that does not read; then it is disconnected.
    pub write_queue: Option<usize>,
}

/// `rtp:`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Rtp {
    /// Port range, inclusive.
    pub ports: Option<(u16, u16)>,
    /// `auto`, `on` or `off`.
    pub inband: Option<String>,
    /// Jitter buffer depth in frames.
    pub jitter_frames: Option<u64>,
    /// No RTP from the caller this long ends the call (0: never).
    pub inactivity_seconds: Option<u64>,
    /// `signalled` or `anywhere`: whose RTP may become the caller's.
    pub latch: Option<String>,
    /// Packets in sequence from one source that make it the caller's.
    pub latch_packets: Option<u8>,
}

/// `limits:`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Most calls at once.
    pub max_calls: Option<usize>,
    /// Retry-After of a 503.
    pub retry_after: Option<u32>,
    /// Shutdown grace period.
    pub grace_seconds: Option<u64>,
    /// Backend request time limit.
    pub backend_timeout_seconds: Option<u64>,
    /// Blocking work time limit.
    pub work_timeout_seconds: Option<u64>,
    /// New SIP transactions a second from one source IP.
    pub rate_per_source: Option<f64>,
    /// New SIP transactions one source may send at once.
    pub burst: Option<u32>,
    /// SIP server transactions at once.
    pub max_transactions: Option<usize>,
    /// Calls from one source IP waiting for their ACK.
    pub unconfirmed_per_source: Option<u32>,
}

/// `backend:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Backend {
    /// `sqlite` or `open311`.
    pub kind: String,
    /// The GeoReport v2 base URL.
    pub endpoint: Option<String>,
    /// Its API key.
    pub api_key: Option<String>,
    /// Its jurisdiction.
    pub jurisdiction_id: Option<String>,
    /// Category → service code.
    #[serde(default)]
    pub service_codes: BTreeMap<String, String>,
    /// Where recordings can be fetched from.
    pub media_base_url: Option<String>,
    /// Time limit per request.
    pub timeout_seconds: Option<u64>,
    /// The environment variable holding the api_key (instead of writing it here).
    pub api_key_env: Option<String>,
    /// Allow a plain `http://` endpoint (the api_key and callers' data would cross the
    /// network in the clear).
    #[serde(default)]
    pub insecure_http: bool,
}

/// `notify:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notify {
    /// POST JSON here.
    pub webhook: Option<String>,
    /// Or append JSON lines to this file.
    pub file: Option<PathBuf>,
    /// A notice to staff for each new complaint.
    #[serde(default)]
    pub staff: bool,
    /// Time limit per webhook request.
    pub timeout_seconds: Option<u64>,
    /// The environment variable holding the webhook's signing secret.
    pub secret_env: Option<String>,
    /// Or the file holding it (readable by the server's user only).
    pub secret_file: Option<PathBuf>,
    /// Allow an unsigned webhook.
    #[serde(default)]
    pub insecure_unsigned: bool,
    /// Allow a plain `http://` webhook.
    #[serde(default)]
    pub insecure_http: bool,
}
