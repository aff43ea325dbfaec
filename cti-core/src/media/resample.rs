//! Conversion between a sound card's rate and channels and the phone's 8 kHz mono.
//!
//! A card that offers 8 kHz is opened at 8 kHz and nothing here runs but the channel mix.
//! Otherwise (most USB headsets offer 44.1/48 kHz only) the audio is resampled:
//!
//! - **Down** (microphone, card rate → 8 kHz): a windowed-sinc FIR low-pass at the card's
//!   rate (cutoff 3.4 kHz, Hamming window, about 3.3·rate/1000 taps: 159 taps at 48 kHz,
//!   stop band from about 4.4 kHz down more than 50 dB), then linear interpolation at the
//!   8 kHz instants. The low-pass keeps what lies above 4 kHz (keyboard clicks, fans) from
//!   folding into the voice band.
//! - **Up** (speaker, 8 kHz → card rate): linear interpolation, then the same low-pass at the
//!   card's rate to smooth the corners the interpolation leaves (the images around 8, 16 …
//!   kHz).
//!
//! No polyphase bank or sinc interpolator: a phone call is band-limited to 300–3400 Hz
//! already, and the cost here (about 4 M multiply-adds a second at 48 kHz) is small. The
//! ratio is fixed: the drift between the card's clock and the media tick is absorbed by the
//! ring buffers (a frame dropped or filled with silence now and then).

use super::codec::CLOCK_RATE;

/// Top of the telephone voice band, the low-pass cutoff.
const CUTOFF_HZ: f64 = 3400.0;

/// A streaming FIR low-pass (windowed sinc).
#[derive(Debug, Clone)]
struct LowPass {
    taps: Vec<f32>,
    history: Vec<f32>,
    pos: usize,
}

impl LowPass {
    /// Cutoff [`CUTOFF_HZ`] at `rate`; the length grows with the rate so that the transition
    /// band stays about 1 kHz wide.
    fn new(rate: u32) -> LowPass {
        let rate_f = f64::from(rate.max(1));
        let n = ((3.3 * rate_f / 1000.0).ceil() as usize) | 1;
        let fc = CUTOFF_HZ / rate_f;
        let mid = (n / 2) as f64;
        let mut taps: Vec<f64> = (0..n)
            .map(|i| {
                let x = i as f64 - mid;
                let sinc = if x == 0.0 {
                    2.0 * fc
                } else {
                    (2.0 * std::f64::consts::PI * fc * x).sin() / (std::f64::consts::PI * x)
                };
                let window = 0.54
                    - 0.46 * (2.0 * std::f64::consts::PI * i as f64 / (n - 1).max(1) as f64).cos();
                sinc * window
            })
            .collect();
        let sum: f64 = taps.iter().sum();
        if sum.abs() > f64::EPSILON {
            taps.iter_mut().for_each(|t| *t /= sum);
        }
        LowPass {
            taps: taps.into_iter().map(|t| t as f32).collect(),
            history: vec![0.0; n],
            pos: 0,
        }
    }

    fn process(&mut self, x: f32) -> f32 {
        let n = self.history.len();
        self.history[self.pos] = x;
        self.pos = (self.pos + 1) % n;
        // history[pos] is now the oldest sample.
        let (older, newer) = self.history.split_at(self.pos);
        let mut acc = 0.0f32;
        for (t, h) in self.taps.iter().zip(newer.iter().chain(older.iter())) {
            acc += t * h;
        }
        acc
    }
}

/// A streaming linear-interpolation rate converter with a fixed ratio.
#[derive(Debug, Clone)]
struct Linear {
    /// Input samples per output sample.
    step: f64,
    /// Position of the next output sample, in input samples after `last`.
    t: f64,
    last: f32,
}

impl Linear {
    fn new(from: u32, to: u32) -> Linear {
        Linear {
            step: f64::from(from.max(1)) / f64::from(to.max(1)),
            t: 0.0,
            last: 0.0,
        }
    }

    /// Takes one input sample and emits the output samples that fall before it.
    fn push(&mut self, x: f32, mut out: impl FnMut(f32)) {
        while self.t < 1.0 {
            out(self.last + (x - self.last) * self.t as f32);
            self.t += self.step;
        }
        self.t -= 1.0;
        self.last = x;
    }
}

/// From the card's capture format (interleaved, any rate, any channels, as `f32` in
/// −1…1) to 8 kHz mono `i16`.
#[derive(Debug, Clone)]
pub struct Downmix {
    channels: usize,
    resample: Option<(LowPass, Linear)>,
}

impl Downmix {
    /// For a card capturing `channels` channels at `rate` Hz.
    pub fn new(rate: u32, channels: u16) -> Downmix {
        Downmix {
            channels: usize::from(channels.max(1)),
            resample: (rate != CLOCK_RATE)
                .then(|| (LowPass::new(rate), Linear::new(rate, CLOCK_RATE))),
        }
    }

    /// Converts `input` (whole interleaved frames; a partial last frame is ignored) and
    /// hands each 8 kHz sample to `out`.
    pub fn process(&mut self, input: &[f32], mut out: impl FnMut(i16)) {
        let scale = 1.0 / self.channels as f32;
        for frame in input.chunks_exact(self.channels) {
            let mono = frame.iter().sum::<f32>() * scale;
            match self.resample.as_mut() {
                None => out(to_i16(mono)),
                Some((lp, lin)) => {
                    let y = lp.process(mono);
                    lin.push(y, |s| out(to_i16(s)));
                }
            }
        }
    }
}

/// From 8 kHz mono `i16` to the card's playback format (interleaved `f32` in −1…1, the
/// same sample on every channel).
#[derive(Debug, Clone)]
pub struct Upmix {
    channels: usize,
    resample: Option<(Linear, LowPass)>,
    /// Card-rate samples made but not yet handed out (at most one input sample's worth).
    pending: std::collections::VecDeque<f32>,
}

impl Upmix {
    /// For a card playing `channels` channels at `rate` Hz.
    pub fn new(rate: u32, channels: u16) -> Upmix {
        Upmix {
            channels: usize::from(channels.max(1)),
            resample: (rate != CLOCK_RATE)
                .then(|| (Linear::new(CLOCK_RATE, rate), LowPass::new(rate))),
            pending: std::collections::VecDeque::new(),
        }
    }

    /// Fills `output` (interleaved) with card-rate frames; `next` gives the next 8 kHz sample
    /// whenever one is needed.
    pub fn process(&mut self, output: &mut [f32], mut next: impl FnMut() -> i16) {
        for frame in output.chunks_exact_mut(self.channels) {
            let v = match self.resample.as_mut() {
                None => from_i16(next()),
                Some((lin, lp)) => {
                    while self.pending.is_empty() {
                        let x = from_i16(next());
                        let pending = &mut self.pending;
                        lin.push(x, |s| pending.push_back(lp.process(s)));
                    }
                    self.pending.pop_front().unwrap_or(0.0)
                }
            };
            frame.fill(v);
        }
    }
}

fn to_i16(x: f32) -> i16 {
    (x * 32768.0).round().clamp(-32768.0, 32767.0) as i16
}

fn from_i16(x: i16) -> f32 {
    f32::from(x) / 32768.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::codec::FRAME_SAMPLES;
    use crate::media::device::tone_share;

    fn sine(rate: u32, freq: f64, secs: f64, amp: f32) -> Vec<f32> {
        (0..(f64::from(rate) * secs) as usize)
            .map(|i| {
                amp * (2.0 * std::f64::consts::PI * freq * i as f64 / f64::from(rate)).sin() as f32
            })
            .collect()
    }

    fn rms(x: &[i16]) -> f64 {
        (x.iter().map(|s| f64::from(*s).powi(2)).sum::<f64>() / x.len().max(1) as f64).sqrt()
    }

    #[test]
    fn down_48k_stereo_keeps_the_voice_band_and_the_count() {
        let mono = sine(48000, 1000.0, 1.0, 0.25);
        let stereo: Vec<f32> = mono.iter().flat_map(|s| [*s, *s]).collect();
        let mut d = Downmix::new(48000, 2);
        let mut out = Vec::new();
        for chunk in stereo.chunks(960) {
            d.process(chunk, |s| out.push(s));
        }
        assert!((out.len() as i64 - 8000).abs() <= 1, "{}", out.len());
        let steady = &out[FRAME_SAMPLES..];
        assert_eq!(tone_share(steady, 1000.0, &[500.0, 2000.0, 3000.0]), 1.0);
        // 0.25 peak → 8192 peak, RMS 5793; the pass band is flat within 1 dB.
        let r = rms(steady);
        assert!((5150.0..6500.0).contains(&r), "rms {r}");
    }

    #[test]
    fn down_filters_what_would_fold_into_the_voice_band() {
        // 6 kHz at 48 kHz would alias to 2 kHz at 8 kHz without the low-pass.
        let mut d = Downmix::new(48000, 1);
        let mut out = Vec::new();
        d.process(&sine(48000, 6000.0, 1.0, 0.5), |s| out.push(s));
        let r = rms(&out[FRAME_SAMPLES..]);
        // 0.5 peak unfiltered would be RMS 11585; more than 40 dB down.
        assert!(r < 116.0, "aliased rms {r}");
    }

    #[test]
    fn up_to_44k1_keeps_the_tone_and_the_count() {
        let tone: Vec<i16> = sine(8000, 1000.0, 1.0, 0.25)
            .into_iter()
            .map(to_i16)
            .collect();
        let mut u = Upmix::new(44100, 2);
        let mut it = tone.iter().copied();
        let mut card = vec![0f32; 44100 * 2];
        let mut taken = 0usize;
        u.process(&mut card, || {
            taken += 1;
            it.next().unwrap_or(0)
        });
        assert!((taken as i64 - 8000).abs() <= 2, "{taken}");
        assert!(card.chunks_exact(2).all(|f| f[0] == f[1]));
        // Back down to 8 kHz to check the frequency: the round trip keeps 1 kHz.
        let mut d = Downmix::new(44100, 2);
        let mut back = Vec::new();
        d.process(&card, |s| back.push(s));
        assert_eq!(
            tone_share(&back[FRAME_SAMPLES..7000], 1000.0, &[500.0, 2000.0]),
            1.0
        );
        let r = rms(&back[FRAME_SAMPLES..7000]);
        assert!((5150.0..6500.0).contains(&r), "rms {r}");
    }

    #[test]
    fn eight_khz_is_copied_and_channels_averaged() {
        let mut d = Downmix::new(8000, 2);
        let mut out = Vec::new();
        d.process(&[0.5, 0.0, -0.25, -0.25, 0.1], |s| out.push(s));
        assert_eq!(out, vec![8192, -8192]);
        let mut u = Upmix::new(8000, 1);
        let mut card = [0f32; 3];
        let mut src = [16384i16, -16384, 0].into_iter();
        u.process(&mut card, || src.next().unwrap_or(0));
        assert_eq!(card, [0.5, -0.5, 0.0]);
        assert_eq!(to_i16(2.0), 32767);
        assert_eq!(to_i16(-2.0), -32768);
    }
}
