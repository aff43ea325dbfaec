//! Softphone media: G.711, the adaptive jitter buffer, packet-loss concealment, the RTP
//! session of one call, the audio devices behind a trait (with the sound cards through cpal
//! behind the `sound-card` feature), and a network emulator for tests.
pub mod codec;
pub mod device;
pub mod jitter;
pub mod netem;
pub mod params;
pub mod plc;
pub mod resample;
pub mod ring;
pub mod session;
pub mod settings;
#[cfg(feature = "sound-card")]
pub mod sound_card;
#[cfg(all(test, feature = "sound-card", target_os = "linux"))]
mod sound_card_tests;
