//! SIP INFO keypress bodies: `application/dtmf-relay` (`Signal=5` / `Duration=160` lines) and
//! `application/dtmf` (the key alone). The SIP layer hands the content type and body over.

use crate::vocab::Key;

/// A key from an INFO body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InfoDigit {
    /// The key.
    pub key: Key,
    /// Duration in ms, when given.
    pub duration_ms: Option<u32>,
}

/// Why an INFO body gave no key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InfoError {
    /// Neither `application/dtmf-relay` nor `application/dtmf`.
    #[error("unsupported content type `{0}`")]
    ContentType(String),
    /// No `Signal=` line, or no key.
    #[error("no key in the body")]
    NoKey,
    /// A signal that is not a key.
    #[error("`{0}` is not a key")]
    BadKey(String),
}

impl InfoError {
    /// Who is at fault: the peer that sent the INFO.
    pub fn fault(&self) -> crate::vocab::Fault {
        crate::vocab::Fault::Peer
    }
}

fn key(s: &str) -> Result<Key, InfoError> {
    let s = s.trim();
    let mut cs = s.chars();
    match (cs.next().and_then(Key::from_char), cs.next()) {
        (Some(k), None) => Ok(k),
        _ => match s.parse::<u8>().ok().and_then(Key::from_event) {
            // Some gateways send the event code: `Signal=11` for #.
            Some(k) if s.len() == 2 => Ok(k),
            _ => Err(InfoError::BadKey(s.to_string())),
        },
    }
}

/// Parses an INFO body of the given content type (parameters after `;` are ignored).
pub fn parse(content_type: &str, body: &[u8]) -> Result<InfoDigit, InfoError> {
    let ct = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let text = String::from_utf8_lossy(body);
    match ct.as_str() {
        "application/dtmf-relay" => {
            let mut signal = None;
            let mut duration = None;
            for line in text.lines() {
                let Some((name, value)) = line.split_once('=') else {
                    continue;
                };
                match name.trim().to_ascii_lowercase().as_str() {
                    "signal" => signal = Some(key(value)?),
                    "duration" => duration = value.trim().parse().ok(),
                    _ => {}
                }
            }
            Ok(InfoDigit {
                key: signal.ok_or(InfoError::NoKey)?,
                duration_ms: duration,
            })
        }
        "application/dtmf" => {
            let t = text.trim();
            if t.is_empty() {
                return Err(InfoError::NoKey);
            }
            Ok(InfoDigit {
                key: key(t)?,
                duration_ms: None,
            })
        }
        other => Err(InfoError::ContentType(other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dtmf_relay_bodies() {
        assert_eq!(
            parse("application/dtmf-relay", b"Signal=5\r\nDuration=160\r\n"),
            Ok(InfoDigit {
                key: Key::D5,
                duration_ms: Some(160)
            })
        );
        assert_eq!(
            parse("Application/DTMF-Relay", b"signal= #\nduration=250").map(|d| d.key),
            Ok(Key::Pound)
        );
        assert_eq!(
            parse("application/dtmf-relay", b"Signal=*").map(|d| d.key),
            Ok(Key::Star)
        );
        assert_eq!(
            parse("application/dtmf-relay", b"Signal=11\r\nDuration=100").map(|d| d.key),
            Ok(Key::Pound)
        );
        assert_eq!(
            parse("application/dtmf-relay", b"Duration=100"),
            Err(InfoError::NoKey)
        );
        assert_eq!(
            parse("application/dtmf-relay", b"Signal=55"),
            Err(InfoError::BadKey("55".into()))
        );
    }

    #[test]
    fn dtmf_bodies_and_other_types() {
        assert_eq!(
            parse("application/dtmf", b"7\r\n").map(|d| d.key),
            Ok(Key::D7)
        );
        assert_eq!(
            parse("application/dtmf; charset=utf-8", b"a").map(|d| d.key),
            Ok(Key::A)
        );
        assert_eq!(parse("application/dtmf", b""), Err(InfoError::NoKey));
        assert!(matches!(
            parse("text/plain", b"5"),
            Err(InfoError::ContentType(_))
        ));
        // Garbage never panics.
        assert!(parse("application/dtmf-relay", &[0xFF, 0xFE, b'=', 0]).is_err());
    }
}
