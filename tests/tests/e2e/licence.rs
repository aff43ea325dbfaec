//! Licence seats and mode gating (issue 6, acceptance 4): the seats a user holds come in the
//! CTI snapshot, a user without a Pro seat (Free mode) is refused the Pro features with
//! `not_licensed` whatever client asks, a seat given with `set-user` applies at the next login,
//! and the pool refuses a seat it no longer has.

use centralino_e2e::cti::CtiClient;
use centralino_e2e::{workspace_bin, Pbx};
use serde_json::{json, Value};
use std::process::Command;

fn refused(c: &mut CtiClient, command: Value) -> Value {
    let r = c.command(command.clone());
    assert_eq!(r["type"], "error", "{command} -> {r}");
    r
}

#[test]
fn a_free_user_is_refused_pro_features_until_given_a_seat_from_the_pool() {
    let pbx = Pbx::start();
    let mut anna = CtiClient::connect(pbx.cti);
    let snap = anna.login("201", "demo201", None);
    assert_eq!(
        snap["user"]["licence"],
        json!({"mode": "pro", "call_center": true}),
        "{snap}"
    );
    let mut luca = CtiClient::connect(pbx.cti);
    let snap = luca.login("208", "demo208", None);
    assert_eq!(
        snap["user"]["licence"],
        json!({"mode": "free", "call_center": false})
    );
    // The licence is checked before anything else: no call is needed to be refused.
    for command in [
        json!({"name": "transfer", "call": "1", "number": "203"}),
        json!({"name": "transfer", "call": "1", "consult": "2"}),
        json!({"name": "hold", "call": "1"}),
        json!({"name": "resume", "call": "1"}),
        json!({"name": "pickup", "extension": "202"}),
        json!({"name": "set_dnd", "enabled": true}),
        json!({"name": "set_forward", "kind": "unconditional", "target": "202"}),
    ] {
        let r = refused(&mut luca, command.clone());
        assert_eq!(r["code"], "not_licensed", "{command} -> {r}");
    }
    // Free keeps click-to-call (refused here only because 208 has no phone), presence, history.
    let r = refused(&mut luca, json!({"name": "dial", "number": "202"}));
    assert_eq!(r["code"], "no_device", "{r}");
    let r = luca.command(json!({"name": "set_presence", "state": "away", "message": null}));
    assert_eq!(r["type"], "result", "{r}");
    let r = luca.command(json!({"name": "history"}));
    assert_eq!(r["type"], "result", "{r}");

    // A Pro seat from the pool (6 of 10 held by the demo) applies at the next login.
    pbx.admin(&["set-user", "208", "cti_licence=pro"]);
    let mut luca = CtiClient::connect(pbx.cti);
    let snap = luca.login("208", "demo208", None);
    assert_eq!(snap["user"]["licence"]["mode"], "pro");
    let r = luca.command(json!({"name": "set_dnd", "enabled": true}));
    assert_eq!(r["type"], "result", "{r}");

    // The pool cannot shrink under what is held, nor give what it has not.
    let cli = |args: &[&str]| {
        Command::new(workspace_bin("pbx-server"))
            .arg("--data-dir")
            .arg(&pbx.data_dir)
            .args(args)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    };
    let out = cli(&["set-seats", "cti_pro", "6"]);
    assert!(!out.status.success(), "7 users hold a Pro seat");
    pbx.admin(&["set-seats", "cti_pro", "7"]);
    // 206 moves from Pro to the second Phone seat; then none is left for 207.
    pbx.admin(&["set-user", "206", "cti_licence=phone"]);
    let out = cli(&["set-user", "207", "cti_licence=phone"]);
    assert!(!out.status.success(), "the two Phone seats are taken");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no cti_phone seat left"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
