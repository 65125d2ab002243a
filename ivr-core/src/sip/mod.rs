//! SIP (in progress): the message codec and SDP offer/answer. Transactions, dialogs and the
//! runtime follow.

pub mod codec;
pub mod sdp;
