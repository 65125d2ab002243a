//! Torture messages as they would be on the wire.
#![allow(dead_code)]

/// A torture message as it would be on the wire. RFC 5118's archive stores bare LF line ends
/// (CRLF on the wire) and states Content-Lengths that do not match the bodies (README):
/// those are converted and recomputed.
pub fn on_the_wire(d: &std::path::Path, name: &str) -> Vec<u8> {
    let bytes = std::fs::read(d.join(format!("{name}.dat"))).expect("readable");
    if !name.starts_with("ipv6-") {
        return bytes;
    }
    let mut crlf = Vec::with_capacity(bytes.len() + 64);
    for &b in &bytes {
        if b == b'\n' {
            crlf.push(b'\r');
        }
        crlf.push(b);
    }
    recompute_content_length(&crlf)
}

pub fn recompute_content_length(m: &[u8]) -> Vec<u8> {
    let Some(end) = m.windows(4).position(|w| w == b"\r\n\r\n") else {
        return m.to_vec();
    };
    let head = String::from_utf8_lossy(&m[..end]).to_string();
    let body = &m[end + 4..];
    let head: Vec<String> = head
        .split("\r\n")
        .map(|l| match l.split_once(':') {
            Some((n, _)) if n.trim().eq_ignore_ascii_case("content-length") || n.trim() == "l" => {
                format!("Content-Length: {}", body.len())
            }
            _ => l.to_string(),
        })
        .collect();
    let mut out = head.join("\r\n").into_bytes();
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(body);
    out
}
