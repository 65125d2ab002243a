//! `ivr dtmf detect FILE.wav`: the in-band detector on a recording.

use ivr::core::media::dtmf::inband::Detector;
use ivr::core::prompts::audio;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Print each key heard in a WAV file with its start time in ms (`1 120`), one per line.
    Detect {
        /// A WAV file (PCM; other rates are resampled to 8 kHz, the first channel is used).
        file: PathBuf,
    },
}

pub fn run(c: Command) -> ExitCode {
    let Command::Detect { file } = c;
    let mut reader = match hound::WavReader::open(&file) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ivr: {}: {e}", file.display());
            return ExitCode::from(2);
        }
    };
    let spec = reader.spec();
    let channels = usize::from(spec.channels.max(1));
    let samples: Result<Vec<i16>, _> = match (spec.sample_format, spec.bits_per_sample) {
        (hound::SampleFormat::Int, 16) => reader.samples::<i16>().collect(),
        (hound::SampleFormat::Int, b) if b <= 32 => reader
            .samples::<i32>()
            .map(|s| s.map(|v| (v >> (b - 16).min(31)) as i16))
            .collect(),
        (hound::SampleFormat::Float, _) => reader
            .samples::<f32>()
            .map(|s| s.map(|v| (v * 32767.0).clamp(-32768.0, 32767.0) as i16))
            .collect(),
        _ => {
            eprintln!("ivr: {}: unsupported sample format", file.display());
            return ExitCode::from(2);
        }
    };
    let samples = match samples {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ivr: {}: {e}", file.display());
            return ExitCode::from(2);
        }
    };
    let mono: Vec<i16> = samples.chunks(channels).map(|c| c[0]).collect();
    let pcm = match audio::resample(&mono, spec.sample_rate, audio::RATE) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("ivr: {e}");
            return ExitCode::from(2);
        }
    };
    let mut d = Detector::default();
    let mut out = Vec::new();
    d.push(&pcm, &mut out);
    // Let a key at the very end finish.
    d.push(&[0; 800], &mut out);
    for t in out {
        println!("{} {}", t.key, t.start * 1000 / u64::from(audio::RATE));
    }
    ExitCode::SUCCESS
}
