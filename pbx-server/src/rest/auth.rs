//! The seed's `X-authenticate` scheme, sans-IO: parsing the header and checking it against
//! the stored `digestPassword`, a nonce cache and the time given by the caller.
//!
//! ```text
//! X-authenticate: RestApiUsernameToken Username="admin", Domain="default",
//!     Digest="<base64>", Nonce="<hex>", Created="YYYY-MM-DDThh:mm:ssZ"
//! digestPassword = hex(sha256(password + "{" + salt + "}"))
//! Digest         = base64(sha256_raw(Nonce + digestPassword + Username + Domain + Created))
//! ```
//!
//! Every failure is an [`AuthError`]; the HTTP layer answers all of them with the same 401
//! (the variant is only logged), so a client cannot tell a wrong password from an unknown user.

use base64::Engine as _;
use sha2::{Digest as _, Sha256};
use std::collections::{BTreeSet, HashMap};

/// The scheme token that starts the header value.
pub const SCHEME: &str = "RestApiUsernameToken";
/// The header's name (HTTP header names are case-insensitive).
pub const HEADER: &str = "x-authenticate";
/// Allowed distance between `Created` and the server clock, and how long a nonce is kept.
pub const WINDOW_S: i64 = 300;
/// Shortest nonce the seed allows.
pub const MIN_NONCE: usize = 8;
/// Longest nonce we take: a nonce is client-chosen and must not make the request costly.
pub const MAX_NONCE: usize = 128;
/// Longest username or domain we take.
pub const MAX_NAME: usize = 255;
/// Nonces remembered at most: 100 000 authenticated requests in 5 minutes (333/s) is far
/// beyond one PBX's API traffic; each entry costs ~50 bytes, so the cache stays under ~10 MB.
pub const MAX_NONCES: usize = 100_000;
/// The seed's `Created` format.
const CREATED_FORMAT: &str = "%Y-%m-%dT%H:%M:%SZ";

/// Why a request was not authenticated. Only logged: the client always sees one generic 401.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `X-authenticate` header (or not valid text).
    #[error("missing header")]
    Missing,
    /// Not `RestApiUsernameToken` with the five quoted fields.
    #[error("malformed header")]
    Malformed,
    /// Nonce shorter than [`MIN_NONCE`].
    #[error("nonce too short")]
    ShortNonce,
    /// Nonce not hexadecimal, or longer than [`MAX_NONCE`].
    #[error("nonce not hexadecimal")]
    BadNonce,
    /// `Created` not `YYYY-MM-DDThh:mm:ssZ`.
    #[error("bad Created")]
    BadCreated,
    /// `Created` more than [`WINDOW_S`] away from the server clock.
    #[error("Created outside the window")]
    Stale,
    /// No such user in that domain (or the user has no API digest stored).
    #[error("unknown user")]
    UnknownUser,
    /// The digest does not match (wrong password, or a field changed in transit).
    #[error("wrong digest")]
    WrongDigest,
    /// Valid credentials of a user without the API permission.
    #[error("no API access")]
    NoApiAccess,
    /// The nonce was already used by this user within its lifetime.
    #[error("nonce replayed")]
    Replay,
    /// The nonce cache is full; the request cannot be checked for replay.
    #[error("nonce cache full")]
    CacheFull,
}

impl AuthError {
    /// Short word for the log line.
    pub fn reason(self) -> &'static str {
        match self {
            AuthError::Missing => "missing",
            AuthError::Malformed => "malformed",
            AuthError::ShortNonce => "short-nonce",
            AuthError::BadNonce => "bad-nonce",
            AuthError::BadCreated => "bad-created",
            AuthError::Stale => "stale",
            AuthError::UnknownUser => "unknown-user",
            AuthError::WrongDigest => "wrong-digest",
            AuthError::NoApiAccess => "no-api-access",
            AuthError::Replay => "replay",
            AuthError::CacheFull => "cache-full",
        }
    }
}

/// The fields of a parsed header, as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// `Username`.
    pub username: String,
    /// `Domain` (the tenant).
    pub domain: String,
    /// `Digest` (base64).
    pub digest: String,
    /// `Nonce` (hex).
    pub nonce: String,
    /// `Created`, as sent.
    pub created: String,
}

/// What the store knows of the user the header names.
#[derive(Debug, Clone, Copy)]
pub struct Stored<'a> {
    /// `hex(sha256(password{salt}))`, lowercase.
    pub digest_password: &'a str,
    /// The user's API permission flag.
    pub api_access: bool,
}

/// `hex(sha256(password + "{" + salt + "}"))`, lowercase: what the server stores and what a
/// client recomputes from the password and the salt of `GET /rest/salt/{domain}`.
pub use crate::store::rest_digest_password as digest_password;

/// `base64(sha256_raw(nonce + digest_password + username + domain + created))`.
pub fn digest(
    nonce: &str,
    digest_password: &str,
    username: &str,
    domain: &str,
    created: &str,
) -> String {
    let mut h = Sha256::new();
    for part in [nonce, digest_password, username, domain, created] {
        h.update(part.as_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(h.finalize())
}

/// `Created` for a time (seconds since the epoch), in the seed's format.
pub fn created(unix_s: i64) -> Option<String> {
    chrono::DateTime::from_timestamp(unix_s, 0).map(|t| t.format(CREATED_FORMAT).to_string())
}

/// Parses `RestApiUsernameToken Key="value", ...`. The scheme and keys are matched without
/// regard to case, whitespace around separators is tolerated, unknown keys are ignored, and
/// a repeated or missing key is malformed.
pub fn parse(header: &str) -> Result<Token, AuthError> {
    let header = header.trim();
    let (scheme, mut rest) = header
        .split_once(|c: char| c.is_ascii_whitespace())
        .ok_or(AuthError::Malformed)?;
    if !scheme.eq_ignore_ascii_case(SCHEME) {
        return Err(AuthError::Malformed);
    }
    let mut fields: [Option<&str>; 5] = [None; 5];
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            break;
        }
        let (key, after) = rest.split_once('=').ok_or(AuthError::Malformed)?;
        let after = after
            .trim_start()
            .strip_prefix('"')
            .ok_or(AuthError::Malformed)?;
        let (value, after) = after.split_once('"').ok_or(AuthError::Malformed)?;
        let slot = match key.trim().to_ascii_lowercase().as_str() {
            "username" => Some(0),
            "domain" => Some(1),
            "digest" => Some(2),
            "nonce" => Some(3),
            "created" => Some(4),
            _ => None,
        };
        if let Some(i) = slot {
            if fields[i].replace(value).is_some() {
                return Err(AuthError::Malformed);
            }
        }
        rest = after.trim_start();
        if let Some(r) = rest.strip_prefix(',') {
            rest = r;
        } else if !rest.is_empty() {
            return Err(AuthError::Malformed);
        }
    }
    let [Some(username), Some(domain), Some(digest), Some(nonce), Some(created)] = fields else {
        return Err(AuthError::Malformed);
    };
    if username.is_empty()
        || domain.is_empty()
        || username.len() > MAX_NAME
        || domain.len() > MAX_NAME
        || digest.len() > 64
        || created.len() > 64
    {
        return Err(AuthError::Malformed);
    }
    Ok(Token {
        username: username.to_string(),
        domain: domain.to_string(),
        digest: digest.to_string(),
        nonce: nonce.to_string(),
        created: created.to_string(),
    })
}

/// Seconds since the epoch of a `YYYY-MM-DDThh:mm:ssZ` string (exactly that shape).
pub fn parse_created(s: &str) -> Result<i64, AuthError> {
    if s.len() != 20 || !s.ends_with('Z') {
        return Err(AuthError::BadCreated);
    }
    chrono::NaiveDateTime::parse_from_str(s, CREATED_FORMAT)
        .map(|t| t.and_utc().timestamp())
        .map_err(|_| AuthError::BadCreated)
}

/// Nonces already used, each kept until no header carrying it can pass the `Created` check
/// any more. Keyed by a hash of (domain, username, nonce), so two users choosing the same
/// nonce do not collide and an entry has a fixed size.
#[derive(Debug, Default)]
pub struct NonceCache {
    until: HashMap<u128, i64>,
    by_time: BTreeSet<(i64, u128)>,
    cap: usize,
}

impl NonceCache {
    /// An empty cache holding at most [`MAX_NONCES`].
    pub fn new() -> NonceCache {
        NonceCache::with_capacity(MAX_NONCES)
    }

    /// An empty cache holding at most `cap` nonces (tests use small ones).
    pub fn with_capacity(cap: usize) -> NonceCache {
        NonceCache {
            until: HashMap::new(),
            by_time: BTreeSet::new(),
            cap,
        }
    }

    /// Nonces remembered now.
    pub fn len(&self) -> usize {
        self.until.len()
    }

    /// True when nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.until.is_empty()
    }

    fn key(domain: &str, username: &str, nonce: &str) -> u128 {
        let mut h = Sha256::new();
        for part in [domain, username, nonce] {
            h.update(part.as_bytes());
            h.update([0u8]);
        }
        let d = h.finalize();
        let mut k = [0u8; 16];
        k.copy_from_slice(&d[..16]);
        u128::from_le_bytes(k)
    }

    fn purge(&mut self, now_s: i64) {
        while let Some(&(t, k)) = self.by_time.first() {
            // Kept through `t` inclusive: Created passes while |now - Created| <= window.
            if t >= now_s {
                break;
            }
            self.by_time.remove(&(t, k));
            self.until.remove(&k);
        }
    }

    fn seen(&mut self, key: u128, now_s: i64) -> bool {
        self.purge(now_s);
        self.until.contains_key(&key)
    }

    fn remember(&mut self, key: u128, until_s: i64, now_s: i64) -> Result<(), AuthError> {
        self.purge(now_s);
        if self.until.len() >= self.cap {
            return Err(AuthError::CacheFull);
        }
        self.until.insert(key, until_s);
        self.by_time.insert((until_s, key));
        Ok(())
    }
}

/// Constant-time equality (the digest must not leak through the comparison's timing).
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Checks one `X-authenticate` value at `now_s` (seconds since the epoch) against what the
/// store holds for the user it names (`None`: no such user). On success the nonce is
/// remembered and the parsed token returned.
///
/// Order: format, nonce shape, `Created` window, digest, API permission, replay. The digest is
/// computed even for unknown users so both take the same time.
pub fn verify(
    header: &str,
    stored: Option<Stored<'_>>,
    nonces: &mut NonceCache,
    now_s: i64,
) -> Result<Token, AuthError> {
    let token = parse(header)?;
    if token.nonce.len() < MIN_NONCE {
        return Err(AuthError::ShortNonce);
    }
    if token.nonce.len() > MAX_NONCE || !token.nonce.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AuthError::BadNonce);
    }
    let created_s = parse_created(&token.created)?;
    if (now_s - created_s).abs() > WINDOW_S {
        return Err(AuthError::Stale);
    }
    const NOBODY: &str = "0000000000000000000000000000000000000000000000000000000000000000";
    let expected = digest(
        &token.nonce,
        stored.map_or(NOBODY, |s| s.digest_password),
        &token.username,
        &token.domain,
        &token.created,
    );
    let Some(stored) = stored else {
        return Err(AuthError::UnknownUser);
    };
    if !ct_eq(expected.as_bytes(), token.digest.as_bytes()) {
        return Err(AuthError::WrongDigest);
    }
    if !stored.api_access {
        return Err(AuthError::NoApiAccess);
    }
    let key = NonceCache::key(&token.domain, &token.username, &token.nonce);
    if nonces.seen(key, now_s) {
        return Err(AuthError::Replay);
    }
    // Keep the nonce as long as a header carrying it could still pass the Created check
    // (a Created in the future stays acceptable until Created + window), and at least the
    // seed's five minutes.
    let until = now_s.max(created_s) + WINDOW_S;
    nonces.remember(key, until, now_s)?;
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The seed's worked example (seed-api-addons.md §2.5).
    const NONCE: &str = "bfb79078ff44c35714af28b7412a702b";
    const DIGEST_PASSWORD: &str =
        "dd7b0be7fa37d6cbaf0b842bf7532f229cb79ab8d54d509c2aa7eea27a53cd5e";
    const CREATED: &str = "2016-04-29T15:48:26Z";
    const DIGEST: &str = "+PJg7Tb3v98XnL6iJVv+v5hwhYjdzQ2tIWxvJB2cE40=";
    const HEADER_VALUE: &str = "RestApiUsernameToken Username=\"admin\", Domain=\"default\", \
        Digest=\"+PJg7Tb3v98XnL6iJVv+v5hwhYjdzQ2tIWxvJB2cE40=\", \
        Nonce=\"bfb79078ff44c35714af28b7412a702b\", Created=\"2016-04-29T15:48:26Z\"";

    fn created_s() -> i64 {
        parse_created(CREATED).unwrap()
    }

    fn admin() -> Option<Stored<'static>> {
        Some(Stored {
            digest_password: DIGEST_PASSWORD,
            api_access: true,
        })
    }

    /// A header for `admin@default` with the given parts, digest computed from `dp`.
    fn header(user: &str, dp: &str, nonce: &str, created: &str) -> String {
        let d = digest(nonce, dp, user, "default", created);
        format!(
            "RestApiUsernameToken Username=\"{user}\", Domain=\"default\", Digest=\"{d}\", \
             Nonce=\"{nonce}\", Created=\"{created}\""
        )
    }

    #[test]
    fn the_seeds_worked_example() {
        assert_eq!(
            digest(NONCE, DIGEST_PASSWORD, "admin", "default", CREATED),
            DIGEST
        );
        assert_eq!(created_s(), 1_461_944_906);
        assert_eq!(created(created_s()).as_deref(), Some(CREATED));
        let mut cache = NonceCache::new();
        let t = verify(HEADER_VALUE, admin(), &mut cache, created_s() + 10).unwrap();
        assert_eq!(
            (t.username.as_str(), t.domain.as_str()),
            ("admin", "default")
        );
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn digest_password_is_lowercase_hex_of_password_brace_salt_brace() {
        // The seed's salt is truncated in print (§2.5); this is the self-consistent vector.
        let dp = digest_password("admin", "b5a8fdcf2f8d5acd33c4a072a97d7a");
        assert_eq!(
            dp,
            "e5ea128e4c586d59c02bdca61da015648f0ec85afd9fbf6f389c269b51bcacb5"
        );
        assert_eq!(
            digest(NONCE, &dp, "admin", "default", CREATED),
            "VoWjELC2pYi57Qv7X9U9QKsjQ8QF3R4wdt7gUpwTI5c="
        );
    }

    #[test]
    fn a_replayed_header_is_refused_until_created_leaves_the_window() {
        let mut cache = NonceCache::new();
        let now = created_s();
        assert!(verify(HEADER_VALUE, admin(), &mut cache, now).is_ok());
        assert_eq!(
            verify(HEADER_VALUE, admin(), &mut cache, now + 1),
            Err(AuthError::Replay)
        );
        assert_eq!(
            verify(HEADER_VALUE, admin(), &mut cache, now + WINDOW_S),
            Err(AuthError::Replay)
        );
        // Past the window the nonce is forgotten, and Created refuses the header instead.
        assert_eq!(
            verify(HEADER_VALUE, admin(), &mut cache, now + WINDOW_S + 1),
            Err(AuthError::Stale)
        );
        // The cache forgets it at the next use.
        let later = created(now + WINDOW_S + 1).unwrap();
        let h = header("admin", DIGEST_PASSWORD, "0123456789", &later);
        assert!(verify(&h, admin(), &mut cache, now + WINDOW_S + 1).is_ok());
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn a_future_created_keeps_its_nonce_until_created_plus_the_window() {
        let mut cache = NonceCache::new();
        let now = created_s() - WINDOW_S; // Created is 5 minutes ahead of the server
        assert!(verify(HEADER_VALUE, admin(), &mut cache, now).is_ok());
        // 5 minutes and 1 s later a plain "5 minutes from use" cache would have forgotten it
        // while Created would still pass.
        assert_eq!(
            verify(HEADER_VALUE, admin(), &mut cache, now + WINDOW_S + 1),
            Err(AuthError::Replay)
        );
    }

    #[test]
    fn the_same_nonce_from_another_user_is_not_a_replay() {
        let mut cache = NonceCache::new();
        let now = created_s();
        assert!(verify(HEADER_VALUE, admin(), &mut cache, now).is_ok());
        let other = header("201", DIGEST_PASSWORD, NONCE, CREATED);
        assert!(verify(&other, admin(), &mut cache, now).is_ok());
    }

    #[test]
    fn created_older_or_newer_than_five_minutes_is_refused() {
        let mut cache = NonceCache::new();
        let t = created_s();
        assert_eq!(
            verify(HEADER_VALUE, admin(), &mut cache, t + WINDOW_S + 1),
            Err(AuthError::Stale)
        );
        assert_eq!(
            verify(HEADER_VALUE, admin(), &mut cache, t - WINDOW_S - 1),
            Err(AuthError::Stale)
        );
        assert!(
            cache.is_empty(),
            "refused headers do not use up their nonce"
        );
        assert!(verify(HEADER_VALUE, admin(), &mut cache, t - WINDOW_S).is_ok());
    }

    #[test]
    fn created_must_have_the_seeds_shape() {
        let mut cache = NonceCache::new();
        for c in [
            "2016-04-29 15:48:26Z",
            "2016-04-29T15:48:26",
            "2016-04-29T15:48:26+00:00",
            "2016-04-29T15:48:26.000Z",
            "2016-02-30T15:48:26Z",
            "",
        ] {
            let h = header("admin", DIGEST_PASSWORD, NONCE, c);
            assert_eq!(
                verify(&h, admin(), &mut cache, created_s()),
                Err(AuthError::BadCreated),
                "{c:?}"
            );
        }
    }

    #[test]
    fn a_short_nonce_is_refused() {
        let mut cache = NonceCache::new();
        let h = header("admin", DIGEST_PASSWORD, "abcdef1", CREATED);
        assert_eq!(
            verify(&h, admin(), &mut cache, created_s()),
            Err(AuthError::ShortNonce)
        );
        let h = header("admin", DIGEST_PASSWORD, "abcdef12", CREATED);
        assert!(verify(&h, admin(), &mut cache, created_s()).is_ok());
    }

    #[test]
    fn a_non_hex_or_huge_nonce_is_refused() {
        let mut cache = NonceCache::new();
        for n in [
            "bfb79078ff44c35g",
            "nonce-nonce",
            "bfb79078 ff44c357",
            &"a".repeat(129),
        ] {
            let h = header("admin", DIGEST_PASSWORD, n, CREATED);
            assert_eq!(
                verify(&h, admin(), &mut cache, created_s()),
                Err(AuthError::BadNonce),
                "{n:?}"
            );
        }
        let h = header("admin", DIGEST_PASSWORD, "ABCDEF0123456789", CREATED);
        assert!(verify(&h, admin(), &mut cache, created_s()).is_ok());
    }

    #[test]
    fn a_wrong_password_is_refused() {
        let mut cache = NonceCache::new();
        let wrong = digest_password("admln", "salt");
        let h = header("admin", &wrong, NONCE, CREATED);
        assert_eq!(
            verify(&h, admin(), &mut cache, created_s()),
            Err(AuthError::WrongDigest)
        );
        // A field changed after signing is the same thing.
        let tampered = HEADER_VALUE.replace("Domain=\"default\"", "Domain=\"other\"");
        assert_eq!(
            verify(&tampered, admin(), &mut cache, created_s()),
            Err(AuthError::WrongDigest)
        );
        assert!(cache.is_empty());
    }

    #[test]
    fn an_unknown_user_is_refused() {
        let mut cache = NonceCache::new();
        assert_eq!(
            verify(HEADER_VALUE, None, &mut cache, created_s()),
            Err(AuthError::UnknownUser)
        );
    }

    #[test]
    fn a_user_without_api_access_is_refused() {
        let mut cache = NonceCache::new();
        let stored = Stored {
            digest_password: DIGEST_PASSWORD,
            api_access: false,
        };
        assert_eq!(
            verify(HEADER_VALUE, Some(stored), &mut cache, created_s()),
            Err(AuthError::NoApiAccess)
        );
    }

    #[test]
    fn parsing_is_strict_on_structure_and_lenient_on_spacing() {
        let spaced = "restapiusernametoken   Username = \"admin\",Domain=\"default\" ,  \
            Digest=\"+PJg7Tb3v98XnL6iJVv+v5hwhYjdzQ2tIWxvJB2cE40=\", Nonce=\"bfb79078ff44c35714af28b7412a702b\", \
            Created=\"2016-04-29T15:48:26Z\", Extra=\"ignored\"";
        assert_eq!(parse(spaced), parse(HEADER_VALUE));
        // Fields in another order are the same token.
        let reordered = "RestApiUsernameToken Created=\"2016-04-29T15:48:26Z\", \
            Nonce=\"bfb79078ff44c35714af28b7412a702b\", Digest=\"+PJg7Tb3v98XnL6iJVv+v5hwhYjdzQ2tIWxvJB2cE40=\", \
            Domain=\"default\", Username=\"admin\"";
        assert_eq!(parse(reordered), parse(HEADER_VALUE));
        for bad in [
            "",
            "RestApiUsernameToken",
            "Basic YWRtaW46YWRtaW4=",
            "UsernameToken Username=\"admin\", Domain=\"default\", Digest=\"x\", Nonce=\"12345678\", Created=\"x\"",
            // missing Created
            "RestApiUsernameToken Username=\"admin\", Domain=\"default\", Digest=\"x\", Nonce=\"12345678\"",
            // repeated Username
            "RestApiUsernameToken Username=\"admin\", Username=\"root\", Domain=\"default\", Digest=\"x\", Nonce=\"12345678\", Created=\"x\"",
            // unquoted value
            "RestApiUsernameToken Username=admin, Domain=\"default\", Digest=\"x\", Nonce=\"12345678\", Created=\"x\"",
            // unterminated quote
            "RestApiUsernameToken Username=\"admin, Domain=\"default\"",
            // no comma between pairs
            "RestApiUsernameToken Username=\"admin\" Domain=\"default\", Digest=\"x\", Nonce=\"12345678\", Created=\"x\"",
            // empty username
            "RestApiUsernameToken Username=\"\", Domain=\"default\", Digest=\"x\", Nonce=\"12345678\", Created=\"x\"",
        ] {
            assert_eq!(parse(bad), Err(AuthError::Malformed), "{bad:?}");
        }
        let long = format!(
            "RestApiUsernameToken Username=\"{}\", Domain=\"default\", Digest=\"x\", Nonce=\"12345678\", Created=\"x\"",
            "u".repeat(MAX_NAME + 1)
        );
        assert_eq!(parse(&long), Err(AuthError::Malformed));
    }

    #[test]
    fn mangled_headers_are_refused_without_panicking() {
        // A small deterministic fuzz: random edits of the seed's header, and random text.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let alphabet: Vec<char> = "\"=, \tRestApiUsernameTokenDigest0123456789abcdefZT:-+/é€\u{0}"
            .chars()
            .collect();
        let mut cache = NonceCache::new();
        for i in 0..20_000 {
            let mut h: Vec<char> = if i % 4 == 0 {
                Vec::new()
            } else {
                HEADER_VALUE.chars().collect()
            };
            for _ in 0..(next() % 6 + 1) {
                let c = alphabet[(next() % alphabet.len() as u64) as usize];
                let at = if h.is_empty() {
                    0
                } else {
                    (next() % h.len() as u64) as usize
                };
                match next() % 3 {
                    0 => h.insert(at, c),
                    1 if !h.is_empty() => {
                        h.remove(at);
                    }
                    _ if !h.is_empty() => h[at] = c,
                    _ => h.push(c),
                }
            }
            let h: String = h.into_iter().collect();
            if let Ok(t) = verify(&h, admin(), &mut cache, created_s()) {
                // Only edits that leave the signed fields intact can pass.
                assert_eq!(t, parse(HEADER_VALUE).unwrap(), "{h:?}");
                cache = NonceCache::new();
            }
        }
    }

    #[test]
    fn a_full_cache_refuses_rather_than_forgets() {
        let mut cache = NonceCache::with_capacity(2);
        let t = created_s();
        for n in ["00000001", "00000002"] {
            let h = header("admin", DIGEST_PASSWORD, n, CREATED);
            assert!(verify(&h, admin(), &mut cache, t).is_ok());
        }
        let h = header("admin", DIGEST_PASSWORD, "00000003", CREATED);
        assert_eq!(
            verify(&h, admin(), &mut cache, t),
            Err(AuthError::CacheFull)
        );
        // Once the first two expire there is room again.
        let later = created(t + WINDOW_S + 1).unwrap();
        let h = header("admin", DIGEST_PASSWORD, "00000003", &later);
        assert!(verify(&h, admin(), &mut cache, t + WINDOW_S + 1).is_ok());
        assert_eq!(cache.len(), 1);
    }
}
