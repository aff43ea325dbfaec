//! One side of a B2BUA call as a SIP dialog (RFC 3261 §12): enough state to send
//! in-dialog requests and ACKs towards that side.

use sip_core::msg::{Headers, NameAddr};
use sip_core::transaction::{new_branch, random_token};
use sip_core::{Method, Peer, Request};
use std::net::IpAddr;

/// Our own address as written into Via and Contact.
#[derive(Debug, Clone, Copy)]
pub struct Local {
    /// Advertised IP.
    pub ip: IpAddr,
    /// SIP port.
    pub port: u16,
}

impl Local {
    /// `host:port` for headers.
    pub fn hostport(&self) -> String {
        match self.ip {
            IpAddr::V6(v6) => format!("[{v6}]:{}", self.port),
            IpAddr::V4(v4) => format!("{v4}:{}", self.port),
        }
    }

    /// A top Via for a request we send over `peer`.
    pub fn via(&self, peer: Peer) -> String {
        format!(
            "SIP/2.0/{} {};branch={};rport",
            peer.transport,
            self.hostport(),
            new_branch()
        )
    }

    /// Our Contact for `user`.
    pub fn contact(&self, user: &str, peer: Peer) -> String {
        format!(
            "<sip:{user}@{};transport={}>",
            self.hostport(),
            peer.transport.as_str().to_ascii_lowercase()
        )
    }
}

/// Dialog state of one leg.
#[derive(Debug, Clone)]
pub struct Dialog {
    /// Call-ID of this leg.
    pub call_id: String,
    /// Our tag.
    pub local_tag: String,
    /// The peer's tag.
    pub remote_tag: String,
    /// Our address-of-record (From of our requests), without tag.
    pub local_uri: NameAddr,
    /// The peer's address-of-record, without tag.
    pub remote_uri: NameAddr,
    /// Where in-dialog requests go (the peer's Contact).
    pub remote_target: String,
    /// Transport address the peer is reached at (NAT-safe: its source address).
    pub peer: Peer,
    /// Last CSeq we used.
    pub local_cseq: u32,
    /// User part for our Contact.
    pub contact_user: String,
}

impl Dialog {
    /// A new random tag.
    pub fn new_tag() -> String {
        random_token(12)
    }

    /// An in-dialog request (BYE, re-INVITE, INFO...) with a fresh CSeq.
    pub fn request(&mut self, method: Method, local: &Local) -> Request {
        self.local_cseq += 1;
        let cseq = self.local_cseq;
        self.build(method, cseq, local)
    }

    /// The ACK for a 2xx to the INVITE sent with `cseq`.
    pub fn ack(&self, cseq: u32, local: &Local) -> Request {
        self.build(Method::Ack, cseq, local)
    }

    fn build(&self, method: Method, cseq: u32, local: &Local) -> Request {
        let mut from = self.local_uri.clone();
        from.set_param("tag", Some(&self.local_tag));
        let mut to = self.remote_uri.clone();
        if !self.remote_tag.is_empty() {
            to.set_param("tag", Some(&self.remote_tag));
        }
        let mut h = Headers::new();
        h.push("Via", local.via(self.peer));
        h.push("Max-Forwards", "70");
        h.push("From", from.to_string());
        h.push("To", to.to_string());
        h.push("Call-ID", self.call_id.clone());
        h.push("CSeq", format!("{cseq} {method}"));
        if matches!(method, Method::Invite | Method::Update) {
            h.push("Contact", local.contact(&self.contact_user, self.peer));
        }
        h.push("User-Agent", crate::USER_AGENT);
        Request {
            method,
            uri: self.remote_target.clone(),
            headers: h,
            body: Vec::new(),
        }
    }
}

/// A name-addr without its tag (for storing a dialog's URIs).
pub fn without_tag(mut a: NameAddr) -> NameAddr {
    a.params.retain(|(n, _)| !n.eq_ignore_ascii_case("tag"));
    a
}
