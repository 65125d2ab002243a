//! Complaint capture: the pluggable [`ComplaintBackend`] boundary, ticket numbers, and the
//! embedded SQLite store that is the default.

pub mod lookups;
#[cfg(feature = "sqlite")]
pub mod notify;
#[cfg(feature = "open311")]
pub mod open311;
pub mod ops;
#[cfg(feature = "sqlite")]
pub mod outbox;
#[cfg(feature = "sqlite")]
pub mod pass;
#[cfg(feature = "sqlite")]
pub mod sqlite;
pub mod ticket;

use serde::{Deserialize, Serialize};

/// The recording of a complaint, by reference.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingRef {
    /// Where the file is.
    pub path: String,
    /// Length.
    pub duration_ms: u64,
    /// SHA-256 of the file.
    pub sha256: Option<String>,
}

/// A complaint as the IVR captures it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Complaint {
    /// Category (the back office's service code).
    pub category: String,
    /// District code.
    pub district: Option<String>,
    /// Free-text location.
    pub location: Option<String>,
    /// The spoken description.
    pub recording: Option<RecordingRef>,
    /// Calling number.
    pub caller: String,
    /// `ar` or `en`.
    pub language: String,
    /// Always `ivr` from this engine.
    pub channel: String,
    /// The call's id: a retried submit with the same id never makes a second ticket.
    pub call_id: String,
    /// When (RFC 3339).
    pub at: String,
}

/// What a caller can be told about a ticket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Registered.
    Received,
    /// A team works on it.
    InProgress,
    /// Past its service level.
    Escalated,
    /// Fixed.
    Resolved,
    /// Closed.
    Closed,
}

impl Status {
    /// `received`, `in_progress`, … (the values scripts compare with).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Received => "received",
            Status::InProgress => "in_progress",
            Status::Escalated => "escalated",
            Status::Resolved => "resolved",
            Status::Closed => "closed",
        }
    }

    /// Parses `in_progress`, `in-progress`, …
    pub fn parse(s: &str) -> Option<Status> {
        Some(
            match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
                "received" => Status::Received,
                "in_progress" => Status::InProgress,
                "escalated" => Status::Escalated,
                "resolved" => Status::Resolved,
                "closed" => Status::Closed,
                _ => return None,
            },
        )
    }

    /// Whether the ticket is finished (no longer escalates).
    pub fn done(self) -> bool {
        matches!(self, Status::Resolved | Status::Closed)
    }
}

/// One status change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    /// The status.
    pub status: Status,
    /// When (RFC 3339).
    pub at: String,
    /// An optional note for the caller.
    pub note: Option<String>,
}

/// A ticket's state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketInfo {
    /// The ticket number.
    pub ticket: String,
    /// Its status now (escalated when past its service level).
    pub status: Status,
    /// When the status last changed (RFC 3339).
    pub updated: String,
    /// The latest note.
    pub note: Option<String>,
    /// The complaint.
    pub complaint: Complaint,
    /// Every change, oldest first.
    pub history: Vec<StatusChange>,
}

/// Why a backend request failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// The store failed.
    #[error("store: {0}")]
    Store(String),
    /// The request was not valid.
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The backend is unreachable or down.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

impl BackendError {
    /// The kind of failure a call hears of.
    pub fn kind(&self) -> crate::flow::FailureKind {
        use crate::flow::FailureKind;
        match self {
            BackendError::Store(_) => FailureKind::Store,
            BackendError::Invalid(_) => FailureKind::Refused,
            BackendError::Unavailable(_) => FailureKind::Unavailable,
        }
    }

    /// Who is at fault: the backend, or (a request that is not valid) the script that made
    /// it.
    pub fn fault(&self) -> crate::vocab::Fault {
        match self {
            BackendError::Invalid(_) => crate::vocab::Fault::Api,
            BackendError::Store(_) | BackendError::Unavailable(_) => crate::vocab::Fault::Backend,
        }
    }

    /// As the failure a call's flow is given.
    pub fn failure(&self) -> crate::flow::Failure {
        crate::flow::Failure::new(self.kind(), self.to_string())
    }
}

/// Where complaints go. Embedders implement it for their own back office.
#[async_trait::async_trait]
pub trait ComplaintBackend: Send + Sync {
    /// Files a complaint; returns its ticket number. Idempotent by `call_id`.
    async fn submit(&self, c: &Complaint) -> Result<String, BackendError>;
    /// The state of a ticket; `None` if there is no such ticket.
    async fn status(&self, ticket: &str) -> Result<Option<TicketInfo>, BackendError>;
    /// Whether the backend can take requests.
    async fn health(&self) -> Result<(), BackendError>;
}
