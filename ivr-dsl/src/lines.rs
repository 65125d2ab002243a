//! Phase 2: lines and indentation (LANGUAGE.md rules 3 and 4).

use crate::diag::{Code, Diagnostic};
use crate::sanitize::{Source, is_blank};

/// What a line holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineKind {
    /// Nothing but spaces.
    Blank,
    /// A whole-line `--` comment.
    Comment,
    /// A statement.
    Code,
}

/// One line of a script.
#[derive(Clone, Copy, Debug)]
pub struct Line {
    /// 0-based line index.
    pub index: usize,
    /// Byte offset where the content starts (after indentation).
    pub start: usize,
    /// Byte offset where the content ends (before trailing blanks and the line ending).
    pub end: usize,
    /// Nesting depth (0 = top level). Only meaningful for code lines.
    pub level: usize,
    /// What it holds.
    pub kind: LineKind,
}

/// One line measured: where it starts, its indentation and content, and what it holds.
struct Measured {
    /// Byte offset of the line.
    start: usize,
    /// Indentation width (a tab counts 4).
    width: usize,
    /// Offset of the content within the line.
    content: usize,
    /// Offset of the first tab in the indentation.
    tab_at: Option<usize>,
    /// Offset of the end of the content (trailing blanks excluded).
    end: usize,
    kind: LineKind,
}

fn measure(src: &Source, index: usize) -> Measured {
    let (ls, le) = src.line_range(index);
    let raw = &src.text[ls..le];
    // Leading spaces by byte; the character loop below takes over at anything else that could
    // be blank (a tab, a mark, a reported character).
    let spaces = raw.bytes().take_while(|&b| b == b' ').count();
    let mut width = spaces;
    let mut content = raw.len();
    let mut tab_at = None;
    for (off, c) in raw[spaces..].char_indices().map(|(o, c)| (o + spaces, c)) {
        match c {
            ' ' => width += 1,
            '\t' => {
                tab_at.get_or_insert(off);
                width += 4;
            }
            c if is_blank(c) => {}
            _ => {
                content = off;
                break;
            }
        }
    }
    let end = match raw.as_bytes().last() {
        // Most lines end in a printable character: nothing to trim.
        Some(b) if b.is_ascii_graphic() => raw.len(),
        _ => raw.trim_end_matches(is_blank).len(),
    }
    .max(content);
    let body = &raw[content..end];
    let kind = if body.is_empty() {
        LineKind::Blank
    } else if body.starts_with("--") {
        LineKind::Comment
    } else {
        LineKind::Code
    };
    Measured {
        start: ls,
        width,
        content,
        tab_at,
        end,
        kind,
    }
}

/// The indentation step of a script: the width of its first indented code line (0 if none).
pub fn indent_step(src: &Source) -> usize {
    (0..src.line_count())
        .map(|i| measure(src, i))
        .find(|m| m.kind == LineKind::Code && m.width > 0)
        .map_or(0, |m| m.width)
}

/// Whether 0-based line `index` is code with no indentation (a top-level statement).
pub fn is_top_level(src: &Source, index: usize) -> bool {
    let m = measure(src, index);
    m.kind == LineKind::Code && m.width == 0
}

/// Whether 0-based line `index` holds a statement.
pub fn is_code(src: &Source, index: usize) -> bool {
    measure(src, index).kind == LineKind::Code
}

/// Splits the source into lines and works out each code line's block depth.
pub fn split_lines(src: &Source, diags: &mut Vec<Diagnostic>) -> Vec<Line> {
    split_range(src, 0..src.line_count(), indent_step(src), diags)
}

/// [`split_lines`] for the lines `range` of a script whose indentation step is `step` (see
/// [`indent_step`]). A range that starts at a top-level statement, or at the comments and blank
/// lines before one, gets the lines the whole script would.
pub fn split_range(
    src: &Source,
    range: std::ops::Range<usize>,
    step: usize,
    diags: &mut Vec<Diagnostic>,
) -> Vec<Line> {
    let mut out = Vec::with_capacity(range.len());
    let mut prev_level: Option<usize> = None;
    for index in range {
        let Measured {
            start: ls,
            width,
            content,
            tab_at,
            end: trimmed_end,
            kind,
        } = measure(src, index);
        let mut level = 0;
        if kind == LineKind::Code {
            if let Some(off) = tab_at {
                diags.push(Diagnostic::new(
                    Code::TabIndent,
                    src.span(ls + off, ls + off + 1),
                ));
            }
            level = if width == 0 || step == 0 {
                0
            } else if !width.is_multiple_of(step) {
                diags.push(
                    Diagnostic::new(Code::BadIndent, src.span(ls, ls + content))
                        .arg("found", width.to_string())
                        .arg("step", step.to_string()),
                );
                width / step
            } else {
                width / step
            };
            let max = prev_level.map_or(0, |p| p + 1);
            if level > max {
                diags.push(Diagnostic::new(
                    Code::OverIndent,
                    src.span(ls, ls + content),
                ));
                level = max;
            }
            prev_level = Some(level);
        }
        out.push(Line {
            index,
            start: ls + content,
            end: ls + trimmed_end,
            level,
            kind,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sanitize::sanitize;

    fn levels(text: &str) -> (Vec<usize>, Vec<Code>) {
        let (src, _) = sanitize(text.as_bytes());
        let mut d = Vec::new();
        let lines = split_lines(&src, &mut d);
        (
            lines
                .iter()
                .filter(|l| l.kind == LineKind::Code)
                .map(|l| l.level)
                .collect(),
            d.iter().map(|d| d.code).collect(),
        )
    }

    #[test]
    fn step_is_set_by_first_indent() {
        assert_eq!(levels("a\n  b\n    c\n  d\ne").0, vec![0, 1, 2, 1, 0]);
    }

    #[test]
    fn tab_and_bad_indent() {
        assert_eq!(levels("a\n\tb").1, vec![Code::TabIndent]);
        assert_eq!(levels("a\n    b\n      c").1, vec![Code::BadIndent]);
        assert_eq!(levels("a\n    b\n            c").1, vec![Code::OverIndent]);
    }
}
