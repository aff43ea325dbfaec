//! Store conformance: every case runs against SQLite and, when `CENTRALINO_TEST_PG_URL` is set
//! (`scripts/with-postgres.sh` sets it), against PostgreSQL. Each PostgreSQL case gets its own
//! schema, so cases run in parallel and never see each other's rows.

#![allow(clippy::unwrap_used)]

use pbx_server::store::{
    AccountOverride, AccountOverrides, AccountTemplate, Backend, CdrDetail, CdrRecord,
    ExtensionOverride, ExtensionOverrides, ExtensionTemplate, Location, NewExtension,
    NewSipAccount, NewUser, Store, StoreError,
};
use sip_core::auth::{ha1, Algorithm};
use sqlx::Row;
use std::sync::atomic::{AtomicU32, Ordering};

/// One backend under test.
struct Db {
    name: &'static str,
    url: String,
    store: Store,
    _dir: Option<tempfile::TempDir>,
    /// PostgreSQL: the case's schema, dropped by `finish`.
    schema: Option<(sqlx::AnyPool, String)>,
}

impl Db {
    /// Drops the case's PostgreSQL schema (a failed case leaves it for inspection).
    async fn finish(self) {
        drop(self.store);
        if let Some((admin, schema)) = self.schema {
            sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
                .execute(&admin)
                .await
                .unwrap();
        }
    }

    /// A second, plain connection for reading what the store wrote.
    async fn raw(&self) -> sqlx::AnyPool {
        sqlx::AnyPool::connect(&self.url).await.unwrap()
    }
}

static CASE: AtomicU32 = AtomicU32::new(0);

/// A fresh, empty store per backend.
async fn backends() -> Vec<Db> {
    sqlx::any::install_default_drivers();
    let mut out = Vec::new();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let store = Store::connect(&url).await.unwrap();
    let url = format!("{url}?mode=rwc");
    out.push(Db {
        name: "sqlite",
        url,
        store,
        _dir: Some(dir),
        schema: None,
    });
    match std::env::var("CENTRALINO_TEST_PG_URL") {
        Ok(base) => {
            let admin = sqlx::AnyPool::connect(&base).await.unwrap();
            let schema = format!(
                "t{}_{}_{}",
                std::process::id(),
                CASE.fetch_add(1, Ordering::Relaxed),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .subsec_nanos()
            );
            sqlx::query(&format!("CREATE SCHEMA {schema}"))
                .execute(&admin)
                .await
                .unwrap();
            let sep = if base.contains('?') { '&' } else { '?' };
            let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
            let store = Store::connect(&url).await.unwrap();
            out.push(Db {
                name: "postgres",
                url,
                store,
                _dir: None,
                schema: Some((admin, schema)),
            });
        }
        Err(_) => eprintln!("CENTRALINO_TEST_PG_URL not set: PostgreSQL half skipped"),
    }
    out
}

#[tokio::test]
async fn migrations_run_once_and_connecting_twice_keeps_data() {
    for db in backends().await {
        let (name, s) = (db.name, &db.store);
        let expected = if name == "sqlite" {
            Backend::Sqlite
        } else {
            Backend::Postgres
        };
        assert_eq!(s.backend(), expected);
        let t = s.default_tenant().await.unwrap();
        assert_eq!(t.domain, "default");
        s.create_extension(&NewExtension {
            number: "200".into(),
            ..Default::default()
        })
        .await
        .unwrap();
        let again = Store::connect(&db.url).await.unwrap();
        assert!(
            again
                .extension_by_number(None, "200")
                .await
                .unwrap()
                .is_some(),
            "{name}"
        );
        assert_eq!(
            again.ensure_default_tenant().await.unwrap(),
            t,
            "{name}: idempotent"
        );
        let tpl = again
            .extension_template(t.id, "Default")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            tpl,
            ExtensionTemplate {
                id: tpl.id,
                ..ExtensionTemplate::new(t.id, "Default")
            }
        );
        let tpl = again
            .account_template(t.id, "Default")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            tpl,
            AccountTemplate {
                id: tpl.id,
                ..AccountTemplate::new(t.id, "Default")
            }
        );
        db.finish().await;
    }
    assert!(matches!(
        Store::connect("mysql://x/y").await,
        Err(StoreError::UnsupportedUrl)
    ));
}

#[tokio::test]
async fn extension_overrides_survive_template_edits() {
    for db in backends().await {
        let (name, s) = (db.name, &db.store);
        let t = s.default_tenant().await.unwrap();
        let mut sales = ExtensionTemplate::new(t.id, "Sales");
        sales.ring_timeout_s = 20;
        sales.overflow_noanswer = "extension:300".into();
        sales.id = s.create_extension_template(&sales).await.unwrap();
        let new = |number: &str, template: Option<&str>, overrides| NewExtension {
            number: number.into(),
            first_name: "N".into(),
            template: template.map(str::to_string),
            overrides,
            ..Default::default()
        };
        s.create_extension(&new("300", None, Default::default()))
            .await
            .unwrap();
        let e301 = s
            .create_extension(&new("301", Some("Sales"), Default::default()))
            .await
            .unwrap();
        let pinned = ExtensionOverrides {
            ring_timeout_s: Some(5),
            busy_level: Some(2),
            ..Default::default()
        };
        let e302 = s
            .create_extension(&new("302", Some("Sales"), pinned))
            .await
            .unwrap();

        sales.ring_timeout_s = 45;
        sales.overflow_busy = "extension:300".into();
        s.update_extension_template(&sales).await.unwrap();
        let d = s.load_directory().await.unwrap();
        let get = |n: &str| d.extensions.iter().find(|e| e.number == n).unwrap().clone();
        assert_eq!(
            get("300").ring_timeout_s,
            30,
            "{name}: Default template untouched"
        );
        assert_eq!(
            get("301").ring_timeout_s,
            45,
            "{name}: inherited value follows the template"
        );
        assert_eq!(get("301").overflow_noanswer, "extension:300");
        assert_eq!(
            get("302").ring_timeout_s,
            5,
            "{name}: the override survives the template edit"
        );
        assert_eq!(
            get("302").overflow_busy,
            "extension:300",
            "{name}: unset fields inherit"
        );
        assert_eq!((get("302").busy_level, get("302").call_limit), (2, 0));

        s.set_extension_override(e302, ExtensionOverride::RingTimeout(None))
            .await
            .unwrap();
        s.set_extension_overrides(
            e301,
            &ExtensionOverrides {
                call_limit: Some(3),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let d = s.load_directory().await.unwrap();
        let get = |n: &str| d.extensions.iter().find(|e| e.number == n).unwrap().clone();
        assert_eq!(
            get("302").ring_timeout_s,
            45,
            "{name}: a cleared override inherits"
        );
        assert_eq!(get("302").busy_level, 2, "{name}: other overrides stay");
        assert_eq!(
            s.extension(e301)
                .await
                .unwrap()
                .unwrap()
                .overrides
                .call_limit,
            Some(3)
        );

        // The CLI's text path.
        s.set_extension_field("300", "ring_timeout_s", Some("7"))
            .await
            .unwrap();
        s.set_extension_template_field("Default", "busy_level", "4")
            .await
            .unwrap();
        let e300 = s
            .load_directory()
            .await
            .unwrap()
            .extensions
            .into_iter()
            .find(|e| e.number == "300")
            .unwrap();
        assert_eq!((e300.ring_timeout_s, e300.busy_level), (7, 4), "{name}");

        let bad = s
            .set_extension_override(e302, ExtensionOverride::OverflowBusy(Some("dial:9".into())))
            .await;
        assert!(matches!(bad, Err(StoreError::Invalid(_))), "{name}");
        let missing = s
            .set_extension_override(99_999, ExtensionOverride::CallLimit(Some(1)))
            .await;
        assert!(matches!(missing, Err(StoreError::NotFound(_))), "{name}");
        assert!(matches!(
            s.set_extension_field("301", "number", Some("1")).await,
            Err(StoreError::Invalid(_))
        ));
        assert!(matches!(
            s.set_extension_field("999", "busy_level", Some("1")).await,
            Err(StoreError::NotFound(_))
        ));
        sales.ring_timeout_s = 0;
        assert!(matches!(
            s.update_extension_template(&sales).await,
            Err(StoreError::Invalid(_))
        ));
        assert!(matches!(
            s.create_extension(&new("3a", None, Default::default()))
                .await,
            Err(StoreError::Invalid(_))
        ));
        db.finish().await;
    }
}

#[tokio::test]
async fn account_overrides_survive_template_edits() {
    for db in backends().await {
        let (name, s) = (db.name, &db.store);
        let t = s.default_tenant().await.unwrap();
        let mut trunk = AccountTemplate::new(t.id, "Remote");
        trunk.nat = true;
        trunk.acl = Some("192.168.0.0/16".into());
        trunk.id = s.create_account_template(&trunk).await.unwrap();
        let ext = s
            .create_extension(&NewExtension {
                number: "400".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        let account = |username: &str, template: Option<&str>, acl: Option<&str>| NewSipAccount {
            extension_id: ext,
            username: username.into(),
            password: format!("secret-{username}"),
            enabled: true,
            template: template.map(str::to_string),
            overrides: AccountOverrides {
                acl: acl.map(str::to_string),
                ..Default::default()
            },
        };
        let a = s
            .create_sip_account(&account("400a", None, None))
            .await
            .unwrap();
        let b = s
            .create_sip_account(&account("400b", Some("Remote"), None))
            .await
            .unwrap();
        let c = s
            .create_sip_account(&account("400c", Some("Remote"), Some("10.0.0.0/8")))
            .await
            .unwrap();
        let d = s
            .create_sip_account(&account("400d", Some("Remote"), Some("")))
            .await
            .unwrap();

        trunk.acl = Some("172.16.0.0/12".into());
        trunk.max_expires = 1800;
        trunk.default_expires = 1800;
        trunk.registration_check = true;
        s.update_account_template(&trunk).await.unwrap();
        s.set_account_override(a, AccountOverride::Nat(Some(true)))
            .await
            .unwrap();
        let dir = s.load_directory().await.unwrap();
        let get = |u: &str| {
            dir.accounts
                .iter()
                .find(|x| x.username == u)
                .unwrap()
                .clone()
        };
        assert_eq!(
            get("400a").acl,
            None,
            "{name}: Default template allows any address"
        );
        assert!(
            get("400a").nat && !get("400a").registration_check,
            "{name}: override + inherit"
        );
        assert_eq!(
            get("400b").acl.as_deref(),
            Some("172.16.0.0/12"),
            "{name}: follows the template"
        );
        assert_eq!(
            (get("400b").max_expires, get("400b").min_expires),
            (1800, 60)
        );
        assert!(get("400b").registration_check && get("400b").nat);
        assert_eq!(
            get("400c").acl.as_deref(),
            Some("10.0.0.0/8"),
            "{name}: override survives"
        );
        assert_eq!(
            get("400d").acl,
            None,
            "{name}: '' = explicitly any, not the template's ACL"
        );
        assert_eq!(get("400d").tenant_domain, "default");
        let e = dir.extensions.iter().find(|e| e.number == "400").unwrap();
        assert_eq!(e.account_ids, vec![a, b, c, d], "{name}");

        s.set_account_override(c, AccountOverride::Acl(None))
            .await
            .unwrap();
        s.set_account_field("400a", "registration_check", Some("1"))
            .await
            .unwrap();
        s.set_account_template_field("Default", "min_expires", "120")
            .await
            .unwrap();
        let dir = s.load_directory().await.unwrap();
        let get = |u: &str| {
            dir.accounts
                .iter()
                .find(|x| x.username == u)
                .unwrap()
                .clone()
        };
        assert_eq!(
            get("400c").acl.as_deref(),
            Some("172.16.0.0/12"),
            "{name}: cleared override inherits"
        );
        assert!(get("400a").registration_check);
        assert_eq!(get("400a").min_expires, 120);
        let stored = s.sip_account_by_username("400d").await.unwrap().unwrap();
        assert_eq!(
            stored.overrides.acl.as_deref(),
            Some(""),
            "{name}: '' kept apart from NULL"
        );

        let bad = s
            .set_account_override(a, AccountOverride::Acl(Some("nowhere".into())))
            .await;
        assert!(matches!(bad, Err(StoreError::Invalid(_))), "{name}");
        trunk.default_expires = 10;
        assert!(matches!(
            s.update_account_template(&trunk).await,
            Err(StoreError::Invalid(_))
        ));
        db.finish().await;
    }
}

#[tokio::test]
async fn demo_seed_is_complete_and_idempotent() {
    for db in backends().await {
        let (name, s) = (db.name, &db.store);
        assert!(s.seed_demo().await.unwrap(), "{name}");
        let d = s.load_directory().await.unwrap();
        assert!(
            !s.seed_demo().await.unwrap(),
            "{name}: second seed does nothing"
        );
        assert_eq!(s.load_directory().await.unwrap(), d, "{name}");
        let numbers: Vec<_> = d.extensions.iter().map(|e| e.number.as_str()).collect();
        assert_eq!(
            numbers,
            ["201", "202", "203", "204", "205", "206", "207", "208"],
            "{name}"
        );
        assert_eq!(d.tenant_domain.as_deref(), Some("default"));
        assert_eq!(d.accounts.len(), 8);
        for e in &d.extensions {
            assert_eq!(e.account_ids.len(), 1, "{name}: one account per extension");
            let a = d
                .accounts
                .iter()
                .find(|a| a.id == e.account_ids[0])
                .unwrap();
            assert_eq!(
                (a.username.as_str(), a.extension_number.as_str()),
                (e.number.as_str(), e.number.as_str())
            );
            let password = format!("demo{}", e.number);
            assert_eq!(
                a.ha1_md5,
                ha1(Algorithm::Md5, &a.username, "default", &password),
                "{name}: HA1 only"
            );
            assert_eq!(
                a.ha1_sha256,
                ha1(Algorithm::Sha256, &a.username, "default", &password)
            );
            assert_eq!(
                (a.min_expires, a.max_expires, a.default_expires),
                (60, 3600, 3600)
            );
            let u = s
                .verify_user_password("default", &e.number, &password)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(u.extension.as_deref(), Some(e.number.as_str()));
            assert!(u.cti_access, "{name}: demo users may log in to the CTI");
        }
        assert_eq!(d.extensions[0].first_name, "Anna");
        db.finish().await;
    }
}

#[tokio::test]
async fn user_passwords_are_argon2_and_verified() {
    for db in backends().await {
        let (name, s) = (db.name, &db.store);
        let ext = s
            .create_extension(&NewExtension {
                number: "210".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        let user = NewUser {
            username: "mario".into(),
            password: "correct horse".into(),
            extension_id: Some(ext),
            gui_access: true,
            api_access: true,
            role: "admin".into(),
            ..Default::default()
        };
        let id = s.create_user(&user).await.unwrap();
        let u = s
            .verify_user_password("default", "mario", "correct horse")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(u.id, id);
        assert_eq!(
            (u.gui_access, u.cti_access, u.api_access),
            (true, true, true),
            "{name}"
        );
        assert_eq!(
            (u.role.as_str(), u.extension.as_deref()),
            ("admin", Some("210"))
        );
        assert!(
            s.verify_user_password("default", "mario", "wrong")
                .await
                .unwrap()
                .is_none(),
            "{name}"
        );
        assert!(s
            .verify_user_password("default", "luigi", "correct horse")
            .await
            .unwrap()
            .is_none());
        assert!(s
            .verify_user_password("other.example", "mario", "correct horse")
            .await
            .unwrap()
            .is_none());
        let raw = db.raw().await;
        let hash: String = sqlx::query("SELECT password_hash FROM app_user WHERE username = $1")
            .bind("mario")
            .fetch_one(&raw)
            .await
            .unwrap()
            .try_get("password_hash")
            .unwrap();
        assert!(hash.starts_with("$argon2"), "{name}: {hash}");
        assert!(!hash.contains("correct horse"));
        raw.close().await;

        s.set_user_password(id, "battery staple").await.unwrap();
        assert!(s
            .verify_user_password("default", "mario", "correct horse")
            .await
            .unwrap()
            .is_none());
        assert!(s
            .verify_user_password("default", "mario", "battery staple")
            .await
            .unwrap()
            .is_some());
        assert!(
            matches!(s.create_user(&user).await, Err(StoreError::Duplicate(_))),
            "{name}"
        );
        let other = s.create_tenant("other.example", "Other").await.unwrap();
        let elsewhere = NewUser {
            tenant_id: Some(other.id),
            extension_id: None,
            ..user.clone()
        };
        s.create_user(&elsewhere).await.unwrap();
        assert_eq!(
            s.user_by_username("other.example", "mario")
                .await
                .unwrap()
                .unwrap()
                .tenant_id,
            other.id
        );
        let cross = NewUser {
            tenant_id: Some(other.id),
            username: "x".into(),
            ..user.clone()
        };
        assert!(
            matches!(s.create_user(&cross).await, Err(StoreError::NotFound(_))),
            "{name}"
        );
        db.finish().await;
    }
}

#[tokio::test]
async fn unique_constraints_give_typed_errors() {
    for db in backends().await {
        let (name, s) = (db.name, &db.store);
        let ext = |tenant_id, number: &str| NewExtension {
            tenant_id,
            number: number.into(),
            ..Default::default()
        };
        let e = s.create_extension(&ext(None, "500")).await.unwrap();
        assert!(
            matches!(
                s.create_extension(&ext(None, "500")).await,
                Err(StoreError::Duplicate(_))
            ),
            "{name}"
        );
        let other = s.create_tenant("b.example", "B").await.unwrap();
        assert!(matches!(
            s.create_tenant("b.example", "again").await,
            Err(StoreError::Duplicate(_))
        ));
        let e2 = s
            .create_extension(&ext(Some(other.id), "500"))
            .await
            .unwrap();
        let acc = |extension_id, username: &str| NewSipAccount {
            extension_id,
            username: username.into(),
            password: "pass1234".into(),
            enabled: true,
            template: None,
            overrides: AccountOverrides::default(),
        };
        s.create_sip_account(&acc(e, "u500")).await.unwrap();
        let dup = s.create_sip_account(&acc(e2, "u500")).await;
        assert!(
            matches!(dup, Err(StoreError::Duplicate(_))),
            "{name}: usernames are global"
        );
        let id = s.create_sip_account(&acc(e2, "b500")).await.unwrap();
        let b = s.sip_account(id).await.unwrap().unwrap();
        assert_eq!(
            b.ha1_md5,
            ha1(Algorithm::Md5, "b500", "b.example", "pass1234"),
            "{name}: realm = tenant"
        );
        let t = s.default_tenant().await.unwrap();
        let dup_tpl = s
            .create_extension_template(&ExtensionTemplate::new(t.id, "Default"))
            .await;
        assert!(matches!(dup_tpl, Err(StoreError::Duplicate(_))));
        let dup_tpl = s
            .create_account_template(&AccountTemplate::new(other.id, "Default"))
            .await;
        assert!(
            matches!(dup_tpl, Err(StoreError::Duplicate(_))),
            "{name}: new tenants get Default"
        );
        assert!(matches!(
            s.create_sip_account(&acc(e, "bad user")).await,
            Err(StoreError::Invalid(_))
        ));
        assert!(matches!(
            s.create_sip_account(&acc(99_999, "ghost")).await,
            Err(StoreError::NotFound(_))
        ));
        db.finish().await;
    }
}

#[tokio::test]
async fn locations_last_wins_delete_and_expiry() {
    for db in backends().await {
        let (name, s) = (db.name, &db.store);
        s.seed_demo().await.unwrap();
        let accounts = s.load_directory().await.unwrap().accounts;
        let (id, id2) = (accounts[0].id, accounts[1].id);
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
        l.transport = "TCP".into();
        l.user_agent = "ua2".into();
        s.upsert_location(&l).await.unwrap();
        let later = Location {
            account_id: id2,
            expires_at_ms: 20_000,
            ..l.clone()
        };
        s.upsert_location(&later).await.unwrap();
        assert_eq!(
            s.load_locations(5_000).await.unwrap(),
            vec![l.clone(), later.clone()],
            "{name}: last wins"
        );
        assert_eq!(
            s.load_locations(10_000).await.unwrap(),
            vec![later.clone()],
            "{name}: expired skipped"
        );
        assert_eq!(s.purge_expired_locations(10_000).await.unwrap(), 1);
        assert_eq!(
            s.load_locations(0).await.unwrap(),
            vec![later],
            "{name}: purge removed only the expired"
        );
        s.delete_location(id2).await.unwrap();
        assert!(s.load_locations(0).await.unwrap().is_empty());
        assert_eq!(s.heartbeat().await.unwrap(), None);
        s.set_heartbeat(42).await.unwrap();
        s.set_heartbeat(43).await.unwrap();
        assert_eq!(s.heartbeat().await.unwrap(), Some(43));
        db.finish().await;
    }
}

#[tokio::test]
async fn services_are_stored_replaced_and_loaded_with_the_directory() {
    use pbx_server::store::Write;
    use shared_protocol::{Forwards, Services};
    for db in backends().await {
        let (name, s) = (db.name, &db.store);
        s.seed_demo().await.unwrap();
        let d = s.load_directory().await.unwrap();
        assert!(d.services.is_empty(), "{name}: no row = all off");
        let id = |n: &str| d.extensions.iter().find(|e| e.number == n).unwrap().id;
        let mut svc = Services {
            dnd: true,
            forwards: Forwards {
                unconditional: None,
                busy: Some("203".into()),
                no_answer: Some("*#+1".into()),
                unavailable: None,
            },
            fork2mobile: true,
        };
        s.set_services(id("202"), &svc).await.unwrap();
        // Through the batched writer too, replacing the row.
        svc.dnd = false;
        svc.forwards.unconditional = Some("204".into());
        s.apply(&[Write::Services {
            extension_id: id("202"),
            services: Box::new(svc.clone()),
        }])
        .await
        .unwrap();
        s.set_services(id("201"), &Services::default())
            .await
            .unwrap();
        let loaded = s.load_directory().await.unwrap().services;
        let got: Vec<_> = loaded
            .iter()
            .map(|e| (e.number.as_str(), e.tenant_domain.as_str(), &e.services))
            .collect();
        assert_eq!(
            got,
            vec![
                ("201", "default", &Services::default()),
                ("202", "default", &svc)
            ],
            "{name}"
        );
        assert_eq!(s.load_services().await.unwrap(), loaded, "{name}");
        // A reconnect (a restart) sees the same.
        let again = Store::connect(&db.url).await.unwrap();
        assert_eq!(again.load_services().await.unwrap(), loaded, "{name}");
        db.finish().await;
    }
}

fn step(seq: i64, to: &str, enter_ms: i64) -> CdrDetail {
    CdrDetail {
        seq,
        source_num: "201".into(),
        anonymous: false,
        destination_type: "local_exten".into(),
        destination_id: to.into(),
        destination_name: None,
        destination_num: Some(to.into()),
        enter_ms,
        enqueue_ms: None,
        answer_ms: None,
        exit_ms: None,
        exit_cause: None,
        answered_by: None,
        waiting_time_s: None,
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
        caller_name: None,
        anonymous: false,
        called: "202".into(),
        called_name: None,
        duration_s: None,
        bill_ms: None,
        src_peer_name: Some("201".into()),
        src_ip_port: Some("127.0.0.1:5070".into()),
        recovered: false,
        details: vec![step(0, "202", start)],
    }
}

#[tokio::test]
async fn cdr_upsert_update_and_list_order() {
    for db in backends().await {
        let (name, s) = (db.name, &db.store);
        let mut call = record("1000.1", 1_000_000);
        s.cdr_upsert(&call).await.unwrap();
        assert_eq!(
            s.cdr_list(None).await.unwrap(),
            vec![call.clone()],
            "{name}: open row from the start"
        );
        // No answer at 202, forwarded to 203, answered, hung up.
        call.caller_name = Some("Anna Demo".into());
        call.details[0].exit_ms = Some(1_020_000);
        call.details[0].exit_cause = Some("NOANSWER".into());
        let mut fwd = step(1, "203", 1_020_000);
        fwd.answer_ms = Some(1_022_000);
        fwd.answered_by = Some("203".into());
        fwd.waiting_time_s = Some(2);
        call.details.push(fwd);
        s.cdr_upsert(&call).await.unwrap();
        call.answer_ms = Some(1_022_000);
        call.channel_up_ms = Some(1_022_000);
        call.answered_by = Some("203".into());
        call.end_ms = Some(1_027_123);
        call.status = Some("OK".into());
        call.duration_s = Some(27);
        call.bill_ms = Some(5_123);
        call.details[1].exit_ms = Some(1_027_123);
        call.details[1].exit_cause = Some("NCC".into());
        s.cdr_upsert(&call).await.unwrap();

        // Same start: ordered by unique id, bytewise ("2000.10" < "2000.9").
        s.cdr_upsert(&record("2000.9", 2_000_000)).await.unwrap();
        s.cdr_upsert(&record("2000.10", 2_000_000)).await.unwrap();
        s.cdr_upsert(&record("999.0", 999_000)).await.unwrap();
        let list = s.cdr_list(None).await.unwrap();
        let ids: Vec<_> = list.iter().map(|r| r.unique_id.as_str()).collect();
        assert_eq!(
            ids,
            ["999.0", "1000.1", "2000.10", "2000.9"],
            "{name}: oldest first"
        );
        assert_eq!(
            list[1], call,
            "{name}: round trip after updates, details by seq"
        );
        let last2: Vec<_> = s
            .cdr_list(Some(2))
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.unique_id)
            .collect();
        assert_eq!(
            last2,
            ["2000.10", "2000.9"],
            "{name}: limit keeps the newest"
        );
        assert_eq!(s.cdr_list(Some(2)).await.unwrap()[0].details.len(), 1);
        assert_eq!(s.cdr_count().await.unwrap(), 4);

        let j = list[1].to_json();
        let keys: std::collections::BTreeSet<_> = j.as_object().unwrap().keys().cloned().collect();
        let expected = [
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
            "anonymous",
            "called",
            "called_name",
            "duration",
            "bill_secs",
            "src_peer_name",
            "src_ip_port",
            "recovered",
            "details",
        ];
        assert_eq!(keys, expected.iter().map(|k| k.to_string()).collect());
        let dkeys: std::collections::BTreeSet<_> = j["details"][1]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        let dexpected = [
            "detail_source_num",
            "detail_anonymous",
            "detail_destination_type",
            "detail_destination_id",
            "detail_destination_name",
            "detail_destination_num",
            "detail_enter_datetime",
            "detail_enqueue_datetime",
            "detail_answer_datetime",
            "detail_exit_datetime",
            "detail_exit_cause",
            "detail_answered_by",
            "detail_waiting_time",
        ];
        assert_eq!(dkeys, dexpected.iter().map(|k| k.to_string()).collect());
        assert_eq!(j["bill_secs"], 5.123);
        assert_eq!(j["duration"], 27);
        assert_eq!(j["anonymous"], 0);
        assert_eq!(j["recovered"], false);
        assert_eq!(j["start_datetime"], "1970-01-01T00:16:40.000Z");
        assert_eq!(j["end_datetime"], "1970-01-01T00:17:07.123Z");
        assert_eq!(j["details"][1]["detail_exit_cause"], "NCC");
        assert_eq!(
            j["details"][0]["detail_answer_datetime"],
            serde_json::Value::Null
        );
        db.finish().await;
    }
}

#[tokio::test]
async fn cdr_recovery_closes_only_open_records() {
    for db in backends().await {
        let (name, s) = (db.name, &db.store);
        let mut answered = record("1000.1", 1_000_000);
        answered.answer_ms = Some(1_002_000);
        answered.channel_up_ms = Some(1_002_000);
        answered.answered_by = Some("202".into());
        answered.details[0].answer_ms = Some(1_002_000);
        s.cdr_upsert(&answered).await.unwrap();
        s.cdr_upsert(&record("1001.2", 1_001_000)).await.unwrap();
        let after_heartbeat = record("1020.3", 1_020_000);
        s.cdr_upsert(&after_heartbeat).await.unwrap();
        let mut closed = record("999.0", 999_000);
        closed.status = Some("BUSY".into());
        closed.end_ms = Some(1_000_000);
        closed.duration_s = Some(1);
        closed.bill_ms = Some(0);
        closed.details[0].exit_ms = Some(1_000_000);
        closed.details[0].exit_cause = Some("BUSY".into());
        s.cdr_upsert(&closed).await.unwrap();

        s.set_heartbeat(1_010_000).await.unwrap();
        assert_eq!(s.cdr_recover_open(2_000_000).await.unwrap(), 3, "{name}");
        let list = s.cdr_list(None).await.unwrap();
        assert_eq!(list[0], closed, "{name}: closed records untouched");
        let a = &list[1];
        assert_eq!(a.status.as_deref(), Some("OK"), "{name}: answered → OK");
        assert!(a.recovered && a.to_json()["recovered"] == true);
        assert_eq!(
            a.end_ms,
            Some(1_010_000),
            "{name}: closed at the last heartbeat"
        );
        assert_eq!((a.duration_s, a.bill_ms), (Some(10), Some(8_000)));
        assert_eq!(a.details[0].exit_cause.as_deref(), Some("RECOVERED"));
        assert_eq!(a.details[0].exit_ms, Some(1_010_000));
        let r = &list[2];
        assert_eq!(
            r.status.as_deref(),
            Some("??"),
            "{name}: not answered → cause unknown"
        );
        assert_eq!((r.bill_ms, r.duration_s), (Some(0), Some(9)));
        let late = &list[3];
        assert_eq!(
            late.end_ms,
            Some(1_020_000),
            "{name}: never before the start"
        );
        assert_eq!(
            s.cdr_recover_open(3_000_000).await.unwrap(),
            0,
            "{name}: nothing left open"
        );
        assert_eq!(s.cdr_list(None).await.unwrap(), list);
        db.finish().await;
    }
    for db in backends().await {
        let s = &db.store;
        s.cdr_upsert(&record("5.1", 5_000)).await.unwrap();
        assert_eq!(s.cdr_recover_open(9_000).await.unwrap(), 1);
        let r = &s.cdr_list(None).await.unwrap()[0];
        assert_eq!(
            (r.end_ms, r.duration_s),
            (Some(9_000), Some(4)),
            "{}: no heartbeat → now",
            db.name
        );
        db.finish().await;
    }
}

#[tokio::test]
async fn rest_salt_digest_passwords_and_predefined_users() {
    use pbx_server::store::rest_digest_password;
    for db in backends().await {
        let (name, s) = (db.name, &db.store);
        let salt = s.rest_salt("default").await.unwrap().unwrap();
        assert_eq!(salt.len(), 32, "{name}: {salt}");
        assert!(salt.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(
            s.rest_salt("default").await.unwrap().as_deref(),
            Some(salt.as_str())
        );
        assert_eq!(s.rest_salt("nowhere.example").await.unwrap(), None);

        assert_eq!(s.ensure_predefined_users().await.unwrap(), 4, "{name}");
        assert_eq!(
            s.ensure_predefined_users().await.unwrap(),
            0,
            "{name}: idempotent"
        );
        let admin = s.api_credential("default", "admin").await.unwrap().unwrap();
        assert_eq!(
            (
                admin.user.role.as_str(),
                admin.user.api_access,
                admin.user.gui_access
            ),
            ("admin", true, true)
        );
        assert!(admin.on_default_password(), "{name}");
        assert_eq!(
            admin.digest_password.as_deref(),
            Some(rest_digest_password("admin", &salt).as_str())
        );
        assert!(s
            .verify_user_password("default", "admin", "admin")
            .await
            .unwrap()
            .is_some());
        for optional in ["privacyadmin", "phonebook", "click2call"] {
            let c = s
                .api_credential("default", optional)
                .await
                .unwrap()
                .unwrap();
            assert!(
                !c.user.api_access && !c.user.gui_access,
                "{name}: {optional}"
            );
            assert!(
                !c.on_default_password(),
                "{name}: {optional} has a random password"
            );
            assert_eq!(c.user.privacy, optional == "privacyadmin");
        }
        assert_eq!(
            s.users_on_default_password().await.unwrap(),
            vec!["admin@default".to_string()]
        );

        s.set_password_by_username("default", "admin", "n3w-s3cret")
            .await
            .unwrap();
        let admin = s.api_credential("default", "admin").await.unwrap().unwrap();
        assert!(!admin.on_default_password());
        assert_eq!(
            admin.digest_password.as_deref(),
            Some(rest_digest_password("n3w-s3cret", &salt).as_str())
        );
        assert!(s
            .verify_user_password("default", "admin", "n3w-s3cret")
            .await
            .unwrap()
            .is_some());
        assert!(s.users_on_default_password().await.unwrap().is_empty());
        assert!(matches!(
            s.set_password_by_username("default", "nobody", "whatever1")
                .await,
            Err(StoreError::NotFound(_))
        ));

        // A new tenant gets its own salt and its own predefined users.
        let b = s.create_tenant("b.example", "B").await.unwrap();
        let b_salt = s.rest_salt("b.example").await.unwrap().unwrap();
        assert_ne!(b_salt, salt);
        let b_admin = s
            .api_credential("b.example", "admin")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(b_admin.user.tenant_id, b.id);
        assert!(b_admin.on_default_password(), "{name}");

        // Created users get a digest too.
        let ext = s
            .create_extension(&NewExtension {
                number: "300".into(),
                first_name: "Ada".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        s.create_sip_account(&NewSipAccount {
            extension_id: ext,
            username: "300a".into(),
            password: "pw-300a".into(),
            enabled: true,
            template: None,
            overrides: AccountOverrides::default(),
        })
        .await
        .unwrap();
        s.create_user(&NewUser {
            username: "ada".into(),
            password: "ada-pass".into(),
            extension_id: Some(ext),
            api_access: true,
            ..Default::default()
        })
        .await
        .unwrap();
        let ada = s.api_credential("default", "ada").await.unwrap().unwrap();
        assert_eq!(
            ada.digest_password.as_deref(),
            Some(rest_digest_password("ada-pass", &salt).as_str())
        );
        assert_eq!(ada.user.extension.as_deref(), Some("300"));

        // Listings are per tenant.
        let default_id = s.default_tenant().await.unwrap().id;
        let all = s.extension_listing(default_id, None).await.unwrap();
        assert_eq!(all.len(), 1, "{name}");
        assert_eq!(all[0].extension.number, "300");
        assert_eq!(all[0].template, "Default");
        assert_eq!(all[0].accounts.len(), 1);
        assert_eq!(all[0].accounts[0].1, "300a");
        assert_eq!(
            s.extension_listing(default_id, Some("300"))
                .await
                .unwrap()
                .len(),
            1
        );
        assert!(s
            .extension_listing(default_id, Some("301"))
            .await
            .unwrap()
            .is_empty());
        assert!(s.extension_listing(b.id, None).await.unwrap().is_empty());
        assert!(s
            .extension_listing(b.id, Some("300"))
            .await
            .unwrap()
            .is_empty());
        db.finish().await;
    }
}

#[tokio::test]
async fn queues_ring_groups_and_pickup_groups_per_tenant() {
    use pbx_server::store::{PickupGroups, QueueMemberRow, QueueRow, RingGroupRow};
    for db in backends().await {
        let (name, s) = (db.name, &db.store);
        let t = s.default_tenant().await.unwrap();
        let other = s.create_tenant("c.example", "C").await.unwrap();
        for (tenant, n) in [(None, "201"), (None, "202"), (Some(other.id), "201")] {
            s.create_extension(&NewExtension {
                tenant_id: tenant,
                number: n.into(),
                ..Default::default()
            })
            .await
            .unwrap();
        }
        let member = |e: &str, p| QueueMemberRow {
            extension: e.into(),
            penalty: p,
            dynamic: false,
        };
        let mut q = QueueRow {
            number: "610".into(),
            name: "Vendite".into(),
            enabled: true,
            priority: 2,
            strategy: "linear".into(),
            ring_timeout_s: 7,
            retry_s: 1,
            wrapup_s: 0,
            max_wait_s: 60,
            max_callers: 3,
            autopause: true,
            ring_busy: false,
            overflow: "extension:202".into(),
            join_empty: "paused".into(),
            leave_empty: String::new(),
            service_level_s: 15,
            music: "tone".into(),
            members: vec![member("202", 0), member("201", 5)],
        };
        s.create_queue(t.id, &q).await.unwrap();
        assert_eq!(s.queues_of(t.id).await.unwrap(), [q.clone()], "{name}");
        assert!(s.queues_of(other.id).await.unwrap().is_empty(), "{name}");
        // One numbering plan: an extension's or a queue's number is taken.
        for n in ["610", "201"] {
            let dup = QueueRow {
                number: n.into(),
                members: Vec::new(),
                ..q.clone()
            };
            assert!(
                matches!(
                    s.create_queue(t.id, &dup).await,
                    Err(StoreError::Duplicate(_))
                ),
                "{name}: {n}"
            );
        }
        let twice = QueueRow {
            number: "611".into(),
            members: vec![member("201", 0), member("201", 1)],
            ..q.clone()
        };
        assert!(matches!(
            s.create_queue(t.id, &twice).await,
            Err(StoreError::Invalid(_))
        ));
        assert!(
            s.queues_of(t.id).await.unwrap().len() == 1,
            "{name}: all or nothing"
        );
        let bad = QueueRow {
            strategy: "roundrobin".into(),
            ..q.clone()
        };
        assert!(matches!(
            s.update_queue(t.id, &bad).await,
            Err(StoreError::Invalid(_))
        ));
        q.name = "Sales".into();
        q.max_wait_s = 0;
        s.update_queue(t.id, &q).await.unwrap();
        assert!(matches!(
            s.update_queue(other.id, &q).await,
            Err(StoreError::NotFound(_))
        ));
        // Members: a new one goes last, an existing one keeps its place.
        assert!(!s.put_queue_member(t.id, "610", "202", 3).await.unwrap());
        s.delete_queue_member(t.id, "610", "201").await.unwrap();
        assert!(s.put_queue_member(t.id, "610", "201", 1).await.unwrap());
        let got = &s.queues_of(t.id).await.unwrap()[0];
        assert_eq!((got.name.as_str(), got.max_wait_s), ("Sales", 0), "{name}");
        assert_eq!(got.members, [member("202", 3), member("201", 1)], "{name}");
        assert!(matches!(
            s.put_queue_member(other.id, "610", "201", 0).await,
            Err(StoreError::NotFound(_))
        ));
        assert!(matches!(
            s.put_queue_member(t.id, "610", "299", 0).await,
            Err(StoreError::NotFound(_))
        ));
        assert!(matches!(
            s.delete_queue_member(t.id, "610", "299").await,
            Err(StoreError::NotFound(_))
        ));
        assert!(matches!(
            s.delete_queue(other.id, "610").await,
            Err(StoreError::NotFound(_))
        ));

        // Ring groups.
        let g = RingGroupRow {
            number: "650".into(),
            name: "Front".into(),
            enabled: true,
            overflow: "hangup".into(),
            members: vec![("202".into(), 1, 20)],
        };
        s.create_ring_group(t.id, &g).await.unwrap();
        let shadowed = s
            .create_extension(&NewExtension {
                number: "650".into(),
                ..Default::default()
            })
            .await;
        assert!(
            matches!(shadowed, Err(StoreError::Duplicate(_))),
            "{name}: an extension cannot take a group's number"
        );
        assert!(matches!(
            s.create_ring_group(
                t.id,
                &RingGroupRow {
                    number: "610".into(),
                    ..g.clone()
                }
            )
            .await,
            Err(StoreError::Duplicate(_))
        ));
        assert!(s
            .put_ring_group_member(t.id, "650", "201", 2, 5)
            .await
            .unwrap());
        assert!(!s
            .put_ring_group_member(t.id, "650", "202", 1, 9)
            .await
            .unwrap());
        assert!(matches!(
            s.put_ring_group_member(t.id, "650", "201", 0, 5).await,
            Err(StoreError::Invalid(_))
        ));
        s.update_ring_group(
            t.id,
            &RingGroupRow {
                enabled: false,
                ..g.clone()
            },
        )
        .await
        .unwrap();
        let got = &s.ring_groups_of(t.id).await.unwrap()[0];
        assert_eq!(
            (got.enabled, got.members.clone()),
            (false, vec![("202".into(), 1, 9), ("201".into(), 2, 5)]),
            "{name}"
        );
        s.delete_ring_group_member(t.id, "650", "201")
            .await
            .unwrap();
        assert!(matches!(
            s.delete_ring_group_member(t.id, "650", "201").await,
            Err(StoreError::NotFound(_))
        ));
        assert!(s.ring_groups_of(other.id).await.unwrap().is_empty());

        // Pickup groups.
        let pg = PickupGroups {
            member: vec!["office".into()],
            picker: vec!["office".into(), "sales".into()],
        };
        s.set_pickup_groups_of(t.id, "201", &pg).await.unwrap();
        assert_eq!(s.pickup_groups_of(t.id, "201").await.unwrap(), pg, "{name}");
        assert!(s
            .pickup_groups_of(other.id, "201")
            .await
            .unwrap()
            .member
            .is_empty());
        assert!(matches!(
            s.set_pickup_groups_of(
                t.id,
                "201",
                &PickupGroups {
                    member: vec!["a b".into()],
                    picker: vec![]
                }
            )
            .await,
            Err(StoreError::Invalid(_))
        ));
        assert_eq!(
            s.pickup_group_listing(t.id).await.unwrap(),
            [
                ("office".into(), "201".into(), "member".into()),
                ("office".into(), "201".into(), "picker".into()),
                ("sales".into(), "201".into(), "picker".into()),
            ],
            "{name}"
        );
        let d = s.load_directory_of("default").await.unwrap();
        let e = d.extensions.iter().find(|e| e.number == "201").unwrap();
        assert_eq!(e.pickup_allowed, ["office", "sales"], "{name}");

        // Deleting a queue takes its members; the call center's reload sees the rest.
        s.delete_queue(t.id, "610").await.unwrap();
        let cc = s.call_center_config("default").await.unwrap();
        assert!(cc.queues.is_empty() && cc.groups.len() == 1, "{name}");
        db.finish().await;
    }
}
