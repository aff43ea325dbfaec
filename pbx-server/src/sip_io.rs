//! SIP sockets: one UDP socket and one TCP listener, feeding the core through a channel.
//! Outgoing TCP reuses the connection a peer opened, or opens one.

use sip_core::transport::StreamFramer;
use sip_core::{Peer, Transport};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;

/// Bound on queued inbound messages; beyond it datagrams are dropped (UDP is lossy anyway)
/// rather than letting a flood grow memory.
const INBOUND_QUEUE: usize = 8192;
/// Bound on queued outbound frames per TCP connection.
const TCP_OUT_QUEUE: usize = 1024;

/// One received message.
pub struct Inbound {
    /// Sender.
    pub peer: Peer,
    /// Raw bytes (one datagram or one framed TCP message).
    pub data: Vec<u8>,
}

type Conns = Arc<Mutex<HashMap<SocketAddr, mpsc::Sender<Vec<u8>>>>>;

/// Sending side of the SIP sockets.
#[derive(Clone)]
pub struct SipSender {
    udp: Arc<UdpSocket>,
    conns: Conns,
    inbound: mpsc::Sender<Inbound>,
}

impl SipSender {
    /// Sends bytes to a peer; TCP connections are opened on demand.
    pub fn send(&self, peer: Peer, data: Vec<u8>) {
        match peer.transport {
            Transport::Udp => {
                if let Err(e) = self.udp.try_send_to(&data, peer.addr) {
                    tracing::debug!(error = %e, to = %peer.addr, "udp send failed");
                }
            }
            Transport::Tcp => {
                let existing = self
                    .conns
                    .lock()
                    .ok()
                    .and_then(|m| m.get(&peer.addr).cloned());
                match existing {
                    Some(tx) => {
                        let _ = tx.try_send(data);
                    }
                    None => {
                        let this = self.clone();
                        tokio::spawn(async move {
                            match TcpStream::connect(peer.addr).await {
                                Ok(stream) => {
                                    let tx = spawn_conn(
                                        stream,
                                        peer.addr,
                                        this.conns.clone(),
                                        this.inbound.clone(),
                                    );
                                    let _ = tx.try_send(data);
                                }
                                Err(e) => {
                                    tracing::debug!(error = %e, to = %peer.addr, "tcp connect failed")
                                }
                            }
                        });
                    }
                }
            }
        }
    }
}

/// Binds UDP and TCP on the same port, as phones expect. With port 0 the OS picks the UDP
/// port, and that number may already be taken for TCP: try again with another one.
async fn bind_pair(addr: SocketAddr) -> std::io::Result<(UdpSocket, TcpListener)> {
    const ATTEMPTS: usize = 20;
    let mut last = None;
    for _ in 0..ATTEMPTS {
        let udp = UdpSocket::bind(addr).await?;
        let local = udp.local_addr()?;
        match TcpListener::bind(local).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) if addr.port() == 0 && e.kind() == std::io::ErrorKind::AddrInUse => {
                last = Some(e);
            }
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no free port for SIP")))
}

/// Binds the UDP socket and TCP listener and starts their tasks.
pub async fn start(
    addr: SocketAddr,
) -> std::io::Result<(SipSender, mpsc::Receiver<Inbound>, SocketAddr)> {
    let (udp, tcp) = bind_pair(addr).await?;
    let udp = Arc::new(udp);
    let local = udp.local_addr()?;
    let (tx, rx) = mpsc::channel(INBOUND_QUEUE);
    let conns: Conns = Arc::new(Mutex::new(HashMap::new()));
    {
        let udp = udp.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 65_536];
            loop {
                match udp.recv_from(&mut buf).await {
                    Ok((n, from)) => {
                        // Keep-alive CRLFs (RFC 5626) carry no message.
                        if buf[..n].iter().all(|b| b.is_ascii_whitespace()) {
                            continue;
                        }
                        let _ = tx.try_send(Inbound {
                            peer: Peer::udp(from),
                            data: buf[..n].to_vec(),
                        });
                    }
                    Err(e) => tracing::debug!(error = %e, "udp recv error"),
                }
            }
        });
    }
    {
        let conns = conns.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            loop {
                match tcp.accept().await {
                    Ok((stream, from)) => {
                        spawn_conn(stream, from, conns.clone(), tx.clone());
                    }
                    Err(e) => tracing::debug!(error = %e, "tcp accept error"),
                }
            }
        });
    }
    Ok((
        SipSender {
            udp,
            conns,
            inbound: tx,
        },
        rx,
        local,
    ))
}

fn spawn_conn(
    stream: TcpStream,
    from: SocketAddr,
    conns: Conns,
    inbound: mpsc::Sender<Inbound>,
) -> mpsc::Sender<Vec<u8>> {
    let (out_tx, mut out_rx) = mpsc::channel::<Vec<u8>>(TCP_OUT_QUEUE);
    if let Ok(mut m) = conns.lock() {
        m.insert(from, out_tx.clone());
    }
    let (mut rd, mut wr) = stream.into_split();
    tokio::spawn(async move {
        while let Some(data) = out_rx.recv().await {
            if wr.write_all(&data).await.is_err() {
                break;
            }
        }
    });
    tokio::spawn(async move {
        let mut framer = StreamFramer::new();
        let mut buf = vec![0u8; 16_384];
        loop {
            let n = match rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            framer.push(&buf[..n]);
            loop {
                match framer.next_frame() {
                    Ok(Some(frame)) => {
                        let _ = inbound
                            .send(Inbound {
                                peer: Peer {
                                    transport: Transport::Tcp,
                                    addr: from,
                                },
                                data: frame,
                            })
                            .await;
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::debug!(error = %e, from = %from, "closing tcp connection");
                        if let Ok(mut m) = conns.lock() {
                            m.remove(&from);
                        }
                        return;
                    }
                }
            }
        }
        if let Ok(mut m) = conns.lock() {
            m.remove(&from);
        }
    });
    out_tx
}
