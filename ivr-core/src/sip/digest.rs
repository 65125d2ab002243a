//! HTTP Digest authentication for SIP requests we send (RFC 3261 §22, RFC 2617; MD5 with
//! `qop=auth` or without qop): answers a 401 `WWW-Authenticate` or 407 `Proxy-Authenticate`
//! challenge with an `Authorization` / `Proxy-Authorization` value.

use md5::{Digest, Md5};
use std::fmt::Write;

/// A parsed challenge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    /// Protection space.
    pub realm: String,
    /// Server nonce.
    pub nonce: String,
    /// Returned unchanged.
    pub opaque: Option<String>,
    /// `auth` when the server offers it (we never use `auth-int`).
    pub qop_auth: bool,
    /// Only MD5 is supported.
    pub algorithm: String,
}

/// Why a challenge cannot be answered.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    /// Not a Digest challenge, or missing realm/nonce.
    #[error("not a digest challenge: {0}")]
    Malformed(String),
    /// An algorithm other than MD5.
    #[error("digest algorithm {0} is not supported (MD5 only)")]
    Algorithm(String),
}

impl DigestError {
    /// Who is at fault: the peer that sent the challenge.
    pub fn fault(&self) -> crate::vocab::Fault {
        crate::vocab::Fault::Peer
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn md5_hex(s: &str) -> String {
    hex(&Md5::digest(s.as_bytes()))
}

/// `name=value` pairs of a challenge, values unquoted.
fn params(rest: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    let mut pieces = Vec::new();
    for (i, c) in rest.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                pieces.push(&rest[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    pieces.push(&rest[start..]);
    for p in pieces {
        if let Some((n, v)) = p.split_once('=') {
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v);
            out.push((n.trim().to_ascii_lowercase(), v.to_string()));
        }
    }
    out
}

impl Challenge {
    /// Parses a `WWW-Authenticate` / `Proxy-Authenticate` value.
    pub fn parse(value: &str) -> Result<Challenge, DigestError> {
        let v = value.trim();
        let rest = v
            .get(..6)
            .filter(|s| s.eq_ignore_ascii_case("digest"))
            .map(|_| &v[6..])
            .ok_or_else(|| DigestError::Malformed(v.to_string()))?;
        let p = params(rest);
        let get = |n: &str| p.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        let realm = get("realm").ok_or_else(|| DigestError::Malformed("no realm".into()))?;
        let nonce = get("nonce").ok_or_else(|| DigestError::Malformed("no nonce".into()))?;
        let algorithm = get("algorithm").unwrap_or_else(|| "MD5".into());
        if !algorithm.eq_ignore_ascii_case("md5") {
            return Err(DigestError::Algorithm(algorithm));
        }
        let qop_auth =
            get("qop").is_some_and(|q| q.split(',').any(|x| x.trim().eq_ignore_ascii_case("auth")));
        Ok(Challenge {
            realm,
            nonce,
            opaque: get("opaque"),
            qop_auth,
            algorithm,
        })
    }

    /// The credentials for `method` on `uri`; `cnonce` is a fresh random string and `nc` the
    /// count of requests made with this nonce (1 for the first).
    pub fn answer(
        &self,
        user: &str,
        password: &str,
        method: &str,
        uri: &str,
        cnonce: &str,
        nc: u32,
    ) -> String {
        let ha1 = md5_hex(&format!("{user}:{}:{password}", self.realm));
        let ha2 = md5_hex(&format!("{method}:{uri}"));
        let mut out = format!(
            "Digest username=\"{user}\", realm=\"{}\", nonce=\"{}\", uri=\"{uri}\", algorithm=MD5",
            self.realm, self.nonce
        );
        let response = if self.qop_auth {
            let nc = format!("{nc:08x}");
            let _ = write!(out, ", qop=auth, nc={nc}, cnonce=\"{cnonce}\"");
            md5_hex(&format!("{ha1}:{}:{nc}:{cnonce}:auth:{ha2}", self.nonce))
        } else {
            md5_hex(&format!("{ha1}:{}:{ha2}", self.nonce))
        };
        let _ = write!(out, ", response=\"{response}\"");
        if let Some(o) = &self.opaque {
            let _ = write!(out, ", opaque=\"{o}\"");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 2617 §3.5's example: Mufasa at testrealm@host.com.
    #[test]
    fn rfc2617_example() {
        let c = Challenge::parse(
            "Digest realm=\"testrealm@host.com\", qop=\"auth,auth-int\", \
             nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"",
        )
        .expect("parses");
        assert!(c.qop_auth);
        let a = c.answer(
            "Mufasa",
            "Circle Of Life",
            "GET",
            "/dir/index.html",
            "0a4f113b",
            1,
        );
        assert!(
            a.contains("response=\"6629fae49393a05397450978507c4ef1\""),
            "{a}"
        );
        assert!(
            a.contains("nc=00000001") && a.contains("opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"")
        );
    }

    #[test]
    fn without_qop_and_refusals() {
        let c = Challenge::parse("Digest realm=\"asterisk\", nonce=\"abc\"").expect("parses");
        assert!(!c.qop_auth);
        let a = c.answer("1000", "secret", "INVITE", "sip:940@10.0.0.1", "x", 1);
        // MD5(MD5(1000:asterisk:secret):abc:MD5(INVITE:sip:940@10.0.0.1))
        let ha1 = md5_hex("1000:asterisk:secret");
        let ha2 = md5_hex("INVITE:sip:940@10.0.0.1");
        assert!(a.contains(&md5_hex(&format!("{ha1}:abc:{ha2}"))), "{a}");
        assert!(matches!(
            Challenge::parse("Basic realm=\"x\""),
            Err(DigestError::Malformed(_))
        ));
        assert!(matches!(
            Challenge::parse("Digest realm=\"x\", nonce=\"n\", algorithm=SHA-256"),
            Err(DigestError::Algorithm(_))
        ));
    }
}
