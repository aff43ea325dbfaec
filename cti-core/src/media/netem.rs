//! A network emulator for received packets (sans-IO): drops a share of them and delays the
//! rest by a random amount, so tests and demos can play a call over a bad network (like
//! pjsua's `--rx-drop-pct`). Deterministic for a given seed.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// How the emulated network misbehaves.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Impairment {
    /// Share of packets dropped (0–1).
    pub loss: f64,
    /// Each packet is delayed by a uniform random time in `[0, jitter]` (so packets can
    /// overtake each other).
    pub jitter: Duration,
    /// Seed of the random generator.
    pub seed: u64,
}

/// A held packet: release time, arrival order (ties), source, bytes.
type Held = (Instant, u64, SocketAddr, Vec<u8>);

/// Packets held back by the emulator.
#[derive(Debug)]
pub struct Netem {
    cfg: Impairment,
    state: u64,
    order: u64,
    queue: BinaryHeap<Reverse<Held>>,
    /// Packets dropped so far.
    pub dropped: u64,
}

impl Netem {
    /// An emulator with `cfg`.
    pub fn new(cfg: Impairment) -> Netem {
        Netem {
            cfg,
            state: cfg.seed | 1,
            order: 0,
            queue: BinaryHeap::new(),
            dropped: 0,
        }
    }

    /// Uniform in [0, 1) (xorshift64*).
    fn unit(&mut self) -> f64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        let x = self.state.wrapping_mul(0x2545_f491_4f6c_dd1d);
        (x >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A packet arrived at `now`.
    pub fn push(&mut self, now: Instant, from: SocketAddr, data: Vec<u8>) {
        if self.unit() < self.cfg.loss {
            self.dropped += 1;
            return;
        }
        let at = now + self.cfg.jitter.mul_f64(self.unit());
        self.order += 1;
        self.queue.push(Reverse((at, self.order, from, data)));
    }

    /// When the next held packet is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.queue.peek().map(|Reverse((at, ..))| *at)
    }

    /// The next packet due at `now`, with its release time.
    pub fn pop_due(&mut self, now: Instant) -> Option<(Instant, SocketAddr, Vec<u8>)> {
        if self.poll_timeout()? > now {
            return None;
        }
        self.queue
            .pop()
            .map(|Reverse((at, _, from, data))| (at, from, data))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_about_the_share_asked_and_delays_within_the_bound() {
        let mut n = Netem::new(Impairment {
            loss: 0.05,
            jitter: Duration::from_millis(40),
            seed: 7,
        });
        let t0 = Instant::now();
        let from: SocketAddr = "127.0.0.1:1".parse().unwrap();
        for i in 0..10_000u32 {
            n.push(t0, from, i.to_be_bytes().to_vec());
        }
        assert!((400..600).contains(&n.dropped), "{}", n.dropped);
        assert!(n.pop_due(t0 - Duration::from_millis(1)).is_none());
        let mut out = Vec::new();
        while let Some((at, _, _)) = n.pop_due(t0 + Duration::from_millis(40)) {
            out.push(at);
        }
        assert_eq!(out.len() as u64 + n.dropped, 10_000);
        assert!(out.windows(2).all(|w| w[0] <= w[1]));
        assert!(out.iter().any(|a| *a > t0 + Duration::from_millis(35)));
        assert!(n.poll_timeout().is_none());
    }
}
