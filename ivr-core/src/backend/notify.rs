//! Notifications: "ticket created" and "status changed" text messages to the caller (SMS, in
//! the caller's language) and a notice to staff, rendered from Fluent templates
//! (`prompts/<lang>/sms/*.ftl`). Notices wait in a durable queue in the complaint store, so a
//! status set by `ivr tickets set-status` in another process is sent by the running server;
//! a thread hands them to a [`Notifier`] and retries failures with backoff. Nothing here runs
//! on a call's path: queueing is one insert.

use super::pass::{Pass, StoreBackoff, run_passes};
use super::sqlite::{SqliteStore, err};
use super::{BackendError, Complaint, ComplaintBackend, Status, TicketInfo};
use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource};
use ivr_dsl::Lang;
use rusqlite::params;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

/// One message to send.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Notice {
    /// Queue id.
    pub id: i64,
    /// `caller:<number>` or `staff`.
    pub to: String,
    /// `ticket_created`, `status_changed`, `staff_created`.
    pub kind: String,
    /// The ticket.
    pub ticket: String,
    /// Language of the text.
    pub language: String,
    /// The text.
    pub text: String,
}

/// Where notices go. Called from the notification thread (blocking is fine).
pub trait Notifier: Send + Sync {
    /// Sends one notice; an error is retried later.
    fn deliver(&self, n: &Notice) -> Result<(), String>;
}

/// Appends each notice as a JSON line to a file (tests, or a gateway that tails it).
#[derive(Debug)]
pub struct FileNotifier {
    path: PathBuf,
    lock: Mutex<()>,
}

impl FileNotifier {
    /// Notices go to `path`.
    pub fn new(path: &Path) -> Self {
        FileNotifier {
            path: path.to_path_buf(),
            lock: Mutex::new(()),
        }
    }
}

impl Notifier for FileNotifier {
    fn deliver(&self, n: &Notice) -> Result<(), String> {
        use std::io::Write;
        let _g = self.lock.lock().map_err(|_| "lock poisoned".to_string())?;
        let mut line = serde_json::to_vec(n).map_err(|e| e.to_string())?;
        line.push(b'\n');
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .and_then(|mut f| f.write_all(&line))
            .map_err(|e| format!("{}: {e}", self.path.display()))
    }
}

/// POSTs each notice as JSON to a URL (an SMS gateway or a staff chat hook); any 2xx is
/// success, anything else is retried.
#[cfg(feature = "http")]
#[derive(Debug)]
pub struct WebhookNotifier {
    url: String,
    agent: ureq::Agent,
    secret: Option<Secret>,
}

/// A signing key, kept out of logs and `Debug` output.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// A key from its bytes (trailing whitespace of a file or variable removed).
    pub fn new(bytes: &[u8]) -> Option<Secret> {
        let s = bytes.trim_ascii_end();
        (!s.is_empty()).then(|| Secret(s.to_vec()))
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// The header a signed webhook request carries.
pub const SIGNATURE_HEADER: &str = "X-Ivr-Signature";

#[cfg(feature = "http")]
/// `t=UNIX_SECONDS,v1=HEX`: HMAC-SHA256 with `secret` over `UNIX_SECONDS.BODY`. A receiver
/// recomputes it, compares in constant time and refuses timestamps more than a few minutes
/// old (a replayed request).
pub fn signature(secret: &Secret, unix_seconds: i64, body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    // HMAC takes a key of any length.
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(&secret.0)
        .expect("HMAC accepts keys of every length");
    mac.update(unix_seconds.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("t={unix_seconds},v1={hex}")
}

#[cfg(feature = "http")]
impl WebhookNotifier {
    /// Notices go to `url`, each request limited to `timeout`, signed with `secret` when
    /// there is one ([`signature`]).
    pub fn new(url: &str, timeout: Duration, secret: Option<Secret>) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .build()
            .into();
        WebhookNotifier {
            url: url.to_string(),
            agent,
            secret,
        }
    }
}

#[cfg(feature = "http")]
impl Notifier for WebhookNotifier {
    fn deliver(&self, n: &Notice) -> Result<(), String> {
        let body = serde_json::to_string(n).map_err(|e| e.to_string())?;
        let mut req = self
            .agent
            .post(&self.url)
            .header("Content-Type", "application/json");
        if let Some(s) = &self.secret {
            let now = jiff::Timestamp::now().as_second();
            req = req.header(SIGNATURE_HEADER, &signature(s, now, body.as_bytes()));
        }
        let resp = req.send(body.as_bytes()).map_err(|e| e.to_string())?;
        match resp.status().as_u16() {
            200..=299 => Ok(()),
            code => Err(format!("HTTP {code}")),
        }
    }
}

/// The Fluent templates of every language.
pub struct Templates {
    bundles: BTreeMap<Lang, FluentBundle<FluentResource>>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates")
            .field("languages", &self.bundles.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Left-to-right isolate around a number inside Arabic text, so the digits keep their order
/// whatever surrounds them (U+2066 … U+2069).
fn ltr(s: &str) -> String {
    format!("\u{2066}{s}\u{2069}")
}

impl Templates {
    /// Reads `dir/<lang>/sms/*.ftl`.
    pub fn load(dir: &Path) -> Result<Templates, BackendError> {
        let mut bundles = BTreeMap::new();
        for lang in Lang::ALL {
            let sms = dir.join(lang.code()).join("sms");
            if !sms.is_dir() {
                continue;
            }
            let id: unic_langid::LanguageIdentifier = lang.code().parse().unwrap_or_default();
            let mut b = FluentBundle::new_concurrent(vec![id]);
            // Isolation is placed by hand (numbers only): SMS gateways count every character.
            b.set_use_isolating(false);
            for f in ivr_dsl::catalog::ftl_files(&sms).map_err(err)? {
                let text = std::fs::read_to_string(&f).map_err(err)?;
                let res = FluentResource::try_new(text)
                    .map_err(|_| BackendError::Invalid(format!("{}: not Fluent", f.display())))?;
                b.add_resource_overriding(res);
            }
            bundles.insert(lang, b);
        }
        Ok(Templates { bundles })
    }

    /// Renders message `id` in `lang` (English when that language has no templates).
    pub fn render(&self, lang: Lang, id: &str, args: &[(&str, String)]) -> Option<String> {
        let b = self
            .bundles
            .get(&lang)
            .or_else(|| self.bundles.get(&Lang::En))?;
        let pattern = b.get_message(id)?.value()?;
        let mut a = FluentArgs::new();
        for (k, v) in args {
            let v = if lang == Lang::Ar && *k == "ticket" {
                ltr(v)
            } else {
                v.clone()
            };
            a.set(*k, v);
        }
        let mut errors = Vec::new();
        Some(
            b.format_pattern(pattern, Some(&a), &mut errors)
                .into_owned(),
        )
    }
}

fn lang_of(code: &str) -> Lang {
    Lang::from_code(code).unwrap_or(Lang::En)
}

/// A notice from a row whose first columns are id, recipient, kind, ticket, language, text.
fn notice_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Notice> {
    Ok(Notice {
        id: r.get(0)?,
        to: r.get(1)?,
        kind: r.get(2)?,
        ticket: r.get(3)?,
        language: r.get(4)?,
        text: r.get(5)?,
    })
}

impl SqliteStore {
    /// Queues a notice (once per ticket, kind and recipient).
    pub fn queue_notice(
        &self,
        to: &str,
        kind: &str,
        ticket: &str,
        language: &str,
        text: &str,
    ) -> Result<(), BackendError> {
        let db = self.db()?;
        db.execute(
            "INSERT OR IGNORE INTO notices (recipient, kind, ticket, language, text, state, attempts, next_at, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, 'pending', 0, 0, ?6)",
            params![to, kind, ticket, language, text, jiff::Timestamp::now().to_string()],
        )
        .map_err(err)?;
        Ok(())
    }

    /// Notices queued for `to` since `since` (RFC 3339).
    pub fn notices_since(&self, to: &str, since: &str) -> Result<u64, BackendError> {
        let db = self.db()?;
        db.query_row(
            "SELECT COUNT(*) FROM notices WHERE recipient = ?1 AND created_at >= ?2",
            params![to, since],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| n as u64)
        .map_err(err)
    }

    /// Queues an SMS to a caller, unless the number cannot take one (not a phone number) or
    /// has had [`SMS_PER_DAY`] queued in the last 24 hours (a flood of complaints filed under
    /// someone's number must not make us send them a flood of texts: SMS pumping).
    pub fn queue_sms(
        &self,
        number: &str,
        kind: &str,
        ticket: &str,
        language: &str,
        text: &str,
    ) -> Result<bool, BackendError> {
        if !crate::privacy::textable(number) {
            return Ok(false);
        }
        let to = format!("caller:{number}");
        let since = jiff::Timestamp::now()
            .checked_sub(jiff::SignedDuration::from_hours(24))
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
            .to_string();
        if self.notices_since(&to, &since)? >= SMS_PER_DAY {
            tracing::warn!(to = %mask_recipient(&to), ticket, "SMS limit for this number reached: not sent");
            return Ok(false);
        }
        self.queue_notice(&to, kind, ticket, language, text)?;
        Ok(true)
    }

    /// Notices due at `now_ms`.
    pub fn due_notices(
        &self,
        now_ms: i64,
        limit: usize,
    ) -> Result<Vec<(Notice, u32)>, BackendError> {
        let db = self.db()?;
        let mut st = db
            .prepare(
                "SELECT id, recipient, kind, ticket, language, text, attempts FROM notices
                 WHERE state = 'pending' AND next_at <= ?1 ORDER BY id LIMIT ?2",
            )
            .map_err(err)?;
        let rows = st
            .query_map(params![now_ms, limit as i64], |r| {
                Ok((notice_row(r)?, r.get::<_, i64>(6)? as u32))
            })
            .map_err(err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(err)
    }

    /// Claims a due notice before it is sent (see [`SqliteStore::claim_delivery`]).
    pub fn claim_notice(
        &self,
        id: i64,
        now_ms: i64,
        lease_until_ms: i64,
    ) -> Result<bool, BackendError> {
        let n = self
            .db()?
            .execute(
                "UPDATE notices SET next_at = ?3 WHERE id = ?1 AND state = 'pending' AND next_at <= ?2",
                params![id, now_ms, lease_until_ms],
            )
            .map_err(err)?;
        Ok(n == 1)
    }

    /// Marks a notice sent, or schedules its retry.
    pub fn notice_result(
        &self,
        id: i64,
        result: Result<(), &str>,
        next_ms: i64,
    ) -> Result<(), BackendError> {
        let db = self.db()?;
        match result {
            Ok(()) => db.execute(
                "UPDATE notices SET state = 'sent', attempts = attempts + 1, last_error = NULL WHERE id = ?1",
                [id],
            ),
            Err(e) => db.execute(
                "UPDATE notices SET attempts = attempts + 1, last_error = ?2, next_at = ?3 WHERE id = ?1",
                params![id, e, next_ms],
            ),
        }
        .map_err(err)?;
        Ok(())
    }

    /// Every notice with its state (`pending` or `sent`), oldest first.
    pub fn notices(&self) -> Result<Vec<(Notice, String)>, BackendError> {
        let db = self.db()?;
        let mut st = db
            .prepare("SELECT id, recipient, kind, ticket, language, text, state FROM notices ORDER BY id")
            .map_err(err)?;
        let rows = st
            .query_map([], |r| Ok((notice_row(r)?, r.get(6)?)))
            .map_err(err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(err)
    }
}

/// SMS a calling number may be sent in 24 hours.
pub const SMS_PER_DAY: u64 = 5;

/// Queues the notices of a new ticket: the caller's SMS, and staff's notice when `staff`.
pub fn queue_created(
    store: &SqliteStore,
    t: &Templates,
    ticket: &str,
    c: &Complaint,
    staff: bool,
) -> Result<(), BackendError> {
    let lang = lang_of(&c.language);
    if let Some(text) = t.render(lang, "notify-ticket-created", &[("ticket", ticket.into())]) {
        store.queue_sms(&c.caller, "ticket_created", ticket, lang.code(), &text)?;
    }
    if staff {
        let args = [
            ("ticket", ticket.to_string()),
            ("category", c.category.clone()),
            ("district", c.district.clone().unwrap_or_else(|| "-".into())),
            ("caller", c.caller.clone()),
            ("language", c.language.clone()),
        ];
        if let Some(text) = t.render(Lang::En, "notify-staff-created", &args) {
            store.queue_notice("staff", "staff_created", ticket, "en", &text)?;
        }
    }
    Ok(())
}

/// Queues the caller's SMS for a status change, and staff's notice (one each per ticket and
/// change). Staff notices are dropped at send time when staff notices are off.
pub fn queue_status(
    store: &SqliteStore,
    t: &Templates,
    info: &TicketInfo,
    status: Status,
    note: Option<&str>,
) -> Result<(), BackendError> {
    let lang = lang_of(&info.complaint.language);
    let note = note.map(|n| format!(" {n}")).unwrap_or_default();
    let args = [
        ("ticket", info.ticket.clone()),
        ("status", status.as_str().to_string()),
        ("note", note),
    ];
    let kind = format!("status_changed:{}:{}", status.as_str(), info.history.len());
    if let Some(text) = t.render(lang, "notify-status-changed", &args) {
        store.queue_sms(
            &info.complaint.caller,
            &kind,
            &info.ticket,
            lang.code(),
            &text,
        )?;
    }
    if let Some(text) = t.render(Lang::En, "notify-status-changed", &args) {
        store.queue_notice("staff", &kind, &info.ticket, "en", &text)?;
    }
    Ok(())
}

/// The notification thread: sends what is due, retries failures (from 5 s, doubling, at
/// most 10 minutes apart). Stops when dropped.
pub struct Notifications {
    wake: Mutex<mpsc::Sender<()>>,
    worker: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Notifications {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifications").finish_non_exhaustive()
    }
}

/// When notices are sent again: after a failed attempt (`retry_min`, doubling, at most 10
/// minutes apart), and after an attempt whose result the store could not record (`lease`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retry {
    /// First retry delay after a failed attempt.
    pub retry_min: Duration,
    /// How long a notice being sent stays claimed (see [`super::pass`]).
    pub lease: Duration,
}

impl Retry {
    /// From `retry_min`, with the standard lease.
    pub fn from_min(retry_min: Duration) -> Self {
        Retry {
            retry_min,
            lease: super::pass::LEASE,
        }
    }
}

/// One pass: sends the due notices (staff's only when `staff`; otherwise they are marked
/// done unsent), each claimed first; stops at the first store error.
pub fn send_due(store: &SqliteStore, notifier: &dyn Notifier, retry: Retry, staff: bool) -> Pass {
    let now = jiff::Timestamp::now().as_millisecond();
    let mut pass = Pass::default();
    let due = match store.due_notices(now, 50) {
        Ok(d) => d,
        Err(e) => {
            pass.store_error = Some(e);
            return pass;
        }
    };
    for (n, attempts) in &due {
        if n.to == "staff" && !staff {
            if let Err(e) = store.notice_result(n.id, Ok(()), now) {
                pass.store_error = Some(e);
                return pass;
            }
            pass.handled += 1;
            continue;
        }
        match store.claim_notice(n.id, now, now + retry.lease.as_millis() as i64) {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                pass.store_error = Some(e);
                return pass;
            }
        }
        let r = notifier.deliver(n);
        if let Err(e) = &r {
            tracing::warn!(ticket = %n.ticket, to = %mask_recipient(&n.to), error = %e, "notice will be retried");
        }
        let delay =
            (retry.retry_min.as_millis() as i64 * (1i64 << (*attempts).min(16))).min(600_000);
        pass.handled += 1;
        if let Err(e) = store.notice_result(
            n.id,
            r.as_ref().map(|_| ()).map_err(String::as_str),
            now + delay,
        ) {
            tracing::error!(ticket = %n.ticket, error = %e, "notice result not recorded: sent again after the lease");
            pass.store_error = Some(e);
            return pass;
        }
    }
    pass
}

/// A recipient for the logs: `caller:+9665…01` keeps the kind and the number's ends.
pub fn mask_recipient(to: &str) -> String {
    match to.split_once(':') {
        Some((kind, number)) => format!("{kind}:{}", crate::privacy::mask_number(number)),
        None => to.to_string(),
    }
}

impl Notifications {
    /// Starts the thread; staff notices are sent when `staff`.
    pub fn start(
        store: Arc<SqliteStore>,
        notifier: Arc<dyn Notifier>,
        retry: Retry,
        staff: bool,
    ) -> Self {
        let (wake, woken) = mpsc::channel::<()>();
        let worker = std::thread::Builder::new()
            .name("notifications".into())
            .spawn(move || {
                let mut backoff = StoreBackoff::default();
                loop {
                    let passes = || {
                        let pass = send_due(&store, notifier.as_ref(), retry, staff);
                        if let Some(e) = &pass.store_error {
                            tracing::error!(error = %e, "notice store failed: pass stopped");
                        }
                        pass
                    };
                    if run_passes(&mut backoff, &woken, passes).is_err() {
                        return;
                    }
                    match woken.recv_timeout(Duration::from_millis(500)) {
                        Ok(()) | Err(mpsc::RecvTimeoutError::Timeout) => {}
                        Err(mpsc::RecvTimeoutError::Disconnected) => return,
                    }
                }
            })
            .ok();
        Notifications {
            wake: Mutex::new(wake),
            worker,
        }
    }

    /// Looks at the queue now.
    pub fn wake(&self) {
        if let Ok(w) = self.wake.lock() {
            let _ = w.send(());
        }
    }
}

impl Drop for Notifications {
    fn drop(&mut self) {
        if let Ok(mut w) = self.wake.lock() {
            *w = mpsc::channel().0;
        }
        if let Some(h) = self.worker.take() {
            let _ = h.join();
        }
    }
}

/// A backend that queues the "ticket created" notices after each successful submit.
pub struct NotifyingBackend {
    inner: Arc<dyn ComplaintBackend>,
    store: Arc<SqliteStore>,
    templates: Arc<Templates>,
    staff: bool,
    notifications: Arc<Notifications>,
}

impl NotifyingBackend {
    /// Wraps `inner`; notices are queued in `store` and sent by `notifications`.
    pub fn new(
        inner: Arc<dyn ComplaintBackend>,
        store: Arc<SqliteStore>,
        templates: Arc<Templates>,
        staff: bool,
        notifications: Arc<Notifications>,
    ) -> Self {
        NotifyingBackend {
            inner,
            store,
            templates,
            staff,
            notifications,
        }
    }
}

#[async_trait::async_trait]
impl ComplaintBackend for NotifyingBackend {
    async fn submit(&self, c: &Complaint) -> Result<String, BackendError> {
        let t = self.inner.submit(c).await?;
        // A notice that cannot be queued never fails the caller's submit.
        if let Err(e) = queue_created(&self.store, &self.templates, &t, c, self.staff) {
            tracing::error!(ticket = %t, error = %e, "notice not queued");
        }
        self.notifications.wake();
        Ok(t)
    }

    async fn status(&self, ticket: &str) -> Result<Option<TicketInfo>, BackendError> {
        self.inner.status(ticket).await
    }

    async fn health(&self) -> Result<(), BackendError> {
        self.inner.health().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn templates() -> Templates {
        Templates::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../prompts")).expect("load")
    }

    #[test]
    fn arabic_sms_keeps_the_ticket_left_to_right() {
        let t = templates();
        let ar = t
            .render(
                Lang::Ar,
                "notify-ticket-created",
                &[("ticket", "1000015".into())],
            )
            .expect("ar");
        assert!(ar.contains("\u{2066}1000015\u{2069}"), "{ar}");
        assert!(ar.contains("تم تسجيل بلاغك"), "{ar}");
        let en = t
            .render(
                Lang::En,
                "notify-status-changed",
                &[
                    ("ticket", "1000015".into()),
                    ("status", "in_progress".into()),
                    ("note", " Crew on site.".into()),
                ],
            )
            .expect("en");
        assert_eq!(en, "940: ticket 1000015 is now in progress. Crew on site.");
    }
}
