//! The bilingual keyword table. The parser and the formatter both read it; nothing else spells a
//! keyword.

use crate::fold::fold_keyword;
use rustc_hash::FxHashMap as HashMap;
use std::sync::OnceLock;

/// The language of a keyword (and of prompts and callers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Lang {
    /// Arabic.
    Ar,
    /// English.
    En,
}

impl Lang {
    /// `ar` or `en`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Ar => "ar",
            Lang::En => "en",
        }
    }

    /// The language for `ar` or `en`.
    pub fn from_code(s: &str) -> Option<Lang> {
        match s {
            "ar" => Some(Lang::Ar),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// Both languages.
    pub const ALL: [Lang; 2] = [Lang::Ar, Lang::En];
}

macro_rules! keywords {
    ($( $kw:ident : [$($en:literal),+] [$($ar:literal),+] ; )*) => {
        /// Every keyword of the language.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[allow(missing_docs)]
        pub enum Kw { $($kw,)* }

        impl Kw {
            /// Every keyword.
            pub const ALL: &'static [Kw] = &[$(Kw::$kw,)*];

            /// All spellings in a language; the first is the canonical one.
            pub fn spellings(self, lang: Lang) -> &'static [&'static str] {
                match (self, lang) {
                    $( (Kw::$kw, Lang::En) => &[$($en),+],
                       (Kw::$kw, Lang::Ar) => &[$($ar),+], )*
                }
            }
        }
    };
}

keywords! {
    Languages: ["languages"] ["اللغات"];
    Hours: ["hours"] ["دوام"];
    Defaults: ["defaults"] ["الافتراضي"];
    Flow: ["flow"] ["مسار"];
    Step: ["step"] ["خطوة"];
    Language: ["language"] ["اللغة"];
    Ar: ["ar"] ["العربية"];
    En: ["en"] ["الإنجليزية", "الانكليزية"];
    InAr: ["in ar"] ["بالعربية"];
    InEn: ["in en"] ["بالإنجليزية", "بالانكليزية"];
    Say: ["say"] ["قل"];
    WithoutInterruption: ["without interruption"] ["دون مقاطعة", "بدون مقاطعة"];
    AsDigits: ["as digits"] ["أرقامًا"];
    AsNumber: ["as number"] ["عددًا"];
    AsDate: ["as date"] ["تاريخًا"];
    AsText: ["as text"] ["نصًا"];
    Play: ["play"] ["شغّل"];
    Menu: ["menu"] ["قائمة"];
    Press: ["press"] ["اضغط"];
    Star: ["star"] ["نجمة"];
    Hash: ["hash"] ["مربع"];
    Collect: ["collect"] ["اجمع"];
    Digits: ["digits"] ["أرقام"];
    To: ["to"] ["إلى"];
    Until: ["until"] ["حتى"];
    Timeout: ["timeout"] ["مهلة"];
    Record: ["record"] ["سجّل"];
    Beep: ["beep"] ["صافرة"];
    Max: ["max"] ["أقصى"];
    Silence: ["silence"] ["صمت"];
    OnNoinput: ["on noinput"] ["عند الصمت"];
    OnNomatch: ["on nomatch"] ["عند الخطأ"];
    OnFailure: ["on failure"] ["عند الفشل"];
    OnNotFound: ["on not_found"] ["عند عدم الوجود"];
    OnBusy: ["on busy"] ["عند الانشغال"];
    OnNoanswer: ["on noanswer"] ["عند عدم الرد"];
    After: ["after"] ["بعد"];
    Attempts: ["attempts", "attempt"] ["محاولات", "محاولة", "محاولتين", "محاولتان"];
    Repeat: ["repeat"] ["أعد"];
    Goto: ["goto", "go to"] ["اذهب إلى"];
    Run: ["run"] ["نفّذ"];
    With: ["with"] ["مع"];
    Into: ["into"] ["في"];
    Return: ["return"] ["ارجع"];
    Set: ["set"] ["اجعل"];
    If: ["if"] ["إذا"];
    ElseIf: ["else if"] ["وإلا إذا"];
    Else: ["else"] ["وإلا"];
    And: ["and"] ["و"];
    Or: ["or"] ["أو"];
    Not: ["not"] ["ليس"];
    WithinHours: ["within hours"] ["خلال دوام"];
    Submit: ["submit"] ["أرسل"];
    Lookup: ["lookup"] ["استعلم"];
    Transfer: ["transfer"] ["حوّل"];
    Hangup: ["hangup"] ["أنهِ المكالمة"];
    From: ["from"] ["من"];
    ClosedOnHolidays: ["closed on holidays"] ["مغلق في العطل"];
    Sunday: ["sunday"] ["الأحد"];
    Monday: ["monday"] ["الاثنين"];
    Tuesday: ["tuesday"] ["الثلاثاء"];
    Wednesday: ["wednesday"] ["الأربعاء"];
    Thursday: ["thursday"] ["الخميس"];
    Friday: ["friday"] ["الجمعة"];
    Saturday: ["saturday"] ["السبت"];
}

impl Kw {
    /// The canonical spelling in a language.
    pub fn spell(self, lang: Lang) -> &'static str {
        self.spellings(lang)[0]
    }
}

/// One folded spelling: the keyword, its language, and its folded words.
#[derive(Debug)]
pub(crate) struct Entry {
    pub kw: Kw,
    pub lang: Lang,
    /// Folded words after the first.
    pub rest: Vec<String>,
}

/// Folded first word → spellings that start with it, longest first.
pub(crate) fn table() -> &'static HashMap<String, Vec<Entry>> {
    static TABLE: OnceLock<HashMap<String, Vec<Entry>>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut map: HashMap<String, Vec<Entry>> = HashMap::default();
        for &kw in Kw::ALL {
            for lang in Lang::ALL {
                for spelling in kw.spellings(lang) {
                    let mut words = spelling.split(' ').map(|w| fold_keyword(w).into_owned());
                    let first = words.next().unwrap_or_default();
                    map.entry(first).or_default().push(Entry {
                        kw,
                        lang,
                        rest: words.collect(),
                    });
                }
            }
        }
        for entries in map.values_mut() {
            entries.sort_by_key(|e| std::cmp::Reverse(e.rest.len()));
        }
        map
    })
}

/// Whether a single folded word is a whole keyword on its own (and so cannot be a name).
pub fn is_reserved(folded: &str) -> bool {
    table()
        .get(folded)
        .is_some_and(|es| es.iter().any(|e| e.rest.is_empty()))
}

/// Every spelling of every keyword (for suggestions).
pub fn all_spellings() -> impl Iterator<Item = &'static str> {
    Kw::ALL
        .iter()
        .flat_map(|kw| Lang::ALL.into_iter().flat_map(|l| kw.spellings(l).iter()))
        .copied()
}

/// The Arabic form of "attempts" that agrees with the count `n`.
pub fn arabic_attempts(n: u64) -> &'static str {
    match n {
        2 => "محاولتين",
        3..=10 => "محاولات",
        _ => "محاولة",
    }
}

/// The keyword table as Markdown, one row per keyword (docs/language.md embeds it).
pub fn markdown_table() -> String {
    let mut out = String::from("| English | Arabic | other accepted spellings |\n|---|---|---|\n");
    for kw in Kw::ALL {
        let en = kw.spellings(Lang::En);
        let ar = kw.spellings(Lang::Ar);
        let others: Vec<String> = en[1..]
            .iter()
            .chain(ar[1..].iter())
            .map(|s| format!("`{s}`"))
            .collect();
        out.push_str(&format!(
            "| `{}` | `{}` | {} |\n",
            en[0],
            ar[0],
            others.join(", ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn no_two_keywords_collide_after_folding() {
        let mut seen: HashMap<Vec<String>, Kw> = HashMap::default();
        for &kw in Kw::ALL {
            for lang in Lang::ALL {
                for s in kw.spellings(lang) {
                    let folded: Vec<String> =
                        s.split(' ').map(|w| fold_keyword(w).into_owned()).collect();
                    if let Some(other) = seen.insert(folded.clone(), kw) {
                        assert_eq!(other, kw, "{s:?} collides with {other:?} after folding");
                    }
                }
            }
        }
    }

    #[test]
    fn every_keyword_has_both_languages() {
        for &kw in Kw::ALL {
            for lang in Lang::ALL {
                assert!(!kw.spell(lang).is_empty());
            }
        }
        let distinct: HashSet<_> = Kw::ALL.iter().collect();
        assert_eq!(distinct.len(), Kw::ALL.len());
    }

    #[test]
    fn folded_spellings_are_reachable() {
        assert!(is_reserved(&fold_keyword("إذا")));
        assert!(is_reserved("اذا"));
        assert!(!is_reserved("on"));
    }
}
