//! Names, references, declarations, keys, handler counts, ranges, prompts.

use super::{Checker, resolve, walk};
use crate::ast::{Event, Ident, Key, SayWhat, Stmt, StmtKind};
use crate::catalog::OpKind;
use crate::diag::{Code, Diagnostic};
use crate::keywords::Lang;
use crate::span::Span;
use rustc_hash::FxHashMap as HashMap;
use std::collections::BTreeSet;

impl<'a> Checker<'a> {
    pub(super) fn names(&mut self) {
        let script = self.script;
        let mut langs: Option<Vec<Lang>> = None;
        let mut defaults: Option<&Stmt> = None;
        let mut hours: Vec<&Ident> = Vec::new();
        for s in &script.stmts {
            match &s.kind {
                StmtKind::Languages(l) => {
                    if langs.is_some() {
                        self.push(
                            Diagnostic::new(Code::DuplicateDeclaration, s.kw_span)
                                .arg("stmt", self.kw_text(s)),
                        );
                    }
                    langs = Some(l.clone());
                }
                StmtKind::Defaults => {
                    if defaults.is_some() {
                        self.push(
                            Diagnostic::new(Code::DuplicateDeclaration, s.kw_span)
                                .arg("stmt", self.kw_text(s)),
                        );
                    }
                    defaults = Some(s);
                }
                StmtKind::Hours(h) => {
                    self.unique(&hours, h, "@kind-hours");
                    hours.push(h);
                    self.hours_lines(s);
                }
                _ => {}
            }
        }
        let langs = match langs {
            Some(l) => l,
            None if !self.syntax_ok => Lang::ALL.to_vec(),
            None => {
                let at = script.stmts.first().map_or(
                    Span {
                        line: 1,
                        col: 1,
                        ..Span::default()
                    },
                    |s| s.kw_span,
                );
                self.push(Diagnostic::new(Code::NoLanguages, at));
                Lang::ALL.to_vec()
            }
        };
        let flows: Vec<(&Stmt, &Ident, &[Ident])> = self.flows_iter().collect();
        if flows.is_empty() && self.syntax_ok {
            let at = script.stmts.first().map_or(
                Span {
                    line: 1,
                    col: 1,
                    ..Span::default()
                },
                |s| s.kw_span,
            );
            self.push(Diagnostic::new(Code::NoFlow, at));
        }
        let mut fx = FlowIndex::default();
        for (_, name, params) in &flows {
            if let Some(&first) = fx.by_key.get(name.key.as_str()) {
                self.duplicate(fx.list[first], name, "@kind-flow");
            } else {
                fx.by_key.insert(name.key.as_str(), fx.list.len());
            }
            fx.list.push(name);
            fx.params.push(params);
        }
        let entry_key = flows.first().map(|(_, n, _)| n.key.as_str());
        let mut seen = Seen::default();
        if self.env.prompts.is_none() {
            self.push(Diagnostic::new(
                Code::NoCatalog,
                Span {
                    line: 1,
                    col: 1,
                    ..Span::default()
                },
            ));
        }
        let mut has_transfer = false;
        for (fstmt, fname, _) in &flows {
            let steps: Vec<&Ident> = {
                let mut v = Vec::new();
                for s in &fstmt.body {
                    if let StmtKind::Step(n) = &s.kind {
                        self.unique(&v, n, "@kind-step");
                        if fx.by_key.contains_key(n.key.as_str()) {
                            self.push(
                                Diagnostic::new(Code::StepShadowsFlow, n.span)
                                    .arg("name", n.text.clone()),
                            );
                        }
                        v.push(n);
                    }
                }
                v
            };
            let flow = Some(fname.key.as_str());
            walk(&fstmt.body, &mut |s| {
                has_transfer |= matches!(s.kind, StmtKind::Transfer { .. });
                self.statement(s, &langs, &steps, &fx, &hours, &mut seen, flow);
            });
        }
        if self.env.destinations.is_none() && has_transfer {
            self.push(Diagnostic::new(
                Code::NoProjectConfig,
                Span {
                    line: 1,
                    col: 1,
                    ..Span::default()
                },
            ));
        }
        if let Some(d) = defaults {
            walk(&d.body, &mut |s| {
                self.statement(s, &langs, &[], &fx, &hours, &mut seen, None);
            });
            self.handler_counts(&d.body, None);
        }
        // `return` belongs in a flow that some `run` calls (and that is not the entry flow);
        // the runs are all known only now.
        for &(flow, span) in &seen.returns {
            let subflow =
                flow.is_some_and(|f| seen.run_targets.contains(f) && entry_key != Some(f));
            if !subflow {
                self.push(Diagnostic::new(Code::ReturnOutsideSubflow, span));
            }
        }
        for h in hours {
            if !seen.used_hours.contains(h.key.as_str()) {
                self.push(Diagnostic::new(Code::UnusedHours, h.span).arg("name", h.text.clone()));
            }
        }
    }

    fn unique(&mut self, seen: &[&Ident], n: &Ident, kind: &'static str) {
        if let Some(first) = seen.iter().find(|s| s.key == n.key) {
            self.duplicate(first, n, kind);
        }
    }

    fn duplicate(&mut self, first: &Ident, n: &Ident, kind: &'static str) {
        {
            self.push(
                Diagnostic::new(Code::DuplicateName, n.span)
                    .arg("kind", kind)
                    .arg("name", n.text.clone())
                    .arg("first", format!("{}:{}", first.span.line, first.span.col)),
            );
        }
    }

    fn hours_lines(&mut self, h: &Stmt) {
        for l in &h.body {
            if let StmtKind::HoursRange {
                first,
                last,
                open,
                close,
            } = &l.kind
            {
                if close.minutes() <= open.minutes() {
                    self.push(Diagnostic::new(Code::BadHours, open.span.to(close.span)));
                }
                if let Some(last) = last
                    && last < first
                {
                    self.push(Diagnostic::new(Code::BadHours, l.span));
                }
            }
        }
    }

    fn range(
        &mut self,
        what: &'static str,
        span: Span,
        value: u64,
        min: u64,
        max: u64,
        unit: &str,
    ) {
        if value < min || value > max {
            self.push(
                Diagnostic::new(Code::OutOfRange, span)
                    .arg("what", what)
                    .arg("min", format!("{min}{unit}"))
                    .arg("max", format!("{max}{unit}")),
            );
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn statement(
        &mut self,
        s: &'a Stmt,
        langs: &[Lang],
        steps: &[&Ident],
        fx: &FlowIndex,
        hours: &[&'a Ident],
        seen: &mut Seen<'a>,
        flow: Option<&'a str>,
    ) {
        let lang_ok = |this: &mut Self, l: Lang, span: Span| {
            if !langs.contains(&l) {
                this.push(Diagnostic::new(Code::UndeclaredLanguage, span).arg("lang", l.code()));
            }
        };
        let mut exprs: Option<&crate::ast::Expr> = None;
        match &s.kind {
            StmtKind::Language(l) => lang_ok(self, *l, s.span),
            StmtKind::Say { what, lang, .. } => {
                if let Some(l) = lang {
                    lang_ok(self, *l, s.span);
                }
                let valid_id = |id: &str| {
                    id.chars().all(|c| {
                        c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_'
                    })
                };
                if let (SayWhat::Prompt(id), Some(cat)) = (what, &self.env.prompts)
                    && valid_id(&id.name)
                {
                    let check: Vec<Lang> = lang.map_or(langs.to_vec(), |l| vec![l]);
                    for l in check {
                        if !cat.has(l, &id.name) {
                            self.push(
                                Diagnostic::new(Code::MissingPrompt, id.span)
                                    .arg("id", id.name.clone())
                                    .arg("lang", l.code())
                                    .arg("dir", cat.dir.join(l.code()).display().to_string()),
                            );
                        }
                    }
                }
            }
            StmtKind::Goto(t) => {
                if steps.iter().any(|x| x.key == t.key) {
                    // A step of this flow.
                } else if let Some(&i) = fx.by_key.get(t.key.as_str()) {
                    if !fx.params[i].is_empty() {
                        self.push(
                            Diagnostic::new(Code::RunArguments, t.span)
                                .arg("name", t.text.clone())
                                .arg("detail", "@detail-goto-params"),
                        );
                    }
                } else {
                    let mut all: Vec<&Ident> = steps.to_vec();
                    all.extend(fx.list.iter().copied());
                    if let Err(d) = resolve(t, &all, Code::UnknownTarget) {
                        self.push(d);
                    }
                }
            }
            StmtKind::Run(run) => match fx.by_key.get(run.flow.key.as_str()) {
                None => {
                    if let Err(d) = resolve(&run.flow, &fx.list, Code::UnknownTarget) {
                        self.push(d);
                    }
                }
                Some(&i) => {
                    seen.run_targets.insert(run.flow.key.as_str());
                    let want: BTreeSet<&str> =
                        fx.params[i].iter().map(|p| p.key.as_str()).collect();
                    let got: BTreeSet<&str> = run.args.iter().map(|a| a.key.as_str()).collect();
                    if want != got {
                        let list =
                            |v: &BTreeSet<&str>| v.iter().copied().collect::<Vec<_>>().join(" ");
                        self.push(
                            Diagnostic::new(Code::RunArguments, s.span)
                                .arg("name", fx.list[i].text.clone())
                                .arg("detail", format!("{} ≠ {}", list(&got), list(&want))),
                        );
                    }
                }
            },
            StmtKind::Return(e) => {
                seen.returns.push((flow, s.kw_span));
                exprs = e.as_ref();
            }
            StmtKind::Submit { op, args, .. } | StmtKind::Lookup { op, args, .. } => {
                let want = if matches!(s.kind, StmtKind::Submit { .. }) {
                    OpKind::Submit
                } else {
                    OpKind::Lookup
                };
                match self.env.operations.get(op.name.as_str()) {
                    None => {
                        let mut d = Diagnostic::new(Code::UnknownOperation, op.span)
                            .arg("name", op.name.clone());
                        if let Some(sug) = crate::fold::suggestions(
                            &op.name,
                            self.env.operations.keys().map(String::as_str),
                        )
                        .first()
                        {
                            d = d.arg("suggestion", *sug);
                        }
                        self.push(d);
                    }
                    Some(spec) if spec.kind != want => {
                        self.push(
                            Diagnostic::new(Code::WrongOperationKind, op.span)
                                .arg("name", op.name.clone())
                                .arg("stmt", self.kw_text(s)),
                        );
                    }
                    Some(spec) => {
                        if let Some(fields) = &spec.fields
                            && fields.len() != args.len()
                        {
                            self.push(
                                Diagnostic::new(Code::OperationFields, op.span)
                                    .arg("name", op.name.clone())
                                    .arg("count", fields.len().to_string())
                                    .arg("fields", fields.join(" "))
                                    .arg("got", args.len().to_string()),
                            );
                        }
                    }
                }
            }
            StmtKind::Transfer { dest, timeout } => {
                if let Some(dests) = &self.env.destinations
                    && !dests.contains(dest.name.as_str())
                {
                    let mut d = Diagnostic::new(Code::UnknownDestination, dest.span)
                        .arg("name", dest.name.clone());
                    if let Some(sug) =
                        crate::fold::suggestions(&dest.name, dests.iter().map(String::as_str))
                            .first()
                    {
                        d = d.arg("suggestion", *sug);
                    }
                    self.push(d);
                }
                if let Some(t) = timeout {
                    self.range(
                        "@what-transfer-timeout",
                        t.span,
                        t.millis(),
                        1_000,
                        120_000,
                        "",
                    );
                }
            }
            StmtKind::Menu { timeout } => {
                if let Some(t) = timeout {
                    self.range("@what-timeout", t.span, t.millis(), 1_000, 30_000, "");
                }
                // '0'–'9', '*', '#'.
                let mut keys: [Option<&Key>; 12] = [None; 12];
                let slot = |c: char| match c {
                    '*' => 10,
                    '#' => 11,
                    c => c.to_digit(10).map_or(0, |d| d as usize),
                };
                for c in &s.body {
                    if let StmtKind::Press(k) = &c.kind
                        && let Some(first) = keys[slot(k.key)].replace(k)
                    {
                        self.push(
                            Diagnostic::new(Code::DuplicateKey, k.span)
                                .arg("key", key_name(k.key))
                                .arg("first", format!("{}:{}", first.span.line, first.span.col)),
                        );
                    }
                }
                self.handler_counts(&s.body, self.defaults_body());
            }
            StmtKind::Collect(c) => {
                let crate::ast::Collect {
                    min, max, timeout, ..
                } = &**c;
                self.range("@what-digits", min.span, min.value, 1, 32, "");
                if let Some(m) = max {
                    self.range("@what-digits", m.span, m.value, 1, 32, "");
                    if m.value < min.value {
                        self.push(
                            Diagnostic::new(Code::MinOverMax, min.span.to(m.span))
                                .arg("min", min.value.to_string())
                                .arg("max", m.value.to_string()),
                        );
                    }
                }
                if let Some(t) = timeout {
                    self.range("@what-timeout", t.span, t.millis(), 1_000, 30_000, "");
                }
                self.handler_counts(&s.body, self.defaults_body());
            }
            StmtKind::Record(rec) => {
                let crate::ast::Record { max, silence, .. } = &**rec;
                if let Some(m) = max {
                    self.range("@what-record-max", m.span, m.millis(), 1_000, 300_000, "");
                }
                if let Some(t) = silence {
                    self.range("@what-silence", t.span, t.millis(), 1_000, 30_000, "");
                }
                self.handler_counts(&s.body, self.defaults_body());
            }
            StmtKind::On { count: Some(n), .. } => {
                self.range("@what-count", n.span, n.value, 1, 10, "")
            }
            StmtKind::AfterAttempts(n) => self.range("@what-attempts", n.span, n.value, 1, 10, ""),
            StmtKind::Set { value, .. } => exprs = Some(value),
            StmtKind::If(e) | StmtKind::ElseIf(e) => exprs = Some(e),
            _ => {}
        }
        if let Some(e) = exprs {
            let mut hs = Vec::new();
            e.hours(&mut hs);
            for h in hs {
                match resolve(h, hours, Code::UnknownHours) {
                    Ok(found) => {
                        seen.used_hours.insert(found.key.as_str());
                    }
                    Err(d) => self.push(d),
                }
            }
        }
    }

    fn defaults_body(&self) -> Option<&'a [Stmt]> {
        self.defaults
    }

    /// Counted handlers of an input state (or of `defaults`): no duplicates, no gaps.
    fn handler_counts(&mut self, body: &[Stmt], defaults: Option<&[Stmt]>) {
        let mut local: Vec<((Event, u64), Span)> = Vec::new();
        let mut after: Vec<Span> = Vec::new();
        for s in body {
            match &s.kind {
                StmtKind::On {
                    event: e @ (Event::Noinput | Event::Nomatch),
                    count,
                } => {
                    let key = (*e, count.map_or(1, |c| c.value));
                    if local.iter().any(|(k, _)| *k == key) {
                        self.push(
                            Diagnostic::new(Code::DuplicateHandler, s.kw_span)
                                .arg("event", Event::name(key.0))
                                .arg("count", key.1.to_string()),
                        );
                    } else {
                        local.push((key, s.kw_span));
                    }
                }
                StmtKind::AfterAttempts(_) => after.push(s.kw_span),
                _ => {}
            }
        }
        for span in after.iter().skip(1) {
            self.push(
                Diagnostic::new(Code::DuplicateHandler, *span)
                    .arg("event", "after")
                    .arg("count", "-"),
            );
        }
        if local.is_empty() {
            return;
        }
        local.sort_by_key(|(k, _)| *k);
        // What `defaults` handles, worked out once per script.
        let inherited: &[(Event, u64)] = match defaults {
            Some(d) => self
                .default_counts
                .get_or_insert_with(|| counted_handlers(d)),
            None => &[],
        };
        let inherited = inherited.to_vec();
        for event in [Event::Noinput, Event::Nomatch] {
            let mut expected = 1;
            for &((e, n), span) in local.iter().filter(|((e, _), _)| *e == event) {
                let _ = e;
                while expected < n && inherited.contains(&(event, expected)) {
                    expected += 1;
                }
                if n > expected {
                    self.push(
                        Diagnostic::new(Code::HandlerGap, span)
                            .arg("event", Event::name(event))
                            .arg("count", n.to_string())
                            .arg("missing", expected.to_string()),
                    );
                }
                expected = n + 1;
            }
        }
    }
}

/// The counted `noinput`/`nomatch` handlers of a block, as (event, count).
fn counted_handlers(body: &[Stmt]) -> Vec<(Event, u64)> {
    body.iter()
        .filter_map(|s| match &s.kind {
            StmtKind::On {
                event: e @ (Event::Noinput | Event::Nomatch),
                count,
            } => Some((*e, count.map_or(1, |c| c.value))),
            _ => None,
        })
        .collect()
}

/// What the walk over the statements gathers for checks that need all of it.
#[derive(Default)]
struct Seen<'a> {
    /// Business hours that something tests.
    used_hours: BTreeSet<&'a str>,
    /// Flows that some `run` calls.
    run_targets: BTreeSet<&'a str>,
    /// Each `return`, with the flow it is in (`None`: a `defaults` handler).
    returns: Vec<(Option<&'a str>, Span)>,
}

/// The flows of a script, by name.
#[derive(Default)]
struct FlowIndex<'a> {
    list: Vec<&'a Ident>,
    by_key: HashMap<&'a str, usize>,
    params: Vec<&'a [Ident]>,
}

/// `1`, `star`, `hash`.
pub(crate) fn key_name(k: char) -> String {
    match k {
        '*' => "star".into(),
        '#' => "hash".into(),
        c => c.to_string(),
    }
}
