//! What a call's media is after SDP offer/answer: where to send, which codec, which
//! telephone-event payload type, and which directions flow.

use super::codec::{AudioCodec, CLOCK_RATE, G711};
use sip_core::sdp::{self, Codec, LocalMedia, SessionDescription};
use std::net::SocketAddr;

/// Payload type we offer for RFC 4733 telephone events.
pub const TELEPHONE_EVENT_PT: u8 = 101;

/// Why a session description gives us no usable audio.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NegotiationError {
    /// No active `m=audio` stream over RTP/AVP(F).
    #[error("no active RTP audio stream")]
    NoAudio,
    /// The stream offers no G.711 variant we accept.
    #[error("no common codec")]
    NoCommonCodec,
}

/// The negotiated media of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaParams {
    /// Where the peer receives RTP (`None`: it announced no address, e.g. `c=0.0.0.0`).
    pub remote: Option<SocketAddr>,
    /// Codec in both directions.
    pub codec: AudioCodec,
    /// RFC 4733 payload type, when both sides have it.
    pub dtmf_pt: Option<u8>,
    /// We send audio.
    pub send: bool,
    /// We play what we receive.
    pub recv: bool,
}

impl MediaParams {
    /// Reads the peer's description (its answer to our offer, or its offer once we answered
    /// it with [`sdp::answer`] on [`local_media`]): the first active audio stream, the first
    /// of its codecs in `ours`, its telephone-event type, its direction. `local_hold`: we put
    /// the call on hold, so nothing flows either way.
    pub fn negotiate(
        remote: &SessionDescription,
        ours: &[G711],
        local_hold: bool,
    ) -> Result<MediaParams, NegotiationError> {
        let i = remote
            .media
            .iter()
            .position(|m| {
                m.port != 0
                    && m.media.eq_ignore_ascii_case("audio")
                    && (m.proto.eq_ignore_ascii_case("RTP/AVP")
                        || m.proto.eq_ignore_ascii_case("RTP/AVPF"))
            })
            .ok_or(NegotiationError::NoAudio)?;
        let codec = remote
            .rtpmap(i)
            .into_iter()
            .find_map(|(pt, name, clock, ch)| {
                G711::from_rtpmap(&name, clock, ch)
                    .filter(|l| ours.contains(l))
                    .map(|law| AudioCodec { law, pt })
            })
            .ok_or(NegotiationError::NoCommonCodec)?;
        // RFC 4733 events share the audio's clock: an Opus call has DTMF only with a
        // telephone-event/48000 (which we do not offer yet: our event sender counts 8 kHz).
        let dtmf_pt = remote
            .rtpmap(i)
            .into_iter()
            .find_map(|(pt, name, clock, _)| {
                (name.eq_ignore_ascii_case("telephone-event") && clock == codec.law.clock_rate())
                    .then_some(pt)
            });
        let remote_addr = match (remote.connection_address(i), remote.media_port(i)) {
            (Some(ip), Some(port)) if !ip.is_unspecified() && port != 0 => {
                Some(SocketAddr::new(ip, port))
            }
            _ => None,
        };
        let dir = remote.direction(i);
        Ok(MediaParams {
            remote: remote_addr,
            codec,
            dtmf_pt,
            send: dir.receives() && remote_addr.is_some() && !local_hold,
            recv: dir.sends() && !local_hold,
        })
    }
}

/// Our side of a negotiation: RTP at `rtp`, `codecs` in preference order plus
/// telephone-event, `sendonly` when we hold the call.
pub fn local_media(rtp: SocketAddr, codecs: &[G711], hold: bool, session_id: u64) -> LocalMedia {
    let mut local = LocalMedia::new(rtp.ip(), rtp.port(), session_id);
    local.codecs = codecs
        .iter()
        .map(|c| {
            let codec = Codec::new(c.static_pt(), c.name(), c.clock_rate(), c.channels());
            match c.fmtp() {
                Some(f) => codec.with_fmtp(f),
                None => codec,
            }
        })
        .collect();
    local
        .codecs
        .push(Codec::new(TELEPHONE_EVENT_PT, "telephone-event", CLOCK_RATE, 1).with_fmtp("0-16"));

    local.direction = if hold {
        sdp::Direction::SendOnly
    } else {
        sdp::Direction::SendRecv
    };
    local
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> SessionDescription {
        SessionDescription::parse(s).unwrap()
    }

    const OFFER: &str = "v=0\r\no=- 1 1 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\n\
        m=video 5000 RTP/AVP 96\r\nm=audio 4000 RTP/AVP 8 0 101\r\na=rtpmap:101 telephone-event/8000\r\n";

    #[test]
    fn picks_the_first_common_codec_and_dtmf() {
        let p = MediaParams::negotiate(&parse(OFFER), &[G711::Pcmu, G711::Pcma], false).unwrap();
        assert_eq!(
            p.codec,
            AudioCodec {
                law: G711::Pcma,
                pt: 8
            }
        );
        assert_eq!(p.dtmf_pt, Some(101));
        assert_eq!(p.remote, Some("10.0.0.2:4000".parse().unwrap()));
        assert!(p.send && p.recv);
        let p = MediaParams::negotiate(&parse(OFFER), &[G711::Pcmu], false).unwrap();
        assert_eq!(p.codec.law, G711::Pcmu);
        let no_dtmf = OFFER.replace(" 101", "");
        let p = MediaParams::negotiate(&parse(&no_dtmf), &[G711::Pcmu], false).unwrap();
        assert_eq!(p.dtmf_pt, None);
    }

    #[test]
    fn directions_and_hold() {
        let sendonly = parse(&format!("{OFFER}a=sendonly\r\n"));
        let p = MediaParams::negotiate(&sendonly, &[G711::Pcma], false).unwrap();
        assert!(!p.send && p.recv);
        let old_hold = parse(&OFFER.replace("c=IN IP4 10.0.0.2", "c=IN IP4 0.0.0.0"));
        let p = MediaParams::negotiate(&old_hold, &[G711::Pcma], false).unwrap();
        assert!(!p.send && p.remote.is_none());
        let p = MediaParams::negotiate(&parse(OFFER), &[G711::Pcma], true).unwrap();
        assert!(!p.send && !p.recv);
    }

    #[test]
    fn opus_from_its_rtpmap_with_events_at_its_clock() {
        let opus = "v=0\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 4000 RTP/AVP 96 0 101 97\r\n\
            a=rtpmap:96 opus/48000/2\r\na=fmtp:96 useinbandfec=1\r\na=rtpmap:101 telephone-event/8000\r\n\
            a=rtpmap:97 telephone-event/48000\r\n";
        let p = MediaParams::negotiate(&parse(opus), &[G711::Pcmu, G711::Opus], false).unwrap();
        assert_eq!(
            p.codec,
            AudioCodec {
                law: G711::Opus,
                pt: 96
            }
        );
        assert_eq!(p.dtmf_pt, Some(97));
        let p = MediaParams::negotiate(&parse(opus), &[G711::Pcmu], false).unwrap();
        assert_eq!((p.codec.law, p.dtmf_pt), (G711::Pcmu, Some(101)));
        let text = sdp::offer(&local_media(
            "127.0.0.1:30000".parse().unwrap(),
            &[G711::Opus, G711::Pcmu],
            false,
            1,
        ))
        .to_string();
        assert!(text.contains("m=audio 30000 RTP/AVP 111 0 101"), "{text}");
        assert!(text.contains("a=rtpmap:111 opus/48000/2"), "{text}");
        assert!(text.contains("a=fmtp:111 maxplaybackrate=8000"), "{text}");
    }

    #[test]
    fn refuses_what_we_cannot_play() {
        let opus = "v=0\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 4000 RTP/AVP 111\r\na=rtpmap:111 opus/48000/2\r\n";
        assert_eq!(
            MediaParams::negotiate(&parse(opus), &[G711::Pcmu], false),
            Err(NegotiationError::NoCommonCodec)
        );
        let rejected = "v=0\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 0 RTP/AVP 0\r\n";
        assert_eq!(
            MediaParams::negotiate(&parse(rejected), &[G711::Pcmu], false),
            Err(NegotiationError::NoAudio)
        );
    }

    #[test]
    fn our_offer_and_answer_round_trip() {
        let rtp: SocketAddr = "127.0.0.1:30000".parse().unwrap();
        let ours = local_media(rtp, &[G711::Pcma, G711::Pcmu], false, 42);
        let offer = sdp::offer(&ours);
        let text = offer.to_string();
        assert!(text.contains("m=audio 30000 RTP/AVP 8 0 101"), "{text}");
        assert!(!text.contains("opus"));
        // The peer answers our offer with PCMU only.
        let theirs = local_media("127.0.0.2:4000".parse().unwrap(), &[G711::Pcmu], false, 7);
        let answer = sdp::answer(&offer, &theirs).unwrap();
        let p = MediaParams::negotiate(&answer, &[G711::Pcma, G711::Pcmu], false).unwrap();
        assert_eq!(
            p.codec,
            AudioCodec {
                law: G711::Pcmu,
                pt: 0
            }
        );
        assert_eq!(p.dtmf_pt, Some(101));
        assert_eq!(p.remote, Some("127.0.0.2:4000".parse().unwrap()));
        let held = sdp::offer(&local_media(rtp, &[G711::Pcmu], true, 42));
        assert!(held.is_hold(0));
    }
}
