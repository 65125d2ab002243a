//! SDP offer/answer (RFC 3264) for one audio stream: PCMU and PCMA in a configurable order,
//! telephone-event at the payload type the offer used, ptime, direction (hold and resume),
//! and 488 when nothing is in common.

use crate::media::g711::Law;
use std::net::IpAddr;

/// Stream direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Both ways.
    SendRecv,
    /// The offerer only sends.
    SendOnly,
    /// The offerer only receives.
    RecvOnly,
    /// Neither.
    Inactive,
}

impl Direction {
    fn attr(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// The answer's direction for an offered one.
    pub fn answer(self) -> Direction {
        match self {
            Direction::SendRecv => Direction::SendRecv,
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            Direction::Inactive => Direction::Inactive,
        }
    }
}

/// An offered audio stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Offer {
    /// Where to send media (None for `0.0.0.0`, old-style hold).
    pub addr: Option<IpAddr>,
    /// The port (0: stream rejected).
    pub port: u16,
    /// Payload types in the offerer's order.
    pub payloads: Vec<u8>,
    /// Payload type → encoding name (upper case) and clock rate.
    pub rtpmap: Vec<(u8, String, u32)>,
    /// Packet time.
    pub ptime: Option<u32>,
    /// Direction.
    pub direction: Direction,
    /// Where the audio stream is among the offer's m= lines (0-based).
    pub index: usize,
    /// The other m= lines (video, a second audio stream…), by position, each as it must be
    /// answered: refused with port 0 (RFC 3264 §6 keeps every m= line in the answer).
    pub refused: Vec<(usize, String)>,
}

/// Why an offer cannot be answered.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    /// Not parseable SDP.
    #[error("malformed SDP: {0}")]
    Malformed(String),
    /// No audio stream, or no common codec: 488 Not Acceptable Here.
    #[error("not acceptable: {0}")]
    NotAcceptable(String),
}

impl SdpError {
    /// Who is at fault: the peer that sent the description.
    pub fn fault(&self) -> crate::vocab::Fault {
        crate::vocab::Fault::Peer
    }
}

/// Parses an SDP body's first audio stream.
pub fn parse_offer(body: &str) -> Result<Offer, SdpError> {
    let mut session_addr: Option<Option<IpAddr>> = None;
    let mut media: Option<Offer> = None;
    let mut media_addr: Option<Option<IpAddr>> = None;
    let mut session_dir = Direction::SendRecv;
    let mut in_audio = false;
    let mut seen_media = false;
    let mut index = 0usize;
    let mut refused: Vec<(usize, String)> = Vec::new();
    for line in body.lines() {
        let line = line.trim_end_matches('\r');
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        match k {
            "c" => {
                // c=IN IP4 192.0.2.1 / c=IN IP6 2001:db8::1
                let addr = v
                    .split_whitespace()
                    .nth(2)
                    .ok_or_else(|| SdpError::Malformed(line.into()))?;
                let addr = addr.split('/').next().unwrap_or(addr);
                let ip: IpAddr = addr.parse().map_err(|_| SdpError::Malformed(line.into()))?;
                let ip = (!ip.is_unspecified()).then_some(ip);
                if seen_media {
                    if in_audio {
                        media_addr = Some(ip);
                    }
                } else {
                    session_addr = Some(ip);
                }
            }
            "m" => {
                let this = index;
                index += 1;
                seen_media = true;
                let mut parts = v.split_whitespace();
                let kind = parts.next().unwrap_or("");
                let _port = parts.next();
                let proto = parts.next().unwrap_or("");
                let formats: Vec<&str> = parts.collect();
                if media.is_some() || !(kind == "audio" && proto.starts_with("RTP/AVP")) {
                    in_audio = false;
                    refused.push((this, format!("{kind} 0 {proto} {}", formats.join(" "))));
                    continue;
                }
                let mut parts = v.split_whitespace();
                let kind = parts.next().unwrap_or("");
                let port: u16 = parts
                    .next()
                    .and_then(|p| p.split('/').next())
                    .and_then(|p| p.parse().ok())
                    .ok_or_else(|| SdpError::Malformed(line.into()))?;
                let proto = parts.next().unwrap_or("");
                in_audio = kind == "audio" && proto.starts_with("RTP/AVP");
                if in_audio {
                    media = Some(Offer {
                        addr: None,
                        port,
                        payloads: parts.filter_map(|p| p.parse().ok()).collect(),
                        rtpmap: Vec::new(),
                        ptime: None,
                        direction: session_dir,
                        index: this,
                        refused: Vec::new(),
                    });
                }
            }
            "a" => {
                let dir = match v {
                    "sendrecv" => Some(Direction::SendRecv),
                    "sendonly" => Some(Direction::SendOnly),
                    "recvonly" => Some(Direction::RecvOnly),
                    "inactive" => Some(Direction::Inactive),
                    _ => None,
                };
                if !seen_media {
                    if let Some(d) = dir {
                        session_dir = d;
                    }
                    continue;
                }
                let Some(m) = media.as_mut().filter(|_| in_audio) else {
                    continue;
                };
                if let Some(d) = dir {
                    m.direction = d;
                } else if let Some(rest) = v.strip_prefix("rtpmap:") {
                    let mut it = rest.splitn(2, ' ');
                    let pt = it.next().and_then(|p| p.parse().ok());
                    let enc = it.next().unwrap_or("");
                    let mut e = enc.split('/');
                    let name = e.next().unwrap_or("").to_ascii_uppercase();
                    let rate = e.next().and_then(|r| r.parse().ok()).unwrap_or(8000);
                    if let Some(pt) = pt {
                        m.rtpmap.push((pt, name, rate));
                    }
                } else if let Some(p) = v.strip_prefix("ptime:") {
                    m.ptime = p.trim().parse().ok();
                }
            }
            _ => {}
        }
    }
    let mut m = media.ok_or_else(|| SdpError::NotAcceptable("no audio stream".into()))?;
    m.addr = media_addr.or(session_addr).flatten();
    m.refused = refused;
    Ok(m)
}

/// What was agreed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Agreed {
    /// The codec.
    pub law: Law,
    /// Its payload type.
    pub pt: u8,
    /// telephone-event payload type and clock rate, if offered.
    pub event: Option<(u8, u32)>,
    /// Packet time.
    pub ptime: u32,
    /// Our direction.
    pub direction: Direction,
    /// Where to send (None while on hold with 0.0.0.0).
    pub remote: Option<(IpAddr, u16)>,
    /// The audio stream's position among the offer's m= lines.
    pub index: usize,
    /// The offer's other m= lines, refused in the answer (see [`Offer::refused`]).
    pub refused: Vec<(usize, String)>,
}

impl Offer {
    fn name_of(&self, pt: u8) -> Option<(String, u32)> {
        self.rtpmap
            .iter()
            .find(|(p, _, _)| *p == pt)
            .map(|(_, n, r)| (n.clone(), *r))
            .or(match pt {
                0 => Some(("PCMU".into(), 8000)),
                8 => Some(("PCMA".into(), 8000)),
                _ => None,
            })
    }

    /// Negotiates against our codec preference.
    pub fn negotiate(&self, prefer: &[Law]) -> Result<Agreed, SdpError> {
        if self.port == 0 {
            return Err(SdpError::NotAcceptable(
                "audio stream rejected (port 0)".into(),
            ));
        }
        let (law, pt) = prefer
            .iter()
            .find_map(|&law| {
                self.payloads
                    .iter()
                    .copied()
                    .find(|&pt| {
                        self.name_of(pt)
                            .is_some_and(|(n, r)| n == law.name() && r == 8000)
                    })
                    .map(|pt| (law, pt))
            })
            .ok_or_else(|| SdpError::NotAcceptable("no common codec (PCMU or PCMA)".into()))?;
        let event = self.payloads.iter().copied().find_map(|pt| {
            self.name_of(pt)
                .filter(|(n, _)| n == "TELEPHONE-EVENT")
                .map(|(_, r)| (pt, r))
        });
        Ok(Agreed {
            law,
            pt,
            event,
            ptime: self
                .ptime
                .filter(|p| (10..=60).contains(p) && p % 10 == 0)
                .unwrap_or(20),
            direction: self.direction.answer(),
            remote: self.addr.map(|a| (a, self.port)),
            index: self.index,
            refused: self.refused.clone(),
        })
    }
}

/// Our answer (or offer, in an offerless INVITE's 200) as SDP text.
pub fn write(a: &Agreed, local: IpAddr, port: u16, session_id: u64, version: u64) -> String {
    let mut pts = vec![a.pt.to_string()];
    let mut attrs = vec![format!("a=rtpmap:{} {}/8000", a.pt, a.law.name())];
    if let Some((ev, rate)) = a.event {
        pts.push(ev.to_string());
        attrs.push(format!("a=rtpmap:{ev} telephone-event/{rate}"));
        attrs.push(format!("a=fmtp:{ev} 0-15"));
    }
    attrs.push(format!("a=ptime:{}", a.ptime));
    attrs.push(format!("a={}", a.direction.attr()));
    let audio = format!(
        "m=audio {port} RTP/AVP {}\r\n{}\r\n",
        pts.join(" "),
        attrs.join("\r\n")
    );
    // Every m= line of the offer, in its place; only the audio one is taken.
    let mut streams = String::new();
    let total = a.refused.len() + 1;
    for i in 0..total {
        match a.refused.iter().find(|(at, _)| *at == i) {
            Some((_, line)) => {
                streams.push_str("m=");
                streams.push_str(line);
                streams.push_str("\r\n");
            }
            None => streams.push_str(&audio),
        }
    }
    session(local, session_id, version, &streams)
}

/// A session description around its m= sections.
fn session(local: IpAddr, session_id: u64, version: u64, streams: &str) -> String {
    let ip = match local {
        IpAddr::V4(_) => "IP4",
        IpAddr::V6(_) => "IP6",
    };
    format!(
        "v=0\r\no=ivr {session_id} {version} IN {ip} {local}\r\ns=ivr\r\nc=IN {ip} {local}\r\nt=0 0\r\n{streams}"
    )
}

/// Our offer (in the 200 to an offerless INVITE): every law we take, in preference order,
/// with telephone-event at `event_pt`, 20 ms, sendrecv.
pub fn write_offer(
    prefer: &[Law],
    event_pt: u8,
    local: IpAddr,
    port: u16,
    session_id: u64,
    version: u64,
) -> String {
    let mut pts = Vec::new();
    let mut attrs = Vec::new();
    for law in prefer {
        let pt = match law {
            Law::Pcmu => 0,
            Law::Pcma => 8,
        };
        pts.push(pt.to_string());
        attrs.push(format!("a=rtpmap:{pt} {}/8000", law.name()));
    }
    pts.push(event_pt.to_string());
    attrs.push(format!("a=rtpmap:{event_pt} telephone-event/8000"));
    attrs.push(format!("a=fmtp:{event_pt} 0-15"));
    attrs.push("a=ptime:20".into());
    attrs.push("a=sendrecv".into());
    let audio = format!(
        "m=audio {port} RTP/AVP {}\r\n{}\r\n",
        pts.join(" "),
        attrs.join("\r\n")
    );
    session(local, session_id, version, &audio)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIPP: &str = "v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-11,16\r\n";

    #[test]
    fn sipp_offer_gets_pcma_and_events_at_101() {
        let o = parse_offer(SIPP).expect("parses");
        let a = o.negotiate(&[Law::Pcmu, Law::Pcma]).expect("agrees");
        assert_eq!(
            (a.law, a.pt, a.event, a.ptime, a.direction),
            (Law::Pcma, 8, Some((101, 8000)), 20, Direction::SendRecv)
        );
        assert_eq!(a.remote, Some(("127.0.0.1".parse().expect("ip"), 6000)));
        let text = write(&a, "127.0.0.1".parse().expect("ip"), 20_000, 1, 1);
        assert!(text.contains("m=audio 20000 RTP/AVP 8 101\r\n"));
        assert!(text.contains("a=rtpmap:101 telephone-event/8000\r\n"));
        // Our answer parses back to the same choice.
        let back = parse_offer(&text)
            .expect("parses")
            .negotiate(&[Law::Pcma])
            .expect("agrees");
        assert_eq!((back.pt, back.event), (8, Some((101, 8000))));
    }

    #[test]
    fn every_offered_stream_keeps_its_place_in_the_answer() {
        let offer = "v=0\r\nc=IN IP4 10.0.0.1\r\nm=video 5000 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\nm=audio 4000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\nm=audio 4002 RTP/AVP 8\r\n";
        let a = parse_offer(offer)
            .expect("parses")
            .negotiate(&[Law::Pcmu])
            .expect("agrees");
        assert_eq!((a.index, a.pt), (1, 0));
        let text = write(&a, "10.0.0.2".parse().expect("ip"), 30_000, 1, 1);
        let m: Vec<&str> = text.lines().filter(|l| l.starts_with("m=")).collect();
        assert_eq!(
            m,
            vec![
                "m=video 0 RTP/AVP 96",
                "m=audio 30000 RTP/AVP 0 101",
                "m=audio 0 RTP/AVP 8"
            ]
        );
    }

    #[test]
    fn preference_order_and_no_common_codec() {
        let both = "v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/AVP 0 8 96\r\na=rtpmap:96 telephone-event/48000\r\na=ptime:30\r\n";
        let o = parse_offer(both).expect("parses");
        assert_eq!(
            o.negotiate(&[Law::Pcma, Law::Pcmu]).expect("ok").law,
            Law::Pcma
        );
        let a = o.negotiate(&[Law::Pcmu]).expect("ok");
        assert_eq!(
            (a.law, a.event, a.ptime),
            (Law::Pcmu, Some((96, 48000)), 30)
        );
        let g729 =
            "v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n";
        assert!(matches!(
            parse_offer(g729)
                .expect("parses")
                .negotiate(&[Law::Pcmu, Law::Pcma]),
            Err(SdpError::NotAcceptable(_))
        ));
        assert!(matches!(
            parse_offer("v=0\r\nm=video 5000 RTP/AVP 96\r\n"),
            Err(SdpError::NotAcceptable(_))
        ));
    }

    #[test]
    fn hold_and_ipv6() {
        let hold = "v=0\r\nc=IN IP4 0.0.0.0\r\nm=audio 4000 RTP/AVP 0\r\na=sendonly\r\n";
        let a = parse_offer(hold)
            .expect("parses")
            .negotiate(&[Law::Pcmu])
            .expect("ok");
        assert_eq!((a.direction, a.remote), (Direction::RecvOnly, None));
        let v6 = "v=0\r\nc=IN IP6 2001:db8::1\r\nm=audio 4000 RTP/AVP 0\r\n";
        let a = parse_offer(v6)
            .expect("parses")
            .negotiate(&[Law::Pcmu])
            .expect("ok");
        assert_eq!(a.remote, Some(("2001:db8::1".parse().expect("ip"), 4000)));
        assert!(
            write(&a, "2001:db8::2".parse().expect("ip"), 5000, 1, 2)
                .contains("c=IN IP6 2001:db8::2")
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bad in [
            "",
            "m=audio x RTP/AVP 0",
            "c=IN IP4 not-an-ip\r\nm=audio 1 RTP/AVP 0",
            "\u{0}\u{1}=",
            "m=audio 70000 RTP/AVP 0",
        ] {
            let _ = parse_offer(bad).and_then(|o| o.negotiate(&[Law::Pcmu]));
        }
    }
}
