//! The SIP message model the rest of Centralino sees.
//!
//! rsip parses the wire format here and nowhere else: the rest of the code uses these
//! types, so the parser can be swapped without touching the transaction layer or the PBX.

mod headers;
mod uri;

pub use headers::{canonical_name, split_list, Headers};
pub use uri::{split_host_port, NameAddr, SipUri, Via};

use std::fmt;

/// Largest message we accept (UDP datagrams and TCP frames alike). Real phones stay far
/// below; anything larger is an attack or a bug.
pub const MAX_MESSAGE_SIZE: usize = 65_535;

/// Why a message could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MsgError {
    /// The bytes are not a SIP message at all.
    #[error("unparsable SIP message: {0}")]
    Parse(String),
    /// A request with a method token we do not know (answer 501/405).
    #[error("unknown method {0}")]
    UnknownMethod(String),
    /// A mandatory header is missing.
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    /// A header is present but malformed.
    #[error("malformed header: {0}")]
    BadHeader(String),
    /// A URI is malformed.
    #[error("malformed URI: {0}")]
    BadUri(String),
    /// Larger than [`MAX_MESSAGE_SIZE`].
    #[error("message too large ({0} bytes)")]
    TooLarge(usize),
}

/// SIP request methods.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    /// INVITE
    Invite,
    /// ACK
    Ack,
    /// BYE
    Bye,
    /// CANCEL
    Cancel,
    /// REGISTER
    Register,
    /// OPTIONS
    Options,
    /// INFO
    Info,
    /// UPDATE
    Update,
    /// PRACK
    Prack,
    /// SUBSCRIBE
    Subscribe,
    /// NOTIFY
    Notify,
    /// REFER
    Refer,
    /// MESSAGE
    Message,
    /// PUBLISH
    Publish,
}

impl Method {
    /// Parses a method token (case-sensitive, as RFC 3261 says).
    pub fn parse(s: &str) -> Option<Method> {
        Some(match s {
            "INVITE" => Method::Invite,
            "ACK" => Method::Ack,
            "BYE" => Method::Bye,
            "CANCEL" => Method::Cancel,
            "REGISTER" => Method::Register,
            "OPTIONS" => Method::Options,
            "INFO" => Method::Info,
            "UPDATE" => Method::Update,
            "PRACK" => Method::Prack,
            "SUBSCRIBE" => Method::Subscribe,
            "NOTIFY" => Method::Notify,
            "REFER" => Method::Refer,
            "MESSAGE" => Method::Message,
            "PUBLISH" => Method::Publish,
            _ => return None,
        })
    }

    /// The wire token.
    pub fn as_str(&self) -> &'static str {
        match self {
            Method::Invite => "INVITE",
            Method::Ack => "ACK",
            Method::Bye => "BYE",
            Method::Cancel => "CANCEL",
            Method::Register => "REGISTER",
            Method::Options => "OPTIONS",
            Method::Info => "INFO",
            Method::Update => "UPDATE",
            Method::Prack => "PRACK",
            Method::Subscribe => "SUBSCRIBE",
            Method::Notify => "NOTIFY",
            Method::Refer => "REFER",
            Method::Message => "MESSAGE",
            Method::Publish => "PUBLISH",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A SIP request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Method.
    pub method: Method,
    /// Request-URI as text.
    pub uri: String,
    /// Headers in order.
    pub headers: Headers,
    /// Body bytes.
    pub body: Vec<u8>,
}

/// A SIP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code (100–699).
    pub status: u16,
    /// Reason phrase.
    pub reason: String,
    /// Headers in order.
    pub headers: Headers,
    /// Body bytes.
    pub body: Vec<u8>,
}

/// Either kind of message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SipMessage {
    /// A request.
    Request(Request),
    /// A response.
    Response(Response),
}

/// Access to the headers every message carries (RFC 3261 §8.1.1).
pub trait MessageExt {
    /// The header list.
    fn headers(&self) -> &Headers;
    /// The header list, mutable.
    fn headers_mut(&mut self) -> &mut Headers;

    /// Call-ID.
    fn call_id(&self) -> &str {
        self.headers().get("Call-ID").unwrap_or_default()
    }
    /// CSeq number and method. Parsing is checked when the message is parsed.
    fn cseq(&self) -> (u32, Option<Method>) {
        let v = self.headers().get("CSeq").unwrap_or_default();
        let mut it = v.split_whitespace();
        let n = it.next().and_then(|n| n.parse().ok()).unwrap_or(0);
        (n, it.next().and_then(Method::parse))
    }
    /// The top Via.
    fn top_via(&self) -> Option<Via> {
        self.headers()
            .get_all("Via")
            .first()
            .and_then(|v| Via::parse(v).ok())
    }
    /// From.
    #[allow(clippy::wrong_self_convention)] // "From" is the SIP header, not a conversion.
    fn from_hdr(&self) -> Option<NameAddr> {
        self.headers()
            .get("From")
            .and_then(|v| NameAddr::parse(v).ok())
    }
    /// To.
    fn to_hdr(&self) -> Option<NameAddr> {
        self.headers()
            .get("To")
            .and_then(|v| NameAddr::parse(v).ok())
    }
    /// From tag.
    #[allow(clippy::wrong_self_convention)] // "From" is the SIP header, not a conversion.
    fn from_tag(&self) -> Option<String> {
        self.from_hdr().and_then(|a| a.tag().map(str::to_string))
    }
    /// To tag.
    fn to_tag(&self) -> Option<String> {
        self.to_hdr().and_then(|a| a.tag().map(str::to_string))
    }
    /// First Contact.
    fn contact(&self) -> Option<NameAddr> {
        self.headers()
            .get_all("Contact")
            .first()
            .and_then(|v| NameAddr::parse(v).ok())
    }
    /// Body bytes.
    fn body(&self) -> &[u8];
}

impl MessageExt for Request {
    fn headers(&self) -> &Headers {
        &self.headers
    }
    fn headers_mut(&mut self) -> &mut Headers {
        &mut self.headers
    }
    fn body(&self) -> &[u8] {
        &self.body
    }
}

impl MessageExt for Response {
    fn headers(&self) -> &Headers {
        &self.headers
    }
    fn headers_mut(&mut self) -> &mut Headers {
        &mut self.headers
    }
    fn body(&self) -> &[u8] {
        &self.body
    }
}

impl Request {
    /// A request with no headers yet.
    pub fn new(method: Method, uri: impl Into<String>) -> Request {
        Request {
            method,
            uri: uri.into(),
            headers: Headers::new(),
            body: Vec::new(),
        }
    }

    /// Serialises with a correct Content-Length.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("{} {} SIP/2.0\r\n", self.method, self.uri).into_bytes();
        write_headers_and_body(&mut out, &self.headers, &self.body);
        out
    }
}

impl Response {
    /// A response to `req` (RFC 3261 §8.2.6): Via, From, To, Call-ID and CSeq copied.
    pub fn for_request(req: &Request, status: u16, reason: &str) -> Response {
        let mut headers = Headers::new();
        for name in ["Via", "From", "To", "Call-ID", "CSeq"] {
            for v in req.headers.get_all(name) {
                headers.push(name, v);
            }
        }
        Response {
            status,
            reason: reason.to_string(),
            headers,
            body: Vec::new(),
        }
    }

    /// Serialises with a correct Content-Length.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("SIP/2.0 {} {}\r\n", self.status, self.reason).into_bytes();
        write_headers_and_body(&mut out, &self.headers, &self.body);
        out
    }

    /// Sets the To tag (for responses that establish or refuse a dialog).
    pub fn set_to_tag(&mut self, tag: &str) {
        if let Some(mut to) = self.to_hdr() {
            if to.tag().is_none() {
                to.set_param("tag", Some(tag));
                self.headers.set("To", to.to_string());
            }
        }
    }
}

impl SipMessage {
    /// Serialises the message.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            SipMessage::Request(r) => r.to_bytes(),
            SipMessage::Response(r) => r.to_bytes(),
        }
    }
}

fn write_headers_and_body(out: &mut Vec<u8>, headers: &Headers, body: &[u8]) {
    for (n, v) in headers.iter() {
        if n.eq_ignore_ascii_case("Content-Length") {
            continue;
        }
        out.extend_from_slice(n.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
    out.extend_from_slice(body);
}

/// Parses one complete message (one UDP datagram or one TCP frame).
///
/// Checks the headers every transaction needs (Via with a branch-able sent-by, From, To,
/// Call-ID, CSeq) so later layers can rely on them.
pub fn parse(bytes: &[u8]) -> Result<SipMessage, MsgError> {
    if bytes.len() > MAX_MESSAGE_SIZE {
        return Err(MsgError::TooLarge(bytes.len()));
    }
    let first_line_end = bytes
        .iter()
        .position(|b| *b == b'\n')
        .ok_or_else(|| MsgError::Parse("no line end".into()))?;
    let first_line = std::str::from_utf8(&bytes[..first_line_end])
        .map_err(|_| MsgError::Parse("start line is not UTF-8".into()))?
        .trim_end_matches('\r');
    let parsed = rsip::SipMessage::try_from(bytes);
    let msg = match parsed {
        Ok(m) => m,
        Err(e) => {
            // rsip knows a fixed set of methods: tell an unknown method apart from garbage so
            // the server can answer 501 instead of dropping the request.
            let mut parts = first_line.split(' ');
            if let (Some(m), Some(_), Some("SIP/2.0")) = (parts.next(), parts.next(), parts.next())
            {
                if Method::parse(m).is_none()
                    && !m.is_empty()
                    && m.bytes().all(|b| b.is_ascii_uppercase())
                {
                    return Err(MsgError::UnknownMethod(m.to_string()));
                }
            }
            return Err(MsgError::Parse(e.to_string()));
        }
    };
    let (raw_headers, body) = match &msg {
        rsip::SipMessage::Request(r) => (&r.headers, r.body.clone()),
        rsip::SipMessage::Response(r) => (&r.headers, r.body.clone()),
    };
    let mut headers = Headers::new();
    for h in raw_headers.iter() {
        let line = h.to_string();
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| MsgError::BadHeader(line.clone()))?;
        headers.push(name, value.trim());
    }
    let body = trim_body(&headers, body)?;
    let out = match msg {
        rsip::SipMessage::Request(_) => {
            let mut parts = first_line.splitn(3, ' ');
            let m = parts.next().unwrap_or_default();
            let uri = parts.next().unwrap_or_default();
            let method = Method::parse(m).ok_or_else(|| MsgError::UnknownMethod(m.to_string()))?;
            SipMessage::Request(Request {
                method,
                uri: uri.to_string(),
                headers,
                body,
            })
        }
        rsip::SipMessage::Response(_) => {
            let mut parts = first_line.splitn(3, ' ');
            let _version = parts.next();
            let status: u16 = parts
                .next()
                .and_then(|s| s.parse().ok())
                .filter(|s| (100..700).contains(s))
                .ok_or_else(|| MsgError::Parse("bad status code".into()))?;
            let reason = parts.next().unwrap_or_default().to_string();
            SipMessage::Response(Response {
                status,
                reason,
                headers,
                body,
            })
        }
    };
    validate(&out)?;
    Ok(out)
}

/// Honours Content-Length when present (a datagram may carry trailing bytes).
fn trim_body(headers: &Headers, mut body: Vec<u8>) -> Result<Vec<u8>, MsgError> {
    if let Some(cl) = headers.get("Content-Length") {
        let n: usize = cl
            .trim()
            .parse()
            .map_err(|_| MsgError::BadHeader(format!("Content-Length: {cl}")))?;
        if n > body.len() {
            return Err(MsgError::Parse("body shorter than Content-Length".into()));
        }
        body.truncate(n);
    }
    Ok(body)
}

fn validate(msg: &SipMessage) -> Result<(), MsgError> {
    let h = match msg {
        SipMessage::Request(r) => &r.headers,
        SipMessage::Response(r) => &r.headers,
    };
    let via = h.get_all("Via");
    let top = via.first().ok_or(MsgError::MissingHeader("Via"))?;
    Via::parse(top)?;
    for (name, label) in [("From", "From"), ("To", "To")] {
        let v = h.get(name).ok_or(MsgError::MissingHeader(label))?;
        NameAddr::parse(v)?;
    }
    if h.get("Call-ID")
        .map(str::trim)
        .unwrap_or_default()
        .is_empty()
    {
        return Err(MsgError::MissingHeader("Call-ID"));
    }
    let cseq = h.get("CSeq").ok_or(MsgError::MissingHeader("CSeq"))?;
    let mut it = cseq.split_whitespace();
    let n_ok = it.next().and_then(|n| n.parse::<u32>().ok()).is_some();
    let m_ok = it.next().is_some_and(|m| !m.is_empty());
    if !n_ok || !m_ok {
        return Err(MsgError::BadHeader(format!("CSeq: {cseq}")));
    }
    if let SipMessage::Request(r) = msg {
        if let Some(m) = MessageExt::cseq(r).1 {
            if m != r.method && r.method != Method::Ack && r.method != Method::Cancel {
                return Err(MsgError::BadHeader(
                    "CSeq method differs from request".into(),
                ));
            }
        }
    }
    Ok(())
}

/// For a request whose method we do not know: the same request parsed as if it were an
/// OPTIONS, so the server can still build a `501 Not Implemented` carrying its headers.
pub fn parse_unknown_method(bytes: &[u8]) -> Option<Request> {
    let sp = bytes.iter().position(|b| *b == b' ')?;
    let mut patched = b"OPTIONS".to_vec();
    patched.extend_from_slice(&bytes[sp..]);
    match parse(&patched) {
        Ok(SipMessage::Request(r)) => Some(r),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVITE: &str = "INVITE sip:202@127.0.0.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1;rport\r\n\
From: \"Alice\" <sip:201@127.0.0.1>;tag=a1\r\n\
To: <sip:202@127.0.0.1>\r\n\
Call-ID: c1@127.0.0.1\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sip:201@127.0.0.1:5070>\r\n\
Max-Forwards: 70\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 4\r\n\r\nv=0\nJUNK";

    #[test]
    fn parses_request_and_roundtrips() {
        let SipMessage::Request(r) = parse(INVITE.as_bytes()).unwrap() else {
            panic!("not a request")
        };
        assert_eq!(r.method, Method::Invite);
        assert_eq!(r.uri, "sip:202@127.0.0.1:5060");
        assert_eq!(r.call_id(), "c1@127.0.0.1");
        assert_eq!(r.cseq(), (1, Some(Method::Invite)));
        assert_eq!(r.from_tag().as_deref(), Some("a1"));
        assert_eq!(r.top_via().unwrap().branch(), Some("z9hG4bK-1"));
        assert_eq!(r.body, b"v=0\n");
        let again = parse(&r.to_bytes()).unwrap();
        assert_eq!(again, SipMessage::Request(r));
    }

    #[test]
    fn response_for_request_copies_headers() {
        let SipMessage::Request(r) = parse(INVITE.as_bytes()).unwrap() else {
            panic!()
        };
        let mut resp = Response::for_request(&r, 486, "Busy Here");
        resp.set_to_tag("xyz");
        let SipMessage::Response(p) = parse(&resp.to_bytes()).unwrap() else {
            panic!()
        };
        assert_eq!(p.status, 486);
        assert_eq!(p.to_tag().as_deref(), Some("xyz"));
        assert_eq!(p.call_id(), "c1@127.0.0.1");
    }

    #[test]
    fn rejects_bad_input() {
        assert!(parse(b"").is_err());
        assert!(parse(b"\x00\x01\x02garbage\r\n\r\n").is_err());
        assert!(parse(&INVITE.as_bytes()[..60]).is_err());
        let no_cseq = INVITE.replace("CSeq: 1 INVITE\r\n", "");
        assert_eq!(
            parse(no_cseq.as_bytes()),
            Err(MsgError::MissingHeader("CSeq"))
        );
        let bad_cl = INVITE.replace("Content-Length: 4", "Content-Length: 400");
        assert!(parse(bad_cl.as_bytes()).is_err());
        let unknown = INVITE.replacen("INVITE sip", "FOO sip", 1);
        assert!(parse(unknown.as_bytes()).is_err());
        let huge = vec![b'a'; MAX_MESSAGE_SIZE + 1];
        assert!(matches!(parse(&huge), Err(MsgError::TooLarge(_))));
    }
}
