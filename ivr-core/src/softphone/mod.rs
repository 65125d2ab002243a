//! The test softphone behind `ivr call`, `ivr demo` and the test kit: one outgoing SIP call
//! with real RTP, as a sans-IO machine ([`Phone`]: its user agent client [`uac::Uac`] and a
//! [`crate::media::session::MediaSession`]) that sends key groups by RFC 4733, SIP INFO or
//! in-band tones, speaks a WAV after the far end's beep, listens to everything it hears and
//! reports what happened with times. `softphone::call` puts it on real sockets (with the `runtime`
//! feature); the test kit puts it on a virtual network.

mod ear;
mod phone;
#[cfg(feature = "runtime")]
mod run;
pub mod uac;

pub use phone::{Input, Output, Phone, PhoneConfig};
#[cfg(feature = "runtime")]
pub use run::{PhoneError, PhoneOptions, call};

use crate::vocab::{Key, NotAKey};

/// How keys are sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DtmfMode {
    /// RFC 4733 telephone-events in the RTP stream.
    Rfc4733,
    /// SIP INFO with `application/dtmf-relay`.
    Info,
    /// Dual tones in the audio.
    Inband,
}

/// When the next key group goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyTiming {
    /// This many milliseconds after the answer or the previous group (prompts that allow
    /// barge-in take the keys at once).
    Pause(u64),
    /// Once the far end has played audio and then been silent this many milliseconds (the
    /// prompt ended and the far end waits).
    Silence(u64),
    /// As soon as the far end's audio resumes after at least this many milliseconds of
    /// silence (the next prompt began: the keys barge in at its start).
    Resume(u64),
}

/// One step of what the caller does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Press these keys (200 ms apart).
    Keys(Vec<Key>),
    /// Wait for the far end's beep, then speak the `say` audio.
    Speak,
}

/// Parses `"1 1 101 say # 1"`: key groups and `say` markers.
pub fn parse_steps(text: &str) -> Result<Vec<Step>, NotAKey> {
    text.split_whitespace()
        .map(|w| {
            if w.eq_ignore_ascii_case("say") {
                Ok(Step::Speak)
            } else {
                crate::vocab::keys(w).map(Step::Keys)
            }
        })
        .collect()
}

/// What happened.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PhoneReport {
    /// SIP Call-ID.
    pub call_id: String,
    /// Whether the call was answered.
    pub answered: bool,
    /// The failure status, if it failed.
    pub failure: Option<(u16, String)>,
    /// Whether the far end hung up (rather than us).
    pub remote_hangup: bool,
    /// Events, with milliseconds since the INVITE went out.
    pub lines: Vec<(u64, String)>,
    /// Keys sent, with milliseconds since the answer.
    pub keys: Vec<(u64, Key)>,
    /// Milliseconds of far-end audio above the speech level.
    pub heard_audio_ms: u64,
    /// Beeps heard.
    pub beeps: u32,
    /// The recording written.
    pub recorded: Option<std::path::PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_parse() {
        assert_eq!(
            parse_steps("1 1 101 say # 1"),
            Ok(vec![
                Step::Keys(vec![Key::D1]),
                Step::Keys(vec![Key::D1]),
                Step::Keys(vec![Key::D1, Key::D0, Key::D1]),
                Step::Speak,
                Step::Keys(vec![Key::Pound]),
                Step::Keys(vec![Key::D1])
            ])
        );
        assert_eq!(parse_steps("1 x"), Err(NotAKey('x')));
    }
}
