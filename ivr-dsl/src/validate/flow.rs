//! Path checks on the control-flow graph: falling off a flow, loops that need no caller,
//! variables read before they are assigned, unreachable steps and flows, unused variables.

use super::{Checker, resolve};
use crate::ast::{Expr, Ident, SayWhat, Stmt, StmtKind};
use crate::cfg::{Cfg, Label, NodeId, NodeKind};
use crate::diag::{Code, Diagnostic};
use crate::span::Span;
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

/// Variables every call starts with.
pub const BUILTIN_VARS: &[&str] = &["caller", "called", "المتصل", "المطلوب"];

/// The identities of [`BUILTIN_VARS`], worked out once.
fn builtin_keys() -> &'static [crate::ast::Name] {
    static KEYS: std::sync::OnceLock<Vec<crate::ast::Name>> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        BUILTIN_VARS
            .iter()
            .map(|b| crate::fold::name_key(b))
            .collect()
    })
}

fn uses<'a>(kind: &NodeKind<'a>, out: &mut Vec<&'a Ident>) {
    let NodeKind::Stmt(s) = kind else { return };
    let expr = |e: &'a Expr, out: &mut Vec<&'a Ident>| e.vars(out);
    match &s.kind {
        StmtKind::Set { value, .. } => expr(value, out),
        StmtKind::If(e) | StmtKind::ElseIf(e) | StmtKind::Return(Some(e)) => expr(e, out),
        StmtKind::Say {
            what: SayWhat::Value(v, _),
            ..
        }
        | StmtKind::Play { var: v, .. } => out.push(v),
        StmtKind::Submit { args, .. } | StmtKind::Lookup { args, .. } => out.extend(args.iter()),
        StmtKind::Run(run) => out.extend(run.args.iter()),
        StmtKind::Menu { .. } | StmtKind::Collect(_) | StmtKind::Record(_) => {
            for p in &s.body {
                uses(&NodeKind::Stmt(p), out);
            }
        }
        _ => {}
    }
}

fn defs<'a>(cfg: &Cfg<'a>, n: NodeId, out: &mut Vec<&'a Ident>) {
    match cfg.nodes[n].kind {
        NodeKind::Stmt(Stmt {
            kind: StmtKind::Set { var, .. },
            ..
        }) => out.push(var),
        NodeKind::Assign(v) => out.push(v),
        NodeKind::FlowEntry(i) => {
            if let StmtKind::Flow { params, .. } = &cfg.flows[i].stmt.kind {
                out.extend(params.iter());
            }
        }
        _ => {}
    }
}

fn node_span(cfg: &Cfg, n: NodeId) -> Option<Span> {
    match cfg.nodes[n].kind {
        NodeKind::Stmt(s) | NodeKind::Wait(s) => Some(s.kw_span),
        NodeKind::Assign(v) => Some(v.span),
        NodeKind::FlowEntry(i) => Some(cfg.flows[i].name.span),
        _ => None,
    }
}

/// What the path checks need of every node, computed once: variables (interned) read and
/// assigned there, and predecessor lists.
pub(super) struct Facts<'a> {
    /// Interned variable keys (every name read or assigned).
    ids: HashMap<&'a str, u32>,
    /// The first assignment of each variable, by source position (`None`: never assigned).
    first_def: Vec<Option<&'a Ident>>,
    /// Whether each variable is one every call starts with.
    builtin: Vec<bool>,
    /// Per node: variables assigned there (flat, indexed by `def_at`).
    defs: Vec<u32>,
    def_at: Vec<u32>,
    /// Per variable: nodes that assign it (flat, indexed by `def_nodes_at`).
    def_nodes: Vec<NodeId>,
    def_nodes_at: Vec<u32>,
    /// Every read: node, the name as written, its variable.
    reads: Vec<(NodeId, &'a Ident, u32)>,
    /// Predecessors (flat, indexed by `pred_at`), without `run` call edges.
    preds: Vec<NodeId>,
    pred_at: Vec<u32>,
}

impl<'a> Facts<'a> {
    fn new(cfg: &Cfg<'a>) -> Facts<'a> {
        let n = cfg.nodes.len();
        let mut f = Facts {
            ids: HashMap::default(),
            first_def: Vec::new(),
            builtin: Vec::new(),
            defs: Vec::new(),
            def_at: Vec::with_capacity(n + 1),
            def_nodes: Vec::new(),
            def_nodes_at: Vec::new(),
            reads: Vec::new(),
            preds: Vec::new(),
            pred_at: Vec::with_capacity(n + 1),
        };
        // One pass over the nodes: each statement is read once, while it is in cache.
        let mut tmp = Vec::new();
        for node in 0..n {
            f.def_at.push(f.defs.len() as u32);
            defs(cfg, node, &mut tmp);
            for d in tmp.drain(..) {
                let id = f.intern(d);
                let first = &mut f.first_def[id as usize];
                if first.is_none_or(|x| d.span.start < x.span.start) {
                    *first = Some(d);
                }
                f.defs.push(id);
            }
            uses(&cfg.nodes[node].kind, &mut tmp);
            for v in tmp.drain(..) {
                let id = f.intern(v);
                f.reads.push((node, v, id));
            }
        }
        f.def_at.push(f.defs.len() as u32);
        // Variable → assigning nodes, inverted from node → variables (nodes stay in order).
        let vars = f.first_def.len();
        let mut at = vec![0u32; vars + 1];
        for &id in &f.defs {
            at[id as usize + 1] += 1;
        }
        for v in 0..vars {
            at[v + 1] += at[v];
        }
        let mut fill = at.clone();
        f.def_nodes = vec![0; f.defs.len()];
        for node in 0..n {
            for i in f.def_at[node]..f.def_at[node + 1] {
                let id = f.defs[i as usize] as usize;
                f.def_nodes[fill[id] as usize] = node;
                fill[id] += 1;
            }
        }
        f.def_nodes_at = at;
        let mut count = vec![0u32; n + 1];
        for i in 0..n {
            for e in cfg.edges(i).iter().filter(|e| e.label != Label::Call) {
                count[e.to] += 1;
            }
        }
        let mut at = 0u32;
        for c in count.iter_mut() {
            f.pred_at.push(at);
            at += *c;
            *c = 0;
        }
        f.preds = vec![0; at as usize];
        for i in 0..n {
            for e in cfg.edges(i).iter().filter(|e| e.label != Label::Call) {
                let slot = f.pred_at[e.to] + count[e.to];
                f.preds[slot as usize] = i;
                count[e.to] += 1;
            }
        }
        f
    }

    /// The id of `v`'s variable, new or known.
    fn intern(&mut self, v: &'a Ident) -> u32 {
        let next = self.ids.len() as u32;
        let id = *self.ids.entry(v.key.as_str()).or_insert(next);
        if id == next {
            self.first_def.push(None);
            self.builtin.push(builtin_keys().contains(&v.key));
        }
        id
    }

    /// Whether variable `id` is assigned anywhere.
    fn assigned(&self, id: u32) -> bool {
        self.first_def[id as usize].is_some()
    }

    fn def_nodes_of(&self, id: u32) -> &[NodeId] {
        let id = id as usize;
        &self.def_nodes[self.def_nodes_at[id] as usize..self.def_nodes_at[id + 1] as usize]
    }

    fn defs_of(&self, node: NodeId) -> &[u32] {
        &self.defs[self.def_at[node] as usize..self.def_at[node + 1] as usize]
    }

    fn preds_of(&self, node: NodeId) -> &[NodeId] {
        &self.preds[self.pred_at[node] as usize..self.pred_at[node + 1] as usize]
    }
}

/// The graph and its facts, or `None` for a script without flows (nothing to check on paths).
pub(super) fn graph<'a>(script: &'a crate::ast::Script) -> Option<(Cfg<'a>, Facts<'a>)> {
    let cfg = Cfg::build(script);
    if cfg.flows.is_empty() {
        return None;
    }
    let facts = Facts::new(&cfg);
    Some((cfg, facts))
}

impl<'a> Checker<'a> {
    /// Loops and assignment before use.
    pub(super) fn loops_and_assignment(&mut self, cfg: &Cfg, facts: &Facts) {
        self.cycles(cfg, facts);
        self.assignment(cfg, facts);
    }

    /// Falling off the end of a flow.
    pub(super) fn falling_off(&mut self, cfg: &Cfg) {
        self.falls_off(cfg);
    }

    /// Unreachable flows and statements, unused variables: warnings that are only reported
    /// when the script has no errors.
    pub(super) fn reachability(&mut self, cfg: &Cfg, facts: &Facts) {
        let reached = cfg.reachable(&[cfg.flows[0].entry], |_, _| true);
        self.unreachable(cfg, &reached);
        self.unused(facts);
    }

    fn falls_off(&mut self, cfg: &Cfg) {
        // One walk per flow, over that flow's nodes only; `stamp` avoids clearing per flow.
        let mut stamp = vec![usize::MAX; cfg.nodes.len()];
        let mut visited = Vec::new();
        let mut stack = Vec::new();
        for (i, f) in cfg.flows.iter().enumerate() {
            if f.stmt.body.is_empty() {
                continue;
            }
            visited.clear();
            stack.push(f.entry);
            while let Some(n) = stack.pop() {
                if stamp[n] == i {
                    continue;
                }
                stamp[n] = i;
                visited.push(n);
                for e in cfg.edges(n) {
                    if e.label != Label::Call && cfg.nodes[e.to].flow == i && stamp[e.to] != i {
                        stack.push(e.to);
                    }
                }
            }
            if stamp[f.end] != i {
                continue;
            }
            let last = visited
                .iter()
                .filter(|&&n| cfg.edges(n).iter().any(|e| e.to == f.end))
                .filter_map(|&n| node_span(cfg, n))
                .max_by_key(|s| s.start);
            let at = last.unwrap_or(f.name.span);
            self.push(Diagnostic::new(Code::FallsOff, at).arg("flow", f.name.text.clone()));
        }
    }

    fn unreachable(&mut self, cfg: &Cfg, reached: &[bool]) {
        for f in &cfg.flows {
            if !reached[f.entry] {
                self.push(
                    Diagnostic::new(Code::UnreachableFlow, f.name.span)
                        .arg("name", f.name.text.clone()),
                );
                continue;
            }
            self.dead(cfg, reached, &f.stmt.body);
        }
    }

    fn dead(&mut self, cfg: &Cfg, reached: &[bool], stmts: &[Stmt]) {
        let mut prev = true;
        for s in stmts {
            match cfg.node_of(s) {
                Some(n) => {
                    let r = reached[n];
                    if !r && prev {
                        self.push(
                            Diagnostic::new(Code::UnreachableCode, s.kw_span)
                                .arg("stmt", self.kw_text(s)),
                        );
                    }
                    prev = r;
                    if r {
                        self.dead(cfg, reached, &s.body);
                    }
                }
                None => self.dead(cfg, reached, &s.body),
            }
        }
    }

    /// Loops over undriven edges must test a counter they change, or pass only through input
    /// states that have an attempt cap and are not re-entered by the loop.
    fn cycles(&mut self, cfg: &Cfg, facts: &Facts) {
        let n = cfg.nodes.len();
        let mut adj_at = Vec::with_capacity(n + 1);
        let mut adj = Vec::new();
        let mut self_loop = vec![false; n];
        for (i, looped) in self_loop.iter_mut().enumerate() {
            adj_at.push(adj.len());
            for e in cfg
                .edges(i)
                .iter()
                .filter(|e| !e.driven && e.label != Label::Call)
            {
                adj.push(e.to);
                *looped |= e.to == i;
            }
        }
        adj_at.push(adj.len());
        let (comp, count) = sccs(n, &adj, &adj_at);
        let mut size = vec![0u32; count];
        for &c in &comp {
            size[c] += 1;
        }
        // Members of the components that loop, grouped by component.
        let mut members: HashMap<usize, Vec<NodeId>> = HashMap::default();
        for (i, &c) in comp.iter().enumerate() {
            if size[c] > 1 || self_loop[i] {
                members.entry(c).or_default().push(i);
            }
        }
        let mut comps: Vec<Vec<NodeId>> = members.into_values().collect();
        comps.sort_by_key(|m| m[0]);
        let mut reported = HashSet::default();
        for m in comps {
            let assigned: HashSet<u32> = m
                .iter()
                .flat_map(|&x| facts.defs_of(x).iter().copied())
                .collect();
            let counter = m.iter().any(|&x| match cfg.nodes[x].kind {
                NodeKind::Stmt(Stmt {
                    kind: StmtKind::If(e) | StmtKind::ElseIf(e),
                    ..
                }) => {
                    let mut v = Vec::new();
                    e.vars(&mut v);
                    v.iter().any(|v| {
                        facts
                            .ids
                            .get(v.key.as_str())
                            .is_some_and(|id| assigned.contains(id))
                    })
                }
                _ => false,
            });
            if counter {
                continue;
            }
            let waits: Vec<NodeId> = m
                .iter()
                .copied()
                .filter(|x| cfg.states.contains_key(x))
                .collect();
            let bounded = !waits.is_empty()
                && waits.iter().all(|w| {
                    let (entry, capped) = cfg.states[w];
                    capped && comp[entry] != comp[*w]
                });
            if bounded {
                continue;
            }
            let at = m
                .iter()
                .filter(|&&x| !cfg.nodes[x].from_defaults)
                .filter_map(|&x| node_span(cfg, x))
                .min_by_key(|s| s.start)
                .or_else(|| {
                    m.iter()
                        .filter_map(|&x| node_span(cfg, x))
                        .min_by_key(|s| s.start)
                });
            if let Some(at) = at
                && reported.insert(at.start)
            {
                self.push(Diagnostic::new(Code::UnboundedCycle, at));
            }
        }
    }

    /// Assignment before use. A variable is assigned at a node when every path from a call's
    /// start (the entry flow, or a subflow's entry with its parameters) passes through an
    /// assignment of it first. Each read is decided by a backward search from the read that
    /// stops at assignments: it only explores the region between the read and its assignments,
    /// and it fails exactly when it reaches a start without passing one.
    fn assignment(&mut self, cfg: &Cfg, facts: &Facts) {
        let nodes = cfg.nodes.len();
        let mut start = vec![false; nodes];
        start[cfg.flows[0].entry] = true;
        for i in 0..nodes {
            for e in cfg.edges(i).iter().filter(|e| e.label == Label::Call) {
                start[e.to] = true;
            }
        }
        let starts: Vec<NodeId> = (0..nodes).filter(|&n| start[n]).collect();
        // Only nodes reachable from a start can be on a path from one.
        let live = cfg.reachable(&starts, |_, e| e.label != Label::Call);
        let known: Vec<&Ident> = facts.first_def.iter().flatten().copied().collect();
        let mut stamp = vec![0u32; nodes];
        let mut is_def = vec![0u32; nodes];
        let mut generation = 0u32;
        let mut stack = Vec::new();
        let mut reported: HashSet<u32> = HashSet::default();
        for &(n, v, id) in &facts.reads {
            if !live[n] || facts.builtin[id as usize] {
                continue;
            }
            let bad = if !facts.assigned(id) {
                Some(
                    resolve(v, &known, Code::UnknownVariable)
                        .err()
                        .unwrap_or_else(|| {
                            Diagnostic::new(Code::UnknownVariable, v.span)
                                .arg("name", v.text.clone())
                        }),
                )
            } else {
                generation += 1;
                for &d in facts.def_nodes_of(id) {
                    is_def[d] = generation;
                }
                stack.clear();
                stack.extend_from_slice(facts.preds_of(n));
                let mut unassigned = start[n];
                while let Some(p) = stack.pop() {
                    if unassigned {
                        break;
                    }
                    if stamp[p] == generation || is_def[p] == generation || !live[p] {
                        continue;
                    }
                    stamp[p] = generation;
                    if start[p] {
                        unassigned = true;
                        break;
                    }
                    stack.extend_from_slice(facts.preds_of(p));
                }
                unassigned.then(|| {
                    Diagnostic::new(Code::MaybeUnassigned, v.span).arg("name", v.text.clone())
                })
            };
            if let Some(d) = bad
                && reported.insert(v.span.start)
            {
                self.push(d);
            }
        }
    }

    fn unused(&mut self, facts: &Facts) {
        let mut used = vec![false; facts.first_def.len()];
        for &(_, _, id) in &facts.reads {
            if let Some(u) = used.get_mut(id as usize) {
                *u = true;
            }
        }
        let mut unused: Vec<&Ident> = facts
            .first_def
            .iter()
            .zip(&used)
            .filter(|(_, u)| !**u)
            .filter_map(|(d, _)| *d)
            .collect();
        unused.sort_by_key(|v| v.span.start);
        for v in unused {
            self.push(Diagnostic::new(Code::UnusedVariable, v.span).arg("name", v.text.clone()));
        }
    }
}

/// Strongly connected components (iterative Tarjan) of a graph in CSR form: the component of
/// each node, and how many there are.
fn sccs(n: usize, adj: &[NodeId], adj_at: &[usize]) -> (Vec<usize>, usize) {
    let mut index = vec![usize::MAX; n];
    let mut low = vec![0; n];
    let mut on = vec![false; n];
    let mut comp = vec![usize::MAX; n];
    let mut count = 0;
    let mut stack = Vec::new();
    let mut next = 0;
    let mut call: Vec<(NodeId, usize)> = Vec::new();
    for root in 0..n {
        if index[root] != usize::MAX {
            continue;
        }
        call.push((root, adj_at[root]));
        index[root] = next;
        low[root] = next;
        next += 1;
        stack.push(root);
        on[root] = true;
        while let Some(&mut (v, ref mut i)) = call.last_mut() {
            if *i < adj_at[v + 1] {
                let w = adj[*i];
                *i += 1;
                if index[w] == usize::MAX {
                    index[w] = next;
                    low[w] = next;
                    next += 1;
                    stack.push(w);
                    on[w] = true;
                    call.push((w, adj_at[w]));
                } else if on[w] {
                    low[v] = low[v].min(index[w]);
                }
            } else {
                call.pop();
                if let Some(&(u, _)) = call.last() {
                    low[u] = low[u].min(low[v]);
                }
                if low[v] == index[v] {
                    while let Some(w) = stack.pop() {
                        on[w] = false;
                        comp[w] = count;
                        if w == v {
                            break;
                        }
                    }
                    count += 1;
                }
            }
        }
    }
    (comp, count)
}
