//! What one user sees: permissions from the user record, privacy masking of external
//! numbers, the snapshot, and history entries built from call records.

use super::model::{call_info, parties, Model, TenantState};
use crate::store::{CdrRecord, User};
use shared_protocol::{
    CallInfo, CtiMode, Direction, Event, ExtensionState, HistoryEntry, Licence, Party, Permissions,
    Snapshot, UserInfo, PROTOCOL_VERSION,
};

/// A logged-in user, as the model filters for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Viewer {
    /// Tenant domain.
    pub tenant: String,
    /// Username.
    pub username: String,
    /// The user's extension.
    pub extension: Option<String>,
    /// Role name.
    pub role: String,
    /// What the role allows.
    pub permissions: Permissions,
    /// The user's licence seats.
    pub licence: Licence,
}

/// The mode a stored seat name allows; anything unknown is Free (no seat).
pub fn cti_mode(seat: &str) -> CtiMode {
    match seat {
        "pro" => CtiMode::Pro,
        "phone" => CtiMode::Phone,
        _ => CtiMode::Free,
    }
}

impl Viewer {
    /// Permissions from a user record: `supervisor` and `admin` roles see and act on every
    /// extension; a user with an extension controls its calls; the privacy right is the
    /// user's flag (or the `privacyadmin` role).
    pub fn from_user(tenant: &str, user: &User) -> Viewer {
        let supervisor = matches!(user.role.as_str(), "supervisor" | "admin");
        Viewer {
            tenant: tenant.to_string(),
            username: user.username.clone(),
            extension: user.extension.clone(),
            role: user.role.clone(),
            permissions: Permissions {
                call_control: user.extension.is_some() || supervisor,
                privacy: user.privacy || user.role == "privacyadmin",
                supervisor,
            },
            licence: Licence {
                mode: cti_mode(&user.cti_licence),
                call_center: user.call_center_licence,
            },
        }
    }

    /// The rendering class: two viewers of the same class see the same frame for an event
    /// they may both see (so the hub serialises each event once per class).
    pub fn class(&self) -> (bool, bool) {
        (self.permissions.privacy, self.sees_peers())
    }

    /// Whether the viewer sees who other extensions talk to.
    pub fn sees_peers(&self) -> bool {
        self.permissions.call_control || self.permissions.supervisor
    }

    /// The user info of the snapshot.
    pub fn info(&self) -> UserInfo {
        UserInfo {
            username: self.username.clone(),
            tenant: self.tenant.clone(),
            extension: self.extension.clone(),
            role: self.role.clone(),
            permissions: self.permissions.clone(),
            licence: Some(self.licence.clone()),
        }
    }
}

/// `0612345678` → `0612345xxx`: the last three digits hidden, as the seed's privacy rule.
pub fn mask_number(number: &str) -> String {
    let chars: Vec<char> = number.chars().collect();
    let keep = chars.len().saturating_sub(3);
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| if i < keep { *c } else { 'x' })
        .collect()
}

/// Masks a party unless it is an extension of the tenant or the viewer has the privacy right.
fn party(t: &TenantState, privacy: bool, p: &Party) -> Party {
    if privacy || p.number.is_empty() || t.is_internal(&p.number) {
        p.clone()
    } else {
        Party {
            number: mask_number(&p.number),
            name: p.name.clone(),
        }
    }
}

fn call(t: &TenantState, privacy: bool, c: &CallInfo) -> CallInfo {
    CallInfo {
        caller: party(t, privacy, &c.caller),
        callee: party(t, privacy, &c.callee),
        ..c.clone()
    }
}

/// An event as a viewer of `class` sees it (already known to be visible to them).
pub fn render(t: &TenantState, class: (bool, bool), ev: &Event) -> Event {
    let (privacy, sees_peers) = class;
    match ev {
        Event::Lamp {
            extension,
            lamp,
            peer,
            direction,
        } => Event::Lamp {
            extension: extension.clone(),
            lamp: *lamp,
            peer: peer
                .as_ref()
                .filter(|_| sees_peers)
                .map(|p| party(t, privacy, p)),
            direction: direction.filter(|_| sees_peers),
        },
        Event::Call { call: c } => Event::Call {
            call: call(t, privacy, c),
        },
        Event::ParkSlot { slot } => Event::ParkSlot {
            slot: shared_protocol::ParkSlot {
                peer: slot
                    .peer
                    .as_ref()
                    .filter(|_| sees_peers)
                    .map(|p| party(t, privacy, p)),
                ..slot.clone()
            },
        },
        Event::History { entry } => Event::History {
            entry: HistoryEntry {
                other: party(t, privacy, &entry.other),
                ..entry.clone()
            },
        },
        other => other.clone(),
    }
}

/// The whole state a viewer may see.
pub fn snapshot(model: &Model, viewer: &Viewer) -> Snapshot {
    let empty = TenantState::default();
    let t = model.tenant(&viewer.tenant).unwrap_or(&empty);
    let class = viewer.class();
    let own = viewer.extension.as_deref();
    let extensions = t
        .extensions
        .iter()
        .map(|(number, row)| {
            let sees = class.1;
            ExtensionState {
                number: number.clone(),
                name: row.name.clone(),
                lamp: row.lamp.lamp,
                peer: row
                    .lamp
                    .peer
                    .as_ref()
                    .filter(|_| sees)
                    .map(|p| party(t, class.0, p)),
                direction: row.lamp.direction.filter(|_| sees),
                dnd: row.services.dnd,
                presence: row.presence.clone(),
                accounts: row.accounts.values().cloned().collect(),
                services: (viewer.permissions.supervisor || own == Some(number.as_str()))
                    .then(|| row.services.clone()),
            }
        })
        .collect();
    let mut calls: Vec<CallInfo> = t
        .calls
        .values()
        .filter(|v| {
            viewer.permissions.supervisor || own.is_some_and(|e| parties(v).iter().any(|p| p == e))
        })
        .map(|v| call(t, class.0, &call_info(v)))
        .collect();
    calls.sort_by(|a, b| a.started_ms.cmp(&b.started_ms).then(a.id.cmp(&b.id)));
    let (services, history) = match own.and_then(|e| t.extensions.get(e).map(|r| (e, r))) {
        Some((e, row)) => (
            Some(row.services.clone()),
            row.recent
                .iter()
                .filter_map(|r| history_entry(r, e))
                .map(|h| HistoryEntry {
                    other: party(t, class.0, &h.other),
                    ..h
                })
                .collect(),
        ),
        None => (None, Vec::new()),
    };
    let call_center = if viewer.permissions.supervisor {
        Some(shared_protocol::CallCenterView {
            queues: t.queues.values().cloned().collect(),
            agents: t.agents.values().cloned().collect(),
        })
        .filter(|cc| !cc.queues.is_empty() || !cc.agents.is_empty())
    } else {
        own.and_then(|e| t.agents.get(e))
            .map(|a| shared_protocol::CallCenterView {
                queues: Vec::new(),
                agents: vec![a.clone()],
            })
    };
    let park_slots = (!t.park_slots.is_empty()).then(|| {
        t.park_slots
            .values()
            .map(|c| {
                let s = super::model::park_slot(c);
                shared_protocol::ParkSlot {
                    peer: s.peer.filter(|_| class.1).map(|p| party(t, class.0, &p)),
                    ..s
                }
            })
            .collect()
    });
    Snapshot {
        protocol: PROTOCOL_VERSION,
        seq: model.seq(),
        user: viewer.info(),
        extensions,
        services,
        calls,
        history,
        call_center,
        park_slots,
        // Set by the hub when the frame leaves, so this view stays a pure function of the model.
        server_ms: None,
    }
}

/// A closed record as a history entry of extension `ext` (unmasked); `None` if the
/// extension took no part in it.
pub fn history_entry(rec: &CdrRecord, ext: &str) -> Option<HistoryEntry> {
    let end = rec.end_ms?;
    let talk_s = rec.bill_ms.unwrap_or(0) / 1000;
    let duration_s = rec.duration_s.unwrap_or((end - rec.start_ms).max(0) / 1000);
    let status = rec.status.clone().unwrap_or_default();
    if rec.caller == ext {
        return Some(HistoryEntry {
            id: rec.unique_id.clone(),
            started_ms: rec.start_ms,
            direction: Direction::Outbound,
            other: Party {
                number: rec.called.clone(),
                name: rec.called_name.clone(),
            },
            status,
            answered: rec.answer_ms.is_some(),
            missed: false,
            duration_s,
            talk_s,
        });
    }
    let rung = rec.details.iter().any(|d| {
        d.destination_num.as_deref() == Some(ext) || d.answered_by.as_deref() == Some(ext)
    });
    if !rung {
        return None;
    }
    let answered = rec.answered_by.as_deref() == Some(ext)
        || rec
            .details
            .iter()
            .any(|d| d.answered_by.as_deref() == Some(ext));
    Some(HistoryEntry {
        id: rec.unique_id.clone(),
        started_ms: rec.start_ms,
        direction: Direction::Inbound,
        other: Party {
            number: rec.caller.clone(),
            name: rec.caller_name.clone(),
        },
        status,
        answered,
        missed: !answered,
        duration_s,
        talk_s: if answered { talk_s } else { 0 },
    })
}

/// A history entry as a viewer sees it.
pub fn mask_entry(t: &TenantState, privacy: bool, h: HistoryEntry) -> HistoryEntry {
    HistoryEntry {
        other: party(t, privacy, &h.other),
        ..h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_the_last_three_digits() {
        assert_eq!(mask_number("0612345678"), "0612345xxx");
        assert_eq!(mask_number("+39061234"), "+39061xxx");
        assert_eq!(mask_number("12"), "xx");
        assert_eq!(mask_number(""), "");
    }
}
