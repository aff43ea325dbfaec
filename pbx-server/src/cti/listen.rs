//! Transports: newline-delimited JSON over TCP (and over TLS, same framing) and WebSocket
//! text messages at `/cti` on the HTTP port. Each turns its stream into `Incoming` frames
//! and a `FrameSink`, then hands both to `conn::serve`.

use super::conn::{serve, FrameSink, Incoming};
use super::hub::Hub;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use shared_protocol::MAX_FRAME;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio_util::codec::{FramedRead, LinesCodec, LinesCodecError};

/// Longest a TLS handshake may take.
const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// Kernel send buffer of a CTI TCP connection.
const CTI_SEND_BUFFER: usize = 64 * 1024;
/// Incoming frames buffered per connection before the reader stops reading the socket.
const INCOMING: usize = 64;

/// Accepts TCP clients until `shutdown`; `tls` wraps each stream when given.
pub async fn serve_tcp(
    listener: TcpListener,
    hub: Arc<Hub>,
    tls: Option<tokio_rustls_acceptor::Acceptor>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => return,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "cti accept failed");
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        // A small kernel buffer: a client that stops reading fills its bounded queue (and is
        // dropped) after ~64 KiB instead of after megabytes of stale events.
        let _ = socket2::SockRef::from(&stream).set_send_buffer_size(CTI_SEND_BUFFER);
        let hub = hub.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                None => serve_stream(hub, peer, stream).await,
                Some(acceptor) => {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(s)) => serve_stream(hub, peer, s).await,
                        Ok(Err(e)) => {
                            tracing::info!(error = %e, src = %peer, "cti tls handshake failed")
                        }
                        Err(_) => tracing::info!(src = %peer, "cti tls handshake timed out"),
                    }
                }
            }
        });
    }
}

/// The TLS acceptor type, kept behind a small alias so that the listener does not care.
pub mod tokio_rustls_acceptor {
    /// Wraps accepted TCP streams in TLS.
    pub type Acceptor = tokio_rustls::TlsAcceptor;
}

/// Frames as lines, gathered so that a batch is one write.
struct LineSink<W> {
    out: W,
    buf: Vec<u8>,
}

impl<W: AsyncWrite + Unpin + Send> FrameSink for LineSink<W> {
    async fn send(&mut self, frame: &str) -> std::io::Result<()> {
        self.buf.extend_from_slice(frame.as_bytes());
        self.buf.push(b'\n');
        Ok(())
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        let res = self.out.write_all(&self.buf).await;
        self.buf.clear();
        res?;
        self.out.flush().await
    }
}

async fn serve_stream<S>(hub: Arc<Hub>, peer: SocketAddr, stream: S)
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (read, write) = tokio::io::split(stream);
    let (tx, rx) = mpsc::channel(INCOMING);
    let reader = tokio::spawn(async move {
        let mut lines = FramedRead::new(read, LinesCodec::new_with_max_length(MAX_FRAME));
        while let Some(line) = lines.next().await {
            let item = match line {
                Ok(l) if l.trim().is_empty() => continue,
                Ok(l) => Incoming::Text(l),
                Err(LinesCodecError::MaxLineLengthExceeded) => Incoming::TooLong,
                Err(LinesCodecError::Io(_)) => break,
            };
            let stop = matches!(item, Incoming::TooLong);
            if tx.send(item).await.is_err() || stop {
                break;
            }
        }
    });
    serve(
        hub,
        peer,
        rx,
        LineSink {
            out: write,
            buf: Vec::new(),
        },
    )
    .await;
    reader.abort();
}

/// The `/cti` route, to merge into the HTTP router.
pub fn router(hub: Arc<Hub>) -> axum::Router {
    axum::Router::new()
        .route("/cti", axum::routing::get(ws_handler))
        .with_state(hub)
}

/// `GET /cti`: upgrades to a WebSocket.
pub async fn ws_handler(
    ws: WebSocketUpgrade,
    State(hub): State<Arc<Hub>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Response {
    ws.max_message_size(MAX_FRAME)
        .on_upgrade(move |socket| serve_ws(hub, peer, socket))
}

struct WsSink(futures_util::stream::SplitSink<WebSocket, Message>);

impl FrameSink for WsSink {
    async fn send(&mut self, frame: &str) -> std::io::Result<()> {
        self.0
            .feed(Message::Text(frame.into()))
            .await
            .map_err(std::io::Error::other)
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush().await.map_err(std::io::Error::other)
    }
}

async fn serve_ws(hub: Arc<Hub>, peer: SocketAddr, socket: WebSocket) {
    let (sink, mut stream) = socket.split();
    let (tx, rx) = mpsc::channel(INCOMING);
    let reader = tokio::spawn(async move {
        while let Some(msg) = stream.next().await {
            let item = match msg {
                Ok(Message::Text(t)) => Incoming::Text(t.to_string()),
                Ok(Message::Binary(b)) => match String::from_utf8(b.to_vec()) {
                    Ok(t) => Incoming::Text(t),
                    Err(_) => Incoming::Text(String::new()),
                },
                Ok(Message::Close(_)) => break,
                Ok(_) => continue,
                // Includes a message over `max_message_size`.
                Err(_) => {
                    let _ = tx.send(Incoming::TooLong).await;
                    break;
                }
            };
            if tx.send(item).await.is_err() {
                break;
            }
        }
    });
    serve(hub, peer, rx, WsSink(sink)).await;
    reader.abort();
}
