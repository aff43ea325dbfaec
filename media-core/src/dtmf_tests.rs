use super::*;
use crate::rtp::{parse_rtp, write_rtp};

const PT: u8 = 101;

fn feed(d: &mut DtmfDetector, packet: &[u8]) {
    let (h, payload) = parse_rtp(packet).unwrap();
    d.on_packet(&h, payload).unwrap();
}

fn drain(d: &mut DtmfDetector) -> String {
    std::iter::from_fn(|| d.poll_digit())
        .map(|x| x.digit)
        .collect()
}

#[test]
fn event_payload_parses_and_serialises() {
    let ev = DtmfEvent::parse(&[11, 0x8a, 0x03, 0x20]).unwrap();
    assert_eq!(
        ev,
        DtmfEvent {
            event: 11,
            end: true,
            volume: 10,
            duration: 800
        }
    );
    assert_eq!(ev.digit(), Some('#'));
    assert_eq!(ev.to_bytes(), [11, 0x8a, 0x03, 0x20]);
    // Reserved bit ignored, extra blocks ignored.
    let ev = DtmfEvent::parse(&[1, 0x4a, 0, 160, 9, 9, 9, 9]).unwrap();
    assert!(!ev.end && ev.volume == 10 && ev.duration == 160);
    assert_eq!(DtmfEvent::parse(&[1, 2, 3]), Err(DtmfError::TooShort(3)));
}

#[test]
fn event_codes_map_to_chars_and_back() {
    let all: String = (0..=15).filter_map(event_to_char).collect();
    assert_eq!(all, "0123456789*#ABCD");
    assert_eq!(event_to_char(16), None);
    for (code, c) in all.chars().enumerate() {
        assert_eq!(char_to_event(c), Some(code as u8));
    }
    assert_eq!(char_to_event('d'), Some(15));
    assert_eq!(char_to_event('x'), None);
}

#[test]
fn sender_produces_rfc4733_sequence() {
    let mut s = DtmfSender::new(PT, 0xabc, 65534);
    let packets = s.digit_packets('5', 8000, 800).unwrap();
    // Updates at 160, 320, 480, 640, then three end packets at 800.
    assert_eq!(packets.len(), 4 + 3);
    let mut durations = Vec::new();
    for (i, p) in packets.iter().enumerate() {
        let (h, payload) = parse_rtp(&p.bytes).unwrap();
        let ev = DtmfEvent::parse(payload).unwrap();
        assert_eq!((h.payload_type, h.timestamp, h.ssrc), (PT, 8000, 0xabc));
        assert_eq!(h.marker, i == 0);
        assert_eq!(h.sequence, 65534u16.wrapping_add(i as u16));
        assert_eq!(ev.event, 5);
        assert_eq!(ev.end, i >= 4);
        assert_eq!(p.offset, Duration::from_millis(20 * i as u64));
        durations.push(ev.duration);
    }
    assert_eq!(durations, [160, 320, 480, 640, 800, 800, 800]);
    assert_eq!(s.next_sequence(), 5);
}

#[test]
fn sender_rejects_bad_input() {
    let mut s = DtmfSender::new(PT, 1, 1);
    assert_eq!(s.digit_packets('x', 0, 800), Err(DtmfError::NotADigit('x')));
    assert_eq!(s.digit_packets('1', 0, 0), Err(DtmfError::BadDuration(0)));
    assert_eq!(
        s.digit_packets('1', 0, 70_000),
        Err(DtmfError::BadDuration(70_000))
    );
    // A very short digit is just its end packets, the first with the marker.
    let p = s.digit_packets('1', 0, 100).unwrap();
    assert_eq!(p.len(), 3);
    assert!(parse_rtp(&p[0].bytes).unwrap().0.marker);
    assert_eq!(s.next_sequence(), 4);
}

#[test]
fn detector_reports_each_digit_once_despite_end_retransmissions() {
    let mut s = DtmfSender::new(PT, 7, 100);
    let mut d = DtmfDetector::new(PT);
    for (i, digit) in "123#".chars().enumerate() {
        for p in s.digit_packets(digit, 1000 + i as u32 * 2000, 800).unwrap() {
            feed(&mut d, &p.bytes);
        }
    }
    let got: Vec<_> = std::iter::from_fn(|| d.poll_digit()).collect();
    assert_eq!(got.iter().map(|x| x.digit).collect::<String>(), "123#");
    assert!(got
        .iter()
        .all(|x| x.ended && x.duration == 800 && x.ssrc == 7));
    assert_eq!(got[3].timestamp, 7000);
}

#[test]
fn same_digit_twice_is_two_presses() {
    let mut s = DtmfSender::new(PT, 7, 1);
    let mut d = DtmfDetector::new(PT);
    for ts in [0, 1600] {
        for p in s.digit_packets('9', ts, 480).unwrap() {
            feed(&mut d, &p.bytes);
        }
    }
    assert_eq!(drain(&mut d), "99");
}

#[test]
fn lost_end_packets_are_recovered_by_next_event_audio_or_flush() {
    let mut s = DtmfSender::new(PT, 7, 1);
    let mut d = DtmfDetector::new(PT);
    let first = s.digit_packets('4', 0, 800).unwrap();
    for p in &first[..4] {
        feed(&mut d, &p.bytes);
    }
    assert_eq!(drain(&mut d), "");
    for p in s.digit_packets('5', 4000, 800).unwrap() {
        feed(&mut d, &p.bytes);
    }
    let got: Vec<_> = std::iter::from_fn(|| d.poll_digit()).collect();
    assert_eq!(
        (got[0].digit, got[0].ended, got[0].duration),
        ('4', false, 640)
    );
    assert_eq!((got[1].digit, got[1].ended), ('5', true));
    // Late end packets of '4' do not bring it back.
    feed(&mut d, &first[5].bytes);
    assert_eq!(drain(&mut d), "");

    // Audio close to the event (sent alongside it) does not end it; audio well past does.
    let p = s.digit_packets('6', 8000, 800).unwrap();
    feed(&mut d, &p[0].bytes);
    feed(
        &mut d,
        &write_rtp(0, false, 500, 8000 + 320, 7, &[0xff; 160]),
    );
    assert_eq!(drain(&mut d), "");
    feed(
        &mut d,
        &write_rtp(0, false, 501, 8000 + 1600, 7, &[0xff; 160]),
    );
    assert_eq!(drain(&mut d), "6");
    for q in &p[1..] {
        feed(&mut d, &q.bytes);
    }
    assert_eq!(drain(&mut d), "");

    let p = s.digit_packets('7', 20000, 800).unwrap();
    feed(&mut d, &p[1].bytes);
    d.flush();
    d.flush();
    assert_eq!(drain(&mut d), "7");
}

#[test]
fn timestamp_wraparound_and_ssrc_change_start_new_events() {
    let mut s = DtmfSender::new(PT, 7, 1);
    let mut d = DtmfDetector::new(PT);
    for p in s.digit_packets('1', u32::MAX - 100, 800).unwrap() {
        feed(&mut d, &p.bytes);
    }
    for p in s.digit_packets('2', 2000, 800).unwrap() {
        feed(&mut d, &p.bytes);
    }
    // A new SSRC (re-INVITE, another phone) may reuse an older timestamp.
    let mut other = DtmfSender::new(PT, 8, 1);
    for p in other.digit_packets('3', 0, 800).unwrap() {
        feed(&mut d, &p.bytes);
    }
    assert_eq!(drain(&mut d), "123");
}

#[test]
fn non_digit_events_and_bad_payloads_are_not_reported() {
    let mut d = DtmfDetector::new(PT);
    let flash = write_rtp(PT, true, 1, 0, 7, &[16, 0x80, 0, 160]);
    feed(&mut d, &flash);
    let (h, _) = parse_rtp(&flash).unwrap();
    assert_eq!(d.on_packet(&h, &[1, 2]), Err(DtmfError::TooShort(2)));
    d.flush();
    assert_eq!(d.poll_digit(), None);
}
