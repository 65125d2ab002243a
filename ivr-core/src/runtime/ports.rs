//! RTP ports from a configured range: each call binds one even port (RTP; the odd one above
//! it is left for RTCP) and gives it back when it ends. A port given back goes to the end of
//! the queue, so late packets of an old call rarely reach a new one.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

/// The free ports.
#[derive(Debug)]
pub struct PortPool {
    free: Mutex<VecDeque<u16>>,
}

/// A bound RTP socket that returns its port to the pool when dropped.
#[derive(Debug)]
pub struct Lease {
    /// The socket.
    pub socket: tokio::net::UdpSocket,
    /// Its port.
    pub port: u16,
    pool: Arc<PortPool>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Ok(mut f) = self.pool.free.lock() {
            f.push_back(self.port);
        }
    }
}

impl PortPool {
    /// The even ports in `first..=last`.
    pub fn new(first: u16, last: u16) -> Arc<PortPool> {
        let start = first + first % 2;
        let free = (start..=last).step_by(2).collect();
        Arc::new(PortPool {
            free: Mutex::new(free),
        })
    }

    /// How many ports are free.
    pub fn available(&self) -> usize {
        self.free.lock().map_or(0, |f| f.len())
    }

    /// Binds a free port on `ip`; ports another program holds are skipped (and kept out of
    /// the pool). `None` when every port is taken.
    pub fn lease(self: &Arc<Self>, ip: IpAddr) -> Option<Lease> {
        loop {
            let port = self.free.lock().ok()?.pop_front()?;
            let bound = std::net::UdpSocket::bind(SocketAddr::new(ip, port))
                .and_then(|s| s.set_nonblocking(true).map(|()| s))
                .and_then(tokio::net::UdpSocket::from_std);
            match bound {
                Ok(socket) => {
                    return Some(Lease {
                        socket,
                        port,
                        pool: Arc::clone(self),
                    });
                }
                Err(e) => tracing::warn!(port, error = %e, "RTP port unavailable, skipped"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn leases_even_ports_and_takes_them_back() {
        let pool = PortPool::new(41_001, 41_010);
        assert_eq!(pool.available(), 5);
        let ip: IpAddr = [127, 0, 0, 1].into();
        let a = pool.lease(ip).expect("a port");
        assert_eq!(a.port % 2, 0);
        assert_eq!(pool.available(), 4);
        drop(a);
        assert_eq!(pool.available(), 5);
        let all: Vec<Lease> = std::iter::from_fn(|| pool.lease(ip)).collect();
        assert!(all.len() <= 5 && !all.is_empty());
        assert!(pool.lease(ip).is_none(), "an exhausted pool says so");
    }
}
