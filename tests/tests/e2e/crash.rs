//! `kill -9` during 20 connected calls loses no call record and no registration.

use centralino_e2e::{free_media_port, free_udp_port, register, uas, Pbx, Sipp};
use std::time::Duration;

#[test]
fn kill_9_during_20_calls_keeps_records_and_locations() {
    let mut pbx = Pbx::start();
    let p = free_udp_port();
    register(&pbx, "202", p);
    let _callee = uas(&pbx, "uas_answer.xml", p, free_media_port(), 20);
    let _callers = Sipp::new("uac_call.xml", pbx.sip)
        .args(&[
            "-p",
            &free_udp_port().to_string(),
            "-mp",
            &free_media_port().to_string(),
            "-s",
            "202",
            "-set",
            "caller",
            "201",
            "-au",
            "201",
            "-ap",
            "demo201",
            "-m",
            "20",
            "-l",
            "20",
            "-r",
            "10",
            "-d",
            "120000",
        ])
        .spawn();
    pbx.wait_for("20 connected calls", Duration::from_secs(30), |p| {
        p.metrics()["active_calls"] == 20
            && p.cdr()
                .iter()
                .filter(|r| !r["answer_datetime"].is_null())
                .count()
                == 20
    });
    let before = pbx.cdr();
    assert!(before
        .iter()
        .all(|r| r["status"].is_null() && r["end_datetime"].is_null()));

    pbx.kill9();
    pbx.restart();

    let after = pbx.cdr();
    assert_eq!(after.len(), 20, "every call has its record");
    for r in &after {
        assert_eq!(r["status"], "OK", "answered calls close as OK: {r}");
        assert_eq!(
            r["recovered"], true,
            "the record says it was closed at restart"
        );
        assert!(!r["end_datetime"].is_null());
        assert!(r["end_datetime"].as_str() >= r["answer_datetime"].as_str());
        assert_eq!(r["details"][0]["detail_exit_cause"], "RECOVERED");
    }
    let locs = pbx.locations();
    assert_eq!(locs.len(), 1, "the registration survived");
    assert_eq!(locs[0]["source"], format!("127.0.0.1:{p}"));
    pbx.wait_for("location loaded", Duration::from_secs(5), |p| {
        p.metrics()["registered"] == 1
    });
}
