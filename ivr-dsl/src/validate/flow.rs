//! Path checks on the control-flow graph: falling off a flow, loops that need no caller,
//! variables read before they are assigned, unreachable steps and flows, unused variables.

use super::{Checker, resolve};
use crate::ast::{Expr, Ident, SayWhat, Stmt, StmtKind};
use crate::cfg::{Cfg, Label, NodeId, NodeKind};
use crate::diag::{Code, Diagnostic};
use crate::span::Span;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Variables every call starts with.
pub const BUILTIN_VARS: &[&str] = &["caller", "called", "المتصل", "المطلوب"];

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
        StmtKind::Submit { args, .. }
        | StmtKind::Lookup { args, .. }
        | StmtKind::Run { args, .. } => out.extend(args.iter()),
        StmtKind::Menu { .. } | StmtKind::Collect { .. } | StmtKind::Record { .. } => {
            for p in &s.body {
                uses(&NodeKind::Stmt(p), out);
            }
        }
        _ => {}
    }
}

fn defs<'a>(cfg: &Cfg<'a>, n: NodeId) -> Vec<&'a Ident> {
    match cfg.nodes[n].kind {
        NodeKind::Stmt(Stmt {
            kind: StmtKind::Set { var, .. },
            ..
        }) => vec![var],
        NodeKind::Assign(v) => vec![v],
        NodeKind::FlowEntry(i) => match &cfg.flows[i].stmt.kind {
            StmtKind::Flow { params, .. } => params.iter().collect(),
            _ => vec![],
        },
        _ => vec![],
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

impl Checker<'_> {
    pub(super) fn flows(&mut self) {
        let cfg = Cfg::build(self.script);
        if cfg.flows.is_empty() {
            return;
        }
        let reached = cfg.reachable(&[cfg.flows[0].entry], |_, _| true);
        self.falls_off(&cfg);
        self.cycles(&cfg);
        self.assignment(&cfg);
        // Reachability and unused variables are noise while errors stand: a jump that does
        // not resolve leaves its intended target unreached.
        if !crate::diag::has_errors(&self.diags) {
            self.unreachable(&cfg, &reached);
            self.unused(&cfg);
        }
    }

    fn falls_off(&mut self, cfg: &Cfg) {
        // One walk per flow, over that flow's nodes only; `stamp` avoids clearing per flow.
        let mut stamp = vec![usize::MAX; cfg.nodes.len()];
        let mut visited = Vec::new();
        for (i, f) in cfg.flows.iter().enumerate() {
            if f.stmt.body.is_empty() {
                continue;
            }
            visited.clear();
            let mut stack = vec![f.entry];
            while let Some(n) = stack.pop() {
                if stamp[n] == i {
                    continue;
                }
                stamp[n] = i;
                visited.push(n);
                for e in &cfg.nodes[n].edges {
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
                .filter(|&&n| cfg.nodes[n].edges.iter().any(|e| e.to == f.end))
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
            match cfg.stmt_node.get(&(s as *const Stmt)) {
                Some(&n) => {
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
    fn cycles(&mut self, cfg: &Cfg) {
        let n = cfg.nodes.len();
        let adj: Vec<Vec<NodeId>> = cfg
            .nodes
            .iter()
            .map(|node| {
                node.edges
                    .iter()
                    .filter(|e| !e.driven && e.label != Label::Call)
                    .map(|e| e.to)
                    .collect()
            })
            .collect();
        let mut reported = HashSet::new();
        for comp in sccs(n, &adj) {
            let looped = comp.len() > 1 || adj[comp[0]].contains(&comp[0]);
            if !looped {
                continue;
            }
            let members: HashSet<NodeId> = comp.iter().copied().collect();
            let mut assigned = HashSet::new();
            for &m in &comp {
                for d in defs(cfg, m) {
                    assigned.insert(d.key.as_str());
                }
            }
            let counter = comp.iter().any(|&m| match cfg.nodes[m].kind {
                NodeKind::Stmt(Stmt {
                    kind: StmtKind::If(e) | StmtKind::ElseIf(e),
                    ..
                }) => {
                    let mut v = Vec::new();
                    e.vars(&mut v);
                    v.iter().any(|v| assigned.contains(v.key.as_str()))
                }
                _ => false,
            });
            if counter {
                continue;
            }
            let waits: Vec<NodeId> = comp
                .iter()
                .copied()
                .filter(|m| cfg.states.contains_key(m))
                .collect();
            let bounded = !waits.is_empty()
                && waits.iter().all(|w| {
                    let (entry, capped) = cfg.states[w];
                    capped && !members.contains(&entry)
                });
            if bounded {
                continue;
            }
            let at = comp
                .iter()
                .filter(|&&m| !cfg.nodes[m].from_defaults)
                .filter_map(|&m| node_span(cfg, m))
                .min_by_key(|s| s.start)
                .or_else(|| {
                    comp.iter()
                        .filter_map(|&m| node_span(cfg, m))
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
    /// assignment of it first. Each use is decided by a backward search from the use that stops
    /// at assignments: it only explores the region between the use and its assignments, and it
    /// fails exactly when it reaches a start without passing one.
    fn assignment(&mut self, cfg: &Cfg) {
        let nodes = cfg.nodes.len();
        let mut defs_of: HashMap<&str, Vec<NodeId>> = HashMap::new();
        let mut first_def: HashMap<&str, &Ident> = HashMap::new();
        for n in 0..nodes {
            for d in defs(cfg, n) {
                defs_of.entry(d.key.as_str()).or_default().push(n);
                let e = first_def.entry(d.key.as_str()).or_insert(d);
                if d.span.start < e.span.start {
                    *e = d;
                }
            }
        }
        let mut preds: Vec<Vec<NodeId>> = vec![Vec::new(); nodes];
        for (i, node) in cfg.nodes.iter().enumerate() {
            for e in &node.edges {
                if e.label != Label::Call {
                    preds[e.to].push(i);
                }
            }
        }
        let called: HashSet<NodeId> = cfg
            .nodes
            .iter()
            .flat_map(|n| n.edges.iter().filter(|e| e.label == Label::Call).map(|e| e.to))
            .collect();
        let is_start = |n: NodeId| n == cfg.flows[0].entry || called.contains(&n);
        // Only nodes reachable from a start can be on a path from one.
        let starts: Vec<NodeId> = (0..nodes).filter(|&n| is_start(n)).collect();
        let live = cfg.reachable(&starts, |_, e| e.label != Label::Call);
        let builtins: Vec<String> = BUILTIN_VARS.iter().map(|b| crate::fold::name_key(b)).collect();
        let known: Vec<&Ident> = first_def.values().copied().collect();
        let mut stamp = vec![0u32; nodes];
        let mut is_def = vec![0u32; nodes];
        let mut generation = 0u32;
        let mut stack = Vec::new();
        let mut reported: HashSet<usize> = HashSet::new();
        for (n, node) in cfg.nodes.iter().enumerate() {
            if !live[n] {
                continue;
            }
            let mut u = Vec::new();
            uses(&node.kind, &mut u);
            for v in u {
                if builtins.contains(&v.key) {
                    continue;
                }
                let bad = match defs_of.get(v.key.as_str()) {
                    Some(ds) => {
                        generation += 1;
                        for &d in ds {
                            is_def[d] = generation;
                        }
                        stack.clear();
                        stack.extend(preds[n].iter().copied());
                        let mut unassigned = is_start(n);
                        while let Some(p) = stack.pop() {
                            if unassigned {
                                break;
                            }
                            if stamp[p] == generation || is_def[p] == generation || !live[p] {
                                continue;
                            }
                            stamp[p] = generation;
                            if is_start(p) {
                                unassigned = true;
                                break;
                            }
                            stack.extend(preds[p].iter().copied());
                        }
                        unassigned.then(|| {
                            Diagnostic::new(Code::MaybeUnassigned, v.span).arg("name", v.text.clone())
                        })
                    }
                    None => Some(resolve(v, &known, Code::UnknownVariable).err().unwrap_or_else(|| {
                        Diagnostic::new(Code::UnknownVariable, v.span).arg("name", v.text.clone())
                    })),
                };
                if let Some(d) = bad
                    && reported.insert(v.span.start)
                {
                    self.push(d);
                }
            }
        }
    }
}

impl Checker<'_> {
    fn unused(&mut self, cfg: &Cfg) {
        let mut used: HashSet<&str> = HashSet::new();
        let mut first_def: BTreeMap<&str, &Ident> = BTreeMap::new();
        for n in 0..cfg.nodes.len() {
            let mut u = Vec::new();
            uses(&cfg.nodes[n].kind, &mut u);
            used.extend(u.iter().map(|v| v.key.as_str()));
            for d in defs(cfg, n) {
                let e = first_def.entry(d.key.as_str()).or_insert(d);
                if d.span.start < e.span.start {
                    *e = d;
                }
            }
        }
        let mut unused: Vec<&Ident> = first_def
            .iter()
            .filter(|(k, _)| !used.contains(*k))
            .map(|(_, v)| *v)
            .collect();
        unused.sort_by_key(|v| v.span.start);
        for v in unused {
            self.push(Diagnostic::new(Code::UnusedVariable, v.span).arg("name", v.text.clone()));
        }
    }
}

/// Strongly connected components (iterative Tarjan).
fn sccs(n: usize, adj: &[Vec<NodeId>]) -> Vec<Vec<NodeId>> {
    let mut index = vec![usize::MAX; n];
    let mut low = vec![0; n];
    let mut on = vec![false; n];
    let mut stack = Vec::new();
    let mut out = Vec::new();
    let mut next = 0;
    for root in 0..n {
        if index[root] != usize::MAX {
            continue;
        }
        let mut call: Vec<(NodeId, usize)> = vec![(root, 0)];
        index[root] = next;
        low[root] = next;
        next += 1;
        stack.push(root);
        on[root] = true;
        while let Some(&mut (v, ref mut i)) = call.last_mut() {
            if *i < adj[v].len() {
                let w = adj[v][*i];
                *i += 1;
                if index[w] == usize::MAX {
                    index[w] = next;
                    low[w] = next;
                    next += 1;
                    stack.push(w);
                    on[w] = true;
                    call.push((w, 0));
                } else if on[w] {
                    low[v] = low[v].min(index[w]);
                }
            } else {
                call.pop();
                if let Some(&(u, _)) = call.last() {
                    low[u] = low[u].min(low[v]);
                }
                if low[v] == index[v] {
                    let mut comp = Vec::new();
                    while let Some(w) = stack.pop() {
                        on[w] = false;
                        comp.push(w);
                        if w == v {
                            break;
                        }
                    }
                    out.push(comp);
                }
            }
        }
    }
    out
}
