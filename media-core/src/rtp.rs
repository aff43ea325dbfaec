//! RTP (RFC 3550) header view, RTP/RTCP demultiplexing, and a small packet writer.
//!
//! Parsing never copies: [`parse_rtp`] returns the header fields and a slice of the
//! datagram holding the payload (padding removed).

/// Length of the fixed RTP header.
pub const RTP_FIXED_HEADER_LEN: usize = 12;

/// Why bytes are not an RTP packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RtpError {
    /// Shorter than the 12-byte fixed header.
    #[error("packet of {0} bytes is shorter than the RTP fixed header")]
    TooShort(usize),
    /// Version field is not 2.
    #[error("RTP version {0} is not 2")]
    BadVersion(u8),
    /// The CSRC list announced by the CC field runs past the end of the packet.
    #[error("{count} CSRCs do not fit in a {len}-byte packet")]
    BadCsrcCount {
        /// CSRC count announced.
        count: u8,
        /// Packet length.
        len: usize,
    },
    /// The header extension (RFC 3550 §5.3.1) runs past the end of the packet.
    #[error("header extension of {words} words does not fit in a {len}-byte packet")]
    BadExtension {
        /// Extension length in 32-bit words (0 if even its header is missing).
        words: u16,
        /// Packet length.
        len: usize,
    },
    /// Padding count is zero or larger than the payload.
    #[error("padding of {0} bytes is invalid")]
    BadPadding(u8),
}

/// The RTP header of one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpHeader {
    /// Always 2.
    pub version: u8,
    /// Padding flag.
    pub padding: bool,
    /// Header extension flag.
    pub extension: bool,
    /// Marker bit.
    pub marker: bool,
    /// Payload type (0–127).
    pub payload_type: u8,
    /// Sequence number.
    pub sequence: u16,
    /// Timestamp.
    pub timestamp: u32,
    /// Synchronisation source.
    pub ssrc: u32,
    /// Number of CSRCs.
    pub csrc_count: u8,
    /// Bytes before the payload (fixed header, CSRCs and extension).
    pub header_len: usize,
}

impl RtpHeader {
    /// Parses and validates the header of `b`.
    pub fn parse(b: &[u8]) -> Result<RtpHeader, RtpError> {
        parse_rtp(b).map(|(h, _)| h)
    }

    /// The payload of `b` (padding removed), given the header parsed from `b`.
    /// Returns an empty slice if `b` is not the packet this header came from.
    pub fn payload<'a>(&self, b: &'a [u8]) -> &'a [u8] {
        let pad = if self.padding {
            usize::from(b.last().copied().unwrap_or(0))
        } else {
            0
        };
        let end = b.len().saturating_sub(pad);
        b.get(self.header_len..end).unwrap_or_default()
    }
}

/// Parses an RTP datagram into its header and its payload (padding removed).
pub fn parse_rtp(b: &[u8]) -> Result<(RtpHeader, &[u8]), RtpError> {
    let len = b.len();
    let fixed: &[u8; RTP_FIXED_HEADER_LEN] = b.first_chunk().ok_or(RtpError::TooShort(len))?;
    let version = fixed[0] >> 6;
    if version != 2 {
        return Err(RtpError::BadVersion(version));
    }
    let padding = fixed[0] & 0x20 != 0;
    let extension = fixed[0] & 0x10 != 0;
    let csrc_count = fixed[0] & 0x0f;
    let mut header_len = RTP_FIXED_HEADER_LEN + usize::from(csrc_count) * 4;
    if header_len > len {
        return Err(RtpError::BadCsrcCount {
            count: csrc_count,
            len,
        });
    }
    if extension {
        let ext = b
            .get(header_len..header_len + 4)
            .ok_or(RtpError::BadExtension { words: 0, len })?;
        let words = u16::from_be_bytes([ext[2], ext[3]]);
        header_len += 4 + usize::from(words) * 4;
        if header_len > len {
            return Err(RtpError::BadExtension { words, len });
        }
    }
    let mut end = len;
    if padding {
        let pad = b.last().copied().unwrap_or(0);
        if pad == 0 || header_len + usize::from(pad) > len {
            return Err(RtpError::BadPadding(pad));
        }
        end -= usize::from(pad);
    }
    let header = RtpHeader {
        version,
        padding,
        extension,
        marker: fixed[1] & 0x80 != 0,
        payload_type: fixed[1] & 0x7f,
        sequence: u16::from_be_bytes([fixed[2], fixed[3]]),
        timestamp: u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]),
        ssrc: u32::from_be_bytes([fixed[8], fixed[9], fixed[10], fixed[11]]),
        csrc_count,
        header_len,
    };
    Ok((header, b.get(header_len..end).unwrap_or_default()))
}

/// Whether a datagram looks like RTCP rather than RTP (RFC 5761 §4: version 2 and a
/// packet type of 200–204 — SR, RR, SDES, BYE, APP — in the second byte).
pub fn is_rtcp(b: &[u8]) -> bool {
    match b {
        [first, second, _, _, _, _, _, _, ..] => first >> 6 == 2 && (200..=204).contains(second),
        _ => false,
    }
}

/// Serialises a plain RTP packet (no CSRCs, extension or padding).
pub fn write_rtp(
    payload_type: u8,
    marker: bool,
    sequence: u16,
    timestamp: u32,
    ssrc: u32,
    payload: &[u8],
) -> Vec<u8> {
    RtpPacketBuilder::new(payload_type)
        .marker(marker)
        .sequence(sequence)
        .timestamp(timestamp)
        .ssrc(ssrc)
        .build(payload)
}

/// Builds RTP packets, including the optional parts, for tests and tone senders.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RtpPacketBuilder {
    payload_type: u8,
    marker: bool,
    sequence: u16,
    timestamp: u32,
    ssrc: u32,
    csrcs: Vec<u32>,
    extension: Option<(u16, Vec<u8>)>,
    padding: u8,
}

impl RtpPacketBuilder {
    /// A builder for packets of `payload_type` (masked to 7 bits), all other fields zero.
    pub fn new(payload_type: u8) -> RtpPacketBuilder {
        RtpPacketBuilder {
            payload_type: payload_type & 0x7f,
            ..RtpPacketBuilder::default()
        }
    }

    /// Sets the marker bit.
    pub fn marker(mut self, marker: bool) -> Self {
        self.marker = marker;
        self
    }

    /// Sets the sequence number.
    pub fn sequence(mut self, sequence: u16) -> Self {
        self.sequence = sequence;
        self
    }

    /// Sets the timestamp.
    pub fn timestamp(mut self, timestamp: u32) -> Self {
        self.timestamp = timestamp;
        self
    }

    /// Sets the SSRC.
    pub fn ssrc(mut self, ssrc: u32) -> Self {
        self.ssrc = ssrc;
        self
    }

    /// Adds a CSRC (at most 15 are kept).
    pub fn csrc(mut self, csrc: u32) -> Self {
        if self.csrcs.len() < 15 {
            self.csrcs.push(csrc);
        }
        self
    }

    /// Adds a header extension; `data` is zero-padded to a multiple of 4 bytes.
    pub fn extension(mut self, profile: u16, data: &[u8]) -> Self {
        self.extension = Some((profile, data.to_vec()));
        self
    }

    /// Appends `bytes` of padding (0 for none), the last one holding the count.
    pub fn padding(mut self, bytes: u8) -> Self {
        self.padding = bytes;
        self
    }

    /// Serialises a packet carrying `payload`.
    pub fn build(&self, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(RTP_FIXED_HEADER_LEN + payload.len() + 64);
        let mut first = 0x80 | self.csrcs.len() as u8;
        if self.padding > 0 {
            first |= 0x20;
        }
        if self.extension.is_some() {
            first |= 0x10;
        }
        out.push(first);
        out.push(self.payload_type | if self.marker { 0x80 } else { 0 });
        out.extend_from_slice(&self.sequence.to_be_bytes());
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        for c in &self.csrcs {
            out.extend_from_slice(&c.to_be_bytes());
        }
        if let Some((profile, data)) = &self.extension {
            let words = data.len().div_ceil(4).min(usize::from(u16::MAX));
            out.extend_from_slice(&profile.to_be_bytes());
            out.extend_from_slice(&(words as u16).to_be_bytes());
            let mut body = data.clone();
            body.resize(words * 4, 0);
            out.extend_from_slice(&body);
        }
        out.extend_from_slice(payload);
        if self.padding > 0 {
            out.extend(std::iter::repeat_n(0, usize::from(self.padding) - 1));
            out.push(self.padding);
        }
        out
    }
}

#[cfg(test)]
#[path = "rtp_tests.rs"]
mod tests;
