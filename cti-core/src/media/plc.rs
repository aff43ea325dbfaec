//! Packet-loss concealment for G.711: the last good frame is repeated under a fade that
//! reaches silence after [`FADE_FRAMES`] missing frames (100 ms), the "repeat and fade" of
//! ITU-T G.711 Appendix I without its pitch search.
//!
//! Repeating a whole 20 ms frame keeps a steady tone or a vowel going through a short gap
//! (the ear hears a click, not a hole); beyond 100 ms repetition sounds robotic, so it fades
//! out. The first good frame after a gap is faded in over a frame to avoid a click.

use super::codec::FRAME_SAMPLES;

/// Missing frames after which concealment is silence.
pub const FADE_FRAMES: u32 = 5;

/// Remembers the last good frame and conceals the frames that are missing.
#[derive(Debug, Clone)]
pub struct Concealer {
    last: [i16; FRAME_SAMPLES],
    have_last: bool,
    missing: u32,
}

impl Default for Concealer {
    fn default() -> Self {
        Concealer {
            last: [0; FRAME_SAMPLES],
            have_last: false,
            missing: 0,
        }
    }
}

impl Concealer {
    /// A concealer with nothing heard yet.
    pub fn new() -> Concealer {
        Concealer::default()
    }

    /// A good frame is being played: remember it. After a gap it is faded in (in place).
    pub fn good(&mut self, frame: &mut [i16]) {
        if self.missing > 0 && self.have_last {
            let n = frame.len().max(1) as f32;
            for (i, s) in frame.iter_mut().enumerate() {
                *s = (f32::from(*s) * (i as f32 + 1.0) / n) as i16;
            }
        }
        self.missing = 0;
        let k = frame.len().min(FRAME_SAMPLES);
        self.last[..k].copy_from_slice(&frame[..k]);
        self.last[k..].fill(0);
        self.have_last = true;
    }

    /// Fills `out` for a missing frame: the last good frame under a linear fade that
    /// continues across consecutive missing frames, silence after [`FADE_FRAMES`].
    pub fn conceal(&mut self, out: &mut [i16]) {
        self.missing = self.missing.saturating_add(1);
        if !self.have_last || self.missing > FADE_FRAMES {
            out.fill(0);
            return;
        }
        let total = (FADE_FRAMES as usize * FRAME_SAMPLES) as f32;
        let start = (self.missing as usize - 1) * FRAME_SAMPLES;
        for (i, s) in out.iter_mut().enumerate() {
            let src = self.last[i % FRAME_SAMPLES];
            let gain = 1.0 - (start + i) as f32 / total;
            *s = (f32::from(src) * gain.max(0.0)) as i16;
        }
    }

    /// Consecutive frames concealed so far (0 after a good frame).
    pub fn missing(&self) -> u32 {
        self.missing
    }

    /// Forgets the stream (new source, hold).
    pub fn reset(&mut self) {
        *self = Concealer::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use media_core::{detect_tone, ToneGenerator};

    #[test]
    fn repeats_then_fades_to_silence() {
        let mut c = Concealer::new();
        let mut tone = ToneGenerator::new(1000.0, 8000).frame(FRAME_SAMPLES);
        c.good(&mut tone);
        let mut out = [0i16; FRAME_SAMPLES];
        c.conceal(&mut out);
        // The first concealed frame still carries the tone, a bit quieter at its end.
        assert_eq!(detect_tone(&out, &[1000.0, 2000.0]), Some(1000.0));
        assert!(
            out[..8]
                .iter()
                .zip(&tone[..8])
                .all(|(a, b)| (i32::from(*a) - i32::from(*b)).abs() < 100),
            "{:?} {:?}",
            &out[..8],
            &tone[..8]
        );
        let peak = |f: &[i16]| f.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
        let mut peaks = vec![peak(&out)];
        for _ in 1..FADE_FRAMES {
            c.conceal(&mut out);
            peaks.push(peak(&out));
        }
        assert!(peaks.windows(2).all(|w| w[1] < w[0]), "{peaks:?}");
        c.conceal(&mut out);
        assert!(out.iter().all(|s| *s == 0));
        assert_eq!(c.missing(), FADE_FRAMES + 1);
    }

    #[test]
    fn nothing_heard_conceals_as_silence_and_fades_in_after_a_gap() {
        let mut c = Concealer::new();
        let mut out = [1i16; FRAME_SAMPLES];
        c.conceal(&mut out);
        assert!(out.iter().all(|s| *s == 0));
        let mut f = vec![1000i16; FRAME_SAMPLES];
        c.good(&mut f);
        c.conceal(&mut out);
        let mut g = vec![1000i16; FRAME_SAMPLES];
        c.good(&mut g);
        assert!(g[0] < 20 && g[FRAME_SAMPLES - 1] == 1000, "faded in");
        assert_eq!(c.missing(), 0);
    }
}
