//! One report per key press when a key arrives by more than one method (RFC 4733 events, SIP
//! INFO and in-band tones): the first report wins and the same key by another method within the
//! window is dropped (RFC 4733 §2.5.2.2 prefers the events; they usually arrive first).

use super::Digit;
use crate::vocab::{DigitMethod, Key, Time};
use std::collections::VecDeque;

/// The de-duplicator of one call.
#[derive(Clone, Debug)]
pub struct Dedup {
    window_ms: u64,
    recent: VecDeque<(Key, DigitMethod, Time)>,
}

impl Default for Dedup {
    fn default() -> Self {
        Dedup::new(250)
    }
}

impl Dedup {
    /// Keys by another method within `window_ms` of a report are the same press.
    pub fn new(window_ms: u64) -> Self {
        Dedup {
            window_ms,
            recent: VecDeque::new(),
        }
    }

    /// Whether to report `d`.
    pub fn accept(&mut self, d: &Digit) -> bool {
        let window = self.window_ms;
        self.recent
            .retain(|&(_, _, t)| d.at.0.saturating_sub(t.0) <= window);
        let dup = self
            .recent
            .iter()
            .any(|&(k, m, t)| k == d.key && m != d.method && d.at.0.abs_diff(t.0) <= window);
        if !dup {
            self.recent.push_back((d.key, d.method, d.at));
        }
        !dup
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(key: char, method: DigitMethod, at: u64) -> Digit {
        Digit {
            key: Key::from_char(key).expect("a key"),
            method,
            at: Time(at),
        }
    }

    #[test]
    fn same_key_by_two_methods_is_one_press() {
        let mut x = Dedup::default();
        assert!(x.accept(&d('5', DigitMethod::Rfc4733, 1000)));
        assert!(!x.accept(&d('5', DigitMethod::Inband, 1030)));
        assert!(!x.accept(&d('5', DigitMethod::Info, 1100)));
        // A different key, or the same key later, is a new press.
        assert!(x.accept(&d('6', DigitMethod::Inband, 1040)));
        assert!(x.accept(&d('5', DigitMethod::Inband, 2000)));
        // Two presses by the same method are two presses (each method dedups itself).
        assert!(x.accept(&d('5', DigitMethod::Inband, 2100)));
    }
}
