//! The sans-IO SIP user agent: registration and calls on top of sip-core's transaction
//! [`Endpoint`], fed with datagrams and time, asked for transmits, events and the next
//! deadline (the shape of quinn-proto and of the CTI [`crate::Session`]).
//!
//! Every request goes to one SIP server (the PBX: registrar and outbound proxy), over UDP.
//! The API methods (`register`, `call`, `answer`, `hold`, ...) act at once and report the
//! outcome through [`UaEvent`]s; errors are for calls that make no sense in the current
//! state.

use super::call::{without_tag, Call, CallId, CallState, Dialog, EndReason, Local, Party, ALLOW};
use super::register::{Registration, RegistrationState};
use super::transfer::TransferState;
use crate::media::codec::G711;
use crate::media::params::MediaParams;
use sip_core::msg::NameAddr;
use sip_core::transaction::{Endpoint, EndpointConfig, Event, Transmit, TxnError, TxnId};
use sip_core::{MessageExt, Method, Peer, Request, Response};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::net::SocketAddr;
use std::time::Instant;

/// Default registration expiry we ask for (seconds).
pub const DEFAULT_EXPIRES: u32 = 600;

/// A SIP account.
#[derive(Clone, PartialEq, Eq)]
pub struct Account {
    /// User (the extension: `201`); also the Contact user.
    pub user: String,
    /// Password for digest authentication.
    pub password: String,
    /// Domain of the address-of-record (`sip:user@domain`): the PBX's host.
    pub domain: String,
    /// Display name in From.
    pub display_name: Option<String>,
    /// Digest user name when it differs from `user`.
    pub auth_user: Option<String>,
}

impl fmt::Debug for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Account")
            .field("user", &self.user)
            .field("password", &"<hidden>")
            .field("domain", &self.domain)
            .field("display_name", &self.display_name)
            .field("auth_user", &self.auth_user)
            .finish()
    }
}

impl Account {
    /// An account with no display name and the user as digest user name.
    pub fn new(user: &str, password: &str, domain: &str) -> Account {
        Account {
            user: user.into(),
            password: password.into(),
            domain: domain.into(),
            display_name: None,
            auth_user: None,
        }
    }

    pub(crate) fn digest_user(&self) -> &str {
        self.auth_user.as_deref().unwrap_or(&self.user)
    }

    /// `"Name" <sip:user@domain>` without tag.
    pub(crate) fn aor(&self) -> NameAddr {
        NameAddr {
            display: self.display_name.clone(),
            uri: format!("sip:{}@{}", self.user, self.domain),
            params: Vec::new(),
        }
    }
}

/// Configuration of a user agent.
#[derive(Debug, Clone)]
pub struct UaConfig {
    /// The account.
    pub account: Account,
    /// The SIP server every request goes to (registrar and outbound proxy).
    pub server: SocketAddr,
    /// Our SIP socket's address as the server reaches it (Via, Contact).
    pub local: SocketAddr,
    /// Registration expiry to ask for, in seconds.
    pub expires: u32,
    /// Codecs in preference order.
    pub codecs: Vec<G711>,
    /// `User-Agent` header.
    pub user_agent: String,
    /// Transaction timers.
    pub endpoint: EndpointConfig,
}

impl UaConfig {
    /// Defaults: 600 s registrations, PCMU then PCMA, RFC 3261 timers.
    pub fn new(account: Account, server: SocketAddr, local: SocketAddr) -> UaConfig {
        UaConfig {
            account,
            server,
            local,
            expires: DEFAULT_EXPIRES,
            codecs: vec![G711::Pcmu, G711::Pcma, G711::Opus],
            user_agent: format!("Centralino softphone {}", env!("CARGO_PKG_VERSION")),
            endpoint: EndpointConfig::default(),
        }
    }
}

/// Why an API call was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// No such call (never existed, or ended).
    #[error("no call {0}")]
    NoSuchCall(CallId),
    /// The call is not in a state where this makes sense.
    #[error("{call} is {state:?}; cannot {action}")]
    InvalidState {
        /// The call.
        call: CallId,
        /// Its state.
        state: CallState,
        /// What was asked.
        action: &'static str,
    },
    /// The number cannot be put into a SIP URI.
    #[error("cannot dial {0:?}")]
    BadNumber(String),
    /// The transaction layer refused the request.
    #[error("transaction: {0}")]
    Transaction(#[from] TxnError),
}

/// What the application (or the driver) must hear about.
#[derive(Debug, Clone, PartialEq)]
pub enum UaEvent {
    /// The registration changed.
    Registration(RegistrationState),
    /// A call arrives: answer or reject it.
    IncomingCall {
        /// Its handle.
        call: CallId,
        /// The caller.
        remote: Party,
    },
    /// A call changed state (`Ended` is the last event of a call).
    CallState {
        /// The call.
        call: CallId,
        /// Its state.
        state: CallState,
    },
    /// Hold changed (by us, or by the other side).
    Hold {
        /// The call.
        call: CallId,
        /// We hold it.
        local: bool,
        /// The other side holds it.
        remote: bool,
    },
    /// A transfer we asked for progressed.
    Transfer {
        /// The call being transferred.
        call: CallId,
        /// How it goes.
        state: TransferState,
    },
    /// The negotiated media changed (`None`: nothing flows, e.g. before the answer).
    Media {
        /// The call.
        call: CallId,
        /// The new negotiation.
        params: Option<MediaParams>,
    },
}

/// A call as the application sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct CallInfo {
    /// Where it is.
    pub state: CallState,
    /// The other party.
    pub remote: Party,
    /// We placed it.
    pub outgoing: bool,
    /// We hold it.
    pub local_hold: bool,
    /// The other side holds it.
    pub remote_hold: bool,
    /// Negotiated media.
    pub media: Option<MediaParams>,
}

/// Who a client transaction belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Owner {
    Register,
    Invite(CallId),
    /// The server INVITE transaction of an answered call (Timer H: no ACK).
    Answered(CallId),
    /// Our REFER on a call.
    Refer(CallId),
    /// Fire and forget (BYE, CANCEL).
    Other,
}

/// The user agent.
#[derive(Debug)]
pub struct UserAgent {
    pub(crate) cfg: UaConfig,
    pub(crate) local: Local,
    pub(crate) ep: Endpoint,
    pub(crate) reg: Registration,
    pub(crate) calls: BTreeMap<CallId, Call>,
    pub(crate) owners: HashMap<TxnId, Owner>,
    next_call: u64,
    pub(crate) events: VecDeque<UaEvent>,
    foreign: u64,
}

impl UserAgent {
    /// A user agent; nothing is sent until [`UserAgent::register`] or a call.
    pub fn new(cfg: UaConfig) -> UserAgent {
        let local = Local {
            addr: cfg.local,
            user: cfg.account.user.clone(),
            user_agent: cfg.user_agent.clone(),
        };
        UserAgent {
            ep: Endpoint::new(cfg.endpoint.clone()),
            reg: Registration::new(cfg.expires),
            local,
            cfg,
            calls: BTreeMap::new(),
            owners: HashMap::new(),
            next_call: 1,
            events: VecDeque::new(),
            foreign: 0,
        }
    }

    /// Our SIP address as we announce it.
    pub fn local_addr(&self) -> SocketAddr {
        self.local.addr
    }

    /// The registration's state.
    pub fn registration(&self) -> &RegistrationState {
        &self.reg.state
    }

    /// The state of a call still known.
    pub fn call_state(&self, id: CallId) -> Option<CallState> {
        self.calls.get(&id).map(|c| c.state.clone())
    }

    /// What is known of a call still going on (or ending).
    pub fn call_info(&self, id: CallId) -> Option<CallInfo> {
        self.calls.get(&id).map(|c| CallInfo {
            state: c.state.clone(),
            remote: c.remote.clone(),
            outgoing: c.outgoing,
            local_hold: c.local_hold,
            remote_hold: c.remote_hold,
            media: c.params,
        })
    }

    /// The negotiated media of a call.
    pub fn media(&self, id: CallId) -> Option<MediaParams> {
        self.calls.get(&id).and_then(|c| c.params)
    }

    /// Calls not ended, in creation order.
    pub fn active_calls(&self) -> Vec<CallId> {
        self.calls
            .iter()
            .filter(|(_, c)| !c.is_ended())
            .map(|(id, _)| *id)
            .collect()
    }

    /// Next datagram to send (to `peer.addr`).
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.ep.poll_transmit()
    }

    /// Next event.
    pub fn poll_event(&mut self) -> Option<UaEvent> {
        self.events.pop_front()
    }

    /// When [`UserAgent::handle_timeout`] must run next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let calls = self.calls.values().filter_map(|c| c.retry_at).min();
        [self.ep.poll_timeout(), self.reg.deadline(), calls]
            .into_iter()
            .flatten()
            .min()
    }

    /// Runs what is due at `now`: transaction timers, registration refresh and retries,
    /// deferred re-INVITEs.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.ep.handle_timeout(now);
        self.drain(now);
        self.registration_timeout(now);
        let due: Vec<CallId> = self
            .calls
            .iter()
            .filter(|(_, c)| c.retry_at.is_some_and(|t| t <= now))
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            if let Some(c) = self.calls.get_mut(&id) {
                c.retry_at = None;
            }
            self.update_hold(now, id);
        }
    }

    /// One datagram received on the SIP socket. Only the server's are used: anything else
    /// (SIP scanners probing for open phones, "ghost calls") is dropped and counted.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) {
        if from != self.cfg.server {
            self.foreign += 1;
            tracing::debug!(%from, "SIP from a stranger dropped");
            return;
        }
        self.ep.handle_datagram(now, Peer::udp(from), bytes);
        self.drain(now);
    }

    /// Datagrams dropped because they did not come from the server.
    pub fn foreign_datagrams(&self) -> u64 {
        self.foreign
    }

    /// The network changed (the driver opened a new socket at `local`, or the OS reported
    /// a new address): transactions in flight are abandoned, calls not yet set up end, and
    /// the account registers again at once from the new address. Established calls stay.
    pub fn network_changed(&mut self, now: Instant, local: SocketAddr) {
        self.cfg.local = local;
        self.local.addr = local;
        self.ep = Endpoint::new(self.cfg.endpoint.clone());
        self.owners.clear();
        let ids: Vec<CallId> = self.calls.keys().copied().collect();
        for id in ids {
            let Some(c) = self.calls.get_mut(&id) else {
                continue;
            };
            if c.is_ended() {
                self.calls.remove(&id);
            } else if c.state != CallState::Connected {
                c.invite = None;
                c.server_invite = None;
                self.end_call(id, EndReason::NetworkChanged);
            } else if c.invite.take().is_some() {
                // The re-INVITE was lost with its socket: send it again from here.
                c.retry_at = Some(now);
            }
        }
        self.reg.network_changed();
        if self.reg.wanted {
            // The binding points at the old address until the new REGISTER succeeds.
            self.set_registration(RegistrationState::Registering);
            self.send_register(now);
        }
    }

    pub(crate) fn new_call_id(&mut self) -> CallId {
        let id = CallId(self.next_call);
        self.next_call += 1;
        id
    }

    pub(crate) fn server_peer(&self) -> Peer {
        Peer::udp(self.cfg.server)
    }

    pub(crate) fn emit_state(&mut self, id: CallId, state: CallState) {
        self.events
            .push_back(UaEvent::CallState { call: id, state });
    }

    /// Marks a call ended and reports it (the driver stops its media). The call stays
    /// known while its INVITE transaction may still answer.
    pub(crate) fn end_call(&mut self, id: CallId, reason: EndReason) {
        let Some(c) = self.calls.get_mut(&id) else {
            return;
        };
        if c.is_ended() {
            return;
        }
        c.state = CallState::Ended(reason.clone());
        c.params = None;
        c.retry_at = None;
        let done = c.invite.is_none();
        self.emit_state(id, CallState::Ended(reason));
        if done {
            self.calls.remove(&id);
        }
    }

    /// Handles every event the endpoint produced.
    pub(crate) fn drain(&mut self, now: Instant) {
        while let Some(ev) = self.ep.poll_event() {
            match ev {
                Event::Request { id, request, peer } => self.on_request(now, id, request, peer),
                Event::Response { id, response } => match self.owners.get(&id).copied() {
                    Some(Owner::Register) => self.on_register_response(now, id, response),
                    Some(Owner::Invite(call)) => self.on_invite_response(now, id, call, response),
                    Some(Owner::Refer(call)) => self.on_refer_response(id, call, &response),
                    _ => {}
                },
                Event::Cancelled { invite } => self.on_cancelled(now, invite),
                Event::Timeout { id } => match self.owners.remove(&id) {
                    Some(Owner::Register) => self.on_register_timeout(now, id),
                    Some(Owner::Invite(call)) => self.on_invite_timeout(now, id, call),
                    Some(Owner::Refer(call)) => self.on_refer_timeout(call),
                    Some(Owner::Answered(call)) => {
                        tracing::warn!(%call, "no ACK for our 2xx; hanging up");
                        self.send_bye(now, call, EndReason::Timeout);
                    }
                    _ => {}
                },
            }
        }
    }

    fn on_request(&mut self, now: Instant, id: Option<TxnId>, req: Request, peer: Peer) {
        if req.to_tag().is_some() {
            self.on_in_dialog(now, id, req, peer);
            return;
        }
        let Some(txn) = id else {
            return; // a stray ACK
        };
        match req.method {
            Method::Invite => self.on_incoming_invite(now, txn, req),
            Method::Options => {
                let mut r = Response::for_request(&req, 200, "OK");
                r.set_to_tag(&Dialog::new_tag());
                r.headers.push("Allow", ALLOW);
                r.headers.push("Accept", "application/sdp");
                r.headers.push("User-Agent", self.local.user_agent.clone());
                let _ = self.ep.respond(now, txn, r);
            }
            Method::Notify => {
                // Unsolicited (message waiting, ...): acknowledged, not used yet.
                let mut r = Response::for_request(&req, 200, "OK");
                r.set_to_tag(&Dialog::new_tag());
                let _ = self.ep.respond(now, txn, r);
            }
            Method::Bye | Method::Cancel | Method::Ack => {
                let _ = self.ep.respond(
                    now,
                    txn,
                    Response::for_request(&req, 481, "Call/Transaction Does Not Exist"),
                );
            }
            _ => {
                let mut r = Response::for_request(&req, 405, "Method Not Allowed");
                r.set_to_tag(&Dialog::new_tag());
                r.headers.push("Allow", ALLOW);
                let _ = self.ep.respond(now, txn, r);
            }
        }
    }

    /// The call a request inside a dialog belongs to (Call-ID and our tag).
    pub(crate) fn call_of(&self, req: &Request) -> Option<CallId> {
        let tag = req.to_tag()?;
        self.calls
            .iter()
            .find(|(_, c)| c.dialog.call_id == req.call_id() && c.dialog.local_tag == tag)
            .map(|(id, _)| *id)
    }

    /// A new outgoing call's dialog towards `number`.
    pub(crate) fn outgoing_dialog(&self, number: &str) -> Result<Dialog, CallError> {
        let ok = !number.is_empty()
            && number
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+*#-_.!~".contains(c));
        if !ok {
            return Err(CallError::BadNumber(number.to_string()));
        }
        let target = format!("sip:{number}@{}", self.cfg.account.domain);
        Ok(Dialog {
            call_id: Dialog::new_call_id(&self.local),
            local_tag: Dialog::new_tag(),
            remote_tag: None,
            local_uri: self.cfg.account.aor(),
            remote_uri: NameAddr {
                display: None,
                uri: target.clone(),
                params: Vec::new(),
            },
            remote_target: target,
            route_set: Vec::new(),
            local_cseq: 0,
            remote_cseq: None,
        })
    }

    /// The dialog of an incoming INVITE (we are the UAS).
    pub(crate) fn incoming_dialog(&self, req: &Request) -> Option<Dialog> {
        let from = req.from_hdr()?;
        let to = req.to_hdr()?;
        Some(Dialog {
            call_id: req.call_id().to_string(),
            local_tag: Dialog::new_tag(),
            remote_tag: from.tag().map(str::to_string),
            local_uri: without_tag(to),
            remote_target: req
                .contact()
                .map(|c| c.uri)
                .unwrap_or_else(|| from.uri.clone()),
            remote_uri: without_tag(from),
            route_set: req.headers.get_all("Record-Route"),
            local_cseq: 0,
            remote_cseq: Some(req.cseq().0),
        })
    }
}
