//! Qualify: an OPTIONS ping to every registered device every `INTERVAL`, so the CTI can show
//! each account's round-trip latency (and a device that stopped answering). Sans-IO: the core
//! asks it what to send when its timer fires and tells it the responses.

use crate::calls::dialog::{Dialog, Local};
use crate::directory::Directory;
use sip_core::msg::NameAddr;
use sip_core::transaction::TxnId;
use sip_core::{Method, Peer, Request, Transport};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Default time between two pings of the same device.
pub const INTERVAL: Duration = Duration::from_secs(30);

/// A change of an account's latency to report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LatencyChange {
    /// Account id.
    pub account_id: i64,
    /// New latency in ms; `None` when the device stopped answering.
    pub latency_ms: Option<u32>,
}

/// The qualifier.
#[derive(Debug, Default)]
pub struct Qualifier {
    /// `None`: qualify is off.
    interval: Option<Duration>,
    next_round: Option<Instant>,
    inflight: HashMap<TxnId, (i64, Instant)>,
    latency: HashMap<i64, u32>,
}

impl Qualifier {
    /// A qualifier pinging every `interval` (`None` or zero: off); the first round is one
    /// interval away.
    pub fn new(interval: Option<Duration>) -> Qualifier {
        Qualifier {
            interval: interval.filter(|i| !i.is_zero()),
            ..Qualifier::default()
        }
    }

    /// When the next round is due (`None` when off).
    pub fn poll_timeout(&self, now: Instant) -> Option<Instant> {
        let interval = self.interval?;
        Some(self.next_round.unwrap_or(now + interval))
    }

    /// The last measured latency of an account.
    pub fn latency(&self, account_id: i64) -> Option<u32> {
        self.latency.get(&account_id).copied()
    }

    /// If a round is due, the OPTIONS requests to send (account id, request, destination).
    pub fn due(
        &mut self,
        now: Instant,
        dir: &Directory,
        local: &Local,
    ) -> Vec<(i64, Request, Peer)> {
        let Some(interval) = self.interval else {
            return Vec::new();
        };
        let Some(at) = self.next_round else {
            self.next_round = Some(now + interval);
            return Vec::new();
        };
        if now < at {
            return Vec::new();
        }
        self.next_round = Some(now + interval);
        let mut out = Vec::new();
        for loc in dir.locations() {
            let Some(addr) = Directory::location_addr(loc) else {
                continue;
            };
            let Some(account) = dir.account_by_id(loc.account_id) else {
                continue;
            };
            let peer = Peer {
                transport: Transport::parse(&loc.transport).unwrap_or(Transport::Udp),
                addr,
            };
            let mut d = Dialog {
                call_id: format!("{}@centralino", sip_core::transaction::random_token(16)),
                local_tag: Dialog::new_tag(),
                remote_tag: String::new(),
                local_uri: NameAddr {
                    display: None,
                    uri: format!("sip:centralino@{}", local.hostport()),
                    params: Vec::new(),
                },
                remote_uri: NameAddr {
                    display: None,
                    uri: format!("sip:{}@{}", account.username, local.hostport()),
                    params: Vec::new(),
                },
                remote_target: loc.contact.clone(),
                peer,
                local_cseq: 0,
                contact_user: "centralino".into(),
            };
            out.push((loc.account_id, d.request(Method::Options, local), peer));
        }
        out
    }

    /// An OPTIONS went out on `txn`.
    pub fn sent(&mut self, now: Instant, txn: TxnId, account_id: i64) {
        self.inflight.insert(txn, (account_id, now));
    }

    /// Whether `txn` is one of our pings.
    pub fn owns(&self, txn: TxnId) -> bool {
        self.inflight.contains_key(&txn)
    }

    /// A final response (any status: the device answered) or a timeout (`answered` false).
    /// Returns the change to report, if the latency moved noticeably.
    pub fn finished(&mut self, now: Instant, txn: TxnId, answered: bool) -> Option<LatencyChange> {
        let (account_id, sent) = self.inflight.remove(&txn)?;
        let before = self.latency.get(&account_id).copied();
        if !answered {
            self.latency.remove(&account_id);
            return before.map(|_| LatencyChange {
                account_id,
                latency_ms: None,
            });
        }
        let ms = u32::try_from(now.saturating_duration_since(sent).as_millis()).unwrap_or(u32::MAX);
        self.latency.insert(account_id, ms);
        // Report the first figure and moves of more than 5 ms and 20 %, not every jitter.
        let moved = match before {
            None => true,
            Some(b) => ms.abs_diff(b) > 5 && ms.abs_diff(b) * 5 > b,
        };
        moved.then_some(LatencyChange {
            account_id,
            latency_ms: Some(ms),
        })
    }

    /// Forgets an account (unregistered).
    pub fn forget(&mut self, account_id: i64) {
        self.latency.remove(&account_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_first_figure_big_moves_and_silence() {
        let mut q = Qualifier::new(Some(INTERVAL));
        let t = Instant::now();
        let txn = |n: u64| TxnId::from_raw(n);
        q.sent(t, txn(1), 7);
        assert_eq!(
            q.finished(t + Duration::from_millis(12), txn(1), true),
            Some(LatencyChange {
                account_id: 7,
                latency_ms: Some(12)
            })
        );
        q.sent(t, txn(2), 7);
        assert_eq!(
            q.finished(t + Duration::from_millis(14), txn(2), true),
            None
        );
        q.sent(t, txn(3), 7);
        assert_eq!(
            q.finished(t + Duration::from_millis(40), txn(3), true),
            Some(LatencyChange {
                account_id: 7,
                latency_ms: Some(40)
            })
        );
        q.sent(t, txn(4), 7);
        assert_eq!(
            q.finished(t + Duration::from_secs(32), txn(4), false),
            Some(LatencyChange {
                account_id: 7,
                latency_ms: None
            })
        );
        assert_eq!(q.latency(7), None);
        assert!(!q.owns(txn(4)));
    }
}
