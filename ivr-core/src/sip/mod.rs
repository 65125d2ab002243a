//! SIP (in progress): the message codec. Transactions, dialogs, SDP and the runtime follow.

pub mod codec;
