//! The SIP side: one account that registers and unregisters over UDP with digest auth,
//! reporting when the request that changed the state left and when its 200 OK came back.

use anyhow::{bail, Context, Result};
use sip_core::auth::{self, Challenge};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::time::Instant;

/// Loopback does not lose datagrams; a silent server is a failure, not a retransmission.
const ANSWER_WITHIN: Duration = Duration::from_secs(2);
/// Challenges answered per state change before giving up (a stale nonce costs one).
const MAX_CHALLENGES: usize = 3;

/// One state change of the account, seen from the phone.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Change {
    /// When the authenticated REGISTER that got the 200 OK was sent.
    pub(crate) sent: Instant,
    /// When its 200 OK was read.
    pub(crate) ok: Instant,
}

/// A SIP account acting as a minimal phone.
pub(crate) struct Phone {
    sock: UdpSocket,
    server: SocketAddr,
    local: SocketAddr,
    user: String,
    password: String,
    call_id: String,
    cseq: u32,
    challenge: Option<Challenge>,
    nc: u32,
}

impl Phone {
    /// A phone for `user` (password `password`) registering at `server`.
    pub(crate) async fn new(server: SocketAddr, user: &str, password: &str) -> Result<Phone> {
        let sock = UdpSocket::bind("127.0.0.1:0").await?;
        let local = sock.local_addr()?;
        Ok(Phone {
            sock,
            server,
            local,
            user: user.to_string(),
            password: password.to_string(),
            call_id: format!("cti-bench-{}-{}@127.0.0.1", user, local.port()),
            cseq: 0,
            challenge: None,
            nc: 0,
        })
    }

    /// Registers (`on`) or unregisters (`Expires: 0`). The nonce of the last challenge is
    /// reused, so a change is normally one request; a 401 is answered and the request resent.
    pub(crate) async fn set_registered(&mut self, on: bool) -> Result<Change> {
        for _ in 0..=MAX_CHALLENGES {
            self.cseq += 1;
            let request = self.request(on);
            let sent = Instant::now();
            self.sock.send_to(request.as_bytes(), self.server).await?;
            let (status, text) = self.answer().await?;
            let ok = Instant::now();
            match status {
                200 => return Ok(Change { sent, ok }),
                401 => {
                    let value = header(&text, "WWW-Authenticate")
                        .context("401 without WWW-Authenticate")?;
                    self.challenge = Some(Challenge::parse(value)?);
                    self.nc = 0;
                }
                other => bail!("REGISTER answered {other}: {text}"),
            }
        }
        bail!("REGISTER still challenged after {MAX_CHALLENGES} answers")
    }

    fn request(&mut self, on: bool) -> String {
        let uri = format!("sip:{}", self.server);
        let authorization = match &self.challenge {
            Some(ch) => {
                self.nc += 1;
                let cnonce = format!("{:08x}", self.cseq);
                let creds = auth::respond(
                    ch,
                    "REGISTER",
                    &uri,
                    &self.user,
                    &self.password,
                    &cnonce,
                    self.nc,
                );
                format!("Authorization: {}\r\n", creds.to_header_value())
            }
            None => String::new(),
        };
        let (user, local, host) = (&self.user, self.local, self.server.ip());
        format!(
            "REGISTER {uri} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {local};branch=z9hG4bK-ctibench-{cseq};rport\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:{user}@{host}>;tag=ctibench{port}\r\n\
             To: <sip:{user}@{host}>\r\n\
             Call-ID: {call_id}\r\n\
             CSeq: {cseq} REGISTER\r\n\
             Contact: <sip:{user}@{local};transport=udp>\r\n\
             Expires: {expires}\r\n\
             {authorization}\
             User-Agent: cti-bench\r\n\
             Content-Length: 0\r\n\r\n",
            cseq = self.cseq,
            port = local.port(),
            call_id = self.call_id,
            expires = if on { 3600 } else { 0 },
        )
    }

    /// The final response to the current CSeq: status and text. Other datagrams (a late
    /// answer to an earlier request) are skipped.
    async fn answer(&self) -> Result<(u16, String)> {
        let deadline = Instant::now() + ANSWER_WITHIN;
        let mut buf = vec![0u8; 65_536];
        loop {
            let (n, _) = tokio::time::timeout_at(deadline, self.sock.recv_from(&mut buf))
                .await
                .context("no answer to REGISTER")??;
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            let Some(status) = text
                .strip_prefix("SIP/2.0 ")
                .and_then(|s| s.get(..3))
                .and_then(|s| s.parse::<u16>().ok())
            else {
                continue;
            };
            let cseq = header(&text, "CSeq")
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse::<u32>().ok());
            if status >= 200 && cseq == Some(self.cseq) {
                return Ok((status, text));
            }
        }
    }
}

/// The first value of a header (case-insensitive name, no compact forms needed here).
fn header<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}
