//! `ivr prompts build` and `ivr prompts check`: generating and verifying prompt audio.
//!
//! Generated files are listed with a hash of the text they were made from in
//! `prompts/<lang>/audio.lock`; a file not listed there (a studio recording) is never
//! overwritten, and a listed one is remade when its text changes.

use super::audio::{self, Tts};
use super::{Catalog, PromptError, say};
use ivr_dsl::Lang;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What a build did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BuildReport {
    /// Files written.
    pub made: Vec<PathBuf>,
    /// Generated files already up to date.
    pub current: usize,
    /// Files not made by the build (recordings), left alone.
    pub recorded: usize,
}

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// Reading the catalog failed.
    #[error(transparent)]
    Prompts(#[from] PromptError),
    /// Making or writing audio failed.
    #[error("{id} ({lang}): {source}")]
    Audio {
        /// Message or fragment id.
        id: String,
        /// Language code.
        lang: &'static str,
        /// The cause.
        source: audio::AudioError,
    },
    /// Writing a file failed.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

impl BuildError {
    /// Who is at fault: this machine: the prompt folder or the speech program.
    pub fn fault(&self) -> crate::vocab::Fault {
        crate::vocab::Fault::Local
    }
}

fn hash(text: &str) -> String {
    let d = Sha256::digest(text.as_bytes());
    d.iter().take(12).map(|b| format!("{b:02x}")).collect()
}

fn read_lock(path: &Path) -> BTreeMap<String, String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// Makes missing or outdated audio for every message and value fragment of every language.
pub fn build(dir: &Path, tts: &dyn Tts, force: bool) -> Result<BuildReport, BuildError> {
    let catalog = Catalog::load(dir)?;
    let mut report = BuildReport::default();
    for lang in catalog.languages() {
        let ldir = dir.join(lang.code());
        let lock_path = ldir.join("audio.lock");
        let old = read_lock(&lock_path);
        let mut lock = BTreeMap::new();
        let mut items: Vec<(String, PathBuf, String)> = catalog
            .messages(lang)
            .iter()
            .filter(|m| m.audio == m.id)
            .map(|m| {
                (
                    m.id.clone(),
                    ldir.join(format!("{}.wav", m.id)),
                    m.text.clone(),
                )
            })
            .collect();
        std::fs::create_dir_all(ldir.join("say")).map_err(|source| BuildError::Io {
            path: ldir.join("say"),
            source,
        })?;
        items.extend(say::fragment_words(lang).into_iter().map(|(id, w)| {
            (
                format!("say/{id}"),
                ldir.join("say").join(format!("{id}.wav")),
                w,
            )
        }));
        for (key, path, text) in items {
            let h = hash(&text);
            let exists = path.is_file();
            if exists && !old.contains_key(&key) && !force {
                report.recorded += 1;
                continue;
            }
            if exists && old.get(&key) == Some(&h) && !force {
                report.current += 1;
                lock.insert(key, h);
                continue;
            }
            let err = |source| BuildError::Audio {
                id: key.clone(),
                lang: lang.code(),
                source,
            };
            let samples = tts.synthesize(&text, lang).map_err(err)?;
            audio::write_wav(&path, &samples).map_err(err)?;
            report.made.push(path);
            lock.insert(key, h);
        }
        let text: String = lock.iter().map(|(k, v)| format!("{k}\t{v}\n")).collect();
        std::fs::write(&lock_path, text).map_err(|source| BuildError::Io {
            path: lock_path.clone(),
            source,
        })?;
    }
    Ok(report)
}

/// Problems with a catalog's audio: a message without audio, a missing value fragment, a
/// message present in one language and not another. Format errors fail [`Catalog::load`].
pub fn check(catalog: &Catalog) -> Vec<String> {
    let mut problems = Vec::new();
    let langs = catalog.languages();
    for &lang in &langs {
        for m in catalog.messages(lang) {
            if catalog.audio(lang, &m.id).is_none() {
                problems.push(format!(
                    "{}/{}.wav: missing (message `{}`)",
                    lang.code(),
                    m.audio,
                    m.id
                ));
            }
            for &other in &langs {
                if other != lang && !catalog.messages(other).iter().any(|o| o.id == m.id) {
                    problems.push(format!(
                        "`{}` is in {} but not in {}",
                        m.id,
                        lang.code(),
                        other.code()
                    ));
                }
            }
        }
        for id in say::fragment_words(lang).keys() {
            if catalog.fragment_audio(lang, id).is_none() {
                problems.push(format!(
                    "{}/say/{id}.wav: missing (value fragment)",
                    lang.code()
                ));
            }
        }
    }
    problems
}

/// The languages `ivr prompts` knows.
pub fn languages() -> [Lang; 2] {
    Lang::ALL
}
