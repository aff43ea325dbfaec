//! An adaptive jitter buffer for one incoming audio stream (sans-IO).
//!
//! Feed it every audio packet with its arrival time ([`JitterBuffer::push`]) and ask it for
//! one 20 ms frame on every tick of the playout clock ([`JitterBuffer::pop`]).
//!
//! # How it adapts
//! Each packet's *transit* is its arrival time minus its RTP timestamp (both relative to the
//! first packet). A frame is played at `timestamp + offset`, where `offset` is a high
//! quantile of the transits of the last [`JitterConfig::window`] packets plus a margin: the
//! buffer waits just long enough for nearly all packets to arrive in time. When the network
//! gets worse the quantile rises and the playout falls behind by one *stretched* (concealed)
//! frame per tick until it matches; when it gets better the old transits leave the window and
//! one frame per tick is *skipped* until the delay is down again. Clock drift between the
//! sender and our playout clock shows up as a slowly moving transit and is absorbed the same
//! way. A packet whose transit jumps by more than [`RESYNC_AFTER`] (a new stream after a
//! re-INVITE, a sender that restarted its timestamps) resets the timeline.
//!
//! Missing frames (lost, late or not sent at all) are concealed by [`Concealer`]; packets
//! that arrive after their frame was played are counted as late and dropped.

use super::codec::{CLOCK_RATE, FRAME_SAMPLES};
use super::plc::Concealer;
use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

/// A packet whose transit differs from the current estimate by more than this starts a
/// new timeline.
pub const RESYNC_AFTER: Duration = Duration::from_secs(1);
/// Packets held at most (2 s of 20 ms packets): a sender racing ahead cannot grow memory.
const MAX_PACKETS: usize = 100;
/// Longest packet we expect, in samples (a 60 ms G.711 packet; longer ones still play).
const MAX_PACKET_SAMPLES: i64 = 480;

/// Tuning of the buffer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JitterConfig {
    /// Share of recent packets that must arrive before their playout time (0.5–1.0).
    pub quantile: f64,
    /// How many recent packets the delay estimate looks at (150: 3 s of 20 ms packets).
    pub window: usize,
    /// Added to the estimate: covers the phase of the playout tick against the packets.
    pub margin: Duration,
    /// Largest delay, above the fastest recent packet, the buffer adapts to.
    pub max_delay: Duration,
}

impl Default for JitterConfig {
    fn default() -> Self {
        JitterConfig {
            quantile: 0.98,
            window: 150,
            margin: Duration::from_millis(10),
            max_delay: Duration::from_millis(400),
        }
    }
}

/// What [`JitterBuffer::pop`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Playout {
    /// Nothing to play yet (no stream, or waiting for the first packet's playout time):
    /// silence.
    Silence,
    /// Received audio.
    Audio,
    /// A missing frame, concealed (repetition fading to silence).
    Concealed,
}

/// Counters of one stream, for figures and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct JitterStats {
    /// Audio packets accepted into the buffer.
    pub received: u64,
    /// Frames played from received audio.
    pub played: u64,
    /// Frames concealed (lost, late, stretched or not sent).
    pub concealed: u64,
    /// Concealed frames followed by received audio: lost or late packets.
    pub lost: u64,
    /// Packets that arrived after their frame was played (dropped).
    pub late: u64,
    /// Packets received twice (dropped).
    pub duplicates: u64,
    /// Frames dropped to reduce the delay.
    pub skipped: u64,
    /// Frames inserted (concealed) to increase the delay.
    pub stretched: u64,
    /// Timeline resets (new stream, timestamp jump).
    pub resyncs: u64,
    /// Packets dropped because the buffer was full.
    pub overflow: u64,
    /// Sum of the buffering delays of the played frames, in microseconds.
    pub latency_sum_us: u64,
    /// Largest buffering delay of a played frame.
    pub max_latency: Duration,
    /// The delay the buffer currently aims at, above the fastest recent packet.
    pub target_delay: Duration,
}

impl JitterStats {
    /// Mean time between a played packet's arrival and its playout: the latency the
    /// buffer adds.
    pub fn mean_latency(&self) -> Duration {
        Duration::from_micros(self.latency_sum_us.checked_div(self.played).unwrap_or(0))
    }
}

#[derive(Debug, Clone)]
struct Packet {
    samples: Vec<i16>,
    arrival: Instant,
}

/// The buffer of one stream.
#[derive(Debug, Clone)]
pub struct JitterBuffer {
    cfg: JitterConfig,
    packets: BTreeMap<i64, Packet>,
    ssrc: Option<u32>,
    /// Highest extended timestamp seen (unwraps 32-bit timestamps).
    highest: Option<i64>,
    /// Arrival time and extended timestamp of the timeline's first packet.
    epoch: Option<(Instant, i64)>,
    /// Recent transits, in seconds relative to the epoch packet.
    transits: VecDeque<f64>,
    /// Playout time of timestamp `ts` is `epoch + (ts - epoch_ts) / 8000 + offset`.
    offset: f64,
    /// Timestamp of the next frame to play.
    play_ts: Option<i64>,
    plc: Concealer,
    /// Frames concealed since the last played one for want of their packet: counted as
    /// lost when audio resumes (a stream that ended or paused lost nothing).
    gap: u64,
    stats: JitterStats,
}

impl JitterBuffer {
    /// An empty buffer.
    pub fn new(cfg: JitterConfig) -> JitterBuffer {
        JitterBuffer {
            cfg,
            packets: BTreeMap::new(),
            ssrc: None,
            highest: None,
            epoch: None,
            transits: VecDeque::new(),
            offset: 0.0,
            play_ts: None,
            plc: Concealer::new(),
            gap: 0,
            stats: JitterStats::default(),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> JitterStats {
        let mut s = self.stats;
        let fastest = self.transits.iter().copied().fold(f64::INFINITY, f64::min);
        if fastest.is_finite() {
            s.target_delay = Duration::from_secs_f64((self.offset - fastest).max(0.0));
        }
        s
    }

    /// Frames' worth of audio waiting to be played.
    pub fn buffered(&self) -> usize {
        self.packets.len()
    }

    /// Forgets the stream (hold, new remote): the next packet starts a new timeline.
    pub fn reset(&mut self) {
        self.packets.clear();
        self.ssrc = None;
        self.highest = None;
        self.restart_timeline();
        self.plc.reset();
    }

    fn restart_timeline(&mut self) {
        self.epoch = None;
        self.transits.clear();
        self.offset = 0.0;
        self.play_ts = None;
        self.packets.clear();
        self.gap = 0;
    }

    /// One decoded audio packet of stream `ssrc` with RTP timestamp `timestamp`, arrived
    /// at `now`.
    pub fn push(&mut self, now: Instant, ssrc: u32, timestamp: u32, samples: Vec<i16>) {
        self.push_at(now, ssrc, timestamp, CLOCK_RATE, samples);
    }

    /// [`JitterBuffer::push`] for a stream whose RTP clock is `rtp_clock` (48000 for Opus)
    /// while its decoded `samples` are at 8 kHz: timestamps are scaled to the samples.
    pub fn push_at(
        &mut self,
        now: Instant,
        ssrc: u32,
        timestamp: u32,
        rtp_clock: u32,
        samples: Vec<i16>,
    ) {
        if samples.is_empty() || rtp_clock == 0 {
            return;
        }
        if self.ssrc != Some(ssrc) {
            if self.ssrc.is_some() {
                self.stats.resyncs += 1;
            }
            self.reset();
            self.ssrc = Some(ssrc);
        }
        let ext = match self.highest {
            None => i64::from(timestamp),
            Some(h) => h + i64::from(timestamp.wrapping_sub(h as u32) as i32),
        };
        self.highest = Some(self.highest.map_or(ext, |h| h.max(ext)));
        // In 8 kHz samples from here on (the extended value keeps the RTP clock).
        let ext = ext * i64::from(CLOCK_RATE) / i64::from(rtp_clock);
        let transit = match self.epoch {
            None => {
                self.epoch = Some((now, ext));
                0.0
            }
            Some((t0, ts0)) => secs_since(now, t0) - (ext - ts0) as f64 / f64::from(CLOCK_RATE),
        };
        if (transit - self.offset).abs() > RESYNC_AFTER.as_secs_f64() {
            self.stats.resyncs += 1;
            self.restart_timeline();
            self.epoch = Some((now, ext));
            self.push_transit(0.0);
        } else {
            self.push_transit(transit);
        }
        let len = samples.len() as i64;
        if self.play_ts.is_some_and(|p| ext + len <= p) {
            self.stats.late += 1;
            return;
        }
        if self.packets.contains_key(&ext) {
            self.stats.duplicates += 1;
            return;
        }
        self.packets.insert(
            ext,
            Packet {
                samples,
                arrival: now,
            },
        );
        self.stats.received += 1;
        while self.packets.len() > MAX_PACKETS {
            self.packets.pop_first();
            self.stats.overflow += 1;
        }
    }

    fn push_transit(&mut self, transit: f64) {
        self.transits.push_back(transit);
        while self.transits.len() > self.cfg.window.max(1) {
            self.transits.pop_front();
        }
        let mut sorted: Vec<f64> = self.transits.iter().copied().collect();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let q = self.cfg.quantile.clamp(0.5, 1.0);
        let idx = ((q * n as f64).ceil() as usize).clamp(1, n) - 1;
        let fastest = sorted[0];
        let wanted = sorted[idx] + self.cfg.margin.as_secs_f64();
        self.offset = wanted.min(fastest + self.cfg.max_delay.as_secs_f64());
    }

    /// The next 20 ms frame (`out` is [`FRAME_SAMPLES`] long) at playout time `now`.
    pub fn pop(&mut self, now: Instant, out: &mut [i16]) -> Playout {
        let f = FRAME_SAMPLES as i64;
        let Some((t0, ts0)) = self.epoch else {
            out.fill(0);
            return Playout::Silence;
        };
        let desired = ts0 as f64 + (secs_since(now, t0) - self.offset) * f64::from(CLOCK_RATE);
        let p = match self.play_ts {
            Some(p) => p,
            None => match self.packets.first_key_value() {
                Some((first, _)) if desired >= (*first - f / 2) as f64 => *first,
                _ => {
                    out.fill(0);
                    return Playout::Silence;
                }
            },
        };
        let diff = desired - p as f64;
        let mut p = p;
        if self.play_ts.is_some() && diff < -(f as f64) / 2.0 {
            // Playing ahead of the target delay: insert a frame.
            self.plc.conceal(out);
            self.stats.stretched += 1;
            self.stats.concealed += 1;
            return Playout::Concealed;
        }
        if self.play_ts.is_some() && diff > f as f64 {
            // Behind the target: drop a frame.
            p += f;
            self.stats.skipped += 1;
        }
        out.fill(0);
        let mut filled = false;
        let mut arrival = None;
        for (ts, pkt) in self.packets.range(p - MAX_PACKET_SAMPLES + 1..p + f) {
            let len = pkt.samples.len() as i64;
            let (from, to) = ((*ts).max(p), (*ts + len).min(p + f));
            if from >= to {
                continue;
            }
            for t in from..to {
                out[(t - p) as usize] = pkt.samples[(t - *ts) as usize];
            }
            filled = true;
            arrival.get_or_insert(pkt.arrival);
        }
        let end = p + f;
        self.packets
            .retain(|ts, pkt| *ts + pkt.samples.len() as i64 > end);
        self.play_ts = Some(end);
        if filled {
            self.plc.good(out);
            self.stats.played += 1;
            self.stats.lost += std::mem::take(&mut self.gap);
            if let Some(a) = arrival {
                let lat = now.saturating_duration_since(a);
                self.stats.latency_sum_us += lat.as_micros() as u64;
                self.stats.max_latency = self.stats.max_latency.max(lat);
            }
            Playout::Audio
        } else {
            self.plc.conceal(out);
            self.stats.concealed += 1;
            self.gap += 1;
            Playout::Concealed
        }
    }
}

fn secs_since(now: Instant, then: Instant) -> f64 {
    if now >= then {
        now.duration_since(then).as_secs_f64()
    } else {
        -then.duration_since(now).as_secs_f64()
    }
}

#[cfg(test)]
#[path = "jitter_tests.rs"]
mod tests;
