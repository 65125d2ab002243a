//! Source positions.

/// A region of a script: byte offsets into the sanitized text plus the 1-based line and
/// character column of its start (columns count characters, not bytes: an Arabic letter is one).
///
/// Offsets are 32-bit, which keeps a span at 16 bytes (a tree holds several per line). Positions
/// past 4 GiB saturate at `u32::MAX`; `ivr check` refuses files that large before parsing.
///
/// Spans always compare equal, so that two syntax trees compare by content alone: a tree that is
/// formatted and parsed again equals the original even though every position moved.
#[derive(Clone, Copy, Debug, Default, Eq)]
pub struct Span {
    /// Byte offset of the first byte.
    pub start: u32,
    /// Byte offset one past the last byte.
    pub end: u32,
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub col: u32,
}

impl PartialEq for Span {
    fn eq(&self, _other: &Self) -> bool {
        true
    }
}

impl std::hash::Hash for Span {
    fn hash<H: std::hash::Hasher>(&self, _state: &mut H) {}
}

impl Span {
    /// A span of the bytes `start..end` starting at `line`:`col`.
    pub fn at(start: usize, end: usize, line: u32, col: u32) -> Span {
        Span {
            start: offset(start),
            end: offset(end),
            line,
            col,
        }
    }

    /// The byte range, for slicing the source text.
    pub fn range(&self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }

    /// Sets the end to byte offset `end`.
    pub fn set_end(&mut self, end: usize) {
        self.end = offset(end);
    }

    /// A span from `start` to the end of `other`.
    pub fn to(self, other: Span) -> Span {
        Span {
            end: other.end.max(self.end),
            ..self
        }
    }

    /// Whether this span is identical in position to `other` (unlike `==`, which ignores positions).
    pub fn same_place(&self, other: &Span) -> bool {
        self.start == other.start && self.end == other.end
    }
}

/// A byte offset as stored in a span (saturating past 4 GiB).
pub fn offset(at: usize) -> u32 {
    u32::try_from(at).unwrap_or(u32::MAX)
}
