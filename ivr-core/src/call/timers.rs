//! Every timer of a call as data: a kind and a deadline in one small table. The media's frame
//! clock and the flow's own input timers live in those machines; the call asks them for their
//! next deadline too.

use crate::vocab::Time;

/// What a call waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Timer {
    /// Answer after ringing (`sip.answer_after_ms`).
    Answer,
    /// A transfer counts as not answered (the script's ring time, or the configured limit).
    Transfer,
    /// A backend request counts as failed (`limits.backend_timeout_seconds`).
    Backend(u64),
    /// Blocking work (text-to-speech, reading, opening or closing a recording) is given up.
    Work(u64),
    /// Look whether the far end still sends media (`rtp.inactivity_seconds`).
    Inactivity,
    /// The call reached its maximum length (`max_call_seconds`).
    MaxDuration,
    /// The call has ended; the record is written now, whatever is still outstanding.
    Teardown,
}

/// The deadlines of one call. A handful at a time, so a small vector scanned in full is
/// cheaper than any ordered structure.
#[derive(Clone, Debug, Default)]
pub struct Timers {
    table: Vec<(Timer, Time)>,
}

impl Timers {
    /// Sets (or moves) the deadline of `timer`.
    pub fn set(&mut self, timer: Timer, at: Time) {
        match self.table.iter_mut().find(|(t, _)| *t == timer) {
            Some(slot) => slot.1 = at,
            None => self.table.push((timer, at)),
        }
    }

    /// Cancels `timer`; whether it was set.
    pub fn cancel(&mut self, timer: Timer) -> bool {
        let before = self.table.len();
        self.table.retain(|(t, _)| *t != timer);
        self.table.len() != before
    }

    /// Whether `timer` is set.
    pub fn is_set(&self, timer: Timer) -> bool {
        self.table.iter().any(|(t, _)| *t == timer)
    }

    /// The earliest deadline.
    pub fn next(&self) -> Option<Time> {
        self.table.iter().map(|(_, at)| *at).min()
    }

    /// Takes the earliest timer due at `now` (earliest first; among equal deadlines, the one
    /// set first).
    pub fn take_due(&mut self, now: Time) -> Option<Timer> {
        let (i, _) = self
            .table
            .iter()
            .enumerate()
            .filter(|(_, (_, at))| *at <= now)
            .min_by_key(|(i, (_, at))| (*at, *i))?;
        Some(self.table.remove(i).0)
    }

    /// Every deadline, for inspection (tests, logs).
    pub fn iter(&self) -> impl Iterator<Item = (Timer, Time)> + '_ {
        self.table.iter().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_timers_come_out_earliest_first_and_once() {
        let mut t = Timers::default();
        t.set(Timer::MaxDuration, Time(900));
        t.set(Timer::Backend(1), Time(300));
        t.set(Timer::Transfer, Time(300));
        t.set(Timer::Backend(2), Time(100));
        assert_eq!(t.next(), Some(Time(100)));
        t.set(Timer::Backend(2), Time(400));
        assert_eq!(t.next(), Some(Time(300)), "moved, not added");
        assert!(t.cancel(Timer::Backend(1)));
        assert!(!t.cancel(Timer::Backend(1)));
        assert_eq!(t.take_due(Time(299)), None);
        assert_eq!(t.take_due(Time(500)), Some(Timer::Transfer));
        assert_eq!(t.take_due(Time(500)), Some(Timer::Backend(2)));
        assert_eq!(t.take_due(Time(500)), None);
        assert!(t.is_set(Timer::MaxDuration));
        assert_eq!(t.iter().count(), 1);
    }
}
