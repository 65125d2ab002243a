//! RTP ports from a configured range: each call binds one even port (RTP; the odd one above
//! it is left for RTCP) and gives it back when it ends. A port given back goes to the end of
//! the queue, so late packets of an old call rarely reach a new one. A port that could not be
//! bound goes back too, whatever the reason: a port another program holds now may be free
//! later, and running out of file descriptors says nothing about the ports.

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
        self.pool.give_back(self.port);
    }
}

/// Why no port could be leased.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    /// Every port of the range is in use by calls (or held by other programs).
    #[error("every RTP port is in use")]
    Exhausted,
    /// The process (or the system) is out of file descriptors: no socket can be made until
    /// some are closed. The ports stay in the pool.
    #[error("out of file descriptors: {0}")]
    Descriptors(std::io::Error),
}

/// Whether `e` says the process or the system has no descriptor (or buffer) to spare, so that
/// trying other ports now is useless.
pub fn out_of_descriptors(e: &std::io::Error) -> bool {
    #[cfg(unix)]
    {
        use rustix::io::Errno;
        let Some(code) = e.raw_os_error() else {
            return false;
        };
        [Errno::MFILE, Errno::NFILE, Errno::NOBUFS, Errno::NOMEM]
            .iter()
            .any(|n| n.raw_os_error() == code)
    }
    #[cfg(not(unix))]
    {
        let _ = e;
        false
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

    fn take(&self) -> Option<u16> {
        self.free.lock().ok()?.pop_front()
    }

    fn give_back(&self, port: u16) {
        if let Ok(mut f) = self.free.lock() {
            f.push_back(port);
        }
    }

    /// Binds a free port on `ip`, trying each free port at most once; ports another program
    /// holds are skipped and put back. Out of descriptors, it stops at the first failure.
    pub fn lease(self: &Arc<Self>, ip: IpAddr) -> Result<Lease, LeaseError> {
        for _ in 0..self.available() {
            let Some(port) = self.take() else { break };
            let bound = std::net::UdpSocket::bind(SocketAddr::new(ip, port))
                .and_then(|s| s.set_nonblocking(true).map(|()| s))
                .and_then(tokio::net::UdpSocket::from_std);
            match bound {
                Ok(socket) => {
                    return Ok(Lease {
                        socket,
                        port,
                        pool: Arc::clone(self),
                    });
                }
                Err(e) => {
                    self.give_back(port);
                    if out_of_descriptors(&e) {
                        return Err(LeaseError::Descriptors(e));
                    }
                    tracing::warn!(port, error = %e, "RTP port unavailable, skipped");
                }
            }
        }
        Err(LeaseError::Exhausted)
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
        let all: Vec<Lease> = std::iter::from_fn(|| pool.lease(ip).ok()).collect();
        assert!(all.len() <= 5 && !all.is_empty());
        assert!(matches!(pool.lease(ip), Err(LeaseError::Exhausted)));
    }

    #[tokio::test]
    async fn a_port_another_program_holds_goes_back_to_the_pool() {
        let ip: IpAddr = [127, 0, 0, 1].into();
        let (held, port) = (42_000..42_400)
            .step_by(2)
            .find_map(|p| std::net::UdpSocket::bind((ip, p)).ok().map(|s| (s, p)))
            .expect("a free even port on loopback");
        let pool = PortPool::new(port, port);
        assert!(matches!(pool.lease(ip), Err(LeaseError::Exhausted)));
        assert_eq!(pool.available(), 1, "the held port stays in the pool");
        drop(held);
        assert_eq!(pool.lease(ip).expect("free now").port, port);
    }

    #[test]
    fn descriptor_exhaustion_is_recognised() {
        use rustix::io::Errno;
        let err = |n: Errno| std::io::Error::from_raw_os_error(n.raw_os_error());
        assert!(out_of_descriptors(&err(Errno::MFILE)));
        assert!(!out_of_descriptors(&err(Errno::ADDRINUSE)));
    }
}
