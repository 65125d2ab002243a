//! Phase 5a: the formatter. One canonical layout, keywords in the language asked for; names,
//! digits (their family too), strings and comments as written.

use crate::ast::*;
use crate::keywords::{Kw, Lang, arabic_attempts};

/// Indentation step of formatted output.
pub const INDENT: usize = 4;

/// Formats a script with keywords in `lang`.
pub fn format_script(script: &Script, lang: Lang) -> String {
    let mut out = String::new();
    for (i, s) in script.stmts.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        stmt(&mut out, s, 0, lang, true);
    }
    if !script.trailing_comments.is_empty() && !script.stmts.is_empty() {
        out.push('\n');
    }
    for c in &script.trailing_comments {
        comment(&mut out, c, 0);
    }
    out
}

fn comment(out: &mut String, c: &Comment, depth: usize) {
    push_indent(out, depth);
    out.push_str("--");
    out.push_str(c.text.trim_end());
    out.push('\n');
}

fn push_indent(out: &mut String, depth: usize) {
    for _ in 0..depth * INDENT {
        out.push(' ');
    }
}

/// Whether a body is written inline after its head.
fn inline_body(s: &Stmt) -> bool {
    matches!(
        s.kind,
        StmtKind::Press(_) | StmtKind::On { .. } | StmtKind::AfterAttempts(_)
    ) && s.body.len() == 1
        && s.body[0].body.is_empty()
        && s.body[0].comments.is_empty()
        && crate::parse::stmt::simple(&s.body[0].kind)
}

fn stmt(out: &mut String, s: &Stmt, depth: usize, lang: Lang, first: bool) {
    if s.blank_before && !first && depth > 0 {
        out.push('\n');
    }
    for c in &s.comments {
        comment(out, c, depth);
    }
    push_indent(out, depth);
    out.push_str(&head(s, lang));
    if inline_body(s) {
        out.push(' ');
        out.push_str(&head(&s.body[0], lang));
        out.push('\n');
        return;
    }
    out.push('\n');
    for (i, c) in s.body.iter().enumerate() {
        stmt(out, c, depth + 1, lang, i == 0);
    }
}

fn num(n: &Num) -> String {
    n.family.write(n.value, 1)
}

fn dur(d: &Duration, lang: Lang) -> String {
    let unit = match (d.unit, lang) {
        (TimeUnit::Ms, Lang::En) => "ms",
        (TimeUnit::S, Lang::En) => "s",
        (TimeUnit::Min, Lang::En) => "min",
        (TimeUnit::Ms, Lang::Ar) => " مث",
        (TimeUnit::S, Lang::Ar) => " ث",
        (TimeUnit::Min, Lang::Ar) => " د",
    };
    format!("{}{}", num(&d.amount), unit)
}

fn time(t: &TimeOfDay) -> String {
    format!(
        "{}:{}",
        t.family.write(u64::from(t.hour), 2),
        t.family.write(u64::from(t.minute), 2)
    )
}

fn key(k: &Key, lang: Lang) -> String {
    match k.key {
        '*' => Kw::Star.spell(lang).to_string(),
        '#' => Kw::Hash.spell(lang).to_string(),
        c => k.family.write(u64::from(c.to_digit(10).unwrap_or(0)), 1),
    }
}

fn lang_kw(l: Lang) -> Kw {
    match l {
        Lang::Ar => Kw::Ar,
        Lang::En => Kw::En,
    }
}

fn day_kw(d: Day) -> Kw {
    match d {
        Day::Sunday => Kw::Sunday,
        Day::Monday => Kw::Monday,
        Day::Tuesday => Kw::Tuesday,
        Day::Wednesday => Kw::Wednesday,
        Day::Thursday => Kw::Thursday,
        Day::Friday => Kw::Friday,
        Day::Saturday => Kw::Saturday,
    }
}

fn names(v: &[Ident]) -> String {
    v.iter()
        .map(|i| i.text.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The text of one statement's line (without its block).
pub fn head(s: &Stmt, lang: Lang) -> String {
    let k = |kw: Kw| kw.spell(lang);
    let mut w: Vec<String> = Vec::new();
    let mut p = |x: &str| w.push(x.to_string());
    match &s.kind {
        StmtKind::Languages(ls) => {
            p(k(Kw::Languages));
            for l in ls {
                p(k(lang_kw(*l)));
            }
        }
        StmtKind::Hours(n) => {
            p(k(Kw::Hours));
            p(&n.text);
        }
        StmtKind::HoursRange {
            first,
            last,
            open,
            close,
        } => {
            if lang == Lang::Ar && last.is_some() {
                p(k(Kw::From));
            }
            p(k(day_kw(*first)));
            if let Some(l) = last {
                p(k(Kw::To));
                p(k(day_kw(*l)));
            }
            p(k(Kw::From));
            p(&time(open));
            p(k(Kw::To));
            p(&time(close));
        }
        StmtKind::ClosedOnHolidays => p(k(Kw::ClosedOnHolidays)),
        StmtKind::Defaults => p(k(Kw::Defaults)),
        StmtKind::Flow { name, params } => {
            p(k(Kw::Flow));
            p(&name.text);
            if !params.is_empty() {
                p(k(Kw::With));
                p(&names(params));
            }
        }
        StmtKind::Step(n) => {
            p(k(Kw::Step));
            p(&n.text);
        }
        StmtKind::Language(l) => {
            p(k(Kw::Language));
            p(k(lang_kw(*l)));
        }
        StmtKind::Say {
            what,
            lang: l,
            barge_in,
        } => {
            p(k(Kw::Say));
            match what {
                SayWhat::Prompt(id) => p(&id.name),
                SayWhat::Value(v, style) => {
                    p(&v.text);
                    p(k(match style {
                        ValueStyle::Digits => Kw::AsDigits,
                        ValueStyle::Number => Kw::AsNumber,
                        ValueStyle::Date => Kw::AsDate,
                        ValueStyle::Text => Kw::AsText,
                    }));
                }
            }
            if let Some(l) = l {
                p(k(match l {
                    Lang::Ar => Kw::InAr,
                    Lang::En => Kw::InEn,
                }));
            }
            if !barge_in {
                p(k(Kw::WithoutInterruption));
            }
        }
        StmtKind::Play { var, barge_in } => {
            p(k(Kw::Play));
            p(&var.text);
            if !barge_in {
                p(k(Kw::WithoutInterruption));
            }
        }
        StmtKind::Menu { timeout } => {
            p(k(Kw::Menu));
            if let Some(t) = timeout {
                p(k(Kw::Timeout));
                p(&dur(t, lang));
            }
        }
        StmtKind::Press(key_) => {
            p(k(Kw::Press));
            p(&key(key_, lang));
        }
        StmtKind::Collect(c) => {
            let crate::ast::Collect {
                var,
                min,
                max,
                until,
                timeout,
            } = &**c;
            p(k(Kw::Collect));
            p(&var.text);
            p(k(Kw::Digits));
            p(&num(min));
            if let Some(m) = max {
                p(k(Kw::To));
                p(&num(m));
            }
            if let Some(u) = until {
                p(k(Kw::Until));
                p(&key(u, lang));
            }
            if let Some(t) = timeout {
                p(k(Kw::Timeout));
                p(&dur(t, lang));
            }
        }
        StmtKind::Record(rec) => {
            let crate::ast::Record {
                var,
                beep,
                max,
                silence,
                until,
            } = &**rec;
            p(k(Kw::Record));
            p(&var.text);
            if *beep {
                p(k(Kw::Beep));
            }
            if let Some(m) = max {
                p(k(Kw::Max));
                p(&dur(m, lang));
            }
            if let Some(t) = silence {
                p(k(Kw::Silence));
                p(&dur(t, lang));
            }
            if let Some(u) = until {
                p(k(Kw::Until));
                p(&key(u, lang));
            }
        }
        StmtKind::On { event, count } => {
            p(k(match event {
                Event::Noinput => Kw::OnNoinput,
                Event::Nomatch => Kw::OnNomatch,
                Event::Failure => Kw::OnFailure,
                Event::NotFound => Kw::OnNotFound,
                Event::Busy => Kw::OnBusy,
                Event::Noanswer => Kw::OnNoanswer,
            }));
            if let Some(c) = count {
                p(&num(c));
            }
        }
        StmtKind::AfterAttempts(n) => {
            p(k(Kw::After));
            p(&num(n));
            p(match lang {
                Lang::Ar => arabic_attempts(n.value),
                Lang::En => k(Kw::Attempts),
            });
        }
        StmtKind::Repeat => p(k(Kw::Repeat)),
        StmtKind::Goto(t) => {
            p(k(Kw::Goto));
            p(&t.text);
        }
        StmtKind::Run(run) => {
            let crate::ast::Run { flow, args, into } = &**run;
            p(k(Kw::Run));
            p(&flow.text);
            if !args.is_empty() {
                p(k(Kw::With));
                p(&names(args));
            }
            if let Some(v) = into {
                p(k(Kw::Into));
                p(&v.text);
            }
        }
        StmtKind::Return(e) => {
            p(k(Kw::Return));
            if let Some(e) = e {
                p(&expr(e, lang));
            }
        }
        StmtKind::Set { var, value } => {
            p(k(Kw::Set));
            p(&var.text);
            p("=");
            p(&expr(value, lang));
        }
        StmtKind::If(e) => {
            p(k(Kw::If));
            p(&expr(e, lang));
        }
        StmtKind::ElseIf(e) => {
            p(k(Kw::ElseIf));
            p(&expr(e, lang));
        }
        StmtKind::Else => p(k(Kw::Else)),
        StmtKind::Submit { op, args, into } | StmtKind::Lookup { op, args, into } => {
            p(k(if matches!(s.kind, StmtKind::Submit { .. }) {
                Kw::Submit
            } else {
                Kw::Lookup
            }));
            p(&op.name);
            if !args.is_empty() {
                p(k(Kw::With));
                p(&names(args));
            }
            p(k(Kw::Into));
            p(&into.text);
        }
        StmtKind::Transfer { dest, timeout } => {
            p(k(Kw::Transfer));
            p(&dest.name);
            if let Some(t) = timeout {
                p(k(Kw::Timeout));
                p(&dur(t, lang));
            }
        }
        StmtKind::Hangup => p(k(Kw::Hangup)),
        StmtKind::Invalid => p("--invalid"),
    }
    w.join(" ")
}

/// Formats an expression.
pub fn expr(e: &Expr, lang: Lang) -> String {
    match e {
        Expr::Num(n) => num(n),
        Expr::Str(s, _) => {
            let mut out = String::from("\"");
            for c in s.chars() {
                if c == '"' || c == '\\' {
                    out.push('\\');
                }
                out.push(c);
            }
            out.push('"');
            out
        }
        Expr::Var(v) => v.text.to_string(),
        Expr::WithinHours(h) => format!("{} {}", Kw::WithinHours.spell(lang), h.text),
        Expr::Not(e) => format!("{} {}", Kw::Not.spell(lang), expr(e, lang)),
        Expr::Neg(e) => format!("-{}", expr(e, lang)),
        Expr::Paren(e) => format!("({})", expr(e, lang)),
        Expr::Binary(op, ab) => {
            let [a, b] = &**ab;
            let sym = match op {
                BinOp::And => Kw::And.spell(lang),
                BinOp::Or => Kw::Or.spell(lang),
                o => o.symbol().unwrap_or("?"),
            };
            format!("{} {} {}", expr(a, lang), sym, expr(b, lang))
        }
    }
}
