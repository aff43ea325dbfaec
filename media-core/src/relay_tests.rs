use super::*;
use crate::rtp::write_rtp;

fn addr(p: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], p))
}

fn pkt(seq: u16) -> Vec<u8> {
    write_rtp(0, false, seq, u32::from(seq) * 160, 0x1234, &[0xff; 160])
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn fwd(to_leg: LegSide, port: u16) -> Option<Forward> {
    Some(Forward {
        to_leg,
        dest: addr(port),
    })
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
        fwd(LegSide::B, 5000)
    );
    assert_eq!(r.leg(LegSide::A).latched(), Some(addr(4444)));
    // B's packets go to where A really is, not to its SDP.
    assert_eq!(
        r.on_packet(t, LegSide::B, addr(5555), &pkt(1)),
        fwd(LegSide::A, 4444)
    );
    // ...and A's next packets to where B really is.
    assert_eq!(
        r.on_packet(t, LegSide::A, addr(4444), &pkt(2)),
        fwd(LegSide::B, 5555)
    );
    let s = r.stats();
    assert_eq!(
        (
            s.a.packets_in,
            s.a.packets_out,
            s.b.packets_in,
            s.b.packets_out
        ),
        (2, 1, 1, 2)
    );
    assert_eq!((s.a.bytes_in, s.b.bytes_out), (2 * 172, 2 * 172));
}

#[test]
fn rtcp_is_relayed_like_rtp() {
    let mut r = Relay::new();
    let t = Instant::now();
    r.set_signalled(LegSide::B, Some(addr(5000)));
    let rr = [0x80, 201, 0, 1, 0, 0, 0, 9];
    assert_eq!(
        r.on_packet(t, LegSide::A, addr(4000), &rr),
        fwd(LegSide::B, 5000)
    );
    assert_eq!(r.leg(LegSide::A).latched(), Some(addr(4000)));
}

#[test]
fn foreign_source_cannot_hijack_a_live_stream_but_can_take_over_after_silence() {
    let mut r = Relay::new();
    let t = Instant::now();
    r.set_signalled(LegSide::B, Some(addr(5000)));
    r.on_packet(t, LegSide::A, addr(4000), &pkt(1));
    // The injector keeps sending while the real peer keeps talking: never accepted.
    for i in 1..200u16 {
        let now = t + ms(20 * u64::from(i));
        assert_eq!(r.on_packet(now, LegSide::A, addr(6666), &pkt(i)), None);
        assert!(r.on_packet(now, LegSide::A, addr(4000), &pkt(i)).is_some());
    }
    assert_eq!(r.leg(LegSide::A).latched(), Some(addr(4000)));
    assert_eq!(r.stats().a.foreign, 199);
    // The real peer falls silent (changed network): just under 2 s is not enough.
    let last = t + ms(20 * 199);
    assert_eq!(
        r.on_packet(
            last + RELATCH_AFTER - ms(1),
            LegSide::A,
            addr(6666),
            &pkt(1)
        ),
        None
    );
    let later = last + RELATCH_AFTER;
    assert!(r
        .on_packet(later, LegSide::A, addr(6666), &pkt(3))
        .is_some());
    assert_eq!(r.leg(LegSide::A).latched(), Some(addr(6666)));
    assert_eq!(r.stats().a.relatches, 1);
    // Now the old source is the foreign one.
    assert_eq!(
        r.on_packet(later + ms(20), LegSide::A, addr(4000), &pkt(4)),
        None
    );
}

#[test]
fn signalled_source_reclaims_a_latch_won_by_a_stray_sender() {
    let mut r = Relay::new();
    let t = Instant::now();
    r.set_signalled(LegSide::A, Some(addr(4000)));
    r.set_signalled(LegSide::B, Some(addr(5000)));
    // A stray sender beats the real (non-NATed) peer to the socket.
    r.on_packet(t, LegSide::A, addr(6666), &pkt(1));
    assert_eq!(r.leg(LegSide::A).latched(), Some(addr(6666)));
    assert!(r
        .on_packet(t + ms(5), LegSide::A, addr(4000), &pkt(1))
        .is_some());
    assert_eq!(r.leg(LegSide::A).latched(), Some(addr(4000)));
    assert_eq!(
        r.on_packet(t + ms(10), LegSide::A, addr(6666), &pkt(2)),
        None
    );
    assert_eq!(
        r.on_packet(t + ms(15), LegSide::B, addr(5000), &pkt(1)),
        fwd(LegSide::A, 4000)
    );
}

#[test]
fn new_sdp_address_forgets_the_latch_but_hold_keeps_it() {
    let mut r = Relay::new();
    let t = Instant::now();
    r.set_signalled(LegSide::A, Some(addr(4000)));
    r.set_signalled(LegSide::B, Some(addr(5000)));
    r.on_packet(t, LegSide::A, addr(4444), &pkt(1));
    // Hold (RFC 2543 style) then resume at the same address: latch kept, nothing sent on hold.
    let hold = SocketAddr::from(([0, 0, 0, 0], 4000));
    r.set_signalled(LegSide::A, Some(hold));
    assert_eq!(r.leg(LegSide::A).destination(), None);
    assert_eq!(
        r.on_packet(t + ms(20), LegSide::B, addr(5000), &pkt(1)),
        None
    );
    r.set_signalled(LegSide::A, Some(addr(4000)));
    assert_eq!(
        r.on_packet(t + ms(40), LegSide::B, addr(5000), &pkt(2)),
        fwd(LegSide::A, 4444)
    );
    // Unknown (no SDP) keeps the latch too.
    r.set_signalled(LegSide::A, None);
    assert_eq!(r.leg(LegSide::A).destination(), Some(addr(4444)));
    r.set_signalled(LegSide::A, Some(addr(4000)));
    // The phone moved: new SDP address, the next source latches at once.
    r.set_signalled(LegSide::A, Some(addr(7000)));
    assert_eq!(r.leg(LegSide::A).latched(), None);
    assert_eq!(
        r.on_packet(t + ms(60), LegSide::B, addr(5000), &pkt(3)),
        fwd(LegSide::A, 7000)
    );
    assert!(r
        .on_packet(t + ms(80), LegSide::A, addr(7777), &pkt(1))
        .is_some());
    assert_eq!(r.leg(LegSide::A).latched(), Some(addr(7777)));
    assert_eq!(r.stats().a.relatches, 0);
}

#[test]
fn garbage_and_nowhere_to_send_are_dropped_and_counted() {
    let mut r = Relay::new();
    let t = Instant::now();
    assert_eq!(r.on_packet(t, LegSide::A, addr(4000), b"hello"), None);
    assert_eq!(r.on_packet(t, LegSide::A, addr(4000), &[]), None);
    assert_eq!(r.on_packet(t, LegSide::A, addr(4000), &[0x80; 11]), None);
    // Garbage does not latch.
    assert_eq!(r.leg(LegSide::A).latched(), None);
    // Nothing known about B yet.
    assert_eq!(r.on_packet(t, LegSide::A, addr(4000), &pkt(1)), None);
    r.set_signalled(LegSide::B, Some(SocketAddr::from(([0, 0, 0, 0], 5000))));
    assert_eq!(r.on_packet(t, LegSide::A, addr(4000), &pkt(2)), None);
    r.set_signalled(LegSide::B, Some(addr(0)));
    assert_eq!(r.on_packet(t, LegSide::A, addr(4000), &pkt(3)), None);
    let s = r.stats().a;
    assert_eq!(
        (s.dropped, s.invalid, s.foreign, s.packets_in),
        (6, 3, 0, 3)
    );
    assert_eq!(r.stats().b.packets_out, 0);
}

#[test]
fn counts_telephone_events_by_negotiated_payload_type() {
    let mut r = Relay::new();
    let t = Instant::now();
    r.set_signalled(LegSide::B, Some(addr(5000)));
    let ev101 = write_rtp(101, true, 1, 160, 1, &[1, 0x0a, 0, 160]);
    let ev96 = write_rtp(96, true, 2, 320, 1, &[1, 0x0a, 0, 160]);
    assert!(r.on_packet(t, LegSide::A, addr(4000), &ev101).is_some());
    assert!(r.on_packet(t, LegSide::A, addr(4000), &ev96).is_some());
    assert_eq!(r.stats().a.telephone_events, 1);
    r.set_telephone_event_pt(LegSide::A, Some(96));
    assert!(r.on_packet(t, LegSide::A, addr(4000), &ev96).is_some());
    assert!(r.on_packet(t, LegSide::A, addr(4000), &pkt(3)).is_some());
    assert_eq!(r.stats().a.telephone_events, 2);
    assert_eq!(r.stats().b.packets_out, 4);
}

#[test]
fn ipv6_peers_and_hold_work() {
    let mut r = Relay::new();
    let t = Instant::now();
    let v6: SocketAddr = "[2001:db8::1]:5000".parse().unwrap();
    r.set_signalled(LegSide::B, Some(v6));
    assert_eq!(
        r.on_packet(t, LegSide::A, addr(4000), &pkt(1)),
        Some(Forward {
            to_leg: LegSide::B,
            dest: v6
        })
    );
    r.set_signalled(LegSide::B, Some("[::]:5000".parse().unwrap()));
    assert_eq!(r.on_packet(t, LegSide::A, addr(4000), &pkt(2)), None);
}
