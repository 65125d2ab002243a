//! Fixture scripts: every good one checks clean; every bad one produces exactly the
//! diagnostics (code and line:column) listed in its `.expect` file.
//!
//! `IVR_BLESS=1 cargo test -p ivr-dsl --test fixtures` rewrites the `.expect` files from what
//! the checker reports; review the diff before committing it.

use ivr_dsl::{Code, Environment, PromptCatalog, Severity};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn env_for(file: &Path) -> Environment {
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let mut env = Environment::default();
    if name.starts_with("w003") || name.starts_with("w007") {
        return env;
    }
    // The LANGUAGE.md sample says the hotline's prompts: check it against the shipped catalog.
    let prompts = if name.starts_with("language_md") {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../prompts")
    } else {
        dir("prompts")
    };
    env.prompts = Some(PromptCatalog::load(&prompts).expect("catalog loads"));
    env.destinations = Some(["agents".to_string()].into());
    env
}

fn files(sub: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir(sub))
        .expect("fixture folder exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "flow"))
        .collect();
    v.sort();
    v
}

fn found(file: &Path) -> Vec<String> {
    let bytes = std::fs::read(file).expect("fixture readable");
    let checked = ivr_dsl::check(&bytes, &env_for(file));
    checked
        .diagnostics
        .iter()
        .map(|d| format!("{} {}:{}", d.code.as_str(), d.span.line, d.span.col))
        .collect()
}

#[test]
fn good_scripts_check_clean() {
    let good = files("good");
    assert!(good.len() >= 5, "good fixtures present");
    for f in good {
        let bytes = std::fs::read(&f).expect("fixture readable");
        let checked = ivr_dsl::check(&bytes, &env_for(&f));
        let errors: Vec<_> = checked
            .diagnostics
            .iter()
            .filter(|d| d.severity() == Severity::Error)
            .collect();
        assert!(errors.is_empty(), "{}: {errors:?}", f.display());
    }
}

#[test]
fn bad_scripts_report_what_they_expect() {
    let bless = std::env::var_os("IVR_BLESS").is_some();
    let bad = files("bad");
    assert!(
        bad.len() >= 40,
        "at least 40 bad fixtures, found {}",
        bad.len()
    );
    let mut failures = Vec::new();
    for f in &bad {
        let got = found(f);
        let expect_file = f.with_extension("expect");
        if bless {
            std::fs::write(&expect_file, got.join("\n") + "\n").expect("writable");
            continue;
        }
        let want: Vec<String> = std::fs::read_to_string(&expect_file)
            .unwrap_or_else(|_| panic!("{} has no .expect file", f.display()))
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(String::from)
            .collect();
        if got != want {
            failures.push(format!("{}:\n  want {want:?}\n  got  {got:?}", f.display()));
        }
        // The file's name says which code it is about; that code must be among the findings.
        let stem = f.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        if let Some(code) = stem
            .split('_')
            .next()
            .and_then(|c| Code::parse(&c.to_uppercase()))
        {
            assert!(
                got.iter().any(|g| g.starts_with(code.as_str())),
                "{} does not produce {}",
                f.display(),
                code.as_str()
            );
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_code_has_a_bad_fixture() {
    let covered: BTreeSet<String> = files("bad")
        .iter()
        .flat_map(|f| found(f))
        .map(|l| l.split(' ').next().unwrap_or_default().to_string())
        .collect();
    let missing: Vec<&str> = Code::ALL
        .iter()
        .map(|c| c.as_str())
        .filter(|c| !covered.contains(*c))
        .collect();
    assert!(missing.is_empty(), "codes without a fixture: {missing:?}");
}
