//! SIP URIs, name-addr values (From, To, Contact) and Via values.

use super::MsgError;
use std::fmt;
use std::net::{IpAddr, SocketAddr};

/// A `sip:`/`sips:` URI (RFC 3261 §19.1), parsed leniently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipUri {
    /// `sip` or `sips` (lower case).
    pub scheme: String,
    /// User part, if any.
    pub user: Option<String>,
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    /// Explicit port.
    pub port: Option<u16>,
    /// URI parameters in order (`;transport=tcp`).
    pub params: Vec<(String, Option<String>)>,
    /// Raw `?headers` part, if any.
    pub headers: Option<String>,
}

impl SipUri {
    /// Parses a URI. Accepts `sip:`, `sips:`; anything else is an error.
    pub fn parse(s: &str) -> Result<SipUri, MsgError> {
        let s = s.trim();
        let (scheme, rest) = s
            .split_once(':')
            .ok_or_else(|| MsgError::BadUri(s.to_string()))?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "sip" && scheme != "sips" {
            return Err(MsgError::BadUri(s.to_string()));
        }
        let (rest, headers) = match rest.split_once('?') {
            Some((r, h)) => (r, Some(h.to_string())),
            None => (rest, None),
        };
        let mut parts = rest.split(';');
        let hostport_user = parts.next().unwrap_or_default();
        let params = parts.filter(|p| !p.is_empty()).map(parse_param).collect();
        let (user, hostport) = match hostport_user.rsplit_once('@') {
            Some((u, h)) => (Some(u.to_string()), h),
            None => (None, hostport_user),
        };
        let (host, port) = split_host_port(hostport)?;
        if host.is_empty() {
            return Err(MsgError::BadUri(s.to_string()));
        }
        Ok(SipUri {
            scheme,
            user,
            host,
            port,
            params,
            headers,
        })
    }

    /// A plain `sip:user@host:port` URI.
    pub fn new(user: Option<&str>, host: &str, port: Option<u16>) -> SipUri {
        SipUri {
            scheme: "sip".into(),
            user: user.map(str::to_string),
            host: host.to_string(),
            port,
            params: Vec::new(),
            headers: None,
        }
    }

    /// Value of a URI parameter (`transport`, `lr`, ...); `Some(None)` for a flag.
    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_deref())
    }

    /// Socket address when the host is a literal IP (the port defaults to 5060).
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        let ip: IpAddr = self.host.parse().ok()?;
        Some(SocketAddr::new(ip, self.port.unwrap_or(5060)))
    }
}

impl fmt::Display for SipUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.scheme)?;
        if let Some(u) = &self.user {
            write!(f, "{u}@")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]", self.host)?;
        } else {
            write!(f, "{}", self.host)?;
        }
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        write_params(f, &self.params)?;
        if let Some(h) = &self.headers {
            write!(f, "?{h}")?;
        }
        Ok(())
    }
}

fn parse_param(p: &str) -> (String, Option<String>) {
    match p.split_once('=') {
        Some((n, v)) => (n.trim().to_string(), Some(v.trim().to_string())),
        None => (p.trim().to_string(), None),
    }
}

fn write_params(f: &mut fmt::Formatter<'_>, params: &[(String, Option<String>)]) -> fmt::Result {
    for (n, v) in params {
        match v {
            Some(v) => write!(f, ";{n}={v}")?,
            None => write!(f, ";{n}")?,
        }
    }
    Ok(())
}

/// Splits `host[:port]` / `[v6]:port`.
pub fn split_host_port(s: &str) -> Result<(String, Option<u16>), MsgError> {
    let s = s.trim();
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| MsgError::BadUri(s.to_string()))?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse().map_err(|_| MsgError::BadUri(s.to_string()))?),
            None if after.is_empty() => None,
            None => return Err(MsgError::BadUri(s.to_string())),
        };
        return Ok((host.to_string(), port));
    }
    match s.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => {
            let port = p.parse().map_err(|_| MsgError::BadUri(s.to_string()))?;
            Ok((h.to_string(), Some(port)))
        }
        _ => Ok((s.to_string(), None)),
    }
}

/// A name-addr or addr-spec with header parameters: the value of From, To, Contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr {
    /// Display name without quotes.
    pub display: Option<String>,
    /// The URI text (kept as text: Contact may carry `*` or non-SIP schemes).
    pub uri: String,
    /// Header parameters (`tag`, `expires`, ...).
    pub params: Vec<(String, Option<String>)>,
}

impl NameAddr {
    /// Parses `"Name" <uri>;p=v` or `uri;p=v`.
    pub fn parse(s: &str) -> Result<NameAddr, MsgError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(MsgError::BadHeader("empty address".into()));
        }
        let (display, uri, rest) = if let Some(lt) = find_unquoted(s, '<') {
            let after = &s[lt + 1..];
            let gt = after
                .find('>')
                .ok_or_else(|| MsgError::BadHeader(s.to_string()))?;
            let display = s[..lt].trim().trim_matches('"').trim();
            let display = (!display.is_empty()).then(|| display.to_string());
            (display, after[..gt].trim().to_string(), &after[gt + 1..])
        } else {
            match s.find(';') {
                Some(i) => (None, s[..i].trim().to_string(), &s[i..]),
                None => (None, s.to_string(), ""),
            }
        };
        let params = rest
            .split(';')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(parse_param)
            .collect();
        Ok(NameAddr {
            display,
            uri,
            params,
        })
    }

    /// A header parameter's value.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.as_deref())
    }

    /// The `tag` parameter.
    pub fn tag(&self) -> Option<&str> {
        self.param("tag")
    }

    /// Sets (or replaces) a header parameter.
    pub fn set_param(&mut self, name: &str, value: Option<&str>) {
        self.params.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.params
            .push((name.to_string(), value.map(str::to_string)));
    }

    /// The URI parsed as a SIP URI.
    pub fn sip_uri(&self) -> Result<SipUri, MsgError> {
        SipUri::parse(&self.uri)
    }
}

impl fmt::Display for NameAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(d) = &self.display {
            write!(f, "\"{}\" ", d.replace('"', ""))?;
        }
        write!(f, "<{}>", self.uri)?;
        write_params(f, &self.params)
    }
}

fn find_unquoted(s: &str, needle: char) -> Option<usize> {
    let mut quoted = false;
    for (i, ch) in s.char_indices() {
        match ch {
            '"' => quoted = !quoted,
            c if c == needle && !quoted => return Some(i),
            _ => {}
        }
    }
    None
}

/// One Via value (RFC 3261 §20.42, RFC 3581 rport).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    /// Transport token in upper case (`UDP`, `TCP`, `TLS`, `WS`).
    pub transport: String,
    /// sent-by host.
    pub host: String,
    /// sent-by port.
    pub port: Option<u16>,
    /// Parameters in order (`branch`, `rport`, `received`).
    pub params: Vec<(String, Option<String>)>,
}

impl Via {
    /// Parses `SIP/2.0/UDP host:port;params`.
    pub fn parse(s: &str) -> Result<Via, MsgError> {
        let s = s.trim();
        let bad = || MsgError::BadHeader(format!("Via: {s}"));
        let (proto, rest) = s.split_once(|c: char| c.is_whitespace()).ok_or_else(bad)?;
        let mut proto_parts = proto.split('/');
        let (name, version, transport) = (
            proto_parts.next().ok_or_else(bad)?,
            proto_parts.next().ok_or_else(bad)?,
            proto_parts.next().ok_or_else(bad)?,
        );
        if !name.eq_ignore_ascii_case("SIP") || version != "2.0" {
            return Err(bad());
        }
        let mut parts = rest.trim().split(';');
        let sent_by = parts.next().unwrap_or_default().trim();
        let (host, port) = split_host_port(sent_by)?;
        if host.is_empty() {
            return Err(bad());
        }
        let params = parts
            .filter(|p| !p.trim().is_empty())
            .map(parse_param)
            .collect();
        Ok(Via {
            transport: transport.to_ascii_uppercase(),
            host,
            port,
            params,
        })
    }

    /// A parameter value; `Some(None)` for a flag such as a bare `rport`.
    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_deref())
    }

    /// The branch parameter.
    pub fn branch(&self) -> Option<&str> {
        self.param("branch").flatten()
    }

    /// Sets (or replaces) a parameter.
    pub fn set_param(&mut self, name: &str, value: Option<String>) {
        match self
            .params
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            Some(p) => p.1 = value,
            None => self.params.push((name.to_string(), value)),
        }
    }
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SIP/2.0/{} ", self.transport)?;
        if self.host.contains(':') {
            write!(f, "[{}]", self.host)?;
        } else {
            write!(f, "{}", self.host)?;
        }
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        write_params(f, &self.params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_roundtrip() {
        let u = SipUri::parse("sip:201@127.0.0.1:5070;transport=udp").unwrap();
        assert_eq!(u.user.as_deref(), Some("201"));
        assert_eq!(u.port, Some(5070));
        assert_eq!(u.param("transport"), Some(Some("udp")));
        assert_eq!(u.to_string(), "sip:201@127.0.0.1:5070;transport=udp");
        let v6 = SipUri::parse("sip:a@[::1]:5060").unwrap();
        assert_eq!(v6.host, "::1");
        assert_eq!(v6.to_string(), "sip:a@[::1]:5060");
        assert!(SipUri::parse("http://x").is_err());
        assert!(SipUri::parse("sip:@:99999").is_err());
    }

    #[test]
    fn name_addr_forms() {
        let a = NameAddr::parse("\"Mario, R\" <sip:201@pbx;lr>;tag=abc;expires=60").unwrap();
        assert_eq!(a.display.as_deref(), Some("Mario, R"));
        assert_eq!(a.uri, "sip:201@pbx;lr");
        assert_eq!(a.tag(), Some("abc"));
        assert_eq!(a.param("expires"), Some("60"));
        let b = NameAddr::parse("sip:202@h;tag=x").unwrap();
        assert_eq!(b.uri, "sip:202@h");
        assert_eq!(b.tag(), Some("x"));
        assert!(NameAddr::parse("<sip:unterminated").is_err());
    }

    #[test]
    fn via_params() {
        let mut v = Via::parse("SIP/2.0/udp 10.0.0.1:5062;branch=z9hG4bKx;rport").unwrap();
        assert_eq!(v.transport, "UDP");
        assert_eq!(v.branch(), Some("z9hG4bKx"));
        assert_eq!(v.param("rport"), Some(None));
        v.set_param("rport", Some("4000".into()));
        v.set_param("received", Some("1.2.3.4".into()));
        assert_eq!(
            v.to_string(),
            "SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bKx;rport=4000;received=1.2.3.4"
        );
        assert!(Via::parse("garbage").is_err());
        assert!(Via::parse("SIP/3.0/UDP h").is_err());
    }
}
