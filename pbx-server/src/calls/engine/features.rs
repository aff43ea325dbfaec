//! Feature codes of the numbering plan that the PBX answers itself (seed §1.2): queue pause
//! `*81` and resume `*80` (all queues, `<queue>`, `*<reason>`), and our queue log-in `*82<queue>`
//! and log-out `*83<queue>`. A code that works is answered (200 with an answer pointing at a
//! relay) and hung up by the PBX a moment later; one that does not is refused with 403 or 404.
//! The record has one `service` step, answered by the code dialled.

use super::super::cdr;
use super::super::legs::Phase;
use super::super::Now;
use super::Engine;
use crate::control::{CallOpError, QueueOp};
use sip_core::transaction::Endpoint;
use std::time::Duration;

/// How long a feature call stays up before the PBX hangs it up (long enough for the phone to
/// show it connected, short enough not to be a call).
pub(super) const FEATURE_HANGUP: Duration = Duration::from_millis(1000);

/// The codes of the services the engine answers; the defaults are the seed's (and ours for
/// log-in and log-out, which the seed has not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureCodes {
    /// Pause in the queues.
    pub queue_pause: String,
    /// End the pause.
    pub queue_resume: String,
    /// Log in to a queue.
    pub queue_login: String,
    /// Log out of a queue.
    pub queue_logout: String,
}

impl Default for FeatureCodes {
    fn default() -> FeatureCodes {
        let d = |s: &str| {
            crate::store::FEATURE_CODES
                .iter()
                .find(|(n, _)| *n == s)
                .map(|(_, c)| c.to_string())
                .unwrap_or_default()
        };
        FeatureCodes {
            queue_pause: d("queue_pause"),
            queue_resume: d("queue_resume"),
            queue_login: d("queue_login"),
            queue_logout: d("queue_logout"),
        }
    }
}

impl FeatureCodes {
    /// The defaults with the stored overrides applied.
    pub fn with_overrides(overrides: &[(String, String)]) -> FeatureCodes {
        let mut f = FeatureCodes::default();
        for (service, code) in overrides {
            let slot = match service.as_str() {
                "queue_pause" => &mut f.queue_pause,
                "queue_resume" => &mut f.queue_resume,
                "queue_login" => &mut f.queue_login,
                "queue_logout" => &mut f.queue_logout,
                _ => continue,
            };
            *slot = code.clone();
        }
        f
    }

    /// The operation a dialled number asks for `ext`, with the service name for the record;
    /// `None` when it is no feature code. The longest matching code wins.
    pub fn parse(&self, dialled: &str, ext: &str) -> Option<(&'static str, QueueOp)> {
        let mut codes = [
            ("queue_pause", &self.queue_pause),
            ("queue_resume", &self.queue_resume),
            ("queue_login", &self.queue_login),
            ("queue_logout", &self.queue_logout),
        ];
        codes.sort_by_key(|(_, c)| std::cmp::Reverse(c.len()));
        let (service, rest) = codes.iter().find_map(|(s, c)| {
            (!c.is_empty())
                .then(|| dialled.strip_prefix(c.as_str()))
                .flatten()
                .map(|r| (*s, r))
        })?;
        let extension = ext.to_string();
        // `<queue>*<reason>`, `*<reason>`, `<queue>` or nothing.
        let (queue, reason) = match rest.split_once('*') {
            Some((q, r)) => (q, Some(r)),
            None => (rest, None),
        };
        let queue = (!queue.is_empty()).then(|| queue.to_string());
        let reason = reason.filter(|r| !r.is_empty()).map(str::to_string);
        let op = match service {
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
        };
        Some((service, op))
    }
}

impl Engine {
    /// Runs `dialled` as a feature code if it is one; true when it was.
    pub(super) fn feature(&mut self, ep: &mut Endpoint, now: Now, id: u64, dialled: &str) -> bool {
        let Some(call) = self.calls.get(&id) else {
            return false;
        };
        if !call.cdr.details.is_empty() || call.phase != Phase::Routing {
            return false;
        }
        let ext = call.caller_ext.clone();
        let Some((service, op)) = self.features.parse(dialled, &ext) else {
            return false;
        };
        let result = self.queue_op(now, op);
        if let Some(call) = self.calls.get_mut(&id) {
            cdr::enter_service(&mut call.cdr, service, dialled, &ext, now.wall_ms);
        }
        match result {
            Ok(()) => {
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
            Err(e) => {
                tracing::info!(call = id, ext = %ext, dialled, error = %e, "feature code refused");
                let (code, reason) = match e {
                    CallOpError::NotFound(_) => (404, "Not Found"),
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_parse_with_queue_and_reason() {
        let f = FeatureCodes::default();
        let pause = |q: Option<&str>, r: Option<&str>| QueueOp::Pause {
            extension: "202".into(),
            queue: q.map(Into::into),
            reason: r.map(Into::into),
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
                QueueOp::Resume {
                    extension: "202".into(),
                    queue: None
                }
            ))
        );
        assert!(f.parse("*82", "202").is_none(), "log-in needs a queue");
        assert!(f.parse("*80*1", "202").is_none());
        assert!(f.parse("202", "201").is_none());
        let f = FeatureCodes::with_overrides(&[("queue_pause".into(), "*9181".into())]);
        assert!(f.parse("*81", "202").is_none());
        assert!(f.parse("*9181", "202").is_some());
    }
}
