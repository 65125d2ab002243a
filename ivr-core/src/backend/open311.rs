//! The Open311 GeoReport v2 connector. A complaint is filed in the local SQLite store first,
//! together with its place in the durable outbox, so the caller hears a local ticket number at
//! once whatever the remote system is doing; a delivery thread then posts it
//! (`POST /requests.json`, form-encoded), follows token answers (`GET /tokens/{token}.json`)
//! until the request id comes, retries with backoff when the remote system is down, slow or
//! failing (5xx, 429, timeouts), gives up only on a definite refusal (4xx), and keeps the
//! remote status in step (`GET /requests/{id}.json`: `open`/`closed`, `status_notes`) so that
//! a tracking call hears it.
//!
//! Exactly once: a delivery is marked done in the same store, so a restart never posts a
//! delivered complaint again. A request that timed out after the remote system received it
//! is the one case HTTP cannot settle; every post carries the local ticket as
//! `attribute[ivr_ticket]` so that the remote side (or its operators) can recognise a repeat.

use super::pass::{Pass, StoreBackoff, run_passes};
use super::sqlite::SqliteStore;
use super::{BackendError, Complaint, ComplaintBackend, Status, TicketInfo};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Connector settings (`ivr.yaml`, `backend: open311`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Open311Config {
    /// Base URL of the GeoReport v2 endpoint (`https://city.example/open311/v2`).
    pub endpoint: String,
    /// `api_key`, when the endpoint wants one.
    pub api_key: Option<String>,
    /// `jurisdiction_id`, for multi-city endpoints.
    pub jurisdiction_id: Option<String>,
    /// Script category → the endpoint's `service_code` (unmapped categories are sent as is).
    pub service_codes: BTreeMap<String, String>,
    /// Where recordings can be fetched (`media_url` = this + `/` + the file name).
    pub media_base_url: Option<String>,
    /// Time limit of each HTTP request.
    pub timeout: Duration,
    /// First retry delay; doubles per failed attempt.
    pub retry_min: Duration,
    /// Longest retry delay.
    pub retry_max: Duration,
    /// How often delivered, unclosed requests are asked for their status.
    pub sync_every: Duration,
    /// How long a delivery being sent stays claimed: when the store cannot record its
    /// result, it is sent again after this (see [`super::pass`]).
    pub lease: Duration,
}

impl Default for Open311Config {
    fn default() -> Self {
        Open311Config {
            endpoint: String::new(),
            api_key: None,
            jurisdiction_id: None,
            service_codes: BTreeMap::new(),
            media_base_url: None,
            timeout: Duration::from_secs(10),
            retry_min: Duration::from_secs(5),
            retry_max: Duration::from_secs(600),
            sync_every: Duration::from_secs(300),
            lease: super::pass::LEASE,
        }
    }
}

/// What a post got.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Posted {
    /// The request id.
    Id(String),
    /// A token; the id comes later.
    Token(String),
}

/// Why a request to the remote system did not work.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RemoteError {
    /// Down, slow, overloaded or failing: try again later.
    #[error("retry later: {0}")]
    Retry(String),
    /// Refused for good (a 4xx with its description).
    #[error("refused: {0}")]
    Refused(String),
}

impl RemoteError {
    /// Who is at fault: the remote Open311 system.
    pub fn fault(&self) -> crate::vocab::Fault {
        crate::vocab::Fault::Backend
    }
}

/// A remote request's state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteStatus {
    /// `open` or `closed`.
    pub status: String,
    /// What the city wrote.
    pub notes: Option<String>,
}

#[derive(Deserialize)]
struct Answer {
    service_request_id: Option<serde_json::Value>,
    token: Option<serde_json::Value>,
    status: Option<String>,
    status_notes: Option<String>,
    description: Option<String>,
}

fn text(v: &Option<serde_json::Value>) -> Option<String> {
    match v {
        Some(serde_json::Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

/// The HTTP side (blocking; used from the delivery thread).
#[derive(Debug)]
pub struct Open311Client {
    agent: ureq::Agent,
    cfg: Open311Config,
}

impl Open311Client {
    /// A client with the configured time limit on every request.
    pub fn new(cfg: Open311Config) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(cfg.timeout))
            .http_status_as_error(false)
            .build()
            .into();
        Open311Client { agent, cfg }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.cfg.endpoint.trim_end_matches('/'))
    }

    fn answers(
        resp: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<Vec<Answer>, RemoteError> {
        let resp = resp.map_err(|e| RemoteError::Retry(e.to_string()))?;
        let code = resp.status().as_u16();
        let body = resp
            .into_body()
            .read_to_string()
            .map_err(|e| RemoteError::Retry(format!("reading the answer: {e}")))?;
        let parsed: Result<Vec<Answer>, _> = serde_json::from_str(&body);
        match code {
            200..=299 => {
                parsed.map_err(|e| RemoteError::Retry(format!("answer is not GeoReport JSON: {e}")))
            }
            404 => Ok(Vec::new()),
            408 | 429 | 500..=599 => Err(RemoteError::Retry(format!("HTTP {code}"))),
            _ => Err(RemoteError::Refused(format!(
                "HTTP {code}: {}",
                parsed
                    .ok()
                    .and_then(|a| a.into_iter().next())
                    .and_then(|a| a.description)
                    .unwrap_or(body.chars().take(200).collect())
            ))),
        }
    }

    /// The form fields of a post.
    pub fn form(&self, ticket: &str, c: &Complaint) -> Vec<(String, String)> {
        let mut f = vec![
            (
                "service_code".to_string(),
                self.cfg
                    .service_codes
                    .get(&c.category)
                    .cloned()
                    .unwrap_or_else(|| c.category.clone()),
            ),
            (
                "description".to_string(),
                format!(
                    "Complaint by phone (ticket {ticket}, {} , caller's language {}){}",
                    c.channel,
                    c.language,
                    c.recording
                        .as_ref()
                        .map(|r| format!(
                            ", spoken description of {:.1} s",
                            r.duration_ms as f64 / 1000.0
                        ))
                        .unwrap_or_default()
                ),
            ),
            ("phone".to_string(), c.caller.clone()),
            ("attribute[ivr_ticket]".to_string(), ticket.to_string()),
            ("attribute[call_id]".to_string(), c.call_id.clone()),
        ];
        let place = match (&c.district, &c.location) {
            (Some(d), Some(l)) => Some(format!("district {d}, {l}")),
            (Some(d), None) => Some(format!("district {d}")),
            (None, Some(l)) => Some(l.clone()),
            (None, None) => None,
        };
        if let Some(p) = place {
            f.push(("address_string".into(), p));
        }
        if let Some(d) = &c.district {
            f.push(("attribute[district]".into(), d.clone()));
        }
        if let (Some(base), Some(r)) = (&self.cfg.media_base_url, &c.recording) {
            let name = std::path::Path::new(&r.path)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            f.push((
                "media_url".into(),
                format!("{}/{name}", base.trim_end_matches('/')),
            ));
        }
        if let Some(k) = &self.cfg.api_key {
            f.push(("api_key".into(), k.clone()));
        }
        if let Some(j) = &self.cfg.jurisdiction_id {
            f.push(("jurisdiction_id".into(), j.clone()));
        }
        f
    }

    /// `POST /requests.json`.
    pub fn post(&self, ticket: &str, c: &Complaint) -> Result<Posted, RemoteError> {
        let form = self.form(ticket, c);
        let answers = Self::answers(
            self.agent
                .post(self.url("requests.json"))
                .send_form(form.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
        )?;
        let first = answers
            .into_iter()
            .next()
            .ok_or_else(|| RemoteError::Retry("an empty answer".into()))?;
        if let Some(id) = text(&first.service_request_id) {
            return Ok(Posted::Id(id));
        }
        text(&first.token)
            .map(Posted::Token)
            .ok_or_else(|| RemoteError::Retry("neither a request id nor a token".into()))
    }

    fn get(&self, path: &str) -> Result<Vec<Answer>, RemoteError> {
        let mut req = self.agent.get(self.url(path));
        if let Some(j) = &self.cfg.jurisdiction_id {
            req = req.query("jurisdiction_id", j);
        }
        Self::answers(req.call())
    }

    /// `GET /tokens/{token}.json`: the request id, once there is one.
    pub fn token(&self, token: &str) -> Result<Option<String>, RemoteError> {
        Ok(self
            .get(&format!("tokens/{token}.json"))?
            .into_iter()
            .find_map(|a| text(&a.service_request_id)))
    }

    /// `GET /requests/{id}.json`.
    pub fn request(&self, id: &str) -> Result<Option<RemoteStatus>, RemoteError> {
        Ok(self
            .get(&format!("requests/{id}.json"))?
            .into_iter()
            .next()
            .and_then(|a| {
                a.status.map(|status| RemoteStatus {
                    status: status.to_ascii_lowercase(),
                    notes: a.status_notes.filter(|n| !n.is_empty()),
                })
            }))
    }
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// The backend: the local store plus the outbox delivery thread.
pub struct Open311Backend {
    store: Arc<SqliteStore>,
    client: Arc<Open311Client>,
    wake: Mutex<mpsc::Sender<()>>,
    worker: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Open311Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Open311Backend")
            .field("endpoint", &self.client.cfg.endpoint)
            .finish_non_exhaustive()
    }
}

/// One delivery pass over what is due, each delivery claimed before it is sent; stops at the
/// first store error (see [`super::pass`]).
pub fn deliver_due(store: &SqliteStore, client: &Open311Client) -> Pass {
    let mut pass = Pass::default();
    let now = now_ms();
    let due = match store.due_deliveries(now, 50) {
        Ok(d) => d,
        Err(e) => {
            tracing::error!(error = %e, "outbox unreadable");
            pass.store_error = Some(e);
            return pass;
        }
    };
    let cfg = &client.cfg;
    for d in &due {
        match store.claim_delivery(&d.ticket, now, now + cfg.lease.as_millis() as i64) {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                tracing::error!(ticket = %d.ticket, error = %e, "outbox not writable: pass stopped");
                pass.store_error = Some(e);
                return pass;
            }
        }
        let backoff = |attempts: u32| {
            let ms = cfg.retry_min.as_millis() as i64 * (1i64 << attempts.min(20));
            now_ms() + ms.min(cfg.retry_max.as_millis() as i64)
        };
        let step = match &d.state {
            super::outbox::DeliveryState::Token(t) => client.token(t).map(|id| match id {
                Some(id) => Posted::Id(id),
                None => Posted::Token(t.clone()),
            }),
            _ => client.post(&d.ticket, &d.complaint),
        };
        let saved = match step {
            Ok(Posted::Id(id)) => {
                tracing::info!(ticket = %d.ticket, remote_id = %id, "delivered to Open311");
                store.delivered(&d.ticket, &id)
            }
            Ok(Posted::Token(t)) => store.tokened(&d.ticket, &t, backoff(d.attempts)),
            Err(RemoteError::Retry(e)) => {
                tracing::warn!(ticket = %d.ticket, error = %e, attempts = d.attempts + 1, "Open311 delivery will be retried");
                store.retry_at(&d.ticket, &e, backoff(d.attempts))
            }
            Err(RemoteError::Refused(e)) => {
                tracing::error!(ticket = %d.ticket, error = %e, "Open311 refused the complaint");
                store.failed(&d.ticket, &e)
            }
        };
        pass.handled += 1;
        if let Err(e) = saved {
            tracing::error!(ticket = %d.ticket, error = %e, "outbox not updated: the delivery is tried again after its lease");
            pass.store_error = Some(e);
            return pass;
        }
    }
    pass
}

/// One status pass: delivered requests whose remote status changed get a local status
/// change (open → in progress, closed → closed), with the city's notes.
pub fn sync_statuses(store: &SqliteStore, client: &Open311Client) -> usize {
    let open = store.open_deliveries(100).unwrap_or_default();
    let mut changed = 0;
    for d in open {
        let super::outbox::DeliveryState::Delivered(id) = &d.state else {
            continue;
        };
        let Ok(Some(r)) = client.request(id) else {
            continue;
        };
        if d.remote_status.as_deref() == Some(r.status.as_str()) {
            continue;
        }
        let status = if r.status == "closed" {
            Status::Closed
        } else {
            Status::InProgress
        };
        // The first `open` after delivery is what the ticket already says (received).
        if d.remote_status.is_none() && status == Status::InProgress && r.notes.is_none() {
            let _ = store.remote_status(&d.ticket, &r.status);
            continue;
        }
        let at = jiff::Timestamp::now().to_string();
        if store
            .set_status(&d.ticket, status, r.notes.as_deref(), &at)
            .is_ok()
        {
            let _ = store.remote_status(&d.ticket, &r.status);
            changed += 1;
        }
    }
    changed
}

impl Open311Backend {
    /// Starts the delivery thread over `store` (which also holds the outbox). Deliveries
    /// left by an earlier run are picked up at once.
    pub fn start(store: Arc<SqliteStore>, cfg: Open311Config) -> Self {
        let client = Arc::new(Open311Client::new(cfg));
        let (wake, woken) = mpsc::channel::<()>();
        let (s, c) = (Arc::clone(&store), Arc::clone(&client));
        let worker = std::thread::Builder::new()
            .name("open311-outbox".into())
            .spawn(move || {
                let mut last_sync = std::time::Instant::now();
                let mut backoff = StoreBackoff::default();
                loop {
                    if run_passes(&mut backoff, &woken, || deliver_due(&s, &c)).is_err() {
                        return;
                    }
                    if last_sync.elapsed() >= c.cfg.sync_every {
                        sync_statuses(&s, &c);
                        last_sync = std::time::Instant::now();
                    }
                    // Sleep until the next retry is due (at most a second, so rows another
                    // process queued are seen), a submit wakes us, or we are dropped.
                    let next = s
                        .next_delivery_at()
                        .ok()
                        .flatten()
                        .map(|at| Duration::from_millis((at - now_ms()).clamp(0, 1000) as u64))
                        .unwrap_or(Duration::from_secs(1));
                    match woken.recv_timeout(next) {
                        Ok(()) | Err(mpsc::RecvTimeoutError::Timeout) => {}
                        Err(mpsc::RecvTimeoutError::Disconnected) => return,
                    }
                }
            })
            .ok();
        Open311Backend {
            store,
            client,
            wake: Mutex::new(wake),
            worker,
        }
    }

    /// The local store.
    pub fn store(&self) -> &Arc<SqliteStore> {
        &self.store
    }

    fn target(&self) -> &str {
        &self.client.cfg.endpoint
    }
}

impl Drop for Open311Backend {
    fn drop(&mut self) {
        // Closing the channel ends the thread after its current pass.
        if let Ok(mut w) = self.wake.lock() {
            let (dead, _) = mpsc::channel();
            *w = dead;
        }
        if let Some(h) = self.worker.take() {
            let _ = h.join();
        }
    }
}

#[async_trait::async_trait]
impl ComplaintBackend for Open311Backend {
    async fn submit(&self, c: &Complaint) -> Result<String, BackendError> {
        let t = self.store.submit_for_delivery(c, self.target(), now_ms())?;
        if let Ok(w) = self.wake.lock() {
            let _ = w.send(());
        }
        Ok(t)
    }

    async fn status(&self, ticket: &str) -> Result<Option<TicketInfo>, BackendError> {
        // Local: the delivery thread keeps it in step with the remote system, so a tracking
        // call never waits on the network.
        self.store.status_at(ticket, jiff::Timestamp::now())
    }

    async fn health(&self) -> Result<(), BackendError> {
        self.store.health_sync()
    }
}
