//! Sine tone generation and Goertzel tone detection, at 8000 Hz by default.
//!
//! The generator feeds prompts, ringback and test senders; the detector proves in tests
//! that audio went through a path (relay, codec, recording) by finding a known tone in it.

use std::f64::consts::TAU;

/// Narrowband telephony sample rate.
pub const SAMPLE_RATE: u32 = 8000;
/// Share of a block's energy a candidate must hold for [`detect_tone`] to report it.
pub const DETECT_MIN_RATIO: f32 = 0.5;
/// RMS level (in 16-bit sample units, about -60 dBFS) under which a block is silence.
pub const DETECT_MIN_RMS: f32 = 32.0;

/// A phase-continuous sine generator.
#[derive(Debug, Clone, PartialEq)]
pub struct ToneGenerator {
    amplitude: f64,
    step: f64,
    phase: f64,
}

impl ToneGenerator {
    /// A sine at `freq_hz` with peak `amplitude`, sampled at [`SAMPLE_RATE`].
    pub fn new(freq_hz: f32, amplitude: i16) -> ToneGenerator {
        ToneGenerator::with_sample_rate(freq_hz, amplitude, SAMPLE_RATE)
    }

    /// A sine at `freq_hz` with peak `amplitude`, sampled at `sample_rate` (0 counts as 1).
    pub fn with_sample_rate(freq_hz: f32, amplitude: i16, sample_rate: u32) -> ToneGenerator {
        let step = TAU * f64::from(freq_hz) / f64::from(sample_rate.max(1));
        ToneGenerator {
            amplitude: f64::from(amplitude),
            step: if step.is_finite() { step } else { 0.0 },
            phase: 0.0,
        }
    }

    /// Fills `out` with the next samples; the next call continues the waveform.
    pub fn fill(&mut self, out: &mut [i16]) {
        for s in out {
            // Float-to-int `as` saturates, so any amplitude is safe.
            *s = (self.amplitude * self.phase.sin()).round() as i16;
            self.phase = (self.phase + self.step).rem_euclid(TAU);
        }
    }

    /// The next `n` samples (160 is one 20 ms frame at 8 kHz).
    pub fn frame(&mut self, n: usize) -> Vec<i16> {
        let mut out = vec![0; n];
        self.fill(&mut out);
        out
    }
}

/// Squared magnitude of the DFT of `samples` at `freq` Hz (Goertzel algorithm, any
/// frequency, not only bin centres). A full-scale block of N samples of a sine of peak A at
/// `freq` gives about (A·N/2)².
pub fn goertzel_power(samples: &[i16], freq: f32, sample_rate: u32) -> f32 {
    let w = TAU * f64::from(freq) / f64::from(sample_rate.max(1));
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for x in samples {
        let s0 = f64::from(*x) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    (s1 * s1 + s2 * s2 - coeff * s1 * s2).max(0.0) as f32
}

/// Share (0–1) of the block's energy that lies at `freq` Hz; 0 for an empty or silent
/// block. Meaningful for frequencies strictly between 0 and half the sample rate.
pub fn tone_ratio(samples: &[i16], freq: f32, sample_rate: u32) -> f32 {
    let energy: f64 = samples.iter().map(|x| f64::from(*x).powi(2)).sum();
    if energy == 0.0 {
        return 0.0;
    }
    let power = f64::from(goertzel_power(samples, freq, sample_rate));
    (2.0 * power / (samples.len() as f64 * energy)) as f32
}

/// The candidate frequency (Hz) that dominates an 8 kHz block: the one holding the largest
/// share of its energy, if that share is at least [`DETECT_MIN_RATIO`] and the block is
/// louder than [`DETECT_MIN_RMS`]. Blocks of 160 samples (20 ms) tell apart candidates
/// 100 Hz or more apart.
pub fn detect_tone(samples: &[i16], candidates: &[f32]) -> Option<f32> {
    if samples.is_empty() {
        return None;
    }
    let energy: f64 = samples.iter().map(|x| f64::from(*x).powi(2)).sum();
    let rms = (energy / samples.len() as f64).sqrt();
    if rms < f64::from(DETECT_MIN_RMS) {
        return None;
    }
    candidates
        .iter()
        .map(|f| (*f, tone_ratio(samples, *f, SAMPLE_RATE)))
        .filter(|(_, r)| *r >= DETECT_MIN_RATIO)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(f, _)| f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::g711::{ulaw_decode_slice, ulaw_encode_slice};

    const CANDIDATES: [f32; 4] = [440.0, 1000.0, 1400.0, 2000.0];

    /// Deterministic white noise in [-amp, amp].
    fn noise(n: usize, amp: i32, mut seed: u32) -> Vec<i16> {
        (0..n)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                ((seed % (2 * amp as u32 + 1)) as i32 - amp) as i16
            })
            .collect()
    }

    #[test]
    fn generator_is_phase_continuous_and_bounded() {
        let whole = ToneGenerator::new(1000.0, 8000).frame(320);
        let mut g = ToneGenerator::new(1000.0, 8000);
        let mut parts = g.frame(100);
        parts.extend(g.frame(220));
        assert_eq!(whole, parts);
        assert_eq!(whole.iter().map(|s| s.abs()).max(), Some(8000));
        // 1 kHz at 8 kHz: period of 8 samples.
        assert_eq!(whole[..8], whole[8..16]);
        assert_eq!(
            ToneGenerator::with_sample_rate(1.0, 100, 0).frame(4).len(),
            4
        );
        assert!(ToneGenerator::new(f32::NAN, 100)
            .frame(4)
            .iter()
            .all(|s| *s == 0));
    }

    #[test]
    fn goertzel_matches_theory() {
        let block = ToneGenerator::new(1000.0, 10000).frame(160);
        let expected = (10000.0f32 * 160.0 / 2.0).powi(2);
        let p = goertzel_power(&block, 1000.0, SAMPLE_RATE);
        assert!((p / expected - 1.0).abs() < 0.01, "{p} vs {expected}");
        assert!(goertzel_power(&block, 2000.0, SAMPLE_RATE) < expected * 1e-4);
        assert!(tone_ratio(&block, 1000.0, SAMPLE_RATE) > 0.99);
        assert_eq!(goertzel_power(&[], 1000.0, SAMPLE_RATE), 0.0);
    }

    #[test]
    fn detects_1khz() {
        let block = ToneGenerator::new(1000.0, 8000).frame(160);
        assert_eq!(detect_tone(&block, &CANDIDATES), Some(1000.0));
        // Off-bin frequencies and quiet tones too.
        let a = ToneGenerator::new(440.0, 200).frame(160);
        assert_eq!(detect_tone(&a, &CANDIDATES), Some(440.0));
    }

    #[test]
    fn two_khz_is_not_mistaken_for_1khz() {
        let block = ToneGenerator::new(2000.0, 8000).frame(160);
        assert_eq!(detect_tone(&block, &[1000.0]), None);
        assert_eq!(detect_tone(&block, &CANDIDATES), Some(2000.0));
    }

    #[test]
    fn silence_and_noise_alone_are_none() {
        assert_eq!(detect_tone(&[0; 160], &CANDIDATES), None);
        assert_eq!(detect_tone(&[], &CANDIDATES), None);
        assert_eq!(detect_tone(&noise(160, 20, 7), &CANDIDATES), None);
        assert_eq!(detect_tone(&noise(160, 8000, 7), &CANDIDATES), None);
    }

    #[test]
    fn tone_in_noise_is_still_found() {
        // Tone RMS ~5657, noise RMS ~2300: about 8 dB SNR.
        let tone = ToneGenerator::new(1000.0, 8000).frame(160);
        let n = noise(160, 4000, 12345);
        let mixed: Vec<i16> = tone
            .iter()
            .zip(&n)
            .map(|(a, b)| a.saturating_add(*b))
            .collect();
        assert_eq!(detect_tone(&mixed, &CANDIDATES), Some(1000.0));
    }

    #[test]
    fn tone_survives_g711() {
        let block = ToneGenerator::new(1000.0, 4000).frame(160);
        let decoded = ulaw_decode_slice(&ulaw_encode_slice(&block));
        assert_eq!(detect_tone(&decoded, &CANDIDATES), Some(1000.0));
    }
}
