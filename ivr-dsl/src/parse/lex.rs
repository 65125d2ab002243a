//! Phase 3a: tokens, as nom 8 parsers over `nom_locate` spans. Non-fatal findings (a mixed digit
//! family, a badly formed name) are recorded in the [`Ctx`] and parsing goes on.

use crate::ast::{Duration, ExtName, Ident, Key, Name, Num, TimeOfDay, TimeUnit};
use crate::diag::{Code, Diagnostic};
use crate::fold::{self, DigitFamily, Script, digit_value, fold_keyword, script_of};
use crate::keywords::{self, Kw, Lang};
use crate::sanitize::is_blank;
use crate::span::Span;
use nom::{IResult, Input};
use nom_locate::LocatedSpan;
use std::cell::RefCell;
use unicode_normalization::UnicodeNormalization;

/// Shared state while parsing one script.
#[derive(Default, Debug)]
pub struct Ctx {
    /// Findings that do not stop the line.
    pub diags: RefCell<Vec<Diagnostic>>,
    /// Keywords of the current line, with their language.
    pub kw_langs: RefCell<Vec<(Lang, Span)>>,
    /// Scratch space for folding words.
    fold_buf: RefCell<String>,
    /// The statement written inline after `press K`, `on …`, `after N attempts` on the line
    /// being parsed. It waits here rather than travel back through every parser's result (a
    /// statement is large) or in a box of its own.
    pub inline: RefCell<Option<crate::ast::Stmt>>,
    /// The byte offset where the current line starts, and whether the line is ASCII (then a
    /// column is a byte count, and nom_locate need not count characters).
    line: std::cell::Cell<(usize, bool)>,
}

impl Ctx {
    /// Notes the line about to be parsed: its start offset and whether it is ASCII.
    pub(crate) fn set_line(&self, start: usize, ascii: bool) {
        self.line.set((start, ascii));
    }

    pub(crate) fn report(&self, d: Diagnostic) {
        self.diags.borrow_mut().push(d);
    }

    /// Whether `word` folds to a reserved keyword.
    pub(crate) fn is_reserved(&self, word: &str) -> bool {
        keywords::is_reserved(fold::fold_keyword_in(word, &mut self.fold_buf.borrow_mut()))
    }

    /// The keyword table entries whose first word is `word` (folded).
    fn entries(&self, word: &str) -> Option<&'static [keywords::Entry]> {
        let mut buf = self.fold_buf.borrow_mut();
        keywords::table()
            .get(fold::fold_keyword_in(word, &mut buf))
            .map(Vec::as_slice)
    }

    /// Whether `word` folds to `folded`.
    fn folds_to(&self, word: &str, folded: &str) -> bool {
        fold::fold_keyword_in(word, &mut self.fold_buf.borrow_mut()) == folded
    }
}

/// Parser input.
pub type In<'a> = LocatedSpan<&'a str, &'a Ctx>;

/// A parse failure: where, and what was expected there (a Fluent id or a literal).
#[derive(Debug)]
pub struct PErr<'a> {
    /// Where parsing stopped.
    pub at: In<'a>,
    /// What would have been accepted.
    pub expected: &'static str,
    /// A specific diagnostic to report instead of a generic syntax error.
    pub diag: Option<Diagnostic>,
}

impl<'a> nom::error::ParseError<In<'a>> for PErr<'a> {
    fn from_error_kind(input: In<'a>, _kind: nom::error::ErrorKind) -> Self {
        PErr {
            at: input,
            expected: "@expect-something",
            diag: None,
        }
    }
    fn append(_input: In<'a>, _kind: nom::error::ErrorKind, other: Self) -> Self {
        other
    }
    fn or(self, other: Self) -> Self {
        if other.at.location_offset() >= self.at.location_offset() {
            other
        } else {
            self
        }
    }
}

/// Parser result.
pub type PResult<'a, T> = IResult<In<'a>, T, PErr<'a>>;

/// A recoverable error: the line is dropped but other lines go on.
pub fn fail<'a, T>(at: In<'a>, expected: &'static str) -> PResult<'a, T> {
    Err(nom::Err::Error(PErr {
        at,
        expected,
        diag: None,
    }))
}

/// An error with a specific diagnostic.
pub fn fail_with<'a, T>(at: In<'a>, diag: Diagnostic) -> PResult<'a, T> {
    Err(nom::Err::Failure(PErr {
        at,
        expected: "",
        diag: Some(diag),
    }))
}

/// The span of a fragment.
pub fn span_of(i: &In) -> Span {
    let at = i.location_offset();
    let (line_start, ascii) = i.extra.line.get();
    let col = if ascii && at >= line_start {
        at - line_start + 1
    } else {
        i.get_utf8_column()
    };
    Span::at(at, at + i.fragment().len(), i.location_line(), col as u32)
}

#[inline]
fn is_word_char(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric() || c == '_' || c == '-';
    }
    if matches!(c, '\u{0621}'..='\u{065F}' | '\u{0660}'..='\u{0669}' | '\u{0670}'..='\u{06D3}') {
        return true;
    }
    c.is_alphanumeric()
        || c == '_'
        || c == '-'
        || c == fold::TATWEEL
        || fold::is_haraka(c)
        || matches!(c, '\u{0610}'..='\u{061A}' | '\u{06D6}'..='\u{06ED}' | '\u{200C}' | '\u{200D}')
        || unicode_ident::is_xid_continue(c)
}

/// Skips blanks.
pub fn sp(i: In) -> PResult<In> {
    let frag = i.fragment();
    let n = match frag.as_bytes().first() {
        // Most tokens follow exactly one space, or none.
        Some(b) if b.is_ascii_graphic() => return Ok((i, i.take(0))),
        _ => frag.find(|c: char| !is_blank(c)).unwrap_or(frag.len()),
    };
    Ok(i.take_split(n))
}

/// Whether only blanks remain.
pub fn at_eol(i: &In) -> bool {
    i.fragment().chars().all(is_blank)
}

/// End of the line.
pub fn eol(i: In) -> PResult<()> {
    let (i, _) = sp(i)?;
    if i.fragment().is_empty() {
        Ok((i, ()))
    } else {
        fail(i, "@expect-eol")
    }
}

/// A word: letters, digits, `_`, `-` (not first), marks.
pub fn word(i: In) -> PResult<In> {
    let (i, _) = sp(i)?;
    let frag = i.fragment();
    match frag.chars().next() {
        Some(c) if is_word_char(c) && c != '-' => {}
        _ => return fail(i, "@expect-word"),
    }
    Ok(i.take_split(word_len(frag)))
}

/// The length in bytes of the word at the start of `s`; ASCII bytes are tested directly.
fn word_len(s: &str) -> usize {
    let bytes = s.as_bytes();
    let mut n = 0;
    while let Some(&b) = bytes.get(n) {
        if b.is_ascii() {
            if !(b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
                return n;
            }
            n += 1;
        } else {
            match s.get(n..).and_then(|t| t.chars().next()) {
                Some(c) if is_word_char(c) => n += c.len_utf8(),
                _ => return n,
            }
        }
    }
    n
}

/// One character `c`.
pub fn symbol(c: char) -> impl Fn(In) -> PResult<In> {
    move |i: In| {
        let (i, _) = sp(i)?;
        if i.fragment().starts_with(c) {
            Ok(i.take_split(c.len_utf8()))
        } else {
            fail(i, "@expect-symbol")
        }
    }
}

/// Any keyword (longest spelling wins), with its language and span.
pub fn any_kw(i: In) -> PResult<(Kw, Lang, Span)> {
    let (rest, first) = word(i)?;
    let Some(entries) = first.extra.entries(first.fragment()) else {
        return fail(first, "@expect-keyword");
    };
    'entries: for e in entries {
        let mut r = rest;
        let mut end = first;
        for w in &e.rest {
            match word(r) {
                Ok((r2, wspan)) if r.extra.folds_to(wspan.fragment(), w) => {
                    r = r2;
                    end = wspan;
                }
                _ => continue 'entries,
            }
        }
        let sp = span_of(&first).to(span_of(&end));
        r.extra.kw_langs.borrow_mut().push((e.lang, sp));
        return Ok((r, (e.kw, e.lang, sp)));
    }
    fail(first, "@expect-keyword")
}

/// The keyword `kw`.
pub fn kw(want: Kw) -> impl Fn(In) -> PResult<Span> {
    move |i: In| match any_kw(i) {
        Ok((r, (k, _, s))) if k == want => Ok((r, s)),
        _ => {
            // Keep the keyword list consistent when backtracking.
            let (i, _) = sp(i)?;
            fail(i, expected_kw(want))
        }
    }
}

/// Tries keyword `want`; on mismatch returns `None` and consumes nothing.
pub fn opt_kw(want: Kw) -> impl Fn(In) -> PResult<Option<Span>> {
    move |i: In| {
        let mark = i.extra.kw_langs.borrow().len();
        match kw(want)(i) {
            Ok((r, s)) => Ok((r, Some(s))),
            Err(nom::Err::Error(_)) => {
                i.extra.kw_langs.borrow_mut().truncate(mark);
                Ok((i, None))
            }
            Err(e) => Err(e),
        }
    }
}

/// Peeks at the next keyword without consuming it.
pub fn peek_kw(i: In) -> Option<Kw> {
    let mark = i.extra.kw_langs.borrow().len();
    let r = any_kw(i).ok().map(|(_, (k, _, _))| k);
    i.extra.kw_langs.borrow_mut().truncate(mark);
    r
}

/// "`to` / `إلى`" for messages.
pub fn expected_kw(k: Kw) -> &'static str {
    use std::collections::HashMap;
    use std::sync::OnceLock;
    static CACHE: OnceLock<HashMap<&'static str, &'static str>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| {
        Kw::ALL
            .iter()
            .map(|k| {
                let s: &'static str =
                    format!("`{}` / `{}`", k.spell(Lang::En), k.spell(Lang::Ar)).leak();
                (k.spell(Lang::En), s)
            })
            .collect()
    });
    cache
        .get(k.spell(Lang::En))
        .copied()
        .unwrap_or("@expect-keyword")
}

/// Digits of one family → value. Reports mixed families (E010) and overflow (E011).
fn digits_value(w: &In) -> Option<(u64, DigitFamily)> {
    let mut value: u64 = 0;
    let mut family = None;
    let mut mixed = false;
    let mut overflow = false;
    for c in w.fragment().chars() {
        let (d, f) = digit_value(c)?;
        match family {
            None => family = Some(f),
            Some(g) if g != f => mixed = true,
            _ => {}
        }
        match value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(d)))
        {
            Some(v) => value = v,
            None => overflow = true,
        }
    }
    let sp = span_of(w);
    if mixed {
        w.extra
            .report(Diagnostic::new(Code::MixedDigits, sp).arg("text", *w.fragment()));
    }
    if overflow {
        w.extra.report(
            Diagnostic::new(Code::BadLiteral, sp)
                .arg("what", "@what-number")
                .arg("text", *w.fragment()),
        );
        value = u64::MAX;
    }
    Some((value, family.unwrap_or_default()))
}

/// A whole number in any one digit family.
pub fn number(i: In) -> PResult<Num> {
    let (r, w) = word(i)?;
    match digits_value(&w) {
        Some((value, family)) => Ok((
            r,
            Num {
                value,
                family,
                span: span_of(&w),
            },
        )),
        None => fail(w, "@expect-number"),
    }
}

fn unit_of(s: &str) -> Option<TimeUnit> {
    Some(match fold_keyword(s).as_ref() {
        "ms" | "مث" => TimeUnit::Ms,
        "s" | "sec" | "ث" | "ثانيه" | "ثوان" | "ثواني" => TimeUnit::S,
        "min" | "د" | "دقيقه" | "دقايق" | "دقائق" => TimeUnit::Min,
        _ => return None,
    })
}

/// A duration: a number and a unit, `6s`, `6 s`, `6 ث`.
pub fn duration(i: In) -> PResult<Duration> {
    let (r, w) = word(i)?;
    let frag = w.fragment();
    let split = frag
        .char_indices()
        .find(|&(_, c)| digit_value(c).is_none())
        .map_or(frag.len(), |(o, _)| o);
    if split == 0 {
        return fail(w, "@expect-duration");
    }
    let (digits, tail) = w.take_split(split);
    let (value, family) = digits_value(&tail).unwrap_or((0, DigitFamily::Ascii));
    let amount = Num {
        value,
        family,
        span: span_of(&tail),
    };
    let (r, unit, end) = if !digits.fragment().is_empty() {
        match unit_of(digits.fragment()) {
            Some(u) => (r, u, span_of(&w)),
            None => return bad_unit(w),
        }
    } else {
        match word(r) {
            Ok((r2, uw)) => match unit_of(uw.fragment()) {
                Some(u) => (r2, u, span_of(&uw)),
                None => return bad_unit(w),
            },
            Err(_) => return bad_unit(w),
        }
    };
    Ok((
        r,
        Duration {
            amount,
            unit,
            span: span_of(&w).to(end),
        },
    ))
}

fn bad_unit<'a, T>(w: In<'a>) -> PResult<'a, T> {
    let d = Diagnostic::new(Code::BadLiteral, span_of(&w))
        .arg("what", "@what-duration")
        .arg("text", *w.fragment());
    fail_with(w, d)
}

/// A time of day `HH:MM`.
pub fn time_of_day(i: In) -> PResult<TimeOfDay> {
    let (r, h) = number(i)?;
    let Ok((r, _)) = symbol(':')(r) else {
        return fail(r, "@expect-time");
    };
    let (r, m) = number(r)?;
    let span = h.span.to(m.span);
    if h.family != m.family {
        r.extra
            .report(Diagnostic::new(Code::MixedDigits, span).arg("text", "HH:MM"));
    }
    if h.value > 24 || m.value > 59 || (h.value == 24 && m.value != 0) {
        let d = Diagnostic::new(Code::BadLiteral, span)
            .arg("what", "@what-time")
            .arg("text", format!("{}:{}", h.value, m.value));
        return fail_with(r, d);
    }
    Ok((
        r,
        TimeOfDay {
            hour: h.value as u8,
            minute: m.value as u8,
            family: h.family,
            span,
        },
    ))
}

/// A phone key: one digit, `*`, `#`, `star`, `hash`.
pub fn key(i: In) -> PResult<Key> {
    let (i, _) = sp(i)?;
    for (sym, k) in [('*', '*'), ('#', '#')] {
        if let Ok((r, s)) = symbol(sym)(i) {
            return Ok((
                r,
                Key {
                    key: k,
                    family: DigitFamily::Ascii,
                    span: span_of(&s),
                },
            ));
        }
    }
    if let Ok((r, (k, _, s))) = any_kw(i) {
        let c = match k {
            Kw::Star => '*',
            Kw::Hash => '#',
            _ => return bad_key(i),
        };
        return Ok((
            r,
            Key {
                key: c,
                family: DigitFamily::Ascii,
                span: s,
            },
        ));
    }
    let Ok((r, w)) = word(i) else {
        return bad_key(i);
    };
    let mut cs = w.fragment().chars();
    match (cs.next().and_then(digit_value), cs.next()) {
        (Some((d, family)), None) => Ok((
            r,
            Key {
                key: char::from_digit(d, 10).unwrap_or('0'),
                family,
                span: span_of(&w),
            },
        )),
        _ => bad_key(w),
    }
}

fn bad_key<'a, T>(i: In<'a>) -> PResult<'a, T> {
    let (i, _) = sp(i)?;
    let text: String = i
        .fragment()
        .split(is_blank)
        .next()
        .unwrap_or("")
        .to_string();
    let d = Diagnostic::new(Code::BadKey, span_of(&i.take(text.len()))).arg("text", text);
    fail_with(i, d)
}

/// Checks a word as a name and builds the [`Ident`] (reports E013 but keeps going).
pub fn make_ident(w: &In) -> Ident {
    build_ident(w, true)
}

/// [`make_ident`] for a word already known not to be a keyword.
fn build_ident(w: &In, check_reserved: bool) -> Ident {
    let text: &str = w.fragment();
    let span = span_of(w);
    if let Some(reason) = name_problem(w.extra, text, check_reserved) {
        let mut d = Diagnostic::new(Code::BadName, span)
            .arg("name", text)
            .arg("reason", reason);
        if reason == "@reason-hyphen" {
            let fixed = text.replace('-', " - ");
            d = d.arg("fix", fixed);
        }
        w.extra.report(d);
    }
    Ident::new(text, span)
}

fn name_problem(ctx: &Ctx, text: &str, check_reserved: bool) -> Option<&'static str> {
    let first_ok = text.chars().next().is_some_and(|c| {
        c == '_' || c.is_ascii_alphabetic() || matches!(c, '\u{0621}'..='\u{064A}')
    });
    let latin = text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    let arabic = text
        .chars()
        .all(|c| matches!(c, '\u{0621}'..='\u{064A}' | '\u{0660}'..='\u{0669}' | '_' | '0'..='9'));
    if first_ok && (latin || arabic) {
        // The common case: plain Latin or Arabic letters.
        return (check_reserved && ctx.is_reserved(text)).then_some("@reason-keyword");
    }
    let nfkc: String = text.nfkc().collect();
    if check_reserved && ctx.is_reserved(text) {
        return Some("@reason-keyword");
    }
    if nfkc.contains('-') {
        return Some("@reason-hyphen");
    }
    let mut chars = nfkc.chars();
    let first = chars.next()?;
    if !(unicode_ident::is_xid_start(first) || first == '_') {
        return Some("@reason-start");
    }
    if !chars.all(unicode_ident::is_xid_continue) {
        return Some("@reason-chars");
    }
    let mut seen: Option<Script> = None;
    for c in nfkc.chars() {
        match (script_of(c), seen) {
            (Some(Script::Other), _) => return Some("@reason-script"),
            (Some(s), None) => seen = Some(s),
            (Some(s), Some(t)) if s != t => return Some("@reason-mixed"),
            _ => {}
        }
    }
    None
}

/// A name.
pub fn ident(i: In) -> PResult<Ident> {
    let (r, w) = word(i)?;
    if w.extra.is_reserved(w.fragment()) {
        let d = Diagnostic::new(Code::BadName, span_of(&w))
            .arg("name", *w.fragment())
            .arg("reason", "@reason-keyword");
        return fail_with(w, d);
    }
    Ok((r, build_ident(&w, false)))
}

/// A name in a word already read and known not to start a keyword.
pub(crate) fn ident_word(w: &In) -> Ident {
    build_ident(w, false)
}

/// Whether the word `w` starts some keyword (one word or more).
pub(crate) fn starts_keyword(w: &In) -> bool {
    w.extra.entries(w.fragment()).is_some()
}

/// Checks a word as an external name (prompt id, operation, destination).
pub fn make_ext(w: &In) -> ExtName {
    let name = Name::from(*w.fragment());
    let ok = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric());
    if !ok {
        w.extra
            .report(Diagnostic::new(Code::BadExtName, span_of(w)).arg("name", name.clone()));
    }
    ExtName {
        name,
        span: span_of(w),
    }
}

/// An external name.
pub fn ext_name(i: In) -> PResult<ExtName> {
    let (r, w) = word(i)?;
    Ok((r, make_ext(&w)))
}

/// A string literal `"…"` with `\"` and `\\`, which must end the line (E046).
pub fn string(i: In) -> PResult<(Name, Span)> {
    let (i, _) = sp(i)?;
    if !i.fragment().starts_with('"') {
        return fail(i, "@expect-string");
    }
    let frag = i.fragment();
    let mut out = Name::const_new("");
    let mut chars = frag.char_indices().skip(1);
    let mut close = None;
    while let Some((o, c)) = chars.next() {
        match c {
            '"' => {
                close = Some(o);
                break;
            }
            '\\' => match chars.next() {
                Some((_, e @ ('"' | '\\'))) => out.push(e),
                Some((eo, e)) => {
                    let at = i.take_from(o).take(eo + e.len_utf8() - o);
                    let d = Diagnostic::new(Code::BadString, span_of(&at))
                        .arg("detail", "@string-escape")
                        .arg("text", format!("\\{e}"));
                    return fail_with(at, d);
                }
                None => break,
            },
            c => out.push(c),
        }
    }
    let Some(close) = close else {
        let d = Diagnostic::new(Code::BadString, span_of(&i)).arg("detail", "@string-unterminated");
        return fail_with(i, d);
    };
    let (r, lit) = i.take_split(close + 1);
    if !at_eol(&r) {
        let (r2, _) = sp(r)?;
        let d = Diagnostic::new(Code::StringNotLast, span_of(&r2));
        return fail_with(r2, d);
    }
    let value = if out.is_ascii() {
        out
    } else {
        out.nfc().collect()
    };
    Ok((r, (value, span_of(&lit))))
}

/// A description of what is at `i`, for "found …" in messages.
pub fn found(i: &In) -> String {
    let frag = i.fragment().trim_start_matches(is_blank);
    if frag.is_empty() {
        return "@found-eol".into();
    }
    let w: String = frag.chars().take_while(|&c| is_word_char(c)).collect();
    if w.is_empty() {
        frag.chars().next().map(String::from).unwrap_or_default()
    } else {
        w
    }
}
