//! Telephone services with real SIPp phones (issue 4, acceptance 3): ring groups, feature
//! codes for DND and the forwards, directed and group pickup, call park, transfers by RFC 4733
//! DTMF; each checked on the SIP the phones see and on the call records' exit causes.

use super::control::{caller, pair, steps, wait_ok};
use centralino_e2e::{free_media_port, free_udp_port, register, uas, Pbx};

#[test]
fn ring_group_tiers_ring_in_order_then_overflow() {
    // Group 650 (demo: 206 and 207): 206 in tier 1, 207 in tier 2, 2 s each, then 208.
    let pbx = Pbx::start_with(&[
        &[
            "set-ring-group-member",
            "650",
            "206",
            "--tier",
            "1",
            "--ring-s",
            "2",
        ],
        &[
            "set-ring-group-member",
            "650",
            "207",
            "--tier",
            "2",
            "--ring-s",
            "2",
        ],
        &["set-ring-group", "650", "overflow=extension:208"],
    ]);
    let (p206, p207, p208) = (free_udp_port(), free_udp_port(), free_udp_port());
    register(&pbx, "206", p206);
    register(&pbx, "207", p207);
    register(&pbx, "208", p208);

    // Tier 1 rings out, tier 2 answers.
    let first = uas(&pbx, "uas_noanswer.xml", p206, free_media_port(), 1);
    let second = uas(&pbx, "uas_answer.xml", p207, free_media_port(), 1);
    caller(&pbx, "uac_call.xml", "201", "650")
        .args(&["-d", "300"])
        .run_ok();
    wait_ok("206 (tier 1, no answer)", first);
    wait_ok("207 (tier 2)", second);

    // Nobody answers: the overflow (208) takes the call.
    let first = uas(&pbx, "uas_noanswer.xml", p206, free_media_port(), 1);
    let second = uas(&pbx, "uas_noanswer.xml", p207, free_media_port(), 1);
    let overflow = uas(&pbx, "uas_answer.xml", p208, free_media_port(), 1);
    caller(&pbx, "uac_call.xml", "202", "650")
        .args(&["-d", "300"])
        .run_ok();
    wait_ok("206", first);
    wait_ok("207", second);
    wait_ok("208 (overflow)", overflow);

    let cdrs = pbx.closed_cdrs(2);
    assert_eq!(cdrs[0]["destination_type"], "callg", "{cdrs:#?}");
    assert_eq!(cdrs[0]["answered_by"], "207");
    assert_eq!(steps(&cdrs[0]), [pair("650", "NCC")]);
    assert_eq!(cdrs[1]["answered_by"], "208");
    assert_eq!(
        steps(&cdrs[1]),
        [pair("650", "NOANSWER"), pair("208", "NCC")],
        "{cdrs:#?}"
    );
}
