use super::*;

#[test]
fn plain_packet_roundtrips() {
    let p = write_rtp(8, true, 7, 1600, 42, &[1, 2, 3]);
    let (h, payload) = parse_rtp(&p).unwrap();
    assert_eq!(
        (
            h.version,
            h.payload_type,
            h.marker,
            h.sequence,
            h.timestamp,
            h.ssrc
        ),
        (2, 8, true, 7, 1600, 42)
    );
    assert_eq!((h.header_len, h.csrc_count), (12, 0));
    assert_eq!(payload, &[1, 2, 3]);
    assert_eq!(h.payload(&p), &[1, 2, 3]);
    assert_eq!(RtpHeader::parse(&p), Ok(h));
}

#[test]
fn csrcs_extension_and_padding_are_skipped() {
    let p = RtpPacketBuilder::new(0)
        .sequence(65535)
        .timestamp(u32::MAX)
        .ssrc(9)
        .csrc(1)
        .csrc(2)
        .extension(0xbede, &[1, 2, 3, 4, 5])
        .padding(3)
        .build(&[0xaa; 160]);
    let (h, payload) = parse_rtp(&p).unwrap();
    assert_eq!(h.csrc_count, 2);
    assert!(h.extension && h.padding);
    assert_eq!(h.header_len, 12 + 8 + 4 + 8);
    assert_eq!(payload, &[0xaa; 160][..]);
    assert_eq!(h.payload(&p), payload);
}

#[test]
fn short_and_wrong_version_are_rejected() {
    let p = write_rtp(0, false, 1, 2, 3, &[]);
    assert_eq!(
        parse_rtp(&p).map(|(h, b)| (h.header_len, b.len())),
        Ok((12, 0))
    );
    assert_eq!(parse_rtp(&p[..11]), Err(RtpError::TooShort(11)));
    assert_eq!(parse_rtp(&[]), Err(RtpError::TooShort(0)));
    let mut v1 = p.clone();
    v1[0] = 0x40;
    assert_eq!(parse_rtp(&v1), Err(RtpError::BadVersion(1)));
}

#[test]
fn bad_csrc_extension_and_padding_lengths_are_rejected() {
    let p = write_rtp(0, false, 1, 2, 3, &[0; 8]);
    let mut csrc = p.clone();
    csrc[0] |= 0x0f;
    assert_eq!(
        parse_rtp(&csrc),
        Err(RtpError::BadCsrcCount { count: 15, len: 20 })
    );
    let mut ext = p.clone();
    ext[0] |= 0x10;
    ext[14] = 0;
    ext[15] = 9;
    assert_eq!(
        parse_rtp(&ext),
        Err(RtpError::BadExtension { words: 9, len: 20 })
    );
    let mut ext_hdr = write_rtp(0, false, 1, 2, 3, &[0; 2]);
    ext_hdr[0] |= 0x10;
    assert_eq!(
        parse_rtp(&ext_hdr),
        Err(RtpError::BadExtension { words: 0, len: 14 })
    );
    let mut pad = p.clone();
    pad[0] |= 0x20;
    *pad.last_mut().unwrap() = 200;
    assert_eq!(parse_rtp(&pad), Err(RtpError::BadPadding(200)));
    *pad.last_mut().unwrap() = 0;
    assert_eq!(parse_rtp(&pad), Err(RtpError::BadPadding(0)));
}

#[test]
fn rtcp_is_told_apart_from_rtp() {
    assert!(is_rtcp(&[0x80, 200, 0, 6, 0, 0, 0, 1]));
    assert!(is_rtcp(&[0x81, 201, 0, 7, 0, 0, 0, 1, 0, 0]));
    assert!(is_rtcp(&[0x80, 204, 0, 1, 0, 0, 0, 1]));
    assert!(!is_rtcp(&[0x80, 205, 0, 1, 0, 0, 0, 1]));
    assert!(!is_rtcp(&[0x80, 200, 0, 1]));
    assert!(!is_rtcp(&[0x40, 200, 0, 1, 0, 0, 0, 1]));
    assert!(!is_rtcp(&write_rtp(0, false, 1, 2, 3, &[0; 160])));
    // PT 72..=76 with the marker bit set collide by design (RFC 5761 §4): RTCP wins.
    assert!(is_rtcp(&write_rtp(72, true, 1, 2, 3, &[])));
}

#[test]
fn no_panic_on_any_short_input() {
    let full = RtpPacketBuilder::new(96)
        .csrc(7)
        .extension(1, &[9; 8])
        .padding(4)
        .build(&[5; 20]);
    let mut seed = 0x1234_5678u32;
    for len in 0..=full.len() {
        let _ = parse_rtp(&full[..len]);
        let _ = is_rtcp(&full[..len]);
        let mut noisy = full[..len].to_vec();
        for b in noisy.iter_mut() {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            *b = seed as u8;
        }
        if let Ok((h, payload)) = parse_rtp(&noisy) {
            assert!(h.header_len + payload.len() <= noisy.len());
        }
    }
}
