//! Phase 3: statements parsed line by line, then assembled into blocks by indentation.

pub mod expr;
pub mod lex;
pub mod stmt;

use crate::ast::{Comment, Script, Stmt, StmtKind};
use crate::diag::{Code, Diagnostic};
use crate::keywords::Lang;
use crate::lines::{Line, LineKind, split_range};
use crate::sanitize::Source;
use lex::{Ctx, In, found, span_of};
use nom::Input;
use nom_locate::LocatedSpan;

/// One code line, parsed: its statement and whether its body came inline. Findings go to
/// `diags`, keyword counts to `counts`.
fn parse_line(
    src: &Source,
    ctx: &Ctx,
    cursor: &mut In<'_>,
    line: &Line,
    diags: &mut Vec<Diagnostic>,
    counts: &mut crate::KeywordCounts,
) -> stmt::LineStmt {
    // Advance a cursor rather than slicing from the start of the file: nom_locate counts the
    // newlines it skips, so this keeps the whole parse linear.
    *cursor = cursor.take_from(line.start - cursor.location_offset());
    let input = cursor.take(line.end - line.start);
    let line_start = src.line_start(line.index);
    ctx.set_line(
        line_start,
        src.text
            .get(line_start..line.end)
            .is_some_and(|t| t.is_ascii()),
    );
    ctx.kw_langs.borrow_mut().clear();
    ctx.inline.borrow_mut().take();
    let invalid = || {
        let span = src.span(line.start, line.end);
        stmt::LineStmt {
            kind: StmtKind::Invalid,
            span,
            kw_span: span,
            inline: false,
        }
    };
    let stmt = match stmt::line(input) {
        Ok((_, parsed)) => parsed,
        Err(nom::Err::Error(e) | nom::Err::Failure(e)) => {
            if !src.is_tainted(line.index) {
                diags.push(e.diag.unwrap_or_else(|| {
                    let at = span_of(&e.at.take(found_len(&e.at)));
                    Diagnostic::new(Code::Syntax, at)
                        .arg("expected", e.expected)
                        .arg("found", found(&e.at))
                }));
            }
            invalid()
        }
        Err(nom::Err::Incomplete(_)) => invalid(),
    };
    let langs = ctx.kw_langs.borrow();
    let ar = langs.iter().filter(|(l, _)| *l == Lang::Ar).count();
    counts.ar += ar;
    counts.en += langs.len() - ar;
    if !matches!(stmt.kind, StmtKind::Invalid)
        && let Some((first, _)) = langs.first()
        && let Some((_, at)) = langs.iter().find(|(l, _)| l != first)
    {
        diags.push(Diagnostic::new(Code::MixedKeywords, *at));
    }
    drop(langs);
    diags.append(&mut ctx.diags.borrow_mut());
    stmt
}

/// A run of lines that starts at a top-level statement (or the file's start) and ends before
/// the next one, parsed into top-level statements with their blocks.
#[derive(Default)]
struct Part {
    stmts: Vec<Stmt>,
    trailing_comments: Vec<Comment>,
    diags: Vec<Diagnostic>,
    counts: crate::KeywordCounts,
}

/// Parses `lines` and builds their blocks. Top-level statements do not depend on each other,
/// so disjoint runs of them are parsed on different threads, each building its own subtrees
/// while the statements are still in cache.
fn parse_part(src: &Source, lines: &[Line]) -> Part {
    let ctx = Ctx::default();
    let mut cursor: In = LocatedSpan::new_extra(src.text.as_str(), &ctx);
    let mut part = Part::default();

    // How many statements each code line's block holds, so that every body is allocated once
    // at its final size (statements are large; growing a body moves all of them).
    let levels: Vec<usize> = lines
        .iter()
        .filter(|l| l.kind == LineKind::Code)
        .map(|l| l.level)
        .collect();
    let mut kids = vec![0u32; levels.len()];
    let mut open: Vec<usize> = Vec::new();
    for (j, &level) in levels.iter().enumerate() {
        while open.last().is_some_and(|&p| levels[p] >= level) {
            open.pop();
        }
        if let Some(&p) = open.last() {
            kids[p] += 1;
        }
        open.push(j);
    }
    let mut kids = kids.into_iter();

    // Each statement is made once, in its parent's body. A line at level L belongs to the
    // latest line at level L - 1 (levels rise one step at a time, and a part starts at level
    // 0), which is reached from the last top-level statement through the last statement of
    // each body. `inline[k]`: whether the latest line at level k had an inline statement.
    let mut inline: Vec<bool> = Vec::new();
    let mut comments: Vec<Comment> = Vec::new();
    let mut blank = false;

    fn open_block(top: &mut [Stmt], depth: usize) -> Option<&mut Stmt> {
        let mut at = top.last_mut()?;
        for _ in 0..depth {
            at = at.body.last_mut()?;
        }
        Some(at)
    }

    for line in lines {
        match line.kind {
            LineKind::Blank => blank = true,
            LineKind::Comment => {
                let text = src.text[line.start + 2..line.end].to_string();
                comments.push(Comment {
                    text,
                    span: src.span(line.start, line.end),
                });
            }
            LineKind::Code => {
                let head = parse_line(
                    src,
                    &ctx,
                    &mut cursor,
                    line,
                    &mut part.diags,
                    &mut part.counts,
                );
                let has_inline = head.inline;
                let mut body =
                    Vec::with_capacity(kids.next().unwrap_or(0) as usize + usize::from(has_inline));
                if has_inline {
                    body.extend(ctx.inline.borrow_mut().take());
                }
                let stmt = Stmt {
                    kind: head.kind,
                    span: head.span,
                    kw_span: head.kw_span,
                    body,
                    comments: std::mem::take(&mut comments),
                    blank_before: std::mem::take(&mut blank),
                };
                let level = line.level.min(inline.len());
                inline.truncate(level);
                let parent = match level {
                    0 => None,
                    l => open_block(&mut part.stmts, l - 1),
                };
                match parent {
                    Some(parent) => {
                        if inline.last() == Some(&true) {
                            part.diags.push(
                                Diagnostic::new(Code::InlineAndBlock, stmt.span)
                                    .arg("parent", parent.kw_span_text(src)),
                            );
                        }
                        parent.body.push(stmt);
                    }
                    None => part.stmts.push(stmt),
                }
                inline.push(has_inline);
            }
        }
    }
    part.trailing_comments = comments;
    part
}

/// Scripts smaller than this are parsed on one thread.
const PARALLEL_BYTES: usize = 256 * 1024;

/// Parses sanitized source into a tree. Every line is tried; a line that fails becomes
/// [`StmtKind::Invalid`] (keeping its block) and its error is reported. Large scripts are cut
/// into parts parsed in parallel; the result does not depend on how many.
pub fn parse_source(src: &Source, diags: &mut Vec<Diagnostic>) -> (Script, crate::KeywordCounts) {
    let parts = if src.text.len() < PARALLEL_BYTES {
        1
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get().min(4))
    };
    parse_source_with(src, diags, parts)
}

/// Where to cut the script's lines into about `parts` runs of similar size, each starting at
/// a top-level statement together with the comments and blank lines just before it.
fn cuts(src: &Source, parts: usize) -> Vec<usize> {
    let n = src.line_count();
    let mut cuts = vec![0];
    for k in 1..parts {
        let mut at = (n * k / parts).max(*cuts.last().unwrap_or(&0));
        while at < n && !crate::lines::is_top_level(src, at) {
            at += 1;
        }
        while at > 0 && !crate::lines::is_code(src, at - 1) {
            at -= 1;
        }
        if at > *cuts.last().unwrap_or(&0) && at < n {
            cuts.push(at);
        }
    }
    cuts.push(n);
    cuts
}

/// [`parse_source`] with the lines cut into about `parts` runs, each split into lines and
/// parsed in parallel (1: all on this thread).
pub fn parse_source_with(
    src: &Source,
    diags: &mut Vec<Diagnostic>,
    parts: usize,
) -> (Script, crate::KeywordCounts) {
    let step = crate::lines::indent_step(src);
    let cuts = cuts(src, parts.max(1));
    let run = |r: std::ops::Range<usize>| {
        let mut line_diags = Vec::new();
        let lines = split_range(src, r, step, &mut line_diags);
        let mut part = parse_part(src, &lines);
        line_diags.append(&mut part.diags);
        part.diags = line_diags;
        part
    };
    let parts: Vec<Part> = if cuts.len() <= 2 {
        vec![run(0..src.line_count())]
    } else {
        // Rayon's pool: its threads stay on their cores between scripts, where a freshly
        // spawned thread can wait milliseconds to be moved to an idle core.
        use rayon::prelude::*;
        cuts.par_windows(2).map(|w| run(w[0]..w[1])).collect()
    };
    let mut counts = crate::KeywordCounts::default();
    let mut script = Script {
        stmts: Vec::with_capacity(parts.iter().map(|p| p.stmts.len()).sum()),
        trailing_comments: Vec::new(),
    };
    for mut part in parts {
        counts.ar += part.counts.ar;
        counts.en += part.counts.en;
        diags.append(&mut part.diags);
        script.stmts.append(&mut part.stmts);
        script.trailing_comments = part.trailing_comments;
    }
    (script, counts)
}

fn found_len(i: &In) -> usize {
    let f = found(i);
    if f.starts_with('@') {
        0
    } else {
        let skip = i.fragment().len()
            - i.fragment()
                .trim_start_matches(crate::sanitize::is_blank)
                .len();
        skip + f.len()
    }
}

impl Stmt {
    /// The text of the statement's keyword as written.
    pub fn kw_span_text(&self, src: &Source) -> String {
        src.text.get(self.kw_span.range()).unwrap_or("").to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_keyword_is_counted_once() {
        // `and` and `or` are read where precedence climbing stops; they still count once.
        let text = "languages en\nflow main\n    if a = 1 and b = 2 or c = 3\n        hangup\n    hangup\n";
        let (src, _) = crate::sanitize::sanitize(text.as_bytes());
        let (_, counts) = parse_source_with(&src, &mut Vec::new(), 1);
        // languages, en, flow, if, and, or, hangup, hangup
        assert_eq!((counts.en, counts.ar), (8, 0));
    }

    #[test]
    fn threads_do_not_change_the_result() {
        let hotline = include_str!("../../../flows/complaint_940.flow");
        let mut text = String::new();
        for i in 0..40 {
            // Each copy renamed, with an error and a mixed line so diagnostics come from every
            // part of the file.
            text.push_str(&hotline.replace("flow ", &format!("flow c{i}_")));
            text.push_str(&format!(
                "\nflow broken{i}\n    goto\n    say welcome بالعربية\n    hangup\n"
            ));
        }
        let (src, _) = crate::sanitize::sanitize(text.as_bytes());
        let mut d1 = Vec::new();
        let (s1, c1) = parse_source_with(&src, &mut d1, 1);
        for threads in [2, 3, 4] {
            let mut d = Vec::new();
            let (s, c) = parse_source_with(&src, &mut d, threads);
            assert_eq!(s, s1);
            // Spans compare equal by design; compare positions explicitly.
            let pos = |d: &[Diagnostic]| -> Vec<_> {
                d.iter()
                    .map(|x| (x.code, x.span.start, x.span.end, x.span.line, x.span.col))
                    .collect()
            };
            assert_eq!(pos(&d), pos(&d1));
            assert_eq!(d, d1);
            assert_eq!((c.ar, c.en), (c1.ar, c1.en));
        }
        assert_eq!(d1.len(), 80);
    }
}
