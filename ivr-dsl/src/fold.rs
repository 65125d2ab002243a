//! Text folding: how keywords and names are compared (LANGUAGE.md rules 5 and 6).

use std::borrow::Cow;
use unicode_normalization::{UnicodeNormalization, is_nfkc_quick};

/// Arabic tatweel (kashida), a stretching mark with no meaning.
pub const TATWEEL: char = '\u{0640}';

/// Whether `c` is an Arabic vowel mark (haraka, tanween, shadda, sukun, superscript alef...).
pub fn is_haraka(c: char) -> bool {
    matches!(c, '\u{064B}'..='\u{065F}' | '\u{0670}')
}

/// Whether `c` needs no normalization and no folding: ASCII lowercase, digits, `_`, `-`,
/// and the Arabic letters that folding leaves alone.
#[inline]
fn plain(c: char) -> bool {
    matches!(c, 'a'..='z' | '0'..='9' | '_' | '-')
        || (matches!(c, '\u{0621}'..='\u{064A}')
            && !matches!(c, 'أ' | 'إ' | 'آ' | 'ى' | 'ة' | '\u{0640}'))
}

/// Whether a word is NFKC already (quick check; `false` when unsure).
#[inline]
pub fn is_nfkc(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_ascii() || matches!(c, '\u{0621}'..='\u{064A}' | '\u{0660}'..='\u{0669}'))
        || is_nfkc_quick(s.chars()) == unicode_normalization::IsNormalized::Yes
}

/// Folds a word for keyword matching: NFKC, lowercase Latin, drop tatweel and harakat,
/// أ إ آ ٱ → ا, ى → ي, ة → ه, Persian ی ک → ي ك. Borrows when nothing changes.
pub fn fold_keyword(word: &str) -> Cow<'_, str> {
    if word.chars().all(plain) {
        return Cow::Borrowed(word);
    }
    let mut out = String::with_capacity(word.len());
    fold_into(word, &mut out);
    Cow::Owned(out)
}

/// [`fold_keyword`] into a reusable buffer: the parser folds every word it meets, and most
/// Arabic keywords need a change (hamza, ta marbuta), so it should not allocate each time.
pub fn fold_keyword_in<'b>(word: &'b str, buf: &'b mut String) -> &'b str {
    if word.chars().all(plain) {
        return word;
    }
    buf.clear();
    fold_into(word, buf);
    buf.as_str()
}

fn fold_into(word: &str, out: &mut String) {
    let start = out.len();
    if fold_plain_arabic(word, out) {
        return;
    }
    out.truncate(start);
    let mut push = |c: char| {
        if c == TATWEEL || is_haraka(c) {
            return;
        }
        let c = match c {
            'أ' | 'إ' | 'آ' | 'ٱ' => 'ا',
            'ى' | 'ی' => 'ي',
            'ة' => 'ه',
            'ک' => 'ك',
            c => c,
        };
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
        } else if matches!(c, '\u{0600}'..='\u{06FF}') {
            // The Arabic block has no case.
            out.push(c);
        } else {
            out.extend(c.to_lowercase());
        }
    };
    if is_nfkc(word) {
        word.chars().for_each(&mut push);
    } else {
        word.nfkc().for_each(&mut push);
    }
}

/// [`fold_keyword`] for a word of ASCII and the Arabic letters, digits and marks whose NFKC
/// form is themselves (U+0621–U+0670, and U+0671 alef wasla): folded character by character
/// without the normalization tables. Returns false, having written part of the word, at any
/// other character.
fn fold_plain_arabic(word: &str, out: &mut String) -> bool {
    for c in word.chars() {
        match c {
            'A'..='Z' => out.push(c.to_ascii_lowercase()),
            c if c.is_ascii() => out.push(c),
            'أ' | 'إ' | 'آ' | 'ٱ' => out.push('ا'),
            'ى' => out.push('ي'),
            'ة' => out.push('ه'),
            TATWEEL | '\u{064B}'..='\u{065F}' | '\u{0670}' => {}
            '\u{0621}'..='\u{064A}' | '\u{0660}'..='\u{0669}' => out.push(c),
            _ => return false,
        }
    }
    true
}

/// The identity of a name: NFKC with tatweel and harakat dropped. Two names are the same name
/// exactly when their keys are equal; hamza, alef maqsura and ta marbuta still count.
pub fn name_key(name: &str) -> crate::ast::Name {
    if name.is_ascii() || is_nfkc(name) && !name.chars().any(|c| c == TATWEEL || is_haraka(c)) {
        return name.into();
    }
    name.nfkc()
        .filter(|&c| c != TATWEEL && !is_haraka(c))
        .collect()
}

/// A name's loose form: its key folded like a keyword. Names whose loose forms are equal but whose
/// keys differ (`على` and `علي`) are never merged; the checker points out the near miss.
pub fn loose_key(name: &str) -> String {
    fold_keyword(&name_key(name)).into_owned()
}

/// The writing system of a letter, as far as names care.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Script {
    /// Arabic letters.
    Arabic,
    /// Latin letters.
    Latin,
    /// Any other script.
    Other,
}

/// The script of a letter, or `None` for characters that belong to no script (digits,
/// underscore, combining marks, tatweel).
pub fn script_of(c: char) -> Option<Script> {
    use unicode_script::{Script as S, UnicodeScript};
    if c.is_ascii_alphabetic() {
        return Some(Script::Latin);
    }
    if c.is_ascii() {
        return None;
    }
    match c.script() {
        S::Arabic => {
            if c == TATWEEL || is_haraka(c) || digit_value(c).is_some() {
                None
            } else {
                Some(Script::Arabic)
            }
        }
        S::Latin => Some(Script::Latin),
        S::Common | S::Inherited | S::Unknown => None,
        _ => Some(Script::Other),
    }
}

/// A digit family (LANGUAGE.md rule 7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum DigitFamily {
    /// 0–9.
    #[default]
    Ascii,
    /// ٠–٩ (U+0660–U+0669).
    ArabicIndic,
    /// ۰–۹ (U+06F0–U+06F9).
    Extended,
}

impl DigitFamily {
    /// The digit `d` (0–9) in this family.
    pub fn digit(self, d: u32) -> char {
        let base = match self {
            DigitFamily::Ascii => 0x30,
            DigitFamily::ArabicIndic => 0x660,
            DigitFamily::Extended => 0x6F0,
        };
        char::from_u32(base + d.min(9)).unwrap_or('0')
    }

    /// Writes `n` in this family, zero-padded to `width` digits.
    pub fn write(self, n: u64, width: usize) -> String {
        let s = format!("{n:0width$}");
        s.chars()
            .map(|c| self.digit(c.to_digit(10).unwrap_or(0)))
            .collect()
    }
}

/// The value and family of a digit character.
pub fn digit_value(c: char) -> Option<(u32, DigitFamily)> {
    match c {
        '0'..='9' => Some((c as u32 - 0x30, DigitFamily::Ascii)),
        '\u{0660}'..='\u{0669}' => Some((c as u32 - 0x660, DigitFamily::ArabicIndic)),
        '\u{06F0}'..='\u{06F9}' => Some((c as u32 - 0x6F0, DigitFamily::Extended)),
        _ => None,
    }
}

/// Edit distance on characters (optimal string alignment: a swap of neighbours costs 1).
pub fn distance(a: &str, b: &str) -> usize {
    strsim::osa_distance(a, b)
}

/// The candidates close to `word` (by loose form, then by edit distance), best first, at most 3.
pub fn suggestions<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let loose = loose_key(word);
    let limit = (word.chars().count() / 3).clamp(1, 3);
    let mut scored: Vec<(usize, &'a str)> = candidates
        .into_iter()
        .filter_map(|c| {
            let d = distance(&loose, &loose_key(c));
            (d <= limit).then_some((d, c))
        })
        .collect();
    scored.sort();
    scored.dedup_by(|a, b| a.1 == b.1);
    scored.into_iter().take(3).map(|(_, c)| c).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Folding by way of NFKC and the map, for every word.
    fn fold_by_nfkc(word: &str) -> String {
        word.nfkc()
            .filter(|&c| c != TATWEEL && !is_haraka(c))
            .map(|c| match c {
                'أ' | 'إ' | 'آ' | 'ٱ' => 'ا',
                'ى' | 'ی' => 'ي',
                'ة' => 'ه',
                'ک' => 'ك',
                c => c,
            })
            .flat_map(char::to_lowercase)
            .collect()
    }

    #[test]
    fn the_plain_arabic_path_folds_like_nfkc() {
        let chars: Vec<char> = ('\u{20}'..='\u{7E}')
            .chain('\u{0600}'..='\u{06FF}')
            .collect();
        for &a in &chars {
            for b in ['ب', 'A', '\u{0651}', a] {
                let word: String = [a, b, a].iter().collect();
                assert_eq!(fold_keyword(&word), fold_by_nfkc(&word), "{word:?}");
            }
        }
    }

    #[test]
    fn hamza_forms_fold_to_one_keyword() {
        assert_eq!(fold_keyword("إذا"), fold_keyword("اذا"));
        assert_eq!(fold_keyword("إذَا"), fold_keyword("اذا"));
        assert_eq!(fold_keyword("قائمـــة"), fold_keyword("قائمه"));
        assert_eq!(fold_keyword("FLOW"), "flow");
        assert!(matches!(fold_keyword("flow"), Cow::Borrowed(_)));
        assert!(matches!(fold_keyword("قل"), Cow::Borrowed(_)));
    }

    #[test]
    fn names_keep_hamza_and_ya() {
        assert_ne!(name_key("على"), name_key("علي"));
        assert_eq!(loose_key("على"), loose_key("علي"));
        assert_eq!(name_key("الوصـف"), name_key("الوصف"));
    }

    #[test]
    fn scripts() {
        assert_eq!(script_of('a'), Some(Script::Latin));
        assert_eq!(script_of('ب'), Some(Script::Arabic));
        assert_eq!(script_of('_'), None);
        assert_eq!(script_of('٣'), None);
        assert_eq!(script_of('\u{064E}'), None);
        assert_eq!(script_of('я'), Some(Script::Other));
    }

    #[test]
    fn digits() {
        assert_eq!(digit_value('٣'), Some((3, DigitFamily::ArabicIndic)));
        assert_eq!(digit_value('۳'), Some((3, DigitFamily::Extended)));
        assert_eq!(DigitFamily::ArabicIndic.write(8, 2), "٠٨");
    }
}
