//! Registration (RFC 3261 §10) from the user agent's side: digest on 401/407, the expiry
//! the registrar grants, a refresh at half of it, an immediate retry after a failed refresh
//! (then a growing back-off), and an immediate new registration after a network change.

use super::call::{Dialog, ALLOW};
use super::ua::{Owner, UaEvent, UserAgent};
use sip_core::auth::{self, Challenge};
use sip_core::msg::Headers;
use sip_core::transaction::{random_token, TxnId};
use sip_core::{Method, Request, Response};
use std::time::{Duration, Instant};

/// Back-off after the second consecutive failure; doubles up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_secs(5);
/// Longest wait between two registration attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// Wait after the registrar refused our credentials (retrying at once would only feed its
/// brute-force guard).
pub const AUTH_BACKOFF: Duration = Duration::from_secs(60);

/// Where the registration is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistrationState {
    /// Not registered and not trying (initial, or after an unregistration).
    Unregistered,
    /// A REGISTER is on its way.
    Registering,
    /// Registered for `expires` seconds (refreshed at half of it).
    Registered {
        /// Granted expiry in seconds.
        expires: u32,
    },
    /// The last attempt failed; the next one is in `retry_in`.
    Failed {
        /// What went wrong.
        error: RegisterError,
        /// Time until the next attempt.
        retry_in: Duration,
    },
}

/// Why a registration attempt failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegisterError {
    /// The registrar refused our credentials (401/407 again after we answered).
    #[error("credentials refused")]
    AuthRejected,
    /// A final error response.
    #[error("refused with {status} {reason}")]
    Refused {
        /// SIP status.
        status: u16,
        /// Reason phrase.
        reason: String,
    },
    /// No response (transaction timeout).
    #[error("no response from the registrar")]
    Timeout,
}

/// The registration's own state inside the user agent.
#[derive(Debug)]
pub(crate) struct Registration {
    pub state: RegistrationState,
    /// Registered is what the user wants (after `register`, until `unregister`).
    pub wanted: bool,
    call_id: String,
    from_tag: String,
    cseq: u32,
    txn: Option<TxnId>,
    request: Option<Request>,
    auth_tries: u8,
    /// Expiry we ask for (a 423 raises it).
    expires: u32,
    /// Refresh or retry time.
    next: Option<Instant>,
    failures: u32,
}

impl Registration {
    pub(crate) fn new(expires: u32) -> Registration {
        Registration {
            state: RegistrationState::Unregistered,
            wanted: false,
            call_id: format!("{}-reg", random_token(20)),
            from_tag: Dialog::new_tag(),
            cseq: 0,
            txn: None,
            request: None,
            auth_tries: 0,
            expires: expires.max(1),
            next: None,
            failures: 0,
        }
    }

    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.next
    }

    /// The old socket is gone: forget what was in flight, start counting failures anew.
    pub(crate) fn network_changed(&mut self) {
        self.txn = None;
        self.request = None;
        self.auth_tries = 0;
        self.failures = 0;
        self.next = None;
    }
}

impl UserAgent {
    /// Registers now (and keeps the registration refreshed until [`UserAgent::unregister`]).
    pub fn register(&mut self, now: Instant) {
        self.reg.wanted = true;
        self.reg.failures = 0;
        self.send_register(now);
    }

    /// Removes the registration (REGISTER with expiry 0) and stops refreshing.
    pub fn unregister(&mut self, now: Instant) {
        self.reg.wanted = false;
        self.reg.next = None;
        self.send_register(now);
    }

    pub(crate) fn set_registration(&mut self, state: RegistrationState) {
        if self.reg.state != state {
            self.reg.state = state.clone();
            self.events.push_back(UaEvent::Registration(state));
        }
    }

    fn register_request(&mut self) -> Request {
        let acc = &self.cfg.account;
        let expires = if self.reg.wanted { self.reg.expires } else { 0 };
        self.reg.cseq += 1;
        let mut from = acc.aor();
        from.set_param("tag", Some(&self.reg.from_tag));
        let mut h = Headers::new();
        h.push("Via", self.local.via());
        h.push("Max-Forwards", "70");
        h.push("From", from.to_string());
        h.push("To", acc.aor().to_string());
        h.push("Call-ID", self.reg.call_id.clone());
        h.push("CSeq", format!("{} REGISTER", self.reg.cseq));
        h.push("Contact", self.local.contact());
        h.push("Expires", expires.to_string());
        h.push("Allow", ALLOW);
        h.push("User-Agent", self.local.user_agent.clone());
        Request {
            method: Method::Register,
            uri: format!("sip:{}", acc.domain),
            headers: h,
            body: Vec::new(),
        }
    }

    /// Sends a fresh REGISTER (abandoning one in flight).
    pub(crate) fn send_register(&mut self, now: Instant) {
        if let Some(old) = self.reg.txn.take() {
            self.owners.remove(&old);
        }
        self.reg.auth_tries = 0;
        self.reg.next = None;
        let req = self.register_request();
        self.send_register_request(now, req);
    }

    fn send_register_request(&mut self, now: Instant, req: Request) {
        match self.ep.send_request(now, req.clone(), self.server_peer()) {
            Ok(txn) => {
                self.owners.insert(txn, Owner::Register);
                self.reg.txn = Some(txn);
                self.reg.request = Some(req);
                // A refresh keeps showing "registered": the binding still holds.
                let refreshing = matches!(self.reg.state, RegistrationState::Registered { .. });
                if self.reg.wanted && !refreshing {
                    self.set_registration(RegistrationState::Registering);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot send REGISTER");
                self.registration_failed(now, RegisterError::Timeout);
            }
        }
    }

    pub(crate) fn on_register_response(&mut self, now: Instant, txn: TxnId, resp: Response) {
        if self.reg.txn != Some(txn) || resp.status < 200 {
            return;
        }
        self.owners.remove(&txn);
        self.reg.txn = None;
        match resp.status {
            200..=299 => self.registered(now, &resp),
            401 | 407 => {
                let retried = self.reg.request.as_ref().and_then(|r| {
                    with_credentials(r, &resp, &self.cfg.account, self.reg.auth_tries)
                });
                match retried {
                    Some(mut req) => {
                        self.reg.auth_tries += 1;
                        self.reg.cseq += 1;
                        req.headers
                            .set("CSeq", format!("{} REGISTER", self.reg.cseq));
                        req.headers.set("Via", self.local.via());
                        self.send_register_request(now, req);
                    }
                    None => self.registration_failed(now, RegisterError::AuthRejected),
                }
            }
            423 => {
                let min = resp
                    .headers
                    .get("Min-Expires")
                    .and_then(|v| v.trim().parse::<u32>().ok())
                    .filter(|m| *m > self.reg.expires);
                match min {
                    Some(m) => {
                        self.reg.expires = m;
                        self.send_register(now);
                    }
                    None => self.registration_failed(
                        now,
                        RegisterError::Refused {
                            status: 423,
                            reason: resp.reason.clone(),
                        },
                    ),
                }
            }
            status => self.registration_failed(
                now,
                RegisterError::Refused {
                    status,
                    reason: resp.reason.clone(),
                },
            ),
        }
    }

    pub(crate) fn on_register_timeout(&mut self, now: Instant, txn: TxnId) {
        if self.reg.txn == Some(txn) {
            self.reg.txn = None;
            self.registration_failed(now, RegisterError::Timeout);
        }
    }

    fn registered(&mut self, now: Instant, resp: &Response) {
        self.reg.failures = 0;
        if !self.reg.wanted {
            self.reg.next = None;
            self.set_registration(RegistrationState::Unregistered);
            return;
        }
        let ours = self.local.contact_uri();
        let from_contact = resp
            .headers
            .get_all("Contact")
            .iter()
            .filter_map(|c| sip_core::msg::NameAddr::parse(c).ok())
            .find(|c| c.uri == ours)
            .and_then(|c| c.param("expires").and_then(|e| e.parse::<u32>().ok()));
        let granted = from_contact
            .or_else(|| {
                resp.headers
                    .get("Expires")
                    .and_then(|e| e.trim().parse::<u32>().ok())
            })
            .unwrap_or(self.reg.expires);
        if granted == 0 {
            // The registrar removed our binding although we asked for one.
            self.registration_failed(
                now,
                RegisterError::Refused {
                    status: resp.status,
                    reason: "binding not kept".into(),
                },
            );
            return;
        }
        self.reg.next = Some(now + Duration::from_secs(u64::from(granted)) / 2);
        self.set_registration(RegistrationState::Registered { expires: granted });
    }

    fn registration_failed(&mut self, now: Instant, error: RegisterError) {
        if !self.reg.wanted {
            self.set_registration(RegistrationState::Unregistered);
            return;
        }
        self.reg.failures += 1;
        let retry_in = if error == RegisterError::AuthRejected {
            AUTH_BACKOFF
        } else if self.reg.failures == 1 {
            Duration::ZERO
        } else {
            let doublings = (self.reg.failures - 2).min(10);
            (FIRST_BACKOFF * (1u32 << doublings)).min(MAX_BACKOFF)
        };
        tracing::warn!(%error, ?retry_in, "registration failed");
        self.set_registration(RegistrationState::Failed { error, retry_in });
        if retry_in.is_zero() {
            let req = self.register_request();
            self.reg.auth_tries = 0;
            self.send_register_request(now, req);
        } else {
            self.reg.next = Some(now + retry_in);
        }
    }

    pub(crate) fn registration_timeout(&mut self, now: Instant) {
        if self.reg.next.is_some_and(|t| t <= now) {
            self.reg.next = None;
            if self.reg.wanted {
                self.send_register(now);
            }
        }
    }
}

/// `req` again with credentials answering the challenge in `resp`, unless this nonce was
/// already answered (`tries` > 0 and the challenge is not `stale`).
pub(crate) fn with_credentials(
    req: &Request,
    resp: &Response,
    account: &super::ua::Account,
    tries: u8,
) -> Option<Request> {
    let (challenge_hdr, creds_hdr) = if resp.status == 407 {
        ("Proxy-Authenticate", "Proxy-Authorization")
    } else {
        ("WWW-Authenticate", "Authorization")
    };
    let challenge = resp
        .headers
        .get_all_raw(challenge_hdr)
        .into_iter()
        .find_map(|v| Challenge::parse(v).ok())?;
    if tries >= 2 || (tries > 0 && !challenge.stale) {
        return None;
    }
    let creds = auth::respond(
        &challenge,
        req.method.as_str(),
        &req.uri,
        account.digest_user(),
        &account.password,
        &random_token(16),
        1,
    );
    let mut out = req.clone();
    out.headers.remove("Authorization");
    out.headers.remove("Proxy-Authorization");
    out.headers.push(creds_hdr, creds.to_header_value());
    Some(out)
}
