//! The control-flow graph of a script: the path checks and `ivr graph` both read it.
//!
//! Each statement becomes a node. An input state (`menu`, `collect`, `record`) becomes two: its
//! entry (counters reset, prompts queued) and its wait (where caller events arrive). Handler
//! bodies from `defaults` are built once per input state, because `repeat` in them means "this
//! state". Edges carry a label and whether the caller's input drives them (a key press, digits, a
//! recording): loops made only of undriven edges can spin without the caller.

use crate::ast::{Event, Ident, Stmt, StmtKind};
use rustc_hash::FxHashMap as HashMap;

/// Index of a node.
pub type NodeId = usize;

/// Why control moves along an edge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Label {
    /// To the next statement.
    Next,
    /// A menu key.
    Press(char),
    /// A counted or backend event.
    Event(Event, u64),
    /// `after N attempts`.
    After(u64),
    /// Condition true.
    Then,
    /// Condition false.
    Otherwise,
    /// `goto`.
    Goto,
    /// `repeat` (or a handler that ends without a jump).
    Repeat,
    /// Input collected, request succeeded.
    Success,
    /// `run`: into the subflow (for reachability only).
    Call,
}

/// An edge.
#[derive(Clone, Copy, Debug)]
pub struct Edge {
    /// Target.
    pub to: NodeId,
    /// Why.
    pub label: Label,
    /// Whether the caller's input drives it.
    pub driven: bool,
}

/// What a node stands for.
#[derive(Clone, Copy, Debug)]
pub enum NodeKind<'a> {
    /// Start of flow `i`.
    FlowEntry(usize),
    /// Falling off the end of flow `i`.
    FlowEnd(usize),
    /// The call is over (hangup, transfer, return, or an unresolved jump).
    Exit,
    /// A statement (for input states: the entry).
    Stmt(&'a Stmt),
    /// An input state waiting for the caller.
    Wait(&'a Stmt),
    /// A variable assigned by the statement before (collect, record, submit, lookup, run).
    Assign(&'a Ident),
}

/// A node.
#[derive(Clone, Debug)]
pub struct Node<'a> {
    /// What it is.
    pub kind: NodeKind<'a>,
    /// Flow it belongs to.
    pub flow: usize,
    /// Built from a `defaults` handler.
    pub from_defaults: bool,
}

/// A flow.
#[derive(Clone, Debug)]
pub struct FlowInfo<'a> {
    /// Its statement.
    pub stmt: &'a Stmt,
    /// Its name.
    pub name: &'a Ident,
    /// Entry node.
    pub entry: NodeId,
    /// End node (reached only by falling off).
    pub end: NodeId,
    /// Steps by key.
    pub steps: HashMap<&'a str, NodeId>,
}

/// The graph.
#[derive(Clone, Debug)]
pub struct Cfg<'a> {
    /// Nodes.
    pub nodes: Vec<Node<'a>>,
    /// Flows in script order; the first is the entry.
    pub flows: Vec<FlowInfo<'a>>,
    /// The exit node.
    pub exit: NodeId,
    /// Wait node → entry node, and whether the state has an attempt cap.
    pub states: HashMap<NodeId, (NodeId, bool)>,
    /// First node built for each statement (see [`Cfg::node_of`]).
    stmt_nodes: StmtNodes,
    /// Outgoing edges of all nodes, grouped by node (see [`Cfg::edges`]).
    edges: Vec<Edge>,
    edge_at: Vec<u32>,
}

struct Builder<'a> {
    cfg: Cfg<'a>,
    raw_edges: Vec<(NodeId, Edge)>,
    flow_keys: HashMap<&'a str, usize>,
    defaults: &'a [Stmt],
    in_defaults: bool,
}

impl<'a> Cfg<'a> {
    /// Builds the graph of a script.
    pub fn build(script: &'a crate::ast::Script) -> Cfg<'a> {
        let defaults = script
            .stmts
            .iter()
            .find(|s| matches!(s.kind, StmtKind::Defaults))
            .map_or(&[][..], |s| s.body.as_slice());
        // Room for about as many nodes as lines, and edges, so that the arrays are not copied
        // as they grow (an estimate: pages reserved and never touched cost nothing).
        let lines = last_line(&script.stmts);
        let mut b = Builder {
            cfg: Cfg {
                nodes: Vec::with_capacity(lines * 2),
                flows: Vec::new(),
                exit: 0,
                states: HashMap::default(),
                stmt_nodes: StmtNodes::with_lines(lines),
                edges: Vec::new(),
                edge_at: Vec::new(),
            },
            raw_edges: Vec::with_capacity(lines * 3),
            flow_keys: HashMap::default(),
            defaults,
            in_defaults: false,
        };
        b.cfg.exit = b.node(NodeKind::Exit, usize::MAX);
        for s in &script.stmts {
            if let StmtKind::Flow { name, .. } = &s.kind {
                let i = b.cfg.flows.len();
                let entry = b.node(NodeKind::FlowEntry(i), i);
                let end = b.node(NodeKind::FlowEnd(i), i);
                let mut steps = HashMap::default();
                for c in &s.body {
                    if let StmtKind::Step(n) = &c.kind {
                        let id = b.node(NodeKind::Stmt(c), i);
                        b.cfg.stmt_nodes.insert(c, id);
                        steps.entry(n.key.as_str()).or_insert(id);
                    }
                }
                b.flow_keys.entry(name.key.as_str()).or_insert(i);
                b.cfg.flows.push(FlowInfo {
                    stmt: s,
                    name,
                    entry,
                    end,
                    steps,
                });
            }
        }
        for i in 0..b.cfg.flows.len() {
            let f = b.cfg.flows[i].clone();
            let first = b.block(&f.stmt.body, f.end, i, None);
            b.edge(f.entry, first, Label::Next, false);
        }
        // Group edges by source (counting sort, stable: a node's edges keep their order).
        let n = b.cfg.nodes.len();
        let mut at = vec![0u32; n + 1];
        for (from, _) in &b.raw_edges {
            at[from + 1] += 1;
        }
        for i in 0..n {
            at[i + 1] += at[i];
        }
        let mut fill = at.clone();
        let placeholder = Edge {
            to: 0,
            label: Label::Next,
            driven: false,
        };
        b.cfg.edges = vec![placeholder; b.raw_edges.len()];
        for (from, e) in b.raw_edges.drain(..) {
            b.cfg.edges[fill[from] as usize] = e;
            fill[from] += 1;
        }
        b.cfg.edge_at = at;
        b.cfg
    }

    /// The first node built for statement `s` (a statement in a `defaults` handler has one per
    /// input state that inherits it), or `None` if it has none (`else`, handlers, prompts).
    pub fn node_of(&self, s: &Stmt) -> Option<NodeId> {
        self.stmt_nodes.get(s)
    }

    /// The outgoing edges of node `n`.
    pub fn edges(&self, n: NodeId) -> &[Edge] {
        &self.edges[self.edge_at[n] as usize..self.edge_at[n + 1] as usize]
    }

    /// Nodes reachable from `from` (all edges).
    pub fn reachable(&self, from: &[NodeId], follow: impl Fn(&Node, &Edge) -> bool) -> Vec<bool> {
        let mut seen = vec![false; self.nodes.len()];
        let mut stack: Vec<NodeId> = from.to_vec();
        while let Some(n) = stack.pop() {
            if std::mem::replace(&mut seen[n], true) {
                continue;
            }
            for e in self.edges(n) {
                if !seen[e.to] && follow(&self.nodes[n], e) {
                    stack.push(e.to);
                }
            }
        }
        seen
    }
}

/// Statement → first node. A statement is identified by its address; it is looked for first in
/// two slots for its line (a line holds a statement and perhaps one written inline after it),
/// and in a map only when those are taken by others (a tree built by hand, all on line 0).
#[derive(Clone, Debug, Default)]
struct StmtNodes {
    slots: Vec<(usize, NodeId)>,
    overflow: HashMap<usize, NodeId>,
}

impl StmtNodes {
    const EMPTY: (usize, NodeId) = (0, 0);

    fn with_lines(lines: usize) -> StmtNodes {
        StmtNodes {
            slots: vec![Self::EMPTY; 2 * (lines + 1)],
            overflow: HashMap::default(),
        }
    }

    fn base(&self, s: &Stmt) -> Option<usize> {
        let at = 2 * s.span.line as usize;
        (at + 1 < self.slots.len()).then_some(at)
    }

    /// Records `id` for `s` unless `s` has a node already.
    fn insert(&mut self, s: &Stmt, id: NodeId) {
        let key = s as *const Stmt as usize;
        if let Some(at) = self.base(s) {
            for slot in &mut self.slots[at..at + 2] {
                if slot.0 == key {
                    return;
                }
                if slot.0 == 0 {
                    *slot = (key, id);
                    return;
                }
            }
        }
        self.overflow.entry(key).or_insert(id);
    }

    fn get(&self, s: &Stmt) -> Option<NodeId> {
        let key = s as *const Stmt as usize;
        if let Some(at) = self.base(s) {
            for slot in &self.slots[at..at + 2] {
                if slot.0 == key {
                    return Some(slot.1);
                }
                if slot.0 == 0 {
                    return None;
                }
            }
        }
        self.overflow.get(&key).copied()
    }
}

/// The line of the last statement of a block (with its own blocks).
fn last_line(stmts: &[Stmt]) -> usize {
    let mut line = 0;
    let mut at = stmts;
    while let Some(s) = at.last() {
        line = s.span.line as usize;
        at = &s.body;
    }
    line
}

fn is_else(s: &Stmt) -> bool {
    matches!(s.kind, StmtKind::ElseIf(_) | StmtKind::Else)
}

/// Where the unit that ends at `end` starts, reading a block backwards: a unit is one
/// statement, or an `if` with all the `else if`/`else` lines right after it; an `else` with no
/// `if` before its run is a unit of its own. `orphans_from` (start at `usize::MAX`) remembers
/// such a run, so that each block is read once.
fn unit_start(stmts: &[Stmt], end: usize, orphans_from: &mut usize) -> usize {
    let last = end - 1;
    if last >= *orphans_from || !is_else(&stmts[last]) {
        return last;
    }
    let mut run = last;
    while run > 0 && is_else(&stmts[run - 1]) {
        run -= 1;
    }
    if run > 0 && matches!(stmts[run - 1].kind, StmtKind::If(_)) {
        run - 1
    } else {
        *orphans_from = run;
        last
    }
}

impl<'a> Builder<'a> {
    fn node(&mut self, kind: NodeKind<'a>, flow: usize) -> NodeId {
        self.cfg.nodes.push(Node {
            kind,
            flow,
            from_defaults: self.in_defaults,
        });
        self.cfg.nodes.len() - 1
    }

    fn stmt_node(&mut self, s: &'a Stmt, flow: usize) -> NodeId {
        let id = self.node(NodeKind::Stmt(s), flow);
        self.cfg.stmt_nodes.insert(s, id);
        id
    }

    fn edge(&mut self, from: NodeId, to: NodeId, label: Label, driven: bool) {
        self.raw_edges.push((from, Edge { to, label, driven }));
    }

    /// Builds a block; returns its first node (or `cont` if empty). `state` is the wait node
    /// that `repeat` returns to.
    fn block(
        &mut self,
        stmts: &'a [Stmt],
        cont: NodeId,
        flow: usize,
        state: Option<NodeId>,
    ) -> NodeId {
        // Units, last first: a statement, or an `if` with the `else if`/`else` lines after it.
        // (An `else` with no `if` before it is a unit of its own, as read forwards.)
        let mut next = cont;
        let mut end = stmts.len();
        let mut orphans_from = usize::MAX;
        while end > 0 {
            let start = unit_start(stmts, end, &mut orphans_from);
            let unit = &stmts[start..end];
            next = if unit.len() > 1 || matches!(unit[0].kind, StmtKind::If(_)) {
                self.if_chain(unit, next, flow, state)
            } else {
                self.stmt(&unit[0], next, flow, state)
            };
            end = start;
        }
        next
    }

    fn if_chain(
        &mut self,
        unit: &'a [Stmt],
        cont: NodeId,
        flow: usize,
        state: Option<NodeId>,
    ) -> NodeId {
        let mut otherwise = cont;
        for s in unit.iter().rev() {
            let body = self.block(&s.body, cont, flow, state);
            if matches!(s.kind, StmtKind::Else) {
                otherwise = body;
                continue;
            }
            let n = self.stmt_node(s, flow);
            self.edge(n, body, Label::Then, false);
            self.edge(n, otherwise, Label::Otherwise, false);
            otherwise = n;
        }
        otherwise
    }

    fn assign(&mut self, var: &'a Ident, cont: NodeId, flow: usize) -> NodeId {
        let a = self.node(NodeKind::Assign(var), flow);
        self.edge(a, cont, Label::Next, false);
        a
    }

    fn stmt(&mut self, s: &'a Stmt, cont: NodeId, flow: usize, state: Option<NodeId>) -> NodeId {
        let exit = self.cfg.exit;
        match &s.kind {
            StmtKind::Step(_) => {
                let n = match self.cfg.node_of(s) {
                    Some(id) => id,
                    None => self.stmt_node(s, flow),
                };
                let body = self.block(&s.body, cont, flow, state);
                self.edge(n, body, Label::Next, false);
                n
            }
            StmtKind::Goto(t) => {
                let n = self.stmt_node(s, flow);
                let target = self
                    .cfg
                    .flows
                    .get(flow)
                    .and_then(|f| f.steps.get(t.key.as_str()).copied())
                    .or_else(|| {
                        self.flow_keys
                            .get(t.key.as_str())
                            .map(|&i| self.cfg.flows[i].entry)
                    })
                    .unwrap_or(exit);
                self.edge(n, target, Label::Goto, false);
                n
            }
            StmtKind::Hangup | StmtKind::Return(_) => {
                let n = self.stmt_node(s, flow);
                self.edge(n, exit, Label::Next, false);
                n
            }
            StmtKind::Repeat => {
                let n = self.stmt_node(s, flow);
                self.edge(n, state.unwrap_or(exit), Label::Repeat, false);
                n
            }
            StmtKind::Transfer { .. } => {
                let n = self.stmt_node(s, flow);
                self.edge(n, exit, Label::Success, false);
                for h in &s.body {
                    if let StmtKind::On { event, .. } = h.kind {
                        let b = self.block(&h.body, cont, flow, None);
                        self.edge(n, b, Label::Event(event, 1), false);
                    }
                }
                n
            }
            StmtKind::Submit { into, .. } | StmtKind::Lookup { into, .. } => {
                let n = self.stmt_node(s, flow);
                let a = self.assign(into, cont, flow);
                self.edge(n, a, Label::Success, false);
                let mut failure_handled = false;
                for h in &s.body {
                    if let StmtKind::On { event, .. } = h.kind {
                        failure_handled |= event == Event::Failure;
                        let b = self.block(&h.body, cont, flow, None);
                        self.edge(n, b, Label::Event(event, 1), false);
                    }
                }
                if !failure_handled {
                    self.edge(n, cont, Label::Event(Event::Failure, 1), false);
                }
                n
            }
            StmtKind::Run(run) => {
                let crate::ast::Run {
                    flow: target, into, ..
                } = &**run;
                let n = self.stmt_node(s, flow);
                let after = match into {
                    Some(v) => self.assign(v, cont, flow),
                    None => cont,
                };
                self.edge(n, after, Label::Next, false);
                if let Some(&i) = self.flow_keys.get(target.key.as_str()) {
                    let e = self.cfg.flows[i].entry;
                    self.edge(n, e, Label::Call, false);
                }
                n
            }
            StmtKind::Menu { .. } | StmtKind::Collect(_) | StmtKind::Record(_) => {
                self.input_state(s, cont, flow)
            }
            _ => {
                let n = self.stmt_node(s, flow);
                self.edge(n, cont, Label::Next, false);
                n
            }
        }
    }

    fn input_state(&mut self, s: &'a Stmt, cont: NodeId, flow: usize) -> NodeId {
        let entry = self.stmt_node(s, flow);
        let wait = self.node(NodeKind::Wait(s), flow);
        self.edge(entry, wait, Label::Next, false);
        match &s.kind {
            StmtKind::Collect(c) => {
                let a = self.assign(&c.var, cont, flow);
                self.edge(wait, a, Label::Success, true);
            }
            StmtKind::Record(r) => {
                let a = self.assign(&r.var, cont, flow);
                self.edge(wait, a, Label::Success, true);
            }
            _ => {}
        }
        for c in &s.body {
            if let StmtKind::Press(k) = &c.kind {
                let b = self.block(&c.body, cont, flow, Some(wait));
                self.edge(wait, b, Label::Press(k.key), true);
            }
        }
        let handlers = |body: &'a [Stmt]| {
            body.iter().filter(|h| {
                matches!(
                    h.kind,
                    StmtKind::On {
                        event: Event::Noinput | Event::Nomatch,
                        ..
                    } | StmtKind::AfterAttempts(_)
                )
            })
        };
        let local = || handlers(&s.body);
        let key = |h: &Stmt| match &h.kind {
            StmtKind::On { event, count } => (Some(*event), count.map_or(1, |c| c.value)),
            StmtKind::AfterAttempts(n) => (None, n.value),
            _ => (None, 0),
        };
        let local_after = local().any(|h| key(h).0.is_none());
        // Inside a `defaults` handler, input states inherit nothing: the checker forbids them
        // there, and inheriting would nest without end.
        let defaults = if self.in_defaults {
            &[][..]
        } else {
            self.defaults
        };
        let inherited = handlers(defaults).filter(|d| {
            let (e, n) = key(d);
            match e {
                None => !local_after,
                Some(_) => !local().any(|l| key(l) == (e, n)),
            }
        });
        let mut seen_event = [false, false];
        let mut capped = false;
        for (h, from_defaults) in local()
            .map(|h| (h, false))
            .chain(inherited.map(|h| (h, true)))
        {
            let saved = self.in_defaults;
            self.in_defaults |= from_defaults;
            let (event, n) = key(h);
            match event {
                Some(e) => {
                    seen_event[usize::from(e == Event::Nomatch)] = true;
                    let b = self.block(&h.body, wait, flow, Some(wait));
                    self.edge(wait, b, Label::Event(e, n), e == Event::Nomatch);
                }
                None => {
                    capped = true;
                    let b = self.block(&h.body, cont, flow, None);
                    self.edge(wait, b, Label::After(n), false);
                }
            }
            self.in_defaults = saved;
        }
        if !seen_event[0] {
            self.edge(wait, wait, Label::Event(Event::Noinput, 1), false);
        }
        if !seen_event[1] {
            self.edge(wait, wait, Label::Event(Event::Nomatch, 1), true);
        }
        self.cfg.states.insert(wait, (entry, capped));
        entry
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::span::Span;

    /// The units of a block read forwards, the obvious way.
    fn forwards(stmts: &[Stmt]) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < stmts.len() {
            let mut j = i + 1;
            if matches!(stmts[i].kind, StmtKind::If(_)) {
                while j < stmts.len() && is_else(&stmts[j]) {
                    j += 1;
                }
            }
            out.push((i, j));
            i = j;
        }
        out
    }

    #[test]
    fn statements_on_one_line_all_find_their_nodes() {
        // A tree built by hand: every span is line 0, so two slots cannot hold them all.
        let stmts: Vec<Stmt> = (0..5)
            .map(|_| Stmt::new(StmtKind::Hangup, Span::default()))
            .collect();
        let mut t = StmtNodes::with_lines(3);
        for (i, s) in stmts.iter().enumerate() {
            t.insert(s, i + 10);
            t.insert(s, 99); // only the first node counts
        }
        for (i, s) in stmts.iter().enumerate() {
            assert_eq!(t.get(s), Some(i + 10));
        }
        let other = Stmt::new(StmtKind::Hangup, Span::default());
        assert_eq!(t.get(&other), None);
        // Past the lines it was sized for: the map.
        let mut far = Stmt::new(StmtKind::Hangup, Span::default());
        far.span.line = 1000;
        t.insert(&far, 7);
        assert_eq!(t.get(&far), Some(7));
    }

    #[test]
    fn units_read_backwards_are_the_units_read_forwards() {
        let cond = || {
            crate::ast::Expr::Num(crate::ast::Num {
                value: 1,
                family: Default::default(),
                span: Span::default(),
            })
        };
        let make = |code: u32| {
            let kind = match code {
                0 => StmtKind::If(cond()),
                1 => StmtKind::ElseIf(cond()),
                2 => StmtKind::Else,
                _ => StmtKind::Hangup,
            };
            Stmt::new(kind, Span::default())
        };
        // Every block of up to 7 statements over {if, else if, else, other}.
        for len in 0..=7u32 {
            for mut n in 0..4u32.pow(len) {
                let stmts: Vec<Stmt> = (0..len)
                    .map(|_| {
                        let s = make(n % 4);
                        n /= 4;
                        s
                    })
                    .collect();
                let mut back = Vec::new();
                let mut end = stmts.len();
                let mut orphans = usize::MAX;
                while end > 0 {
                    let start = unit_start(&stmts, end, &mut orphans);
                    back.push((start, end));
                    end = start;
                }
                back.reverse();
                assert_eq!(back, forwards(&stmts));
            }
        }
    }
}
