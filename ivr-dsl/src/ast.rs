//! The syntax tree. Every node carries its [`Span`]. A script is a tree of [`Stmt`]s: each line
//! is one statement and its indented block is its `body`; the checker (`validate`) decides which
//! statement may stand where, so the parser can recover from any line.

use crate::fold::DigitFamily;
pub use crate::keywords::Lang;
use crate::span::Span;

/// A whole script.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Script {
    /// Top-level statements: `languages`, `hours`, `defaults`, `flow`.
    pub stmts: Vec<Stmt>,
    /// Comments after the last statement.
    pub trailing_comments: Vec<Comment>,
}

/// A whole-line comment, without its leading `--`.
#[derive(Clone, Debug, PartialEq)]
pub struct Comment {
    /// The text after `--`, trailing spaces removed.
    pub text: String,
    /// Where.
    pub span: Span,
}

/// One statement (one line) and its block.
#[derive(Clone, Debug, PartialEq)]
pub struct Stmt {
    /// What the line says.
    pub kind: StmtKind,
    /// The line's extent (without indentation).
    pub span: Span,
    /// The span of the leading keyword.
    pub kw_span: Span,
    /// The indented block (or the inline statement after `press K`, `on …`, `after N attempts`).
    pub body: Vec<Stmt>,
    /// Comment lines just before this statement.
    pub comments: Vec<Comment>,
    /// Whether blank lines separate it from the statement before it in the same block.
    pub blank_before: bool,
}

impl Stmt {
    /// A statement without body or comments.
    pub fn new(kind: StmtKind, span: Span) -> Self {
        Stmt {
            kind,
            span,
            kw_span: span,
            body: Vec::new(),
            comments: Vec::new(),
            blank_before: false,
        }
    }
}

/// Text of a name: kept inline (no allocation) up to 24 bytes, which covers nearly every name
/// in a script (12 Arabic letters), and is a `&str` everywhere through `Deref`.
pub type Name = compact_str::CompactString;

/// A name of a flow, step, variable or business-hours set.
#[derive(Clone, Debug)]
pub struct Ident {
    /// As written.
    pub text: Name,
    /// Identity (see [`crate::fold::name_key`]).
    pub key: Name,
    /// Where.
    pub span: Span,
}

impl PartialEq for Ident {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Ident {
    /// A name from its text.
    pub fn new(text: impl Into<Name>, span: Span) -> Self {
        let text = text.into();
        Ident {
            key: crate::fold::name_key(&text),
            text,
            span,
        }
    }
}

/// An ASCII name defined outside the script: a prompt id, backend operation or transfer
/// destination.
#[derive(Clone, Debug, PartialEq)]
pub struct ExtName {
    /// The name.
    pub name: Name,
    /// Where.
    pub span: Span,
}

/// A non-negative integer and the digits it was written with.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Num {
    /// Value.
    pub value: u64,
    /// Digit family as written.
    pub family: DigitFamily,
    /// Where.
    pub span: Span,
}

/// A unit of time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeUnit {
    /// Milliseconds (`ms`, `مث`).
    Ms,
    /// Seconds (`s`, `ث`).
    S,
    /// Minutes (`min`, `د`).
    Min,
}

/// A duration such as `6s` or `6 ث`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Duration {
    /// The amount.
    pub amount: Num,
    /// Its unit.
    pub unit: TimeUnit,
    /// Where.
    pub span: Span,
}

impl Duration {
    /// In milliseconds (saturating).
    pub fn millis(&self) -> u64 {
        let m = match self.unit {
            TimeUnit::Ms => 1,
            TimeUnit::S => 1000,
            TimeUnit::Min => 60_000,
        };
        self.amount.value.saturating_mul(m)
    }
}

/// A time of day, `HH:MM`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TimeOfDay {
    /// Hour 0–23 (24 only as `24:00`).
    pub hour: u8,
    /// Minute 0–59.
    pub minute: u8,
    /// Digit family as written.
    pub family: DigitFamily,
    /// Where.
    pub span: Span,
}

impl TimeOfDay {
    /// Minutes since midnight.
    pub fn minutes(&self) -> u32 {
        u32::from(self.hour) * 60 + u32::from(self.minute)
    }
}

/// A day of the week.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Day {
    /// Sunday.
    Sunday,
    /// Monday.
    Monday,
    /// Tuesday.
    Tuesday,
    /// Wednesday.
    Wednesday,
    /// Thursday.
    Thursday,
    /// Friday.
    Friday,
    /// Saturday.
    Saturday,
}

/// A phone key.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Key {
    /// `'0'`–`'9'`, `'*'` or `'#'`.
    pub key: char,
    /// For digit keys, the family written.
    pub family: DigitFamily,
    /// Where.
    pub span: Span,
}

/// What `say` says.
#[derive(Clone, Debug, PartialEq)]
pub enum SayWhat {
    /// A prompt by its Fluent message id.
    Prompt(ExtName),
    /// A variable's value, spoken in a way.
    Value(Ident, ValueStyle),
}

/// `collect V digits N [to M] [until K] [timeout D]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Collect {
    /// Where the digits go.
    pub var: Ident,
    /// Minimum number of digits (exact when `max` is absent).
    pub min: Num,
    /// Maximum number of digits.
    pub max: Option<Num>,
    /// A key that ends input early.
    pub until: Option<Key>,
    /// First-digit and inter-digit timeout.
    pub timeout: Option<Duration>,
}

/// `record V [beep] [max D] [silence D] [until K]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// Where the recording goes.
    pub var: Ident,
    /// Whether a beep precedes recording.
    pub beep: bool,
    /// Maximum length.
    pub max: Option<Duration>,
    /// Trailing silence that ends the recording.
    pub silence: Option<Duration>,
    /// A key that ends the recording.
    pub until: Option<Key>,
}

/// `run F [with V…] [into V]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Run {
    /// The subflow.
    pub flow: Ident,
    /// Variables passed in, by name.
    pub args: Vec<Ident>,
    /// Where the returned value goes.
    pub into: Option<Ident>,
}

/// How a value is spoken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueStyle {
    /// Digit by digit.
    Digits,
    /// As a number in words.
    Number,
    /// As a date.
    Date,
    /// Free text (a note from staff), spoken by text-to-speech at call time.
    Text,
}

/// Events with handlers (`on …`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Event {
    /// The caller said nothing before the timeout.
    Noinput,
    /// The caller's input did not match.
    Nomatch,
    /// A backend request or transfer failed.
    Failure,
    /// A lookup found nothing.
    NotFound,
    /// The transfer destination was busy.
    Busy,
    /// The transfer destination did not answer.
    Noanswer,
}

impl Event {
    /// The English name, as after `on` (`noinput`, `not_found`, …).
    pub fn name(self) -> &'static str {
        match self {
            Event::Noinput => "noinput",
            Event::Nomatch => "nomatch",
            Event::Failure => "failure",
            Event::NotFound => "not_found",
            Event::Busy => "busy",
            Event::Noanswer => "noanswer",
        }
    }
}

/// What a line says.
#[derive(Clone, Debug, PartialEq)]
pub enum StmtKind {
    /// `languages ar en`.
    Languages(Vec<Lang>),
    /// `hours NAME`, with hours lines as its body.
    Hours(Ident),
    /// `sunday to thursday from 08:00 to 16:00`.
    HoursRange {
        /// First day.
        first: Day,
        /// Last day, if a range of days.
        last: Option<Day>,
        /// Opening time.
        open: TimeOfDay,
        /// Closing time.
        close: TimeOfDay,
    },
    /// `closed on holidays`.
    ClosedOnHolidays,
    /// `defaults`, with handlers as its body.
    Defaults,
    /// `flow NAME [with P…]`.
    Flow {
        /// Its name.
        name: Ident,
        /// Parameters, when run as a subflow.
        params: Vec<Ident>,
    },
    /// `step NAME`.
    Step(Ident),
    /// `language ar`.
    Language(Lang),
    /// `say …`.
    Say {
        /// What to say.
        what: SayWhat,
        /// A fixed language, or the caller's.
        lang: Option<Lang>,
        /// Whether a keypress interrupts it (true unless `without interruption`).
        barge_in: bool,
    },
    /// `play V [without interruption]`.
    Play {
        /// The variable holding a recording.
        var: Ident,
        /// Whether a keypress interrupts it.
        barge_in: bool,
    },
    /// `menu [timeout D]`.
    Menu {
        /// How long to wait for a key.
        timeout: Option<Duration>,
    },
    /// `press K`.
    Press(Key),
    /// `collect V digits N [to M] [until K] [timeout D]` (boxed, like the other large
    /// statements, so that every statement stays small).
    Collect(Box<Collect>),
    /// `record V [beep] [max D] [silence D] [until K]`.
    Record(Box<Record>),
    /// `on EVENT [N]`.
    On {
        /// The event.
        event: Event,
        /// For noinput/nomatch, the count this handler applies from.
        count: Option<Num>,
    },
    /// `after N attempts`.
    AfterAttempts(Num),
    /// `repeat`.
    Repeat,
    /// `goto T`.
    Goto(Ident),
    /// `run F [with V…] [into V]`.
    Run(Box<Run>),
    /// `return [E]`.
    Return(Option<Expr>),
    /// `set V = E`.
    Set {
        /// The variable.
        var: Ident,
        /// The value.
        value: Expr,
    },
    /// `if E`.
    If(Expr),
    /// `else if E`.
    ElseIf(Expr),
    /// `else`.
    Else,
    /// `submit OP [with V…] into V`.
    Submit {
        /// Backend operation.
        op: ExtName,
        /// Fields, by variable name.
        args: Vec<Ident>,
        /// Where the result goes.
        into: Ident,
    },
    /// `lookup OP [with V…] into V`.
    Lookup {
        /// Backend operation.
        op: ExtName,
        /// Fields, by variable name.
        args: Vec<Ident>,
        /// Where the result goes.
        into: Ident,
    },
    /// `transfer DEST [timeout D]`.
    Transfer {
        /// Configured destination.
        dest: ExtName,
        /// Ring timeout.
        timeout: Option<Duration>,
    },
    /// `hangup`.
    Hangup,
    /// A line that could not be parsed (already reported); its block is kept.
    Invalid,
}

/// A binary operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    /// `or`.
    Or,
    /// `and`.
    And,
    /// `=`.
    Eq,
    /// `!=`.
    Ne,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
    /// `+`.
    Add,
    /// `-`.
    Sub,
    /// `*`.
    Mul,
    /// `/`.
    Div,
}

impl BinOp {
    /// Binding strength; higher binds tighter.
    pub fn precedence(self) -> u8 {
        match self {
            BinOp::Or => 1,
            BinOp::And => 2,
            BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => 3,
            BinOp::Add | BinOp::Sub => 4,
            BinOp::Mul | BinOp::Div => 5,
        }
    }

    /// The symbol of a symbolic operator.
    pub fn symbol(self) -> Option<&'static str> {
        Some(match self {
            BinOp::Eq => "=",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Or | BinOp::And => return None,
        })
    }
}

/// An expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// A number.
    Num(Num),
    /// A string literal (NFC).
    Str(Name, Span),
    /// A variable.
    Var(Ident),
    /// `within hours H`.
    WithinHours(Ident),
    /// `not E`.
    Not(Box<Expr>),
    /// `-E`.
    Neg(Box<Expr>),
    /// `( E )`.
    Paren(Box<Expr>),
    /// `E op E`: the two sides in one allocation.
    Binary(BinOp, Box<[Expr; 2]>),
}

impl Expr {
    /// Every variable the expression reads.
    pub fn vars<'a>(&'a self, out: &mut Vec<&'a Ident>) {
        match self {
            Expr::Var(v) => out.push(v),
            Expr::Not(e) | Expr::Neg(e) | Expr::Paren(e) => e.vars(out),
            Expr::Binary(_, ab) => {
                ab[0].vars(out);
                ab[1].vars(out);
            }
            Expr::Num(_) | Expr::Str(..) | Expr::WithinHours(_) => {}
        }
    }

    /// Every `within hours` name the expression tests.
    pub fn hours<'a>(&'a self, out: &mut Vec<&'a Ident>) {
        match self {
            Expr::WithinHours(h) => out.push(h),
            Expr::Not(e) | Expr::Neg(e) | Expr::Paren(e) => e.hours(out),
            Expr::Binary(_, ab) => {
                ab[0].hours(out);
                ab[1].hours(out);
            }
            Expr::Num(_) | Expr::Str(..) | Expr::Var(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tree is moved while it is built and read by every check; its size is part of the
    /// front end's speed (docs/PERFORMANCE.md). A variant that grows past this should be boxed.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn a_statement_stays_at_224_bytes() {
        assert_eq!(std::mem::size_of::<Stmt>(), 224);
        assert_eq!(std::mem::size_of::<Span>(), 16);
    }
}
