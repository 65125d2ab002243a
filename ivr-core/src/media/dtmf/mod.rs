//! Keypresses, three ways: RFC 4733 telephone-events, SIP INFO bodies and in-band tones.
//! Every digit records how it arrived and when.

pub mod dedup;
pub mod inband;
pub mod info;
pub mod rfc4733;

use crate::vocab::{DigitMethod, Key, Time};

/// A key press.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Digit {
    /// The key.
    pub key: Key,
    /// How it arrived.
    pub method: DigitMethod,
    /// When it was recognised.
    pub at: Time,
}
