//! A bounded sample queue between a sound card's callback thread and the media task.
//!
//! Short-lock: one `Mutex` held for a copy of at most one callback's worth of samples, never
//! across anything that waits. A full queue drops its oldest samples (an overrun: the reader
//! fell behind, the newest audio matters most); an empty one reads as silence (an underrun).
//! Both are counted.

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
}

/// A bounded queue of 8 kHz samples.
#[derive(Debug)]
pub struct SampleRing {
    capacity: usize,
    inner: Mutex<Inner>,
}

impl SampleRing {
    /// A queue holding at most `capacity` samples.
    pub fn new(capacity: usize) -> SampleRing {
        SampleRing {
            capacity: capacity.max(1),
            inner: Mutex::new(Inner {
                samples: VecDeque::with_capacity(capacity.max(1)),
                stats: RingStats::default(),
            }),
        }
    }

    /// Appends `samples`, dropping the oldest ones past the capacity.
    pub fn write(&self, samples: &[i16]) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        inner.stats.written += samples.len() as u64;
        let keep = samples.len().min(self.capacity);
        let excess = (inner.samples.len() + keep).saturating_sub(self.capacity);
        if excess > 0 || keep < samples.len() {
            inner.stats.overruns += 1;
            inner.samples.drain(..excess);
        }
        inner
            .samples
            .extend(samples[samples.len() - keep..].iter().copied());
    }

    /// Fills `out` from the oldest samples; what is missing becomes silence.
    pub fn read(&self, out: &mut [i16]) {
        let Ok(mut inner) = self.inner.lock() else {
            out.fill(0);
            return;
        };
        let n = out.len().min(inner.samples.len());
        for (o, s) in out.iter_mut().zip(inner.samples.drain(..n)) {
            *o = s;
        }
        out[n..].fill(0);
        inner.stats.read += n as u64;
        if n < out.len() {
            inner.stats.underruns += 1;
        }
    }

    /// Calls `f` for each sample taken, as many as `f` asks for through `take`; a sample
    /// asked for on an empty queue is silence (one underrun counted per call).
    pub fn read_with(&self, f: impl FnOnce(&mut dyn FnMut() -> i16)) {
        let Ok(mut inner) = self.inner.lock() else {
            f(&mut || 0);
            return;
        };
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
            inner.stats.underruns += 1;
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
    fn overrun_drops_oldest_and_underrun_fills_silence() {
        let r = SampleRing::new(4);
        r.write(&[1, 2, 3]);
        r.write(&[4, 5]);
        assert_eq!(r.len(), 4);
        let mut out = [9i16; 3];
        r.read(&mut out);
        assert_eq!(out, [2, 3, 4]);
        r.read(&mut out);
        assert_eq!(out, [5, 0, 0]);
        r.write(&[1, 2, 3, 4, 5, 6]);
        r.read(&mut out);
        assert_eq!(out, [3, 4, 5]);
        assert_eq!(
            r.stats(),
            RingStats {
                written: 11,
                read: 7,
                overruns: 2,
                underruns: 1
            }
        );
        let mut got = Vec::new();
        r.read_with(|take| {
            for _ in 0..3 {
                got.push(take());
            }
        });
        assert_eq!(got, vec![6, 0, 0]);
        assert_eq!(r.stats().underruns, 2);
        assert!(r.is_empty());
    }
}
