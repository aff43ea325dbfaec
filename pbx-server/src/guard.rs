//! Digest authentication of SIP requests, with a ban on sources that keep guessing.
//!
//! Every failure is logged as one line, `security: sip auth failure ... src=<ip>`, and a
//! ban as `security: banned src=<ip>`, so fail2ban can match them.

use sip_core::auth::{self, Algorithm, NonceCheck, NonceSource};
use sip_core::{Request, Response};
use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Failures from one address within [`FAIL_WINDOW`] before it is banned.
const MAX_FAILURES: u32 = 10;
/// Window over which failures are counted.
const FAIL_WINDOW: Duration = Duration::from_secs(60);
/// How long a banned address is ignored.
const BAN_TIME: Duration = Duration::from_secs(300);

/// Credentials the guard checks against.
pub struct Secret<'a> {
    /// `H(user:realm:password)` with MD5.
    pub ha1_md5: &'a str,
    /// `H(user:realm:password)` with SHA-256.
    pub ha1_sha256: &'a str,
}

/// Outcome of checking a request.
#[derive(Debug)]
pub enum Verdict {
    /// Credentials valid for this username.
    Ok(String),
    /// Answer with this challenge (401/407) and stop.
    Challenge(Response),
}

#[derive(Debug, Default)]
struct Failures {
    count: u32,
    since: Option<Instant>,
    banned_until: Option<Instant>,
}

/// Per-server authentication state.
pub struct Guard {
    realm: String,
    /// Also offer an RFC 8760 SHA-256 challenge (after MD5). Off by default: some deployed
    /// clients (baresip 1.0's libre among them) abort on a challenge they cannot answer
    /// instead of skipping it. See docs/decisions/005-digest.md.
    offer_sha256: bool,
    nonces: NonceSource,
    failures: HashMap<IpAddr, Failures>,
}

impl Guard {
    /// A guard for one realm.
    pub fn new(realm: &str, offer_sha256: bool) -> Guard {
        Guard {
            realm: realm.to_string(),
            offer_sha256,
            nonces: NonceSource::new(),
            failures: HashMap::new(),
        }
    }

    /// The realm.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// True if requests from `ip` must be dropped.
    pub fn is_banned(&mut self, now: Instant, ip: IpAddr) -> bool {
        match self.failures.get(&ip).and_then(|f| f.banned_until) {
            Some(until) if until > now => true,
            Some(_) => {
                self.failures.remove(&ip);
                false
            }
            None => false,
        }
    }

    /// Checks the credentials of `req`. `lookup` finds the secret of a username.
    /// `proxy` selects 407/Proxy-Authorization (INVITE) instead of 401/Authorization.
    pub fn check<'s>(
        &mut self,
        now: Instant,
        wall_secs: u64,
        src: IpAddr,
        req: &Request,
        proxy: bool,
        lookup: impl Fn(&str) -> Option<Secret<'s>>,
    ) -> Verdict {
        let header = if proxy {
            "Proxy-Authorization"
        } else {
            "Authorization"
        };
        let creds = req
            .headers
            .get_all_raw(header)
            .into_iter()
            .filter_map(|v| auth::Credentials::parse(v).ok())
            .find(|c| c.realm == self.realm);
        let Some(creds) = creds else {
            return Verdict::Challenge(self.challenge(req, proxy, wall_secs, false));
        };
        let stale = match self.nonces.check(&creds.nonce, wall_secs, &self.realm) {
            NonceCheck::Valid => false,
            NonceCheck::Stale => true,
            NonceCheck::Invalid => {
                self.fail(now, src, &creds.username, "invalid nonce");
                return Verdict::Challenge(self.challenge(req, proxy, wall_secs, false));
            }
        };
        let Some(secret) = lookup(&creds.username) else {
            self.fail(now, src, &creds.username, "unknown user");
            return Verdict::Challenge(self.challenge(req, proxy, wall_secs, false));
        };
        let ha1 = match creds.algorithm {
            Algorithm::Md5 => secret.ha1_md5,
            Algorithm::Sha256 => secret.ha1_sha256,
        };
        if !auth::verify(&creds, req.method.as_str(), ha1) {
            self.fail(now, src, &creds.username, "wrong password");
            return Verdict::Challenge(self.challenge(req, proxy, wall_secs, false));
        }
        if stale {
            return Verdict::Challenge(self.challenge(req, proxy, wall_secs, true));
        }
        self.failures.remove(&src);
        Verdict::Ok(creds.username)
    }

    /// Records a failure that is not a digest mismatch (ACL, registration check).
    pub fn fail(&mut self, now: Instant, src: IpAddr, user: &str, reason: &str) {
        tracing::warn!(target: "security", "security: sip auth failure user={user:?} reason={reason:?} src={src}");
        let f = self.failures.entry(src).or_default();
        match f.since {
            Some(s) if now.duration_since(s) <= FAIL_WINDOW => f.count += 1,
            _ => {
                f.since = Some(now);
                f.count = 1;
            }
        }
        if f.count >= MAX_FAILURES {
            f.banned_until = Some(now + BAN_TIME);
            tracing::warn!(target: "security", "security: banned src={src} seconds={}", BAN_TIME.as_secs());
        }
    }

    fn challenge(&self, req: &Request, proxy: bool, wall_secs: u64, stale: bool) -> Response {
        let (status, reason, header) = if proxy {
            (407, "Proxy Authentication Required", "Proxy-Authenticate")
        } else {
            (401, "Unauthorized", "WWW-Authenticate")
        };
        let mut resp = Response::for_request(req, status, reason);
        resp.set_to_tag(&sip_core::transaction::random_token(10));
        let nonce = self.nonces.make(wall_secs, &self.realm);
        // MD5 first: SIPp and many deployed phones take the first challenge and know only
        // MD5 (RFC 8760 lets the server order by its preference; compatibility wins here).
        let algs: &[Algorithm] = if self.offer_sha256 {
            &[Algorithm::Md5, Algorithm::Sha256]
        } else {
            &[Algorithm::Md5]
        };
        for &alg in algs {
            let ch = auth::Challenge {
                realm: self.realm.clone(),
                nonce: nonce.clone(),
                opaque: None,
                algorithm: alg,
                qop: Some(vec!["auth".into()]),
                stale,
            };
            resp.headers.push(header, ch.to_header_value());
        }
        resp
    }
}
