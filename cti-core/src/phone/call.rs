//! Calls as the application sees them (id, state, far party) and the dialog state the user
//! agent keeps for each (RFC 3261 §12).

use crate::media::params::MediaParams;
use sip_core::msg::{Headers, NameAddr, SipUri};
use sip_core::sdp::SessionDescription;
use sip_core::transaction::{new_branch, random_token, TxnId};
use sip_core::{Method, Request};
use std::fmt;
use std::net::SocketAddr;
use std::time::Instant;

/// Handle of one call of a user agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallId(pub u64);

impl fmt::Display for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "call-{}", self.0)
    }
}

/// The other party of a call, as its SIP identity shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Party {
    /// The user part of its URI (the number), or the whole URI when it has none.
    pub number: String,
    /// Display name, if any.
    pub display: Option<String>,
}

impl Party {
    pub(crate) fn from_name_addr(a: &NameAddr) -> Party {
        let number = SipUri::parse(&a.uri)
            .ok()
            .and_then(|u| u.user)
            .unwrap_or_else(|| a.uri.clone());
        Party {
            number,
            display: a.display.clone(),
        }
    }
}

/// Why a call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndReason {
    /// We hung up (BYE or CANCEL sent).
    LocalHangup,
    /// The other party hung up (BYE received).
    RemoteHangup,
    /// We refused an incoming call.
    Rejected,
    /// The caller gave up before we answered (CANCEL received).
    Cancelled,
    /// Our outgoing call was refused with this final status (486 busy, 404, 480, ...).
    Refused {
        /// SIP status.
        status: u16,
        /// Reason phrase.
        reason: String,
    },
    /// The server asked for credentials again after we gave them.
    AuthFailed,
    /// No answer from the network (transaction timeout, or no ACK for our 2xx).
    Timeout,
    /// The offer had no codec we can use (488).
    NoCommonMedia,
    /// The network changed before the call was set up.
    NetworkChanged,
    /// We transferred it (REFER accepted and the target answered).
    Transferred,
}

/// Where a call is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallState {
    /// Outgoing: INVITE sent, nothing heard yet (or only 100 Trying).
    Calling,
    /// Outgoing: the far end is ringing (180/183).
    Ringing,
    /// Incoming: ringing here, waiting for answer or reject.
    Incoming,
    /// Answered; media flows unless held.
    Connected,
    /// Over.
    Ended(EndReason),
}

/// Our own addresses as written into Via and Contact.
#[derive(Debug, Clone)]
pub(crate) struct Local {
    /// SIP socket address.
    pub addr: SocketAddr,
    /// Our user (Contact user part).
    pub user: String,
    /// User-Agent header.
    pub user_agent: String,
}

impl Local {
    pub(crate) fn hostport(&self) -> String {
        match self.addr {
            SocketAddr::V6(v6) => format!("[{}]:{}", v6.ip(), v6.port()),
            SocketAddr::V4(v4) => v4.to_string(),
        }
    }

    /// A top Via with a fresh branch (RFC 3581 rport asked).
    pub(crate) fn via(&self) -> String {
        format!(
            "SIP/2.0/UDP {};branch={};rport",
            self.hostport(),
            new_branch()
        )
    }

    /// Our Contact URI.
    pub(crate) fn contact_uri(&self) -> String {
        format!("sip:{}@{}", self.user, self.hostport())
    }

    /// Our Contact header value.
    pub(crate) fn contact(&self) -> String {
        format!("<{}>", self.contact_uri())
    }
}

/// Methods we accept, for `Allow`.
pub(crate) const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, NOTIFY";

/// Dialog state (RFC 3261 §12).
#[derive(Debug, Clone)]
pub(crate) struct Dialog {
    pub call_id: String,
    pub local_tag: String,
    /// Empty until the far end answers (outgoing) .
    pub remote_tag: Option<String>,
    /// Our address-of-record, without tag.
    pub local_uri: NameAddr,
    /// The far end's, without tag.
    pub remote_uri: NameAddr,
    /// Request-URI of in-dialog requests (the far end's Contact).
    pub remote_target: String,
    /// Route set, in the order our requests carry it.
    pub route_set: Vec<String>,
    /// Last CSeq we used.
    pub local_cseq: u32,
    /// Last CSeq the far end used.
    pub remote_cseq: Option<u32>,
}

impl Dialog {
    /// A fresh tag.
    pub(crate) fn new_tag() -> String {
        random_token(12)
    }

    /// A fresh Call-ID.
    pub(crate) fn new_call_id(local: &Local) -> String {
        format!("{}@{}", random_token(20), local.addr.ip())
    }

    /// An in-dialog request with the next CSeq.
    pub(crate) fn request(&mut self, method: Method, local: &Local) -> Request {
        self.local_cseq += 1;
        self.build(method, self.local_cseq, local)
    }

    /// The ACK for a 2xx to the INVITE sent with `cseq`.
    pub(crate) fn ack(&self, cseq: u32, local: &Local) -> Request {
        self.build(Method::Ack, cseq, local)
    }

    fn build(&self, method: Method, cseq: u32, local: &Local) -> Request {
        let mut from = self.local_uri.clone();
        from.set_param("tag", Some(&self.local_tag));
        let mut to = self.remote_uri.clone();
        if let Some(tag) = &self.remote_tag {
            to.set_param("tag", Some(tag));
        }
        let mut h = Headers::new();
        h.push("Via", local.via());
        h.push("Max-Forwards", "70");
        for r in &self.route_set {
            h.push("Route", r.clone());
        }
        h.push("From", from.to_string());
        h.push("To", to.to_string());
        h.push("Call-ID", self.call_id.clone());
        h.push("CSeq", format!("{cseq} {method}"));
        if method == Method::Invite {
            h.push("Contact", local.contact());
            h.push("Allow", ALLOW);
        }
        h.push("User-Agent", local.user_agent.clone());
        Request {
            method,
            uri: self.remote_target.clone(),
            headers: h,
            body: Vec::new(),
        }
    }
}

/// A name-addr without its tag.
pub(crate) fn without_tag(mut a: NameAddr) -> NameAddr {
    a.params.retain(|(n, _)| !n.eq_ignore_ascii_case("tag"));
    a
}

/// A client INVITE (initial or re-INVITE) in progress.
#[derive(Debug, Clone)]
pub(crate) struct PendingInvite {
    pub txn: TxnId,
    /// As sent (for the retry with credentials and for CANCEL).
    pub request: Request,
    pub auth_tries: u8,
    /// A re-INVITE: the hold state it asks for.
    pub reinvite_hold: Option<bool>,
}

/// One call of the user agent.
#[derive(Debug)]
pub(crate) struct Call {
    pub outgoing: bool,
    pub state: CallState,
    pub dialog: Dialog,
    pub remote: Party,
    /// Our RTP address (known once the driver bound the socket).
    pub rtp: Option<SocketAddr>,
    /// Hold state agreed with the far end.
    pub local_hold: bool,
    /// Hold state the user asked for (differs while a re-INVITE is under way).
    pub desired_hold: bool,
    /// The far end holds us.
    pub remote_hold: bool,
    pub session_id: u64,
    pub sdp_version: u64,
    pub params: Option<MediaParams>,
    pub invite: Option<PendingInvite>,
    /// The user hung up before any provisional: CANCEL when one arrives.
    pub cancel_wanted: bool,
    pub provisional_seen: bool,
    /// Incoming INVITE waiting for answer/reject (initial) .
    pub server_invite: Option<(TxnId, Request)>,
    /// The offer of the incoming INVITE.
    pub remote_offer: Option<SessionDescription>,
    /// Our 2xx carried an offer (the INVITE had none): the answer comes with the ACK.
    pub awaiting_ack_answer: bool,
    /// The ACK we sent for the last 2xx, re-sent when the 2xx is retransmitted.
    pub last_ack: Option<(TxnId, Request)>,
    /// A re-INVITE to send at this time (after a 491, or a deferred hold/resume).
    pub retry_at: Option<Instant>,
    /// Our REFER (transfer) in progress, until its final NOTIFY.
    pub refer: Option<TxnId>,
}

impl Call {
    pub(crate) fn new(outgoing: bool, state: CallState, dialog: Dialog, remote: Party) -> Call {
        Call {
            outgoing,
            state,
            dialog,
            remote,
            rtp: None,
            local_hold: false,
            desired_hold: false,
            remote_hold: false,
            session_id: u64::from(rand::random::<u32>()),
            sdp_version: 1,
            params: None,
            invite: None,
            cancel_wanted: false,
            provisional_seen: false,
            server_invite: None,
            remote_offer: None,
            awaiting_ack_answer: false,
            last_ack: None,
            retry_at: None,
            refer: None,
        }
    }

    pub(crate) fn is_ended(&self) -> bool {
        matches!(self.state, CallState::Ended(_))
    }
}
