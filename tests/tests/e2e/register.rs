//! Registrar: digest challenge, wrong password refused, granted expiry in the 200 OK.

use centralino_e2e::{free_udp_port, Pbx, Sipp};

#[test]
fn register_with_wrong_password_is_refused() {
    let pbx = Pbx::start();
    Sipp::new("register_wrong.xml", pbx.sip)
        .args(&[
            "-p",
            &free_udp_port().to_string(),
            "-s",
            "201",
            "-au",
            "201",
            "-ap",
            "not-the-password",
            "-m",
            "1",
        ])
        .run_ok();
    assert!(pbx.locations().is_empty(), "no location stored");
    assert!(
        pbx.log().contains("security: sip auth failure"),
        "failure logged for fail2ban"
    );
}

#[test]
fn register_with_right_password_gets_granted_expiry() {
    let pbx = Pbx::start();
    let port = free_udp_port();
    // register.xml asks for 7200 s and fails unless the 200 OK says `Expires: 3600`
    // (the demo account template's maximum).
    Sipp::new("register.xml", pbx.sip)
        .args(&[
            "-p",
            &port.to_string(),
            "-s",
            "201",
            "-au",
            "201",
            "-ap",
            "demo201",
            "-m",
            "1",
        ])
        .run_ok();
    // The location reaches the database through the background writer.
    pbx.wait_for("location stored", std::time::Duration::from_secs(5), |p| {
        p.locations().len() == 1
    });
    let locs = pbx.locations();
    assert_eq!(locs[0]["source"], format!("127.0.0.1:{port}"));
    assert!(locs[0]["contact"]
        .as_str()
        .unwrap()
        .contains(&format!(":{port}")));
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let left = locs[0]["expires_at_ms"].as_i64().unwrap() - now_ms;
    assert!(
        (3_500_000..=3_600_000).contains(&left),
        "granted expiry stored: {left} ms"
    );
}

#[test]
fn register_over_tcp_stores_a_tcp_location() {
    let pbx = Pbx::start();
    let port = free_udp_port();
    Sipp::new("register.xml", pbx.sip)
        .args(&[
            "-t",
            "t1",
            "-p",
            &port.to_string(),
            "-s",
            "203",
            "-au",
            "203",
            "-ap",
            "demo203",
            "-m",
            "1",
        ])
        .run_ok();
    pbx.wait_for("location stored", std::time::Duration::from_secs(5), |p| {
        p.locations().len() == 1
    });
    let locs = pbx.locations();
    assert_eq!(locs[0]["transport"], "TCP");
}

#[test]
fn unregister_with_expires_0_removes_the_location() {
    let pbx = Pbx::start();
    let port = free_udp_port();
    Sipp::new("register.xml", pbx.sip)
        .args(&[
            "-p",
            &port.to_string(),
            "-s",
            "204",
            "-au",
            "204",
            "-ap",
            "demo204",
            "-m",
            "1",
        ])
        .run_ok();
    pbx.wait_for("location stored", std::time::Duration::from_secs(5), |p| {
        p.locations().len() == 1
    });
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(centralino_e2e::scenarios().join("register_wrong.xml"))
        .unwrap()
        .replace("Expires: 3600", "Expires: 0")
        .replace("<recv response=\"401\"/>", "<recv response=\"200\"/>");
    let unregister = dir.path().join("unregister.xml");
    std::fs::write(&unregister, text).unwrap();
    Sipp::new(unregister.to_str().unwrap(), pbx.sip)
        .args(&[
            "-p",
            &port.to_string(),
            "-s",
            "204",
            "-au",
            "204",
            "-ap",
            "demo204",
            "-m",
            "1",
        ])
        .run_ok();
    pbx.wait_for(
        "Expires: 0 unregisters",
        std::time::Duration::from_secs(5),
        |p| p.locations().is_empty(),
    );
}

/// register_wrong.xml with the final answer changed: 401 challenge, then `status`.
fn register_expecting(dir: &std::path::Path, status: u16) -> String {
    let text = std::fs::read_to_string(centralino_e2e::scenarios().join("register_wrong.xml"))
        .unwrap()
        .replace(
            "<recv response=\"401\"/>",
            &format!("<recv response=\"{status}\"/>"),
        );
    let p = dir.join(format!("register_{status}.xml"));
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

#[test]
fn account_acl_refuses_registration_from_outside_its_subnet() {
    let pbx = Pbx::start_with(&[&["set-account", "205", "acl=10.0.0.0/8"]]);
    let dir = tempfile::tempdir().unwrap();
    Sipp::new(&register_expecting(dir.path(), 403), pbx.sip)
        .args(&[
            "-p",
            &free_udp_port().to_string(),
            "-s",
            "205",
            "-au",
            "205",
            "-ap",
            "demo205",
            "-m",
            "1",
        ])
        .run_ok();
    assert!(pbx.locations().is_empty());
}

/// register.xml asking for `expires` seconds and expecting `status` (200 without the 3600
/// check, or 423).
fn register_asking(dir: &std::path::Path, expires: u32, status: u16) -> String {
    let mut text = std::fs::read_to_string(centralino_e2e::scenarios().join("register.xml"))
        .unwrap()
        .replace("Expires: 7200", &format!("Expires: {expires}"));
    let check_start = text.find("<recv response=\"200\">").unwrap();
    let check_end = text.find("</scenario>").unwrap();
    text.replace_range(
        check_start..check_end,
        &format!("<recv response=\"{status}\"/>\n"),
    );
    let p = dir.join(format!("register_{expires}_{status}.xml"));
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

#[test]
fn too_short_expiry_gets_423_and_an_expired_location_is_removed() {
    let pbx = Pbx::start_with(&[&["set-account", "206", "min_expires=2"]]);
    let dir = tempfile::tempdir().unwrap();
    let args = |port: u16| {
        vec![
            "-p".to_string(),
            port.to_string(),
            "-s".into(),
            "206".into(),
            "-au".into(),
            "206".into(),
            "-ap".into(),
            "demo206".into(),
            "-m".into(),
            "1".into(),
        ]
    };
    let a = args(free_udp_port());
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    // Below the account's minimum (2 s): 423 Interval Too Brief, nothing stored.
    Sipp::new(&register_asking(dir.path(), 1, 423), pbx.sip)
        .args(&a)
        .run_ok();
    assert!(pbx.locations().is_empty());
    // Two seconds granted: stored, then swept once expired.
    Sipp::new(&register_asking(dir.path(), 2, 200), pbx.sip)
        .args(&a)
        .run_ok();
    pbx.wait_for("location stored", std::time::Duration::from_secs(5), |p| {
        p.locations().len() == 1
    });
    pbx.wait_for("expiry sweep", std::time::Duration::from_secs(10), |p| {
        p.metrics()["registered"] == 0
    });
}
