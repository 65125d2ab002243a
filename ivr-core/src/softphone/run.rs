//! The softphone on real sockets: two UDP sockets (SIP and RTP) and a timer around a
//! [`Phone`] (`ivr call`, `ivr demo`, the examples).

use super::{DtmfMode, KeyTiming, Phone, PhoneConfig, PhoneReport, Step};
use crate::media::g711::Law;
use crate::runtime::Clock;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// What `ivr call` does.
#[derive(Clone, Debug)]
pub struct PhoneOptions {
    /// Request-URI (`sip:940@127.0.0.1:5060`).
    pub target: String,
    /// Where requests go.
    pub server: SocketAddr,
    /// The local address to bind SIP and RTP on.
    pub bind: IpAddr,
    /// Our user part (calling number).
    pub user: String,
    /// The caller's steps.
    pub steps: Vec<Step>,
    /// How keys go.
    pub dtmf: DtmfMode,
    /// When they go.
    pub timing: KeyTiming,
    /// The caller's voice, 8 kHz samples, spoken at `say` steps (or after the first beep when
    /// no step says when).
    pub say: Option<Arc<[i16]>>,
    /// Where to write what was heard (8 kHz WAV).
    pub record: Option<PathBuf>,
    /// Hang up this long after the answer; `None`: when the far end hangs up (at most 5
    /// minutes).
    pub hangup_after: Option<Duration>,
    /// Credentials for digest challenges.
    pub credentials: Option<(String, String)>,
    /// Codecs offered.
    pub prefer: Vec<Law>,
    /// The Call-ID to use (`None`: a new one).
    pub call_id: Option<String>,
}

/// Why the call could not be made at all (this machine's doing: [`crate::Fault::Local`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PhoneError {
    /// A socket could not be bound.
    #[error("cannot bind on {0}: {1}")]
    Bind(IpAddr, std::io::Error),
    /// The recording could not be written.
    #[error("cannot write {0}: {1}")]
    Record(PathBuf, String),
}

impl PhoneError {
    /// Who is at fault: this machine: its sockets or disk.
    pub fn fault(&self) -> crate::vocab::Fault {
        crate::vocab::Fault::Local
    }
}

/// Places the call and runs it to its end.
pub async fn call(o: PhoneOptions) -> Result<PhoneReport, PhoneError> {
    let bind = |e| PhoneError::Bind(o.bind, e);
    let sip = tokio::net::UdpSocket::bind((o.bind, 0))
        .await
        .map_err(bind)?;
    let rtp = tokio::net::UdpSocket::bind((o.bind, 0))
        .await
        .map_err(bind)?;
    let local = sip.local_addr().map_err(bind)?;
    let rtp_addr = rtp.local_addr().map_err(bind)?;
    let clock = Clock::new();
    let mut seed = [0u8; 8];
    let _ = getrandom::fill(&mut seed);
    let mut phone = Phone::new(
        PhoneConfig {
            local,
            rtp: rtp_addr,
            server: o.server,
            target: o.target.clone(),
            user: o.user.clone(),
            prefer: o.prefer.clone(),
            credentials: o.credentials.clone(),
            steps: o.steps.clone(),
            dtmf: o.dtmf,
            timing: o.timing,
            say: o.say.clone(),
            hangup_after_ms: o.hangup_after.map(|d| d.as_millis() as u64),
            limit_ms: 300_000,
            keep_heard: o.record.is_some(),
            seed: u64::from_le_bytes(seed),
            call_id: o.call_id.clone(),
            random: crate::media::rtp::random_start(),
        },
        clock.now(),
    );
    let mut buf = vec![0u8; 65_535];
    let mut rbuf = vec![0u8; 2048];
    loop {
        while let Some(out) = phone.poll_output() {
            match out {
                super::Output::Sip { to, bytes } => {
                    let _ = sip.send_to(&bytes, to).await;
                }
                super::Output::Rtp { to, packet, .. } => {
                    let _ = rtp.try_send_to(&packet, to);
                    phone.recycle(packet);
                }
            }
        }
        if phone.is_finished() {
            break;
        }
        let wake = phone
            .poll_timeout()
            .unwrap_or_else(|| clock.now().plus(1_000));
        tokio::select! {
            r = sip.recv_from(&mut buf) => {
                if let Ok((n, from)) = r {
                    phone.handle_input(super::Input::Sip { bytes: &buf[..n], from }, clock.now());
                }
            }
            r = rtp.recv_from(&mut rbuf) => {
                if let Ok((n, from)) = r {
                    phone.handle_input(super::Input::Rtp { bytes: &rbuf[..n], from }, clock.now());
                }
            }
            () = tokio::time::sleep_until(clock.instant(wake)) => {
                phone.handle_timeout(clock.now());
            }
        }
    }
    let mut report = phone.report().clone();
    if let Some(path) = o.record.as_ref() {
        crate::prompts::audio::write_wav(path, phone.heard())
            .map_err(|e| PhoneError::Record(path.clone(), e.to_string()))?;
        report.recorded = Some(path.clone());
    }
    Ok(report)
}
