//! Phase 3: statements parsed line by line, then assembled into blocks by indentation.

pub mod expr;
pub mod lex;
pub mod stmt;

use crate::ast::{Comment, Script, Stmt, StmtKind};
use crate::diag::{Code, Diagnostic};
use crate::lines::{LineKind, split_lines};
use crate::sanitize::Source;
use lex::{Ctx, In, found, span_of};
use nom::Input;
use nom_locate::LocatedSpan;

/// Parses sanitized source into a tree. Every line is tried; a line that fails becomes
/// [`StmtKind::Invalid`] (keeping its block) and its error is reported.
pub fn parse_source(src: &Source, diags: &mut Vec<Diagnostic>) -> (Script, crate::KeywordCounts) {
    let mut counts = crate::KeywordCounts::default();
    let lines = split_lines(src, diags);
    let ctx = Ctx::default();
    let mut cursor: In = LocatedSpan::new_extra(src.text.as_str(), &ctx);
    let mut script = Script::default();
    let mut stack: Vec<(usize, Stmt, bool)> = Vec::new();
    let mut comments: Vec<Comment> = Vec::new();
    let mut blank = false;

    fn close(stack: &mut Vec<(usize, Stmt, bool)>, script: &mut Script, level: usize) {
        while stack.last().is_some_and(|(l, _, _)| *l >= level) {
            let Some((_, stmt, _)) = stack.pop() else {
                break;
            };
            match stack.last_mut() {
                Some((_, parent, _)) => parent.body.push(stmt),
                None => script.stmts.push(stmt),
            }
        }
    }

    for line in &lines {
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
                // Advance a cursor rather than slicing from the start of the file: nom_locate
                // counts the newlines it skips, so this keeps the whole parse linear.
                cursor = cursor.take_from(line.start - cursor.location_offset());
                let input = cursor.take(line.end - line.start);
                ctx.kw_langs.borrow_mut().clear();
                let mut stmt_inline = false;
                let mut stmt = match stmt::line(input) {
                    Ok((_, parsed)) => {
                        stmt_inline = parsed.inline;
                        parsed.stmt
                    }
                    Err(nom::Err::Error(e) | nom::Err::Failure(e)) => {
                        if !src.is_tainted(line.index) {
                            diags.push(e.diag.unwrap_or_else(|| {
                                let at = span_of(&e.at.take(found_len(&e.at)));
                                Diagnostic::new(Code::Syntax, at)
                                    .arg("expected", e.expected)
                                    .arg("found", found(&e.at))
                            }));
                        }
                        let mut s = Stmt::new(StmtKind::Invalid, src.span(line.start, line.end));
                        s.kw_span = s.span;
                        s
                    }
                    Err(nom::Err::Incomplete(_)) => {
                        Stmt::new(StmtKind::Invalid, src.span(line.start, line.end))
                    }
                };
                for (l, _) in ctx.kw_langs.borrow().iter() {
                    match l {
                        crate::keywords::Lang::Ar => counts.ar += 1,
                        crate::keywords::Lang::En => counts.en += 1,
                    }
                }
                if !matches!(stmt.kind, StmtKind::Invalid) {
                    let langs = ctx.kw_langs.borrow();
                    if let Some((first, _)) = langs.first()
                        && let Some((_, at)) = langs.iter().find(|(l, _)| l != first)
                    {
                        diags.push(Diagnostic::new(Code::MixedKeywords, *at));
                    }
                }
                stmt.comments = std::mem::take(&mut comments);
                stmt.blank_before = std::mem::take(&mut blank);
                close(&mut stack, &mut script, line.level);
                if let Some((_, parent, true)) = stack.last() {
                    diags.push(
                        Diagnostic::new(Code::InlineAndBlock, stmt.span)
                            .arg("parent", parent.kw_span_text(src)),
                    );
                }
                stack.push((line.level, stmt, stmt_inline));
            }
        }
    }
    close(&mut stack, &mut script, 0);
    script.trailing_comments = comments;
    diags.extend(ctx.diags.into_inner());
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
        src.text
            .get(self.kw_span.start..self.kw_span.end)
            .unwrap_or("")
            .to_string()
    }
}
