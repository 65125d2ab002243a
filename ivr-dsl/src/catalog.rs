//! What a script may refer to that is defined outside it: prompt ids (from the Fluent catalogs
//! under `prompts/<lang>/*.ftl`), backend operations and transfer destinations. The loader here
//! is the crate's only file access.

use crate::keywords::Lang;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Prompt message ids per language.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PromptCatalog {
    /// Language → message ids defined for it.
    pub ids: BTreeMap<Lang, BTreeSet<String>>,
    /// The folder it was read from.
    pub dir: PathBuf,
}

/// Why a catalog could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// A file or folder could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A Fluent file has syntax errors.
    #[error("{path}: {count} fluent syntax error(s), first: {first}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// How many errors.
        count: usize,
        /// The first, as fluent-syntax describes it.
        first: String,
    },
}

impl PromptCatalog {
    /// Reads message ids from `dir/<lang>/*.ftl` for each language folder that exists.
    pub fn load(dir: &Path) -> Result<Self, CatalogError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| CatalogError::Io { path, source }
        };
        let mut cat = PromptCatalog {
            dir: dir.to_path_buf(),
            ..Default::default()
        };
        std::fs::metadata(dir).map_err(io(dir))?;
        for lang in Lang::ALL {
            let ldir = dir.join(lang.code());
            if !ldir.is_dir() {
                continue;
            }
            let ids = cat.ids.entry(lang).or_default();
            for f in ftl_files(&ldir).map_err(io(&ldir))? {
                let text = std::fs::read_to_string(&f).map_err(io(&f))?;
                ids.extend(
                    message_ids(&text).map_err(|(count, first)| CatalogError::Syntax {
                        path: f.clone(),
                        count,
                        first,
                    })?,
                );
            }
        }
        Ok(cat)
    }

    /// Whether `id` exists for `lang`.
    pub fn has(&self, lang: Lang, id: &str) -> bool {
        self.ids.get(&lang).is_some_and(|s| s.contains(id))
    }
}

/// The `.ftl` files of a language folder, sorted.
pub fn ftl_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "ftl"))
        .collect();
    files.sort();
    Ok(files)
}

/// The message ids of one Fluent resource.
pub fn message_ids(text: &str) -> Result<Vec<String>, (usize, String)> {
    let res = match fluent_syntax::parser::parse(text) {
        Ok(r) => r,
        Err((_, errs)) => {
            let first = errs
                .first()
                .map(|e| format!("{:?}", e.kind))
                .unwrap_or_default();
            return Err((errs.len(), first));
        }
    };
    Ok(res
        .body
        .iter()
        .filter_map(|e| match e {
            fluent_syntax::ast::Entry::Message(m) => Some(m.id.name.to_string()),
            _ => None,
        })
        .collect())
}

/// Whether a backend operation writes or reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    /// Used with `submit`.
    Submit,
    /// Used with `lookup`.
    Lookup,
}

/// A backend operation as the checker sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpSpec {
    /// Write or read.
    pub kind: OpKind,
    /// The fields it takes, in order; the script passes variables positionally (so Arabic and
    /// English scripts fill the same fields). `None`: any number.
    pub fields: Option<Vec<String>>,
}

impl OpSpec {
    fn new(kind: OpKind, fields: &[&str]) -> Self {
        OpSpec {
            kind,
            fields: Some(fields.iter().map(|f| f.to_string()).collect()),
        }
    }
}

/// Everything outside the script that the checker consults.
#[derive(Clone, Debug)]
pub struct Environment {
    /// Prompt ids; `None` skips the prompt check (with warning W003).
    pub prompts: Option<PromptCatalog>,
    /// Backend operations.
    pub operations: BTreeMap<String, OpSpec>,
    /// Transfer destinations; `None` skips the check (with warning W007).
    pub destinations: Option<BTreeSet<String>>,
}

impl Default for Environment {
    fn default() -> Self {
        Environment {
            prompts: None,
            operations: [
                (
                    "create_complaint".to_string(),
                    OpSpec::new(OpKind::Submit, &["category", "district", "description"]),
                ),
                (
                    "complaint_status".to_string(),
                    OpSpec::new(OpKind::Lookup, &["ticket"]),
                ),
                (
                    "complaint_updated".to_string(),
                    OpSpec::new(OpKind::Lookup, &["ticket"]),
                ),
                (
                    "complaint_note".to_string(),
                    OpSpec::new(OpKind::Lookup, &["ticket"]),
                ),
            ]
            .into(),
            destinations: None,
        }
    }
}
