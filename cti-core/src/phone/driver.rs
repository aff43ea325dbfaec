//! The softphone's tokio driver: one task owns the SIP socket and the [`UserAgent`]; each
//! call's media runs in its own task owning the call's RTP socket. The application holds a
//! [`Phone`] (async methods) and receives [`PhoneEvent`]s through a [`PhoneListener`].
//!
//! The driver owns the clock (`tokio::time::Instant`, handed to the sans-IO parts as
//! `std::time::Instant`). A send or receive error on the SIP socket counts as a network
//! change: the socket is replaced by a fresh one and the user agent re-registers at once,
//! as it does when the application calls [`Phone::network_changed`] (the hook for the
//! operating system's "network changed" notifications).

use super::media_task::{MediaCmd, MediaTask};
use super::{
    Account, CallError, CallId, CallInfo, CallState, Party, RegistrationState, TransferState,
    UaConfig, UaEvent, UserAgent,
};
use crate::media::codec::G711;
use crate::media::device::AudioDevice;
use crate::media::jitter::JitterConfig;
use crate::media::netem::Impairment;
use crate::media::session::{MediaError, MediaStats};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

/// Largest datagram read from the SIP socket.
const MAX_DATAGRAM: usize = sip_core::msg::MAX_MESSAGE_SIZE;
/// Commands waiting for the driver; callers wait beyond that.
const COMMAND_QUEUE: usize = 64;
/// Commands waiting for one call's media task.
const MEDIA_QUEUE: usize = 32;
/// How long [`Phone::stop`] waits for the registrar to confirm the unregistration.
const STOP_GRACE: Duration = Duration::from_secs(2);
/// Wait before trying again to open a SIP socket when the network is down.
const REBIND_RETRY: Duration = Duration::from_secs(1);

/// What the phone needs.
#[derive(Debug, Clone)]
pub struct PhoneConfig {
    /// The SIP account.
    pub account: Account,
    /// The PBX's SIP address (UDP).
    pub server: SocketAddr,
    /// Local address to bind SIP and RTP sockets to; `None`: the address the system
    /// routes towards the server from (looked up again after each network change).
    pub bind_ip: Option<IpAddr>,
    /// Registration expiry to ask for, in seconds.
    pub expires: u32,
    /// Codecs in preference order.
    pub codecs: Vec<G711>,
    /// Jitter buffer tuning.
    pub jitter: JitterConfig,
    /// Simulated loss and jitter applied to received RTP (tests and demos only).
    pub rx_impairment: Option<Impairment>,
    /// Local ports for the SIP socket, inclusive (`None`: any port the system gives). A
    /// network change moves to the next free port of the range.
    pub sip_ports: Option<(u16, u16)>,
    /// Local ports for calls' RTP sockets, inclusive (`None`: any; firewalls may need a
    /// range).
    pub rtp_ports: Option<(u16, u16)>,
}

impl PhoneConfig {
    /// Defaults for `account` at `server`.
    pub fn new(account: Account, server: SocketAddr) -> PhoneConfig {
        PhoneConfig {
            account,
            server,
            bind_ip: None,
            expires: super::ua::DEFAULT_EXPIRES,
            codecs: vec![G711::Pcmu, G711::Pcma, G711::Opus],
            jitter: JitterConfig::default(),
            rx_impairment: None,
            sip_ports: None,
            rtp_ports: None,
        }
    }
}

/// What the application hears about.
#[derive(Debug, Clone, PartialEq)]
pub enum PhoneEvent {
    /// The registration changed.
    Registration(RegistrationState),
    /// A call arrives: answer or reject it.
    IncomingCall {
        /// Its handle.
        call: CallId,
        /// The caller.
        remote: Party,
    },
    /// A call changed state (`Ended` is its last event).
    CallState {
        /// The call.
        call: CallId,
        /// The state.
        state: CallState,
    },
    /// Hold changed.
    Hold {
        /// The call.
        call: CallId,
        /// We hold it.
        local: bool,
        /// The other side holds it.
        remote: bool,
    },
    /// A transfer we asked for progressed.
    Transfer {
        /// The call being transferred.
        call: CallId,
        /// How it goes.
        state: TransferState,
    },
    /// A DTMF digit arrived (RFC 4733).
    Dtmf {
        /// The call.
        call: CallId,
        /// '0'-'9', '*', '#', 'A'-'D'.
        digit: char,
    },
    /// The SIP socket was replaced (network change); the phone registers again.
    NetworkChanged {
        /// The new SIP address.
        local: SocketAddr,
    },
}

/// Receives the phone's events (called from the phone's tasks: return quickly).
pub trait PhoneListener: Send + Sync + 'static {
    /// One event.
    fn on_event(&self, event: &PhoneEvent);
}

/// Why a phone operation failed.
#[derive(Debug, thiserror::Error)]
pub enum PhoneError {
    /// A socket could not be opened.
    #[error("socket: {0}")]
    Io(#[from] std::io::Error),
    /// The call operation was refused.
    #[error(transparent)]
    Call(#[from] CallError),
    /// The media operation was refused.
    #[error(transparent)]
    Media(#[from] MediaError),
    /// The audio device could not be opened.
    #[error(transparent)]
    Audio(#[from] crate::media::device::AudioError),
    /// The phone was stopped.
    #[error("the phone is stopped")]
    Stopped,
}

type Reply<T> = oneshot::Sender<Result<T, PhoneError>>;

enum Cmd {
    Register,
    Unregister,
    Call(String, Reply<CallId>),
    Answer(CallId, Reply<()>),
    Reject(CallId, Reply<()>),
    Hangup(CallId, Reply<()>),
    Hold(CallId, bool, Reply<()>),
    Transfer(CallId, String, Reply<()>),
    TransferAttended(CallId, CallId, Reply<()>),
    Dtmf(CallId, String, Reply<()>),
    Mute(CallId, bool, Reply<()>),
    Info(CallId, oneshot::Sender<Option<CallInfo>>),
    Stats(CallId, oneshot::Sender<Option<MediaStats>>),
    NetworkChanged,
    BreakSocket,
    Stop(oneshot::Sender<()>),
}

/// A running softphone. Dropping it stops its tasks (without unregistering: use
/// [`Phone::stop`] for a clean goodbye).
pub struct Phone {
    tx: mpsc::Sender<Cmd>,
    registration: watch::Receiver<RegistrationState>,
    local: watch::Receiver<SocketAddr>,
}

impl Phone {
    /// Opens the SIP socket and starts the phone (it does not register until asked).
    pub async fn start(
        config: PhoneConfig,
        audio: Arc<dyn AudioDevice>,
        listener: Arc<dyn PhoneListener>,
    ) -> Result<Phone, PhoneError> {
        let ip = local_ip(&config)?;
        let mut sip_cursor = 0;
        let socket = bind_in(ip, config.sip_ports, &mut sip_cursor).await?;
        let local = socket.local_addr()?;
        let mut ua_cfg = UaConfig::new(config.account.clone(), config.server, local);
        ua_cfg.expires = config.expires;
        ua_cfg.codecs = config.codecs.clone();
        let (tx, rx) = mpsc::channel(COMMAND_QUEUE);
        let (reg_tx, registration) = watch::channel(RegistrationState::Unregistered);
        let (local_tx, local_rx) = watch::channel(local);
        let driver = Driver {
            ua: UserAgent::new(ua_cfg),
            socket,
            ip,
            config,
            audio,
            listener,
            media: HashMap::new(),
            reg_tx,
            local_tx,
            sip_cursor,
            rtp_cursor: 0,
        };
        tokio::spawn(driver.run(rx));
        Ok(Phone {
            tx,
            registration,
            local: local_rx,
        })
    }

    async fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> Cmd) -> Result<T, PhoneError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(make(tx))
            .await
            .map_err(|_| PhoneError::Stopped)?;
        rx.await.map_err(|_| PhoneError::Stopped)?
    }

    async fn tell(&self, cmd: Cmd) -> Result<(), PhoneError> {
        self.tx.send(cmd).await.map_err(|_| PhoneError::Stopped)
    }

    /// Registers now and keeps the registration refreshed.
    pub async fn register(&self) -> Result<(), PhoneError> {
        self.tell(Cmd::Register).await
    }

    /// Unregisters.
    pub async fn unregister(&self) -> Result<(), PhoneError> {
        self.tell(Cmd::Unregister).await
    }

    /// The registration's state.
    pub fn registration(&self) -> RegistrationState {
        self.registration.borrow().clone()
    }

    /// Waits until registered, at most `limit`; true if it is.
    pub async fn wait_registered(&self, limit: Duration) -> bool {
        let mut rx = self.registration.clone();
        tokio::time::timeout(
            limit,
            rx.wait_for(|s| matches!(s, RegistrationState::Registered { .. })),
        )
        .await
        .is_ok_and(|r| r.is_ok())
    }

    /// The SIP socket's address.
    pub fn local_addr(&self) -> SocketAddr {
        *self.local.borrow()
    }

    /// Calls `number`.
    pub async fn call(&self, number: &str) -> Result<CallId, PhoneError> {
        let number = number.to_string();
        self.ask(|r| Cmd::Call(number, r)).await
    }

    /// Answers a ringing call.
    pub async fn answer(&self, call: CallId) -> Result<(), PhoneError> {
        self.ask(|r| Cmd::Answer(call, r)).await
    }

    /// Refuses a ringing call (486 Busy Here).
    pub async fn reject(&self, call: CallId) -> Result<(), PhoneError> {
        self.ask(|r| Cmd::Reject(call, r)).await
    }

    /// Hangs up.
    pub async fn hangup(&self, call: CallId) -> Result<(), PhoneError> {
        self.ask(|r| Cmd::Hangup(call, r)).await
    }

    /// Puts a call on hold.
    pub async fn hold(&self, call: CallId) -> Result<(), PhoneError> {
        self.ask(|r| Cmd::Hold(call, true, r)).await
    }

    /// Takes a call off hold.
    pub async fn resume(&self, call: CallId) -> Result<(), PhoneError> {
        self.ask(|r| Cmd::Hold(call, false, r)).await
    }

    /// Blind transfer by REFER: the other side of `call` is asked to call `target`.
    /// (The PBX does not act on REFER yet; its CTI transfer commands do the same job.)
    pub async fn transfer(&self, call: CallId, target: &str) -> Result<(), PhoneError> {
        let target = target.to_string();
        self.ask(|r| Cmd::Transfer(call, target, r)).await
    }

    /// Attended transfer by REFER with Replaces: the other side of `call` replaces our
    /// `consult` call with its target.
    pub async fn transfer_attended(&self, call: CallId, consult: CallId) -> Result<(), PhoneError> {
        self.ask(|r| Cmd::TransferAttended(call, consult, r)).await
    }

    /// Sends DTMF digits (RFC 4733), one after the other.
    pub async fn send_dtmf(&self, call: CallId, digits: &str) -> Result<(), PhoneError> {
        let digits = digits.to_string();
        self.ask(|r| Cmd::Dtmf(call, digits, r)).await
    }

    /// Mutes or unmutes the microphone (silence is sent meanwhile).
    pub async fn mute(&self, call: CallId, muted: bool) -> Result<(), PhoneError> {
        self.ask(|r| Cmd::Mute(call, muted, r)).await
    }

    /// What is known of a call.
    pub async fn call_info(&self, call: CallId) -> Option<CallInfo> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(Cmd::Info(call, tx)).await.ok()?;
        rx.await.ok().flatten()
    }

    /// The media figures of a call (packets, jitter buffer).
    pub async fn media_stats(&self, call: CallId) -> Option<MediaStats> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(Cmd::Stats(call, tx)).await.ok()?;
        rx.await.ok().flatten()
    }

    /// The network changed (new address, interface up, wake from sleep): a new SIP socket
    /// is opened and the phone registers again at once.
    pub async fn network_changed(&self) -> Result<(), PhoneError> {
        self.tell(Cmd::NetworkChanged).await
    }

    /// Failure drill: shuts the SIP socket down under the driver, as the operating system
    /// does when the interface goes away. The driver finds out at its next send.
    #[doc(hidden)]
    pub async fn break_sip_socket(&self) -> Result<(), PhoneError> {
        self.tell(Cmd::BreakSocket).await
    }

    /// Hangs up every call, unregisters, and stops.
    pub async fn stop(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Cmd::Stop(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

/// The address towards `config.server`, unless one was configured.
fn local_ip(config: &PhoneConfig) -> std::io::Result<IpAddr> {
    if let Some(ip) = config.bind_ip {
        return Ok(ip);
    }
    let any: SocketAddr = if config.server.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let probe = std::net::UdpSocket::bind(any)?;
    probe.connect(config.server)?;
    Ok(probe.local_addr()?.ip())
}

/// Binds a UDP socket on `ip`: any port, or the first free one of `range` after
/// `cursor` (which moves on, so consecutive binds spread over the range).
async fn bind_in(
    ip: IpAddr,
    range: Option<(u16, u16)>,
    cursor: &mut u32,
) -> std::io::Result<UdpSocket> {
    let Some((lo, hi)) = range.filter(|(lo, hi)| lo <= hi) else {
        return UdpSocket::bind((ip, 0)).await;
    };
    let span = u32::from(hi - lo) + 1;
    let mut last = None;
    for _ in 0..span {
        let port = lo + (*cursor % span) as u16;
        *cursor = cursor.wrapping_add(1);
        match UdpSocket::bind((ip, port)).await {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::from(std::io::ErrorKind::AddrInUse)))
}

struct MediaHandle {
    tx: mpsc::Sender<MediaCmd>,
}

struct Driver {
    ua: UserAgent,
    socket: UdpSocket,
    ip: IpAddr,
    config: PhoneConfig,
    audio: Arc<dyn AudioDevice>,
    listener: Arc<dyn PhoneListener>,
    media: HashMap<CallId, MediaHandle>,
    reg_tx: watch::Sender<RegistrationState>,
    local_tx: watch::Sender<SocketAddr>,
    sip_cursor: u32,
    rtp_cursor: u32,
}

fn now() -> std::time::Instant {
    Instant::now().into_std()
}

impl Driver {
    async fn run(mut self, mut rx: mpsc::Receiver<Cmd>) {
        let mut buf = vec![0u8; MAX_DATAGRAM];
        let far_future = Instant::now() + Duration::from_secs(86400 * 365);
        loop {
            if !self.flush().await {
                self.rebind().await;
                continue;
            }
            self.publish().await;
            let deadline = self.ua.poll_timeout().map_or(far_future, Instant::from_std);
            tokio::select! {
                r = self.socket.recv_from(&mut buf) => match r {
                    Ok((n, from)) => self.ua.handle_datagram(now(), from, &buf[..n]),
                    // ICMP unreachable reported on a later receive: not our socket's fault.
                    Err(e) if matches!(e.kind(), std::io::ErrorKind::ConnectionRefused
                        | std::io::ErrorKind::ConnectionReset) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "SIP socket failed");
                        self.rebind().await;
                    }
                },
                _ = tokio::time::sleep_until(deadline) => self.ua.handle_timeout(now()),
                cmd = rx.recv() => match cmd {
                    None => return,
                    Some(Cmd::Stop(done)) => {
                        self.shutdown().await;
                        let _ = done.send(());
                        return;
                    }
                    Some(cmd) => self.command(cmd).await,
                },
            }
        }
    }

    /// Sends what the user agent queued; false if the socket failed.
    async fn flush(&mut self) -> bool {
        while let Some(t) = self.ua.poll_transmit() {
            if let Err(e) = self.socket.send_to(&t.data, t.peer.addr).await {
                tracing::warn!(error = %e, "SIP send failed; treating it as a network change");
                return false;
            }
        }
        true
    }

    /// Opens a new SIP socket (new port, and the current route's address) and tells the
    /// user agent, which re-registers at once.
    async fn rebind(&mut self) {
        loop {
            let ip = match self.config.bind_ip {
                Some(ip) => Ok(ip),
                None => local_ip(&self.config),
            };
            let bound = match ip {
                Ok(ip) => bind_in(ip, self.config.sip_ports, &mut self.sip_cursor)
                    .await
                    .map(|s| (ip, s)),
                Err(e) => Err(e),
            };
            match bound.and_then(|(ip, s)| s.local_addr().map(|a| (ip, s, a))) {
                Ok((ip, socket, local)) => {
                    self.ip = ip;
                    self.socket = socket;
                    tracing::info!(%local, "new SIP socket");
                    self.ua.network_changed(now(), local);
                    let _ = self.local_tx.send(local);
                    self.listener
                        .on_event(&PhoneEvent::NetworkChanged { local });
                    return;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "no network; trying again");
                    tokio::time::sleep(REBIND_RETRY).await;
                }
            }
        }
    }

    /// Hands the user agent's events to the media tasks and the application.
    async fn publish(&mut self) {
        while let Some(ev) = self.ua.poll_event() {
            let out = match ev {
                UaEvent::Media { call, params } => {
                    if let Some(m) = self.media.get(&call) {
                        // Awaited: a negotiation (hold, new address) must not be lost.
                        let _ = m.tx.send(MediaCmd::Params(params)).await;
                    }
                    continue;
                }
                UaEvent::Registration(s) => {
                    let _ = self.reg_tx.send(s.clone());
                    PhoneEvent::Registration(s)
                }
                UaEvent::IncomingCall { call, remote } => PhoneEvent::IncomingCall { call, remote },
                UaEvent::CallState { call, state } => {
                    if matches!(state, CallState::Ended(_)) {
                        // Dropping the handle closes the channel: the media task ends.
                        self.media.remove(&call);
                    }
                    PhoneEvent::CallState { call, state }
                }
                UaEvent::Hold {
                    call,
                    local,
                    remote,
                } => PhoneEvent::Hold {
                    call,
                    local,
                    remote,
                },
                UaEvent::Transfer { call, state } => PhoneEvent::Transfer { call, state },
            };
            self.listener.on_event(&out);
        }
    }

    /// Binds a call's RTP socket.
    async fn rtp_socket(&mut self) -> std::io::Result<(UdpSocket, SocketAddr)> {
        let s = bind_in(self.ip, self.config.rtp_ports, &mut self.rtp_cursor).await?;
        let a = s.local_addr()?;
        Ok((s, a))
    }

    fn start_media(&mut self, call: CallId, socket: UdpSocket) -> Result<(), PhoneError> {
        let streams = self.audio.open(call)?;
        let (tx, rx) = mpsc::channel(MEDIA_QUEUE);
        let task = MediaTask {
            call,
            socket,
            streams,
            listener: self.listener.clone(),
            jitter: self.config.jitter,
            impairment: self.config.rx_impairment,
        };
        tokio::spawn(task.run(rx));
        self.media.insert(call, MediaHandle { tx });
        Ok(())
    }

    async fn to_media(&self, call: CallId, cmd: MediaCmd) -> Result<(), PhoneError> {
        let m = self
            .media
            .get(&call)
            .ok_or(PhoneError::Call(CallError::NoSuchCall(call)))?;
        m.tx.send(cmd)
            .await
            .map_err(|_| PhoneError::Call(CallError::NoSuchCall(call)))
    }

    async fn command(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Register => self.ua.register(now()),
            Cmd::Unregister => self.ua.unregister(now()),
            Cmd::Call(number, reply) => {
                let r = self.place_call(&number).await;
                let _ = reply.send(r);
            }
            Cmd::Answer(call, reply) => {
                let r = self.answer(call).await;
                let _ = reply.send(r);
            }
            Cmd::Reject(call, reply) => {
                let _ = reply.send(self.ua.reject(now(), call).map_err(Into::into));
            }
            Cmd::Hangup(call, reply) => {
                let _ = reply.send(self.ua.hangup(now(), call).map_err(Into::into));
            }
            Cmd::Hold(call, hold, reply) => {
                let r = if hold {
                    self.ua.hold(now(), call)
                } else {
                    self.ua.resume(now(), call)
                };
                let _ = reply.send(r.map_err(Into::into));
            }
            Cmd::Transfer(call, target, reply) => {
                let _ = reply.send(self.ua.transfer(now(), call, &target).map_err(Into::into));
            }
            Cmd::TransferAttended(call, consult, reply) => {
                let r = self.ua.transfer_attended(now(), call, consult);
                let _ = reply.send(r.map_err(Into::into));
            }
            Cmd::Dtmf(call, digits, reply) => {
                let (tx, rx) = oneshot::channel();
                let r = match self.to_media(call, MediaCmd::Dtmf(digits, tx)).await {
                    Ok(()) => match rx.await {
                        Ok(r) => r.map_err(PhoneError::from),
                        Err(_) => Err(PhoneError::Call(CallError::NoSuchCall(call))),
                    },
                    Err(e) => Err(e),
                };
                let _ = reply.send(r);
            }
            Cmd::Mute(call, muted, reply) => {
                let _ = reply.send(self.to_media(call, MediaCmd::Mute(muted)).await);
            }
            Cmd::Info(call, reply) => {
                let _ = reply.send(self.ua.call_info(call));
            }
            Cmd::Stats(call, reply) => {
                let (tx, rx) = oneshot::channel();
                let stats = match self.to_media(call, MediaCmd::Stats(tx)).await {
                    Ok(()) => rx.await.ok(),
                    Err(_) => None,
                };
                let _ = reply.send(stats);
            }
            Cmd::NetworkChanged => self.rebind().await,
            Cmd::BreakSocket => {
                // Shut down sending only: the next send fails with EPIPE, as on a socket
                // whose interface went away (a read shutdown would make tokio spin).
                let r = socket2::SockRef::from(&self.socket).shutdown(std::net::Shutdown::Write);
                tracing::info!(?r, "SIP socket shut down (drill)");
            }
            Cmd::Stop(_) => {}
        }
    }

    async fn place_call(&mut self, number: &str) -> Result<CallId, PhoneError> {
        let (socket, rtp) = self.rtp_socket().await?;
        let call = self.ua.call(now(), number, rtp)?;
        if let Err(e) = self.start_media(call, socket) {
            let _ = self.ua.hangup(now(), call);
            return Err(e);
        }
        Ok(call)
    }

    async fn answer(&mut self, call: CallId) -> Result<(), PhoneError> {
        if self.ua.call_state(call) != Some(CallState::Incoming) {
            // Let the user agent say why.
            return self
                .ua
                .answer(now(), call, SocketAddr::new(self.ip, 0))
                .map_err(Into::into);
        }
        let (socket, rtp) = self.rtp_socket().await?;
        // Media first, so the negotiation the answer produces reaches a running task.
        self.start_media(call, socket)?;
        if let Err(e) = self.ua.answer(now(), call, rtp) {
            self.media.remove(&call);
            return Err(e.into());
        }
        Ok(())
    }

    /// Hangs up, unregisters (answering the registrar's challenge), and returns once the
    /// registrar confirmed or [`STOP_GRACE`] passed.
    async fn shutdown(&mut self) {
        let t = now();
        for call in self.ua.active_calls() {
            let _ = self.ua.hangup(t, call);
        }
        let registered = matches!(
            self.ua.registration(),
            RegistrationState::Registered { .. } | RegistrationState::Registering
        );
        if registered {
            self.ua.unregister(t);
        }
        let give_up = Instant::now() + STOP_GRACE;
        let mut buf = vec![0u8; MAX_DATAGRAM];
        while self.flush().await {
            self.publish().await;
            let done = !registered || *self.ua.registration() == RegistrationState::Unregistered;
            if done || Instant::now() >= give_up {
                break;
            }
            let deadline = self
                .ua
                .poll_timeout()
                .map_or(give_up, |d| Instant::from_std(d).min(give_up));
            tokio::select! {
                r = self.socket.recv_from(&mut buf) => {
                    if let Ok((n, from)) = r {
                        self.ua.handle_datagram(now(), from, &buf[..n]);
                    }
                }
                _ = tokio::time::sleep_until(deadline) => self.ua.handle_timeout(now()),
            }
        }
        self.media.clear();
    }
}
