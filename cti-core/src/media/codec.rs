//! G.711 µ-law and A-law as the softphone negotiates and uses them (RFC 3551: 8 kHz, one
//! byte per sample, static payload types 0 and 8).

use media_core::g711;

/// Narrowband clock rate (samples per second).
pub const CLOCK_RATE: u32 = 8000;
/// Samples in one 20 ms frame at 8 kHz: the packetisation interval we send and play.
pub const FRAME_SAMPLES: usize = 160;
/// One frame's duration.
pub const FRAME: std::time::Duration = std::time::Duration::from_millis(20);

/// A G.711 variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum G711 {
    /// µ-law (`PCMU`, payload type 0).
    Pcmu,
    /// A-law (`PCMA`, payload type 8).
    Pcma,
}

impl G711 {
    /// The static payload type (RFC 3551 §6).
    pub fn static_pt(self) -> u8 {
        match self {
            G711::Pcmu => 0,
            G711::Pcma => 8,
        }
    }

    /// The SDP encoding name.
    pub fn name(self) -> &'static str {
        match self {
            G711::Pcmu => "PCMU",
            G711::Pcma => "PCMA",
        }
    }

    /// The variant an `a=rtpmap` names, if it is G.711 at 8 kHz mono.
    pub fn from_rtpmap(name: &str, clock: u32, channels: u8) -> Option<G711> {
        if clock != CLOCK_RATE || channels > 1 {
            return None;
        }
        if name.eq_ignore_ascii_case("PCMU") {
            Some(G711::Pcmu)
        } else if name.eq_ignore_ascii_case("PCMA") {
            Some(G711::Pcma)
        } else {
            None
        }
    }

    /// Encodes linear samples, appending one byte per sample to `out`.
    pub fn encode(self, pcm: &[i16], out: &mut Vec<u8>) {
        out.reserve(pcm.len());
        match self {
            G711::Pcmu => out.extend(pcm.iter().map(|s| g711::ulaw_encode(*s))),
            G711::Pcma => out.extend(pcm.iter().map(|s| g711::alaw_encode(*s))),
        }
    }

    /// Decodes a payload, appending one sample per byte to `out`.
    pub fn decode(self, payload: &[u8], out: &mut Vec<i16>) {
        out.reserve(payload.len());
        match self {
            G711::Pcmu => out.extend(payload.iter().map(|b| g711::ulaw_decode(*b))),
            G711::Pcma => out.extend(payload.iter().map(|b| g711::alaw_decode(*b))),
        }
    }
}

/// The codec of a stream as negotiated: variant and the payload type both sides use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AudioCodec {
    /// Variant.
    pub law: G711,
    /// Payload type (the offerer's number, usually the static one).
    pub pt: u8,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_laws_round_trip_a_tone_closely() {
        let tone = media_core::ToneGenerator::new(1000.0, 8000).frame(FRAME_SAMPLES);
        for law in [G711::Pcmu, G711::Pcma] {
            let mut bytes = Vec::new();
            law.encode(&tone, &mut bytes);
            assert_eq!(bytes.len(), FRAME_SAMPLES);
            let mut back = Vec::new();
            law.decode(&bytes, &mut back);
            let worst = tone
                .iter()
                .zip(&back)
                .map(|(a, b)| (i32::from(*a) - i32::from(*b)).abs())
                .max();
            assert!(worst.is_some_and(|w| w < 300), "{law:?}: {worst:?}");
        }
    }

    #[test]
    fn rtpmap_names() {
        assert_eq!(G711::from_rtpmap("pcmu", 8000, 1), Some(G711::Pcmu));
        assert_eq!(G711::from_rtpmap("PCMA", 8000, 0), Some(G711::Pcma));
        assert_eq!(G711::from_rtpmap("PCMA", 16000, 1), None);
        assert_eq!(G711::from_rtpmap("opus", 48000, 2), None);
        assert_eq!(G711::Pcma.static_pt(), 8);
    }
}
