//! The real `cti-core` client against the real server: live state from snapshot and events,
//! resume after the network blinks (no event lost), a fresh snapshot after a server restart,
//! commands, WebSocket transport.

use centralino_e2e::proxy::Proxy;
use centralino_e2e::{free_udp_port, register, Pbx};
use cti_core::{Client, Config, Credentials, Listener, LiveState, Server, Update};
use shared_protocol::{Command, Lamp, PresenceState};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Default)]
struct Recorder(Mutex<Vec<Update>>);

impl Listener for Recorder {
    fn on_update(&self, update: &Update, _state: &LiveState) {
        self.0.lock().unwrap().push(update.clone());
    }
}

impl Recorder {
    fn connections(&self) -> Vec<Update> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|u| matches!(u, Update::Connected { .. }))
            .cloned()
            .collect()
    }
}

fn client(server: Server, user: &str) -> (Client, Arc<Recorder>) {
    let rec = Arc::new(Recorder::default());
    let c = Client::start(
        Config {
            server,
            credentials: Credentials {
                user: user.into(),
                password: format!("demo{user}"),
                tenant: None,
            },
        },
        rec.clone(),
    );
    (c, rec)
}

async fn until(what: &str, c: &Client, f: impl Fn(&LiveState) -> bool) {
    let start = Instant::now();
    while !f(&c.state()) {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn lamp(s: &LiveState, ext: &str) -> Option<Lamp> {
    s.extensions.get(ext).map(|e| e.lamp)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_resumes_after_a_network_blink_and_refreshes_after_a_restart() {
    let mut pbx = Pbx::start();
    let proxy = Proxy::start(pbx.cti);
    let (c, rec) = client(Server::Tcp(proxy.addr.to_string()), "203");
    assert!(c.wait_live(Duration::from_secs(10)).await);
    assert_eq!(c.state().extensions.len(), 8);
    // SIPp blocks this worker for a moment; the client runs on the other one.
    register(&pbx, "206", free_udp_port());
    until("206 idle", &c, |s| lamp(s, "206") == Some(Lamp::Idle)).await;

    // The network blinks; 207 registers meanwhile; the client resumes and catches up.
    proxy.cut();
    until("disconnected", &c, |_| c.phase() != cti_core::Phase::Live).await;
    register(&pbx, "207", free_udp_port());
    proxy.resume();
    until("207 idle after resume", &c, |s| {
        lamp(s, "207") == Some(Lamp::Idle)
    })
    .await;
    let conns = rec.connections();
    assert_eq!(conns.len(), 2, "{conns:?}");
    assert!(
        matches!(conns[1], Update::Connected { resumed: true, replayed } if replayed >= 1),
        "{conns:?}"
    );

    // Same state as a client that never left.
    let (fresh, _) = client(Server::Tcp(pbx.cti.to_string()), "203");
    assert!(fresh.wait_live(Duration::from_secs(10)).await);
    let (a, b) = (c.state(), fresh.state());
    assert_eq!(a.extensions, b.extensions);
    assert_eq!(a.calls, b.calls);

    // Commands go through and come back.
    c.command(Command::SetPresence {
        state: PresenceState::Away,
        message: Some("lunch".into()),
    })
    .await
    .unwrap();
    until("presence away", &c, |s| {
        s.extensions["203"].presence.state == PresenceState::Away
    })
    .await;
    let err = c
        .command(Command::Hold {
            call: "nope".into(),
        })
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            cti_core::CommandError::Server {
                code: shared_protocol::ErrorCode::NotFound,
                ..
            }
        ),
        "{err:?}"
    );

    // A restarted server numbers anew: the client's resume gets a snapshot, not a replay of
    // unrelated events, and the state is right again.
    let before = c.state().seq;
    proxy.cut();
    pbx.restart();
    proxy.set_upstream(pbx.cti);
    proxy.resume();
    until("reconnected to the new server", &c, |_| {
        rec.connections().len() == 3
    })
    .await;
    assert!(matches!(
        rec.connections()[2],
        Update::Connected { resumed: false, .. }
    ));
    assert!(c.state().seq > before);
    let (fresh, _) = client(Server::Tcp(pbx.cti.to_string()), "203");
    assert!(fresh.wait_live(Duration::from_secs(10)).await);
    until("same lamps as a fresh client", &c, |s| {
        s.extensions == fresh.state().extensions
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_speaks_websocket_too() {
    let pbx = Pbx::start();
    let (c, _) = client(Server::WebSocket(format!("ws://{}/cti", pbx.http)), "204");
    assert!(c.wait_live(Duration::from_secs(10)).await);
    assert_eq!(c.state().user.unwrap().extension.as_deref(), Some("204"));
    c.command(Command::SetDnd {
        extension: None,
        enabled: true,
    })
    .await
    .unwrap();
    until("dnd on", &c, |s| s.extensions["204"].dnd).await;
    assert_eq!(c.state().services.map(|s| s.dnd), Some(true));
}
