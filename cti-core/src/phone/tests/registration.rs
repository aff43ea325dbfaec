//! Registration: digest, granted expiry, refresh at half of it, retries, network change.

use super::*;

fn state(h: &Harness) -> RegistrationState {
    h.ua.registration().clone()
}

#[test]
fn registers_with_digest_and_refreshes_at_half_the_granted_expiry() {
    let mut h = Harness::new();
    h.ua.register(h.now);
    let first = h.one_request();
    assert_eq!(first.method, Method::Register);
    assert_eq!(first.uri, "sip:pbx.test");
    assert_eq!(first.headers.get("Expires"), Some("60"));
    assert_eq!(first.contact().unwrap().uri, format!("sip:201@{LOCAL}"));
    assert!(first.headers.get("Authorization").is_none());
    assert_eq!(state(&h), RegistrationState::Registering);

    h.deliver_response(&challenge(&first, 401, "n1"));
    let second = h.one_request();
    assert!(authorized(&second, "Authorization", "201", "demo201"));
    assert_eq!(second.call_id(), first.call_id());
    assert_eq!(second.cseq().0, first.cseq().0 + 1);
    assert_ne!(
        second.top_via().unwrap().branch(),
        first.top_via().unwrap().branch()
    );

    // The registrar grants less than asked: 40 s, so the refresh is due after 20 s.
    h.deliver_response(&register_ok(&second, 40));
    assert_eq!(state(&h), RegistrationState::Registered { expires: 40 });
    assert!(has_event(&h.take_events(), |e| *e
        == UaEvent::Registration(RegistrationState::Registered {
            expires: 40
        })));
    h.advance(Duration::from_millis(19_900));
    assert!(h.sent_requests().is_empty());
    h.advance(Duration::from_millis(100));
    let refresh = h.one_request();
    assert_eq!(refresh.method, Method::Register);
    assert_eq!(refresh.call_id(), first.call_id());
    assert!(refresh.cseq().0 > second.cseq().0);
}

#[test]
fn a_failed_refresh_retries_at_once_then_backs_off() {
    let mut h = Harness::new();
    h.registered(60);
    h.advance(Duration::from_secs(30));
    let refresh = h.one_request();
    h.deliver_response(&reply(&refresh, 503, "Service Unavailable"));
    // At once, without waiting.
    let again = h.one_request();
    assert_eq!(again.method, Method::Register);
    assert!(matches!(
        h.take_events().first(),
        Some(UaEvent::Registration(RegistrationState::Failed { retry_in, .. })) if retry_in.is_zero()
    ));
    h.deliver_response(&reply(&again, 503, "Service Unavailable"));
    assert!(h.sent_requests().is_empty());
    assert!(matches!(
        state(&h),
        RegistrationState::Failed { retry_in, .. } if retry_in == Duration::from_secs(5)
    ));
    h.advance(Duration::from_secs(5));
    let third = h.one_request();
    h.deliver_response(&challenge(&third, 401, "n2"));
    let fourth = h.one_request();
    h.deliver_response(&register_ok(&fourth, 60));
    assert_eq!(state(&h), RegistrationState::Registered { expires: 60 });
}

#[test]
fn an_unanswered_refresh_times_out_and_retries_at_once() {
    let mut h = Harness::new();
    h.registered(3600);
    h.advance(Duration::from_secs(1800));
    let refresh = h.one_request();
    // Retransmissions of the lost REGISTER (Timer E), then Timer F at 32 s.
    h.advance(Duration::from_millis(31_900));
    let retransmits = h.sent_requests();
    assert!(retransmits.iter().all(|r| r.cseq() == refresh.cseq()));
    assert!(retransmits.len() >= 5, "{}", retransmits.len());
    h.advance(Duration::from_millis(100));
    let again = h.sent_requests();
    assert_eq!(again.len(), 1);
    assert!(again[0].cseq().0 > refresh.cseq().0);
    assert!(has_event(&h.take_events(), |e| matches!(
        e,
        UaEvent::Registration(RegistrationState::Failed {
            error: RegisterError::Timeout,
            ..
        })
    )));
}

#[test]
fn a_network_change_registers_again_at_once_from_the_new_address() {
    let mut h = Harness::new();
    h.registered(600);
    let new_local = addr("10.0.0.9:5099");
    h.advance(Duration::from_secs(10));
    h.ua.network_changed(h.now, new_local);
    assert_eq!(state(&h), RegistrationState::Registering);
    let r = h.one_request();
    assert_eq!(r.method, Method::Register);
    assert_eq!(r.contact().unwrap().uri, "sip:201@10.0.0.9:5099");
    assert_eq!(r.top_via().unwrap().host, "10.0.0.9");
    assert_eq!(h.ua.local_addr(), new_local);
    h.deliver_response(&challenge(&r, 401, "n9"));
    let r = h.one_request();
    h.deliver_response(&register_ok(&r, 600));
    assert_eq!(state(&h), RegistrationState::Registered { expires: 600 });
}

#[test]
fn a_change_mid_registration_abandons_the_old_attempt() {
    let mut h = Harness::new();
    h.ua.register(h.now);
    let old = h.one_request();
    h.ua.network_changed(h.now, addr("10.0.0.9:5099"));
    let new = h.one_request();
    assert_eq!(new.contact().unwrap().uri, "sip:201@10.0.0.9:5099");
    // The old attempt is not retransmitted, and its late answer is ignored.
    h.advance(Duration::from_millis(600));
    assert!(h
        .sent_requests()
        .iter()
        .all(|r| r.top_via().unwrap().branch() == new.top_via().unwrap().branch()));
    h.deliver_response(&register_ok(&old, 600));
    assert_eq!(state(&h), RegistrationState::Registering);
    h.deliver_response(&register_ok(&new, 600));
    assert_eq!(state(&h), RegistrationState::Registered { expires: 600 });
}

#[test]
fn a_wrong_password_is_reported_and_retried_slowly() {
    let mut h = Harness::new();
    h.ua.register(h.now);
    let r = h.one_request();
    h.deliver_response(&challenge(&r, 401, "n1"));
    let r = h.one_request();
    h.deliver_response(&challenge(&r, 401, "n2"));
    assert!(h.sent_requests().is_empty());
    assert_eq!(
        state(&h),
        RegistrationState::Failed {
            error: RegisterError::AuthRejected,
            retry_in: Duration::from_secs(60)
        }
    );
    h.advance(Duration::from_secs(60));
    assert_eq!(h.one_request().method, Method::Register);
}

#[test]
fn interval_too_brief_raises_the_expiry() {
    let mut h = Harness::new();
    h.ua.register(h.now);
    let r = h.one_request();
    let mut too_brief = reply(&r, 423, "Interval Too Brief");
    too_brief.headers.push("Min-Expires", "120");
    h.deliver_response(&too_brief);
    let r = h.one_request();
    assert_eq!(r.headers.get("Expires"), Some("120"));
}

#[test]
fn unregister_sends_expires_zero_and_stops_refreshing() {
    let mut h = Harness::new();
    h.registered(60);
    h.ua.unregister(h.now);
    let r = h.one_request();
    assert_eq!(r.headers.get("Expires"), Some("0"));
    h.deliver_response(&challenge(&r, 401, "n3"));
    let r = h.one_request();
    assert!(authorized(&r, "Authorization", "201", "demo201"));
    let mut ok = reply(&r, 200, "OK");
    ok.headers.push("Expires", "0");
    h.deliver_response(&ok);
    assert_eq!(state(&h), RegistrationState::Unregistered);
    h.advance(Duration::from_secs(3600));
    assert!(h.sent_requests().is_empty());
}

#[test]
fn options_pings_are_answered() {
    let mut h = Harness::new();
    let text = format!(
        "OPTIONS sip:201@{LOCAL} SIP/2.0\r\nVia: SIP/2.0/UDP {SERVER};branch=z9hG4bK-q1\r\n\
         From: <sip:pbx@pbx.test>;tag=q\r\nTo: <sip:201@pbx.test>\r\nCall-ID: q1\r\n\
         CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    );
    h.deliver(text.as_bytes());
    let r = h.sent_responses();
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].status, 200);
    assert!(r[0].headers.get("Allow").unwrap().contains("INVITE"));
    // A BYE for a dialog we do not know.
    h.deliver(
        text.replace("OPTIONS", "BYE")
            .replace("To: <sip:201@pbx.test>", "To: <sip:201@pbx.test>;tag=zz")
            .as_bytes(),
    );
    assert_eq!(h.sent_responses()[0].status, 481);
    // Garbage is dropped.
    h.deliver(b"\x00\x01garbage");
    assert!(h.sent().is_empty());
}
