//! Source positions.

/// A region of a script: byte offsets into the sanitized text plus the 1-based line and
/// character column of its start (columns count characters, not bytes: an Arabic letter is one).
///
/// Spans always compare equal, so that two syntax trees compare by content alone: a tree that is
/// formatted and parsed again equals the original even though every position moved.
#[derive(Clone, Copy, Debug, Default, Eq)]
pub struct Span {
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset one past the last byte.
    pub end: usize,
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
