//! SIP, sans-IO: the message codec, request screening, responses, SDP offer/answer,
//! transactions, the UAS dialog, and the endpoint that ties them to calls. The runtime that
//! puts the endpoint on sockets is not here (it lives with `ivr serve`).

pub mod codec;
pub mod dialog;
pub mod digest;
pub mod endpoint;
pub mod response;
pub mod screen;
pub mod sdp;
pub mod transaction;
pub mod uac;
