//! Transport identities and stream framing (sans-IO; sockets live in the shells).

use crate::msg::MAX_MESSAGE_SIZE;
use std::fmt;
use std::net::SocketAddr;

/// A SIP transport. TLS and WebSocket slot in here when they land.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// UDP: unreliable, retransmissions by the transaction layer.
    Udp,
    /// TCP: reliable, stream framed by Content-Length.
    Tcp,
}

impl Transport {
    /// Reliable transports switch off retransmit timers (RFC 3261 §17).
    pub fn is_reliable(self) -> bool {
        !matches!(self, Transport::Udp)
    }

    /// The Via / URI token.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
        }
    }

    /// Parses a Via or `transport=` token.
    pub fn parse(s: &str) -> Option<Transport> {
        match s.to_ascii_uppercase().as_str() {
            "UDP" => Some(Transport::Udp),
            "TCP" => Some(Transport::Tcp),
            _ => None,
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a message came from or goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Peer {
    /// Transport.
    pub transport: Transport,
    /// Remote address.
    pub addr: SocketAddr,
}

impl Peer {
    /// A UDP peer.
    pub fn udp(addr: SocketAddr) -> Peer {
        Peer {
            transport: Transport::Udp,
            addr,
        }
    }
}

/// Error of the stream framer: the connection must be closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Headers or body exceed [`MAX_MESSAGE_SIZE`].
    #[error("frame too large")]
    TooLarge,
    /// Content-Length missing or unparsable (mandatory on streams).
    #[error("bad or missing Content-Length on a stream")]
    BadContentLength,
}

/// Splits a TCP byte stream into SIP messages (RFC 3261 §18.3): headers up to the blank
/// line, then Content-Length bytes of body. Keep-alive CRLFs between messages are skipped.
#[derive(Debug, Default)]
pub struct StreamFramer {
    buf: Vec<u8>,
}

impl StreamFramer {
    /// An empty framer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Next complete message, `Ok(None)` if more bytes are needed.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        let skip = self
            .buf
            .iter()
            .position(|b| *b != b'\r' && *b != b'\n')
            .unwrap_or(self.buf.len());
        self.buf.drain(..skip);
        let Some(head_end) = find(&self.buf, b"\r\n\r\n") else {
            if self.buf.len() > MAX_MESSAGE_SIZE {
                return Err(FrameError::TooLarge);
            }
            return Ok(None);
        };
        let head = String::from_utf8_lossy(&self.buf[..head_end]);
        let mut len = None;
        for line in head.split("\r\n").skip(1) {
            if let Some((n, v)) = line.split_once(':') {
                let n = n.trim();
                if n.eq_ignore_ascii_case("Content-Length") || n.eq_ignore_ascii_case("l") {
                    len = Some(
                        v.trim()
                            .parse::<usize>()
                            .map_err(|_| FrameError::BadContentLength)?,
                    );
                }
            }
        }
        let len = len.ok_or(FrameError::BadContentLength)?;
        let total = head_end + 4 + len;
        if total > MAX_MESSAGE_SIZE {
            return Err(FrameError::TooLarge);
        }
        if self.buf.len() < total {
            return Ok(None);
        }
        let frame: Vec<u8> = self.buf.drain(..total).collect();
        Ok(Some(frame))
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_and_join() {
        let msg = b"OPTIONS sip:a SIP/2.0\r\nContent-Length: 3\r\n\r\nabc";
        let mut f = StreamFramer::new();
        f.push(b"\r\n\r\n");
        f.push(&msg[..10]);
        assert_eq!(f.next_frame(), Ok(None));
        f.push(&msg[10..]);
        f.push(msg);
        assert_eq!(f.next_frame().unwrap().unwrap(), msg.to_vec());
        assert_eq!(f.next_frame().unwrap().unwrap(), msg.to_vec());
        assert_eq!(f.next_frame(), Ok(None));
    }

    #[test]
    fn rejects_missing_length_and_huge() {
        let mut f = StreamFramer::new();
        f.push(b"OPTIONS sip:a SIP/2.0\r\nVia: x\r\n\r\n");
        assert_eq!(f.next_frame(), Err(FrameError::BadContentLength));
        let mut g = StreamFramer::new();
        g.push(&vec![b'a'; MAX_MESSAGE_SIZE + 10]);
        assert_eq!(g.next_frame(), Err(FrameError::TooLarge));
        let mut h = StreamFramer::new();
        h.push(b"OPTIONS sip:a SIP/2.0\r\nContent-Length: 999999\r\n\r\n");
        assert_eq!(h.next_frame(), Err(FrameError::TooLarge));
    }
}
