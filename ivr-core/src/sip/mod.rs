//! SIP (in progress): the message codec, responses, SDP offer/answer and transactions.
//! Dialogs, the endpoint and the runtime follow.

pub mod codec;
pub mod response;
pub mod sdp;
pub mod transaction;
