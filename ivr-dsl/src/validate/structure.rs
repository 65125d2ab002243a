//! Which statement may stand where, which need or refuse a block, `if` chains, `repeat`.

use super::Checker;
use crate::ast::{Event, Stmt, StmtKind};
use crate::diag::{Code, Diagnostic};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    /// Under a line that did not parse: anything goes (already reported).
    Any,
    Top,
    Hours,
    Defaults,
    FlowBody,
    Block,
    Menu,
    Input,
    Submit,
    Lookup,
    Transfer,
}

impl Place {
    fn name(self) -> &'static str {
        match self {
            Place::Any | Place::Top => "@where-top",
            Place::Hours => "@where-hours",
            Place::Defaults => "@where-defaults",
            Place::FlowBody | Place::Block => "@where-flow",
            Place::Menu | Place::Input => "@where-input",
            Place::Submit | Place::Lookup | Place::Transfer => "@where-handlers",
        }
    }
}

fn flow_stmt(k: &StmtKind) -> bool {
    matches!(
        k,
        StmtKind::Language(_)
            | StmtKind::Say { .. }
            | StmtKind::Play { .. }
            | StmtKind::Menu { .. }
            | StmtKind::Collect(_)
            | StmtKind::Record(_)
            | StmtKind::Repeat
            | StmtKind::Goto(_)
            | StmtKind::Run(_)
            | StmtKind::Return(_)
            | StmtKind::Set { .. }
            | StmtKind::If(_)
            | StmtKind::ElseIf(_)
            | StmtKind::Else
            | StmtKind::Submit { .. }
            | StmtKind::Lookup { .. }
            | StmtKind::Transfer { .. }
            | StmtKind::Hangup
            | StmtKind::Invalid
    )
}

fn input_handler(k: &StmtKind) -> bool {
    matches!(
        k,
        StmtKind::On {
            event: Event::Noinput | Event::Nomatch,
            ..
        } | StmtKind::AfterAttempts(_)
    )
}

fn allowed(k: &StmtKind, place: Place) -> bool {
    if matches!(k, StmtKind::Invalid) {
        return true;
    }
    match place {
        Place::Any => true,
        Place::Top => matches!(
            k,
            StmtKind::Languages(_)
                | StmtKind::Hours(_)
                | StmtKind::Defaults
                | StmtKind::Flow { .. }
        ),
        Place::Hours => matches!(k, StmtKind::HoursRange { .. } | StmtKind::ClosedOnHolidays),
        Place::Defaults => input_handler(k),
        Place::FlowBody => flow_stmt(k) || matches!(k, StmtKind::Step(_)),
        Place::Block => flow_stmt(k),
        Place::Menu => {
            input_handler(k)
                || matches!(
                    k,
                    StmtKind::Say { .. } | StmtKind::Play { .. } | StmtKind::Press(_)
                )
        }
        Place::Input => {
            input_handler(k) || matches!(k, StmtKind::Say { .. } | StmtKind::Play { .. })
        }
        Place::Submit | Place::Lookup | Place::Transfer => matches!(k, StmtKind::On { .. }),
    }
}

fn needs_block(k: &StmtKind) -> bool {
    matches!(
        k,
        StmtKind::Hours(_)
            | StmtKind::Defaults
            | StmtKind::Flow { .. }
            | StmtKind::Step(_)
            | StmtKind::Menu { .. }
            | StmtKind::Press(_)
            | StmtKind::On { .. }
            | StmtKind::AfterAttempts(_)
            | StmtKind::If(_)
            | StmtKind::ElseIf(_)
            | StmtKind::Else
    )
}

fn takes_block(k: &StmtKind) -> bool {
    needs_block(k)
        || matches!(
            k,
            StmtKind::Collect(_)
                | StmtKind::Record(_)
                | StmtKind::Submit { .. }
                | StmtKind::Lookup { .. }
                | StmtKind::Transfer { .. }
                | StmtKind::Invalid
        )
}

impl Checker<'_> {
    pub(super) fn structure(&mut self) {
        let script = self.script;
        self.block(&script.stmts, Place::Top, false, false);
    }

    /// `in_defaults`: inside a `defaults` handler, where input states are not allowed (every
    /// input state inherits the defaults handlers, so one inside them would nest forever).
    fn block(&mut self, stmts: &[Stmt], place: Place, repeat_ok: bool, in_defaults: bool) {
        let mut prev_if = false;
        for s in stmts {
            if in_defaults
                && matches!(
                    s.kind,
                    StmtKind::Menu { .. } | StmtKind::Collect(_) | StmtKind::Record(_)
                )
            {
                self.push(
                    Diagnostic::new(Code::Misplaced, s.kw_span)
                        .arg("stmt", self.kw_text(s))
                        .arg("where", "@where-defaults-handler"),
                );
                continue;
            }
            if !allowed(&s.kind, place) {
                let wrong_handler = matches!(s.kind, StmtKind::On { .. })
                    && matches!(
                        place,
                        Place::Submit
                            | Place::Lookup
                            | Place::Transfer
                            | Place::Menu
                            | Place::Input
                    );
                if wrong_handler {
                    self.push(
                        Diagnostic::new(Code::WrongHandler, s.kw_span).arg("stmt", self.kw_text(s)),
                    );
                } else {
                    self.push(
                        Diagnostic::new(Code::Misplaced, s.kw_span)
                            .arg("stmt", self.kw_text(s))
                            .arg("where", place.name()),
                    );
                }
            } else if let StmtKind::On { event, .. } = &s.kind {
                let ok = match place {
                    Place::Submit => *event == Event::Failure,
                    Place::Lookup => matches!(event, Event::Failure | Event::NotFound),
                    Place::Transfer => {
                        matches!(event, Event::Failure | Event::Busy | Event::Noanswer)
                    }
                    _ => true,
                };
                if !ok {
                    self.push(
                        Diagnostic::new(Code::WrongHandler, s.kw_span).arg("stmt", self.kw_text(s)),
                    );
                }
            }
            match s.kind {
                StmtKind::ElseIf(_) | StmtKind::Else if !prev_if => {
                    self.push(
                        Diagnostic::new(Code::ElseWithoutIf, s.kw_span)
                            .arg("stmt", self.kw_text(s)),
                    );
                }
                StmtKind::Repeat if !repeat_ok => {
                    self.push(Diagnostic::new(Code::RepeatOutsideInput, s.kw_span));
                }
                _ => {}
            }
            prev_if = matches!(s.kind, StmtKind::If(_) | StmtKind::ElseIf(_));
            if s.body.is_empty() && needs_block(&s.kind) {
                self.push(
                    Diagnostic::new(Code::EmptyBlock, s.kw_span).arg("stmt", self.kw_text(s)),
                );
            }
            if !s.body.is_empty() && !takes_block(&s.kind) {
                self.push(
                    Diagnostic::new(Code::UnexpectedBlock, s.body[0].span)
                        .arg("stmt", self.kw_text(s)),
                );
                continue;
            }
            if let StmtKind::Menu { .. } = s.kind
                && !s.body.is_empty()
                && !s
                    .body
                    .iter()
                    .any(|c| matches!(c.kind, StmtKind::Press(_) | StmtKind::Invalid))
            {
                self.push(
                    Diagnostic::new(Code::EmptyBlock, s.kw_span).arg("stmt", self.kw_text(s)),
                );
            }
            let (inner, rep) = match &s.kind {
                StmtKind::Hours(_) => (Place::Hours, false),
                StmtKind::Defaults => (Place::Defaults, false),
                StmtKind::Flow { .. } => (Place::FlowBody, false),
                StmtKind::Menu { .. } => (Place::Menu, false),
                StmtKind::Collect(_) | StmtKind::Record(_) => (Place::Input, false),
                StmtKind::Submit { .. } => (Place::Submit, false),
                StmtKind::Lookup { .. } => (Place::Lookup, false),
                StmtKind::Transfer { .. } => (Place::Transfer, false),
                StmtKind::Press(_) => (Place::Block, true),
                StmtKind::On {
                    event: Event::Noinput | Event::Nomatch,
                    ..
                } => (Place::Block, true),
                StmtKind::If(_) | StmtKind::ElseIf(_) | StmtKind::Else => (Place::Block, repeat_ok),
                StmtKind::Invalid => (Place::Any, true),
                _ => (Place::Block, false),
            };
            let nested_defaults = in_defaults || place == Place::Defaults;
            self.block(&s.body, inner, rep, nested_defaults);
        }
    }
}
