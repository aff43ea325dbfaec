//! The state of one call and its legs, and SDP rewriting towards each side.
//!
//! A call has two parties. Side A is the caller's dialog (the one whose number the call shows
//! as caller); side B is the answering callee, chosen among forked INVITEs (`legs`). Either
//! side's dialog may be one where we were the UAS (an INVITE we received) or the UAC (an
//! INVITE we sent): click-to-call and transfers put UAC dialogs on side A, and a transfer
//! may replace either side. Each party sends its RTP to one port of the call's relay; which
//! relay leg belongs to side A is `a_relay` (it flips when a transfer moves the kept party
//! to side A).

use super::dialog::Dialog;
use crate::media::RelayHandle;
use crate::store::CdrRecord;
use media_core::relay::LegSide;
use sip_core::sdp::{Direction, SessionDescription};
use sip_core::transaction::TxnId;
use sip_core::Request;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

/// Which side of the B2BUA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Side {
    /// The caller.
    A,
    /// The answering callee.
    B,
}

impl Side {
    /// The other party.
    pub(crate) fn other(self) -> Side {
        match self {
            Side::A => Side::B,
            Side::B => Side::A,
        }
    }
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
    /// Our INVITE's client transaction (`None` for a dialog moved here by a transfer).
    pub(crate) invite_txn: Option<TxnId>,
    pub(crate) state: LegState,
    /// Last ACK sent for the 2xx, repeated on 2xx retransmissions.
    pub(crate) ack: Option<Request>,
    /// The extension this fork rings (the picker's, for a pickup fork).
    pub(crate) ext: String,
    /// The SIP account rung.
    pub(crate) account: String,
    /// Rung by a directed pickup: answering it picks the call up.
    pub(crate) pickup: bool,
}

/// Where the call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Click-to-call: ringing the devices of the extension that asked for it (side A).
    Originating,
    /// Ringing B legs (or about to).
    Routing,
    /// Answered.
    Connected,
}

/// How side A learns the outcome of the ringing step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Upstream {
    /// Click-to-call before A answered: A has no dialog yet.
    NotYet,
    /// A's INVITE server transaction awaits a final response.
    Invite(TxnId),
    /// Click-to-call: A's device answered our INVITE without SDP (RFC 3725 flow I); its 2xx
    /// carries the offer and awaits our ACK, which will carry the answer.
    LateAck {
        /// CSeq of our INVITE.
        cseq: u32,
    },
    /// A's dialog is established (answered, or a transfer moved a party there).
    Established,
}

/// Session descriptions exchanged with one party.
#[derive(Debug, Clone, Default)]
pub(crate) struct Media {
    /// The last SDP received from it.
    pub(crate) received: Option<Vec<u8>>,
    /// The last SDP sent to it (already pointing at the relay).
    pub(crate) sent: Option<Vec<u8>>,
    /// o= version of the SDP we send it.
    pub(crate) version: u64,
}

/// Why the PBX itself sent a re-INVITE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// Hold requested by the party on `by`: the target gets `sendonly`.
    Hold { by: Side },
    /// Resume requested by the party on `by`: the target gets `sendrecv`.
    Resume { by: Side },
    /// Attended transfer: point the moved party's media at this call's relay.
    Repoint,
    /// After a transfer: take the kept party off the hold the departed party left it in.
    Unhold,
}

/// One call.
#[derive(Debug)]
pub(crate) struct Call {
    pub(crate) id: u64,
    pub(crate) phase: Phase,
    /// Side A's dialog (a placeholder while `upstream` is `NotYet`).
    pub(crate) a: Dialog,
    pub(crate) upstream: Upstream,
    /// A's INVITE, while `upstream` is `Invite` (to build responses).
    pub(crate) a_invite: Option<Request>,
    /// Click-to-call: the ACK sent to A's 2xx, repeated on its retransmissions.
    pub(crate) a_ack: Option<Request>,
    /// Side A's extension number and name.
    pub(crate) caller_ext: String,
    pub(crate) caller_name: String,
    /// The relay leg side A sends to.
    pub(crate) a_relay: LegSide,
    pub(crate) media_a: Media,
    pub(crate) media_b: Media,
    pub(crate) legs: Vec<BLeg>,
    pub(crate) winner: Option<usize>,
    pub(crate) relay: Option<RelayHandle>,
    pub(crate) cdr: CdrRecord,
    pub(crate) ring_deadline: Option<Instant>,
    /// Extension currently rung, then the one that answered (side B).
    pub(crate) ringing_ext: Option<String>,
    /// Extensions whose load this call holds.
    pub(crate) load: Vec<String>,
    pub(crate) hops: u8,
    /// Sent an 18x with SDP to A already.
    pub(crate) early_media: bool,
    /// The side that put the call on hold (by its own re-INVITE, or through the PBX).
    pub(crate) held_by: Option<Side>,
    /// The party the PBX itself holds (its `sendonly` re-INVITE was accepted).
    pub(crate) pbx_held: Option<Side>,
    /// The side a PBX re-INVITE is in flight to (one at a time per call).
    pub(crate) reinvite: Option<Side>,
    /// Click-to-call: the number to call once side A answers.
    pub(crate) dial_target: Option<String>,
    /// The queue the call waits in (until an agent answers or it leaves).
    pub(crate) queue: Option<String>,
    /// The detail row of the queue step an agent answered (its end is the talk time's).
    pub(crate) queue_row: Option<usize>,
    /// When the PBX hangs up a call it answered itself (a feature code).
    pub(crate) hangup_at: Option<Instant>,
    /// The ring group the call is in (until a member answers or it overflows).
    pub(crate) group: Option<super::engine::GroupRun>,
    /// The park slot the call waits in.
    pub(crate) parked: Option<super::engine::Parked>,
}

impl Call {
    /// The winning leg.
    pub(crate) fn winner_leg(&mut self) -> Option<&mut BLeg> {
        let w = self.winner?;
        self.legs.get_mut(w)
    }

    /// The relay leg a side's party sends to.
    pub(crate) fn leg_side(&self, side: Side) -> LegSide {
        match side {
            Side::A => self.a_relay,
            Side::B => self.a_relay.other(),
        }
    }

    /// The relay port a side's party sends to (what the SDP we send it names), 0 without relay.
    pub(crate) fn port(&self, side: Side) -> u16 {
        match (self.leg_side(side), &self.relay) {
            (LegSide::A, Some(r)) => r.port_a,
            (LegSide::B, Some(r)) => r.port_b,
            (_, None) => 0,
        }
    }

    /// Tells the relay where a side's party receives (`None` leaves it to latching).
    pub(crate) fn signal(&self, side: Side, addr: Option<SocketAddr>) {
        if let Some(r) = &self.relay {
            r.set_signalled(self.leg_side(side), addr);
        }
    }

    /// The SDP state of a side.
    pub(crate) fn media(&mut self, side: Side) -> &mut Media {
        match side {
            Side::A => &mut self.media_a,
            Side::B => &mut self.media_b,
        }
    }

    /// The established dialog of a side (side B: the winner's).
    pub(crate) fn dialog_mut(&mut self, side: Side) -> Option<&mut Dialog> {
        match side {
            Side::A => (self.upstream != Upstream::NotYet).then_some(&mut self.a),
            Side::B => self.winner_leg().map(|l| &mut l.dialog),
        }
    }

    /// The extension on a side, once it is a party (side B only when answered).
    pub(crate) fn party(&self, side: Side) -> Option<&str> {
        match side {
            Side::A => Some(self.caller_ext.as_str()),
            Side::B => (self.phase == Phase::Connected)
                .then_some(self.ringing_ext.as_deref())
                .flatten(),
        }
    }

    /// The side `ext` is on in a connected call.
    pub(crate) fn side_of(&self, ext: &str) -> Option<Side> {
        [Side::A, Side::B]
            .into_iter()
            .find(|s| self.party(*s) == Some(ext))
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

/// Whether an SDP body puts its first stream on hold (`None`: no parsable SDP).
pub(crate) fn sdp_is_hold(body: &[u8]) -> Option<bool> {
    let text = std::str::from_utf8(body).ok()?;
    Some(SessionDescription::parse(text).ok()?.is_hold(0))
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

/// The same description with the first stream's direction set (hold and resume offers) and
/// the given o= version.
pub(crate) fn with_direction(
    body: &[u8],
    direction: Direction,
    ip: IpAddr,
    version: u64,
) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(body).ok()?;
    let mut sdp = SessionDescription::parse(text).ok()?;
    let is_direction = |(k, v): &(char, String)| *k == 'a' && Direction::parse(v).is_some();
    sdp.session.retain(|l| !is_direction(l));
    let first = sdp.media.first_mut()?;
    first.lines.retain(|l| !is_direction(l));
    first.lines.push(('a', direction.as_str().to_string()));
    sdp.set_origin("centralino", 1, version, ip);
    Some(sdp.to_string().into_bytes())
}

/// Our answer to `offer` when the party it will talk to is another offerer (a pickup or a
/// retrieval by code joins two phones that each sent an offer): the first of the offerer's
/// codecs that `other` also lists, pointing at `ip:port` (the relay). `None` without a common
/// codec.
pub(crate) fn bridge_answer(
    offer: &[u8],
    other: &[u8],
    ip: IpAddr,
    port: u16,
    version: u64,
) -> Option<Vec<u8>> {
    let offer = SessionDescription::parse(std::str::from_utf8(offer).ok()?).ok()?;
    let other = SessionDescription::parse(std::str::from_utf8(other).ok()?).ok()?;
    let codecs = other
        .rtpmap(0)
        .into_iter()
        .map(|(pt, name, clock, ch)| sip_core::sdp::Codec::new(pt, &name, clock, ch))
        .collect();
    let local = sip_core::sdp::LocalMedia {
        ip,
        port,
        codecs,
        direction: Direction::SendRecv,
        session_id: 1,
    };
    let mut answer = sip_core::sdp::answer(&offer, &local).ok()?;
    answer.set_origin("centralino", 1, version, ip);
    Some(answer.to_string().into_bytes())
}

/// An answer refusing every stream of `offer` (port 0), for an offer we cannot take any more
/// (a click-to-call whose target failed: the ACK must still carry an answer).
pub(crate) fn refuse_sdp(offer: &[u8], ip: IpAddr, version: u64) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(offer).ok()?;
    let mut sdp = SessionDescription::parse(text).ok()?;
    sdp.rewrite_for_relay(ip, &[]);
    sdp.set_origin("centralino", 1, version, ip);
    Some(sdp.to_string().into_bytes())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const OFFER: &str = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
                         m=audio 4000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n";

    #[test]
    fn direction_is_replaced_on_the_first_stream() {
        let ip: IpAddr = "192.0.2.9".parse().unwrap();
        let held = with_direction(OFFER.as_bytes(), Direction::SendOnly, ip, 7).unwrap();
        let text = String::from_utf8_lossy(&held);
        assert!(text.contains("a=sendonly"), "{text}");
        assert!(!text.contains("a=sendrecv"), "{text}");
        assert!(text.contains("o=centralino 1 7 IN IP4 192.0.2.9"), "{text}");
        assert_eq!(sdp_is_hold(&held), Some(true));
        let back = with_direction(&held, Direction::SendRecv, ip, 8).unwrap();
        assert_eq!(sdp_is_hold(&back), Some(false));
    }

    #[test]
    fn refusal_keeps_the_streams_with_port_zero() {
        let ip: IpAddr = "192.0.2.9".parse().unwrap();
        let r = refuse_sdp(OFFER.as_bytes(), ip, 2).unwrap();
        let text = String::from_utf8_lossy(&r);
        assert!(text.contains("m=audio 0 RTP/AVP 0 101"), "{text}");
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod bridge_tests {
    use super::*;

    #[test]
    fn bridge_answer_of_two_sipp_offers() {
        let sipp = "v=0\r\no=user1 53655765 2353687638 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
                    m=audio 6000 RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n\
                    a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n";
        let ip: IpAddr = "192.0.2.9".parse().unwrap();
        let a = bridge_answer(sipp.as_bytes(), sipp.as_bytes(), ip, 4000, 2).unwrap();
        let text = String::from_utf8_lossy(&a);
        assert!(text.contains("m=audio 4000 RTP/AVP 8 101"), "{text}");
        let r = rewrite_sdp(&a, ip, 5000, 3).unwrap();
        let text = String::from_utf8_lossy(&r);
        assert!(text.contains("m=audio 5000 RTP/AVP 8 101"), "{text}");
    }
}
