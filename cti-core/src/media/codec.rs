//! The codecs the softphone negotiates and uses: G.711 µ-law and A-law (RFC 3551: 8 kHz, one
//! byte per sample, static payload types 0 and 8) and Opus (RFC 7587: `opus/48000/2`, a
//! dynamic payload type, RTP clock 48 kHz whatever the audio bandwidth).
//!
//! The phone's audio runs at 8 kHz in 20 ms frames of 160 samples. libopus encodes and
//! decodes at 8 kHz itself (an encoder and decoder created at 8000 Hz resample inside the
//! codec), so Opus needs no resampler here: one 20 ms frame is 160 samples for the audio
//! and 960 ticks of the 48 kHz RTP clock. The cost is narrowband audio over Opus; wideband
//! needs the media path at 16 or 48 kHz (a later step, with the cpal devices).

use media_core::g711;

/// Narrowband clock rate (samples per second): the rate of the phone's audio frames.
pub const CLOCK_RATE: u32 = 8000;
/// Samples in one 20 ms frame at 8 kHz: the packetisation interval we send and play.
pub const FRAME_SAMPLES: usize = 160;
/// One frame's duration.
pub const FRAME: std::time::Duration = std::time::Duration::from_millis(20);
/// Opus's RTP clock (RFC 7587 §4.1: always 48 kHz).
pub const OPUS_CLOCK_RATE: u32 = 48_000;
/// The dynamic payload type we offer for Opus.
pub const OPUS_PT: u8 = 111;
/// Our `a=fmtp` for Opus: we play and capture narrowband (see the module's note), and we
/// take in-band FEC.
pub const OPUS_FMTP: &str = "maxplaybackrate=8000;sprop-maxcapturerate=8000;useinbandfec=1";
/// The longest Opus packet (120 ms) in samples at 8 kHz.
const OPUS_MAX_SAMPLES: usize = 960;

/// The old name of [`Encoding`], from when the phone had only G.711.
pub type G711 = Encoding;

/// An audio encoding the phone speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// G.711 µ-law (`PCMU`, payload type 0).
    Pcmu,
    /// G.711 A-law (`PCMA`, payload type 8).
    Pcma,
    /// Opus (`opus/48000/2`, payload type [`OPUS_PT`] in our offers).
    Opus,
}

impl Encoding {
    /// The payload type we offer (static for G.711, RFC 3551 §6).
    pub fn static_pt(self) -> u8 {
        match self {
            Encoding::Pcmu => 0,
            Encoding::Pcma => 8,
            Encoding::Opus => OPUS_PT,
        }
    }

    /// The SDP encoding name.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Pcmu => "PCMU",
            Encoding::Pcma => "PCMA",
            Encoding::Opus => "opus",
        }
    }

    /// RTP clock rate.
    pub fn clock_rate(self) -> u32 {
        match self {
            Encoding::Opus => OPUS_CLOCK_RATE,
            Encoding::Pcmu | Encoding::Pcma => CLOCK_RATE,
        }
    }

    /// Channels written in `a=rtpmap` (Opus is always signalled as 2, RFC 7587 §7).
    pub fn channels(self) -> u8 {
        match self {
            Encoding::Opus => 2,
            Encoding::Pcmu | Encoding::Pcma => 1,
        }
    }

    /// Our `a=fmtp`, if any.
    pub fn fmtp(self) -> Option<&'static str> {
        (self == Encoding::Opus).then_some(OPUS_FMTP)
    }

    /// RTP timestamp ticks in one 20 ms frame.
    pub fn ticks_per_frame(self) -> u32 {
        self.clock_rate() / 50
    }

    /// The encoding an `a=rtpmap` names: G.711 at 8 kHz mono, Opus at 48 kHz.
    pub fn from_rtpmap(name: &str, clock: u32, channels: u8) -> Option<Encoding> {
        if name.eq_ignore_ascii_case("opus") {
            return (clock == OPUS_CLOCK_RATE && channels <= 2).then_some(Encoding::Opus);
        }
        if clock != CLOCK_RATE || channels > 1 {
            return None;
        }
        if name.eq_ignore_ascii_case("PCMU") {
            Some(Encoding::Pcmu)
        } else if name.eq_ignore_ascii_case("PCMA") {
            Some(Encoding::Pcma)
        } else {
            None
        }
    }

    /// Encodes G.711, appending one byte per sample to `out` (nothing for Opus, which
    /// needs an [`OpusCodec`]).
    pub fn encode(self, pcm: &[i16], out: &mut Vec<u8>) {
        out.reserve(pcm.len());
        match self {
            Encoding::Pcmu => out.extend(pcm.iter().map(|s| g711::ulaw_encode(*s))),
            Encoding::Pcma => out.extend(pcm.iter().map(|s| g711::alaw_encode(*s))),
            Encoding::Opus => {}
        }
    }

    /// Decodes G.711, appending one sample per byte to `out` (nothing for Opus).
    pub fn decode(self, payload: &[u8], out: &mut Vec<i16>) {
        out.reserve(payload.len());
        match self {
            Encoding::Pcmu => out.extend(payload.iter().map(|b| g711::ulaw_decode(*b))),
            Encoding::Pcma => out.extend(payload.iter().map(|b| g711::alaw_decode(*b))),
            Encoding::Opus => {}
        }
    }
}

/// Why Opus could not be set up or used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("opus: {0}")]
pub struct OpusError(String);

/// One call's Opus encoder and decoder, both at 8 kHz mono (libopus resamples inside).
pub struct OpusCodec {
    enc: opus::Encoder,
    dec: opus::Decoder,
    buf: Vec<i16>,
}

impl std::fmt::Debug for OpusCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OpusCodec")
    }
}

impl OpusCodec {
    /// A VoIP-tuned encoder (in-band FEC on, 5 % expected loss) and a decoder.
    pub fn new() -> Result<OpusCodec, OpusError> {
        let err = |e: opus::Error| OpusError(e.to_string());
        let mut enc = opus::Encoder::new(CLOCK_RATE, opus::Channels::Mono, opus::Application::Voip)
            .map_err(err)?;
        enc.set_inband_fec(true).map_err(err)?;
        enc.set_packet_loss_perc(5).map_err(err)?;
        let dec = opus::Decoder::new(CLOCK_RATE, opus::Channels::Mono).map_err(err)?;
        Ok(OpusCodec {
            enc,
            dec,
            buf: vec![0; OPUS_MAX_SAMPLES],
        })
    }

    /// Encodes one frame, appending the packet to `out`.
    pub fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) -> Result<(), OpusError> {
        let packet = self
            .enc
            .encode_vec(pcm, 400)
            .map_err(|e| OpusError(e.to_string()))?;
        out.extend_from_slice(&packet);
        Ok(())
    }

    /// Decodes one packet (any Opus frame size), appending 8 kHz samples to `out`.
    pub fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) -> Result<(), OpusError> {
        let n = self
            .dec
            .decode(payload, &mut self.buf, false)
            .map_err(|e| OpusError(e.to_string()))?;
        out.extend_from_slice(self.buf.get(..n).unwrap_or_default());
        Ok(())
    }
}

/// The codec of a stream as negotiated: encoding and the payload type both sides use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AudioCodec {
    /// Encoding (named `law` from the G.711-only days).
    pub law: Encoding,
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
    fn opus_round_trips_a_tone_at_8khz() {
        let mut tone = media_core::ToneGenerator::new(1000.0, 8000);
        let mut c = OpusCodec::new().unwrap();
        let mut back = Vec::new();
        let mut bytes = 0;
        for _ in 0..50 {
            let mut packet = Vec::new();
            c.encode(&tone.frame(FRAME_SAMPLES), &mut packet).unwrap();
            bytes += packet.len();
            back.clear();
            c.decode(&packet, &mut back).unwrap();
            assert_eq!(back.len(), FRAME_SAMPLES);
        }
        let others = [440.0, 2000.0];
        assert!(super::super::device::tone_share(&back, 1000.0, &others) > 0.9);
        assert!(bytes / 50 < 200, "{} bytes per packet", bytes / 50);
    }

    #[test]
    fn rtpmap_names() {
        assert_eq!(G711::from_rtpmap("pcmu", 8000, 1), Some(G711::Pcmu));
        assert_eq!(G711::from_rtpmap("PCMA", 8000, 0), Some(G711::Pcma));
        assert_eq!(G711::from_rtpmap("PCMA", 16000, 1), None);
        assert_eq!(G711::from_rtpmap("opus", 48000, 2), Some(Encoding::Opus));
        assert_eq!(G711::from_rtpmap("OPUS", 48000, 1), Some(Encoding::Opus));
        assert_eq!(G711::from_rtpmap("opus", 16000, 2), None);
        assert_eq!(G711::Pcma.static_pt(), 8);
    }
}
