//! The generated script shared by the `dsl` benchmark and the profiling example.

use std::fmt::Write;

/// A valid script of at least `bytes` bytes.
pub fn generate(bytes: usize) -> String {
    let mut s = String::from(
        "-- generated benchmark script\nlanguages ar en\n\nhours office\n    sunday to thursday from 08:00 to 16:00\n    closed on holidays\n\ndefaults\n    on noinput\n        say did-not-hear\n        repeat\n    on nomatch\n        say invalid-choice\n        repeat\n    after 3 attempts goto last\n",
    );
    let mut i = 0;
    while s.len() < bytes {
        let next = format!("f{}", i + 1);
        if i % 2 == 0 {
            let _ = write!(
                s,
                "\nflow f{i}\n    set count_{i} = 0\n    menu timeout 5s\n        say main-options\n        press 1 set choice_{i} = \"roads\"\n        press 2 set choice_{i} = \"lighting\"\n        press star goto last\n    collect code_{i} digits 3 to 6 until hash timeout 6s\n        say enter-district\n    step again_{i}\n        set count_{i} = count_{i} + 1\n        if count_{i} < 3 and within hours office\n            say welcome in ar\n        else if choice_{i} = \"roads\"\n            say code_{i} as digits\n        else\n            say thank-you-goodbye without interruption\n        goto {next}\n"
            );
        } else {
            let _ = write!(
                s,
                "\nمسار f{i}\n    اجعل العدد_{i} = ٠\n    قائمة مهلة 5 ث\n        قل main-options\n        اضغط ١ اجعل الفئة_{i} = \"roads\"\n        اضغط ٢ اجعل الفئة_{i} = \"waste\"\n        اضغط نجمة اذهب إلى last\n    سجّل الوصف_{i} صافرة أقصى 120 ث صمت 4 ث حتى مربع\n        قل describe-after-beep\n    شغّل الوصف_{i}\n    إذا ليس العدد_{i} > 2 أو الفئة_{i} = \"roads\"\n        قل welcome بالعربية\n    اذهب إلى {next}\n"
            );
        }
        i += 1;
    }
    let _ = write!(
        s,
        "\nflow f{i}\n    goto last\n\nflow last\n    say thank-you-goodbye\n    hangup\n"
    );
    s
}
