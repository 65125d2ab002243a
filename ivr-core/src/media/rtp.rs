//! RTP packet reading over `rtp-rs`, with RTCP recognised first (rtp-rs has no RTCP: RTCP that
//! shares the RTP port is told apart by its packet type, RFC 5761 §4).

/// A received RTP packet's header fields and payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet<'a> {
    /// Payload type.
    pub pt: u8,
    /// Marker bit.
    pub marker: bool,
    /// Sequence number.
    pub seq: u16,
    /// Timestamp.
    pub timestamp: u32,
    /// Synchronisation source.
    pub ssrc: u32,
    /// Payload (padding removed).
    pub payload: &'a [u8],
}

/// What a datagram on the media port is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Datagram<'a> {
    /// RTP.
    Rtp(Packet<'a>),
    /// RTCP (ignored by the engine).
    Rtcp,
    /// Not RTP version 2, or malformed.
    Invalid,
}

/// Classifies and parses a datagram.
pub fn parse(buf: &[u8]) -> Datagram<'_> {
    if buf.len() < 2 || buf[0] >> 6 != 2 {
        return Datagram::Invalid;
    }
    // RTCP packet types 192–223 sit where RTP has marker + payload type 64–95 (RFC 5761).
    if (192..=223).contains(&buf[1]) {
        return Datagram::Rtcp;
    }
    match rtp_rs::RtpReader::new(buf) {
        Ok(r) => Datagram::Rtp(Packet {
            pt: r.payload_type(),
            marker: r.mark(),
            seq: r.sequence_number().into(),
            timestamp: r.timestamp(),
            ssrc: r.ssrc(),
            payload: r.payload(),
        }),
        Err(_) => Datagram::Invalid,
    }
}

/// Builds an RTP packet into `out` (reused: no allocation once it has grown), with rtp-rs's
/// builder.
pub fn build(
    out: &mut Vec<u8>,
    pt: u8,
    marker: bool,
    seq: u16,
    timestamp: u32,
    ssrc: u32,
    payload: &[u8],
) {
    let b = rtp_rs::RtpPacketBuilder::new()
        .payload_type(pt & 0x7F)
        .marked(marker)
        .sequence(rtp_rs::Seq::from(seq))
        .timestamp(timestamp)
        .ssrc(ssrc)
        .payload(payload);
    out.clear();
    out.resize(b.target_length(), 0);
    // The builder only refuses a payload type above 127 (masked above) or a buffer shorter
    // than `target_length` (sized above).
    let n = b.build_into_unchecked(out);
    out.truncate(n);
}

/// A random SSRC, first sequence number and first timestamp for a new stream (RFC 3550 §5.1:
/// all three start random), from the operating system's generator.
pub fn random_start() -> [u32; 3] {
    let mut r = [0u32; 3];
    for x in &mut r {
        // Fall back to the clock only if the OS generator is unavailable.
        *x = getrandom::u32().unwrap_or_else(|_| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0x5EED, |d| d.subsec_nanos())
        });
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rtcp() {
        let mut b = Vec::new();
        build(&mut b, 101, true, 65535, 0xDEAD_BEEF, 42, &[1, 2, 3, 4]);
        match parse(&b) {
            Datagram::Rtp(p) => {
                assert_eq!(
                    (p.pt, p.marker, p.seq, p.timestamp, p.ssrc),
                    (101, true, 65535, 0xDEAD_BEEF, 42)
                );
                assert_eq!(p.payload, &[1, 2, 3, 4]);
            }
            other => panic!("{other:?}"),
        }
        // An RTCP receiver report header.
        assert_eq!(parse(&[0x81, 201, 0, 7]), Datagram::Rtcp);
        assert_eq!(parse(&[0x00, 0, 0]), Datagram::Invalid);
        assert_eq!(parse(&[0x80]), Datagram::Invalid);
    }

    #[test]
    fn random_starts_differ() {
        let (a, b) = (random_start(), random_start());
        assert_ne!(a, b);
    }
}
