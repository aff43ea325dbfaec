//! Media layer of Centralino: RTP header handling, the sans-IO core of the PBX's symmetric
//! RTP relay, G.711 codecs, and (with the softphone issue) jitter buffer, DTMF and tones.
//!
//! Time model: nothing here reads a clock; functions that care about time take an
//! `Instant`. Error policy: malformed packets are typed errors or counted drops, never panics.
pub mod g711;
pub mod relay;
pub mod rtp;
