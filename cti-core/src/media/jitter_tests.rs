use super::*;
use media_core::{detect_tone, ToneGenerator};

/// A deterministic xorshift generator (tests must not depend on a seedless RNG).
struct Rng(u32);

impl Rng {
    fn next(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        self.0
    }
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        f64::from(self.next()) / (f64::from(u32::MAX) + 1.0)
    }
}

struct Network {
    loss: f64,
    jitter: Duration,
    base_delay: Duration,
    seed: u32,
}

struct Run {
    frames: Vec<(Playout, Vec<i16>)>,
    stats: JitterStats,
    sent_lost: usize,
}

/// Sends `n` 20 ms packets of a 1 kHz tone through `net` (timestamps starting just before
/// the 32-bit wrap) and plays them with a 20 ms clock whose phase is unrelated to the
/// sender's.
fn run(n: usize, net: &Network, cfg: JitterConfig) -> Run {
    let t0 = Instant::now();
    let mut rng = Rng(net.seed);
    let mut tone = ToneGenerator::new(1000.0, 8000);
    let mut arrivals = Vec::new();
    let mut sent_lost = 0;
    for i in 0..n {
        let samples = tone.frame(FRAME_SAMPLES);
        if rng.unit() < net.loss {
            sent_lost += 1;
            continue;
        }
        let sent = t0 + Duration::from_millis(20 * i as u64);
        let delay = net.base_delay + net.jitter.mul_f64(rng.unit());
        let ts = 0xffff_f000u32.wrapping_add(160 * i as u32);
        arrivals.push((sent + delay, ts, samples));
    }
    arrivals.sort_by_key(|a| a.0);
    let mut jb = JitterBuffer::new(cfg);
    let mut frames = Vec::new();
    let mut next = arrivals.into_iter().peekable();
    for k in 0..n + 30 {
        let tick = t0 + Duration::from_millis(7 + 20 * k as u64);
        while let Some((at, ts, s)) = next.next_if(|a| a.0 <= tick) {
            jb.push(at, 0x1234, ts, s);
        }
        let mut out = vec![0; FRAME_SAMPLES];
        let kind = jb.pop(tick, &mut out);
        frames.push((kind, out));
    }
    Run {
        frames,
        stats: jb.stats(),
        sent_lost,
    }
}

fn tone_share(frames: &[(Playout, Vec<i16>)]) -> f64 {
    let hits = frames
        .iter()
        .filter(|(_, f)| detect_tone(f, &[1000.0, 2000.0]) == Some(1000.0))
        .count();
    hits as f64 / frames.len().max(1) as f64
}

#[test]
fn a_clean_network_plays_everything_with_little_delay() {
    let net = Network {
        loss: 0.0,
        jitter: Duration::ZERO,
        base_delay: Duration::from_millis(30),
        seed: 1,
    };
    let r = run(500, &net, JitterConfig::default());
    let s = r.stats;
    assert_eq!(s.received, 500);
    assert_eq!(s.played, 500, "{s:?}");
    assert_eq!(s.late + s.lost + s.skipped + s.stretched, 0, "{s:?}");
    assert!(s.mean_latency() <= Duration::from_millis(30), "{s:?}");
    // Every frame between the first and the last played one is the tone.
    let body: Vec<_> = r
        .frames
        .iter()
        .skip_while(|(k, _)| *k == Playout::Silence)
        .take(500)
        .cloned()
        .collect();
    assert!(body.iter().all(|(k, _)| *k == Playout::Audio));
    assert_eq!(tone_share(&body), 1.0);
}

#[test]
fn five_percent_loss_and_40ms_jitter_keep_the_tone_and_report_the_delay() {
    let net = Network {
        loss: 0.05,
        jitter: Duration::from_millis(40),
        base_delay: Duration::from_millis(20),
        seed: 0x5eed,
    };
    let r = run(3000, &net, JitterConfig::default());
    let s = r.stats;
    eprintln!(
        "jitter buffer, 5% loss + 40 ms jitter over 60 s: mean added latency {:?}, max {:?}, \
         target {:?}; lost {} of 3000 sent, concealed {}, late {}, skipped {}, stretched {}",
        s.mean_latency(),
        s.max_latency,
        s.target_delay,
        r.sent_lost,
        s.concealed,
        s.late,
        s.skipped,
        s.stretched
    );
    // After a one-second warm-up the tone is there in nearly every frame: the losses are
    // concealed by repetition.
    let body = &r.frames[50..3000];
    assert!(tone_share(body) > 0.97, "{}", tone_share(body));
    // The delay adapted to the jitter: few late packets, a bounded latency.
    assert!(s.late as f64 <= 0.02 * 3000.0, "{s:?}");
    assert!(
        s.mean_latency() > Duration::from_millis(10)
            && s.mean_latency() < Duration::from_millis(70),
        "{s:?}"
    );
    assert!(s.target_delay >= Duration::from_millis(30), "{s:?}");
    assert!(s.target_delay <= Duration::from_millis(60), "{s:?}");
    assert!(s.lost as usize >= r.sent_lost * 9 / 10, "{s:?}");
}

#[test]
fn reordered_packets_are_put_back_in_order() {
    // Every pair swapped: odd packet i arrives 5 ms before even packet i - 1.
    let t0 = Instant::now();
    let mut arrivals: Vec<(Instant, u32)> = (0..400u32)
        .map(|i| {
            let late = if i % 2 == 0 { 25 } else { 0 };
            (t0 + Duration::from_millis(u64::from(20 * i + late)), i)
        })
        .collect();
    arrivals.sort();
    let mut jb = JitterBuffer::new(JitterConfig::default());
    let mut out = vec![0; FRAME_SAMPLES];
    let mut played = Vec::new();
    let mut next = arrivals.into_iter().peekable();
    for k in 0..420u64 {
        let tick = t0 + Duration::from_millis(20 * k + 5);
        while let Some((at, i)) = next.next_if(|a| a.0 <= tick) {
            jb.push(at, 1, 160 * i, vec![i as i16 + 1; FRAME_SAMPLES]);
        }
        if jb.pop(tick, &mut out) == Playout::Audio {
            played.push(out[FRAME_SAMPLES - 1]);
        }
    }
    let s = jb.stats();
    assert!(s.late <= 2, "{s:?}");
    assert!(played.windows(2).all(|w| w[0] < w[1]), "{played:?}");
    assert!(played.len() >= 395, "{s:?}");
}

#[test]
fn the_delay_shrinks_when_the_jitter_goes_away() {
    let t0 = Instant::now();
    let mut rng = Rng(99);
    let mut jb = JitterBuffer::new(JitterConfig::default());
    let mut out = vec![0; FRAME_SAMPLES];
    let mut arrivals = Vec::new();
    for i in 0..600u64 {
        // 4 s with up to 80 ms of jitter, then 8 s of a clean network.
        let jitter = if i < 200 { 80.0 * rng.unit() } else { 0.0 };
        let at = t0 + Duration::from_millis(20 * i) + Duration::from_secs_f64(jitter / 1000.0);
        arrivals.push((at, i as u32));
    }
    arrivals.sort();
    let mut next = arrivals.into_iter().peekable();
    let mut target_after_jitter = Duration::ZERO;
    for k in 0..620u64 {
        let tick = t0 + Duration::from_millis(20 * k + 3);
        while let Some((at, i)) = next.next_if(|a| a.0 <= tick) {
            jb.push(at, 7, 160 * i, vec![100; FRAME_SAMPLES]);
        }
        jb.pop(tick, &mut out);
        if k == 200 {
            target_after_jitter = jb.stats().target_delay;
        }
    }
    let s = jb.stats();
    assert!(
        target_after_jitter >= Duration::from_millis(60),
        "{target_after_jitter:?}"
    );
    assert!(s.target_delay <= Duration::from_millis(15), "{s:?}");
    assert!(s.skipped >= 2, "{s:?}");
}

#[test]
fn a_new_ssrc_or_a_timestamp_jump_starts_a_new_timeline() {
    let t0 = Instant::now();
    let mut jb = JitterBuffer::new(JitterConfig::default());
    let mut out = vec![0; FRAME_SAMPLES];
    let tick = |k: u64| t0 + Duration::from_millis(20 * k + 1);
    for k in 0..20u64 {
        jb.push(tick(k), 1, 160 * k as u32, vec![10; FRAME_SAMPLES]);
        jb.pop(tick(k), &mut out);
    }
    assert_eq!(out[100], 10);
    // Another source, unrelated timestamps: plays at once.
    for k in 20..40u64 {
        jb.push(
            tick(k),
            2,
            999_000 + 160 * k as u32,
            vec![20; FRAME_SAMPLES],
        );
        jb.pop(tick(k), &mut out);
    }
    assert_eq!(out[100], 20);
    // Same source jumping 10 s ahead (a sender restarted its clock).
    for k in 40..60u64 {
        jb.push(
            tick(k),
            2,
            90_000_000 + 160 * k as u32,
            vec![30; FRAME_SAMPLES],
        );
        jb.pop(tick(k), &mut out);
    }
    assert_eq!(out[100], 30);
    let s = jb.stats();
    assert_eq!(s.resyncs, 2, "{s:?}");
    assert!(s.concealed <= 4, "{s:?}");
}

#[test]
fn duplicates_late_packets_and_floods_are_bounded() {
    let t0 = Instant::now();
    let mut jb = JitterBuffer::new(JitterConfig::default());
    let mut out = vec![0; FRAME_SAMPLES];
    jb.push(t0, 1, 0, vec![1; FRAME_SAMPLES]);
    jb.push(t0, 1, 0, vec![1; FRAME_SAMPLES]);
    assert_eq!(jb.stats().duplicates, 1);
    assert_eq!(jb.pop(t0, &mut out), Playout::Audio);
    jb.push(t0 + Duration::from_millis(1), 1, 0, vec![1; FRAME_SAMPLES]);
    assert_eq!(jb.stats().late, 1);
    // A burst of 500 packets at once keeps at most 100.
    for i in 1..=500u32 {
        jb.push(
            t0 + Duration::from_millis(2),
            1,
            160 * i,
            vec![2; FRAME_SAMPLES],
        );
    }
    assert!(jb.buffered() <= 100);
    assert!(jb.stats().overflow > 0);
    // Empty packets are ignored; popping before anything arrived is silence.
    let mut fresh = JitterBuffer::new(JitterConfig::default());
    fresh.push(t0, 1, 0, Vec::new());
    assert_eq!(fresh.pop(t0, &mut out), Playout::Silence);
}
