//! The CTI side: clients that log in over TCP and timestamp the lamp events of the watched
//! extension as their bytes arrive, and one slow client that never reads.
//!
//! Reading is kept cheap on purpose (the bench shares two cores with the server): no JSON
//! parsing, one substring search over each chunk read, one clock read per chunk.

use anyhow::{bail, Context, Result};
use memchr::memmem::Finder;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::Notify;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

/// Demo users 201–208, password `demo<number>`; clients take them in turn.
const FIRST_USER: usize = 201;
const USERS: usize = 8;
/// The server disconnects a client silent for 90 s; events flowing to it do not count.
const PING_EVERY: Duration = Duration::from_secs(20);
const PING: &[u8] = b"{\"type\":\"ping\"}\n";
/// Room made in the read buffer before each read.
const READ_CHUNK: usize = 16 * 1024;
/// Argon2 verification of 1,000 logins takes a while on two cores.
const LOGIN_WITHIN: Duration = Duration::from_secs(120);

/// One lamp event of the watched extension at one client.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Arrival {
    /// The round that was current when it arrived.
    pub(crate) round: u32,
    /// When the read that carried it returned.
    pub(crate) at: Instant,
    /// `idle` (else `unavailable`).
    pub(crate) idle: bool,
}

/// State shared by the clients and the round driver (all on one thread).
pub(crate) struct Shared {
    pattern: Finder<'static>,
    round: AtomicU32,
    got: AtomicUsize,
    want: AtomicUsize,
    done: Notify,
    live: AtomicUsize,
    lost: AtomicUsize,
    arrivals: Mutex<Vec<Arrival>>,
}

impl Shared {
    /// Watches the lamp events of `extension`.
    pub(crate) fn new(extension: &str) -> Arc<Shared> {
        // Field order of `Event::Lamp` as serde writes it (shared-protocol/src/messages.rs).
        let pattern = format!(r#""kind":"lamp","extension":"{extension}","lamp":""#);
        Arc::new(Shared {
            pattern: Finder::new(pattern.as_bytes()).into_owned(),
            round: AtomicU32::new(0),
            got: AtomicUsize::new(0),
            want: AtomicUsize::new(usize::MAX),
            done: Notify::new(),
            live: AtomicUsize::new(0),
            lost: AtomicUsize::new(0),
            arrivals: Mutex::new(Vec::new()),
        })
    }

    /// Starts round `round`: it is complete when every live client saw its event.
    pub(crate) fn begin_round(&self, round: u32) -> usize {
        let want = self.live.load(Ordering::Relaxed);
        self.got.store(0, Ordering::Relaxed);
        self.want.store(want, Ordering::Relaxed);
        self.round.store(round, Ordering::Relaxed);
        want
    }

    /// Waits until the round is complete or `deadline`; returns how many clients saw it.
    pub(crate) async fn wait_round(&self, deadline: Instant) -> usize {
        loop {
            let got = self.got.load(Ordering::Relaxed);
            if got >= self.want.load(Ordering::Relaxed) {
                return got;
            }
            // A permit left by an earlier round only costs one more turn of the loop.
            if tokio::time::timeout_at(deadline, self.done.notified())
                .await
                .is_err()
            {
                return self.got.load(Ordering::Relaxed);
            }
        }
    }

    /// The arrivals recorded since the last call.
    pub(crate) fn take_arrivals(&self) -> Vec<Arrival> {
        self.arrivals
            .lock()
            .map(|mut a| std::mem::take(&mut *a))
            .unwrap_or_default()
    }

    /// Clients connected and reading.
    pub(crate) fn live(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }

    /// Clients whose connection ended without the bench closing it.
    pub(crate) fn lost(&self) -> usize {
        self.lost.load(Ordering::Relaxed)
    }

    /// Records the watched lamp events among the complete lines of `buf`, then drops them.
    fn scan(&self, buf: &mut Vec<u8>, at: Instant) {
        let Some(end) = memchr::memrchr(b'\n', buf) else {
            return;
        };
        let lines = &buf[..end];
        for pos in self.pattern.find_iter(lines) {
            let value = &lines[pos + self.pattern.needle().len()..];
            let idle = value.starts_with(b"idle\"");
            if !idle && !value.starts_with(b"unavailable\"") {
                continue;
            }
            let round = self.round.load(Ordering::Relaxed);
            if let Ok(mut a) = self.arrivals.lock() {
                a.push(Arrival { round, at, idle });
            }
            let got = self.got.fetch_add(1, Ordering::Relaxed) + 1;
            if got == self.want.load(Ordering::Relaxed) {
                self.done.notify_one();
            }
        }
        buf.drain(..=end);
    }
}

/// A reading client; dropping it closes its connection.
pub(crate) struct Client(JoinHandle<()>);

impl Drop for Client {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Counts a client as live while its task exists (an abort drops the guard too).
struct LiveGuard(Arc<Shared>);

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.0.live.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The credentials of the `index`-th client.
fn user_of(index: usize) -> (String, String) {
    let n = FIRST_USER + index % USERS;
    (n.to_string(), format!("demo{n}"))
}

/// Logs in `count` more clients (numbered from `first`), `concurrency` logins at a time.
pub(crate) async fn connect_many(
    addr: SocketAddr,
    shared: &Arc<Shared>,
    first: usize,
    count: usize,
    concurrency: usize,
) -> Result<Vec<Client>> {
    let mut out = Vec::with_capacity(count);
    let mut pending = JoinSet::new();
    let mut next = first;
    while out.len() < count {
        while pending.len() < concurrency.max(1) && next < first + count {
            let (user, password) = user_of(next);
            let shared = shared.clone();
            pending.spawn(async move { connect(addr, &user, &password, shared).await });
            next += 1;
        }
        match pending.join_next().await {
            Some(joined) => out.push(joined??),
            None => break,
        }
    }
    Ok(out)
}

/// Logs one reading client in.
pub(crate) async fn connect(
    addr: SocketAddr,
    user: &str,
    password: &str,
    shared: Arc<Shared>,
) -> Result<Client> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (stream, buf) = login(stream, user, password).await?;
    shared.live.fetch_add(1, Ordering::Relaxed);
    let guard = LiveGuard(shared);
    Ok(Client(tokio::spawn(follow(stream, buf, guard))))
}

async fn follow(stream: TcpStream, mut buf: Vec<u8>, guard: LiveGuard) {
    let shared = &guard.0;
    let (mut rd, mut wr) = stream.into_split();
    let mut ping = tokio::time::interval_at(Instant::now() + PING_EVERY, PING_EVERY);
    shared.scan(&mut buf, Instant::now());
    loop {
        buf.reserve(READ_CHUNK);
        tokio::select! {
            r = rd.read_buf(&mut buf) => {
                let at = Instant::now();
                match r {
                    Ok(n) if n > 0 => shared.scan(&mut buf, at),
                    _ => break,
                }
            }
            _ = ping.tick() => {
                if wr.write_all(PING).await.is_err() {
                    break;
                }
            }
        }
    }
    shared.lost.fetch_add(1, Ordering::Relaxed);
}

/// Sends `login` and reads up to the snapshot; returns the bytes read after it.
async fn login(mut stream: TcpStream, user: &str, password: &str) -> Result<(TcpStream, Vec<u8>)> {
    let frame = format!("{{\"type\":\"login\",\"user\":\"{user}\",\"password\":\"{password}\"}}\n");
    stream.write_all(frame.as_bytes()).await?;
    let mut buf = Vec::with_capacity(READ_CHUNK);
    let deadline = Instant::now() + LOGIN_WITHIN;
    loop {
        if let Some(nl) = memchr::memchr(b'\n', &buf) {
            let line: Vec<u8> = buf.drain(..=nl).collect();
            if line.starts_with(b"{\"type\":\"snapshot\"") {
                return Ok((stream, buf));
            }
            if line.starts_with(b"{\"type\":\"error\"") {
                bail!(
                    "login of {user} refused: {}",
                    String::from_utf8_lossy(&line)
                );
            }
            continue;
        }
        buf.reserve(READ_CHUNK);
        let n = tokio::time::timeout_at(deadline, stream.read_buf(&mut buf))
            .await
            .context("no snapshot after login")??;
        if n == 0 {
            bail!("connection closed during the login of {user}");
        }
    }
}

/// A client that logs in, reads its snapshot, then leaves its socket alone.
pub(crate) struct SlowClient {
    stream: TcpStream,
    leftover: usize,
}

/// What a slow client finds once it finally reads.
#[derive(Debug)]
pub(crate) struct Drained {
    /// Complete frames read.
    pub(crate) frames: usize,
    /// Bytes read.
    pub(crate) bytes: usize,
    /// The server had closed the connection (EOF or reset), rather than the wait timing out.
    pub(crate) closed: bool,
}

impl SlowClient {
    /// Logs in with a small receive buffer, so that its queue on the server fills sooner.
    pub(crate) async fn connect(addr: SocketAddr, index: usize, recv_buffer: u32) -> Result<Self> {
        let socket = TcpSocket::new_v4()?;
        socket.set_recv_buffer_size(recv_buffer)?;
        let stream = socket.connect(addr).await?;
        let (user, password) = user_of(index);
        let (stream, buf) = login(stream, &user, &password).await?;
        Ok(SlowClient {
            stream,
            leftover: buf.len(),
        })
    }

    /// Reads everything until the server closes the connection or `within` passes.
    pub(crate) async fn drain(mut self, within: Duration) -> Drained {
        let deadline = Instant::now() + within;
        let mut buf = vec![0u8; 64 * 1024];
        let mut out = Drained {
            frames: 0,
            bytes: self.leftover,
            closed: false,
        };
        loop {
            match tokio::time::timeout_at(deadline, self.stream.read(&mut buf)).await {
                Err(_) => return out,
                Ok(Ok(0)) | Ok(Err(_)) => {
                    out.closed = true;
                    return out;
                }
                Ok(Ok(n)) => {
                    out.bytes += n;
                    out.frames += memchr::memchr_iter(b'\n', &buf[..n]).count();
                }
            }
        }
    }
}
