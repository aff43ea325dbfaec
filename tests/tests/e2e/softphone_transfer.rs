//! Transfer by REFER between cti-core softphones through the real PBX: the PBX answers the
//! REFER itself (202, NOTIFY sipfrag), runs its blind or attended transfer and ends the
//! transferor's leg; the two remaining phones then hear each other (tone detection), and
//! the record's steps close BLINDXFER / ATXFER as the CTI-driven transfers do.

use centralino_e2e::softphone::{
    connect, heard, played, registered, share, softphone, Events, SECOND,
};
use centralino_e2e::Pbx;
use cti_core::media::device::TestDevice;
use cti_core::phone::{CallId, CallState, EndReason, PhoneEvent, TransferState};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// The last second `call` played on `dev`, after `d` more of playing.
/// Waits until the last second `dev` heard on `call` is mostly `hz` (after at least `d`), and
/// fails with the share heard when it is not so within 10 s. Polling rather than one sample:
/// on a loaded machine a late packet burst can spoil one second without the path being wrong.
async fn hears(dev: &TestDevice, call: CallId, hz: f32, d: Duration, what: &str) {
    tokio::time::sleep(d).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let s = share(
            &heard(dev, call, played(dev, call).saturating_sub(SECOND)),
            hz,
        );
        if s > 0.9 {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{what}: {s}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The transfer states `call` went through.
fn transfer_states(ev: &Events, call: CallId) -> Vec<TransferState> {
    ev.all()
        .into_iter()
        .filter_map(|e| match e {
            PhoneEvent::Transfer { call: c, state } if c == call => Some(state),
            _ => None,
        })
        .collect()
}

fn steps(record: &Value) -> Vec<(String, String)> {
    record["details"]
        .as_array()
        .map(|d| {
            d.iter()
                .map(|d| {
                    (
                        d["detail_destination_id"]
                            .as_str()
                            .unwrap_or("")
                            .to_string(),
                        d["detail_exit_cause"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn pair(a: &str, b: &str) -> (String, String) {
    (a.to_string(), b.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blind_transfer_by_refer_connects_the_caller_to_the_target() {
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
    let (ca, cb) = connect(&a, &ev_a, "202", &b, &ev_b, &[]).await;
    hears(
        &dev_a,
        ca,
        2000.0,
        Duration::from_millis(1200),
        "A hears B first",
    )
    .await;

    // B sends A to C by REFER.
    b.transfer(cb, "203").await.unwrap();
    ev_b.state(cb, CallState::Ended(EndReason::Transferred))
        .await;
    let states = transfer_states(&ev_b, cb);
    assert!(states.contains(&TransferState::Succeeded), "{states:?}");
    let cc = ev_c.incoming(&[]).await;
    c.answer(cc).await.unwrap();
    ev_c.state(cc, CallState::Connected).await;

    // A (the same call, the same relay port) now hears C, and C hears A.
    hears(
        &dev_c,
        cc,
        1000.0,
        Duration::from_millis(1500),
        "C hears A's 1 kHz",
    )
    .await;
    hears(&dev_a, ca, 440.0, Duration::ZERO, "A hears C's 440 Hz").await;
    assert!(
        !ev_a.all().iter().any(|e| matches!(e,
            PhoneEvent::CallState { call, state: CallState::Ended(_) } if *call == ca)),
        "A's call went on"
    );

    a.hangup(ca).await.unwrap();
    ev_c.state(cc, CallState::Ended(EndReason::RemoteHangup))
        .await;
    let r = &pbx.closed_cdrs(1)[0];
    assert_eq!(r["status"], "OK", "{r:#}");
    assert_eq!(r["caller"], "201");
    assert_eq!(
        steps(r),
        [pair("202", "BLINDXFER"), pair("203", "NCC")],
        "{r:#}"
    );
    // A refused REFER (unknown number) is reported and the call goes on.
    let (ca2, cb2) = connect(&a, &ev_a, "202", &b, &ev_b, &[cb]).await;
    b.transfer(cb2, "299").await.unwrap();
    ev_b.wait("the REFER's failure", Duration::from_secs(5), |e| match e {
        PhoneEvent::Transfer {
            call,
            state: TransferState::Failed(s),
        } if *call == cb2 => Some(*s),
        _ => None,
    })
    .await;
    hears(
        &dev_a,
        ca2,
        2000.0,
        Duration::from_millis(1000),
        "A still hears B",
    )
    .await;
    a.hangup(ca2).await.unwrap();
    ev_b.state(cb2, CallState::Ended(EndReason::RemoteHangup))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attended_transfer_by_refer_with_replaces_joins_the_other_two() {
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
    // A calls B; B holds A and consults C.
    let (ca, cb1) = connect(&a, &ev_a, "202", &b, &ev_b, &[]).await;
    b.hold(cb1).await.unwrap();
    ev_a.wait("A held", Duration::from_secs(5), |e| {
        (*e == PhoneEvent::Hold {
            call: ca,
            local: false,
            remote: true,
        })
        .then_some(())
    })
    .await;
    let (cb2, cc) = connect(&b, &ev_b, "203", &c, &ev_c, &[]).await;
    hears(
        &dev_c,
        cc,
        2000.0,
        Duration::from_millis(1200),
        "C hears B while consulted",
    )
    .await;

    // REFER on the held call, Replaces naming B's consultation dialog.
    b.transfer_attended(cb1, cb2).await.unwrap();
    ev_b.state(cb1, CallState::Ended(EndReason::Transferred))
        .await;
    ev_b.wait(
        "the consultation ends",
        Duration::from_secs(5),
        |e| match e {
            PhoneEvent::CallState {
                call,
                state: CallState::Ended(_),
            } if *call == cb2 => Some(()),
            _ => None,
        },
    )
    .await;
    // A is taken off hold by the PBX, and A and C hear each other.
    ev_a.wait("A resumed", Duration::from_secs(5), |e| {
        (*e == PhoneEvent::Hold {
            call: ca,
            local: false,
            remote: false,
        })
        .then_some(())
    })
    .await;
    hears(
        &dev_c,
        cc,
        1000.0,
        Duration::from_millis(1500),
        "C hears A's 1 kHz",
    )
    .await;
    hears(&dev_a, ca, 440.0, Duration::ZERO, "A hears C's 440 Hz").await;

    c.hangup(cc).await.unwrap();
    ev_a.state(ca, CallState::Ended(EndReason::RemoteHangup))
        .await;
    let cdrs = pbx.closed_cdrs(2);
    let first = cdrs.iter().find(|r| r["caller"] == "201").unwrap();
    let consult = cdrs.iter().find(|r| r["caller"] == "202").unwrap();
    assert_eq!(
        steps(first),
        [pair("202", "ATXFER"), pair("203", "NCC")],
        "{first:#}"
    );
    assert_eq!(steps(consult), [pair("203", "ATXFER")], "{consult:#}");
    assert_eq!(
        (first["status"].as_str(), consult["status"].as_str()),
        (Some("OK"), Some("OK"))
    );
}
