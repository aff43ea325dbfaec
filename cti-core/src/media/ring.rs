//! A bounded sample queue between a sound card's callback thread and the media task.
//!
//! Short-lock: one `Mutex` held for a copy of at most one callback's worth of samples, never
//! across anything that waits. The two sides run on different clocks (the card's, the 20 ms
//! media tick) and in different block sizes, so the queue keeps a cushion:
//!
//! - it reads as silence until it holds `prefill` samples (primed), then plays;
//! - a read that finds it short fills the rest with silence (an underrun) and waits to be
//!   primed again;
//! - a write past the capacity (an overrun: the reader fell behind, or its clock is slower)
//!   drops the oldest samples down to the newest `prefill`, so that a slow drift between
//!   the clocks costs one jump now and then, not a click on every write.
//!
//! Underruns and overruns are counted.

use std::collections::VecDeque;
use std::sync::Mutex;

/// Counts of a [`SampleRing`] since it was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RingStats {
    /// Samples written.
    pub written: u64,
    /// Samples read (silence filled in for missing ones is not counted).
    pub read: u64,
    /// Writes that found the queue full and dropped its oldest samples.
    pub overruns: u64,
    /// Reads that found fewer samples than asked and filled the rest with silence.
    pub underruns: u64,
}

#[derive(Debug)]
struct Inner {
    samples: VecDeque<i16>,
    stats: RingStats,
    prefill: usize,
    primed: bool,
}

impl Inner {
    /// Whether reads may take samples now (primes the queue once it holds `prefill`).
    fn ready(&mut self) -> bool {
        if !self.primed && self.samples.len() >= self.prefill {
            self.primed = true;
        }
        self.primed
    }

    fn short(&mut self) {
        self.stats.underruns += 1;
        self.primed = false;
    }
}

/// A bounded queue of 8 kHz samples.
#[derive(Debug)]
pub struct SampleRing {
    capacity: usize,
    inner: Mutex<Inner>,
}

impl SampleRing {
    /// A queue holding at most `capacity` samples, played once it holds `prefill`.
    pub fn new(capacity: usize, prefill: usize) -> SampleRing {
        let capacity = capacity.max(1);
        SampleRing {
            capacity,
            inner: Mutex::new(Inner {
                samples: VecDeque::with_capacity(capacity),
                stats: RingStats::default(),
                prefill: prefill.min(capacity),
                primed: false,
            }),
        }
    }

    /// Changes the cushion (a new device with another period); applies from the next
    /// priming.
    pub fn set_prefill(&self, prefill: usize) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.prefill = prefill.min(self.capacity);
        }
    }

    /// Appends `samples`; past the capacity, keeps only the newest `prefill` (at least one).
    pub fn write(&self, samples: &[i16]) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        inner.stats.written += samples.len() as u64;
        let tail = &samples[samples.len().saturating_sub(self.capacity)..];
        inner.samples.extend(tail.iter().copied());
        let len = inner.samples.len();
        if len > self.capacity || tail.len() < samples.len() {
            inner.stats.overruns += 1;
            let keep = inner.prefill.clamp(1, self.capacity).min(len);
            inner.samples.drain(..len - keep);
        }
    }

    /// Fills `out` from the oldest samples; silence while not primed, and for what is
    /// missing.
    pub fn read(&self, out: &mut [i16]) {
        let Ok(mut inner) = self.inner.lock() else {
            out.fill(0);
            return;
        };
        if !inner.ready() {
            out.fill(0);
            return;
        }
        let n = out.len().min(inner.samples.len());
        for (o, s) in out.iter_mut().zip(inner.samples.drain(..n)) {
            *o = s;
        }
        out[n..].fill(0);
        inner.stats.read += n as u64;
        if n < out.len() {
            inner.short();
        }
    }

    /// Calls `f` with a `take` that gives the next sample (silence while not primed, or
    /// when the queue runs out: one underrun counted per call).
    pub fn read_with(&self, f: impl FnOnce(&mut dyn FnMut() -> i16)) {
        let Ok(mut inner) = self.inner.lock() else {
            f(&mut || 0);
            return;
        };
        if !inner.ready() {
            f(&mut || 0);
            return;
        }
        let mut read = 0u64;
        let mut short = false;
        {
            let samples = &mut inner.samples;
            let mut take = || match samples.pop_front() {
                Some(s) => {
                    read += 1;
                    s
                }
                None => {
                    short = true;
                    0
                }
            };
            f(&mut take);
        }
        inner.stats.read += read;
        if short {
            inner.short();
        }
    }

    /// Samples waiting.
    pub fn len(&self) -> usize {
        self.inner.lock().map(|i| i.samples.len()).unwrap_or(0)
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The counts so far.
    pub fn stats(&self) -> RingStats {
        self.inner.lock().map(|i| i.stats).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrun_keeps_the_newest_prefill_and_underrun_fills_silence() {
        let r = SampleRing::new(4, 2);
        r.write(&[1, 2, 3]);
        r.write(&[4, 5]);
        assert_eq!(r.len(), 2, "past the capacity: the newest two");
        let mut out = [9i16; 3];
        r.read(&mut out);
        assert_eq!(out, [4, 5, 0]);
        // Short: not primed again until two samples wait.
        r.write(&[6]);
        r.read(&mut out);
        assert_eq!(out, [0, 0, 0], "one sample is not enough");
        r.write(&[7]);
        r.read(&mut out);
        assert_eq!(out, [6, 7, 0]);
        r.write(&[1, 2, 3, 4, 5, 6]);
        assert_eq!(r.len(), 2);
        assert_eq!(
            r.stats(),
            RingStats {
                written: 13,
                read: 4,
                overruns: 2,
                underruns: 2
            }
        );
        let mut got = Vec::new();
        r.read_with(|take| {
            for _ in 0..3 {
                got.push(take());
            }
        });
        assert_eq!(got, vec![5, 6, 0]);
        assert_eq!(r.stats().underruns, 3);
        assert!(r.is_empty());
        r.write(&[8]);
        got.clear();
        r.read_with(|take| got.push(take()));
        assert_eq!(got, vec![0], "not primed");
        r.set_prefill(1);
        got.clear();
        r.read_with(|take| got.push(take()));
        assert_eq!(got, vec![8]);
    }

    /// A card taking (or giving) 80 samples every 10 ms against the media tick's 160 every
    /// 20 ms, late by 0–5 ms at random, for a minute; `ppm` is how much faster the media
    /// clock runs than the card's. Returns (underruns, overruns).
    fn paced(playback: bool, ppm: f64) -> (u64, u64) {
        let r = SampleRing::new(960, 240);
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut jitter = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % 5000) as f64
        };
        let card_period = 10_000.0;
        let tick = 20_000.0 / (1.0 + ppm / 1e6);
        let (mut card, mut media, mut n) = (0.0f64, jitter(), 0u32);
        let mut frame = [0i16; 160];
        while card < 60e6 {
            if card <= media {
                if playback {
                    r.read_with(|take| {
                        for _ in 0..80 {
                            take();
                        }
                    });
                } else {
                    r.write(&[1; 80]);
                }
                card += card_period;
            } else {
                if playback {
                    r.write(&[1; 160]);
                } else {
                    r.read(&mut frame);
                }
                n += 1;
                media = f64::from(n) * tick + jitter();
            }
        }
        let s = r.stats();
        (s.underruns, s.overruns)
    }

    #[test]
    fn paced_sides_glitch_only_from_clock_drift() {
        // Same clocks, or 100 ppm apart (a cheap card's crystal: 48 samples a minute): not a
        // single underrun or overrun in a minute, with the tick's jitter.
        for ppm in [0.0, 100.0, -100.0] {
            assert_eq!(paced(true, ppm), (0, 0), "playback {ppm} ppm");
            assert_eq!(paced(false, ppm), (0, 0), "capture {ppm} ppm");
        }
        // 2 % (9600 samples a minute): a full ring jumps back to the cushion, so about one
        // overrun per 720 samples of drift, not a click on every block.
        assert_eq!(paced(true, 20_000.0), (0, 12));
        assert_eq!(paced(false, -20_000.0), (0, 12));
        // The other way the ring runs dry and primes again (silence of about a cushion).
        let (u, o) = paced(false, 20_000.0);
        assert!(o == 0 && (30..=60).contains(&u), "{u} {o}");
        let (u, o) = paced(true, -20_000.0);
        assert!(o == 0 && (30..=60).contains(&u), "{u} {o}");
    }
}
