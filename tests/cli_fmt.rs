//! `ivr fmt`: canonical layout, --check, --write, and keyword translation that round-trips.

use std::path::PathBuf;
mod common;
use common::{ivr, stdout};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn tmp(name: &str, text: &str) -> PathBuf {
    // Inside flows/ so that the project's prompts and ivr.yaml apply when it is checked.
    let dir = root()
        .join("target")
        .join(format!("fmt-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::copy(root().join("ivr.yaml"), dir.join("ivr.yaml")).expect("config");
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p
}

#[test]
fn shipped_flows_are_formatted() {
    for f in ["flows/complaint_940.flow", "flows/complaint_940.ar.flow"] {
        assert_eq!(ivr(&["fmt", "--check", f]).status.code(), Some(0), "{f}");
    }
}

#[test]
fn translation_round_trips_and_checks() {
    let prompts = root().join("prompts");
    for (f, lang, other) in [
        ("flows/complaint_940.flow", "en", "ar"),
        ("flows/complaint_940.ar.flow", "ar", "en"),
    ] {
        let original = stdout(&ivr(&["fmt", f]));
        for target in [other, lang] {
            let there = stdout(&ivr(&["fmt", "--keywords", target, f]));
            let p = tmp(&format!("{target}-{}", f.replace('/', "_")), &there);
            let p = p.to_str().expect("utf-8");
            let checked = ivr(&["check", "--prompts", prompts.to_str().expect("utf-8"), p]);
            assert_eq!(checked.status.code(), Some(0), "{}", stdout(&checked));
            assert!(stdout(&checked).contains("0 error(s), 0 warning(s)"));
            let back = stdout(&ivr(&["fmt", "--keywords", lang, p]));
            assert_eq!(back, original, "{f} via {target}");
        }
    }
}

#[test]
fn check_and_write() {
    let messy = "languages   en\nflow  a\n  say   welcome\n\n\n  hangup\n";
    let p = tmp("messy.flow", messy);
    let ps = p.to_str().expect("utf-8");
    let check = ivr(&["fmt", "--check", ps]);
    assert_eq!(check.status.code(), Some(1));
    assert!(stdout(&check).contains("not formatted"));
    assert_eq!(ivr(&["fmt", "--write", ps]).status.code(), Some(0));
    let written = std::fs::read_to_string(&p).expect("read");
    assert_eq!(
        written,
        "languages en\n\nflow a\n    say welcome\n\n    hangup\n"
    );
    assert_eq!(ivr(&["fmt", "--check", ps]).status.code(), Some(0));
}

#[test]
fn comments_and_digits_survive_translation() {
    let src = "-- top\nlanguages ar en\n\nflow a\n    -- before menu\n    menu timeout ٥s\n        say welcome\n        press ١ hangup\n        after ۳ attempts hangup\n";
    let p = tmp("c.flow", src);
    let ar = stdout(&ivr(&[
        "fmt",
        "--keywords",
        "ar",
        p.to_str().expect("utf-8"),
    ]));
    assert!(ar.contains("-- top\nاللغات العربية الإنجليزية"), "{ar}");
    assert!(
        ar.contains("    -- before menu\n    قائمة مهلة ٥ ث"),
        "{ar}"
    );
    assert!(ar.contains("اضغط ١ أنهِ المكالمة"), "{ar}");
    assert!(ar.contains("بعد ۳ محاولات أنهِ المكالمة"), "{ar}");
}

#[test]
fn broken_file_is_not_formatted() {
    let p = tmp("broken.flow", "flow a\n    goto\n");
    let out = ivr(&["fmt", p.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("error[E008]"));
}
