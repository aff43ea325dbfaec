//! The run: memory with 0 and N clients, latency rounds per client count, the slow client.

use crate::clients::{self, Client, Drained, Shared, SlowClient};
use crate::server::{self, Server};
use crate::sip::Phone;
use crate::stats::{self, Phase, Round};
use crate::{Args, ACCOUNT, MAX_SLOW_ROUNDS, SLOW_DRAIN_WITHIN, SLOW_USER_INDEX, WARMUP_LOGINS};
use anyhow::Result;
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// A round ends when every client saw its event, or after this.
const ROUND_WITHIN: Duration = Duration::from_secs(2);

/// One measured series of state changes.
#[derive(Debug, Default)]
pub(crate) struct Measured {
    pub(crate) phase: Phase,
    /// The same figures over the last `tail` rounds only, when asked.
    pub(crate) tail: Option<Phase>,
    pub(crate) wall: f64,
    pub(crate) server_cpu: f64,
    pub(crate) bench_cpu: f64,
    /// CPU seconds of every other process of the machine (other work disturbs the figures).
    pub(crate) other_cpu: f64,
}

/// Server RSS in KiB at the points of the run.
#[derive(Debug, Default)]
pub(crate) struct Memory {
    pub(crate) fresh: u64,
    pub(crate) warm: u64,
    pub(crate) half: (usize, u64),
    pub(crate) full: (usize, u64),
    pub(crate) end: u64,
    /// Logins per second while connecting the clients.
    pub(crate) login_rate: f64,
}

/// The slow-client experiment.
#[derive(Debug)]
pub(crate) struct Slow {
    pub(crate) with: usize,
    pub(crate) without: Measured,
    pub(crate) attached: Measured,
    pub(crate) after: Measured,
    pub(crate) dropped: bool,
    pub(crate) drained: Drained,
}

/// Everything the report prints.
#[derive(Debug)]
pub(crate) struct Results {
    pub(crate) phases: Vec<(usize, Measured)>,
    pub(crate) memory: Memory,
    pub(crate) slow: Option<Slow>,
    pub(crate) lost_clients: usize,
    pub(crate) warnings: u64,
    pub(crate) first_warnings: Vec<String>,
}

/// Changes the account's state round after round and collects what the clients saw.
struct Driver {
    phone: Phone,
    shared: Arc<Shared>,
    next: u32,
    registered: bool,
    gap: Duration,
}

impl Driver {
    async fn round(&mut self) -> Result<(u32, Round)> {
        self.next += 1;
        let id = self.next;
        let want = self.shared.begin_round(id);
        let on = !self.registered;
        let change = self.phone.set_registered(on).await?;
        self.registered = on;
        let got = self.shared.wait_round(change.sent + ROUND_WITHIN).await;
        tokio::time::sleep(self.gap).await;
        let round = Round {
            change,
            idle: on,
            want,
            got,
        };
        Ok((id, round))
    }

    /// Up to `max` rounds, stopping early once `stop` says so (checked after each round).
    async fn measure(
        &mut self,
        server: &Server,
        max: usize,
        tail: usize,
        stop: impl Fn() -> bool,
    ) -> Result<Measured> {
        self.shared.take_arrivals();
        let (t0, s0, b0) = (
            Instant::now(),
            server.cpu_seconds(),
            server::own_cpu_seconds(),
        );
        let m0 = server::machine_busy_seconds();
        let mut rounds = HashMap::new();
        for _ in 0..max {
            let (id, round) = self.round().await?;
            rounds.insert(id, round);
            if stop() {
                break;
            }
        }
        let arrivals = self.shared.take_arrivals();
        let tail = (tail > 0).then(|| {
            let from = self.next.saturating_sub(tail as u32);
            let mut last = rounds.clone();
            last.retain(|&id, _| id > from);
            let late: Vec<_> = arrivals
                .iter()
                .filter(|a| a.round > from)
                .copied()
                .collect();
            stats::phase(&last, &late)
        });
        let server_cpu = server.cpu_seconds() - s0;
        let bench_cpu = server::own_cpu_seconds() - b0;
        let machine = server::machine_busy_seconds() - m0;
        Ok(Measured {
            phase: stats::phase(&rounds, &arrivals),
            tail,
            wall: t0.elapsed().as_secs_f64(),
            server_cpu,
            bench_cpu,
            other_cpu: (machine - server_cpu - bench_cpu).max(0.0),
        })
    }
}

/// Runs the whole benchmark against a fresh server started from `exe`.
pub(crate) async fn run(args: &Args, exe: &Path) -> Result<Results> {
    let server = Server::start(exe, &args.server_env)?;
    let shared = Shared::new(ACCOUNT);
    let mut driver = Driver {
        phone: Phone::new(server.sip, ACCOUNT, &format!("demo{ACCOUNT}")).await?,
        shared: shared.clone(),
        next: 0,
        registered: false,
        gap: Duration::from_millis(args.gap_ms),
    };
    let settle = Duration::from_secs(args.settle_secs);
    let conc = args.login_concurrency;
    let mut counts = args.clients.clone();
    counts.sort_unstable_by(|a, b| b.cmp(a));
    counts.dedup();
    let max = counts.first().copied().unwrap_or(0);

    // Memory first, on a server that has seen nothing but logins.
    let mut memory = Memory::default();
    tokio::time::sleep(settle).await;
    memory.fresh = server.rss_kib()?;
    progress(format_args!("warming up with {WARMUP_LOGINS} logins"));
    drop(clients::connect_many(server.cti, &shared, 0, WARMUP_LOGINS, conc).await?);
    wait_live(&shared, 0).await;
    tokio::time::sleep(settle).await;
    memory.warm = server.rss_kib()?;
    let half = max / 2;
    let t0 = Instant::now();
    progress(format_args!("logging in {half} clients"));
    let mut list = clients::connect_many(server.cti, &shared, 0, half, conc).await?;
    let first_logins = t0.elapsed();
    tokio::time::sleep(settle).await;
    memory.half = (half, server.rss_kib()?);
    progress(format_args!("logging in {} more clients", max - half));
    let t1 = Instant::now();
    list.extend(clients::connect_many(server.cti, &shared, half, max - half, conc).await?);
    let login_secs = (first_logins + t1.elapsed()).as_secs_f64();
    memory.login_rate = max as f64 / login_secs.max(1e-9);
    tokio::time::sleep(settle).await;
    memory.full = (max, server.rss_kib()?);

    // Latency, from the most clients down, dropping clients between phases.
    let mut phases = Vec::new();
    for &n in &counts {
        resize(&mut list, n, &server, &shared, conc).await?;
        progress(format_args!(
            "{} state changes with {n} clients",
            args.rounds
        ));
        let m = driver.measure(&server, args.rounds, 0, || false).await?;
        phases.push((n, m));
    }
    phases.reverse();

    let slow = if args.slow_with > 0 {
        resize(&mut list, args.slow_with, &server, &shared, conc).await?;
        Some(slow_client(args, &server, &mut driver).await?)
    } else {
        None
    };

    drop(list);
    wait_live(&shared, 0).await;
    tokio::time::sleep(settle).await;
    memory.end = server.rss_kib()?;
    let first_warnings = server
        .log
        .first_warnings
        .lock()
        .map(|w| w.clone())
        .unwrap_or_default();
    Ok(Results {
        phases,
        memory,
        slow,
        lost_clients: shared.lost(),
        warnings: server.log.warnings.load(Ordering::Relaxed),
        first_warnings,
    })
}

async fn slow_client(args: &Args, server: &Server, driver: &mut Driver) -> Result<Slow> {
    let with = args.slow_with;
    progress(format_args!(
        "{} state changes with {with} clients, no slow client",
        args.rounds
    ));
    let without = driver.measure(server, args.rounds, 0, || false).await?;
    progress(format_args!(
        "adding a client that never reads; changing state until the server drops it"
    ));
    let drops = server.log.slow_drops.load(Ordering::Relaxed);
    let slow = SlowClient::connect(server.cti, SLOW_USER_INDEX, args.slow_recv_buffer).await?;
    let dropped = || server.log.slow_drops.load(Ordering::Relaxed) > drops;
    let attached = driver
        .measure(server, MAX_SLOW_ROUNDS, args.rounds, dropped)
        .await?;
    let was_dropped = dropped();
    // As many changes as with the slow client: a p99 over a longer run catches more of the
    // machine's hiccups, so equal lengths compare fairly.
    let control = attached.phase.rounds.max(args.rounds);
    progress(format_args!(
        "{control} state changes after the slow client was dropped"
    ));
    let after = driver.measure(server, control, 0, || false).await?;
    let drained = slow.drain(SLOW_DRAIN_WITHIN).await;
    Ok(Slow {
        with,
        without,
        attached,
        after,
        dropped: was_dropped,
        drained,
    })
}

/// Brings the reading clients to `n`: drops the newest, or logs more in.
async fn resize(
    list: &mut Vec<Client>,
    n: usize,
    server: &Server,
    shared: &Arc<Shared>,
    conc: usize,
) -> Result<()> {
    if list.len() > n {
        list.truncate(n);
    } else if list.len() < n {
        let more = n - list.len();
        progress(format_args!("logging in {more} clients"));
        list.extend(clients::connect_many(server.cti, shared, list.len(), more, conc).await?);
    }
    wait_live(shared, n).await;
    // Let the server finish detaching (presence fan-out) before measuring.
    tokio::time::sleep(Duration::from_secs(1)).await;
    Ok(())
}

/// Waits (briefly) until aborted client tasks are gone.
async fn wait_live(shared: &Shared, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while shared.live() > n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn progress(what: std::fmt::Arguments<'_>) {
    eprintln!("cti-bench: {what}");
}
