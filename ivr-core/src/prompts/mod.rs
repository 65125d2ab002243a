//! Prompt catalog: Fluent text per language (`prompts/<lang>/*.ftl`), loaded once and shared
//! by all calls, and values spoken by language rules ([`say`]).

pub mod say;

use crate::flow::Fragment;
use fluent_bundle::FluentResource;
use fluent_bundle::concurrent::FluentBundle;
use ivr_dsl::Lang;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Why a catalog could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    /// A file or folder could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// Path.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// A Fluent file did not parse.
    #[error("{path}: fluent syntax error: {detail}")]
    Syntax {
        /// Path.
        path: PathBuf,
        /// First error.
        detail: String,
    },
}

/// The prompt texts of every language, loaded once.
pub struct Catalog {
    bundles: BTreeMap<Lang, FluentBundle<FluentResource>>,
    dir: PathBuf,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog").field("dir", &self.dir).finish()
    }
}

impl Catalog {
    /// Loads `dir/<lang>/*.ftl` for every language folder present.
    pub fn load(dir: &Path) -> Result<Catalog, PromptError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| PromptError::Io { path, source }
        };
        std::fs::metadata(dir).map_err(io(dir))?;
        let mut bundles = BTreeMap::new();
        for lang in Lang::ALL {
            let ldir = dir.join(lang.code());
            if !ldir.is_dir() {
                continue;
            }
            let id: unic_langid::LanguageIdentifier = lang.code().parse().unwrap_or_default();
            let mut bundle = FluentBundle::new_concurrent(vec![id]);
            // Speech and SMS text: no Unicode isolation marks around placeables.
            bundle.set_use_isolating(false);
            let mut files: Vec<PathBuf> = std::fs::read_dir(&ldir)
                .map_err(io(&ldir))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "ftl"))
                .collect();
            files.sort();
            for f in files {
                let text = std::fs::read_to_string(&f).map_err(io(&f))?;
                let res =
                    FluentResource::try_new(text).map_err(|(_, errs)| PromptError::Syntax {
                        path: f.clone(),
                        detail: errs.first().map(|e| format!("{e:?}")).unwrap_or_default(),
                    })?;
                bundle.add_resource_overriding(res);
            }
            bundles.insert(lang, bundle);
        }
        Ok(Catalog {
            bundles,
            dir: dir.to_path_buf(),
        })
    }

    /// The folder it was loaded from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The text of prompt `id` in `lang`.
    pub fn text(&self, lang: Lang, id: &str) -> Option<String> {
        let b = self.bundles.get(&lang)?;
        let pattern = b.get_message(id)?.value()?;
        let mut errors = Vec::new();
        let s = b.format_pattern(pattern, None, &mut errors);
        Some(s.into_owned())
    }

    /// The text of a fragment, as a caller would hear it.
    pub fn fragment_text(&self, f: &Fragment) -> String {
        match f {
            Fragment::Prompt { id, lang } => {
                self.text(*lang, id).unwrap_or_else(|| format!("[{id}]"))
            }
            Fragment::Value { text, style, lang } => {
                say::say(text, *style, *lang, say::Gender::Masculine).text
            }
            Fragment::Recording(r) => format!("[recording {} ms]", r.duration_ms),
            Fragment::Beep => "[beep]".into(),
        }
    }
}
