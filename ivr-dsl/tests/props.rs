//! Property tests: no input panics the front end; generated syntax trees survive
//! format → parse → format unchanged, in both keyword languages.

use ivr_dsl::ast::*;
use ivr_dsl::fold::DigitFamily;
use ivr_dsl::format::format_script;
use ivr_dsl::{Environment, Lang, Span};
use proptest::prelude::*;

const TOKENS: &[&str] = &[
    "flow",
    "مسار",
    "step",
    "خطوة",
    "menu",
    "قائمة",
    "press",
    "اضغط",
    "say",
    "قل",
    "goto",
    "اذهب إلى",
    "collect",
    "اجمع",
    "digits",
    "أرقام",
    "record",
    "سجّل",
    "on noinput",
    "عند الصمت",
    "after",
    "بعد",
    "attempts",
    "محاولات",
    "if",
    "إذا",
    "else",
    "وإلا",
    "set",
    "اجعل",
    "=",
    "<",
    "+",
    "(",
    ")",
    "\"",
    "\"abc\"",
    "1",
    "١",
    "۱٢",
    "6s",
    "6 ث",
    "08:00",
    "a",
    "الفئة",
    "welcome",
    "hangup",
    "أنهِ المكالمة",
    "languages ar en",
    "hours",
    "from",
    "to",
    "sunday",
    "repeat",
    "defaults",
    "star",
    "#",
    "*",
    "\t",
    "\u{202E}",
    "\u{200F}",
    "\u{FEFF}",
    "--",
    "\r",
    "\n",
    "\n    ",
    "\n        ",
    " ",
    "  ",
];

fn env() -> Environment {
    Environment::default()
}

/// Cases per property: `PROPTEST_CASES` when set (for long runs), else the default.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(512)))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = ivr_dsl::check(&bytes, &env());
    }

    #[test]
    fn arbitrary_strings_never_panic(s in "\\PC{0,300}") {
        let _ = ivr_dsl::check(s.as_bytes(), &env());
    }

    #[test]
    fn token_soup_never_panics(toks in proptest::collection::vec(proptest::sample::select(TOKENS), 0..80)) {
        let text = toks.join(" ");
        let c = ivr_dsl::check(text.as_bytes(), &env());
        if !c.has_errors() {
            // Whatever parses cleanly also formats and reparses cleanly.
            for lang in Lang::ALL {
                let f = format_script(&c.script, lang);
                let again = ivr_dsl::parse(f.as_bytes());
                prop_assert!(!again.has_errors(), "{f}");
                prop_assert_eq!(&again.script, &c.script);
            }
        }
    }

    #[test]
    fn generated_trees_round_trip(seed in any::<u64>()) {
        let mut g = Gen(seed | 1);
        let script = g.script();
        for lang in Lang::ALL {
            let text = format_script(&script, lang);
            let _ = ivr_dsl::check(text.as_bytes(), &env());
            let parsed = ivr_dsl::parse(text.as_bytes());
            prop_assert!(!parsed.has_errors(), "{:?}\n{}", parsed.diagnostics, text);
            prop_assert_eq!(&parsed.script, &script, "\n{}", text);
            prop_assert_eq!(format_script(&parsed.script, lang), text.clone());
            // Translating into the other language and back gives the same text.
            let other = if lang == Lang::Ar { Lang::En } else { Lang::Ar };
            let there = format_script(&parsed.script, other);
            let back = ivr_dsl::parse(there.as_bytes());
            prop_assert!(!back.has_errors(), "{:?}\n{}", back.diagnostics, there);
            prop_assert_eq!(format_script(&back.script, lang), text);
        }
    }
}

/// A small deterministic generator of syntax trees the parser can produce.
struct Gen(u64);

const NAMES: &[&str] = &[
    "a",
    "tries",
    "ticket",
    "x1",
    "_tmp",
    "Status",
    "الفئة",
    "رقم_البلاغ",
    "عدد٣",
    "الوصف",
];
const IDS: &[&str] = &[
    "welcome",
    "main-options",
    "bye",
    "x1",
    "create_complaint",
    "agents",
];

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn coin(&mut self) -> bool {
        self.below(2) == 0
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len() as u64) as usize]
    }
    fn span() -> Span {
        Span::default()
    }
    fn family(&mut self) -> DigitFamily {
        *self.pick(&[
            DigitFamily::Ascii,
            DigitFamily::ArabicIndic,
            DigitFamily::Extended,
        ])
    }
    fn num(&mut self, max: u64) -> Num {
        Num {
            value: self.below(max),
            family: self.family(),
            span: Self::span(),
        }
    }
    fn ident(&mut self) -> Ident {
        let n = *self.pick(NAMES);
        Ident::new(n, Self::span())
    }
    fn ext(&mut self) -> ExtName {
        ExtName {
            name: (*self.pick(IDS)).into(),
            span: Self::span(),
        }
    }
    fn lang(&mut self) -> Lang {
        *self.pick(&[Lang::Ar, Lang::En])
    }
    fn dur(&mut self) -> Duration {
        Duration {
            amount: self.num(500),
            unit: *self.pick(&[TimeUnit::Ms, TimeUnit::S, TimeUnit::Min]),
            span: Self::span(),
        }
    }
    fn key(&mut self) -> Key {
        let k = *self.pick(&['0', '1', '5', '9', '*', '#']);
        let family = if k.is_ascii_digit() {
            self.family()
        } else {
            DigitFamily::Ascii
        };
        Key {
            key: k,
            family,
            span: Self::span(),
        }
    }
    fn time(&mut self) -> TimeOfDay {
        TimeOfDay {
            hour: self.below(24) as u8,
            minute: self.below(60) as u8,
            family: self.family(),
            span: Self::span(),
        }
    }
    fn day(&mut self) -> Day {
        *self.pick(&[
            Day::Sunday,
            Day::Monday,
            Day::Tuesday,
            Day::Wednesday,
            Day::Thursday,
            Day::Friday,
            Day::Saturday,
        ])
    }
    fn string(&mut self) -> String {
        let chars = ['a', 'ب', ' ', '"', '\\', '1', '٣', 'é', 'ة'];
        let n = self.below(6);
        let s: String = (0..n).map(|_| *self.pick(&chars)).collect();
        use unicode_normalization::UnicodeNormalization;
        s.nfc().collect()
    }
    /// An expression with no strings (strings may only end a line).
    fn expr(&mut self, depth: u32) -> Expr {
        if depth == 0 || self.below(3) == 0 {
            return match self.below(4) {
                0 => Expr::Num(self.num(1000)),
                1 => Expr::WithinHours(self.ident()),
                _ => Expr::Var(self.ident()),
            };
        }
        match self.below(5) {
            0 => Expr::Not(Box::new(self.primary(depth - 1))),
            1 => Expr::Neg(Box::new(self.primary(depth - 1))),
            2 => Expr::Paren(Box::new(self.expr(depth - 1))),
            _ => {
                let op = *self.pick(&[
                    BinOp::Or,
                    BinOp::And,
                    BinOp::Eq,
                    BinOp::Ne,
                    BinOp::Lt,
                    BinOp::Le,
                    BinOp::Gt,
                    BinOp::Ge,
                    BinOp::Add,
                    BinOp::Sub,
                    BinOp::Mul,
                    BinOp::Div,
                ]);
                let l = self.expr(depth - 1);
                let r = self.expr(depth - 1);
                // Left-associative precedence climbing: parenthesize what it would not produce.
                let l = if prec(&l) < op.precedence() {
                    Expr::Paren(Box::new(l))
                } else {
                    l
                };
                let r = if prec(&r) <= op.precedence() {
                    Expr::Paren(Box::new(r))
                } else {
                    r
                };
                Expr::Binary(op, Box::new([l, r]))
            }
        }
    }
    fn primary(&mut self, depth: u32) -> Expr {
        match self.expr(depth) {
            e @ Expr::Binary(..) => Expr::Paren(Box::new(e)),
            e => e,
        }
    }
    fn simple(&mut self) -> StmtKind {
        match self.below(9) {
            0 => StmtKind::Language(self.lang()),
            1 => self.say(),
            2 => StmtKind::Play {
                var: self.ident(),
                barge_in: self.coin(),
            },
            3 => StmtKind::Repeat,
            4 => StmtKind::Goto(self.ident()),
            5 => StmtKind::Run(Box::new(ivr_dsl::ast::Run {
                flow: self.ident(),
                args: (0..self.below(3)).map(|_| self.ident()).collect(),
                into: if self.coin() {
                    Some(self.ident())
                } else {
                    None
                },
            })),
            6 => StmtKind::Return(match self.below(3) {
                0 => None,
                1 => Some(self.expr(2)),
                _ => Some(Expr::Str(self.string().into(), Self::span())),
            }),
            7 => StmtKind::Set {
                var: self.ident(),
                value: if self.coin() {
                    self.expr(3)
                } else {
                    Expr::Str(self.string().into(), Self::span())
                },
            },
            _ => StmtKind::Hangup,
        }
    }
    fn say(&mut self) -> StmtKind {
        let what = if self.coin() {
            SayWhat::Prompt(self.ext())
        } else {
            SayWhat::Value(
                self.ident(),
                *self.pick(&[
                    ValueStyle::Digits,
                    ValueStyle::Number,
                    ValueStyle::Date,
                    ValueStyle::Text,
                ]),
            )
        };
        StmtKind::Say {
            what,
            lang: if self.coin() { Some(self.lang()) } else { None },
            barge_in: self.coin(),
        }
    }
    fn compound(&mut self) -> StmtKind {
        match self.below(14) {
            0 => StmtKind::Step(self.ident()),
            1 => StmtKind::Menu {
                timeout: if self.coin() { Some(self.dur()) } else { None },
            },
            2 => StmtKind::Press(self.key()),
            3 => StmtKind::Collect(Box::new(ivr_dsl::ast::Collect {
                var: self.ident(),
                min: self.num(40),
                max: if self.coin() {
                    Some(self.num(40))
                } else {
                    None
                },
                until: if self.coin() { Some(self.key()) } else { None },
                timeout: if self.coin() { Some(self.dur()) } else { None },
            })),
            4 => StmtKind::Record(Box::new(ivr_dsl::ast::Record {
                var: self.ident(),
                beep: self.coin(),
                max: if self.coin() { Some(self.dur()) } else { None },
                silence: if self.coin() { Some(self.dur()) } else { None },
                until: if self.coin() { Some(self.key()) } else { None },
            })),
            5 => {
                let event = *self.pick(&[
                    Event::Noinput,
                    Event::Nomatch,
                    Event::Failure,
                    Event::NotFound,
                    Event::Busy,
                    Event::Noanswer,
                ]);
                let count = if matches!(event, Event::Noinput | Event::Nomatch) && self.coin() {
                    Some(self.num(11))
                } else {
                    None
                };
                StmtKind::On { event, count }
            }
            6 => StmtKind::AfterAttempts(self.num(15)),
            7 => StmtKind::If(if self.coin() {
                self.expr(3)
            } else {
                Expr::Binary(
                    BinOp::Eq,
                    Box::new([
                        Expr::Var(self.ident()),
                        Expr::Str(self.string().into(), Self::span()),
                    ]),
                )
            }),
            8 => StmtKind::ElseIf(self.expr(2)),
            9 => StmtKind::Else,
            10 | 11 => {
                let (op, args, into) = (
                    self.ext(),
                    (0..self.below(4)).map(|_| self.ident()).collect(),
                    self.ident(),
                );
                if self.coin() {
                    StmtKind::Submit { op, args, into }
                } else {
                    StmtKind::Lookup { op, args, into }
                }
            }
            12 => StmtKind::Transfer {
                dest: self.ext(),
                timeout: if self.coin() { Some(self.dur()) } else { None },
            },
            _ => self.simple(),
        }
    }
    fn comments(&mut self) -> Vec<Comment> {
        let texts = [" note", " ملاحظة مهمة", "", " a -- b", "x"];
        (0..self.below(3).saturating_sub(1))
            .map(|_| Comment {
                text: self.pick(&texts).to_string(),
                span: Self::span(),
            })
            .collect()
    }
    fn stmt(&mut self, kind: StmtKind, depth: u32, first: bool) -> Stmt {
        let mut s = Stmt::new(kind, Self::span());
        s.comments = self.comments();
        s.blank_before = !first && self.below(4) == 0;
        if depth < 3
            && !matches!(
                s.kind,
                StmtKind::Hangup
                    | StmtKind::Repeat
                    | StmtKind::Goto(_)
                    | StmtKind::Language(_)
                    | StmtKind::Say { .. }
                    | StmtKind::Play { .. }
                    | StmtKind::Return(_)
                    | StmtKind::Set { .. }
                    | StmtKind::Run(_)
            )
        {
            s.body = self.block(depth + 1);
        }
        s
    }
    fn block(&mut self, depth: u32) -> Vec<Stmt> {
        let n = self.below(4);
        (0..n)
            .map(|i| {
                let k = if self.coin() {
                    self.simple()
                } else {
                    self.compound()
                };
                self.stmt(k, depth, i == 0)
            })
            .collect()
    }
    fn script(&mut self) -> Script {
        let mut stmts = Vec::new();
        let n = 1 + self.below(4);
        for i in 0..n {
            let kind = match self.below(5) {
                0 => StmtKind::Languages((0..1 + self.below(2)).map(|_| self.lang()).collect()),
                1 => StmtKind::Hours(self.ident()),
                2 => StmtKind::Defaults,
                _ => StmtKind::Flow {
                    name: self.ident(),
                    params: (0..self.below(3)).map(|_| self.ident()).collect(),
                },
            };
            let mut s = Stmt::new(kind, Self::span());
            s.comments = self.comments();
            s.blank_before = i > 0;
            s.body = match s.kind {
                StmtKind::Hours(_) => (0..self.below(3))
                    .map(|j| {
                        let k = if self.coin() {
                            StmtKind::HoursRange {
                                first: self.day(),
                                last: if self.coin() { Some(self.day()) } else { None },
                                open: self.time(),
                                close: self.time(),
                            }
                        } else {
                            StmtKind::ClosedOnHolidays
                        };
                        let mut h = Stmt::new(k, Self::span());
                        h.blank_before = j > 0 && self.coin();
                        h
                    })
                    .collect(),
                StmtKind::Languages(_) => Vec::new(),
                _ => self.block(1),
            };
            stmts.push(s);
        }
        let trailing = if self.coin() {
            self.comments()
        } else {
            Vec::new()
        };
        Script {
            stmts,
            trailing_comments: trailing,
        }
    }
}

fn prec(e: &Expr) -> u8 {
    match e {
        Expr::Binary(op, ..) => op.precedence(),
        _ => u8::MAX,
    }
}
