//! SIP (in progress): the message codec, request screening, responses, SDP offer/answer,
//! transactions and the UAS dialog. The endpoint that ties them to calls, and the runtime,
//! follow.

pub mod codec;
pub mod dialog;
pub mod endpoint;
pub mod response;
pub mod screen;
pub mod sdp;
pub mod transaction;
