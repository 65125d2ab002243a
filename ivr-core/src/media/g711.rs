//! G.711 μ-law (PCMU) and A-law (PCMA), through `audio-codec-algorithms` (bit-exact with ITU-T
//! G.191), with lookup tables built once: 256 entries to decode, 65,536 to encode.

use std::sync::OnceLock;

/// A G.711 companding law.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Law {
    /// μ-law, RTP payload type 0.
    Pcmu,
    /// A-law, RTP payload type 8.
    Pcma,
}

impl Law {
    /// The static RTP payload type.
    pub fn payload_type(self) -> u8 {
        match self {
            Law::Pcmu => 0,
            Law::Pcma => 8,
        }
    }

    /// The SDP encoding name.
    pub fn name(self) -> &'static str {
        match self {
            Law::Pcmu => "PCMU",
            Law::Pcma => "PCMA",
        }
    }

    /// The code for silence (linear 0).
    pub fn silence(self) -> u8 {
        encode_sample(self, 0)
    }
}

struct Tables {
    decode: [[i16; 256]; 2],
    encode: Vec<[u8; 2]>,
}

fn tables() -> &'static Tables {
    static T: OnceLock<Tables> = OnceLock::new();
    T.get_or_init(|| {
        let mut decode = [[0i16; 256]; 2];
        for c in 0..=255u8 {
            decode[0][c as usize] = audio_codec_algorithms::decode_ulaw(c);
            decode[1][c as usize] = audio_codec_algorithms::decode_alaw(c);
        }
        let encode = (0..=u16::MAX)
            .map(|i| {
                let s = i as i16;
                [
                    audio_codec_algorithms::encode_ulaw(s),
                    audio_codec_algorithms::encode_alaw(s),
                ]
            })
            .collect();
        Tables { decode, encode }
    })
}

fn index(law: Law) -> usize {
    match law {
        Law::Pcmu => 0,
        Law::Pcma => 1,
    }
}

/// Encodes one sample.
#[inline]
pub fn encode_sample(law: Law, s: i16) -> u8 {
    tables().encode[s as u16 as usize][index(law)]
}

/// Decodes one code.
#[inline]
pub fn decode_sample(law: Law, c: u8) -> i16 {
    tables().decode[index(law)][c as usize]
}

/// The code in law `to` of the code `c` in law `from` (through linear; the same code when the
/// laws are equal).
#[inline]
pub fn transcode(from: Law, to: Law, c: u8) -> u8 {
    if from == to {
        return c;
    }
    encode_sample(to, decode_sample(from, c))
}

/// Encodes samples, appending to `out`.
pub fn encode(law: Law, samples: &[i16], out: &mut Vec<u8>) {
    let t = tables();
    let i = index(law);
    out.extend(samples.iter().map(|&s| t.encode[s as u16 as usize][i]));
}

/// Decodes codes, appending to `out`.
pub fn decode(law: Law, codes: &[u8], out: &mut Vec<i16>) {
    let t = &tables().decode[index(law)];
    out.extend(codes.iter().map(|&c| t[c as usize]));
}

#[cfg(test)]
mod tests {
    use super::*;

    // The ITU-T G.191 reference algorithm (g711.c), written out here independently of the
    // crate, on 16-bit left-justified samples.

    fn g191_alaw_compress(x: i16) -> u8 {
        let mut ix: i32 = if x < 0 {
            (!x as i32) >> 4
        } else {
            (x as i32) >> 4
        };
        if ix > 15 {
            let mut iexp = 1;
            while ix > 16 + 15 {
                ix >>= 1;
                iexp += 1;
            }
            ix -= 16;
            ix += iexp << 4;
        }
        if x >= 0 {
            ix |= 0x80;
        }
        (ix ^ 0x55) as u8
    }

    fn g191_alaw_expand(c: u8) -> i16 {
        let ix = (c ^ 0x55) as i32;
        let positive = ix > 127;
        let ix = ix & 0x7F;
        let iexp = ix >> 4;
        let mut mant = ix & 0x0F;
        if iexp > 0 {
            mant += 16;
        }
        mant = (mant << 4) + 0x08;
        if iexp > 1 {
            mant <<= iexp - 1;
        }
        (if positive { mant } else { -mant }) as i16
    }

    fn g191_ulaw_compress(x: i16) -> u8 {
        let x = x as i32;
        let mut absno = if x < 0 {
            ((!x) >> 2) + 33
        } else {
            (x >> 2) + 33
        };
        if absno > 0x1FFF {
            absno = 0x1FFF;
        }
        let mut i = absno >> 6;
        let mut segno = 1;
        while i != 0 {
            segno += 1;
            i >>= 1;
        }
        let high = 0x0008 - segno;
        let low = 0x000F - ((absno >> segno) & 0x000F);
        let mut out = (high << 4) | low;
        if x >= 0 {
            out |= 0x0080;
        }
        out as u8
    }

    fn g191_ulaw_expand(c: u8) -> i16 {
        let sign: i32 = if c < 0x80 { -1 } else { 1 };
        let m = (!c) as i32;
        let exponent = (m >> 4) & 0x07;
        let segment = exponent + 1;
        let mantissa = m & 0x0F;
        let step = 4 << segment;
        (sign * ((0x0080 << exponent) + step * mantissa + step / 2 - 4 * 33)) as i16
    }

    #[test]
    fn bit_exact_with_g191_on_every_input() {
        let mut mismatches = Vec::new();
        for i in i16::MIN..=i16::MAX {
            if encode_sample(Law::Pcma, i) != g191_alaw_compress(i) {
                mismatches.push(("alaw encode", i as i32));
            }
            if encode_sample(Law::Pcmu, i) != g191_ulaw_compress(i) {
                mismatches.push(("ulaw encode", i as i32));
            }
        }
        for c in 0..=255u8 {
            if decode_sample(Law::Pcma, c) != g191_alaw_expand(c) {
                mismatches.push(("alaw decode", c as i32));
            }
            if decode_sample(Law::Pcmu, c) != g191_ulaw_expand(c) {
                mismatches.push(("ulaw decode", c as i32));
            }
        }
        assert!(
            mismatches.is_empty(),
            "{} mismatches, first {:?}",
            mismatches.len(),
            &mismatches[..mismatches.len().min(5)]
        );
    }

    #[test]
    fn round_trip_is_close_and_silence_codes_are_standard() {
        assert_eq!(Law::Pcmu.silence(), 0xFF);
        assert_eq!(Law::Pcma.silence(), 0xD5);
        for law in [Law::Pcmu, Law::Pcma] {
            let mut codes = Vec::new();
            let samples: Vec<i16> = (-32768..32767).step_by(97).map(|x| x as i16).collect();
            encode(law, &samples, &mut codes);
            let mut back = Vec::new();
            decode(law, &codes, &mut back);
            for (a, b) in samples.iter().zip(&back) {
                // Companding error stays within a few percent of the value (plus the smallest step).
                let err = (i32::from(*a) - i32::from(*b)).abs();
                assert!(
                    err <= i32::from(a.unsigned_abs().min(32767) as i16) / 16 + 16,
                    "{law:?} {a} -> {b}"
                );
            }
        }
    }
}
