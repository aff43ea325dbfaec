//! Feature codes of the numbering plan that the PBX answers itself (seed §1.2; services come
//! first in the numbering plan): queue pause `*81` and resume `*80` (all queues, `<queue>`,
//! `*<reason>`), our queue log-in `*82<queue>` and log-out `*83<queue>`; the forwards
//! (`811<dest>`/`810` unconditional, ours for busy, no answer, unavailable) and DND; directed
//! pickup `**<ext>` and group pickup `*9`; park `888` and retrieval from the slots `890`–`899`.
//! A setting code that works is answered (200 with an answer pointing at a relay) and hung up
//! by the PBX a moment later; one that does not is refused with 403 or 404. Its record has one
//! `service` step, answered by the code dialled.

use super::super::cdr;
use super::super::legs::Phase;
use super::super::Now;
use super::Engine;
use crate::control::{CallOpError, QueueOp, ServiceChange};
use crate::directory::Directory;
use shared_protocol::ForwardKind;
use sip_core::transaction::Endpoint;
use std::collections::BTreeMap;
use std::time::Duration;

/// How long a feature call stays up before the PBX hangs it up (long enough for the phone to
/// show it connected, short enough not to be a call).
pub(super) const FEATURE_HANGUP: Duration = Duration::from_millis(1000);

/// What a feature code asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Feature {
    /// An agent operation.
    Queue(QueueOp),
    /// A change of the caller's services (forward, DND).
    Service(ServiceChange),
    /// Pick up the call ringing at this extension.
    DirectPickup(String),
    /// Pick up the newest call ringing in the caller's pickup groups.
    GroupPickup,
    /// Park the caller (a call to the park extension; an attended transfer to it parks the
    /// transferred party in the slot).
    Park,
    /// Retrieve the call parked in this slot.
    Retrieve(String),
}

/// How a code takes what follows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Arg {
    /// Nothing may follow.
    None,
    /// Something must follow (a destination, an extension).
    Some,
    /// The queue forms: `<queue>*<reason>`, `*<reason>`, `<queue>` or nothing.
    Queue,
}

/// Every service with a code: name, default, what follows it.
const SERVICES: [(&str, Arg); 17] = [
    ("queue_pause", Arg::Queue),
    ("queue_resume", Arg::Queue),
    ("queue_login", Arg::Queue),
    ("queue_logout", Arg::Queue),
    ("group_pickup", Arg::None),
    ("direct_pickup", Arg::Some),
    ("park", Arg::None),
    ("cfim_on", Arg::Some),
    ("cfim_off", Arg::None),
    ("cfbs_on", Arg::Some),
    ("cfbs_off", Arg::None),
    ("cfna_on", Arg::Some),
    ("cfna_off", Arg::None),
    ("cfun_on", Arg::Some),
    ("cfun_off", Arg::None),
    ("dnd_on", Arg::None),
    ("dnd_off", Arg::None),
];

/// The codes of the services the engine answers; the defaults are `store::FEATURE_CODES`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureCodes {
    codes: BTreeMap<&'static str, String>,
}

impl Default for FeatureCodes {
    fn default() -> FeatureCodes {
        FeatureCodes {
            codes: crate::store::FEATURE_CODES
                .iter()
                .map(|(s, c)| (*s, c.to_string()))
                .collect(),
        }
    }
}

impl FeatureCodes {
    /// The defaults with the stored overrides applied.
    pub fn with_overrides(overrides: &[(String, String)]) -> FeatureCodes {
        let mut f = FeatureCodes::default();
        for (service, code) in overrides {
            if let Some(slot) = f.codes.get_mut(service.as_str()) {
                slot.clone_from(code);
            }
        }
        f
    }

    /// The code of a service ("" when unknown).
    pub fn code(&self, service: &str) -> &str {
        self.codes.get(service).map(String::as_str).unwrap_or("")
    }

    /// The park slots, in order (`park_first` to `park_last`, same length, at most 100).
    pub fn park_slots(&self) -> Vec<String> {
        let (first, last) = (self.code("park_first"), self.code("park_last"));
        let (Ok(a), Ok(b)) = (first.parse::<u32>(), last.parse::<u32>()) else {
            return Vec::new();
        };
        if first.len() != last.len() || b < a || b - a >= 100 {
            return Vec::new();
        }
        (a..=b)
            .map(|n| format!("{n:0width$}", width = first.len()))
            .collect()
    }

    /// What a dialled number asks for `ext`, with the service name for the record; `None`
    /// when it is no feature code. The longest matching code wins.
    pub fn parse(&self, dialled: &str, ext: &str) -> Option<(&'static str, Feature)> {
        if self.park_slots().iter().any(|s| s == dialled) {
            return Some(("park_retrieve", Feature::Retrieve(dialled.to_string())));
        }
        let mut codes: Vec<(&'static str, Arg, &str)> = SERVICES
            .iter()
            .map(|(s, a)| (*s, *a, self.code(s)))
            .filter(|(_, _, c)| !c.is_empty())
            .collect();
        codes.sort_by_key(|(_, _, c)| std::cmp::Reverse(c.len()));
        codes.iter().find_map(|(service, arg, code)| {
            let rest = dialled.strip_prefix(code)?;
            let feature = match arg {
                Arg::None if rest.is_empty() => plain(service)?,
                Arg::Some if !rest.is_empty() => with_arg(service, rest)?,
                Arg::Queue => queue(service, rest, ext)?,
                _ => return None,
            };
            Some((*service, feature))
        })
    }
}

fn plain(service: &str) -> Option<Feature> {
    Some(match service {
        "group_pickup" => Feature::GroupPickup,
        "park" => Feature::Park,
        "cfim_off" => Feature::Service(ServiceChange::Forward(ForwardKind::Unconditional, None)),
        "cfbs_off" => Feature::Service(ServiceChange::Forward(ForwardKind::Busy, None)),
        "cfna_off" => Feature::Service(ServiceChange::Forward(ForwardKind::NoAnswer, None)),
        "cfun_off" => Feature::Service(ServiceChange::Forward(ForwardKind::Unavailable, None)),
        "dnd_on" => Feature::Service(ServiceChange::Dnd(true)),
        "dnd_off" => Feature::Service(ServiceChange::Dnd(false)),
        _ => return None,
    })
}

fn with_arg(service: &str, rest: &str) -> Option<Feature> {
    let kind = match service {
        "direct_pickup" => return Some(Feature::DirectPickup(rest.to_string())),
        "cfim_on" => ForwardKind::Unconditional,
        "cfbs_on" => ForwardKind::Busy,
        "cfna_on" => ForwardKind::NoAnswer,
        "cfun_on" => ForwardKind::Unavailable,
        _ => return None,
    };
    Some(Feature::Service(ServiceChange::Forward(
        kind,
        Some(rest.to_string()),
    )))
}

fn queue(service: &str, rest: &str, ext: &str) -> Option<Feature> {
    let extension = ext.to_string();
    // `<queue>*<reason>`, `*<reason>`, `<queue>` or nothing.
    let (queue, reason) = match rest.split_once('*') {
        Some((q, r)) => (q, Some(r)),
        None => (rest, None),
    };
    let queue = (!queue.is_empty()).then(|| queue.to_string());
    let reason = reason.filter(|r| !r.is_empty()).map(str::to_string);
    Some(Feature::Queue(match service {
        "queue_pause" => QueueOp::Pause {
            extension,
            queue,
            reason,
        },
        "queue_resume" if reason.is_none() => QueueOp::Resume { extension, queue },
        "queue_login" if reason.is_none() => QueueOp::Login {
            extension,
            queue: queue?,
            penalty: 0,
        },
        "queue_logout" if reason.is_none() => QueueOp::Logout {
            extension,
            queue: queue?,
        },
        _ => return None,
    }))
}

impl Engine {
    /// Runs `dialled` as a feature code if it is one; true when it was.
    pub(super) fn feature(
        &mut self,
        ep: &mut Endpoint,
        dir: &Directory,
        now: Now,
        id: u64,
        dialled: &str,
    ) -> bool {
        let Some(call) = self.calls.get(&id) else {
            return false;
        };
        if !call.cdr.details.is_empty() || call.phase != Phase::Routing {
            return false;
        }
        let c2c = call.dial_target.is_some();
        let ext = call.caller_ext.clone();
        let Some((service, feature)) = self.features.parse(dialled, &ext) else {
            return false;
        };
        let joins = matches!(
            feature,
            Feature::DirectPickup(_) | Feature::GroupPickup | Feature::Park | Feature::Retrieve(_)
        );
        if c2c && joins {
            // Click-to-call has no offer of the caller's to join with: not a feature here.
            return false;
        }
        if let Some(call) = self.calls.get_mut(&id) {
            cdr::enter_service(&mut call.cdr, service, dialled, &ext, now.wall_ms);
        }
        let result = match feature {
            Feature::Queue(op) => self.queue_op(now, op).map(|()| Handled::Answer),
            Feature::Service(change) => self.service_code(dir, &ext, change),
            Feature::DirectPickup(target) => {
                self.pickup_by_code(ep, dir, now, id, Some(&target), dialled)
            }
            Feature::GroupPickup => self.pickup_by_code(ep, dir, now, id, None, dialled),
            Feature::Park => self.park_by_code(ep, now, id, dialled),
            Feature::Retrieve(slot) => self.retrieve(ep, dir, now, id, &slot, dialled),
        };
        match result {
            Ok(Handled::Answer) => self.answer_feature(ep, now, id, dialled),
            Ok(Handled::Done) => {}
            Err(e) => {
                tracing::info!(call = id, ext = %ext, dialled, error = %e, "feature code refused");
                let (code, reason) = match e {
                    CallOpError::NotFound(_) => (404, "Not Found"),
                    CallOpError::NoDevice(_) => (480, "Temporarily Unavailable"),
                    _ => (403, "Forbidden"),
                };
                self.fail_call(
                    ep,
                    now,
                    id,
                    cdr::status::FAILED,
                    cdr::cause::FAILED,
                    code,
                    reason,
                );
            }
        }
        true
    }

    /// Answers a feature call that did its work; the PBX hangs it up a moment later.
    fn answer_feature(&mut self, ep: &mut Endpoint, now: Now, id: u64, dialled: &str) {
        let offer = self
            .calls
            .get_mut(&id)
            .and_then(|call| {
                if call.relay.is_none() {
                    call.relay = self.ports.start().ok();
                }
                call.media_a.received.clone()
            })
            .unwrap_or_default();
        self.answer_upstream(ep, now, id, &offer);
        if let Some(call) = self.calls.get_mut(&id) {
            call.phase = Phase::Connected;
            call.hangup_at = Some(now.mono + FEATURE_HANGUP);
            cdr::answer(&mut call.cdr, dialled, now.wall_ms);
        }
        self.persist(id);
    }

    /// A forward or DND code: checked here, applied by the core (it owns the directory and
    /// tells the store and the CTI) from [`Engine::drain_service_changes`].
    fn service_code(
        &mut self,
        dir: &Directory,
        ext: &str,
        change: ServiceChange,
    ) -> Result<Handled, CallOpError> {
        super::super::check_service_change(ext, &change)?;
        if let ServiceChange::Forward(_, Some(target)) = &change {
            let known =
                dir.extension(target).is_some() || self.is_queue(target) || self.is_group(target);
            if !known {
                return Err(CallOpError::NotFound(format!("number {target}")));
            }
        }
        tracing::info!(ext, ?change, "service set by feature code");
        self.service_changes.push((ext.to_string(), change));
        Ok(Handled::Answer)
    }

    /// Service changes made by feature codes since the last call, for the core to apply.
    pub fn drain_service_changes(&mut self) -> Vec<(String, ServiceChange)> {
        std::mem::take(&mut self.service_changes)
    }

    /// The codes in use.
    pub fn feature_codes(&self) -> &FeatureCodes {
        &self.features
    }
}

/// What a feature did with its call.
pub(super) enum Handled {
    /// Answer it and hang up a moment later.
    Answer,
    /// The feature took care of the call (joined it to another).
    Done,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_parse_with_queue_and_reason() {
        let f = FeatureCodes::default();
        let pause = |q: Option<&str>, r: Option<&str>| {
            Feature::Queue(QueueOp::Pause {
                extension: "202".into(),
                queue: q.map(Into::into),
                reason: r.map(Into::into),
            })
        };
        assert_eq!(
            f.parse("*81", "202"),
            Some(("queue_pause", pause(None, None)))
        );
        assert_eq!(
            f.parse("*81600", "202"),
            Some(("queue_pause", pause(Some("600"), None)))
        );
        assert_eq!(
            f.parse("*81*3", "202"),
            Some(("queue_pause", pause(None, Some("3"))))
        );
        assert_eq!(
            f.parse("*81600*3", "202"),
            Some(("queue_pause", pause(Some("600"), Some("3"))))
        );
        assert_eq!(
            f.parse("*80", "202"),
            Some((
                "queue_resume",
                Feature::Queue(QueueOp::Resume {
                    extension: "202".into(),
                    queue: None
                })
            ))
        );
        assert!(f.parse("*82", "202").is_none(), "log-in needs a queue");
        assert!(f.parse("*80*1", "202").is_none());
        assert!(f.parse("202", "201").is_none());
        let f = FeatureCodes::with_overrides(&[("queue_pause".into(), "*9181".into())]);
        assert!(f.parse("*81", "202").is_none());
        assert!(f.parse("*9181", "202").is_some());
    }

    #[test]
    fn service_pickup_and_park_codes() {
        let f = FeatureCodes::default();
        let fwd = |k, t: Option<&str>| {
            Some(Feature::Service(ServiceChange::Forward(
                k,
                t.map(Into::into),
            )))
        };
        let p = |d: &str| f.parse(d, "202").map(|(_, x)| x);
        assert_eq!(p("811203"), fwd(ForwardKind::Unconditional, Some("203")));
        assert_eq!(p("810"), fwd(ForwardKind::Unconditional, None));
        assert_eq!(p("821203"), fwd(ForwardKind::Busy, Some("203")));
        assert_eq!(p("820"), fwd(ForwardKind::Busy, None));
        assert_eq!(p("831203"), fwd(ForwardKind::NoAnswer, Some("203")));
        assert_eq!(p("830"), fwd(ForwardKind::NoAnswer, None));
        assert_eq!(p("861203"), fwd(ForwardKind::Unavailable, Some("203")));
        assert_eq!(p("860"), fwd(ForwardKind::Unavailable, None));
        assert_eq!(p("871"), Some(Feature::Service(ServiceChange::Dnd(true))));
        assert_eq!(p("870"), Some(Feature::Service(ServiceChange::Dnd(false))));
        assert_eq!(p("811"), None, "a forward needs a destination");
        assert_eq!(p("8105"), None, "810 takes nothing after it");
        assert_eq!(p("**203"), Some(Feature::DirectPickup("203".into())));
        assert_eq!(p("**"), None);
        assert_eq!(p("*9"), Some(Feature::GroupPickup));
        assert_eq!(p("888"), Some(Feature::Park));
        assert_eq!(p("890"), Some(Feature::Retrieve("890".into())));
        assert_eq!(p("899"), Some(Feature::Retrieve("899".into())));
        assert_eq!(p("900"), None);
        assert_eq!(f.park_slots().len(), 10);
        let f = FeatureCodes::with_overrides(&[
            ("cfim_on".into(), "*21".into()),
            ("park_first".into(), "70".into()),
            ("park_last".into(), "72".into()),
        ]);
        assert_eq!(
            f.parse("*21203", "202").map(|(_, x)| x),
            fwd(ForwardKind::Unconditional, Some("203"))
        );
        assert_eq!(f.park_slots(), ["70", "71", "72"]);
        assert!(f.parse("811203", "202").is_none());
    }
}
