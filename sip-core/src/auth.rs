//! Digest authentication (RFC 2617 / RFC 7616 with MD5, RFC 8760 SHA-256).

use md5::{Digest as _, Md5};
use sha2::Sha256;

/// Digest hash algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// `MD5` (RFC 2617).
    Md5,
    /// `SHA-256` (RFC 8760).
    Sha256,
}

impl Algorithm {
    /// Hex digest of `data` with this algorithm.
    pub fn hash_hex(self, data: &[u8]) -> String {
        match self {
            Algorithm::Md5 => hex::encode(Md5::digest(data)),
            Algorithm::Sha256 => hex::encode(Sha256::digest(data)),
        }
    }
}

/// `HA1 = H(username ":" realm ":" password)`, what the store keeps instead of the secret.
pub fn ha1(alg: Algorithm, username: &str, realm: &str, password: &str) -> String {
    alg.hash_hex(format!("{username}:{realm}:{password}").as_bytes())
}

/// Errors parsing digest headers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Not a `Digest` header.
    #[error("not a Digest header")]
    NotDigest,
    /// A required parameter is missing.
    #[error("missing parameter {0}")]
    Missing(&'static str),
    /// Algorithm we do not support (e.g. `-sess` variants).
    #[error("unsupported algorithm {0}")]
    Unsupported(String),
    /// Unparsable parameter list.
    #[error("malformed digest parameters")]
    Malformed,
}

impl Algorithm {
    /// Parses the `algorithm` parameter; absent means MD5.
    pub fn parse(s: Option<&str>) -> Result<Algorithm, AuthError> {
        match s.map(|s| s.trim().to_ascii_uppercase()) {
            None => Ok(Algorithm::Md5),
            Some(a) if a == "MD5" => Ok(Algorithm::Md5),
            Some(a) if a == "SHA-256" => Ok(Algorithm::Sha256),
            Some(a) => Err(AuthError::Unsupported(a)),
        }
    }

    /// The wire token.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
        }
    }
}

/// Splits `Digest k=v, k="v"` into lower-cased keys and unquoted values.
fn params(value: &str) -> Result<Vec<(String, String)>, AuthError> {
    let v = value.trim();
    let (scheme, rest) = v.split_once(char::is_whitespace).ok_or(AuthError::NotDigest)?;
    if !scheme.eq_ignore_ascii_case("Digest") {
        return Err(AuthError::NotDigest);
    }
    let mut out = Vec::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.next() != Some('=') || key.is_empty() {
            return Err(AuthError::Malformed);
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut val = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            let mut closed = false;
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(n) = chars.next() {
                            val.push(n);
                        }
                    }
                    '"' => {
                        closed = true;
                        break;
                    }
                    c => val.push(c),
                }
            }
            if !closed {
                return Err(AuthError::Malformed);
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                val.push(c);
                chars.next();
            }
            val = val.trim().to_string();
        }
        out.push((key.to_ascii_lowercase(), val));
    }
    Ok(out)
}

fn get(p: &[(String, String)], k: &str) -> Option<String> {
    p.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A `WWW-Authenticate` / `Proxy-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// Realm.
    pub realm: String,
    /// Server nonce.
    pub nonce: String,
    /// Opaque value to echo.
    pub opaque: Option<String>,
    /// Hash algorithm.
    pub algorithm: Algorithm,
    /// Offered qop values (`auth`).
    pub qop: Option<Vec<String>>,
    /// The previous nonce was stale (credentials were right).
    pub stale: bool,
}

impl Challenge {
    /// Parses a challenge header value.
    pub fn parse(value: &str) -> Result<Challenge, AuthError> {
        let p = params(value)?;
        Ok(Challenge {
            realm: get(&p, "realm").ok_or(AuthError::Missing("realm"))?,
            nonce: get(&p, "nonce").ok_or(AuthError::Missing("nonce"))?,
            opaque: get(&p, "opaque"),
            algorithm: Algorithm::parse(get(&p, "algorithm").as_deref())?,
            qop: get(&p, "qop").map(|q| q.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()),
            stale: get(&p, "stale").is_some_and(|s| s.eq_ignore_ascii_case("true")),
        })
    }

    /// Renders the header value.
    pub fn to_header_value(&self) -> String {
        let mut s = format!("Digest realm={}, nonce={}", quote(&self.realm), quote(&self.nonce));
        if let Some(o) = &self.opaque {
            s.push_str(&format!(", opaque={}", quote(o)));
        }
        s.push_str(&format!(", algorithm={}", self.algorithm.as_str()));
        if let Some(q) = &self.qop {
            s.push_str(&format!(", qop={}", quote(&q.join(","))));
        }
        if self.stale {
            s.push_str(", stale=true");
        }
        s
    }
}

/// An `Authorization` / `Proxy-Authorization` credentials value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// User name.
    pub username: String,
    /// Realm.
    pub realm: String,
    /// Nonce being answered.
    pub nonce: String,
    /// digest-uri.
    pub uri: String,
    /// The response hash (hex).
    pub response: String,
    /// Algorithm.
    pub algorithm: Algorithm,
    /// qop chosen (`auth`).
    pub qop: Option<String>,
    /// Nonce count.
    pub nc: Option<String>,
    /// Client nonce.
    pub cnonce: Option<String>,
    /// Echoed opaque.
    pub opaque: Option<String>,
}

impl Credentials {
    /// Parses a credentials header value.
    pub fn parse(value: &str) -> Result<Credentials, AuthError> {
        let p = params(value)?;
        Ok(Credentials {
            username: get(&p, "username").ok_or(AuthError::Missing("username"))?,
            realm: get(&p, "realm").ok_or(AuthError::Missing("realm"))?,
            nonce: get(&p, "nonce").ok_or(AuthError::Missing("nonce"))?,
            uri: get(&p, "uri").ok_or(AuthError::Missing("uri"))?,
            response: get(&p, "response").ok_or(AuthError::Missing("response"))?,
            algorithm: Algorithm::parse(get(&p, "algorithm").as_deref())?,
            qop: get(&p, "qop"),
            nc: get(&p, "nc"),
            cnonce: get(&p, "cnonce"),
            opaque: get(&p, "opaque"),
        })
    }

    /// Renders the header value.
    pub fn to_header_value(&self) -> String {
        let mut s = format!(
            "Digest username={}, realm={}, nonce={}, uri={}, response={}, algorithm={}",
            quote(&self.username),
            quote(&self.realm),
            quote(&self.nonce),
            quote(&self.uri),
            quote(&self.response),
            self.algorithm.as_str()
        );
        if let Some(q) = &self.qop {
            s.push_str(&format!(", qop={q}"));
        }
        if let Some(nc) = &self.nc {
            s.push_str(&format!(", nc={nc}"));
        }
        if let Some(c) = &self.cnonce {
            s.push_str(&format!(", cnonce={}", quote(c)));
        }
        if let Some(o) = &self.opaque {
            s.push_str(&format!(", opaque={}", quote(o)));
        }
        s
    }
}

fn expected_response(alg: Algorithm, ha1: &str, nonce: &str, method: &str, uri: &str, qop: Option<(&str, &str, &str)>) -> String {
    let ha2 = alg.hash_hex(format!("{method}:{uri}").as_bytes());
    match qop {
        Some((nc, cnonce, qop)) => alg.hash_hex(format!("{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}").as_bytes()),
        None => alg.hash_hex(format!("{ha1}:{nonce}:{ha2}").as_bytes()),
    }
}

/// Checks credentials against a stored HA1 (constant-time comparison).
pub fn verify(creds: &Credentials, method: &str, ha1_hex: &str) -> bool {
    let qop = match (&creds.qop, &creds.nc, &creds.cnonce) {
        (Some(q), Some(nc), Some(cn)) if q.eq_ignore_ascii_case("auth") => Some((nc.as_str(), cn.as_str(), q.as_str())),
        (Some(_), _, _) => return false,
        _ => None,
    };
    let want = expected_response(creds.algorithm, ha1_hex, &creds.nonce, method, &creds.uri, qop);
    let got = creds.response.to_ascii_lowercase();
    if want.len() != got.len() {
        return false;
    }
    want.bytes().zip(got.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

/// Answers a challenge (client side: our softphone and tests).
pub fn respond(challenge: &Challenge, method: &str, uri: &str, username: &str, password: &str, cnonce: &str, nc: u32) -> Credentials {
    let alg = challenge.algorithm;
    let ha1 = ha1(alg, username, &challenge.realm, password);
    let use_qop = challenge.qop.as_ref().is_some_and(|q| q.iter().any(|v| v.eq_ignore_ascii_case("auth")));
    let nc_s = format!("{nc:08x}");
    let response = if use_qop {
        expected_response(alg, &ha1, &challenge.nonce, method, uri, Some((&nc_s, cnonce, "auth")))
    } else {
        expected_response(alg, &ha1, &challenge.nonce, method, uri, None)
    };
    Credentials {
        username: username.to_string(),
        realm: challenge.realm.clone(),
        nonce: challenge.nonce.clone(),
        uri: uri.to_string(),
        response,
        algorithm: alg,
        qop: use_qop.then(|| "auth".to_string()),
        nc: use_qop.then_some(nc_s),
        cnonce: use_qop.then(|| cnonce.to_string()),
        opaque: challenge.opaque.clone(),
    }
}

/// Result of checking a nonce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceCheck {
    /// Ours and fresh.
    Valid,
    /// Ours but older than the max age.
    Stale,
    /// Not ours.
    Invalid,
}

/// Makes and checks stateless nonces: `hex(ts) . hex(SHA-256(secret || ts || realm))[..32]`.
pub struct NonceSource {
    secret: [u8; 32],
    /// Seconds a nonce stays valid.
    pub max_age: u64,
}

impl Default for NonceSource {
    fn default() -> Self {
        Self::new()
    }
}

impl NonceSource {
    /// A source with a random secret and a 300 s max age.
    pub fn new() -> NonceSource {
        let mut secret = [0u8; 32];
        rand::Rng::fill(&mut rand::thread_rng(), &mut secret);
        NonceSource { secret, max_age: 300 }
    }

    fn mac(&self, ts: u64, realm: &str) -> String {
        let mut data = self.secret.to_vec();
        data.extend_from_slice(&ts.to_be_bytes());
        data.extend_from_slice(realm.as_bytes());
        let full = Algorithm::Sha256.hash_hex(&data);
        full[..32].to_string()
    }

    /// A nonce for `now_secs` (seconds since the epoch) in `realm`.
    pub fn make(&self, now_secs: u64, realm: &str) -> String {
        format!("{:016x}{}", now_secs, self.mac(now_secs, realm))
    }

    /// Checks a nonce received in `realm` at `now_secs`.
    pub fn check(&self, nonce: &str, now_secs: u64, realm: &str) -> NonceCheck {
        if nonce.len() != 48 || !nonce.is_ascii() {
            return NonceCheck::Invalid;
        }
        let Ok(ts) = u64::from_str_radix(&nonce[..16], 16) else {
            return NonceCheck::Invalid;
        };
        let mac = self.mac(ts, realm);
        let ok = mac.bytes().zip(nonce[16..].bytes()).fold(0u8, |a, (x, y)| a | (x ^ y)) == 0;
        if !ok || ts > now_secs + 60 {
            return NonceCheck::Invalid;
        }
        if now_secs - ts > self.max_age {
            NonceCheck::Stale
        } else {
            NonceCheck::Valid
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2617_example() {
        let c = Credentials::parse(
            "Digest username=\"Mufasa\", realm=\"testrealm@host.com\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", \
             uri=\"/dir/index.html\", qop=auth, nc=00000001, cnonce=\"0a4f113b\", \
             response=\"6629fae49393a05397450978507c4ef1\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"",
        )
        .unwrap();
        let h = ha1(Algorithm::Md5, "Mufasa", "testrealm@host.com", "Circle Of Life");
        assert!(verify(&c, "GET", &h));
        assert!(!verify(&c, "POST", &h));
    }

    #[test]
    fn rfc7616_sha256_example() {
        let ch = Challenge {
            realm: "http-auth@example.org".into(),
            nonce: "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v".into(),
            opaque: None,
            algorithm: Algorithm::Sha256,
            qop: Some(vec!["auth".into()]),
            stale: false,
        };
        let c = respond(&ch, "GET", "/dir/index.html", "Mufasa", "Circle of Life", "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", 1);
        assert_eq!(c.response, "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1");
    }

    #[test]
    fn roundtrip_both_algorithms_and_wrong_password() {
        for alg in [Algorithm::Md5, Algorithm::Sha256] {
            let ch = Challenge { realm: "default".into(), nonce: "n".into(), opaque: Some("o".into()), algorithm: alg, qop: Some(vec!["auth".into()]), stale: false };
            let parsed = Challenge::parse(&ch.to_header_value()).unwrap();
            assert_eq!(parsed, ch);
            let c = respond(&parsed, "REGISTER", "sip:pbx", "201", "demo201", "cn", 1);
            let back = Credentials::parse(&c.to_header_value()).unwrap();
            assert_eq!(back, c);
            assert!(verify(&back, "REGISTER", &ha1(alg, "201", "default", "demo201")));
            assert!(!verify(&back, "REGISTER", &ha1(alg, "201", "default", "wrong")));
        }
    }

    #[test]
    fn nonces() {
        let s = NonceSource::new();
        let n = s.make(1000, "r");
        assert_eq!(s.check(&n, 1100, "r"), NonceCheck::Valid);
        assert_eq!(s.check(&n, 1400, "r"), NonceCheck::Stale);
        assert_eq!(s.check(&n, 1100, "other"), NonceCheck::Invalid);
        assert_eq!(s.check("zz", 1100, "r"), NonceCheck::Invalid);
        assert_eq!(NonceSource::new().check(&n, 1100, "r"), NonceCheck::Invalid);
    }

    #[test]
    fn parser_robustness() {
        for bad in ["", "Basic abc", "Digest", "Digest realm=\"x", "Digest =x", "Digest realm=x", "Digest username=\"a\", realm=\"b\"", "Digest \u{1F600}=\"\"", "Digest algorithm=MD5-sess, realm=a, nonce=b"] {
            assert!(Credentials::parse(bad).is_err(), "{bad}");
            assert!(Challenge::parse(bad).is_err() || bad.contains("realm=x") , "{bad}");
        }
        let c = Challenge::parse("digest REALM=\"a\\\"b\" ,nonce=n,  algorithm=sha-256").unwrap();
        assert_eq!(c.realm, "a\"b");
        assert_eq!(c.algorithm, Algorithm::Sha256);
    }
}
