//! Automatic actions on calls (the seed's "Azioni automatiche"): a URL opened or a program run
//! when a call of the user rings (IN), is answered (RIS) or ends (FIN), with the placeholders
//! `<callernum>`, `<callername>`, `<extenNum>`, `<uid>` and `<queueName>` replaced by the call's
//! data.
//!
//! [`CallWatcher`] is sans-IO: fed with the CTI updates and the state after each, it says which
//! triggers fired. Expansion is pure. Only [`launch`] touches the system, and it never goes
//! through a shell: a caller's name comes from the network and must not become a command.

use cti_core::{LiveState, Update};
use serde::{Deserialize, Serialize};
use shared_protocol::{CallInfo, CallState, Event};
use std::collections::HashMap;

/// When an action runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// The call rings (the seed's IN; for an outgoing call: it starts ringing the other side).
    Ring,
    /// The call is answered (RIS).
    Answer,
    /// The call ends, whoever hung up (FIN).
    Hangup,
}

/// What an action does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// Opens a URL with the system's handler (the browser). Values are percent-encoded.
    Url,
    /// Runs a program: the first word is the program, the others its arguments; each
    /// placeholder becomes (part of) one argument, never more.
    Program,
}

/// One configured action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Action {
    /// When.
    pub on: Trigger,
    /// What.
    pub kind: ActionKind,
    /// The URL or command line, with placeholders.
    pub template: String,
}

/// The actions and their scope (the seed's two check boxes).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionSettings {
    /// The actions, run in order.
    #[serde(default)]
    pub actions: Vec<Action>,
    /// Also for calls with another extension ("Applica le azioni anche agli interni").
    #[serde(default)]
    pub internal_calls: bool,
    /// Also for calls the user places ("… anche alle chiamate uscenti").
    #[serde(default)]
    pub outgoing_calls: bool,
}

/// The data of one call that placeholders are replaced with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CallFacts {
    /// The other party's number (`<callernum>`).
    pub callernum: String,
    /// The other party's name, when known (`<callername>`).
    pub callername: String,
    /// The user's extension (`<extenNum>`).
    pub exten_num: String,
    /// The call's unique id (`<uid>`).
    pub uid: String,
    /// The queue the call came through, if any (`<queueName>`).
    pub queue_name: String,
    /// The user placed the call.
    pub outgoing: bool,
    /// The other party is an extension of the PBX.
    pub internal: bool,
}

impl CallFacts {
    fn value(&self, name: &str) -> Option<&str> {
        Some(match name {
            "callernum" => &self.callernum,
            "callername" => &self.callername,
            "extenNum" => &self.exten_num,
            "uid" => &self.uid,
            "queueName" => &self.queue_name,
            _ => return None,
        })
    }
}

/// The placeholders, as the seed spells them.
pub const PLACEHOLDERS: [&str; 5] = [
    "<callernum>",
    "<callername>",
    "<extenNum>",
    "<uid>",
    "<queueName>",
];

/// Replaces every known placeholder in `template`, passing each value through `encode`.
/// Unknown `<words>` stay as they are (a URL may hold a literal `<`).
fn expand(template: &str, facts: &CallFacts, encode: impl Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        let known = tail
            .find('>')
            .and_then(|end| facts.value(&tail[1..end]).map(|v| (end, encode(v))));
        match known {
            Some((end, v)) => {
                out.push_str(&v);
                rest = &tail[end + 1..];
            }
            None => {
                out.push('<');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Characters left as they are in a URL value: RFC 3986's unreserved set.
const URL_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A URL template with the values percent-encoded (a name with `&` or spaces stays one value).
pub fn expand_url(template: &str, facts: &CallFacts) -> String {
    expand(template, facts, |v| {
        percent_encoding::utf8_percent_encode(v, URL_VALUE).to_string()
    })
}

/// Why an action could not run.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ActionError {
    /// The command line is empty.
    #[error("the command line is empty")]
    Empty,
    /// A quote is not closed.
    #[error("a quote is not closed in the command line")]
    UnclosedQuote,
    /// Only http, https and mailto URLs are opened.
    #[error("only http://, https:// and mailto: URLs are opened, not {0:?}")]
    Scheme(String),
    /// The system refused to start it.
    #[error("could not start {program:?}: {reason}")]
    Spawn {
        /// What was started.
        program: String,
        /// The system's answer.
        reason: String,
    },
}

/// Splits a command line into words: blanks separate, `"…"` and `'…'` group. A backslash
/// only escapes a quote or a blank (`\"`, `\ `); anywhere else it is itself, so Windows paths
/// such as the seed's `c:\script.bat` need no doubling.
pub fn split_words(line: &str) -> Result<Vec<String>, ActionError> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' | '\'' => {
                in_word = true;
                let close = c;
                loop {
                    match chars.next() {
                        None => return Err(ActionError::UnclosedQuote),
                        Some(q) if q == close => break,
                        Some('\\') if close == '"' && chars.clone().next() == Some('"') => {
                            cur.push('"');
                            chars.next();
                        }
                        Some(q) => cur.push(q),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.clone().next() {
                    Some(e) if e == '"' || e == '\'' || e.is_whitespace() => {
                        cur.push(e);
                        chars.next();
                    }
                    _ => cur.push('\\'),
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// A command-line template as program and arguments. The line is split into words first and
/// placeholders replaced inside each word afterwards, so no value can add an argument.
pub fn expand_program(template: &str, facts: &CallFacts) -> Result<Vec<String>, ActionError> {
    let words = split_words(template)?;
    if words.is_empty() {
        return Err(ActionError::Empty);
    }
    Ok(words
        .iter()
        .map(|w| expand(w, facts, str::to_string))
        .collect())
}

/// What [`launch`] would start: the program and its arguments.
pub fn command_for(action: &Action, facts: &CallFacts) -> Result<Vec<String>, ActionError> {
    match action.kind {
        ActionKind::Program => expand_program(&action.template, facts),
        ActionKind::Url => {
            let url = expand_url(action.template.trim(), facts);
            let lower = url.to_ascii_lowercase();
            if !(lower.starts_with("http://")
                || lower.starts_with("https://")
                || lower.starts_with("mailto:"))
            {
                return Err(ActionError::Scheme(url));
            }
            Ok(opener(url))
        }
    }
}

/// The system's "open this URL" program.
fn opener(url: String) -> Vec<String> {
    if cfg!(target_os = "windows") {
        // `start` is a shell built-in; explorer opens URLs with the default browser.
        vec!["explorer".into(), url]
    } else if cfg!(target_os = "macos") {
        vec!["open".into(), url]
    } else {
        vec!["xdg-open".into(), url]
    }
}

/// Starts an action and does not wait for it.
pub fn launch(action: &Action, facts: &CallFacts) -> Result<(), ActionError> {
    let argv = command_for(action, facts)?;
    let (program, args) = argv.split_first().ok_or(ActionError::Empty)?;
    std::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map(drop)
        .map_err(|e| ActionError::Spawn {
            program: program.clone(),
            reason: e.to_string(),
        })
}

#[derive(Debug, Clone)]
struct Tracked {
    facts: CallFacts,
    answered: bool,
}

/// Follows the user's calls through the CTI updates and tells when each trigger fires.
#[derive(Debug, Default)]
pub struct CallWatcher {
    calls: HashMap<String, Tracked>,
}

impl CallWatcher {
    /// A watcher that has seen nothing.
    pub fn new() -> CallWatcher {
        CallWatcher::default()
    }

    /// The triggers that `update` fires (`state` is the state after it), in order.
    pub fn on_update(&mut self, update: &Update, state: &LiveState) -> Vec<(Trigger, CallFacts)> {
        let mut fired = Vec::new();
        match update {
            Update::Event {
                event: Event::Call { call },
                ..
            } => self.on_call(call, state, &mut fired),
            Update::Event {
                event: Event::CallEnded { id },
                ..
            } => {
                if let Some(t) = self.calls.remove(id) {
                    fired.push((Trigger::Hangup, t.facts));
                }
            }
            Update::Snapshot => {
                // Calls that ended while the link was down end here; new ones start.
                let gone: Vec<String> = self
                    .calls
                    .keys()
                    .filter(|id| !state.calls.contains_key(*id))
                    .cloned()
                    .collect();
                for id in gone {
                    if let Some(t) = self.calls.remove(&id) {
                        fired.push((Trigger::Hangup, t.facts));
                    }
                }
                for call in state.calls.values() {
                    self.on_call(call, state, &mut fired);
                }
            }
            _ => {}
        }
        fired
    }

    fn on_call(
        &mut self,
        call: &CallInfo,
        state: &LiveState,
        fired: &mut Vec<(Trigger, CallFacts)>,
    ) {
        let Some(own) = state.user.as_ref().and_then(|u| u.extension.as_deref()) else {
            return;
        };
        let answered = call.state != CallState::Ringing;
        if let Some(t) = self.calls.get_mut(&call.id) {
            // A queue call answered by another agent is no longer the user's.
            let mine = call.caller.number == own || call.callee.number == own || !answered;
            if !mine {
                self.calls.remove(&call.id);
                return;
            }
            if answered && !t.answered {
                t.answered = true;
                fired.push((Trigger::Answer, t.facts.clone()));
            }
            return;
        }
        let Some(facts) = facts_for(call, own, state) else {
            return;
        };
        fired.push((Trigger::Ring, facts.clone()));
        if answered {
            fired.push((Trigger::Answer, facts.clone()));
        }
        self.calls
            .insert(call.id.clone(), Tracked { facts, answered });
    }
}

/// The facts of a call of the user's extension `own`, or `None` when it is not the user's.
fn facts_for(call: &CallInfo, own: &str, state: &LiveState) -> Option<CallFacts> {
    let my_queues: Vec<&str> = state
        .agents
        .get(own)
        .map(|a| a.queues.iter().map(|q| q.queue.as_str()).collect())
        .unwrap_or_default();
    let (other, outgoing, queue) = if call.caller.number == own {
        (&call.callee, true, None)
    } else if call.callee.number == own {
        (&call.caller, false, None)
    } else if call.state == CallState::Ringing && my_queues.contains(&call.callee.number.as_str()) {
        // A queue call ringing the user as one of its agents: the callee is the queue.
        let q = &call.callee;
        let name = state
            .queues
            .get(&q.number)
            .map(|s| s.name.clone())
            .or_else(|| q.name.clone())
            .unwrap_or_else(|| q.number.clone());
        (&call.caller, false, Some(name))
    } else {
        return None;
    };
    let directory = state.extensions.get(&other.number);
    Some(CallFacts {
        callernum: other.number.clone(),
        callername: other
            .name
            .clone()
            .or_else(|| directory.map(|e| e.name.clone()))
            .unwrap_or_default(),
        exten_num: own.to_string(),
        uid: call.id.clone(),
        queue_name: queue.unwrap_or_default(),
        outgoing,
        internal: directory.is_some(),
    })
}

impl ActionSettings {
    /// The actions to run for `trigger` on a call with `facts`, after the scope rules.
    pub fn matching<'a>(
        &'a self,
        trigger: Trigger,
        facts: &'a CallFacts,
    ) -> impl Iterator<Item = &'a Action> + 'a {
        let in_scope =
            (!facts.internal || self.internal_calls) && (!facts.outgoing || self.outgoing_calls);
        self.actions
            .iter()
            .filter(move |a| in_scope && a.on == trigger)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn facts() -> CallFacts {
        CallFacts {
            callernum: "+39 0612 345".into(),
            callername: "Rossi & Figli".into(),
            exten_num: "201".into(),
            uid: "1700000000.12".into(),
            queue_name: "Vendite".into(),
            outgoing: false,
            internal: false,
        }
    }

    #[test]
    fn url_values_are_encoded_and_unknown_words_kept() {
        assert_eq!(
            expand_url(
                "http://crm.example/?q=<callernum>&n=<callername>&e=<extenNum>&u=<uid>&c=<queueName>&x=<other>",
                &facts()
            ),
            "http://crm.example/?q=%2B39%200612%20345&n=Rossi%20%26%20Figli&e=201&u=1700000000.12&c=Vendite&x=<other>"
        );
        assert_eq!(expand_url("a<b<uid>", &facts()), "a<b1700000000.12");
        assert_eq!(expand_url("<uid", &facts()), "<uid");
    }

    #[test]
    fn program_values_stay_inside_their_argument() {
        // The seed's example, with a name that would split into two words in a shell.
        assert_eq!(
            expand_program(r#""c:\script.bat" <callernum> <extenNum> <uid>"#, &facts()).unwrap(),
            ["c:\\script.bat", "+39 0612 345", "201", "1700000000.12"]
        );
        let evil = CallFacts {
            callername: "x; rm -rf ~ \"quoted\"".into(),
            ..facts()
        };
        assert_eq!(
            expand_program("notify --name=<callername> 'lit <uid>' end", &evil).unwrap(),
            [
                "notify",
                "--name=x; rm -rf ~ \"quoted\"",
                "lit 1700000000.12",
                "end"
            ]
        );
        assert_eq!(
            expand_program(r"c:\script.bat <callernum>", &facts()).unwrap(),
            ["c:\\script.bat", "+39 0612 345"]
        );
        assert_eq!(
            split_words(r#"a\ b "say \"hi\"" \'x"#).unwrap(),
            ["a b", "say \"hi\"", "'x"]
        );
        assert_eq!(expand_program("  ", &facts()), Err(ActionError::Empty));
        assert_eq!(
            expand_program("prog \"open", &facts()),
            Err(ActionError::UnclosedQuote)
        );
    }

    #[test]
    fn urls_other_than_web_and_mail_are_refused() {
        let a = Action {
            on: Trigger::Ring,
            kind: ActionKind::Url,
            template: "file:///etc/<uid>".into(),
        };
        assert!(matches!(
            command_for(&a, &facts()),
            Err(ActionError::Scheme(_))
        ));
        let a = Action {
            template: "https://crm/?n=<callernum>".into(),
            ..a
        };
        assert_eq!(
            command_for(&a, &facts())
                .unwrap()
                .last()
                .map(String::as_str),
            Some("https://crm/?n=%2B39%200612%20345")
        );
    }

    fn state(agent_of: &[&str]) -> LiveState {
        let snap: shared_protocol::Snapshot = serde_json::from_value(json!({
            "protocol": 3, "seq": 1,
            "user": {"username": "201", "tenant": "default", "extension": "201", "role": "user",
                     "permissions": {"call_control": true, "privacy": false, "supervisor": false}},
            "extensions": [{"number": "202", "name": "Bruno", "lamp": "idle", "peer": null,
                "direction": null, "dnd": false,
                "presence": {"state": "available", "message": null, "effective": "available"},
                "accounts": [], "services": null}],
            "services": null, "calls": [], "history": [],
            "call_center": {"queues": [], "agents": [{"extension": "201", "name": "Anna",
                "state": "free", "calls_taken": 0, "last_call_ms": null, "pause_ms": 0,
                "queues": agent_of.iter().map(|q| json!({"queue": q, "penalty": 0,
                    "dynamic": false, "state": "free", "paused": null, "calls_taken": 0,
                    "last_call_ms": null, "pause_ms": 0})).collect::<Vec<_>>()}]}
        }))
        .unwrap();
        let mut s = LiveState::default();
        s.reset(snap);
        s
    }

    fn call(
        id: &str,
        caller: (&str, Option<&str>),
        callee: (&str, Option<&str>),
        st: &str,
    ) -> Update {
        let call: CallInfo = serde_json::from_value(json!({"id": id,
            "caller": {"number": caller.0, "name": caller.1},
            "callee": {"number": callee.0, "name": callee.1},
            "state": st, "held_by": null, "started_ms": 1, "answered_ms": null}))
        .unwrap();
        Update::Event {
            seq: 2,
            event: Event::Call { call },
        }
    }

    fn ended(id: &str) -> Update {
        Update::Event {
            seq: 3,
            event: Event::CallEnded { id: id.into() },
        }
    }

    #[test]
    fn ring_answer_hangup_of_an_incoming_call() {
        let s = state(&[]);
        let mut w = CallWatcher::new();
        let ring = w.on_update(
            &call("c1", ("0612345", None), ("201", Some("Anna")), "ringing"),
            &s,
        );
        assert_eq!(ring.len(), 1);
        assert_eq!(ring[0].0, Trigger::Ring);
        assert_eq!(
            (
                ring[0].1.callernum.as_str(),
                ring[0].1.exten_num.as_str(),
                ring[0].1.internal
            ),
            ("0612345", "201", false)
        );
        // The same state again fires nothing; the answer fires once.
        assert!(w
            .on_update(&call("c1", ("0612345", None), ("201", None), "ringing"), &s)
            .is_empty());
        let ans = w.on_update(
            &call("c1", ("0612345", None), ("201", None), "connected"),
            &s,
        );
        assert_eq!(
            ans.iter().map(|f| f.0).collect::<Vec<_>>(),
            [Trigger::Answer]
        );
        assert!(w
            .on_update(&call("c1", ("0612345", None), ("201", None), "held"), &s)
            .is_empty());
        let fin = w.on_update(&ended("c1"), &s);
        assert_eq!(
            fin.iter().map(|f| f.0).collect::<Vec<_>>(),
            [Trigger::Hangup]
        );
        assert!(w.on_update(&ended("c1"), &s).is_empty());
        // Someone else's call (a supervisor sees it) is not the user's.
        assert!(w
            .on_update(&call("c2", ("202", None), ("203", None), "ringing"), &s)
            .is_empty());
    }

    #[test]
    fn a_queue_call_carries_the_queue_and_the_directory_name() {
        let s = state(&["600"]);
        let mut w = CallWatcher::new();
        let ring = w.on_update(
            &call("q1", ("202", None), ("600", Some("Vendite")), "ringing"),
            &s,
        );
        assert_eq!(ring.len(), 1);
        let f = &ring[0].1;
        assert_eq!(
            (
                f.callernum.as_str(),
                f.callername.as_str(),
                f.queue_name.as_str(),
                f.internal
            ),
            ("202", "Bruno", "Vendite", true)
        );
        // Answered by the user: the callee becomes the user; the queue is remembered.
        let ans = w.on_update(&call("q1", ("202", None), ("201", None), "connected"), &s);
        assert_eq!(ans[0].1.queue_name, "Vendite");
        // Another queue call answered by someone else leaves without a hang-up.
        w.on_update(&call("q2", ("0612", None), ("600", None), "ringing"), &s);
        assert!(w
            .on_update(&call("q2", ("0612", None), ("203", None), "connected"), &s)
            .is_empty());
        assert!(w.on_update(&ended("q2"), &s).is_empty());
    }

    #[test]
    fn scope_rules_follow_the_two_check_boxes() {
        let mut settings = ActionSettings {
            actions: vec![Action {
                on: Trigger::Ring,
                kind: ActionKind::Url,
                template: "https://x/<uid>".into(),
            }],
            internal_calls: false,
            outgoing_calls: false,
        };
        let external_in = facts();
        let internal = CallFacts {
            internal: true,
            ..facts()
        };
        let outgoing = CallFacts {
            outgoing: true,
            ..facts()
        };
        assert_eq!(settings.matching(Trigger::Ring, &external_in).count(), 1);
        assert_eq!(settings.matching(Trigger::Answer, &external_in).count(), 0);
        assert_eq!(settings.matching(Trigger::Ring, &internal).count(), 0);
        assert_eq!(settings.matching(Trigger::Ring, &outgoing).count(), 0);
        settings.internal_calls = true;
        settings.outgoing_calls = true;
        assert_eq!(settings.matching(Trigger::Ring, &internal).count(), 1);
        assert_eq!(settings.matching(Trigger::Ring, &outgoing).count(), 1);
    }
}
