//! Prompt audio: the build keeps recordings, remakes changed text, and the check finds gaps;
//! the shipped catalog is complete; espeak-ng speaks both languages.

use ivr_core::prompts::audio::{self, AudioError, EspeakNg, Tts};
use ivr_core::prompts::{Catalog, build};
use ivr_dsl::Lang;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A deterministic voice: a tone whose length follows the text.
struct Beeper(AtomicUsize);

impl Tts for Beeper {
    fn synthesize(&self, text: &str, _lang: Lang) -> Result<Vec<i16>, AudioError> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok((0..text.chars().count() * 80)
            .map(|i| ((i % 16) as i16 - 8) * 1000)
            .collect())
    }
}

fn temp_catalog(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ivr-prompts-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for lang in ["ar", "en"] {
        std::fs::create_dir_all(dir.join(lang)).expect("dir");
    }
    std::fs::write(
        dir.join("en/a.ftl"),
        "hello = Hello.\nbye = Goodbye.\nagain = Again.\n    .audio = hello\n",
    )
    .expect("write");
    std::fs::write(
        dir.join("ar/a.ftl"),
        "hello = مرحبًا.\nbye = مع السلامة.\nagain = مرة أخرى.\n    .audio = hello\n",
    )
    .expect("write");
    dir
}

#[test]
fn build_makes_what_is_missing_keeps_recordings_and_remakes_changed_text() {
    let dir = temp_catalog("build");
    // A studio recording already in place.
    audio::write_wav(&dir.join("en/bye.wav"), &[1, 2, 3]).expect("recording");
    let tts = Beeper(AtomicUsize::new(0));
    let r = build::build(&dir, &tts, false).expect("build");
    assert_eq!(r.recorded, 1);
    // hello in both languages, bye in Arabic, and every value fragment; `again` reuses `hello`.
    assert!(r.made.iter().any(|p| p.ends_with("en/hello.wav")));
    assert!(!r.made.iter().any(|p| p.ends_with("again.wav")));
    assert_eq!(
        audio::read_wav(&dir.join("en/bye.wav"))
            .expect("kept")
            .samples
            .len(),
        3
    );
    let first = tts.0.load(Ordering::Relaxed);
    // Nothing changed: nothing made.
    let r = build::build(&dir, &tts, false).expect("build");
    assert!(r.made.is_empty());
    assert_eq!(tts.0.load(Ordering::Relaxed), first);
    // Changed text: only that file is remade.
    std::fs::write(
        dir.join("en/a.ftl"),
        "hello = Hello there.\nbye = Goodbye.\nagain = Again.\n    .audio = hello\n",
    )
    .expect("write");
    let r = build::build(&dir, &tts, false).expect("build");
    assert_eq!(r.made, vec![dir.join("en/hello.wav")]);
    let c = Catalog::load(&dir).expect("loads");
    assert!(build::check(&c).is_empty(), "{:?}", build::check(&c));
    assert_eq!(c.audio(Lang::En, "again"), c.audio(Lang::En, "hello"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn check_reports_missing_audio_and_one_sided_messages() {
    let dir = temp_catalog("check");
    std::fs::write(dir.join("en/b.ftl"), "only-english = Only here.\n").expect("write");
    let c = Catalog::load(&dir).expect("loads");
    let problems = build::check(&c);
    assert!(
        problems
            .iter()
            .any(|p| p == "en/hello.wav: missing (message `hello`)"),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p == "`only-english` is in en but not in ar"),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p == "ar/say/digit-7.wav: missing (value fragment)"),
        "{problems:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn wrong_audio_format_is_refused_at_load() {
    let dir = temp_catalog("format");
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(dir.join("en/hello.wav"), spec).expect("create");
    w.write_sample(0i16).expect("sample");
    w.write_sample(0i16).expect("sample");
    w.finalize().expect("finalize");
    let err = Catalog::load(&dir).expect_err("stereo refused");
    assert!(err.to_string().contains("8000 Hz mono 16-bit PCM"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_shipped_catalog_is_complete() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../prompts");
    let c = Catalog::load(&dir).expect("shipped catalog loads");
    assert_eq!(build::check(&c), Vec::<String>::new());
    // Spoken values have audio for every fragment: a ticket read-back has a real length.
    let f = ivr_core::flow::Fragment::Value {
        text: "100001".into(),
        style: ivr_dsl::ast::ValueStyle::Digits,
        lang: Lang::Ar,
    };
    assert!(c.duration_ms(&f).is_some_and(|ms| ms > 1000));
}

#[test]
fn espeak_ng_speaks_arabic_and_english() {
    let present = std::process::Command::new("espeak-ng")
        .arg("--version")
        .output()
        .is_ok();
    if !present {
        assert!(
            std::env::var_os("IVR_REQUIRE_EXTERNAL").is_none(),
            "espeak-ng is required (IVR_REQUIRE_EXTERNAL is set): apt-get install espeak-ng"
        );
        eprintln!("skipped: espeak-ng is not installed (Debian package espeak-ng)");
        return;
    }
    let tts = EspeakNg::default();
    for (lang, text) in [
        (Lang::En, "Welcome to the municipal services line."),
        (Lang::Ar, "مرحبًا بكم في خط الخدمات البلدية."),
    ] {
        let s = tts.synthesize(text, lang).expect("speaks");
        let secs = s.len() as f64 / f64::from(audio::RATE);
        assert!((0.8..10.0).contains(&secs), "{lang:?}: {secs} s");
        let rms = (s.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / s.len() as f64).sqrt();
        assert!(rms > 500.0, "{lang:?}: too quiet ({rms})");
    }
}

#[test]
fn a_script_folder_without_fragments_uses_the_shipped_ones() {
    let dir = temp_catalog("fallback");
    let own = Catalog::load(&dir).expect("loads");
    let shipped =
        Catalog::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../prompts")).expect("shipped");
    assert!(own.fragment_audio(Lang::Ar, "digit-7").is_none());
    let own = own.with_fragment_fallback(shipped);
    assert!(own.fragment_audio(Lang::Ar, "digit-7").is_some());
    // Its own prompts are still its own (none have audio here).
    assert!(own.audio(Lang::En, "hello").is_none());
    let _ = std::fs::remove_dir_all(&dir);
}

/// A stand-in for espeak-ng: notes the mode of the file it is told to write, then writes a
/// short WAV there (or hangs, with `hang`).
#[cfg(unix)]
fn fake_speaker(dir: &Path, hang: bool) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let wav = dir.join("voice.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 22_050,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&wav, spec).expect("voice");
    for i in 0..22_050 {
        w.write_sample(((i % 50) as i16 - 25) * 400)
            .expect("sample");
    }
    w.finalize().expect("voice written");
    let script = dir.join("speaker.sh");
    let body = if hang {
        "#!/bin/sh\nexec sleep 30\n".to_string()
    } else {
        // Arguments: -v LANG -s SPEED -w FILE -- TEXT
        format!(
            "#!/bin/sh\nstat -c %a \"$6\" > '{}'\ncp '{}' \"$6\"\n",
            dir.join("mode").display(),
            wav.display()
        )
    };
    std::fs::write(&script, body).expect("script");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("mode");
    script
}

#[cfg(unix)]
#[test]
fn speech_is_made_in_a_private_file_of_its_own_and_a_hung_speaker_is_killed() {
    let dir = std::env::temp_dir().join(format!("ivr-tts-files-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let temp = dir.join("tmp");
    std::fs::create_dir_all(&temp).expect("dirs");
    let tts = EspeakNg {
        program: fake_speaker(&dir, false),
        temp: temp.clone(),
        ..EspeakNg::default()
    };
    let s = tts.synthesize("hello", Lang::En).expect("spoken");
    assert!(!s.is_empty());
    let mode = std::fs::read_to_string(dir.join("mode")).expect("the speaker saw its file");
    assert_eq!(mode.trim(), "600", "the file it writes is private");
    assert_eq!(
        std::fs::read_dir(&temp).expect("tmp").count(),
        0,
        "nothing left behind"
    );
    let hung = EspeakNg {
        program: fake_speaker(&dir, true),
        temp: temp.clone(),
        timeout: std::time::Duration::from_millis(500),
        ..EspeakNg::default()
    };
    let t = std::time::Instant::now();
    let e = hung.synthesize("hello", Lang::En).expect_err("killed");
    assert!(t.elapsed() < std::time::Duration::from_secs(5), "{e}");
    assert!(e.to_string().contains("longer than"), "{e}");
    assert_eq!(std::fs::read_dir(&temp).expect("tmp").count(), 0);
    let _ = std::fs::remove_dir_all(&dir);
}
