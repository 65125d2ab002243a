//! Phase 4: the static checks of LANGUAGE.md, "Static checks".

mod flow;
mod names;
mod structure;

use crate::ast::{Ident, Script, Stmt, StmtKind};
use crate::catalog::Environment;
use crate::diag::{Code, Diagnostic};
use crate::fold;
use crate::sanitize::Source;

/// Checks a parsed script. `syntax_ok` is false when parsing reported errors: the path checks
/// (falling off, loops, assignment before use, reachability) are then skipped, because a line
/// that did not parse would make them report things that are not there.
pub fn validate(
    src: &Source,
    script: &Script,
    env: &Environment,
    syntax_ok: bool,
) -> Vec<Diagnostic> {
    let mut c = Checker {
        src,
        script,
        env,
        diags: Vec::new(),
        syntax_ok,
        defaults: script
            .stmts
            .iter()
            .find(|s| matches!(s.kind, StmtKind::Defaults))
            .map(|s| s.body.as_slice()),
    };
    c.structure();
    c.names();
    if syntax_ok {
        c.flows();
    }
    c.diags
}

pub(crate) struct Checker<'a> {
    src: &'a Source,
    script: &'a Script,
    env: &'a Environment,
    diags: Vec<Diagnostic>,
    syntax_ok: bool,
    defaults: Option<&'a [Stmt]>,
}

impl<'a> Checker<'a> {
    fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    fn kw_text(&self, s: &Stmt) -> String {
        s.kw_span_text(self.src)
    }

    /// The flows of the script.
    fn flows_iter(&self) -> impl Iterator<Item = (&'a Stmt, &'a Ident, &'a [Ident])> + 'a {
        self.script.stmts.iter().filter_map(|s| match &s.kind {
            StmtKind::Flow { name, params } => Some((s, name, params.as_slice())),
            _ => None,
        })
    }
}

/// Resolves `name` against `candidates` by identity; on failure, the diagnostic to report:
/// a loose match (E019) or an unknown name (`unknown`) with suggestions.
pub(crate) fn resolve<'c>(
    name: &Ident,
    candidates: &[&'c Ident],
    unknown: Code,
) -> Result<&'c Ident, Diagnostic> {
    if let Some(c) = candidates.iter().find(|c| c.key == name.key) {
        return Ok(c);
    }
    let loose = fold::loose_key(&name.text);
    if let Some(c) = candidates
        .iter()
        .find(|c| fold::loose_key(&c.text) == loose)
    {
        return Err(Diagnostic::new(Code::LooseMatch, name.span)
            .arg("name", name.text.clone())
            .arg("candidate", c.text.clone()));
    }
    let mut d = Diagnostic::new(unknown, name.span).arg("name", name.text.clone());
    if let Some(s) =
        fold::suggestions(&name.text, candidates.iter().map(|c| c.text.as_str())).first()
    {
        d = d.arg("suggestion", *s);
    }
    Err(d)
}

/// Walks every statement of a block, depth first.
pub(crate) fn walk<'a>(stmts: &'a [Stmt], f: &mut impl FnMut(&'a Stmt)) {
    for s in stmts {
        f(s);
        walk(&s.body, f);
    }
}
