//! Notifications reach the desktop's notification service: a D-Bus session bus of the test's
//! own (`dbus-daemon`, no service activation) watched by `dbus-monitor`, the app's
//! [`notify::observer`] fed the triggers of an answered and of an unanswered incoming call,
//! and the real [`DbusNotifier`] (notify-rust) sending them. Its own test binary, so that
//! pointing `DBUS_SESSION_BUS_ADDRESS` at the private bus touches no other test.
//!
//! Needs `dbus-daemon` and `dbus-monitor` (scripts/test.sh installs them).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use cti_desktop::actions::{CallFacts, Trigger};
use cti_desktop::notify::{self, CallStatus, DbusNotifier, Lang};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(20);

struct Bus {
    daemon: Child,
    monitor: Child,
    address: String,
    log: PathBuf,
}

impl Bus {
    fn start(dir: &Path) -> Bus {
        let socket = dir.join("bus");
        let address = format!("unix:path={}", socket.display());
        let config = dir.join("bus.conf");
        std::fs::write(
            &config,
            format!(
                "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\" \
                 \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n\
                 <busconfig><type>session</type><listen>{address}</listen>\
                 <policy context=\"default\"><allow send_destination=\"*\" eavesdrop=\"true\"/>\
                 <allow eavesdrop=\"true\"/><allow own=\"*\"/></policy></busconfig>\n"
            ),
        )
        .unwrap();
        let daemon = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", config.display()))
            .args(["--nofork", "--nopidfile"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon is installed (apt-get install dbus-daemon)");
        let start = Instant::now();
        while !socket.exists() {
            assert!(start.elapsed() < WAIT, "no D-Bus socket");
            std::thread::sleep(Duration::from_millis(50));
        }
        let log = dir.join("monitor.log");
        let monitor = Command::new("dbus-monitor")
            .args(["--address", &address])
            .arg("interface='org.freedesktop.Notifications'")
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-monitor is installed (apt-get install dbus-bin)");
        // The monitor is in place once it has printed its own name.
        let start = Instant::now();
        while std::fs::read_to_string(&log).unwrap_or_default().is_empty() {
            assert!(start.elapsed() < WAIT, "dbus-monitor did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Bus {
            daemon,
            monitor,
            address,
            log,
        }
    }

    /// `(summary, body)` of every Notify call seen so far.
    fn notifications(&self) -> Vec<(String, String)> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.split("method call")
            .skip(1)
            .filter(|call| call.contains("member=Notify"))
            .filter_map(|call| {
                // Notify(app_name, replaces_id, icon, summary, body, actions, hints, timeout):
                // the strings are the app name, icon, summary and body, then the hints.
                let strings: Vec<&str> = call
                    .lines()
                    .filter_map(|l| l.trim().strip_prefix("string \""))
                    .map(|s| s.trim_end_matches('"'))
                    .collect();
                (strings.len() >= 4).then(|| (strings[2].to_string(), strings[3].to_string()))
            })
            .collect()
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        let _ = self.monitor.kill();
        let _ = self.daemon.kill();
        let _ = self.monitor.wait();
        let _ = self.daemon.wait();
    }
}

fn incoming(uid: &str) -> CallFacts {
    CallFacts {
        callernum: "202".into(),
        callername: "Bruno".into(),
        exten_num: "201".into(),
        uid: uid.into(),
        queue_name: String::new(),
        outgoing: false,
        internal: true,
    }
}

#[test]
fn incoming_and_missed_calls_are_sent_to_the_notification_service() {
    let dir = tempfile::tempdir().unwrap();
    let bus = Bus::start(dir.path());
    // Before any thread of this process reads the environment (notify-rust reads it when the
    // worker connects, on the first notice).
    std::env::set_var("DBUS_SESSION_BUS_ADDRESS", &bus.address);
    let statuses = Arc::new(Mutex::new(Vec::new()));
    let seen = statuses.clone();
    let observe = notify::observer(Lang::En, Arc::new(DbusNotifier::start()), move |s| {
        seen.lock().unwrap().push(s)
    });

    // An answered call, then one that rings and ends unanswered; an outgoing one is silent.
    let answered = incoming("1.1");
    observe(Trigger::Ring, &answered);
    observe(Trigger::Answer, &answered);
    observe(Trigger::Hangup, &answered);
    let missed = incoming("1.2");
    observe(Trigger::Ring, &missed);
    observe(Trigger::Hangup, &missed);
    let mut outgoing = incoming("1.3");
    outgoing.outgoing = true;
    observe(Trigger::Ring, &outgoing);
    observe(Trigger::Hangup, &outgoing);

    let start = Instant::now();
    let got = loop {
        let got = bus.notifications();
        if got.len() >= 3 || start.elapsed() > WAIT {
            break got;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let want = [
        ("Incoming call", "Bruno (202) is calling"),
        ("Incoming call", "Bruno (202) is calling"),
        ("Missed call", "From Bruno (202)"),
    ]
    .map(|(s, b)| (s.to_string(), b.to_string()));
    assert_eq!(got, want);
    // Nothing more comes (the outgoing call).
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(bus.notifications().len(), 3);
    assert_eq!(
        *statuses.lock().unwrap(),
        [
            CallStatus::Ringing,
            CallStatus::InCall,
            CallStatus::Idle,
            CallStatus::Ringing,
            CallStatus::Idle
        ]
    );
}
