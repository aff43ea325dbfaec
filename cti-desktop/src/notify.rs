//! Native notifications for incoming and missed calls, and the status the tray shows.
//!
//! [`NoticePlanner`] is sans-IO: fed with the call triggers the action runner observes, it
//! says what to show or withdraw and which status the user is in. [`DbusNotifier`] shows the
//! notices through the desktop's notification service (freedesktop D-Bus, via notify-rust)
//! on a worker thread of its own, so a slow or missing service never holds up the CTI.

use crate::actions::{CallFacts, Trigger};
use std::collections::{HashMap, HashSet};
use std::sync::mpsc;

/// The language of the notices (the UI's two).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// English.
    En,
    /// Italian.
    It,
}

impl Lang {
    /// From the POSIX locale variables (`LC_ALL`, `LC_MESSAGES`, `LANG`): Italian for `it…`.
    pub fn from_env() -> Lang {
        let pick = |v: &str| v.to_ascii_lowercase().starts_with("it");
        ["LC_ALL", "LC_MESSAGES", "LANG"]
            .iter()
            .filter_map(|k| std::env::var(k).ok())
            .find(|v| !v.is_empty())
            .map_or(Lang::En, |v| if pick(&v) { Lang::It } else { Lang::En })
    }
}

/// What kind of notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKind {
    /// A call rings the user.
    Incoming,
    /// A call rang the user and ended unanswered.
    Missed,
}

/// One notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// Which.
    pub kind: NoticeKind,
    /// The call's unique id.
    pub uid: String,
    /// The title line.
    pub summary: String,
    /// The text.
    pub body: String,
}

/// The user's call status, for the tray.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallStatus {
    /// No call.
    Idle,
    /// A call rings the user.
    Ringing,
    /// In a call.
    InCall,
}

/// What the planner asks of the shell after a trigger.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// Show this.
    pub show: Option<Notice>,
    /// Withdraw the incoming-call notice of this call (answered or over).
    pub withdraw: Option<String>,
    /// The status changed to this.
    pub status: Option<CallStatus>,
}

/// Decides the notices and the status from the call triggers.
#[derive(Debug)]
pub struct NoticePlanner {
    lang: Lang,
    /// Incoming calls ringing, not answered yet.
    ringing: HashSet<String>,
    /// Calls answered and not over.
    talking: HashSet<String>,
    status: CallStatus,
}

impl NoticePlanner {
    /// A planner writing in `lang`.
    pub fn new(lang: Lang) -> NoticePlanner {
        NoticePlanner {
            lang,
            ringing: HashSet::new(),
            talking: HashSet::new(),
            status: CallStatus::Idle,
        }
    }

    /// The current status.
    pub fn status(&self) -> CallStatus {
        self.status
    }

    /// A call of the user fired `trigger`.
    pub fn on_trigger(&mut self, trigger: Trigger, facts: &CallFacts) -> Plan {
        let mut plan = Plan::default();
        let uid = facts.uid.clone();
        match trigger {
            Trigger::Ring => {
                if !facts.outgoing && self.ringing.insert(uid.clone()) {
                    plan.show = Some(self.notice(NoticeKind::Incoming, facts));
                }
            }
            Trigger::Answer => {
                if self.ringing.remove(&uid) {
                    plan.withdraw = Some(uid.clone());
                }
                self.talking.insert(uid);
            }
            Trigger::Hangup => {
                if self.ringing.remove(&uid) {
                    plan.withdraw = Some(uid.clone());
                    plan.show = Some(self.notice(NoticeKind::Missed, facts));
                }
                self.talking.remove(&uid);
            }
        }
        let status = if !self.talking.is_empty() {
            CallStatus::InCall
        } else if !self.ringing.is_empty() {
            CallStatus::Ringing
        } else {
            CallStatus::Idle
        };
        if status != self.status {
            self.status = status;
            plan.status = Some(status);
        }
        plan
    }

    fn notice(&self, kind: NoticeKind, f: &CallFacts) -> Notice {
        let who = match (f.callername.is_empty(), f.callernum.is_empty()) {
            (false, false) => format!("{} ({})", f.callername, f.callernum),
            (false, true) => f.callername.clone(),
            (true, false) => f.callernum.clone(),
            (true, true) => match self.lang {
                Lang::En => "an unknown number".to_string(),
                Lang::It => "un numero sconosciuto".to_string(),
            },
        };
        let queue = (!f.queue_name.is_empty()).then(|| f.queue_name.clone());
        let (summary, body) = match (kind, self.lang) {
            (NoticeKind::Incoming, Lang::En) => (
                "Incoming call".to_string(),
                match queue {
                    Some(q) => format!("{who} is calling (queue {q})"),
                    None => format!("{who} is calling"),
                },
            ),
            (NoticeKind::Incoming, Lang::It) => (
                "Chiamata in arrivo".to_string(),
                match queue {
                    Some(q) => format!("Chiama {who} (coda {q})"),
                    None => format!("Chiama {who}"),
                },
            ),
            (NoticeKind::Missed, Lang::En) => ("Missed call".to_string(), format!("From {who}")),
            (NoticeKind::Missed, Lang::It) => ("Chiamata persa".to_string(), format!("Da {who}")),
        };
        Notice {
            kind,
            uid: f.uid.clone(),
            summary,
            body,
        }
    }
}

/// The observer for [`crate::ActionRunner::with_observer`]: plans each trigger, hands the
/// notices to `sink` and the status changes to `on_status` (the tray).
pub fn observer(
    lang: Lang,
    sink: std::sync::Arc<dyn NoticeSink>,
    on_status: impl Fn(CallStatus) + Send + Sync + 'static,
) -> impl Fn(Trigger, &CallFacts) + Send + Sync + 'static {
    let planner = std::sync::Mutex::new(NoticePlanner::new(lang));
    move |trigger, facts| {
        let plan = match planner.lock() {
            Ok(mut p) => p.on_trigger(trigger, facts),
            Err(_) => return,
        };
        if let Some(uid) = &plan.withdraw {
            sink.withdraw(uid);
        }
        if let Some(n) = plan.show {
            sink.show(n);
        }
        if let Some(s) = plan.status {
            on_status(s);
        }
    }
}

/// Where notices go (the desktop's notification service, or a test's list).
pub trait NoticeSink: Send + Sync {
    /// Shows a notice.
    fn show(&self, notice: Notice);
    /// Withdraws the notice shown for call `uid`, if it is still up.
    fn withdraw(&self, uid: &str);
}

enum Job {
    Show(Notice),
    Withdraw(String),
}

/// Notices through the freedesktop notification service (D-Bus), on a worker thread.
pub struct DbusNotifier {
    jobs: std::sync::Mutex<mpsc::Sender<Job>>,
}

impl DbusNotifier {
    /// Starts the worker thread.
    pub fn start() -> DbusNotifier {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::spawn(move || {
            let mut shown: HashMap<String, notify_rust::NotificationHandle> = HashMap::new();
            for job in rx {
                match job {
                    Job::Show(n) => {
                        let mut note = notify_rust::Notification::new();
                        note.appname("Centralino")
                            .summary(&n.summary)
                            .body(&n.body)
                            .icon("call-start");
                        if n.kind == NoticeKind::Incoming {
                            note.urgency(notify_rust::Urgency::Critical)
                                .hint(notify_rust::Hint::Category("call.incoming".into()));
                        } else {
                            note.hint(notify_rust::Hint::Category("call.unanswered".into()));
                        }
                        match note.show() {
                            Ok(h) => {
                                tracing::info!(kind = ?n.kind, call = %n.uid, "notification shown");
                                if n.kind == NoticeKind::Incoming {
                                    shown.insert(n.uid, h);
                                }
                            }
                            Err(e) => {
                                tracing::warn!(kind = ?n.kind, error = %e, "notification not shown")
                            }
                        }
                    }
                    Job::Withdraw(uid) => {
                        if let Some(h) = shown.remove(&uid) {
                            h.close();
                        }
                    }
                }
            }
        });
        DbusNotifier {
            jobs: std::sync::Mutex::new(tx),
        }
    }

    fn send(&self, job: Job) {
        if let Ok(tx) = self.jobs.lock() {
            let _ = tx.send(job);
        }
    }
}

impl NoticeSink for DbusNotifier {
    fn show(&self, notice: Notice) {
        self.send(Job::Show(notice));
    }
    fn withdraw(&self, uid: &str) {
        self.send(Job::Withdraw(uid.to_string()));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn facts(uid: &str, num: &str, name: &str, outgoing: bool) -> CallFacts {
        CallFacts {
            callernum: num.into(),
            callername: name.into(),
            exten_num: "202".into(),
            uid: uid.into(),
            queue_name: String::new(),
            outgoing,
            internal: true,
        }
    }

    #[test]
    fn an_incoming_call_is_shown_then_withdrawn_when_answered() {
        let mut p = NoticePlanner::new(Lang::En);
        let f = facts("u1", "201", "Anna", false);
        let ring = p.on_trigger(Trigger::Ring, &f);
        let n = ring.show.unwrap();
        assert_eq!(n.kind, NoticeKind::Incoming);
        assert_eq!(n.summary, "Incoming call");
        assert_eq!(n.body, "Anna (201) is calling");
        assert_eq!(ring.status, Some(CallStatus::Ringing));
        let answer = p.on_trigger(Trigger::Answer, &f);
        assert_eq!(answer.withdraw.as_deref(), Some("u1"));
        assert_eq!(answer.show, None);
        assert_eq!(answer.status, Some(CallStatus::InCall));
        let end = p.on_trigger(Trigger::Hangup, &f);
        assert_eq!(end.show, None, "an answered call is not missed");
        assert_eq!(end.status, Some(CallStatus::Idle));
    }

    #[test]
    fn an_unanswered_call_becomes_a_missed_call() {
        let mut p = NoticePlanner::new(Lang::It);
        let f = facts("u2", "0612345xxx", "", false);
        assert!(p.on_trigger(Trigger::Ring, &f).show.is_some());
        let end = p.on_trigger(Trigger::Hangup, &f);
        assert_eq!(end.withdraw.as_deref(), Some("u2"));
        let n = end.show.unwrap();
        assert_eq!(n.kind, NoticeKind::Missed);
        assert_eq!(n.summary, "Chiamata persa");
        assert_eq!(n.body, "Da 0612345xxx");
        assert_eq!(p.status(), CallStatus::Idle);
    }

    #[test]
    fn calls_the_user_places_are_not_notified() {
        let mut p = NoticePlanner::new(Lang::En);
        let f = facts("u3", "203", "Bruno", true);
        let ring = p.on_trigger(Trigger::Ring, &f);
        assert_eq!(ring.show, None);
        assert_eq!(ring.status, None, "still idle until answered");
        assert_eq!(p.on_trigger(Trigger::Hangup, &f).show, None);
    }

    #[test]
    fn a_second_ringing_call_while_talking_keeps_the_in_call_status() {
        let mut p = NoticePlanner::new(Lang::En);
        let a = facts("a", "201", "Anna", false);
        let b = facts("b", "", "", false);
        p.on_trigger(Trigger::Ring, &a);
        p.on_trigger(Trigger::Answer, &a);
        let ring = p.on_trigger(Trigger::Ring, &b);
        assert_eq!(ring.show.unwrap().body, "an unknown number is calling");
        assert_eq!(ring.status, None);
        assert_eq!(p.status(), CallStatus::InCall);
        p.on_trigger(Trigger::Hangup, &a);
        assert_eq!(p.status(), CallStatus::Ringing);
    }

    #[test]
    fn queue_calls_say_the_queue() {
        let mut p = NoticePlanner::new(Lang::En);
        let mut f = facts("q", "201", "Anna", false);
        f.queue_name = "600".into();
        assert_eq!(
            p.on_trigger(Trigger::Ring, &f).show.unwrap().body,
            "Anna (201) is calling (queue 600)"
        );
    }
}
