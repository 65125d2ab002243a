//! What a call's log lines say: each call event at its level, inside the call's span (so every
//! line carries the call id).

use crate::call::CallEvent;

/// What a call's log says about an event.
pub(super) fn log(e: &CallEvent) {
    match e {
        CallEvent::Answered {
            law,
            telephone_event,
            inband,
        } => tracing::info!(codec = law.name(), telephone_event, inband, "call answered"),
        CallEvent::Refused { code } => tracing::info!(code, "call refused"),
        CallEvent::MediaChanged {
            law,
            remote,
            sending,
        } => tracing::info!(codec = law.name(), ?remote, sending, "media changed"),
        CallEvent::Key { key, method } => tracing::debug!(%key, ?method, "key"),
        CallEvent::AudioLoaded { ms } => tracing::info!(ms, "audio loaded"),
        CallEvent::AudioMissing { fragment, reason } => {
            tracing::warn!(%fragment, %reason, "audio not played")
        }
        CallEvent::BackendRequested { request } => {
            tracing::info!(op = %request.op, "backend request")
        }
        CallEvent::BackendAnswered { op, result, ms, .. } => {
            // A ticket number is logged; other text a backend answers (a ticket's status,
            // staff notes) is not: only that it answered.
            let (kind, detail) = match result {
                crate::flow::BackendResult::Ok(crate::flow::Value::Str(t))
                    if !crate::backend::ticket::valid(t) =>
                {
                    ("ok", "(text)".to_string())
                }
                crate::flow::BackendResult::Ok(v) => ("ok", v.text()),
                crate::flow::BackendResult::NotFound => ("not_found", String::new()),
                crate::flow::BackendResult::Failure(f) => ("failure", f.to_string()),
            };
            tracing::info!(%op, result = %kind, %detail, ms, "backend answered")
        }
        CallEvent::TransferRequested { dest, target } => {
            tracing::info!(%dest, ?target, "transferring")
        }
        CallEvent::TransferEnded { outcome, timed_out } => {
            tracing::info!(?outcome, timed_out, "transfer")
        }
        CallEvent::RecordingEnded {
            ended,
            duration_ms,
            speech,
        } => tracing::info!(?ended, duration_ms, speech, "recording ended"),
        CallEvent::Warning(w) => tracing::warn!("{w}"),
        CallEvent::HangingUp { reason } => tracing::info!(%reason, "hanging up"),
        CallEvent::Flow(crate::flow::Event::Ended(o)) => {
            tracing::info!(outcome = o.as_str(), "flow ended")
        }
        CallEvent::Ended { outcome, hangup_by } => {
            tracing::info!(%outcome, hangup_by = hangup_by.as_str(), "call ended")
        }
        _ => tracing::trace!(?e, "call event"),
    }
}
