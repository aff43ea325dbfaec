//! The sans-IO core of a two-leg symmetric RTP relay with NAT latching.
//!
//! The PBX owns two UDP sockets per call, one per leg. A packet received on leg A's socket
//! is forwarded out of leg B's socket to B's peer, and the other way round. Where a peer
//! is comes first from its SDP (the *signalled* address) and then from where its packets
//! actually come from (the *latched* address): symmetric RTP, which is what makes phones
//! behind NAT work.
//!
//! # Latching rule
//! 1. The first valid RTP/RTCP packet received on a leg latches its source.
//! 2. Packets from another source are dropped (counted in [`LegStats::foreign`]) while the
//!    latched source is alive. Another source takes over when the latched one has been
//!    silent for [`RELATCH_AFTER`] (a phone that changed network or NAT binding), or at
//!    once when it is exactly the leg's signalled address (the SDP peer is authoritative:
//!    this undoes a stray sender that won the race to latch first).
//! 3. [`Relay::set_signalled`] with a new, different routable address forgets the latch
//!    (the peer said it moved); hold (`None` or `0.0.0.0`) keeps it for the resume.
//!
//! SSRCs are not used: they change legitimately (re-INVITE, transcoding peers) and are
//! trivially copied by an injector. An attacker must therefore either send before the
//! real peer or wait for it to fall silent for two seconds, and loses the latch as soon as
//! a non-NATed peer speaks from its signalled address.
//!
//! # Forwarding rule
//! A packet goes to the other leg's latched address, else its signalled address. It is
//! dropped when the other leg is on hold with an unspecified address or port
//! (`0.0.0.0`, RFC 2543 hold), or when nothing is known about it yet.

use crate::rtp::{is_rtcp, parse_rtp};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Silence after which another source may take over a leg.
pub const RELATCH_AFTER: Duration = Duration::from_secs(2);
/// Telephone-event payload type assumed until [`Relay::set_telephone_event_pt`] says
/// otherwise (the value most phones use).
pub const DEFAULT_TELEPHONE_EVENT_PT: u8 = 101;

/// One side of the relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LegSide {
    /// The caller's side.
    A,
    /// The callee's side.
    B,
}

impl LegSide {
    /// The other side.
    pub fn other(self) -> LegSide {
        match self {
            LegSide::A => LegSide::B,
            LegSide::B => LegSide::A,
        }
    }
}

/// Counters of one leg, for logs, CDRs and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LegStats {
    /// Packets accepted from this leg's peer.
    pub packets_in: u64,
    /// Bytes accepted from this leg's peer.
    pub bytes_in: u64,
    /// Packets sent to this leg's peer.
    pub packets_out: u64,
    /// Bytes sent to this leg's peer.
    pub bytes_out: u64,
    /// Accepted RTP packets carrying the telephone-event payload type.
    pub telephone_events: u64,
    /// Packets received on this leg and not forwarded, for any reason.
    pub dropped: u64,
    /// Of `dropped`: not RTP or RTCP.
    pub invalid: u64,
    /// Of `dropped`: from a source other than the latched one.
    pub foreign: u64,
    /// Times the latch moved to a new source (not counting the first latch).
    pub relatches: u64,
}

/// Counters of both legs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayStats {
    /// Leg A.
    pub a: LegStats,
    /// Leg B.
    pub b: LegStats,
}

/// State of one leg.
#[derive(Debug, Clone)]
pub struct RelayLeg {
    signalled: Option<SocketAddr>,
    latched: Option<SocketAddr>,
    last_heard: Option<Instant>,
    telephone_event_pt: Option<u8>,
    stats: LegStats,
}

impl Default for RelayLeg {
    fn default() -> RelayLeg {
        RelayLeg {
            signalled: None,
            latched: None,
            last_heard: None,
            telephone_event_pt: Some(DEFAULT_TELEPHONE_EVENT_PT),
            stats: LegStats::default(),
        }
    }
}

impl RelayLeg {
    /// Where packets for this leg go: latched address, else the signalled one; `None` on
    /// hold (`0.0.0.0` or port 0 signalled) or when nothing is known.
    pub fn destination(&self) -> Option<SocketAddr> {
        if self.signalled.is_some_and(|s| !routable(s)) {
            return None;
        }
        self.latched.or(self.signalled)
    }

    /// The address from SDP, as last set.
    pub fn signalled(&self) -> Option<SocketAddr> {
        self.signalled
    }

    /// The latched source, if any.
    pub fn latched(&self) -> Option<SocketAddr> {
        self.latched
    }

    /// When the latched source was last heard.
    pub fn last_heard(&self) -> Option<Instant> {
        self.last_heard
    }

    /// Counters.
    pub fn stats(&self) -> LegStats {
        self.stats
    }

    /// The telephone-event payload type of packets received on this leg.
    pub fn telephone_event_pt(&self) -> Option<u8> {
        self.telephone_event_pt
    }

    /// Applies the latching rule to a valid packet from `source`; false if it is dropped.
    fn accept_source(&mut self, now: Instant, source: SocketAddr) -> bool {
        match self.latched {
            Some(l) if l == source => {}
            None => self.latched = Some(source),
            Some(_) => {
                let silent = self
                    .last_heard
                    .is_none_or(|t| now.saturating_duration_since(t) >= RELATCH_AFTER);
                if !(silent || self.signalled == Some(source)) {
                    self.stats.foreign += 1;
                    self.stats.dropped += 1;
                    return false;
                }
                self.latched = Some(source);
                self.stats.relatches += 1;
            }
        }
        self.last_heard = Some(now);
        true
    }
}

/// Whether an address can receive packets (not `0.0.0.0`/`::`, not port 0).
fn routable(addr: SocketAddr) -> bool {
    !addr.ip().is_unspecified() && addr.port() != 0
}

/// Where to send a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Forward {
    /// Leg whose socket sends it.
    pub to_leg: LegSide,
    /// Destination address.
    pub dest: SocketAddr,
}

/// The two-leg relay: feed it every datagram received on either leg's socket.
#[derive(Debug, Clone, Default)]
pub struct Relay {
    a: RelayLeg,
    b: RelayLeg,
}

impl Relay {
    /// A relay with nothing known yet.
    pub fn new() -> Relay {
        Relay::default()
    }

    /// A leg's state.
    pub fn leg(&self, side: LegSide) -> &RelayLeg {
        match side {
            LegSide::A => &self.a,
            LegSide::B => &self.b,
        }
    }

    fn leg_mut(&mut self, side: LegSide) -> &mut RelayLeg {
        match side {
            LegSide::A => &mut self.a,
            LegSide::B => &mut self.b,
        }
    }

    /// Counters of both legs.
    pub fn stats(&self) -> RelayStats {
        RelayStats {
            a: self.a.stats,
            b: self.b.stats,
        }
    }

    /// Sets the address a leg announced in SDP (`None`: unknown; `0.0.0.0`: on hold).
    /// A routable address different from the previous routable one forgets the latch.
    pub fn set_signalled(&mut self, side: LegSide, addr: Option<SocketAddr>) {
        let leg = self.leg_mut(side);
        if let Some(new) = addr.filter(|a| routable(*a)) {
            if leg.signalled.is_some_and(|old| routable(old) && old != new) {
                leg.latched = None;
                leg.last_heard = None;
            }
        }
        leg.signalled = addr;
    }

    /// Sets the telephone-event payload type of packets received on a leg (`None`: not
    /// negotiated); only counted, never altered.
    pub fn set_telephone_event_pt(&mut self, side: LegSide, pt: Option<u8>) {
        self.leg_mut(side).telephone_event_pt = pt;
    }

    /// A datagram arrived on `from_leg`'s socket from `source`: returns where to forward
    /// it, or `None` if it is dropped (garbage, foreign source, nowhere to send).
    pub fn on_packet(
        &mut self,
        now: Instant,
        from_leg: LegSide,
        source: SocketAddr,
        bytes: &[u8],
    ) -> Option<Forward> {
        let payload_type = if is_rtcp(bytes) {
            None
        } else {
            match parse_rtp(bytes) {
                Ok((h, _)) => Some(h.payload_type),
                Err(_) => {
                    let leg = self.leg_mut(from_leg);
                    leg.stats.invalid += 1;
                    leg.stats.dropped += 1;
                    return None;
                }
            }
        };
        let len = bytes.len() as u64;
        let leg = self.leg_mut(from_leg);
        if !leg.accept_source(now, source) {
            return None;
        }
        leg.stats.packets_in += 1;
        leg.stats.bytes_in += len;
        if payload_type.is_some() && payload_type == leg.telephone_event_pt {
            leg.stats.telephone_events += 1;
        }
        let to_leg = from_leg.other();
        let out = self.leg_mut(to_leg);
        let Some(dest) = out.destination() else {
            self.leg_mut(from_leg).stats.dropped += 1;
            return None;
        };
        out.stats.packets_out += 1;
        out.stats.bytes_out += len;
        Some(Forward { to_leg, dest })
    }
}

#[cfg(test)]
#[path = "relay_tests.rs"]
mod tests;
