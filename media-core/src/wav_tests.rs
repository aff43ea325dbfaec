use super::*;
use crate::tone::{detect_tone, ToneGenerator};

fn chunk(id: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut c = id.to_vec();
    c.extend_from_slice(&(body.len() as u32).to_le_bytes());
    c.extend_from_slice(body);
    if body.len() % 2 == 1 {
        c.push(0);
    }
    c
}

fn riff(chunks: &[Vec<u8>]) -> Vec<u8> {
    let body: Vec<u8> = chunks.concat();
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&(4 + body.len() as u32).to_le_bytes());
    out.extend_from_slice(b"WAVE");
    out.extend_from_slice(&body);
    out
}

fn fmt(tag: u16, channels: u16, rate: u32, bits: u16) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&tag.to_le_bytes());
    f.extend_from_slice(&channels.to_le_bytes());
    f.extend_from_slice(&rate.to_le_bytes());
    f.extend_from_slice(&(rate * u32::from(channels) * u32::from(bits) / 8).to_le_bytes());
    f.extend_from_slice(&(channels * bits / 8).to_le_bytes());
    f.extend_from_slice(&bits.to_le_bytes());
    f
}

#[test]
fn write_then_read_roundtrips() {
    let samples = ToneGenerator::new(1000.0, 12000).frame(800);
    let bytes = write_wav(&samples, 8000);
    assert_eq!(bytes.len(), 44 + 1600);
    assert_eq!(&bytes[..4], b"RIFF");
    assert_eq!(
        u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]),
        36 + 1600
    );
    let wav = read_wav(&bytes).unwrap();
    assert_eq!(wav.sample_rate, 8000);
    assert_eq!(wav.samples, samples);
    assert_eq!(detect_tone(&wav.samples[..160], &[1000.0]), Some(1000.0));
    assert_eq!(read_wav(&write_wav(&[], 16000)).unwrap().samples, vec![]);
}

#[test]
fn canonical_header_matches_reference_bytes() {
    let bytes = write_wav(&[1, -2], 8000);
    let expected: [u8; 48] = [
        b'R', b'I', b'F', b'F', 40, 0, 0, 0, b'W', b'A', b'V', b'E', b'f', b'm', b't', b' ', 16, 0,
        0, 0, 1, 0, 1, 0, 0x40, 0x1f, 0, 0, 0x80, 0x3e, 0, 0, 2, 0, 16, 0, b'd', b'a', b't', b'a',
        4, 0, 0, 0, 1, 0, 0xfe, 0xff,
    ];
    assert_eq!(bytes, expected);
}

#[test]
fn extra_chunks_odd_sizes_and_extensible_format_are_read() {
    let mut ext = fmt(EXTENSIBLE, 1, 16000, 16);
    ext.extend_from_slice(&[22, 0, 16, 0, 4, 0, 0, 0]);
    ext.extend_from_slice(&[
        1, 0, 0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xaa, 0, 0x38, 0x9b, 0x71,
    ]);
    let bytes = riff(&[
        chunk(b"LIST", b"odd"),
        chunk(b"fmt ", &ext),
        chunk(b"fact", &[2, 0, 0, 0]),
        chunk(b"data", &[5, 0, 0xfb, 0xff, 9]),
    ]);
    let wav = read_wav(&bytes).unwrap();
    // A trailing odd byte is not a sample.
    assert_eq!((wav.sample_rate, wav.samples), (16000, vec![5, -5]));
}

#[test]
fn bad_headers_are_typed_errors() {
    let good = write_wav(&[1, 2, 3], 8000);
    assert_eq!(read_wav(b""), Err(WavError::NotWave));
    assert_eq!(read_wav(b"RIFX\0\0\0\0WAVE"), Err(WavError::NotWave));
    assert_eq!(read_wav(&good[..12]), Err(WavError::MissingData));
    assert_eq!(read_wav(&good[..30]), Err(WavError::Truncated(*b"fmt ")));
    assert_eq!(read_wav(&good[..45]), Err(WavError::Truncated(*b"data")));
    let data_first = riff(&[
        chunk(b"data", &[0, 0]),
        chunk(b"fmt ", &fmt(1, 1, 8000, 16)),
    ]);
    assert_eq!(read_wav(&data_first), Err(WavError::MissingFormat));
    let stereo = riff(&[chunk(b"fmt ", &fmt(1, 2, 8000, 16)), chunk(b"data", &[])]);
    assert_eq!(
        read_wav(&stereo),
        Err(WavError::Unsupported {
            format_tag: 1,
            channels: 2,
            bits: 16
        })
    );
    let alaw = riff(&[chunk(b"fmt ", &fmt(6, 1, 8000, 8)), chunk(b"data", &[])]);
    assert_eq!(
        read_wav(&alaw),
        Err(WavError::Unsupported {
            format_tag: 6,
            channels: 1,
            bits: 8
        })
    );
    let zero = riff(&[chunk(b"fmt ", &fmt(1, 1, 0, 16)), chunk(b"data", &[])]);
    assert_eq!(read_wav(&zero), Err(WavError::ZeroSampleRate));
    let mut huge = good.clone();
    huge[40..44].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(read_wav(&huge), Err(WavError::Truncated(*b"data")));
}

#[test]
fn no_panic_on_any_prefix_or_corruption() {
    let good = riff(&[
        chunk(b"LIST", b"abc"),
        chunk(b"fmt ", &fmt(1, 1, 8000, 16)),
        chunk(b"data", &[1, 2, 3, 4]),
    ]);
    let mut seed = 99u32;
    for len in 0..=good.len() {
        let _ = read_wav(&good[..len]);
        for i in 0..len {
            let mut bad = good[..len].to_vec();
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            bad[i] = seed as u8;
            let _ = read_wav(&bad);
        }
    }
}
