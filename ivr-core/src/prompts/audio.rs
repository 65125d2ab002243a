//! Prompt audio: 8 kHz mono 16-bit PCM WAV files (hound), resampling (rubato), and the
//! text-to-speech used to generate them ([`Tts`], shipped as [`EspeakNg`]). Running calls never
//! need text-to-speech: recorded studio prompts simply replace the generated files.

use ivr_dsl::Lang;
use rubato::{FftFixedIn, Resampler};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The sample rate of telephone audio.
pub const RATE: u32 = 8_000;

/// Why audio could not be read, written or made.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    /// A WAV file could not be read or written.
    #[error("{path}: {source}")]
    Wav {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: hound::Error,
    },
    /// A WAV file is not 8 kHz mono 16-bit PCM.
    #[error("{path}: {found}; prompts must be 8000 Hz mono 16-bit PCM")]
    Format {
        /// The file.
        path: PathBuf,
        /// What it is.
        found: String,
    },
    /// Resampling failed.
    #[error("resampling: {0}")]
    Resample(String),
    /// Text-to-speech failed.
    #[error("text-to-speech: {0}")]
    Tts(String),
}

impl AudioError {
    /// Who is at fault: this machine: its files or programs.
    pub fn fault(&self) -> crate::vocab::Fault {
        crate::vocab::Fault::Local
    }
}

/// Decoded prompt audio, shared by all calls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Audio {
    /// 8 kHz mono samples.
    pub samples: Arc<[i16]>,
}

impl Audio {
    /// Length in milliseconds.
    pub fn duration_ms(&self) -> u64 {
        self.samples.len() as u64 * 1000 / u64::from(RATE)
    }
}

/// Reads an 8 kHz mono 16-bit PCM WAV file.
pub fn read_wav(path: &Path) -> Result<Audio, AudioError> {
    let wav = |source| AudioError::Wav {
        path: path.to_path_buf(),
        source,
    };
    let mut r = hound::WavReader::open(path).map_err(wav)?;
    let s = r.spec();
    if s.sample_rate != RATE
        || s.channels != 1
        || s.bits_per_sample != 16
        || s.sample_format != hound::SampleFormat::Int
    {
        return Err(AudioError::Format {
            path: path.to_path_buf(),
            found: format!(
                "{} Hz, {} channel(s), {}-bit {:?}",
                s.sample_rate, s.channels, s.bits_per_sample, s.sample_format
            ),
        });
    }
    let samples: Result<Vec<i16>, _> = r.samples::<i16>().collect();
    Ok(Audio {
        samples: samples.map_err(wav)?.into(),
    })
}

/// Writes 8 kHz mono 16-bit PCM.
pub fn write_wav(path: &Path, samples: &[i16]) -> Result<(), AudioError> {
    let wav = |source| AudioError::Wav {
        path: path.to_path_buf(),
        source,
    };
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).map_err(wav)?;
    for &s in samples {
        w.write_sample(s).map_err(wav)?;
    }
    w.finalize().map_err(wav)
}

/// Converts mono audio from `from` Hz to `to` Hz (band-limited, so nothing above the new
/// Nyquist frequency folds back).
pub fn resample(input: &[i16], from: u32, to: u32) -> Result<Vec<i16>, AudioError> {
    if from == to || input.is_empty() {
        return Ok(input.to_vec());
    }
    let err = |e: &dyn std::fmt::Display| AudioError::Resample(e.to_string());
    let mut r =
        FftFixedIn::<f32>::new(from as usize, to as usize, 1024, 2, 1).map_err(|e| err(&e))?;
    let data: Vec<f32> = input.iter().map(|&s| f32::from(s) / 32768.0).collect();
    let mut out: Vec<f32> = Vec::with_capacity(input.len() * to as usize / from as usize + 2048);
    let mut pos = 0;
    while pos + r.input_frames_next() <= data.len() {
        let n = r.input_frames_next();
        let o = r
            .process(&[&data[pos..pos + n]], None)
            .map_err(|e| err(&e))?;
        out.extend_from_slice(&o[0]);
        pos += n;
    }
    let o = r
        .process_partial(Some(&[&data[pos..]]), None)
        .map_err(|e| err(&e))?;
    out.extend_from_slice(&o[0]);
    let o = r
        .process_partial::<&[f32]>(None, None)
        .map_err(|e| err(&e))?;
    out.extend_from_slice(&o[0]);
    let delay = r.output_delay().min(out.len());
    out.drain(..delay);
    out.truncate((input.len() as u64 * u64::from(to) / u64::from(from)) as usize);
    Ok(out
        .iter()
        .map(|&x| (x * 32768.0).round().clamp(-32768.0, 32767.0) as i16)
        .collect())
}

/// Text-to-speech: text in a language to 8 kHz mono samples.
pub trait Tts {
    /// Speaks `text`.
    fn synthesize(&self, text: &str, lang: Lang) -> Result<Vec<i16>, AudioError>;
}

/// espeak-ng (Debian package `espeak-ng`), resampled from its 22,050 Hz to 8 kHz.
#[derive(Clone, Debug)]
pub struct EspeakNg {
    /// The program.
    pub program: PathBuf,
    /// Words per minute.
    pub speed: u32,
    /// Where to put temporary files.
    pub temp: PathBuf,
    /// A run taking longer is killed (a hung program never holds a thread for good).
    pub timeout: std::time::Duration,
}

impl Default for EspeakNg {
    fn default() -> Self {
        EspeakNg {
            program: "espeak-ng".into(),
            speed: 150,
            temp: std::env::temp_dir(),
            timeout: std::time::Duration::from_secs(20),
        }
    }
}

impl Tts for EspeakNg {
    fn synthesize(&self, text: &str, lang: Lang) -> Result<Vec<i16>, AudioError> {
        // A file of our own: a random name, created exclusively and private (no one can
        // plant a link where espeak-ng writes, nor read what a caller is told); removed when
        // `tmp` drops, whatever happens below.
        let tmp = tempfile::Builder::new()
            .prefix("ivr-tts-")
            .suffix(".wav")
            .tempfile_in(&self.temp)
            .map_err(|e| AudioError::Tts(format!("{}: {e}", self.temp.display())))?;
        let file = tmp.path().to_path_buf();
        let mut child = std::process::Command::new(&self.program)
            .args(["-v", lang.code(), "-s", &self.speed.to_string(), "-w"])
            .arg(&file)
            .arg("--")
            .arg(text)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| AudioError::Tts(format!("cannot run {}: {e}", self.program.display())))?;
        let deadline = std::time::Instant::now() + self.timeout;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if std::time::Instant::now() >= deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(AudioError::Tts(format!(
                        "{} took longer than {:?}",
                        self.program.display(),
                        self.timeout
                    )));
                }
                Ok(None) => std::thread::sleep(std::time::Duration::from_millis(5)),
                Err(e) => return Err(AudioError::Tts(e.to_string())),
            }
        };
        if !status.success() {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                use std::io::Read;
                let _ = e.read_to_string(&mut err);
            }
            return Err(AudioError::Tts(err.trim().to_string()));
        }
        let wav = |source| AudioError::Wav {
            path: file.clone(),
            source,
        };
        let mut r = hound::WavReader::open(&file).map_err(wav)?;
        let rate = r.spec().sample_rate;
        let samples: Vec<i16> = r.samples::<i16>().collect::<Result<_, _>>().map_err(wav)?;
        drop(tmp);
        resample(&trim_silence(&samples), rate, RATE)
    }
}

/// Drops leading and trailing near-silence, keeping 30 ms at each end.
pub fn trim_silence(samples: &[i16]) -> Vec<i16> {
    let loud = |s: &&i16| s.unsigned_abs() > 300;
    let first = samples.iter().position(|s| loud(&s)).unwrap_or(0);
    let last = samples.iter().rposition(|s| loud(&s)).map_or(0, |i| i + 1);
    if first >= last {
        return Vec::new();
    }
    let pad = 660; // 30 ms at 22,050 Hz
    samples[first.saturating_sub(pad)..(last + pad).min(samples.len())].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hung_text_to_speech_program_is_killed_at_its_deadline() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("ivr-tts-hang-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let program = dir.join("espeak-ng");
        std::fs::write(&program, "#!/bin/sh\nsleep 60\n").expect("script");
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755))
            .expect("executable");
        let tts = EspeakNg {
            program,
            temp: dir.clone(),
            timeout: std::time::Duration::from_millis(300),
            ..EspeakNg::default()
        };
        let t0 = std::time::Instant::now();
        let e = tts.synthesize("hello", Lang::En).expect_err("given up");
        assert!(e.to_string().contains("took longer"), "{e}");
        assert!(t0.elapsed() < std::time::Duration::from_secs(10));
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn tone(freq: f64, rate: u32, ms: u32) -> Vec<i16> {
        let n = (rate * ms / 1000) as usize;
        (0..n)
            .map(|i| {
                ((i as f64 * freq * 2.0 * std::f64::consts::PI / f64::from(rate)).sin() * 16000.0)
                    as i16
            })
            .collect()
    }

    fn rms(x: &[i16]) -> f64 {
        (x.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / x.len().max(1) as f64).sqrt()
    }

    #[test]
    fn resampling_keeps_speech_band_and_removes_what_would_alias() {
        let speech = resample(&tone(1000.0, 22_050, 500), 22_050, RATE).expect("resamples");
        assert_eq!(speech.len(), 4000);
        // 1 kHz survives at about its level.
        let mid = &speech[500..3500];
        assert!(
            (rms(mid) - 16000.0 / 2f64.sqrt()).abs() < 600.0,
            "{}",
            rms(mid)
        );
        // Zero crossings: 2 per cycle, 1000 cycles/s → about 750 in 375 ms.
        let crossings = mid.windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count();
        assert!((crossings as i64 - 750).abs() < 10, "{crossings}");
        // 6 kHz is above the new Nyquist (4 kHz): filtered out, not folded to 2 kHz.
        let high = resample(&tone(6000.0, 22_050, 500), 22_050, RATE).expect("resamples");
        assert!(rms(&high[500..3500]) < 200.0, "{}", rms(&high[500..3500]));
    }

    #[test]
    fn wav_round_trip_and_format_check() {
        let dir = std::env::temp_dir().join(format!("ivr-audio-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let p = dir.join("a.wav");
        let samples = tone(440.0, RATE, 100);
        write_wav(&p, &samples).expect("write");
        let a = read_wav(&p).expect("read");
        assert_eq!(&a.samples[..], &samples[..]);
        assert_eq!(a.duration_ms(), 100);
        let q = dir.join("b.wav");
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 22_050,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&q, spec).expect("create");
        w.write_sample(0i16).expect("sample");
        w.finalize().expect("finalize");
        assert!(matches!(read_wav(&q), Err(AudioError::Format { .. })));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
