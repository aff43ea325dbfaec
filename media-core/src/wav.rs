//! 16-bit PCM mono WAV (RIFF) in memory: prompts, voicemail and recordings.
//!
//! No file I/O here: [`write_wav`] returns bytes, [`read_wav`] parses a slice. The reader
//! walks RIFF chunks (skipping `LIST`, `fact` and the like, honouring the pad byte of odd
//! chunks), accepts `WAVE_FORMAT_PCM` and `WAVE_FORMAT_EXTENSIBLE` with a PCM sub-format,
//! and rejects anything else with a [`WavError`].

const PCM: u16 = 1;
const EXTENSIBLE: u16 = 0xfffe;

/// A decoded WAV file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wav {
    /// Samples per second.
    pub sample_rate: u32,
    /// Mono 16-bit samples.
    pub samples: Vec<i16>,
}

/// Why bytes are not a WAV file we can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WavError {
    /// No `RIFF` ... `WAVE` header.
    #[error("not a RIFF/WAVE file")]
    NotWave,
    /// A chunk header or body runs past the end of the data.
    #[error("chunk {0:?} is truncated")]
    Truncated([u8; 4]),
    /// No `fmt ` chunk before the `data` chunk.
    #[error("missing fmt chunk")]
    MissingFormat,
    /// No `data` chunk.
    #[error("missing data chunk")]
    MissingData,
    /// A format other than 16-bit PCM mono.
    #[error("unsupported format {format_tag:#06x}, {channels} channel(s), {bits} bits")]
    Unsupported {
        /// Format tag (1 is PCM).
        format_tag: u16,
        /// Channels.
        channels: u16,
        /// Bits per sample.
        bits: u16,
    },
    /// Sample rate of zero.
    #[error("sample rate is zero")]
    ZeroSampleRate,
}

/// Serialises mono 16-bit samples as a canonical 44-byte-header WAV file.
/// More samples than a RIFF size can describe (over 2 GiB) are cut at that limit.
pub fn write_wav(samples: &[i16], sample_rate: u32) -> Vec<u8> {
    const MAX_SAMPLES: usize = (u32::MAX as usize - 36) / 2;
    let samples = &samples[..samples.len().min(MAX_SAMPLES)];
    let data_len = (samples.len() * 2) as u32;
    let mut out = Vec::with_capacity(44 + samples.len() * 2);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&PCM.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&sample_rate.to_le_bytes());
    out.extend_from_slice(&sample_rate.wrapping_mul(2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}

/// Parses a 16-bit PCM mono WAV file. The RIFF size field is not trusted (streamed
/// files often get it wrong); chunk sizes are, and must fit in `bytes`.
pub fn read_wav(bytes: &[u8]) -> Result<Wav, WavError> {
    match bytes.get(..12) {
        Some([b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'A', b'V', b'E']) => {}
        _ => return Err(WavError::NotWave),
    }
    let mut rest = bytes.get(12..).unwrap_or_default();
    let mut sample_rate = None;
    while !rest.is_empty() {
        let Some(Chunk { id, size, body }) = next_chunk(rest)? else {
            break;
        };
        match &id {
            b"fmt " => sample_rate = Some(parse_fmt(body)?),
            b"data" => {
                let sample_rate = sample_rate.ok_or(WavError::MissingFormat)?;
                let samples = body
                    .chunks_exact(2)
                    .map(|b| i16::from_le_bytes([b[0], b[1]]))
                    .collect();
                return Ok(Wav {
                    sample_rate,
                    samples,
                });
            }
            _ => {}
        }
        // Chunks are padded to an even length; a missing final pad byte is tolerated.
        let skip = size.saturating_add(size & 1);
        rest = rest.get(8 + skip..).unwrap_or_default();
    }
    Err(WavError::MissingData)
}

/// One RIFF chunk.
struct Chunk<'a> {
    id: [u8; 4],
    /// Declared size (without the pad byte).
    size: usize,
    body: &'a [u8],
}

/// Splits the first chunk off `b`. `None` for a trailing fragment too short to be a chunk
/// header (junk some writers leave).
fn next_chunk(b: &[u8]) -> Result<Option<Chunk<'_>>, WavError> {
    let Some(&[i0, i1, i2, i3, s0, s1, s2, s3]) = b.first_chunk::<8>() else {
        return Ok(None);
    };
    let id = [i0, i1, i2, i3];
    let size = usize::try_from(u32::from_le_bytes([s0, s1, s2, s3]))
        .map_err(|_| WavError::Truncated(id))?;
    let body = b
        .get(8..)
        .and_then(|r| r.get(..size))
        .ok_or(WavError::Truncated(id))?;
    Ok(Some(Chunk { id, size, body }))
}

/// Validates a `fmt ` chunk body and returns its sample rate.
fn parse_fmt(f: &[u8]) -> Result<u32, WavError> {
    let Some(&[t0, t1, c0, c1, r0, r1, r2, r3, _, _, _, _, _, _, b0, b1]) = f.first_chunk::<16>()
    else {
        return Err(WavError::Truncated(*b"fmt "));
    };
    let mut format_tag = u16::from_le_bytes([t0, t1]);
    let channels = u16::from_le_bytes([c0, c1]);
    let bits = u16::from_le_bytes([b0, b1]);
    if format_tag == EXTENSIBLE {
        // cbSize(2) validBits(2) channelMask(4), then the sub-format GUID whose first two
        // bytes are the format tag.
        if let Some(&[g0, g1]) = f.get(24..26) {
            format_tag = u16::from_le_bytes([g0, g1]);
        }
    }
    if format_tag != PCM || channels != 1 || bits != 16 {
        return Err(WavError::Unsupported {
            format_tag,
            channels,
            bits,
        });
    }
    match u32::from_le_bytes([r0, r1, r2, r3]) {
        0 => Err(WavError::ZeroSampleRate),
        rate => Ok(rate),
    }
}

#[cfg(test)]
#[path = "wav_tests.rs"]
mod tests;
