//! SIP, sans-IO: the message codec, request screening, responses, SDP offer/answer,
//! transactions, the UAS dialog, and the endpoint that ties them to calls. The runtime that
//! puts the endpoint on sockets is not here (it lives with `ivr serve`), nor is the test
//! softphone's user agent client (`crate::softphone`).

pub mod codec;
pub mod dialog;
pub mod digest;
pub mod endpoint;
pub mod ids;
pub mod response;
pub mod screen;
pub mod sdp;
pub mod transaction;
pub mod uri;

use std::net::SocketAddr;

/// What reaches a SIP machine (the endpoint, the softphone's user agent client).
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub enum Input<'a> {
    /// One message from the network: a datagram, or a message framed from a stream.
    Message {
        /// Its bytes.
        bytes: &'a [u8],
        /// Where it came from.
        from: SocketAddr,
        /// Whether it came over a reliable transport (TCP).
        reliable: bool,
    },
}

impl<'a> Input<'a> {
    /// A UDP datagram.
    pub fn udp(bytes: &'a [u8], from: SocketAddr) -> Self {
        Input::Message {
            bytes,
            from,
            reliable: false,
        }
    }

    /// A message framed from a TCP stream.
    pub fn tcp(bytes: &'a [u8], from: SocketAddr) -> Self {
        Input::Message {
            bytes,
            from,
            reliable: true,
        }
    }
}
