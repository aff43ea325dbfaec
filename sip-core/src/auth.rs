//! Digest authentication (RFC 2617 / RFC 7616 with MD5, RFC 8760 SHA-256).
//!
//! String level only: header *values* in, header values out, so the module does not depend on
//! the message model. The server side is [`NonceSource`] (stateless, time passed in) plus
//! [`verify`]; the client side is [`respond`].

use md5::{Digest as _, Md5};
use sha2::Sha256;
use std::fmt;

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
    /// Parses the `algorithm` parameter; absent means MD5. `-sess` variants and anything
    /// else are [`AuthError::Unsupported`].
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
///
/// Tolerates any whitespace (folded headers), empty list elements and unknown parameters;
/// a backslash in a quoted string escapes the next character.
fn params(value: &str) -> Result<Vec<(String, String)>, AuthError> {
    let v = value.trim();
    let (scheme, rest) = v
        .split_once(char::is_whitespace)
        .ok_or(AuthError::NotDigest)?;
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
            if c == '=' || c == ',' || c.is_whitespace() {
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

/// The first value of parameter `k` (keys are already lower-cased).
fn get(p: &[(String, String)], k: &str) -> Option<String> {
    p.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
}

/// A quoted-string with `\` and `"` escaped.
fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Compares without an early exit on the first differing byte (lengths are not secret).
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
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
    /// Parses a challenge header value (`Digest realm="..", nonce="..", ...`).
    pub fn parse(value: &str) -> Result<Challenge, AuthError> {
        let p = params(value)?;
        Ok(Challenge {
            realm: get(&p, "realm").ok_or(AuthError::Missing("realm"))?,
            nonce: get(&p, "nonce").ok_or(AuthError::Missing("nonce"))?,
            opaque: get(&p, "opaque"),
            algorithm: Algorithm::parse(get(&p, "algorithm").as_deref())?,
            qop: get(&p, "qop").map(|q| {
                q.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            }),
            stale: get(&p, "stale").is_some_and(|s| s.eq_ignore_ascii_case("true")),
        })
    }

    /// Renders the header value:
    /// `Digest realm="..", nonce="..", opaque="..", algorithm=MD5, qop="auth"`.
    pub fn to_header_value(&self) -> String {
        let mut s = format!(
            "Digest realm={}, nonce={}",
            quote(&self.realm),
            quote(&self.nonce)
        );
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
    /// Nonce count (8 hex digits).
    pub nc: Option<String>,
    /// Client nonce.
    pub cnonce: Option<String>,
    /// Echoed opaque.
    pub opaque: Option<String>,
}

impl Credentials {
    /// Parses a credentials header value (`Digest username="..", realm="..", ...`).
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

    /// Renders the header value (`qop` and `nc` unquoted, as RFC 2617 requires).
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

/// The `qop=auth` inputs of a response: nonce count, client nonce, qop token.
struct QopAuth<'a> {
    nc: &'a str,
    cnonce: &'a str,
    qop: &'a str,
}

/// `HA2 = H(method:uri)`; response `H(HA1:nonce:nc:cnonce:qop:HA2)` or `H(HA1:nonce:HA2)`.
fn expected_response(
    alg: Algorithm,
    ha1: &str,
    nonce: &str,
    method: &str,
    uri: &str,
    qop: Option<QopAuth<'_>>,
) -> String {
    let ha2 = alg.hash_hex(format!("{method}:{uri}").as_bytes());
    match qop {
        Some(QopAuth { nc, cnonce, qop }) => {
            alg.hash_hex(format!("{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}").as_bytes())
        }
        None => alg.hash_hex(format!("{ha1}:{nonce}:{ha2}").as_bytes()),
    }
}

/// Checks credentials against a stored HA1 of `creds.algorithm` (hex), for `method`.
///
/// Supports `qop=auth` and no qop (RFC 2069 compatibility); `auth-int` or a qop without
/// `nc`/`cnonce` fails. The response is compared in constant time. The nonce is not checked
/// here: see [`NonceSource::check`].
pub fn verify(creds: &Credentials, method: &str, ha1_hex: &str) -> bool {
    let qop = match (&creds.qop, &creds.nc, &creds.cnonce) {
        (Some(q), Some(nc), Some(cnonce)) if q.eq_ignore_ascii_case("auth") => {
            Some(QopAuth { nc, cnonce, qop: q })
        }
        (Some(_), _, _) => return false,
        (None, _, _) => None,
    };
    let want = expected_response(
        creds.algorithm,
        &ha1_hex.to_ascii_lowercase(),
        &creds.nonce,
        method,
        &creds.uri,
        qop,
    );
    ct_eq(
        want.as_bytes(),
        creds.response.to_ascii_lowercase().as_bytes(),
    )
}

/// Answers a challenge (client side: our softphone and tests).
///
/// Uses `qop=auth` when the challenge offers it (with `nc` as 8 hex digits and `cnonce`),
/// otherwise the RFC 2069 form without qop; the opaque value is echoed.
pub fn respond(
    challenge: &Challenge,
    method: &str,
    uri: &str,
    username: &str,
    password: &str,
    cnonce: &str,
    nc: u32,
) -> Credentials {
    let alg = challenge.algorithm;
    let ha1 = ha1(alg, username, &challenge.realm, password);
    let use_qop = challenge
        .qop
        .as_ref()
        .is_some_and(|q| q.iter().any(|v| v.eq_ignore_ascii_case("auth")));
    let nc_s = format!("{nc:08x}");
    let qop = use_qop.then_some(QopAuth {
        nc: &nc_s,
        cnonce,
        qop: "auth",
    });
    let response = expected_response(alg, &ha1, &challenge.nonce, method, uri, qop);
    Credentials {
        username: username.to_string(),
        realm: challenge.realm.clone(),
        nonce: challenge.nonce.clone(),
        uri: uri.to_string(),
        response,
        algorithm: alg,
        qop: use_qop.then(|| "auth".to_string()),
        nc: use_qop.then(|| nc_s.clone()),
        cnonce: use_qop.then(|| cnonce.to_string()),
        opaque: challenge.opaque.clone(),
    }
}

/// Result of checking a nonce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceCheck {
    /// Ours and fresh.
    Valid,
    /// Ours but older than the max age: re-challenge with `stale=true`.
    Stale,
    /// Not ours (forged, other realm, other secret) or from too far in the future.
    Invalid,
}

/// Default [`NonceSource::max_age`] in seconds.
pub const DEFAULT_NONCE_MAX_AGE: u64 = 300;
/// How far in the future a nonce timestamp may be (wall clock stepped back) and still count.
const NONCE_CLOCK_SKEW: u64 = 60;
/// Hex length of the timestamp part of a nonce (8 bytes).
const NONCE_TS_HEX: usize = 16;
/// Hex length of the MAC part of a nonce (16 bytes of SHA-256).
const NONCE_MAC_HEX: usize = 32;

/// Makes and checks stateless nonces:
/// `hex(ts as 8 bytes BE || first 16 bytes of SHA-256(secret || ts || realm))`.
///
/// Time is an argument (seconds since the epoch); nothing here reads a clock. `Debug` does
/// not show the secret.
pub struct NonceSource {
    secret: [u8; 32],
    /// Seconds a nonce stays valid (default [`DEFAULT_NONCE_MAX_AGE`]).
    pub max_age: u64,
}

impl fmt::Debug for NonceSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NonceSource")
            .field("secret", &"<redacted>")
            .field("max_age", &self.max_age)
            .finish()
    }
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
        NonceSource::with_secret(secret)
    }

    /// A source with a given secret (several servers sharing one realm, deterministic tests).
    pub fn with_secret(secret: [u8; 32]) -> NonceSource {
        NonceSource {
            secret,
            max_age: DEFAULT_NONCE_MAX_AGE,
        }
    }

    /// Sets the max age in seconds.
    pub fn with_max_age(mut self, secs: u64) -> NonceSource {
        self.max_age = secs;
        self
    }

    fn mac(&self, ts: u64, realm: &str) -> [u8; 16] {
        let mut h = Sha256::new();
        h.update(self.secret);
        h.update(ts.to_be_bytes());
        h.update(realm.as_bytes());
        let full = h.finalize();
        let mut out = [0u8; 16];
        out.copy_from_slice(&full[..16]);
        out
    }

    /// A nonce for `now_secs` (seconds since the epoch) in `realm`: 48 hex digits.
    pub fn make(&self, now_secs: u64, realm: &str) -> String {
        let mut raw = now_secs.to_be_bytes().to_vec();
        raw.extend_from_slice(&self.mac(now_secs, realm));
        hex::encode(raw)
    }

    /// Checks a nonce received in `realm` at `now_secs` (seconds since the epoch).
    pub fn check(&self, nonce: &str, now_secs: u64, realm: &str) -> NonceCheck {
        if nonce.len() != NONCE_TS_HEX + NONCE_MAC_HEX {
            return NonceCheck::Invalid;
        }
        let Ok(raw) = hex::decode(nonce) else {
            return NonceCheck::Invalid;
        };
        let (Some(ts_bytes), Some(mac)) = (raw.get(..8), raw.get(8..)) else {
            return NonceCheck::Invalid;
        };
        let Ok(ts_bytes) = <[u8; 8]>::try_from(ts_bytes) else {
            return NonceCheck::Invalid;
        };
        let ts = u64::from_be_bytes(ts_bytes);
        if !ct_eq(&self.mac(ts, realm), mac) || ts > now_secs.saturating_add(NONCE_CLOCK_SKEW) {
            return NonceCheck::Invalid;
        }
        if now_secs.saturating_sub(ts) > self.max_age {
            NonceCheck::Stale
        } else {
            NonceCheck::Valid
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type R = Result<(), Box<dyn std::error::Error>>;

    const RFC2617_CHALLENGE: &str = "Digest realm=\"testrealm@host.com\", \
        qop=\"auth,auth-int\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", \
        opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"";
    const RFC2617_CREDENTIALS: &str = "Digest username=\"Mufasa\", realm=\"testrealm@host.com\", \
        nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"/dir/index.html\", qop=auth, \
        nc=00000001, cnonce=\"0a4f113b\", response=\"6629fae49393a05397450978507c4ef1\", \
        opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"";
    const RFC7616_CHALLENGE: &str = "Digest\r\n realm=\"http-auth@example.org\",\r\n \
        qop=\"auth, auth-int\",\r\n algorithm=SHA-256,\r\n \
        nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\",\r\n \
        opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";
    const RFC7616_CREDENTIALS: &str = "Digest username=\"Mufasa\",\r\n \
        realm=\"http-auth@example.org\",\r\n uri=\"/dir/index.html\",\r\n algorithm=SHA-256,\r\n \
        nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\",\r\n nc=00000001,\r\n \
        cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\",\r\n qop=auth,\r\n \
        response=\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1\",\r\n \
        opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";
    const RFC7616_RESPONSE: &str =
        "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1";

    #[test]
    fn rfc2617_example_verifies() -> R {
        let c = Credentials::parse(RFC2617_CREDENTIALS)?;
        let h = ha1(
            Algorithm::Md5,
            "Mufasa",
            "testrealm@host.com",
            "Circle Of Life",
        );
        assert!(verify(&c, "GET", &h));
        assert!(!verify(&c, "POST", &h));
        Ok(())
    }

    #[test]
    fn rfc2617_example_respond_matches() -> R {
        let ch = Challenge::parse(RFC2617_CHALLENGE)?;
        assert_eq!(ch.algorithm, Algorithm::Md5, "absent algorithm is MD5");
        assert_eq!(ch.qop, Some(vec!["auth".into(), "auth-int".into()]));
        let c = respond(
            &ch,
            "GET",
            "/dir/index.html",
            "Mufasa",
            "Circle Of Life",
            "0a4f113b",
            1,
        );
        assert_eq!(c.response, "6629fae49393a05397450978507c4ef1");
        assert_eq!(c.nc.as_deref(), Some("00000001"));
        assert_eq!(
            c.opaque.as_deref(),
            Some("5ccc069c403ebaf9f0171e9517f40e41")
        );
        assert_eq!(c, Credentials::parse(RFC2617_CREDENTIALS)?);
        Ok(())
    }

    #[test]
    fn rfc7616_sha256_example() -> R {
        let ch = Challenge::parse(RFC7616_CHALLENGE)?;
        assert_eq!(ch.algorithm, Algorithm::Sha256);
        let c = respond(
            &ch,
            "GET",
            "/dir/index.html",
            "Mufasa",
            "Circle of Life",
            "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
            1,
        );
        assert_eq!(c.response, RFC7616_RESPONSE);
        let parsed = Credentials::parse(RFC7616_CREDENTIALS)?;
        assert_eq!(parsed, c);
        let h = ha1(
            Algorithm::Sha256,
            "Mufasa",
            "http-auth@example.org",
            "Circle of Life",
        );
        assert!(verify(&parsed, "GET", &h));
        Ok(())
    }

    #[test]
    fn respond_verify_roundtrip_both_algorithms() -> R {
        for alg in [Algorithm::Md5, Algorithm::Sha256] {
            for qop in [Some(vec!["auth".to_string()]), None] {
                let ch = Challenge {
                    realm: "default".into(),
                    nonce: "n\"x\\".into(),
                    opaque: Some("o".into()),
                    algorithm: alg,
                    qop,
                    stale: false,
                };
                let parsed = Challenge::parse(&ch.to_header_value())?;
                assert_eq!(parsed, ch);
                let c = respond(&parsed, "REGISTER", "sip:pbx", "201", "demo201", "cn", 1);
                let back = Credentials::parse(&c.to_header_value())?;
                assert_eq!(back, c);
                assert!(verify(
                    &back,
                    "REGISTER",
                    &ha1(alg, "201", "default", "demo201")
                ));
            }
        }
        Ok(())
    }

    #[test]
    fn wrong_password_or_tampering_fails() {
        for alg in [Algorithm::Md5, Algorithm::Sha256] {
            let ch = Challenge {
                realm: "default".into(),
                nonce: "abc".into(),
                opaque: None,
                algorithm: alg,
                qop: Some(vec!["auth".into()]),
                stale: false,
            };
            let good = ha1(alg, "201", "default", "demo201");
            let c = respond(&ch, "INVITE", "sip:100@pbx", "201", "demo201", "cn", 7);
            assert!(verify(&c, "INVITE", &good));
            assert!(!verify(&c, "INVITE", &ha1(alg, "201", "default", "wrong")));
            assert!(!verify(&c, "REGISTER", &good));
            let other_uri = Credentials {
                uri: "sip:999@pbx".into(),
                ..c.clone()
            };
            assert!(!verify(&other_uri, "INVITE", &good));
            let other_nc = Credentials {
                nc: Some("00000008".into()),
                ..c.clone()
            };
            assert!(!verify(&other_nc, "INVITE", &good));
            let auth_int = Credentials {
                qop: Some("auth-int".into()),
                ..c.clone()
            };
            assert!(!verify(&auth_int, "INVITE", &good));
            let no_cnonce = Credentials {
                cnonce: None,
                ..c.clone()
            };
            assert!(!verify(&no_cnonce, "INVITE", &good));
            let truncated = Credentials {
                response: c.response[..8].to_string(),
                ..c.clone()
            };
            assert!(!verify(&truncated, "INVITE", &good));
            let upper = Credentials {
                response: c.response.to_ascii_uppercase(),
                ..c
            };
            assert!(verify(&upper, "INVITE", &good), "hex case does not matter");
        }
    }

    #[test]
    fn challenge_renders_expected_form() {
        let ch = Challenge {
            realm: "pbx".into(),
            nonce: "abc".into(),
            opaque: Some("op".into()),
            algorithm: Algorithm::Md5,
            qop: Some(vec!["auth".into()]),
            stale: true,
        };
        assert_eq!(
            ch.to_header_value(),
            "Digest realm=\"pbx\", nonce=\"abc\", opaque=\"op\", algorithm=MD5, qop=\"auth\", stale=true"
        );
    }

    #[test]
    fn algorithm_parse() {
        assert_eq!(Algorithm::parse(None), Ok(Algorithm::Md5));
        assert_eq!(Algorithm::parse(Some("md5")), Ok(Algorithm::Md5));
        assert_eq!(Algorithm::parse(Some(" sha-256 ")), Ok(Algorithm::Sha256));
        for bad in ["MD5-sess", "SHA-256-sess", "SHA-512-256", "", "AKAv1-MD5"] {
            assert!(
                matches!(Algorithm::parse(Some(bad)), Err(AuthError::Unsupported(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn nonce_valid_stale_invalid() {
        let s = NonceSource::with_secret([7; 32]);
        let n = s.make(1000, "r");
        assert_eq!(n.len(), 48);
        assert_eq!(s.check(&n, 1000, "r"), NonceCheck::Valid);
        assert_eq!(s.check(&n, 1300, "r"), NonceCheck::Valid);
        assert_eq!(s.check(&n, 1301, "r"), NonceCheck::Stale);
        assert_eq!(s.check(&n, 1100, "other"), NonceCheck::Invalid);
        assert_eq!(NonceSource::new().check(&n, 1100, "r"), NonceCheck::Invalid);
        assert_eq!(
            NonceSource::with_secret([7; 32])
                .with_max_age(50)
                .check(&n, 1100, "r"),
            NonceCheck::Stale
        );
        // Timestamp tampered with: the MAC no longer matches.
        let forged = format!("{:016x}{}", 5000u64, &n[16..]);
        assert_eq!(s.check(&forged, 5000, "r"), NonceCheck::Invalid);
        assert_eq!(
            s.check(&n.to_uppercase(), 1000, "r"),
            NonceCheck::Valid,
            "hex is hex"
        );
    }

    #[test]
    fn nonce_from_the_future() {
        let s = NonceSource::with_secret([1; 32]);
        // Our wall clock stepped back a little: still valid, and no underflow.
        assert_eq!(s.check(&s.make(1030, "r"), 1000, "r"), NonceCheck::Valid);
        assert_eq!(s.check(&s.make(2000, "r"), 1000, "r"), NonceCheck::Invalid);
        assert_eq!(
            s.check(&s.make(u64::MAX, "r"), u64::MAX, "r"),
            NonceCheck::Valid
        );
        assert_eq!(s.check(&s.make(0, "r"), u64::MAX, "r"), NonceCheck::Stale);
    }

    #[test]
    fn nonce_garbage_is_invalid() {
        let s = NonceSource::with_secret([1; 32]);
        let n = s.make(1000, "r");
        let multibyte = format!("{}é{}", &n[..20], &n[22..]);
        assert_eq!(multibyte.len(), 48);
        for bad in [
            "",
            "zz",
            &n[..47],
            &format!("{n}0"),
            &multibyte,
            &"g".repeat(48),
        ] {
            assert_eq!(s.check(bad, 1000, "r"), NonceCheck::Invalid, "{bad:?}");
        }
    }

    #[test]
    fn nonce_source_debug_hides_secret() {
        let text = format!("{:?}", NonceSource::with_secret([0xab; 32]));
        assert!(!text.contains("171") && !text.contains("ab"), "{text}");
    }

    #[test]
    fn parser_tolerates_spacing_case_escapes_and_unknown_params() -> R {
        let c = Challenge::parse(
            "digest REALM=\"a\\\"b\" ,nonce=n,,  algorithm=sha-256 , foo=\"bar, baz\", x=y",
        )?;
        assert_eq!(c.realm, "a\"b");
        assert_eq!(c.nonce, "n");
        assert_eq!(c.algorithm, Algorithm::Sha256);
        assert_eq!(c.qop, None);
        assert!(!c.stale);
        let c = Challenge::parse("DIGEST\trealm = \"r\" , nonce = \"n\", stale=TRUE")?;
        assert!(c.stale);
        Ok(())
    }

    #[test]
    fn parser_rejects_garbage() {
        let bad = [
            "",
            " ",
            "Basic abc",
            "Digest",
            "Digest realm=\"x",
            "Digest =x",
            "Digest realm",
            "Digest realm x",
            "Digest \"quoted\"=x",
            "Digest realm=x",
            "Digest username=\"a\", realm=\"b\"",
            "Digest \u{1F600}=\"\"",
            "Digest realm=a, nonce=b, algorithm=MD5-sess",
            "Digest realm=a, nonce=b, username=c, uri=d, response=e, algorithm=SHA-512",
            "Digest realm=\"a\\",
        ];
        for b in bad {
            assert!(Credentials::parse(b).is_err(), "credentials {b:?}");
            assert!(Challenge::parse(b).is_err(), "challenge {b:?}");
        }
        assert_eq!(Challenge::parse("Basic realm=x"), Err(AuthError::NotDigest));
        assert_eq!(
            Challenge::parse("Digest nonce=x"),
            Err(AuthError::Missing("realm"))
        );
    }

    #[test]
    fn parser_never_panics_on_prefixes_and_mutations() {
        let all = [RFC2617_CHALLENGE, RFC2617_CREDENTIALS, RFC7616_CREDENTIALS];
        for text in all {
            for (i, _) in text.char_indices() {
                let _ = Challenge::parse(&text[..i]);
                let _ = Credentials::parse(&text[..i]);
                let _ = Credentials::parse(&text[i..]);
                for ch in ['"', '\\', ',', '=', ' ', 'é'] {
                    let mut m = text.to_string();
                    m.insert(i, ch);
                    let _ = Challenge::parse(&m);
                    let _ = Credentials::parse(&m);
                }
            }
        }
    }
}
