//! Store conformance: every case runs against SQLite and, when `CENTRALINO_TEST_PG_URL` is
//! set (the README's test command sets it), against PostgreSQL.

#![allow(clippy::unwrap_used)]

use pbx_server::store::{CdrDetail, CdrRecord, Location, NewExtension, Store, StoreError};
use sip_core::auth::{ha1, Algorithm};

/// A fresh store per backend. PostgreSQL cases share one database, so each case wipes it.
async fn stores() -> Vec<(String, Store, Option<tempfile::TempDir>)> {
    let mut out = Vec::new();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    out.push((
        "sqlite".to_string(),
        Store::connect(&url).await.unwrap(),
        Some(dir),
    ));
    match std::env::var("CENTRALINO_TEST_PG_URL") {
        Ok(url) => {
            let s = Store::connect(&url).await.unwrap();
            s.wipe_for_tests().await.unwrap();
            out.push(("postgres".to_string(), s, None));
        }
        Err(_) => eprintln!("CENTRALINO_TEST_PG_URL not set: PostgreSQL half skipped"),
    }
    out
}

/// PostgreSQL cases use one database: run them one at a time.
static PG_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test]
async fn migrations_are_idempotent_and_demo_seed_is_idempotent() {
    let _g = PG_LOCK.lock().await;
    for (name, s, _d) in stores().await {
        assert!(s.seed_demo().await.unwrap(), "{name}");
        assert!(
            !s.seed_demo().await.unwrap(),
            "{name}: second seed does nothing"
        );
        let d = s.load_directory().await.unwrap();
        let numbers: Vec<_> = d.extensions.iter().map(|e| e.number.as_str()).collect();
        assert_eq!(
            numbers,
            ["201", "202", "203", "204", "205", "206", "207", "208"],
            "{name}"
        );
        assert_eq!(d.accounts.len(), 8);
        let a = d.accounts.iter().find(|a| a.username == "201").unwrap();
        assert_eq!(a.extension_number, "201");
        assert_eq!(
            a.ha1_md5,
            ha1(Algorithm::Md5, "201", "default", "demo201"),
            "{name}: HA1 kept, not the secret"
        );
        assert_eq!(
            a.ha1_sha256,
            ha1(Algorithm::Sha256, "201", "default", "demo201")
        );
        assert_eq!(
            (a.min_expires, a.max_expires, a.default_expires),
            (60, 3600, 3600)
        );
        let u = s
            .verify_user_password("201", "demo201")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(u.extension.as_deref(), Some("201"));
        assert!(s
            .verify_user_password("201", "wrong")
            .await
            .unwrap()
            .is_none());
        assert!(s
            .verify_user_password("nobody", "demo201")
            .await
            .unwrap()
            .is_none());
        let hash: String = s.password_hash_for_tests("201").await.unwrap();
        assert!(hash.starts_with("$argon2"), "{name}: {hash}");
    }
}

#[tokio::test]
async fn extension_overrides_survive_template_edits() {
    let _g = PG_LOCK.lock().await;
    for (name, s, _d) in stores().await {
        s.create_extension(&NewExtension {
            number: "300".into(),
            ..Default::default()
        })
        .await
        .unwrap();
        s.create_extension(&NewExtension {
            number: "301".into(),
            ring_timeout_s: Some(5),
            ..Default::default()
        })
        .await
        .unwrap();
        s.set_extension_template_field("Default", "ring_timeout_s", "45")
            .await
            .unwrap();
        s.set_extension_template_field("Default", "overflow_busy", "extension:300")
            .await
            .unwrap();
        let d = s.load_directory().await.unwrap();
        let e300 = d.extensions.iter().find(|e| e.number == "300").unwrap();
        let e301 = d.extensions.iter().find(|e| e.number == "301").unwrap();
        assert_eq!(
            e300.ring_timeout_s, 45,
            "{name}: inherited value follows the template"
        );
        assert_eq!(
            e301.ring_timeout_s, 5,
            "{name}: the override survives the template edit"
        );
        assert_eq!(e301.overflow_busy, "extension:300");
        s.set_extension_field("301", "ring_timeout_s", None)
            .await
            .unwrap();
        let d = s.load_directory().await.unwrap();
        assert_eq!(
            d.extensions
                .iter()
                .find(|e| e.number == "301")
                .unwrap()
                .ring_timeout_s,
            45,
            "{name}: cleared override inherits"
        );
        assert!(matches!(
            s.set_extension_field("301", "overflow_busy", Some("dial:999"))
                .await,
            Err(StoreError::Invalid(_))
        ));
        assert!(matches!(
            s.set_extension_field("999", "busy_level", Some("1")).await,
            Err(StoreError::NotFound(_))
        ));
        assert!(matches!(
            s.set_extension_field("301", "number", Some("1")).await,
            Err(StoreError::Invalid(_))
        ));
    }
}

#[tokio::test]
async fn account_overrides_and_duplicates() {
    let _g = PG_LOCK.lock().await;
    for (name, s, _d) in stores().await {
        s.create_extension(&NewExtension {
            number: "400".into(),
            ..Default::default()
        })
        .await
        .unwrap();
        s.add_account_to_extension("400", "400a", "secret-a")
            .await
            .unwrap();
        s.add_account_to_extension("400", "400b", "secret-b")
            .await
            .unwrap();
        assert!(
            matches!(
                s.add_account_to_extension("400", "400a", "again").await,
                Err(StoreError::Duplicate(_))
            ),
            "{name}"
        );
        assert!(matches!(
            s.create_extension(&NewExtension {
                number: "400".into(),
                ..Default::default()
            })
            .await,
            Err(StoreError::Duplicate(_))
        ));
        s.set_account_field("400b", "acl", Some("10.0.0.0/8"))
            .await
            .unwrap();
        s.set_account_template_field("Default", "acl", "192.168.0.0/16")
            .await
            .unwrap();
        s.set_account_template_field("Default", "max_expires", "1800")
            .await
            .unwrap();
        let d = s.load_directory().await.unwrap();
        let a = d.accounts.iter().find(|a| a.username == "400a").unwrap();
        let b = d.accounts.iter().find(|a| a.username == "400b").unwrap();
        assert_eq!(
            a.acl.as_deref(),
            Some("192.168.0.0/16"),
            "{name}: inherits the template ACL"
        );
        assert_eq!(
            b.acl.as_deref(),
            Some("10.0.0.0/8"),
            "{name}: override survives"
        );
        assert_eq!(a.max_expires, 1800);
        s.set_account_field("400b", "acl", Some("")).await.unwrap();
        let d = s.load_directory().await.unwrap();
        assert_eq!(
            d.accounts
                .iter()
                .find(|a| a.username == "400b")
                .unwrap()
                .acl,
            None,
            "{name}: '' = explicitly any"
        );
    }
}

#[tokio::test]
async fn locations_last_wins_delete_and_expiry() {
    let _g = PG_LOCK.lock().await;
    for (name, s, _d) in stores().await {
        s.seed_demo().await.unwrap();
        let id = s.load_directory().await.unwrap().accounts[0].id;
        let mut l = Location {
            account_id: id,
            contact: "sip:201@10.0.0.1:5060".into(),
            source_ip: "10.0.0.1".into(),
            source_port: 5060,
            transport: "UDP".into(),
            expires_at_ms: 10_000,
            user_agent: "ua1".into(),
            registered_at_ms: 1_000,
        };
        s.upsert_location(&l).await.unwrap();
        l.source_port = 5070;
        l.user_agent = "ua2".into();
        s.upsert_location(&l).await.unwrap();
        let got = s.load_locations(5_000).await.unwrap();
        assert_eq!(got, vec![l.clone()], "{name}: last REGISTER wins");
        assert!(
            s.load_locations(10_000).await.unwrap().is_empty(),
            "{name}: expired ones are not loaded"
        );
        assert_eq!(s.purge_expired_locations(20_000).await.unwrap(), 1);
        s.upsert_location(&l).await.unwrap();
        s.delete_location(id).await.unwrap();
        assert!(s.load_locations(0).await.unwrap().is_empty());
    }
}

fn record(id: &str, start: i64) -> CdrRecord {
    CdrRecord {
        unique_id: id.into(),
        tenant: "default".into(),
        source_type: "local_exten".into(),
        destination_type: "local_exten".into(),
        status: None,
        start_ms: start,
        channel_up_ms: None,
        answer_ms: None,
        end_ms: None,
        answered_by: None,
        caller: "201".into(),
        caller_name: Some("Anna Demo".into()),
        anonymous: false,
        called: "202".into(),
        called_name: None,
        duration_s: None,
        bill_ms: None,
        src_peer_name: Some("201".into()),
        src_ip_port: Some("127.0.0.1:5070".into()),
        recovered: false,
        details: vec![CdrDetail {
            seq: 0,
            source_num: "201".into(),
            anonymous: false,
            destination_type: "local_exten".into(),
            destination_id: "202".into(),
            destination_name: None,
            destination_num: Some("202".into()),
            enter_ms: start,
            enqueue_ms: None,
            answer_ms: None,
            exit_ms: None,
            exit_cause: None,
            answered_by: None,
            waiting_time_s: None,
        }],
    }
}

#[tokio::test]
async fn cdr_upsert_list_and_recovery() {
    let _g = PG_LOCK.lock().await;
    for (name, s, _d) in stores().await {
        // An answered call left open, an unanswered one left open, a closed one.
        let mut answered = record("1000.1", 1_000_000);
        s.cdr_upsert(&answered).await.unwrap();
        answered.answer_ms = Some(1_002_000);
        answered.channel_up_ms = Some(1_002_000);
        answered.answered_by = Some("202".into());
        answered.details[0].answer_ms = Some(1_002_000);
        s.cdr_upsert(&answered).await.unwrap();
        let ringing = record("1001.2", 1_001_000);
        s.cdr_upsert(&ringing).await.unwrap();
        let mut closed = record("999.0", 999_000);
        closed.status = Some("BUSY".into());
        closed.end_ms = Some(1_000_000);
        closed.details[0].exit_ms = Some(1_000_000);
        closed.details[0].exit_cause = Some("BUSY".into());
        s.cdr_upsert(&closed).await.unwrap();

        let list = s.cdr_list(None).await.unwrap();
        let ids: Vec<_> = list.iter().map(|r| r.unique_id.as_str()).collect();
        assert_eq!(
            ids,
            ["999.0", "1000.1", "1001.2"],
            "{name}: oldest first, newest last"
        );
        assert_eq!(list[1], answered, "{name}: round trip");
        assert_eq!(s.cdr_list(Some(1)).await.unwrap()[0].unique_id, "1001.2");
        assert_eq!(s.cdr_count().await.unwrap(), 3);

        s.set_heartbeat(1_010_000).await.unwrap();
        assert_eq!(s.cdr_recover_open(2_000_000).await.unwrap(), 2, "{name}");
        let list = s.cdr_list(None).await.unwrap();
        assert_eq!(list[0], closed, "{name}: closed records untouched");
        let a = &list[1];
        assert_eq!(a.status.as_deref(), Some("OK"));
        assert!(a.recovered);
        assert_eq!(
            a.end_ms,
            Some(1_010_000),
            "{name}: closed at the last heartbeat"
        );
        assert_eq!(a.bill_ms, Some(8_000));
        assert_eq!(a.details[0].exit_cause.as_deref(), Some("RECOVERED"));
        let r = &list[2];
        assert_eq!(r.status.as_deref(), Some("??"), "{name}: cause unknown");
        assert_eq!(r.bill_ms, Some(0));
        assert_eq!(s.cdr_recover_open(3_000_000).await.unwrap(), 0);

        let j = a.to_json();
        for key in [
            "unique_id",
            "source_type",
            "destination_type",
            "status",
            "start_datetime",
            "channel_up_datetime",
            "answer_datetime",
            "end_datetime",
            "answered_by",
            "caller",
            "caller_name",
            "called",
            "duration",
            "bill_secs",
            "src_peer_name",
            "src_ip_port",
        ] {
            assert!(j.get(key).is_some(), "{key}");
        }
        assert_eq!(j["bill_secs"], 8.0);
        assert_eq!(j["start_datetime"], "1970-01-01T00:16:40.000Z");
        assert_eq!(j["details"][0]["detail_exit_cause"], "RECOVERED");
    }
}
