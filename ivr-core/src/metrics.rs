//! Operating metrics in the Prometheus text format (OpenMetrics, `prometheus-client`), fed by
//! the call machines' events and records, and the small HTTP endpoint that serves them
//! (`ivr serve --metrics ADDR`, `GET /metrics`; with the `runtime` feature).
//!
//! What an operator reads: calls up now, calls by outcome and their length, the funnel (how
//! many calls entered each step, and in which step callers hung up), noinput and nomatch
//! counts, keys by how they arrived, complaints submitted, backend latency and errors, RTP
//! frames lost, and media ticks that ran late.

use crate::call::{CallEvent, Cdr};
use crate::flow::{self, BackendResult};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
#[cfg(feature = "runtime")]
use std::net::SocketAddr;
#[cfg(feature = "runtime")]
use std::sync::Arc;
#[cfg(feature = "runtime")]
use tokio::io::{AsyncReadExt, AsyncWriteExt};

type Labels = Vec<(&'static str, String)>;

/// Every metric of a server.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    active: Gauge,
    calls: Family<Labels, Counter>,
    duration: Histogram,
    step_entries: Family<Labels, Counter>,
    step_hangups: Family<Labels, Counter>,
    noinput: Counter,
    nomatch: Counter,
    digits: Family<Labels, Counter>,
    complaints: Counter,
    backend_seconds: Family<Labels, Histogram>,
    backend_errors: Family<Labels, Counter>,
    frames_lost: Counter,
    late_ticks: Counter,
}

fn backend_histogram() -> Histogram {
    // 1 ms to about 16 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Registers every metric under the `ivr_` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("ivr");
        let m = Metrics {
            active: Gauge::default(),
            calls: Family::default(),
            // 1 s to about 34 min.
            duration: Histogram::new(exponential_buckets(1.0, 2.0, 12)),
            step_entries: Family::default(),
            step_hangups: Family::default(),
            noinput: Counter::default(),
            nomatch: Counter::default(),
            digits: Family::default(),
            complaints: Counter::default(),
            backend_seconds: Family::new_with_constructor(backend_histogram),
            backend_errors: Family::default(),
            frames_lost: Counter::default(),
            late_ticks: Counter::default(),
            registry: Registry::default(),
        };
        registry.register("calls_active", "Calls up now", m.active.clone());
        registry.register(
            "calls",
            "Calls ended, by outcome (hangup, caller_hangup, transfer, cancelled, …)",
            m.calls.clone(),
        );
        registry.register(
            "call_duration_seconds",
            "Length of answered calls",
            m.duration.clone(),
        );
        registry.register(
            "step_entries",
            "Calls that entered each flow and step (the funnel)",
            m.step_entries.clone(),
        );
        registry.register(
            "step_hangups",
            "Callers who hung up, by the flow or step they were in",
            m.step_hangups.clone(),
        );
        registry.register("noinput", "Input states that timed out", m.noinput.clone());
        registry.register("nomatch", "Input that matched nothing", m.nomatch.clone());
        registry.register(
            "digits",
            "Keys received, by method (rfc4733, info, inband)",
            m.digits.clone(),
        );
        registry.register(
            "complaints_submitted",
            "Complaints the backend accepted",
            m.complaints.clone(),
        );
        registry.register(
            "backend_request_seconds",
            "Backend request latency, by operation",
            m.backend_seconds.clone(),
        );
        registry.register(
            "backend_errors",
            "Backend requests that failed, by operation",
            m.backend_errors.clone(),
        );
        registry.register(
            "rtp_frames_lost",
            "Received audio frames concealed (lost or late)",
            m.frames_lost.clone(),
        );
        registry.register(
            "media_late_ticks",
            "Media ticks run more than a packet time late",
            m.late_ticks.clone(),
        );
        Metrics { registry, ..m }
    }

    /// Something happened in a call: answers, noinput and nomatch, backend answers.
    pub fn observe(&self, e: &CallEvent) {
        match e {
            CallEvent::Answered { .. } => {
                self.active.inc();
            }
            CallEvent::Flow(flow::Event::Noinput(_)) => {
                self.noinput.inc();
            }
            CallEvent::Flow(flow::Event::Nomatch(_)) => {
                self.nomatch.inc();
            }
            CallEvent::BackendAnswered { op, result, ms, .. } => {
                let l = vec![("op", op.clone())];
                self.backend_seconds
                    .get_or_create(&l)
                    .observe(*ms as f64 / 1000.0);
                if matches!(result, BackendResult::Failure(_)) {
                    self.backend_errors.get_or_create(&l).inc();
                }
            }
            _ => {}
        }
    }

    /// A call ended with this record.
    pub fn call_ended(&self, cdr: &Cdr) {
        if cdr.answered_at.is_some() {
            self.active.dec();
            self.duration.observe(cdr.duration_ms as f64 / 1000.0);
        }
        self.calls
            .get_or_create(&vec![("outcome", cdr.outcome.clone())])
            .inc();
        for s in &cdr.steps {
            self.step_entries
                .get_or_create(&vec![("step", s.clone())])
                .inc();
        }
        if cdr.hangup_by == "caller"
            && let Some(last) = cdr.steps.last()
        {
            self.step_hangups
                .get_or_create(&vec![("step", last.clone())])
                .inc();
        }
        for d in &cdr.digits {
            self.digits
                .get_or_create(&vec![("method", d.method.as_str().to_string())])
                .inc();
        }
        for b in &cdr.backend {
            if b.op == "create_complaint" && b.result == "ok" {
                self.complaints.inc();
            }
        }
        if let Some(m) = cdr.media {
            self.frames_lost.inc_by(m.frames_lost);
            self.late_ticks.inc_by(m.late_ticks);
        }
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = encode(&mut out, &self.registry);
        out
    }
}

/// What the bytes of a request head read so far are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Head {
    /// More is needed.
    Partial,
    /// A whole head: its method and path.
    Complete {
        /// The method.
        method: String,
        /// The path.
        path: String,
    },
    /// Not HTTP (answered 405 and closed).
    Bad,
}

/// Reads an HTTP request head (httparse; at most 32 header fields).
pub fn request_head(buf: &[u8]) -> Head {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(buf) {
        Ok(httparse::Status::Complete(_)) => Head::Complete {
            method: req.method.unwrap_or("").to_string(),
            path: req.path.unwrap_or("").to_string(),
        },
        Ok(httparse::Status::Partial) => Head::Partial,
        Err(_) => Head::Bad,
    }
}

/// Serves `GET /metrics` on `addr` until the task is dropped; returns the bound address
/// through `bound` once listening.
#[cfg(feature = "runtime")]
pub async fn serve(
    addr: SocketAddr,
    metrics: Arc<Metrics>,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                continue;
            };
            let metrics = Arc::clone(&metrics);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let mut len = 0;
                // Read the request head (one small GET), with a time limit.
                let read = tokio::time::timeout(std::time::Duration::from_secs(5), async {
                    loop {
                        let n = stream.read(&mut buf[len..]).await.unwrap_or(0);
                        if n == 0 {
                            return None;
                        }
                        len += n;
                        match request_head(&buf[..len]) {
                            Head::Complete { method, path } => return Some((method, path)),
                            Head::Partial if len < buf.len() => {}
                            _ => return Some((String::new(), String::new())),
                        }
                    }
                })
                .await;
                let Ok(Some((method, path))) = read else {
                    return;
                };
                let (status, ctype, body) = match (method.as_str(), path.as_str()) {
                    ("GET", "/metrics") => (
                        "200 OK",
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        metrics.render(),
                    ),
                    ("GET", _) => ("404 Not Found", "text/plain", "not found\n".into()),
                    _ => (
                        "405 Method Not Allowed",
                        "text/plain",
                        "GET /metrics\n".into(),
                    ),
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes()).await;
                let _ = stream.write_all(body.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    Ok((local, task))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::record::{BackendRecord, DigitRecord};
    use crate::media::g711::Law;
    use crate::vocab::{DigitMethod, Key};

    #[test]
    fn a_call_record_feeds_the_funnel_and_counters() {
        let m = Metrics::new();
        m.observe(&CallEvent::Answered {
            law: Law::Pcmu,
            telephone_event: true,
            inband: false,
        });
        let mut c = Cdr {
            outcome: "caller_hangup".into(),
            hangup_by: "caller".into(),
            answered_at: Some("2026-12-03T10:00:00Z".into()),
            duration_ms: 12_000,
            steps: vec!["flow start".into(), "flow main".into()],
            ..Default::default()
        };
        c.digits.push(DigitRecord {
            key: Key::D1,
            method: DigitMethod::Rfc4733,
            at_ms: 10,
        });
        c.backend.push(BackendRecord {
            op: "create_complaint".into(),
            kind: "submit".into(),
            fields: vec![],
            result: "ok".into(),
            detail: "1000015".into(),
            ms: 3,
        });
        m.observe(&CallEvent::BackendAnswered {
            id: 1,
            op: "create_complaint".into(),
            result: BackendResult::Ok(flow::Value::Str("1000015".into())),
            ms: 3,
        });
        m.observe(&CallEvent::Flow(flow::Event::Noinput(1)));
        m.call_ended(&c);
        let text = m.render();
        for want in [
            "ivr_calls_active 0",
            "ivr_calls_total{outcome=\"caller_hangup\"} 1",
            "ivr_step_entries_total{step=\"flow main\"} 1",
            "ivr_step_hangups_total{step=\"flow main\"} 1",
            "ivr_digits_total{method=\"rfc4733\"} 1",
            "ivr_complaints_submitted_total 1",
            "ivr_noinput_total 1",
            "ivr_call_duration_seconds_count 1",
            "ivr_backend_request_seconds_count{op=\"create_complaint\"} 1",
        ] {
            assert!(text.contains(want), "missing {want}:\n{text}");
        }
    }
}
