//! Per-transaction state (RFC 3261 §17, RFC 6026 "Accepted" states) and their timers.

use crate::msg::{Request, Response};
use crate::transport::Peer;
use std::time::{Duration, Instant};

/// The RFC 3261 timers (and RFC 6026's Timer L/M), named as in the RFC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimerName {
    /// INVITE request retransmit (client, unreliable transport).
    A,
    /// INVITE transaction timeout (client).
    B,
    /// Wait time for response retransmits (client INVITE, Completed).
    D,
    /// Non-INVITE request retransmit (client).
    E,
    /// Non-INVITE transaction timeout (client).
    F,
    /// INVITE response retransmit (server).
    G,
    /// Wait time for ACK receipt (server).
    H,
    /// Wait time for ACK retransmits (server, Confirmed).
    I,
    /// Wait time for non-INVITE request retransmits (server, Completed).
    J,
    /// Wait time for response retransmits (client non-INVITE, Completed).
    K,
    /// Wait time for 2xx retransmits after the INVITE was accepted (client, RFC 6026).
    M,
}

/// Protocol timer values.
#[derive(Debug, Clone, Copy)]
pub struct Timers {
    /// RTT estimate (500 ms).
    pub t1: Duration,
    /// Maximum retransmit interval for non-INVITE requests and INVITE responses (4 s).
    pub t2: Duration,
    /// Maximum duration a message remains in the network (5 s).
    pub t4: Duration,
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}

/// Which of the four state machines a transaction runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(clippy::enum_variant_names)] // the RFC's names for the four machines
pub(crate) enum Kind {
    ClientInvite,
    ClientNonInvite,
    ServerInvite,
    ServerNonInvite,
}

/// The RFC 3261 states (plus RFC 6026 Accepted), shared by the four machines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Client INVITE sent, nothing heard.
    Calling,
    /// Client non-INVITE sent, nothing heard; server non-INVITE received, no response.
    Trying,
    /// A provisional response was received or sent.
    Proceeding,
    /// A 2xx to an INVITE was received or sent (RFC 6026).
    Accepted,
    /// A final (non-2xx for INVITE) response was received or sent.
    Completed,
    /// Server INVITE: the ACK for a non-2xx arrived.
    Confirmed,
    /// Done; the transaction is removed.
    Terminated,
}

/// One transaction.
#[derive(Debug)]
pub(crate) struct Txn {
    pub(crate) kind: Kind,
    pub(crate) state: State,
    pub(crate) peer: Peer,
    pub(crate) request: Request,
    /// Serialised request (client) kept for retransmission.
    pub(crate) request_bytes: Vec<u8>,
    /// Last response sent (server) for retransmission.
    pub(crate) last_response: Option<Vec<u8>>,
    /// ACK we generated for a non-2xx final (client INVITE), re-sent on retransmitted finals.
    pub(crate) ack_bytes: Option<Vec<u8>>,
    /// Active timers with their deadlines.
    pub(crate) timers: Vec<(TimerName, Instant)>,
    /// Current retransmit interval for A/E/G.
    pub(crate) interval: Duration,
    /// Last response received (client), for the TU's convenience.
    pub(crate) last_received: Option<Response>,
}

impl Txn {
    pub(crate) fn new(kind: Kind, peer: Peer, request: Request, t1: Duration) -> Txn {
        let state = match kind {
            Kind::ClientInvite => State::Calling,
            Kind::ClientNonInvite | Kind::ServerNonInvite => State::Trying,
            Kind::ServerInvite => State::Proceeding,
        };
        let request_bytes = match kind {
            Kind::ClientInvite | Kind::ClientNonInvite => request.to_bytes(),
            _ => Vec::new(),
        };
        Txn {
            kind,
            state,
            peer,
            request,
            request_bytes,
            last_response: None,
            ack_bytes: None,
            timers: Vec::new(),
            interval: t1,
            last_received: None,
        }
    }

    pub(crate) fn set_timer(&mut self, name: TimerName, at: Instant) {
        self.cancel_timer(name);
        self.timers.push((name, at));
    }

    pub(crate) fn cancel_timer(&mut self, name: TimerName) {
        self.timers.retain(|(n, _)| *n != name);
    }

    pub(crate) fn clear_timers(&mut self) {
        self.timers.clear();
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.timers.iter().map(|(_, t)| *t).min()
    }

    /// Timers due at `now`, removed from the list, earliest first.
    pub(crate) fn take_due(&mut self, now: Instant) -> Vec<TimerName> {
        let mut due: Vec<(TimerName, Instant)> = self
            .timers
            .iter()
            .filter(|(_, t)| *t <= now)
            .copied()
            .collect();
        due.sort_by_key(|(_, t)| *t);
        self.timers.retain(|(_, t)| *t > now);
        due.into_iter().map(|(n, _)| n).collect()
    }
}
