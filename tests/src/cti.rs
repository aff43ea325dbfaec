//! A CTI client written from `docs/cti-protocol.md`, speaking raw JSON over the TCP port (it
//! does not use the server's types, so it checks the documented wire format), plus a local
//! copy of the state the protocol promises (snapshot + events).

use serde_json::{json, Value};
use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// One CTI connection.
pub struct CtiClient {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    /// Frames read but not yet consumed.
    pending: VecDeque<Value>,
    /// Every `event` frame seen, in order.
    pub events: Vec<Value>,
    /// The last `seq` seen (snapshot or event).
    pub last_seq: u64,
    next_id: u64,
    /// Local state: snapshot plus events applied.
    pub state: State,
}

/// What a client shows: extensions by number and calls by id.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct State {
    /// Extension states as the snapshot shapes them.
    pub extensions: BTreeMap<String, Value>,
    /// Calls in progress by id.
    pub calls: BTreeMap<String, Value>,
}

impl State {
    fn from_snapshot(s: &Value) -> State {
        let mut st = State::default();
        for e in s["extensions"].as_array().into_iter().flatten() {
            st.extensions
                .insert(e["number"].as_str().unwrap().to_string(), e.clone());
        }
        for c in s["calls"].as_array().into_iter().flatten() {
            st.calls
                .insert(c["id"].as_str().unwrap().to_string(), c.clone());
        }
        st
    }

    fn apply(&mut self, ev: &Value) {
        let ext = ev["extension"].as_str().map(str::to_string);
        let row = |st: &mut State| ext.as_ref().and_then(|e| st.extensions.get_mut(e).cloned());
        match ev["kind"].as_str().unwrap_or("") {
            "lamp" => {
                if let Some(mut r) = row(self) {
                    r["lamp"] = ev["lamp"].clone();
                    r["peer"] = ev["peer"].clone();
                    r["direction"] = ev["direction"].clone();
                    self.extensions.insert(ext.clone().unwrap(), r);
                }
            }
            "presence" => {
                if let Some(mut r) = row(self) {
                    r["presence"] = ev["presence"].clone();
                    self.extensions.insert(ext.clone().unwrap(), r);
                }
            }
            "extension_dnd" => {
                if let Some(mut r) = row(self) {
                    r["dnd"] = ev["dnd"].clone();
                    self.extensions.insert(ext.clone().unwrap(), r);
                }
            }
            "account" => {
                if let Some(mut r) = row(self) {
                    let acc = &ev["account"];
                    let list = r["accounts"].as_array_mut().unwrap();
                    match list.iter_mut().find(|a| a["username"] == acc["username"]) {
                        Some(a) => *a = acc.clone(),
                        None => list.push(acc.clone()),
                    }
                    self.extensions.insert(ext.clone().unwrap(), r);
                }
            }
            "call" => {
                let c = &ev["call"];
                self.calls
                    .insert(c["id"].as_str().unwrap().to_string(), c.clone());
            }
            "call_ended" => {
                self.calls.remove(ev["id"].as_str().unwrap());
            }
            _ => {}
        }
    }
}

impl CtiClient {
    /// Connects to the CTI TCP port.
    pub fn connect(addr: SocketAddr) -> CtiClient {
        let s = TcpStream::connect(addr).unwrap();
        s.set_nodelay(true).unwrap();
        CtiClient {
            reader: BufReader::new(s.try_clone().unwrap()),
            writer: s,
            pending: VecDeque::new(),
            events: Vec::new(),
            last_seq: 0,
            next_id: 1,
            state: State::default(),
        }
    }

    /// Sends one frame.
    pub fn send(&mut self, v: &Value) {
        let mut line = serde_json::to_string(v).unwrap();
        line.push('\n');
        self.writer.write_all(line.as_bytes()).unwrap();
    }

    /// Reads one frame within `limit` (`None` on timeout or close), tracking seq and state.
    pub fn read(&mut self, limit: Duration) -> Option<Value> {
        if let Some(v) = self.pending.pop_front() {
            return Some(v);
        }
        self.reader
            .get_ref()
            .set_read_timeout(Some(limit.max(Duration::from_millis(1))))
            .unwrap();
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => {
                let v: Value = serde_json::from_str(&line).unwrap();
                self.observe(&v);
                Some(v)
            }
        }
    }

    fn observe(&mut self, v: &Value) {
        match v["type"].as_str() {
            Some("snapshot") => {
                self.last_seq = v["seq"].as_u64().unwrap();
                self.state = State::from_snapshot(v);
            }
            Some("event") => {
                let seq = v["seq"].as_u64().unwrap();
                assert!(
                    seq > self.last_seq,
                    "seq must increase: {seq} after {}",
                    self.last_seq
                );
                self.last_seq = seq;
                self.state.apply(&v["event"]);
                self.events.push(v.clone());
            }
            _ => {}
        }
    }

    /// Logs in; returns the first frame (snapshot, resumed or error).
    pub fn login(&mut self, user: &str, password: &str, resume_from: Option<u64>) -> Value {
        let mut m = json!({"type": "login", "user": user, "password": password});
        if let Some(r) = resume_from {
            m["resume_from"] = json!(r);
        }
        self.send(&m);
        self.read(Duration::from_secs(10))
            .expect("an answer to login")
    }

    /// Connects and logs in, panicking unless a snapshot comes back.
    pub fn logged_in(addr: SocketAddr, user: &str, password: &str) -> CtiClient {
        let mut c = CtiClient::connect(addr);
        let first = c.login(user, password, None);
        assert_eq!(first["type"], "snapshot", "login of {user}: {first}");
        c
    }

    /// Sends a command and waits for its `result` or `error` (events read meanwhile are kept).
    pub fn command(&mut self, command: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"type": "command", "id": id, "command": command}));
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut kept = Vec::new();
        let answer = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let v = self
                .read(left)
                .unwrap_or_else(|| panic!("no answer to command {id}"));
            let t = v["type"].as_str().unwrap_or("");
            if (t == "result" || t == "error") && v["id"] == json!(id) {
                break v;
            }
            kept.push(v);
        };
        for v in kept.into_iter().rev() {
            self.pending.push_front(v);
        }
        answer
    }

    /// Reads frames until `f` holds for one event (returned), or panics after `limit`.
    pub fn wait_event(
        &mut self,
        what: &str,
        limit: Duration,
        mut f: impl FnMut(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "timed out waiting for {what}; events: {:#?}",
                self.events
            );
            if let Some(v) = self.read(left) {
                if v["type"] == "event" && f(&v["event"]) {
                    return v["event"].clone();
                }
            }
        }
    }

    /// Reads frames until `f` holds for the local state (snapshot plus events), or panics
    /// after `limit`.
    pub fn wait_state(&mut self, what: &str, limit: Duration, mut f: impl FnMut(&State) -> bool) {
        let deadline = Instant::now() + limit;
        while !f(&self.state) {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "timed out waiting for {what}; state: {:#?}",
                self.state
            );
            self.read(left);
        }
    }

    /// Reads whatever arrives within `quiet` of silence.
    pub fn drain(&mut self, quiet: Duration) {
        while self.read(quiet).is_some() {}
    }

    /// The lamp sequence of `ext` among the events seen so far.
    pub fn lamps(&self, ext: &str) -> Vec<String> {
        self.events
            .iter()
            .map(|e| &e["event"])
            .filter(|e| e["kind"] == "lamp" && e["extension"] == ext)
            .map(|e| e["lamp"].as_str().unwrap().to_string())
            .collect()
    }
}
