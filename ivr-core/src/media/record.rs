//! Recording the caller: decoded audio goes to a [`Sink`] (the runtime's writes off the media
//! path, see [`ThreadSink`]); the recording ends at its maximum length, on trailing silence
//! after speech (energy-based voice activity detection), on the finish key (whose tone is held
//! back and dropped, so it is not in the recording), or when stopped. The result says how long
//! it is, why it ended, whether any speech was heard, and the file's SHA-256.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

/// Where recorded samples go.
pub trait Sink: Send {
    /// Appends samples.
    fn write(&mut self, samples: &[i16]);
    /// Closes the recording: its path and SHA-256 (hex).
    fn finish(self: Box<Self>) -> std::io::Result<(PathBuf, String)>;
}

/// Writes an 8 kHz mono 16-bit WAV file.
pub struct WavSink {
    path: PathBuf,
    writer: Option<hound::WavWriter<std::io::BufWriter<std::fs::File>>>,
    error: Option<String>,
}

impl WavSink {
    /// Creates the file.
    pub fn create(path: &Path) -> std::io::Result<WavSink> {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let writer = hound::WavWriter::create(path, spec).map_err(std::io::Error::other)?;
        Ok(WavSink {
            path: path.to_path_buf(),
            writer: Some(writer),
            error: None,
        })
    }
}

impl Sink for WavSink {
    fn write(&mut self, samples: &[i16]) {
        if let Some(w) = self.writer.as_mut() {
            for &s in samples {
                if let Err(e) = w.write_sample(s) {
                    self.error.get_or_insert(e.to_string());
                    break;
                }
            }
        }
    }

    fn finish(mut self: Box<Self>) -> std::io::Result<(PathBuf, String)> {
        if let Some(e) = self.error.take() {
            return Err(std::io::Error::other(e));
        }
        if let Some(w) = self.writer.take() {
            w.finalize().map_err(std::io::Error::other)?;
        }
        use sha2::{Digest, Sha256};
        let bytes = std::fs::read(&self.path)?;
        let hash = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok((self.path.clone(), hash))
    }
}

enum Msg {
    Samples(Vec<i16>),
    Finish(mpsc::Sender<std::io::Result<(PathBuf, String)>>),
}

/// Hands samples to another sink on a writer thread, so a slow disk never stalls the media
/// path (the channel is unbounded; a recording is at most a few MB).
pub struct ThreadSink {
    tx: mpsc::Sender<Msg>,
}

impl ThreadSink {
    /// Starts the writer thread for `inner`.
    pub fn spawn(mut inner: Box<dyn Sink>) -> ThreadSink {
        let (tx, rx) = mpsc::channel::<Msg>();
        std::thread::spawn(move || {
            while let Ok(m) = rx.recv() {
                match m {
                    Msg::Samples(s) => inner.write(&s),
                    Msg::Finish(reply) => {
                        let _ = reply.send(inner.finish());
                        return;
                    }
                }
            }
        });
        ThreadSink { tx }
    }
}

impl Sink for ThreadSink {
    fn write(&mut self, samples: &[i16]) {
        let _ = self.tx.send(Msg::Samples(samples.to_vec()));
    }

    fn finish(self: Box<Self>) -> std::io::Result<(PathBuf, String)> {
        let (reply, done) = mpsc::channel();
        self.tx
            .send(Msg::Finish(reply))
            .map_err(|_| std::io::Error::other("the recording writer stopped"))?;
        done.recv()
            .map_err(|_| std::io::Error::other("the recording writer stopped"))?
    }
}

/// Limits of one recording.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordConfig {
    /// Longest recording.
    pub max_ms: u64,
    /// Silence after speech that ends it.
    pub silence_ms: u64,
    /// Ends it if no speech at all comes this long.
    pub initial_ms: u64,
    /// A frame is speech above this level (dBm0).
    pub speech_dbm0: i32,
}

impl Default for RecordConfig {
    fn default() -> Self {
        RecordConfig {
            max_ms: 60_000,
            silence_ms: 3_000,
            initial_ms: 5_000,
            speech_dbm0: -40,
        }
    }
}

/// Why a recording ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    /// It reached its maximum length.
    Max,
    /// Silence after speech.
    Silence,
    /// No speech at all.
    NoSpeech,
    /// The finish key.
    Key,
    /// Stopped (caller hung up, call ended).
    Stopped,
}

/// A finished recording.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recorded {
    /// The file.
    pub path: PathBuf,
    /// Its SHA-256.
    pub sha256: String,
    /// Length of the audio kept, ms.
    pub duration_ms: u64,
    /// Why it ended.
    pub ended: Ended,
    /// Whether any speech was heard (an empty recording can be asked for again).
    pub speech: bool,
}

/// Audio held back so that a finish key's tone can be dropped (in-band detection needs
/// about 40 ms to recognise a key; RFC 4733 events arrive about as fast).
const HOLD: usize = 8 * 120;
/// Voice activity is judged on 20 ms frames.
const FRAME: usize = 160;

/// One recording in progress.
pub struct Recorder {
    c: RecordConfig,
    sink: Option<Box<dyn Sink>>,
    held: VecDeque<i16>,
    written: u64,
    total: u64,
    speech: bool,
    quiet: u64,
    frame: Vec<i16>,
    threshold: f64,
    ended: Option<Ended>,
}

impl Recorder {
    /// Starts recording into `sink`.
    pub fn new(c: RecordConfig, sink: Box<dyn Sink>) -> Recorder {
        let threshold = 2.6145e8 * 10f64.powf(f64::from(c.speech_dbm0) / 10.0);
        Recorder {
            c,
            sink: Some(sink),
            held: VecDeque::with_capacity(HOLD + FRAME),
            written: 0,
            total: 0,
            speech: false,
            quiet: 0,
            frame: Vec::with_capacity(FRAME),
            threshold,
            ended: None,
        }
    }

    /// Adds decoded audio; returns why it ended, once it has.
    pub fn push(&mut self, samples: &[i16]) -> Option<Ended> {
        if self.ended.is_some() {
            return self.ended;
        }
        let max = self.c.max_ms * 8;
        for &s in samples {
            if self.total >= max {
                return self.end(Ended::Max, false);
            }
            self.total += 1;
            self.held.push_back(s);
            if self.held.len() > HOLD {
                let n = self.held.len() - HOLD;
                let out: Vec<i16> = self.held.drain(..n).collect();
                self.write(&out);
            }
            self.frame.push(s);
            if self.frame.len() == FRAME {
                let power = self
                    .frame
                    .iter()
                    .map(|&x| f64::from(x).powi(2))
                    .sum::<f64>()
                    / FRAME as f64;
                self.frame.clear();
                if power > self.threshold {
                    self.speech = true;
                    self.quiet = 0;
                } else {
                    self.quiet += FRAME as u64;
                }
                if self.speech && self.quiet >= self.c.silence_ms * 8 {
                    return self.end(Ended::Silence, false);
                }
                if !self.speech && self.total >= self.c.initial_ms * 8 {
                    return self.end(Ended::NoSpeech, false);
                }
            }
        }
        if self.total >= max {
            return self.end(Ended::Max, false);
        }
        None
    }

    /// The finish key was pressed: the held-back audio (its tone) is dropped.
    pub fn finish_key(&mut self) -> Option<Ended> {
        if self.ended.is_some() {
            return self.ended;
        }
        self.end(Ended::Key, true)
    }

    /// Stops (the call ended).
    pub fn stop(&mut self) -> Option<Ended> {
        if self.ended.is_some() {
            return self.ended;
        }
        self.end(Ended::Stopped, false)
    }

    fn write(&mut self, s: &[i16]) {
        self.written += s.len() as u64;
        if let Some(k) = self.sink.as_mut() {
            k.write(s);
        }
    }

    fn end(&mut self, why: Ended, drop_held: bool) -> Option<Ended> {
        let held: Vec<i16> = self.held.drain(..).collect();
        if !drop_held {
            self.write(&held);
        }
        self.ended = Some(why);
        self.ended
    }

    /// Closes the file and gives the result (after it has ended).
    pub fn finish(mut self) -> std::io::Result<Recorded> {
        if self.ended.is_none() {
            self.end(Ended::Stopped, false);
        }
        let sink = self
            .sink
            .take()
            .ok_or_else(|| std::io::Error::other("no sink"))?;
        let (path, sha256) = sink.finish()?;
        Ok(Recorded {
            path,
            sha256,
            duration_ms: self.written / 8,
            ended: self.ended.unwrap_or(Ended::Stopped),
            speech: self.speech,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn speech(ms: u64) -> Vec<i16> {
        (0..ms * 8)
            .map(|i| ((i as f64 * 0.3).sin() * 8000.0) as i16)
            .collect()
    }

    fn quiet(ms: u64) -> Vec<i16> {
        (0..ms * 8).map(|i| (i % 7) as i16 - 3).collect()
    }

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("ivr-rec-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("dir");
        d.join(name)
    }

    fn recorder(name: &str, c: RecordConfig) -> Recorder {
        Recorder::new(
            c,
            Box::new(ThreadSink::spawn(Box::new(
                WavSink::create(&tmp(name)).expect("file"),
            ))),
        )
    }

    #[test]
    fn trailing_silence_after_speech_ends_it() {
        let mut r = recorder(
            "a.wav",
            RecordConfig {
                silence_ms: 1000,
                ..Default::default()
            },
        );
        assert_eq!(r.push(&speech(2000)), None);
        let mut ended = None;
        for chunk in quiet(3000).chunks(160) {
            if let Some(e) = r.push(chunk) {
                ended = Some(e);
                break;
            }
        }
        assert_eq!(ended, Some(Ended::Silence));
        let res = r.finish().expect("finishes");
        assert_eq!(res.ended, Ended::Silence);
        assert!(res.speech);
        assert_eq!(res.duration_ms, 3000);
        // The file holds exactly that audio, and the hash is the file's.
        let a = crate::prompts::audio::read_wav(&res.path).expect("wav");
        assert_eq!(a.duration_ms(), 3000);
        use sha2::{Digest, Sha256};
        let h: String = Sha256::digest(std::fs::read(&res.path).expect("read"))
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(h, res.sha256);
    }

    #[test]
    fn max_length() {
        let mut r = recorder(
            "b.wav",
            RecordConfig {
                max_ms: 1500,
                ..Default::default()
            },
        );
        assert_eq!(r.push(&speech(3000)), Some(Ended::Max));
        let res = r.finish().expect("finishes");
        assert_eq!(res.duration_ms, 1500);
    }

    #[test]
    fn finish_key_tone_is_not_recorded() {
        let mut r = recorder("c.wav", RecordConfig::default());
        r.push(&speech(2000));
        r.push(&speech(100)); // the key's tone, recognised after it
        assert_eq!(r.finish_key(), Some(Ended::Key));
        let res = r.finish().expect("finishes");
        // 2.1 s pushed, the last 120 ms (the key) dropped.
        assert_eq!(res.duration_ms, 1980);
        assert_eq!(res.ended, Ended::Key);
    }

    #[test]
    fn silence_only_is_flagged() {
        let mut r = recorder(
            "d.wav",
            RecordConfig {
                initial_ms: 2000,
                ..Default::default()
            },
        );
        assert_eq!(r.push(&quiet(5000)), Some(Ended::NoSpeech));
        let res = r.finish().expect("finishes");
        assert!(!res.speech);
        assert_eq!(res.duration_ms, 2000);
    }
}
