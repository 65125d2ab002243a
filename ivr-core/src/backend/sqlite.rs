//! The embedded default store: SQLite (bundled), WAL mode, `synchronous = FULL` so an
//! acknowledged complaint survives a crash, schema migrations versioned here, recordings
//! referenced by path and hash. Submits are idempotent by call id; every status change is kept;
//! a ticket past its category's service level reads as escalated.

use super::{
    BackendError, Complaint, ComplaintBackend, RecordingRef, Status, StatusChange, TicketInfo,
    ticket,
};
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

/// Schema migrations, applied in order; the index + 1 is the schema version.
const MIGRATIONS: &[&str] = &[
    "CREATE TABLE complaints (
        id INTEGER PRIMARY KEY,
        call_id TEXT NOT NULL UNIQUE,
        category TEXT NOT NULL,
        district TEXT,
        location TEXT,
        recording_path TEXT,
        recording_ms INTEGER,
        recording_sha256 TEXT,
        caller TEXT NOT NULL,
        language TEXT NOT NULL,
        channel TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE status_history (
        complaint_id INTEGER NOT NULL REFERENCES complaints(id),
        status TEXT NOT NULL,
        note TEXT,
        at TEXT NOT NULL
    );
    CREATE INDEX status_history_complaint ON status_history(complaint_id);",
    // 2: the durable outbox of deliveries to a remote system (Open311).
    "CREATE TABLE outbox (
        complaint_id INTEGER PRIMARY KEY REFERENCES complaints(id),
        target TEXT NOT NULL,
        state TEXT NOT NULL,
        token TEXT,
        remote_id TEXT,
        remote_status TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_at INTEGER NOT NULL,
        last_error TEXT,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX outbox_due ON outbox(state, next_at);",
    // 3: notices (SMS to callers, staff notices) waiting to be sent.
    "CREATE TABLE notices (
        id INTEGER PRIMARY KEY,
        recipient TEXT NOT NULL,
        kind TEXT NOT NULL,
        ticket TEXT NOT NULL,
        language TEXT NOT NULL,
        text TEXT NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        next_at INTEGER NOT NULL,
        last_error TEXT,
        created_at TEXT NOT NULL,
        UNIQUE (ticket, kind, recipient)
    );
    CREATE INDEX notices_due ON notices(state, next_at);",
];

/// The columns [`complaint_row`] reads, for a `complaints` table aliased `c`.
pub(crate) const COMPLAINT_COLUMNS: &str = "c.call_id, c.category, c.district, c.location, \
    c.recording_path, c.recording_ms, c.recording_sha256, c.caller, c.language, c.channel, \
    c.created_at";

/// A complaint from a row holding [`COMPLAINT_COLUMNS`] from column `at` on.
pub(crate) fn complaint_row(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Complaint> {
    let path: Option<String> = r.get(at + 4)?;
    let ms: Option<i64> = r.get(at + 5)?;
    let sha256: Option<String> = r.get(at + 6)?;
    Ok(Complaint {
        call_id: r.get(at)?,
        category: r.get(at + 1)?,
        district: r.get(at + 2)?,
        location: r.get(at + 3)?,
        recording: path.map(|path| RecordingRef {
            path,
            duration_ms: ms.unwrap_or(0) as u64,
            sha256,
        }),
        caller: r.get(at + 7)?,
        language: r.get(at + 8)?,
        channel: r.get(at + 9)?,
        at: r.get(at + 10)?,
    })
}

/// Ticket numbers are this plus the row id, with a check digit: 7 digits for the first
/// 900,000 complaints.
const FIRST: u64 = 100_000;

/// The store.
pub struct SqliteStore {
    db: Mutex<Connection>,
    /// Category → hours to resolve before a ticket shows as escalated.
    pub service_hours: BTreeMap<String, u64>,
}

pub(crate) fn err(e: impl std::fmt::Display) -> BackendError {
    BackendError::Store(e.to_string())
}

impl SqliteStore {
    /// Opens (and migrates) the store in `path`.
    pub fn open(path: &Path) -> Result<SqliteStore, BackendError> {
        // Callers' numbers and voices' paths are in it: the owner's only (SQLite gives its
        // -wal and -shm files the same mode).
        crate::privacy::private_file(path)
            .map_err(|e| BackendError::Store(format!("{}: {e}", path.display())))?;
        let mut db = Connection::open(path).map_err(err)?;
        db.pragma_update(None, "journal_mode", "WAL").map_err(err)?;
        db.pragma_update(None, "synchronous", "FULL").map_err(err)?;
        db.pragma_update(None, "foreign_keys", "ON").map_err(err)?;
        db.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(err)?;
        let version: usize = db
            .query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))
            .map_err(err)? as usize;
        if version > MIGRATIONS.len() {
            return Err(BackendError::Store(format!(
                "{} has schema version {version}, newer than this program ({})",
                path.display(),
                MIGRATIONS.len()
            )));
        }
        for (i, m) in MIGRATIONS.iter().enumerate().skip(version) {
            let tx = db
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(err)?;
            tx.execute_batch(m).map_err(err)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)
                .map_err(err)?;
            tx.commit().map_err(err)?;
        }
        Ok(SqliteStore {
            db: Mutex::new(db),
            service_hours: BTreeMap::new(),
        })
    }

    pub(crate) fn db(&self) -> Result<std::sync::MutexGuard<'_, Connection>, BackendError> {
        self.db
            .lock()
            .map_err(|_| BackendError::Store("store lock poisoned".into()))
    }

    /// Files a complaint (idempotent by call id); returns the ticket number.
    pub fn submit_sync(&self, c: &Complaint) -> Result<String, BackendError> {
        let mut db = self.db()?;
        let tx = db
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(err)?;
        let id = Self::insert(&tx, c)?;
        tx.commit().map_err(err)?;
        Ok(ticket::ticket(FIRST + id as u64))
    }

    /// The ticket number of a complaint row.
    pub(crate) fn ticket_of(id: i64) -> String {
        ticket::ticket(FIRST + id as u64)
    }

    /// The complaint row of a ticket number (check digit verified).
    pub(crate) fn id_of(t: &str) -> Option<i64> {
        ticket::sequence(t)
            .and_then(|n| n.checked_sub(FIRST))
            .and_then(|n| i64::try_from(n).ok())
    }

    /// Inserts a complaint in `tx` unless its call id is already filed; returns its row id.
    pub(crate) fn insert(
        tx: &rusqlite::Transaction<'_>,
        c: &Complaint,
    ) -> Result<i64, BackendError> {
        if c.category.trim().is_empty() || c.call_id.trim().is_empty() {
            return Err(BackendError::Invalid(
                "a complaint needs a category and a call id".into(),
            ));
        }
        let existing: Option<i64> = tx
            .query_row(
                "SELECT id FROM complaints WHERE call_id = ?1",
                [&c.call_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(err)?;
        if let Some(id) = existing {
            return Ok(id);
        }
        let rec = c.recording.as_ref();
        tx.execute(
            "INSERT INTO complaints (call_id, category, district, location, recording_path,
                recording_ms, recording_sha256, caller, language, channel, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                c.call_id,
                c.category,
                c.district,
                c.location,
                rec.map(|r| r.path.clone()),
                rec.map(|r| r.duration_ms as i64),
                rec.and_then(|r| r.sha256.clone()),
                c.caller,
                c.language,
                c.channel,
                c.at,
            ],
        )
        .map_err(err)?;
        let id = tx.last_insert_rowid();
        tx.execute(
            "INSERT INTO status_history (complaint_id, status, note, at) VALUES (?1, 'received', NULL, ?2)",
            params![id, c.at],
        )
        .map_err(err)?;
        Ok(id)
    }

    /// Whether the store answers.
    pub fn health_sync(&self) -> Result<(), BackendError> {
        self.db()?
            .query_row("SELECT 1", [], |_| Ok(()))
            .map_err(err)
    }

    /// A ticket's state as of `now` (RFC 3339; escalation is judged against it).
    pub fn status_at(
        &self,
        t: &str,
        now: jiff::Timestamp,
    ) -> Result<Option<TicketInfo>, BackendError> {
        let Some(seq) = ticket::sequence(t) else {
            return Ok(None);
        };
        let Some(id) = seq.checked_sub(FIRST) else {
            return Ok(None);
        };
        let db = self.db()?;
        let complaint = db
            .query_row(
                &format!("SELECT {COMPLAINT_COLUMNS} FROM complaints c WHERE c.id = ?1"),
                [id as i64],
                |r| complaint_row(r, 0),
            )
            .optional()
            .map_err(err)?;
        let Some(complaint) = complaint else {
            return Ok(None);
        };
        let mut stmt = db
            .prepare("SELECT status, note, at FROM status_history WHERE complaint_id = ?1 ORDER BY rowid")
            .map_err(err)?;
        let history: Vec<StatusChange> = stmt
            .query_map([id as i64], |r| {
                let s: String = r.get(0)?;
                Ok(StatusChange {
                    status: Status::parse(&s).unwrap_or(Status::Received),
                    note: r.get(1)?,
                    at: r.get(2)?,
                })
            })
            .map_err(err)?
            .collect::<Result<_, _>>()
            .map_err(err)?;
        let last = history.last().cloned().unwrap_or(StatusChange {
            status: Status::Received,
            at: complaint.at.clone(),
            note: None,
        });
        let mut status = last.status;
        if !status.done()
            && let Some(h) = self.service_hours.get(&complaint.category)
            && let Ok(created) = complaint.at.parse::<jiff::Timestamp>()
            && now.duration_since(created) > jiff::SignedDuration::from_hours(*h as i64)
        {
            status = Status::Escalated;
        }
        Ok(Some(TicketInfo {
            ticket: t.to_string(),
            status,
            updated: last.at,
            note: last.note,
            complaint,
            history,
        }))
    }

    /// Records a status change (what the next tracking call hears).
    pub fn set_status(
        &self,
        t: &str,
        status: Status,
        note: Option<&str>,
        at: &str,
    ) -> Result<bool, BackendError> {
        let Some(id) = ticket::sequence(t).and_then(|s| s.checked_sub(FIRST)) else {
            return Ok(false);
        };
        let db = self.db()?;
        let exists: Option<i64> = db
            .query_row(
                "SELECT id FROM complaints WHERE id = ?1",
                [id as i64],
                |r| r.get(0),
            )
            .optional()
            .map_err(err)?;
        if exists.is_none() {
            return Ok(false);
        }
        db.execute(
            "INSERT INTO status_history (complaint_id, status, note, at) VALUES (?1, ?2, ?3, ?4)",
            params![id as i64, status.as_str(), note, at],
        )
        .map_err(err)?;
        Ok(true)
    }

    /// All tickets, newest first, as of `now`.
    pub fn list(&self, now: jiff::Timestamp) -> Result<Vec<TicketInfo>, BackendError> {
        let ids: Vec<i64> = {
            let db = self.db()?;
            let mut stmt = db
                .prepare("SELECT id FROM complaints ORDER BY id DESC")
                .map_err(err)?;
            stmt.query_map([], |r| r.get(0))
                .map_err(err)?
                .collect::<Result<_, _>>()
                .map_err(err)?
        };
        let mut out = Vec::new();
        for id in ids {
            if let Some(t) = self.status_at(&ticket::ticket(FIRST + id as u64), now)? {
                out.push(t);
            }
        }
        Ok(out)
    }
}

#[async_trait::async_trait]
impl ComplaintBackend for SqliteStore {
    // These block (on the disk, on another writer's lock for up to the busy timeout): the
    // runtime performs every backend request on its blocking pool (`runtime/work.rs`), never
    // on a worker that carries calls' media; an embedder calling from async code must too.
    async fn submit(&self, c: &Complaint) -> Result<String, BackendError> {
        self.submit_sync(c)
    }

    async fn status(&self, t: &str) -> Result<Option<TicketInfo>, BackendError> {
        self.status_at(t, jiff::Timestamp::now())
    }

    async fn health(&self) -> Result<(), BackendError> {
        self.health_sync()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complaint(call: &str) -> Complaint {
        Complaint {
            category: "roads".into(),
            district: Some("101".into()),
            location: None,
            recording: Some(RecordingRef {
                path: "rec/1.wav".into(),
                duration_ms: 4000,
                sha256: Some("ab".into()),
            }),
            caller: "+966500000001".into(),
            language: "ar".into(),
            channel: "ivr".into(),
            call_id: call.into(),
            at: "2026-11-29T07:00:00Z".into(),
        }
    }

    fn store(name: &str) -> (SqliteStore, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("ivr-sqlite-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let p = dir.join("complaints.sqlite");
        (SqliteStore::open(&p).expect("opens"), dir)
    }

    #[test]
    fn submit_is_idempotent_and_tickets_carry_a_check_digit() {
        let (s, dir) = store("idem");
        let t1 = s.submit_sync(&complaint("call-1")).expect("submit");
        let again = s.submit_sync(&complaint("call-1")).expect("retry");
        let t2 = s.submit_sync(&complaint("call-2")).expect("submit");
        assert_eq!(t1, again);
        assert_ne!(t1, t2);
        assert!(ticket::valid(&t1) && t1.len() == 7, "{t1}");
        assert_eq!(s.list(jiff::Timestamp::now()).expect("list").len(), 2);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn history_service_levels_and_reopening() {
        let (mut s, dir) = store("hist");
        s.service_hours.insert("roads".into(), 48);
        let t = s.submit_sync(&complaint("c")).expect("submit");
        let day1: jiff::Timestamp = "2026-11-30T07:00:00Z".parse().expect("t");
        let day3: jiff::Timestamp = "2026-12-02T07:00:01Z".parse().expect("t");
        assert_eq!(
            s.status_at(&t, day1).expect("status").map(|i| i.status),
            Some(Status::Received)
        );
        assert_eq!(
            s.status_at(&t, day3).expect("status").map(|i| i.status),
            Some(Status::Escalated)
        );
        assert!(
            s.set_status(
                &t,
                Status::Resolved,
                Some("pothole filled"),
                "2026-12-02T08:00:00Z"
            )
            .expect("set")
        );
        let info = s.status_at(&t, day3).expect("status").expect("ticket");
        assert_eq!(info.status, Status::Resolved);
        assert_eq!(info.note.as_deref(), Some("pothole filled"));
        assert_eq!(info.history.len(), 2);
        // A mistyped ticket is not found (check digit), nor is an unknown one.
        let mut wrong = t.clone().into_bytes();
        wrong[2] = if wrong[2] == b'9' { b'0' } else { wrong[2] + 1 };
        assert!(
            s.status_at(&String::from_utf8(wrong).expect("utf-8"), day1)
                .expect("ok")
                .is_none()
        );
        assert!(
            !s.set_status(&ticket::ticket(999_999), Status::Closed, None, "x")
                .expect("ok")
        );
        // Reopening the file keeps everything (and the schema is not migrated twice).
        drop(s);
        let s2 = SqliteStore::open(&dir.join("complaints.sqlite")).expect("reopens");
        assert_eq!(
            s2.status_at(&t, day1)
                .expect("status")
                .map(|i| i.history.len()),
            Some(2)
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
