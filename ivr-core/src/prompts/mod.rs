//! Prompt catalog: Fluent text per language (`prompts/<lang>/*.ftl`), loaded once and shared
//! by all calls, and values spoken by language rules ([`say`]).

pub mod audio;
pub mod bank;
pub mod build;
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
    /// An audio file is unusable.
    #[error(transparent)]
    Audio(#[from] audio::AudioError),
}

impl PromptError {
    /// Who is at fault: the prompt folder.
    pub fn fault(&self) -> crate::vocab::Fault {
        crate::vocab::Fault::Local
    }
}

/// A message of a catalog: its id, its text, and the id whose audio it uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// Message id.
    pub id: String,
    /// Its text.
    pub text: String,
    /// `.audio = other-id`: use another message's audio (default: its own).
    pub audio: String,
}

/// The prompt texts of every language, loaded once.
pub struct Catalog {
    bundles: BTreeMap<Lang, FluentBundle<FluentResource>>,
    dir: PathBuf,
    messages: BTreeMap<Lang, Vec<Message>>,
    audio: BTreeMap<(Lang, String), audio::Audio>,
    fragments: BTreeMap<(Lang, String), audio::Audio>,
    /// Where value fragments come from when this catalog has none (a script's own prompt
    /// folder falls back to the project's shipped fragments).
    fallback: Option<Box<Catalog>>,
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
        let mut messages: BTreeMap<Lang, Vec<Message>> = BTreeMap::new();
        let mut sounds = BTreeMap::new();
        let mut fragments = BTreeMap::new();
        for lang in Lang::ALL {
            let ldir = dir.join(lang.code());
            if !ldir.is_dir() {
                continue;
            }
            let id: unic_langid::LanguageIdentifier = lang.code().parse().unwrap_or_default();
            let mut bundle = FluentBundle::new_concurrent(vec![id]);
            // Speech and SMS text: no Unicode isolation marks around placeables.
            bundle.set_use_isolating(false);
            for f in ivr_dsl::catalog::ftl_files(&ldir).map_err(io(&ldir))? {
                let text = std::fs::read_to_string(&f).map_err(io(&f))?;
                messages
                    .entry(lang)
                    .or_default()
                    .extend(parse_messages(&text));
                let res =
                    FluentResource::try_new(text).map_err(|(_, errs)| PromptError::Syntax {
                        path: f.clone(),
                        detail: errs.first().map(|e| format!("{e:?}")).unwrap_or_default(),
                    })?;
                bundle.add_resource_overriding(res);
            }
            bundles.insert(lang, bundle);
            for (sub, into) in [
                (ldir.clone(), &mut sounds),
                (ldir.join("say"), &mut fragments),
            ] {
                if !sub.is_dir() {
                    continue;
                }
                for e in std::fs::read_dir(&sub)
                    .map_err(io(&sub))?
                    .filter_map(Result::ok)
                {
                    let p = e.path();
                    if p.extension().is_some_and(|x| x == "wav")
                        && let Some(stem) = p.file_stem().and_then(|s| s.to_str())
                    {
                        into.insert((lang, stem.to_string()), audio::read_wav(&p)?);
                    }
                }
            }
        }
        Ok(Catalog {
            bundles,
            dir: dir.to_path_buf(),
            messages,
            audio: sounds,
            fragments,
            fallback: None,
        })
    }

    /// Uses `other`'s value fragments for any this catalog lacks.
    pub fn with_fragment_fallback(mut self, other: Catalog) -> Catalog {
        self.fallback = Some(Box::new(other));
        self
    }

    /// The messages of a language, in file order.
    pub fn messages(&self, lang: Lang) -> &[Message] {
        self.messages.get(&lang).map_or(&[], Vec::as_slice)
    }

    /// The prompt ids of every language, as the script checker wants them: a project loads
    /// its prompts once and checks scripts against what it loaded.
    pub fn prompt_ids(&self) -> ivr_dsl::PromptCatalog {
        ivr_dsl::PromptCatalog {
            ids: self
                .messages
                .iter()
                .map(|(l, ms)| (*l, ms.iter().map(|m| m.id.clone()).collect()))
                .collect(),
            dir: self.dir.clone(),
        }
    }

    /// The languages that have a folder.
    pub fn languages(&self) -> Vec<Lang> {
        self.bundles.keys().copied().collect()
    }

    /// The audio of prompt `id` (following its `.audio` reference).
    pub fn audio(&self, lang: Lang, id: &str) -> Option<&audio::Audio> {
        let target = self
            .messages(lang)
            .iter()
            .find(|m| m.id == id)
            .map_or(id, |m| m.audio.as_str());
        self.audio.get(&(lang, target.to_string()))
    }

    /// Every prompt sound (`<lang>/<name>.wav`) by language and file name.
    pub fn sounds(&self) -> impl Iterator<Item = (Lang, &str, &audio::Audio)> {
        self.audio.iter().map(|((l, n), a)| (*l, n.as_str(), a))
    }

    /// Every value fragment (`<lang>/say/<name>.wav`), this catalog's first, then the
    /// fallback's that this one lacks.
    pub fn fragment_sounds(&self) -> Vec<(Lang, &str, &audio::Audio)> {
        let mut all: Vec<(Lang, &str, &audio::Audio)> = self
            .fragments
            .iter()
            .map(|((l, n), a)| (*l, n.as_str(), a))
            .collect();
        if let Some(f) = self.fallback.as_ref() {
            for (l, n, a) in f.fragment_sounds() {
                if !self.fragments.contains_key(&(l, n.to_string())) {
                    all.push((l, n, a));
                }
            }
        }
        all
    }

    /// The sound file name prompt `id` plays (its `.audio` reference, or the id itself).
    pub fn sound_name<'a>(&'a self, lang: Lang, id: &'a str) -> &'a str {
        self.messages(lang)
            .iter()
            .find(|m| m.id == id)
            .map_or(id, |m| m.audio.as_str())
    }

    /// The audio of a value fragment (`say/<id>.wav`).
    pub fn fragment_audio(&self, lang: Lang, id: &str) -> Option<&audio::Audio> {
        self.fragments
            .get(&(lang, id.to_string()))
            .or_else(|| self.fallback.as_ref()?.fragment_audio(lang, id))
    }

    /// How long a fragment plays, when its audio is known.
    pub fn duration_ms(&self, f: &Fragment) -> Option<u64> {
        match f {
            Fragment::Prompt { id, lang } => self.audio(*lang, id).map(audio::Audio::duration_ms),
            Fragment::Value { text, style, lang } => {
                let s = say::say(text, *style, *lang, say::Gender::Masculine);
                s.fragments
                    .iter()
                    .map(|id| {
                        self.fragment_audio(*lang, id)
                            .map(audio::Audio::duration_ms)
                    })
                    .sum()
            }
            Fragment::Recording(r) => Some(r.duration_ms),
            Fragment::Beep => Some(500),
        }
    }

    /// The folder it was loaded from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The text of prompt `id` in `lang` (isolation marks off: speech and SMS text).
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

/// Messages of a Fluent resource, with their `.audio` attribute. Text is the value with
/// placeables left as written.
pub fn parse_messages(text: &str) -> Vec<Message> {
    use fluent_syntax::ast::{Entry, PatternElement};
    let res = match fluent_syntax::parser::parse(text) {
        Ok(r) => r,
        Err((r, _)) => r,
    };
    let flat = |p: &fluent_syntax::ast::Pattern<&str>| {
        p.elements
            .iter()
            .map(|e| match e {
                PatternElement::TextElement { value } => value.to_string(),
                PatternElement::Placeable { .. } => String::new(),
            })
            .collect::<String>()
    };
    res.body
        .iter()
        .filter_map(|e| match e {
            Entry::Message(m) => {
                let text = m.value.as_ref().map(flat).unwrap_or_default();
                let audio = m
                    .attributes
                    .iter()
                    .find(|a| a.id.name == "audio")
                    .map(|a| flat(&a.value).trim().to_string())
                    .unwrap_or_else(|| m.id.name.to_string());
                Some(Message {
                    id: m.id.name.to_string(),
                    text: text.trim().to_string(),
                    audio,
                })
            }
            _ => None,
        })
        .collect()
}
