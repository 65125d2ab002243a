//! Prompt audio encoded once, at load, in both G.711 laws and shared by every call: a play
//! request becomes a list of reference-counted byte slices, with no encoding or copying per
//! call or per packet.
//!
//! For the simulator a bank can also *estimate* what has no audio file (a scenario's own
//! prompts, a catalog without recordings, no catalog at all): such a fragment plays as
//! silence of the length its text would take to say.

use crate::flow::Fragment;
use crate::media::g711::Law;
use crate::media::playback::{Encoded, Piece, beep};
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

impl MissingAudio {
    /// Who is at fault: the prompt folder (audio not built).
    pub fn fault(&self) -> crate::vocab::Fault {
        crate::vocab::Fault::Local
    }
}

/// Every sound of a prompt catalog, encoded.
pub struct PromptBank {
    catalog: Option<Arc<Catalog>>,
    /// By language, then sound name (looked up by `&str`: no allocation per play).
    prompts: HashMap<Lang, HashMap<String, Encoded>>,
    fragments: HashMap<Lang, HashMap<String, Encoded>>,
    beep: Encoded,
    /// Milliseconds per character of text for what has no audio (`None`: missing audio is
    /// an error, as on a live line).
    estimate_ms_per_char: Option<u64>,
}

/// The shortest an estimated fragment lasts.
const MIN_ESTIMATE_MS: u64 = 600;

impl std::fmt::Debug for PromptBank {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PromptBank")
            .field(
                "prompts",
                &self.prompts.values().map(HashMap::len).sum::<usize>(),
            )
            .field(
                "fragments",
                &self.fragments.values().map(HashMap::len).sum::<usize>(),
            )
            .finish_non_exhaustive()
    }
}

impl PromptBank {
    /// Encodes every sound of `catalog`.
    pub fn new(catalog: Arc<Catalog>) -> Self {
        let mut prompts: HashMap<Lang, HashMap<String, Encoded>> = HashMap::new();
        for (l, n, a) in catalog.sounds() {
            prompts
                .entry(l)
                .or_default()
                .insert(n.to_string(), Encoded::new(&a.samples));
        }
        let mut fragments: HashMap<Lang, HashMap<String, Encoded>> = HashMap::new();
        for (l, n, a) in catalog.fragment_sounds() {
            fragments
                .entry(l)
                .or_default()
                .insert(n.to_string(), Encoded::new(&a.samples));
        }
        PromptBank {
            catalog: Some(catalog),
            prompts,
            fragments,
            beep: Encoded::new(&beep()),
            estimate_ms_per_char: None,
        }
    }

    /// A bank for the simulator: the audio of `catalog` where there is some, and silence of
    /// an estimated length (`ms_per_char` per character of the text, at least 600 ms) for the
    /// rest.
    pub fn estimating(catalog: Option<Arc<Catalog>>, ms_per_char: u64) -> Self {
        let mut bank = match catalog {
            Some(c) => PromptBank::new(c),
            None => PromptBank {
                catalog: None,
                prompts: HashMap::new(),
                fragments: HashMap::new(),
                beep: Encoded::new(&beep()),
                estimate_ms_per_char: None,
            },
        };
        bank.estimate_ms_per_char = Some(ms_per_char);
        bank
    }

    /// The catalog the sounds came from (prompt texts for logs and transcripts).
    pub fn catalog(&self) -> Option<&Catalog> {
        self.catalog.as_deref()
    }

    /// The beep before a recording.
    pub fn beep(&self, law: Law) -> Arc<[u8]> {
        Arc::clone(self.beep.get(law))
    }

    /// How long `text` takes to say, by the estimate (`None` on a bank that does not
    /// estimate).
    pub fn estimate_ms(&self, text: &str) -> Option<u64> {
        let per = self.estimate_ms_per_char?;
        Some((text.chars().count() as u64 * per).max(MIN_ESTIMATE_MS))
    }

    fn estimated(&self, f: &Fragment) -> Option<Piece> {
        let text = self
            .catalog
            .as_ref()
            .map(|c| c.fragment_text(f))
            .unwrap_or_default();
        self.estimate_ms(&text)
            .map(|ms| Piece::Silence(ms as usize * 8))
    }

    /// Appends the audio of `f` in `law` to `out`: prompts, spoken values and the beep.
    pub fn resolve(
        &self,
        f: &Fragment,
        law: Law,
        out: &mut Vec<Piece>,
    ) -> Result<(), MissingAudio> {
        match self.resolve_audio(f, law, out) {
            Err(MissingAudio::NotPrompt(what)) => Err(MissingAudio::NotPrompt(what)),
            Err(e) => match self.estimated(f) {
                Some(p) => {
                    out.push(p);
                    Ok(())
                }
                None => Err(e),
            },
            Ok(()) => Ok(()),
        }
    }

    fn resolve_audio(
        &self,
        f: &Fragment,
        law: Law,
        out: &mut Vec<Piece>,
    ) -> Result<(), MissingAudio> {
        match f {
            Fragment::Prompt { id, lang } => {
                let name = self
                    .catalog
                    .as_ref()
                    .map_or(id.as_str(), |c| c.sound_name(*lang, id));
                match self.prompts.get(lang).and_then(|m| m.get(name)) {
                    Some(e) => out.push(Piece::Audio(Arc::clone(e.get(law)))),
                    // Estimated without building the error (the simulator's every prompt).
                    None => match self.estimated(f) {
                        Some(p) => out.push(p),
                        None => {
                            return Err(MissingAudio::Prompt {
                                id: id.clone(),
                                lang: lang.code(),
                            });
                        }
                    },
                }
            }
            Fragment::Value {
                style: ivr_dsl::ast::ValueStyle::Text,
                ..
            } => return Err(MissingAudio::NotPrompt("text")),
            Fragment::Value { lang, .. } if !self.fragments.contains_key(lang) => {
                return Err(MissingAudio::Fragment {
                    id: String::new(),
                    lang: lang.code(),
                });
            }
            Fragment::Value { text, style, lang } => {
                let spoken = say::say(text, *style, *lang, say::Gender::Masculine);
                let sounds = self.fragments.get(lang);
                // All or nothing: a value with a missing word is not half spoken.
                let mut pieces = Vec::with_capacity(spoken.fragments.len());
                for id in &spoken.fragments {
                    let e =
                        sounds
                            .and_then(|m| m.get(id))
                            .ok_or_else(|| MissingAudio::Fragment {
                                id: id.clone(),
                                lang: lang.code(),
                            })?;
                    pieces.push(Piece::Audio(Arc::clone(e.get(law))));
                }
                out.append(&mut pieces);
            }
            Fragment::Recording(_) => return Err(MissingAudio::NotPrompt("a recording")),
            Fragment::Beep => out.push(Piece::Audio(self.beep(law))),
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
        let (Piece::Audio(x), Piece::Audio(y)) = (&one[0], &two[0]) else {
            panic!("audio")
        };
        assert!(Arc::ptr_eq(x, y), "no copy per call");
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

    #[test]
    fn an_estimating_bank_times_what_has_no_audio_by_its_text() {
        let b = PromptBank::estimating(None, 60);
        let mut out = Vec::new();
        let f = Fragment::Prompt {
            id: "welcome".into(),
            lang: Lang::En,
        };
        b.resolve(&f, Law::Pcmu, &mut out).expect("estimated");
        assert_eq!(out, vec![Piece::Silence(600 * 8)], "no text: the shortest");
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../prompts");
        let c = Arc::new(Catalog::load(&dir).expect("the shipped prompts load"));
        let b = PromptBank::estimating(Some(c), 60);
        out.clear();
        b.resolve(&f, Law::Pcmu, &mut out).expect("audio");
        assert!(
            matches!(out[0], Piece::Audio(_)),
            "real audio where there is some"
        );
        out.clear();
        let missing = Fragment::Prompt {
            id: "no-such-prompt".into(),
            lang: Lang::En,
        };
        b.resolve(&missing, Law::Pcmu, &mut out).expect("estimated");
        // "[no-such-prompt]" is 16 characters.
        assert_eq!(out, vec![Piece::Silence(16 * 60 * 8)]);
    }
}
