//! Where the endpoint's identifiers come from: To tags, Via branches, SDP session ids, and the
//! tags of stateless answers. An outsider who sees any number of them must not be able to
//! tell the next one (a guessed tag or branch lets a stranger end or hijack someone's call,
//! RFC 3261 §19.3 asks for at least 32 random bits; we give 96).
//!
//! Identifiers are SHA-256 of a 256-bit key and a counter (a hash DRBG). The server's key is
//! fresh bits from the operating system's generator, and is replaced with fresh bits again
//! every [`RESEED_EVERY`] identifiers; tests and the simulator derive the key from a seed so
//! that a run is repeatable. Either way the key is never written into an identifier.

use sha2::{Digest, Sha256};

/// Identifiers made from one key before it is replaced with new bits from the OS.
pub const RESEED_EVERY: u64 = 4096;

/// Why the operating system's generator gave no bits.
#[derive(Debug, thiserror::Error)]
#[error("the operating system's random generator failed: {0}")]
pub struct NoEntropy(String);

/// The source of an endpoint's identifiers.
#[derive(Clone)]
pub struct Ids {
    key: [u8; 32],
    counter: u64,
    /// Whether the key comes from (and is renewed from) the OS generator.
    os: bool,
}

impl std::fmt::Debug for Ids {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key is the secret: never printed.
        f.debug_struct("Ids")
            .field("os", &self.os)
            .finish_non_exhaustive()
    }
}

impl Ids {
    /// Identifiers keyed with fresh bits from the operating system (what a server uses).
    pub fn from_os() -> Result<Ids, NoEntropy> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|e| NoEntropy(e.to_string()))?;
        Ok(Ids {
            key,
            counter: 0,
            os: true,
        })
    }

    /// Repeatable identifiers for tests and the simulator: the key is derived from `seed`
    /// (and cannot be read back from what it makes).
    pub fn seeded(seed: u64) -> Ids {
        let key: [u8; 32] = Sha256::new()
            .chain_update(b"ivr ids seed")
            .chain_update(seed.to_le_bytes())
            .finalize()
            .into();
        Ids {
            key,
            counter: 0,
            os: false,
        }
    }

    fn block(&mut self) -> [u8; 32] {
        self.counter += 1;
        if self.os && self.counter.is_multiple_of(RESEED_EVERY) {
            let mut fresh = [0u8; 32];
            // A failed renewal keeps the current key, which is still secret.
            if getrandom::fill(&mut fresh).is_ok() {
                self.key = fresh;
            }
        }
        Sha256::new()
            .chain_update(self.key)
            .chain_update(self.counter.to_le_bytes())
            .finalize()
            .into()
    }

    /// A fresh token of 96 random bits, as 24 lowercase hex digits (tags, branch suffixes).
    pub fn token(&mut self) -> String {
        let b = self.block();
        let mut s = String::with_capacity(24);
        for byte in &b[..12] {
            s.push(char::from(HEX[usize::from(byte >> 4)]));
            s.push(char::from(HEX[usize::from(byte & 0xf)]));
        }
        s
    }

    /// A fresh random number below 2^62 (SDP session ids, which are decimal and should fit a
    /// signed 64-bit integer, RFC 8866 §5.2).
    pub fn number(&mut self) -> u64 {
        let b = self.block();
        let mut n = [0u8; 8];
        n.copy_from_slice(&b[..8]);
        u64::from_le_bytes(n) >> 2
    }

    /// A keyed digest of `data`, the same for the same data while the key lasts: the tag of a
    /// stateless answer, so that a retransmitted request gets the same answer, without the
    /// key being readable in it.
    pub fn keyed(&self, data: &[u8]) -> String {
        let b: [u8; 32] = Sha256::new()
            .chain_update(b"ivr stateless tag")
            .chain_update(self.key)
            .chain_update(data)
            .finalize()
            .into();
        let mut s = String::with_capacity(16);
        for byte in &b[..8] {
            s.push(char::from(HEX[usize::from(byte >> 4)]));
            s.push(char::from(HEX[usize::from(byte & 0xf)]));
        }
        s
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn tokens_are_distinct_long_and_do_not_count() {
        let mut ids = Ids::from_os().expect("the test machine has an OS generator");
        let tokens: Vec<String> = (0..10_000).map(|_| ids.token()).collect();
        let set: HashSet<&String> = tokens.iter().collect();
        assert_eq!(set.len(), tokens.len());
        assert!(tokens.iter().all(|t| t.len() == 24));
        // No shared prefix: nothing like a seed followed by a counter.
        let prefixes: HashSet<&str> = tokens.iter().map(|t| &t[..8]).collect();
        assert!(prefixes.len() > 9_990, "{}", prefixes.len());
    }

    #[test]
    fn two_servers_share_nothing() {
        let mut a = Ids::from_os().expect("OS generator");
        let mut b = Ids::from_os().expect("OS generator");
        assert_ne!(a.token(), b.token());
        assert_ne!(a.keyed(b"call-1"), b.keyed(b"call-1"));
    }

    #[test]
    fn seeded_ids_repeat_and_hide_the_seed() {
        let mut a = Ids::seeded(1);
        let mut b = Ids::seeded(1);
        assert_eq!(a.token(), b.token());
        assert_ne!(Ids::seeded(1).token(), Ids::seeded(2).token());
        let t = Ids::seeded(0xabc).token();
        assert!(!t.contains("abc"), "{t}");
        assert_eq!(a.keyed(b"x"), b.keyed(b"x"));
        assert!(a.number() < 1 << 62);
    }

    #[test]
    fn the_key_is_renewed_and_never_printed() {
        let mut ids = Ids::from_os().expect("OS generator");
        let before = ids.key;
        for _ in 0..RESEED_EVERY {
            ids.token();
        }
        assert_ne!(before, ids.key);
        assert!(!format!("{ids:?}").contains("key"));
    }
}
