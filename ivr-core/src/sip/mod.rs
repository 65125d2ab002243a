//! SIP (in progress): the message codec, SDP offer/answer and transactions. Dialogs and the
//! runtime follow.

pub mod codec;
pub mod sdp;
pub mod transaction;
