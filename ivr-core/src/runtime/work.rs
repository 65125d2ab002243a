//! The blocking work of calls, done off their tasks: backend requests and text-to-speech on
//! tokio's blocking pool (recordings are written by [`super::recording`]), results sent back
//! to the call's task.

use crate::backend::ops::Operations;
use crate::call::{BackendCall, WorkResult};
use crate::flow::{BackendResult, Recording};
use ivr_dsl::Lang;
use std::path::Path;
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
