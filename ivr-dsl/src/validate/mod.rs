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
    validate_with(
        src,
        script,
        env,
        syntax_ok,
        src.text.len() >= PARALLEL_BYTES,
    )
}

/// [`validate`], on two threads or on one.
pub fn validate_with(
    src: &Source,
    script: &Script,
    env: &Environment,
    syntax_ok: bool,
    parallel: bool,
) -> Vec<Diagnostic> {
    let checker = || Checker {
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
        default_counts: None,
    };
    let (mut local, mut paths, mut late) = (checker(), checker(), checker());
    if !syntax_ok {
        local.structure();
        local.names();
        return local.diags;
    }
    if parallel {
        // Two steps of two tasks each (on rayon's pool): the local checks beside building the
        // graph; then falling off and (ahead of time) reachability beside loops and
        // assignments. The findings are the same as on one thread (they are sorted
        // afterwards); the reachability warnings are dropped below if there are errors.
        let ((), graph) = rayon::join(
            || {
                local.structure();
                local.names();
            },
            || flow::graph(script),
        );
        if let Some((cfg, facts)) = &graph {
            rayon::join(
                || {
                    local.falling_off(cfg);
                    late.reachability(cfg, facts);
                },
                || paths.loops_and_assignment(cfg, facts),
            );
        }
    } else {
        local.structure();
        local.names();
        if let Some((cfg, facts)) = flow::graph(script) {
            paths.falling_off(&cfg);
            paths.loops_and_assignment(&cfg, &facts);
            if !crate::diag::has_errors(&local.diags) && !crate::diag::has_errors(&paths.diags) {
                late.reachability(&cfg, &facts);
            }
        }
    }
    let mut diags = local.diags;
    diags.append(&mut paths.diags);
    // Reachability and unused variables are noise while errors stand: a jump that does not
    // resolve leaves its intended target unreached.
    if !crate::diag::has_errors(&diags) {
        diags.append(&mut late.diags);
    }
    diags
}

/// Scripts smaller than this are checked on one thread.
const PARALLEL_BYTES: usize = 256 * 1024;

pub(crate) struct Checker<'a> {
    src: &'a Source,
    script: &'a Script,
    env: &'a Environment,
    diags: Vec<Diagnostic>,
    syntax_ok: bool,
    defaults: Option<&'a [Stmt]>,
    /// The counted handlers of `defaults`, once worked out.
    default_counts: Option<Vec<(crate::ast::Event, u64)>>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_threads_find_what_one_finds() {
        let hotline = include_str!("../../../flows/complaint_940.flow");
        for broken in [false, true] {
            let mut text = hotline.to_string();
            for i in 0..10 {
                text.push_str(&format!(
                    "\nflow extra{i}\n    set unused{i} = 1\n    say welcome\n    goto {}\n",
                    if broken { "nowhere" } else { "goodbye" }
                ));
            }
            let (src, _) = crate::sanitize::sanitize(text.as_bytes());
            let mut d = Vec::new();
            let (script, _) = crate::parse::parse_source(&src, &mut d);
            let env = Environment::default();
            let key = |v: Vec<Diagnostic>| -> Vec<(Code, u32)> {
                let mut k: Vec<_> = v.into_iter().map(|d| (d.code, d.span.start)).collect();
                k.sort();
                k
            };
            let one = key(validate_with(&src, &script, &env, true, false));
            let two = key(validate_with(&src, &script, &env, true, true));
            assert_eq!(one, two);
            // Broken: unknown targets, and no reachability noise. Clean: unreachable flows
            // and unused variables are reported.
            let codes: Vec<Code> = one.iter().map(|(c, _)| *c).collect();
            assert_eq!(codes.contains(&Code::UnknownTarget), broken);
            assert_eq!(codes.contains(&Code::UnusedVariable), !broken);
        }
    }
}
