//! The media relay's I/O shell: two UDP sockets per call, one tokio task each call,
//! the forwarding decisions made by `media_core::relay::Relay`. Key presses (RFC 4733) that
//! a party sends are reported to the call engine for the in-call services (`*4`, `#4`, `#8`).

use media_core::dtmf::DtmfDetector;
use media_core::music::MusicPlayer;
use media_core::relay::{LegSide, Relay};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

/// Counters shown on `/metrics` and used by the benchmarks.
#[derive(Debug, Default)]
pub struct MediaMetrics {
    /// RTP/RTCP packets forwarded.
    pub packets: AtomicU64,
    /// Bytes forwarded.
    pub bytes: AtomicU64,
    /// Relays currently running.
    pub active: AtomicU64,
}

enum Ctl {
    Signalled(LegSide, Option<SocketAddr>),
    Play(MusicPlayer),
    StopPlaying,
    Stop,
}

/// How often the music sends a packet.
const PACKET_TIME: std::time::Duration = std::time::Duration::from_millis(20);

/// A key a party pressed during a call, as RFC 4733 telephone events reached the relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayDigit {
    /// The relay it came through ([`RelayHandle::id`]).
    pub relay: u64,
    /// The relay leg whose party pressed it.
    pub side: LegSide,
    /// '0'-'9', '*', '#', 'A'-'D'.
    pub digit: char,
}

/// A running relay; dropping it stops the task.
#[derive(Debug)]
pub struct RelayHandle {
    /// Unique among the relays of this server's life (key of its [`RelayDigit`]s).
    pub id: u64,
    /// Port the A leg (caller) sends to.
    pub port_a: u16,
    /// Port the B legs (callees) send to.
    pub port_b: u16,
    ctl: mpsc::UnboundedSender<Ctl>,
}

impl RelayHandle {
    /// Updates the address a leg signalled in SDP.
    pub fn set_signalled(&self, side: LegSide, addr: Option<SocketAddr>) {
        let _ = self.ctl.send(Ctl::Signalled(side, addr));
    }

    /// Plays `samples` (8 kHz mono, looping) to the A leg (the caller) in G.711
    /// `payload_type` until [`RelayHandle::stop_playing`], or until the B side sends media
    /// (someone answered). Returns false when the payload type is not G.711.
    pub fn play_to_a(&self, samples: Arc<Vec<i16>>, payload_type: u8) -> bool {
        let r = rand::RngCore::next_u64(&mut rand::rngs::OsRng);
        let Some(p) = MusicPlayer::new(
            samples,
            payload_type,
            r as u32,
            (r >> 32) as u16,
            (r >> 40) as u32,
        ) else {
            return false;
        };
        let _ = self.ctl.send(Ctl::Play(p));
        true
    }

    /// Stops the music; the B side's media goes to the caller again.
    pub fn stop_playing(&self) {
        let _ = self.ctl.send(Ctl::StopPlaying);
    }
}

impl Drop for RelayHandle {
    fn drop(&mut self) {
        let _ = self.ctl.send(Ctl::Stop);
    }
}

/// Hands out relay port pairs from the configured RTP range, round robin.
#[derive(Debug)]
pub struct PortPool {
    bind: IpAddr,
    min: u16,
    max: u16,
    next: u16,
    metrics: Arc<MediaMetrics>,
    runtime: tokio::runtime::Handle,
    next_id: u64,
    digits: Option<mpsc::UnboundedSender<RelayDigit>>,
}

impl PortPool {
    /// A pool over `min..=max` (even ports only, RTP convention). Relay tasks run on
    /// `runtime`, apart from SIP signalling, so a heavy media load cannot delay call setup.
    pub fn new(
        bind: IpAddr,
        min: u16,
        max: u16,
        metrics: Arc<MediaMetrics>,
        runtime: tokio::runtime::Handle,
    ) -> PortPool {
        let min = min + (min % 2);
        PortPool {
            bind,
            min,
            max,
            next: min,
            metrics,
            runtime,
            next_id: 0,
            digits: None,
        }
    }

    /// Where relays started from now on report the keys their parties press.
    pub fn report_digits(&mut self, to: mpsc::UnboundedSender<RelayDigit>) {
        self.digits = Some(to);
    }

    fn bind_one(&mut self) -> io::Result<std::net::UdpSocket> {
        let span = u32::from(self.max.saturating_sub(self.min)) / 2 + 1;
        for _ in 0..span {
            let port = self.next;
            self.next = if self.next.saturating_add(2) > self.max {
                self.min
            } else {
                self.next + 2
            };
            if let Ok(s) = std::net::UdpSocket::bind((self.bind, port)) {
                s.set_nonblocking(true)?;
                return Ok(s);
            }
        }
        Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            "RTP port range exhausted",
        ))
    }

    /// Binds two sockets and starts the relay task.
    pub fn start(&mut self) -> io::Result<RelayHandle> {
        let a = self.bind_one()?;
        let b = self.bind_one()?;
        let port_a = a.local_addr()?.port();
        let port_b = b.local_addr()?.port();
        let (tx, rx) = mpsc::unbounded_channel();
        let metrics = self.metrics.clone();
        self.next_id += 1;
        let id = self.next_id;
        let digits = self.digits.clone().map(|to| (id, to));
        self.runtime.spawn(async move {
            // Registered with the media runtime's reactor: created inside its task.
            match (UdpSocket::from_std(a), UdpSocket::from_std(b)) {
                (Ok(a), Ok(b)) => run(a, b, rx, metrics, digits).await,
                (Err(e), _) | (_, Err(e)) => {
                    tracing::error!(error = %e, "relay socket setup failed")
                }
            }
        });
        Ok(RelayHandle {
            id,
            port_a,
            port_b,
            ctl: tx,
        })
    }
}

/// Largest datagram relayed; RTP over Ethernet stays well below.
const MAX_DATAGRAM: usize = 2048;

async fn run(
    a: UdpSocket,
    b: UdpSocket,
    mut ctl: mpsc::UnboundedReceiver<Ctl>,
    m: Arc<MediaMetrics>,
    digits: Option<(u64, mpsc::UnboundedSender<RelayDigit>)>,
) {
    m.active.fetch_add(1, Ordering::Relaxed);
    let mut relay = Relay::new();
    let mut keys = digits.map(|(id, to)| Keys {
        id,
        to,
        a: None,
        b: None,
    });
    let mut buf_a = vec![0u8; MAX_DATAGRAM];
    let mut buf_b = vec![0u8; MAX_DATAGRAM];
    let mut music: Option<MusicPlayer> = None;
    let mut tick = tokio::time::interval(PACKET_TIME);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let (side, n, src) = tokio::select! {
            _ = tick.tick(), if music.is_some() => {
                if let (Some(p), Some(dest)) = (music.as_mut(), relay.leg(LegSide::A).destination()) {
                    let pkt = p.next_packet();
                    if a.send_to(&pkt, dest).await.is_ok() {
                        m.packets.fetch_add(1, Ordering::Relaxed);
                        m.bytes.fetch_add(pkt.len() as u64, Ordering::Relaxed);
                    }
                }
                continue
            },
            r = a.recv_from(&mut buf_a) => match r {
                Ok((n, src)) => (LegSide::A, n, src),
                Err(_) => continue,
            },
            r = b.recv_from(&mut buf_b) => match r {
                Ok((n, src)) => (LegSide::B, n, src),
                Err(_) => continue,
            },
            c = ctl.recv() => match c {
                Some(Ctl::Signalled(side, addr)) => { relay.set_signalled(side, addr); continue }
                Some(Ctl::Play(p)) => { music = Some(p); tick.reset(); continue }
                Some(Ctl::StopPlaying) => { music = None; continue }
                Some(Ctl::Stop) | None => break,
            },
        };
        let data = match side {
            LegSide::A => &buf_a[..n],
            LegSide::B => &buf_b[..n],
        };
        // Someone on the B side speaks: the music gives way (an answer the engine has not
        // reported to us yet, or an overflow's callee).
        if side == LegSide::B && music.is_some() && !media_core::rtp::is_rtcp(data) {
            music = None;
        }
        if let Some(fwd) = relay.on_packet(Instant::now(), side, src, data) {
            if let Some(k) = keys.as_mut() {
                k.on_packet(side, relay.leg(side).telephone_event_pt(), data);
            }
            let out = match fwd.to_leg {
                LegSide::A => &a,
                LegSide::B => &b,
            };
            if out.send_to(data, fwd.dest).await.is_ok() {
                m.packets.fetch_add(1, Ordering::Relaxed);
                m.bytes.fetch_add(n as u64, Ordering::Relaxed);
            }
        }
    }
    m.active.fetch_sub(1, Ordering::Relaxed);
}

/// The key detectors of one relay, one per leg (made at the leg's first packet).
struct Keys {
    id: u64,
    to: mpsc::UnboundedSender<RelayDigit>,
    a: Option<DtmfDetector>,
    b: Option<DtmfDetector>,
}

impl Keys {
    /// Feeds an accepted packet of `side` (RTCP and garbage are skipped) and reports the
    /// keys it completes.
    fn on_packet(&mut self, side: LegSide, event_pt: Option<u8>, data: &[u8]) {
        let Some(pt) = event_pt else { return };
        if media_core::rtp::is_rtcp(data) {
            return;
        }
        let Ok((header, payload)) = media_core::rtp::parse_rtp(data) else {
            return;
        };
        let slot = match side {
            LegSide::A => &mut self.a,
            LegSide::B => &mut self.b,
        };
        let det = slot.get_or_insert_with(|| DtmfDetector::new(pt));
        // A short event payload is the sender's mistake; the packet is still relayed.
        let _ = det.on_packet(&header, payload);
        while let Some(d) = det.poll_digit() {
            let _ = self.to.send(RelayDigit {
                relay: self.id,
                side,
                digit: d.digit,
            });
        }
    }
}
