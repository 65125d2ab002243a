//! SIP over TCP: the listener and one task per connection, with the limits a hostile peer
//! meets.
//!
//! - **At accept**: a source outside `sip.allow` is closed at once (nothing is read); beyond
//!   [`TcpLimits::max_connections`] in total or [`TcpLimits::per_ip`] from one IP, a new
//!   connection is closed at once.
//! - **Reading**: frames are at most 64 KiB; a message begun must be complete within
//!   [`TcpLimits::message`] (a peer that trickles a header byte by byte is closed); a
//!   connection that sends nothing for [`TcpLimits::idle`] and carries no call is closed.
//!   What is read goes to the SIP task over a bounded channel: a peer that sends faster than
//!   the server handles waits (TCP flow control), it does not grow the server.
//! - **Writing**: at most [`TcpLimits::write_queue`] messages wait for a peer; a peer that does
//!   not read its answers until that queue is full is disconnected (its calls are then ended
//!   by their own timers, as for a peer that vanished).

use super::control::Control;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc};

use crate::sip::codec::{Framed, Framer};

/// Limits on SIP over TCP (`sip.tcp` in `ivr.yaml`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcpLimits {
    /// Connections at once, from everyone.
    pub max_connections: usize,
    /// Connections at once from one IP address.
    pub per_ip: usize,
    /// A connection that sends nothing this long, and carries no call, is closed.
    pub idle: Duration,
    /// A message begun must be complete within this.
    pub message: Duration,
    /// Messages that may wait for a peer that does not read; then it is disconnected.
    pub write_queue: usize,
}

impl Default for TcpLimits {
    fn default() -> Self {
        TcpLimits {
            max_connections: 1_024,
            per_ip: 64,
            idle: Duration::from_secs(300),
            message: Duration::from_secs(30),
            write_queue: 64,
        }
    }
}

/// Messages read from all connections that may wait for the SIP task.
pub(super) const INBOUND_QUEUE: usize = 1_024;

/// The largest message a connection takes.
const MAX_FRAME: usize = 65_536;

/// The SIP task's handle on one connection.
#[derive(Debug)]
pub(crate) struct Stream {
    /// This connection (another from the same address later gets another id).
    pub(crate) id: u64,
    /// What to write to the peer.
    pub(crate) tx: mpsc::Sender<Arc<[u8]>>,
    /// Closes the connection.
    pub(crate) kill: Arc<Notify>,
    /// Calls whose INVITE came over this connection (it is not idle while they last).
    pub(crate) calls: Arc<AtomicUsize>,
}

impl Stream {
    /// Queues `bytes` for the peer; `false` when the peer has not read enough to take more
    /// (the connection is then closed).
    pub(crate) fn send(&self, bytes: Arc<[u8]>) -> bool {
        match self.tx.try_send(bytes) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.kill.notify_one();
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }
}

/// Who is connected: counts per IP, kept by the accept loop and given back by each
/// connection as it ends.
#[derive(Debug, Default)]
struct Gate {
    open: Mutex<Open>,
}

/// Connections open: in all, and by IP.
#[derive(Debug, Default)]
struct Open {
    total: usize,
    by_ip: HashMap<IpAddr, usize>,
}

/// A connection's place in the [`Gate`], given back on drop.
struct Admitted {
    gate: Arc<Gate>,
    ip: IpAddr,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut open = self.gate.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.by_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.by_ip.remove(&self.ip);
            }
            open.total -= 1;
        }
    }
}

impl Gate {
    /// Why a connection from `ip` may not open, if it may not.
    fn admit(self: &Arc<Self>, ip: IpAddr, limits: &TcpLimits) -> Result<Admitted, &'static str> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if open.total >= limits.max_connections {
            return Err("too many TCP connections");
        }
        let mine = open.by_ip.entry(ip).or_default();
        if *mine >= limits.per_ip {
            return Err("too many TCP connections from this address");
        }
        *mine += 1;
        open.total += 1;
        Ok(Admitted {
            gate: Arc::clone(self),
            ip,
        })
    }
}

/// What the accept loop needs.
pub(super) struct Listener {
    pub(super) listener: TcpListener,
    pub(super) allow: Arc<[ipnet::IpNet]>,
    pub(super) limits: TcpLimits,
    pub(super) sip: mpsc::Sender<Control>,
}

/// Accepts TCP connections for as long as the SIP task runs.
pub(super) async fn accept(l: Listener) {
    let gate = Arc::new(Gate::default());
    let mut next_id = 0u64;
    loop {
        let accepted = tokio::select! {
            r = l.listener.accept() => r,
            () = l.sip.closed() => return,
        };
        let (stream, from) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of descriptors, most often: wait for some to be freed.
                tracing::warn!(error = %e, "TCP accept");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let ip = from.ip().to_canonical();
        if !l.allow.iter().any(|n| n.contains(&ip)) {
            tracing::debug!(%ip, "TCP connection from outside sip.allow closed");
            continue;
        }
        match gate.admit(ip, &l.limits) {
            Ok(admitted) => {
                next_id += 1;
                tokio::spawn(connection(
                    stream,
                    from,
                    next_id,
                    admitted,
                    l.limits.clone(),
                    l.sip.clone(),
                ));
            }
            Err(why) => tracing::debug!(%ip, why, "TCP connection closed"),
        }
    }
}

/// One TCP connection: frames what arrives, writes what the endpoint sends to this peer.
async fn connection(
    stream: TcpStream,
    from: SocketAddr,
    id: u64,
    admitted: Admitted,
    limits: TcpLimits,
    sip: mpsc::Sender<Control>,
) {
    let (mut rd, mut wr) = stream.into_split();
    let (tx, mut rx) = mpsc::channel::<Arc<[u8]>>(limits.write_queue.max(1));
    let kill = Arc::new(Notify::new());
    let calls = Arc::new(AtomicUsize::new(0));
    let opened = Stream {
        id,
        tx,
        kill: Arc::clone(&kill),
        calls: Arc::clone(&calls),
    };
    if sip
        .send(Control::Opened {
            from,
            stream: opened,
        })
        .await
        .is_err()
    {
        return;
    }
    let mut writer = tokio::spawn(async move {
        while let Some(b) = rx.recv().await {
            if wr.write_all(&b).await.is_err() {
                return;
            }
        }
    });
    let mut framer = Framer::with_limit(MAX_FRAME);
    let mut buf = vec![0u8; 16_384];
    let mut last_read = tokio::time::Instant::now();
    // When the message now in the framer began.
    let mut begun: Option<tokio::time::Instant> = None;
    let why = 'read: loop {
        let deadline = match begun {
            Some(b) => b + limits.message,
            None => last_read + limits.idle,
        };
        let read = tokio::select! {
            r = rd.read(&mut buf) => r,
            () = kill.notified() => break "the peer does not read its answers",
            _ = &mut writer => break "the peer stopped taking data",
            () = tokio::time::sleep_until(deadline) => {
                if begun.is_some() {
                    break "a message took too long to arrive";
                }
                if calls.load(Ordering::Relaxed) == 0 {
                    break "idle";
                }
                last_read = tokio::time::Instant::now();
                continue;
            }
            () = sip.closed() => break "the server stops",
        };
        let n = match read {
            Ok(0) => break "closed by the peer",
            Err(_) => break "read error",
            Ok(n) => n,
        };
        last_read = tokio::time::Instant::now();
        framer.push(&buf[..n]);
        while let Some(f) = framer.next_message() {
            match f {
                Framed::Message(bytes) => {
                    if sip.send(Control::Stream { from, bytes }).await.is_err() {
                        break 'read "the server stops";
                    }
                }
                Framed::Broken(why) => {
                    tracing::info!(%from, %why, "TCP stream closed");
                    break 'read "broken framing";
                }
            }
        }
        if framer.buffered() == 0 {
            begun = None;
        } else if begun.is_none() {
            begun = Some(last_read);
        }
    };
    tracing::debug!(%from, why, "TCP connection ends");
    let _ = sip.send(Control::Closed { from, id }).await;
    writer.abort();
    drop(admitted);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gate_counts_per_ip_and_in_total_and_gives_places_back() {
        let gate = Arc::new(Gate::default());
        let limits = TcpLimits {
            max_connections: 3,
            per_ip: 2,
            ..TcpLimits::default()
        };
        let a: IpAddr = "127.0.0.1".parse().expect("ip");
        let b: IpAddr = "127.0.0.2".parse().expect("ip");
        let a1 = gate.admit(a, &limits).expect("first");
        let _a2 = gate.admit(a, &limits).expect("second");
        assert!(gate.admit(a, &limits).is_err(), "per IP");
        let _b1 = gate.admit(b, &limits).expect("another IP");
        assert!(gate.admit(b, &limits).is_err(), "in total");
        drop(a1);
        assert!(gate.admit(b, &limits).is_ok(), "a place given back");
    }
}
