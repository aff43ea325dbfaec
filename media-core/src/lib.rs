//! Media layer of Centralino: the pieces of RTP media that the PBX and the softphone share.
//!
//! - [`rtp`]: RTP (RFC 3550) header view, RTP/RTCP demultiplexing (RFC 5761), a packet writer.
//! - [`relay`]: the sans-IO core of the PBX's two-leg symmetric RTP relay with NAT latching.
//! - [`dtmf`]: RFC 4733 telephone events: parser, once-per-press detector, sender.
//! - [`g711`]: µ-law and A-law codecs.
//! - [`tone`]: sine generator and Goertzel tone detection (8 kHz).
//! - [`wav`]: 16-bit PCM mono WAV to and from memory.
//!
//! # Run loop
//! Everything here is sans-IO: the caller owns sockets and the clock, feeds what arrived
//! and acts on the answer. The PBX's relay task, for instance:
//!
//! ```
//! use media_core::{LegSide, Relay};
//! use std::time::Instant;
//! # let datagram = media_core::write_rtp(0, false, 1, 160, 7, &[0xff; 160]);
//! let mut relay = Relay::new();
//! relay.set_signalled(LegSide::B, Some("192.0.2.10:4000".parse().unwrap()));
//! // On each `recv_from` on leg A's socket:
//! let source = "198.51.100.7:31000".parse().unwrap();
//! if let Some(fwd) = relay.on_packet(Instant::now(), LegSide::A, source, &datagram) {
//!     // send `datagram` from `fwd.to_leg`'s socket to `fwd.dest`
//!     assert_eq!(fwd.dest.port(), 4000);
//! }
//! ```
//!
//! # Time model
//! Nothing in this crate reads a clock or sleeps: whatever depends on time takes a
//! `std::time::Instant` argument (the relay's re-latch timer) or returns offsets for the
//! caller to schedule (the DTMF sender). Tests drive time by adding durations.
//!
//! # Error policy
//! Bytes from the network never panic: parsers return typed `thiserror` errors
//! ([`RtpError`], [`DtmfError`], [`WavError`]) and the relay counts what it drops in its
//! [`LegStats`]. No `unwrap`/`expect` outside tests.
#![warn(missing_docs)]

pub mod dtmf;
pub mod g711;
pub mod music;
pub mod relay;
pub mod rtp;
pub mod tone;
pub mod wav;

pub use dtmf::{DtmfDetector, DtmfDigit, DtmfError, DtmfEvent, DtmfPacket, DtmfSender};
pub use relay::{Forward, LegSide, LegStats, Relay, RelayLeg, RelayStats};
pub use rtp::{is_rtcp, parse_rtp, write_rtp, RtpError, RtpHeader, RtpPacketBuilder};
pub use tone::{detect_tone, goertzel_power, ToneGenerator};
pub use wav::{read_wav, write_wav, Wav, WavError};
