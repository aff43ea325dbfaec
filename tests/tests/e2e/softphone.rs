//! Two (and three) cti-core softphones through the real PBX: registration with digest,
//! calls both ways with tones detected at the other end, hold and resume, DTMF, call
//! waiting, a network change under the phone, and a bad receive network.

use centralino_e2e::softphone::{
    connect, heard, peak, played, registered, share, softphone, SECOND,
};
use centralino_e2e::Pbx;
use cti_core::media::codec::G711;
use cti_core::media::device::TestDevice;
use cti_core::media::netem::Impairment;
use cti_core::phone::{CallId, CallState, EndReason, PhoneEvent};
use std::sync::Arc;
use std::time::Duration;

/// Plays on for `d`, then returns what `call` played on `dev` during the last `tail`.
async fn listen(dev: &TestDevice, call: CallId, d: Duration, tail: usize) -> Vec<i16> {
    tokio::time::sleep(d).await;
    let n = played(dev, call);
    heard(dev, call, n.saturating_sub(tail))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_softphones_call_each_other_hold_resume_and_dtmf() {
    let pbx = Pbx::start();
    let dev_a = Arc::new(TestDevice::tone(1000.0));
    let dev_b = Arc::new(TestDevice::tone(2000.0));
    let (a, ev_a) = softphone(&pbx, "201", dev_a.clone(), |_| {}).await;
    // B prefers A-law. Answering A's offer (PCMU first) it takes the offerer's first
    // codec, PCMU; its own calls offer PCMA first, which A accepts.
    let (b, ev_b) = softphone(&pbx, "202", dev_b.clone(), |c| {
        c.codecs = vec![G711::Pcma, G711::Pcmu];
    })
    .await;
    registered(&a).await;
    registered(&b).await;
    pbx.wait_for("two locations", Duration::from_secs(10), |p| {
        p.locations().len() == 2
    });

    let (ca, cb) = connect(&a, &ev_a, "202", &b, &ev_b, &[]).await;
    // A's 1 kHz reaches B and B's 2 kHz reaches A, through the PBX's relay.
    let at_b = listen(&dev_b, cb, Duration::from_millis(1500), SECOND).await;
    let at_a = heard(&dev_a, ca, played(&dev_a, ca).saturating_sub(SECOND));
    assert!(
        share(&at_b, 1000.0) > 0.9,
        "B hears 1 kHz: {}",
        share(&at_b, 1000.0)
    );
    assert!(
        share(&at_a, 2000.0) > 0.9,
        "A hears 2 kHz: {}",
        share(&at_a, 2000.0)
    );
    let info = a.call_info(ca).await.unwrap();
    assert_eq!(info.remote.number, "202");
    assert_eq!(
        info.media.unwrap().codec.law,
        cti_core::media::codec::G711::Pcmu
    );

    // Hold silences both directions; resume brings them back.
    a.hold(ca).await.unwrap();
    ev_a.wait("A holds", Duration::from_secs(5), |e| {
        (*e == PhoneEvent::Hold {
            call: ca,
            local: true,
            remote: false,
        })
        .then_some(())
    })
    .await;
    ev_b.wait("B sees the hold", Duration::from_secs(5), |e| {
        (*e == PhoneEvent::Hold {
            call: cb,
            local: false,
            remote: true,
        })
        .then_some(())
    })
    .await;
    // Let the jitter buffers' concealment fade out, then listen.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let at_b = listen(&dev_b, cb, Duration::from_millis(1000), SECOND * 8 / 10).await;
    let at_a = heard(
        &dev_a,
        ca,
        played(&dev_a, ca).saturating_sub(SECOND * 8 / 10),
    );
    assert!(
        peak(&at_b) < 100,
        "B hears nothing on hold (peak {})",
        peak(&at_b)
    );
    assert!(
        peak(&at_a) < 100,
        "A hears nothing on hold (peak {})",
        peak(&at_a)
    );
    a.resume(ca).await.unwrap();
    ev_b.wait("B sees the resume", Duration::from_secs(5), |e| {
        (*e == PhoneEvent::Hold {
            call: cb,
            local: false,
            remote: false,
        })
        .then_some(())
    })
    .await;
    let at_b = listen(&dev_b, cb, Duration::from_millis(1200), SECOND).await;
    let at_a = heard(&dev_a, ca, played(&dev_a, ca).saturating_sub(SECOND));
    assert!(
        share(&at_b, 1000.0) > 0.9,
        "B hears 1 kHz again: {}",
        share(&at_b, 1000.0)
    );
    assert!(
        share(&at_a, 2000.0) > 0.9,
        "A hears 2 kHz again: {}",
        share(&at_a, 2000.0)
    );

    // DTMF both ways, relayed by the PBX as RFC 4733 events.
    a.send_dtmf(ca, "1234567890*#").await.unwrap();
    b.send_dtmf(cb, "9A").await.unwrap();
    ev_b.wait("B gets A's digits", Duration::from_secs(10), |_| {
        (ev_b.digits(cb) == "1234567890*#").then_some(())
    })
    .await;
    ev_a.wait("A gets B's digits", Duration::from_secs(10), |_| {
        (ev_a.digits(ca) == "9A").then_some(())
    })
    .await;
    assert!(a.send_dtmf(ca, "x").await.is_err());

    // Mute: B hears silence, then A's tone again.
    a.mute(ca, true).await.unwrap();
    let at_b = listen(&dev_b, cb, Duration::from_millis(800), SECOND / 2).await;
    assert!(peak(&at_b) < 100, "muted (peak {})", peak(&at_b));
    a.mute(ca, false).await.unwrap();
    let at_b = listen(&dev_b, cb, Duration::from_millis(800), SECOND / 2).await;
    assert!(share(&at_b, 1000.0) > 0.9);

    let stats = b.media_stats(cb).await.unwrap();
    eprintln!(
        "softphone B over loopback: {} packets in, jitter buffer mean added latency {:?} \
         (max {:?}, target {:?}), concealed {}, late {}",
        stats.received,
        stats.jitter.mean_latency(),
        stats.jitter.max_latency,
        stats.jitter.target_delay,
        stats.jitter.concealed,
        stats.jitter.late
    );

    b.hangup(cb).await.unwrap();
    ev_a.state(ca, CallState::Ended(EndReason::RemoteHangup))
        .await;
    ev_b.state(cb, CallState::Ended(EndReason::LocalHangup))
        .await;
    let cdrs = pbx.closed_cdrs(1);
    assert_eq!(cdrs[0]["status"], "OK");
    assert_eq!(cdrs[0]["caller"], "201");
    assert_eq!(cdrs[0]["answered_by"], "202");

    // And the other way round, B calling A, refused then accepted.
    let out = b.call("201").await.unwrap();
    let inc = ev_a.incoming(&[]).await;
    a.reject(inc).await.unwrap();
    ev_b.wait("B refused", Duration::from_secs(10), |e| match e {
        PhoneEvent::CallState {
            call,
            state: CallState::Ended(EndReason::Refused { status, .. }),
        } if *call == out => Some(*status),
        _ => None,
    })
    .await;
    let (cb2, ca2) = connect(&b, &ev_b, "201", &a, &ev_a, &[inc]).await;
    let at_a = listen(&dev_a, ca2, Duration::from_millis(1200), SECOND).await;
    assert!(share(&at_a, 2000.0) > 0.9);
    let at_b = heard(&dev_b, cb2, played(&dev_b, cb2).saturating_sub(SECOND));
    assert!(share(&at_b, 1000.0) > 0.9);
    let law = a
        .call_info(ca2)
        .await
        .and_then(|i| i.media)
        .map(|m| m.codec.law);
    assert_eq!(law, Some(G711::Pcma));
    a.hangup(ca2).await.unwrap();
    ev_b.state(cb2, CallState::Ended(EndReason::RemoteHangup))
        .await;
    a.stop().await;
    b.stop().await;
    pbx.wait_for("both unregistered", Duration::from_secs(10), |p| {
        p.locations().is_empty()
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_call_waits_while_the_first_is_up() {
    let pbx = Pbx::start();
    let dev_a = Arc::new(TestDevice::tone(1000.0));
    let dev_b = Arc::new(TestDevice::tone(2000.0));
    let dev_c = Arc::new(TestDevice::tone(440.0));
    let (a, ev_a) = softphone(&pbx, "201", dev_a.clone(), |_| {}).await;
    let (b, ev_b) = softphone(&pbx, "202", dev_b.clone(), |_| {}).await;
    let (c, ev_c) = softphone(&pbx, "203", dev_c.clone(), |_| {}).await;
    for p in [&a, &b, &c] {
        registered(p).await;
    }
    let (ca, cb1) = connect(&a, &ev_a, "202", &b, &ev_b, &[]).await;
    // C calls B while B talks to A: B's phone rings a second line.
    let cc = c.call("202").await.unwrap();
    let cb2 = ev_b.incoming(&[cb1]).await;
    ev_c.state(cc, CallState::Ringing).await;
    b.hold(cb1).await.unwrap();
    ev_a.wait("A held by B", Duration::from_secs(5), |e| {
        (*e == PhoneEvent::Hold {
            call: ca,
            local: false,
            remote: true,
        })
        .then_some(())
    })
    .await;
    b.answer(cb2).await.unwrap();
    ev_c.state(cc, CallState::Connected).await;
    let at_b2 = listen(&dev_b, cb2, Duration::from_millis(1200), SECOND).await;
    assert!(share(&at_b2, 440.0) > 0.9, "B hears C");
    let at_c = heard(&dev_c, cc, played(&dev_c, cc).saturating_sub(SECOND));
    assert!(share(&at_c, 2000.0) > 0.9, "C hears B");
    let at_a = heard(
        &dev_a,
        ca,
        played(&dev_a, ca).saturating_sub(SECOND * 8 / 10),
    );
    assert!(peak(&at_a) < 100, "A, on hold, hears nothing");
    // B ends with C and goes back to A.
    b.hangup(cb2).await.unwrap();
    ev_c.state(cc, CallState::Ended(EndReason::RemoteHangup))
        .await;
    b.resume(cb1).await.unwrap();
    let at_b1 = listen(&dev_b, cb1, Duration::from_millis(1200), SECOND).await;
    assert!(share(&at_b1, 1000.0) > 0.9, "B hears A again");
    a.hangup(ca).await.unwrap();
    ev_b.state(cb1, CallState::Ended(EndReason::RemoteHangup))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_socket_closed_under_the_phone_is_replaced_and_the_next_call_works() {
    let pbx = Pbx::start();
    let dev_a = Arc::new(TestDevice::tone(1000.0));
    let dev_b = Arc::new(TestDevice::tone(2000.0));
    let (a, ev_a) = softphone(&pbx, "201", dev_a.clone(), |_| {}).await;
    let (b, ev_b) = softphone(&pbx, "202", dev_b.clone(), |_| {}).await;
    registered(&a).await;
    registered(&b).await;
    let source_of = |p: &Pbx, acc: i64| {
        p.locations()
            .iter()
            .find(|l| l["account_id"] == acc)
            .and_then(|l| l["source"].as_str().map(str::to_string))
    };
    let old = a.local_addr();
    pbx.wait_for("201's location", Duration::from_secs(10), |p| {
        source_of(p, 1) == Some(old.to_string())
    });

    // The socket dies while a registration is under way.
    a.break_sip_socket().await.unwrap();
    a.register().await.unwrap();
    let started = std::time::Instant::now();
    let new = ev_a
        .wait("a new socket", Duration::from_secs(5), |e| match e {
            PhoneEvent::NetworkChanged { local } => Some(*local),
            _ => None,
        })
        .await;
    assert_ne!(new, old);
    assert!(a.wait_registered(Duration::from_secs(5)).await);
    pbx.wait_for("201 at its new address", Duration::from_secs(5), |p| {
        source_of(p, 1) == Some(new.to_string())
    });
    eprintln!(
        "re-registered {:?} after the socket broke",
        started.elapsed()
    );

    // The next call reaches it at the new address, with audio.
    let (cb, ca) = connect(&b, &ev_b, "201", &a, &ev_a, &[]).await;
    let at_a = listen(&dev_a, ca, Duration::from_millis(1200), SECOND).await;
    let at_b = heard(&dev_b, cb, played(&dev_b, cb).saturating_sub(SECOND));
    assert!(share(&at_a, 2000.0) > 0.9);
    assert!(share(&at_b, 1000.0) > 0.9);
    b.hangup(cb).await.unwrap();
    ev_a.state(ca, CallState::Ended(EndReason::RemoteHangup))
        .await;

    // The operating system's "network changed" hook does the same.
    a.network_changed().await.unwrap();
    pbx.wait_for("201 moved again", Duration::from_secs(5), |p| {
        source_of(p, 1) == Some(a.local_addr().to_string()) && a.local_addr() != new
    });
    let (ca, cb) = connect(&a, &ev_a, "202", &b, &ev_b, &[]).await;
    let at_b = listen(&dev_b, cb, Duration::from_millis(1200), SECOND).await;
    assert!(share(&at_b, 1000.0) > 0.9);
    a.hangup(ca).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tone_survives_five_percent_loss_and_40ms_jitter() {
    let pbx = Pbx::start();
    let dev_a = Arc::new(TestDevice::tone(1000.0));
    let dev_b = Arc::new(TestDevice::tone(2000.0));
    let (a, ev_a) = softphone(&pbx, "201", dev_a.clone(), |_| {}).await;
    let (b, ev_b) = softphone(&pbx, "202", dev_b.clone(), |c| {
        c.rx_impairment = Some(Impairment {
            loss: 0.05,
            jitter: Duration::from_millis(40),
            seed: 42,
        });
    })
    .await;
    registered(&a).await;
    registered(&b).await;
    let (ca, cb) = connect(&a, &ev_a, "202", &b, &ev_b, &[]).await;
    let at_b = listen(&dev_b, cb, Duration::from_secs(6), 5 * SECOND).await;
    let s = b.media_stats(cb).await.unwrap();
    eprintln!(
        "5% loss + 40 ms jitter through the PBX: 1 kHz in {:.1}% of B's 20 ms frames; \
         jitter buffer: mean added latency {:?}, max {:?}, target {:?}; {} received, \
         {} lost, {} late, {} concealed, {} skipped, {} stretched",
        100.0 * share(&at_b, 1000.0),
        s.jitter.mean_latency(),
        s.jitter.max_latency,
        s.jitter.target_delay,
        s.jitter.received,
        s.jitter.lost,
        s.jitter.late,
        s.jitter.concealed,
        s.jitter.skipped,
        s.jitter.stretched
    );
    assert!(share(&at_b, 1000.0) > 0.9, "{}", share(&at_b, 1000.0));
    assert!(s.jitter.lost > 0, "the loss was applied: {s:?}");
    assert!(s.jitter.target_delay >= Duration::from_millis(25), "{s:?}");
    a.hangup(ca).await.unwrap();
}
