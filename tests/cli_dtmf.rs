//! `ivr dtmf detect`: keys and start times from a WAV file.

use std::process::Command;

#[test]
fn detects_keys_with_start_times() {
    let dir = std::env::temp_dir().join(format!("ivr-dtmf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("keys.wav");
    let rate = 16_000u32;
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&path, spec).expect("create");
    let write_ms = |w: &mut hound::WavWriter<_>, ms: u32, f: Option<(f64, f64)>| {
        for i in 0..rate * ms / 1000 {
            let t = f64::from(i) / f64::from(rate);
            let v = f.map_or(0.0, |(a, b)| {
                7000.0
                    * ((2.0 * std::f64::consts::PI * a * t).sin()
                        + (2.0 * std::f64::consts::PI * b * t).sin())
            });
            w.write_sample(v as i16).expect("sample");
        }
    };
    write_ms(&mut w, 120, None);
    for f in [(697.0, 1209.0), (852.0, 1477.0), (941.0, 1477.0)] {
        write_ms(&mut w, 80, Some(f));
        write_ms(&mut w, 100, None);
    }
    w.finalize().expect("finalize");
    let out = Command::new(env!("CARGO_BIN_EXE_ivr"))
        .args(["dtmf", "detect", path.to_str().expect("utf-8")])
        .output()
        .expect("ivr runs");
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let got: Vec<(String, i64)> = text
        .lines()
        .map(|l| {
            let (k, t) = l.split_once(' ').expect("key and time");
            (k.to_string(), t.parse().expect("ms"))
        })
        .collect();
    let want = [("1", 120), ("9", 300), ("#", 480)];
    assert_eq!(got.len(), 3, "{text}");
    for ((k, t), (wk, wt)) in got.iter().zip(want) {
        assert_eq!(k, wk);
        assert!((t - wt).abs() <= 10, "{k} at {t} ms, sent at {wt} ms");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
