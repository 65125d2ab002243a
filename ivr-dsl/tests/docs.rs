//! docs/language.md stays true to the code: its keyword table is the parser's, and every
//! diagnostic code has a section with an example.

use ivr_dsl::Code;

fn doc() -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/language.md");
    std::fs::read_to_string(p).expect("docs/language.md exists")
}

#[test]
fn keyword_table_is_current() {
    assert!(
        doc().contains(&ivr_dsl::keywords::markdown_table()),
        "regenerate the table with `cargo run -p ivr-dsl --example keyword_table`"
    );
}

#[test]
fn every_code_is_documented_with_an_example() {
    let d = doc();
    for c in Code::ALL {
        let head = format!("### {}: ", c.as_str());
        let at = d
            .find(&head)
            .unwrap_or_else(|| panic!("{} has no section", c.as_str()));
        let section = &d[at..];
        let section = &section[..section[4..].find("\n### ").map_or(section.len(), |e| e + 4)];
        assert!(
            section.contains(&format!("[{}]: ", c.as_str())),
            "{} section shows no checker output",
            c.as_str()
        );
    }
}
