use super::*;
use crate::media::codec::{AudioCodec, G711};
use media_core::{detect_tone, ToneGenerator};
use std::time::Duration;

const A: &str = "127.0.0.1:4000";
const B: &str = "127.0.0.1:5000";

fn params(to: &str, law: G711) -> MediaParams {
    MediaParams {
        remote: Some(to.parse().unwrap()),
        codec: AudioCodec {
            law,
            pt: law.static_pt(),
        },
        dtmf_pt: Some(101),
        send: true,
        recv: true,
    }
}

/// Two sessions wired back to back with a 30 ms link, each sending its own tone.
struct Pair {
    a: RtpSession,
    b: RtpSession,
    tone_a: ToneGenerator,
    tone_b: ToneGenerator,
    now: Instant,
    in_flight: Vec<(Instant, bool, Vec<u8>)>,
    heard_a: Vec<i16>,
    heard_b: Vec<i16>,
    events_b: Vec<MediaEvent>,
}

impl Pair {
    fn new(law: G711) -> Pair {
        let mut a = RtpSession::new(0xa, 100, 1000, JitterConfig::default());
        let mut b = RtpSession::new(0xb, 60000, u32::MAX - 500, JitterConfig::default());
        a.set_params(Some(params(B, law)));
        b.set_params(Some(params(A, law)));
        Pair {
            a,
            b,
            tone_a: ToneGenerator::new(1000.0, 8000),
            tone_b: ToneGenerator::new(2000.0, 8000),
            now: Instant::now(),
            in_flight: Vec::new(),
            heard_a: Vec::new(),
            heard_b: Vec::new(),
            events_b: Vec::new(),
        }
    }

    /// Runs `ticks` media ticks of 20 ms.
    fn run(&mut self, ticks: usize) {
        for _ in 0..ticks {
            self.now += Duration::from_millis(20);
            let now = self.now;
            for (at, to_b, data) in std::mem::take(&mut self.in_flight) {
                if at > now {
                    self.in_flight.push((at, to_b, data));
                } else if to_b {
                    self.b.receive(at, A.parse().unwrap(), &data);
                } else {
                    self.a.receive(at, B.parse().unwrap(), &data);
                }
            }
            self.a.send_audio(now, &self.tone_a.frame(FRAME_SAMPLES));
            self.b.send_audio(now, &self.tone_b.frame(FRAME_SAMPLES));
            while let Some(t) = self.a.poll_transmit() {
                assert_eq!(t.to, B.parse().unwrap());
                self.in_flight
                    .push((now + Duration::from_millis(30), true, t.data));
            }
            while let Some(t) = self.b.poll_transmit() {
                self.in_flight
                    .push((now + Duration::from_millis(30), false, t.data));
            }
            let mut out = [0i16; FRAME_SAMPLES];
            self.a.playout(now, &mut out);
            self.heard_a.extend_from_slice(&out);
            self.b.playout(now, &mut out);
            self.heard_b.extend_from_slice(&out);
            while let Some(e) = self.b.poll_event() {
                self.events_b.push(e);
            }
        }
    }
}

/// The share of the last `ticks` frames of `heard` in which `freq` dominates.
fn tone_share(heard: &[i16], ticks: usize, freq: f32) -> f64 {
    let tail = &heard[heard.len() - ticks * FRAME_SAMPLES..];
    let hits = tail
        .chunks(FRAME_SAMPLES)
        .filter(|c| detect_tone(c, &[1000.0, 2000.0]) == Some(freq))
        .count();
    hits as f64 / ticks as f64
}

fn silent(heard: &[i16], ticks: usize) -> bool {
    heard[heard.len() - ticks * FRAME_SAMPLES..]
        .iter()
        .all(|s| s.abs() < 50)
}

#[test]
fn each_side_hears_the_others_tone_in_both_laws() {
    for law in [G711::Pcmu, G711::Pcma] {
        let mut p = Pair::new(law);
        p.run(100);
        assert_eq!(tone_share(&p.heard_b, 90, 1000.0), 1.0, "{law:?}");
        assert_eq!(tone_share(&p.heard_a, 90, 2000.0), 1.0, "{law:?}");
        let s = p.b.stats();
        assert_eq!(s.sent, 100);
        assert!(s.received >= 98, "{s:?}");
        assert_eq!(s.jitter.late + s.jitter.lost, 0, "{s:?}");
    }
}

#[test]
fn opus_carries_the_tones_on_a_48khz_rtp_clock() {
    let mut p = Pair::new(G711::Opus);
    p.run(100);
    assert!(tone_share(&p.heard_b, 90, 1000.0) > 0.95, "B hears 1 kHz");
    assert!(tone_share(&p.heard_a, 90, 2000.0) > 0.95, "A hears 2 kHz");
    let s = p.b.stats();
    assert!(s.received >= 98, "{s:?}");
    assert_eq!(s.jitter.late + s.jitter.lost, 0, "{s:?}");
    // 30 ms link + the playout margin: the same latency as G.711 (timestamps scaled).
    let latency = s.jitter.mean_latency();
    assert!(latency < Duration::from_millis(45), "{latency:?}");
    // Timestamps advance 960 per 20 ms packet.
    p.a.send_audio(p.now, &[0; FRAME_SAMPLES]);
    p.a.send_audio(p.now, &[0; FRAME_SAMPLES]);
    let t1 = p.a.poll_transmit().unwrap();
    let t2 = p.a.poll_transmit().unwrap();
    let (h1, _) = parse_rtp(&t1.data).unwrap();
    let (h2, _) = parse_rtp(&t2.data).unwrap();
    assert_eq!(h2.timestamp.wrapping_sub(h1.timestamp), 960);
    assert_eq!(h1.payload_type, 111);
}

#[test]
fn hold_silences_both_ways_and_resume_restores() {
    let mut p = Pair::new(G711::Pcmu);
    p.run(50);
    // A holds: sends nothing, plays nothing; B (answering sendonly with recvonly) stops
    // sending too.
    let mut held = params(B, G711::Pcmu);
    held.send = false;
    held.recv = false;
    p.a.set_params(Some(held));
    let mut b_side = params(A, G711::Pcmu);
    b_side.send = false;
    p.b.set_params(Some(b_side));
    let sent = p.a.stats().sent;
    p.run(50);
    assert_eq!(p.a.stats().sent, sent);
    assert!(silent(&p.heard_a, 40));
    assert!(silent(&p.heard_b, 40));
    p.a.set_params(Some(params(B, G711::Pcmu)));
    p.b.set_params(Some(params(A, G711::Pcmu)));
    p.run(50);
    assert!(tone_share(&p.heard_b, 40, 1000.0) > 0.95);
    assert!(tone_share(&p.heard_a, 40, 2000.0) > 0.95);
}

#[test]
fn mute_sends_silence() {
    let mut p = Pair::new(G711::Pcma);
    p.run(20);
    p.a.set_muted(true);
    assert!(p.a.muted());
    let sent = p.a.stats().sent;
    p.run(30);
    assert_eq!(p.a.stats().sent, sent + 30, "the stream keeps going");
    assert!(silent(&p.heard_b, 20));
    p.a.set_muted(false);
    p.run(30);
    assert!(tone_share(&p.heard_b, 20, 1000.0) > 0.95);
}

#[test]
fn digits_arrive_once_each_in_order() {
    let mut p = Pair::new(G711::Pcmu);
    p.run(10);
    p.a.queue_dtmf("12#9*").unwrap();
    p.run(100);
    let digits: Vec<char> = p
        .events_b
        .iter()
        .map(|e| match e {
            MediaEvent::Dtmf(d) => *d,
        })
        .collect();
    assert_eq!(digits, vec!['1', '2', '#', '9', '*']);
    assert_eq!(p.a.stats().dtmf_sent, 5);
    assert_eq!(p.b.stats().dtmf_received, 5);
    // Audio came back after the digits.
    assert!(tone_share(&p.heard_b, 10, 1000.0) == 1.0);
    assert_eq!(p.a.queue_dtmf("x"), Err(MediaError::NotADigit('x')));
    assert_eq!(p.a.queue_dtmf(&"1".repeat(65)), Err(MediaError::QueueFull));
    let mut plain = RtpSession::new(1, 1, 1, JitterConfig::default());
    let mut no_dtmf = params(B, G711::Pcmu);
    no_dtmf.dtmf_pt = None;
    plain.set_params(Some(no_dtmf));
    assert_eq!(plain.queue_dtmf("1"), Err(MediaError::NoTelephoneEvent));
}

#[test]
fn garbage_and_unknown_payloads_are_ignored() {
    let mut s = RtpSession::new(1, 1, 1, JitterConfig::default());
    let now = Instant::now();
    let from = A.parse().unwrap();
    s.receive(now, from, b"garbage");
    s.set_params(Some(params(A, G711::Pcmu)));
    s.receive(now, from, &[0x80, 200, 0, 1, 0, 0, 0, 0]);
    s.receive(now, from, &write_rtp(13, false, 1, 1, 1, &[0; 1]));
    s.receive(now, from, &write_rtp(101, false, 1, 1, 1, &[0; 2]));
    s.receive(now, from, &[0x40; 20]);
    assert_eq!(s.stats().ignored, 5);
    assert_eq!(s.stats().received, 0);
    // No media negotiated: nothing is sent and silence is played.
    let mut idle = RtpSession::new(1, 1, 1, JitterConfig::default());
    idle.send_audio(now, &[1000; FRAME_SAMPLES]);
    assert!(idle.poll_transmit().is_none());
    let mut out = [1i16; FRAME_SAMPLES];
    assert_eq!(idle.playout(now, &mut out), Playout::Silence);
    assert!(out.iter().all(|s| *s == 0));
}
