//! Callers' recordings on disk: written by a thread each (a slow disk never stalls a call's
//! media), named by the server's own id of the call, created exclusively and private (0600,
//! in a 0700 folder), and on disk for good — file and folder synced — before the call hears
//! it was kept. At start, a recording a crash cut short is repaired and set aside.

use super::work::{Done, DoneTx};
use crate::call::WorkResult;
use crate::privacy::{create_private, private_dir, sync_dir};
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

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
    /// Recordings of the call whose server-made id is `uid`, in `dir`.
    pub(super) fn new(dir: PathBuf, uid: &str) -> Self {
        // The id is the server's own (hex); filtered anyway, so that no name can leave `dir`.
        let name: String = uid
            .chars()
            .filter(char::is_ascii_alphanumeric)
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

/// One recording's writer: makes the file, appends what comes, closes, syncs and hashes it.
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
    file: File,
    writer: hound::WavWriter<std::io::BufWriter<File>>,
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
        let file = create_private(path)?;
        let writer = hound::WavWriter::new(std::io::BufWriter::new(file.try_clone()?), spec)
            .map_err(std::io::Error::other)?;
        Ok(WavFile {
            path: path.to_path_buf(),
            file,
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

    /// Finishes the header, syncs the file and its folder, and hashes what is on disk.
    fn finish(mut self) -> std::io::Result<(PathBuf, String)> {
        if let Some(e) = self.error {
            return Err(std::io::Error::other(e));
        }
        self.writer.finalize().map_err(std::io::Error::other)?;
        self.file.sync_all()?;
        if let Some(dir) = self.path.parent() {
            sync_dir(dir)?;
        }
        use sha2::{Digest, Sha256};
        let mut hash = Sha256::new();
        self.file.seek(SeekFrom::Start(0))?;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = self.file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hash.update(&buf[..n]);
        }
        let hex = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
        Ok((self.path, hex))
    }
}

/// The folder partial recordings are set aside in, inside the recordings folder.
pub const PARTIAL: &str = "partial";

/// A recording a crash cut short, repaired and set aside.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Repaired {
    /// Where it is now (in [`PARTIAL`]).
    pub path: PathBuf,
    /// The audio it holds.
    pub duration_ms: u64,
}

/// Repairs the recordings in `dir` whose header does not match their length (the writer
/// was cut off before it finished: the header still says 0), and moves them into
/// `dir/partial/` — no ticket refers to them, as a call hears its ticket only after its
/// recording is closed. Finished recordings are left alone.
pub fn repair_partial(dir: &Path) -> std::io::Result<Vec<Repaired>> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(out);
    };
    for e in entries.flatten() {
        let path = e.path();
        if path.extension().is_none_or(|x| x != "wav") || !e.file_type()?.is_file() {
            continue;
        }
        let Some(data_bytes) = fix_header(&path)? else {
            continue;
        };
        let aside = dir.join(PARTIAL);
        private_dir(&aside)?;
        let to = aside.join(e.file_name());
        std::fs::rename(&path, &to)?;
        sync_dir(dir)?;
        sync_dir(&aside)?;
        out.push(Repaired {
            path: to,
            duration_ms: data_bytes / 16,
        });
    }
    Ok(out)
}

/// Rewrites the RIFF and data sizes of a WAV whose header disagrees with its length;
/// returns the data bytes when it had to. `None`: the header is right, or the file is not
/// a WAV this server writes (left alone).
fn fix_header(path: &Path) -> std::io::Result<Option<u64>> {
    let mut f = OpenOptions::new().read(true).write(true).open(path)?;
    let len = f.metadata()?.len();
    let mut head = [0u8; 512];
    let got = f.read(&mut head)?;
    let head = &head[..got];
    if got < 12 || &head[0..4] != b"RIFF" || &head[8..12] != b"WAVE" {
        return Ok(None);
    }
    // Walk the chunks to `data`.
    let mut at = 12usize;
    while at + 8 <= head.len() {
        let id = &head[at..at + 4];
        let size = u32::from_le_bytes([head[at + 4], head[at + 5], head[at + 6], head[at + 7]]);
        if id == b"data" {
            let start = (at + 8) as u64;
            let actual = len.saturating_sub(start) & !1;
            if u64::from(size) == actual {
                return Ok(None);
            }
            let data = u32::try_from(actual).unwrap_or(u32::MAX - 1);
            let riff = u32::try_from(start - 8 + u64::from(data)).unwrap_or(u32::MAX);
            f.seek(SeekFrom::Start(4))?;
            f.write_all(&riff.to_le_bytes())?;
            f.seek(SeekFrom::Start(at as u64 + 4))?;
            f.write_all(&data.to_le_bytes())?;
            f.set_len(start + u64::from(data))?;
            f.sync_all()?;
            return Ok(Some(u64::from(data)));
        }
        at += 8 + size as usize + (size as usize & 1);
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("ivr-rec-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("scratch");
        d
    }

    #[test]
    fn a_recording_is_never_made_over_another() {
        let d = scratch("exclusive");
        let p = d.join("a-1.wav");
        std::fs::write(&p, b"an earlier caller's voice").expect("written");
        assert!(
            WavFile::create(&p).is_err(),
            "an existing file is not truncated"
        );
        assert_eq!(
            std::fs::read(&p).expect("read"),
            b"an earlier caller's voice"
        );
        let _ = std::fs::remove_dir_all(&d);
    }

    #[cfg(unix)]
    #[test]
    fn recordings_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let d = scratch("private");
        let p = d.join("b-1.wav");
        let mut w = WavFile::create(&p).expect("made");
        w.write(&[1, 2, 3]);
        w.finish().expect("finished");
        let mode = std::fs::metadata(&p).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        private_dir(&d.join("x")).expect("dir");
        let mode = std::fs::metadata(d.join("x"))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_recording_cut_off_is_repaired_and_set_aside() {
        let d = scratch("repair");
        // A finished one stays.
        let done = d.join("done-1.wav");
        let mut w = WavFile::create(&done).expect("made");
        w.write(&vec![100; 8000]);
        w.finish().expect("finished");
        // One cut off: the samples are on disk, the header still says nothing.
        let cut = d.join("cut-1.wav");
        let mut w = WavFile::create(&cut).expect("made");
        w.write(&vec![200; 4000]);
        w.writer.flush().expect("flushed");
        std::mem::forget(w);
        let mut f = OpenOptions::new().write(true).open(&cut).expect("open");
        f.seek(SeekFrom::Start(40)).expect("seek");
        f.write_all(&0u32.to_le_bytes())
            .expect("header as a crash leaves it");
        drop(f);
        let repaired = repair_partial(&d).expect("repaired");
        assert_eq!(repaired.len(), 1, "{repaired:?}");
        assert_eq!(repaired[0].duration_ms, 500);
        assert!(done.exists() && !cut.exists());
        let audio = crate::prompts::audio::read_wav(&repaired[0].path).expect("a valid WAV");
        assert_eq!(audio.samples.len(), 4000);
        assert!(repair_partial(&d).expect("again").is_empty(), "once");
        let _ = std::fs::remove_dir_all(&d);
    }
}
