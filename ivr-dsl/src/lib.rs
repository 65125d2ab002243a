//! The ivr call-flow language.
//!
//! Operators write call flows with Arabic or English keywords (LANGUAGE.md and
//! `docs/language.md`). This crate reads them in phases that are each testable alone:
//!
//! 1. [`sanitize`]: bytes → text, rejecting bidi controls and other invisible trouble;
//! 2. [`lines`]: lines and indentation blocks;
//! 3. [`mod@parse`]: statements, with nom over `nom_locate` spans, into the [`ast`];
//! 4. [`validate`]: the static checks, against an [`Environment`] (prompts, operations,
//!    transfer destinations);
//! 5. [`mod@format`] (canonical layout, keyword translation) and [`graph`] (DOT, Mermaid).
//!
//! Diagnostics carry stable codes and are rendered in English or Arabic by [`render`].
//!
//! ```
//! let src = "languages en\nflow start\n    say welcome\n    hangup\n";
//! let checked = ivr_dsl::check(src.as_bytes(), &ivr_dsl::Environment::default());
//! assert!(!checked.has_errors());
//! let arabic = ivr_dsl::format::format_script(&checked.script, ivr_dsl::Lang::Ar);
//! assert!(arabic.contains("مسار start"));
//! ```

pub mod ast;
pub mod catalog;
pub mod cfg;
pub mod diag;
pub mod fold;
pub mod format;
pub mod graph;
pub mod keywords;
pub mod lines;
pub mod parse;
pub mod render;
pub mod sanitize;
pub mod span;
pub mod validate;

pub use ast::{Lang, Script};
pub use catalog::{Environment, OpKind, OpSpec, PromptCatalog};
pub use diag::{Code, Diagnostic, Severity};
pub use sanitize::Source;
pub use span::Span;

/// A script after parsing and checking.
#[derive(Debug)]
pub struct Checked {
    /// The sanitized text.
    pub source: Source,
    /// The tree (best effort when there are errors).
    pub script: Script,
    /// Every finding, sorted by position.
    pub diagnostics: Vec<Diagnostic>,
    /// How many keywords were written in Arabic and in English.
    pub keyword_counts: KeywordCounts,
}

/// Keyword counts per language.
#[derive(Clone, Copy, Debug, Default)]
pub struct KeywordCounts {
    /// Arabic keywords.
    pub ar: usize,
    /// English keywords.
    pub en: usize,
}

impl KeywordCounts {
    /// The language most keywords are in (English on a tie).
    pub fn majority(&self) -> Lang {
        if self.ar > self.en {
            Lang::Ar
        } else {
            Lang::En
        }
    }
}

impl Checked {
    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        diag::has_errors(&self.diagnostics)
    }
}

/// Parses without the semantic checks: sanitize, lines, statements, blocks.
pub fn parse(bytes: &[u8]) -> Checked {
    let (source, mut diagnostics) = sanitize::sanitize(bytes);
    let (script, keyword_counts) = parse::parse_source(&source, &mut diagnostics);
    sort(&mut diagnostics);
    Checked {
        source,
        script,
        diagnostics,
        keyword_counts,
    }
}

/// Parses and checks a script.
pub fn check(bytes: &[u8], env: &Environment) -> Checked {
    let mut c = parse(bytes);
    let syntax_ok = !c.has_errors();
    let more = validate::validate(&c.source, &c.script, env, syntax_ok);
    c.diagnostics.extend(more);
    sort(&mut c.diagnostics);
    c
}

fn sort(d: &mut Vec<Diagnostic>) {
    d.sort_by_key(|a| (a.span.line, a.span.col, a.code));
    d.dedup_by(|a, b| a.code == b.code && a.span.same_place(&b.span));
}
