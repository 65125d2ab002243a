//! Prompt audio encoded once, at load, in both G.711 laws and shared by every call: a play
//! request becomes a list of reference-counted byte slices, with no encoding or copying per
//! call or per packet.

use crate::flow::Fragment;
use crate::media::g711::Law;
use crate::media::playback::{Encoded, beep};
use crate::prompts::{Catalog, say};
use ivr_dsl::Lang;
use std::collections::HashMap;
use std::sync::Arc;

/// Why a fragment has no audio.
#[derive(Debug, thiserror::Error)]
pub enum MissingAudio {
    /// A prompt without a sound file.
    #[error("prompt `{id}` ({lang}) has no audio file (run `ivr prompts build`)")]
    Prompt {
        /// Message id.
        id: String,
        /// Language code.
        lang: &'static str,
    },
    /// A spoken-value fragment without a sound file.
    #[error("value fragment `{id}` ({lang}) has no audio file")]
    Fragment {
        /// Fragment id.
        id: String,
        /// Language code.
        lang: &'static str,
    },
    /// A fragment the bank does not hold (recordings and text are loaded per call, off the
    /// call's task).
    #[error("{0} is not prompt audio")]
    NotPrompt(&'static str),
}

/// Every sound of a prompt catalog, encoded.
pub struct PromptBank {
    catalog: Arc<Catalog>,
    prompts: HashMap<(Lang, String), Encoded>,
    fragments: HashMap<(Lang, String), Encoded>,
    beep: Encoded,
}

impl std::fmt::Debug for PromptBank {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PromptBank")
            .field("prompts", &self.prompts.len())
            .field("fragments", &self.fragments.len())
            .finish_non_exhaustive()
    }
}

impl PromptBank {
    /// Encodes every sound of `catalog`.
    pub fn new(catalog: Arc<Catalog>) -> Self {
        let prompts = catalog
            .sounds()
            .map(|(l, n, a)| ((l, n.to_string()), Encoded::new(&a.samples)))
            .collect();
        let fragments = catalog
            .fragment_sounds()
            .into_iter()
            .map(|(l, n, a)| ((l, n.to_string()), Encoded::new(&a.samples)))
            .collect();
        PromptBank {
            catalog,
            prompts,
            fragments,
            beep: Encoded::new(&beep()),
        }
    }

    /// The catalog the sounds came from (prompt texts for logs and transcripts).
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The beep before a recording.
    pub fn beep(&self, law: Law) -> Arc<[u8]> {
        Arc::clone(self.beep.get(law))
    }

    /// Appends the audio of `f` in `law` to `out`: prompts, spoken values and the beep.
    pub fn resolve(
        &self,
        f: &Fragment,
        law: Law,
        out: &mut Vec<Arc<[u8]>>,
    ) -> Result<(), MissingAudio> {
        match f {
            Fragment::Prompt { id, lang } => {
                let name = self.catalog.sound_name(*lang, id);
                let e = self
                    .prompts
                    .get(&(*lang, name.to_string()))
                    .ok_or_else(|| MissingAudio::Prompt {
                        id: id.clone(),
                        lang: lang.code(),
                    })?;
                out.push(Arc::clone(e.get(law)));
            }
            Fragment::Value {
                style: ivr_dsl::ast::ValueStyle::Text,
                ..
            } => return Err(MissingAudio::NotPrompt("text")),
            Fragment::Value { text, style, lang } => {
                let spoken = say::say(text, *style, *lang, say::Gender::Masculine);
                for id in &spoken.fragments {
                    let e = self.fragments.get(&(*lang, id.clone())).ok_or_else(|| {
                        MissingAudio::Fragment {
                            id: id.clone(),
                            lang: lang.code(),
                        }
                    })?;
                    out.push(Arc::clone(e.get(law)));
                }
            }
            Fragment::Recording(_) => return Err(MissingAudio::NotPrompt("a recording")),
            Fragment::Beep => out.push(self.beep(law)),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ivr_dsl::ast::ValueStyle;

    fn bank() -> PromptBank {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../prompts");
        let c = Catalog::load(&dir).expect("the shipped prompts load");
        PromptBank::new(Arc::new(c))
    }

    #[test]
    fn shipped_prompts_resolve_and_share_their_bytes() {
        let b = bank();
        let f = Fragment::Prompt {
            id: "welcome".into(),
            lang: Lang::Ar,
        };
        let (mut one, mut two) = (Vec::new(), Vec::new());
        b.resolve(&f, Law::Pcmu, &mut one)
            .expect("welcome has audio");
        b.resolve(&f, Law::Pcmu, &mut two)
            .expect("welcome has audio");
        assert_eq!(one.len(), 1);
        assert!(one[0].len() > 8000, "at least a second of audio");
        assert!(Arc::ptr_eq(&one[0], &two[0]), "no copy per call");
        let mut a = Vec::new();
        b.resolve(&f, Law::Pcma, &mut a).expect("welcome has audio");
        assert_ne!(a[0], one[0], "A-law differs from μ-law");
    }

    #[test]
    fn values_become_fragments_and_missing_audio_is_an_error() {
        let b = bank();
        let mut out = Vec::new();
        let v = Fragment::Value {
            text: "1234567".into(),
            style: ValueStyle::Digits,
            lang: Lang::En,
        };
        b.resolve(&v, Law::Pcmu, &mut out)
            .expect("digits have audio");
        assert_eq!(out.len(), 7);
        let missing = Fragment::Prompt {
            id: "no-such-prompt".into(),
            lang: Lang::En,
        };
        let e = b
            .resolve(&missing, Law::Pcmu, &mut out)
            .expect_err("missing");
        assert!(e.to_string().contains("no-such-prompt"), "{e}");
        let rec = Fragment::Recording(crate::flow::Recording {
            location: "/data/x.wav".into(),
            duration_ms: 1,
            sha256: None,
        });
        assert!(
            b.resolve(&rec, Law::Pcmu, &mut out).is_err(),
            "loaded by the runtime"
        );
    }
}
