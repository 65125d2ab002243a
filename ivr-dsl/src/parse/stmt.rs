//! Phase 3c: one line → one statement (and an inline statement after it).

use super::expr::expr;
use super::lex::*;
use crate::ast::*;
use crate::diag::{Code, Diagnostic};
use crate::keywords::Kw;
use crate::span::Span;

/// A parsed line: what the statement says and where, and the statement written after it on
/// the same line. The tree builder makes the [`Stmt`] in its final place from this.
pub struct LineStmt {
    /// What the line says.
    pub kind: StmtKind,
    /// The line's extent.
    pub span: Span,
    /// The leading keyword's span.
    pub kw_span: Span,
    /// Whether a statement follows `press K`, `on …`, `after N attempts` on the same line (it
    /// waits in [`Ctx::inline`]).
    pub inline: bool,
}

/// Parses a whole code line.
pub fn line(i: In) -> PResult<LineStmt> {
    let start = i;
    let (i, (kind, kw_span, inline)) = statement(i)?;
    let (i, ()) = eol(i)?;
    let mut span = span_of(&start);
    span.set_end(i.location_offset());
    Ok((
        i,
        LineStmt {
            kind,
            span,
            kw_span,
            inline,
        },
    ))
}

/// A statement head: its kind, its keyword's span and whether a statement was written inline
/// after it (it waits in [`Ctx::inline`]).
type Parsed = (StmtKind, Span, bool);

fn lang(i: In) -> PResult<Lang> {
    let (r, (k, _, _)) = any_kw(i)?;
    match k {
        Kw::Ar => Ok((r, Lang::Ar)),
        Kw::En => Ok((r, Lang::En)),
        _ => fail(i, "@expect-language"),
    }
}

fn day(i: In) -> PResult<Day> {
    let (r, (k, _, _)) = any_kw(i)?;
    let d = match k {
        Kw::Sunday => Day::Sunday,
        Kw::Monday => Day::Monday,
        Kw::Tuesday => Day::Tuesday,
        Kw::Wednesday => Day::Wednesday,
        Kw::Thursday => Day::Thursday,
        Kw::Friday => Day::Friday,
        Kw::Saturday => Day::Saturday,
        _ => return fail(i, "@expect-day"),
    };
    Ok((r, d))
}

/// Names up to the end of the line or the keyword `stop`.
fn names_until(mut i: In, stop: Kw) -> PResult<Vec<Ident>> {
    let mut out = Vec::new();
    loop {
        if at_eol(&i) || peek_kw(i) == Some(stop) {
            return Ok((i, out));
        }
        let (r, n) = ident(i)?;
        out.push(n);
        i = r;
    }
}

/// A statement allowed inline after `press K`, `on …`, `after N attempts`.
fn is_simple(k: &StmtKind) -> bool {
    matches!(
        k,
        StmtKind::Language(_)
            | StmtKind::Say { .. }
            | StmtKind::Play { .. }
            | StmtKind::Repeat
            | StmtKind::Goto(_)
            | StmtKind::Run(_)
            | StmtKind::Return(_)
            | StmtKind::Set { .. }
            | StmtKind::Hangup
    )
}

fn inline(i: In) -> PResult<bool> {
    if at_eol(&i) {
        return Ok((i, false));
    }
    let (i, _) = sp(i)?;
    let start = i;
    let (r, (kind, kw_span, _)) = statement(i)?;
    if !is_simple(&kind) {
        let d = Diagnostic::new(Code::Misplaced, kw_span)
            .arg("stmt", start.fragment().split(' ').next().unwrap_or(""))
            .arg("where", "@where-inline");
        return fail_with(start, d);
    }
    let mut s = Stmt::new(kind, span_of(&start));
    s.span.set_end(r.location_offset());
    s.kw_span = kw_span;
    *r.extra.inline.borrow_mut() = Some(s);
    Ok((r, true))
}

/// One statement head (no end-of-line check).
pub fn statement(i: In) -> PResult<Parsed> {
    let (i, _) = sp(i)?;
    let (r, (k, _, ks)) = match any_kw(i) {
        Ok(x) => x,
        Err(nom::Err::Error(_)) => return unknown_statement(i),
        Err(e) => return Err(e),
    };
    let done = |r, kind| Ok((r, (kind, ks, false)));
    match k {
        Kw::Languages => {
            let (mut r, first) = lang(r)?;
            let mut langs = vec![first];
            while !at_eol(&r) {
                let (r2, l) = lang(r)?;
                langs.push(l);
                r = r2;
            }
            done(r, StmtKind::Languages(langs))
        }
        Kw::Hours => {
            let (r, n) = ident(r)?;
            done(r, StmtKind::Hours(n))
        }
        Kw::Defaults => done(r, StmtKind::Defaults),
        Kw::Flow => {
            let (r, name) = ident(r)?;
            let (r, params) = match opt_kw(Kw::With)(r)? {
                (r, Some(_)) => names_until(r, Kw::With)?,
                (r, None) => (r, Vec::new()),
            };
            done(r, StmtKind::Flow { name, params })
        }
        Kw::Step => {
            let (r, n) = ident(r)?;
            done(r, StmtKind::Step(n))
        }
        Kw::Language => {
            let (r, l) = lang(r)?;
            done(r, StmtKind::Language(l))
        }
        Kw::Say => say(r, ks),
        Kw::Play => {
            let (r, var) = ident(r)?;
            let (r, wi) = opt_kw(Kw::WithoutInterruption)(r)?;
            done(
                r,
                StmtKind::Play {
                    var,
                    barge_in: wi.is_none(),
                },
            )
        }
        Kw::Menu => {
            let (r, t) = opt_kw(Kw::Timeout)(r)?;
            let (r, timeout) = match t {
                Some(_) => {
                    let (r, d) = duration(r)?;
                    (r, Some(d))
                }
                None => (r, None),
            };
            done(r, StmtKind::Menu { timeout })
        }
        Kw::Press => {
            let (r, key) = key(r)?;
            let (r, body) = inline(r)?;
            Ok((r, (StmtKind::Press(key), ks, body)))
        }
        Kw::Collect => collect(r, ks),
        Kw::Record => record(r, ks),
        Kw::OnNoinput | Kw::OnNomatch => {
            let event = if k == Kw::OnNoinput {
                Event::Noinput
            } else {
                Event::Nomatch
            };
            let (r, count) = match number(r) {
                Ok((r, n)) => (r, Some(n)),
                Err(_) => (r, None),
            };
            let (r, body) = inline(r)?;
            Ok((r, (StmtKind::On { event, count }, ks, body)))
        }
        Kw::OnFailure | Kw::OnNotFound | Kw::OnBusy | Kw::OnNoanswer => {
            let event = match k {
                Kw::OnFailure => Event::Failure,
                Kw::OnNotFound => Event::NotFound,
                Kw::OnBusy => Event::Busy,
                _ => Event::Noanswer,
            };
            let (r, body) = inline(r)?;
            Ok((r, (StmtKind::On { event, count: None }, ks, body)))
        }
        Kw::After => {
            let (r, n) = number(r)?;
            let (r, _) = kw(Kw::Attempts)(r)?;
            let (r, body) = inline(r)?;
            Ok((r, (StmtKind::AfterAttempts(n), ks, body)))
        }
        Kw::Repeat => done(r, StmtKind::Repeat),
        Kw::Goto => {
            let (r, t) = ident(r)?;
            done(r, StmtKind::Goto(t))
        }
        Kw::Run => {
            let (r, flow) = ident(r)?;
            let (r, args) = match opt_kw(Kw::With)(r)? {
                (r, Some(_)) => names_until(r, Kw::Into)?,
                (r, None) => (r, Vec::new()),
            };
            let (r, into) = match opt_kw(Kw::Into)(r)? {
                (r, Some(_)) => {
                    let (r, v) = ident(r)?;
                    (r, Some(v))
                }
                (r, None) => (r, None),
            };
            done(r, StmtKind::Run(Box::new(Run { flow, args, into })))
        }
        Kw::Return => {
            if at_eol(&r) {
                return done(r, StmtKind::Return(None));
            }
            let (r, e) = expr(r)?;
            done(r, StmtKind::Return(Some(e)))
        }
        Kw::Set => {
            let (r, var) = ident(r)?;
            let Ok((r, _)) = symbol('=')(r) else {
                return fail(r, "`=`");
            };
            let (r, value) = expr(r)?;
            done(r, StmtKind::Set { var, value })
        }
        Kw::If => {
            let (r, e) = expr(r)?;
            done(r, StmtKind::If(e))
        }
        Kw::ElseIf => {
            let (r, e) = expr(r)?;
            done(r, StmtKind::ElseIf(e))
        }
        Kw::Else => done(r, StmtKind::Else),
        Kw::Submit | Kw::Lookup => {
            let (r, op) = ext_name(r)?;
            let (r, args) = match opt_kw(Kw::With)(r)? {
                (r, Some(_)) => names_until(r, Kw::Into)?,
                (r, None) => (r, Vec::new()),
            };
            let (r, _) = kw(Kw::Into)(r)?;
            let (r, into) = ident(r)?;
            let kind = if k == Kw::Submit {
                StmtKind::Submit { op, args, into }
            } else {
                StmtKind::Lookup { op, args, into }
            };
            done(r, kind)
        }
        Kw::Transfer => {
            let (r, dest) = ext_name(r)?;
            let (r, t) = opt_kw(Kw::Timeout)(r)?;
            let (r, timeout) = match t {
                Some(_) => {
                    let (r, d) = duration(r)?;
                    (r, Some(d))
                }
                None => (r, None),
            };
            done(r, StmtKind::Transfer { dest, timeout })
        }
        Kw::Hangup => done(r, StmtKind::Hangup),
        Kw::ClosedOnHolidays => done(r, StmtKind::ClosedOnHolidays),
        Kw::From
        | Kw::Sunday
        | Kw::Monday
        | Kw::Tuesday
        | Kw::Wednesday
        | Kw::Thursday
        | Kw::Friday
        | Kw::Saturday => hours_range(i, ks),
        _ => {
            let word = found(&i);
            let d = Diagnostic::new(Code::UnknownStatement, ks).arg("word", word);
            fail_with(i, d)
        }
    }
}

fn unknown_statement(i: In) -> PResult<Parsed> {
    match word(i) {
        Ok((_, w)) => {
            let text = w.fragment().to_string();
            let mut d =
                Diagnostic::new(Code::UnknownStatement, span_of(&w)).arg("word", text.clone());
            if let Some(s) =
                crate::fold::suggestions(&text, crate::keywords::all_spellings()).first()
            {
                d = d.arg("suggestion", *s);
            }
            fail_with(w, d)
        }
        Err(_) => fail(i, "@expect-keyword"),
    }
}

fn hours_range(i: In, ks: Span) -> PResult<Parsed> {
    let (r, _) = opt_kw(Kw::From)(i)?;
    let (r, first) = day(r)?;
    let (r, last) = match opt_kw(Kw::To)(r)? {
        (r, Some(_)) => {
            let (r, d) = day(r)?;
            (r, Some(d))
        }
        (r, None) => (r, None),
    };
    let (r, _) = kw(Kw::From)(r)?;
    let (r, open) = time_of_day(r)?;
    let (r, _) = kw(Kw::To)(r)?;
    let (r, close) = time_of_day(r)?;
    Ok((
        r,
        (
            StmtKind::HoursRange {
                first,
                last,
                open,
                close,
            },
            ks,
            false,
        ),
    ))
}

fn say(r: In, ks: Span) -> PResult<Parsed> {
    let (mut r, target) = word(r)?;
    let mut lang = None;
    let mut barge_in = true;
    let mut style = None;
    // One keyword read per option (`any_kw` records a keyword only when it matches).
    while let Ok((r2, (k, _, _))) = any_kw(r) {
        match k {
            Kw::InAr if lang.is_none() => lang = Some(Lang::Ar),
            Kw::InEn if lang.is_none() => lang = Some(Lang::En),
            Kw::WithoutInterruption if barge_in => barge_in = false,
            Kw::AsDigits if style.is_none() => style = Some(ValueStyle::Digits),
            Kw::AsNumber if style.is_none() => style = Some(ValueStyle::Number),
            Kw::AsDate if style.is_none() => style = Some(ValueStyle::Date),
            Kw::AsText if style.is_none() => style = Some(ValueStyle::Text),
            _ => return fail(r, "@expect-say-option"),
        }
        r = r2;
    }
    let what = match style {
        Some(s) => {
            if target.extra.is_reserved(target.fragment()) {
                return fail(target, "@expect-name");
            }
            SayWhat::Value(make_ident(&target), s)
        }
        None => SayWhat::Prompt(make_ext(&target)),
    };
    Ok((
        r,
        (
            StmtKind::Say {
                what,
                lang,
                barge_in,
            },
            ks,
            false,
        ),
    ))
}

fn collect(r: In, ks: Span) -> PResult<Parsed> {
    let (r, var) = ident(r)?;
    let (r, _) = kw(Kw::Digits)(r)?;
    let (mut r, min) = number(r)?;
    let (mut max, mut until, mut timeout) = (None, None, None);
    while !at_eol(&r) {
        match any_kw(r) {
            Ok((r2, (Kw::To, _, _))) if max.is_none() => {
                let (r2, n) = number(r2)?;
                max = Some(n);
                r = r2;
            }
            Ok((r2, (Kw::Until, _, _))) if until.is_none() => {
                let (r2, k) = key(r2)?;
                until = Some(k);
                r = r2;
            }
            Ok((r2, (Kw::Timeout, _, _))) if timeout.is_none() => {
                let (r2, d) = duration(r2)?;
                timeout = Some(d);
                r = r2;
            }
            _ => return fail(r, "@expect-collect-option"),
        }
    }
    Ok((
        r,
        (
            StmtKind::Collect(Box::new(Collect {
                var,
                min,
                max,
                until,
                timeout,
            })),
            ks,
            false,
        ),
    ))
}

fn record(r: In, ks: Span) -> PResult<Parsed> {
    let (mut r, var) = ident(r)?;
    let (mut beep, mut max, mut silence, mut until) = (false, None, None, None);
    while !at_eol(&r) {
        match any_kw(r) {
            Ok((r2, (Kw::Beep, _, _))) if !beep => {
                beep = true;
                r = r2;
            }
            Ok((r2, (Kw::Max, _, _))) if max.is_none() => {
                let (r2, d) = duration(r2)?;
                max = Some(d);
                r = r2;
            }
            Ok((r2, (Kw::Silence, _, _))) if silence.is_none() => {
                let (r2, d) = duration(r2)?;
                silence = Some(d);
                r = r2;
            }
            Ok((r2, (Kw::Until, _, _))) if until.is_none() => {
                let (r2, k) = key(r2)?;
                until = Some(k);
                r = r2;
            }
            _ => return fail(r, "@expect-record-option"),
        }
    }
    Ok((
        r,
        (
            StmtKind::Record(Box::new(Record {
                var,
                beep,
                max,
                silence,
                until,
            })),
            ks,
            false,
        ),
    ))
}

/// Only for the unit tests below and the tree builder: whether the parsed line is an inline
/// statement kind.
pub fn simple(k: &StmtKind) -> bool {
    is_simple(k)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nom_locate::LocatedSpan;

    fn parse(s: &str) -> (Option<Stmt>, Vec<Diagnostic>) {
        let ctx = Ctx::default();
        let r = line(LocatedSpan::new_extra(s, &ctx)).ok().map(|(_, l)| {
            let mut stmt = Stmt::new(l.kind, l.span);
            stmt.kw_span = l.kw_span;
            if l.inline {
                stmt.body.extend(ctx.inline.take());
            }
            stmt
        });
        (r, ctx.diags.into_inner())
    }

    #[test]
    fn english_and_arabic_collect_are_the_same() {
        let (a, _) = parse("collect district digits 3 timeout 6s");
        let (b, _) = parse("اجمع district أرقام ٣ مهلة 6 ث");
        let (Some(a), Some(b)) = (a, b) else {
            panic!("both parse")
        };
        match (&a.kind, &b.kind) {
            (StmtKind::Collect(c1), StmtKind::Collect(c2)) => {
                assert_eq!(c1.min.value, c2.min.value);
                assert_eq!(
                    c1.timeout.map(|t| t.millis()),
                    c2.timeout.map(|t| t.millis())
                );
            }
            _ => panic!("collect expected"),
        }
    }

    #[test]
    fn inline_goto() {
        let (s, d) = parse("اضغط ١ اذهب إلى الرئيسية");
        assert!(d.is_empty());
        let s = s.expect("parses");
        assert!(matches!(s.body[0].kind, StmtKind::Goto(_)));
    }
}
