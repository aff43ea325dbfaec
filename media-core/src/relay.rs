//! The sans-IO core of a two-leg symmetric RTP relay with NAT latching.
//!
//! The PBX owns two UDP sockets per call, one per leg. A packet received on leg A's socket is
//! forwarded out of leg B's socket to B's peer, and the other way round. Where a peer is
//! comes first from its SDP (the *signalled* address) and then from where its packets
//! actually come from (the *latched* address): symmetric RTP, which is what makes phones
//! behind NAT work.
//!
//! Latching rule: the first valid RTP/RTCP packet on a leg latches its source. A different
//! source takes over only after the latched one has been silent for [`RELATCH_AFTER`]
//! (a phone that changed network or port), so a stray sender cannot hijack a live stream.

use crate::rtp::{is_rtcp, RtpHeader};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Silence after which another source may take over a leg.
pub const RELATCH_AFTER: Duration = Duration::from_secs(2);

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

/// Counters of one leg.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LegStats {
    /// Packets received from this leg's peer.
    pub packets_in: u64,
    /// Bytes received from this leg's peer.
    pub bytes_in: u64,
    /// Packets sent to this leg's peer.
    pub packets_out: u64,
    /// Bytes sent to this leg's peer.
    pub bytes_out: u64,
    /// Packets dropped (not RTP, foreign source, nowhere to send).
    pub dropped: u64,
    /// RTP packets whose payload type was not audio-ish (e.g. telephone-event) seen.
    pub dynamic_pt_packets: u64,
}

/// State of one leg.
#[derive(Debug, Clone, Default)]
pub struct RelayLeg {
    signalled: Option<SocketAddr>,
    latched: Option<SocketAddr>,
    last_heard: Option<Instant>,
    stats: LegStats,
}

impl RelayLeg {
    /// Where packets for this leg go: latched address, else the signalled one.
    pub fn destination(&self) -> Option<SocketAddr> {
        self.latched.or(self.signalled)
    }

    /// The latched source, if any.
    pub fn latched(&self) -> Option<SocketAddr> {
        self.latched
    }

    /// Counters.
    pub fn stats(&self) -> LegStats {
        self.stats
    }
}

/// Where to send a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Forward {
    /// Leg whose socket sends it.
    pub to_leg: LegSide,
    /// Destination address.
    pub dest: SocketAddr,
}

/// The two-leg relay.
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

    /// Sets the address a leg announced in SDP (`None`: on hold or unknown). A new,
    /// different address also forgets the latch: the peer told us it moved.
    pub fn set_signalled(&mut self, side: LegSide, addr: Option<SocketAddr>) {
        let leg = self.leg_mut(side);
        if addr.is_some() && addr != leg.signalled && leg.signalled.is_some() {
            leg.latched = None;
            leg.last_heard = None;
        }
        leg.signalled = addr;
    }

    /// A packet arrived on `from_leg`'s socket from `source`. Returns where to forward it.
    pub fn on_packet(
        &mut self,
        now: Instant,
        from_leg: LegSide,
        source: SocketAddr,
        bytes: &[u8],
    ) -> Option<Forward> {
        let valid = is_rtcp(bytes) || RtpHeader::parse(bytes).is_ok();
        let leg = self.leg_mut(from_leg);
        if !valid {
            leg.stats.dropped += 1;
            return None;
        }
        match leg.latched {
            None => leg.latched = Some(source),
            Some(l) if l == source => {}
            Some(_) => {
                let silent = leg
                    .last_heard
                    .is_none_or(|t| now.saturating_duration_since(t) >= RELATCH_AFTER);
                if silent {
                    leg.latched = Some(source);
                } else {
                    leg.stats.dropped += 1;
                    return None;
                }
            }
        }
        leg.last_heard = Some(now);
        leg.stats.packets_in += 1;
        leg.stats.bytes_in += bytes.len() as u64;
        if let Ok(h) = RtpHeader::parse(bytes) {
            if h.payload_type >= 96 && !is_rtcp(bytes) {
                leg.stats.dynamic_pt_packets += 1;
            }
        }
        let to_leg = from_leg.other();
        let out = self.leg_mut(to_leg);
        match out.destination() {
            Some(dest) if !dest.ip().is_unspecified() => {
                out.stats.packets_out += 1;
                out.stats.bytes_out += bytes.len() as u64;
                Some(Forward { to_leg, dest })
            }
            _ => {
                self.leg_mut(from_leg).stats.dropped += 1;
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtp::write_rtp;

    fn addr(p: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], p))
    }

    fn pkt(seq: u16) -> Vec<u8> {
        write_rtp(0, false, seq, u32::from(seq) * 160, 0x1234, &[0xff; 160])
    }

    #[test]
    fn forwards_to_signalled_then_latched() {
        let mut r = Relay::new();
        let t = Instant::now();
        r.set_signalled(LegSide::A, Some(addr(4000)));
        r.set_signalled(LegSide::B, Some(addr(5000)));
        // A speaks from a NATed port: forwarded to B's signalled address, A latched.
        assert_eq!(
            r.on_packet(t, LegSide::A, addr(4444), &pkt(1)),
            Some(Forward {
                to_leg: LegSide::B,
                dest: addr(5000)
            })
        );
        // B's packets go to where A really is, not to its SDP.
        assert_eq!(
            r.on_packet(t, LegSide::B, addr(5000), &pkt(1)),
            Some(Forward {
                to_leg: LegSide::A,
                dest: addr(4444)
            })
        );
    }

    #[test]
    fn foreign_source_cannot_hijack_a_live_stream_but_can_take_over_after_silence() {
        let mut r = Relay::new();
        let t = Instant::now();
        r.set_signalled(LegSide::B, Some(addr(5000)));
        r.on_packet(t, LegSide::A, addr(4000), &pkt(1));
        assert_eq!(
            r.on_packet(
                t + Duration::from_millis(20),
                LegSide::A,
                addr(6666),
                &pkt(2)
            ),
            None
        );
        assert_eq!(r.leg(LegSide::A).latched(), Some(addr(4000)));
        let later = t + RELATCH_AFTER + Duration::from_millis(100);
        assert!(r
            .on_packet(later, LegSide::A, addr(6666), &pkt(3))
            .is_some());
        assert_eq!(r.leg(LegSide::A).latched(), Some(addr(6666)));
    }

    #[test]
    fn garbage_and_hold_are_dropped() {
        let mut r = Relay::new();
        let t = Instant::now();
        assert_eq!(r.on_packet(t, LegSide::A, addr(4000), b"hello"), None);
        assert_eq!(r.on_packet(t, LegSide::A, addr(4000), &[]), None);
        r.set_signalled(LegSide::B, None);
        assert_eq!(r.on_packet(t, LegSide::A, addr(4000), &pkt(1)), None);
        r.set_signalled(LegSide::B, Some(SocketAddr::from(([0, 0, 0, 0], 5000))));
        assert_eq!(r.on_packet(t, LegSide::A, addr(4000), &pkt(2)), None);
        assert_eq!(r.leg(LegSide::A).stats().dropped, 4);
    }

    #[test]
    fn counts_telephone_events() {
        let mut r = Relay::new();
        let t = Instant::now();
        r.set_signalled(LegSide::B, Some(addr(5000)));
        let ev = write_rtp(101, true, 1, 160, 1, &[1, 0x0a, 0, 160]);
        assert!(r.on_packet(t, LegSide::A, addr(4000), &ev).is_some());
        assert_eq!(r.leg(LegSide::A).stats().dynamic_pt_packets, 1);
        assert_eq!(r.leg(LegSide::B).stats().packets_out, 1);
    }
}
