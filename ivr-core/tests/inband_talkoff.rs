//! Q.24 D10 talk-off: no false digits on real speech and music (Debian packages
//! `asterisk-core-sounds-en-wav` and `asterisk-moh-opsound-wav`, installed by .ci/run; their
//! audio is not committed), in linear audio and through both G.711 laws.

use ivr_core::media::dtmf::inband::Detector;
use ivr_core::media::g711::{self, Law};
use std::path::{Path, PathBuf};

/// A 0 dBm0 sine is 3.14 dB below a full-scale one (a level, not π).
#[allow(clippy::approx_constant)]
const DBM0_BELOW_FULL_SCALE: f64 = 3.14;

const SPEECH: &str = "/usr/share/asterisk/sounds/en_US_f_Allison";
const MUSIC: &str = "/usr/share/asterisk/moh";

fn wavs(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            wavs(&p, out);
        } else if p.extension().is_some_and(|e| e == "wav") {
            out.push(p);
        }
    }
}

fn read(p: &Path) -> Option<Vec<i16>> {
    let mut r = hound::WavReader::open(p).ok()?;
    let s = r.spec();
    if s.sample_rate != 8000 || s.channels != 1 || s.bits_per_sample != 16 {
        return None;
    }
    r.samples::<i16>().collect::<Result<_, _>>().ok()
}

fn through(law: Option<Law>, x: &[i16]) -> Vec<i16> {
    match law {
        None => x.to_vec(),
        Some(l) => {
            let mut c = Vec::new();
            g711::encode(l, x, &mut c);
            let mut back = Vec::new();
            g711::decode(l, &c, &mut back);
            back
        }
    }
}

#[test]
fn d10_no_false_digits_on_speech_and_music() {
    let mut files = Vec::new();
    wavs(Path::new(SPEECH), &mut files);
    let speech = files.len();
    wavs(Path::new(MUSIC), &mut files);
    if speech == 0 || files.len() == speech {
        assert!(
            std::env::var_os("IVR_REQUIRE_EXTERNAL").is_none(),
            "the talk-off corpus is required: apt-get install asterisk-core-sounds-en-wav asterisk-moh-opsound-wav"
        );
        eprintln!(
            "skipped: install asterisk-core-sounds-en-wav and asterisk-moh-opsound-wav for the talk-off test"
        );
        return;
    }
    let mut seconds = 0.0;
    let mut false_hits = Vec::new();
    for f in &files {
        let Some(x) = read(f) else { continue };
        seconds += x.len() as f64 / 8000.0;
        for law in [None, Some(Law::Pcma), Some(Law::Pcmu)] {
            let mut d = Detector::default();
            let mut out = Vec::new();
            d.push(&through(law, &x), &mut out);
            for t in out {
                false_hits.push(format!(
                    "{} {:?}: {} at {} ms",
                    f.display(),
                    law,
                    t.key,
                    t.start / 8
                ));
            }
        }
    }
    assert!(seconds > 40.0 * 60.0, "corpus too small: {seconds} s");
    assert!(
        false_hits.is_empty(),
        "{} false digits in {seconds:.0} s:\n{}",
        false_hits.len(),
        false_hits.join("\n")
    );
    eprintln!(
        "talk-off: 0 false digits in {:.1} min of speech and music, ×3 (linear, A-law, μ-law)",
        seconds / 60.0
    );
}

#[test]
fn dtmf_pasted_into_speech_is_found() {
    let p = Path::new(SPEECH).join("privacy-prompt.wav");
    let Some(mut x) = read(&p) else {
        assert!(
            std::env::var_os("IVR_REQUIRE_EXTERNAL").is_none(),
            "{} is required",
            p.display()
        );
        return;
    };
    // Three 60 ms bursts at −10 dBm0 per tone added where the speech runs at about −21 dBm0
    // (S/N ≈ 14 dB; over the loudest syllables, near −10 dBm0, the detector rightly refuses).
    let a = 32767.0 * 10f64.powf((-10.0 - DBM0_BELOW_FULL_SCALE) / 20.0);
    for (k, at) in [
        ((697.0, 1209.0), 4000usize),
        ((770.0, 1336.0), 12000),
        ((941.0, 1477.0), 25000),
    ] {
        for i in 0..480 {
            let t = i as f64 / 8000.0;
            let v = a
                * ((2.0 * std::f64::consts::PI * k.0 * t).sin()
                    + (2.0 * std::f64::consts::PI * k.1 * t).sin());
            if let Some(s) = x.get_mut(at + i) {
                *s = (f64::from(*s) + v).round().clamp(-32768.0, 32767.0) as i16;
            }
        }
    }
    for law in [None, Some(Law::Pcma), Some(Law::Pcmu)] {
        let mut d = Detector::default();
        let mut out = Vec::new();
        d.push(&through(law, &x), &mut out);
        let keys: String = out.iter().map(|t| t.key.as_char()).collect();
        assert_eq!(keys, "15#", "{law:?}: {out:?}");
    }
}
