//! RTP (RFC 3550) header view and writer.

/// Why bytes are not an RTP packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RtpError {
    /// Shorter than the fixed header plus CSRCs/extension.
    #[error("packet too short")]
    TooShort,
    /// Version field is not 2.
    #[error("RTP version {0} is not 2")]
    BadVersion(u8),
    /// Padding length larger than the payload.
    #[error("bad padding")]
    BadPadding,
}

/// The fixed RTP header.
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
    /// Bytes before the payload.
    pub header_len: usize,
}

impl RtpHeader {
    /// Parses the header of `b`.
    pub fn parse(b: &[u8]) -> Result<RtpHeader, RtpError> {
        if b.len() < 12 {
            return Err(RtpError::TooShort);
        }
        let version = b[0] >> 6;
        if version != 2 {
            return Err(RtpError::BadVersion(version));
        }
        let csrc_count = b[0] & 0x0f;
        let extension = b[0] & 0x10 != 0;
        let mut header_len = 12 + usize::from(csrc_count) * 4;
        if extension {
            let ext = b
                .get(header_len + 2..header_len + 4)
                .ok_or(RtpError::TooShort)?;
            header_len += 4 + usize::from(u16::from_be_bytes([ext[0], ext[1]])) * 4;
        }
        if b.len() < header_len {
            return Err(RtpError::TooShort);
        }
        let padding = b[0] & 0x20 != 0;
        if padding {
            let pad = usize::from(*b.last().ok_or(RtpError::TooShort)?);
            if pad == 0 || header_len + pad > b.len() {
                return Err(RtpError::BadPadding);
            }
        }
        Ok(RtpHeader {
            version,
            padding,
            extension,
            marker: b[1] & 0x80 != 0,
            payload_type: b[1] & 0x7f,
            sequence: u16::from_be_bytes([b[2], b[3]]),
            timestamp: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
            ssrc: u32::from_be_bytes([b[8], b[9], b[10], b[11]]),
            csrc_count,
            header_len,
        })
    }

    /// The payload of `b` (padding removed), given its parsed header.
    pub fn payload<'a>(&self, b: &'a [u8]) -> &'a [u8] {
        let end = if self.padding {
            b.len()
                .saturating_sub(usize::from(b.last().copied().unwrap_or(0)))
        } else {
            b.len()
        };
        b.get(self.header_len..end).unwrap_or_default()
    }
}

/// RTCP packets (RFC 5761 demultiplexing: packet types 200–204 in the second byte).
pub fn is_rtcp(b: &[u8]) -> bool {
    b.len() >= 8 && b[0] >> 6 == 2 && (200..=204).contains(&b[1])
}

/// Serialises a minimal RTP packet.
pub fn write_rtp(
    payload_type: u8,
    marker: bool,
    sequence: u16,
    timestamp: u32,
    ssrc: u32,
    payload: &[u8],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(12 + payload.len());
    out.push(0x80);
    out.push((payload_type & 0x7f) | if marker { 0x80 } else { 0 });
    out.extend_from_slice(&sequence.to_be_bytes());
    out.extend_from_slice(&timestamp.to_be_bytes());
    out.extend_from_slice(&ssrc.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_errors() {
        let p = write_rtp(8, true, 7, 1600, 42, &[1, 2, 3]);
        let h = RtpHeader::parse(&p).unwrap();
        assert_eq!(
            (h.payload_type, h.marker, h.sequence, h.timestamp, h.ssrc),
            (8, true, 7, 1600, 42)
        );
        assert_eq!(h.payload(&p), &[1, 2, 3]);
        assert_eq!(RtpHeader::parse(&p[..11]), Err(RtpError::TooShort));
        let mut v1 = p.clone();
        v1[0] = 0x40;
        assert_eq!(RtpHeader::parse(&v1), Err(RtpError::BadVersion(1)));
        let mut csrc = p.clone();
        csrc[0] = 0x8f;
        assert_eq!(RtpHeader::parse(&csrc), Err(RtpError::TooShort));
        let mut pad = p.clone();
        pad[0] |= 0x20;
        *pad.last_mut().unwrap() = 200;
        assert_eq!(RtpHeader::parse(&pad), Err(RtpError::BadPadding));
        assert!(is_rtcp(&[0x80, 200, 0, 6, 0, 0, 0, 1]));
        assert!(!is_rtcp(&p));
    }
}
