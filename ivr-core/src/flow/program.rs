//! A checked script compiled once into flat code that every call shares (`Arc<Program>`).
//!
//! Statements become [`Op`]s addressed by [`Pc`]. Each input state (menu, collect, record) is
//! described once in [`InputState`], with its handlers from the state and from `defaults`
//! already merged. Handler bodies are code like any other: a noinput/nomatch handler ends in
//! [`Op::Repeat`], an `after` handler and a `press` body jump to what follows the state.

use crate::vocab::Key;
use ivr_dsl::ast::{BinOp, Event, Expr, Ident, SayWhat, Script, Stmt, StmtKind, ValueStyle};
use ivr_dsl::{Lang, OpKind};
use rustc_hash::FxHashMap;

/// An address in [`Program::code`].
pub type Pc = usize;
/// A variable slot.
pub type VarId = usize;

/// Why a script cannot be compiled (the checker reports these first; compiling an unchecked
/// script is an error, never a panic).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CompileError {
    /// The script has errors; check it with `ivr check`.
    #[error("the script has {0} error(s); run `ivr check` for details")]
    HasErrors(usize),
    /// The script has no flow.
    #[error("the script has no flow")]
    NoFlow,
}

impl CompileError {
    /// Who is at fault: the project: the script has errors.
    pub fn fault(&self) -> crate::vocab::Fault {
        crate::vocab::Fault::Local
    }
}

/// A compiled expression.
#[derive(Clone, Debug, PartialEq)]
pub enum CExpr {
    /// A number.
    Num(i64),
    /// A string.
    Str(String),
    /// A variable.
    Var(VarId),
    /// `within hours` of hours set `n`.
    WithinHours(usize),
    /// `not`.
    Not(Box<CExpr>),
    /// `-`.
    Neg(Box<CExpr>),
    /// A binary operation.
    Binary(BinOp, Box<CExpr>, Box<CExpr>),
}

/// Something said: a prompt, or a value spoken in a style.
#[derive(Clone, Debug, PartialEq)]
pub enum SayItem {
    /// A prompt by id.
    Prompt(String),
    /// A variable's value.
    Value(VarId, ValueStyle),
    /// A recording held in a variable.
    Recording(VarId),
}

/// One prompt line of an input state, or a `say`/`play` statement.
#[derive(Clone, Debug, PartialEq)]
pub struct PromptLine {
    /// What.
    pub item: SayItem,
    /// A fixed language, or the caller's.
    pub lang: Option<Lang>,
    /// Whether a key press interrupts it.
    pub barge_in: bool,
}

/// What kind of input a state waits for.
#[derive(Clone, Debug, PartialEq)]
pub enum InputKind {
    /// One key from the options.
    Menu {
        /// Key → where its option's body starts.
        options: Vec<(Key, Pc)>,
    },
    /// Digits into a variable.
    Collect {
        /// The variable.
        var: VarId,
        /// Minimum digits.
        min: usize,
        /// Maximum digits.
        max: usize,
        /// Terminating key.
        until: Option<Key>,
    },
    /// A recording into a variable.
    Record {
        /// The variable.
        var: VarId,
        /// Beep first.
        beep: bool,
        /// Maximum length.
        max_ms: u64,
        /// Trailing silence that ends it.
        silence_ms: u64,
        /// Key that ends it.
        until: Option<Key>,
    },
}

/// An input state.
#[derive(Clone, Debug, PartialEq)]
pub struct InputState {
    /// What it waits for.
    pub kind: InputKind,
    /// Its prompts.
    pub prompts: Vec<PromptLine>,
    /// First-key (noinput) timeout.
    pub timeout_ms: u64,
    /// Counted noinput handlers, ascending: (count, start).
    pub noinput: Vec<(u64, Pc)>,
    /// Counted nomatch handlers, ascending.
    pub nomatch: Vec<(u64, Pc)>,
    /// `after N attempts`: (N, start).
    pub after: Option<(u64, Pc)>,
    /// Where execution goes on success (after the state).
    pub next: Pc,
    /// Flow it is in.
    pub flow: usize,
    /// Source line, for events.
    pub line: u32,
}

/// One instruction.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// Entering a step (an event only).
    Step(usize),
    /// Set the caller's language.
    Language(Lang),
    /// Say something.
    Say(PromptLine),
    /// Enter an input state and wait.
    Input(usize),
    /// Jump.
    Jump(Pc),
    /// Jump if the condition is false.
    JumpUnless(CExpr, Pc),
    /// Assign.
    Set(VarId, CExpr),
    /// A backend request; waits for its result.
    Backend {
        /// Submit or lookup.
        kind: OpKind,
        /// Operation name.
        op: String,
        /// Field name (the operation's, positionally) → variable.
        fields: Vec<(String, VarId)>,
        /// Where the result goes.
        into: VarId,
        /// Handler for failure.
        on_failure: Option<Pc>,
        /// Handler for not found (lookup).
        on_not_found: Option<Pc>,
        /// Where to go on success and after handlers.
        next: Pc,
    },
    /// Blind transfer; waits for its outcome.
    Transfer {
        /// Configured destination.
        dest: String,
        /// Ring timeout.
        timeout_ms: Option<u64>,
        /// Handlers.
        on_busy: Option<Pc>,
        /// Handlers.
        on_noanswer: Option<Pc>,
        /// Handlers.
        on_failure: Option<Pc>,
    },
    /// Call a subflow.
    Run {
        /// The flow.
        flow: usize,
        /// (caller's variable, subflow's parameter).
        args: Vec<(VarId, VarId)>,
        /// Where the returned value goes.
        into: Option<VarId>,
    },
    /// Return from a subflow.
    Return(Option<CExpr>),
    /// Hang up (after the queued prompts).
    Hangup,
    /// Replay the current input state without resetting its counters.
    Repeat,
    /// The end of a flow was reached (the checker forbids it; a call that gets here ends).
    FallOff(usize),
}

/// A flow.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowInfo {
    /// Its name as written.
    pub name: String,
    /// First instruction.
    pub entry: Pc,
    /// Parameters.
    pub params: Vec<VarId>,
}

/// A step.
#[derive(Clone, Debug, PartialEq)]
pub struct StepInfo {
    /// Its name as written.
    pub name: String,
    /// Its flow.
    pub flow: usize,
}

/// Business hours.
#[derive(Clone, Debug, PartialEq)]
pub struct Hours {
    /// Name as written.
    pub name: String,
    /// (days bitmask, Sunday = bit 0; open minute; close minute).
    pub ranges: Vec<(u8, u32, u32)>,
    /// Closed on configured holidays.
    pub closed_on_holidays: bool,
}

/// The compiled script.
#[derive(Clone, Debug, PartialEq)]
pub struct Program {
    /// Instructions.
    pub code: Vec<Op>,
    /// Flows; the first is the entry.
    pub flows: Vec<FlowInfo>,
    /// Steps.
    pub steps: Vec<StepInfo>,
    /// Input states.
    pub states: Vec<InputState>,
    /// Variable names by slot.
    pub vars: Vec<String>,
    /// Business hours.
    pub hours: Vec<Hours>,
    /// Languages the script serves.
    pub languages: Vec<Lang>,
    /// Slots of the built-in variables `caller` and `called` (and their Arabic names).
    pub builtins: Vec<(VarId, Builtin)>,
    /// Places a test suite should reach: steps, menu options and handlers.
    pub points: Vec<Point>,
}

/// A place in the script that coverage is reported for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Point {
    /// Its first instruction: reached when this ran.
    pub pc: Pc,
    /// What it is, e.g. `step describe`, `press 1`, `on noinput 2 (defaults)`.
    pub what: String,
    /// Source line of the statement.
    pub line: u32,
    /// Its flow.
    pub flow: usize,
}

/// A variable every call starts with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Builtin {
    /// The caller's number.
    Caller,
    /// The number called.
    Called,
}

/// Defaults for what a script leaves unsaid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Defaults {
    /// Menu and first-digit timeout.
    pub timeout_ms: u64,
    /// Recording maximum.
    pub record_max_ms: u64,
    /// Recording trailing silence.
    pub record_silence_ms: u64,
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults {
            timeout_ms: 5_000,
            record_max_ms: 60_000,
            record_silence_ms: 3_000,
        }
    }
}

enum Fix {
    Step(usize, String),
}

struct Compiler<'a> {
    p: Program,
    var_ids: FxHashMap<String, VarId>,
    flow_ids: FxHashMap<String, usize>,
    hours_ids: FxHashMap<String, usize>,
    step_pcs: FxHashMap<(usize, String), Pc>,
    fixups: Vec<(Pc, Fix)>,
    defaults: &'a [Stmt],
    /// Compiling the body of a handler inherited from `defaults`.
    in_defaults: bool,
    env: &'a ivr_dsl::Environment,
    d: Defaults,
}

impl Program {
    /// Checks and compiles a script.
    pub fn compile(
        source: &[u8],
        env: &ivr_dsl::Environment,
        defaults: Defaults,
    ) -> Result<Program, CompileError> {
        let checked = ivr_dsl::check(source, env);
        let errors = checked
            .diagnostics
            .iter()
            .filter(|d| d.severity() == ivr_dsl::Severity::Error)
            .count();
        if errors > 0 {
            return Err(CompileError::HasErrors(errors));
        }
        Self::from_script(&checked.script, env, defaults)
    }

    /// Compiles an already checked script.
    pub fn from_script(
        script: &Script,
        env: &ivr_dsl::Environment,
        defaults: Defaults,
    ) -> Result<Program, CompileError> {
        let dflt = script
            .stmts
            .iter()
            .find(|s| matches!(s.kind, StmtKind::Defaults))
            .map_or(&[][..], |s| s.body.as_slice());
        let mut c = Compiler {
            p: Program {
                code: Vec::new(),
                flows: Vec::new(),
                steps: Vec::new(),
                states: Vec::new(),
                vars: Vec::new(),
                hours: Vec::new(),
                languages: Lang::ALL.to_vec(),
                builtins: Vec::new(),
                points: Vec::new(),
            },
            var_ids: FxHashMap::default(),
            flow_ids: FxHashMap::default(),
            hours_ids: FxHashMap::default(),
            step_pcs: FxHashMap::default(),
            fixups: Vec::new(),
            defaults: dflt,
            in_defaults: false,
            env,
            d: defaults,
        };
        for (name, b) in [
            ("caller", Builtin::Caller),
            ("المتصل", Builtin::Caller),
            ("called", Builtin::Called),
            ("المطلوب", Builtin::Called),
        ] {
            let v = c.var_name(name);
            c.p.builtins.push((v, b));
        }
        for s in &script.stmts {
            match &s.kind {
                StmtKind::Languages(l) => c.p.languages = l.clone(),
                StmtKind::Hours(n) => c.hours(n, &s.body),
                StmtKind::Flow { name, params } => {
                    let params = params.iter().map(|p| c.var(p)).collect();
                    c.flow_ids
                        .entry(name.key.to_string())
                        .or_insert(c.p.flows.len());
                    c.p.flows.push(FlowInfo {
                        name: name.text.to_string(),
                        entry: 0,
                        params,
                    });
                }
                _ => {}
            }
        }
        if c.p.flows.is_empty() {
            return Err(CompileError::NoFlow);
        }
        let mut i = 0;
        for s in &script.stmts {
            if let StmtKind::Flow { .. } = s.kind {
                c.p.flows[i].entry = c.p.code.len();
                c.block(&s.body, i);
                c.emit(Op::FallOff(i));
                i += 1;
            }
        }
        for (pc, fix) in std::mem::take(&mut c.fixups) {
            let target = match fix {
                Fix::Step(flow, key) => c
                    .step_pcs
                    .get(&(flow, key.clone()))
                    .copied()
                    .or_else(|| c.flow_ids.get(&key).map(|&f| c.p.flows[f].entry)),
            };
            // The checker resolved every target; an unresolved one ends the call.
            let op = match target {
                Some(t) => Op::Jump(t),
                None => Op::Hangup,
            };
            c.p.code[pc] = op;
        }
        Ok(c.p)
    }
}

impl Compiler<'_> {
    fn point(&mut self, what: String, line: u32, flow: usize) {
        let pc = self.here();
        self.p.points.push(Point {
            pc,
            what,
            line,
            flow,
        });
    }

    fn emit(&mut self, op: Op) -> Pc {
        self.p.code.push(op);
        self.p.code.len() - 1
    }

    fn here(&self) -> Pc {
        self.p.code.len()
    }

    fn var_name(&mut self, text: &str) -> VarId {
        let key = ivr_dsl::fold::name_key(text);
        if let Some(&v) = self.var_ids.get(key.as_str()) {
            return v;
        }
        let v = self.p.vars.len();
        self.p.vars.push(text.to_string());
        self.var_ids.insert(key.to_string(), v);
        v
    }

    fn var(&mut self, id: &Ident) -> VarId {
        self.var_name(&id.text)
    }

    fn hours(&mut self, name: &Ident, body: &[Stmt]) {
        let mut h = Hours {
            name: name.text.to_string(),
            ranges: Vec::new(),
            closed_on_holidays: false,
        };
        for l in body {
            match &l.kind {
                StmtKind::HoursRange {
                    first,
                    last,
                    open,
                    close,
                } => {
                    let last = last.unwrap_or(*first);
                    let mut mask = 0u8;
                    let mut d = *first as u8;
                    loop {
                        mask |= 1 << d;
                        if d == last as u8 {
                            break;
                        }
                        d = (d + 1) % 7;
                    }
                    h.ranges.push((mask, open.minutes(), close.minutes()));
                }
                StmtKind::ClosedOnHolidays => h.closed_on_holidays = true,
                _ => {}
            }
        }
        self.hours_ids
            .entry(name.key.to_string())
            .or_insert(self.p.hours.len());
        self.p.hours.push(h);
    }

    fn expr(&mut self, e: &Expr) -> CExpr {
        match e {
            Expr::Num(n) => CExpr::Num(i64::try_from(n.value).unwrap_or(i64::MAX)),
            Expr::Str(s, _) => CExpr::Str(s.to_string()),
            Expr::Var(v) => CExpr::Var(self.var(v)),
            Expr::WithinHours(h) => CExpr::WithinHours(
                self.hours_ids
                    .get(h.key.as_str())
                    .copied()
                    .unwrap_or(usize::MAX),
            ),
            Expr::Not(x) => CExpr::Not(Box::new(self.expr(x))),
            Expr::Neg(x) => CExpr::Neg(Box::new(self.expr(x))),
            Expr::Paren(x) => self.expr(x),
            Expr::Binary(op, ab) => {
                let [a, b] = &**ab;
                CExpr::Binary(*op, Box::new(self.expr(a)), Box::new(self.expr(b)))
            }
        }
    }

    fn prompt(&mut self, s: &Stmt) -> Option<PromptLine> {
        match &s.kind {
            StmtKind::Say {
                what,
                lang,
                barge_in,
            } => Some(PromptLine {
                item: match what {
                    SayWhat::Prompt(id) => SayItem::Prompt(id.name.to_string()),
                    SayWhat::Value(v, style) => SayItem::Value(self.var(v), *style),
                },
                lang: *lang,
                barge_in: *barge_in,
            }),
            StmtKind::Play { var, barge_in } => Some(PromptLine {
                item: SayItem::Recording(self.var(var)),
                lang: None,
                barge_in: *barge_in,
            }),
            _ => None,
        }
    }

    /// Compiles a block; control falls through to whatever is emitted after it.
    fn block(&mut self, stmts: &[Stmt], flow: usize) {
        let mut i = 0;
        while i < stmts.len() {
            if matches!(stmts[i].kind, StmtKind::If(_)) {
                let mut j = i + 1;
                while j < stmts.len()
                    && matches!(stmts[j].kind, StmtKind::ElseIf(_) | StmtKind::Else)
                {
                    j += 1;
                }
                self.if_chain(&stmts[i..j], flow);
                i = j;
            } else {
                self.stmt(&stmts[i], flow);
                i += 1;
            }
        }
    }

    fn if_chain(&mut self, chain: &[Stmt], flow: usize) {
        let mut ends = Vec::new();
        for s in chain {
            match &s.kind {
                StmtKind::If(e) | StmtKind::ElseIf(e) => {
                    let cond = self.expr(e);
                    let test = self.emit(Op::JumpUnless(cond.clone(), 0));
                    self.block(&s.body, flow);
                    ends.push(self.emit(Op::Jump(0)));
                    let next = self.here();
                    self.p.code[test] = Op::JumpUnless(cond, next);
                }
                _ => self.block(&s.body, flow),
            }
        }
        let end = self.here();
        for e in ends {
            self.p.code[e] = Op::Jump(end);
        }
    }

    fn jump_fix(&mut self, fix: Fix) {
        let pc = self.emit(Op::Hangup);
        self.fixups.push((pc, fix));
    }

    fn stmt(&mut self, s: &Stmt, flow: usize) {
        match &s.kind {
            StmtKind::Step(n) => {
                let id = self.p.steps.len();
                self.p.steps.push(StepInfo {
                    name: n.text.to_string(),
                    flow,
                });
                self.point(format!("step {}", n.text), s.span.line, flow);
                let pc = self.emit(Op::Step(id));
                self.step_pcs.entry((flow, n.key.to_string())).or_insert(pc);
                self.block(&s.body, flow);
            }
            StmtKind::Language(l) => {
                self.emit(Op::Language(*l));
            }
            StmtKind::Say { .. } | StmtKind::Play { .. } => {
                if let Some(p) = self.prompt(s) {
                    self.emit(Op::Say(p));
                }
            }
            StmtKind::Menu { .. } | StmtKind::Collect(_) | StmtKind::Record(_) => {
                self.input_state(s, flow)
            }
            StmtKind::Repeat => {
                self.emit(Op::Repeat);
            }
            StmtKind::Goto(t) => self.jump_fix(Fix::Step(flow, t.key.to_string())),
            StmtKind::Run(run) => {
                let ivr_dsl::ast::Run {
                    flow: f,
                    args,
                    into,
                } = &**run;
                let target = self.flow_ids.get(f.key.as_str()).copied();
                match target {
                    Some(t) => {
                        let params = self.p.flows[t].params.clone();
                        let args = args
                            .iter()
                            .map(|a| {
                                let v = self.var(a);
                                let key = a.key.to_string();
                                let param = params
                                    .iter()
                                    .copied()
                                    .find(|&p| ivr_dsl::fold::name_key(&self.p.vars[p]) == key)
                                    .unwrap_or(v);
                                (v, param)
                            })
                            .collect();
                        let into = into.as_ref().map(|v| self.var(v));
                        self.emit(Op::Run {
                            flow: t,
                            args,
                            into,
                        });
                    }
                    None => {
                        self.emit(Op::Hangup);
                    }
                }
            }
            StmtKind::Return(e) => {
                let e = e.as_ref().map(|e| self.expr(e));
                self.emit(Op::Return(e));
            }
            StmtKind::Set { var, value } => {
                let v = self.var(var);
                let e = self.expr(value);
                self.emit(Op::Set(v, e));
            }
            StmtKind::Submit { op, args, into } | StmtKind::Lookup { op, args, into } => {
                let kind = if matches!(s.kind, StmtKind::Submit { .. }) {
                    OpKind::Submit
                } else {
                    OpKind::Lookup
                };
                let names: Vec<String> = match self
                    .env
                    .operations
                    .get(op.name.as_str())
                    .and_then(|o| o.fields.clone())
                {
                    Some(f) => f,
                    None => args.iter().map(|a| a.text.to_string()).collect(),
                };
                let fields = names
                    .into_iter()
                    .zip(args.iter().map(|a| self.var(a)))
                    .collect();
                let into = self.var(into);
                let what = format!(
                    "{} {}",
                    if kind == OpKind::Submit {
                        "submit"
                    } else {
                        "lookup"
                    },
                    op.name
                );
                let (at, handlers, next) = self.handled(s, flow, &what);
                self.p.code[at] = Op::Backend {
                    kind,
                    op: op.name.to_string(),
                    fields,
                    into,
                    on_failure: handlers.get(&Event::Failure).copied(),
                    on_not_found: handlers.get(&Event::NotFound).copied(),
                    next,
                };
            }
            StmtKind::Transfer { dest, timeout } => {
                let (at, handlers, _) = self.handled(s, flow, &format!("transfer {}", dest.name));
                self.p.code[at] = Op::Transfer {
                    dest: dest.name.to_string(),
                    timeout_ms: timeout.map(|t| t.millis()),
                    on_busy: handlers.get(&Event::Busy).copied(),
                    on_noanswer: handlers.get(&Event::Noanswer).copied(),
                    on_failure: handlers.get(&Event::Failure).copied(),
                };
            }
            StmtKind::Hangup => {
                self.emit(Op::Hangup);
            }
            _ => {}
        }
    }

    /// A statement that waits and has `on …` handlers (backend requests, transfers): reserves
    /// its instruction, compiles each handler body (each continues after the statement), and
    /// returns the reserved address, where each handler starts, and the address after it all.
    fn handled(&mut self, s: &Stmt, flow: usize, what: &str) -> (Pc, FxHashMap<Event, Pc>, Pc) {
        let at = self.emit(Op::Hangup);
        let mut ends = vec![self.emit(Op::Jump(0))];
        let mut starts = FxHashMap::default();
        for h in &s.body {
            if let StmtKind::On { event, .. } = h.kind {
                starts.insert(event, self.here());
                self.point(format!("on {} ({what})", event.name()), h.span.line, flow);
                self.block(&h.body, flow);
                ends.push(self.emit(Op::Jump(0)));
            }
        }
        let next = self.here();
        for e in ends {
            self.p.code[e] = Op::Jump(next);
        }
        (at, starts, next)
    }

    fn input_state(&mut self, s: &Stmt, flow: usize) {
        let id = self.p.states.len();
        self.emit(Op::Input(id));
        let skip = self.emit(Op::Jump(0));
        let mut ends = vec![skip];
        let mut prompts = Vec::new();
        let mut options = Vec::new();
        for c in &s.body {
            if let Some(p) = self.prompt(c) {
                prompts.push(p);
            }
        }
        for c in &s.body {
            if let StmtKind::Press(k) = &c.kind {
                let start = self.here();
                let key = match k.key {
                    '*' => "star".to_string(),
                    '#' => "hash".to_string(),
                    d => d.to_string(),
                };
                self.point(format!("press {key}"), c.span.line, flow);
                // The checker allows only keypad keys; an unchecked tree's other characters
                // can never be pressed.
                if let Some(key) = Key::from_char(k.key) {
                    options.push((key, start));
                }
                self.block(&c.body, flow);
                ends.push(self.emit(Op::Jump(0)));
            }
        }
        // Handlers: the state's own, then the ones from `defaults` it does not override.
        let count_of = |h: &Stmt| match &h.kind {
            StmtKind::On { count, .. } => count.map_or(1, |c| c.value),
            StmtKind::AfterAttempts(n) => n.value,
            _ => 0,
        };
        let event_of = |h: &Stmt| match &h.kind {
            StmtKind::On { event, .. } => Some(*event),
            _ => None,
        };
        let is_handler = |h: &&Stmt| {
            matches!(
                h.kind,
                StmtKind::On {
                    event: Event::Noinput | Event::Nomatch,
                    ..
                } | StmtKind::AfterAttempts(_)
            )
        };
        let local: Vec<&Stmt> = s.body.iter().filter(is_handler).collect();
        // Inside a `defaults` handler, input states inherit nothing (the checker forbids them
        // there; inheriting would nest without end).
        let defaults = if self.in_defaults {
            &[][..]
        } else {
            self.defaults
        };
        let inherited: Vec<&Stmt> = defaults
            .iter()
            .filter(is_handler)
            .filter(|d| {
                !local.iter().any(|l| {
                    event_of(l) == event_of(d)
                        && (event_of(d).is_none() || count_of(l) == count_of(d))
                })
            })
            .collect();
        let (mut noinput, mut nomatch, mut after) = (Vec::new(), Vec::new(), None);
        let n_local = local.len();
        let saved = self.in_defaults;
        for (i, h) in local.into_iter().chain(inherited).enumerate() {
            self.in_defaults = saved || i >= n_local;
            let start = self.here();
            let what = match (event_of(h), h.kind.clone()) {
                (Some(e), _) => format!("on {} {}", e.name(), count_of(h)),
                (None, _) => format!("after {} attempts", count_of(h)),
            };
            let what = if i >= n_local {
                format!("{what} (defaults)")
            } else {
                what
            };
            self.point(what, h.span.line, flow);
            match event_of(h) {
                Some(Event::Noinput) => noinput.push((count_of(h), start)),
                Some(Event::Nomatch) => nomatch.push((count_of(h), start)),
                _ => after = Some((count_of(h), start)),
            }
            self.block(&h.body, flow);
            if event_of(h).is_some() {
                // A noinput/nomatch handler that ends without a jump repeats the state.
                self.emit(Op::Repeat);
            } else {
                ends.push(self.emit(Op::Jump(0)));
            }
        }
        self.in_defaults = saved;
        noinput.sort();
        nomatch.sort();
        let next = self.here();
        for e in ends {
            self.p.code[e] = Op::Jump(next);
        }
        let d = self.d;
        let (kind, timeout) = match &s.kind {
            StmtKind::Menu { timeout } => {
                (InputKind::Menu { options }, timeout.map(|t| t.millis()))
            }
            StmtKind::Collect(c) => {
                let min_n = usize::try_from(c.min.value).unwrap_or(1);
                (
                    InputKind::Collect {
                        var: self.var(&c.var),
                        min: min_n,
                        max: c
                            .max
                            .map_or(min_n, |m| usize::try_from(m.value).unwrap_or(min_n)),
                        until: c.until.and_then(|k| Key::from_char(k.key)),
                    },
                    c.timeout.map(|t| t.millis()),
                )
            }
            StmtKind::Record(rec) => (
                InputKind::Record {
                    var: self.var(&rec.var),
                    beep: rec.beep,
                    max_ms: rec.max.map_or(d.record_max_ms, |m| m.millis()),
                    silence_ms: rec.silence.map_or(d.record_silence_ms, |m| m.millis()),
                    until: rec.until.and_then(|k| Key::from_char(k.key)),
                },
                None,
            ),
            _ => return,
        };
        self.p.states.push(InputState {
            kind,
            prompts,
            timeout_ms: timeout.unwrap_or(d.timeout_ms),
            noinput,
            nomatch,
            after,
            next,
            flow,
            line: s.span.line,
        });
    }
}

impl Program {
    /// The text of a variable's name.
    pub fn var_name(&self, v: VarId) -> &str {
        self.vars.get(v).map_or("?", String::as_str)
    }
}
