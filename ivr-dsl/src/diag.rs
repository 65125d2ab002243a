//! Diagnostics: stable codes, severities, spans and message arguments.
//!
//! The words of every message live in Fluent catalogs (`messages/en.ftl`, `messages/ar.ftl`);
//! a [`Diagnostic`] only carries its code, its place and the values to fill in.

use crate::span::Span;

/// How bad a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The script can run, but something looks wrong.
    Warning,
    /// The script cannot run.
    Error,
}

impl Severity {
    /// `error` or `warning`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

macro_rules! codes {
    ($( $variant:ident = $code:literal, $sev:ident, $doc:literal; )*) => {
        /// Every diagnostic the language can produce. Codes are stable: they never change meaning.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code {
            $( #[doc = $doc] $variant, )*
        }

        impl Code {
            /// Every code, in order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The stable code, e.g. `E018`.
            pub fn as_str(self) -> &'static str {
                match self { $( Code::$variant => $code, )* }
            }

            /// The severity the code always has.
            pub fn severity(self) -> Severity {
                match self { $( Code::$variant => Severity::$sev, )* }
            }

            /// The code for a string such as `E018`.
            pub fn parse(s: &str) -> Option<Code> {
                match s { $( $code => Some(Code::$variant), )* _ => None }
            }
        }
    };
}

codes! {
    InvalidUtf8 = "E001", Error, "The file is not valid UTF-8.";
    ForbiddenChar = "E002", Error, "A bidi control, zero-width, control or other forbidden character.";
    MarkInsideToken = "E003", Error, "A directional mark (LRM, RLM, ALM) inside a word or number.";
    TabIndent = "E004", Error, "A tab in the indentation.";
    BadIndent = "E005", Error, "Indentation that is not a whole number of steps.";
    OverIndent = "E006", Error, "A line indented more than one step deeper than the line before.";
    UnknownStatement = "E007", Error, "A line that does not start with a statement keyword.";
    Syntax = "E008", Error, "Something other than what the statement allows.";
    MixedKeywords = "E009", Error, "One statement with keywords of both languages.";
    MixedDigits = "E010", Error, "One number written with digits of two families.";
    BadLiteral = "E011", Error, "A malformed number, duration or time.";
    BadString = "E012", Error, "A malformed string.";
    BadName = "E013", Error, "A name that is not a valid identifier.";
    Misplaced = "E014", Error, "A statement where it is not allowed.";
    EmptyBlock = "E015", Error, "A statement that needs an indented block has none.";
    UnexpectedBlock = "E016", Error, "An indented block under a statement that takes none.";
    DuplicateName = "E017", Error, "A name defined twice.";
    UnknownTarget = "E018", Error, "A jump or call to a flow or step that does not exist.";
    LooseMatch = "E019", Error, "A name that only loosely matches a defined one.";
    NoFlow = "E020", Error, "A script without any flow.";
    FallsOff = "E021", Error, "A path that reaches the end of a flow without ending the call.";
    UnboundedCycle = "E022", Error, "A loop that can run forever without caller input.";
    DuplicateKey = "E023", Error, "Two menu options for the same key.";
    BadKey = "E024", Error, "Not a phone key.";
    HandlerGap = "E025", Error, "Counted handlers with a gap in their counts.";
    DuplicateHandler = "E026", Error, "Two handlers for the same event and count.";
    MaybeUnassigned = "E027", Error, "A variable read on a path where it was not assigned.";
    UnknownVariable = "E028", Error, "A variable that is never assigned.";
    MissingPrompt = "E029", Error, "A prompt missing from a language's catalog.";
    UnknownOperation = "E030", Error, "A backend operation that is not registered.";
    WrongOperationKind = "E031", Error, "A lookup used with submit, or a submit with lookup.";
    UnknownDestination = "E032", Error, "A transfer destination that is not configured.";
    OutOfRange = "E033", Error, "A value outside its allowed range.";
    MinOverMax = "E034", Error, "A minimum above its maximum.";
    UnknownHours = "E035", Error, "A reference to business hours that are not declared.";
    UndeclaredLanguage = "E036", Error, "A language that the script does not declare.";
    DuplicateDeclaration = "E037", Error, "`languages` or `defaults` declared twice.";
    RunArguments = "E038", Error, "`run` arguments that do not match the flow's parameters.";
    ReturnOutsideSubflow = "E039", Error, "`return` in a flow that is not run as a subflow.";
    RepeatOutsideInput = "E040", Error, "`repeat` outside a menu option or input handler.";
    ElseWithoutIf = "E041", Error, "`else` or `else if` without an `if` before it.";
    InlineAndBlock = "E042", Error, "A line with an inline statement and an indented block.";
    BadExtName = "E043", Error, "A prompt id, operation or destination that is not lowercase ASCII.";
    BadHours = "E044", Error, "Business hours that end before they start.";
    WrongHandler = "E045", Error, "A handler for an event the statement cannot have.";
    StringNotLast = "E046", Error, "A string followed by more text on its line.";
    NoLanguages = "E047", Error, "A script that does not declare its languages.";
    OperationFields = "E048", Error, "A backend operation given the wrong number of fields.";
    UnreachableCode = "W001", Warning, "A statement or step that no path reaches.";
    UnreachableFlow = "W002", Warning, "A flow that no path reaches.";
    NoCatalog = "W003", Warning, "No prompt catalog was found; prompts were not checked.";
    StepShadowsFlow = "W004", Warning, "A step with the name of a flow: `goto` reaches the step.";
    UnusedHours = "W005", Warning, "Business hours that nothing tests.";
    UnusedVariable = "W006", Warning, "A variable that is assigned but never read.";
    NoProjectConfig = "W007", Warning, "No project configuration; transfer destinations were not checked.";
}

/// One finding about a script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// What was found.
    pub code: Code,
    /// Where.
    pub span: Span,
    /// Values for the message placeholders, e.g. `("name", "main")`.
    pub args: Vec<(&'static str, String)>,
}

impl Diagnostic {
    /// A diagnostic without arguments.
    pub fn new(code: Code, span: Span) -> Self {
        Diagnostic {
            code,
            span,
            args: Vec::new(),
        }
    }

    /// Adds a message argument.
    pub fn arg(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.args.push((name, value.into()));
        self
    }

    /// The severity of its code.
    pub fn severity(&self) -> Severity {
        self.code.severity()
    }

    /// The value of an argument, if given.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.args
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Whether any diagnostic in the list is an error.
pub fn has_errors(diags: &[Diagnostic]) -> bool {
    diags.iter().any(|d| d.severity() == Severity::Error)
}
