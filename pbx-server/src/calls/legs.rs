//! The state of one call and its legs, and SDP rewriting towards each side.

use super::dialog::Dialog;
use crate::media::RelayHandle;
use crate::store::CdrRecord;
use sip_core::sdp::SessionDescription;
use sip_core::transaction::TxnId;
use sip_core::Request;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

/// Which side of the B2BUA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// The caller.
    A,
    /// The answering callee.
    B,
}

/// State of one forked B leg.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LegState {
    /// INVITE sent, maybe ringing.
    Pending,
    /// Answered (the winner, or a loser being hung up).
    Answered,
    /// CANCEL sent.
    Cancelling,
    /// Final non-2xx received (status).
    Failed(u16),
}

/// One INVITE fork towards a registered device.
#[derive(Debug)]
pub(crate) struct BLeg {
    pub(crate) dialog: Dialog,
    pub(crate) invite_txn: TxnId,
    pub(crate) state: LegState,
    /// Last ACK sent for the 2xx, repeated on 2xx retransmissions.
    pub(crate) ack: Option<Request>,
}

/// Where the call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Ringing B legs (or about to).
    Routing,
    /// Answered.
    Connected,
}

/// One call.
#[derive(Debug)]
pub(crate) struct Call {
    pub(crate) id: u64,
    pub(crate) phase: Phase,
    /// The A leg's dialog (our side is the UAS).
    pub(crate) a: Dialog,
    /// A's INVITE server transaction until it has a final response.
    pub(crate) a_txn: Option<TxnId>,
    /// A's original INVITE (to build responses).
    pub(crate) a_invite: Request,
    /// SDP offer from A, kept to send to every fork.
    pub(crate) a_offer: Option<Vec<u8>>,
    pub(crate) caller_ext: String,
    pub(crate) caller_name: String,
    pub(crate) legs: Vec<BLeg>,
    pub(crate) winner: Option<usize>,
    pub(crate) relay: Option<RelayHandle>,
    pub(crate) cdr: CdrRecord,
    pub(crate) ring_deadline: Option<Instant>,
    /// Extension currently rung (counted in its load).
    pub(crate) ringing_ext: Option<String>,
    /// Extensions whose load this call holds.
    pub(crate) load: Vec<String>,
    pub(crate) hops: u8,
    /// Sent an 18x with SDP to A already.
    pub(crate) early_media: bool,
    /// o= versions of the SDP we send to A and to B.
    pub(crate) sdp_version_a: u64,
    pub(crate) sdp_version_b: u64,
    /// The side that put the call on hold (its re-INVITE with a hold SDP was accepted).
    pub(crate) held_by: Option<Side>,
}

impl Call {
    /// The winning leg.
    pub(crate) fn winner_leg(&mut self) -> Option<&mut BLeg> {
        let w = self.winner?;
        self.legs.get_mut(w)
    }
}

/// The RTP address an SDP body announces for its first media stream
/// (`None` for no SDP, a 0.0.0.0 hold, or garbage).
pub(crate) fn sdp_media_addr(body: &[u8]) -> Option<SocketAddr> {
    let text = std::str::from_utf8(body).ok()?;
    let sdp = SessionDescription::parse(text).ok()?;
    let ip = sdp.connection_address(0)?;
    let port = sdp.media_port(0)?;
    if ip.is_unspecified() || port == 0 {
        return None;
    }
    Some(SocketAddr::new(ip, port))
}

/// Rewrites an SDP body so the receiving side sends its RTP to `ip:port` (the relay).
/// Streams after the first are refused (port 0): the relay anchors one audio stream.
pub(crate) fn rewrite_sdp(body: &[u8], ip: IpAddr, port: u16, version: u64) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(body).ok()?;
    let mut sdp = SessionDescription::parse(text).ok()?;
    let n = sdp.media.len();
    let mut ports = vec![0u16; n];
    if let Some(first) = ports.first_mut() {
        *first = port;
    }
    sdp.rewrite_for_relay(ip, &ports);
    sdp.set_origin("centralino", 1, version, ip);
    Some(sdp.to_string().into_bytes())
}
