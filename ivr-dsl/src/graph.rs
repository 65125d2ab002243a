//! Phase 5b: drawing a script as a graph (Graphviz DOT or Mermaid).
//!
//! The drawing keeps the nodes an operator thinks in: flows, steps, menus and other input
//! states, backend requests, conditions, transfers and the ends of calls. Plain statements
//! (prompts, assignments) are folded into the edges between them.

use crate::ast::{Script, Stmt, StmtKind};
use crate::cfg::{Cfg, Label, NodeId, NodeKind};
use crate::format;
use crate::keywords::Lang;
use std::collections::{BTreeSet, HashMap};
use std::fmt::Write;

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GraphFormat {
    /// Graphviz DOT.
    Dot,
    /// Mermaid flowchart.
    Mermaid,
}

struct Drawn {
    id: String,
    label: String,
    shape: Shape,
    flow: usize,
}

#[derive(Clone, Copy, PartialEq)]
enum Shape {
    Flow,
    Step,
    Input,
    Decision,
    Action,
    End,
}

fn interesting(kind: &NodeKind) -> bool {
    match kind {
        NodeKind::FlowEntry(_) => true,
        NodeKind::Stmt(s) => matches!(
            s.kind,
            StmtKind::Step(_)
                | StmtKind::Menu { .. }
                | StmtKind::Collect(_)
                | StmtKind::Record(_)
                | StmtKind::If(_)
                | StmtKind::ElseIf(_)
                | StmtKind::Submit { .. }
                | StmtKind::Lookup { .. }
                | StmtKind::Transfer { .. }
                | StmtKind::Hangup
                | StmtKind::Return(_)
                | StmtKind::Run(_)
        ),
        _ => false,
    }
}

fn label_text(l: Label, lang: Lang) -> String {
    let ar = lang == Lang::Ar;
    match l {
        Label::Press(k) => format!("{} {}", if ar { "اضغط" } else { "press" }, key_name(k)),
        Label::Event(e, n) => {
            if n > 1 {
                format!("{} {n}", e.name())
            } else {
                e.name().to_string()
            }
        }
        Label::After(n) => format!("after {n}"),
        Label::Then => if ar { "نعم" } else { "yes" }.into(),
        Label::Otherwise => if ar { "لا" } else { "no" }.into(),
        Label::Repeat => "repeat".into(),
        Label::Call => "run".into(),
        Label::Goto | Label::Next | Label::Success => String::new(),
    }
}

/// Draws the script. `lang` picks the keyword language of labels.
pub fn graph(script: &Script, fmt: GraphFormat, lang: Lang) -> String {
    let cfg = Cfg::build(script);
    let mut drawn: HashMap<NodeId, Drawn> = HashMap::new();
    let mut order: Vec<NodeId> = Vec::new();
    for (id, n) in cfg.nodes.iter().enumerate() {
        if !interesting(&n.kind) || n.from_defaults {
            continue;
        }
        let (label, shape) = match n.kind {
            NodeKind::FlowEntry(i) => (
                format!(
                    "{} {}",
                    crate::keywords::Kw::Flow.spell(lang),
                    cfg.flows[i].name.text
                ),
                Shape::Flow,
            ),
            NodeKind::Exit => (
                crate::keywords::Kw::Hangup.spell(lang).to_string(),
                Shape::End,
            ),
            NodeKind::Stmt(s) => (format::head(s, lang), shape_of(s)),
            _ => continue,
        };
        drawn.insert(
            id,
            Drawn {
                id: format!("n{id}"),
                label,
                shape,
                flow: n.flow,
            },
        );
        order.push(id);
    }
    order.sort_by_key(|id| match cfg.nodes[*id].kind {
        NodeKind::Stmt(s) => s.kw_span.start,
        NodeKind::FlowEntry(i) => cfg.flows[i].name.span.start,
        _ => u32::MAX,
    });
    // Edges between drawn nodes, through undrawn ones.
    let mut edges: BTreeSet<(NodeId, NodeId, String)> = BTreeSet::new();
    for &from in &order {
        for e in cfg.edges(from) {
            let first = label_text(e.label, lang);
            let mut stack = vec![(e.to, first)];
            let mut seen = BTreeSet::new();
            let mut expanded = BTreeSet::new();
            while let Some((n, lbl)) = stack.pop() {
                if drawn.contains_key(&n) {
                    edges.insert((from, n, lbl));
                    continue;
                }
                match cfg.nodes[n].kind {
                    NodeKind::Wait(s) => {
                        // The wait of a drawn input state: its edges leave from the state
                        // itself; reaching it again (repeat) is an edge back to the state.
                        let entry = cfg.node_of(s);
                        if entry == Some(from) && lbl.is_empty() {
                            if expanded.insert(n) {
                                for e2 in cfg.edges(n) {
                                    stack.push((e2.to, label_text(e2.label, lang)));
                                }
                            }
                        } else if let Some(entry) = entry {
                            let l = if lbl.is_empty() {
                                "repeat".to_string()
                            } else {
                                lbl
                            };
                            edges.insert((from, entry, l));
                        }
                        continue;
                    }
                    NodeKind::FlowEnd(_) | NodeKind::Exit => continue,
                    _ => {}
                }
                if !seen.insert((n, lbl.clone())) {
                    continue;
                }
                for e2 in cfg.edges(n) {
                    let l2 = label_text(e2.label, lang);
                    stack.push((e2.to, if lbl.is_empty() { l2 } else { lbl.clone() }));
                }
            }
        }
    }
    match fmt {
        GraphFormat::Dot => dot(&cfg, &order, &drawn, &edges),
        GraphFormat::Mermaid => mermaid(&cfg, &order, &drawn, &edges),
    }
}

fn key_name(k: char) -> String {
    match k {
        '*' => "*".into(),
        '#' => "#".into(),
        c => c.to_string(),
    }
}

fn shape_of(s: &Stmt) -> Shape {
    match s.kind {
        StmtKind::Step(_) => Shape::Step,
        StmtKind::Menu { .. } | StmtKind::Collect(_) | StmtKind::Record(_) => Shape::Input,
        StmtKind::If(_) | StmtKind::ElseIf(_) => Shape::Decision,
        StmtKind::Hangup | StmtKind::Return(_) => Shape::End,
        _ => Shape::Action,
    }
}

fn dot_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

fn dot(
    cfg: &Cfg,
    order: &[NodeId],
    drawn: &HashMap<NodeId, Drawn>,
    edges: &BTreeSet<(NodeId, NodeId, String)>,
) -> String {
    let mut out = String::from("digraph ivr {\n  rankdir=TB;\n  node [fontname=\"Noto Sans\"];\n");
    for (i, f) in cfg.flows.iter().enumerate() {
        let _ = writeln!(
            out,
            "  subgraph cluster_{i} {{\n    label=\"{}\";",
            dot_escape(&f.name.text)
        );
        for id in order.iter().filter(|id| drawn[id].flow == i) {
            let d = &drawn[id];
            let shape = match d.shape {
                Shape::Flow => "house",
                Shape::Step => "box, style=rounded",
                Shape::Input => "box, style=bold",
                Shape::Decision => "diamond",
                Shape::Action => "box",
                Shape::End => "oval",
            };
            let _ = writeln!(
                out,
                "    {} [label=\"{}\", shape={}];",
                d.id,
                dot_escape(&d.label),
                shape
            );
        }
        out.push_str("  }\n");
    }
    for id in order.iter().filter(|id| drawn[id].flow == usize::MAX) {
        let d = &drawn[id];
        let _ = writeln!(
            out,
            "  {} [label=\"{}\", shape=doublecircle];",
            d.id,
            dot_escape(&d.label)
        );
    }
    for (a, b, l) in edges {
        if l.is_empty() {
            let _ = writeln!(out, "  {} -> {};", drawn[a].id, drawn[b].id);
        } else {
            let _ = writeln!(
                out,
                "  {} -> {} [label=\"{}\"];",
                drawn[a].id,
                drawn[b].id,
                dot_escape(l)
            );
        }
    }
    out.push_str("}\n");
    out
}

fn mermaid_escape(s: &str) -> String {
    s.replace('"', "#quot;")
}

fn mermaid(
    cfg: &Cfg,
    order: &[NodeId],
    drawn: &HashMap<NodeId, Drawn>,
    edges: &BTreeSet<(NodeId, NodeId, String)>,
) -> String {
    let mut out = String::from("flowchart TD\n");
    let node = |d: &Drawn| {
        let l = mermaid_escape(&d.label);
        match d.shape {
            Shape::Flow => format!("{}[/\"{}\"\\]", d.id, l),
            Shape::Step => format!("{}(\"{}\")", d.id, l),
            Shape::Input => format!("{}[[\"{}\"]]", d.id, l),
            Shape::Decision => format!("{}{{\"{}\"}}", d.id, l),
            Shape::Action => format!("{}[\"{}\"]", d.id, l),
            Shape::End => format!("{}([\"{}\"])", d.id, l),
        }
    };
    for (i, f) in cfg.flows.iter().enumerate() {
        let _ = writeln!(out, "  subgraph f{i}[\"{}\"]", mermaid_escape(&f.name.text));
        for id in order.iter().filter(|id| drawn[id].flow == i) {
            let _ = writeln!(out, "    {}", node(&drawn[id]));
        }
        out.push_str("  end\n");
    }
    for id in order.iter().filter(|id| drawn[id].flow == usize::MAX) {
        let _ = writeln!(out, "  {}", node(&drawn[id]));
    }
    for (a, b, l) in edges {
        if l.is_empty() {
            let _ = writeln!(out, "  {} --> {}", drawn[a].id, drawn[b].id);
        } else {
            let _ = writeln!(
                out,
                "  {} -->|\"{}\"| {}",
                drawn[a].id,
                mermaid_escape(l),
                drawn[b].id
            );
        }
    }
    out
}
