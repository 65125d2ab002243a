//! Phase 1: bytes to text. Rejects what must never be in a script (LANGUAGE.md rules 1 and 2)
//! without changing a single byte position, so every later span points into the same text.

use crate::diag::{Code, Diagnostic};
use crate::span::Span;

/// A script's text after sanitizing, with its line table.
#[derive(Clone, Debug)]
pub struct Source {
    /// The text: the input without a leading BOM, invalid UTF-8 replaced by U+FFFD.
    pub text: String,
    line_starts: Vec<usize>,
    /// Lines (0-based) with a character problem; parse errors on them are not reported again.
    tainted: Vec<bool>,
}

/// Right-to-left and left-to-right marks: ignored between tokens, an error inside one.
pub fn is_direction_mark(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// The name of a forbidden character, or `None` if the character is allowed.
pub fn forbidden_name(c: char) -> Option<&'static str> {
    Some(match c {
        '\u{202A}' => "LEFT-TO-RIGHT EMBEDDING",
        '\u{202B}' => "RIGHT-TO-LEFT EMBEDDING",
        '\u{202C}' => "POP DIRECTIONAL FORMATTING",
        '\u{202D}' => "LEFT-TO-RIGHT OVERRIDE",
        '\u{202E}' => "RIGHT-TO-LEFT OVERRIDE",
        '\u{2066}' => "LEFT-TO-RIGHT ISOLATE",
        '\u{2067}' => "RIGHT-TO-LEFT ISOLATE",
        '\u{2068}' => "FIRST STRONG ISOLATE",
        '\u{2069}' => "POP DIRECTIONAL ISOLATE",
        '\u{200B}' => "ZERO WIDTH SPACE",
        '\u{200C}' => "ZERO WIDTH NON-JOINER",
        '\u{200D}' => "ZERO WIDTH JOINER",
        '\u{2060}' => "WORD JOINER",
        '\u{FEFF}' => "ZERO WIDTH NO-BREAK SPACE (BOM)",
        '\u{00AD}' => "SOFT HYPHEN",
        '\t' => "CHARACTER TABULATION",
        '\r' => "CARRIAGE RETURN",
        '\u{7F}' => "DELETE",
        '\u{0}'..='\u{1F}' => "CONTROL CHARACTER",
        '\u{80}'..='\u{9F}' => "C1 CONTROL CHARACTER",
        _ => return None,
    })
}

/// Whitespace for the tokenizer: spaces, plus characters already reported (so that one bad
/// character yields one diagnostic, not a cascade).
pub fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t' || is_direction_mark(c) || (c != '\n' && forbidden_name(c).is_some())
}

/// `<U+202E>`.
pub fn codepoint(c: char) -> String {
    format!("<U+{:04X}>", c as u32)
}

impl Source {
    /// The span of `start..end`.
    pub fn span(&self, start: usize, end: usize) -> Span {
        let line = self.line_of(start);
        let ls = self.line_starts[line];
        let col = self.text.get(ls..start).map_or(0, |s| s.chars().count()) + 1;
        Span::at(start, end, (line + 1) as u32, col as u32)
    }

    /// 0-based line containing byte `offset`.
    pub fn line_of(&self, offset: usize) -> usize {
        self.line_starts
            .partition_point(|&s| s <= offset)
            .saturating_sub(1)
    }

    /// Byte offset where 0-based line `n` starts (the end of the text past the last line).
    pub fn line_start(&self, n: usize) -> usize {
        self.line_starts.get(n).copied().unwrap_or(self.text.len())
    }

    /// Number of lines.
    pub fn line_count(&self) -> usize {
        self.line_starts.len()
    }

    /// Byte range of 0-based line `n`, without its line ending.
    pub fn line_range(&self, n: usize) -> (usize, usize) {
        let start = self.line_starts[n];
        let mut end = self
            .line_starts
            .get(n + 1)
            .map_or(self.text.len(), |&s| s - 1);
        if self.text.as_bytes().get(end.wrapping_sub(1)) == Some(&b'\r') && end > start {
            end -= 1;
        }
        (start, end)
    }

    /// Whether 0-based line `n` had a character problem.
    pub fn is_tainted(&self, n: usize) -> bool {
        self.tainted.get(n).copied().unwrap_or(false)
    }

    /// The 1-based column one past the span's end on its line.
    pub fn end_col(&self, span: &Span) -> u32 {
        let r = span.range();
        let line = self.line_of(r.start);
        let (ls, le) = self.line_range(line);
        let end = r.end.min(le).max(r.start);
        let chars = self.text.get(ls..end).map_or(0, |s| s.chars().count());
        chars as u32 + 1
    }
}

/// Turns bytes into a [`Source`], reporting invalid UTF-8 and forbidden characters.
pub fn sanitize(bytes: &[u8]) -> (Source, Vec<Diagnostic>) {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let (text, bad_utf8, line_starts, found) = match read_halves(bytes) {
        Some(read) => read,
        None => {
            let (text, bad_utf8) = lossy(bytes);
            let line_starts = line_starts(&text, 0);
            let found = scan(&text);
            (text, bad_utf8, line_starts, found)
        }
    };
    let mut src = Source {
        tainted: vec![false; line_starts.len()],
        line_starts,
        text,
    };
    let mut diags = Vec::new();
    for off in bad_utf8 {
        let line = src.line_of(off);
        src.tainted[line] = true;
        diags.push(Diagnostic::new(Code::InvalidUtf8, src.span(off, off + 3)));
    }
    for (off, c, code) in found {
        let line = src.line_of(off);
        src.tainted[line] = true;
        let mut d =
            Diagnostic::new(code, src.span(off, off + c.len_utf8())).arg("char", codepoint(c));
        if let Some(name) = forbidden_name(c) {
            d = d.arg("name", name);
        }
        diags.push(d);
    }
    (src, diags)
}

/// A character to report: where, which, and why.
type Found = (usize, char, Code);

/// What reading a script's bytes finds: its text, where invalid UTF-8 was replaced, where its
/// lines start, and the characters to report.
type Read = (String, Vec<usize>, Vec<usize>, Vec<Found>);

/// The text with invalid UTF-8 replaced by U+FFFD, and where each replacement is.
fn lossy(bytes: &[u8]) -> (String, Vec<usize>) {
    if let Ok(text) = std::str::from_utf8(bytes) {
        return (text.to_owned(), Vec::new());
    }
    let mut bad_utf8 = Vec::new();
    let mut text = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        text.push_str(chunk.valid());
        if !chunk.invalid().is_empty() {
            bad_utf8.push(text.len());
            text.push('\u{FFFD}');
        }
    }
    (text, bad_utf8)
}

/// Where the lines of `text` start, counted from `base`; the first line's start only when
/// `base` is 0.
fn line_starts(text: &str, base: usize) -> Vec<usize> {
    let mut starts = Vec::with_capacity(text.len() / 24 + 1);
    if base == 0 {
        starts.push(0);
    }
    starts.extend(memchr::memchr_iter(b'\n', text.as_bytes()).map(|i| base + i + 1));
    starts
}

/// Texts at least this long are read in two halves at once.
const PARALLEL_BYTES: usize = 256 * 1024;

/// A long script read in two halves on rayon's pool: each half checked as UTF-8, its line
/// starts found and its characters scanned. The halves meet just after a line break, where a
/// line starts afresh, so the findings are those of one pass. `None` for a short script or one
/// with invalid UTF-8 (read in one pass).
fn read_halves(bytes: &[u8]) -> Option<Read> {
    if bytes.len() < PARALLEL_BYTES {
        return None;
    }
    let half = bytes.len() / 2;
    let cut = half + memchr::memchr(b'\n', bytes.get(half..)?)? + 1;
    let (first, second) = bytes.split_at(cut);
    fn read(part: &[u8], base: usize) -> Option<(&str, Vec<usize>, Vec<Found>)> {
        let text = std::str::from_utf8(part).ok()?;
        Some((text, line_starts(text, base), scan(text)))
    }
    let (a, b) = rayon::join(|| read(first, 0), || read(second, cut));
    let ((ta, mut la, mut fa), (tb, lb, fb)) = (a?, b?);
    let mut text = String::with_capacity(bytes.len());
    text.push_str(ta);
    text.push_str(tb);
    la.extend(lb);
    fa.extend(fb.into_iter().map(|(off, c, code)| (off + cut, c, code)));
    Some((text, Vec::new(), la, fa))
}

/// Finds forbidden characters and marks inside tokens. Bytes are read directly where a script
/// is plain (printable ASCII and the Arabic block, minus the Arabic letter mark); any other
/// character is decoded and looked at with its neighbours.
fn scan(text: &str) -> Vec<(usize, char, Code)> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut in_indent = true;
    let mut off = 0;
    while let Some(&b) = bytes.get(off) {
        match b {
            b' ' => {
                off += 1;
                continue;
            }
            b'\n' => {
                in_indent = true;
                off += 1;
                continue;
            }
            0x21..=0x7E => {
                in_indent = false;
                off += 1;
                continue;
            }
            // U+0600..=U+06FF, two bytes, except U+061C (ARABIC LETTER MARK, D8 9C).
            0xD8..=0xDB if !(b == 0xD8 && bytes.get(off + 1) == Some(&0x9C)) => {
                in_indent = false;
                off += 2;
                continue;
            }
            _ => {}
        }
        let Some(c) = text.get(off..).and_then(|t| t.chars().next()) else {
            break;
        };
        let prev = text.get(..off).and_then(|t| t.chars().next_back());
        let next = text
            .get(off + c.len_utf8()..)
            .and_then(|t| t.chars().next());
        match c {
            '\n' => in_indent = true,
            '\r' if next == Some('\n') => {}
            '\t' if in_indent => {}
            ' ' => {}
            c if is_direction_mark(c) => {
                let tokenish =
                    |x: Option<char>| x.is_some_and(|x| !is_blank(x) && x != '\n' && x != '\r');
                if tokenish(prev) && tokenish(next) {
                    found.push((off, c, Code::MarkInsideToken));
                }
            }
            c => {
                in_indent = false;
                if (' '..='~').contains(&c) || ('\u{0621}'..='\u{06FF}').contains(&c) {
                    // Printable ASCII and the Arabic block: never forbidden (U+061C is a mark,
                    // handled above).
                } else if forbidden_name(c).is_some() {
                    found.push((off, c, Code::ForbiddenChar));
                }
            }
        }
        off += c.len_utf8();
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bom_stripped_and_crlf_kept_out_of_lines() {
        let (src, d) = sanitize(b"\xEF\xBB\xBFflow a\r\n    hangup\r\n");
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(&src.text[..6], "flow a");
        let (s, e) = src.line_range(0);
        assert_eq!(&src.text[s..e], "flow a");
    }

    #[test]
    fn rlo_in_string_is_named() {
        let (_, d) = sanitize("say \"a\u{202E}b\"".as_bytes());
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].code, Code::ForbiddenChar);
        assert_eq!(d[0].get("char"), Some("<U+202E>"));
        assert_eq!((d[0].span.line, d[0].span.col), (1, 7));
    }

    #[test]
    fn marks_between_tokens_are_fine_inside_are_not() {
        let (_, d) = sanitize("قل\u{200F} welcome".as_bytes());
        assert!(d.is_empty());
        let (_, d) = sanitize("goto ma\u{200E}in".as_bytes());
        assert_eq!(d[0].code, Code::MarkInsideToken);
    }

    #[test]
    fn arabic_letter_mark_is_found_between_arabic_letters() {
        // U+061C sits in the Arabic block that the scanner skips two bytes at a time.
        let (_, d) = sanitize("قل مرح\u{061C}با\n".as_bytes());
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].code, Code::MarkInsideToken);
        assert_eq!((d[0].span.line, d[0].span.col), (1, 7));
        let (_, d) = sanitize("قل\u{061C} مرحبا\n".as_bytes());
        assert!(d.is_empty(), "{d:?}");
    }

    #[test]
    fn forbidden_after_arabic_and_in_indent() {
        let (_, d) = sanitize("مسار\u{200B}\n\t\u{202E}x\n".as_bytes());
        let got: Vec<_> = d
            .iter()
            .map(|d| (d.code, d.span.line, d.span.col))
            .collect();
        assert_eq!(
            got,
            vec![(Code::ForbiddenChar, 1, 5), (Code::ForbiddenChar, 2, 2)]
        );
    }

    #[test]
    fn halves_read_like_one_pass() {
        let mut text = String::new();
        for i in 0..20_000 {
            text.push_str(match (i % 97, i % 89) {
                (0, _) => "say a\u{202E}b\n",
                (_, 0) => "\tgoto ma\u{200E}in\n",
                _ => "    say welcome مرحبا\u{061C}\n",
            });
        }
        assert!(text.len() >= PARALLEL_BYTES);
        let halves = read_halves(text.as_bytes()).expect("long, valid UTF-8");
        let one = (text.clone(), Vec::new(), line_starts(&text, 0), scan(&text));
        assert!(!one.3.is_empty());
        assert_eq!(halves, one);
    }

    #[test]
    fn invalid_utf8_reported() {
        let (_, d) = sanitize(b"flow \xFF\n");
        assert_eq!(d[0].code, Code::InvalidUtf8);
    }

    #[test]
    fn bom_after_start_is_forbidden() {
        let (_, d) = sanitize("flow a\n\u{FEFF}hangup".as_bytes());
        assert_eq!(d[0].code, Code::ForbiddenChar);
        assert_eq!(d[0].span.line, 2);
    }
}
