//! The printed figures.

use crate::driver::{Measured, Results};
use crate::stats::Summary;
use crate::{Args, ACCOUNT};

/// Prints the results on stdout.
pub(crate) fn print(args: &Args, r: &Results) {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!();
    println!("CTI event latency: REGISTER / unregister of {ACCOUNT} over UDP -> `lamp` event of {ACCOUNT} at each TCP client");
    println!(
        "  {} state changes per row, the next {} ms after every client saw the previous one.",
        args.rounds, args.gap_ms
    );
    println!(
        "  Latency = the read that brought the event at the client - the send of the authenticated"
    );
    println!("  REGISTER that changed the state; 'from 200 OK' counts from its answer at the bench instead");
    println!("  (negative: the event arrived before the bench read the 200 OK). Spread = last client - first");
    println!("  client per change. SIP = REGISTER -> 200 OK at the bench. CPU in % of one core during the row:");
    println!("  the server, this bench, and every other process of the machine (other work skews the row).");
    println!("  Times in ms.");
    println!();
    println!(
        "{:>8} {:>8} {:>8} {:>8} {:>8} | {:>17} | {:>17} | {:>6} | {:>8} | {:>20}",
        "clients",
        "events",
        "p50",
        "p99",
        "max",
        "from 200 OK p50/99",
        "spread p50/p99",
        "missed",
        "SIP p50",
        "CPU % srv/bench/other"
    );
    for (n, m) in &r.phases {
        row(&n.to_string(), m);
    }
    if let Some(s) = &r.slow {
        println!();
        println!(
            "Slow client: {} normal clients, plus one that logs in (receive buffer {} bytes) and never reads.",
            s.with, args.slow_recv_buffer
        );
        row("without", &s.without);
        row("with", &s.attached);
        if let Some(tail) = &s.attached.tail {
            let m = Measured {
                phase: *tail,
                ..Measured::default()
            };
            row("w/ last", &m);
        }
        row("after", &s.after);
        println!(
            "  without = {} changes before it connected; with = the {} changes from its login until the server",
            s.without.phase.rounds, s.attached.phase.rounds
        );
        println!(
            "  dropped it (w/ last = the last {} of them, its queue nearly full; CPU not split); after = {} changes",
            s.attached.tail.as_ref().map_or(0, |t| t.rounds),
            s.after.phase.rounds
        );
        println!("  after the drop, as many as 'with' so that the two p99 cover runs of the same length.");
        for (label, m) in [("with", &s.attached), ("after", &s.after)] {
            println!(
                "  Slowest change {label}: #{} of {}, {:.2} ms to its last client.",
                m.phase.worst.0, m.phase.rounds, m.phase.worst.1
            );
        }
        if s.dropped {
            println!(
                "  The server dropped the slow client after {} state changes (log: \"cti client too slow\").",
                s.attached.phase.rounds
            );
        } else {
            println!(
                "  The server did NOT drop the slow client within {} state changes.",
                s.attached.phase.rounds
            );
        }
        let d = &s.drained;
        println!(
            "  Reading at last, the slow client got {} frames ({} KiB) and then {}.",
            d.frames,
            d.bytes / 1024,
            if d.closed {
                "end of stream (the server had closed it)"
            } else {
                "nothing more: the connection was still open"
            }
        );
    }
    let m = &r.memory;
    let mib = |k: u64| k as f64 / 1024.0;
    let per = |a: u64, b: u64, n: usize| (b as f64 - a as f64) / n.max(1) as f64;
    println!();
    println!("pbx-server memory (VmRSS):");
    println!(
        "  fresh {:.1} MiB; 0 clients after {} logins/logouts {:.1} MiB; {} clients {:.1} MiB; {} clients {:.1} MiB; all gone at the end {:.1} MiB",
        mib(m.fresh),
        crate::WARMUP_LOGINS,
        mib(m.warm),
        m.half.0,
        mib(m.half.1),
        m.full.0,
        mib(m.full.1),
        mib(m.end)
    );
    println!(
        "  per connected client: {:.1} KiB (({} clients - 0) / {}); marginal {:.1} KiB (({} - {}) / {}); logins {:.0}/s",
        per(m.warm, m.full.1, m.full.0),
        m.full.0,
        m.full.0,
        per(m.half.1, m.full.1, m.full.0 - m.half.0),
        m.full.0,
        m.half.0,
        m.full.0 - m.half.0,
        m.login_rate
    );
    println!();
    println!(
        "Caveat: the bench shares the machine ({cores} cores) with the server. Its clients read on one thread"
    );
    println!("  (one core at most), so with many clients part of the latency and of the spread is the bench");
    println!("  reading its own sockets; compare the bench's CPU with the server's above. Runs on a busy");
    println!("  machine (high 'other' CPU) vary by 2x at p99; compare rows of the same run.");
    if r.lost_clients > 0 {
        println!(
            "  {} normal client connections ended without the bench closing them.",
            r.lost_clients
        );
    }
    if r.warnings > 0 {
        println!(
            "  The server logged {} other warnings/errors; the first:",
            r.warnings
        );
        for w in &r.first_warnings {
            println!("    {w}");
        }
    }
}

fn row(label: &str, m: &Measured) {
    let p = &m.phase;
    let s: &Summary = &p.from_send;
    let cpu = if m.wall > 0.0 {
        format!(
            "{:>6.0} {:>6.0} {:>6.0}",
            100.0 * m.server_cpu / m.wall,
            100.0 * m.bench_cpu / m.wall,
            100.0 * m.other_cpu / m.wall
        )
    } else {
        "-".to_string()
    };
    let stray = if p.stray > 0 {
        format!(" ({} stray)", p.stray)
    } else {
        String::new()
    };
    println!(
        "{:>8} {:>8} {:>8.2} {:>8.2} {:>8.2} | {:>8.2} {:>8.2} | {:>8.2} {:>8.2} | {:>6} | {:>8.2} | {:>20}{}",
        label,
        s.n,
        s.p50,
        s.p99,
        s.max,
        p.from_ok.p50,
        p.from_ok.p99,
        p.spread.p50,
        p.spread.p99,
        p.missed,
        p.sip_rtt.p50,
        cpu,
        stray
    );
}
