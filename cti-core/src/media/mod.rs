//! Softphone media: G.711, the adaptive jitter buffer, packet-loss concealment, the RTP
//! session of one call and the audio devices behind a trait.
pub mod codec;
pub mod jitter;
pub mod params;
pub mod plc;
pub mod session;
