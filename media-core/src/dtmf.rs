//! RFC 4733 telephone events: payload parsing, a digit detector and a digit sender.
//!
//! One key press is one *event*: a run of packets sharing an RTP timestamp (the start of
//! the tone), the first with the marker bit, each carrying the duration so far, the last
//! one flagged "end" and sent three times. The detector keys events by (SSRC, timestamp)
//! so retransmissions never repeat a digit.

use crate::rtp::{RtpHeader, RtpPacketBuilder};
use std::collections::VecDeque;
use std::time::Duration;

/// Timestamp units between two updates of one event (20 ms at 8 kHz).
pub const DTMF_PACKET_TS: u16 = 160;
/// Wall-clock spacing of the packets of one event.
pub const DTMF_PACKET_INTERVAL: Duration = Duration::from_millis(20);
/// How many times the end packet is sent (RFC 4733 §2.5.1.4).
pub const DTMF_END_REPEATS: usize = 3;
/// Digits kept for [`DtmfDetector::poll_digit`] before the oldest is dropped; a caller
/// drains after each packet, so this bound only matters for a caller that never polls.
const MAX_QUEUED_DIGITS: usize = 32;
/// Timestamp units past an event's last known end after which an audio packet shows the
/// event is over (60 ms: some senders keep sending audio during an event).
const END_GRACE_TS: u32 = 480;

/// What went wrong with a telephone event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DtmfError {
    /// Payload shorter than the 4-byte event block.
    #[error("telephone-event payload of {0} bytes is shorter than 4")]
    TooShort(usize),
    /// Not one of 0-9, *, #, A-D.
    #[error("{0:?} is not a DTMF digit")]
    NotADigit(char),
    /// Durations are 1..=65535 timestamp units (longer events need segments).
    #[error("duration of {0} timestamp units is out of range")]
    BadDuration(u32),
}

/// One RFC 4733 event block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtmfEvent {
    /// Event code (0–15 are DTMF digits, 16 flash).
    pub event: u8,
    /// End bit.
    pub end: bool,
    /// Volume in -dBm0 (0–63).
    pub volume: u8,
    /// Duration so far, in timestamp units.
    pub duration: u16,
}

impl DtmfEvent {
    /// Parses the first event block of a telephone-event payload (extra bytes, such as
    /// redundant blocks, are ignored).
    pub fn parse(payload: &[u8]) -> Result<DtmfEvent, DtmfError> {
        match payload {
            [event, flags, d0, d1, ..] => Ok(DtmfEvent {
                event: *event,
                end: flags & 0x80 != 0,
                volume: flags & 0x3f,
                duration: u16::from_be_bytes([*d0, *d1]),
            }),
            _ => Err(DtmfError::TooShort(payload.len())),
        }
    }

    /// The 4-byte wire form (reserved bit zero, volume masked to 6 bits).
    pub fn to_bytes(&self) -> [u8; 4] {
        let d = self.duration.to_be_bytes();
        let flags = (self.volume & 0x3f) | if self.end { 0x80 } else { 0 };
        [self.event, flags, d[0], d[1]]
    }

    /// The digit of this event, if it is a DTMF digit.
    pub fn digit(&self) -> Option<char> {
        event_to_char(self.event)
    }
}

/// Maps an event code to '0'-'9', '*', '#', 'A'-'D'.
pub fn event_to_char(event: u8) -> Option<char> {
    match event {
        0..=9 => char::from_digit(u32::from(event), 10),
        10 => Some('*'),
        11 => Some('#'),
        12..=15 => Some(char::from(b'A' + event - 12)),
        _ => None,
    }
}

/// Maps a digit ('0'-'9', '*', '#', 'A'-'D', lowercase too) to its event code.
pub fn char_to_event(digit: char) -> Option<u8> {
    match digit {
        '0'..='9' => digit.to_digit(10).map(|d| d as u8),
        '*' => Some(10),
        '#' => Some(11),
        'A'..='D' => Some(digit as u8 - b'A' + 12),
        'a'..='d' => Some(digit as u8 - b'a' + 12),
        _ => None,
    }
}

/// A digit reported by [`DtmfDetector`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtmfDigit {
    /// '0'-'9', '*', '#', 'A'-'D'.
    pub digit: char,
    /// Duration in timestamp units (the last one seen).
    pub duration: u16,
    /// RTP timestamp of the event (its key).
    pub timestamp: u32,
    /// SSRC of the stream it came in.
    pub ssrc: u32,
    /// Whether an end packet was seen (false: reported because a later packet showed the
    /// event was over, its end packets having been lost).
    pub ended: bool,
}

#[derive(Debug, Clone, Copy)]
struct Current {
    ssrc: u32,
    timestamp: u32,
    digit: Option<char>,
    duration: u16,
    reported: bool,
}

/// Detects RFC 4733 digits in one RTP stream, reporting each key press once.
///
/// Feed it every RTP packet of the stream ([`DtmfDetector::on_packet`]), then drain
/// [`DtmfDetector::poll_digit`]. A digit is reported at its first end packet; if all end
/// packets are lost, it is reported when a newer event arrives, when an audio packet
/// arrives more than 60 ms past the event's last known end, or on [`DtmfDetector::flush`]. Packets of events older than the current one
/// (late retransmissions) are ignored. Non-digit events (flash, tones) are not reported.
#[derive(Debug, Clone)]
pub struct DtmfDetector {
    payload_type: u8,
    current: Option<Current>,
    digits: VecDeque<DtmfDigit>,
}

impl DtmfDetector {
    /// A detector for the telephone-event payload type negotiated in SDP (often 101).
    pub fn new(payload_type: u8) -> DtmfDetector {
        DtmfDetector {
            payload_type,
            current: None,
            digits: VecDeque::new(),
        }
    }

    /// Feeds one RTP packet of the stream. A telephone-event packet with a short payload
    /// is an error and changes nothing; other payload types only end a pending event.
    pub fn on_packet(&mut self, header: &RtpHeader, payload: &[u8]) -> Result<(), DtmfError> {
        if header.payload_type != self.payload_type {
            if let Some(c) = self.current {
                let over = c
                    .timestamp
                    .wrapping_add(u32::from(c.duration))
                    .wrapping_add(END_GRACE_TS);
                if c.ssrc != header.ssrc || ts_after(header.timestamp, over) {
                    self.report(false);
                }
            }
            return Ok(());
        }
        let ev = DtmfEvent::parse(payload)?;
        match self.current.as_mut() {
            Some(c) if c.ssrc == header.ssrc && c.timestamp == header.timestamp => {
                c.duration = c.duration.max(ev.duration);
            }
            // A late packet of an older event.
            Some(c) if c.ssrc == header.ssrc && !ts_after(header.timestamp, c.timestamp) => {
                return Ok(());
            }
            _ => {
                self.report(false);
                self.current = Some(Current {
                    ssrc: header.ssrc,
                    timestamp: header.timestamp,
                    digit: ev.digit(),
                    duration: ev.duration,
                    reported: false,
                });
            }
        }
        if ev.end {
            self.report(true);
        }
        Ok(())
    }

    /// Reports the pending event, if any, as over (end of call, stream change).
    pub fn flush(&mut self) {
        self.report(false);
    }

    /// The next detected digit.
    pub fn poll_digit(&mut self) -> Option<DtmfDigit> {
        self.digits.pop_front()
    }

    fn report(&mut self, ended: bool) {
        let Some(c) = self.current.as_mut().filter(|c| !c.reported) else {
            return;
        };
        c.reported = true;
        let Some(digit) = c.digit else { return };
        if self.digits.len() == MAX_QUEUED_DIGITS {
            self.digits.pop_front();
        }
        self.digits.push_back(DtmfDigit {
            digit,
            duration: c.duration,
            timestamp: c.timestamp,
            ssrc: c.ssrc,
            ended,
        });
    }
}

/// Whether RTP timestamp `a` is after `b` (RFC 3550 modular arithmetic).
fn ts_after(a: u32, b: u32) -> bool {
    a != b && a.wrapping_sub(b) < 0x8000_0000
}

/// One packet of a digit, to be sent `offset` after the first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DtmfPacket {
    /// When to send it, relative to the first packet of the digit.
    pub offset: Duration,
    /// The RTP datagram.
    pub bytes: Vec<u8>,
}

/// Produces the RFC 4733 packet sequence of digits, continuing a stream's sequence numbers.
#[derive(Debug, Clone)]
pub struct DtmfSender {
    payload_type: u8,
    ssrc: u32,
    next_sequence: u16,
    volume: u8,
}

impl DtmfSender {
    /// A sender for `payload_type` in the stream `ssrc`, first packet numbered `sequence`;
    /// volume 10 (-10 dBm0).
    pub fn new(payload_type: u8, ssrc: u32, sequence: u16) -> DtmfSender {
        DtmfSender {
            payload_type,
            ssrc,
            next_sequence: sequence,
            volume: 10,
        }
    }

    /// Sets the volume in -dBm0 (masked to 0–63).
    pub fn with_volume(mut self, volume: u8) -> Self {
        self.volume = volume & 0x3f;
        self
    }

    /// The sequence number the next packet will carry (for the audio that follows).
    pub fn next_sequence(&self) -> u16 {
        self.next_sequence
    }

    /// The packets of one digit starting at RTP `timestamp` and lasting `duration`
    /// timestamp units: updates every [`DTMF_PACKET_TS`] (marker on the first), then
    /// [`DTMF_END_REPEATS`] end packets, all with the same timestamp.
    pub fn digit_packets(
        &mut self,
        digit: char,
        timestamp: u32,
        duration: u32,
    ) -> Result<Vec<DtmfPacket>, DtmfError> {
        let event = char_to_event(digit).ok_or(DtmfError::NotADigit(digit))?;
        let total = u16::try_from(duration)
            .ok()
            .filter(|d| *d > 0)
            .ok_or(DtmfError::BadDuration(duration))?;
        let mut packets = Vec::new();
        let mut elapsed = DTMF_PACKET_TS;
        while elapsed < total {
            packets.push(self.packet(event, false, elapsed, timestamp, packets.len()));
            elapsed = elapsed.saturating_add(DTMF_PACKET_TS);
        }
        for _ in 0..DTMF_END_REPEATS {
            packets.push(self.packet(event, true, total, timestamp, packets.len()));
        }
        Ok(packets)
    }

    fn packet(&mut self, event: u8, end: bool, duration: u16, ts: u32, index: usize) -> DtmfPacket {
        let ev = DtmfEvent {
            event,
            end,
            volume: self.volume,
            duration,
        };
        let bytes = RtpPacketBuilder::new(self.payload_type)
            .marker(index == 0)
            .sequence(self.next_sequence)
            .timestamp(ts)
            .ssrc(self.ssrc)
            .build(&ev.to_bytes());
        self.next_sequence = self.next_sequence.wrapping_add(1);
        DtmfPacket {
            offset: DTMF_PACKET_INTERVAL * index as u32,
            bytes,
        }
    }
}

#[cfg(test)]
#[path = "dtmf_tests.rs"]
mod tests;
