//! Softphone media: G.711, the adaptive jitter buffer, packet-loss concealment, the RTP
//! session of one call, the audio devices behind a trait, and a network emulator for
//! tests.
pub mod codec;
pub mod device;
pub mod jitter;
pub mod netem;
pub mod params;
pub mod plc;
pub mod session;
