//! G.711 µ-law (PCMU, payload type 0) and A-law (PCMA, payload type 8), ITU-T G.711.
//!
//! Formula-based (no tables): segment search over the biased magnitude, as in the
//! reference implementation. Decoding is exact; encoding rounds towards zero within a
//! segment, so a round trip loses at most half a step (1/32 of the magnitude or so).

const BIAS: i32 = 0x84;
const CLIP: i32 = 32635;

/// Encodes a 16-bit linear sample to µ-law.
pub fn ulaw_encode(sample: i16) -> u8 {
    let mut s = i32::from(sample);
    let sign = if s < 0 {
        s = -s;
        0x80
    } else {
        0
    };
    s = s.min(CLIP) + BIAS;
    let mut exponent = 7;
    let mut mask = 0x4000;
    while exponent > 0 && s & mask == 0 {
        exponent -= 1;
        mask >>= 1;
    }
    let mantissa = (s >> (exponent + 3)) & 0x0f;
    !(sign | (exponent << 4) as u8 | mantissa as u8)
}

/// Decodes a µ-law byte.
pub fn ulaw_decode(byte: u8) -> i16 {
    let b = !byte;
    let sign = b & 0x80;
    let exponent = i32::from((b >> 4) & 0x07);
    let mantissa = i32::from(b & 0x0f);
    let magnitude = (((mantissa << 3) + BIAS) << exponent) - BIAS;
    (if sign != 0 { -magnitude } else { magnitude }) as i16
}

/// Encodes a 16-bit linear sample to A-law.
pub fn alaw_encode(sample: i16) -> u8 {
    let mut s = i32::from(sample) >> 3;
    let sign = if s >= 0 {
        0x80
    } else {
        s = -s - 1;
        0
    };
    let s = s.min(0x0fff);
    let (exponent, mantissa) = if s < 32 {
        (0, s >> 1)
    } else {
        let mut e = 1;
        while e < 7 && s >= (32 << e) {
            e += 1;
        }
        (e, (s >> e) & 0x0f)
    };
    ((sign | (exponent << 4) | mantissa) as u8) ^ 0x55
}

/// Decodes an A-law byte.
pub fn alaw_decode(byte: u8) -> i16 {
    let b = byte ^ 0x55;
    let sign = b & 0x80;
    let exponent = i32::from((b >> 4) & 0x07);
    let mantissa = i32::from(b & 0x0f);
    let magnitude = if exponent == 0 {
        (mantissa << 4) + 8
    } else {
        ((mantissa << 4) + 0x108) << (exponent - 1)
    };
    (if sign != 0 { magnitude } else { -magnitude }) as i16
}

/// Encodes samples to µ-law bytes.
pub fn ulaw_encode_slice(samples: &[i16]) -> Vec<u8> {
    samples.iter().map(|s| ulaw_encode(*s)).collect()
}

/// Decodes µ-law bytes to samples.
pub fn ulaw_decode_slice(bytes: &[u8]) -> Vec<i16> {
    bytes.iter().map(|b| ulaw_decode(*b)).collect()
}

/// Encodes samples to A-law bytes.
pub fn alaw_encode_slice(samples: &[i16]) -> Vec<u8> {
    samples.iter().map(|s| alaw_encode(*s)).collect()
}

/// Decodes A-law bytes to samples.
pub fn alaw_decode_slice(bytes: &[u8]) -> Vec<i16> {
    bytes.iter().map(|b| alaw_decode(*b)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        assert_eq!(ulaw_encode(0), 0xff);
        assert_eq!(alaw_encode(0), 0xd5);
        assert_eq!(ulaw_decode(0xff), 0);
        assert_eq!(ulaw_decode(0x7f), 0);
        assert_eq!(alaw_decode(0xd5), 8);
        assert_eq!(alaw_decode(0x55), -8);
        assert_eq!(ulaw_encode(i16::MAX), 0x80);
        assert_eq!(ulaw_encode(i16::MIN), 0x00);
        assert_eq!(ulaw_decode(0x80), 32124);
        assert_eq!(ulaw_decode(0x00), -32124);
        assert_eq!(alaw_encode(i16::MAX), 0xaa);
        assert_eq!(alaw_encode(i16::MIN), 0x2a);
        assert_eq!(alaw_decode(0xaa), 32256);
        assert_eq!(alaw_decode(0x2a), -32256);
        assert_eq!(ulaw_encode(1000), 0xce);
        assert_eq!(alaw_encode(1000), 0xfa);
    }

    #[test]
    fn every_code_survives_decode_encode() {
        for b in 0..=255u8 {
            // 0x7f is µ-law "negative zero": it decodes to 0, which encodes as 0xff.
            if b != 0x7f {
                assert_eq!(ulaw_encode(ulaw_decode(b)), b, "ulaw {b:#04x}");
            }
            assert_eq!(alaw_encode(alaw_decode(b)), b, "alaw {b:#04x}");
        }
    }

    #[test]
    fn roundtrip_error_is_small() {
        for s in i16::MIN..=i16::MAX {
            let u = ulaw_decode(ulaw_encode(s));
            let a = alaw_decode(alaw_encode(s));
            let tol = (i32::from(s).abs() / 16).max(16);
            assert!(
                (i32::from(u) - i32::from(s)).abs() <= tol,
                "ulaw {s} -> {u}"
            );
            assert!(
                (i32::from(a) - i32::from(s)).abs() <= tol,
                "alaw {s} -> {a}"
            );
            assert!(
                i32::from(u).signum() * i32::from(s).signum() >= 0,
                "ulaw sign {s}"
            );
        }
    }

    #[test]
    fn slices_match_samples() {
        let pcm = [0i16, 1000, -1000, i16::MAX, i16::MIN];
        assert_eq!(ulaw_decode_slice(&ulaw_encode_slice(&pcm)).len(), 5);
        assert_eq!(alaw_encode_slice(&pcm)[1], 0xfa);
        assert_eq!(ulaw_encode_slice(&pcm)[1], 0xce);
        assert_eq!(alaw_decode_slice(&[0xd5]), vec![8]);
    }
}
