//! In-call services by key presses (RFC 4733 telephone events that reach the relay), as the
//! seed's "Servizi in chiamata": `#4<number>` blind transfer, `*4<number>` attended transfer
//! (a consultation the PBX makes, `consult.rs`), `#8` park. The number ends with `#` or after
//! 2 s without a key. The codes live in the numbering plan (`incall_blind`,
//! `incall_attended`, `incall_park`).
//!
//! [`KeyCollector`] is the sans-IO part: one per party of a call, fed keys and time.

use super::super::legs::{Phase, Side};
use super::super::Now;
use super::Engine;
use crate::directory::Directory;
use crate::media::RelayDigit;
use sip_core::transaction::Endpoint;
use std::time::{Duration, Instant};

/// Time allowed between two keys of a code or of the number after it (the seed's 2 s).
pub(crate) const KEY_TIMEOUT: Duration = Duration::from_secs(2);
/// Longest number collected after a transfer code.
const MAX_NUMBER: usize = 32;

/// What a party's keys ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeyAction {
    /// Blind transfer of the other party to this number.
    Blind(String),
    /// Attended transfer: consult this number, the other party waiting on hold.
    Attended(String),
    /// Park the other party.
    Park,
}

/// The in-call codes, read from the numbering plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InCallCodes {
    pub(crate) blind: String,
    pub(crate) attended: String,
    pub(crate) park: String,
}

impl InCallCodes {
    fn all(&self) -> [&str; 3] {
        [&self.blind, &self.attended, &self.park]
    }

    fn is_prefix(&self, keys: &str) -> bool {
        self.all()
            .iter()
            .any(|c| !c.is_empty() && c.starts_with(keys))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Collect {
    /// Matching keys against the codes.
    Code(String),
    /// A transfer code was pressed: collecting its number.
    Number { attended: bool, number: String },
}

/// The keys one party of a call pressed, matched against the in-call codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyCollector {
    state: Collect,
    deadline: Option<Instant>,
}

impl Default for KeyCollector {
    fn default() -> KeyCollector {
        KeyCollector {
            state: Collect::Code(String::new()),
            deadline: None,
        }
    }
}

impl KeyCollector {
    /// When [`KeyCollector::on_timeout`] is due.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// A key was pressed.
    pub(crate) fn on_key(
        &mut self,
        now: Instant,
        key: char,
        codes: &InCallCodes,
    ) -> Option<KeyAction> {
        match &mut self.state {
            Collect::Number { attended, number } => {
                if key == '#' {
                    let (attended, number) = (*attended, std::mem::take(number));
                    self.reset();
                    return (!number.is_empty()).then(|| action(attended, number));
                }
                if !(key.is_ascii_digit() || key == '*') || number.len() == MAX_NUMBER {
                    // A key no number has: the collection is abandoned.
                    self.reset();
                    return None;
                }
                number.push(key);
                self.deadline = Some(now + KEY_TIMEOUT);
                None
            }
            Collect::Code(keys) => {
                keys.push(key);
                // Keep the longest tail that can still become a code ("##4" is "#4").
                while !keys.is_empty() && !codes.is_prefix(keys) {
                    keys.remove(0);
                }
                if keys.is_empty() {
                    self.deadline = None;
                    return None;
                }
                let done = keys.clone();
                if done == codes.park {
                    self.reset();
                    return Some(KeyAction::Park);
                }
                if done == codes.blind || done == codes.attended {
                    self.state = Collect::Number {
                        attended: done == codes.attended,
                        number: String::new(),
                    };
                }
                self.deadline = Some(now + KEY_TIMEOUT);
                None
            }
        }
    }

    /// Time passed: a number collected so far is complete; a partial code is forgotten.
    pub(crate) fn on_timeout(&mut self, now: Instant) -> Option<KeyAction> {
        if self.deadline.is_none_or(|d| d > now) {
            return None;
        }
        let state = std::mem::replace(&mut self.state, Collect::Code(String::new()));
        self.deadline = None;
        match state {
            Collect::Number { attended, number } if !number.is_empty() => {
                Some(action(attended, number))
            }
            _ => None,
        }
    }

    fn reset(&mut self) {
        *self = KeyCollector::default();
    }
}

fn action(attended: bool, number: String) -> KeyAction {
    if attended {
        KeyAction::Attended(number)
    } else {
        KeyAction::Blind(number)
    }
}

impl Engine {
    fn incall_codes(&self) -> InCallCodes {
        InCallCodes {
            blind: self.features.code("incall_blind").to_string(),
            attended: self.features.code("incall_attended").to_string(),
            park: self.features.code("incall_park").to_string(),
        }
    }

    /// A party pressed a key during a call.
    pub fn on_digit(&mut self, ep: &mut Endpoint, dir: &Directory, now: Now, d: RelayDigit) {
        let Some(call) = self
            .calls
            .values()
            .find(|c| c.relay.as_ref().is_some_and(|r| r.id == d.relay))
        else {
            return;
        };
        if call.phase != Phase::Connected {
            return;
        }
        let side = if call.a_relay == d.side {
            Side::A
        } else {
            Side::B
        };
        let id = call.id;
        let codes = self.incall_codes();
        let action = self
            .keys
            .entry((id, side))
            .or_default()
            .on_key(now.mono, d.digit, &codes);
        if let Some(a) = action {
            self.key_action(ep, dir, now, id, side, a);
        }
    }

    /// Key collections whose time is up.
    pub(super) fn key_timeouts(&mut self, ep: &mut Endpoint, dir: &Directory, now: Now) {
        self.keys.retain(|(id, _), _| self.calls.contains_key(id));
        let due: Vec<(u64, Side, KeyAction)> = self
            .keys
            .iter_mut()
            .filter_map(|((id, side), k)| k.on_timeout(now.mono).map(|a| (*id, *side, a)))
            .collect();
        for (id, side, a) in due {
            self.key_action(ep, dir, now, id, side, a);
        }
    }

    /// The earliest key collection deadline.
    pub(super) fn keys_deadline(&self) -> Option<Instant> {
        self.keys.values().filter_map(KeyCollector::deadline).min()
    }

    fn key_action(
        &mut self,
        ep: &mut Endpoint,
        dir: &Directory,
        now: Now,
        id: u64,
        side: Side,
        action: KeyAction,
    ) {
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        let Some(by) = call.party(side).map(str::to_string) else {
            return;
        };
        if let KeyAction::Attended(target) = &action {
            tracing::info!(call = id, by = %by, target = %target, "in-call service by keys");
            if let Err(e) = self.start_consult(ep, dir, now, id, side, target) {
                tracing::info!(call = id, error = %e, "in-call service refused");
            }
            return;
        }
        let uid = call.cdr.unique_id.clone();
        tracing::info!(call = id, by = %by, ?action, "in-call service by keys");
        let result = match action {
            KeyAction::Park => {
                let park = self.features.code("park").to_string();
                self.call_op(
                    ep,
                    dir,
                    now,
                    crate::control::CallOp::BlindTransfer {
                        call: uid,
                        by,
                        target: park,
                    },
                )
            }
            KeyAction::Attended(_) => return,
            KeyAction::Blind(target) => self.call_op(
                ep,
                dir,
                now,
                crate::control::CallOp::BlindTransfer {
                    call: uid,
                    by,
                    target,
                },
            ),
        };
        if let Err(e) = result {
            tracing::info!(call = id, error = %e, "in-call service refused");
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn codes() -> InCallCodes {
        InCallCodes {
            blind: "#4".into(),
            attended: "*4".into(),
            park: "#8".into(),
        }
    }

    fn press(k: &mut KeyCollector, t: Instant, keys: &str) -> Vec<KeyAction> {
        keys.chars()
            .filter_map(|c| k.on_key(t, c, &codes()))
            .collect()
    }

    #[test]
    fn blind_transfer_number_ends_with_hash() {
        let mut k = KeyCollector::default();
        let t = Instant::now();
        assert_eq!(
            press(&mut k, t, "#4203#"),
            vec![KeyAction::Blind("203".into())]
        );
        assert_eq!(k.deadline(), None);
    }

    #[test]
    fn the_number_ends_after_two_seconds_without_a_key() {
        let mut k = KeyCollector::default();
        let t = Instant::now();
        assert!(press(&mut k, t, "*4204").is_empty());
        assert_eq!(k.on_timeout(t + Duration::from_millis(1999)), None);
        assert_eq!(
            k.on_timeout(t + KEY_TIMEOUT),
            Some(KeyAction::Attended("204".into()))
        );
        assert_eq!(k.deadline(), None);
    }

    #[test]
    fn park_acts_at_once_and_other_keys_are_ignored() {
        let mut k = KeyCollector::default();
        let t = Instant::now();
        assert_eq!(press(&mut k, t, "12##8"), vec![KeyAction::Park]);
        assert!(press(&mut k, t, "5*9").is_empty());
    }

    #[test]
    fn a_partial_code_is_forgotten_after_the_timeout() {
        let mut k = KeyCollector::default();
        let t = Instant::now();
        assert!(press(&mut k, t, "#").is_empty());
        assert_eq!(k.on_timeout(t + KEY_TIMEOUT), None);
        // The '#' is gone: "4" alone starts nothing.
        assert!(press(&mut k, t + KEY_TIMEOUT, "4203#").is_empty());
    }

    #[test]
    fn an_empty_number_or_a_stray_key_cancels() {
        let mut k = KeyCollector::default();
        let t = Instant::now();
        assert!(press(&mut k, t, "#4#").is_empty());
        assert!(press(&mut k, t, "#42A").is_empty());
        assert_eq!(k.on_timeout(t + KEY_TIMEOUT), None);
        assert_eq!(
            press(&mut k, t, "#4205#"),
            vec![KeyAction::Blind("205".into())]
        );
    }

    #[test]
    fn codes_are_configurable() {
        let c = InCallCodes {
            blind: "**1".into(),
            attended: "**2".into(),
            park: "**3".into(),
        };
        let mut k = KeyCollector::default();
        let t = Instant::now();
        let got: Vec<_> = "#4**1207#"
            .chars()
            .filter_map(|ch| k.on_key(t, ch, &c))
            .collect();
        assert_eq!(got, vec![KeyAction::Blind("207".into())]);
    }
}
