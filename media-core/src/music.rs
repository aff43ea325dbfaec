//! Music for callers waiting (queues): the bundled melody and a sans-IO player that cuts any
//! 8 kHz mono audio into 20 ms G.711 RTP packets, looping. The caller of [`MusicPlayer`]
//! decides when a packet goes out (every 20 ms) and where.

use crate::g711::{alaw_encode, ulaw_encode};
use crate::rtp::write_rtp;
use crate::tone::ToneGenerator;
use std::sync::Arc;

/// Samples per 20 ms packet at 8 kHz.
pub const SAMPLES_PER_PACKET: usize = 160;

/// Notes of the bundled melody (Hz): a slow C-major arpeggio, up and down.
pub const BUNDLED_NOTES: [f32; 4] = [523.25, 659.25, 783.99, 659.25];

/// The bundled hold music, 8 kHz mono: each note of [`BUNDLED_NOTES`] for 400 ms with soft
/// edges (no clicks), then 400 ms of silence; 2 s, meant to loop.
pub fn bundled_music() -> Vec<i16> {
    const NOTE: usize = 3_200;
    const FADE: usize = 240;
    let mut out = Vec::with_capacity(NOTE * (BUNDLED_NOTES.len() + 1));
    for f in BUNDLED_NOTES {
        let mut g = ToneGenerator::new(f, 6_000);
        let note = g.frame(NOTE);
        out.extend(note.iter().enumerate().map(|(i, s)| {
            let edge = i.min(NOTE - 1 - i);
            if edge < FADE {
                (f32::from(*s) * edge as f32 / FADE as f32) as i16
            } else {
                *s
            }
        }));
    }
    out.extend(std::iter::repeat_n(0, NOTE));
    out
}

/// Plays looping audio as RTP in G.711 (payload type 0 µ-law or 8 A-law).
#[derive(Debug, Clone)]
pub struct MusicPlayer {
    samples: Arc<Vec<i16>>,
    pos: usize,
    payload_type: u8,
    sequence: u16,
    timestamp: u32,
    ssrc: u32,
    first: bool,
}

impl MusicPlayer {
    /// A player of `samples` (8 kHz mono) in `payload_type`; `None` when the payload type is
    /// not G.711 or there is nothing to play. `ssrc` and the first sequence number and
    /// timestamp should be random (RFC 3550); the caller draws them.
    pub fn new(
        samples: Arc<Vec<i16>>,
        payload_type: u8,
        ssrc: u32,
        sequence: u16,
        timestamp: u32,
    ) -> Option<MusicPlayer> {
        if !matches!(payload_type, 0 | 8) || samples.is_empty() {
            return None;
        }
        Some(MusicPlayer {
            samples,
            pos: 0,
            payload_type,
            sequence,
            timestamp,
            ssrc,
            first: true,
        })
    }

    /// The next 20 ms packet.
    pub fn next_packet(&mut self) -> Vec<u8> {
        let n = self.samples.len();
        let encode = if self.payload_type == 0 {
            ulaw_encode
        } else {
            alaw_encode
        };
        let payload: Vec<u8> = (0..SAMPLES_PER_PACKET)
            .map(|i| encode(self.samples[(self.pos + i) % n]))
            .collect();
        self.pos = (self.pos + SAMPLES_PER_PACKET) % n;
        let p = write_rtp(
            self.payload_type,
            self.first,
            self.sequence,
            self.timestamp,
            self.ssrc,
            &payload,
        );
        self.first = false;
        self.sequence = self.sequence.wrapping_add(1);
        self.timestamp = self.timestamp.wrapping_add(SAMPLES_PER_PACKET as u32);
        p
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::g711::{alaw_decode_slice, ulaw_decode_slice};
    use crate::rtp::parse_rtp;
    use crate::tone::detect_tone;

    #[test]
    fn the_bundled_melody_plays_its_notes_in_order_then_rests() {
        let m = bundled_music();
        assert_eq!(m.len(), 16_000, "2 s at 8 kHz");
        let mut cands = BUNDLED_NOTES.to_vec();
        cands.dedup();
        for (i, f) in BUNDLED_NOTES.iter().enumerate() {
            // The middle of each note.
            let mid = &m[i * 3_200 + 800..i * 3_200 + 2_400];
            assert_eq!(detect_tone(mid, &cands), Some(*f), "note {i}");
        }
        assert!(m[12_800..].iter().all(|s| *s == 0));
        // Soft edges: the first and last samples of a note are near zero.
        assert!(m[0].abs() < 100 && m[3_199].abs() < 100);
    }

    #[test]
    fn the_player_loops_the_audio_in_numbered_20_ms_packets() {
        let audio: Arc<Vec<i16>> = Arc::new((0..400).map(|i| (i * 50) as i16).collect());
        for pt in [0u8, 8] {
            let mut p = MusicPlayer::new(audio.clone(), pt, 0xABCD, 65_535, 1_000).unwrap();
            let mut decoded = Vec::new();
            for k in 0..5u32 {
                let pkt = p.next_packet();
                let (h, payload) = parse_rtp(&pkt).unwrap();
                assert_eq!((h.payload_type, h.ssrc, h.marker), (pt, 0xABCD, k == 0));
                assert_eq!(h.sequence, 65_535u16.wrapping_add(k as u16));
                assert_eq!(h.timestamp, 1_000 + 160 * k);
                assert_eq!(payload.len(), 160);
                decoded.extend(if pt == 0 {
                    ulaw_decode_slice(payload)
                } else {
                    alaw_decode_slice(payload)
                });
            }
            // 800 samples of a 400-sample loop: the audio twice, within G.711's precision.
            for (i, s) in decoded.iter().enumerate() {
                let want = i32::from(audio[i % 400]);
                assert!(
                    (i32::from(*s) - want).abs() <= want / 16 + 16,
                    "{i}: {s} vs {want}"
                );
            }
        }
        assert!(
            MusicPlayer::new(audio.clone(), 9, 1, 0, 0).is_none(),
            "G.722"
        );
        assert!(MusicPlayer::new(Arc::new(Vec::new()), 0, 1, 0, 0).is_none());
    }
}
