//! SDP (RFC 4566) with the offer/answer rules of RFC 3264, kept line-faithful so a B2BUA can
//! rewrite addresses without disturbing anything else.
//!
//! A [`SessionDescription`] keeps every line in order as `(type, value)`; helpers read what
//! the PBX needs (address, port, direction, codecs) and [`SessionDescription::rewrite_for_relay`]
//! anchors media at our relay. [`offer`] and [`answer`] serve our own endpoints (softphone,
//! voicemail, music on hold). Parsing never panics and tolerates unknown lines and attributes.

use std::fmt;
use std::net::IpAddr;

/// Why an SDP body was refused, or could not be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    /// The first line is not `v=0` (includes empty input).
    #[error("missing v=0")]
    NoVersion,
    /// A line is not `<letter>=<value>`.
    #[error("malformed SDP line {line}")]
    BadLine {
        /// 1-based line number.
        line: usize,
    },
    /// An `m=` line lacks media, port or proto, or has a bad port.
    #[error("malformed m= line {line}")]
    BadMedia {
        /// 1-based line number.
        line: usize,
    },
    /// No offered stream has a codec we support.
    #[error("no acceptable media")]
    NoAcceptableMedia,
}

/// Media direction attribute (RFC 3264 §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// `a=sendrecv` (the default).
    SendRecv,
    /// `a=sendonly`.
    SendOnly,
    /// `a=recvonly`.
    RecvOnly,
    /// `a=inactive`.
    Inactive,
}

impl Direction {
    /// Parses an attribute value (`sendonly`, ...); anything else is `None`.
    pub fn parse(attr: &str) -> Option<Direction> {
        match attr.trim() {
            "sendrecv" => Some(Direction::SendRecv),
            "sendonly" => Some(Direction::SendOnly),
            "recvonly" => Some(Direction::RecvOnly),
            "inactive" => Some(Direction::Inactive),
            _ => None,
        }
    }

    /// The attribute token.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// Whether this side sends media.
    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    /// Whether this side receives media.
    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }

    /// The direction for the given capabilities.
    pub fn from_flags(send: bool, recv: bool) -> Direction {
        match (send, recv) {
            (true, true) => Direction::SendRecv,
            (true, false) => Direction::SendOnly,
            (false, true) => Direction::RecvOnly,
            (false, false) => Direction::Inactive,
        }
    }

    /// The direction an answerer that can do everything uses for this offered direction.
    pub fn answer(self) -> Direction {
        Direction::from_flags(self.receives(), self.sends())
    }
}

/// One `m=` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaDescription {
    /// `audio`, `video`, ...
    pub media: String,
    /// Port (0 = rejected stream).
    pub port: u16,
    /// The `/<number of ports>` suffix of the port, if any.
    pub port_count: Option<u16>,
    /// `RTP/AVP`, ...
    pub proto: String,
    /// Formats (payload types for RTP), as written.
    pub formats: Vec<String>,
    /// The other lines of the section (c=, b=, a=...), in order, as (type, value).
    pub lines: Vec<(char, String)>,
}

impl MediaDescription {
    fn direction_attr(&self) -> Option<Direction> {
        direction_in(&self.lines)
    }
}

/// A session description: session-level lines and media sections, every line in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    /// Session-level lines (v=, o=, s=, c=, t=, a=...), in order.
    pub session: Vec<(char, String)>,
    /// Media sections.
    pub media: Vec<MediaDescription>,
}

/// `(payload type, encoding name, clock rate, channels)` from `a=rtpmap` or the static table.
pub type RtpMap = (u8, String, u32, u8);

/// Attributes that name transport addresses a relay replaces (ICE, RFC 8839; RTCP, RFC 3605).
const ADDRESS_ATTRIBUTES: &[&str] = &[
    "candidate:",
    "remote-candidates:",
    "end-of-candidates",
    "ice-ufrag:",
    "ice-pwd:",
    "ice-options:",
    "ice-lite",
    "ice-mismatch",
    "rtcp:",
];

/// Static RTP/AVP payload types (RFC 3551 §6) that phones send without `a=rtpmap`.
fn static_payload(pt: u8) -> Option<(&'static str, u32)> {
    match pt {
        0 => Some(("PCMU", 8000)),
        3 => Some(("GSM", 8000)),
        4 => Some(("G723", 8000)),
        8 => Some(("PCMA", 8000)),
        9 => Some(("G722", 8000)),
        13 => Some(("CN", 8000)),
        18 => Some(("G729", 8000)),
        _ => None,
    }
}

fn direction_in(lines: &[(char, String)]) -> Option<Direction> {
    lines
        .iter()
        .find_map(|(k, v)| (*k == 'a').then(|| Direction::parse(v)).flatten())
}

/// The address of a `c=` value (`IN IP4 192.0.2.1[/ttl]`); `None` for FQDNs or garbage.
fn parse_conn(v: &str) -> Option<IpAddr> {
    let mut it = v.split_whitespace();
    let (_net, _kind, addr) = (it.next()?, it.next()?, it.next()?);
    addr.split('/').next()?.parse().ok()
}

/// `IN IP4 <ip>` or `IN IP6 <ip>`.
fn conn_line(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => format!("IN IP4 {v4}"),
        IpAddr::V6(v6) => format!("IN IP6 {v6}"),
    }
}

fn is_telephone_event(name: &str) -> bool {
    name.eq_ignore_ascii_case("telephone-event")
}

/// `PCMU/8000` or `opus/48000/2`.
fn encoding(name: &str, clock: u32, channels: u8) -> String {
    if channels > 1 {
        format!("{name}/{clock}/{channels}")
    } else {
        format!("{name}/{clock}")
    }
}

/// `opus/48000/2` of payload type `pt`; `None` without a name or a numeric clock rate.
fn parse_encoding(pt: u8, enc: &str) -> Option<RtpMap> {
    let mut parts = enc.split('/');
    let name = parts.next().filter(|n| !n.is_empty())?.to_string();
    let clock = parts.next()?.parse().ok()?;
    let channels = parts.next().and_then(|c| c.parse().ok()).unwrap_or(1);
    Some((pt, name, clock, channels))
}

fn parse_media_line(v: &str, line: usize) -> Result<MediaDescription, SdpError> {
    let bad = SdpError::BadMedia { line };
    let mut it = v.split_whitespace();
    let (Some(media), Some(port), Some(proto)) = (it.next(), it.next(), it.next()) else {
        return Err(bad);
    };
    let (port, port_count) = match port.split_once('/') {
        Some((p, n)) => (p, Some(n.parse().map_err(|_| bad.clone())?)),
        None => (port, None),
    };
    Ok(MediaDescription {
        media: media.to_string(),
        port: port.parse().map_err(|_| bad)?,
        port_count,
        proto: proto.to_string(),
        formats: it.map(str::to_string).collect(),
        lines: Vec::new(),
    })
}

impl SessionDescription {
    /// Parses SDP text with CRLF or LF line endings. Blank lines are skipped; unknown line
    /// types and attributes are kept as they are.
    pub fn parse(text: &str) -> Result<SessionDescription, SdpError> {
        let mut session = Vec::new();
        let mut media: Vec<MediaDescription> = Vec::new();
        let mut seen_version = false;
        for (n, raw) in text.split('\n').enumerate() {
            let line_no = n + 1;
            let line = raw.trim_end_matches('\r');
            if line.trim().is_empty() {
                continue;
            }
            let mut chars = line.chars();
            let (Some(k), Some('=')) = (chars.next(), chars.next()) else {
                return Err(SdpError::BadLine { line: line_no });
            };
            if !k.is_ascii_alphabetic() {
                return Err(SdpError::BadLine { line: line_no });
            }
            let v = chars.as_str();
            if !seen_version {
                if k != 'v' || v.trim() != "0" {
                    return Err(SdpError::NoVersion);
                }
                seen_version = true;
            }
            if k == 'm' {
                media.push(parse_media_line(v, line_no)?);
            } else if let Some(m) = media.last_mut() {
                m.lines.push((k, v.to_string()));
            } else {
                session.push((k, v.to_string()));
            }
        }
        if !seen_version {
            return Err(SdpError::NoVersion);
        }
        Ok(SessionDescription { session, media })
    }

    /// Connection address of media `i` (media-level `c=` wins over session-level).
    pub fn connection_address(&self, i: usize) -> Option<IpAddr> {
        let m = self.media.get(i)?;
        m.lines
            .iter()
            .find(|(k, _)| *k == 'c')
            .or_else(|| self.session.iter().find(|(k, _)| *k == 'c'))
            .and_then(|(_, v)| parse_conn(v))
    }

    /// Port of media `i` (0 = rejected).
    pub fn media_port(&self, i: usize) -> Option<u16> {
        self.media.get(i).map(|m| m.port)
    }

    /// Direction of media `i`: its own attribute, else the session's, else sendrecv.
    pub fn direction(&self, i: usize) -> Direction {
        self.media
            .get(i)
            .and_then(MediaDescription::direction_attr)
            .or_else(|| direction_in(&self.session))
            .unwrap_or(Direction::SendRecv)
    }

    /// True if media `i` is put on hold (sendonly/inactive, or the RFC 2543 `c=0.0.0.0`).
    pub fn is_hold(&self, i: usize) -> bool {
        matches!(self.direction(i), Direction::SendOnly | Direction::Inactive)
            || self
                .connection_address(i)
                .is_some_and(|a| a.is_unspecified())
    }

    /// The codecs of media `i` in format order: `a=rtpmap` entries, and the static payload
    /// types (0 PCMU, 8 PCMA, ...) when they have no rtpmap. Unknown formats are skipped.
    pub fn rtpmap(&self, i: usize) -> Vec<RtpMap> {
        let Some(m) = self.media.get(i) else {
            return Vec::new();
        };
        m.formats
            .iter()
            .filter_map(|f| f.parse::<u8>().ok())
            .filter_map(|pt| {
                let mapped = m.lines.iter().find_map(|(k, v)| {
                    let mut it = v.strip_prefix("rtpmap:")?.split_whitespace();
                    let (p, enc) = (it.next()?, it.next()?);
                    (*k == 'a' && p.parse::<u8>().ok()? == pt).then_some(enc)
                });
                mapped.and_then(|enc| parse_encoding(pt, enc)).or_else(|| {
                    static_payload(pt).map(|(name, clock)| (pt, name.to_string(), clock, 1))
                })
            })
            .collect()
    }

    /// Payload type of the first `telephone-event` (RFC 4733) in media `i`.
    pub fn telephone_event_pt(&self, i: usize) -> Option<u8> {
        self.rtpmap(i)
            .into_iter()
            .find(|(_, name, _, _)| is_telephone_event(name))
            .map(|(pt, ..)| pt)
    }

    /// Anchors the media at a relay on `ip`.
    ///
    /// Every `c=` (session and media level) becomes `IN IP4|IP6 ip`, except `0.0.0.0` (an
    /// RFC 2543 hold), which stays. The port of m-line `i` becomes `ports[i]`; a rejected
    /// stream (port 0) stays 0 and a stream without an entry in `ports` is rejected (0).
    /// ICE and `a=rtcp` lines, which name the old addresses, are removed. `o=` gets the relay
    /// address and its version incremented; use [`Self::set_origin`] to impose a counter.
    pub fn rewrite_for_relay(&mut self, ip: IpAddr, ports: &[u16]) {
        let rewrite = |lines: &mut Vec<(char, String)>| {
            for (k, v) in lines.iter_mut() {
                if *k == 'c' && !parse_conn(v).is_some_and(|a| a.is_unspecified()) {
                    *v = conn_line(ip);
                }
            }
            lines.retain(|(k, v)| {
                !(*k == 'a' && ADDRESS_ATTRIBUTES.iter().any(|p| v.starts_with(p)))
            });
        };
        rewrite(&mut self.session);
        for (k, v) in self.session.iter_mut() {
            if *k == 'o' {
                *v = bumped_origin(v, ip);
            }
        }
        for (i, m) in self.media.iter_mut().enumerate() {
            rewrite(&mut m.lines);
            if m.port != 0 {
                m.port = ports.get(i).copied().unwrap_or(0);
            }
            m.port_count = None;
        }
    }

    /// Replaces the `o=` line (inserted after `v=` if missing). Keep one `version` counter per
    /// call leg and increase it whenever the description changes (RFC 3264 §8).
    pub fn set_origin(&mut self, username: &str, sess_id: u64, version: u64, ip: IpAddr) {
        let username = if username.is_empty() || username.contains(char::is_whitespace) {
            "-"
        } else {
            username
        };
        let o = format!("{username} {sess_id} {version} {}", conn_line(ip));
        match self.session.iter_mut().find(|(k, _)| *k == 'o') {
            Some(line) => line.1 = o,
            None => self.session.insert(1.min(self.session.len()), ('o', o)),
        }
    }
}

/// The `o=` value with the address set to `ip` and the version incremented (kept if it is
/// not a number).
fn bumped_origin(v: &str, ip: IpAddr) -> String {
    let fields: Vec<&str> = v.split_whitespace().collect();
    match fields.as_slice() {
        [user, id, version, ..] => {
            let version = version
                .parse::<u64>()
                .ok()
                .and_then(|n| n.checked_add(1))
                .map_or_else(|| (*version).to_string(), |n| n.to_string());
            format!("{user} {id} {version} {}", conn_line(ip))
        }
        _ => format!("- 0 1 {}", conn_line(ip)),
    }
}

impl fmt::Display for SessionDescription {
    /// The description with CRLF line endings.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (k, v) in &self.session {
            write!(f, "{k}={v}\r\n")?;
        }
        for m in &self.media {
            write!(f, "m={} {}", m.media, m.port)?;
            if let Some(n) = m.port_count {
                write!(f, "/{n}")?;
            }
            write!(f, " {}", m.proto)?;
            for format in &m.formats {
                write!(f, " {format}")?;
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
    /// Channels (1 unless stated, e.g. 2 for opus).
    pub channels: u8,
    /// `a=fmtp` parameters.
    pub fmtp: Option<String>,
}

impl Codec {
    /// A codec without fmtp.
    pub fn new(pt: u8, name: &str, clock: u32, channels: u8) -> Codec {
        Codec {
            pt,
            name: name.into(),
            clock,
            channels,
            fmtp: None,
        }
    }

    /// The same codec with `a=fmtp` parameters.
    pub fn with_fmtp(mut self, fmtp: &str) -> Codec {
        self.fmtp = Some(fmtp.into());
        self
    }

    fn is_dtmf(&self) -> bool {
        is_telephone_event(&self.name)
    }
}

/// Our side of a negotiation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalMedia {
    /// Address for `c=` and `o=`.
    pub ip: IpAddr,
    /// RTP port.
    pub port: u16,
    /// Codecs in preference order (`telephone-event` entries enable RFC 4733 DTMF).
    pub codecs: Vec<Codec>,
    /// Direction we want (`sendonly` to put the peer on hold).
    pub direction: Direction,
    /// `o=` session id.
    pub session_id: u64,
}

impl LocalMedia {
    /// PCMU 0, PCMA 8, opus 111/48000/2 and telephone-event 101/8000, sendrecv.
    pub fn new(ip: IpAddr, port: u16, session_id: u64) -> LocalMedia {
        LocalMedia {
            ip,
            port,
            codecs: vec![
                Codec::new(0, "PCMU", 8000, 1),
                Codec::new(8, "PCMA", 8000, 1),
                Codec::new(111, "opus", 48000, 2).with_fmtp("useinbandfec=1"),
                Codec::new(101, "telephone-event", 8000, 1).with_fmtp("0-16"),
            ],
            direction: Direction::SendRecv,
            session_id,
        }
    }

    fn session_lines(&self, timing: &str) -> Vec<(char, String)> {
        vec![
            ('v', "0".into()),
            (
                'o',
                format!("- {} 1 {}", self.session_id, conn_line(self.ip)),
            ),
            ('s', "-".into()),
            ('c', conn_line(self.ip)),
            ('t', timing.into()),
        ]
    }
}

/// An offer for our local media: one audio stream with all our codecs, in order.
pub fn offer(local: &LocalMedia) -> SessionDescription {
    let mut m = MediaDescription {
        media: "audio".into(),
        port: local.port,
        port_count: None,
        proto: "RTP/AVP".into(),
        formats: Vec::new(),
        lines: Vec::new(),
    };
    for c in &local.codecs {
        m.formats.push(c.pt.to_string());
        let enc = encoding(&c.name, c.clock, c.channels);
        m.lines.push(('a', format!("rtpmap:{} {enc}", c.pt)));
        if let Some(f) = &c.fmtp {
            m.lines.push(('a', format!("fmtp:{} {f}", c.pt)));
        }
    }
    m.lines.push(('a', local.direction.as_str().into()));
    SessionDescription {
        session: local.session_lines("0 0"),
        media: vec![m],
    }
}

/// Whether we can answer a stream with this proto: plain RTP, no SRTP/DTLS.
fn answerable_proto(proto: &str) -> bool {
    proto.eq_ignore_ascii_case("RTP/AVP") || proto.eq_ignore_ascii_case("RTP/AVPF")
}

/// Our answer to `offer` (RFC 3264 §6).
///
/// The first audio stream over RTP/AVP(F) with a codec we support is accepted: the first of
/// the *offerer's* codecs we support, under the offer's payload type number, plus
/// `telephone-event` if both sides have it (preferring the chosen codec's clock rate). Its
/// direction answers the offer's, limited by `local.direction`; an RFC 2543 hold
/// (`c=0.0.0.0`) is answered as if the offerer could not receive. Every other m-line is
/// rejected with port 0, keeping count and order. [`SdpError::NoAcceptableMedia`] if none
/// can be accepted (the caller answers 488).
pub fn answer(
    offer: &SessionDescription,
    local: &LocalMedia,
) -> Result<SessionDescription, SdpError> {
    let mut media = Vec::with_capacity(offer.media.len());
    let mut accepted = false;
    for (i, m) in offer.media.iter().enumerate() {
        let taken = if accepted {
            None
        } else {
            accept_stream(offer, i, local)
        };
        accepted |= taken.is_some();
        media.push(taken.unwrap_or_else(|| MediaDescription {
            media: m.media.clone(),
            port: 0,
            port_count: None,
            proto: m.proto.clone(),
            formats: m.formats.clone(),
            lines: Vec::new(),
        }));
    }
    if !accepted {
        return Err(SdpError::NoAcceptableMedia);
    }
    // RFC 3264 §6: the answer's t= equals the offer's.
    let timing = offer
        .session
        .iter()
        .find(|(k, _)| *k == 't')
        .map_or("0 0", |(_, v)| v.as_str());
    Ok(SessionDescription {
        session: local.session_lines(timing),
        media,
    })
}

/// The answer for stream `i` of `offer`, or `None` to reject it.
fn accept_stream(
    offer: &SessionDescription,
    i: usize,
    local: &LocalMedia,
) -> Option<MediaDescription> {
    let m = offer.media.get(i)?;
    if m.port == 0 || !m.media.eq_ignore_ascii_case("audio") || !answerable_proto(&m.proto) {
        return None;
    }
    let offered = offer.rtpmap(i);
    let (pt, name, clock, channels, ours) = offered.iter().find_map(|(pt, name, clock, ch)| {
        local
            .codecs
            .iter()
            .find(|c| {
                !c.is_dtmf()
                    && c.name.eq_ignore_ascii_case(name)
                    && c.clock == *clock
                    && c.channels.max(1) == (*ch).max(1)
            })
            .map(|c| (*pt, name, *clock, *ch, c))
    })?;
    let mut out = MediaDescription {
        media: m.media.clone(),
        port: local.port,
        port_count: None,
        proto: m.proto.clone(),
        formats: vec![pt.to_string()],
        lines: vec![(
            'a',
            format!("rtpmap:{pt} {}", encoding(name, clock, channels)),
        )],
    };
    if let Some(f) = &ours.fmtp {
        out.lines.push(('a', format!("fmtp:{pt} {f}")));
    }
    let local_dtmf: Vec<&Codec> = local.codecs.iter().filter(|c| c.is_dtmf()).collect();
    if !local_dtmf.is_empty() {
        let events = || offered.iter().filter(|(_, n, _, _)| is_telephone_event(n));
        let event = events()
            .find(|(_, _, c, _)| *c == clock)
            .or_else(|| events().find(|(_, _, c, _)| local_dtmf.iter().any(|d| d.clock == *c)));
        if let Some((ev, ev_name, ev_clock, _)) = event {
            let fmtp = local_dtmf
                .iter()
                .find_map(|d| d.fmtp.as_deref())
                .unwrap_or("0-15");
            out.formats.push(ev.to_string());
            out.lines
                .push(('a', format!("rtpmap:{ev} {ev_name}/{ev_clock}")));
            out.lines.push(('a', format!("fmtp:{ev} {fmtp}")));
        }
    }
    let offered_dir = offer.direction(i);
    let peer_receives = offered_dir.receives()
        && !offer
            .connection_address(i)
            .is_some_and(|a| a.is_unspecified());
    let dir = Direction::from_flags(
        peer_receives && local.direction.sends(),
        offered_dir.sends() && local.direction.receives(),
    );
    out.lines.push(('a', dir.as_str().into()));
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    type R = Result<(), Box<dyn std::error::Error>>;

    /// What SIPp's uac scenario sends (tests/sipp/uac_call.xml).
    const SIPP: &str = "v=0\r\n\
        o=user1 53655765 2353687637 IN IP4 127.0.0.1\r\n\
        s=-\r\n\
        c=IN IP4 127.0.0.1\r\n\
        t=0 0\r\n\
        m=audio 6000 RTP/AVP 8 0 101\r\n\
        a=rtpmap:8 PCMA/8000\r\n\
        a=rtpmap:101 telephone-event/8000\r\n\
        a=fmtp:101 0-15\r\n";

    /// A linphone/baresip-style offer behind NAT, with ICE, RTCP and a video stream; LF only.
    const LINPHONE: &str = "v=0\n\
        o=alice 2890 2890 IN IP4 192.168.1.23\n\
        s=Talk\n\
        c=IN IP4 192.168.1.23\n\
        t=0 0\n\
        a=ice-pwd:31ec21eb38b2ec6d36e8dc7b\n\
        a=ice-ufrag:6a8d9b4a\n\
        a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics\n\
        a=record:off\n\
        m=audio 7078 RTP/AVP 96 97 0 8 101 100\n\
        c=IN IP4 203.0.113.7\n\
        a=rtpmap:96 opus/48000/2\n\
        a=fmtp:96 useinbandfec=1\n\
        a=rtpmap:97 speex/16000\n\
        a=rtpmap:101 telephone-event/48000\n\
        a=rtpmap:100 telephone-event/8000\n\
        a=rtcp:7079\n\
        a=candidate:1 1 UDP 2130706431 192.168.1.23 7078 typ host\n\
        a=candidate:2 1 UDP 1694498815 203.0.113.7 7078 typ srflx raddr 192.168.1.23 rport 7078\n\
        a=end-of-candidates\n\
        a=rtcp-mux\n\
        a=rtcp-fb:* trr-int 1000\n\
        m=video 9078 RTP/AVP 96\n\
        c=IN IP4 203.0.113.7\n\
        a=rtpmap:96 VP8/90000\n\
        a=rtcp:9079\n\
        a=candidate:1 1 UDP 2130706431 192.168.1.23 9078 typ host\n";

    fn local(port: u16) -> Result<LocalMedia, Box<dyn std::error::Error>> {
        Ok(LocalMedia::new("10.0.0.1".parse()?, port, 7))
    }

    fn ip(s: &str) -> Result<IpAddr, std::net::AddrParseError> {
        s.parse()
    }

    fn attrs(m: &MediaDescription) -> Vec<&str> {
        m.lines
            .iter()
            .filter(|(k, _)| *k == 'a')
            .map(|(_, v)| v.as_str())
            .collect()
    }

    #[test]
    fn sipp_sdp_parses_and_serialises_faithfully() -> R {
        let s = SessionDescription::parse(SIPP)?;
        assert_eq!(s.to_string(), SIPP);
        assert_eq!(s.session.len(), 5);
        assert_eq!(s.media.len(), 1);
        assert_eq!(s.media[0].formats, ["8", "0", "101"]);
        assert_eq!(s.connection_address(0), Some(ip("127.0.0.1")?));
        assert_eq!(s.media_port(0), Some(6000));
        assert_eq!(s.media_port(1), None);
        assert_eq!(s.direction(0), Direction::SendRecv);
        assert!(!s.is_hold(0));
        assert_eq!(s.telephone_event_pt(0), Some(101));
        assert_eq!(
            s.rtpmap(0),
            vec![
                (8, "PCMA".into(), 8000, 1),
                (0, "PCMU".into(), 8000, 1),
                (101, "telephone-event".into(), 8000, 1)
            ],
            "static PT 0 without rtpmap is PCMU"
        );
        Ok(())
    }

    #[test]
    fn linphone_sdp_with_ice_parses_and_serialises_with_crlf() -> R {
        let s = SessionDescription::parse(LINPHONE)?;
        assert_eq!(s.to_string(), LINPHONE.replace('\n', "\r\n"));
        assert_eq!(SessionDescription::parse(&s.to_string())?, s);
        assert_eq!(
            s.connection_address(0),
            Some(ip("203.0.113.7")?),
            "media c= wins"
        );
        assert_eq!(s.media_port(1), Some(9078));
        assert_eq!(s.rtpmap(0)[0], (96, "opus".into(), 48000, 2));
        assert_eq!(s.rtpmap(0)[1], (97, "speex".into(), 16000, 1));
        assert_eq!(s.telephone_event_pt(0), Some(101));
        assert_eq!(s.rtpmap(1), vec![(96, "VP8".into(), 90000, 1)]);
        assert!(s.rtpmap(5).is_empty());
        Ok(())
    }

    #[test]
    fn session_connection_and_direction_apply_when_media_has_none() -> R {
        let text = SIPP.replace("t=0 0\r\n", "t=0 0\r\na=inactive\r\n");
        let s = SessionDescription::parse(&text)?;
        assert_eq!(s.direction(0), Direction::Inactive);
        let text = text.replace("a=fmtp:101 0-15\r\n", "a=fmtp:101 0-15\r\na=recvonly\r\n");
        let s = SessionDescription::parse(&text)?;
        assert_eq!(s.direction(0), Direction::RecvOnly, "media level wins");
        assert!(!s.is_hold(0));
        let fqdn = SessionDescription::parse(
            &SIPP.replace("IN IP4 127.0.0.1\r\nt", "IN IP4 pbx.example\r\nt"),
        )?;
        assert_eq!(fqdn.connection_address(0), None);
        Ok(())
    }

    #[test]
    fn hold_detection() -> R {
        for (needle, hold) in [
            ("a=sendonly", true),
            ("a=inactive", true),
            ("a=recvonly", false),
            ("a=sendrecv", false),
        ] {
            let s = SessionDescription::parse(&format!("{SIPP}{needle}\r\n"))?;
            assert_eq!(s.is_hold(0), hold, "{needle}");
        }
        let old =
            SessionDescription::parse(&SIPP.replace("c=IN IP4 127.0.0.1", "c=IN IP4 0.0.0.0"))?;
        assert_eq!(old.direction(0), Direction::SendRecv);
        assert!(old.is_hold(0), "RFC 2543 hold");
        Ok(())
    }

    #[test]
    fn rewrite_for_relay_anchors_media_and_drops_ice() -> R {
        let mut s = SessionDescription::parse(LINPHONE)?;
        s.rewrite_for_relay(ip("198.51.100.1")?, &[20000, 20002]);
        let text = s.to_string();
        for gone in [
            "192.168.1.23",
            "203.0.113.7",
            "candidate",
            "ice-",
            "a=rtcp:",
        ] {
            assert!(!text.contains(gone), "{gone} left in\n{text}");
        }
        assert!(text.starts_with("v=0\r\no=alice 2890 2891 IN IP4 198.51.100.1\r\ns=Talk\r\n"));
        assert_eq!(s.connection_address(0), Some(ip("198.51.100.1")?));
        assert_eq!(s.media_port(0), Some(20000));
        assert_eq!(s.media_port(1), Some(20002));
        assert_eq!(
            attrs(&s.media[0]),
            [
                "rtpmap:96 opus/48000/2",
                "fmtp:96 useinbandfec=1",
                "rtpmap:97 speex/16000",
                "rtpmap:101 telephone-event/48000",
                "rtpmap:100 telephone-event/8000",
                "rtcp-mux",
                "rtcp-fb:* trr-int 1000"
            ],
            "everything else kept, in order"
        );
        assert!(attrs_session(&s).contains(&"record:off"));
        // Again (the next re-INVITE through the relay): version bumps again.
        s.rewrite_for_relay(ip("198.51.100.1")?, &[20000]);
        assert_eq!(s.media_port(1), Some(0), "no relay port: stream refused");
        assert!(s.to_string().contains("o=alice 2890 2892 IN IP4"));
        Ok(())
    }

    fn attrs_session(s: &SessionDescription) -> Vec<&str> {
        s.session
            .iter()
            .filter(|(k, _)| *k == 'a')
            .map(|(_, v)| v.as_str())
            .collect()
    }

    #[test]
    fn rewrite_keeps_rejected_streams_and_old_hold() -> R {
        let text = SIPP.replace("c=IN IP4 127.0.0.1", "c=IN IP4 0.0.0.0")
            + "m=video 0 RTP/AVP 96\r\nc=IN IP4 127.0.0.1\r\n";
        let mut s = SessionDescription::parse(&text)?;
        s.rewrite_for_relay(ip("10.1.1.1")?, &[30000, 30002]);
        assert_eq!(s.connection_address(0), Some(ip("0.0.0.0")?), "hold kept");
        assert!(s.is_hold(0));
        assert_eq!(s.media_port(0), Some(30000));
        assert_eq!(s.media_port(1), Some(0), "rejected stays rejected");
        assert_eq!(s.connection_address(1), Some(ip("10.1.1.1")?));
        Ok(())
    }

    #[test]
    fn rewrite_to_ipv6_and_port_count() -> R {
        let text = SIPP.replace("m=audio 6000 ", "m=audio 6000/2 ");
        let mut s = SessionDescription::parse(&text)?;
        assert_eq!(s.media[0].port_count, Some(2));
        assert_eq!(s.to_string(), text);
        s.rewrite_for_relay(ip("2001:db8::1")?, &[4000]);
        let out = s.to_string();
        assert!(out.contains("c=IN IP6 2001:db8::1\r\n"), "{out}");
        assert!(out.contains("o=user1 53655765 2353687638 IN IP6 2001:db8::1\r\n"));
        assert!(out.contains("m=audio 4000 RTP/AVP 8 0 101\r\n"));
        Ok(())
    }

    #[test]
    fn set_origin_replaces_or_inserts() -> R {
        let mut s = SessionDescription::parse(SIPP)?;
        s.rewrite_for_relay(ip("127.0.0.2")?, &[7000]);
        s.set_origin("centralino", 1, 5, ip("127.0.0.2")?);
        assert!(s
            .to_string()
            .contains("\r\no=centralino 1 5 IN IP4 127.0.0.2\r\n"));
        s.set_origin("bad name", 1, 6, ip("127.0.0.2")?);
        assert_eq!(
            s.session.get(1),
            Some(&('o', "- 1 6 IN IP4 127.0.0.2".to_string()))
        );
        let mut bare = SessionDescription::parse("v=0\ns=-\n")?;
        bare.set_origin("x", 2, 3, ip("::1")?);
        assert_eq!(bare.to_string(), "v=0\r\no=x 2 3 IN IP6 ::1\r\ns=-\r\n");
        Ok(())
    }

    #[test]
    fn answer_pcma_only_offer_gets_pcma() -> R {
        let offer = SessionDescription::parse(&SIPP.replace("8 0 101", "8 101"))?;
        let a = answer(&offer, &local(4000)?)?;
        assert_eq!(a.media.len(), 1);
        assert_eq!(a.media[0].formats, ["8", "101"]);
        assert_eq!(a.media_port(0), Some(4000));
        assert_eq!(a.connection_address(0), Some(ip("10.0.0.1")?));
        assert_eq!(a.direction(0), Direction::SendRecv);
        assert_eq!(a.telephone_event_pt(0), Some(101));
        assert_eq!(SessionDescription::parse(&a.to_string())?, a);
        Ok(())
    }

    #[test]
    fn answer_follows_offerer_preference() -> R {
        let a = answer(&SessionDescription::parse(SIPP)?, &local(4000)?)?;
        assert_eq!(a.media[0].formats, ["8", "101"], "offer lists PCMA first");
        Ok(())
    }

    #[test]
    fn answer_keeps_dynamic_payload_types_and_rejects_video() -> R {
        let offer = SessionDescription::parse(LINPHONE)?;
        let a = answer(&offer, &local(4000)?)?;
        assert_eq!(a.media.len(), 2, "m-line count kept");
        assert_eq!(
            a.media[0].formats,
            ["96", "101"],
            "offer's opus and telephone-event PTs"
        );
        assert_eq!(a.rtpmap(0)[0], (96, "opus".into(), 48000, 2));
        assert_eq!(a.rtpmap(0)[1], (101, "telephone-event".into(), 48000, 1));
        assert!(attrs(&a.media[0]).contains(&"fmtp:96 useinbandfec=1"));
        assert_eq!(a.media[1].media, "video");
        assert_eq!(a.media_port(1), Some(0));
        assert_eq!(a.media[1].formats, ["96"]);
        Ok(())
    }

    #[test]
    fn answer_telephone_event_falls_back_to_our_clock() -> R {
        let mut ours = local(4000)?;
        ours.codecs.retain(|c| c.name != "opus");
        let a = answer(&SessionDescription::parse(LINPHONE)?, &ours)?;
        assert_eq!(
            a.media[0].formats,
            ["0", "100"],
            "PCMU with telephone-event/8000"
        );
        ours.codecs.retain(|c| !c.is_dtmf());
        let a = answer(&SessionDescription::parse(LINPHONE)?, &ours)?;
        assert_eq!(a.media[0].formats, ["0"], "no DTMF unless both have it");
        Ok(())
    }

    #[test]
    fn answer_directions() -> R {
        for (offered, ours, want) in [
            ("sendrecv", Direction::SendRecv, Direction::SendRecv),
            ("sendonly", Direction::SendRecv, Direction::RecvOnly),
            ("recvonly", Direction::SendRecv, Direction::SendOnly),
            ("inactive", Direction::SendRecv, Direction::Inactive),
            ("sendrecv", Direction::SendOnly, Direction::SendOnly),
            ("sendonly", Direction::SendOnly, Direction::Inactive),
            ("recvonly", Direction::RecvOnly, Direction::Inactive),
        ] {
            let offer = SessionDescription::parse(&format!("{SIPP}a={offered}\r\n"))?;
            let mut l = local(4000)?;
            l.direction = ours;
            assert_eq!(
                answer(&offer, &l)?.direction(0),
                want,
                "{offered} / {ours:?}"
            );
        }
        let old_hold =
            SessionDescription::parse(&SIPP.replace("c=IN IP4 127.0.0.1", "c=IN IP4 0.0.0.0"))?;
        assert_eq!(
            answer(&old_hold, &local(4000)?)?.direction(0),
            Direction::RecvOnly
        );
        Ok(())
    }

    #[test]
    fn answer_refuses_what_we_cannot_do() -> R {
        let g729 = SessionDescription::parse(&SIPP.replace("8 0 101", "18"))?;
        assert_eq!(answer(&g729, &local(1)?), Err(SdpError::NoAcceptableMedia));
        let srtp = SessionDescription::parse(&SIPP.replace("RTP/AVP", "RTP/SAVP"))?;
        assert_eq!(answer(&srtp, &local(1)?), Err(SdpError::NoAcceptableMedia));
        let rejected = SessionDescription::parse(&SIPP.replace("m=audio 6000", "m=audio 0"))?;
        assert_eq!(
            answer(&rejected, &local(1)?),
            Err(SdpError::NoAcceptableMedia)
        );
        let none = SessionDescription::parse("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\n")?;
        assert_eq!(answer(&none, &local(1)?), Err(SdpError::NoAcceptableMedia));
        let mono_opus = SessionDescription::parse(
            &SIPP
                .replace("8 0 101", "96")
                .replace("rtpmap:8 PCMA/8000", "rtpmap:96 opus/48000"),
        )?;
        assert_eq!(
            answer(&mono_opus, &local(1)?),
            Err(SdpError::NoAcceptableMedia),
            "opus is /2"
        );
        Ok(())
    }

    #[test]
    fn answer_accepts_only_the_first_audio_stream() -> R {
        let two = format!("{SIPP}m=audio 6002 RTP/AVP 0\r\n");
        let a = answer(&SessionDescription::parse(&two)?, &local(4000)?)?;
        assert_eq!((a.media_port(0), a.media_port(1)), (Some(4000), Some(0)));
        assert_eq!(a.media[1].formats, ["0"]);
        Ok(())
    }

    #[test]
    fn offer_lists_our_codecs_and_round_trips() -> R {
        let mut l = local(5000)?;
        l.direction = Direction::SendOnly;
        let o = offer(&l);
        assert_eq!(o.media[0].formats, ["0", "8", "111", "101"]);
        assert_eq!(o.direction(0), Direction::SendOnly);
        assert!(o.is_hold(0));
        assert_eq!(o.telephone_event_pt(0), Some(101));
        assert_eq!(o.rtpmap(0)[2], (111, "opus".into(), 48000, 2));
        assert_eq!(SessionDescription::parse(&o.to_string())?, o);
        assert!(o.to_string().starts_with("v=0\r\no=- 7 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0 8 111 101\r\n"));
        // Our own offer answered by ourselves.
        let a = answer(&o, &local(6000)?)?;
        assert_eq!(a.media[0].formats, ["0", "101"]);
        assert_eq!(a.direction(0), Direction::RecvOnly);
        Ok(())
    }

    #[test]
    fn garbage_is_an_error() {
        let cases: [(&str, SdpError); 9] = [
            ("", SdpError::NoVersion),
            ("\r\n\r\n", SdpError::NoVersion),
            ("hello", SdpError::BadLine { line: 1 }),
            ("v=1\r\n", SdpError::NoVersion),
            ("s=-\r\nv=0\r\n", SdpError::NoVersion),
            ("v=0\r\nm=audio\r\n", SdpError::BadMedia { line: 2 }),
            (
                "v=0\r\nm=audio x RTP/AVP 0\r\n",
                SdpError::BadMedia { line: 2 },
            ),
            (
                "v=0\r\nm=audio 70000 RTP/AVP 0\r\n",
                SdpError::BadMedia { line: 2 },
            ),
            (
                "v=0\nc=IN IP4 1.2.3.4\n\nnoequals\n",
                SdpError::BadLine { line: 4 },
            ),
        ];
        for (text, err) in cases {
            assert_eq!(SessionDescription::parse(text), Err(err), "{text:?}");
        }
        for text in [
            "v=0\r\n1=x\r\n",
            "v=0\r\n==\r\n",
            "v=0\r\nx-custom=1\r\n",
            "v=0\r\né=x\r\n",
            "v=0\r\nm=audio 1/x RTP/AVP 0\r\n",
        ] {
            assert!(SessionDescription::parse(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn unknown_lines_and_odd_values_are_tolerated() -> R {
        let text = "v=0\r\nz=unknown\r\nm=audio 1 RTP/AVP 0 abc 300\r\na=rtpmap:abc x\r\na=rtpmap:0\r\na=rtpmap:0 PCMU\r\nk=prompt\r\n";
        let s = SessionDescription::parse(text)?;
        assert_eq!(s.to_string(), text);
        assert_eq!(
            s.rtpmap(0),
            vec![(0, "PCMU".into(), 8000, 1)],
            "broken rtpmaps skipped"
        );
        assert_eq!(s.connection_address(0), None);
        assert_eq!(s.direction(0), Direction::SendRecv);
        Ok(())
    }

    #[test]
    fn parser_never_panics_on_prefixes_and_mutations() {
        for text in [SIPP, LINPHONE] {
            for (i, _) in text.char_indices() {
                for part in [&text[..i], &text[i..]] {
                    if let Ok(mut s) = SessionDescription::parse(part) {
                        let _ = answer(&s, &LocalMedia::new(IpAddr::from([10, 0, 0, 1]), 4000, 1));
                        for m in 0..s.media.len() {
                            let _ = (s.rtpmap(m), s.is_hold(m), s.telephone_event_pt(m));
                        }
                        s.rewrite_for_relay(IpAddr::from([10, 0, 0, 1]), &[1]);
                    }
                }
                for ch in ['/', ':', ' ', '=', '\n', 'é', '0'] {
                    let mut m = text.to_string();
                    m.insert(i, ch);
                    if let Ok(s) = SessionDescription::parse(&m) {
                        let _ = answer(&s, &LocalMedia::new(IpAddr::from([10, 0, 0, 1]), 4000, 1));
                        let _ = s.rtpmap(0);
                    }
                }
            }
        }
    }
}
