//! cti-bench: how fast a SIP state change reaches CTI clients, what a client costs the
//! server, and whether one slow client hurts the others (issue 3, acceptance 6).
//!
//! The bench starts its own `pbx-server` (demo data, loopback, free ports), registers and
//! unregisters account 202 over UDP with digest auth, and timestamps the `lamp` event of 202 as
//! it arrives at each of 1, 100 and 1,000 logged-in TCP clients. All clients read on one
//! thread, so the bench takes at most one of the machine's cores. It prints figures; it never
//! judges them.

mod clients;
mod driver;
mod report;
mod server;
mod sip;
mod stats;

use anyhow::{Context, Result};
use clap::Parser;
use std::path::PathBuf;
use std::time::Duration;

/// The account (and extension) whose state the bench changes.
const ACCOUNT: &str = "202";
/// Logins and logouts done before the 0-client RSS is read, so that the allocator's arenas
/// touched by argon2 verification count in the baseline, not against the clients.
const WARMUP_LOGINS: usize = 100;
/// Demo user of the slow client (any works: every user sees every lamp).
const SLOW_USER_INDEX: usize = 7;
/// State changes tried before concluding that the slow client is never dropped.
const MAX_SLOW_ROUNDS: usize = 20_000;
/// How long the slow client waits for the end of its stream once it starts reading.
const SLOW_DRAIN_WITHIN: Duration = Duration::from_secs(15);

/// Measures the CTI stream of a pbx-server: lamp event latency with 1-1,000 clients,
/// server memory per client, and one slow client beside 100 normal ones.
#[derive(Debug, Parser)]
#[command(version)]
pub(crate) struct Args {
    /// The pbx-server binary (use a release build); default: the one next to this program.
    #[arg(long)]
    pbx: Option<PathBuf>,
    /// State changes measured per client count.
    #[arg(long, default_value_t = 200)]
    rounds: usize,
    /// Client counts to measure, comma-separated; the largest is also used for memory.
    #[arg(long, value_delimiter = ',', default_value = "1,100,1000")]
    clients: Vec<usize>,
    /// Pause after every client saw a change, before the next change.
    #[arg(long, default_value_t = 5)]
    gap_ms: u64,
    /// Logins in flight at once (each costs the server one argon2 verification).
    #[arg(long, default_value_t = 4)]
    login_concurrency: usize,
    /// Seconds to let the server settle before reading its RSS.
    #[arg(long, default_value_t = 3)]
    settle_secs: u64,
    /// Normal clients beside the slow one; 0 skips the slow-client part.
    #[arg(long, default_value_t = 100)]
    slow_with: usize,
    /// Receive buffer of the slow client's socket, bytes (small, so its queue fills sooner).
    #[arg(long, default_value_t = 4096)]
    slow_recv_buffer: u32,
    /// Extra environment for the server, KEY=VALUE, repeatable (e.g. MALLOC_MMAP_THRESHOLD_=131072).
    #[arg(long, value_parser = parse_env)]
    server_env: Vec<(String, String)>,
}

fn parse_env(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("expected KEY=VALUE, got {s:?}"))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let args = Args::parse();
    let exe = match &args.pbx {
        Some(p) => p.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("no folder around this program")?
            .join("pbx-server"),
    };
    if !exe.exists() {
        anyhow::bail!(
            "{} not found: build it with `cargo build --release -p pbx-server`, or pass --pbx",
            exe.display()
        );
    }
    let results = driver::run(&args, &exe).await?;
    report::print(&args, &results);
    Ok(())
}
