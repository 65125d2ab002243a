//! Saying values: `as digits`, `as number`, `as date`, in Arabic and English. Each result has
//! the text (for transcripts, logs, SMS, text-to-speech) and the sequence of audio fragment
//! ids (`prompts/<lang>/say/<id>.wav`) that speaks it.
//!
//! Arabic numbers follow Arabic grammar: units before tens joined with و, dual forms (مئتان،
//! ألفان), the gender polarity of 3–10, the counted-noun forms after thousands and millions
//! (ثلاثة آلاف، أحد عشر ألفًا، مئة ألف), construct forms (مئتا ألف). Plural categories are
//! computed here too ([`arabic_plural`]), because intl_pluralrules 7.0.2 gets counts of 100 and
//! above wrong.

use ivr_dsl::Lang;
use ivr_dsl::ast::ValueStyle;

/// Grammatical gender of what is counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gender {
    /// Masculine (the default for bare numbers).
    Masculine,
    /// Feminine.
    Feminine,
}

/// A spoken value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spoken {
    /// The words.
    pub text: String,
    /// Audio fragment ids, in order.
    pub fragments: Vec<String>,
    /// What each fragment says (for generating its audio).
    pub words: Vec<String>,
}

/// CLDR plural category.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plural {
    /// 0.
    Zero,
    /// 1.
    One,
    /// 2.
    Two,
    /// n % 100 in 3..=10.
    Few,
    /// n % 100 in 11..=99.
    Many,
    /// Everything else (100, 101, 102, 200, …).
    Other,
}

/// The Arabic plural category of `n` (CLDR rules, with the `% 100` intl_pluralrules omits).
pub fn arabic_plural(n: u64) -> Plural {
    match (n, n % 100) {
        (0, _) => Plural::Zero,
        (1, _) => Plural::One,
        (2, _) => Plural::Two,
        (_, 3..=10) => Plural::Few,
        (_, 11..=99) => Plural::Many,
        _ => Plural::Other,
    }
}

/// Says `value` in `style` and `lang`.
pub fn say(value: &str, style: ValueStyle, lang: Lang, gender: Gender) -> Spoken {
    match style {
        ValueStyle::Digits => digits(value, lang),
        ValueStyle::Number => match value.trim().parse::<u64>() {
            Ok(n) if n <= MAX => number(n, lang, gender),
            _ => digits(value, lang),
        },
        ValueStyle::Date => match value.trim().parse::<jiff::civil::Date>() {
            Ok(d) => date(d, lang),
            Err(_) => digits(value, lang),
        },
        // No recorded fragments: the runtime speaks it with text-to-speech.
        ValueStyle::Text => Spoken {
            text: value.trim().to_string(),
            fragments: Vec::new(),
            words: Vec::new(),
        },
    }
}

/// The largest number said in words.
pub const MAX: u64 = 999_999_999;

/// Builds text and fragments together.
#[derive(Default)]
struct Out {
    /// Words, and whether the word after each is written joined to it (Arabic و).
    words: Vec<(String, bool)>,
    /// Fragment ids and what each says.
    fragments: Vec<(String, String)>,
}

impl Out {
    fn word(&mut self, text: &str, id: impl Into<String>) {
        self.words.push((text.to_string(), false));
        self.fragments.push((id.into(), text.to_string()));
    }
    /// Arabic "and": written joined to the next word, spoken as a fragment of its own.
    fn and_ar(&mut self) {
        self.words.push(("و".into(), true));
        self.fragments.push(("and".into(), "وَ".into()));
    }
    fn finish(self) -> Spoken {
        let mut text = String::new();
        let mut glue = true;
        for (w, joins) in &self.words {
            if !glue {
                text.push(' ');
            }
            text.push_str(w);
            glue = *joins;
        }
        let (fragments, words) = self.fragments.into_iter().unzip();
        Spoken {
            text,
            fragments,
            words,
        }
    }
}

const EN_DIGITS: [&str; 10] = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
];
const AR_DIGITS: [&str; 10] = [
    "صفر",
    "واحد",
    "اثنان",
    "ثلاثة",
    "أربعة",
    "خمسة",
    "ستة",
    "سبعة",
    "ثمانية",
    "تسعة",
];

/// Digit by digit (any digit family in; anything else is skipped).
pub fn digits(value: &str, lang: Lang) -> Spoken {
    let mut out = Out::default();
    for c in value.chars() {
        if let Some((d, _)) = ivr_dsl::fold::digit_value(c) {
            let d = d as usize;
            let w = match lang {
                Lang::En => EN_DIGITS[d],
                Lang::Ar => AR_DIGITS[d],
            };
            out.word(w, format!("digit-{d}"));
        }
    }
    out.finish()
}

/// A number in words, 0 to [`MAX`].
pub fn number(n: u64, lang: Lang, gender: Gender) -> Spoken {
    let mut out = Out::default();
    match lang {
        Lang::En => en_number(n.min(MAX), &mut out),
        Lang::Ar => ar_number(n.min(MAX), gender, &mut out),
    }
    out.finish()
}

const EN_SMALL: [&str; 20] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];
const EN_TENS: [&str; 10] = [
    "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
];

fn en_below_100(n: u64, out: &mut Out) {
    if n < 20 {
        out.word(EN_SMALL[n as usize], format!("n-{n}"));
    } else {
        let (t, u) = (n / 10, n % 10);
        if u == 0 {
            out.word(EN_TENS[t as usize], format!("n-{}", t * 10));
        } else {
            // "twenty-three" is one word of text and two fragments.
            out.words.push((
                format!("{}-{}", EN_TENS[t as usize], EN_SMALL[u as usize]),
                false,
            ));
            out.fragments
                .push((format!("n-{}", t * 10), EN_TENS[t as usize].to_string()));
            out.fragments
                .push((format!("n-{u}"), EN_SMALL[u as usize].to_string()));
        }
    }
}

fn en_below_1000(n: u64, out: &mut Out) {
    let (h, r) = (n / 100, n % 100);
    if h > 0 {
        out.word(EN_SMALL[h as usize], format!("n-{h}"));
        out.word("hundred", "hundred");
        if r > 0 {
            out.word("and", "and");
        }
    }
    if r > 0 || h == 0 {
        en_below_100(r, out);
    }
}

fn en_number(n: u64, out: &mut Out) {
    let (m, t, r) = (n / 1_000_000, n / 1000 % 1000, n % 1000);
    if m > 0 {
        en_below_1000(m, out);
        out.word("million", "million");
    }
    if t > 0 {
        en_below_1000(t, out);
        out.word("thousand", "thousand");
    }
    if r > 0 || n == 0 {
        if (m > 0 || t > 0) && r < 100 {
            out.word("and", "and");
        }
        en_below_1000(r, out);
    }
}

/// 3–10 with a masculine counted noun (and for bare numbers): ثلاثة …; feminine: ثلاث ….
const AR_3_10_M: [&str; 8] = [
    "ثلاثة",
    "أربعة",
    "خمسة",
    "ستة",
    "سبعة",
    "ثمانية",
    "تسعة",
    "عشرة",
];
const AR_3_10_F: [&str; 8] = ["ثلاث", "أربع", "خمس", "ست", "سبع", "ثماني", "تسع", "عشر"];
const AR_TENS: [&str; 10] = [
    "",
    "",
    "عشرون",
    "ثلاثون",
    "أربعون",
    "خمسون",
    "ستون",
    "سبعون",
    "ثمانون",
    "تسعون",
];
const AR_HUNDREDS: [&str; 10] = [
    "",
    "مئة",
    "مئتان",
    "ثلاثمئة",
    "أربعمئة",
    "خمسمئة",
    "ستمئة",
    "سبعمئة",
    "ثمانمئة",
    "تسعمئة",
];

fn g_id(base: u64, g: Gender) -> String {
    match g {
        Gender::Masculine => format!("n-{base}"),
        Gender::Feminine => format!("n-{base}-f"),
    }
}

/// A unit 1–9 as it stands before tens (واحد وعشرون، إحدى وعشرون).
fn ar_unit(u: u64, g: Gender, out: &mut Out) {
    match (u, g) {
        (1, Gender::Masculine) => out.word("واحد", "n-1"),
        (1, Gender::Feminine) => out.word("إحدى", "n-1-fc"),
        (2, Gender::Masculine) => out.word("اثنان", "n-2"),
        (2, Gender::Feminine) => out.word("اثنتان", "n-2-f"),
        (u, Gender::Masculine) => out.word(AR_3_10_M[(u - 3) as usize], g_id(u, g)),
        (u, Gender::Feminine) => out.word(AR_3_10_F[(u - 3) as usize], g_id(u, g)),
    }
}

fn ar_below_100(n: u64, g: Gender, out: &mut Out) {
    match n {
        0 => out.word("صفر", "n-0"),
        1 => match g {
            Gender::Masculine => out.word("واحد", "n-1"),
            Gender::Feminine => out.word("واحدة", "n-1-f"),
        },
        2 => match g {
            Gender::Masculine => out.word("اثنان", "n-2"),
            Gender::Feminine => out.word("اثنتان", "n-2-f"),
        },
        3..=10 => ar_unit(n, g, out),
        11 => match g {
            Gender::Masculine => {
                out.word("أحد", "n-11");
                out.word("عشر", "n-teen");
            }
            Gender::Feminine => {
                out.word("إحدى", "n-11-f");
                out.word("عشرة", "n-teen-f");
            }
        },
        12 => match g {
            Gender::Masculine => {
                out.word("اثنا", "n-12");
                out.word("عشر", "n-teen");
            }
            Gender::Feminine => {
                out.word("اثنتا", "n-12-f");
                out.word("عشرة", "n-teen-f");
            }
        },
        13..=19 => {
            ar_unit(n - 10, g, out);
            match g {
                Gender::Masculine => out.word("عشر", "n-teen"),
                Gender::Feminine => out.word("عشرة", "n-teen-f"),
            }
        }
        _ => {
            let (t, u) = (n / 10, n % 10);
            if u > 0 {
                ar_unit(u, g, out);
                out.and_ar();
            }
            out.word(AR_TENS[t as usize], format!("n-{}", t * 10));
        }
    }
}

/// 1–999. `construct`: 200 before a counted noun is مئتا (مئتا ألف).
fn ar_below_1000(n: u64, g: Gender, construct: bool, out: &mut Out) {
    let (h, r) = (n / 100, n % 100);
    if h > 0 {
        if h == 2 && r == 0 && construct {
            out.word("مئتا", "n-200-c");
        } else {
            out.word(AR_HUNDREDS[h as usize], format!("n-{}", h * 100));
        }
        if r > 0 {
            out.and_ar();
        }
    }
    if r > 0 {
        ar_below_100(r, g, out);
    }
}

/// Forms of a counted scale noun: (one, two, plural after 3–10, singular accusative after
/// 11–99), with fragment ids.
struct Scale {
    one: (&'static str, &'static str),
    two: (&'static str, &'static str),
    plural: (&'static str, &'static str),
    acc: (&'static str, &'static str),
}

const THOUSAND: Scale = Scale {
    one: ("ألف", "thousand"),
    two: ("ألفان", "thousand-2"),
    plural: ("آلاف", "thousands"),
    acc: ("ألفًا", "thousand-acc"),
};
const MILLION: Scale = Scale {
    one: ("مليون", "million"),
    two: ("مليونان", "million-2"),
    plural: ("ملايين", "millions"),
    acc: ("مليونًا", "million-acc"),
};

/// `count` of a scale noun (both nouns are masculine, so 3–10 take the ـة form).
fn ar_scale(count: u64, s: &Scale, out: &mut Out) {
    let m = Gender::Masculine;
    match count {
        1 => out.word(s.one.0, s.one.1),
        2 => out.word(s.two.0, s.two.1),
        3..=10 => {
            ar_below_100(count, m, out);
            out.word(s.plural.0, s.plural.1);
        }
        11..=99 => {
            ar_below_100(count, m, out);
            out.word(s.acc.0, s.acc.1);
        }
        _ => {
            let (h, r) = (count - count % 100, count % 100);
            match r {
                0 => {
                    ar_below_1000(h, m, true, out);
                    out.word(s.one.0, s.one.1);
                }
                1 | 2 => {
                    ar_below_1000(h, m, true, out);
                    out.word(s.one.0, s.one.1);
                    out.and_ar();
                    let w = if r == 1 { s.one } else { s.two };
                    out.word(w.0, w.1);
                }
                3..=10 => {
                    ar_below_1000(h, m, false, out);
                    out.and_ar();
                    ar_below_100(r, m, out);
                    out.word(s.plural.0, s.plural.1);
                }
                _ => {
                    ar_below_1000(h, m, false, out);
                    out.and_ar();
                    ar_below_100(r, m, out);
                    out.word(s.acc.0, s.acc.1);
                }
            }
        }
    }
}

fn ar_number(n: u64, g: Gender, out: &mut Out) {
    if n == 0 {
        return out.word("صفر", "n-0");
    }
    let (m, t, r) = (n / 1_000_000, n / 1000 % 1000, n % 1000);
    let mut first = true;
    for (count, scale) in [(m, &MILLION), (t, &THOUSAND)] {
        if count > 0 {
            if !first {
                out.and_ar();
            }
            ar_scale(count, scale, out);
            first = false;
        }
    }
    if r > 0 {
        if !first {
            out.and_ar();
        }
        ar_below_1000(r, g, false, out);
    }
}

const EN_MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const AR_MONTHS: [&str; 12] = [
    "يناير",
    "فبراير",
    "مارس",
    "أبريل",
    "مايو",
    "يونيو",
    "يوليو",
    "أغسطس",
    "سبتمبر",
    "أكتوبر",
    "نوفمبر",
    "ديسمبر",
];

/// A date: day, month name, year, in words.
pub fn date(d: jiff::civil::Date, lang: Lang) -> Spoken {
    let mut out = Out::default();
    let month = (d.month() as usize).saturating_sub(1).min(11);
    match lang {
        Lang::En => {
            en_below_100(d.day() as u64, &mut out);
            out.word(EN_MONTHS[month], format!("month-{}", month + 1));
            en_number(d.year().max(0) as u64, &mut out);
        }
        Lang::Ar => {
            ar_below_100(d.day() as u64, Gender::Masculine, &mut out);
            out.word(AR_MONTHS[month], format!("month-{}", month + 1));
            ar_number(d.year().max(0) as u64, Gender::Masculine, &mut out);
        }
    }
    out.finish()
}

/// Every audio fragment a language's values can need, with the word it says. `ivr prompts
/// build` makes `prompts/<lang>/say/<id>.wav` from these; `ivr prompts check` requires them.
pub fn fragment_words(lang: Lang) -> std::collections::BTreeMap<String, String> {
    let mut all = std::collections::BTreeMap::new();
    let mut add = |s: Spoken| {
        for (id, w) in s.fragments.into_iter().zip(s.words) {
            all.entry(id).or_insert(w);
        }
    };
    add(digits("0123456789", lang));
    let samples = (0..=1000)
        .chain((1..=12).map(|n| n * 1000))
        .chain([21_000, 100_000, 101_000, 102_000, 103_000, 111_000, 200_000])
        .chain((1..=12).map(|n| n * 1_000_000))
        .chain([
            101_000_000,
            102_000_000,
            200_000_000,
            111_000_000,
            103_000_000,
        ]);
    for n in samples {
        for g in [Gender::Masculine, Gender::Feminine] {
            add(number(n, lang, g));
        }
    }
    for m in 1..=12 {
        if let Ok(d) = jiff::civil::Date::new(2026, m, 1) {
            add(date(d, lang));
        }
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ar(n: u64) -> String {
        number(n, Lang::Ar, Gender::Masculine).text
    }

    #[test]
    fn arabic_plural_categories_beyond_100() {
        let got: Vec<Plural> = [0, 1, 2, 3, 11, 100, 103, 111, 1003]
            .into_iter()
            .map(arabic_plural)
            .collect();
        use Plural::*;
        assert_eq!(got, vec![Zero, One, Two, Few, Many, Other, Few, Many, Few]);
    }

    #[test]
    fn arabic_units_tens_and_polarity() {
        assert_eq!(ar(0), "صفر");
        assert_eq!(ar(1), "واحد");
        assert_eq!(ar(2), "اثنان");
        assert_eq!(ar(3), "ثلاثة");
        assert_eq!(number(3, Lang::Ar, Gender::Feminine).text, "ثلاث");
        assert_eq!(ar(11), "أحد عشر");
        assert_eq!(number(11, Lang::Ar, Gender::Feminine).text, "إحدى عشرة");
        assert_eq!(ar(12), "اثنا عشر");
        assert_eq!(ar(15), "خمسة عشر");
        assert_eq!(number(15, Lang::Ar, Gender::Feminine).text, "خمس عشرة");
        assert_eq!(ar(20), "عشرون");
        assert_eq!(ar(21), "واحد وعشرون");
        assert_eq!(number(21, Lang::Ar, Gender::Feminine).text, "إحدى وعشرون");
        assert_eq!(ar(35), "خمسة وثلاثون");
        assert_eq!(number(35, Lang::Ar, Gender::Feminine).text, "خمس وثلاثون");
    }

    #[test]
    fn arabic_hundreds_thousands_millions() {
        assert_eq!(ar(100), "مئة");
        assert_eq!(ar(103), "مئة وثلاثة");
        assert_eq!(ar(111), "مئة وأحد عشر");
        assert_eq!(ar(200), "مئتان");
        assert_eq!(ar(999), "تسعمئة وتسعة وتسعون");
        assert_eq!(ar(1000), "ألف");
        assert_eq!(ar(1003), "ألف وثلاثة");
        assert_eq!(ar(2000), "ألفان");
        assert_eq!(ar(3000), "ثلاثة آلاف");
        assert_eq!(ar(10_000), "عشرة آلاف");
        assert_eq!(ar(11_000), "أحد عشر ألفًا");
        assert_eq!(ar(25_000), "خمسة وعشرون ألفًا");
        assert_eq!(ar(100_000), "مئة ألف");
        assert_eq!(ar(200_000), "مئتا ألف");
        assert_eq!(ar(101_000), "مئة ألف وألف");
        assert_eq!(ar(103_000), "مئة وثلاثة آلاف");
        assert_eq!(ar(125_000), "مئة وخمسة وعشرون ألفًا");
        assert_eq!(ar(1_234), "ألف ومئتان وأربعة وثلاثون");
        assert_eq!(ar(2_000_000), "مليونان");
        assert_eq!(ar(5_000_000), "خمسة ملايين");
        assert_eq!(
            ar(999_999_999),
            "تسعمئة وتسعة وتسعون مليونًا وتسعمئة وتسعة وتسعون ألفًا وتسعمئة وتسعة وتسعون"
        );
    }

    #[test]
    fn english_numbers() {
        let en = |n| number(n, Lang::En, Gender::Masculine).text;
        assert_eq!(en(0), "zero");
        assert_eq!(en(21), "twenty-one");
        assert_eq!(en(105), "one hundred and five");
        assert_eq!(en(1_005), "one thousand and five");
        assert_eq!(en(1_234), "one thousand two hundred and thirty-four");
        assert_eq!(
            en(999_999_999),
            "nine hundred and ninety-nine million nine hundred and ninety-nine thousand nine hundred and ninety-nine"
        );
    }

    #[test]
    fn fragments_follow_words() {
        let s = number(21, Lang::Ar, Gender::Masculine);
        assert_eq!(s.fragments, vec!["n-1", "and", "n-20"]);
        let s = number(23, Lang::En, Gender::Masculine);
        assert_eq!(s.fragments, vec!["n-20", "n-3"]);
        let s = digits("4711", Lang::Ar);
        assert_eq!(s.text, "أربعة سبعة واحد واحد");
        assert_eq!(
            s.fragments,
            vec!["digit-4", "digit-7", "digit-1", "digit-1"]
        );
    }

    #[test]
    fn dates() {
        let d = jiff::civil::date(2026, 11, 29);
        assert_eq!(
            date(d, Lang::En).text,
            "twenty-nine November two thousand and twenty-six"
        );
        assert_eq!(
            date(d, Lang::Ar).text,
            "تسعة وعشرون نوفمبر ألفان وستة وعشرون"
        );
        let may = jiff::civil::date(2026, 5, 5);
        assert_eq!(date(may, Lang::Ar).text, "خمسة مايو ألفان وستة وعشرون");
    }
}
