//! What reaches the SIP task from the other tasks.

use super::tcp::Stream;
use crate::sip::endpoint::{CallRef, Command};
use std::net::SocketAddr;

/// A message to the SIP task.
#[derive(Debug)]
pub(crate) enum Control {
    /// A framed message from a TCP connection.
    Stream { from: SocketAddr, bytes: Vec<u8> },
    /// A TCP connection opened; responses to `from` go to `stream`.
    Opened { from: SocketAddr, stream: Stream },
    /// A TCP connection closed.
    Closed { from: SocketAddr, id: u64 },
    /// A call machine's SIP command.
    Command(CallRef, Command),
    /// A call's task ended.
    TaskDone(CallRef),
    /// Begin (or, the second time, finish) a graceful shutdown.
    Shutdown,
}
