//! `ivr graph`: DOT and Mermaid drawings with keys, handlers and jumps; Arabic names as written.

use std::process::Command;

fn graph(file: &str, format: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_ivr"))
        .args(["graph", file, "--format", format])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("ivr runs");
    assert_eq!(out.status.code(), Some(0));
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn dot_has_flows_keys_and_handlers() {
    let g = graph("flows/complaint_940.flow", "dot");
    assert!(g.starts_with("digraph ivr {"));
    for want in [
        "label=\"main\"",
        "label=\"press 1\"",
        "label=\"press *\"",
        "label=\"after 3\"",
        "label=\"not_found\"",
        "label=\"busy\"",
        "label=\"flow goodbye\"",
        "label=\"step describe\"",
    ] {
        assert!(g.contains(want), "missing {want}\n{g}");
    }
    assert!(g.trim_end().ends_with('}'));
}

#[test]
fn mermaid_keeps_arabic_names() {
    let g = graph("flows/complaint_940.ar.flow", "mermaid");
    assert!(g.starts_with("flowchart TD"));
    for want in [
        "مسار الرئيسية",
        "خطوة الوصف",
        "اضغط 1",
        "not_found",
        "subgraph",
    ] {
        assert!(g.contains(want), "missing {want}\n{g}");
    }
}
