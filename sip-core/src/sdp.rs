//! SDP (RFC 4566) with the offer/answer rules of RFC 3264, kept line-faithful so a B2BUA can
//! rewrite addresses without disturbing anything else.

use std::fmt;
use std::net::IpAddr;

/// Why an SDP body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    /// No `v=0` first line.
    #[error("missing v=0")]
    NoVersion,
    /// A line is not `<letter>=<value>`.
    #[error("malformed line: {0}")]
    BadLine(String),
    /// An `m=` line is malformed.
    #[error("malformed m= line: {0}")]
    BadMedia(String),
    /// Nothing in the offer can be answered.
    #[error("no acceptable media")]
    NoAcceptableMedia,
}

/// Media direction attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// a=sendrecv (default).
    SendRecv,
    /// a=sendonly.
    SendOnly,
    /// a=recvonly.
    RecvOnly,
    /// a=inactive.
    Inactive,
}

impl Direction {
    fn parse(attr: &str) -> Option<Direction> {
        match attr {
            "sendrecv" => Some(Direction::SendRecv),
            "sendonly" => Some(Direction::SendOnly),
            "recvonly" => Some(Direction::RecvOnly),
            "inactive" => Some(Direction::Inactive),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// The direction an answerer uses for this offered direction.
    pub fn answer(self) -> Direction {
        match self {
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            d => d,
        }
    }
}

/// One `m=` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaDescription {
    /// `audio`, `video`, ...
    pub media: String,
    /// Port (0 = rejected).
    pub port: u16,
    /// `RTP/AVP`, ...
    pub proto: String,
    /// Formats (payload types for RTP).
    pub formats: Vec<String>,
    /// The other lines of the section, in order, as (letter, value).
    pub lines: Vec<(char, String)>,
}

impl MediaDescription {
    fn direction_attr(&self) -> Option<Direction> {
        self.lines.iter().find_map(|(k, v)| (*k == 'a').then(|| Direction::parse(v)).flatten())
    }
}

/// A session description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    /// Session-level lines (v=, o=, s=, c=, t=, a=...), in order.
    pub session: Vec<(char, String)>,
    /// Media sections.
    pub media: Vec<MediaDescription>,
}

fn parse_conn(v: &str) -> Option<IpAddr> {
    let mut it = v.split_whitespace();
    let (_net, _kind, addr) = (it.next()?, it.next()?, it.next()?);
    addr.split('/').next()?.parse().ok()
}

fn conn_line(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => format!("IN IP4 {v4}"),
        IpAddr::V6(v6) => format!("IN IP6 {v6}"),
    }
}

impl SessionDescription {
    /// Parses SDP text (CRLF or LF).
    pub fn parse(text: &str) -> Result<SessionDescription, SdpError> {
        let mut session = Vec::new();
        let mut media: Vec<MediaDescription> = Vec::new();
        let mut first = true;
        for raw in text.split('\n') {
            let line = raw.trim_end_matches('\r');
            if line.trim().is_empty() {
                continue;
            }
            let mut chars = line.chars();
            let (Some(k), Some('=')) = (chars.next(), chars.next()) else {
                return Err(SdpError::BadLine(line.chars().take(80).collect()));
            };
            let v = chars.as_str().to_string();
            if first {
                if k != 'v' || v.trim() != "0" {
                    return Err(SdpError::NoVersion);
                }
                first = false;
            }
            if k == 'm' {
                let mut it = v.split_whitespace();
                let (Some(m), Some(port), Some(proto)) = (it.next(), it.next(), it.next()) else {
                    return Err(SdpError::BadMedia(v));
                };
                let port = port
                    .split('/')
                    .next()
                    .and_then(|p| p.parse().ok())
                    .ok_or_else(|| SdpError::BadMedia(v.clone()))?;
                media.push(MediaDescription {
                    media: m.to_string(),
                    port,
                    proto: proto.to_string(),
                    formats: it.map(str::to_string).collect(),
                    lines: Vec::new(),
                });
            } else if let Some(m) = media.last_mut() {
                m.lines.push((k, v));
            } else {
                session.push((k, v));
            }
        }
        if first {
            return Err(SdpError::NoVersion);
        }
        Ok(SessionDescription { session, media })
    }

    /// Connection address of media `i` (media-level c= wins over session-level).
    pub fn connection_address(&self, i: usize) -> Option<IpAddr> {
        let m = self.media.get(i)?;
        m.lines
            .iter()
            .find(|(k, _)| *k == 'c')
            .or_else(|| self.session.iter().find(|(k, _)| *k == 'c'))
            .and_then(|(_, v)| parse_conn(v))
    }

    /// Port of media `i`.
    pub fn media_port(&self, i: usize) -> Option<u16> {
        self.media.get(i).map(|m| m.port)
    }

    /// Direction of media `i`.
    pub fn direction(&self, i: usize) -> Direction {
        let session = self
            .session
            .iter()
            .find_map(|(k, v)| (*k == 'a').then(|| Direction::parse(v)).flatten());
        self.media
            .get(i)
            .and_then(MediaDescription::direction_attr)
            .or(session)
            .unwrap_or(Direction::SendRecv)
    }

    /// True if media `i` is put on hold (sendonly/inactive, or the RFC 2543 c=0.0.0.0).
    pub fn is_hold(&self, i: usize) -> bool {
        matches!(self.direction(i), Direction::SendOnly | Direction::Inactive)
            || self.connection_address(i).is_some_and(|a| a.is_unspecified())
    }

    /// (payload type, encoding, clock rate, channels) of media `i`, static types included.
    pub fn rtpmap(&self, i: usize) -> Vec<(u8, String, u32, u8)> {
        let Some(m) = self.media.get(i) else { return Vec::new() };
        m.formats
            .iter()
            .filter_map(|f| f.parse::<u8>().ok())
            .filter_map(|pt| {
                let mapped = m.lines.iter().find_map(|(k, v)| {
                    let rest = v.strip_prefix("rtpmap:")?;
                    let (p, enc) = rest.split_once(' ')?;
                    (*k == 'a' && p.parse::<u8>().ok()? == pt).then(|| enc.to_string())
                });
                let enc = mapped.or_else(|| match pt {
                    0 => Some("PCMU/8000".into()),
                    8 => Some("PCMA/8000".into()),
                    9 => Some("G722/8000".into()),
                    18 => Some("G729/8000".into()),
                    _ => None,
                })?;
                let mut parts = enc.split('/');
                let name = parts.next()?.to_string();
                let rate = parts.next()?.parse().ok()?;
                let ch = parts.next().and_then(|c| c.parse().ok()).unwrap_or(1);
                Some((pt, name, rate, ch))
            })
            .collect()
    }

    /// Payload type of telephone-event in media `i`.
    pub fn telephone_event_pt(&self, i: usize) -> Option<u8> {
        self.rtpmap(i)
            .into_iter()
            .find(|(_, n, _, _)| n.eq_ignore_ascii_case("telephone-event"))
            .map(|(pt, ..)| pt)
    }

    /// Points every connection line at `ip` (keeping 0.0.0.0 holds), sets the m= ports
    /// (ports of rejected streams stay 0) and drops ICE/RTCP lines that name old addresses.
    pub fn rewrite_for_relay(&mut self, ip: IpAddr, ports: &[u16]) {
        let rewrite = |lines: &mut Vec<(char, String)>| {
            for (k, v) in lines.iter_mut() {
                if *k == 'c' && !parse_conn(v).is_some_and(|a| a.is_unspecified()) {
                    *v = conn_line(ip);
                }
            }
            lines.retain(|(k, v)| {
                !(*k == 'a'
                    && ["candidate:", "ice-ufrag:", "ice-pwd:", "ice-options:", "rtcp:", "end-of-candidates", "remote-candidates:", "ice-lite"]
                        .iter()
                        .any(|p| v.starts_with(p)))
            });
        };
        rewrite(&mut self.session);
        for (i, m) in self.media.iter_mut().enumerate() {
            rewrite(&mut m.lines);
            if m.port != 0 {
                m.port = ports.get(i).copied().unwrap_or(0);
            }
        }
    }

    /// Replaces the o= line.
    pub fn set_origin(&mut self, username: &str, sess_id: u64, version: u64, ip: IpAddr) {
        let o = format!("{username} {sess_id} {version} {}", conn_line(ip));
        match self.session.iter_mut().find(|(k, _)| *k == 'o') {
            Some(line) => line.1 = o,
            None => self.session.insert(1.min(self.session.len()), ('o', o)),
        }
    }

    /// An offer for our local media.
    pub fn offer(local: &LocalMedia) -> SessionDescription {
        let mut m = MediaDescription {
            media: "audio".into(),
            port: local.port,
            proto: "RTP/AVP".into(),
            formats: Vec::new(),
            lines: Vec::new(),
        };
        for c in &local.codecs {
            m.formats.push(c.pt.to_string());
            m.lines.push(('a', c.rtpmap()));
            if let Some(f) = &c.fmtp {
                m.lines.push(('a', format!("fmtp:{} {f}", c.pt)));
            }
        }
        m.lines.push(('a', local.direction.as_str().into()));
        SessionDescription {
            session: vec![
                ('v', "0".into()),
                ('o', format!("- {} 1 {}", local.session_id, conn_line(local.ip))),
                ('s', "-".into()),
                ('c', conn_line(local.ip)),
                ('t', "0 0".into()),
            ],
            media: vec![m],
        }
    }

    /// Our answer to `offer` (RFC 3264 §6): the first offered codec we support, plus
    /// telephone-event if both have it; other media lines are rejected with port 0.
    pub fn answer(offer: &SessionDescription, local: &LocalMedia) -> Result<SessionDescription, SdpError> {
        let mut media = Vec::new();
        let mut accepted = false;
        for (i, m) in offer.media.iter().enumerate() {
            let mut out = MediaDescription {
                media: m.media.clone(),
                port: 0,
                proto: m.proto.clone(),
                formats: Vec::new(),
                lines: Vec::new(),
            };
            if !accepted && m.media == "audio" && m.port != 0 && m.proto.starts_with("RTP/") {
                let offered = offer.rtpmap(i);
                let codec = offered.iter().find_map(|(pt, name, rate, _)| {
                    local
                        .codecs
                        .iter()
                        .find(|c| !c.is_dtmf() && c.name.eq_ignore_ascii_case(name) && c.clock == *rate)
                        .map(|c| (*pt, c))
                });
                if let Some((pt, c)) = codec {
                    out.port = local.port;
                    out.formats.push(pt.to_string());
                    out.lines.push(('a', format!("rtpmap:{pt} {}/{}{}", c.name, c.clock, if c.channels > 1 { format!("/{}", c.channels) } else { String::new() })));
                    if let Some(f) = &c.fmtp {
                        out.lines.push(('a', format!("fmtp:{pt} {f}")));
                    }
                    if let (Some(ev), Some(_)) = (offer.telephone_event_pt(i), local.codecs.iter().find(|c| c.is_dtmf())) {
                        out.formats.push(ev.to_string());
                        out.lines.push(('a', format!("rtpmap:{ev} telephone-event/8000")));
                        out.lines.push(('a', format!("fmtp:{ev} 0-16")));
                    }
                    out.lines.push(('a', offer.direction(i).answer().as_str().into()));
                    accepted = true;
                }
            }
            if out.formats.is_empty() {
                out.formats = m.formats.clone();
            }
            media.push(out);
        }
        if !accepted {
            return Err(SdpError::NoAcceptableMedia);
        }
        Ok(SessionDescription {
            session: vec![
                ('v', "0".into()),
                ('o', format!("- {} 1 {}", local.session_id, conn_line(local.ip))),
                ('s', "-".into()),
                ('c', conn_line(local.ip)),
                ('t', "0 0".into()),
            ],
            media,
        })
    }
}

impl fmt::Display for SessionDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (k, v) in &self.session {
            write!(f, "{k}={v}\r\n")?;
        }
        for m in &self.media {
            write!(f, "m={} {} {}", m.media, m.port, m.proto)?;
            for fmt_ in &m.formats {
                write!(f, " {fmt_}")?;
            }
            f.write_str("\r\n")?;
            for (k, v) in &m.lines {
                write!(f, "{k}={v}\r\n")?;
            }
        }
        Ok(())
    }
}

/// A codec we can send and receive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Codec {
    /// Payload type we offer.
    pub pt: u8,
    /// Encoding name (`PCMU`, `opus`, `telephone-event`).
    pub name: String,
    /// Clock rate.
    pub clock: u32,
    /// Channels.
    pub channels: u8,
    /// fmtp parameters.
    pub fmtp: Option<String>,
}

impl Codec {
    /// A codec without fmtp.
    pub fn new(pt: u8, name: &str, clock: u32, channels: u8) -> Codec {
        Codec { pt, name: name.into(), clock, channels, fmtp: None }
    }

    fn is_dtmf(&self) -> bool {
        self.name.eq_ignore_ascii_case("telephone-event")
    }

    fn rtpmap(&self) -> String {
        if self.channels > 1 {
            format!("rtpmap:{} {}/{}/{}", self.pt, self.name, self.clock, self.channels)
        } else {
            format!("rtpmap:{} {}/{}", self.pt, self.name, self.clock)
        }
    }
}

/// Our side of a negotiation.
#[derive(Debug, Clone)]
pub struct LocalMedia {
    /// Address for c=.
    pub ip: IpAddr,
    /// RTP port.
    pub port: u16,
    /// Codecs in preference order.
    pub codecs: Vec<Codec>,
    /// Direction we want.
    pub direction: Direction,
    /// o= session id.
    pub session_id: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIPP: &str = "v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n";
    const ICE: &str = "v=0\no=- 1 2 IN IP4 192.0.2.10\ns=baresip\nc=IN IP4 192.0.2.10\nt=0 0\nm=audio 10002 RTP/AVP 111 0\nc=IN IP4 192.0.2.10\na=rtpmap:111 opus/48000/2\na=sendonly\na=ice-ufrag:abc\na=candidate:1 1 UDP 1 192.0.2.10 10002 typ host\na=rtcp:10003\nm=video 0 RTP/AVP 96\n";

    fn local(port: u16) -> LocalMedia {
        LocalMedia {
            ip: "10.0.0.1".parse().unwrap(),
            port,
            codecs: vec![Codec::new(0, "PCMU", 8000, 1), Codec::new(8, "PCMA", 8000, 1), Codec::new(111, "opus", 48000, 2), Codec::new(101, "telephone-event", 8000, 1)],
            direction: Direction::SendRecv,
            session_id: 7,
        }
    }

    #[test]
    fn parse_and_serialise() {
        let s = SessionDescription::parse(SIPP).unwrap();
        assert_eq!(s.to_string(), SIPP);
        assert_eq!(s.connection_address(0), Some("127.0.0.1".parse().unwrap()));
        assert_eq!(s.media_port(0), Some(6000));
        assert_eq!(s.telephone_event_pt(0), Some(101));
        assert_eq!(s.rtpmap(0)[1], (0, "PCMU".into(), 8000, 1));
        assert!(!s.is_hold(0));
    }

    #[test]
    fn rewrite_drops_ice_and_keeps_hold() {
        let mut s = SessionDescription::parse(ICE).unwrap();
        assert!(s.is_hold(0));
        s.rewrite_for_relay("127.0.0.1".parse().unwrap(), &[20000, 20002]);
        s.set_origin("centralino", 1, 3, "127.0.0.1".parse().unwrap());
        let text = s.to_string();
        assert!(!text.contains("192.0.2.10"), "{text}");
        assert!(!text.contains("candidate") && !text.contains("ice-") && !text.contains("rtcp:"));
        assert!(text.contains("m=audio 20000 RTP/AVP 111 0"));
        assert!(text.contains("m=video 0 RTP/AVP 96"), "rejected stream stays rejected");
        assert!(text.contains("o=centralino 1 3 IN IP4 127.0.0.1"));
        let mut old_hold = SessionDescription::parse(&SIPP.replace("c=IN IP4 127.0.0.1", "c=IN IP4 0.0.0.0")).unwrap();
        assert!(old_hold.is_hold(0));
        old_hold.rewrite_for_relay("127.0.0.1".parse().unwrap(), &[20000]);
        assert!(old_hold.is_hold(0));
    }

    #[test]
    fn answers() {
        let offer = SessionDescription::parse(SIPP).unwrap();
        let a = SessionDescription::answer(&offer, &local(4000)).unwrap();
        assert_eq!(a.media[0].formats, vec!["8", "101"]);
        assert_eq!(a.media_port(0), Some(4000));
        let ice = SessionDescription::parse(ICE).unwrap();
        let b = SessionDescription::answer(&ice, &local(4000)).unwrap();
        assert_eq!(b.media[0].formats[0], "111", "dynamic PT kept");
        assert_eq!(b.direction(0), Direction::RecvOnly);
        assert_eq!(b.media[1].port, 0, "video rejected");
        let g729 = SessionDescription::parse(&SIPP.replace("8 0 101", "18")).unwrap();
        assert_eq!(SessionDescription::answer(&g729, &local(1)), Err(SdpError::NoAcceptableMedia));
        let o = SessionDescription::offer(&local(5000));
        assert_eq!(SessionDescription::parse(&o.to_string()).unwrap(), o);
    }

    #[test]
    fn garbage() {
        for bad in ["", "hello", "v=1\r\n", "v=0\r\nm=audio\r\n", "v=0\r\nm=audio x RTP/AVP 0\r\n", "v=0\r\nnoequals\r\n"] {
            assert!(SessionDescription::parse(bad).is_err(), "{bad:?}");
        }
    }
}
