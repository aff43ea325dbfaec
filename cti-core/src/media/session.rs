//! The RTP session of one call (sans-IO): G.711 packets out every 20 ms, packets in through
//! the jitter buffer, RFC 4733 digits both ways.
//!
//! The session has no timers of its own: the caller's 20 ms media clock drives it. On every
//! tick the driver reads one frame from the audio source into [`RtpSession::send_audio`],
//! asks [`RtpSession::playout`] for one frame for the sink, and sends what
//! [`RtpSession::poll_transmit`] returns; datagrams from the socket go to
//! [`RtpSession::receive`] as they arrive. Digits are sent one packet per tick (audio
//! pauses meanwhile, as RFC 4733 §2.5.1.2 suggests); received digits come out of
//! [`RtpSession::poll_event`].

use super::codec::{Encoding, OpusCodec, FRAME_SAMPLES};
use super::jitter::{JitterBuffer, JitterConfig, JitterStats, Playout};
use super::params::MediaParams;
use media_core::dtmf::char_to_event;
use media_core::{is_rtcp, parse_rtp, write_rtp, DtmfDetector, DtmfSender};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

/// Length of a digit we send, in timestamp units (100 ms).
pub const DTMF_DURATION: u32 = 800;
/// Ticks of audio between two digits we send (60 ms).
const DTMF_GAP_TICKS: u32 = 3;
/// Digits waiting to be sent at most.
const MAX_QUEUED_DIGITS: usize = 64;

/// Errors of the media API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaError {
    /// Not one of 0-9, *, #, A-D.
    #[error("{0:?} is not a DTMF digit")]
    NotADigit(char),
    /// The peer did not accept RFC 4733 telephone events.
    #[error("the call has no telephone-event payload type")]
    NoTelephoneEvent,
    /// Too many digits waiting.
    #[error("too many digits queued")]
    QueueFull,
}

/// Something the application hears about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaEvent {
    /// An RFC 4733 digit arrived (reported once per key press).
    Dtmf(char),
}

/// A datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Destination.
    pub to: SocketAddr,
    /// RTP packet.
    pub data: Vec<u8>,
}

/// Counters of a session.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MediaStats {
    /// RTP packets sent (audio and events).
    pub sent: u64,
    /// RTP packets received and used (audio and events).
    pub received: u64,
    /// Datagrams that were not RTP we could use (malformed, unknown payload type, RTCP,
    /// or arriving while we do not receive).
    pub ignored: u64,
    /// Digits sent.
    pub dtmf_sent: u64,
    /// Digits received.
    pub dtmf_received: u64,
    /// The jitter buffer's figures.
    pub jitter: JitterStats,
}

/// One call's RTP.
#[derive(Debug)]
pub struct RtpSession {
    params: Option<MediaParams>,
    ssrc: u32,
    seq: u16,
    ts: u32,
    muted: bool,
    /// Whether the last tick sent audio (the next talkspurt gets the marker bit).
    talking: bool,
    jitter: JitterBuffer,
    detector: Option<DtmfDetector>,
    digits: VecDeque<char>,
    digit_packets: VecDeque<Vec<u8>>,
    gap_ticks: u32,
    transmits: VecDeque<Transmit>,
    events: VecDeque<MediaEvent>,
    stats: MediaStats,
    payload: Vec<u8>,
    decoded: Vec<i16>,
    /// The call's Opus state while Opus is negotiated.
    opus: Option<OpusCodec>,
}

impl RtpSession {
    /// A session sending as `ssrc` from sequence `seq` and timestamp `ts` (random values
    /// chosen by the caller, RFC 3550 §5.1).
    pub fn new(ssrc: u32, seq: u16, ts: u32, jitter: JitterConfig) -> RtpSession {
        RtpSession {
            params: None,
            ssrc,
            seq,
            ts,
            muted: false,
            talking: false,
            jitter: JitterBuffer::new(jitter),
            detector: None,
            digits: VecDeque::new(),
            digit_packets: VecDeque::new(),
            gap_ticks: 0,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: MediaStats::default(),
            payload: Vec::with_capacity(FRAME_SAMPLES),
            decoded: Vec::with_capacity(FRAME_SAMPLES),
            opus: None,
        }
    }

    /// The current negotiation (`None`: no media yet, or none any more).
    pub fn params(&self) -> Option<MediaParams> {
        self.params
    }

    /// Applies a new negotiation (answer, hold, resume, a new peer address).
    pub fn set_params(&mut self, params: Option<MediaParams>) {
        let old = self.params;
        self.params = params;
        let recv = params.is_some_and(|p| p.recv);
        let same_source = old.map(|o| (o.remote, o.codec)) == params.map(|p| (p.remote, p.codec));
        if !recv || !same_source {
            self.jitter.reset();
        }
        let pt = params.and_then(|p| p.dtmf_pt);
        if old.and_then(|o| o.dtmf_pt) != pt || self.detector.is_none() {
            self.detector = pt.map(DtmfDetector::new);
        }
        if !params.is_some_and(|p| p.send) {
            self.talking = false;
        }
        let opus = params.is_some_and(|p| p.codec.law == Encoding::Opus);
        if !opus {
            self.opus = None;
        } else if self.opus.is_none() || old.map(|o| o.codec) != params.map(|p| p.codec) {
            // A codec that cannot be set up leaves the call silent rather than failing it.
            self.opus = OpusCodec::new()
                .map_err(|e| tracing::warn!(error = %e, "no Opus codec"))
                .ok();
        }
    }

    /// Mutes the microphone: silence is sent instead (the stream keeps going, so the far
    /// side's jitter buffer and the PBX's latching stay steady).
    pub fn set_muted(&mut self, muted: bool) {
        self.muted = muted;
    }

    /// Whether the microphone is muted.
    pub fn muted(&self) -> bool {
        self.muted
    }

    /// Queues digits to send as RFC 4733 events, one after the other.
    pub fn queue_dtmf(&mut self, digits: &str) -> Result<(), MediaError> {
        if self.params.and_then(|p| p.dtmf_pt).is_none() {
            return Err(MediaError::NoTelephoneEvent);
        }
        if let Some(bad) = digits.chars().find(|c| char_to_event(*c).is_none()) {
            return Err(MediaError::NotADigit(bad));
        }
        if self.digits.len() + digits.len() > MAX_QUEUED_DIGITS {
            return Err(MediaError::QueueFull);
        }
        self.digits.extend(digits.chars());
        Ok(())
    }

    /// One datagram received on the call's RTP socket at `now`.
    pub fn receive(&mut self, now: Instant, _from: SocketAddr, datagram: &[u8]) {
        let Some(params) = self.params.filter(|p| p.recv) else {
            self.stats.ignored += 1;
            return;
        };
        if is_rtcp(datagram) {
            self.stats.ignored += 1;
            return;
        }
        let Ok((header, payload)) = parse_rtp(datagram) else {
            self.stats.ignored += 1;
            return;
        };
        if let Some(d) = self.detector.as_mut() {
            if d.on_packet(&header, payload).is_err() {
                self.stats.ignored += 1;
                return;
            }
            while let Some(digit) = d.poll_digit() {
                self.stats.dtmf_received += 1;
                self.events.push_back(MediaEvent::Dtmf(digit.digit));
            }
        }
        if Some(header.payload_type) == params.dtmf_pt {
            self.stats.received += 1;
        } else if header.payload_type == params.codec.pt {
            self.stats.received += 1;
            self.decoded.clear();
            let law = params.codec.law;
            match (law, self.opus.as_mut()) {
                (Encoding::Opus, Some(opus)) => {
                    if opus.decode(payload, &mut self.decoded).is_err() {
                        self.stats.ignored += 1;
                        return;
                    }
                }
                (Encoding::Opus, None) => {
                    self.stats.ignored += 1;
                    return;
                }
                _ => law.decode(payload, &mut self.decoded),
            }
            self.jitter.push_at(
                now,
                header.ssrc,
                header.timestamp,
                law.clock_rate(),
                self.decoded.clone(),
            );
        } else {
            // Comfort noise and anything else we did not negotiate.
            self.stats.ignored += 1;
        }
    }

    /// One 20 ms tick of the sending side with the microphone's frame (160 samples).
    pub fn send_audio(&mut self, _now: Instant, frame: &[i16]) {
        let ts = self.ts;
        let step = self
            .params
            .map_or(FRAME_SAMPLES as u32, |p| p.codec.law.ticks_per_frame());
        self.ts = self.ts.wrapping_add(step);
        let Some(params) = self.params.filter(|p| p.send) else {
            self.talking = false;
            return;
        };
        let Some(to) = params.remote else {
            return;
        };
        if let Some(packet) = self.digit_packets.pop_front() {
            self.stats.sent += 1;
            self.transmits.push_back(Transmit { to, data: packet });
            if self.digit_packets.is_empty() {
                self.gap_ticks = DTMF_GAP_TICKS;
            }
            return;
        }
        if self.gap_ticks > 0 {
            self.gap_ticks -= 1;
        } else if let (Some(pt), Some(digit)) = (params.dtmf_pt, self.digits.front().copied()) {
            self.digits.pop_front();
            let mut sender = DtmfSender::new(pt, self.ssrc, self.seq);
            if let Ok(packets) = sender.digit_packets(digit, ts, DTMF_DURATION) {
                self.seq = sender.next_sequence();
                self.digit_packets
                    .extend(packets.into_iter().map(|p| p.bytes));
                self.stats.dtmf_sent += 1;
                if let Some(first) = self.digit_packets.pop_front() {
                    self.stats.sent += 1;
                    self.transmits.push_back(Transmit { to, data: first });
                }
                return;
            }
        }
        self.payload.clear();
        let pcm = if self.muted {
            &[0; FRAME_SAMPLES][..]
        } else {
            frame
        };
        match (params.codec.law, self.opus.as_mut()) {
            (Encoding::Opus, Some(opus)) => {
                if opus.encode(pcm, &mut self.payload).is_err() {
                    return;
                }
            }
            (Encoding::Opus, None) => return,
            (law, _) => law.encode(pcm, &mut self.payload),
        }
        let data = write_rtp(
            params.codec.pt,
            !self.talking,
            self.seq,
            ts,
            self.ssrc,
            &self.payload,
        );
        self.seq = self.seq.wrapping_add(1);
        self.talking = true;
        self.stats.sent += 1;
        self.transmits.push_back(Transmit { to, data });
    }

    /// One 20 ms tick of the playing side: fills `out` (160 samples) for the speaker.
    pub fn playout(&mut self, now: Instant, out: &mut [i16]) -> Playout {
        if !self.params.is_some_and(|p| p.recv) {
            out.fill(0);
            return Playout::Silence;
        }
        self.jitter.pop(now, out)
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<MediaEvent> {
        self.events.pop_front()
    }

    /// Counters so far.
    pub fn stats(&self) -> MediaStats {
        MediaStats {
            jitter: self.jitter.stats(),
            ..self.stats
        }
    }
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
