//! The call record file: one JSON object per ended call, one line each, appended to
//! `DATA/cdr.jsonl` (the record's schema is [`crate::call::Cdr`]).

use crate::call::Cdr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The append-only CDR file.
#[derive(Debug)]
pub struct CdrLog {
    path: PathBuf,
    file: Mutex<std::fs::File>,
}

impl CdrLog {
    /// Opens (or creates) `path` for appending.
    pub fn open(path: &Path) -> std::io::Result<CdrLog> {
        // Callers' numbers are in it: the owner's only.
        crate::privacy::private_file(path)?;
        let file = std::fs::OpenOptions::new().append(true).open(path)?;
        Ok(CdrLog {
            path: path.to_path_buf(),
            file: Mutex::new(file),
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record as one line (one write, so concurrent calls never interleave).
    pub fn write(&self, cdr: &Cdr) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(cdr).map_err(std::io::Error::other)?;
        line.push(b'\n');
        let mut f = self
            .file
            .lock()
            .map_err(|_| std::io::Error::other("the CDR file lock was poisoned"))?;
        f.write_all(&line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_whole_json_lines() {
        let dir = std::env::temp_dir().join(format!("ivr-cdr-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("cdr.jsonl");
        let _ = std::fs::remove_file(&path);
        let log = CdrLog::open(&path).expect("open");
        let mut c = Cdr {
            call_id: "a@b".into(),
            outcome: "hangup".into(),
            ..Default::default()
        };
        c.digits.push(crate::call::record::DigitRecord {
            key: crate::vocab::Key::D1,
            method: crate::vocab::DigitMethod::Rfc4733,
            at_ms: 1200,
        });
        log.write(&c).expect("write");
        c.call_id = "c@d".into();
        log.write(&c).expect("write");
        let text = std::fs::read_to_string(&path).expect("read");
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("each line is JSON"))
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["digits"][0]["method"], "rfc4733");
        assert_eq!(lines[1]["call_id"], "c@d");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
