//! Softphone media figures (issue 5, acceptance 5), printed as `key value` lines for
//! bench/run.py:
//! - CPU per active call leg, G.711 µ-law and Opus: `CALLS` calls (two legs each, both in
//!   this process) run the phone's media loop — a 20 ms tick reading a tone source into
//!   `RtpSession::send_audio`, `playout` into a sink, datagrams over real loopback UDP
//!   sockets into `RtpSession::receive` — and the process CPU time is divided by legs and
//!   wall time;
//! - the jitter buffer's added latency (mean and max time from a packet's arrival to its
//!   playout, and its target) on clean loopback and with 5 % loss + 40 ms jitter emulated
//!   on the receiving side;
//! - memory: the process's resident set before any call and with one call up.
//!
//! Run: `cargo run --release -p cti-core --example softphone-bench -- [--quick]`.

use cti_core::media::codec::{AudioCodec, Encoding, FRAME, FRAME_SAMPLES};
use cti_core::media::device::{AudioSource, ToneSource};
use cti_core::media::jitter::{JitterConfig, JitterStats};
use cti_core::media::netem::{Impairment, Netem};
use cti_core::media::params::MediaParams;
use cti_core::media::session::RtpSession;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::sync::oneshot;
use tokio::time::{Instant, MissedTickBehavior};

/// utime + stime of this process, in seconds (from /proc; clock ticks of 10 ms).
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name (which may contain spaces) start at ") ".
    let Some(rest) = stat.rsplit_once(") ").map(|(_, r)| r) else {
        return 0.0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

/// Resident set size in KiB.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn params(to: SocketAddr, law: Encoding) -> MediaParams {
    MediaParams {
        remote: Some(to),
        codec: AudioCodec {
            law,
            pt: law.static_pt(),
        },
        dtmf_pt: None,
        send: true,
        recv: true,
    }
}

/// One call leg: the phone's media loop until `stop`, then its jitter figures.
async fn leg(
    socket: UdpSocket,
    peer: SocketAddr,
    law: Encoding,
    freq: f32,
    impairment: Option<Impairment>,
    stop: Arc<AtomicBool>,
    done: oneshot::Sender<JitterStats>,
) {
    let mut session = RtpSession::new(
        rand_u32(),
        rand_u32() as u16,
        rand_u32(),
        JitterConfig::default(),
    );
    session.set_params(Some(params(peer, law)));
    let mut source = ToneSource::new(freq, 8000);
    let mut netem = impairment.map(Netem::new);
    let mut tick = tokio::time::interval(FRAME);
    tick.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let mut mic = [0i16; FRAME_SAMPLES];
    let mut speaker = [0i16; FRAME_SAMPLES];
    let mut buf = vec![0u8; 2048];
    let far = Instant::now() + Duration::from_secs(86_400);
    while !stop.load(Ordering::Relaxed) {
        let release = netem
            .as_ref()
            .and_then(Netem::poll_timeout)
            .map_or(far, Instant::from_std);
        tokio::select! {
            _ = tick.tick() => {
                let now = Instant::now().into_std();
                source.read_frame(&mut mic);
                session.send_audio(now, &mic);
                session.playout(now, &mut speaker);
                std::hint::black_box(&speaker);
            }
            r = socket.recv_from(&mut buf) => {
                if let Ok((n, from)) = r {
                    let now = Instant::now().into_std();
                    let data = buf.get(..n).unwrap_or_default();
                    match netem.as_mut() {
                        Some(net) => net.push(now, from, data.to_vec()),
                        None => session.receive(now, from, data),
                    }
                }
            }
            _ = tokio::time::sleep_until(release) => {
                let now = Instant::now().into_std();
                if let Some(net) = netem.as_mut() {
                    while let Some((at, from, data)) = net.pop_due(now) {
                        session.receive(at, from, &data);
                    }
                }
            }
        }
        while let Some(t) = session.poll_transmit() {
            let _ = socket.send_to(&t.data, t.to).await;
        }
    }
    let _ = done.send(session.stats().jitter);
}

fn rand_u32() -> u32 {
    rand::random()
}

/// Runs `calls` calls (two legs each) for `secs`; returns (CPU s, the B legs' stats).
async fn run_calls(
    calls: usize,
    law: Encoding,
    secs: f64,
    impairment: Option<Impairment>,
) -> std::io::Result<(f64, Vec<JitterStats>)> {
    let stop = Arc::new(AtomicBool::new(false));
    let mut results = Vec::new();
    for _ in 0..calls {
        let a = UdpSocket::bind("127.0.0.1:0").await?;
        let b = UdpSocket::bind("127.0.0.1:0").await?;
        let (pa, pb) = (a.local_addr()?, b.local_addr()?);
        let (ta, _ra) = oneshot::channel();
        let (tb, rb) = oneshot::channel();
        tokio::spawn(leg(a, pb, law, 1000.0, None, stop.clone(), ta));
        tokio::spawn(leg(b, pa, law, 2000.0, impairment, stop.clone(), tb));
        results.push(rb);
    }
    // Let the jitter buffers settle before measuring.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let cpu0 = cpu_seconds();
    let t0 = std::time::Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    let cpu = cpu_seconds() - cpu0;
    let wall = t0.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let mut stats = Vec::new();
    for r in results {
        if let Ok(s) = r.await {
            stats.push(s);
        }
    }
    Ok((cpu / wall, stats))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn jitter_line(name: &str, stats: &[JitterStats]) {
    let n = stats.len().max(1) as f64;
    let mean = stats.iter().map(|s| ms(s.mean_latency())).sum::<f64>() / n;
    let max = stats.iter().map(|s| ms(s.max_latency)).fold(0.0, f64::max);
    let target = stats.iter().map(|s| ms(s.target_delay)).sum::<f64>() / n;
    let lost: u64 = stats.iter().map(|s| s.lost).sum();
    let late: u64 = stats.iter().map(|s| s.late).sum();
    println!("jitter_{name}_mean_ms {mean:.1}");
    println!("jitter_{name}_max_ms {max:.1}");
    println!("jitter_{name}_target_ms {target:.1}");
    println!("jitter_{name}_lost_late {lost}/{late}");
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> std::io::Result<()> {
    let quick = std::env::args().any(|a| a == "--quick");
    let secs = if quick { 4.0 } else { 10.0 };
    let calls = 10;

    let idle = rss_kib();
    let (_, _) = run_calls(1, Encoding::Pcmu, 0.5, None).await?;
    // Measured while one call (both legs, here in one process) is up.
    let stop_probe = tokio::spawn(run_calls(1, Encoding::Opus, 2.0, None));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let with_call = rss_kib();
    let _ = stop_probe.await;
    println!("rss_idle_kib {idle}");
    println!("rss_one_call_kib {with_call}");

    for (name, law) in [("pcmu", Encoding::Pcmu), ("opus", Encoding::Opus)] {
        let (cores, stats) = run_calls(calls, law, secs, None).await?;
        let per_leg = 100.0 * cores / (2 * calls) as f64;
        println!("cpu_per_leg_{name}_pct {per_leg:.3}");
        jitter_line(&format!("clean_{name}"), &stats);
    }
    let bad = Impairment {
        loss: 0.05,
        jitter: Duration::from_millis(40),
        seed: 42,
    };
    let (_, stats) = run_calls(calls, Encoding::Pcmu, secs, Some(bad)).await?;
    jitter_line("loss5_jitter40", &stats);
    Ok(())
}
