//! Any bytes: checking must not panic; whatever parses without errors formats to text that
//! parses to the same tree in both keyword languages.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let checked = ivr_dsl::check(data, &ivr_dsl::Environment::default());
    if checked.has_errors() {
        return;
    }
    for lang in ivr_dsl::Lang::ALL {
        let text = ivr_dsl::format::format_script(&checked.script, lang);
        let again = ivr_dsl::parse(text.as_bytes());
        assert!(
            !again.has_errors(),
            "formatted text does not parse:\n{text}"
        );
        assert_eq!(
            again.script, checked.script,
            "round trip changed the tree:\n{text}"
        );
    }
});
