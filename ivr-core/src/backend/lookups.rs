//! Who may hear what of a ticket. Ticket numbers are sequential (with a check digit), so
//! anyone can key in a neighbour's: by default a ticket's status and date are told to anyone
//! with its number, its staff notes only to the number that filed it, and each call and each
//! calling number may look up only so many different tickets.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// Who hears a ticket's staff notes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum NotesTo {
    /// Only a call from the number that filed the ticket (the default).
    #[default]
    Filer,
    /// Anyone with the ticket number.
    Anyone,
}

/// The lookup policy (`lookups:` in `ivr.yaml`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TicketPrivacy {
    /// Who hears staff notes.
    pub notes_to: NotesTo,
    /// Different tickets one call may look up.
    pub per_call: u32,
    /// Different tickets one calling number may look up in an hour.
    pub per_number_hour: u32,
}

impl Default for TicketPrivacy {
    fn default() -> Self {
        TicketPrivacy {
            notes_to: NotesTo::Filer,
            per_call: 3,
            per_number_hour: 10,
        }
    }
}

/// Whether two renderings of a calling number are the same line: digits only, compared on
/// their last nine (`+966500000001`, `00966500000001` and `0500000001` are one line).
pub fn same_number(a: &str, b: &str) -> bool {
    let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
    let (a, b) = (digits(a), digits(b));
    if a.len() < 9 || b.len() < 9 {
        return !a.is_empty() && a == b;
    }
    a[a.len() - 9..] == b[b.len() - 9..]
}

/// Calls and numbers remembered at most (older entries are dropped first).
const REMEMBERED: usize = 100_000;

/// An hour, in milliseconds.
const HOUR_MS: i64 = 3_600_000;

#[derive(Debug, Default)]
struct Seen {
    /// Call id → the tickets it looked up.
    calls: HashMap<String, Vec<String>>,
    /// Call ids in the order they were first seen (to forget the oldest).
    order: VecDeque<String>,
    /// Calling number (its last nine digits) → (when, ticket) of its lookups in the last hour.
    numbers: HashMap<String, VecDeque<(i64, String)>>,
}

/// Counts lookups per call and per calling number.
#[derive(Debug, Default)]
pub struct LookupLimiter {
    seen: Mutex<Seen>,
}

fn number_key(n: &str) -> String {
    let d: String = n.chars().filter(char::is_ascii_digit).collect();
    d[d.len().saturating_sub(9)..].to_string()
}

impl LookupLimiter {
    /// Whether the call `call` from `caller` may look up `ticket` at `now_ms` (the same
    /// ticket again always may); notes the lookup when it may.
    pub fn admit(
        &self,
        policy: &TicketPrivacy,
        call: &str,
        caller: &str,
        ticket: &str,
        now_ms: i64,
    ) -> bool {
        let mut s = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let s = &mut *s;
        let in_call = s
            .calls
            .get(call)
            .is_some_and(|t| t.iter().any(|x| x == ticket));
        let key = number_key(caller);
        let recent = s.numbers.entry(key.clone()).or_default();
        while recent.front().is_some_and(|(t, _)| now_ms - t > HOUR_MS) {
            recent.pop_front();
        }
        let by_number = recent.iter().any(|(_, t)| t == ticket);
        if in_call && by_number {
            return true;
        }
        let distinct_call = s.calls.get(call).map_or(0, Vec::len);
        let mut distinct_number: Vec<&String> = recent.iter().map(|(_, t)| t).collect();
        distinct_number.sort();
        distinct_number.dedup();
        if (!in_call && distinct_call >= policy.per_call as usize)
            || (!by_number
                && !key.is_empty()
                && distinct_number.len() >= policy.per_number_hour as usize)
        {
            return false;
        }
        if !by_number && !key.is_empty() {
            recent.push_back((now_ms, ticket.to_string()));
        }
        if !in_call {
            if !s.calls.contains_key(call) {
                s.order.push_back(call.to_string());
                if s.order.len() > REMEMBERED
                    && let Some(old) = s.order.pop_front()
                {
                    s.calls.remove(&old);
                }
            }
            s.calls
                .entry(call.to_string())
                .or_default()
                .push(ticket.to_string());
        }
        if s.numbers.len() > REMEMBERED {
            s.numbers
                .retain(|_, v| v.back().is_some_and(|(t, _)| now_ms - t <= HOUR_MS));
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_match_in_any_rendering() {
        assert!(same_number("+966500000001", "0500000001"));
        assert!(same_number("00966500000001", "+966 50 000 0001"));
        assert!(!same_number("+966500000001", "+966500000002"));
        assert!(!same_number("", ""));
        assert!(same_number("1234", "1234"));
    }

    #[test]
    fn lookups_are_limited_per_call_and_per_number() {
        let p = TicketPrivacy::default();
        let l = LookupLimiter::default();
        let caller = "+966500000009";
        for t in ["1", "2", "3"] {
            assert!(l.admit(&p, "call-a", caller, t, 0));
        }
        assert!(
            l.admit(&p, "call-a", caller, "2", 1),
            "the same ticket again"
        );
        assert!(
            !l.admit(&p, "call-a", caller, "4", 2),
            "a fourth in one call"
        );
        // New calls from the same number: ten different tickets an hour.
        let mut n = 0;
        for (i, t) in (4..20).map(|t| t.to_string()).enumerate() {
            if l.admit(&p, &format!("call-{}", i / 3 + 1), caller, &t, 10) {
                n += 1;
            }
        }
        assert_eq!(n, 7, "ten an hour in all, three already");
        assert!(
            l.admit(&p, "call-z", caller, "30", HOUR_MS + 100),
            "an hour later"
        );
        assert!(
            l.admit(&p, "call-y", "+966500000010", "31", 20),
            "another number"
        );
    }
}
