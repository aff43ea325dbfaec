//! The same PBX on PostgreSQL: registration, a call, its record, and locations after a restart.

use centralino_e2e::{free_media_port, free_udp_port, fresh_postgres_db, register, uas, Pbx, Sipp};
use std::time::Duration;

#[test]
fn register_call_and_records_on_postgresql() {
    let Some(url) = fresh_postgres_db() else {
        eprintln!("CENTRALINO_TEST_PG_URL not set: skipped");
        return;
    };
    let mut pbx = Pbx::start_on(Some(url), &[]);
    let p = free_udp_port();
    register(&pbx, "202", p);
    let callee = uas(&pbx, "uas_answer.xml", p, free_media_port(), 1);
    Sipp::new("uac_call.xml", pbx.sip)
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
            "1",
            "-d",
            "500",
        ])
        .run_ok();
    assert!(callee.wait(Duration::from_secs(10)).0);
    let cdrs = pbx.closed_cdrs(1);
    assert_eq!(cdrs[0]["status"], "OK");
    assert_eq!(cdrs[0]["answered_by"], "202");
    pbx.restart();
    assert_eq!(pbx.locations().len(), 1, "location kept in PostgreSQL");
}
