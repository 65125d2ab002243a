//! The durable outbox: complaints waiting to reach a remote system, kept in the same SQLite
//! file and written in the same transaction as the complaint itself. A complaint the caller
//! heard a ticket for is therefore either delivered or still in the outbox, whatever crashes
//! in between; a delivery is marked done in one transaction, so a restart never sends a
//! delivered complaint again.

use super::sqlite::{COMPLAINT_COLUMNS, SqliteStore, complaint_row, err};
use super::{BackendError, Complaint};
use rusqlite::{OptionalExtension, params};

/// Where a delivery stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeliveryState {
    /// Not sent yet, or sent and failed in a way worth retrying.
    Pending,
    /// The remote system answered with a token; its request id is still to be asked for.
    Token(String),
    /// Delivered: the remote request id.
    Delivered(String),
    /// The remote system refused it for good (a 4xx); kept for the back office.
    Failed(String),
}

/// One complaint in the outbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// The local ticket number.
    pub ticket: String,
    /// The complaint.
    pub complaint: Complaint,
    /// Where it stands.
    pub state: DeliveryState,
    /// Attempts so far.
    pub attempts: u32,
    /// The remote status last seen (Open311 `open` / `closed`), for delivered ones.
    pub remote_status: Option<String>,
}

fn now_rfc3339() -> String {
    jiff::Timestamp::now().to_string()
}

impl SqliteStore {
    /// Files a complaint and queues its delivery to `target`, in one transaction; idempotent
    /// by call id (a second submit neither files nor queues it again). Returns the ticket.
    pub fn submit_for_delivery(
        &self,
        c: &Complaint,
        target: &str,
        now_ms: i64,
    ) -> Result<String, BackendError> {
        let mut db = self.db()?;
        let tx = db
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(err)?;
        let id = Self::insert(&tx, c)?;
        tx.execute(
            "INSERT OR IGNORE INTO outbox (complaint_id, target, state, attempts, next_at, updated_at)
             VALUES (?1, ?2, 'pending', 0, ?3, ?4)",
            params![id, target, now_ms, now_rfc3339()],
        )
        .map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(Self::ticket_of(id))
    }

    /// Deliveries due at `now_ms` (pending or waiting on a token), oldest first.
    pub fn due_deliveries(&self, now_ms: i64, limit: usize) -> Result<Vec<Delivery>, BackendError> {
        self.deliveries(
            "WHERE o.state IN ('pending', 'token') AND o.next_at <= ?1 ORDER BY o.next_at, o.complaint_id LIMIT ?2",
            params![now_ms, limit as i64],
        )
    }

    /// When the next pending delivery is due (epoch milliseconds), if there is one.
    pub fn next_delivery_at(&self) -> Result<Option<i64>, BackendError> {
        self.db()?
            .query_row(
                "SELECT MIN(next_at) FROM outbox WHERE state IN ('pending', 'token')",
                [],
                |r| r.get(0),
            )
            .map_err(err)
    }

    /// Delivered complaints whose remote status may still change (not closed), for status
    /// synchronisation.
    pub fn open_deliveries(&self, limit: usize) -> Result<Vec<Delivery>, BackendError> {
        self.deliveries(
            "WHERE o.state = 'delivered' AND COALESCE(o.remote_status, '') != 'closed' ORDER BY o.updated_at LIMIT ?1",
            params![limit as i64],
        )
    }

    /// The outbox entry of a ticket.
    pub fn delivery(&self, ticket: &str) -> Result<Option<Delivery>, BackendError> {
        let Some(id) = Self::id_of(ticket) else {
            return Ok(None);
        };
        Ok(self
            .deliveries("WHERE o.complaint_id = ?1", params![id])?
            .into_iter()
            .next())
    }

    /// Every outbox entry (for the back office and tests).
    pub fn all_deliveries(&self) -> Result<Vec<Delivery>, BackendError> {
        self.deliveries("ORDER BY o.complaint_id", params![])
    }

    fn deliveries(
        &self,
        clause: &str,
        p: impl rusqlite::Params,
    ) -> Result<Vec<Delivery>, BackendError> {
        let db = self.db()?;
        let sql = format!(
            "SELECT c.id, o.state, o.token, o.remote_id, o.attempts, o.last_error, o.remote_status,
                    {COMPLAINT_COLUMNS}
             FROM outbox o JOIN complaints c ON c.id = o.complaint_id {clause}"
        );
        let mut stmt = db.prepare(&sql).map_err(err)?;
        let rows = stmt
            .query_map(p, |r| {
                let state: String = r.get(1)?;
                let token: Option<String> = r.get(2)?;
                let remote: Option<String> = r.get(3)?;
                let error: Option<String> = r.get(5)?;
                Ok(Delivery {
                    ticket: Self::ticket_of(r.get(0)?),
                    state: match state.as_str() {
                        "token" => DeliveryState::Token(token.unwrap_or_default()),
                        "delivered" => DeliveryState::Delivered(remote.unwrap_or_default()),
                        "failed" => DeliveryState::Failed(error.unwrap_or_default()),
                        _ => DeliveryState::Pending,
                    },
                    attempts: r.get::<_, i64>(4)? as u32,
                    remote_status: r.get(6)?,
                    complaint: complaint_row(r, 7)?,
                })
            })
            .map_err(err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(err)
    }

    fn update(
        &self,
        ticket: &str,
        sql: &str,
        p: &[&dyn rusqlite::ToSql],
    ) -> Result<(), BackendError> {
        let Some(id) = Self::id_of(ticket) else {
            return Err(BackendError::Invalid(format!("no ticket {ticket}")));
        };
        let db = self.db()?;
        let mut all: Vec<&dyn rusqlite::ToSql> = vec![&id];
        all.extend_from_slice(p);
        db.execute(sql, all.as_slice()).map_err(err)?;
        Ok(())
    }

    /// Claims a due delivery before it is sent: its next attempt moves to `lease_until_ms`
    /// (so a result the store then fails to record costs one resend after the lease, not a
    /// loop). `false`: it is no longer due (another process took it, or it was settled).
    pub fn claim_delivery(
        &self,
        ticket: &str,
        now_ms: i64,
        lease_until_ms: i64,
    ) -> Result<bool, BackendError> {
        let Some(id) = Self::id_of(ticket) else {
            return Ok(false);
        };
        let n = self
            .db()?
            .execute(
                "UPDATE outbox SET next_at = ?3, updated_at = ?4
                 WHERE complaint_id = ?1 AND state IN ('pending', 'token') AND next_at <= ?2",
                params![id, now_ms, lease_until_ms, now_rfc3339()],
            )
            .map_err(err)?;
        Ok(n == 1)
    }

    /// The remote system took it: its request id.
    pub fn delivered(&self, ticket: &str, remote_id: &str) -> Result<(), BackendError> {
        self.update(
            ticket,
            "UPDATE outbox SET state = 'delivered', remote_id = ?2, token = NULL, last_error = NULL,
                attempts = attempts + 1, updated_at = ?3 WHERE complaint_id = ?1",
            &[&remote_id, &now_rfc3339()],
        )
    }

    /// The remote system answered with a token; ask for the id at `next_ms`.
    pub fn tokened(&self, ticket: &str, token: &str, next_ms: i64) -> Result<(), BackendError> {
        self.update(
            ticket,
            "UPDATE outbox SET state = 'token', token = ?2, next_at = ?3, attempts = attempts + 1,
                updated_at = ?4 WHERE complaint_id = ?1",
            &[&token, &next_ms, &now_rfc3339()],
        )
    }

    /// An attempt failed in a way worth retrying: try again at `next_ms`.
    pub fn retry_at(&self, ticket: &str, error: &str, next_ms: i64) -> Result<(), BackendError> {
        self.update(
            ticket,
            "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, next_at = ?3, updated_at = ?4
                WHERE complaint_id = ?1",
            &[&error, &next_ms, &now_rfc3339()],
        )
    }

    /// The remote system refused it for good.
    pub fn failed(&self, ticket: &str, error: &str) -> Result<(), BackendError> {
        self.update(
            ticket,
            "UPDATE outbox SET state = 'failed', attempts = attempts + 1, last_error = ?2,
                updated_at = ?3 WHERE complaint_id = ?1",
            &[&error, &now_rfc3339()],
        )
    }

    /// Records the remote status seen (so a change is noticed once).
    pub fn remote_status(&self, ticket: &str, status: &str) -> Result<(), BackendError> {
        self.update(
            ticket,
            "UPDATE outbox SET remote_status = ?2, updated_at = ?3 WHERE complaint_id = ?1",
            &[&status, &now_rfc3339()],
        )
    }

    /// The ticket's remote id, once delivered.
    pub fn remote_id(&self, ticket: &str) -> Result<Option<String>, BackendError> {
        let Some(id) = Self::id_of(ticket) else {
            return Ok(None);
        };
        let db = self.db()?;
        db.query_row(
            "SELECT remote_id FROM outbox WHERE complaint_id = ?1",
            [id],
            |r| r.get::<_, Option<String>>(0),
        )
        .optional()
        .map(Option::flatten)
        .map_err(err)
    }
}
