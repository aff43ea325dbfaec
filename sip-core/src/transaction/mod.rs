//! The sans-IO transaction layer (RFC 3261 §17), shaped like quinn-proto's `Endpoint`.
//!
//! Feed it datagrams and time; drain transmits, events and the next deadline:
//!
//! ```text
//! loop {
//!     while let Some(t) = ep.poll_transmit() { socket.send_to(&t.data, t.peer.addr) }
//!     while let Some(e) = ep.poll_event() { tu.handle(e) }
//!     select! { d = socket.recv() => ep.handle_datagram(now, peer, &d),
//!               _ = sleep_until(ep.poll_timeout()) => ep.handle_timeout(now) }
//! }
//! ```
//!
//! Nothing here reads the clock or touches a socket. Requests and responses that cannot be
//! parsed are answered with 400/501 when enough of them is readable, else dropped.

mod txn;

pub use txn::{State, TimerName, Timers};

use crate::msg::{self, MessageExt, Method, MsgError, Request, Response, SipMessage};
use crate::transport::Peer;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::{Duration, Instant};
use txn::{Kind, Txn};

/// Handle of one transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TxnId(u64);

impl TxnId {
    /// An id made up by a test of code that tracks transactions (real ids come from the
    /// endpoint).
    pub fn from_raw(n: u64) -> TxnId {
        TxnId(n)
    }
}

/// Bytes to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Destination.
    pub peer: Peer,
    /// Serialised message.
    pub data: Vec<u8>,
}

/// What the transaction user must act on.
#[derive(Debug, Clone)]
pub enum Event {
    /// A new request. `id` is `None` for an ACK (ACKs have no server transaction).
    Request {
        /// Server transaction to respond on.
        id: Option<TxnId>,
        /// The request, top Via already stamped with `received`/`rport`.
        request: Request,
        /// Where it came from; responses go back here.
        peer: Peer,
    },
    /// The peer cancelled a pending INVITE; the endpoint already answered the CANCEL with
    /// 200, the TU must answer the INVITE (normally 487).
    Cancelled {
        /// The INVITE's server transaction.
        invite: TxnId,
    },
    /// A response on a client transaction (retransmitted 2xx to INVITE included).
    Response {
        /// The client transaction.
        id: TxnId,
        /// The response.
        response: Response,
    },
    /// A client transaction got no final response (Timer B/F), or a server INVITE
    /// transaction got no ACK for its final response (Timer H).
    Timeout {
        /// The transaction.
        id: TxnId,
    },
}

/// Errors of the TU-facing calls.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxnError {
    /// The transaction does not exist (any more).
    #[error("no such transaction")]
    NoSuchTransaction,
    /// The request has no top Via with a branch.
    #[error("request has no Via branch")]
    NoBranch,
    /// The transaction already sent its final response.
    #[error("final response already sent")]
    AlreadyFinal,
    /// A request of a method that never has a transaction (ACK) was passed.
    #[error("ACK has no transaction; send it stateless")]
    AckNotAllowed,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Client { branch: String, method: Method },
    Server { branch: String, method: Method },
}

/// Configuration of the endpoint.
#[derive(Debug, Clone)]
pub struct EndpointConfig {
    /// T1/T2/T4.
    pub timers: Timers,
    /// Send `100 Trying` as soon as an INVITE arrives (saves the peer retransmissions).
    pub auto_trying: bool,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        EndpointConfig {
            timers: Timers::default(),
            auto_trying: true,
        }
    }
}

/// The transaction layer.
#[derive(Debug)]
pub struct Endpoint {
    config: EndpointConfig,
    next_id: u64,
    txns: HashMap<TxnId, Txn>,
    keys: HashMap<Key, TxnId>,
    key_of: HashMap<TxnId, Key>,
    /// Next deadline of every transaction that has one, ordered: `poll_timeout` and
    /// `handle_timeout` stay O(log n) with tens of thousands of lingering transactions.
    deadlines: BTreeSet<(Instant, TxnId)>,
    indexed: HashMap<TxnId, Instant>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    /// Malformed datagrams seen (for statistics and tests).
    pub malformed: u64,
}

impl Endpoint {
    /// A new endpoint.
    pub fn new(config: EndpointConfig) -> Endpoint {
        Endpoint {
            config,
            next_id: 0,
            txns: HashMap::new(),
            keys: HashMap::new(),
            key_of: HashMap::new(),
            deadlines: BTreeSet::new(),
            indexed: HashMap::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            malformed: 0,
        }
    }

    /// Live transactions.
    pub fn len(&self) -> usize {
        self.txns.len()
    }

    /// True when no transaction is live.
    pub fn is_empty(&self) -> bool {
        self.txns.is_empty()
    }

    /// State of a transaction.
    pub fn state(&self, id: TxnId) -> Option<State> {
        self.txns.get(&id).map(|t| t.state)
    }

    /// The request that created a transaction.
    pub fn request(&self, id: TxnId) -> Option<&Request> {
        self.txns.get(&id).map(|t| &t.request)
    }

    /// The peer of a transaction.
    pub fn peer(&self, id: TxnId) -> Option<Peer> {
        self.txns.get(&id).map(|t| t.peer)
    }

    /// Next transmit to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// Next event for the TU.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Earliest timer deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadlines.first().map(|(d, _)| *d)
    }

    /// Re-files a transaction's next deadline after its timers changed.
    fn reindex(&mut self, id: TxnId) {
        if let Some(old) = self.indexed.remove(&id) {
            self.deadlines.remove(&(old, id));
        }
        if let Some(d) = self.txns.get(&id).and_then(Txn::next_deadline) {
            self.deadlines.insert((d, id));
            self.indexed.insert(id, d);
        }
    }

    /// Sends a message outside any transaction (ACK for 2xx, 2xx retransmits by the TU).
    pub fn send_stateless(&mut self, peer: Peer, msg: &SipMessage) {
        self.transmits.push_back(Transmit {
            peer,
            data: msg.to_bytes(),
        });
    }

    /// Feeds one received datagram (or TCP frame).
    pub fn handle_datagram(&mut self, now: Instant, peer: Peer, bytes: &[u8]) {
        match msg::parse(bytes) {
            Ok(SipMessage::Request(r)) => self.handle_request(now, peer, r),
            Ok(SipMessage::Response(r)) => self.handle_response(now, r),
            Err(MsgError::UnknownMethod(m)) => {
                if let Some(req) = msg::parse_unknown_method(bytes) {
                    let mut resp =
                        Response::for_request(&stamp_via(req, peer), 501, "Not Implemented");
                    resp.headers.push("Allow", crate::ALLOW);
                    self.transmits.push_back(Transmit {
                        peer,
                        data: resp.to_bytes(),
                    });
                }
                tracing::debug!(%m, from = %peer.addr, "unknown method");
            }
            Err(e) => {
                self.malformed += 1;
                tracing::debug!(error = %e, from = %peer.addr, "dropping malformed message");
            }
        }
    }

    fn handle_request(&mut self, now: Instant, peer: Peer, req: Request) {
        let req = stamp_via(req, peer);
        let branch = branch_of(&req);
        if req.method == Method::Ack {
            // ACK for a non-2xx: same branch as the INVITE.
            let key = Key::Server {
                branch: branch.clone(),
                method: Method::Invite,
            };
            if let Some(id) = self.keys.get(&key).copied() {
                let t4 = self.config.timers.t4;
                if let Some(t) = self.txns.get_mut(&id) {
                    match t.state {
                        State::Completed => {
                            t.state = State::Confirmed;
                            t.clear_timers();
                            let wait = if peer.transport.is_reliable() {
                                Duration::ZERO
                            } else {
                                t4
                            };
                            t.set_timer(TimerName::I, now + wait);
                            self.reindex(id);
                            return;
                        }
                        State::Confirmed => return,
                        _ => {}
                    }
                }
            }
            // ACK for a 2xx: matched by dialog (Call-ID + CSeq number), passed to the TU.
            let (cseq, _) = req.cseq();
            let accepted = self.txns.iter().find_map(|(id, t)| {
                (t.kind == Kind::ServerInvite
                    && t.state == State::Accepted
                    && t.request.call_id() == req.call_id()
                    && t.request.cseq().0 == cseq)
                    .then_some(*id)
            });
            if let Some(id) = accepted {
                self.terminate(id);
            }
            self.events.push_back(Event::Request {
                id: None,
                request: req,
                peer,
            });
            return;
        }
        let key = Key::Server {
            branch: branch.clone(),
            method: req.method.clone(),
        };
        if let Some(id) = self.keys.get(&key).copied() {
            // Retransmission: repeat the last response, if any.
            if let Some(t) = self.txns.get(&id) {
                if let Some(last) = &t.last_response {
                    self.transmits.push_back(Transmit {
                        peer: t.peer,
                        data: last.clone(),
                    });
                }
            }
            return;
        }
        if req.method == Method::Cancel {
            self.handle_cancel(now, peer, req, branch);
            return;
        }
        let kind = if req.method == Method::Invite {
            Kind::ServerInvite
        } else {
            Kind::ServerNonInvite
        };
        let id = self.insert(
            key,
            Txn::new(kind, peer, req.clone(), self.config.timers.t1),
        );
        if kind == Kind::ServerInvite && self.config.auto_trying {
            let trying = Response::for_request(&req, 100, "Trying");
            // Ignore the error: the transaction was just created.
            let _ = self.respond(now, id, trying);
        }
        self.events.push_back(Event::Request {
            id: Some(id),
            request: req,
            peer,
        });
    }

    fn handle_cancel(&mut self, now: Instant, peer: Peer, req: Request, branch: String) {
        let invite_key = Key::Server {
            branch: branch.clone(),
            method: Method::Invite,
        };
        let invite = self.keys.get(&invite_key).copied();
        let key = Key::Server {
            branch,
            method: Method::Cancel,
        };
        let id = self.insert(
            key,
            Txn::new(
                Kind::ServerNonInvite,
                peer,
                req.clone(),
                self.config.timers.t1,
            ),
        );
        match invite {
            Some(inv) => {
                let _ = self.respond(now, id, Response::for_request(&req, 200, "OK"));
                if self.txns.get(&inv).map(|t| t.state) == Some(State::Proceeding) {
                    self.events.push_back(Event::Cancelled { invite: inv });
                }
            }
            None => {
                let _ = self.respond(
                    now,
                    id,
                    Response::for_request(&req, 481, "Call/Transaction Does Not Exist"),
                );
            }
        }
    }

    fn handle_response(&mut self, now: Instant, resp: Response) {
        if let Some(id) = self.handle_response_inner(now, resp) {
            self.reindex(id);
        }
    }

    /// Returns the transaction whose timers may have changed.
    fn handle_response_inner(&mut self, now: Instant, resp: Response) -> Option<TxnId> {
        let via = resp.top_via()?;
        let branch = via.branch().map(str::to_string)?;
        let method = resp.cseq().1?;
        let key = Key::Client { branch, method };
        let Some(id) = self.keys.get(&key).copied() else {
            tracing::debug!(status = resp.status, "stray response");
            return None;
        };
        let timers = self.config.timers;
        let t = self.txns.get_mut(&id)?;
        let reliable = t.peer.transport.is_reliable();
        let status = resp.status;
        match (t.kind, t.state) {
            (Kind::ClientInvite, State::Calling | State::Proceeding) => {
                t.cancel_timer(TimerName::A);
                t.cancel_timer(TimerName::B);
                if status < 200 {
                    t.state = State::Proceeding;
                } else if status < 300 {
                    t.state = State::Accepted;
                    t.set_timer(TimerName::M, now + timers.t1 * 64);
                } else {
                    let ack = ack_for_non_2xx(&t.request, &resp).to_bytes();
                    self.transmits.push_back(Transmit {
                        peer: t.peer,
                        data: ack.clone(),
                    });
                    t.ack_bytes = Some(ack);
                    t.state = State::Completed;
                    let wait = if reliable {
                        Duration::ZERO
                    } else {
                        timers.t1 * 64
                    };
                    t.set_timer(TimerName::D, now + wait);
                }
                t.last_received = Some(resp.clone());
                self.events
                    .push_back(Event::Response { id, response: resp });
            }
            (Kind::ClientInvite, State::Accepted) if (200..300).contains(&status) => {
                self.events
                    .push_back(Event::Response { id, response: resp });
            }
            (Kind::ClientInvite, State::Completed) => {
                if let Some(ack) = &t.ack_bytes {
                    self.transmits.push_back(Transmit {
                        peer: t.peer,
                        data: ack.clone(),
                    });
                }
            }
            (Kind::ClientNonInvite, State::Trying | State::Proceeding) => {
                if status < 200 {
                    t.state = State::Proceeding;
                } else {
                    t.state = State::Completed;
                    t.clear_timers();
                    let wait = if reliable { Duration::ZERO } else { timers.t4 };
                    t.set_timer(TimerName::K, now + wait);
                }
                t.last_received = Some(resp.clone());
                self.events
                    .push_back(Event::Response { id, response: resp });
            }
            _ => {}
        }
        Some(id)
    }

    /// Starts a client transaction for `req` (which carries our top Via with a fresh
    /// branch) towards `peer`. ACKs are not transactions: use [`Endpoint::send_stateless`].
    pub fn send_request(
        &mut self,
        now: Instant,
        req: Request,
        peer: Peer,
    ) -> Result<TxnId, TxnError> {
        if req.method == Method::Ack {
            return Err(TxnError::AckNotAllowed);
        }
        let branch = req
            .top_via()
            .and_then(|v| v.branch().map(str::to_string))
            .ok_or(TxnError::NoBranch)?;
        let timers = self.config.timers;
        let kind = if req.method == Method::Invite {
            Kind::ClientInvite
        } else {
            Kind::ClientNonInvite
        };
        let key = Key::Client {
            branch,
            method: req.method.clone(),
        };
        let mut t = Txn::new(kind, peer, req, timers.t1);
        self.transmits.push_back(Transmit {
            peer,
            data: t.request_bytes.clone(),
        });
        let reliable = peer.transport.is_reliable();
        match kind {
            Kind::ClientInvite => {
                if !reliable {
                    t.set_timer(TimerName::A, now + timers.t1);
                }
                t.set_timer(TimerName::B, now + timers.t1 * 64);
            }
            _ => {
                if !reliable {
                    t.set_timer(TimerName::E, now + timers.t1);
                }
                t.set_timer(TimerName::F, now + timers.t1 * 64);
            }
        }
        Ok(self.insert(key, t))
    }

    /// Sends a response on a server transaction.
    pub fn respond(&mut self, now: Instant, id: TxnId, resp: Response) -> Result<(), TxnError> {
        let timers = self.config.timers;
        let t = self.txns.get_mut(&id).ok_or(TxnError::NoSuchTransaction)?;
        if matches!(
            t.state,
            State::Completed | State::Accepted | State::Confirmed | State::Terminated
        ) {
            return Err(TxnError::AlreadyFinal);
        }
        let data = resp.to_bytes();
        self.transmits.push_back(Transmit {
            peer: t.peer,
            data: data.clone(),
        });
        t.last_response = Some(data);
        let reliable = t.peer.transport.is_reliable();
        let status = resp.status;
        match t.kind {
            Kind::ServerInvite => {
                if status < 200 {
                    t.state = State::Proceeding;
                } else {
                    // 2xx (RFC 6026 Accepted) and non-2xx (Completed) are both retransmitted
                    // until the ACK arrives or Timer H fires.
                    t.state = if status < 300 {
                        State::Accepted
                    } else {
                        State::Completed
                    };
                    t.interval = timers.t1;
                    if !reliable {
                        t.set_timer(TimerName::G, now + timers.t1);
                    }
                    t.set_timer(TimerName::H, now + timers.t1 * 64);
                }
            }
            Kind::ServerNonInvite => {
                if status < 200 {
                    t.state = State::Proceeding;
                } else {
                    t.state = State::Completed;
                    let wait = if reliable {
                        Duration::ZERO
                    } else {
                        timers.t1 * 64
                    };
                    t.set_timer(TimerName::J, now + wait);
                    // Only the response bytes are needed while absorbing retransmissions
                    // for 32 s; a registration burst would otherwise keep every request.
                    t.request.headers = crate::msg::Headers::new();
                    t.request.body = Vec::new();
                }
            }
            _ => return Err(TxnError::NoSuchTransaction),
        }
        self.reindex(id);
        Ok(())
    }

    /// Builds the CANCEL for a pending client INVITE (RFC 3261 §9.1).
    pub fn cancel_request(&self, invite: TxnId) -> Option<Request> {
        let t = self.txns.get(&invite)?;
        if t.kind != Kind::ClientInvite || !matches!(t.state, State::Calling | State::Proceeding) {
            return None;
        }
        let orig = &t.request;
        let mut c = Request::new(Method::Cancel, orig.uri.clone());
        if let Some(via) = orig.headers.get_all("Via").first() {
            c.headers.push("Via", via.clone());
        }
        for name in ["Route", "From", "To", "Call-ID"] {
            for v in orig.headers.get_all(name) {
                c.headers.push(name, v);
            }
        }
        c.headers.push("CSeq", format!("{} CANCEL", orig.cseq().0));
        c.headers.push("Max-Forwards", "70");
        Some(c)
    }

    /// Advances every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&(deadline, id)) = self.deadlines.first() {
            if deadline > now {
                break;
            }
            self.deadlines.pop_first();
            self.indexed.remove(&id);
            let fired = match self.txns.get_mut(&id) {
                Some(t) => t.take_due(now),
                None => continue,
            };
            for timer in fired {
                self.fire(now, id, timer);
            }
            self.reindex(id);
        }
    }

    fn fire(&mut self, now: Instant, id: TxnId, timer: TimerName) {
        let timers = self.config.timers;
        let Some(t) = self.txns.get_mut(&id) else {
            return;
        };
        match timer {
            TimerName::A => {
                self.transmits.push_back(Transmit {
                    peer: t.peer,
                    data: t.request_bytes.clone(),
                });
                t.interval *= 2;
                t.set_timer(TimerName::A, now + t.interval);
            }
            TimerName::E => {
                self.transmits.push_back(Transmit {
                    peer: t.peer,
                    data: t.request_bytes.clone(),
                });
                t.interval = if t.state == State::Proceeding {
                    timers.t2
                } else {
                    (t.interval * 2).min(timers.t2)
                };
                t.set_timer(TimerName::E, now + t.interval);
            }
            TimerName::G => {
                if let Some(last) = &t.last_response {
                    self.transmits.push_back(Transmit {
                        peer: t.peer,
                        data: last.clone(),
                    });
                }
                t.interval = (t.interval * 2).min(timers.t2);
                t.set_timer(TimerName::G, now + t.interval);
            }
            TimerName::B | TimerName::F | TimerName::H => {
                self.events.push_back(Event::Timeout { id });
                self.terminate(id);
            }
            TimerName::D | TimerName::I | TimerName::J | TimerName::K | TimerName::M => {
                self.terminate(id);
            }
        }
    }

    fn insert(&mut self, key: Key, txn: Txn) -> TxnId {
        let id = TxnId(self.next_id);
        self.next_id += 1;
        self.keys.insert(key.clone(), id);
        self.key_of.insert(id, key);
        self.txns.insert(id, txn);
        self.reindex(id);
        id
    }

    fn terminate(&mut self, id: TxnId) {
        if let Some(mut t) = self.txns.remove(&id) {
            t.state = State::Terminated;
            if let Some(key) = self.key_of.remove(&id) {
                self.keys.remove(&key);
            }
            self.reindex(id);
        }
    }
}

/// Adds `received` and fills `rport` on the top Via (RFC 3261 §18.2.1, RFC 3581), so every
/// response built from the request goes back to where it really came from.
fn stamp_via(mut req: Request, peer: Peer) -> Request {
    if let Some(mut via) = req.top_via() {
        let ip = peer.addr.ip().to_string();
        if via.host != ip || via.param("rport").is_some() {
            via.set_param("received", Some(ip));
        }
        if via.param("rport").is_some() {
            via.set_param("rport", Some(peer.addr.port().to_string()));
        }
        req.headers.replace_first("Via", via.to_string());
    }
    req
}

/// Transaction branch; RFC 2543 peers without a branch get one derived from the dialog.
fn branch_of(req: &Request) -> String {
    match req.top_via().and_then(|v| v.branch().map(str::to_string)) {
        Some(b) => b,
        None => format!(
            "legacy:{}:{}:{}",
            req.call_id(),
            req.cseq().0,
            req.from_tag().unwrap_or_default()
        ),
    }
}

/// The ACK a client INVITE transaction sends for a non-2xx final (RFC 3261 §17.1.1.3).
fn ack_for_non_2xx(invite: &Request, resp: &Response) -> Request {
    let mut ack = Request::new(Method::Ack, invite.uri.clone());
    if let Some(via) = invite.headers.get_all("Via").first() {
        ack.headers.push("Via", via.clone());
    }
    for v in invite.headers.get_all("Route") {
        ack.headers.push("Route", v);
    }
    for name in ["From", "Call-ID"] {
        if let Some(v) = invite.headers.get(name) {
            ack.headers.push(name, v.to_string());
        }
    }
    if let Some(to) = resp.headers.get("To") {
        ack.headers.push("To", to.to_string());
    }
    ack.headers.push("CSeq", format!("{} ACK", invite.cseq().0));
    ack.headers.push("Max-Forwards", "70");
    ack
}

/// A fresh RFC 3261 branch (magic cookie + random).
pub fn new_branch() -> String {
    format!("z9hG4bK{}", random_token(16))
}

/// A random token for tags and Call-IDs.
pub fn random_token(len: usize) -> String {
    use rand::distributions::Alphanumeric;
    use rand::Rng;
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

#[cfg(test)]
mod tests;
