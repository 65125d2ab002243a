//! The blocking work of calls, done off their tasks: backend requests and text-to-speech on
//! tokio's blocking pool, recordings written by a thread each (a slow disk never stalls a
//! call's media), results sent back to the call's task.

use crate::backend::ops::Operations;
use crate::call::{BackendCall, WorkResult};
use crate::flow::{BackendResult, Recording};
use ivr_dsl::Lang;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::mpsc;

/// A result for a call's task.
#[derive(Debug)]
pub(super) enum Done {
    /// A backend request's result.
    Backend { id: u64, result: BackendResult },
    /// Blocking work's result.
    Work { id: u64, result: WorkResult },
}

/// Where results go.
pub(super) type DoneTx = mpsc::UnboundedSender<Done>;

/// Performs a backend request on the blocking pool (a store that blocks, a backend that
/// awaits the network: either way no tokio worker waits).
pub(super) fn backend(ops: Arc<Operations>, b: BackendCall, done: DoneTx) {
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let result = handle.block_on(ops.perform(&b.context, &b.request));
        let _ = done.send(Done::Backend { id: b.id, result });
    });
}

/// Speaks a text.
pub(super) fn speak(
    tts: Option<super::SharedTts>,
    text: String,
    lang: Lang,
    id: u64,
    done: DoneTx,
) {
    tokio::task::spawn_blocking(move || {
        let result = match tts {
            Some(t) => match t.synthesize(&text, lang) {
                Ok(samples) => WorkResult::Audio(samples.into()),
                Err(e) => WorkResult::Failed(e.to_string()),
            },
            None => WorkResult::Failed("no text-to-speech".into()),
        };
        let _ = done.send(Done::Work { id, result });
    });
}

/// Reads a recording back (to play it).
pub(super) fn read(recording: Recording, id: u64, done: DoneTx) {
    tokio::task::spawn_blocking(move || {
        let result = match crate::prompts::audio::read_wav(Path::new(&recording.location)) {
            Ok(a) => WorkResult::Audio(a.samples),
            Err(e) => WorkResult::Failed(e.to_string()),
        };
        let _ = done.send(Done::Work { id, result });
    });
}

enum Msg {
    Samples(Vec<i16>),
    Finish(u64),
}

/// The recordings of one call, each written by a thread of its own.
pub(super) struct Recordings {
    dir: PathBuf,
    name: String,
    writers: HashMap<u32, std::sync::mpsc::Sender<Msg>>,
}

impl Recordings {
    /// Recordings of the call `call_id`, in `dir`.
    pub(super) fn new(dir: PathBuf, call_id: &str) -> Self {
        let name: String = call_id
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .take(64)
            .collect();
        Recordings {
            dir,
            name,
            writers: HashMap::new(),
        }
    }

    /// Starts the writer of recording `n`; it reports whether its file could be made.
    pub(super) fn open(&mut self, n: u32, id: u64, done: DoneTx) {
        let path = self.dir.join(format!("{}-{n}.wav", self.name));
        let (tx, rx) = std::sync::mpsc::channel::<Msg>();
        self.writers.insert(n, tx);
        let spawned = std::thread::Builder::new()
            .name("ivr-recording".into())
            .spawn(move || write(path, id, rx, done.clone()));
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start a recording writer");
        }
    }

    /// Audio for recording `n`.
    pub(super) fn audio(&mut self, n: u32, samples: Vec<i16>) {
        if let Some(tx) = self.writers.get(&n) {
            let _ = tx.send(Msg::Samples(samples));
        }
    }

    /// Closes recording `n`; its writer reports where it is and its hash.
    pub(super) fn close(&mut self, n: u32, id: u64, done: &DoneTx) {
        let sent = self
            .writers
            .remove(&n)
            .is_some_and(|tx| tx.send(Msg::Finish(id)).is_ok());
        if !sent {
            let _ = done.send(Done::Work {
                id,
                result: WorkResult::Failed("the recording writer stopped".into()),
            });
        }
    }
}

/// One recording's writer: makes the file, appends what comes, closes and hashes it.
fn write(path: PathBuf, open_id: u64, rx: std::sync::mpsc::Receiver<Msg>, done: DoneTx) {
    let mut file = match WavFile::create(&path) {
        Ok(f) => {
            let _ = done.send(Done::Work {
                id: open_id,
                result: WorkResult::Opened,
            });
            Some(f)
        }
        Err(e) => {
            let _ = done.send(Done::Work {
                id: open_id,
                result: WorkResult::Failed(format!("{}: {e}", path.display())),
            });
            None
        }
    };
    while let Ok(m) = rx.recv() {
        match m {
            Msg::Samples(s) => {
                if let Some(f) = file.as_mut() {
                    f.write(&s);
                }
            }
            Msg::Finish(id) => {
                let result = match file.take().map(WavFile::finish) {
                    Some(Ok((p, sha256))) => WorkResult::Closed {
                        location: p.display().to_string(),
                        sha256,
                    },
                    Some(Err(e)) => WorkResult::Failed(e.to_string()),
                    None => WorkResult::Failed("the recording's file could not be made".into()),
                };
                let _ = done.send(Done::Work { id, result });
                return;
            }
        }
    }
}

/// An 8 kHz mono 16-bit WAV file being written.
struct WavFile {
    path: PathBuf,
    writer: hound::WavWriter<std::io::BufWriter<std::fs::File>>,
    error: Option<String>,
}

impl WavFile {
    fn create(path: &Path) -> std::io::Result<WavFile> {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let writer = hound::WavWriter::create(path, spec).map_err(std::io::Error::other)?;
        Ok(WavFile {
            path: path.to_path_buf(),
            writer,
            error: None,
        })
    }

    fn write(&mut self, samples: &[i16]) {
        if self.error.is_some() {
            return;
        }
        for &s in samples {
            if let Err(e) = self.writer.write_sample(s) {
                self.error = Some(e.to_string());
                return;
            }
        }
    }

    fn finish(self) -> std::io::Result<(PathBuf, String)> {
        if let Some(e) = self.error {
            return Err(std::io::Error::other(e));
        }
        self.writer.finalize().map_err(std::io::Error::other)?;
        use sha2::{Digest, Sha256};
        let bytes = std::fs::read(&self.path)?;
        let hash = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok((self.path, hash))
    }
}
