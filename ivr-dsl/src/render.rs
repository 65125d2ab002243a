//! Turning diagnostics into text: the Fluent message catalogs (English and Arabic), the
//! human rendering (a greppable first line, then a source snippet by codespan-reporting) and
//! JSON lines.

use crate::diag::Diagnostic;
use crate::keywords::Lang;
use crate::sanitize::Source;
use codespan_reporting::diagnostic::{Diagnostic as CsDiag, Label};
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term::{self, Config};
use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource};
use std::sync::OnceLock;

/// The message catalogs.
pub struct Messages {
    en: FluentBundle<FluentResource>,
    ar: FluentBundle<FluentResource>,
}

const EN: &str = include_str!("../messages/en.ftl");
const AR: &str = include_str!("../messages/ar.ftl");

fn bundle(lang: &str, text: &'static str) -> FluentBundle<FluentResource> {
    // The catalogs are part of the crate; a test parses them, so these cannot fail at run time.
    let res = FluentResource::try_new(text.to_string()).unwrap_or_else(|(r, _)| r);
    let id: unic_langid::LanguageIdentifier = lang.parse().unwrap_or_default();
    let mut b = FluentBundle::new_concurrent(vec![id]);
    b.set_use_isolating(false);
    let _ = b.add_resource(res);
    b
}

impl Messages {
    /// The shared catalogs.
    pub fn get() -> &'static Messages {
        static M: OnceLock<Messages> = OnceLock::new();
        M.get_or_init(|| Messages {
            en: bundle("en", EN),
            ar: bundle("ar", AR),
        })
    }

    fn bundle(&self, lang: Lang) -> &FluentBundle<FluentResource> {
        match lang {
            Lang::Ar => &self.ar,
            Lang::En => &self.en,
        }
    }

    /// Formats message `id` with `args`; `None` if the message does not exist or an argument
    /// it uses is missing. Argument values starting with `@` name another message.
    pub fn format(&self, lang: Lang, id: &str, args: &[(&'static str, String)]) -> Option<String> {
        let b = self.bundle(lang);
        let msg = b.get_message(id)?;
        let pattern = msg.value()?;
        let mut fargs = FluentArgs::new();
        for (k, v) in args {
            let plain: Vec<(&'static str, String)> = args
                .iter()
                .filter(|(_, v)| !v.starts_with('@'))
                .cloned()
                .collect();
            let v = match v.strip_prefix('@') {
                Some(r) => self.format(lang, r, &plain).unwrap_or_else(|| v.clone()),
                None => v.clone(),
            };
            fargs.set(*k, v);
        }
        let mut errors = Vec::new();
        let s = b.format_pattern(pattern, Some(&fargs), &mut errors);
        errors.is_empty().then(|| s.into_owned())
    }

    /// The message, label and help of a diagnostic.
    pub fn describe(&self, d: &Diagnostic, lang: Lang) -> (String, Option<String>, Option<String>) {
        let code = d.code.as_str();
        let message = self
            .format(lang, code, &d.args)
            .or_else(|| self.format(Lang::En, code, &d.args))
            .unwrap_or_else(|| code.to_string());
        let label = self.format(lang, &format!("{code}-label"), &d.args);
        let help = self.format(lang, &format!("{code}-help"), &d.args);
        (message, label, help)
    }
}

/// Renders diagnostics for a person: `FILE:LINE:COL: error[E0xx]: message`, then the snippet.
pub fn render_human(
    diags: &[Diagnostic],
    file: &str,
    src: &Source,
    lang: Lang,
    color: bool,
) -> String {
    let files = SimpleFile::new(file, src.text.as_str());
    let config = Config::default();
    let mut out = String::new();
    for d in diags {
        let (message, label, help) = Messages::get().describe(d, lang);
        out.push_str(&format!(
            "{file}:{}:{}: {}[{}]: {message}\n",
            d.span.line,
            d.span.col,
            d.severity().as_str(),
            d.code.as_str()
        ));
        let mut cs = match d.severity() {
            crate::diag::Severity::Error => CsDiag::error(),
            crate::diag::Severity::Warning => CsDiag::warning(),
        }
        .with_code(d.code.as_str())
        .with_message(message);
        if d.span.end >= d.span.start && d.span.range().end <= src.text.len() && d.span.line > 0 {
            cs = cs.with_labels(vec![
                Label::primary((), d.span.range()).with_message(label.unwrap_or_default()),
            ]);
        }
        if let Some(h) = help {
            cs = cs.with_notes(vec![format!("help: {h}")]);
        }
        let mut buf = if color {
            term::termcolor::Buffer::ansi()
        } else {
            term::termcolor::Buffer::no_color()
        };
        if term::emit_to_write_style(&mut buf, &config, &files, &cs).is_ok() {
            let text = String::from_utf8_lossy(buf.as_slice()).into_owned();
            // The first line repeats the header we already wrote.
            out.push_str(text.split_once('\n').map_or("", |(_, rest)| rest));
        }
    }
    out
}

/// One JSON object per diagnostic, one per line.
pub fn render_json(diags: &[Diagnostic], file: &str, src: &Source, lang: Lang) -> String {
    let mut out = String::new();
    for d in diags {
        let (message, label, help) = Messages::get().describe(d, lang);
        let v = serde_json::json!({
            "file": file,
            "line": d.span.line,
            "column": d.span.col,
            "end_column": src.end_col(&d.span),
            "severity": d.severity().as_str(),
            "code": d.code.as_str(),
            "message": message,
            "label": label,
            "help": help,
        });
        out.push_str(&v.to_string());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Code;

    #[test]
    fn catalogs_parse_and_cover_every_code() {
        for text in [EN, AR] {
            assert!(FluentResource::try_new(text.to_string()).is_ok());
        }
        for &c in Code::ALL {
            for lang in Lang::ALL {
                assert!(
                    Messages::get().bundle(lang).has_message(c.as_str()),
                    "{} missing in {:?}",
                    c.as_str(),
                    lang
                );
                assert!(
                    Messages::get()
                        .bundle(lang)
                        .has_message(&format!("{}-label", c.as_str())),
                    "{}-label missing in {:?}",
                    c.as_str(),
                    lang
                );
            }
        }
    }

    #[test]
    fn both_catalogs_have_the_same_ids() {
        let ids = |t: &str| {
            let mut v = crate::catalog::message_ids(t).unwrap_or_default();
            v.sort();
            v
        };
        assert_eq!(ids(EN), ids(AR));
    }
}
