//! The vocabulary every machine shares: time, keys, how a key arrived, how a transfer went,
//! and who is at fault when something fails. SIP, media and flow import this module, never
//! each other; the call machine composes them.

/// A point in time: milliseconds on the runtime's monotonic clock (or the simulator's
/// virtual one). Only differences matter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Time(pub u64);

impl Time {
    /// `self` plus `ms` milliseconds.
    pub fn plus(self, ms: u64) -> Time {
        Time(self.0.saturating_add(ms))
    }

    /// Milliseconds from `earlier` to `self` (zero if `earlier` is later).
    pub fn since(self, earlier: Time) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

/// A telephone key: the twelve of a keypad and the four column keys A–D. The discriminants
/// are the RFC 4733 event codes (§3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Key {
    /// 0
    D0 = 0,
    /// 1
    D1 = 1,
    /// 2
    D2 = 2,
    /// 3
    D3 = 3,
    /// 4
    D4 = 4,
    /// 5
    D5 = 5,
    /// 6
    D6 = 6,
    /// 7
    D7 = 7,
    /// 8
    D8 = 8,
    /// 9
    D9 = 9,
    /// `*`
    Star = 10,
    /// `#`
    Pound = 11,
    /// A
    A = 12,
    /// B
    B = 13,
    /// C
    C = 14,
    /// D
    D = 15,
}

impl Key {
    /// Every key, in event-code order.
    pub const ALL: [Key; 16] = [
        Key::D0,
        Key::D1,
        Key::D2,
        Key::D3,
        Key::D4,
        Key::D5,
        Key::D6,
        Key::D7,
        Key::D8,
        Key::D9,
        Key::Star,
        Key::Pound,
        Key::A,
        Key::B,
        Key::C,
        Key::D,
    ];

    /// The key of `0`–`9`, `*`, `#`, `A`–`D` (or `a`–`d`).
    pub fn from_char(c: char) -> Option<Key> {
        Some(match c {
            '0'..='9' => Key::ALL[(c as u8 - b'0') as usize],
            '*' => Key::Star,
            '#' => Key::Pound,
            'A'..='D' => Key::ALL[(c as u8 - b'A' + 12) as usize],
            'a'..='d' => Key::ALL[(c as u8 - b'a' + 12) as usize],
            _ => return None,
        })
    }

    /// The key of an RFC 4733 event code, if the event is a DTMF key.
    pub fn from_event(code: u8) -> Option<Key> {
        Key::ALL.get(usize::from(code)).copied()
    }

    /// The RFC 4733 event code.
    pub fn event(self) -> u8 {
        self as u8
    }

    /// `0`–`9`, `*`, `#`, `A`–`D`.
    pub fn as_char(self) -> char {
        match self {
            Key::Star => '*',
            Key::Pound => '#',
            k if (k as u8) < 10 => (b'0' + k as u8) as char,
            k => (b'A' + k as u8 - 12) as char,
        }
    }

    /// Whether it is a digit `0`–`9`.
    pub fn is_digit(self) -> bool {
        (self as u8) < 10
    }
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use std::fmt::Write;
        f.write_char(self.as_char())
    }
}

impl TryFrom<char> for Key {
    type Error = NotAKey;
    fn try_from(c: char) -> Result<Key, NotAKey> {
        Key::from_char(c).ok_or(NotAKey(c))
    }
}

impl serde::Serialize for Key {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_char(self.as_char())
    }
}

/// A character that is not a telephone key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a telephone key (0-9, *, #, A-D)")]
pub struct NotAKey(pub char);

/// Keys from a string like `"1 0 1#"`: blanks are skipped, anything else must be a key.
pub fn keys(s: &str) -> Result<Vec<Key>, NotAKey> {
    s.chars()
        .filter(|c| !c.is_whitespace())
        .map(Key::try_from)
        .collect()
}

/// How a key press arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DigitMethod {
    /// RFC 4733 telephone-event.
    Rfc4733,
    /// SIP INFO.
    Info,
    /// In-band tones.
    Inband,
    /// The simulator.
    Simulated,
}

impl DigitMethod {
    /// `rfc4733`, `info`, `inband` or `simulated` (as in call records).
    pub fn as_str(self) -> &'static str {
        match self {
            DigitMethod::Rfc4733 => "rfc4733",
            DigitMethod::Info => "info",
            DigitMethod::Inband => "inband",
            DigitMethod::Simulated => "simulated",
        }
    }
}

/// How a transfer went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TransferOutcome {
    /// The call was handed over.
    Success,
    /// The destination was busy.
    Busy,
    /// Nobody answered.
    NoAnswer,
    /// Anything else.
    Failed,
}

impl TransferOutcome {
    /// `success`, `busy`, `noanswer`, `failed` (as in call records and scenario files).
    pub fn as_str(self) -> &'static str {
        match self {
            TransferOutcome::Success => "success",
            TransferOutcome::Busy => "busy",
            TransferOutcome::NoAnswer => "noanswer",
            TransferOutcome::Failed => "failed",
        }
    }
}

/// Who is at fault when something fails, so that an operator knows where to look: every
/// error type of the engine says which of these it is (`fault()`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fault {
    /// The far end (a SIP peer, an RTP source, a caller) sent something wrong.
    Peer,
    /// The program using the library asked for something it may not (a call that has
    /// ended, a state that does not allow it).
    Api,
    /// A backend (the complaint store, Open311, a notifier) is down, slow or refused.
    Backend,
    /// This machine: configuration, files, sockets, resources.
    Local,
}

impl Fault {
    /// `peer`, `api`, `backend`, `local`.
    pub fn as_str(self) -> &'static str {
        match self {
            Fault::Peer => "peer",
            Fault::Api => "api",
            Fault::Backend => "backend",
            Fault::Local => "local",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_chars_and_event_codes() {
        for (i, k) in Key::ALL.iter().enumerate() {
            assert_eq!(k.event() as usize, i);
            assert_eq!(Key::from_event(k.event()), Some(*k));
            assert_eq!(Key::from_char(k.as_char()), Some(*k));
            assert_eq!(
                Key::from_char(k.as_char().to_ascii_lowercase()),
                Some(*k),
                "lowercase a-d"
            );
        }
        assert_eq!(
            "0123456789*#ABCD",
            Key::ALL.iter().map(|k| k.as_char()).collect::<String>()
        );
        assert_eq!(Key::from_event(16), None, "flash is not a key");
        assert_eq!(Key::from_char('x'), None);
        assert_eq!(keys(" 1 0#"), Ok(vec![Key::D1, Key::D0, Key::Pound]));
        assert_eq!(keys("1x"), Err(NotAKey('x')));
        assert!(Key::D7.is_digit() && !Key::Pound.is_digit());
        assert_eq!(
            serde_json::to_string(&Key::Star).expect("serializes"),
            "\"*\""
        );
    }

    #[test]
    fn time_differences_never_underflow() {
        assert_eq!(Time(50).since(Time(20)), 30);
        assert_eq!(Time(20).since(Time(50)), 0);
        assert_eq!(Time(u64::MAX).plus(5), Time(u64::MAX));
    }
}
