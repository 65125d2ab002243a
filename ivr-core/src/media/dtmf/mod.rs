//! Keypresses, three ways: RFC 4733 telephone-events, SIP INFO bodies and in-band tones.
//! Every digit records how it arrived and when.

pub mod dedup;
pub mod inband;
pub mod info;
pub mod rfc4733;

use crate::flow::{DigitMethod, Time};

/// A key press.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Digit {
    /// `0`–`9`, `*`, `#`, `A`–`D`.
    pub key: char,
    /// How it arrived.
    pub method: DigitMethod,
    /// When it was recognised.
    pub at: Time,
}

/// The key of an RFC 4733 event code (§3.2), if it is a DTMF key.
pub fn key_of_event(code: u8) -> Option<char> {
    Some(match code {
        0..=9 => (b'0' + code) as char,
        10 => '*',
        11 => '#',
        12..=15 => (b'A' + code - 12) as char,
        _ => return None,
    })
}

/// The RFC 4733 event code of a key.
pub fn event_of_key(key: char) -> Option<u8> {
    Some(match key {
        '0'..='9' => key as u8 - b'0',
        '*' => 10,
        '#' => 11,
        'A'..='D' => key as u8 - b'A' + 12,
        'a'..='d' => key as u8 - b'a' + 12,
        _ => return None,
    })
}
