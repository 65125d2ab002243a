//! `ivr check`: exit codes, the greppable first line, JSON output, Arabic messages.

use std::path::Path;
mod common;
use common::ivr;

fn bad(name: &str) -> String {
    format!("ivr-dsl/tests/fixtures/bad/{name}.flow")
}

#[test]
fn shipped_flows_check_clean() {
    let out = ivr(&["check", "flows/"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("checked 2 file(s): 0 error(s), 0 warning(s)"),
        "{text}"
    );
}

#[test]
fn errors_exit_1_with_greppable_first_lines() {
    let file = bad("multi_recovers");
    let out = ivr(&["check", &file]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    let heads: Vec<&str> = text.lines().filter(|l| l.starts_with(&file)).collect();
    // Every error of the file in one run, each on a `FILE:LINE:COL: error[CODE]: message` line.
    assert_eq!(heads.len(), 4, "{text}");
    for (h, code) in heads.iter().zip(["E007", "E008", "E011", "E014"]) {
        let rest = h.strip_prefix(&format!("{file}:")).expect("file prefix");
        let mut parts = rest.splitn(3, ':');
        let line: u32 = parts
            .next()
            .and_then(|l| l.parse().ok())
            .expect("line number");
        let col: u32 = parts.next().and_then(|c| c.parse().ok()).expect("column");
        assert!(line > 0 && col > 0);
        assert!(
            parts
                .next()
                .expect("message")
                .starts_with(&format!(" error[{code}]: ")),
            "{h}"
        );
    }
}

#[test]
fn json_is_one_object_per_line() {
    let out = ivr(&["check", "--format", "json", &bad("e018_unknown_target")]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    let objs: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("valid JSON line"))
        .collect();
    assert_eq!(objs.len(), 1, "{text}");
    assert_eq!(objs[0]["code"], "E018");
    assert_eq!(objs[0]["line"], 4);
    assert_eq!(objs[0]["column"], 10);
    assert_eq!(objs[0]["severity"], "error");
    assert_eq!(objs[0]["help"], "did you mean `main`?");
}

#[test]
fn arabic_messages() {
    let out = ivr(&["check", "--messages", "ar", &bad("e018_unknown_target")]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("error[E018]: لا يوجد مسار أو خطوة باسم `mian`"),
        "{text}"
    );
    assert!(text.contains("هل تقصد `main`؟"), "{text}");
}

#[test]
fn usage_and_io_errors_exit_2() {
    assert_eq!(ivr(&["check", "no/such/file.flow"]).status.code(), Some(2));
    assert_eq!(ivr(&["check"]).status.code(), Some(2));
    assert_eq!(
        ivr(&["check", "--messages", "fr", "flows/"]).status.code(),
        Some(2)
    );
    assert_eq!(
        ivr(&["check", "--prompts", "no/such/dir", "flows/"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn garbage_files_never_panic() {
    let dir = std::env::temp_dir().join(format!("ivr-garbage-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut seed: u32 = 0x1234_5678;
    for i in 0..20 {
        let bytes: Vec<u8> = (0..(i * 97) % 2000)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                (seed % 256) as u8
            })
            .collect();
        let f = dir.join(format!("g{i}.flow"));
        std::fs::write(&f, &bytes).expect("write");
        let out = ivr(&["check", f.to_str().expect("utf-8 path")]);
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn prompt_check_uses_the_project_catalog() {
    let dir = std::env::temp_dir().join(format!("ivr-proj-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("prompts/en")).expect("dirs");
    std::fs::create_dir_all(dir.join("flows")).expect("dirs");
    std::fs::write(dir.join("prompts/en/a.ftl"), "hello = Hello.\n").expect("write");
    let f = dir.join("flows/x.flow");
    std::fs::write(
        &f,
        "languages en\n\nflow a\n    say hello\n    say missing\n    hangup\n",
    )
    .expect("write");
    let out = ivr(&["check", f.to_str().expect("utf-8")]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(":5:9: error[E029]: prompt `missing` is missing in language en"),
        "{text}"
    );
    assert!(!text.contains("`hello`"), "{text}");
    let _ = std::fs::remove_dir_all(Path::new(&dir));
}

#[test]
fn a_script_over_the_size_limit_is_refused_unread() {
    let dir = std::env::temp_dir().join(format!("ivr-huge-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let f = dir.join("huge.flow");
    // Sparse: takes no disk space, and is never read.
    let file = std::fs::File::create(&f).expect("create");
    file.set_len(ivr::project::MAX_SCRIPT_BYTES + 1)
        .expect("set length");
    let out = ivr(&["check", f.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("the limit is"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
